"""Unwrap the source photo into the ICT face UV layout and fill what the camera did not see.

Steps (all on the CPU, no renderer dependency):

1. Rasterize the fitted mesh (face, head/neck, eyeballs) in the source view: a depth buffer.
2. Rasterize the face part in UV space (the ``M_Face`` tile, u, v in [0, 1]) with the projected
   source pixel position, the depth and the camera-facing normal as per-vertex attributes.
3. A texel is *seen* when its surface point is the nearest one in the source view (depth test)
   and faces the camera; its colour is sampled with ``cv2.remap``. The weight fades out with
   the grazing angle (``visibility`` in [0, 1]).
4. Unseen texels take the colour of their mirror texel: the ICT face mesh and its UV layout are
   symmetric (vertex ``x -> -x`` maps to ``u -> 1 - u``), so the mirror is a horizontal flip.
5. What is left (seen on neither side, and texels outside the UV islands) is filled by
   push-pull (a mask-weighted image pyramid), so later re-posing never samples holes.

The texture mask is 255 where the texel was seen head-on, decreasing with the grazing angle,
96 where it was mirrored, and 0 where it was filled by push-pull.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from calibration.lighting import estimate_sh_lighting
from calibration.raster import interpolate, rasterize
from engines.face_model.camera import OrthoCamera, project
from engines.face_model.ict import FaceModelData

__all__ = ["TextureConfig", "UnwrapResult", "push_pull_fill", "unwrap_texture", "vertex_normals"]

MIRRORED_MASK_VALUE = 96
VISIBILITY_PARTS = ("face", "head_neck", "eyeball_left", "eyeball_right")


@dataclass(frozen=True)
class TextureConfig:
    """Texture unwrapping settings.

    Attributes:
        size: texture side in texels (512 resolves a face up to ~500 px wide in the source;
            1024 for larger faces, at 4x the unwrap time).
        depth_tolerance_cm: how far behind the nearest surface a texel may be and still count
            as seen.
        min_facing: cosine between normal and view direction below which a texel is unseen.
        full_facing: cosine above which a texel has full visibility weight.
    """

    size: int = 512
    depth_tolerance_cm: float = 0.4
    min_facing: float = 0.15
    full_facing: float = 0.45

    def __post_init__(self) -> None:
        if not 16 <= self.size <= 4096:
            raise ValueError(f"texture size must be in [16, 4096], got {self.size}")
        if not 0.0 <= self.min_facing < self.full_facing <= 1.0:
            raise ValueError("need 0 <= min_facing < full_facing <= 1")


@dataclass(frozen=True)
class UnwrapResult:
    """The texture and what was seen.

    Attributes:
        texture: (T, T, 3) uint8 RGB, row 0 is v = 1.
        mask: (T, T) uint8 (see the module docstring).
        vertex_visibility: (V,) float32 in [0, 1], per-vertex visibility in the source view.
        face_mask: (H, W) uint8 255 where the fitted face part covers the source image.
        sh_lighting: (9, 3) float32 spherical-harmonic lighting (see ``calibration.lighting``)
            fitted on the visible skin of the narrow face region.
    """

    texture: NDArray[np.uint8]
    mask: NDArray[np.uint8]
    vertex_visibility: NDArray[np.float32]
    face_mask: NDArray[np.uint8]
    sh_lighting: NDArray[np.float32]


def vertex_normals(
    vertices: NDArray[np.floating], faces: NDArray[np.integer]
) -> NDArray[np.float32]:
    """(V, 3) area-weighted unit vertex normals (zero for unreferenced vertices)."""
    vertices = np.asarray(vertices, np.float32)
    corners = vertices[faces]
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = np.zeros_like(vertices)
    count = vertices.shape[0]
    flat = faces.reshape(-1)
    for axis in range(3):
        normals[:, axis] = np.bincount(flat, np.repeat(face_normals[:, axis], 3), minlength=count)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return normals / np.maximum(length, 1e-12)


def push_pull_fill(
    image: NDArray[np.float32], weight: NDArray[np.float32], min_size: int = 1
) -> NDArray[np.float32]:
    """Fill where ``weight`` is 0 by a mask-weighted pyramid (push-pull).

    Args:
        image: (H, W, C) float32 colours (anything where weight is 0).
        weight: (H, W) float32 in [0, 1].
        min_size: coarsest level side.

    Returns:
        (H, W, C) float32 with every texel defined; texels of weight 1 keep their colour.
    """
    levels: list[tuple[NDArray[Any], NDArray[Any]]] = []
    colour: NDArray[Any] = image * weight[..., None]
    w: NDArray[Any] = weight.astype(np.float32)
    while True:
        levels.append((colour, w))
        height, width = w.shape
        if max(height, width) <= min_size or (w > 0).all():
            break
        size = (max(1, (width + 1) // 2), max(1, (height + 1) // 2))
        colour = cv2.resize(colour, size, interpolation=cv2.INTER_AREA).reshape(
            size[1], size[0], -1
        )
        w = cv2.resize(w, size, interpolation=cv2.INTER_AREA)
    colour, w = levels[-1]
    filled = colour / np.maximum(w, 1e-8)[..., None]
    for colour, w in reversed(levels[:-1]):
        height, width = w.shape
        upsampled = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR).reshape(
            height, width, -1
        )
        alpha = np.clip(w, 0.0, 1.0)[..., None]
        own = colour / np.maximum(w, 1e-8)[..., None]
        filled = alpha * own + (1.0 - alpha) * upsampled
    return filled.astype(np.float32)


def _face_uv_vertices(model: FaceModelData) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    first, stop = model.face_ranges["face"]
    return model.faces[first:stop], model.face_uvs[first:stop]


def unwrap_texture(
    image: NDArray[np.uint8],
    model: FaceModelData,
    vertices: NDArray[np.floating],
    rotation: NDArray[np.floating],
    camera: OrthoCamera,
    config: TextureConfig | None = None,
) -> UnwrapResult:
    """Build the face texture of a fitted source frame.

    Args:
        image: (H, W, 3) uint8 RGB source frame.
        model: the ICT model (faces, UVs, parts).
        vertices: (V, 3) fitted model-space vertices (identity + expression).
        rotation: (3, 3) head rotation.
        camera: scaled-orthographic camera of the fit.
        config: texture settings.
    """
    config = config or TextureConfig()
    height, width = image.shape[:2]
    size = config.size
    pixels, depth = project(vertices, rotation, camera)
    normals = vertex_normals(vertices, model.faces) @ np.asarray(rotation, np.float32).T
    facing = normals[:, 2]  # cosine with the view direction (+z towards the camera)

    # 1. Source-view depth buffer over everything that can hide the face, rasterized only in
    #    the head's bounding box (a 2048 px frame costs no more than its face).
    occluders = model.faces_of(*VISIBILITY_PARTS)
    head = np.concatenate([pixels[slice(*model.vertex_ranges[p])] for p in VISIBILITY_PARTS])
    x0 = int(np.clip(np.floor(head[:, 0].min()) - 1, 0, width - 1))
    y0 = int(np.clip(np.floor(head[:, 1].min()) - 1, 0, height - 1))
    x1 = int(np.clip(np.ceil(head[:, 0].max()) + 2, x0 + 1, width))
    y1 = int(np.clip(np.ceil(head[:, 1].max()) + 2, y0 + 1, height))
    shifted = pixels - np.array([x0, y0], np.float32)
    source = rasterize(shifted, depth, occluders, y1 - y0, x1 - x0, cull_backfaces=True)

    def front_depth(rows: NDArray[np.int64], cols: NDArray[np.int64]) -> NDArray[np.float32]:
        """Source-view depth at full-image pixels (-inf outside the rasterized box)."""
        in_box = (rows >= y0) & (rows < y1) & (cols >= x0) & (cols < x1)
        local_rows = np.clip(rows - y0, 0, y1 - y0 - 1)
        local_cols = np.clip(cols - x0, 0, x1 - x0 - 1)
        return np.where(in_box, source.depth[local_rows, local_cols], -np.inf).astype(np.float32)

    # 2. UV-space raster of the face part with (u, w, depth, facing) attributes per corner.
    faces, face_uvs = _face_uv_vertices(model)
    uv_pixels = np.stack([model.uvs[:, 0] * size, (1.0 - model.uvs[:, 1]) * size], axis=1).astype(
        np.float64
    )
    uv_frag = rasterize(uv_pixels, np.zeros(len(uv_pixels)), face_uvs, size, size)
    attributes = np.concatenate([pixels, depth[:, None], facing[:, None]], axis=1).astype(
        np.float32
    )  # per vertex; gathered through the geometry indices of each triangle
    covered = uv_frag.triangle >= 0
    texel_attr = interpolate(uv_frag, faces, attributes)  # (T, T, 4)
    src_u, src_w = texel_attr[..., 0], texel_attr[..., 1]
    texel_depth, texel_facing = texel_attr[..., 2], texel_attr[..., 3]

    # 3. Visibility: depth test against the source-view buffer, and the facing angle.
    cols = np.clip(np.floor(src_u).astype(np.int64), 0, width - 1)
    rows = np.clip(np.floor(src_w).astype(np.int64), 0, height - 1)
    inside = covered & (src_u >= 0) & (src_u < width) & (src_w >= 0) & (src_w < height)
    front = front_depth(rows, cols)
    unoccluded = texel_depth >= front - config.depth_tolerance_cm * camera.scale
    ramp = (texel_facing - config.min_facing) / (config.full_facing - config.min_facing)
    visibility = np.where(inside & unoccluded, np.clip(ramp, 0.0, 1.0), 0.0).astype(np.float32)
    sampled = cv2.remap(
        image,
        src_u - 0.5,
        src_w - 0.5,
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    ).astype(np.float32)

    # 4. Mirror: the UV layout is symmetric about u = 0.5.
    mirrored_visibility = visibility[:, ::-1]
    mirrored_colour = sampled[:, ::-1]
    own = visibility[..., None]
    mirror_weight = np.clip(mirrored_visibility - visibility, 0.0, 1.0)[..., None]
    colour = own * sampled + (1.0 - own) * mirrored_colour
    weight = np.clip(visibility + mirror_weight[..., 0], 0.0, 1.0)
    colour = np.where((own + mirror_weight) > 0, colour, 0.0)

    # 5. Push-pull for everything else (including outside the UV islands: no seams later).
    filled = push_pull_fill(colour, weight)
    texture = np.clip(filled + 0.5, 0, 255).astype(np.uint8)
    mask = np.where(
        visibility > 0,
        np.maximum(visibility * 255.0, MIRRORED_MASK_VALUE + 1),
        np.where(mirrored_visibility > 0, MIRRORED_MASK_VALUE, 0),
    ).astype(np.uint8)

    # Per-vertex visibility and the face mask in the source image.
    vertex_visibility = np.zeros(len(vertices), np.float32)
    vis_cols = np.clip(np.floor(pixels[:, 0]).astype(np.int64), 0, width - 1)
    vis_rows = np.clip(np.floor(pixels[:, 1]).astype(np.int64), 0, height - 1)
    vertex_inside = (
        (pixels[:, 0] >= 0) & (pixels[:, 0] < width) & (pixels[:, 1] >= 0) & (pixels[:, 1] < height)
    )
    vertex_front = (
        depth >= front_depth(vis_rows, vis_cols) - config.depth_tolerance_cm * camera.scale
    )
    vertex_ramp = np.clip(
        (facing - config.min_facing) / (config.full_facing - config.min_facing), 0.0, 1.0
    )
    vertex_visibility[:] = np.where(vertex_inside & vertex_front, vertex_ramp, 0.0)
    face_lookup = np.zeros(len(occluders), bool)
    offset = 0
    for part in VISIBILITY_PARTS:
        first, stop = model.face_ranges[part]
        if part == "face":
            face_lookup[offset : offset + stop - first] = True
        offset += stop - first
    face_mask = np.zeros((height, width), np.uint8)
    face_mask[y0:y1, x0:x1] = np.where(
        (source.triangle >= 0) & face_lookup[np.maximum(source.triangle, 0)], 255, 0
    )
    # Lighting from the well-seen skin vertices (narrow face: no hair, ears or neck).
    skin = np.arange(*model.vertex_ranges["narrow_face"])
    seen = skin[vertex_visibility[skin] > 0.5]
    if seen.size >= 50:
        colours = image[vis_rows[seen], vis_cols[seen]].astype(np.float64)
        sh_lighting = estimate_sh_lighting(normals[seen], colours, vertex_visibility[seen])
    else:
        sh_lighting = np.zeros((9, 3), np.float32)
    return UnwrapResult(
        texture=texture,
        mask=mask,
        vertex_visibility=vertex_visibility,
        face_mask=face_mask,
        sh_lighting=sh_lighting,
    )
