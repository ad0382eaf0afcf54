"""``facecast train dynamics``: the Potamias et al. (2020) generator and its PCA baseline.

Generates the 4D corpus (deterministic for ``--corpus-seed``), builds the mesh hierarchy of
the ICT face once (cached with the face model), trains the spiral decoder and / or the PCA
baseline behind the same motion-label LSTM (L1 + temporal coherence, Adam, ``--seed``) and
writes ``dynamics_<decoder>.pt`` beside ``dynamics_<decoder>.json`` (metrics and the exact
command) into ``--out`` (default: engines/dynamics/checkpoints). Neither checkpoint holds
anything derived from the ICT model: see engines/dynamics/checkpoint.py.

``--fine-tune seq.npz ... --label LABEL -o DIR`` instead starts from the committed checkpoint
(``--checkpoint-dir`` for others) and trains a few hundred steps on those recordings
(``facecast fit-sequence`` output) plus a replay of the corpus
(``engines.dynamics.research.finetune``); the JSON beside the new checkpoint holds the
command and the error on the recordings and on the held-out corpus before and after.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DECODER_CHOICES = ("spiral", "pca", "both")
DEFAULT_STEPS = 3500
DEFAULT_LR = 2e-3
FINE_TUNE_STEPS = 300
FINE_TUNE_LR = 5e-4


def add_dynamics_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("dynamics")
    group.add_argument("--decoder", choices=DECODER_CHOICES, default="both",
                       help="which decoder to train (default both)")  # fmt: skip
    group.add_argument("--sequences-per-step", type=int, default=16,
                       help="sequences per optimisation step")  # fmt: skip
    group.add_argument("--pairs", type=int, default=4,
                       help="consecutive-frame pairs decoded per sequence and step")  # fmt: skip
    group.add_argument("--temporal-weight", type=float, default=2.0,
                       help="weight of the temporal-coherence loss")  # fmt: skip
    group.add_argument("--train-subjects", type=int, default=40, help="training identities")
    group.add_argument("--test-subjects", type=int, default=12, help="held-out identities")
    group.add_argument(
        "--max-minutes", type=float, default=0.0,
        help="stop each training after this much wall time (0 = no limit)",
    )  # fmt: skip
    group.add_argument(
        "--fine-tune", type=Path, nargs="+", default=None, metavar="SEQ.npz",
        help="fine-tune the committed checkpoint on these recordings (facecast fit-sequence)",
    )  # fmt: skip
    group.add_argument("--label", default=None, help="what the recordings perform (--fine-tune)")
    group.add_argument("--checkpoint-dir", type=Path, default=None,
                       help="checkpoints to fine-tune (default: the committed ones)")  # fmt: skip
    group.add_argument("--recording-share", type=float, default=0.5,
                       help="share of the sequences drawn that are the recordings")  # fmt: skip
    group.add_argument("--replay", type=int, default=96,
                       help="corpus training sequences replayed while fine-tuning")  # fmt: skip
    group.add_argument("--heldout", type=int, default=64,
                       help="held-out corpus sequences the forgetting is measured on")  # fmt: skip
    group.add_argument("-o", dest="out", default=None, help="the same as --out")


def canonical_command(args: argparse.Namespace, decoder: str) -> str:
    """The full command (every option explicit) that reproduces one decoder's run."""
    parts = ["facecast", "train", "dynamics", "--decoder", decoder, "--seed", str(args.seed)]
    parts += ["--corpus-seed", str(args.corpus_seed)]
    parts += ["--train-subjects", str(args.train_subjects)]
    parts += ["--test-subjects", str(args.test_subjects)]
    parts += ["--steps", str(args.steps if args.steps is not None else DEFAULT_STEPS)]
    parts += ["--lr", str(args.lr if args.lr is not None else DEFAULT_LR)]
    parts += ["--sequences-per-step", str(args.sequences_per_step), "--pairs", str(args.pairs)]
    parts += ["--temporal-weight", str(args.temporal_weight), "--threads", str(args.threads)]
    if args.max_minutes:
        parts += ["--max-minutes", str(args.max_minutes)]
    return shlex.join(parts)


def fine_tune_command(args: argparse.Namespace, decoder: str, out_dir: Path) -> str:
    """The full command that reproduces one decoder's fine-tuning."""
    parts = ["facecast", "train", "dynamics", "--fine-tune", *map(str, args.fine_tune)]
    parts += ["--label", str(args.label), "--decoder", decoder, "--seed", str(args.seed)]
    parts += ["--steps", str(args.steps if args.steps is not None else FINE_TUNE_STEPS)]
    parts += ["--lr", str(args.lr if args.lr is not None else FINE_TUNE_LR)]
    parts += ["--sequences-per-step", str(args.sequences_per_step), "--pairs", str(args.pairs)]
    parts += ["--temporal-weight", str(args.temporal_weight), "--threads", str(args.threads)]
    parts += ["--recording-share", str(args.recording_share), "--replay", str(args.replay)]
    parts += ["--heldout", str(args.heldout)]
    if args.checkpoint_dir:
        parts += ["--checkpoint-dir", str(args.checkpoint_dir)]
    return shlex.join([*parts, "-o", str(out_dir)])


