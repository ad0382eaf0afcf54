"""Her own teeth, wherever a tooth sits over where the photo showed that row.

ICT's teeth are closed shells mostly hidden behind the lips; a tooth vertex took the photo
only by its own facing ramp (calibration's vertex visibility), and the papillae between the
crowns never did. So a smiling photo's re-render drew most of her visible teeth in the
synthetic palette, with the papillae's shadow between them: grey "braces" on white teeth
(astronaut: mean difference 27.8 levels over the mouth's interior pixels).

Here, once per avatar, the photo's mouth share (``unfold.photo_mouth_share``: her teeth and
the shadows between them, neither lip nor skin) is kept for a tooth row (upper teeth and
their papillae, which stay with the skull; lower, with the jaw) where the renderer, at the
photo's own expression and pose, shows that row. Per pixel the shader lets a triangle of that
row take the photo by this map at the pixel's own source position. So her teeth keep their
colour and light where the photo showed them, and a pixel whose source is lip (a grin
uncovering the teeth under the upper lip; a fit slightly off at the lip's edge) or the other
row (the lower teeth a jaw drop brings out from behind the upper ones) stays synthetic, in
her palette.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["PhotoInterior", "photo_interior"]


@dataclass(frozen=True)
class PhotoInterior:
    """What the photo shows of the mouth's interior, per crop pixel.

    Attributes:
        surface: (S, S) int8 the interior surface the renderer shows there at the photo's own
            expression and pose (``RenderMesh.interior_surface``; 0: none, lips or skin).
        share: (S, S) float32 in [0, 1] how much of the pixel the photo shows as the inside of
            her mouth (not her lips' colour), 0 where ``surface`` is 0.
    """

    surface: NDArray[np.int8]
    share: NDArray[np.float32]


def photo_interior(
    mouth_share: NDArray[np.float32],
    source_triangle: NDArray[np.int32],
    interior_surface: NDArray[np.int8],
) -> PhotoInterior:
    """The photo's mouth interior, surface by surface.

    Args:
        mouth_share: (S, S) float32 in [0, 1], ``unfold.photo_mouth_share`` of the crop.
        source_triangle: (R, R) int32 the raster's triangle per pixel at the photo's own
            expression and pose (-1: empty); pixels are matched to the crop's by nearest
            neighbour.
        interior_surface: (F,) int8 per triangle (``RenderMesh.interior_surface``).
    """
    size = mouth_share.shape[0]
    surface = np.where(
        source_triangle >= 0, interior_surface[np.maximum(source_triangle, 0)], 0
    ).astype(np.uint8)
    surface = cv2.resize(surface, (size, size), interpolation=cv2.INTER_NEAREST).astype(np.int8)
    share = np.where(surface > 0, mouth_share, 0.0).astype(np.float32)
    return PhotoInterior(surface=np.ascontiguousarray(surface), share=np.ascontiguousarray(share))
