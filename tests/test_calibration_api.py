"""The public API of ``calibration`` is pinned (renaming breaks the server and renderer)."""

from __future__ import annotations

import calibration


def test_public_api():
    assert set(calibration.__all__) == {
        "CALIBRATION_VERSION", "CalibrationConfig", "CalibrationError", "CalibrationResult",
        "Calibrator", "DetectedFace", "FitConfig", "FitResult", "ImageDecodeError",
        "ImageError", "ImageTooLargeError", "LandmarkCorrespondence", "LandmarkDetector",
        "LandmarkDetectorConfig", "LandmarkFitter", "NoFaceError", "SourceChoice",
        "SourceChoiceConfig", "TextureConfig", "calibrate", "choose_source_frame",
        "load_correspondence", "load_image",
    }  # fmt: skip
    for name in calibration.__all__:
        assert hasattr(calibration, name), name


def test_exception_hierarchy():
    assert issubclass(calibration.ImageDecodeError, calibration.ImageError)
    assert issubclass(calibration.ImageTooLargeError, calibration.ImageError)
    assert issubclass(calibration.ImageError, calibration.CalibrationError)
    assert issubclass(calibration.NoFaceError, calibration.CalibrationError)


def test_config_validation():
    import pytest

    with pytest.raises(ValueError):
        calibration.CalibrationConfig(max_side=10)
    with pytest.raises(ValueError):
        calibration.LandmarkDetectorConfig(max_faces=0)
    with pytest.raises(ValueError):
        calibration.SourceChoiceConfig(frontal_weight=-1)


def test_close_is_idempotent(ict):
    import numpy as np
    import pytest

    calibrator = calibration.Calibrator(model=ict)
    calibrator.close()
    calibrator.close()
    with pytest.raises(RuntimeError, match="closed"):
        calibrator.calibrate(np.zeros((64, 64, 3), np.uint8))
