"""Head rotation and the camera: Euler angles and the scaled-orthographic projection.

Conventions (used by calibration, the renderer and the instruction engines alike):

* Model space: ICT centimetres, +x to the subject's left (image right when frontal), +y up,
  +z out of the face towards the camera.
* Head pose: Euler angles in radians ``(pitch, yaw, roll)``; ``R = Rz(roll) · Ry(yaw) · Rx(pitch)``.
  Angles are about the model axes (x: pitch, y: yaw, z: roll), right-handed.
* Camera: scaled orthographic (weak perspective). A model point ``v`` lands at pixel

      u = s · (R v)_x + t_u
      w = -s · (R v)_y + t_w          (image rows grow downwards)
      depth = s · (R v)_z             (larger is closer to the camera)

  with ``s`` in pixels per centimetre and ``(t_u, t_w)`` in pixels. At webcam distances
  (≥ 50 cm, head depth ≈ 20 cm) the perspective error of this model is a few percent of
  the face size, below what the landmark detector resolves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

__all__ = [
    "OrthoCamera",
    "euler_to_matrix",
    "euler_to_matrix_torch",
    "matrix_to_euler",
    "project",
    "project_torch",
]


def euler_to_matrix(pitch: float, yaw: float, roll: float) -> NDArray[np.float64]:
    """(3, 3) rotation ``Rz(roll) · Ry(yaw) · Rx(pitch)`` from angles in radians."""
    cx, sx = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    cz, sz = math.cos(roll), math.sin(roll)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def matrix_to_euler(rotation: NDArray[np.floating]) -> tuple[float, float, float]:
    """Inverse of :func:`euler_to_matrix`: ``(pitch, yaw, roll)`` in radians, yaw in [-90°, 90°]."""
    r = np.asarray(rotation, np.float64)
    yaw = math.asin(float(np.clip(-r[2, 0], -1.0, 1.0)))
    pitch = math.atan2(float(r[2, 1]), float(r[2, 2]))
    roll = math.atan2(float(r[1, 0]), float(r[0, 0]))
    return pitch, yaw, roll


def euler_to_matrix_torch(angles: torch.Tensor) -> torch.Tensor:
    """Batched :func:`euler_to_matrix`: (B, 3) ``(pitch, yaw, roll)`` -> (B, 3, 3)."""
    pitch, yaw, roll = angles.unbind(-1)
    one, zero = torch.ones_like(pitch), torch.zeros_like(pitch)
    cx, sx = torch.cos(pitch), torch.sin(pitch)
    cy, sy = torch.cos(yaw), torch.sin(yaw)
    cz, sz = torch.cos(roll), torch.sin(roll)
    rx = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1).reshape(-1, 3, 3)
    ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).reshape(-1, 3, 3)
    rz = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1).reshape(-1, 3, 3)
    return rz @ ry @ rx


@dataclass(frozen=True)
class OrthoCamera:
    """Scaled-orthographic camera: ``scale`` px/cm and the image position ``(tu, tw)`` in px."""

    scale: float
    tu: float
    tw: float


def project(
    vertices: NDArray[np.floating], rotation: NDArray[np.floating], camera: OrthoCamera
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Project model-space vertices to pixels.

    Args:
        vertices: (V, 3) model space.
        rotation: (3, 3) head rotation.
        camera: the scaled-orthographic camera.

    Returns:
        pixels: (V, 2) float32 ``(u, w)`` (column, row).
        depth: (V,) float32, larger is closer.
    """
    rotated = np.asarray(vertices, np.float64) @ np.asarray(rotation, np.float64).T
    pixels = np.empty((rotated.shape[0], 2), np.float32)
    pixels[:, 0] = camera.scale * rotated[:, 0] + camera.tu
    pixels[:, 1] = -camera.scale * rotated[:, 1] + camera.tw
    depth = (camera.scale * rotated[:, 2]).astype(np.float32)
    return pixels, depth


def project_torch(
    vertices: torch.Tensor, rotation: torch.Tensor, scale: torch.Tensor, offset: torch.Tensor
) -> torch.Tensor:
    """Batched differentiable projection.

    Args:
        vertices: (B, V, 3).
        rotation: (B, 3, 3).
        scale: (B,) px/cm.
        offset: (B, 2) ``(tu, tw)``.

    Returns:
        (B, V, 2) pixels ``(u, w)``.
    """
    rotated = vertices @ rotation.transpose(1, 2)
    flip = torch.tensor([1.0, -1.0], dtype=vertices.dtype, device=vertices.device)
    return scale.reshape(-1, 1, 1) * rotated[..., :2] * flip + offset.reshape(-1, 1, 2)
