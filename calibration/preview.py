"""Preview picture of a calibration: the fitted ICT mesh drawn over the photo (a face crop)."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from engines.avatar import Avatar
from engines.face_model.blend import blend_vertices
from engines.face_model.camera import OrthoCamera, project
from engines.face_model.ict import FaceModelData

__all__ = ["avatar_preview", "draw_preview"]


def _unique_edges(faces: NDArray[np.integer]) -> NDArray[np.int64]:
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]], 0)
    edges = np.sort(edges.astype(np.int64), axis=1)
    return np.unique(edges, axis=0)


def draw_preview(
    image: NDArray[np.uint8],
    model: FaceModelData,
    vertices: NDArray[np.floating],
    rotation: NDArray[np.floating],
    camera: OrthoCamera,
    landmarks: NDArray[np.floating],
    fitted_landmarks: NDArray[np.floating],
    *,
    height: int = 768,
) -> NDArray[np.uint8]:
    """Draw the fitted mesh wireframe and the landmarks over a crop around the face.

    Args:
        image: (H, W, 3) uint8 RGB source.
        model: the ICT model.
        vertices: (V, 3) fitted model-space vertices.
        rotation: (3, 3) head rotation.
        camera: the fitted camera.
        landmarks: (L, 2) detected landmarks (drawn green).
        fitted_landmarks: (L, 2) the model's landmarks after the fit (drawn red, joined to
            the detected ones by a yellow line when they differ by more than a pixel).
        height: output height in pixels (the crop is scaled to it).

    Returns:
        (height, ~height, 3) uint8 RGB picture.
    """
    img_h, img_w = image.shape[:2]
    lo, hi = landmarks.min(0), landmarks.max(0)
    centre = (lo + hi) / 2
    half = max(hi - lo) * 0.8
    x0, y0 = int(max(centre[0] - half, 0)), int(max(centre[1] - half, 0))
    x1, y1 = int(min(centre[0] + half, img_w)), int(min(centre[1] + half, img_h))
    crop = image[y0:y1, x0:x1]
    zoom = height / max(crop.shape[0], 1)
    canvas = cv2.resize(
        crop, (max(1, round(crop.shape[1] * zoom)), height), interpolation=cv2.INTER_CUBIC
    )
    shift = 16.0  # fixed-point bits for sub-pixel anti-aliased lines
    offset = np.array([x0, y0], np.float64)

    def to_canvas(points: NDArray[np.floating]) -> NDArray[np.int32]:
        return np.round((np.asarray(points, np.float64) - offset) * zoom * shift).astype(np.int32)

    pixels, _ = project(vertices, rotation, camera)
    faces = model.faces_of("face")
    corners = np.asarray(vertices, np.float64)[faces] @ np.asarray(rotation).T
    facing = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])[:, 2] > 0
    edges = _unique_edges(faces[facing])
    overlay = canvas.copy()
    lines = to_canvas(pixels)[edges]  # (E, 2, 2)
    cv2.polylines(overlay, list(lines), False, (90, 200, 255), 1, cv2.LINE_AA, shift=4)
    canvas = cv2.addWeighted(overlay, 0.45, canvas, 0.55, 0.0)
    detected, fitted = to_canvas(landmarks), to_canvas(fitted_landmarks)
    for a, b in zip(detected, fitted, strict=True):
        if np.abs(a - b).max() > shift * zoom:
            cv2.line(canvas, tuple(a), tuple(b), (255, 230, 0), 1, cv2.LINE_AA, shift=4)
    for point in detected:
        cv2.circle(canvas, tuple(point), int(1.5 * shift), (0, 220, 0), -1, cv2.LINE_AA, shift=4)
    for point in fitted:
        cv2.circle(canvas, tuple(point), int(1.2 * shift), (235, 30, 30), -1, cv2.LINE_AA, shift=4)
    return np.asarray(canvas, np.uint8)


def avatar_preview(avatar: Avatar, model: FaceModelData, *, height: int = 768) -> NDArray[np.uint8]:
    """:func:`draw_preview` of a calibrated avatar (its fitted mesh over its source frame)."""
    vertices = blend_vertices(
        model.neutral, model.identity_basis, avatar.identity, model.expression_basis,
        avatar.expression,
    )  # fmt: skip
    fitted = avatar.extra.get("fitted_landmarks", avatar.landmarks)
    return draw_preview(
        avatar.source_image, model, vertices, avatar.rotation_matrix, avatar.camera,
        avatar.landmarks, fitted, height=height,
    )  # fmt: skip
