"""``facecast train``: tiny runs write checkpoints with their metrics and exact command."""

from __future__ import annotations

import json
from pathlib import Path

from server.cli.main import main


def test_train_tiny_writes_checkpoints_and_sidecars(tmp_path: Path) -> None:
    common = ["--train-size", "200", "--eval-size", "40", "--steps", "12", "--no-progress"]
    common += ["--out", str(tmp_path)]
    assert main(["train", "classifier", *common]) == 0
    assert main(["train", "ned", *common]) == 0
    assert main(["train", "i2fet", "--model-dim", "32", "--vertex-weight", "0", *common]) == 0
    for name in ("classifier", "ned", "i2fet"):
        checkpoint = tmp_path / f"{name}.pt"
        assert checkpoint.is_file() and checkpoint.stat().st_size < 5_000_000
        sidecar = json.loads((tmp_path / f"{name}.json").read_text())
        assert sidecar["kind"] == name
        assert sidecar["command"].startswith(f"facecast train {name} --seed 0")
        assert "--steps 12" in sidecar["command"]
    sidecar = json.loads((tmp_path / "i2fet.json").read_text())
    i2fet = sidecar["metrics"]
    assert {"acc1", "acc2", "gmean", "confusion"} <= set(i2fet["heldout"])
    assert i2fet["heldout_train_vocab"]["grounding_vocabulary"] == "train"  # the honest figure
    assert sidecar["config"]["encoder"] == "wordllama"  # read back by the planner / server
    noise = "--partial-grounding 0.3 --connector-noise 0.3 --template-noise 0.3"
    assert noise in sidecar["command"]

    from engines.i2fet import InstructionPlanner

    plan = InstructionPlanner.load(tmp_path).plan("from anger to joy")
    assert 1 <= len(plan.anchors) <= 4


def test_train_bad_input_exit_code(tmp_path: Path) -> None:
    assert main(["train", "ned", "--train-size", "0", "--out", str(tmp_path)]) == 2


def test_template_dev_split_holds_back_training_templates_only() -> None:
    import subprocess
    import sys

    code = (
        "import json, engines.instructions.templates as T\n"
        "single, pair = T.SINGLE_TEMPLATES, T.PAIR_TEMPLATES\n"
        "from engines.i2fet.template_dev import hold_back_templates\n"
        "held = hold_back_templates(123)\n"
        "print(json.dumps([len(single), len(pair), len(T.SINGLE_TEMPLATES), len(T.PAIR_TEMPLATES),"
        " all(t in single for t in held['HELDOUT_SINGLE_TEMPLATES']),"
        " all(t in pair for t in held['HELDOUT_PAIR_TEMPLATES']),"
        " not set(T.SINGLE_TEMPLATES) & set(T.HELDOUT_SINGLE_TEMPLATES)]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    n_single, n_pair, kept_single, kept_pair, *checks = json.loads(out.stdout.splitlines()[-1])
    assert kept_single == n_single - n_single // 3 and kept_pair == n_pair - n_pair // 3
    assert all(checks)
