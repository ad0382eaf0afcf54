"""``facecast train dynamics``: the Potamias et al. (2020) generator and its PCA baseline.

Generates the 4D corpus (deterministic for ``--corpus-seed``), builds the mesh hierarchy of
the ICT face once (cached with the face model), trains the spiral decoder and / or the PCA
baseline behind the same motion-label LSTM (L1 + temporal coherence, Adam, ``--seed``) and
writes ``dynamics_<decoder>.pt`` beside ``dynamics_<decoder>.json`` (metrics and the exact
command) into ``--out`` (default: engines/dynamics/checkpoints). Neither checkpoint holds
anything derived from the ICT model: see engines/dynamics/checkpoint.py.
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


def run_dynamics(args: argparse.Namespace) -> int:
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
