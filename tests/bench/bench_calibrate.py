"""Benchmark: calibrate the astronaut photo (model loading reported apart).

``run(quick)`` returns flat keys: ``calibrate_ms_median`` (detect + fit + texture, warm),
``calibrate_model_load_ms`` (ICT cache + correspondence + mediapipe graphs), the stage
medians, the fit quality of the last run, and ``calibrate_ms_median_1280x720`` (the same
face pasted into a webcam-sized frame).
"""

from __future__ import annotations

import statistics
import time
from typing import Any


def run(quick: bool = False) -> dict[str, Any]:
    from skimage import data

    from calibration import Calibrator
    from engines.face_model.ict import load_ict

    image = data.astronaut()
    started = time.perf_counter()
    model = load_ict()
    calibrator = Calibrator(model=model)
    load_ms = (time.perf_counter() - started) * 1e3
    started = time.perf_counter()
    calibrator.calibrate(image)  # warm-up: numba kernels from cache, mediapipe first call
    first_ms = (time.perf_counter() - started) * 1e3
    runs = 3 if quick else 10
    totals, stages = [], {"detect_ms": [], "fit_ms": [], "texture_ms": []}
    report: dict[str, Any] = {}
    for _ in range(runs):
        started = time.perf_counter()
        report = calibrator.calibrate(image).report
        totals.append((time.perf_counter() - started) * 1e3)
        for key in stages:
            stages[key].append(report["timings_ms"][key])
    # A webcam-sized frame (1280x720) with the face at the same size: the live-capture case.
    import numpy as np

    webcam = np.full((720, 1280, 3), 90, np.uint8)
    webcam[104:616, 384:896] = image
    calibrator.calibrate(webcam)
    webcam_totals = []
    for _ in range(runs):
        started = time.perf_counter()
        calibrator.calibrate(webcam)
        webcam_totals.append((time.perf_counter() - started) * 1e3)
    calibrator.close()
    result: dict[str, Any] = {
        "calibrate_ms_median_1280x720": round(statistics.median(webcam_totals), 1),
        "calibrate_ms_median": round(statistics.median(totals), 1),
        "calibrate_ms_min": round(min(totals), 1),
        "calibrate_model_load_ms": round(load_ms, 1),
        "calibrate_first_call_ms": round(first_ms, 1),
        "calibrate_runs": runs,
        "calibrate_landmark_nme": report["landmark_nme"],
        "calibrate_landmark_max_px": report["landmark_max_px"],
        "calibrate_texture_size": calibrator.config.texture.size,
    }
    for key, values in stages.items():
        result[f"calibrate_{key.removesuffix('_ms')}_ms_median"] = round(
            statistics.median(values), 1
        )
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=True), indent=2))
