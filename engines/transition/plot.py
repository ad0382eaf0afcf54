"""A picture of a timeline: the most active coefficients over time, on coloured phase bands."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engines.face_model.ict import FaceModelData
from engines.transition.idle import IdleMotion
from engines.transition.timeline import Timeline

__all__ = ["plot_timeline", "plot_timeline_strip"]

_PHASE_COLOURS = {
    "onset": "#fde2c4",
    "apex": "#f7b2a8",
    "offset": "#c9e4f6",
    "neutral": "#e6e6e6",
    "hold": "#d5f0cf",
}


def plot_timeline(
    timeline: Timeline,
    expression_names: Sequence[str],
    path: str | Path,
    *,
    idle: IdleMotion | None = None,
    top: int = 10,
    title: str | None = None,
) -> Path:
    """Save a PNG: the ``top`` most varying coefficients and head pose over time.

    Phase bands are shaded and labelled with the active emotion. Uses matplotlib's Agg
    backend (no display needed). Returns the written path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    expressions, poses = timeline.frames(idle)
    times = timeline.times
    spread = expressions.max(axis=0) - expressions.min(axis=0)
    chosen: list[int] = []
    for index in np.argsort(spread)[::-1]:
        if len(chosen) == top or spread[index] < 1e-3:
            break
        # left/right twins often move together: draw one of them
        if any(np.allclose(expressions[:, index], expressions[:, j], atol=1e-3) for j in chosen):
            continue
        chosen.append(int(index))
    fig, (ax_e, ax_p) = plt.subplots(
        2, 1, figsize=(11, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1.2]}
    )
    for ax in (ax_e, ax_p):
        for segment in timeline.segments:
            ax.axvspan(segment.start, segment.end, color=_PHASE_COLOURS[segment.phase], lw=0)
    for segment in timeline.segments:
        middle = 0.5 * (segment.start + segment.end)
        ax_e.text(middle, 1.06, f"{segment.phase}\n{segment.label}", ha="center", va="bottom",
                  fontsize=7, clip_on=False)  # fmt: skip
    cmap = plt.get_cmap("tab10")
    for i, index in enumerate(chosen):
        ax_e.plot(times, expressions[:, index], color=cmap(i % 10), lw=1.6,
                  label=expression_names[index])  # fmt: skip
    ax_e.plot(times, timeline.intensities, "k--", lw=1.0, label="intensity")
    ax_e.set_ylim(-0.02, 1.02)
    ax_e.set_ylabel("coefficient")
    ax_e.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    for axis, name in enumerate(("pitch", "yaw", "roll")):
        ax_p.plot(times, np.degrees(poses[:, axis]), lw=1.2, label=name)
    ax_p.set_ylabel("head (deg)")
    ax_p.set_xlabel("seconds")
    ax_p.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.suptitle(title or timeline.text or "timeline", y=0.995, fontsize=11)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_timeline_strip(
    timeline: Timeline,
    model: FaceModelData,
    path: str | Path,
    *,
    idle: IdleMotion | None = None,
    count: int = 10,
) -> Path:
    """Save a PNG strip: the generic ICT face at ``count`` evenly spaced times of the timeline.

    Each panel is titled with the time, phase, active emotion and intensity.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from engines.instructions.preview import FacePainter, save_small_png

    if count < 2:
        raise ValueError(f"count must be >= 2, got {count}")
    expressions, poses = timeline.frames(idle)
    painter = FacePainter(model)
    indices = np.linspace(0, timeline.num_frames - 1, count).round().astype(int)
    columns = min(count, 5)
    rows = int(np.ceil(count / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 3.0 * rows))
    axes_list = np.atleast_1d(axes).ravel()
    for ax, index in zip(axes_list, indices, strict=False):
        painter.draw(ax, expressions[index], poses[index])
        ax.set_title(
            f"{timeline.times[index]:.1f}s {timeline.phases[index]}\n"
            f"{timeline.labels[index].replace('_', ' ')} {timeline.intensities[index]:.2f}",
            fontsize=8,
        )
    for ax in axes_list[len(indices) :]:
        ax.axis("off")
    fig.suptitle(timeline.text or "timeline", fontsize=10)
    fig.tight_layout(h_pad=1.5)
    return save_small_png(fig, path, dpi=65)


def _example(path: str) -> None:
    """Plot a 3-emotion chain of the corpus' test split (``python -m engines.transition.plot``)."""
    from engines.face_model.ict import EXPRESSION_NAMES
    from engines.instructions import CorpusConfig, generate_corpus
    from engines.transition.builder import build_timeline_from_anchors
    from engines.transition.config import TransitionConfig

    corpus = generate_corpus(
        CorpusConfig(seed=0, num_train=0, num_val=0, num_test=400, num_heldout=0)
    )
    sample = next(s for s in corpus.test if len(s.labels) == 3 and "neutral" not in s.labels)

    class _Anchor:
        def __init__(self, k: int) -> None:
            self.label, self.intensity = sample.labels[k], sample.intensities[k]
            self.expression, self.pose = sample.expressions[k], sample.poses[k]

    config = TransitionConfig()
    timeline = build_timeline_from_anchors(
        [_Anchor(k) for k in range(3)],
        neutral_expression=sample.neutral_expression,
        neutral_pose=sample.neutral_pose,
        start_expression=sample.neutral_expression,
        start_pose=sample.neutral_pose,
        config=config,
        text=sample.text,
    )
    plot_timeline(timeline, EXPRESSION_NAMES, path, idle=IdleMotion(config))
    from engines.face_model.ict import load_ict

    strip = str(Path(path).with_name("transition_strip.png"))
    plot_timeline_strip(timeline, load_ict(progress=False), strip, idle=IdleMotion(config))


if __name__ == "__main__":
    import sys

    _example(sys.argv[1] if len(sys.argv) > 1 else "docs/images/transition_example.png")
