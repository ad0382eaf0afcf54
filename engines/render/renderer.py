"""``AvatarRenderer``: expression + head-pose offset -> a frame of the person's own photo.

Per frame: sparse expression blend -> rotate (fitted rotation + offset) and project into the
crop -> skin normals and SH expression-ratio shading -> rasterize (z-buffer) -> shade ->
extend the warp around the face -> composite into the source crop.
"""

from __future__ import annotations

import logging
import math
import time

import numba
import numpy as np
from numpy.typing import NDArray

from engines.avatar import Avatar
from engines.face_model.camera import euler_to_matrix
from engines.face_model.ict import FaceModelData
from engines.render.compositor import (
    CompositorBuffers,
    RemapBuffers,
    composite,
    composite_remap,
    extend_warp,
)
from engines.render.config import RenderConfig
from engines.render.exceptions import AvatarMismatchError, RenderInputError
from engines.render.eyeball import EyeFill, apply_eye_fill, build_eye_fill
from engines.render.eyelids import (
    apply_eyelids,
    apply_shut_eyes,
    build_eyelids,
    draw_lash_lines,
    soften_lid_shading,
)
from engines.render.matte import MatteBuilder
from engines.render.mesh import (
    LABEL_EYE,
    LABEL_GUMS,
    LABEL_SKIN,
    LABEL_SOCKET,
    LABEL_TEETH,
    RenderMesh,
    build_render_mesh,
    crop_person_matte,
    crop_source,
    vertex_normals,
)
from engines.render.rasterizer import Fragments, RasterBuffers, rasterize
from engines.render.shader import (
    FIELD_CHANNELS,
    feather_eye,
    feather_mouth,
    opening_light,
    shade_fragments,
)
from engines.render.teeth import PhotoInterior, photo_interior
from engines.render.unfold import (
    PhotoMouth,
    lip_closure_map,
    lip_triangles,
    photo_mouth,
    photo_mouth_share,
    pixels_per_mm,
)
from engines.render.wrinkles import WrinkleField, build_wrinkles

__all__ = ["AvatarRenderer"]

logger = logging.getLogger(__name__)

# A blendshape weight that moves no vertex further than this (cm; ~1/25 output pixel at the
# usual zoom) is not blended.
_NEGLIGIBLE_CM = 0.002
# The interior's vertices take the photo by their calibrated visibility at the photo's own
# mouth (its re-render is the photo) and not once a mouth or jaw shape has moved this far from
# it: a tooth whose source the photo showed as lip drew her lip's pink on it (a webcam grin's
# "red papillae").
_MOUTH_DEPARTURE = (0.02, 0.15)


@numba.njit(cache=True, nogil=True, fastmath=True)
def _blend_kernel(
    base: NDArray[np.float32],
    indptr: NDArray[np.int64],
    index: NDArray[np.int32],
    value: NDArray[np.float32],
    coeffs: NDArray[np.float32],
    out: NDArray[np.float32],
) -> None:
    flat_out = out.reshape(-1)
    flat_base = base.reshape(-1)
    for i in range(flat_out.shape[0]):
        flat_out[i] = flat_base[i]
    for e in range(coeffs.shape[0]):
        c = coeffs[e]
        if c == 0.0:
            continue
        for j in range(indptr[e], indptr[e + 1]):
            flat_out[index[j]] += c * value[j]


