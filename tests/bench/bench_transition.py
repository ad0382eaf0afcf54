"""Transition and corpus benchmark (CPU, one thread of work; medians of repeated runs).

Keys:
    transition_build_ms_p50: build_timeline of a 3-emotion chain at 30 fps (~7 s, ~210 frames).
    transition_state_at_us_p50: one Timeline.state_at(t) (what the server calls per frame).
    transition_idle_apply_us_p50: one IdleMotion.apply(t, expression, pose) (per frame too).
    lexicon_plan_ms_p50: LexiconPlanner.plan of a chained instruction.
    corpus_seconds: generate_corpus with the default sizes (36k samples).
    corpus_samples_per_s: samples generated per second.
    lexicon_acc_test: share of test-split samples whose label sequence the lexicon reads exactly.
    lexicon_acc_heldout_train_vocab: the same on the held-out split with only the training
        vocabulary (a lookup baseline for generalisation to unseen phrasings).
    clip_encode_ms_p50: engines.text.clip ViT-B-32 text tower (random weights, same cost as
        trained ones), one instruction -> token embeddings (skipped without open_clip's vocab).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np


def _median_ms(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000.0)
    return statistics.median(times)


def run(quick: bool) -> dict[str, float]:
    from engines.instructions import CorpusConfig, LexiconPlanner, generate_corpus
    from engines.transition import IdleMotion, TransitionConfig, build_timeline

    repeats = 20 if quick else 200
    planner = LexiconPlanner()
    text = "look surprised, then very angry, then burst out laughing"
    plan = planner.plan(text, seed=0)
    start_expression = np.zeros(53, np.float32)
    start_pose = np.zeros(3, np.float32)
    config = TransitionConfig()
    timeline = build_timeline(plan, start_expression, start_pose, config)
    idle = IdleMotion(config)
    rng = np.random.default_rng(0)
    ts = rng.uniform(0, timeline.duration + 5, repeats)

    results: dict[str, float] = {
        "transition_build_ms_p50": _median_ms(
            lambda: build_timeline(plan, start_expression, start_pose, config), repeats
        ),
        "lexicon_plan_ms_p50": _median_ms(lambda: planner.plan(text, seed=0), repeats),
    }
    state_times, idle_times = [], []
    for t in ts:
        started = time.perf_counter()
        state = timeline.state_at(float(t))
        state_times.append((time.perf_counter() - started) * 1e6)
        started = time.perf_counter()
        idle.apply(float(t), state.expression, state.pose)
        idle_times.append((time.perf_counter() - started) * 1e6)
    results["transition_state_at_us_p50"] = statistics.median(state_times)
    results["transition_idle_apply_us_p50"] = statistics.median(idle_times)

    try:
        from engines.text.clip import ClipTextEncoder

        encoder = ClipTextEncoder(random_init=True)
    except Exception:  # the BPE vocabulary (open_clip_torch wheel) is not installed
        encoder = None
    if encoder is not None:
        encoder.encode([text])  # warm-up
        results["clip_encode_ms_p50"] = _median_ms(
            lambda: encoder.encode([text]), 10 if quick else 50
        )

    corpus_config = (
        CorpusConfig(num_train=5000, num_val=500, num_test=500, num_heldout=500)
        if quick
        else CorpusConfig()
    )
    started = time.perf_counter()
    corpus = generate_corpus(corpus_config)
    seconds = time.perf_counter() - started
    count = sum(len(corpus.split(s)) for s in ("train", "val", "test", "heldout"))
    from engines.instructions import analyze_text

    results["lexicon_acc_test"] = float(
        np.mean([analyze_text(s.text).labels == s.labels for s in corpus.test])
    )
    results["lexicon_acc_heldout_train_vocab"] = float(
        np.mean(
            [analyze_text(s.text, include_heldout=False).labels == s.labels for s in corpus.heldout]
        )
    )
    results["corpus_seconds"] = seconds
    results["corpus_samples_per_s"] = count / seconds
    return {key: round(value, 3) for key, value in results.items()}


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
