"""Source frame -> Avatar: detect, fit, unwrap, package (and the quality report).

:class:`Calibrator` keeps mediapipe, the model and the fitter loaded. It is thread-safe:
mediapipe calls are serialised by a lock inside :class:`~calibration.landmarks.LandmarkDetector`
and the fit and unwrap only read shared arrays. :func:`calibrate` is the one-shot helper.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from calibration.correspondence import (
    LandmarkCorrespondence,
    face_oval_landmarks,
    load_correspondence,
)
from calibration.coupling import (
    SMILE_CHEEK_RAISE,
    Coupling,
    assign_implied_shapes,
    validate_couplings,
)
from calibration.exceptions import NoFaceError
from calibration.fit import FitConfig, FitResult, LandmarkFitter
from calibration.landmarks import DetectedFace, LandmarkDetector, LandmarkDetectorConfig
from calibration.matte import PersonSegmenter
from calibration.texture import TextureConfig, unwrap_texture
from engines.avatar import Avatar
from engines.face_model.blend import blend_vertices
from engines.face_model.camera import euler_to_matrix
from engines.face_model.ict import FaceModelData, load_ict

__all__ = [
    "CALIBRATION_VERSION",
    "CalibrationConfig",
    "CalibrationResult",
    "Calibrator",
    "calibrate",
    "ensure_rgb",
    "fitted_vertices",
    "landmark_quality",
]

logger = logging.getLogger(__name__)

CALIBRATION_VERSION = 1
# Outer eye corners in mediapipe's mesh: the inter-ocular distance used by the NME.
OUTER_EYE_CORNERS = (33, 263)
TOP_EXPRESSIONS = 6
MAX_SUPPORT_FRAMES = 8


@dataclass(frozen=True)
class CalibrationConfig:
    """Everything calibration needs, one dataclass per stage.

    Attributes:
        detector: mediapipe settings (up to ``max_faces`` faces; the largest is fitted).
        fit: landmark-fit settings (identity modes, priors, solver).
        texture: texture unwrapping settings (size 512 by default).
        max_side: frames larger than this (longer side) are downscaled before calibrating.
        min_face_px: faces narrower than this (landmark box width, px) are ignored.
        person_matte: also segment the person (face, hair, neck, shoulders) from the
            background (``extra["person_matte"]``, mediapipe selfie segmentation, ~10 ms);
            the renderer keys the background out with it (the OBS overlay).
        implied_shapes: ``(driver, follower, weight)``: after the fit, each follower takes
            ``weight × driver`` on top of its own and the identity is re-solved
            (``calibration.coupling``; default: a smile's cheek raise). ``()``: off.
    """

    detector: LandmarkDetectorConfig = field(default_factory=LandmarkDetectorConfig)
    fit: FitConfig = field(default_factory=FitConfig)
    texture: TextureConfig = field(default_factory=TextureConfig)
    max_side: int = 2048
    min_face_px: float = 24.0
    person_matte: bool = True
    implied_shapes: tuple[Coupling, ...] = SMILE_CHEEK_RAISE

    def __post_init__(self) -> None:
        if self.max_side < 64:
            raise ValueError(f"max_side must be >= 64, got {self.max_side}")
        if self.min_face_px < 0:
            raise ValueError("min_face_px must be >= 0")


@dataclass(frozen=True)
class CalibrationResult:
    """The avatar and a JSON-able report (``landmark_nme``, ``landmark_max_px``, ``seconds``,
    ``faces_found``, ``top_expressions`` and more)."""

    avatar: Avatar
    report: dict[str, Any]


def ensure_rgb(image: NDArray[Any]) -> NDArray[np.uint8]:
    """Accept (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) uint8 and return (H, W, 3) RGB.

    Raises:
        ValueError: any other shape or dtype.
    """
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {array.dtype}")
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or min(array.shape[:2]) < 1:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {array.shape}")
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    elif array.shape[2] == 4:
        array = array[..., :3]
    return np.ascontiguousarray(array)


def fitted_vertices(
    model: FaceModelData, identity: NDArray[np.floating], expression: NDArray[np.floating]
) -> NDArray[np.float32]:
    """(V, 3) model-space vertices for identity (K,) and expression (E,) (no pose)."""
    return blend_vertices(
        model.neutral, model.identity_basis, identity, model.expression_basis, expression
    )


def landmark_quality(
    detected: NDArray[np.floating], fitted: NDArray[np.floating], outline: tuple[int, ...]
) -> dict[str, float]:
    """NME (mean 2D error / outer-eye-corner distance) overall, inner and outline, and max px."""
    errors = np.linalg.norm(np.asarray(fitted, np.float64) - detected, axis=1)
    interocular = float(
        np.linalg.norm(detected[OUTER_EYE_CORNERS[0]] - detected[OUTER_EYE_CORNERS[1]])
    )
    interocular = max(interocular, 1e-6)
    inner = np.setdiff1d(np.arange(len(errors)), np.array(outline, np.int64))
    return {
        "landmark_nme": float(errors.mean() / interocular),
        "landmark_nme_inner": float(errors[inner].mean() / interocular),
        "landmark_nme_outline": float(errors[list(outline)].mean() / interocular)
        if outline
        else 0.0,
        "landmark_max_px": float(errors.max()),
        "landmark_mean_px": float(errors.mean()),
        "interocular_px": interocular,
    }


class Calibrator:
    """Keeps mediapipe, the face model and the fitter loaded; thread-safe.

    Args:
        config: calibration settings.
        model: the ICT model (loaded from the cache when None).
        correspondence: the landmark table (the shipped one when None).
    """

    def __init__(
        self,
        config: CalibrationConfig | None = None,
        model: FaceModelData | None = None,
        correspondence: LandmarkCorrespondence | None = None,
    ) -> None:
        self.config = config or CalibrationConfig()
        self.model = model if model is not None else load_ict()
        validate_couplings(self.config.implied_shapes, self.model.expression_names)
        self.correspondence = correspondence or load_correspondence()
        self.outline = face_oval_landmarks()
        self.fitter = LandmarkFitter(self.model, self.correspondence, self.config.fit, self.outline)
        # A cheaper fit (fewer iterations) for scoring many live frames.
        quick = dataclasses.replace(self.config.fit, iterations=2, joint_iterations=4)
        self.quick_fitter = self.fitter.with_config(quick)
        self.detector = LandmarkDetector(self.config.detector)
        self.segmenter = PersonSegmenter()

    def close(self) -> None:
        self.detector.close()
        self.segmenter.close()

    def __enter__(self) -> Calibrator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- stages ------------------------------------------------------------------------------

    def prepare(self, image: NDArray[Any]) -> NDArray[np.uint8]:
        """Validate and downscale a frame to at most ``config.max_side`` (longer side)."""
        from calibration.image_io import resize_longer_side

        return resize_longer_side(ensure_rgb(image), self.config.max_side)

    def detect(self, image: NDArray[np.uint8]) -> list[DetectedFace]:
        """Faces large enough to fit, largest first."""
        faces = self.detector.detect(image)
        return [f for f in faces if f.box[2] - f.box[0] >= self.config.min_face_px]

    def fit(self, face: DetectedFace, *, quick: bool = False) -> FitResult:
        """Fit the model to one face's landmarks (``quick``: fewer iterations, for scoring)."""
        fitter = self.quick_fitter if quick else self.fitter
        # The problems are small: BLAS threads only add synchronisation cost (and spin on a
        # busy machine), so the fit runs single-threaded when threadpoolctl is available.
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return fitter.fit(face.points)
        with threadpool_limits(limits=1, user_api="blas"):
            return fitter.fit(face.points)

    def fit_frames(self, faces: Sequence[DetectedFace]) -> list[FitResult]:
        """Fit several faces of one person with a shared identity (first face first)."""
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return self.fitter.fit_frames([f.points for f in faces])
        with threadpool_limits(limits=1, user_api="blas"):
            return self.fitter.fit_frames([f.points for f in faces])

    def _with_implied_shapes(
        self, faces: Sequence[DetectedFace], fits: Sequence[FitResult]
    ) -> list[FitResult]:
        """``fits`` of ``faces`` with ``config.implied_shapes`` moved from the identity into
        the expressions (:func:`calibration.coupling.assign_implied_shapes`; single-threaded
        BLAS like the fit)."""
        points = [f.points for f in faces]
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return assign_implied_shapes(self.fitter, points, fits, self.config.implied_shapes)
        with threadpool_limits(limits=1, user_api="blas"):
            return assign_implied_shapes(self.fitter, points, fits, self.config.implied_shapes)

    def _support_faces(self, frames: Sequence[NDArray[Any]]) -> list[DetectedFace]:
        """The largest face of up to MAX_SUPPORT_FRAMES frames, evenly spaced."""
        if len(frames) == 0:
            return []
        step = max(1, math.ceil(len(frames) / MAX_SUPPORT_FRAMES))
        faces = []
        for frame in list(frames)[::step][:MAX_SUPPORT_FRAMES]:
            found = self.detect(self.prepare(frame))
            if found:
                faces.append(found[0])
        return faces

    # -- the whole thing ---------------------------------------------------------------------

    def calibrate(
        self, image: NDArray[Any], *, support_frames: Sequence[NDArray[Any]] = ()
    ) -> CalibrationResult:
        """Fit an avatar to the largest face of ``image`` ((H, W, 3) uint8 RGB).

        Args:
            image: the source frame (its expression, pose and texture make the avatar).
            support_frames: other frames of the same person (e.g. the rest of a live
                capture, at most :data:`MAX_SUPPORT_FRAMES` used). The identity is then
                fitted jointly over all frames, each with its own pose and expression,
                which separates identity from expression better than one frame can.
                Frames without a face are skipped.

        Raises:
            NoFaceError: no face found in ``image``.
            ValueError: not an image array.
        """
        started = time.perf_counter()
        timings: dict[str, float] = {}
        frame = self.prepare(image)
        tick = time.perf_counter()
        faces = self.detect(frame)
        timings["detect_ms"] = (time.perf_counter() - tick) * 1e3
        if not faces:
            raise NoFaceError(
                f"no face found in the {frame.shape[1]}x{frame.shape[0]} image "
                "(need a visible, roughly frontal face)"
            )
        face = faces[0]
        tick = time.perf_counter()
        support = self._support_faces(support_frames)
        timings["support_detect_ms"] = (time.perf_counter() - tick) * 1e3
        tick = time.perf_counter()
        frames = [face, *support]
        fits = self.fit_frames(frames) if support else [self.fit(face)]
        fit = self._with_implied_shapes(frames, fits)[0]
        timings["fit_ms"] = (time.perf_counter() - tick) * 1e3
        tick = time.perf_counter()
        vertices = fitted_vertices(self.model, fit.identity, fit.expression)
        rotation = euler_to_matrix(*(float(a) for a in fit.rotation))
        unwrap = unwrap_texture(
            frame, self.model, vertices, rotation, fit.camera, self.config.texture
        )
        timings["texture_ms"] = (time.perf_counter() - tick) * 1e3
        extra: dict[str, NDArray[Any]] = {
            "vertex_visibility": unwrap.vertex_visibility,
            "face_mask": unwrap.face_mask,
            "fitted_landmarks": fit.projected.astype(np.float32),
            "sh_lighting": unwrap.sh_lighting,
        }
        if self.config.person_matte:
            tick = time.perf_counter()
            extra["person_matte"] = self.segmenter.matte(frame)
            timings["matte_ms"] = (time.perf_counter() - tick) * 1e3
        quality = landmark_quality(face.points, fit.projected, self.outline)
        names = self.model.expression_names
        order = np.argsort(-fit.expression)[:TOP_EXPRESSIONS]
        top = {
            names[i]: round(float(fit.expression[i]), 4) for i in order if fit.expression[i] > 0.01
        }
        pitch, yaw, roll = (float(np.degrees(a)) for a in fit.rotation)
        seconds = time.perf_counter() - started
        report: dict[str, Any] = {
            **{k: round(v, 5) for k, v in quality.items()},
            "seconds": round(seconds, 4),
            "faces_found": len(faces),
            "identity_frames": 1 + len(support),
            "top_expressions": top,
            "head_pose_degrees": {
                "pitch": round(pitch, 2),
                "yaw": round(yaw, 2),
                "roll": round(roll, 2),
            },
            "camera": {
                "model": "scaled-orthographic",
                "scale_px_per_cm": round(fit.camera.scale, 4),
                "tu": round(fit.camera.tu, 2),
                "tw": round(fit.camera.tw, 2),
            },
            "face_box": [round(v, 1) for v in face.box],
            "source_size": [int(frame.shape[1]), int(frame.shape[0])],
            "input_size": [int(np.shape(image)[1]), int(np.shape(image)[0])],
            "texture_seen_fraction": round(float((unwrap.mask > 96).mean()), 4),
            "timings_ms": {k: round(v, 2) for k, v in timings.items()},
        }
        avatar = Avatar(
            identity=fit.identity.astype(np.float32),
            expression=fit.expression.astype(np.float32),
            rotation=fit.rotation.astype(np.float32),
            camera=fit.camera,
            source_image=frame,
            texture=unwrap.texture,
            texture_mask=unwrap.mask,
            landmarks=face.points.astype(np.float32),
            model=f"ict-light@{self.model.commit[:8]}" if self.model.commit else "ict-light",
            meta={
                "calibration_version": CALIBRATION_VERSION,
                "source_size": [int(frame.shape[1]), int(frame.shape[0])],
                "model_version": self.model.commit,
                "camera_model": "scaled-orthographic",
                "identity_modes": int(fit.identity.shape[0]),
                "fit_quality": {k: round(v, 5) for k, v in quality.items()},
                "faces_found": len(faces),
                "identity_frames": 1 + len(support),
                "texture_size": int(unwrap.texture.shape[0]),
                "texture_layout": "ICT M_Face UV tile (u, v in [0, 1]); row 0 is v = 1",
                "correspondence": self.correspondence.meta.get("method", ""),
            },
            extra=extra,
        )
        logger.info(
            "calibrated %dx%d: NME %.4f, max %.1f px, %d face(s), %.0f ms",
            frame.shape[1], frame.shape[0], quality["landmark_nme"], quality["landmark_max_px"],
            len(faces), seconds * 1e3,
        )  # fmt: skip
        return CalibrationResult(avatar=avatar, report=report)

    def choose_source_frame(self, frames: Any, config: Any = None) -> Any:
        """See :func:`calibration.source_choice.choose_source_frame`."""
        from calibration.source_choice import choose_source_frame

        return choose_source_frame(frames, config, calibrator=self)


def calibrate(
    image: NDArray[Any],
    config: CalibrationConfig | None = None,
    model: FaceModelData | None = None,
) -> CalibrationResult:
    """One-shot calibration (builds a :class:`Calibrator`; keep one around for many frames)."""
    with Calibrator(config, model) as calibrator:
        return calibrator.calibrate(image)
