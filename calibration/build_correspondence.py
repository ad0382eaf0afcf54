"""Derive the mediapipe -> ICT landmark correspondence by running mediapipe on ICT renders.

Method (run once; the result is the small table ``calibration/data/mediapipe_ict.npz``):

1. Render the ICT mesh (face, head and neck, eyeballs) with simple painted skin, lips, sclera
   and irises and Lambert shading, for several random identities, head poses and lights.
2. Run mediapipe's face mesh on every render; for each landmark look up the triangle under it
   (eye-contour and face landmarks on the skin only, iris landmarks on the eyeballs) and its
   exact barycentric coordinates.
3. Carry each hit back to the generic neutral mesh (same triangle, same barycentrics), take
   the median over the renders, average each landmark with its mirrored partner (the mesh is
   exactly symmetric), and re-attach it to the neutral surface (frontal projection).
4. The spread of the per-render positions says how well defined a landmark is; the fitting
   weight is ``1 / (1 + (spread / 0.25 cm)^2)``, halved on the face outline (it slides with
   the pose) — see :data:`OUTLINE_FACTOR`.

Usage: ``python -m calibration.build_correspondence [-o calibration/data/mediapipe_ict.npz]``.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from calibration.correspondence import (
    DEFAULT_TABLE,
    IRIS_LANDMARKS,
    LandmarkCorrespondence,
    face_oval_landmarks,
    save_correspondence,
)
from calibration.landmarks import NUM_LANDMARKS, LandmarkDetector, LandmarkDetectorConfig
from calibration.raster import Fragments, interpolate, rasterize
from engines.face_model.camera import euler_to_matrix
from engines.face_model.ict import FaceModelData, load_ict

__all__ = ["BuildConfig", "build_correspondence", "main", "paint_ict", "render_ict"]

logger = logging.getLogger(__name__)

SKIN_PARTS = ("face", "head_neck")
EYE_PARTS = ("eyeball_left", "eyeball_right")
MOUTH_PARTS = ("mouth_socket", "gums_tongue", "teeth")
# mediapipe's inner-lip contour: ambiguous on a closed mouth (both lips meet), so these take
# their surface points from the open-mouth renders only.
INNER_LIP_LANDMARKS: tuple[int, ...] = (
    78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95,
)  # fmt: skip
SPREAD_SCALE_CM = 0.25
OUTLINE_FACTOR = 0.5


@dataclass(frozen=True)
class BuildConfig:
    """How many renders and how varied.

    Attributes:
        size: render size in pixels (square).
        num_identities: random identities besides the generic neutral one.
        identity_sigma: std-dev of the random identity coefficients (first 30 modes).
        yaw_degrees: head yaws rendered for every identity.
        pitch_degrees: head pitches rendered for every identity.
        jaw_open: jawOpen values rendered for every identity and pose (an open mouth pins
            the inner-lip landmarks to the right lip).
        seed: random seed (identities, skin tones, lights).
        symmetrize: average each landmark with its mirrored partner (the mesh is symmetric,
            so any left/right difference is render noise or detector bias).
    """

    size: int = 768
    num_identities: int = 7
    identity_sigma: float = 0.8
    yaw_degrees: tuple[float, ...] = (-14.0, 0.0, 14.0)
    pitch_degrees: tuple[float, ...] = (-8.0, 0.0, 8.0)
    jaw_open: tuple[float, ...] = (0.0, 0.4)
    seed: int = 7
    symmetrize: bool = True


def paint_ict(model: FaceModelData) -> NDArray[np.float64]:
    """(V, 3) RGB vertex colours: skin, darker lips, sclera, iris and pupil."""
    from matplotlib.path import Path as PolygonPath

    neutral = model.neutral.astype(np.float64)
    colours = np.tile(np.array([205.0, 165.0, 140.0]), (neutral.shape[0], 1))
    lm = model.landmarks_68
    first, stop = model.vertex_ranges["face"]
    face_xy = neutral[first:stop, :2]
    front = neutral[first:stop, 2] > 5.0
    face_colours = colours[first:stop]
    lips = PolygonPath(neutral[lm[48:60], :2]).contains_points(face_xy) & front
    face_colours[lips] = (175.0, 95.0, 95.0)
    # Brows are deliberately not painted: a painted band puts mediapipe's brow landmarks on
    # the band, and real brows sit elsewhere on the brow ridge (measured on the astronaut
    # photo: painted brows gave a spurious browDown 0.35-0.42 and a worse left/right
    # consistency, 0.28 vs 0.16; unpainted, mediapipe places them from the face geometry).
    for part in EYE_PARTS:
        first_eye, stop_eye = model.vertex_ranges[part]
        eye = neutral[first_eye:stop_eye]
        centre = eye.mean(0)
        radial = np.linalg.norm(eye[:, :2] - centre[:2], axis=1)
        forward = eye[:, 2] > centre[2]
        eye_colours = np.tile(np.array([235.0, 232.0, 228.0]), (eye.shape[0], 1))
        eye_colours[forward & (radial < 0.6)] = (85.0, 60.0, 45.0)
        eye_colours[forward & (radial < 0.25)] = (15.0, 12.0, 10.0)
        colours[first_eye:stop_eye] = eye_colours
    for part, colour in (
        ("mouth_socket", (70.0, 25.0, 30.0)),
        ("gums_tongue", (165.0, 75.0, 85.0)),
        ("teeth", (235.0, 230.0, 215.0)),
    ):
        colours[slice(*model.vertex_ranges[part])] = colour
    return colours


def mirror_pairs(points: NDArray[np.float64]) -> NDArray[np.int64]:
    """(L,) index of each landmark's mirror image (x -> -x), or itself when not mutual.

    The ICT neutral mesh is exactly symmetric, so mediapipe's left/right landmark pairs land
    at mirrored positions; a pair is kept only when the nearest-neighbour match is mutual.
    """
    from scipy.spatial import cKDTree

    flipped = points * np.array([-1.0, 1.0, 1.0])
    _, nearest = cKDTree(points).query(flipped)
    mutual = nearest[nearest] == np.arange(len(points))
    return np.where(mutual, nearest, np.arange(len(points))).astype(np.int64)


def _symmetrize(
    points: NDArray[np.float64], spread: NDArray[np.float64], mirror: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Average every landmark with its mirrored partner (midline landmarks get x = 0)."""
    flip = np.array([-1.0, 1.0, 1.0])
    paired = points[mirror] * flip
    symmetric = (points + paired) / 2
    midline = mirror == np.arange(len(points))
    # A midline landmark is its own mirror: centre it only when it already is near x = 0.
    keep = midline & (np.abs(points[:, 0]) > 0.5)
    symmetric[keep] = points[keep]
    return symmetric, (spread + spread[mirror]) / 2


