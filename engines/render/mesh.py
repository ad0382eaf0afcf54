"""Per-avatar precomputation: the rendered part of the ICT mesh, its sparse expression basis,
the square crop around the face and every vertex's place and look in the source photo.

Everything here is computed once per avatar; the per-frame work (``engines.render.renderer``)
only blends, rotates, projects and rasterizes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numba
import numpy as np
from numpy.typing import NDArray

from engines.avatar import Avatar
from engines.face_model.camera import euler_to_matrix
from engines.face_model.ict import FaceModelData
from engines.render.brows import BROW_RAISE_SHAPES, LANDMARKS_NEEDED, rigid_brow_raises
from engines.render.config import RenderConfig
from engines.render.exceptions import AvatarMismatchError
from engines.render.laplacian import harmonic_fill

__all__ = [
    "LABEL_EYE",
    "LABEL_GUMS",
    "LABEL_HEAD",
    "LABEL_SKIN",
    "LABEL_SOCKET",
    "LABEL_TEETH",
    "RENDERED_PARTS",
    "CropFrame",
    "RenderMesh",
    "build_render_mesh",
    "crop_person_matte",
    "crop_source",
    "sh_shade",
    "to_crop",
    "vertex_normals",
]

logger = logging.getLogger(__name__)

# Triangle labels (what the shader does with a pixel).
LABEL_SKIN = 0  # ICT "face": photo where seen, UV texture where not, SH ratio re-shading
LABEL_HEAD = 1  # "head_neck": photo, SH ratio re-shading
LABEL_SOCKET = 2  # mouth socket: dark, darker towards the back
LABEL_GUMS = 3  # gums and tongue
LABEL_TEETH = 4  # the photo's teeth where seen, synthetic off-white with depth shadow elsewhere
LABEL_EYE = 5  # sclera and iris: photo where seen, the eye's own mean colour elsewhere

# (part, label, cull back faces)
RENDERED_PARTS: tuple[tuple[str, int, bool], ...] = (
    ("face", LABEL_SKIN, True),
    ("head_neck", LABEL_HEAD, True),
    ("mouth_socket", LABEL_SOCKET, False),
    # Gums, tongue and teeth are closed, consistently oriented surfaces: their back faces are
    # hidden by their front faces (culling them changed at most 16 of 262k pixels over jaw
    # 0-1, pitch +-11 and yaw +-17 degrees, and saves a tenth of the raster time).
    ("gums_tongue", LABEL_GUMS, True),
    ("teeth", LABEL_TEETH, True),
    ("eyeball_left", LABEL_EYE, True),
    ("eyeball_right", LABEL_EYE, True),
)
_SKIN_VERTEX_PARTS = ("face", "head_neck")

# Synthetic colours (sRGB 0-255) of the mouth interior at the front of the mouth
# (``RenderConfig.mouth_cavity`` False: the previous fixed palette).
_SOCKET_RGB = (70.0, 26.0, 30.0)
_GUMS_RGB = (165.0, 78.0, 84.0)
_TEETH_RGB = (228.0, 222.0, 208.0)

# ``mouth_cavity``: the interior as it looks in a typical colour photo (sRGB at the front of
# the mouth); each photo's own statistics scale the chroma and brightness (``_MouthPalette``).
_CAVITY_RGB = (50.0, 20.0, 22.0)  # socket walls, palate, throat
_TONGUE_RGB = (140.0, 62.0, 66.0)
_GUMS_FRONT_RGB = (168.0, 86.0, 90.0)  # the labial gums above / below the front teeth
_GUMS_BACK_RGB = (58.0, 24.0, 26.0)  # gums behind the teeth (seen between them): shadowed
_TEETH_DESIGN_RGB = (226.0, 218.0, 200.0)
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_REF_SKIN_CHROMA = 0.25  # |rgb / luma - 1| of a typical skin tone in a colour photo
_REF_LIP_CHROMA = 0.35
_REF_LIP_LUMA = 130.0
_TEETH_CHROMA_MAX = 0.12  # teeth stay near-neutral (never pink, mauve or strongly yellow)
# Light on the teeth and tongue (model space, from the front and a little above): each tooth
# is lit by its own normal, so the row reads as separate teeth, not a pale band.
_MOUTH_LIGHT = np.array([0.0, 0.35, 1.0], np.float32) / np.float32(np.hypot(0.35, 1.0))
_LOWER_TEETH_SHADE = 0.8  # the lower row sits in the upper lip's and teeth's shadow
_GUM_NEAR_TEETH_CM = 0.4  # a gums_tongue vertex nearer a tooth than this is gum
_PAPILLA_HEIGHT = 0.75  # labial gum below this share of the crowns' height is a papilla
_PAPILLA_SHADE = 0.7  # a papilla takes the teeth's colour at this brightness
# The upper teeth's light by their place on the dental arch (degrees from the front, seen
# from the arch's back): incisors and canines within the first value in full light, fading to
# the molars' shadow at the second.
_ARCH_SHADOW_DEGREES = (25.0, 80.0)
# How much of the per-frame cavity shading the teeth and papillae take: the upper row sits
# at the lips in the light (a grin's teeth are the brightest part of the mouth), the lower
# row behind the lower lip and under the upper teeth.
_UPPER_TEETH_CAVITY_STRENGTH = 0.1
_LOWER_TEETH_CAVITY_STRENGTH = 0.35
_BEHIND_TEETH_CAVITY_STRENGTH = 0.6  # the gums just behind the crowns
_BEHIND_TEETH_SHADE = 0.6


@dataclass(frozen=True)
class CropFrame:
    """The square crop of the source frame the renderer draws into.

    Crop continuous coordinates ``U = (u_source - origin_u) * zoom`` (same for rows).
    """

    origin_u: float
    origin_w: float
    side: float
    zoom: float
    size: int


@dataclass(frozen=True)
class RenderMesh:
    """Arrays of the rendered mesh part (``Vr`` vertices, ``F`` triangles).

    Attributes:
        base: (Vr, 3) float32 neutral + identity, model space (cm).
        basis_indptr: (54,) int64 CSR row pointers of the sparse expression basis.
        basis_index: (nnz,) int32 flat indices into ``base.reshape(-1)``.
        basis_value: (nnz,) float32 deltas.
        faces: (F, 3) int32 triangles.
        labels: (F,) int8 triangle labels (``LABEL_*``).
        cull: (F,) bool, back-face culled triangles.
        skin_faces: (Fs, 3) int32 triangles of the skin (for vertex normals).
        num_skin_vertices: skin vertices are ``[0, num_skin_vertices)``.
        triangle_uv: (F, 3, 2) float32 texture coordinates of skin triangles (zeros elsewhere).
        source_position: (Vr, 2) float32 where each vertex is in the crop image, index
            coordinates (pixel centre at integers) of the output resolution.
        photo_weight: (Vr,) float32 1 = take the colour from the photo, 0 = synthetic/texture.
        colour: (Vr, 3) float32 synthetic colour (mouth interior, unseen eye).
        source_shade: (Vs, 3) float32 SH shading of the skin vertices in the source.
        source_facing: (Vs,) float32 how far each skin vertex faces the camera in the source
            (its normal's cosine to the view direction; 1 = straight at it, < 0 away).
        source_rotation: (3,) float64 fitted Euler angles.
        crop: the crop frame.
        depth_bias: (Vr,) float32 cm subtracted from a vertex's depth in the z-test, so that
            the mouth interior and the eyeballs never poke through lips and lids.
        head_weight: (Vr,) float32 how much of the head-pose offset a vertex follows (1 for
            the head, fading to 0 towards the base of the neck, which stays with the body).
        group: (F,) int8 0 = always rasterized, g > 0 = seen only through opening g - 1.
        opening_index: (N,) int32 vertices of the skin's openings (mouth, eyes), grouped by
            ``opening_indptr`` (G,) int64 (CSR; opening g - 1 is the box of group g).
        cavity_strength: (F,) float32 how strongly a triangle's synthetic pixels take the
            per-frame cavity shading (``shader._shade_cavity``): 1 socket, tongue and the gums
            behind the teeth, 0.1 / 0.35 the upper / lower teeth and papillae (they sit at
            the lips, lit from the front), 0 elsewhere and with ``mouth_cavity`` off.
        interior_surface: (F,) int8 which surface of the mouth's interior a triangle is
            part of, for taking the photo where it showed that surface (``teeth.py``): 1 the
            upper teeth and the papillae between them, 2 the lower ones (with the jaw), 3 the
            rest of the interior that stays with the skull, 4 the rest that moves with the
            jaw (tongue); 0 for the skin and eyes (all 0 with ``mouth_cavity`` off).
        warp_exact: (Vr,) float32 how much a vertex's pixels keep the mesh's own warp (1: the
            face proper, the mouth and the eyes) rather than the smooth warp field spread
            around the face (0: skull, ears, neck: hair and skin there follow the field, so
            the mesh's outline leaves no seam in the hair); a soft ramp in between.
    """

    base: NDArray[np.float32]
    basis_indptr: NDArray[np.int64]
    basis_index: NDArray[np.int32]
    basis_value: NDArray[np.float32]
    faces: NDArray[np.int32]
    labels: NDArray[np.int8]
    cull: NDArray[np.bool_]
    skin_faces: NDArray[np.int32]
    num_skin_vertices: int
    triangle_uv: NDArray[np.float32]
    source_position: NDArray[np.float32]
    photo_weight: NDArray[np.float32]
    colour: NDArray[np.float32]
    source_shade: NDArray[np.float32]
    source_facing: NDArray[np.float32]
    sh_lighting: NDArray[np.float32]
    source_rotation: NDArray[np.float64]
    crop: CropFrame
    head_weight: NDArray[np.float32]
    depth_bias: NDArray[np.float32]
    group: NDArray[np.int8]
    opening_index: NDArray[np.int32]
    opening_indptr: NDArray[np.int64]
    warp_exact: NDArray[np.float32]
    cavity_strength: NDArray[np.float32]
    interior_surface: NDArray[np.int8]


def sh_shade(normals: NDArray[np.float32], lighting: NDArray[np.float32]) -> NDArray[np.float32]:
    """(N, 3) second-order SH shading of unit camera-space normals (N, 3) under (9, 3) lighting
    (the basis of ``calibration.lighting``: 1, y, z, x, xy, yz, 3z²-1, xz, x²-y²)."""
    x, y, z = normals[:, 0], normals[:, 1], normals[:, 2]
    basis = np.stack(
        [np.ones_like(x), y, z, x, x * y, y * z, 3.0 * z * z - 1.0, x * z, x * x - y * y], 1
    )
    return (basis @ lighting).astype(np.float32)


@numba.njit(cache=True, nogil=True, fastmath=True)
def _normals_kernel(
    vertices: NDArray[np.float32], faces: NDArray[np.int32], out: NDArray[np.float32]
) -> None:
    out[:] = 0.0
    for f in range(faces.shape[0]):
        i0, i1, i2 = faces[f, 0], faces[f, 1], faces[f, 2]
        ax = vertices[i1, 0] - vertices[i0, 0]
        ay = vertices[i1, 1] - vertices[i0, 1]
        az = vertices[i1, 2] - vertices[i0, 2]
        bx = vertices[i2, 0] - vertices[i0, 0]
        by = vertices[i2, 1] - vertices[i0, 1]
        bz = vertices[i2, 2] - vertices[i0, 2]
        nx = ay * bz - az * by
        ny = az * bx - ax * bz
        nz = ax * by - ay * bx
        for i in (i0, i1, i2):
            out[i, 0] += nx
            out[i, 1] += ny
            out[i, 2] += nz
    for i in range(out.shape[0]):
        norm = np.sqrt(out[i, 0] ** 2 + out[i, 1] ** 2 + out[i, 2] ** 2)
        if norm > 0.0:
            out[i, 0] /= norm
            out[i, 1] /= norm
            out[i, 2] /= norm
        else:
            out[i, 2] = 1.0


def vertex_normals(
    vertices: NDArray[np.float32], faces: NDArray[np.int32], out: NDArray[np.float32]
) -> NDArray[np.float32]:
    """Area-weighted unit vertex normals of the first ``len(out)`` vertices, into ``out``.

    Args:
        vertices: (V, 3) float32.
        faces: (F, 3) int32, indices < len(out).
        out: (Vs, 3) float32 buffer.
    """
    _normals_kernel(vertices, faces, out)
    return out


def _face_box(avatar: Avatar) -> tuple[float, float, float]:
    points = avatar.extra.get("fitted_landmarks", avatar.landmarks)
    points = np.asarray(points, np.float64).reshape(-1, 2)
    points = points[np.isfinite(points).all(1)]
    if len(points) < 3:
        raise AvatarMismatchError("the avatar has no usable landmarks to place the face crop")
    low, high = points.min(0), points.max(0)
    centre = (low + high) / 2.0
    extent = float(max(high - low))
    if extent <= 1.0:
        raise AvatarMismatchError("the avatar's landmarks span less than a pixel")
    return float(centre[0]), float(centre[1]), extent


def to_crop(points: NDArray[np.floating], frame: CropFrame) -> NDArray[np.float32]:
    """(N, 2) source-frame pixel coordinates (landmarks) in the crop's index coordinates."""
    points = np.asarray(points, np.float64)
    return np.stack(
        [
            (points[:, 0] - frame.origin_u) * frame.zoom - 0.5,
            (points[:, 1] - frame.origin_w) * frame.zoom - 0.5,
        ],
        1,
    ).astype(np.float32)


def _crop_matrix(frame: CropFrame) -> NDArray[np.float64]:
    """(2, 3) affine map from crop index coordinates to source index coordinates."""
    # crop index j (centre j + 0.5) <- source continuous (j + 0.5) / zoom + origin, index - 0.5
    inv = 1.0 / frame.zoom
    return np.array(
        [
            [inv, 0.0, 0.5 * inv + frame.origin_u - 0.5],
            [0.0, inv, 0.5 * inv + frame.origin_w - 0.5],
        ]
    )


def _crop_plane(plane: NDArray[np.uint8], frame: CropFrame) -> NDArray[np.uint8]:
    """An (H, W[, C]) uint8 source-frame plane cut and scaled like the crop (replicated
    borders), anti-aliased first when shrinking."""
    if frame.zoom < 1.0:
        plane = np.asarray(cv2.GaussianBlur(plane, (0, 0), 0.45 / frame.zoom), np.uint8)
    crop = cv2.warpAffine(
        plane,
        _crop_matrix(frame),
        (frame.size, frame.size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return np.asarray(crop, np.uint8)


def crop_source(avatar: Avatar, config: RenderConfig) -> tuple[CropFrame, NDArray[np.uint8]]:
    """The square crop around the fitted face, scaled to ``config.size`` (pads by replication).

    Returns:
        The crop frame and the (size, size, 3) uint8 RGB crop image.
    """
    cu, cw, extent = _face_box(avatar)
    side = extent * config.crop_scale
    zoom = config.size / side
    frame = CropFrame(cu - side / 2.0, cw - side / 2.0, side, zoom, config.size)
    image = np.ascontiguousarray(avatar.source_image[..., :3], np.uint8)
    return frame, _crop_plane(image, frame)


def crop_person_matte(avatar: Avatar, frame: CropFrame) -> NDArray[np.uint8] | None:
    """(size, size) uint8 crop of the avatar's ``extra["person_matte"]`` (the person against
    the background, from calibration), or None when the avatar has none (older files) or
    it does not match the source frame."""
    matte = avatar.extra.get("person_matte")
    if matte is None:
        return None
    plane = np.asarray(matte)
    if plane.dtype != np.uint8 or plane.shape != avatar.source_image.shape[:2]:
        logger.warning("person_matte of shape %s does not match the source; ignored", plane.shape)
        return None
    return _crop_plane(np.ascontiguousarray(plane), frame)


def _smoothstep(x: NDArray[np.float32], low: float, high: float) -> NDArray[np.float32]:
    t = np.clip((x - low) / max(high - low, 1e-6), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def _sparse_basis(
    basis: NDArray[np.float32],
) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.float32]]:
    """(E, Vr, 3) dense -> CSR over flat coordinates (zero deltas dropped)."""
    flat = basis.reshape(basis.shape[0], -1)
    indptr = np.zeros(flat.shape[0] + 1, np.int64)
    indices, values = [], []
    for e in range(flat.shape[0]):
        nz = np.flatnonzero(np.abs(flat[e]) > 1e-6).astype(np.int32)
        indices.append(nz)
        values.append(flat[e, nz].astype(np.float32))
        indptr[e + 1] = indptr[e] + len(nz)
    return indptr, np.concatenate(indices), np.concatenate(values)


def _boundary_loops(faces: NDArray[np.int32]) -> list[NDArray[np.int32]]:
    """Vertex sets of the boundary loops (edges used by one triangle) of a mesh."""
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), 1)
    unique, counts = np.unique(edges, axis=0, return_counts=True)
    boundary = unique[counts == 1]
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in boundary:
        parent[find(int(a))] = find(int(b))
    loops: dict[int, list[int]] = {}
    for v in parent:
        loops.setdefault(find(v), []).append(v)
    return [np.array(sorted(v), np.int32) for v in loops.values()]


# Parts seen only through an opening of the skin: (part, opening) with the opening named by
# the part whose centroid its loop is nearest to.
_OPENING_PARTS: tuple[tuple[str, ...], ...] = (
    ("mouth_socket", "gums_tongue", "teeth"),
    ("eyeball_left",),
    ("eyeball_right",),
)


def _openings(
    model: FaceModelData, faces: NDArray[np.int32], part_of_face: list[str]
) -> tuple[NDArray[np.int8], NDArray[np.int32], NDArray[np.int64]]:
    skin = model.faces_of(*_SKIN_VERTEX_PARTS)
    loops = _boundary_loops(skin)
    centres = np.array([model.neutral[loop].mean(0) for loop in loops])
    group = np.zeros(len(faces), np.int8)
    chosen: list[NDArray[np.int32]] = []
    names = np.array(part_of_face)
    for parts in _OPENING_PARTS:
        vertices = np.concatenate([np.arange(*model.vertex_ranges[p]) for p in parts])
        centre = model.neutral[vertices].mean(0)
        # The opening in front of the part: the nearest loop in x/y that lies in front of it.
        distance = np.linalg.norm(centres[:, :2] - centre[:2], axis=1)
        distance[centres[:, 2] < centre[2]] = np.inf
        nearest = int(np.argmin(distance))
        if not np.isfinite(distance[nearest]):
            continue
        chosen.append(loops[nearest])
        group[np.isin(names, parts)] = len(chosen)
    indptr = np.zeros(len(chosen) + 1, np.int64)
    indptr[1:] = np.cumsum([len(c) for c in chosen])
    index = np.concatenate(chosen) if chosen else np.zeros(0, np.int32)
    return group, index.astype(np.int32), indptr


def _fill_unseen_positions(
    positions: NDArray[np.float32],
    faces: NDArray[np.int32],
    visibility: NDArray[np.float32],
    num_skin: int,
    seen_above: float = 0.05,
) -> None:
    """Replace the positions (V, 2) of unseen skin vertices (< ``num_skin``) in place by the
    harmonic interpolation (graph Laplacian over ``faces``) of the seen ones."""
    harmonic_fill(positions[:num_skin], visibility[:num_skin] < seen_above, faces)


# A vertex the photo saw at least this well is one whose pixels are its own (brows).
_SEEN_FRONT = 0.5


def _rigid_brows(
    model: FaceModelData,
    avatar: Avatar,
    crop: CropFrame,
    base: NDArray[np.float32],
    basis: NDArray[np.float32],
    source_position: NDArray[np.float32],
    visibility: NDArray[np.float32],
    num_skin: int,
    skin_faces: NDArray[np.int32],
) -> None:
    """The brow raises move the photo's brow hair as one piece (``brows.rigid_brow_raises``),
    in place on ``basis`` (E, Vr, 3) and ``base`` (Vr, 3)."""
    landmarks = np.asarray(avatar.landmarks, np.float64)
    if landmarks.ndim != 2 or landmarks.shape[0] < LANDMARKS_NEEDED:
        return
    in_crop = to_crop(landmarks, crop)
    shapes = [model.expression_index(n) for n in BROW_RAISE_SHAPES if n in model.expression_names]
    f0, f1 = model.vertex_ranges["face"]
    face = np.arange(f0, min(f1, num_skin))
    candidates = face[visibility[face] >= _SEEN_FRONT]
    px_per_mm = float(avatar.camera.scale) * crop.zoom / 10.0
    before = basis[shapes].copy()
    moved, lid = rigid_brow_raises(
        basis, shapes, source_position, candidates, face, skin_faces, in_crop, crop.size,
        px_per_mm,
    )  # fmt: skip
    # At the photo's own expression the mesh stays the fitted one (its re-render, and the
    # visibility calibration measured, are unchanged): the base takes back what the photo's
    # own brow raise now moves differently.
    own = avatar.expression.astype(np.float32)[shapes]
    base -= np.tensordot(own, basis[shapes] - before, 1)
    logger.debug("rigid brows: %d vertices take the brow's move, %d lid vertices its stretch",
                 moved, lid)  # fmt: skip


# Neutral-mesh heights (cm) between which the neck turns from the body's pose to the head's
# (the chin is at y = -7.6).
_NECK_BASE_Y = -16.0
_NECK_TOP_Y = -8.5


def _head_weight(model: FaceModelData, num_vertices: int, num_skin: int) -> NDArray[np.float32]:
    weight = np.ones(num_vertices, np.float32)
    y = model.neutral[:num_skin, 1]
    weight[:num_skin] = _smoothstep(y, _NECK_BASE_Y, _NECK_TOP_Y)
    return weight


# The face proper (ICT's "narrow_face": brow to under the chin, cheek to cheek) keeps the mesh's
# own warp; the rest of the face part (temples, ears, upper forehead under the hair, the neck's
# front) fades to the smooth warp field over this distance (cm) from it, and head_neck (skull,
# neck) takes the field.
_EXACT_FADE_CM = (0.3, 2.5)


def _warp_exact(model: FaceModelData, num_vertices: int) -> NDArray[np.float32]:
    from scipy.spatial import cKDTree

    exact = np.ones(num_vertices, np.float32)
    face = model.vertex_ranges["face"]
    head = model.vertex_ranges["head_neck"]
    exact[head[0] : head[1]] = 0.0
    narrow = model.vertex_ranges.get("narrow_face")
    if narrow is None:  # no inner-face region in this model: keep the whole face exact
        return exact
    inner = model.neutral[narrow[0] : narrow[1]]
    outer = np.setdiff1d(np.arange(*face), np.arange(*narrow))
    distance, _ = cKDTree(inner).query(model.neutral[outer])
    exact[outer] = 1.0 - _smoothstep(distance.astype(np.float32), *_EXACT_FADE_CM)
    return exact


# Depth-test bias (cm) per label: the interior loses against skin closer than this.
_DEPTH_BIAS = {LABEL_SOCKET: 1.0, LABEL_GUMS: 0.8, LABEL_TEETH: 0.6, LABEL_EYE: 0.3}


def _depth_bias(model: FaceModelData, num_vertices: int) -> NDArray[np.float32]:
    bias = np.zeros(num_vertices, np.float32)
    for name, label, _ in RENDERED_PARTS:
        start, stop = model.vertex_ranges[name]
        bias[start:stop] = _DEPTH_BIAS.get(label, 0.0)
    return bias


# ICT's teeth sit behind the lips: from a closed-lip neutral its jawOpen opens the lips over
# the gap between the rows (tongue), so no tooth shows (the inner lip, within the teeth's depth
# bias, covers the incisors' edges). Per identity, measured at jawOpen 0.5 in the middle of
# the mouth (|x| < 0.3 cm): the upper row (with its gums) moves down by
# ``_UPPER_SHOW_CM + (incisor edge - upper lip's edge)`` and the lower row (with the lower
# gums and tongue) rises against the jaw by ``_LOWER_RISE_CM + 2 (lower lip's edge - incisor
# edge - _LOWER_SLACK_CM)`` per unit jawOpen (the lower lip drops faster than ICT's lower
# teeth), both clamped to ``[0, max]``; tuned on the astronaut (0.45 cm and 0.6 cm).
_UPPER_SHOW_CM = 0.55
_UPPER_DROP_MAX_CM = 0.9
_LOWER_RISE_CM = 0.6
_LOWER_SLACK_CM = 0.04
_LOWER_RISE_MAX_CM = 1.0
_JAW_MOVES_CM = 0.1  # a vertex jawOpen moves further than this (at weight 1) is on the jaw
_MIDDLE_CM = 0.3  # |x| of the mouth's middle, where the edges are measured


def _teeth_offsets(
    model: FaceModelData, base: NDArray[np.float32], jaw_delta: NDArray[np.float32]
) -> tuple[float, float]:
    """(upper row drop in cm, lower row rise in cm per unit jawOpen) for this identity's
    ``base`` (Vr, 3), ``jaw_delta`` (Vr, 3) = jawOpen's basis."""
    t0, t1 = model.vertex_ranges["teeth"]
    f0, f1 = model.vertex_ranges["face"]
    on_jaw = np.linalg.norm(jaw_delta[t0:t1], axis=1) > _JAW_MOVES_CM
    opened = base + 0.5 * jaw_delta
    teeth = opened[t0:t1]
    upper = teeth[~on_jaw & (np.abs(teeth[:, 0]) < _MIDDLE_CM + 0.1)]
    lower = teeth[on_jaw & (np.abs(teeth[:, 0]) < _MIDDLE_CM + 0.1)]
    face = opened[f0:f1]
    face = face[np.abs(face[:, 0]) < _MIDDLE_CM]
    if len(upper) == 0 or len(lower) == 0:
        return _UPPER_SHOW_CM - 0.1, _LOWER_RISE_CM
    upper_edge = float(upper[:, 1].min())
    lower_edge = float(lower[:, 1].max())
    middle = 0.5 * (upper_edge + lower_edge)
    # The lips' edges: the skin in front of each row, above / below the middle of the gap.
    upper_lip = face[(face[:, 2] > upper[:, 2].max()) & (face[:, 1] > middle), 1]
    lower_lip = face[(face[:, 2] > lower[:, 2].max()) & (face[:, 1] < middle), 1]
    drop = _UPPER_SHOW_CM - 0.1
    rise = _LOWER_RISE_CM
    if upper_lip.size:
        drop = _UPPER_SHOW_CM + upper_edge - float(upper_lip.min())
    if lower_lip.size:
        rise = _LOWER_RISE_CM + 2.0 * (float(lower_lip.max()) - lower_edge - _LOWER_SLACK_CM)
    return (
        float(np.clip(drop, 0.0, _UPPER_DROP_MAX_CM)),
        float(np.clip(rise, 0.0, _LOWER_RISE_MAX_CM)),
    )


def _bring_teeth_forward(
    model: FaceModelData, base: NDArray[np.float32], basis: NDArray[np.float32]
) -> None:
    """Move ICT's teeth rows (and gums, tongue) towards the mouth opening, in place:
    ``base`` (Vr, 3) and ``basis`` (53, Vr, 3)."""
    if "jawOpen" not in model.expression_names:
        return
    jaw = model.expression_names.index("jawOpen")
    drop, rise = _teeth_offsets(model, base, basis[jaw])
    logger.debug("teeth: upper row down %.2f cm, lower row up %.2f cm per jawOpen", drop, rise)
    vertices = np.concatenate(
        [np.arange(*model.vertex_ranges[p]) for p in ("gums_tongue", "teeth")]
    )
    on_jaw = np.linalg.norm(basis[jaw, vertices], axis=1) > _JAW_MOVES_CM
    base[vertices[~on_jaw], 1] -= drop
    basis[jaw, vertices[on_jaw], 1] += rise


def _texture_trust(avatar: Avatar, model: FaceModelData, part: str) -> NDArray[np.float32]:
    """(Vp,) 0-1 per vertex of ``part``: how much real colour its UV texel holds
    (``texture_mask``: 255·visibility seen, 96 mirrored, 0 filled)."""
    start, stop = model.vertex_ranges[part]
    f0, f1 = model.face_ranges[part]
    vertex_uv = np.zeros((stop - start, 2), np.float32)
    vertex_uv[model.faces[f0:f1].reshape(-1) - start] = model.uvs[model.face_uvs[f0:f1].reshape(-1)]
    mask = np.asarray(avatar.texture_mask, np.float32)
    if mask.ndim != 2 or mask.size == 0:
        return np.zeros(stop - start, np.float32)
    size = mask.shape[0]
    mask = np.asarray(cv2.GaussianBlur(mask, (0, 0), max(size / 256.0, 0.5)), np.float32)
    cols = np.clip((vertex_uv[:, 0] * size).astype(int), 0, mask.shape[1] - 1)
    rows = np.clip(((1.0 - vertex_uv[:, 1]) * size).astype(int), 0, size - 1)
    return _smoothstep(mask[rows, cols] / 255.0, 0.15, 0.35)


def _mean_colour(
    crop: NDArray[np.uint8],
    positions: NDArray[np.float32],
    weight: NDArray[np.float32],
    percentile: float = 50.0,
) -> NDArray[np.float32] | None:
    """(3,) per-channel percentile (default the median) of the crop's colour at the
    positions (N, 2) whose weight (N,) is above 0.8; None if fewer than 12."""
    keep = weight > 0.8
    if keep.sum() < 12:
        return None
    cols = np.clip(np.rint(positions[keep, 0]), 0, crop.shape[1] - 1).astype(int)
    rows = np.clip(np.rint(positions[keep, 1]), 0, crop.shape[0] - 1).astype(int)
    return np.percentile(crop[rows, cols].astype(np.float32), percentile, axis=0).astype(np.float32)


def _luma(rgb: NDArray[np.float32]) -> float:
    return float(np.asarray(rgb, np.float32) @ _LUMA)


def _chroma(rgb: NDArray[np.float32]) -> NDArray[np.float32]:
    """(3,) ``rgb / luma - 1``: the colour's departure from grey, brightness-free."""
    rgb = np.asarray(rgb, np.float32)
    return (rgb / max(_luma(rgb), 1.0) - 1.0).astype(np.float32)


@dataclass(frozen=True)
class _MouthPalette:
    """The synthetic mouth's colours in this photo's own colour statistics (sRGB, (3,) each).

    ``colourfulness`` (0 grey photo .. 1 a typical colour photo) scales every designed
    chroma, the brightness of the photo's lips scales the cavity, tongue and gums, and the
    teeth take the person's own teeth colour where the photo showed them, kept
    near-neutral.
    """

    colourfulness: float
    cavity: NDArray[np.float32]
    tongue: NDArray[np.float32]
    gums_front: NDArray[np.float32]
    gums_back: NDArray[np.float32]
    teeth: NDArray[np.float32]


def _in_photo_statistics(
    design: tuple[float, float, float], colourfulness: float, luma_scale: float
) -> NDArray[np.float32]:
    rgb = np.array(design, np.float32)
    luma = _luma(rgb) * luma_scale
    return np.clip(luma * (1.0 + colourfulness * _chroma(rgb)), 0.0, 255.0).astype(np.float32)


def _mouth_palette(
    skin: NDArray[np.float32] | None,
    lips: NDArray[np.float32] | None,
    teeth: NDArray[np.float32] | None,
) -> _MouthPalette:
    """Palette from the photo's median skin and lip colours and the upper quartile of its
    own teeth ((3,) each, None where the photo did not show them). The sclera is no guide
    for unseen teeth: its median mixes in iris, lids and lashes (34-107 levels on three
    portraits), so the design's brightness stands in."""
    chroma = 0.0
    if skin is not None:
        chroma = max(chroma, float(np.linalg.norm(_chroma(skin))) / _REF_SKIN_CHROMA)
    if lips is not None:
        chroma = max(chroma, float(np.linalg.norm(_chroma(lips))) / _REF_LIP_CHROMA)
    if skin is None and lips is None:
        chroma = 1.0
    colourfulness = float(np.clip(chroma, 0.0, 1.0))
    luma_scale = 1.0
    if lips is not None:
        luma_scale = float(np.clip(_luma(lips) / _REF_LIP_LUMA, 0.6, 1.1))
    design_teeth = np.array(_TEETH_DESIGN_RGB, np.float32)
    teeth_luma = _luma(design_teeth)
    teeth_chroma = colourfulness * _chroma(design_teeth)
    if teeth is not None:  # the person's own teeth: their brightness and most of their tint
        teeth_luma = float(np.clip(_luma(teeth) * 1.05, 150.0, 230.0))
        teeth_chroma = 0.6 * _chroma(teeth) + 0.4 * teeth_chroma
    norm = float(np.linalg.norm(teeth_chroma))
    if norm > _TEETH_CHROMA_MAX:
        teeth_chroma = teeth_chroma * (_TEETH_CHROMA_MAX / norm)
    return _MouthPalette(
        colourfulness=colourfulness,
        cavity=_in_photo_statistics(_CAVITY_RGB, colourfulness, luma_scale),
        tongue=_in_photo_statistics(_TONGUE_RGB, colourfulness, luma_scale),
        gums_front=_in_photo_statistics(_GUMS_FRONT_RGB, colourfulness, luma_scale),
        gums_back=_in_photo_statistics(_GUMS_BACK_RGB, colourfulness, luma_scale),
        teeth=np.clip(teeth_luma * (1.0 + teeth_chroma), 0.0, 255.0).astype(np.float32),
    )


def _part_normals(
    model: FaceModelData, vertices: NDArray[np.float32], part: str
) -> NDArray[np.float32]:
    """(Vp, 3) unit vertex normals of ``part`` from its own triangles (``vertices`` (V, 3))."""
    start, stop = model.vertex_ranges[part]
    f0, f1 = model.face_ranges[part]
    local = np.ascontiguousarray(model.faces[f0:f1] - start, np.int32)
    out = np.zeros((stop - start, 3), np.float32)
    return vertex_normals(np.ascontiguousarray(vertices[start:stop], np.float32), local, out)


def _gum_classes(
    model: FaceModelData, base: NDArray[np.float32], jaw_delta: NDArray[np.float32]
) -> tuple[NDArray[np.bool_], NDArray[np.float32], NDArray[np.bool_], NDArray[np.bool_]]:
    """(labial gums, height, tongue, lingual gums) over the gums_tongue vertices (Vg,) each:
    ``height``
    is a labial gum vertex's height above its row's biting edge as a share of the crowns'
    height (0 at the edge, 1 at the crowns' far end; inf for the other vertices).

    Gum = nearer a tooth than ``_GUM_NEAR_TEETH_CM`` (or, upper row, anywhere outside the
    arch); labial = outside the middle of its
    row's dental arch (radius from the arch's centre, per 4-degree bin of the arch angle);
    below ``_PAPILLA_HEIGHT`` a labial gum vertex is a papilla, reaching down between two
    crowns, so that what shows between the teeth is drawn in their shadow; tongue = the rest
    of the part on the jaw.
    """
    from scipy.spatial import cKDTree

    g0, g1 = model.vertex_ranges["gums_tongue"]
    t0, t1 = model.vertex_ranges["teeth"]
    gums, teeth = base[g0:g1], base[t0:t1]
    gums_on_jaw = np.linalg.norm(jaw_delta[g0:g1], axis=1) > _JAW_MOVES_CM
    teeth_on_jaw = np.linalg.norm(jaw_delta[t0:t1], axis=1) > _JAW_MOVES_CM
    near, _ = cKDTree(teeth).query(gums)
    is_gum = near < _GUM_NEAR_TEETH_CM
    centre_z = float(teeth[:, 2].min())
    labial = np.zeros(len(gums), bool)
    gum_height = np.full(len(gums), np.inf, np.float32)
    bins = np.deg2rad(np.arange(0.0, 184.0, 4.0))
    for row in (False, True):
        row_teeth = teeth[teeth_on_jaw == row]
        # The upper row's whole part outside the arch is gum (the vestibule high above the
        # crowns shows when the upper lip rises); on the jaw, far from the teeth is tongue.
        row_gums = np.flatnonzero((is_gum | (not row)) & (gums_on_jaw == row))
        if len(row_teeth) == 0 or len(row_gums) == 0:
            continue
        t_angle = np.arctan2(np.abs(row_teeth[:, 0]), row_teeth[:, 2] - centre_z)
        t_radius = np.hypot(row_teeth[:, 0], row_teeth[:, 2] - centre_z)
        g = gums[row_gums]
        g_angle = np.arctan2(np.abs(g[:, 0]), g[:, 2] - centre_z)
        g_radius = np.hypot(g[:, 0], g[:, 2] - centre_z)
        t_bin = np.digitize(t_angle, bins)
        g_bin = np.digitize(g_angle, bins)
        middle = np.full(len(bins) + 1, np.inf)
        # Height of the crowns per bin: from the biting edge (0) to the row's far end (1).
        edge = np.zeros(len(bins) + 1)
        span = np.ones(len(bins) + 1)
        sign = 1.0 if row else -1.0  # the lower row's crowns point up, the upper row's down
        for b in np.unique(t_bin):
            radii = t_radius[t_bin == b]
            middle[b] = 0.5 * (radii.min() + radii.max())
            heights = sign * row_teeth[t_bin == b, 1]
            edge[b] = heights.max()
            span[b] = max(heights.max() - heights.min(), 1e-3)
        height = (edge[g_bin] - sign * g[:, 1]) / span[g_bin]
        # The papillae reach down between the crowns: they are drawn in the teeth's shadow
        # like the gums behind (pink triangles between the front teeth read as blood).
        front = g_radius >= middle[g_bin]
        labial[row_gums] = front
        gum_height[row_gums[front]] = height[front]
    return labial, gum_height, gums_on_jaw & ~is_gum, is_gum & ~labial


def _cavity_colours(
    model: FaceModelData,
    base: NDArray[np.float32],
    jaw_delta: NDArray[np.float32],
    palette: _MouthPalette,
    colour: NDArray[np.float32],
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Write the synthetic colours (``colour`` (Vr, 3), in place) of the mouth socket, gums,
    tongue and teeth from ``palette``: darker towards the back of the mouth, the teeth and
    tongue lit by their own normals, the gums behind the teeth in shadow. Returns the
    papillae and lingual-gum masks (Vg,) over the gums_tongue vertices."""
    z = base[:, 2]
    s0, s1 = model.vertex_ranges["mouth_socket"]
    depth = np.clip((z[s0:s1] - 3.0) / 7.8, 0.0, 1.0)[:, None]
    colour[s0:s1] = palette.cavity * (0.3 + 0.7 * depth**2)

    g0, g1 = model.vertex_ranges["gums_tongue"]
    labial, height, tongue, lingual = _gum_classes(model, base, jaw_delta)
    papilla = labial & (height <= _PAPILLA_HEIGHT)
    depth = np.clip((z[g0:g1] - 3.0) / 7.8, 0.0, 1.0)[:, None]
    lambert = np.maximum(_part_normals(model, base, "gums_tongue") @ _MOUTH_LIGHT, 0.0)[:, None]
    # The labial gums turn from pink at the gum line into the teeth's own sides in shadow
    # down between two crowns (neither a pink triangle nor a hole there).
    towards_edge = 1.0 - _smoothstep(np.minimum(height, 2.0), 0.5, _PAPILLA_HEIGHT + 0.15)
    front = palette.gums_front + towards_edge[:, None] * (
        _PAPILLA_SHADE * palette.teeth - palette.gums_front
    )
    gums = np.where(labial[:, None], front, palette.gums_back)
    # The gums just behind the teeth show through the gaps between the crowns: half the
    # teeth's shaded sides, so a gap reads as shadow between teeth rather than a hole.
    behind = 0.5 * (palette.gums_back + _PAPILLA_SHADE * _BEHIND_TEETH_SHADE * palette.teeth)
    gums = np.where(lingual[:, None], behind, gums)
    rgb = np.where(tongue[:, None], palette.tongue * (0.55 + 0.45 * lambert), gums)
    colour[g0:g1] = rgb * (0.15 + 0.85 * depth**2)

    t0, t1 = model.vertex_ranges["teeth"]
    depth = np.clip((z[t0:t1] - 5.0) / 5.8, 0.0, 1.0)[:, None]
    lambert = np.maximum(_part_normals(model, base, "teeth") @ _MOUTH_LIGHT, 0.0)[:, None]
    on_jaw = (np.linalg.norm(jaw_delta[t0:t1], axis=1) > _JAW_MOVES_CM)[:, None]
    # The upper row's shadow by its place on the dental arch, not by the vertex's own depth:
    # an incisor's labial face reaches 1.6 cm back to the gum line, and by depth the part a
    # grin uncovers under the lip came out at half brightness, grey beside her own teeth.
    teeth = base[t0:t1]
    angle = np.degrees(np.arctan2(np.abs(teeth[:, 0]), teeth[:, 2] - float(teeth[:, 2].min())))
    arch = (1.0 - _smoothstep(angle.astype(np.float32), *_ARCH_SHADOW_DEGREES))[:, None]
    depth = np.where(on_jaw, depth, arch)
    lit = (0.1 + 0.9 * depth**2.5) * (0.75 + 0.25 * lambert)
    lit = np.where(on_jaw, _LOWER_TEETH_SHADE * lit, lit)
    colour[t0:t1] = palette.teeth * lit + palette.cavity * (1.0 - lit)
    return papilla, lingual


def _lip_vertices(
    base: NDArray[np.float32], mouth_loop: NDArray[np.int32], num_face: int
) -> NDArray[np.int64]:
    """Face vertices 0.15-0.7 cm from the mouth opening's boundary (the lips' red part)."""
    from scipy.spatial import cKDTree

    if len(mouth_loop) == 0:
        return np.zeros(0, np.int64)
    distance, _ = cKDTree(base[mouth_loop]).query(base[:num_face])
    return np.flatnonzero((distance > 0.15) & (distance < 0.7))


def _photo_mouth_palette(
    model: FaceModelData,
    base: NDArray[np.float32],
    visibility: NDArray[np.float32],
    crop_image: NDArray[np.uint8],
    source_position: NDArray[np.float32],
    group: NDArray[np.int8],
    labels: NDArray[np.int8],
    opening_index: NDArray[np.int32],
    opening_indptr: NDArray[np.int64],
    seen_teeth: NDArray[np.float32] | None,
) -> _MouthPalette:
    """The mouth palette from the photo's median skin (inner face) and lips (around the
    mouth opening) and its own teeth (``seen_teeth``) where the source saw them."""
    narrow = model.vertex_ranges.get("narrow_face", model.vertex_ranges["face"])
    seen = _smoothstep(visibility, 0.4, 0.8)
    n0, n1 = narrow
    skin = _mean_colour(crop_image, source_position[n0:n1], seen[n0:n1])
    lips = None
    teeth_groups = group[labels == LABEL_TEETH]
    g = int(teeth_groups[0]) if teeth_groups.size else 0
    if g > 0:
        loop = opening_index[opening_indptr[g - 1] : opening_indptr[g]]
        lip = _lip_vertices(base, loop, model.vertex_ranges["face"][1])
        lips = _mean_colour(crop_image, source_position[lip], seen[lip])
    return _mouth_palette(skin, lips, seen_teeth)


def build_render_mesh(
    avatar: Avatar,
    model: FaceModelData,
    config: RenderConfig,
    crop_image: NDArray[np.uint8],
    crop: CropFrame,
) -> RenderMesh:
    """Precompute everything the per-frame path needs for ``avatar``."""
    parts = {name: model.vertex_ranges.get(name) for name, _, _ in RENDERED_PARTS}
    missing = [name for name, value in parts.items() if value is None]
    if missing:
        raise AvatarMismatchError(f"the face model has no parts {missing}")
    num_vertices = max(model.vertex_ranges[name][1] for name, _, _ in RENDERED_PARTS)
    if avatar.identity.shape[0] > model.num_identity:
        raise AvatarMismatchError(
            f"avatar has {avatar.identity.shape[0]} identity modes, the model {model.num_identity}"
        )
    if avatar.expression.shape != (model.num_expressions,):
        raise AvatarMismatchError(
            f"avatar expression has shape {avatar.expression.shape}, "
            f"the model needs ({model.num_expressions},)"
        )
    k = int(avatar.identity.shape[0])
    base = model.neutral[:num_vertices].astype(np.float32).copy()
    if k:
        base += np.tensordot(
            avatar.identity.astype(np.float32), model.identity_basis[:k, :num_vertices], 1
        )
    basis = model.expression_basis[:, :num_vertices].astype(np.float32)
    _bring_teeth_forward(model, base, basis)

    faces_list, labels_list, cull_list, uv_list = [], [], [], []
    part_of_face: list[str] = []
    for name, label, cull in RENDERED_PARTS:
        start, stop = model.face_ranges[name]
        tris = model.faces[start:stop]
        part_of_face.extend([name] * len(tris))
        faces_list.append(tris)
        labels_list.append(np.full(len(tris), label, np.int8))
        cull_list.append(np.full(len(tris), cull, np.bool_))
        if label == LABEL_SKIN:
            uv_list.append(model.uvs[model.face_uvs[start:stop]])
        else:
            uv_list.append(np.zeros((len(tris), 3, 2), np.float32))
    faces = np.ascontiguousarray(np.concatenate(faces_list), np.int32)
    labels = np.concatenate(labels_list)
    cull_flags = np.concatenate(cull_list)
    triangle_uv = np.ascontiguousarray(np.concatenate(uv_list), np.float32)

    group, opening_index, opening_indptr = _openings(model, faces, part_of_face)
    skin_faces = np.ascontiguousarray(faces[np.isin(labels, (LABEL_SKIN, LABEL_HEAD))])

    # The source: its own expression and pose, projected into the crop.
    rotation = euler_to_matrix(*(float(a) for a in avatar.rotation))
    cam = avatar.camera

    def project(
        expression_basis: NDArray[np.float32],
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float64], NDArray[np.float64]]:
        """(vertices (Vr, 3), crop positions (Vr, 2), source u, w (Vr,)) at her own expression."""
        vertices = base + np.tensordot(avatar.expression.astype(np.float32), expression_basis, 1)
        rotated = vertices.astype(np.float64) @ rotation.T
        u = cam.scale * rotated[:, 0] + cam.tu
        w = -cam.scale * rotated[:, 1] + cam.tw
        position = np.stack(
            [(u - crop.origin_u) * crop.zoom - 0.5, (w - crop.origin_w) * crop.zoom - 0.5], 1
        )
        return vertices.astype(np.float32), position.astype(np.float32), u, w

    visibility = np.asarray(
        avatar.extra.get("vertex_visibility", np.ones(model.num_vertices, np.float32)), np.float32
    )
    if visibility.shape[0] < num_vertices:
        raise AvatarMismatchError("vertex_visibility is shorter than the face model")
    visibility = visibility[:num_vertices]
    skin_stop = max(model.vertex_ranges[p][1] for p in _SKIN_VERTEX_PARTS)
    if config.rigid_brows:
        _rigid_brows(
            model,
            avatar,
            crop,
            base,
            basis,
            project(basis)[1],
            visibility,
            skin_stop,
            skin_faces,
        )
    source_vertices, source_position, u, w = project(basis)
    indptr, index, value = _sparse_basis(basis)
    # Skin beyond the photo's edge (a frame cut off below the chin) is unseen only because the
    # photo ends there: its own projection lands on the crop's replicated border, which is
    # what the background around it shows too. It keeps that projection (a re-render is the
    # crop there, and the neck moves the border with it), not skin stretched from inside.
    height, width = avatar.source_image.shape[:2]
    off_photo = (u < 0.0) | (u > width) | (w < 0.0) | (w > height)
    off_photo[skin_stop:] = False
    visibility = np.where(off_photo, np.float32(1.0), visibility).astype(np.float32)
    # Skin the source never saw (under the jaw, behind the ear): its own projection lands on
    # whatever covered it (chin, hair, background). Take the photo from a harmonic extension
    # of the seen skin's positions instead: a turned head shows stretched neighbouring skin.
    _fill_unseen_positions(source_position, skin_faces, visibility, skin_stop)

    photo_weight = np.zeros(num_vertices, np.float32)
    colour = np.zeros((num_vertices, 3), np.float32)
    z = model.neutral[:num_vertices, 2]
    seen_teeth: NDArray[np.float32] | None = None
    cavity_strength = np.zeros(len(faces), np.float32)
    interior_surface = np.zeros(len(faces), np.int8)
    threshold = config.texture_below_visibility
    for name, label, _ in RENDERED_PARTS:
        start, stop = model.vertex_ranges[name]
        vis = visibility[start:stop]
        if label == LABEL_SKIN:
            weight = _smoothstep(vis, 0.1 * threshold, threshold)
            # The texture only helps where it holds real colour (seen or mirrored from the
            # other side); where calibration filled it by push-pull it is a flat pale guess and
            # the photo (even at the wrong place) looks better.
            trusted = _texture_trust(avatar, model, name)
            photo_weight[start:stop] = 1.0 - (1.0 - weight) * trusted
        elif label == LABEL_HEAD:
            photo_weight[start:stop] = 1.0
        elif label == LABEL_TEETH:
            weight = _smoothstep(vis, 0.3, 0.7)
            photo_weight[start:stop] = weight
            seen = _mean_colour(crop_image, source_position[start:stop], weight)
            # The front teeth are the lit ones: the palette takes the upper quartile (the
            # median mixes in the molars in the corners' shadow).
            seen_teeth = _mean_colour(crop_image, source_position[start:stop], weight, 75.0)
            rgb = np.array(_TEETH_RGB, np.float32)
            if seen is not None:  # the person's own teeth colour, kept light
                rgb = np.clip(0.7 * rgb + 0.3 * seen * 1.1, 0, 255)
            depth = np.clip((z[start:stop] - 5.0) / 5.8, 0.0, 1.0)
            # Towards the back the teeth fall into the mouth's shadow: they fade into the
            # socket's dark red-brown (a plain darkening of the tint read as grey-green
            # against the tongue).
            lit = (0.1 + 0.9 * depth[:, None] ** 2.5).astype(np.float32)
            shadow = 0.6 * np.array(_SOCKET_RGB, np.float32)
            colour[start:stop] = rgb * lit + shadow * (1.0 - lit)
        elif label in (LABEL_SOCKET, LABEL_GUMS):
            rgb = np.array(_SOCKET_RGB if label == LABEL_SOCKET else _GUMS_RGB, np.float32)
            depth = np.clip((z[start:stop] - 3.0) / 7.8, 0.0, 1.0)
            colour[start:stop] = rgb * (0.12 + 0.88 * depth[:, None] ** 2)
        elif label == LABEL_EYE:
            weight = _smoothstep(vis, 0.4, 0.8)
            photo_weight[start:stop] = weight
            for sub in ("sclera", "iris"):
                side = "left" if "left" in name else "right"
                s0, s1 = model.vertex_ranges[f"{sub}_{side}"]
                seen = _mean_colour(
                    crop_image, source_position[s0:s1], weight[s0 - start : s1 - start]
                )
                if seen is None:
                    seen = np.array(
                        (205.0, 195.0, 190.0) if sub == "sclera" else (70.0, 50.0, 40.0), np.float32
                    )
                colour[s0:s1] = seen
    if config.mouth_cavity and "jawOpen" in model.expression_names:
        palette = _photo_mouth_palette(
            model, base, visibility, crop_image, source_position, group, labels,
            opening_index, opening_indptr, seen_teeth,
        )  # fmt: skip
        logger.debug("mouth palette: %s", palette)
        jaw_delta = basis[model.expression_names.index("jawOpen")]
        papilla, lingual = _cavity_colours(model, base, jaw_delta, palette, colour)
        g0 = model.vertex_ranges["gums_tongue"][0]
        is_papilla = np.zeros(num_vertices, bool)
        is_papilla[g0 : g0 + len(papilla)] = papilla
        is_lingual = np.zeros(num_vertices, bool)
        is_lingual[g0 : g0 + len(lingual)] = lingual
        on_jaw = (np.linalg.norm(jaw_delta, axis=1) > _JAW_MOVES_CM)[faces].sum(1) >= 2
        toothy = (labels == LABEL_TEETH) | (
            (labels == LABEL_GUMS) & (is_papilla[faces].sum(1) >= 2)
        )
        cavity_strength[np.isin(labels, (LABEL_SOCKET, LABEL_GUMS))] = 1.0
        cavity_strength[(labels == LABEL_GUMS) & (is_lingual[faces].sum(1) >= 2)] = (
            _BEHIND_TEETH_CAVITY_STRENGTH
        )
        cavity_strength[toothy & ~on_jaw] = _UPPER_TEETH_CAVITY_STRENGTH
        cavity_strength[toothy & on_jaw] = _LOWER_TEETH_CAVITY_STRENGTH
        interior = np.isin(labels, (LABEL_SOCKET, LABEL_GUMS, LABEL_TEETH))
        interior_surface[interior & ~toothy] = np.where(on_jaw, 4, 3)[interior & ~toothy]
        interior_surface[toothy & ~on_jaw] = 1
        interior_surface[toothy & on_jaw] = 2

    lighting = np.asarray(
        avatar.extra.get("sh_lighting", np.zeros((9, 3), np.float32)), np.float32
    ).reshape(9, 3)
    normals = np.zeros((skin_stop, 3), np.float32)
    vertex_normals(source_vertices, skin_faces, normals)
    turned_normals = (normals.astype(np.float64) @ rotation.T).astype(np.float32)
    source_shade = sh_shade(turned_normals, lighting)
    logger.debug(
        "render mesh: %d vertices, %d triangles, crop %.0f px at (%.0f, %.0f)",
        num_vertices,
        len(faces),
        crop.side,
        crop.origin_u,
        crop.origin_w,
    )
    return RenderMesh(
        base=np.ascontiguousarray(base),
        basis_indptr=indptr,
        basis_index=index,
        basis_value=value,
        faces=faces,
        labels=labels,
        cull=cull_flags,
        skin_faces=skin_faces,
        num_skin_vertices=skin_stop,
        triangle_uv=triangle_uv,
        source_position=source_position,
        photo_weight=photo_weight,
        colour=np.ascontiguousarray(colour),
        source_shade=source_shade,
        source_facing=np.ascontiguousarray(turned_normals[:, 2]),
        sh_lighting=lighting,
        source_rotation=np.asarray(avatar.rotation, np.float64),
        crop=crop,
        head_weight=_head_weight(model, num_vertices, skin_stop),
        depth_bias=_depth_bias(model, num_vertices),
        group=group,
        opening_index=opening_index,
        opening_indptr=opening_indptr,
        warp_exact=_warp_exact(model, num_vertices),
        cavity_strength=cavity_strength,
        interior_surface=interior_surface,
    )
