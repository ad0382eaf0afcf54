"""engines.dynamics: motion labels, the model, checkpoints (nothing ICT-derived saved), the
plan-time generator's folded tail."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import engines.dynamics as dynamics
from engines.dynamics import (
    CheckpointError,
    DynamicsModelConfig,
    LearnedDynamics,
    MotionLabelError,
    PhaseTimes,
    build_model,
    load_dynamics,
    motion_labels,
    phase_amplitude,
    save_dynamics,
)


@pytest.fixture(scope="module")
def hierarchy(ict):
    return dynamics.load_hierarchy(ict)


def _model(hierarchy, decoder: str = "spiral", seed: int = 0):
    torch.manual_seed(seed)
    config = DynamicsModelConfig(decoder=decoder, hierarchy_fingerprint=hierarchy.fingerprint)
    return build_model(config, hierarchy).eval()


def test_public_api() -> None:
    for name in dynamics.__all__:
        assert hasattr(dynamics, name), name
    assert dynamics.MOTION_LABELS == (
        "neutral", "happiness", "sadness", "surprise", "fear", "anger", "disgust", "contempt"
    )  # fmt: skip


def test_motion_labels_follow_the_phases() -> None:
    phases = PhaseTimes(0.2, 0.6, 1.6, 2.4)
    times = np.array([0.0, 0.2, 0.4, 0.6, 1.0, 1.6, 2.0, 2.4, 3.0])
    amplitude = phase_amplitude(times, phases)
    assert np.allclose(amplitude, [0, 0, 0.5, 1, 1, 1, 0.5, 0, 0], atol=1e-6)
    labels = motion_labels("surprise", 0.8, amplitude)
    assert labels.shape == (9, 8)
    assert np.allclose(labels[:, 3], 0.8 * amplitude) and np.allclose(np.delete(labels, 3, 1), 0)
    assert not motion_labels("neutral", 1.0, amplitude).any()  # neutral never moves
    held = phase_amplitude(times, PhaseTimes(0.2, 0.6, 0.6, None))
    assert held[-1] == 1.0
    with pytest.raises(MotionLabelError, match="unknown motion label"):
        motion_labels("happily_surprised", 1.0, amplitude)
    with pytest.raises(MotionLabelError, match="in order"):
        PhaseTimes(0.5, 0.2, 1.0, 2.0)
    with pytest.raises(MotionLabelError, match="intensity"):
        motion_labels("fear", float("nan"), amplitude)


def test_model_shapes(hierarchy) -> None:
    for decoder in ("spiral", "pca"):
        model = _model(hierarchy, decoder)
        with torch.inference_mode():
            out = model(torch.zeros(2, 5, 8))
        assert out.shape == (2, 5, 6706, 3)
    with pytest.raises(ValueError, match="channels"):
        DynamicsModelConfig(channels=(8, 8))


def test_checkpoint_holds_only_learned_weights(hierarchy, tmp_path) -> None:
    model = _model(hierarchy)
    path = save_dynamics(tmp_path / "m.pt", model, {"x": 1}, "facecast train dynamics")
    payload = torch.load(path, weights_only=True)
    names = set(payload["state_dict"])
    # learned layers only: no spirals, sampling matrices, vertices or PCA bases
    assert all(n.endswith((".weight", ".bias")) or ".lstm." in n for n in names), names
    assert not any(k in n for n in names for k in ("select", "matrix", "spiral", "mean", "basis"))
    mesh_sizes = {n * k for n in hierarchy.sizes()[:-1] for k in (1, 3)}
    for name, tensor in payload["state_dict"].items():  # no tensor laid out per vertex
        assert not mesh_sizes & set(tensor.shape), (name, tuple(tensor.shape))
    assert path.stat().st_size < 1_000_000
    loaded, _ = load_dynamics(path, hierarchy)
    labels = torch.rand(1, 6, 8)
    with torch.inference_mode():
        assert torch.allclose(loaded(labels), model(labels), atol=1e-6)
    pca = _model(hierarchy, "pca")
    pca_path = save_dynamics(tmp_path / "p.pt", pca, {}, "")
    assert not any("basis" in n or "mean" in n
                   for n in torch.load(pca_path, weights_only=True)["state_dict"])  # fmt: skip


def test_checkpoint_refuses_another_hierarchy(hierarchy, tmp_path) -> None:
    model = _model(hierarchy)
    config = DynamicsModelConfig(hierarchy_fingerprint="0" * 64)
    model.config = config
    path = save_dynamics(tmp_path / "m.pt", model, {}, "")
    with pytest.raises(CheckpointError, match="another mesh hierarchy"):
        load_dynamics(path, hierarchy)
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_dynamics(tmp_path / "bad.pt", hierarchy)
    with pytest.raises(CheckpointError, match="not found"):
        load_dynamics(tmp_path / "missing.pt", hierarchy)


def test_generator_folded_tail_equals_full_decoding(ict, hierarchy) -> None:
    model = _model(hierarchy, seed=3)
    generator = LearnedDynamics(model, hierarchy, ict)
    curve = generator.curve("fear", 0.9, 0.5, 0.4, 0.6)
    fps = model.config.fps
    assert curve.expressions.shape == (round(1.5 * fps) + 1, 53)
    assert np.allclose(curve.times[1] - curve.times[0], 1.0 / fps)
    # the same window decoded at full resolution and projected by least squares
    lead = generator.config.lead_frames
    times = np.arange(lead + len(curve.times)) / fps
    phases = PhaseTimes(lead / fps, lead / fps + 0.5, lead / fps + 0.9, lead / fps + 1.5)
    labels = motion_labels("fear", 0.9, phase_amplitude(times, phases))
    with torch.inference_mode():
        full = model(torch.from_numpy(labels)[None])[0].numpy()
    coefficients = generator.basis.project(full, clip=False)
    expected = coefficients[lead:] - coefficients[lead - 1]
    assert np.allclose(curve.expressions, expected, atol=2e-4)
    assert generator.intensity_of("surprise", np.zeros(53)) == 0.0
    with pytest.raises(MotionLabelError):
        generator.curve("appalled", 1.0, 0.5, 0.5, 0.5)
    with pytest.raises(CheckpointError, match="spiral"):
        LearnedDynamics(_model(hierarchy, "pca"), hierarchy, ict)
