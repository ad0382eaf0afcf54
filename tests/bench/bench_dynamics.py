"""Learned-dynamics benchmark (one torch thread, as the server runs; plan time only).

Keys:
    dynamics_segment_ms_p50 / _p95: ``LearnedDynamics.curve`` of a 3-second emotion window
        (onset 0.6 s, apex 1.9 s, offset 0.5 s; 76 frames at the model's 25 fps): motion
        labels, LSTM, the decoder's coarse levels and the folded tail + projection.
    dynamics_timeline_ms_p50: ``build_timeline`` of a 3-emotion chain with learned dynamics
        at 30 fps (eased build for comparison: ``transition_build_ms_p50``).
    dynamics_state_at_us_p50: ``Timeline.state_at`` on a learned timeline (per frame).
    dynamics_load_s: ``LearnedDynamics.load`` with the hierarchy cached.
Skipped (an ``errors`` entry) without the committed checkpoint or the face model.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np


def _times_ms(fn: Any, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000.0)
    return out


def run(quick: bool) -> dict[str, float]:
    import torch

    from engines.dynamics import LearnedDynamics
    from engines.face_model.ict import load_ict
    from engines.instructions import LexiconPlanner
    from engines.transition import TransitionConfig, build_timeline

    torch.set_num_threads(1)
    face_model = load_ict(progress=False)
    LearnedDynamics.load(face_model)  # builds and caches the hierarchy once
    started = time.perf_counter()
    dynamics = LearnedDynamics.load(face_model)
    load_s = time.perf_counter() - started
    repeats = 20 if quick else 200
    for _ in range(3):
        dynamics.curve("surprise", 1.0, 0.6, 1.9, 0.5)
    segment = _times_ms(lambda: dynamics.curve("surprise", 1.0, 0.6, 1.9, 0.5), repeats)
    plan = LexiconPlanner().plan("look surprised, then very angry, then burst out laughing", seed=0)
    zeros_e, zeros_p = np.zeros(53, np.float32), np.zeros(3, np.float32)
    config = TransitionConfig(dynamics="learned")

    def build() -> Any:
        return build_timeline(plan, zeros_e, zeros_p, config, dynamics=dynamics)

    timeline = build()
    build_ms = _times_ms(build, max(5, repeats // 10))
    ts = np.random.default_rng(0).uniform(0, timeline.duration, repeats)
    state_us = []
    for t in ts:
        started = time.perf_counter()
        timeline.state_at(float(t))
        state_us.append((time.perf_counter() - started) * 1e6)
    return {
        "dynamics_segment_ms_p50": round(float(np.percentile(segment, 50)), 3),
        "dynamics_segment_ms_p95": round(float(np.percentile(segment, 95)), 3),
        "dynamics_timeline_ms_p50": round(statistics.median(build_ms), 3),
        "dynamics_state_at_us_p50": round(statistics.median(state_us), 3),
        "dynamics_load_s": round(load_s, 3),
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
