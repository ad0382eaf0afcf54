"""The ICT Face Model Light as arrays: conversion of the OBJs into a cache, and loading it.

The cache (``ict_light_<commit>.npz`` in the project's cache directory) is derived from the
model files on the user's machine and is never committed. Converting takes a few seconds
once; loading takes a few tens of milliseconds.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from engines.face_model.assets import (
    cache_root,
    fetch_ict,
    find_ict_dir,
    load_manifest,
    open_model_file,
)
from engines.face_model.exceptions import ModelFilesNotFoundError, ModelFormatError
from engines.face_model.obj import parse_obj, parse_obj_vertices, triangulate

__all__ = [
    "CACHE_VERSION",
    "EXPRESSION_NAMES",
    "ICT_NUM_VERTICES",
    "LANDMARKS_68",
    "POLYGON_RANGES",
    "VERTEX_RANGES",
    "FaceModelData",
    "convert_ict",
    "load_ict",
]

logger = logging.getLogger(__name__)

CACHE_VERSION = 1
ICT_NUM_VERTICES = 26719
NUM_IDENTITY_MODES = 100

# The 53 expression shapes, ARKit names with _L/_R (ICT vertex_indices.json order).
EXPRESSION_NAMES: tuple[str, ...] = (
    "browDown_L", "browDown_R", "browInnerUp_L", "browInnerUp_R", "browOuterUp_L",
    "browOuterUp_R", "cheekPuff_L", "cheekPuff_R", "cheekSquint_L", "cheekSquint_R",
    "eyeBlink_L", "eyeBlink_R", "eyeLookDown_L", "eyeLookDown_R", "eyeLookIn_L",
    "eyeLookIn_R", "eyeLookOut_L", "eyeLookOut_R", "eyeLookUp_L", "eyeLookUp_R",
    "eyeSquint_L", "eyeSquint_R", "eyeWide_L", "eyeWide_R", "jawForward", "jawLeft",
    "jawOpen", "jawRight", "mouthClose", "mouthDimple_L", "mouthDimple_R", "mouthFrown_L",
    "mouthFrown_R", "mouthFunnel", "mouthLeft", "mouthLowerDown_L", "mouthLowerDown_R",
    "mouthPress_L", "mouthPress_R", "mouthPucker", "mouthRight", "mouthRollLower",
    "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmile_L", "mouthSmile_R",
    "mouthStretch_L", "mouthStretch_R", "mouthUpperUp_L", "mouthUpperUp_R", "noseSneer_L",
    "noseSneer_R",
)  # fmt: skip

# Geometry parts from the ICT README: name -> [first, last + 1) vertex and polygon indices.
VERTEX_RANGES: dict[str, tuple[int, int]] = {
    "face": (0, 9409),
    "head_neck": (9409, 11248),
    "mouth_socket": (11248, 13294),
    "eye_socket_left": (13294, 13678),
    "eye_socket_right": (13678, 14062),
    "gums_tongue": (14062, 17039),
    "teeth": (17039, 21451),
    "eyeball_left": (21451, 23021),
    "eyeball_right": (23021, 24591),
    "lacrimal_left": (24591, 24795),
    "lacrimal_right": (24795, 24999),
    "eye_blend_left": (24999, 25023),
    "eye_blend_right": (25023, 25047),
    "eye_occlusion_left": (25047, 25199),
    "eye_occlusion_right": (25199, 25351),
    "eyelashes_left": (25351, 26035),
    "eyelashes_right": (26035, 26719),
    "narrow_face": (0, 6706),
    "sclera_left": (21451, 22221),
    "iris_left": (22221, 23021),
    "sclera_right": (23021, 23791),
    "iris_right": (23791, 24591),
}
POLYGON_RANGES: dict[str, tuple[int, int]] = {
    "face": (0, 9230),
    "head_neck": (9230, 11144),
    "mouth_socket": (11144, 13226),
    "eye_socket_left": (13226, 13630),
    "eye_socket_right": (13630, 14034),
    "gums_tongue": (14034, 17006),
    "teeth": (17006, 21496),
    "eyeball_left": (21496, 23094),
    "eyeball_right": (23094, 24692),
    "lacrimal_left": (24692, 24855),
    "lacrimal_right": (24855, 25018),
    "eye_blend_left": (25018, 25033),
    "eye_blend_right": (25033, 25048),
    "eye_occlusion_left": (25048, 25176),
    "eye_occlusion_right": (25176, 25304),
    "eyelashes_left": (25304, 25844),
    "eyelashes_right": (25844, 26384),
    "narrow_face": (0, 6560),
    "sclera_left": (21496, 22296),
    "iris_left": (22296, 23094),
    "sclera_right": (23094, 23894),
    "iris_right": (23894, 24692),
}

# Multi-PIE 68 landmark vertices (ICT README, 0-based).
LANDMARKS_68: tuple[int, ...] = (
    1225, 1888, 1052, 367, 1719, 1722, 2199, 1447, 966, 3661, 4390, 3927, 3924, 2608, 3272,
    4088, 3443, 268, 493, 1914, 2044, 1401, 3615, 4240, 4114, 2734, 2509, 978, 4527, 4942,
    4857, 1140, 2075, 1147, 4269, 3360, 1507, 1542, 1537, 1528, 1518, 1511, 3742, 3751, 3756,
    3721, 3725, 3732, 5708, 5695, 2081, 0, 4275, 6200, 6213, 6346, 6461, 5518, 5957, 5841,
    5702, 5711, 5533, 6216, 6207, 6470, 5517, 5966,
)  # fmt: skip
# Extended jawlines (ICT README): sliding contour candidates for the Multi-PIE points 0-7, 9-16.
JAWLINE_RIGHT_EXTENDED: tuple[int, ...] = (
    1280, 1278, 1275, 1272, 1248, 12, 820, 1834, 1902, 243, 844, 781, 1673, 2199, 801, 1447, 800,
)  # fmt: skip
JAWLINE_LEFT_EXTENDED: tuple[int, ...] = (
    3041, 3661, 3042, 4390, 3880, 3022, 3085, 2484, 4102, 4036, 3061, 2253, 3466, 3490, 3493,
    3496, 3498,
)  # fmt: skip


@dataclass(frozen=True)
class FaceModelData:
    """The ICT Face Model Light in arrays (units: centimetres, +y up, +z towards the viewer).

    Attributes:
        neutral: (V, 3) float32 generic neutral mesh.
        identity_basis: (K, V, 3) float32 identity PCA modes (mode mesh minus neutral).
        expression_basis: (E, V, 3) float32 expression shapes (shape mesh minus neutral), E=53.
        expression_names: E names, ARKit style with _L/_R.
        faces: (F, 3) int32 triangles (fan-triangulated polygons).
        face_uvs: (F, 3) int32 UV indices per triangle corner.
        uvs: (T, 2) float32 texture coordinates in [0, 1], v up.
        face_polygon: (F,) int32 source polygon of each triangle.
        face_material: (F,) int32 index into ``materials``.
        materials: material names (M_Face, M_Teeth, ...).
        vertex_ranges: geometry part -> [first, last + 1) vertex indices.
        face_ranges: geometry part -> [first, last + 1) triangle indices.
        landmarks_68: (68,) int32 Multi-PIE landmark vertices.
        commit: the ICT-FaceKit commit the arrays were converted from.
    """

    neutral: NDArray[np.float32]
    identity_basis: NDArray[np.float32]
    expression_basis: NDArray[np.float32]
    expression_names: tuple[str, ...]
    faces: NDArray[np.int32]
    face_uvs: NDArray[np.int32]
    uvs: NDArray[np.float32]
    face_polygon: NDArray[np.int32]
    face_material: NDArray[np.int32]
    materials: tuple[str, ...]
    vertex_ranges: dict[str, tuple[int, int]] = field(default_factory=dict)
    face_ranges: dict[str, tuple[int, int]] = field(default_factory=dict)
    landmarks_68: NDArray[np.int32] = field(
        default_factory=lambda: np.array(LANDMARKS_68, np.int32)
    )
    commit: str = ""

    @property
    def num_vertices(self) -> int:
        return int(self.neutral.shape[0])

    @property
    def num_identity(self) -> int:
        return int(self.identity_basis.shape[0])

    @property
    def num_expressions(self) -> int:
        return int(self.expression_basis.shape[0])

    def expression_index(self, name: str) -> int:
        """Index of an expression shape by name; ValueError listing the valid names."""
        try:
            return self.expression_names.index(name)
        except ValueError:
            raise ValueError(
                f"unknown expression shape {name!r}; valid: {', '.join(self.expression_names)}"
            ) from None

    def faces_of(self, *parts: str) -> NDArray[np.int32]:
        """(F_p, 3) triangles of the named geometry parts (keys of ``face_ranges``)."""
        chunks = [self.faces[slice(*self.face_ranges[p])] for p in parts]
        return np.concatenate(chunks, axis=0)


def _face_ranges(face_polygon: NDArray[np.int32]) -> dict[str, tuple[int, int]]:
    """Map the README's polygon ranges to ranges of triangles (polygons are in order)."""
    ranges: dict[str, tuple[int, int]] = {}
    for name, (first, stop) in POLYGON_RANGES.items():
        start_tri = int(np.searchsorted(face_polygon, first, side="left"))
        stop_tri = int(np.searchsorted(face_polygon, stop, side="left"))
        ranges[name] = (start_tri, stop_tri)
    return ranges


