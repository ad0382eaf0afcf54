"""The avatar's matte, per frame: what of the output is the person, what the photo's background.

Two sources, joined (per-pixel maximum):

1. The person matte of the source photo (``extra["person_matte"]``: face, hair, neck,
   shoulders; calibration's segmentation), sampled through the frame's backward warp exactly
   as the compositor samples the photo, so the hair and neck follow the head and jaw.
2. The mesh's coverage of the frame (face, skull, ears, neck, mouth, eyes; holes filled),
   with a soft edge (a Gaussian of ``edge_sigma`` output pixels): the face is always in,
   also for avatars without a person matte (older files), which then key out everything
   beyond the head and neck mesh, the hair beyond the skull included.

Cost, 512² output: about 1-2 ms per frame (only computed for outputs that use it).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["MatteBuilder", "fill_holes"]


def fill_holes(mask: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """(H, W) uint8 0/255 mask with every region the outside cannot reach set to 255."""
    height, width = mask.shape
    padded = np.zeros((height + 2, width + 2), np.uint8)
    padded[1:-1, 1:-1] = mask
    flood = np.zeros((height + 4, width + 4), np.uint8)
    cv2.floodFill(padded, flood, (0, 0), 128)
    return np.asarray(np.where(padded[1:-1, 1:-1] == 128, 0, 255), np.uint8)


def _tighten(person: NDArray[np.uint8]) -> NDArray[np.float32]:
    """The segmentation's probabilities as a matte: smoothstep from 0.35 to 0.9 (its soft
    band reaches a few pixels into the background: that would leave a halo of it)."""
    t = np.clip((person.astype(np.float32) * (1.0 / 255.0) - 0.35) / 0.55, 0.0, 1.0)
    return np.asarray(t * t * (3.0 - 2.0 * t), np.float32)


class MatteBuilder:
    """Builds the matte of each frame from the renderer's last warp and coverage.

    Args:
        person: (S, S) uint8 person matte of the crop (None: the mesh's coverage only).
        size: output side S in pixels.
        edge_sigma: softness of the mesh coverage's edge, output pixels (Gaussian sigma).
    """

    def __init__(self, person: NDArray[np.uint8] | None, size: int, edge_sigma: float) -> None:
        if person is not None and person.shape != (size, size):
            raise ValueError(f"person matte must be ({size}, {size}), got {person.shape}")
        self.size = size
        self.edge_sigma = float(edge_sigma)
        self.has_person = person is not None
        self._person = None if person is None else _tighten(person)
        axis = np.arange(size, dtype=np.float32)
        self._columns, self._rows = np.meshgrid(axis, axis)
        self._map_x = np.zeros((size, size), np.float32)
        self._map_y = np.zeros((size, size), np.float32)

    def matte(
        self,
        warp: NDArray[np.float32],
        coverage: NDArray[np.float32],
        out: NDArray[np.uint8] | None = None,
    ) -> NDArray[np.uint8]:
        """(S, S) uint8 matte (255 = avatar, 0 = background) of one frame.

        Args:
            warp: (R, R, 2) backward displacement of the frame, output pixels (the
                renderer's ``last_warp``).
            coverage: (R, R) the mesh's coverage of the frame (> 0 where covered).
            out: optional (S, S) uint8 array to write into.
        """
        size = self.size
        raster = coverage.shape[0]
        covered = fill_holes(np.where(coverage > 0, 255, 0).astype(np.uint8))
        sigma = max(self.edge_sigma * raster / size, 0.3)
        soft = cv2.GaussianBlur(covered.astype(np.float32) * (1.0 / 255.0), (0, 0), sigma)
        soft = cv2.resize(soft, (size, size), interpolation=cv2.INTER_LINEAR)
        # the edge band centred on the outline: 0 from about one sigma outside
        alpha = np.clip((soft - 0.25) * 2.0, 0.0, 1.0)
        if self._person is not None:
            displacement = cv2.resize(warp, (size, size), interpolation=cv2.INTER_LINEAR)
            np.add(self._columns, displacement[..., 0], out=self._map_x)
            np.add(self._rows, displacement[..., 1], out=self._map_y)
            person = cv2.remap(
                self._person,
                self._map_x,
                self._map_y,
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
            np.maximum(alpha, person, out=alpha)
        result = out if out is not None else np.empty((size, size), np.uint8)
        np.multiply(alpha, 255.0, out=alpha)
        np.add(alpha, 0.5, out=alpha)
        result[...] = alpha.astype(np.uint8)
        return result
