"""How an expression unfolds: when each of its most-moving shapes reaches half of its change.

For one sequence's per-frame expression coefficients (fitted, generated or eased), the
shapes whose coefficient changes most between the onset's start and the apex are taken
(every shape at least ``min_share`` of the largest change, at most ``top``; optionally
weighted by how far each shape moves the vertices); for each, the time it first
reaches half of its change, as a share of the onset (0 = the onset's start, 1 = the apex).
The spread is the latest minus the earliest. An eased interpolation moves every shape on the
same curve, so its spread is 0; posed onsets of people spread by about 0.2-0.4.

Shapes: T frames, E shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engines.dynamics.labels import PhaseTimes

__all__ = ["Unfolding", "half_change_times", "summarize_unfolding"]


@dataclass(frozen=True)
class Unfolding:
    """Half-change times of one sequence: shape name -> share of the onset."""

    shares: dict[str, float]

    @property
    def spread(self) -> float:
        values = list(self.shares.values())
        return float(max(values) - min(values)) if len(values) >= 2 else 0.0

    def order(self) -> list[str]:
        return sorted(self.shares, key=lambda name: (self.shares[name], name))


def half_change_times(
    coefficients: NDArray[np.floating],
    times: NDArray[np.floating],
    phases: PhaseTimes,
    names: Sequence[str],
    shape_displacement: NDArray[np.floating] | None = None,
    *,
    top: int = 6,
    min_share: float = 0.3,
) -> Unfolding:
    """Half-change times of the most-moving shapes of (T, E) ``coefficients``.

    ``shape_displacement`` (E,): mean vertex displacement of each shape at weight 1 (None:
    all 1, the coefficients' own change ranks the shapes).

    The apex value is the mean over the apex frames (the frame at the apex's start when the
    apex is not held); a shape that never reaches half of its change before the offset
    starts gets the offset's start.
    """
    values = np.asarray(coefficients, np.float64)
    t = np.asarray(times, np.float64)
    columns = range(values.shape[1])
    start = np.array([np.interp(phases.onset_start, t, values[:, e]) for e in columns])
    apex_frames = (t >= phases.apex_start) & (t <= phases.offset_start)
    if apex_frames.any():
        apex = values[apex_frames].mean(axis=0)
    else:
        apex = np.array([np.interp(phases.apex_start, t, values[:, e]) for e in columns])
    change = apex - start
    scale = np.ones(values.shape[1]) if shape_displacement is None else np.asarray(
        shape_displacement, np.float64
    )
    magnitude = np.abs(change) * scale
    largest = float(magnitude.max())
    if largest <= 1e-6:
        return Unfolding({})
    chosen = [int(e) for e in np.argsort(-magnitude)[:top] if magnitude[e] >= min_share * largest]
    window = (t >= phases.onset_start - 1e-9) & (t <= phases.offset_start + 1e-9)
    shares: dict[str, float] = {}
    for e in chosen:
        half = start[e] + 0.5 * change[e]
        curve = (values[:, e] - half) * np.sign(change[e])  # crosses 0 upwards
        crossing = phases.offset_start
        previous_t, previous_v = phases.onset_start, float(np.interp(phases.onset_start, t, curve))
        for time_k, value_k in zip(t[window], curve[window], strict=True):
            if time_k <= phases.onset_start:
                previous_t, previous_v = float(time_k), float(value_k)
                continue
            if value_k >= 0.0:
                span = value_k - previous_v
                fraction = (0.0 - previous_v) / span if span > 1e-12 else 1.0
                crossing = previous_t + float(np.clip(fraction, 0.0, 1.0)) * (time_k - previous_t)
                break
            previous_t, previous_v = float(time_k), float(value_k)
        shares[names[e]] = (crossing - phases.onset_start) / phases.onset_s
    return Unfolding(shares)


def summarize_unfolding(unfoldings: Sequence[Unfolding]) -> dict[str, object]:
    """Mean / median spread and the mean share per shape (shapes chosen in at least half of
    the sequences), in order."""
    if not unfoldings:
        return {"sequences": 0}
    spreads = np.array([u.spread for u in unfoldings])
    counts: dict[str, list[float]] = {}
    for unfolding in unfoldings:
        for name, share in unfolding.shares.items():
            counts.setdefault(name, []).append(share)
    common = {name: float(np.mean(v)) for name, v in counts.items()
              if len(v) >= 0.5 * len(unfoldings)}  # fmt: skip
    order = sorted(common, key=lambda name: (common[name], name))
    return {
        "sequences": len(unfoldings),
        "spread_mean": round(float(spreads.mean()), 4),
        "spread_median": round(float(np.median(spreads)), 4),
        "order": order,
        "half_change_share": {name: round(common[name], 4) for name in order},
    }
