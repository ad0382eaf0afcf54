"""Calibration: source frame -> Avatar (mediapipe landmarks, ICT fit, texture unwrap)."""

from calibration.calibrator import (
    CALIBRATION_VERSION,
    CalibrationConfig,
    CalibrationResult,
    Calibrator,
    calibrate,
)
from calibration.correspondence import LandmarkCorrespondence, load_correspondence
from calibration.exceptions import (
    CalibrationError,
    ImageDecodeError,
    ImageError,
    ImageTooLargeError,
    NoFaceError,
)
from calibration.fit import FitConfig, FitResult, LandmarkFitter
from calibration.image_io import load_image
from calibration.landmarks import DetectedFace, LandmarkDetector, LandmarkDetectorConfig
from calibration.source_choice import SourceChoice, SourceChoiceConfig, choose_source_frame
from calibration.texture import TextureConfig

__all__ = [
    "CALIBRATION_VERSION",
    "CalibrationConfig",
    "CalibrationError",
    "CalibrationResult",
    "Calibrator",
    "DetectedFace",
    "FitConfig",
    "FitResult",
    "ImageDecodeError",
    "ImageError",
    "ImageTooLargeError",
    "LandmarkCorrespondence",
    "LandmarkDetector",
    "LandmarkDetectorConfig",
    "LandmarkFitter",
    "NoFaceError",
    "SourceChoice",
    "SourceChoiceConfig",
    "TextureConfig",
    "calibrate",
    "choose_source_frame",
    "load_correspondence",
    "load_image",
]