def convert_ict(model_dir: Path, cache_file: Path, *, progress: bool = True) -> Path:
    """Parse the ICT OBJs in ``model_dir`` into one uncompressed ``.npz`` at ``cache_file``."""
    from tqdm import tqdm

    started = time.perf_counter()
    base = parse_obj(open_model_file(model_dir, "FaceXModel/generic_neutral_mesh.obj"))
    if base.vertices.shape[0] != ICT_NUM_VERTICES:
        raise ModelFormatError(
            f"generic_neutral_mesh.obj has {base.vertices.shape[0]} vertices, "
            f"expected {ICT_NUM_VERTICES}"
        )
    faces, face_uvs, face_polygon = triangulate(base)
    neutral = base.vertices

    def shape_delta(name: str) -> NDArray[np.float32]:
        vertices = parse_obj_vertices(open_model_file(model_dir, f"FaceXModel/{name}.obj"))
        if vertices.shape != neutral.shape:
            raise ModelFormatError(f"{name}.obj has {vertices.shape[0]} vertices")
        return vertices - neutral

    names = [*EXPRESSION_NAMES] + [f"identity{i:03d}" for i in range(NUM_IDENTITY_MODES)]
    deltas = [shape_delta(n) for n in tqdm(names, desc="converting ICT", disable=not progress)]
    expression_basis = np.stack(deltas[: len(EXPRESSION_NAMES)]).astype(np.float32)
    identity_basis = np.stack(deltas[len(EXPRESSION_NAMES) :]).astype(np.float32)
    uvs = base.uvs
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    partial = cache_file.with_name(cache_file.name + ".part.npz")
    np.savez(
        partial,
        neutral=neutral,
        identity_basis=identity_basis,
        expression_basis=expression_basis,
        faces=faces,
        face_uvs=face_uvs,
        uvs=uvs,
        face_polygon=face_polygon,
        face_material=base.polygon_material[face_polygon],
        meta=np.array(
            json.dumps(
                {
                    "cache_version": CACHE_VERSION,
                    "commit": load_manifest().commit,
                    "expression_names": list(EXPRESSION_NAMES),
                    "materials": base.materials,
                    "face_ranges": _face_ranges(face_polygon),
                }
            )
        ),
    )
    partial.replace(cache_file)
    logger.info("converted ICT model in %.1f s -> %s", time.perf_counter() - started, cache_file)
    return cache_file


