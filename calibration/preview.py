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
    half = max(hi - lo) * 0.7
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
    faces = model.faces_of("narrow_face")
    corners = np.asarray(vertices, np.float64)[faces] @ np.asarray(rotation).T
    facing = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])[:, 2] > 0
    edges = _unique_edges(faces[facing])
    overlay = canvas.copy()
    lines = to_canvas(pixels)[edges]  # (E, 2, 2)
    cv2.polylines(overlay, list(lines), False, (90, 200, 255), 1, cv2.LINE_AA, shift=4)
    canvas = cv2.addWeighted(overlay, 0.35, canvas, 0.65, 0.0)
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


def render_textured(
    avatar: Avatar,
    model: FaceModelData,
    expression: NDArray[np.floating],
    yaw_offset: float = 0.0,
    *,
    size: int = 320,
    shaded: bool = False,
) -> NDArray[np.uint8]:
    """A quick look at the avatar: its face part, frontal (plus a yaw offset), on white.

    Args:
        avatar: a calibrated avatar.
        model: the ICT model.
        expression: (53,) expression coefficients to show.
        yaw_offset: radians added to a frontal pose (the source pose is not used).
        size: output side in pixels.
        shaded: grey Lambert shading instead of the avatar's texture (to judge geometry).

    Returns:
        (size, size, 3) uint8 RGB.
    """
    from calibration.raster import interpolate, rasterize
    from calibration.texture import vertex_normals
    from engines.face_model.camera import euler_to_matrix

    vertices = blend_vertices(
        model.neutral, model.identity_basis, avatar.identity, model.expression_basis,
        np.asarray(expression, np.float32),
    ).astype(np.float64)  # fmt: skip
    rotation = euler_to_matrix(0.0, yaw_offset, 0.0)
    rotated = vertices @ rotation.T
    scale = size / 26.0
    pixels = np.stack([scale * rotated[:, 0] + size / 2, -scale * rotated[:, 1] + size * 0.42], 1)
    first, stop = model.face_ranges["face"]
    faces, face_uvs = model.faces[first:stop], model.face_uvs[first:stop]
    fragments = rasterize(pixels, scale * rotated[:, 2], faces, size, size, cull_backfaces=True)
    covered = fragments.triangle >= 0
    if shaded:
        normals = interpolate(fragments, faces, vertex_normals(vertices, model.faces) @ rotation.T)
        light = np.array([0.3, 0.3, 0.9]) / np.linalg.norm([0.3, 0.3, 0.9])
        shade = np.clip(normals @ light, 0.0, 1.0) * 0.8 + 0.15
        out = (np.full((size, size, 3), 230.0) * shade[..., None]).astype(np.uint8)
    else:
        uv = np.zeros((size, size, 2), np.float32)
        corners = model.uvs[face_uvs[fragments.triangle[covered]]]  # (N, 3, 2)
        uv[covered] = (corners * fragments.barycentric[covered][:, :, None]).sum(1)
        texels = avatar.texture.shape[0]
        out = cv2.remap(
            avatar.texture, uv[..., 0] * texels - 0.5, (1.0 - uv[..., 1]) * texels - 0.5,
            cv2.INTER_LINEAR,
        )  # fmt: skip
    out[~covered] = 255
    return np.asarray(out, np.uint8)


def neutral_sheet(avatar: Avatar, model: FaceModelData, *, size: int = 320) -> NDArray[np.uint8]:
    """2x3 picture: fitted expression, expression set to zero, zero turned 35° (textured,
    then shaded geometry) — to judge whether identity and expression were separated."""
    zero = np.zeros_like(avatar.expression)
    views = [(avatar.expression, 0.0), (zero, 0.0), (zero, 0.6)]
    rows = [
        np.hstack([render_textured(avatar, model, e, y, size=size, shaded=s) for e, y in views])
        for s in (False, True)
    ]
    return np.vstack(rows)