def _vertex_normals(vertices: NDArray[np.float64], faces: NDArray[np.int32]) -> NDArray[np.float64]:
    corners = vertices[faces]
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(normals, faces[:, k], face_normals)
    return normals / (np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12)


def render_ict(
    model: FaceModelData,
    vertices: NDArray[np.float64],
    rotation: NDArray[np.float64],
    colours: NDArray[np.float64],
    size: int,
    light: NDArray[np.float64],
) -> tuple[NDArray[np.uint8], NDArray[np.float64], NDArray[np.float64]]:
    """Shade the mesh into a square image.

    Returns:
        image: (size, size, 3) uint8 RGB.
        pixels: (V, 2) vertex pixel coordinates.
        depth: (V,) vertex depth (larger is closer).
    """
    rotated = vertices @ rotation.T
    scale = size / 30.0
    pixels = np.stack([scale * rotated[:, 0] + size / 2, -scale * rotated[:, 1] + size * 0.46], 1)
    depth = scale * rotated[:, 2]
    faces = model.faces_of(*SKIN_PARTS, *EYE_PARTS, *MOUTH_PARTS)
    fragments = rasterize(pixels, depth, faces, size, size, cull_backfaces=True)
    normals = interpolate(fragments, faces, _vertex_normals(vertices, model.faces) @ rotation.T)
    albedo = interpolate(fragments, faces, colours)
    shade = np.clip(normals @ light, 0.0, 1.0) * 0.75 + 0.3
    image = np.clip(albedo * shade[..., None], 0, 255).astype(np.uint8)
    image[fragments.triangle < 0] = (120, 140, 160)
    return image, pixels, depth