def default_cache_file() -> Path:
    """Where the converted model lives: ``<cache>/ict_light_<commit10>_v<version>.npz``."""
    commit = load_manifest().commit[:10]
    return cache_root() / f"ict_light_{commit}_v{CACHE_VERSION}.npz"


def _read_cache(cache_file: Path) -> FaceModelData:
    with np.load(cache_file, allow_pickle=False) as archive:
        meta = json.loads(str(archive["meta"]))
        return FaceModelData(
            neutral=archive["neutral"],
            identity_basis=archive["identity_basis"],
            expression_basis=archive["expression_basis"],
            expression_names=tuple(meta["expression_names"]),
            faces=archive["faces"],
            face_uvs=archive["face_uvs"],
            uvs=archive["uvs"],
            face_polygon=archive["face_polygon"],
            face_material=archive["face_material"],
            materials=tuple(meta["materials"]),
            vertex_ranges=dict(VERTEX_RANGES),
            face_ranges={k: (int(a), int(b)) for k, (a, b) in meta["face_ranges"].items()},
            commit=str(meta["commit"]),
        )


def load_ict(
    model_dir: str | os.PathLike[str] | None = None,
    *,
    cache_file: Path | None = None,
    allow_download: bool = True,
    progress: bool = False,
) -> FaceModelData:
    """Load the ICT Face Model Light, converting (and if needed downloading) it once.

    Args:
        model_dir: explicit ICT-FaceKit directory; default: search (see ``assets``).
        cache_file: converted cache to use; default ``default_cache_file()``.
        allow_download: fetch the pinned files when no local copy exists.
        progress: show progress bars while downloading or converting.

    Raises:
        ModelFilesNotFoundError: no local copy and downloading not allowed.
    """
    target = cache_file if cache_file is not None else default_cache_file()
    if target.is_file() and model_dir is None:
        return _read_cache(target)
    directory = find_ict_dir(model_dir)
    if directory is None:
        if not allow_download:
            raise ModelFilesNotFoundError(
                "ICT Face Model files not found; set ICT_FACEKIT_DIR or run `facecast model fetch`"
            )
        directory = fetch_ict(progress=progress)
    if not target.is_file() or model_dir is not None:
        convert_ict(directory, target, progress=progress)
    return _read_cache(target)
