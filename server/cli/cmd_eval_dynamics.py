"""``facecast eval dynamics [--json]``: the dynamics model against its PCA baseline on the
held-out identities of the 4D corpus (``engines.dynamics.research.evaluate``): per-vertex
error (mm) overall, per expression and per phase, classification F1 of generated against
ground-truth sequences, how each expression unfolds (spread and order of its shapes), and
with ``--strip`` the latent interpolation between two apexes as a picture.

With ``--sequence seq.npz ...`` (``facecast fit-sequence`` output) it evaluates those
recordings instead (``engines.dynamics.research.recording``): each one's phases (from its own
amplitude curve), the spread and order of its shapes' half-change times, and with
``--label`` the same for both models and eased interpolation given that label and the
recording's timing, and their per-frame error against the recording (mm, per phase).

The checkpoints are the committed ones (``--checkpoint-dir`` for others); the corpus and the
PCA basis are recomputed from the configs they record.

Exit codes: 0 ok; 1 a checkpoint or the face model is missing; 2 a bad recording or label.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from server.cli.output import emit_json

logger = logging.getLogger(__name__)


def add_dynamics_eval_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("dynamics")
    group.add_argument(
        "--strip", type=Path, default=None,
        help="write the latent interpolation strip (happiness -> surprise)",
    )  # fmt: skip
    group.add_argument("--limit", type=int, default=None,
                       help="only the first N test sequences (a quick look)")  # fmt: skip
    group.add_argument(
        "--sequence", type=Path, nargs="+", default=None, metavar="SEQ.npz",
        help="evaluate fitted recordings (facecast fit-sequence) instead",
    )  # fmt: skip
    group.add_argument(
        "--label", default=None,
        help="what the recordings perform (e.g. surprise): compare the models with them",
    )  # fmt: skip


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
    if args.sequence:
        return _run_recordings(args, directory)
    if args.label is not None:
        logger.error("--label needs --sequence")
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
    if emit_json(result, args):
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


def _run_recordings(args: argparse.Namespace, directory: Path) -> int:
    """``--sequence``: the recordings against both models (see the module docstring)."""
    from calibration.sequence import load_sequence_fit
    from engines.dynamics import DynamicsError
    from engines.dynamics.labels import MOTION_LABELS, NEUTRAL
    from engines.dynamics.research.pipeline import load_research_model
    from engines.dynamics.research.recording import evaluate_recording, recording_sequence
    from engines.face_model import FaceModelError, load_ict

    if args.label is not None and (args.label not in MOTION_LABELS or args.label == NEUTRAL):
        valid = ", ".join(label for label in MOTION_LABELS if label != NEUTRAL)
        logger.error("--label must be one of %s (got %r)", valid, args.label)
        return 2
    missing = [str(path) for path in args.sequence if not Path(path).is_file()]
    if missing:
        logger.error("no such recording: %s", ", ".join(missing))
        return 2
    try:
        face_model = load_ict(progress=False)
        spiral, workspace = load_research_model(directory / "dynamics_spiral.pt", face_model)
        pca, _ = load_research_model(directory / "dynamics_pca.pt", face_model, workspace)
    except (DynamicsError, FaceModelError, OSError) as error:
        logger.error("%s", error)
        return 1
    names = workspace.basis.expression_names
    reports = []
    for path in args.sequence:
        try:
            fit = load_sequence_fit(path)
            if tuple(fit.expression_names) != tuple(names):
                raise DynamicsError(f"{path}: its shapes are not this face model's")
            sequence = recording_sequence(fit.expressions, fit.fps, workspace.basis,
                                          workspace.corpus.references, args.label,
                                          spiral.config.fps)  # fmt: skip
            report = evaluate_recording(sequence, {"spiral": spiral, "pca": pca},
                                        workspace.basis, names)  # fmt: skip
        except (DynamicsError, OSError, KeyError, ValueError) as error:
            logger.error("%s: %s", path, error)
            return 2
        reports.append({"source": str(path), "source_fps": fit.fps, **report})
    result: dict[str, Any] = {"recordings": reports}
    if emit_json(result, args):
        return 0
    for report in reports:
        print(f"{report['source']}: label {report['label']}, phases {report['phases']}")
        for source, block in report["unfolding"].items():
            print(f"  {source:9s} spread {block.get('spread_mean')} order {block.get('order')}")
        for source, block in report.get("vertex_error_mm", {}).items():
            print(f"  {source:9s} error {block['vertex_error_mm']} mm, per phase "
                  f"{block['per_phase_mm']}")  # fmt: skip
    return 0
