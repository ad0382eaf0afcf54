"""Training and evaluating the dynamics models end to end on a tiny corpus (seconds)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engines.dynamics.research.corpus import DynamicsCorpusConfig
from engines.dynamics.research.pipeline import load_research_model, prepare, train_and_save
from engines.dynamics.research.train import TrainConfig


@pytest.fixture(scope="module")
def workspace(ict):
    return prepare(ict, DynamicsCorpusConfig(seed=1, train_subjects=3, test_subjects=1))


@pytest.fixture(scope="module")
def trained(workspace, tmp_path_factory):
    torch.set_num_threads(1)
    configs = {  # seconds, not minutes: a small spiral decoder, few decoded frames
        "spiral": TrainConfig(steps=40, batch_size=4, pairs=1, lr=5e-3, progress=False,
                              threads=1),
        "pca": TrainConfig(steps=40, batch_size=4, pairs=3, lr=6e-3, progress=False, threads=1),
    }  # fmt: skip
    small = {"channels": (8, 8, 4, 4)}
    directory = tmp_path_factory.mktemp("dynamics")
    out = {}
    for decoder in ("spiral", "pca"):
        path = directory / f"dynamics_{decoder}.pt"
        overrides = small if decoder == "spiral" else None
        model, metrics = train_and_save(workspace, decoder, configs[decoder], path,
                                        f"test {decoder}",
                                        overrides)  # fmt: skip
        out[decoder] = (model, metrics, path)
    return out


def test_training_lowers_the_error_and_records_the_run(workspace, trained) -> None:
    still = np.mean([np.linalg.norm(workspace.corpus.deformations(s, workspace.basis), axis=-1)
                     .mean() for s in workspace.corpus.test]) * 10  # fmt: skip
    for decoder, (_, metrics, path) in trained.items():
        assert metrics["steps_done"] == 40 and len(metrics["history"]) == 5  # every 10 + last
        assert np.isfinite([loss for _, loss in metrics["history"]]).all()
        sidecar = path.with_suffix(".json").read_text()
        assert f'"command": "test {decoder}"' in sidecar and '"corpus"' in sidecar
    # 40 steps teach the linear decoder enough to beat a face that never moves (the spiral
    # decoder needs longer: the committed checkpoint is checked in test_dynamics_cli.py)
    assert trained["pca"][1]["test_vertex_error_mm_first64"] < still - 0.1


def test_a_checkpoint_reloads_with_its_corpus_and_pca_recomputed(ict, workspace, trained) -> None:
    model, _, path = trained["pca"]
    loaded, again = load_research_model(path, ict)  # a fresh workspace from the recorded config
    assert again.corpus.config == workspace.corpus.config
    assert np.array_equal(loaded.decoder.basis.numpy(), model.decoder.basis.numpy())
    labels = torch.from_numpy(workspace.corpus.test[3].labels())[None]
    with torch.inference_mode():
        assert torch.allclose(loaded(labels), model(labels), atol=1e-5)


def test_eval_dynamics_reports_every_measure(trained, tmp_path) -> None:
    from server.cli.main import main

    directory = trained["spiral"][2].parent
    out = tmp_path / "eval.json"
    assert main(["eval", "dynamics", "--checkpoint-dir", str(directory), "-o", str(out),
                 "--strip", str(tmp_path / "strip.png")]) == 0  # fmt: skip
    result = json.loads(out.read_text())
    # one held-out subject: neutral + 7 labels x 3 intensities
    assert result["test_sequences"] == 22 and result["test_subjects"] == 1
    for name in ("spiral", "pca"):
        block = result[name]
        assert block["vertex_error_mm"] > 0
        assert set(block["per_phase_mm"]) == {"rest", "onset", "apex", "offset"}
        assert len(block["per_phase_bins_mm"]["onset"]) == 10
        assert block["projection_residual_mm"] >= 0
        assert 0 <= result["classification"][name]["macro_f1"] <= 1
        assert block["checkpoint"]["command"] == f"test {name}"
    assert result["pca"]["projection_residual_mm"] < 1e-3  # the PCA basis lies in the shapes
    assert result["classification"]["ground_truth"]["macro_f1"] > 0.5
    eased = result["unfolding"]["eased"]
    assert all(block["spread_mean"] == 0.0 for block in eased.values())
    truth = result["unfolding"]["ground_truth"]
    assert all(block["spread_mean"] > 0.1 for block in truth.values())
    assert result["surprise_brows_before_jaw"]["ground_truth"] is True
    assert result["paper"]["spiral_vertex_error_mm"] == 0.39
    assert (tmp_path / "strip.png").stat().st_size > 1000
    assert main(["eval", "dynamics", "--checkpoint-dir", str(tmp_path / "none")]) == 1
