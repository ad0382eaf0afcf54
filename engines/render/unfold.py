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
* **Lips over teeth, in the photo's pixels** (:func:`lip_closure_map`): ICT's inner-lip UVs
  overlap other charts, so the UV map above cannot reach every inner-lip texel, and a
  smiling photo made neutral still showed a white slit of her teeth between closed lips. The
  same test is made on the photo's own pixels inside her fitted lips; the shader replaces
  what a lip triangle (:func:`lip_triangles`) samples there by her lip colour, by the same
  activation as the UV map.

Each map is a per-texel RGB gain offset ``g`` (the shader multiplies the photo's colour by
``1 + a·g``, ``a`` the map's activation from the fall of its driving shapes), 0 where the
photo shows nothing to remove, so the photo's own expression (``a = 0``) is untouched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from engines.face_model.ict import FaceModelData

__all__ = [
    "FLATTEN_REGION_MM",
    "LIP_DRIVERS",
    "PhotoMouth",
    "flatten_gain",
    "fold_skin",
    "lip_cleanup_gain",
    "lip_closure_map",
    "lip_triangles",
    "photo_mouth",
    "photo_mouth_share",
    "pixels_per_mm",
]

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
_FLATTEN_LIMITS = (-0.5, 0.8)
# A fold's region (mm): its height field's support blurred by this, so the flattened patch
# has no edge.
FLATTEN_REGION_MM = 4.0
# The skin test (colour near the face's median) fails on a deep fold's own shadow: darker and
# more saturated than lit skin, Obama's nasolabial folds and the astronaut's read as "not
# skin" over their whole length, so the flattening was gated off exactly on them. Where the
# flattening may act, a non-skin line up to this wide inside skin counts as skin (a grey
# closing of the likelihood): the widest fold it removes (above: 2-5 mm), while hair, brows,
# a beard or the lips (wider) stay out.
_FOLD_GAP_MM = 5.0


def fold_skin(skin: NDArray[np.float32], px_per_mm: float) -> NDArray[np.float32]:
    """(S, S) ``skin`` (S, S) likelihood with every darker line up to :data:`_FOLD_GAP_MM`
    wide between skin closed over (grey-level morphological closing, a disc that size)."""
    radius = max(round(0.5 * _FOLD_GAP_MM * px_per_mm), 1)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    closed = cv2.morphologyEx(np.asarray(skin, np.float32), cv2.MORPH_CLOSE, disc)
    return np.asarray(np.maximum(closed, skin), np.float32)


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
    smooth = (
        cv2.GaussianBlur(rgb * weight[..., None], (0, 0), sigma)
        / cv2.GaussianBlur(weight, (0, 0), sigma)[..., None]
    )
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
_GREY_CHROMA = 6.0  # Lab chroma of lips below which the photo is taken as black and white
_TEETH_REACH_MM = 1.5  # teeth show within this of the fitted mouth opening
_TEETH_RIM_MM = 1.0  # the blend of teeth and lip around them, replaced with the teeth
_SKIN_DISTANCE = (8.0, 16.0)  # Lab distance from the skin around the mouth: not skin beyond


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
    # Only what is brighter and less red than her lips (teeth): the dark of the mouth corners
    # is the commissure's own shadow, and a lit lip stays red (Clooney's lower lip, lit and
    # paler than his shadowed upper lip, was taken for teeth and painted a flat grey).
    brighter = np.clip(diff[:, 0] / 10.0, 0.0, 1.0)
    not_lip = np.where(
        inside, t * t * (3 - 2 * t) * brighter * _less_red_than_lips(lab, reference), 0.0
    )
    # Her lip colour around each texel: a normalized blur of the lip-like texels in UV space.
    lip_weight = np.zeros((size, size), np.float32)
    lip_colour = np.zeros((size, size, 3), np.float32)
    lip_weight[rows, cols] = (inside * (1.0 - not_lip)).astype(np.float32)
    lip_colour[rows, cols] = colour * lip_weight[rows, cols, None]
    sigma = max(_LIP_FILL_MM * size / 240.0, 1.0)
    spread = cv2.GaussianBlur(lip_weight, (0, 0), sigma)
    filled = cv2.GaussianBlur(lip_colour, (0, 0), sigma) / np.maximum(spread, 1e-4)[..., None]
    median_rgb = (
        np.median(colour[inside & (not_lip < 0.5)], axis=0)
        if ((inside & (not_lip < 0.5)).sum() > 10)
        else np.median(colour[inside], axis=0)
    )
    trust = np.clip(spread[rows, cols] / 0.2, 0.0, 1.0)[:, None]
    target = trust * filled[rows, cols] + (1.0 - trust) * median_rgb
    gain = target / np.maximum(colour, 8.0) - 1.0
    out = np.clip(gain, *_LIP_LIMITS) * not_lip[:, None]
    return np.asarray(out, np.float64)


def lip_triangles(
    faces: NDArray[np.int32],
    labels_skin: NDArray[np.bool_],
    base: NDArray[np.float32],
    model: FaceModelData,
) -> NDArray[np.bool_]:
    """(F,) the skin triangles of the lips: their three vertices' neutral (x, y) inside the
    outer lip contour (Multi-PIE 48-59) of ``base`` (Vr, 3); the inner lip, which rolls into
    the mouth, lies inside it too."""
    lm = np.asarray(model.landmarks_68)
    polygon = np.asarray(base[lm[48:60], :2], np.float64)
    inside = _inside(np.asarray(base[:, :2], np.float64), polygon)
    return np.asarray(labels_skin & inside[faces].all(axis=1), np.bool_)


@dataclass(frozen=True)
class PhotoMouth:
    """What the photo shows around her fitted lips, per crop pixel ((S, S) float64 each),
    found once per avatar (:func:`photo_mouth`) for :func:`lip_closure_map` and
    :func:`photo_mouth_share`.

    Attributes:
        mouth: share of the pixel that is her teeth or the inside of her mouth (brighter than
            her lips and far from their colour, and unlike the skin around them; inside the
            fitted opening also anything greyer than her lips: the shadows between teeth).
        teeth_region: 1 within the lips grown by 1 mm and near the fitted opening, else 0.
        region: 1 within the fitted lips grown by 1 mm.
        distance: Lab distance (lightness at half weight) from her lips' colour.
        kept: (S, S, 3) the crop blurred at 0.8 mm, uint8.
        lip_points: (N, 2) crop pixels of the fitted lip surface.
        px_per_mm: the crop's scale at the face.
    """

    mouth: NDArray[np.float64]
    teeth_region: NDArray[np.float64]
    region: NDArray[np.float64]
    distance: NDArray[np.float64]
    kept: NDArray[np.uint8]
    lip_points: NDArray[np.float64]
    px_per_mm: float


def photo_mouth(
    crop_image: NDArray[np.uint8],
    lip_contour: NDArray[np.floating],
    mouth_contour: NDArray[np.floating],
    lip_points: NDArray[np.floating],
    px_per_mm: float,
) -> PhotoMouth | None:
    """Her teeth and mouth interior in the photo's pixels; None when the fitted lips cover
    too little of the crop to tell.

    Args:
        crop_image: (S, S, 3) the renderer's crop.
        lip_contour: (P, 2) the fitted outer lip contour in crop pixels (at the photo's own
            expression); mouth_contour: (Q, 2) the fitted inner one. Teeth are looked for
            within :data:`_TEETH_REACH_MM` of the mouth's opening and inside the lips grown by
            1 mm (a highlight on the lower lip is bright and grey too, but further away).
        lip_points: (N, 2) crop pixels of the fitted lip surface (its vertices), for the
            reference lip colour.
        px_per_mm: the crop's scale at the face.
    """
    size = crop_image.shape[0]
    polygon = np.asarray(lip_contour, np.float64)
    filled_polygon = np.zeros((size, size), np.uint8)
    cv2.fillPoly(filled_polygon, [np.round(polygon).astype(np.int32)], 1)
    grow = max(round(px_per_mm), 1)
    region = np.asarray(cv2.dilate(filled_polygon, _disc(grow)), np.float64)
    opening = np.zeros((size, size), np.uint8)
    cv2.fillPoly(opening, [np.round(np.asarray(mouth_contour, np.float64)).astype(np.int32)], 1)
    cv2.polylines(opening, [np.round(np.asarray(mouth_contour)).astype(np.int32)], True, 1)
    reach = max(round(_TEETH_REACH_MM * px_per_mm), 1)
    teeth_region = region * (cv2.dilate(opening, _disc(reach)) > 0)
    if region.sum() < 20 or len(lip_points) < 12:
        return None
    kept = cv2.GaussianBlur(crop_image, (0, 0), max(0.8 * px_per_mm, 0.5))
    lab = cv2.cvtColor(kept, cv2.COLOR_RGB2LAB).astype(np.float32)
    # Her lip colour: the fitted lips' vertices also fall on teeth and on the dark of the
    # mouth where the fit is off, so the reference is taken from the redder half of them
    # (lip red is the most saturated red there) within the middle of their lightness.
    samples = _bilinear(lab, np.asarray(lip_points, np.float64))
    low, high = np.percentile(samples[:, 0], [20.0, 80.0])
    keep = (samples[:, 1] >= np.median(samples[:, 1])) & (samples[:, 0] >= low)
    keep &= samples[:, 0] <= high
    reference = np.median(samples[keep] if keep.sum() >= 6 else samples, axis=0)
    diff = lab - reference
    distance = np.sqrt((0.5 * diff[..., 0]) ** 2 + diff[..., 1] ** 2 + diff[..., 2] ** 2)
    # Teeth: brighter than her lips and less colourful (enamel is near grey, lips and the
    # skin around them are red); on a grey photo only the brightness tells them apart.
    brighter = _smooth(diff[..., 0], 8.0, 20.0)
    chroma = np.hypot(lab[..., 1] - 128.0, lab[..., 2] - 128.0)
    lip_chroma = float(np.hypot(reference[1] - 128.0, reference[2] - 128.0))
    greyer = (
        1.0 - _smooth(chroma, 0.5 * lip_chroma, 0.8 * lip_chroma)
        if lip_chroma > _GREY_CHROMA
        else np.ones_like(chroma)
    )
    # ... and unlike the skin around her mouth (a fitted lip edge that lies on skin keeps it).
    ring_inner = cv2.dilate(filled_polygon, _disc(2 * grow))
    ring = (cv2.dilate(filled_polygon, _disc(4 * grow)) > 0) & (ring_inner == 0)
    unlike_skin = np.ones_like(distance)
    if ring.sum() > 20:
        skin_diff = lab - np.median(lab[ring], axis=0)
        skin_distance = np.sqrt(
            (0.5 * skin_diff[..., 0]) ** 2 + skin_diff[..., 1] ** 2 + skin_diff[..., 2] ** 2
        )
        unlike_skin = _smooth(skin_distance, *_SKIN_DISTANCE)
    teeth = brighter * greyer * unlike_skin * teeth_region
    # Inside the fitted opening, anything greyer than her lips is mouth too, dark or bright:
    # the shadows between and under her teeth, the dark of the cavity at the corners.
    inside = np.asarray(cv2.erode(opening, _disc(1)), np.float64) * region
    mouth = np.maximum(teeth, greyer * unlike_skin * inside)
    return PhotoMouth(
        mouth=np.asarray(mouth, np.float64),
        teeth_region=np.asarray(teeth_region, np.float64),
        region=region,
        distance=np.asarray(distance, np.float64),
        kept=np.asarray(kept, np.uint8),
        lip_points=np.asarray(lip_points, np.float64),
        px_per_mm=float(px_per_mm),
    )


def photo_mouth_share(found: PhotoMouth | None, size: int) -> NDArray[np.float32]:
    """(S, S) float32 over the crop (``size`` S): the share of each pixel that shows her
    teeth or the inside of her mouth (the shadows between her teeth), neither lip nor skin;
    0 elsewhere, and everywhere when ``found`` is None."""
    if found is None:
        return np.zeros((size, size), np.float32)
    # Not her lips' colour, off the blend of enamel and lip at their edge (the rim of
    # :func:`lip_closure_map`): a tooth the lip uncovers must not carry the lip's pink.
    rim = max(round(_TEETH_RIM_MM * found.px_per_mm), 1)
    unlike_lips = cv2.erode(_smooth(found.distance, *_LIP_DISTANCE).astype(np.float32), _disc(rim))
    return (np.maximum(found.mouth, unlike_lips) * found.region).astype(np.float32)


def lip_closure_map(found: PhotoMouth | None, size: int) -> NDArray[np.float32]:
    """(S, S, 4) float32 over the crop (``size`` S): channel 0 the share of a pixel that is
    not lip (brighter than her lips and far from their colour: teeth; inside the fitted
    opening also anything greyer than her lips: the shadows between her teeth), grown by
    :data:`_TEETH_RIM_MM` over the blend of enamel and lip around them, inside her fitted
    lips; channels 1-3 her lip colour around it (RGB, 0-255); 0 / the median lip colour
    elsewhere. All 0 when ``found`` (:func:`photo_mouth`) is None."""
    out = np.zeros((size, size, 4), np.float32)
    if found is None:
        return out
    # The rim of the teeth is a blend of enamel and lip (the photo's blur): left unreplaced,
    # a bright outline of her teeth is what the closed lips showed in their seam.
    rim = max(round(_TEETH_RIM_MM * found.px_per_mm), 1)
    not_lip = cv2.dilate(found.mouth.astype(np.float32), _disc(rim)) * found.teeth_region
    # Her lip colour around each pixel: a normalized blur of the pixels close to her lips'
    # colour (not the commissures' dark, not the skin beyond the fitted edge).
    lip_weight = (found.region * (1.0 - _smooth(found.distance, *_LIP_DISTANCE))).astype(np.float32)
    sigma = max(_LIP_FILL_MM * found.px_per_mm, 1.0)
    spread = cv2.GaussianBlur(lip_weight, (0, 0), sigma)
    rgb = found.kept.astype(np.float32)
    filled = (
        np.asarray(cv2.GaussianBlur(rgb * lip_weight[..., None], (0, 0), sigma), np.float32)
        / np.maximum(spread, 1e-4)[..., None]
    )
    lip_like = lip_weight > 0.5
    median_rgb = (
        np.median(rgb[lip_like], axis=0)
        if lip_like.sum() > 10
        else np.median(_bilinear(rgb, found.lip_points), axis=0)
    )
    trust = np.clip(spread / 0.2, 0.0, 1.0)[..., None]
    out[..., 0] = not_lip
    out[..., 1:] = trust * filled + (1.0 - trust) * median_rgb
    return out


def _less_red_than_lips(lab: NDArray[np.float64], reference: NDArray[np.floating]) -> NDArray:
    """(N,) 0-1 of OpenCV Lab colours ``lab`` (N, 3): how much less red (a*) than her lips'
    ``reference`` (3,) each is. Enamel is not red, even when yellowish (b*), and a lip stays
    red where the light makes it paler; all 1 on a grey photo (lip redness under
    :data:`_GREY_CHROMA`), where only brightness tells teeth."""
    redness = lab[..., 1] - 128.0
    lip_redness = float(reference[1] - 128.0)
    if lip_redness <= _GREY_CHROMA:
        return np.ones_like(redness)
    return 1.0 - _smooth(redness, 0.5 * lip_redness, 0.8 * lip_redness)


def _smooth(x: NDArray[np.floating], low: float, high: float) -> NDArray[np.float64]:
    t = np.clip((np.asarray(x, np.float64) - low) / max(high - low, 1e-6), 0.0, 1.0)
    return np.asarray(t * t * (3.0 - 2.0 * t), np.float64)


def _disc(radius: int) -> NDArray[np.uint8]:
    return np.asarray(
        cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)), np.uint8
    )
