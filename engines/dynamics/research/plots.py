"""Pictures of the dynamics model: the latent interpolation strip, and eased against learned
dynamics on a rendered face (``docs/images/dynamics_eased_vs_learned.png``).

``python -m engines.dynamics.research.plots docs/images`` redraws both (the second one
calibrates skimage's astronaut and renders her).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from engines.dynamics.labels import PhaseTimes, motion_labels, phase_amplitude
from engines.dynamics.model import DynamicsModel
from engines.dynamics.projection import RegionBasis
from engines.face_model.ict import FaceModelData

__all__ = ["apex_latent", "latent_interpolation", "plot_eased_vs_learned", "plot_latent_strip"]


def apex_latent(model: DynamicsModel, label: str, intensity: float = 1.0) -> torch.Tensor:
    """(Z,) the LSTM's latent in the middle of a held apex of ``label`` at s_i ``intensity``."""
    fps = model.config.fps
    phases = PhaseTimes(0.3, 0.9, 2.1, 2.8)
    times = np.arange(int(3.2 * fps)) / fps
    labels = motion_labels(label, intensity, phase_amplitude(times, phases),
                           tuple(model.config.labels))  # fmt: skip
    with torch.inference_mode():
        latents = model.latents(torch.from_numpy(labels)[None])[0]
    return latents[int(1.5 * fps)].clone()


def latent_interpolation(
    model: DynamicsModel, basis: RegionBasis, label_a: str, label_b: str, steps: int
) -> NDArray[np.float32]:
    """(steps, E) coefficients decoded along the straight line between two apex latents."""
    a, b = apex_latent(model, label_a), apex_latent(model, label_b)
    weights = torch.linspace(0.0, 1.0, steps)[:, None]
    with torch.inference_mode():
        deformations = model.decode((1 - weights) * a + weights * b).numpy()
    return basis.project(deformations)


