"""Taking away what the photo's own expression put in its pixels, as gains in UV space.

The animated wrinkles (``engines.render.wrinkles``) add the folds an expression makes beyond
the photo's; this module bakes the maps that remove what the photo's own expression shows
when the new one falls below it (a smiling photo made neutral, sad or angry):

* **Unfolding** (one map per fold region of :func:`wrinkles.wrinkle_specs`): the photo's
  colour in that region is replaced by its own smooth version, per RGB channel
  (``blur(C, 6 mm) / blur(C, 0.8 mm)``, a normalized convolution over skin-like pixels), so
  a nasolabial fold, a cheek bulge or crow's feet go and the skin's fine grain stays. Per
  channel because a fold's shadow is more saturated than the lit skin: a grey gain turned it
  into an orange line.
* **Lips over teeth** (one map): a fitted lip edge that lies over the photo's teeth (or the
  dark of an open mouth) carried a white or dark line between lips that close. Lip texels
  whose photo colour is far from her lips' own colour take the colour of the lip-like texels
  around them.

Each map is a per-texel RGB gain offset ``g`` (the shader multiplies the photo's colour by
``1 + a·g``, ``a`` the map's activation from the fall of its driving shapes), 0 where the
photo shows nothing to remove, so the photo's own expression (``a = 0``) is untouched.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np
from numpy.typing import NDArray

from engines.face_model.ict import FaceModelData

__all__ = ["FLATTEN_REGION_MM", "LIP_DRIVERS", "flatten_gain", "lip_cleanup_gain", "pixels_per_mm"]

logger = logging.getLogger(__name__)

# Removing a fold the photo has (the expression falls below the photo's own): the photo's
# shading in that fold's region is replaced by its own smooth version, ratio
# blur(L, _FLATTEN_SIGMA_MM) / blur(L, _FLATTEN_KEEP_MM), so structure between the two scales
# (a nasolabial fold 2-5 mm wide, a cheek bulge, crow's feet) goes and the skin's fine grain
# stays. 6 mm: wider than an expression line, narrower than the cheek's own curvature. The
# smooth version is a normalized convolution weighted by the skin likelihood (a beard, the
# lips or the hair do not bleed into the skin).
_FLATTEN_SIGMA_MM = 6.0
_FLATTEN_KEEP_MM = 0.8
_FLATTEN_LIMITS = (-0.3, 0.3)
# A fold's region (mm): its height field's support blurred by this, so the flattened patch
# has no edge.
FLATTEN_REGION_MM = 4.0


def pixels_per_mm(
    base: NDArray[np.float32], source_position: NDArray[np.float32], model: FaceModelData
) -> float:
    """The photo crop's scale at the face (px per mm): the outer eye corners' and mouth
    corners' distances in the crop over those of the mesh (frontal extent)."""
    lm = np.asarray(model.landmarks_68)
    ratios = []
    for a, b in ((36, 45), (48, 54), (39, 42)):
        model_mm = float(np.linalg.norm(base[lm[a], :2] - base[lm[b], :2])) * 10.0
        photo_px = float(np.linalg.norm(source_position[lm[a]] - source_position[lm[b]]))
        if model_mm > 1.0:
            ratios.append(photo_px / model_mm)
    return float(np.median(ratios)) if ratios else 1.0


def flatten_gain(
    crop_image: NDArray[np.uint8],
    skin: NDArray[np.float32],
    points: NDArray[np.floating],
    px_per_mm: float,
) -> NDArray[np.float64]:
    """(N, 3) RGB gain offset at crop points (N, 2) that replaces the photo's colour between
    :data:`_FLATTEN_KEEP_MM` and :data:`_FLATTEN_SIGMA_MM` by its smooth version (skin
    pixels only, weighted by ``skin`` (S, S)), limited to :data:`_FLATTEN_LIMITS`."""
    rgb = crop_image.astype(np.float32)
    weight = skin.astype(np.float32) + 1e-3
    sigma = max(_FLATTEN_SIGMA_MM * px_per_mm, 1.0)
    smooth = cv2.GaussianBlur(rgb * weight[..., None], (0, 0), sigma) / cv2.GaussianBlur(
        weight, (0, 0), sigma
    )[..., None]
    kept = cv2.GaussianBlur(rgb, (0, 0), max(_FLATTEN_KEEP_MM * px_per_mm, 0.5))
    ratio = np.asarray(smooth / np.maximum(kept, 8.0) - 1.0, np.float32)
    out = _bilinear(ratio, points)
    if logger.isEnabledFor(logging.DEBUG):  # the percentiles are not free (one per avatar)
        logger.debug("flatten: p1 %.3f p50 %.3f p99 %.3f", *np.percentile(out, [1, 50, 99]))
    return np.clip(out, *_FLATTEN_LIMITS)


def _bilinear(image: NDArray[np.float32], points: NDArray[np.floating]) -> NDArray[np.float64]:
    """(N, C) bilinear samples of a (S, S, C) image at crop pixel coordinates (N, 2)."""
    size = image.shape[0]
    px = np.clip(np.asarray(points[:, 0], np.float64), 0.0, size - 1.001)
    py = np.clip(np.asarray(points[:, 1], np.float64), 0.0, size - 1.001)
    x0, y0 = px.astype(int), py.astype(int)
    fx, fy = (px - x0)[:, None], (py - y0)[:, None]
    top = image[y0, x0] * (1 - fx) + image[y0, x0 + 1] * fx
    bottom = image[y0 + 1, x0] * (1 - fx) + image[y0 + 1, x0 + 1] * fx
    return np.asarray(top * (1 - fy) + bottom * fy, np.float64)