def _barycentric_2d(
    triangle_pixels: NDArray[np.float64], points: NDArray[np.float64]
) -> NDArray[np.float64]:
    """(N, 3) barycentrics of points (N, 2) in triangles (N, 3, 2), clipped into the triangle."""
    a, b, c = triangle_pixels[:, 0], triangle_pixels[:, 1], triangle_pixels[:, 2]
    v0, v1, v2 = b - a, c - a, points - a
    d00 = (v0 * v0).sum(1)
    d01 = (v0 * v1).sum(1)
    d11 = (v1 * v1).sum(1)
    d20 = (v2 * v0).sum(1)
    d21 = (v2 * v1).sum(1)
    denom = d00 * d11 - d01 * d01
    denom = np.where(np.abs(denom) < 1e-12, 1e-12, denom)
    w1 = (d11 * d20 - d01 * d21) / denom
    w2 = (d00 * d21 - d01 * d20) / denom
    bary = np.clip(np.stack([1.0 - w1 - w2, w1, w2], 1), 0.0, None)
    return bary / np.maximum(bary.sum(1, keepdims=True), 1e-12)


def _surface_hits(
    fragments: Fragments,
    faces: NDArray[np.int32],
    pixels: NDArray[np.float64],
    points: NDArray[np.float64],
) -> tuple[NDArray[np.int32], NDArray[np.float64]]:
    """Triangle (vertex ids (N, 3)) and barycentrics (N, 3) under image points (N, 2).

    Points that fall on an empty pixel use the nearest covered pixel's triangle.
    """
    height, width = fragments.triangle.shape
    empty = fragments.triangle < 0
    _, (nearest_rows, nearest_cols) = ndimage.distance_transform_edt(empty, return_indices=True)
    cols = np.clip(np.floor(points[:, 0]).astype(int), 0, width - 1)
    rows = np.clip(np.floor(points[:, 1]).astype(int), 0, height - 1)
    rows, cols = nearest_rows[rows, cols], nearest_cols[rows, cols]
    triangle_ids = fragments.triangle[rows, cols]
    vertex_ids = faces[triangle_ids]
    bary = _barycentric_2d(pixels[vertex_ids], points)
    return vertex_ids.astype(np.int32), bary


