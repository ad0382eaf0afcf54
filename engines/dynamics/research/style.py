"""Per-subject style of the 4D corpus: every person unfolds an expression their own way.

A subject keeps the same style in all of their sequences (the held-out subjects of the test
split have styles the model never saw):

- ``speed``: a factor on all their phase durations (log-normal, σ 0.12; people differ in
  how fast they emote, Schmidt et al. 2006 report large between-subject spread of smile
  onset durations; the width is our choice).
- ``skew``: the shape of every onset and offset curve, ``minjerk(u ** skew)``; below 1 the
  action moves early and settles slowly, above 1 it starts slowly (log-normal, σ 0.18, our
  choice: linear interpolation has no such variety).
- ``au_gain`` / ``au_shift``: per (label, AU) strength (log-normal, σ 0.12) and start
  shift in shares of the onset (σ 0.05): one person's smile has more cheek in it, another's
  brows go up a little later (our choice).
- ``side_gain``: left / right strength of every lateral shape (``_L`` / ``_R``: the
  subject's own left and right, ARKit naming). Emotions are expressed more intensely on the
  left side of the face (Sackeim, Gur & Saucy 1978, Science 202:434-436): mean log-gain
  +0.03 left, -0.03 right, σ 0.05 each.
- ``side_delay_s``: the right side starts this much after the left (negative: before;
  σ 20 ms, clipped to ±50 ms; our choice, small enough to stay within a frame or two).
- ``contempt_side``: the side of the one-sided contempt (random per subject).
- ``apex_wobble`` / ``apex_hz``: a slow ± wobble of the held apex (1-4 % at 0.4-1 Hz; a
  held expression is never perfectly still; our choice).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from engines.dynamics.research.timing import AU_ONSETS

__all__ = ["SubjectStyle", "sample_style"]


@dataclass(frozen=True)
class SubjectStyle:
    """How one subject performs expressions (see the module docstring)."""

    speed: float
    skew: float
    au_gain: dict[tuple[str, str], float]
    au_shift: dict[tuple[str, str], float]
    side_gain: tuple[float, float]
    side_delay_s: float
    contempt_side: Literal["left", "right"]
    apex_wobble: float
    apex_hz: float


def sample_style(rng: np.random.Generator) -> SubjectStyle:
    """Draw one subject's style (deterministic for a seeded ``rng``)."""
    au_gain: dict[tuple[str, str], float] = {}
    au_shift: dict[tuple[str, str], float] = {}
    for label in sorted(AU_ONSETS):
        for au in sorted(AU_ONSETS[label]):
            au_gain[(label, au)] = float(np.exp(rng.normal(0.0, 0.12)))
            au_shift[(label, au)] = float(rng.normal(0.0, 0.05))
    left = float(np.exp(rng.normal(0.03, 0.05)))
    right = float(np.exp(rng.normal(-0.03, 0.05)))
    side: Literal["left", "right"] = "left" if rng.random() < 0.5 else "right"
    return SubjectStyle(
        speed=float(np.exp(rng.normal(0.0, 0.12))),
        skew=float(np.exp(rng.normal(0.0, 0.18))),
        au_gain=au_gain,
        au_shift=au_shift,
        side_gain=(left, right),
        side_delay_s=float(np.clip(rng.normal(0.0, 0.02), -0.05, 0.05)),
        contempt_side=side,
        apex_wobble=float(rng.uniform(0.01, 0.04)),
        apex_hz=float(rng.uniform(0.4, 1.0)),
    )