def run_fine_tune(args: argparse.Namespace) -> int:
    """``--fine-tune``: the committed checkpoint(s) fine-tuned on recordings."""
    from calibration.sequence import load_sequence_fit
    from engines.dynamics import CHECKPOINT_DIR, DynamicsError, save_dynamics
    from engines.dynamics.checkpoint import read_config
    from engines.dynamics.research.finetune import FineTuneConfig, fine_tune
    from engines.dynamics.research.pipeline import describe, load_research_model
    from engines.dynamics.research.recording import recording_sequence
    from engines.face_model import FaceModelError, load_ict

    if args.label is None:
        logger.error("--fine-tune needs --label (what the recordings perform)")
        return 2
    if not args.out:
        logger.error("--fine-tune needs -o DIR (the committed checkpoints are not overwritten)")
        return 2
    out_dir = Path(args.out)
    source_dir = Path(args.checkpoint_dir) if args.checkpoint_dir else CHECKPOINT_DIR
    if out_dir.resolve() == source_dir.resolve():
        logger.error("-o must differ from the checkpoints being fine-tuned (%s)", source_dir)
        return 2
    decoders = ("spiral", "pca") if args.decoder == "both" else (args.decoder,)
    try:
        config = FineTuneConfig(
            steps=args.steps if args.steps is not None else FINE_TUNE_STEPS,
            lr=args.lr if args.lr is not None else FINE_TUNE_LR,
            recording_share=args.recording_share, replay=args.replay,
            batch_size=args.sequences_per_step, pairs=args.pairs,
            temporal_weight=args.temporal_weight, seed=args.seed, threads=args.threads,
            heldout=args.heldout, progress=not args.no_progress,
        )  # fmt: skip
        face_model = load_ict(progress=not args.no_progress)
        summary: dict[str, Any] = {}
        workspace = None
        for decoder in decoders:
            source = source_dir / f"dynamics_{decoder}.pt"
            model, workspace = load_research_model(source, face_model, workspace)
            recordings = []
            for path in args.fine_tune:
                fit = load_sequence_fit(path)
                if tuple(fit.expression_names) != tuple(workspace.basis.expression_names):
                    raise DynamicsError(f"{path}: its shapes are not this face model's")
                recordings.append(recording_sequence(
                    fit.expressions, fit.fps, workspace.basis, workspace.corpus.references,
                    args.label, model.config.fps))  # fmt: skip
            result = fine_tune(model, workspace, recordings, config)
            metrics = {**result.metrics, "source_checkpoint": str(source),
                       "recordings_files": [str(p) for p in args.fine_tune],
                       "label": args.label, "model": describe(result.model)}  # fmt: skip
            _, extra = read_config(source)  # the corpus it was trained on, for loading
            extra["fine_tune"] = {"label": args.label, "recordings": metrics["recordings_files"]}
            save_dynamics(out_dir / f"dynamics_{decoder}.pt", result.model, metrics,
                          fine_tune_command(args, decoder, out_dir), extra)  # fmt: skip
            summary[decoder] = {k: metrics[k] for k in ("before", "after", "seconds", "steps_done")}
    except (DynamicsError, FaceModelError, OSError, KeyError, ValueError) as error:
        logger.error("%s", error)
        return 1 if isinstance(error, FaceModelError) else 2
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0


def run_dynamics(args: argparse.Namespace) -> int:
    if args.fine_tune:
        return run_fine_tune(args)
    if args.label is not None:
        logger.error("--label needs --fine-tune")
        return 2
    from engines.dynamics import CHECKPOINT_DIR, DynamicsError
    from engines.dynamics.research.corpus import DynamicsCorpusConfig
    from engines.dynamics.research.pipeline import prepare, train_and_save
    from engines.dynamics.research.train import TrainConfig
    from engines.face_model import FaceModelError, load_ict

    out_dir = Path(args.out) if args.out else CHECKPOINT_DIR
    decoders = ("spiral", "pca") if args.decoder == "both" else (args.decoder,)
    started = time.perf_counter()
    try:
        corpus_config = DynamicsCorpusConfig(
            seed=args.corpus_seed, train_subjects=args.train_subjects,
            test_subjects=args.test_subjects,
        )  # fmt: skip
        train_config = TrainConfig(
            steps=args.steps if args.steps is not None else DEFAULT_STEPS,
            batch_size=args.sequences_per_step,
            pairs=args.pairs,
            lr=args.lr if args.lr is not None else DEFAULT_LR,
            temporal_weight=args.temporal_weight,
            seed=args.seed,
            threads=args.threads,
            max_minutes=args.max_minutes,
            progress=not args.no_progress,
        )
        workspace = prepare(load_ict(progress=not args.no_progress), corpus_config)
        summary: dict[str, Any] = {}
        for decoder in decoders:
            _, metrics = train_and_save(
                workspace, decoder, train_config, out_dir / f"dynamics_{decoder}.pt",
                canonical_command(args, decoder),
            )  # fmt: skip
            summary[decoder] = {k: v for k, v in metrics.items() if k not in ("history", "train")}
    except (DynamicsError, FaceModelError, ValueError) as error:
        logger.error("%s", error)
        return 2 if isinstance(error, ValueError) else 1
    print(json.dumps(summary, indent=2, sort_keys=True))
    logger.info("done in %.1f s; checkpoints in %s", time.perf_counter() - started, out_dir)
    return 0
