"""``facecast eval dynamics [--json]``: the dynamics model against its PCA baseline on the
held-out identities of the 4D corpus (``engines.dynamics.research.evaluate``): per-vertex
error (mm) overall, per expression and per phase, classification F1 of generated against
ground-truth sequences, how each expression unfolds (spread and order of its shapes), and
with ``--strip`` the latent interpolation between two apexes as a picture.

The checkpoints are the committed ones (``--checkpoint-dir`` for others); the corpus and the
PCA basis are recomputed from the configs they record.

Exit codes: 0 ok; 1 a checkpoint or the face model is missing.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def add_dynamics_eval_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("dynamics")
    group.add_argument(
        "--strip", type=Path, default=None,
        help="write the latent interpolation strip (happiness -> surprise)",
    )  # fmt: skip
    group.add_argument("--limit", type=int, default=None,
                       help="only the first N test sequences (a quick look)")  # fmt: skip


def run_eval_dynamics(args: argparse.Namespace) -> int:
    from engines.dynamics import CHECKPOINT_DIR, DynamicsError
    from engines.dynamics.research.evaluate import evaluate_dynamics
    from engines.dynamics.research.pipeline import load_research_model
    from engines.dynamics.research.plots import plot_latent_strip
    from engines.face_model import FaceModelError, load_ict

    directory = Path(args.checkpoint_dir) if args.checkpoint_dir else CHECKPOINT_DIR
    if args.limit is not None and args.limit < 1:
        logger.error("--limit must be >= 1")
        return 2
    try:
        face_model = load_ict(progress=False)
        spiral, workspace = load_research_model(directory / "dynamics_spiral.pt", face_model)
        pca, _ = load_research_model(directory / "dynamics_pca.pt", face_model, workspace)
        result = evaluate_dynamics(workspace, {"spiral": spiral, "pca": pca}, limit=args.limit)
        if args.strip is not None:
            result["strip"] = str(plot_latent_strip(spiral, workspace.basis, face_model,
                                                    args.strip))  # fmt: skip
    except (DynamicsError, FaceModelError, OSError) as error:
        logger.error("%s", error)
        return 1
    for name in ("spiral", "pca"):
        info = json.loads((directory / f"dynamics_{name}.json").read_text())
        result[name]["checkpoint"] = {"command": info.get("command"), "bytes": info.get("bytes"),
                                      "parameters": info.get("parameters")}  # fmt: skip
    text = json.dumps(result, indent=2, sort_keys=True)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text + "\n")
    if args.json:
        print(text)
        return 0
    _print_summary(result)
    return 0


def _print_summary(result: dict[str, Any]) -> None:
    paper = result["paper"]
    print(f"held-out: {result['test_sequences']} sequences of {result['test_subjects']} subjects")
    for name in ("spiral", "pca"):
        block = result[name]
        f1 = result["classification"][name]["macro_f1"]
        print(f"{name:7s} vertex error {block['vertex_error_mm']:.3f} mm (moving frames "
              f"{block['vertex_error_mm_moving_frames']:.3f}; paper "
              f"{paper[f'{name}_vertex_error_mm']}), F1 {f1}, per phase {block['per_phase_mm']}")
    print(f"ground truth F1 {result['classification']['ground_truth']['macro_f1']} "
          f"(paper {paper['classification_f1_ground_truth']})")  # fmt: skip
    for source, per in result["unfolding"].items():
        spreads = {label: block.get("spread_mean") for label, block in per.items()}
        print(f"onset spread [{source}]: {spreads}")