@numba.njit(cache=True, nogil=True, fastmath=True)
def _project_kernel(
    vertices: NDArray[np.float32],
    rotation: NDArray[np.float32],
    body_rotation: NDArray[np.float32],
    head_weight: NDArray[np.float32],
    depth_bias: NDArray[np.float32],
    scale: float,
    offset_u: float,
    offset_w: float,
    points: NDArray[np.float32],
    depth: NDArray[np.float32],
) -> None:
    """Rotate (blending the head rotation with the source's for the neck) and project."""
    for i in range(vertices.shape[0]):
        x, y, z = vertices[i, 0], vertices[i, 1], vertices[i, 2]
        rx = rotation[0, 0] * x + rotation[0, 1] * y + rotation[0, 2] * z
        ry = rotation[1, 0] * x + rotation[1, 1] * y + rotation[1, 2] * z
        rz = rotation[2, 0] * x + rotation[2, 1] * y + rotation[2, 2] * z
        w = head_weight[i]
        if w < 1.0:
            bx = body_rotation[0, 0] * x + body_rotation[0, 1] * y + body_rotation[0, 2] * z
            by = body_rotation[1, 0] * x + body_rotation[1, 1] * y + body_rotation[1, 2] * z
            bz = body_rotation[2, 0] * x + body_rotation[2, 1] * y + body_rotation[2, 2] * z
            rx = w * rx + (1.0 - w) * bx
            ry = w * ry + (1.0 - w) * by
            rz = w * rz + (1.0 - w) * bz
        points[i, 0] = scale * rx + offset_u
        points[i, 1] = -scale * ry + offset_w
        depth[i] = scale * (rz - depth_bias[i])


@numba.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _sh_sum(grey: NDArray[np.float32], x: np.float32, y: np.float32, z: np.float32) -> np.float32:
    """Sum over the colour channels of the SH shading of the unit normal (x, y, z);
    ``grey`` (9,) is the lighting summed over the channels (one dot product, not three)."""
    return (
        grey[0]
        + grey[1] * y
        + grey[2] * z
        + grey[3] * x
        + grey[4] * x * y
        + grey[5] * y * z
        + grey[6] * (np.float32(3.0) * z * z - np.float32(1.0))
        + grey[7] * x * z
        + grey[8] * (x * x - y * y)
    )


@numba.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _soft_limit(r: np.float32, low: np.float32, high: np.float32) -> np.float32:
    """``r`` kept in (low, high) by a smooth knee: unchanged within half of either range,
    then saturating as y / (1 + y) (a hard clip leaves a visible edge where it starts).
    Branch-free (selects only), so the per-vertex loop stays vectorizable."""
    one = np.float32(1.0)
    knee = np.float32(0.5)
    above = r > one
    span = max(high - one if above else one - low, np.float32(1e-6))
    x = abs(r - one) / span
    y = max(x - knee, np.float32(0.0)) / (one - knee)
    x = min(x, knee) + (one - knee) * y / (one + y)
    return one + x * span if above else one - x * span


@numba.njit(cache=True, nogil=True, fastmath=True)
def _turn_photo_weight(
    index: NDArray[np.int32],
    normals: NDArray[np.float32],
    rotation: NDArray[np.float32],
    source_facing: NDArray[np.float32],
    static: NDArray[np.float32],
    low: float,
    high: float,
    out: NDArray[np.float32],
) -> None:
    """Photo weight of the skin vertices ``index`` that take some UV texture (``static`` <
    1), by how much more they face the camera than in the photo: ``static`` once they face it
    by ``high`` more (cosine), 1 (the photo) up to ``low`` more, a smoothstep between."""
    span = np.float32(max(high - low, 1e-6))
    for k in range(index.shape[0]):
        i = index[k]
        facing = (
            rotation[2, 0] * normals[i, 0]
            + rotation[2, 1] * normals[i, 1]
            + rotation[2, 2] * normals[i, 2]
        )
        t = min(max((facing - source_facing[i] - np.float32(low)) / span, 0.0), 1.0)
        t = t * t * (3.0 - 2.0 * t)
        out[i] = 1.0 - (1.0 - static[i]) * t