def plot_latent_strip(
    model: DynamicsModel,
    basis: RegionBasis,
    face_model: FaceModelData,
    path: str | Path,
    label_a: str = "happiness",
    label_b: str = "surprise",
    steps: int = 8,
) -> Path:
    """Save the strip of :func:`latent_interpolation` on the generic ICT face."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from engines.instructions.preview import FacePainter, save_small_png

    coefficients = latent_interpolation(model, basis, label_a, label_b, steps)
    painter = FacePainter(face_model)
    fig, axes = plt.subplots(1, steps, figsize=(1.9 * steps, 2.6))
    for k, (ax, expression) in enumerate(zip(np.atleast_1d(axes), coefficients, strict=True)):
        painter.draw(ax, expression)
        ax.set_title(f"{k / (steps - 1):.2f}", fontsize=9)
    fig.suptitle(f"latent interpolation, {label_a} apex (0) -> {label_b} apex (1), "
                 f"{model.config.decoder} decoder", fontsize=10)  # fmt: skip
    fig.tight_layout()
    return save_small_png(fig, path, dpi=60)


def _render_strip(renderer: Any, expressions: NDArray[np.float32], frames: list[int]) -> list[Any]:
    out = []
    for index in frames:
        frame = renderer.render(expressions[index], np.zeros(3, np.float32))
        out.append(np.array(frame, dtype=np.uint8, copy=True))
    return out


def plot_eased_vs_learned(
    timelines: dict[str, Any],
    renderer: Any,
    expression_names: tuple[str, ...],
    path: str | Path,
    *,
    columns: int = 8,
    curves: int = 6,
) -> Path:
    """Rendered frames of each timeline (one row per dynamics) over the first emotion's
    onset and apex, and the activation curves of its most-moving shapes under each.

    Args:
        timelines: {"eased": Timeline, "learned": Timeline} of the same plan.
        renderer: anything with ``render(expression, pose) -> (H, W, 3)``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from engines.instructions.preview import save_small_png

    first = next(iter(timelines.values()))
    onset = next(s for s in first.segments if s.phase == "onset")
    end = min(first.duration, onset.end + 0.15)
    frame_times = np.linspace(onset.start, end, columns)
    frames = [round(t * first.fps) for t in frame_times]
    reference = timelines["learned"].expressions
    change = reference[frames[-1]] - reference[frames[0]]
    change[[k for k, name in enumerate(expression_names) if name.endswith("_R")]] = 0.0
    rising = [int(e) for e in np.argsort(-change)[: curves - 1]]
    # the (left or central) shapes that rise most, and the one that falls most
    chosen = [*rising, int(np.argmin(change))]
    rows = len(timelines)
    fig = plt.figure(figsize=(1.55 * columns + 5.2, 1.9 * rows + 0.5))
    grid = fig.add_gridspec(rows, columns + 4, wspace=0.05, hspace=0.45)
    colours = plt.get_cmap("tab10")
    for row, (name, timeline) in enumerate(timelines.items()):
        images = _render_strip(renderer, timeline.expressions, frames)
        for column, (image, t) in enumerate(zip(images, frame_times, strict=True)):
            ax = fig.add_subplot(grid[row, column])
            h, w = image.shape[:2]
            ax.imshow(image[int(0.12 * h) : int(0.88 * h), int(0.15 * w) : int(0.85 * w)])
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"{t - onset.start:.2f} s", fontsize=8)
            if column == 0:
                ax.set_ylabel(name, fontsize=10)
        ax = fig.add_subplot(grid[row, columns + 1 :])
        times = timeline.times
        window = (times >= onset.start - 0.05) & (times <= end)
        for k, index in enumerate(chosen):
            ax.plot(times[window] - onset.start, timeline.expressions[window, index], lw=1.6,
                    color=colours(k), label=expression_names[index])  # fmt: skip
        ax.set_ylim(-0.02, 1.0)
        ax.set_xlabel("s from onset", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.yaxis.tick_right()
        ax.set_title(f"{name}: shape activations", fontsize=9)
        if row == 0:
            ax.legend(fontsize=6.5, loc="center right", frameon=False)
    fig.suptitle(f"\"{first.text}\": eased (top) vs learned dynamics (bottom)", fontsize=10)
    return save_small_png(fig, path, dpi=72, colors=128)


def _docs_images(directory: str) -> None:
    """Redraw the docs pictures (``python -m engines.dynamics.research.plots DIR``)."""
    from skimage import data

    from calibration import calibrate
    from engines.dynamics.checkpoint import default_checkpoint
    from engines.dynamics.generator import LearnedDynamics
    from engines.dynamics.research.pipeline import load_research_model
    from engines.face_model.ict import load_ict
    from engines.instructions import LexiconPlanner
    from engines.render import AvatarRenderer, RenderConfig
    from engines.transition import TransitionConfig, build_timeline

    out = Path(directory)
    face_model = load_ict(progress=False)
    model, workspace = load_research_model(default_checkpoint("spiral"), face_model)
    plot_latent_strip(model, workspace.basis, face_model, out / "dynamics_latent_strip.png")
    avatar = calibrate(data.astronaut(), model=face_model).avatar
    renderer = AvatarRenderer(avatar, face_model, RenderConfig(size=256))
    text = "slowly look surprised"  # an onset of 0.66 s: long enough to see it unfold
    plan = LexiconPlanner().plan(text, seed=0)
    start = np.asarray(avatar.expression, np.float32)
    generator = LearnedDynamics.load(face_model)
    pose = np.zeros(3, np.float32)
    timelines = {
        kind: build_timeline(plan, start, pose, TransitionConfig(dynamics=kind), dynamics=generator)
        for kind in ("eased", "learned")
    }
    plot_eased_vs_learned(timelines, renderer, face_model.expression_names,
                          out / "dynamics_eased_vs_learned.png")  # fmt: skip


if __name__ == "__main__":
    import sys

    _docs_images(sys.argv[1] if len(sys.argv) > 1 else "docs/images")
