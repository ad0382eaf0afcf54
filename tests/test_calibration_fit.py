"""Calibration fit: synthetic round trips (known identity, expression and pose) and the table."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.correspondence import face_oval_landmarks, load_correspondence
from calibration.fit import FitConfig, LandmarkFitter
from engines.face_model.camera import OrthoCamera, euler_to_matrix


@pytest.fixture(scope="module")
def table():
    return load_correspondence()


@pytest.fixture(scope="module")
def observable(ict, table):
    """Expression shapes that move the landmarks by > 1 mm rms (the others are not
    recoverable from 2D landmarks at any useful precision: gaze, eyeWide, eyeSquint, ...)."""
    rows = table.basis_rows(ict.expression_basis)
    rms = np.sqrt((rows[:, :, :2] ** 2).sum(-1).mean(-1))
    return np.flatnonzero(rms > 0.1)


def _synthetic(fitter, rng, observable, *, identity_sigma, noise_px):
    identity = rng.normal(0.0, identity_sigma, fitter.identity_rows.shape[0])
    expression = np.zeros(fitter.expression_rows.shape[0])
    active = rng.choice(observable, 3, replace=False)
    expression[active] = rng.uniform(0.4, 0.9, 3)
    rotation = np.radians(rng.uniform([-10, -20, -10], [10, 20, 10]))
    camera = OrthoCamera(float(rng.uniform(8, 12)), 256.0, 256.0)
    points = fitter.project(identity, expression, euler_to_matrix(*rotation), camera)
    points = points + rng.normal(0.0, noise_px, points.shape)
    return identity, expression, active, rotation, camera, points


def test_table_is_consistent(ict, table):
    assert table.num_landmarks == 478
    np.testing.assert_allclose(table.barycentric.sum(1), 1.0, atol=1e-5)
    assert (table.barycentric >= 0).all()
    assert (table.weights > 0).all() and (table.weights <= 1).all()
    # skin landmarks on the face/head, iris landmarks on the eyeballs
    face_stop = ict.vertex_ranges["head_neck"][1]
    assert (table.vertex_ids[:468] < face_stop).all()
    first, stop = ict.vertex_ranges["eyeball_left"][0], ict.vertex_ranges["eyeball_right"][1]
    assert ((table.vertex_ids[468:] >= first) & (table.vertex_ids[468:] < stop)).all()
    # the nose tip (mediapipe 1) is the most forward landmark of the neutral face
    points = table.points(ict.neutral)
    assert np.argmax(points[:468, 2]) in (1, 4, 5, 195, 19, 94)
    assert len(face_oval_landmarks()) == 36


def test_round_trip_exact_without_priors(ict, table, observable, rng):
    """No noise, (almost) no priors: the solver must find the generating parameters."""
    config = FitConfig(
        identity_prior=1e-4, expression_l1=0.0, expression_l2=1e-4, robust_scale_cm=100.0,
        joint_iterations=30,
    )  # fmt: skip
    fitter = LandmarkFitter(ict, table, config, ())
    for _ in range(3):
        _, expression, _, rotation, camera, points = _synthetic(
            fitter, rng, observable, identity_sigma=0.8, noise_px=0.0
        )
        fit = fitter.fit(points)
        assert np.abs(fit.expression - expression).max() < 0.05
        assert np.degrees(np.abs(fit.rotation - rotation)).max() < 0.2
        assert fit.errors_px.max() < 0.1
        assert abs(fit.camera.scale / camera.scale - 1) < 0.02


def test_round_trip_with_noise_and_default_priors(ict, table, observable, rng):
    """Default priors, 0.3 px landmark noise, 20 random faces.

    Stated tolerances: head rotation within 2.5°; every active shape within 0.6 of its value
    and on average within 0.2 (the L1 sparsity prior shrinks weak and mutually similar
    shapes, e.g. mouthShrugUpper next to mouthShrugLower); no inactive shape above 0.3; mean
    absolute error over the 53 coefficients below 0.04.
    """
    fitter = LandmarkFitter(ict, table, FitConfig(), face_oval_landmarks())
    mean_errors, active_errors = [], []
    for _ in range(20):
        _, expression, active, rotation, _, points = _synthetic(
            fitter, rng, observable, identity_sigma=0.6, noise_px=0.3
        )
        fit = fitter.fit(points)
        error = np.abs(fit.expression - expression)
        inactive = np.setdiff1d(np.arange(error.size), active)
        assert np.degrees(np.abs(fit.rotation - rotation)).max() < 2.5
        assert error[active].max() < 0.6
        assert error[inactive].max() < 0.3
        mean_errors.append(error.mean())
        active_errors.append(error[active].mean())
    assert np.mean(active_errors) < 0.2
    assert np.mean(mean_errors) < 0.04


def test_fit_rejects_bad_landmarks(ict, table):
    fitter = LandmarkFitter(ict, table, FitConfig(num_identity=10), ())
    with pytest.raises(ValueError, match="478"):
        fitter.fit(np.zeros((68, 2)))
    bad = np.zeros((478, 2))
    bad[3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        fitter.fit(bad)


@pytest.mark.parametrize(
    "kwargs",
    [{"num_identity": 101}, {"identity_prior": -1}, {"robust_scale_cm": 0}, {"iterations": 0}],
)
def test_fit_config_validation(kwargs):
    with pytest.raises(ValueError):
        FitConfig(**kwargs)


def test_shared_identity_over_frames_beats_one_frame(ict, table, observable, rng):
    """Five frames of one synthetic person (one neutral): the jointly fitted identity is
    closer to the truth than the identity fitted from the expressive frame alone."""
    fitter = LandmarkFitter(ict, table, FitConfig(), face_oval_landmarks())
    single_errors, shared_errors = [], []
    for _ in range(6):
        identity = rng.normal(0.0, 0.6, fitter.identity_rows.shape[0])
        frames = []
        for index in range(5):
            expression = np.zeros(53)
            if index:
                active = rng.choice(observable, 2, replace=False)
                expression[active] = rng.uniform(0.4, 0.9, 2)
            rotation = np.radians(rng.uniform([-10, -20, -10], [10, 20, 10]))
            points = fitter.project(
                identity, expression, euler_to_matrix(*rotation), OrthoCamera(10.0, 256.0, 256.0)
            )
            frames.append(points + rng.normal(0.0, 0.3, points.shape))
        single = fitter.fit(frames[1])
        shared = fitter.fit_frames([frames[1], frames[0], *frames[2:]])
        assert all(np.array_equal(f.identity, shared[0].identity) for f in shared)

        for coeffs, errors in (
            (single.identity, single_errors),
            (shared[0].identity, shared_errors),
        ):
            offset = np.tensordot(coeffs - identity, fitter.identity_rows, axes=1)  # (L, 3) cm
            errors.append(float(np.sqrt((offset**2).sum(-1).mean())))
    assert np.mean(shared_errors) < 0.95 * np.mean(single_errors)


def test_with_config_takes_the_new_costs(ict, table):
    """``with_config`` shares the basis rows but not the L1 multipliers of the old config."""
    import dataclasses

    fitter = LandmarkFitter(ict, table, FitConfig(), ())
    index = ict.expression_index("cheekSquint_L")
    assert fitter.expression_costs[index] == 2.0
    cheaper = dataclasses.replace(fitter.config, expression_costs={"cheekSquint_L": 0.1})
    clone = fitter.with_config(cheaper)
    assert clone.expression_costs[index] == pytest.approx(0.1)
    assert clone.expression_costs[ict.expression_index("cheekPuff_L")] == 1.0
    assert fitter.expression_costs[index] == 2.0  # the original is untouched