@numba.njit(cache=True, nogil=True, fastmath=True)
def _ratio_kernel(
    normals: NDArray[np.float32],
    rotation: NDArray[np.float32],
    source_rotation: NDArray[np.float32],
    grey_lighting: NDArray[np.float32],
    source_shade: NDArray[np.float32],
    low: float,
    high: float,
    strength: float,
    pose_strength: float,
    out: NDArray[np.float32],
) -> None:
    """Grey SH ratio per skin vertex: (pose part)^pose_strength · (expression part)^strength.

    The expression part compares the new surface with the source's under the source pose;
    the pose part compares the new surface turned (``rotation``) with it unturned
    (``source_rotation``), so a head turn is shaded as the light would (strength 1) while
    expression folds keep their chosen exaggeration.
    """
    power = np.float32(strength)
    pose_power = np.float32(pose_strength)
    lo = np.float32(low)
    hi = np.float32(high)
    three_halves = power == np.float32(1.5)  # the default: no exp/log per vertex
    physical_pose = pose_power == np.float32(1.0)
    tiny = np.float32(3.0)
    zero = np.float32(0.0)
    for i in range(normals.shape[0]):
        nx0, ny0, nz0 = normals[i, 0], normals[i, 1], normals[i, 2]
        x = rotation[0, 0] * nx0 + rotation[0, 1] * ny0 + rotation[0, 2] * nz0
        y = rotation[1, 0] * nx0 + rotation[1, 1] * ny0 + rotation[1, 2] * nz0
        z = rotation[2, 0] * nx0 + rotation[2, 1] * ny0 + rotation[2, 2] * nz0
        target_sum = _sh_sum(grey_lighting, x, y, z)
        x = source_rotation[0, 0] * nx0 + source_rotation[0, 1] * ny0 + source_rotation[0, 2] * nz0
        y = source_rotation[1, 0] * nx0 + source_rotation[1, 1] * ny0 + source_rotation[1, 2] * nz0
        z = source_rotation[2, 0] * nx0 + source_rotation[2, 1] * ny0 + source_rotation[2, 2] * nz0
        unturned_sum = _sh_sum(grey_lighting, x, y, z)
        source_sum = source_shade[i, 0] + source_shade[i, 1] + source_shade[i, 2]
        # One grey ratio per vertex (the luminance change): no colour casts from the fit.
        r = np.float32(1.0)
        if source_sum > tiny and unturned_sum > tiny and target_sum > zero:
            q = unturned_sum / source_sum
            r = q * np.sqrt(q) if three_halves else np.exp(power * np.log(q))
            p = target_sum / unturned_sum
            r *= p if physical_pose else np.exp(pose_power * np.log(p))
        r = _soft_limit(r, lo, hi)
        for c in range(3):
            out[i, c] = r


@numba.njit(cache=True, nogil=True)
def _opening_boxes(
    points: NDArray[np.float32],
    index: NDArray[np.int32],
    indptr: NDArray[np.int64],
    margin: float,
    out: NDArray[np.float32],
) -> None:
    """``out[g + 1]`` = bounding box (u_min, w_min, u_max, w_max) of opening g's points."""
    for g in range(indptr.shape[0] - 1):
        u_min, w_min, u_max, w_max = np.inf, np.inf, -np.inf, -np.inf
        for j in range(indptr[g], indptr[g + 1]):
            i = index[j]
            u_min = min(u_min, points[i, 0])
            u_max = max(u_max, points[i, 0])
            w_min = min(w_min, points[i, 1])
            w_max = max(w_max, points[i, 1])
        out[g + 1, 0] = u_min - margin
        out[g + 1, 1] = w_min - margin
        out[g + 1, 2] = u_max + margin
        out[g + 1, 3] = w_max + margin