def build_correspondence(
    model: FaceModelData, config: BuildConfig | None = None
) -> LandmarkCorrespondence:
    """Run the renders and return the averaged table (see the module docstring)."""
    config = config or BuildConfig()
    rng = np.random.default_rng(config.seed)
    detector = LandmarkDetector(LandmarkDetectorConfig(max_faces=1))
    colours_base = paint_ict(model)
    neutral = model.neutral.astype(np.float64)
    skin_faces = model.faces_of(*SKIN_PARTS)
    eye_faces = model.faces_of(*EYE_PARTS)
    iris = np.array(IRIS_LANDMARKS)
    non_iris = np.setdiff1d(np.arange(NUM_LANDMARKS), iris)
    hits: list[NDArray[np.float64]] = []
    open_mouth: list[bool] = []
    jaw = model.expression_index("jawOpen")
    identities = [np.zeros(30)] + [
        rng.normal(0.0, config.identity_sigma, 30) for _ in range(config.num_identities)
    ]
    for identity_index, identity in enumerate(identities):
        vertices = neutral + np.tensordot(identity, model.identity_basis[:30], axes=1)
        tone = rng.uniform(0.75, 1.15)
        colours = colours_base * np.where(colours_base.sum(1, keepdims=True) > 600, 1.0, tone)
        for yaw, pitch, jaw_open in itertools.product(
            config.yaw_degrees, config.pitch_degrees, config.jaw_open
        ):
            posed = vertices + jaw_open * model.expression_basis[jaw]
            rotation = euler_to_matrix(math.radians(pitch), math.radians(yaw), 0.0)
            light = np.array([rng.uniform(-0.4, 0.4), rng.uniform(0.0, 0.5), 1.0])
            light /= np.linalg.norm(light)
            image, pixels, depth = render_ict(model, posed, rotation, colours, config.size, light)
            faces_found = detector.detect(image)
            if not faces_found:
                logger.warning(
                    "no face on render id=%d yaw=%g pitch=%g", identity_index, yaw, pitch
                )
                continue
            points = faces_found[0].points.astype(np.float64)
            position = np.zeros((NUM_LANDMARKS, 3))
            skin = rasterize(
                pixels, depth, skin_faces, config.size, config.size, cull_backfaces=True
            )
            ids, bary = _surface_hits(skin, skin_faces, pixels, points[non_iris])
            position[non_iris] = np.einsum("nk,nkc->nc", bary, neutral[ids])
            eyes = rasterize(
                pixels, depth, eye_faces, config.size, config.size, cull_backfaces=True
            )
            ids, bary = _surface_hits(eyes, eye_faces, pixels, points[iris])
            position[iris] = np.einsum("nk,nkc->nc", bary, neutral[ids])
            hits.append(position)
            open_mouth.append(jaw_open > 0)
    detector.close()
    if len(hits) < 3:
        raise RuntimeError(f"mediapipe found the rendered face only {len(hits)} times")
    stacked = np.stack(hits)  # (N, L, 3) on the neutral mesh
    mean = np.median(stacked, axis=0)
    spread = np.sqrt(((stacked - mean) ** 2).sum(-1).mean(0))
    opened = np.array(open_mouth)
    if opened.sum() >= 3:
        inner = np.array(INNER_LIP_LANDMARKS)
        inner_hits = stacked[opened][:, inner]
        mean[inner] = np.median(inner_hits, axis=0)
        spread[inner] = np.sqrt(((inner_hits - mean[inner]) ** 2).sum(-1).mean(0))
    mirror = mirror_pairs(mean)
    if config.symmetrize:
        mean, spread = _symmetrize(mean, spread, mirror)
    # Re-attach the averages to the neutral surface by a frontal projection.
    size = 2048
    scale = size / 30.0
    pixels = np.stack([scale * neutral[:, 0] + size / 2, -scale * neutral[:, 1] + size * 0.46], 1)
    depth = scale * neutral[:, 2]
    mean_pixels = np.stack([scale * mean[:, 0] + size / 2, -scale * mean[:, 1] + size * 0.46], 1)
    vertex_ids = np.zeros((NUM_LANDMARKS, 3), np.int32)
    barycentric = np.zeros((NUM_LANDMARKS, 3))
    for selection, faces in ((non_iris, skin_faces), (iris, eye_faces)):
        fragments = rasterize(pixels, depth, faces, size, size, cull_backfaces=True)
        ids, bary = _surface_hits(fragments, faces, pixels, mean_pixels[selection])
        vertex_ids[selection] = ids
        barycentric[selection] = bary
    weights = 1.0 / (1.0 + (spread / SPREAD_SCALE_CM) ** 2)
    weights[list(face_oval_landmarks())] *= OUTLINE_FACTOR
    meta = {
        "method": "mediapipe on shaded ICT renders, median over renders, frontal re-attach",
        "renders_used": len(hits),
        "renders_total": len(identities)
        * len(config.yaw_degrees)
        * len(config.pitch_degrees)
        * len(config.jaw_open),
        "config": {
            "size": config.size,
            "num_identities": config.num_identities,
            "identity_sigma": config.identity_sigma,
            "yaw_degrees": list(config.yaw_degrees),
            "pitch_degrees": list(config.pitch_degrees),
            "jaw_open": list(config.jaw_open),
            "seed": config.seed,
            "symmetrize": config.symmetrize,
        },
        "mirror_pairs": int((mirror != np.arange(NUM_LANDMARKS)).sum() // 2),
        "spread_scale_cm": SPREAD_SCALE_CM,
        "outline_factor": OUTLINE_FACTOR,
        "model_commit": model.commit,
        "command": "python -m calibration.build_correspondence",
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "spread_cm_median": float(np.median(spread)),
    }
    return LandmarkCorrespondence(
        vertex_ids=vertex_ids,
        barycentric=barycentric.astype(np.float32),
        weights=weights.astype(np.float32),
        spread_cm=spread.astype(np.float32),
        meta=meta,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", default=str(DEFAULT_TABLE))
    parser.add_argument("--size", type=int, default=BuildConfig.size)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    table = build_correspondence(load_ict(), BuildConfig(size=args.size))
    save_correspondence(table, args.output)
    logger.info(
        "wrote %s (%d renders, median spread %.3f cm) in %.1f s",
        args.output,
        table.meta["renders_used"],
        table.meta["spread_cm_median"],
        time.perf_counter() - started,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
