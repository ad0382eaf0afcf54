"""calibration.coupling: a smile's cheek raise is the expression's, not the person's."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import CalibrationConfig, Calibrator
from calibration.calibrator import fitted_vertices
from calibration.coupling import (
    SMILE_CHEEK_RAISE,
    assign_implied_shapes,
    implied_expression,
    smile_cheek_raise,
    validate_couplings,
)
from engines.face_model.ict import EXPRESSION_NAMES

NAMES = EXPRESSION_NAMES


def _index(name: str) -> int:
    return NAMES.index(name)


def test_the_weight_is_the_happiness_prototypes():
    """6D + 12E: the cheek raise is 0.8 of the smile, on each side."""
    assert smile_cheek_raise() == SMILE_CHEEK_RAISE
    assert {(d, f) for d, f, _ in SMILE_CHEEK_RAISE} == {
        ("mouthSmile_L", "cheekSquint_L"), ("mouthSmile_R", "cheekSquint_R")
    }  # fmt: skip
    assert all(abs(w - 0.8) < 1e-6 for _, _, w in SMILE_CHEEK_RAISE)


def test_implied_expression_adds_to_the_followers_own_and_clips():
    expression = np.zeros(len(NAMES), np.float32)
    expression[_index("mouthSmile_L")] = 0.5
    expression[_index("cheekSquint_L")] = 0.1
    expression[_index("mouthSmile_R")] = 1.0
    expression[_index("cheekSquint_R")] = 0.5
    out = implied_expression(expression, NAMES, SMILE_CHEEK_RAISE)
    assert out[_index("cheekSquint_L")] == pytest.approx(0.5)
    assert out[_index("cheekSquint_R")] == pytest.approx(1.0)  # 1.3 clipped
    others = np.ones(len(NAMES), bool)
    others[[_index("cheekSquint_L"), _index("cheekSquint_R")]] = False
    np.testing.assert_array_equal(out[others], expression[others])
    np.testing.assert_array_equal(implied_expression(expression, NAMES, ()), expression)


@pytest.mark.parametrize(
    "coupling",
    [
        ("mouthSmile_L", "noSuchShape", 0.5),
        ("mouthSmile_L", "mouthSmile_L", 0.5),
        ("mouthSmile_L", "cheekSquint_L", 1.5),
    ],
)
def test_implied_expression_rejects_bad_couplings(coupling):
    with pytest.raises(ValueError):
        implied_expression(np.zeros(len(NAMES)), NAMES, (coupling,))


def test_chains_are_refused():
    chain = (("mouthSmile_L", "cheekSquint_L", 0.5), ("cheekSquint_L", "eyeSquint_L", 0.5))
    with pytest.raises(ValueError, match="chains"):
        implied_expression(np.zeros(len(NAMES)), NAMES, chain)


def test_a_bad_coupling_fails_when_the_calibrator_is_built(ict):
    """Not at the first photo: the config is checked against the model before mediapipe."""
    validate_couplings(SMILE_CHEEK_RAISE, NAMES)
    config = CalibrationConfig(implied_shapes=(("mouthSmile_L", "noSuchShape", 0.5),))
    with pytest.raises(ValueError, match="noSuchShape"):
        Calibrator(config, model=ict)


@pytest.fixture(scope="module")
def astronaut_fits(ict, astronaut):
    """Her landmarks, the plain fit and the fit with the implied cheek raise."""
    with Calibrator(model=ict) as calibrator:
        face = calibrator.detect(calibrator.prepare(astronaut))[0]
        plain = calibrator.fit(face)
        moved = assign_implied_shapes(calibrator.fitter, [face.points], [plain],
                                      SMILE_CHEEK_RAISE)[0]  # fmt: skip
    return face, plain, moved


def test_her_smile_takes_its_cheek_raise_out_of_her_identity(astronaut_fits, ict):
    """The astronaut smiles (mouthSmile ~0.96-1.0): the plain fit gives her no cheek raise,
    so her raised cheeks were her identity's. Now the expression carries 0.8 of the smile as
    cheekSquint, the identity is re-solved, and her neutral face (identity only) has lower
    cheeks: measured 2.0 mm lower (median of the 200 vertices the raise moves most; the raise
    itself moves them 3.4-3.6 mm). The landmarks stay explained: mean error 0.46 -> 0.57 px."""
    _, plain, moved = astronaut_fits
    basis = np.asarray(ict.expression_basis)
    zero = np.zeros(len(NAMES), np.float32)
    before = fitted_vertices(ict, plain.identity, zero)
    after = fitted_vertices(ict, moved.identity, zero)
    for side in "LR":
        smile = float(plain.expression[_index(f"mouthSmile_{side}")])
        assert smile > 0.8
        assert float(moved.expression[_index(f"mouthSmile_{side}")]) == pytest.approx(smile)
        cheek = float(moved.expression[_index(f"cheekSquint_{side}")])
        assert cheek >= 0.8 * smile - 1e-4
        raise_ = basis[_index(f"cheekSquint_{side}")]
        length = np.linalg.norm(raise_, axis=1)
        top = np.argsort(-length)[:200]
        direction = raise_[top] / length[top, None]
        lowered_mm = 10.0 * np.median(((before[top] - after[top]) * direction).sum(1))
        assert lowered_mm > 1.0, (side, lowered_mm)
    assert moved.errors_px.mean() < 1.4 * plain.errors_px.mean()
    assert moved.errors_px.max() < plain.errors_px.max() + 0.5


def test_calibrate_uses_it_and_can_switch_it_off(ict, astronaut, astronaut_fits):
    _, plain, moved = astronaut_fits
    with Calibrator(model=ict) as calibrator:
        on = calibrator.calibrate(astronaut).avatar
    np.testing.assert_allclose(on.expression, moved.expression, atol=1e-5)
    np.testing.assert_allclose(on.identity, moved.identity, atol=1e-4)
    import dataclasses

    from calibration.calibrator import CalibrationConfig

    config = dataclasses.replace(CalibrationConfig(), implied_shapes=(), person_matte=False)
    with Calibrator(config, model=ict) as calibrator:
        off = calibrator.calibrate(astronaut).avatar
    np.testing.assert_allclose(off.expression, plain.expression, atol=1e-5)
