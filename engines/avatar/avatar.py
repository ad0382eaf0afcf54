"""The Avatar: one person's face fitted once from a source frame, saved and loaded exactly.

File format (``.avatar.npz``, format version :data:`AVATAR_FORMAT_VERSION`): a compressed
numpy archive whose arrays are the fields below plus ``extra/<name>`` arrays, and one
``meta`` entry holding UTF-8 JSON (version, model, camera, source size, fit quality, ...).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engines.avatar.exceptions import AvatarFormatError
from engines.face_model.camera import OrthoCamera, euler_to_matrix

__all__ = ["AVATAR_FORMAT_VERSION", "Avatar", "load_avatar", "save_avatar"]

AVATAR_FORMAT_VERSION = 1
_ARRAY_FIELDS = (
    "identity",
    "expression",
    "rotation",
    "source_image",
    "texture",
    "texture_mask",
    "landmarks",
)


@dataclass
class Avatar:
    """A fitted face (see ``engines.face_model.camera`` for the pose and camera conventions).

    Attributes:
        identity: (K,) float32 identity coefficients of the first K ICT modes.
        expression: (53,) float32 expression coefficients of the source frame, in [0, 1].
        rotation: (3,) float32 head pose ``(pitch, yaw, roll)`` in radians.
        camera: scaled-orthographic camera mapping model space to source-image pixels.
        source_image: (H, W, 3) uint8 RGB source frame (what the renderer composites into).
        texture: (T, T, 3) uint8 RGB texture in the ICT UV layout (row 0 is v = 1).
        texture_mask: (T, T) uint8, 255 where the texel was seen in the source, less where filled.
        landmarks: (L, 2) float32 detected landmarks in source pixels (mediapipe: L = 478).
        model: face model name and version, e.g. ``ict-light@da5f95a6``.
        meta: JSON-able metadata (source size, fit quality, timings, ...).
        extra: further named arrays saved and loaded as they are. Calibration writes
            ``vertex_visibility`` (26719,) float32 in [0, 1] (how well the source saw each vertex),
            ``face_mask`` (H, W) uint8 (the fitted face region in the source frame),
            ``fitted_landmarks`` (478, 2) float32 (the fit's landmarks in source pixels) and
            ``sh_lighting`` (9, 3) float32 (second-order spherical-harmonic RGB lighting of the
            source, see ``calibration.lighting``) and ``person_matte`` (H, W) uint8 (the person
            against the background, soft; older avatars lack it).

    ``meta`` (from calibration): calibration_version, source_size, model_version, camera_model,
    identity_modes, fit_quality, faces_found, identity_frames, texture_size, texture_layout.
    The texture covers the ICT face UV tile; its mask is 255·visibility where the source saw the
    texel, 96 where it was mirrored from the other side, 0 where it was filled.
    """

    identity: NDArray[np.float32]
    expression: NDArray[np.float32]
    rotation: NDArray[np.float32]
    camera: OrthoCamera
    source_image: NDArray[np.uint8]
    texture: NDArray[np.uint8]
    texture_mask: NDArray[np.uint8]
    landmarks: NDArray[np.float32]
    model: str = "ict-light"
    meta: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, NDArray[Any]] = field(default_factory=dict)

    @property
    def rotation_matrix(self) -> NDArray[np.float64]:
        """(3, 3) head rotation of the source frame."""
        pitch, yaw, roll = (float(a) for a in self.rotation)
        return euler_to_matrix(pitch, yaw, roll)

    @property
    def source_size(self) -> tuple[int, int]:
        """``(width, height)`` of the source frame in pixels."""
        return int(self.source_image.shape[1]), int(self.source_image.shape[0])


def save_avatar(avatar: Avatar, path: str | os.PathLike[str]) -> Path:
    """Write ``avatar`` to ``path`` atomically (a ``.part`` file renamed into place)."""
    target = Path(path)
    arrays: dict[str, NDArray[Any]] = {name: getattr(avatar, name) for name in _ARRAY_FIELDS}
    for name, value in avatar.extra.items():
        arrays[f"extra/{name}"] = value
    meta = {
        "format_version": AVATAR_FORMAT_VERSION,
        "model": avatar.model,
        "camera": {"scale": avatar.camera.scale, "tu": avatar.camera.tu, "tw": avatar.camera.tw},
        "meta": avatar.meta,
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, allow_pickle=False, **arrays)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    partial.write_bytes(buffer.getvalue())
    partial.replace(target)
    return target


def load_avatar(path: str | os.PathLike[str]) -> Avatar:
    """Read an avatar written by :func:`save_avatar`.

    Raises:
        AvatarFormatError: not an avatar file, an unknown format version or missing fields.
    """
    source = Path(path)
    try:
        with np.load(source, allow_pickle=False) as archive:
            meta = json.loads(bytes(archive["meta"]).decode())
            arrays = {name: archive[name] for name in archive.files if name != "meta"}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as error:
        raise AvatarFormatError(f"{source} is not a Facecast avatar file: {error}") from error
    version = meta.get("format_version")
    if version != AVATAR_FORMAT_VERSION:
        raise AvatarFormatError(
            f"{source}: avatar format version {version!r}, this Facecast reads "
            f"{AVATAR_FORMAT_VERSION}; calibrate the photo again"
        )
    missing = [name for name in _ARRAY_FIELDS if name not in arrays]
    if missing:
        raise AvatarFormatError(f"{source}: missing arrays {missing}")
    camera = meta["camera"]
    return Avatar(
        **{name: arrays[name] for name in _ARRAY_FIELDS},
        camera=OrthoCamera(float(camera["scale"]), float(camera["tu"]), float(camera["tw"])),
        model=str(meta["model"]),
        meta=dict(meta.get("meta", {})),
        extra={k.removeprefix("extra/"): v for k, v in arrays.items() if k.startswith("extra/")},
    )