class AvatarRenderer:
    """Renders one avatar; not thread-safe (reuses its buffers), one per session.

    Args:
        avatar: a calibrated :class:`~engines.avatar.Avatar`.
        model: the ICT face model the avatar was fitted with.
        config: render settings.

    Raises:
        AvatarMismatchError: the avatar does not fit ``model``.
    """

    def __init__(self, avatar: Avatar, model: FaceModelData, config: RenderConfig | None = None):
        self.config = config if config is not None else RenderConfig()
        self.num_expressions = model.num_expressions
        self.expression_names = tuple(model.expression_names)
        # ICT's mouthClose is sculpted against an open jaw (it pulls the lips together over
        # jawOpen's gap, as ARKit's does); alone it shoves the lips up under the nose. So the
        # renderer holds mouthClose <= jawOpen (see ``_check``).
        names = self.expression_names
        self._close_jaw = (
            (names.index("mouthClose"), names.index("jawOpen"))
            if "mouthClose" in names and "jawOpen" in names
            else None
        )
        cfg = self.config
        self.crop, self.crop_image = crop_source(avatar, cfg)
        self.mesh: RenderMesh = build_render_mesh(avatar, model, cfg, self.crop_image, self.crop)
        self.source_expression = np.asarray(avatar.expression, np.float32).copy()
        cam = avatar.camera
        if not (
            math.isfinite(cam.scale)
            and cam.scale > 0
            and math.isfinite(cam.tu)
            and math.isfinite(cam.tw)
        ):
            raise AvatarMismatchError(f"the avatar's camera is not valid: {cam}")
        self._camera = (float(cam.scale), float(cam.tu), float(cam.tw))
        texture = np.ascontiguousarray(np.asarray(avatar.texture, np.float32)[..., :3])
        mesh = self.mesh
        self._eyelids = build_eyelids(
            model,
            mesh.num_skin_vertices,
            mesh.opening_index,
            mesh.faces,
            mesh.triangle_uv,
            mesh.labels == LABEL_SKIN,
            mesh.source_position,
            mesh.photo_weight,
            self.crop_image,
            texture,
        )
        self._texture = self._eyelids.texture
        self._photo_weight = mesh.photo_weight.copy()  # lids: lowered per frame by the blink
        # Skin that takes some UV texture, outside the lids: its photo weight follows the turn.
        skin_weight = mesh.photo_weight[: mesh.num_skin_vertices]
        turning = np.flatnonzero(skin_weight < 0.999)
        self._turn_index = np.ascontiguousarray(
            np.setdiff1d(turning, self._eyelids.index), np.int32
        )
        # Eyeball the photo saw under a lid: her eye's own colours where a lid opens wider.
        self._eye_fill = EyeFill.empty()
        self._static_colour = mesh.colour.copy()
        self._colour = self._static_colour.copy()  # eyeballs: per frame (lids shut / open wide)
        raster = cfg.raster_size
        self._raster_scale = raster / cfg.size
        count = self.mesh.base.shape[0]
        self._vertices = np.zeros((count, 3), np.float32)
        self._points = np.zeros((count, 2), np.float32)
        self._depth = np.zeros(count, np.float32)
        self._normals = np.zeros((self.mesh.num_skin_vertices, 3), np.float32)
        self._ratio = np.ones((self.mesh.num_skin_vertices, 3), np.float32)
        self._raster = RasterBuffers(raster, raster)
        self._field = np.zeros((raster, raster, FIELD_CHANNELS), np.float32)
        self._coverage = np.zeros((raster, raster), np.float32)
        self._exact = np.zeros((raster, raster), np.float32)
        coarse = max(8, raster // 8)
        self._compositor = CompositorBuffers(raster, coarse)
        self._sigma_coarse = cfg.extend_sigma * coarse
        self._out = np.zeros((cfg.size, cfg.size, 3), np.uint8)
        self._remap = RemapBuffers(cfg.size) if cfg.compositor == "remap" else None
        # The neck's base stays with the body (the source pose) when the head turns.
        self._body_rotation = self.rotation_matrix(np.zeros(3)).astype(np.float32)
        self._source_rotation = self._body_rotation  # the pose the photo's shading belongs to
        self._grey_lighting = np.ascontiguousarray(mesh.sh_lighting.sum(1), np.float32)  # (9,)
        self._group_box = np.zeros((len(self.mesh.opening_indptr), 4), np.float32)
        # The opening group of the mouth interior (0: no mouth opening found, no feather).
        teeth_group = mesh.group[mesh.labels == LABEL_TEETH]
        self._mouth_group = int(teeth_group[0]) if teeth_group.size else 0
        # The eyes' opening groups (their lid / eyeball edge is feathered like the lips').
        eye_groups = np.unique(mesh.group[mesh.labels == LABEL_EYE])
        self._eye_groups = tuple(int(g) for g in eye_groups if g > 0 and g != self._mouth_group)
        # Largest vertex move (cm) of each shape at weight 1: a shape whose weight moves no
        # vertex by more than _NEGLIGIBLE_CM is skipped (predicted coefficients are rarely 0).
        self._shape_reach = np.array(
            [
                float(
                    np.abs(mesh.basis_value[mesh.basis_indptr[e] : mesh.basis_indptr[e + 1]]).max(
                        initial=0.0
                    )
                )
                for e in range(len(mesh.basis_indptr) - 1)
            ],
            np.float32,
        )
        # Animated wrinkles: per-avatar fold maps in UV space, summed per frame (None: off).
        self.wrinkles: WrinkleField | None = (
            build_wrinkles(
                model,
                mesh.base,
                mesh.sh_lighting,
                mesh.source_rotation,
                self.crop_image,
                mesh.source_position,
                mesh.photo_weight,
                mesh.triangle_uv,
                mesh.labels == LABEL_SKIN,
                unfold=cfg.unfold,
            )
            if cfg.wrinkles and cfg.wrinkle_strength > 0.0
            else None
        )
        # Lips that close over the photo's teeth, in the photo's pixels (unfold.py).
        self._lip_map: NDArray[np.float32] | None = None
        self._lip_triangles: NDArray[np.bool_] | None = None
        self._lip_activation = -1  # index of the lip map's activation in the wrinkle field
        self._lip_crop_box: tuple[int, int, int, int] | None = None  # the map's support
        # Her lips, teeth and mouth in the photo's pixels: for the lip map here and her own
        # teeth below (teeth.py), found once.
        closing_lips = self.wrinkles is not None and "unfold_lips" in self.wrinkles.names
        found_mouth: PhotoMouth | None = None
        if closing_lips or np.any(mesh.interior_surface):
            lips = lip_triangles(mesh.faces, mesh.labels == LABEL_SKIN, mesh.base, model)
            lm = np.asarray(model.landmarks_68)
            found_mouth = photo_mouth(
                self.crop_image,
                mesh.source_position[lm[48:60]],
                mesh.source_position[lm[60:68]],
                mesh.source_position[np.unique(mesh.faces[lips])],
                pixels_per_mm(mesh.base, mesh.source_position, model),
            )
            if closing_lips:
                self._lip_triangles = lips
        if self.wrinkles is not None and closing_lips:
            self._lip_activation = self.wrinkles.names.index("unfold_lips")
            self._lip_map = lip_closure_map(found_mouth, self.crop_image.shape[0])
            rows, cols = np.nonzero(self._lip_map[..., 0] > 0.0)
            if rows.size:
                self._lip_crop_box = (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1)
        self._lip_image = self.crop_image.copy()  # the crop, her teeth under the lips closed
        self._lip_image_activation = 0.0
        self._lip_pixels = np.zeros((raster, raster), np.bool_)
        if self.wrinkles is not None:
            self._wrinkle_map, self._folded = self.wrinkles.combined, self.wrinkles.folded
        else:
            self._wrinkle_map = np.zeros((2, 2, 3), np.float32)
            self._folded = np.zeros(mesh.faces.shape[0], np.bool_)
        self.last_fragments: Fragments | None = None
        self._matte = MatteBuilder(
            crop_person_matte(avatar, self.crop), cfg.size, cfg.matte_edge * cfg.size
        )
        self._coeffs = np.zeros(self.num_expressions, np.float32)
        # Once the mouth leaves the photo's own, the interior takes the photo only where the
        # photo showed that surface (the share map, with the cavity), not by its vertices'
        # visibility (with or without the cavity, so that switch changes the mouth only).
        interior = np.unique(
            mesh.faces[np.isin(mesh.labels, (LABEL_TEETH, LABEL_GUMS, LABEL_SOCKET))]
        )
        self._interior_vertices = interior[interior >= mesh.num_skin_vertices].astype(np.int32)
        names = model.expression_names
        self._mouth_shapes = np.array(
            [k for k, n in enumerate(names) if n.startswith(("mouth", "jaw"))], np.int64
        )
        # Her own teeth where the photo showed them (teeth.py): None without the cavity.
        self._photo_interior: PhotoInterior | None = None
        self._photo_light = 1.0  # the light of the photo's own mouth opening (shader.py)
        if cfg.eye_fill or np.any(mesh.interior_surface):
            projected, source_triangle, self._photo_light = self._source_raster()
            if cfg.eye_fill:
                self._eye_fill = build_eye_fill(
                    model, mesh.opening_index, mesh.opening_indptr, mesh.faces, mesh.group,
                    projected, source_triangle, self.crop_image,
                )  # fmt: skip
                self._static_colour[self._eye_fill.index] = self._eye_fill.colour
            if np.any(mesh.interior_surface):
                share = photo_mouth_share(found_mouth, self.crop_image.shape[0])
                self._photo_interior = photo_interior(share, source_triangle, mesh.interior_surface)

    def _mouth_departure(self, coeffs: NDArray[np.float32]) -> float:
        """0 at the photo's own mouth, 1 once a mouth or jaw shape has left it by
        ``_MOUTH_DEPARTURE[1]`` (a smoothstep between the two)."""
        if self._mouth_shapes.size == 0:
            return 0.0
        change = float(
            np.abs(coeffs[self._mouth_shapes] - self.source_expression[self._mouth_shapes]).max()
        )
        low, high = _MOUTH_DEPARTURE
        t = min(max((change - low) / (high - low), 0.0), 1.0)
        return t * t * (3.0 - 2.0 * t)

    def _source_raster(self) -> tuple[NDArray[np.float32], NDArray[np.int32], float]:
        """(Vr, 2) projected vertices in crop pixels, (R, R) the raster's triangles and the
        light of the mouth's opening (``shader.opening_light``), as this renderer shows the
        photo's own expression and pose."""
        _, points, _ = self.geometry(self.source_expression, np.zeros(3))
        fragments = self._rasterize()
        projected = points * np.float32(1.0 / self._raster_scale) - np.float32(0.5)
        light = 1.0
        if self._mouth_group > 0:
            light = opening_light(fragments, self.mesh.labels, self._group_box[self._mouth_group])
        self.last_fragments = None
        return np.ascontiguousarray(projected, np.float32), fragments.triangle.copy(), light

    @property
    def size(self) -> int:
        return self.config.size

    @property
    def last_warp(self) -> NDArray[np.float32]:
        """(R, R, 2) view of the last frame's backward warp at raster resolution: the
        displacement (dx, dy) in output pixels from each raster pixel to where the photo is
        sampled (valid until the next call)."""
        return self._field[..., :2]

    def _check(
        self, expression: NDArray[np.floating], pose: NDArray[np.floating]
    ) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
        coeffs = np.asarray(expression, np.float32).reshape(-1)
        angles = np.asarray(pose, np.float64).reshape(-1)
        if coeffs.shape != (self.num_expressions,):
            raise RenderInputError(
                f"expression must have shape ({self.num_expressions},), got {np.shape(expression)}"
            )
        if angles.shape != (3,):
            raise RenderInputError(
                f"pose must have shape (3,) (pitch, yaw, roll), got {np.shape(pose)}"
            )
        if not (np.isfinite(coeffs).all() and np.isfinite(angles).all()):
            raise RenderInputError("expression and pose must be finite")
        if self._close_jaw is not None:
            close, jaw = self._close_jaw
            if coeffs[close] > max(coeffs[jaw], 0.0):
                coeffs = coeffs.copy()  # never change the caller's array
                coeffs[close] = max(coeffs[jaw], 0.0)
        return np.ascontiguousarray(coeffs), angles

    def rotation_matrix(self, pose: NDArray[np.floating]) -> NDArray[np.float64]:
        """(3, 3) head rotation for a pose offset (3,): the fitted angles plus the offset."""
        angles = self.mesh.source_rotation + np.asarray(pose, np.float64)
        return euler_to_matrix(*(float(a) for a in angles))

    def geometry(
        self, expression: NDArray[np.floating], pose: NDArray[np.floating]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
        """Blend, rotate and project: returns views of (Vr, 3) model-space vertices, (Vr, 2)
        raster points and (Vr,) depth (valid until the next call)."""
        coeffs, angles = self._check(expression, pose)
        coeffs = np.where(np.abs(coeffs) * self._shape_reach < _NEGLIGIBLE_CM, 0.0, coeffs)
        coeffs = coeffs.astype(np.float32)
        self._coeffs = coeffs  # this frame's (for the shader's lash lines)
        mesh = self.mesh
        lids = self._eyelids
        apply_eyelids(
            lids.index, lids.weight, lids.shape, coeffs, mesh.photo_weight, self._photo_weight
        )
        apply_shut_eyes(
            lids.eyeball_index,
            lids.eyeball_side,
            lids.blink,
            lids.lash,
            coeffs,
            mesh.photo_weight,
            self._static_colour,
            self._photo_weight,
            self._colour,
        )
        _blend_kernel(
            mesh.base, mesh.basis_indptr, mesh.basis_index, mesh.basis_value, coeffs, self._vertices
        )
        if self.wrinkles is not None:
            self.wrinkles.update(coeffs, self.source_expression, self.config.wrinkle_strength)
        rotation = self.rotation_matrix(angles).astype(np.float32)
        crop = mesh.crop
        zoom = crop.zoom * self._raster_scale
        # Pose offsets rotate about the model origin, which the camera maps to (tu, tw).
        avatar_cam = self._camera
        _project_kernel(
            self._vertices,
            rotation,
            self._body_rotation,
            mesh.head_weight,
            mesh.depth_bias,
            float(avatar_cam[0] * zoom),
            float((avatar_cam[1] - crop.origin_u) * zoom),
            float((avatar_cam[2] - crop.origin_w) * zoom),
            self._points,
            self._depth,
        )
        fill = self._eye_fill
        apply_eye_fill(
            fill.index, fill.seen, fill.upper, fill.upper_t, fill.lower, fill.lower_t,
            fill.below_upper, fill.above_lower, fill.rim_upper, fill.rim_lower, fill.shadow_width,
            fill.colour, self._points,
            1.0 / self._raster_scale, self._photo_weight, self._colour,
        )  # fmt: skip
        if self._interior_vertices.size:
            self._photo_weight[self._interior_vertices] = mesh.photo_weight[
                self._interior_vertices
            ] * np.float32(1.0 - self._mouth_departure(coeffs))
        if self.config.shading_transfer or self._turn_index.size:
            vertex_normals(self._vertices, mesh.skin_faces, self._normals)
        if self._turn_index.size:
            turn_low, turn_high = self.config.texture_turn_facing
            _turn_photo_weight(
                self._turn_index, self._normals, rotation, mesh.source_facing,
                mesh.photo_weight, turn_low, turn_high, self._photo_weight,
            )  # fmt: skip
        if self.config.shading_transfer:
            low, high = self.config.ratio_clip
            _ratio_kernel(
                self._normals,
                rotation,
                self._source_rotation,
                self._grey_lighting,
                mesh.source_shade,
                low,
                high,
                self.config.shading_strength,
                self.config.pose_shading_strength,
                self._ratio,
            )
            soften_lid_shading(lids.index, lids.weight, lids.shape, coeffs, self._ratio)
        return self._vertices, self._points, self._depth

    def render(
        self, expression: NDArray[np.floating], pose: NDArray[np.floating]
    ) -> NDArray[np.uint8]:
        """One frame.

        Args:
            expression: (53,) absolute expression coefficients (the avatar's own reproduce it).
            pose: (3,) head-rotation offset (pitch, yaw, roll) in radians; zeros = source pose.

        Returns:
            (size, size, 3) uint8 RGB; the array is reused by the next call (copy to keep it).

        Raises:
            RenderInputError: wrong shape or non-finite input.
        """
        self.geometry(expression, pose)
        self._rasterize()
        self._shade()
        box = self._extend()
        return self._composite(box)

    def matte(self, out: NDArray[np.uint8] | None = None) -> NDArray[np.uint8]:
        """(size, size) uint8 matte of the last frame :meth:`render` made: 255 where it shows
        the person (the photo's person matte carried by the frame's warp, joined with the
        face and neck mesh), 0 on the photo's background, a soft edge between
        (``engines.render.matte``). A new array unless ``out`` is given."""
        return self._matte.matte(self._field[..., :2], self._coverage, out)

    @property
    def has_person_matte(self) -> bool:
        """Whether the avatar carries calibration's person matte (else the mesh only)."""
        return self._matte.has_person

    def _composite(self, box: tuple[int, int, int, int] | None) -> NDArray[np.uint8]:
        if self._remap is not None:
            seam = self._group_box[self._mouth_group] if self._mouth_group > 0 else None
            lip_image = self._closed_lip_image()
            return composite_remap(
                self._field, self.crop_image, self._out, self._coverage, self._remap, box, seam,
                lip_image, self._lip_pixels if lip_image is not None else None,
            )  # fmt: skip
        return composite(self._field, self.crop_image, self._out, self._coverage, box)

    def _rasterize(self) -> Fragments:
        mesh = self.mesh
        _opening_boxes(self._points, mesh.opening_index, mesh.opening_indptr, 2.0, self._group_box)
        fragments = rasterize(
            self._points, self._depth, mesh.faces, mesh.cull, self._raster, mesh.group,
            self._group_box,
        )  # fmt: skip
        self.last_fragments = fragments
        return fragments

    def _shade(self) -> None:
        mesh = self.mesh
        shade_fragments(
            self._raster.fragments(),
            mesh.faces,
            mesh.labels,
            mesh.triangle_uv,
            mesh.source_position,
            self._photo_weight,
            self._colour,
            self._ratio,
            mesh.num_skin_vertices,
            self._texture,
            1.0 / self._raster_scale,
            mesh.warp_exact,
            self._field,
            self._coverage,
            self._exact,
            self._wrinkle_map,
            self._folded,
            self._lip_triangles,
            self._lip_closure(),
            self._lip_pixels,
            mesh.interior_surface,
            self._photo_interior,
        )
        lids = self._eyelids
        draw_lash_lines(
            lids.lash_line, lids.lash_count, lids.blink, lids.lash_dark, self._coeffs, self._points,
            self._field, self._coverage,
        )  # fmt: skip
        fragments = self._raster.fragments()
        if self._mouth_group > 0:
            feather_mouth(
                fragments, mesh.labels, self._group_box[self._mouth_group], self._field,
                mesh.cavity_strength if self.config.mouth_cavity else None, self._photo_light,
            )  # fmt: skip
        if self.config.eye_fill and self.config.eye_edge_feather:
            for group in self._eye_groups:
                feather_eye(fragments, mesh.labels, self._group_box[group], self._field)

    def _closed_lip_image(self) -> NDArray[np.uint8] | None:
        """The crop with her teeth under the lips turned to lip colour by this frame's
        activation (``unfold.lip_closure_map``); None while the lips are not closing."""
        activation = self._lip_closure()
        if activation <= 0.0 or self._lip_map is None or self._lip_crop_box is None:
            return None
        if activation != self._lip_image_activation:
            y0, y1, x0, x1 = self._lip_crop_box
            photo = self.crop_image[y0:y1, x0:x1].astype(np.float32)
            lip_map = self._lip_map[y0:y1, x0:x1]
            share = activation * lip_map[..., :1]
            blended = photo + share * (lip_map[..., 1:] - photo)
            self._lip_image[y0:y1, x0:x1] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
            self._lip_image_activation = activation
        return self._lip_image

    def _lip_closure(self) -> float:
        """This frame's activation of the lips-over-teeth maps (0 without them)."""
        if self.wrinkles is None or self._lip_activation < 0:
            return 0.0
        return float(self.wrinkles.activation[self._lip_activation])

    def _extend(self) -> tuple[int, int, int, int]:
        return extend_warp(
            self._field,
            self._coverage,
            self._exact,
            self._compositor,
            self._sigma_coarse,
            self.config.feather,
        )

    def profile(
        self, expression: NDArray[np.floating], pose: NDArray[np.floating], repeats: int = 10
    ) -> dict[str, float]:
        """Median milliseconds of each stage (geometry, raster, shade, extend, composite)."""
        stages: dict[str, list[float]] = {
            k: [] for k in ("geometry", "raster", "shade", "extend", "composite", "total")
        }
        for _ in range(max(1, repeats)):
            t0 = time.perf_counter()
            self.geometry(expression, pose)
            t1 = time.perf_counter()
            self._rasterize()
            t2 = time.perf_counter()
            self._shade()
            t3 = time.perf_counter()
            box = self._extend()
            t4 = time.perf_counter()
            self._composite(box)
            t5 = time.perf_counter()
            for key, value in zip(
                stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t5 - t0), strict=True
            ):
                value_ms = value * 1000.0
                stages[key].append(value_ms)
        return {k: float(np.median(v)) for k, v in stages.items()}
