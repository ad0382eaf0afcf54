"""Pick the best source frame of a live capture: frontal, neutral, sharp and well lit.

Per frame (with a face) four scores in [0, 1]:

* ``frontal``: ``exp(-(yaw² + pitch²) / (2 · σ²))`` with σ = ``frontal_sigma_degrees``.
* ``neutrality``: ``exp(-Σψ / neutral_scale)`` over the fitted expression coefficients
  (eye-gaze shapes excluded: looking around is not an expression).
* ``sharpness``: variance of the Laplacian of the face crop resized to 128 px wide,
  divided by the best frame's (so the sharpest frame scores 1).
* ``brightness``: ``1 − 2·|mean − 0.5|`` of the face luminance, minus the clipped fraction.

``total`` is their weighted sum (weights in :class:`SourceChoiceConfig`); frames without a face
score nothing and are never chosen. The pose and expression come from a quick fit (2 + 4
iterations instead of 4 + 12): about 15 ms per frame for detection and 15 ms for the fit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from numpy.typing import NDArray

from calibration.exceptions import NoFaceError

if TYPE_CHECKING:
    from calibration.calibrator import Calibrator

__all__ = ["SourceChoice", "SourceChoiceConfig", "choose_source_frame"]


@dataclass(frozen=True)
class SourceChoiceConfig:
    """Weights and scales of the frame scores.

    Attributes:
        frontal_weight: weight of the frontal score.
        neutral_weight: weight of the neutrality score.
        sharpness_weight: weight of the sharpness score.
        brightness_weight: weight of the lighting score.
        frontal_sigma_degrees: head angle at which the frontal score drops to 0.61.
        neutral_scale: summed expression coefficients at which neutrality drops to 0.37.
    """

    frontal_weight: float = 0.35
    neutral_weight: float = 0.3
    sharpness_weight: float = 0.2
    brightness_weight: float = 0.15
    frontal_sigma_degrees: float = 12.0
    neutral_scale: float = 1.0

    def __post_init__(self) -> None:
        weights = (
            self.frontal_weight,
            self.neutral_weight,
            self.sharpness_weight,
            self.brightness_weight,
        )
        if min(weights) < 0 or sum(weights) <= 0:
            raise ValueError("score weights must be >= 0 and not all zero")
        if self.frontal_sigma_degrees <= 0 or self.neutral_scale <= 0:
            raise ValueError("frontal_sigma_degrees and neutral_scale must be > 0")


@dataclass(frozen=True)
class SourceChoice:
    """The chosen frame.

    Attributes:
        index: index of the chosen frame.
        scores: per frame ``{"face": bool, "frontal", "sharpness", "brightness", "neutrality",
            "total", "yaw_degrees", "pitch_degrees", "expression_sum"}`` (zeros without a face).
        reason: one sentence saying why this frame.
    """

    index: int
    scores: list[dict[str, Any]]
    reason: str


def _face_crop(
    image: NDArray[np.uint8], box: tuple[float, float, float, float]
) -> NDArray[np.uint8]:
    height, width = image.shape[:2]
    u0, w0, u1, w1 = box
    x0, y0 = max(int(u0), 0), max(int(w0), 0)
    x1, y1 = min(math.ceil(u1), width), min(math.ceil(w1), height)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return np.zeros((2, 2), np.uint8)
    gray = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    scale = 128.0 / gray.shape[1]
    size = (128, max(2, round(gray.shape[0] * scale)))
    return np.asarray(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), np.uint8)


def choose_source_frame(
    frames: Sequence[NDArray[np.uint8]],
    config: SourceChoiceConfig | None = None,
    *,
    calibrator: Calibrator | None = None,
) -> SourceChoice:
    """Score every frame and choose the best source for calibration.

    Args:
        frames: N frames, each (H, W, 3) uint8 RGB.
        config: score weights.
        calibrator: a loaded calibrator to reuse (one is built when None).

    Raises:
        NoFaceError: no frame has a face (or ``frames`` is empty).
    """
    from calibration.calibrator import Calibrator

    config = config or SourceChoiceConfig()
    if len(frames) == 0:
        raise NoFaceError("no frames to choose from")
    owned = calibrator is None
    active = calibrator if calibrator is not None else Calibrator()
    try:
        gaze = np.array(
            [name.startswith("eyeLook") for name in active.model.expression_names], bool
        )
        raw: list[dict[str, Any]] = []
        for frame in frames:
            image = active.prepare(frame)
            faces = active.detect(image)
            if not faces:
                raw.append({"face": False})
                continue
            fit = active.fit(faces[0], quick=True)
            pitch, yaw = (math.degrees(float(a)) for a in fit.rotation[:2])
            crop = _face_crop(image, faces[0].box)
            luminance = crop.astype(np.float64) / 255.0
            clipped = float(((crop <= 3) | (crop >= 252)).mean())
            raw.append(
                {
                    "face": True,
                    "yaw_degrees": yaw,
                    "pitch_degrees": pitch,
                    "expression_sum": float(fit.expression[~gaze].sum()),
                    "laplacian_variance": float(cv2.Laplacian(crop, cv2.CV_64F).var()),
                    "brightness_mean": float(luminance.mean()),
                    "clipped_fraction": clipped,
                }
            )
    finally:
        if owned:
            active.close()
    with_face = [i for i, r in enumerate(raw) if r["face"]]
    if not with_face:
        raise NoFaceError(f"no face found in any of the {len(frames)} frames")
    best_sharpness = max(raw[i]["laplacian_variance"] for i in with_face) or 1.0
    weight_sum = (
        config.frontal_weight
        + config.neutral_weight
        + config.sharpness_weight
        + config.brightness_weight
    )
    scores: list[dict[str, Any]] = []
    for entry in raw:
        if not entry["face"]:
            scores.append(
                {"face": False, "frontal": 0.0, "sharpness": 0.0, "brightness": 0.0,
                 "neutrality": 0.0, "total": 0.0}
            )  # fmt: skip
            continue
        angle_sq = entry["yaw_degrees"] ** 2 + entry["pitch_degrees"] ** 2
        frontal = math.exp(-angle_sq / (2 * config.frontal_sigma_degrees**2))
        neutrality = math.exp(-entry["expression_sum"] / config.neutral_scale)
        sharpness = entry["laplacian_variance"] / best_sharpness
        brightness = max(
            0.0, 1.0 - 2.0 * abs(entry["brightness_mean"] - 0.5) - entry["clipped_fraction"]
        )
        total = (
            config.frontal_weight * frontal
            + config.neutral_weight * neutrality
            + config.sharpness_weight * sharpness
            + config.brightness_weight * brightness
        ) / weight_sum
        scores.append(
            {
                **entry,
                "frontal": round(frontal, 4),
                "sharpness": round(sharpness, 4),
                "brightness": round(brightness, 4),
                "neutrality": round(neutrality, 4),
                "total": round(total, 4),
            }
        )
    index = max(with_face, key=lambda i: scores[i]["total"])
    return SourceChoice(index=index, scores=scores, reason=_reason(index, scores, len(frames)))


def _reason(index: int, scores: list[dict[str, Any]], count: int) -> str:
    chosen = scores[index]
    candidates = [s for s in scores if s["face"]]
    best: list[str] = []
    qualities: list[str] = []
    yaw = abs(chosen["yaw_degrees"])
    if chosen["frontal"] >= max(s["frontal"] for s in candidates) - 1e-9:
        best.append(f"most frontal (yaw {yaw:.0f}°)")
    else:
        qualities.append(f"yaw {yaw:.0f}°")
    if chosen["neutrality"] >= max(s["neutrality"] for s in candidates) - 1e-9:
        best.append("most neutral")
    elif chosen["neutrality"] < 0.5:
        qualities.append("not fully neutral")
    qualities.append("sharp" if chosen["sharpness"] >= 0.6 else "somewhat blurry")
    qualities.append("well lit" if chosen["brightness"] >= 0.5 else "poorly lit")
    lead = " and ".join(best) if best else "best overall balance"
    missing = count - len(candidates)
    tail = f" ({missing} frame(s) without a face)" if missing else ""
    return f"frame {index + 1} of {count}: {lead}; {', '.join(qualities)}{tail}"
