"""Training the dynamics model (spiral or PCA decoder): Adam, fixed seeds, a progress bar.

Each step takes ``batch_size`` sequences, runs the LSTM over all their frames, and decodes
``pairs`` pairs of consecutive frames per sequence (three in four drawn from the frames that
move, onset and offset, the rest anywhere) for the L1 + temporal-coherence loss: decoding
every frame of every sequence would cost 40x more for frames that mostly hold still.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from engines.dynamics.model import DynamicsModel
from engines.dynamics.research.data import SequenceTensors
from engines.dynamics.research.losses import dynamics_loss

__all__ = ["TrainConfig", "TrainResult", "seed_everything", "train_dynamics"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings.

    Attributes:
        steps: Adam steps.
        batch_size: sequences per step.
        pairs: consecutive-frame pairs decoded per sequence and step.
        moving_share: share of pairs drawn from frames that move.
        lr: peak learning rate (warm-up, then cosine to 5 %).
        weight_decay: Adam weight decay.
        temporal_weight: weight of the temporal-coherence term.
        seed: seed of initialisation and batch order.
        threads: torch threads (0 = torch's default).
        max_minutes: stop early after this much wall time (0 = never); recorded.
        progress: show a progress bar.
    """

    steps: int = 2500
    batch_size: int = 16
    pairs: int = 4
    moving_share: float = 0.75
    lr: float = 2e-3
    weight_decay: float = 0.0
    temporal_weight: float = 2.0
    seed: int = 0
    threads: int = 2
    max_minutes: float = 0.0
    progress: bool = True

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.pairs < 1:
            raise ValueError("steps, batch_size and pairs must be >= 1")
        if not 0.0 <= self.moving_share <= 1.0:
            raise ValueError("moving_share must be in [0, 1]")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError("lr must be > 0")
        if self.temporal_weight < 0 or self.max_minutes < 0:
            raise ValueError("temporal_weight and max_minutes must be >= 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    """The trained model (eval mode), its loss history and timing."""

    model: DynamicsModel
    history: list[tuple[int, float]]
    seconds: float
    steps_done: int
    final: dict[str, float] = field(default_factory=dict)


def seed_everything(seed: int) -> torch.Generator:
    """Seed numpy and torch; returns a torch Generator for batch order."""
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def _schedule(optimizer: torch.optim.Optimizer, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    warmup = max(1, steps // 50)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, steps - warmup))
        return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _pick_pairs(
    data: SequenceTensors, rows: torch.Tensor, config: TrainConfig, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B * pairs,) position in the batch and first-frame index of every decoded pair."""
    out_rows, out_frames = [], []
    for position, row in enumerate(rows.tolist()):
        length = int(data.lengths[row])
        moving = torch.nonzero(data.moving[row, : length - 1]).flatten()
        for _ in range(config.pairs):
            draw = float(torch.rand(1, generator=generator))
            if len(moving) and draw < config.moving_share:
                frame = int(moving[torch.randint(len(moving), (1,), generator=generator)])
            else:
                frame = int(torch.randint(length - 1, (1,), generator=generator))
            out_rows.append(position)
            out_frames.append(frame)
    return torch.tensor(out_rows), torch.tensor(out_frames)


def train_dynamics(
    model: DynamicsModel, data: SequenceTensors, shapes: torch.Tensor, config: TrainConfig
) -> TrainResult:
    """Train ``model`` on ``data`` (the training split).

    Args:
        model: a fresh model (a PCA decoder must have its basis set).
        data: the training sequences.
        shapes: (E, 3V) expression shapes of the region (targets are computed from them).
        config: optimisation settings.
    """
    from tqdm import tqdm

    if config.threads > 0:
        torch.set_num_threads(config.threads)
    generator = seed_everything(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr,
                                 weight_decay=config.weight_decay)  # fmt: skip
    scheduler = _schedule(optimizer, config.steps)
    history: list[tuple[int, float]] = []
    running: dict[str, float] = {}
    started = time.perf_counter()
    model.train()
    count = len(data)
    order = torch.randperm(count, generator=generator)
    cursor = 0
    steps_done = 0
    bar = tqdm(range(config.steps), desc=f"train dynamics[{model.config.decoder}]",
               disable=not config.progress, mininterval=1.0)  # fmt: skip
    for step in bar:
        if cursor + config.batch_size > count:
            order, cursor = torch.randperm(count, generator=generator), 0
        rows = order[cursor : cursor + config.batch_size]
        cursor += config.batch_size
        longest = int(data.lengths[rows].max())
        latents = model.latents(data.labels[rows, :longest])  # (B, T, Z)
        position, first = _pick_pairs(data, rows, config, generator)
        pair_rows = rows[position]
        frames = torch.stack([first, first + 1], dim=1).reshape(-1)
        picked = latents[position.repeat_interleave(2), frames]  # (2P, Z)
        predicted = model.decode(picked).reshape(len(first), 2, -1, 3)
        with torch.no_grad():
            target = data.targets(pair_rows.repeat_interleave(2), frames, shapes)
        loss, parts = dynamics_loss(predicted, target.reshape(len(first), 2, -1, 3),
                                    config.temporal_weight)  # fmt: skip
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        steps_done = step + 1
        for name, value in {"loss": float(loss.detach()), **parts}.items():
            running[name] = value if name not in running else 0.97 * running[name] + 0.03 * value
        if step % 10 == 0 or step == config.steps - 1:
            history.append((step, float(loss.detach())))
            bar.set_postfix({k: f"{v * 10:.3f}mm" for k, v in running.items()})
        if config.max_minutes and time.perf_counter() - started > 60.0 * config.max_minutes:
            logger.warning("stopping after %d of %d steps: max_minutes reached", steps_done,
                           config.steps)  # fmt: skip
            break
    bar.close()
    model.eval()
    return TrainResult(model, history, time.perf_counter() - started, steps_done, running)
