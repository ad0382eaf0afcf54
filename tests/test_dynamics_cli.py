"""The committed dynamics model in the product: ``facecast animate --dynamics learned``, the
server engine's dynamics option, the checkpoint beside its JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engines.dynamics import CHECKPOINT_DIR
from server.cli.main import main


def _half_time(values: np.ndarray, times: np.ndarray) -> float:
    start, peak = values[0], values.max()
    return float(times[np.argmax(values >= start + 0.5 * (peak - start))])


def test_committed_checkpoints_record_their_run() -> None:
    for decoder in ("spiral", "pca"):
        sidecar = json.loads((CHECKPOINT_DIR / f"dynamics_{decoder}.json").read_text())
        assert sidecar["command"].startswith(f"facecast train dynamics --decoder {decoder} ")
        assert sidecar["bytes"] < 1_000_000 and sidecar["extra"]["corpus"]["train_subjects"] == 40
        assert sidecar["metrics"]["test_vertex_error_mm_first64"] < 0.6


def test_animate_with_learned_dynamics_staggers_a_surprise(tmp_path) -> None:
    runs = {}
    for dynamics in ("eased", "learned"):
        coeffs = tmp_path / f"{dynamics}.json"
        assert main(["animate", "none", "look surprised", "--planner", "lexicon", "--no-idle",
                     "--coeffs", str(coeffs), "--dynamics", dynamics]) == 0  # fmt: skip
        sidecar = tmp_path / f"{dynamics}.timeline.json"
        runs[dynamics] = (json.loads(coeffs.read_text()), json.loads(sidecar.read_text()))
    learned_meta = runs["learned"][1]["meta"]["dynamics"]
    assert learned_meta["kind"] == "learned"
    assert [w["label"] for w in learned_meta["windows"]] == ["surprise"]
    assert runs["eased"][1]["meta"]["dynamics"]["kind"] == "eased"
    names = runs["learned"][0]["expression_names"]
    brow, jaw = names.index("browInnerUp_L"), names.index("jawOpen")
    lead = {}
    for dynamics, (coeffs, sidecar) in runs.items():
        onset = next(s for s in sidecar["segments"] if s["phase"] == "onset")
        times = np.array(coeffs["times"])
        values = np.array(coeffs["expressions"])
        window = times <= onset["end"] + 0.3
        lead[dynamics] = (_half_time(values[window, jaw], times[window])
                          - _half_time(values[window, brow], times[window]))  # fmt: skip
        # both end exactly on the planned apex (the learned window is pinned where it ends)
        assert np.allclose(values[-1], runs["eased"][0]["expressions"][-1], atol=5e-3)
    assert abs(lead["eased"]) < 1e-6  # one curve for every shape
    assert lead["learned"] > 0.03  # the model's brows lead its jaw


def test_engine_dynamics_option() -> None:
    from server.engine import EngineConfig, FacecastEngine
    from server.exceptions import EngineUnavailableError

    assert FacecastEngine(EngineConfig()).load_dynamics() is None
    with pytest.raises(ValueError, match="dynamics"):
        EngineConfig(dynamics="jerky")
    engine = FacecastEngine(EngineConfig(dynamics="learned", dynamics_checkpoint=CHECKPOINT_DIR
                                         / "missing.pt"))  # fmt: skip
    with pytest.raises(EngineUnavailableError, match="not available"):
        engine.load_dynamics()
    # serve fails at start-up, not at the first instruction
    assert main(["serve", "--dynamics", "learned", "--dynamics-checkpoint",
                 str(CHECKPOINT_DIR / "missing.pt"), "--no-warmup"]) == 1  # fmt: skip