# The lips close (or stop showing teeth) when these fall below the photo's: a full smile's
# fall (both sides 0.5) or a jaw that closes by 1 activates the lip map fully.
LIP_DRIVERS: dict[str, float] = {
    "jawOpen": 1.0,
    "mouthSmile_L": 0.5,
    "mouthSmile_R": 0.5,
    "mouthUpperUp_L": 0.5,
    "mouthUpperUp_R": 0.5,
    "mouthLowerDown_L": 0.5,
    "mouthLowerDown_R": 0.5,
    "mouthStretch_L": 0.5,
    "mouthStretch_R": 0.5,
}
# Colour distance (Lab, lightness at half weight) from her lips' median above which a lip
# texel brighter than her lips is not lip (teeth): fully not-lip beyond the second value.
_LIP_DISTANCE = (12.0, 24.0)
_LIP_FILL_MM = 2.5  # lip colour spread from the lip-like texels around (normalized blur)
_LIP_LIMITS = (-0.8, 0.6)


def _inside(points: NDArray[np.float64], polygon: NDArray[np.float64]) -> NDArray[np.bool_]:
    """(N,) whether points (N, 2) lie inside the closed polygon (P, 2) (even-odd rule)."""
    x, y = points[:, 0], points[:, 1]
    inside = np.zeros(len(points), np.bool_)
    px, py = polygon[:, 0], polygon[:, 1]
    for i in range(len(polygon)):
        x0, y0, x1, y1 = px[i - 1], py[i - 1], px[i], py[i]
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < at)
    return inside


def lip_cleanup_gain(
    crop_image: NDArray[np.uint8],
    position_mm: NDArray[np.float64],
    texel_source: NDArray[np.float64],
    texel_weight: NDArray[np.float64],
    rows: NDArray[np.intp],
    cols: NDArray[np.intp],
    size: int,
    lip_polygon_mm: NDArray[np.float64],
    px_per_mm: float,
) -> NDArray[np.float64]:
    """(N, 3) RGB gain offset of the UV texels (N,) that turns the photo's non-lip colour on
    the lips (teeth, mouth interior under a fitted lip edge) into the colour of her lips
    around it; 0 elsewhere.

    Args:
        crop_image: (S, S, 3) the renderer's crop; position_mm: (N, 2) each texel's neutral
            surface point (x, y) in mm; texel_source: (N, 2) where it is in the crop;
            texel_weight: (N,) its photo weight (how well the photo sees it).
        rows, cols: (N,) the texels in the (size, size) UV map.
        lip_polygon_mm: (P, 2) the outer lip contour (Multi-PIE 48-59) in mm.
    """
    inside = _inside(position_mm, lip_polygon_mm) & (texel_weight > 0.05)
    out = np.zeros((len(rows), 3))
    if inside.sum() < 20:
        return out
    kept = cv2.GaussianBlur(crop_image, (0, 0), max(0.8 * px_per_mm, 0.5))
    lab_image = cv2.cvtColor(kept, cv2.COLOR_RGB2LAB).astype(np.float32)
    colour = _bilinear(kept.astype(np.float32), texel_source)  # (N, 3) RGB
    lab = _bilinear(lab_image, texel_source)
    reference = np.median(lab[inside], axis=0)
    diff = lab - reference
    distance = np.sqrt((0.5 * diff[:, 0]) ** 2 + diff[:, 1] ** 2 + diff[:, 2] ** 2)
    t = np.clip((distance - _LIP_DISTANCE[0]) / (_LIP_DISTANCE[1] - _LIP_DISTANCE[0]), 0, 1)
    # Only what is brighter than her lips (teeth): the dark of the mouth corners is the
    # commissure's own shadow, and it stays.
    brighter = np.clip(diff[:, 0] / 10.0, 0.0, 1.0)
    not_lip = np.where(inside, t * t * (3 - 2 * t) * brighter, 0.0)
    # Her lip colour around each texel: a normalized blur of the lip-like texels in UV space.
    lip_weight = np.zeros((size, size), np.float32)
    lip_colour = np.zeros((size, size, 3), np.float32)
    lip_weight[rows, cols] = (inside * (1.0 - not_lip)).astype(np.float32)
    lip_colour[rows, cols] = colour * lip_weight[rows, cols, None]
    sigma = max(_LIP_FILL_MM * size / 240.0, 1.0)
    spread = cv2.GaussianBlur(lip_weight, (0, 0), sigma)
    filled = cv2.GaussianBlur(lip_colour, (0, 0), sigma) / np.maximum(spread, 1e-4)[..., None]
    median_rgb = np.median(colour[inside & (not_lip < 0.5)], axis=0) if (
        (inside & (not_lip < 0.5)).sum() > 10
    ) else np.median(colour[inside], axis=0)
    trust = np.clip(spread[rows, cols] / 0.2, 0.0, 1.0)[:, None]
    target = trust * filled[rows, cols] + (1.0 - trust) * median_rgb
    gain = target / np.maximum(colour, 8.0) - 1.0
    out = np.clip(gain, *_LIP_LIMITS) * not_lip[:, None]
    return np.asarray(out, np.float64)
