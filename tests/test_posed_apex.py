"""Posed-apex calibration: a plain emotion word gives the posed expression with its signature
cues (FACS D-E), "slightly" stays subtle and "extremely" goes beyond it — in the FACS tables,
the lexicon planner and the committed I2FET checkpoint (trained on the recalibrated corpus)."""

from __future__ import annotations

import numpy as np
import pytest

from engines.face_model.ict import EXPRESSION_NAMES
from engines.i2fet import CHECKPOINT_DIR, InstructionPlanner
from engines.instructions import LexiconPlanner, emotion_prototype
from engines.instructions.facs import FACS_INTENSITY, POSED_INTENSITY, apex_expression, apex_scale

INDEX = {name: i for i, name in enumerate(EXPRESSION_NAMES)}

# emotion -> (shape group, least mean weight at the posed apex): the signature cues
SIGNATURE_CUES: dict[str, list[tuple[tuple[str, ...], float]]] = {
    "surprise": [(("jawOpen",), 0.45), (("browInnerUp_L", "browInnerUp_R"), 0.8),
                 (("browOuterUp_L", "browOuterUp_R"), 0.8), (("eyeWide_L", "eyeWide_R"), 0.6)],
    "happiness": [(("mouthSmile_L", "mouthSmile_R"), 0.8),
                  (("cheekSquint_L", "cheekSquint_R"), 0.6),
                  (("mouthUpperUp_L", "mouthUpperUp_R"), 0.12)],
    "fear": [(("browInnerUp_L", "browInnerUp_R"), 0.8), (("browDown_L", "browDown_R"), 0.4),
             (("eyeWide_L", "eyeWide_R"), 0.8), (("mouthStretch_L", "mouthStretch_R"), 0.6)],
    "anger": [(("browDown_L", "browDown_R"), 0.8), (("eyeSquint_L", "eyeSquint_R"), 0.6),
              (("mouthUpperUp_L", "mouthUpperUp_R"), 0.25),  # the squared mouth, teeth bared
              (("mouthLowerDown_L", "mouthLowerDown_R"), 0.3)],
    "disgust": [(("noseSneer_L", "noseSneer_R"), 0.8), (("mouthShrugUpper",), 0.6),
                (("mouthUpperUp_L", "mouthUpperUp_R"), 0.3)],
    "sadness": [(("browInnerUp_L", "browInnerUp_R"), 0.8),
                (("mouthFrown_L", "mouthFrown_R"), 0.6), (("mouthShrugLower",), 0.45)],
}  # fmt: skip


def _mean(expression: np.ndarray, shapes: tuple[str, ...]) -> float:
    return float(np.mean([expression[INDEX[s]] for s in shapes]))


def _check_cues(label: str, expression: np.ndarray, slack: float = 1.0) -> None:
    for shapes, least in SIGNATURE_CUES[label]:
        assert _mean(expression, shapes) >= least * slack, (
            label,
            shapes,
            expression[[INDEX[s] for s in shapes]],
        )


@pytest.mark.parametrize("label", sorted(SIGNATURE_CUES))
def test_prototypes_hold_the_signature_cues(label: str) -> None:
    _check_cues(label, emotion_prototype(label, EXPRESSION_NAMES))


def test_contempt_is_one_sided() -> None:
    proto = emotion_prototype("contempt", EXPRESSION_NAMES)
    assert (
        proto[INDEX["mouthDimple_R"]] >= FACS_INTENSITY["D"] and proto[INDEX["mouthDimple_L"]] == 0
    )


def test_apex_scale_is_posed_at_the_plain_word() -> None:
    assert float(apex_scale(POSED_INTENSITY)) == pytest.approx(1.0)
    assert float(apex_scale(0.7 * 0.3 + 0.3 * 0.75)) == pytest.approx(0.44, abs=0.01)  # slightly
    assert float(apex_scale(1.0)) == pytest.approx((4 / 3) ** 1.5)
    plain = apex_expression("surprise", POSED_INTENSITY, EXPRESSION_NAMES)
    np.testing.assert_allclose(plain, emotion_prototype("surprise", EXPRESSION_NAMES))
    extreme = apex_expression("surprise", 1.0, EXPRESSION_NAMES)
    assert extreme.max() <= 1.0 and extreme[INDEX["jawOpen"]] > plain[INDEX["jawOpen"]]


def test_lexicon_planner_slightly_plain_extremely() -> None:
    planner = LexiconPlanner()

    def jaw(text: str) -> float:
        return float(planner.plan(text).anchors[0].expression[INDEX["jawOpen"]])

    slight, plain, extreme = (
        jaw("look slightly surprised"),
        jaw("look surprised"),
        jaw("look extremely surprised"),
    )
    assert slight < 0.5 * plain and plain < extreme
    _check_cues("surprise", planner.plan("look surprised").anchors[0].expression)


@pytest.fixture(scope="module")
def i2fet_planner() -> InstructionPlanner:
    if not (CHECKPOINT_DIR / "i2fet.pt").is_file():
        pytest.skip("no committed I2FET checkpoint")
    return InstructionPlanner.load()


NOUNS = {"surprise": "surprise", "happiness": "happiness", "fear": "fear", "anger": "anger",
         "disgust": "disgust", "sadness": "sadness"}  # fmt: skip


@pytest.mark.parametrize("label", sorted(SIGNATURE_CUES))
def test_i2fet_plain_instruction_reaches_the_posed_apex(i2fet_planner, label: str) -> None:
    """The retrained checkpoint: "Make this face show X" from a resting face shows X's cues
    (a little below the prototype: subjects' gains are jittered and clipped at 1)."""
    plan = i2fet_planner.plan(f"Make this face show {NOUNS[label]}", seed=None)
    assert plan.understood == (label,)
    _check_cues(label, plan.anchors[0].expression, slack=0.85)


def test_i2fet_intensity_words_scale_around_the_posed_apex(i2fet_planner) -> None:
    def jaw(text: str) -> float:
        return float(i2fet_planner.plan(text, seed=None).anchors[0].expression[INDEX["jawOpen"]])

    slight, plain, extreme = (
        jaw("look slightly surprised"), jaw("look surprised"), jaw("look extremely surprised")
    )  # fmt: skip
    assert slight < 0.7 * plain < plain < extreme


def test_neutral_from_a_smiling_face_removes_the_smile(i2fet_planner) -> None:
    smiling = np.zeros(53, np.float32)
    for name, value in (("mouthSmile_L", 0.99), ("mouthSmile_R", 0.96), ("jawOpen", 0.22),
                        ("cheekSquint_L", 0.4), ("cheekSquint_R", 0.4)):  # fmt: skip
        smiling[INDEX[name]] = value
    plan = i2fet_planner.plan("Make this face neutral", current_expression=smiling, seed=None)
    assert plan.understood == ("neutral",)
    target = plan.anchors[0].expression
    assert target.max() < 0.15, {
        EXPRESSION_NAMES[i]: float(target[i]) for i in np.argsort(-target)[:4]
    }
