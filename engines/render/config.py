"""Settings of the avatar renderer (one dataclass, validated once)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BACKENDS", "COMPOSITORS", "RenderConfig"]

BACKENDS: tuple[str, ...] = ("numba",)
COMPOSITORS: tuple[str, ...] = ("remap", "numba")


@dataclass(frozen=True)
class RenderConfig:
    """How an avatar is rendered.

    Attributes:
        size: output side in pixels (square crop around the face).
        backend: rasterizer backend name (see :data:`BACKENDS`).
        compositor: "remap" (cv2.remap of the photo through the upsampled warp, then gain and
            colour next to the face in numba; default, faster) or "numba" (one fused pass).
        raster_scale: the mesh is rasterized at ``size * raster_scale`` and the smooth fields
            (warp, shading gain, overlay colour) are upsampled; the photo is sampled at ``size``.
        crop_scale: side of the square crop relative to the fitted face's size.
        feather: width of the seam between the face's own warp and the warp extended around
            it, in raster pixels (Gaussian sigma): at the mesh edge the warp is the extended one.
        extend_sigma: reach of the warp that carries hair, neck and background along with the
            face, as a fraction of the crop side.
        shading_transfer: re-shade the skin with SH expression ratio images.
        ratio_clip: (low, high) bounds of the shading ratio (approached smoothly).
        shading_strength: exponent of the expression's ratio (1 = physical under the fitted
            SH light; the mesh and 2nd-order SH light are smoother than real folds, so 1.5 makes
            a removed smile's folds and cheek bulges fade visibly).
        pose_shading_strength: exponent of the head turn's ratio (the turned surface against
            the unturned one under the same light; 1 = physical: exaggerating it draws the
            light's falloff across the cheek as a band).
        texture_below_visibility: where the source saw a skin point less than this, its
            colour comes from the avatar's UV texture rather than the photo (grazing surfaces
            are still right in the photo; only the truly unseen need the texture).
        texture_turn_facing: (low, high) how far a skin point must face the camera more than
            in the photo (cosine of its normal to the view, over the photo's) before it takes
            its share of the UV texture (``texture_below_visibility``): none below ``low``, all
            of it above ``high``. At the photo's own pose the photo is right even where it saw
            the skin edge-on (the texture there holds what covered it: her hair at the
            temple); a turn towards that skin shows it better than the photo did.
        wrinkles: animated wrinkles (``engines.render.wrinkles``): skin folds the new
            expression adds to the photo's own (forehead lines, brow furrows, nasolabial
            folds, crow's feet, ...), baked once per avatar, a gain on the skin per frame.
        wrinkle_strength: multiplies the folds' depth (1 = as designed; 0 = none).
        unfold: where the expression falls below the photo's own (a smiling photo made
            neutral or sad), flatten the photo's own folds of those shapes (nasolabial fold,
            cheek bulge, crow's feet, brow furrows, ...): their shading is replaced by its
            smooth version (``wrinkles._flatten_gain``). Needs ``wrinkles``.
        mouth_cavity: draw the synthetic mouth interior from the photo's own colour
            statistics (a grey photo gets a grey mouth) as a dark cavity shaded by the lips'
            opening (darker away from the lips, and as a whole the narrower the gap), with
            the teeth lit per tooth and the gums behind the teeth in shadow. False: the flat
            fixed palette of the previous renderer (socket red-brown, gums pink, off-white
            teeth), kept for A/B evaluation.
        eye_fill: where a lid opens wider than in the photo (eyeWide, surprise, fear), show
            more of her eye (the photo's sclera tone and iris colour, the iris completed as a
            disc at the photo's iris circle, a soft shadow under the upper lid) instead of the
            photo's lid stretched over the eyeball (``engines.render.eyeball``); False = the
            plain warp of the photo there.
        eye_edge_feather: with ``eye_fill``, the eyeball a lid uncovers takes the lid's warp
            and is blended into the lid's edge (``shader.feather_eye``); False: the raised
            lid's edge drawn as before session 12 (a dotted dark line of the photo's lashes).
        rigid_brows: the brow raises (AU1, AU2) move the photo's brow hair as one piece (as
            the brow's own most-moving skin in its column) and the lid between it and its
            pretarsal skin stretches evenly (``engines.render.brows``), instead of stretching
            whatever part of the hair lies on the mesh's unrolling lid crease; False = ICT's
            own displacement there.
        matte_edge: softness of the matte's edge where the mesh outline bounds it
            (``AvatarRenderer.matte``: the OBS overlay's key), as a fraction of ``size``.
    """

    size: int = 512
    backend: str = "numba"
    compositor: str = "remap"
    raster_scale: float = 0.5
    crop_scale: float = 1.9
    feather: float = 4.0
    extend_sigma: float = 0.06
    shading_transfer: bool = True
    ratio_clip: tuple[float, float] = (0.7, 1.12)
    shading_strength: float = 1.5
    pose_shading_strength: float = 1.0
    texture_below_visibility: float = 0.15
    texture_turn_facing: tuple[float, float] = (0.05, 0.25)
    wrinkles: bool = True
    wrinkle_strength: float = 1.0
    unfold: bool = True
    mouth_cavity: bool = True
    eye_fill: bool = True
    eye_edge_feather: bool = True
    rigid_brows: bool = True
    matte_edge: float = 0.006

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or not 16 <= self.size <= 4096:
            raise ValueError(f"RenderConfig.size must be an int in [16, 4096], got {self.size!r}")
        if self.backend not in BACKENDS:
            raise ValueError(
                f"unknown render backend {self.backend!r}; valid: {', '.join(BACKENDS)}"
            )
        if self.compositor not in COMPOSITORS:
            raise ValueError(
                f"unknown compositor {self.compositor!r}; valid: {', '.join(COMPOSITORS)}"
            )
        if not 0.125 <= self.raster_scale <= 1.0:
            raise ValueError(f"raster_scale must be in [0.125, 1], got {self.raster_scale}")
        if not 1.0 <= self.crop_scale <= 4.0:
            raise ValueError(f"crop_scale must be in [1, 4], got {self.crop_scale}")
        if not 0.0 <= self.feather <= 10.0:
            raise ValueError(f"feather must be in [0, 10] raster px, got {self.feather}")
        if not 0.005 <= self.extend_sigma <= 0.5:
            raise ValueError(f"extend_sigma must be in [0.005, 0.5], got {self.extend_sigma}")
        low, high = self.ratio_clip
        if not 0.0 < low <= 1.0 <= high:
            raise ValueError(f"ratio_clip must satisfy 0 < low <= 1 <= high, got {self.ratio_clip}")
        if not 0.0 <= self.shading_strength <= 4.0:
            raise ValueError(f"shading_strength must be in [0, 4], got {self.shading_strength}")
        if not 0.0 <= self.pose_shading_strength <= 4.0:
            raise ValueError(
                f"pose_shading_strength must be in [0, 4], got {self.pose_shading_strength}"
            )
        if not 0.0 <= self.wrinkle_strength <= 3.0:
            raise ValueError(f"wrinkle_strength must be in [0, 3], got {self.wrinkle_strength}")
        if not 0.0 <= self.matte_edge <= 0.1:
            raise ValueError(f"matte_edge must be in [0, 0.1], got {self.matte_edge}")
        if not 0.0 < self.texture_below_visibility <= 1.0:
            raise ValueError("texture_below_visibility must be in (0, 1]")
        turn_low, turn_high = self.texture_turn_facing
        if not 0.0 <= turn_low < turn_high <= 2.0:
            raise ValueError(
                "texture_turn_facing must satisfy 0 <= low < high <= 2, "
                f"got {self.texture_turn_facing}"
            )

    @property
    def raster_size(self) -> int:
        """Side of the rasterized fields in pixels."""
        return max(8, round(self.size * self.raster_scale))
