"""Fidelity metrics from per-photo results: per-class recall, Acc1, G-mean, Acc2, baselines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evaluation.fidelity.config import JUDGE_TO_EMOTION, FidelityConfig
from evaluation.fidelity.runner import PhotoResult

__all__ = ["NO_FACE", "FidelitySummary", "emotion_of", "summarize"]

NO_FACE = "no_face"


def emotion_of(judge_label: str | None) -> str | None:
    """The Facecast emotion of a judge class (None: no face found)."""
    return None if judge_label is None else JUDGE_TO_EMOTION[judge_label]


@dataclass(frozen=True)
class FidelitySummary:
    """Headline numbers of one run.

    Attributes:
        photos: photos measured.
        per_class_recall: judge class -> share of photos whose final frame it read as asked.
        acc1: share of all (photo, class) instructions read as asked.
        gmean: geometric mean of the per-class recalls (0 when one is 0).
        acc2: share of (photo, pair) transitions with both ends read as asked;
            acc2_first / acc2_second each end alone; None without pairs.
        pairs_understood: share of pair instructions planned as exactly (X, Y).
        photo_readings / rerender_readings: what the judge read in the photos and in their
            re-render with their own fitted expression.
        rerender_keeps: share of photos whose re-render keeps the photo's reading.
        confusion: asked class -> {read class or "no_face": count}.
    """

    photos: int
    per_class_recall: dict[str, float]
    acc1: float
    gmean: float
    acc2: float | None
    acc2_first: float | None
    acc2_second: float | None
    pairs_understood: float | None
    photo_readings: dict[str, int]
    rerender_readings: dict[str, int]
    rerender_keeps: float
    confusion: dict[str, dict[str, int]]

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def summarize(results: Sequence[PhotoResult], config: FidelityConfig) -> FidelitySummary:
    """Aggregate ``results`` (at least one photo)."""
    if not results:
        raise ValueError("no photo results to summarize")
    read_keys = [*JUDGE_TO_EMOTION, NO_FACE]
    confusion = {c: dict.fromkeys(read_keys, 0) for c in config.classes}
    for result in results:
        for asked, reading in result.singles.items():
            confusion[asked][reading.label or NO_FACE] += 1
    n = len(results)
    recall = {c: round(confusion[c][c] / n, 4) for c in config.classes}
    values = np.array(list(recall.values()))
    acc1 = float(values.mean())
    gmean = 0.0 if (values <= 0).any() else float(np.exp(np.log(values).mean()))
    acc2 = first = second = understood = None
    if config.pairs:
        hits = np.array([p.correct(emotion_of) for r in results for p in r.pairs], bool)
        acc2 = round(float(hits.all(axis=1).mean()), 4)
        first, second = (round(float(v), 4) for v in hits.mean(axis=0))
        understood = round(
            float(np.mean([p.understood == (p.first, p.second) for r in results for p in r.pairs])),
            4,
        )
    photo_readings = _count(r.photo.label or NO_FACE for r in results)
    rerender_readings = _count(r.rerender.label or NO_FACE for r in results)
    keeps = float(np.mean([r.rerender.label == r.photo.label for r in results]))
    return FidelitySummary(
        photos=n,
        per_class_recall=recall,
        acc1=round(acc1, 4),
        gmean=round(gmean, 4),
        acc2=acc2,
        acc2_first=first,
        acc2_second=second,
        pairs_understood=understood,
        photo_readings=photo_readings,
        rerender_readings=rerender_readings,
        rerender_keeps=round(keeps, 4),
        confusion=confusion,
    )


def _count(labels: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for label in labels:
        out[label] = out.get(label, 0) + 1
    return dict(sorted(out.items()))
