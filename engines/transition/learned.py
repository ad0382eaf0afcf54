"""Learned dynamics: the eased segments of each emotion window replaced by the model's.

An emotion window is an onset into an apex, the apex (or final) hold that follows it, and the
offset back to neutral when one follows. For each window whose label the model knows, the
model's curve ``L(t)`` (0 at rest) is composed with the plan:

    expression(t) = rest(t) · (1 - ã(t)) + L(t) + (anchor - L_apex) · ã(t)

with ã the window's eased amplitude (0 -> 1 over the onset on the segment's own easing, 1
held, 1 -> 0 over the offset), ``rest`` the face the onset leaves (the current face, or the
apex of the previous emotion when there is no neutral midpoint) and the neutral face the
offset returns to, and ``L_apex`` the model's value where its apex ends. The window therefore
leaves the planned face, is exactly at the planner's apex (its intensity, its compound AUs)
where the apex ends and the next phase (or the held end state) takes over, and returns
exactly to the neutral face, while everything in between, which shape moves first, how each
curve bends, how the held apex drifts, comes from the model. Labels the model does not know
(compound emotions) keep their eased segments.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engines.transition.easing import ease
from engines.transition.plan import WindowDynamics
from engines.transition.timeline import Segment

__all__ = ["apply_learned_dynamics"]


def _windows(segments: Sequence[Segment]) -> list[tuple[int, int | None, int | None]]:
    """(onset, hold or None, offset or None) segment indices of every emotion window."""
    out: list[tuple[int, int | None, int | None]] = []
    for k, segment in enumerate(segments):
        if segment.phase != "onset":
            continue
        hold = offset = None
        j = k + 1
        if j < len(segments) and segments[j].phase in ("apex", "hold") \
                and segments[j].label == segment.label:  # fmt: skip
            hold, j = j, j + 1
        if j < len(segments) and segments[j].phase == "offset" \
                and segments[j].label == segment.label:  # fmt: skip
            offset = j
        out.append((k, hold, offset))
    return out


def _sample_times(segment: Segment, rate: float) -> NDArray[np.float64]:
    count = max(2, math.ceil(segment.duration * rate - 1e-9) + 1)
    return np.linspace(segment.start, segment.end, count)


def apply_learned_dynamics(
    segments: Sequence[Segment], dynamics: WindowDynamics, fps: float
) -> tuple[list[Segment], dict[str, Any]]:
    """``segments`` with learned curves on every emotion window the model knows.

    Args:
        segments: the eased timeline's segments.
        dynamics: the model.
        fps: the timeline's frame rate (the curves are sampled at it).

    Returns:
        the new segments and a JSON-able summary (windows made, labels left eased).
    """
    out = list(segments)
    made: list[dict[str, Any]] = []
    eased: list[str] = []
    for onset_index, hold_index, offset_index in _windows(segments):
        onset = segments[onset_index]
        if not dynamics.supports(onset.label):
            eased.append(onset.label)
            continue
        anchor = onset.expression_end.astype(np.float32)
        intensity = dynamics.intensity_of(onset.label, anchor)
        hold_s = segments[hold_index].duration if hold_index is not None else 0.0
        offset_s = segments[offset_index].duration if offset_index is not None else None
        curve = dynamics.curve(onset.label, intensity, onset.duration, hold_s, offset_s)
        correction = anchor - np.asarray(curve.apex, np.float32)
        for index in (onset_index, hold_index, offset_index):
            if index is None:
                continue
            segment = segments[index]
            times = _sample_times(segment, fps)
            u = (times - segment.start) / max(segment.duration, 1e-9)
            if segment.phase == "onset":
                amplitude = ease(segment.easing, u)
                rest = segment.expression_start
            elif segment.phase == "offset":
                amplitude = 1.0 - ease(segment.easing, u)
                rest = segment.expression_end
            else:
                amplitude = np.ones_like(u)
                rest = anchor
            learned = np.asarray(curve.at(times - onset.start), np.float32)
            a = amplitude[:, None].astype(np.float32)
            values = rest[None, :] * (1.0 - a) + learned + correction[None, :] * a
            out[index] = dataclasses.replace(
                segment, curve=np.clip(values, 0.0, 1.0).astype(np.float32)
            )
        made.append({"label": onset.label, "start": round(onset.start, 4),
                     "intensity": round(float(intensity), 4)})  # fmt: skip
    return out, {"windows": made, "eased_labels": sorted(set(eased))}
