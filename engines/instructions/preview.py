"""A picture of the FACS prototypes on the ICT mesh (flat-shaded, no texture, no renderer).

``python -m engines.instructions.preview docs/images/transition_prototypes.png`` draws every
emotion's apex (intensity 1) on the generic ICT face, front view, with matplotlib's painter's
algorithm: a quick visual check of the AU -> shape mapping, independent of the renderer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from engines.face_model.blend import blend_vertices
from engines.face_model.camera import euler_to_matrix
from engines.face_model.ict import FaceModelData
from engines.instructions.facs import emotion_prototype
from engines.instructions.vocabulary import EMOTIONS

__all__ = ["FacePainter", "plot_prototype_sheet", "save_small_png"]

_PART_COLOURS: dict[str, tuple[float, float, float]] = {
    "face": (0.87, 0.72, 0.62),
    "mouth_socket": (0.35, 0.12, 0.12),
    "gums_tongue": (0.65, 0.3, 0.3),
    "teeth": (0.95, 0.95, 0.9),
    "sclera_left": (0.97, 0.97, 0.97),
    "sclera_right": (0.97, 0.97, 0.97),
    "iris_left": (0.25, 0.35, 0.45),
    "iris_right": (0.25, 0.35, 0.45),
}
_LIGHT = np.array([0.3, 0.4, 1.0]) / np.linalg.norm([0.3, 0.4, 1.0])


# painter's-order bias (cm): irises are drawn over their sclera
_DEPTH_BIAS = {"iris_left": 0.1, "iris_right": 0.1}


def _triangles(
    model: FaceModelData,
) -> tuple[NDArray[np.int32], NDArray[np.float64], NDArray[np.float64]]:
    faces, colours, bias = [], [], []
    for part, colour in _PART_COLOURS.items():
        if part in model.face_ranges:
            tris = model.faces_of(part)
            faces.append(tris)
            colours.append(np.tile(colour, (len(tris), 1)))
            bias.append(np.full(len(tris), _DEPTH_BIAS.get(part, 0.0)))
    return np.concatenate(faces), np.concatenate(colours), np.concatenate(bias)


def _draw(ax: object, vertices: NDArray[np.float32], faces: NDArray[np.int32],
          colours: NDArray[np.float64], bias: NDArray[np.float64],
          box: tuple[float, float, float, float]) -> None:  # fmt: skip
    from matplotlib.collections import PolyCollection

    corners = vertices[faces]  # (F, 3, 3)
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = normals / np.maximum(length, 1e-12)
    x0, x1, y0, y1 = box
    centre = corners.mean(axis=1)
    keep = (
        (normals[:, 2] > 0.0)
        & (centre[:, 0] > x0) & (centre[:, 0] < x1)
        & (centre[:, 1] > y0) & (centre[:, 1] < y1)
    )  # fmt: skip
    order = np.argsort(centre[keep, 2] + bias[keep])  # far to near
    shade = np.clip(normals[keep] @ _LIGHT, 0.0, 1.0)[order]
    rgb = colours[keep][order] * (0.35 + 0.65 * shade[:, None])
    polygons = corners[keep][order][:, :, :2]
    collection = PolyCollection(
        list(polygons), facecolors=rgb, edgecolors="none", antialiased=False
    )
    ax.add_collection(collection)  # type: ignore[attr-defined]
    ax.set_xlim(x0, x1)  # type: ignore[attr-defined]
    ax.set_ylim(y0, y1)  # type: ignore[attr-defined]
    ax.set_aspect("equal")  # type: ignore[attr-defined]
    ax.axis("off")  # type: ignore[attr-defined]


class FacePainter:
    """Draws the generic ICT face with given expression coefficients into matplotlib axes."""

    def __init__(self, model: FaceModelData) -> None:
        self.model = model
        faces, self.colours, self.bias = _triangles(model)
        front = model.neutral[model.faces_of("face")]
        normal_z = np.cross(front[:, 1] - front[:, 0], front[:, 2] - front[:, 0])[:, 2]
        self.faces = faces[:, ::-1] if np.median(normal_z) < 0 else faces  # front towards +z
        landmarks = model.neutral[model.landmarks_68]
        xs, ys = landmarks[:, 0], landmarks[:, 1]
        margin = 0.08 * (xs.max() - xs.min())
        self.box = (xs.min() - margin, xs.max() + margin, ys.min() - margin, ys.max() + 3 * margin)
        self.centre = landmarks.mean(axis=0)

    def draw(
        self, ax: object, expression: NDArray[np.floating], pose: NDArray[np.floating] | None = None
    ) -> None:
        """Draw the face with (E,) ``expression`` and optional (3,) head rotation ``pose``."""
        model = self.model
        vertices = blend_vertices(
            model.neutral, model.identity_basis, np.zeros(0, np.float32), model.expression_basis,
            np.asarray(expression, np.float32),
        )  # fmt: skip
        if pose is not None:
            rotation = euler_to_matrix(*(float(a) for a in pose))
            vertices = ((vertices - self.centre) @ rotation.T + self.centre).astype(np.float32)
        _draw(ax, vertices, self.faces, self.colours, self.bias, self.box)


def save_small_png(fig: object, path: str | Path, dpi: int = 55, colors: int = 64) -> Path:
    """Save a matplotlib figure as a palette PNG (small files for docs/images) and close it."""
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=dpi, format="png")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    buffer.seek(0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.open(buffer).convert("RGB").quantize(colors=colors).save(path, optimize=True)
    return path


def plot_prototype_sheet(
    model: FaceModelData,
    path: str | Path,
    labels: Sequence[str] = EMOTIONS,
    *,
    intensity: float = 1.0,
    columns: int = 6,
) -> Path:
    """Save a grid of the prototypes of ``labels`` on the generic ICT face; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    painter = FacePainter(model)
    rows = int(np.ceil(len(labels) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(2.0 * columns, 2.4 * rows))
    axes_list = np.atleast_1d(axes).ravel()
    for ax, label in zip(axes_list, labels, strict=False):
        painter.draw(ax, intensity * emotion_prototype(label, model.expression_names))
        ax.set_title(label.replace("_", " "), fontsize=9)
    for ax in axes_list[len(labels) :]:
        ax.axis("off")
    fig.tight_layout()
    return save_small_png(fig, path)


if __name__ == "__main__":
    import sys

    from engines.face_model.ict import load_ict

    plot_prototype_sheet(
        load_ict(progress=False),
        sys.argv[1] if len(sys.argv) > 1 else "docs/images/transition_prototypes.png",
    )
