"""Renderer benchmark: render + composite frames per second at 512² and 256², one thread.

The avatar is the astronaut photo calibrated by ``calibration.calibrate``; the expression
sweeps jawOpen / smile / blink and the head yaws, so every frame differs. Also reports the
median time of each stage at 512² (``render_ms_<stage>_512``) and ``render_fps_512_emotions``:
60 frames easing into the six posed apexes, where the animated wrinkles, the eye fill and the
mouth cavity are at work.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np


def _frames(avatar: Any, model: Any, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    jaw = model.expression_index("jawOpen")
    blink = (model.expression_index("eyeBlink_L"), model.expression_index("eyeBlink_R"))
    frames = []
    for i in range(count):
        phase = i / max(count, 1) * 2 * np.pi
        coeffs = np.asarray(avatar.expression, np.float32).copy()
        coeffs[jaw] = 0.4 * (1 + np.sin(phase))
        coeffs[list(blink)] = 1.0 if i % 10 == 0 else 0.0
        pose = np.array([0.05 * np.sin(2 * phase), 0.25 * np.sin(phase), 0.0], np.float32)
        frames.append((coeffs, pose))
    return frames


def _emotion_frames(model: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """60 frames easing into the six posed apexes (the folds, eye fill and cavity at work)."""
    from engines.instructions import emotion_prototype

    labels = ("happiness", "sadness", "surprise", "fear", "anger", "disgust")
    pose = np.zeros(3, np.float32)
    return [
        ((k / 10.0 * emotion_prototype(label, model.expression_names)).astype(np.float32), pose)
        for label in labels
        for k in range(1, 11)
    ]


def _fps(renderer: Any, frames: list[tuple[np.ndarray, np.ndarray]], repeats: int) -> float:
    for coeffs, pose in frames[:5]:
        renderer.render(coeffs, pose)
    times = []
    for _ in range(repeats):
        for coeffs, pose in frames:
            started = time.perf_counter()
            renderer.render(coeffs, pose)
            times.append(time.perf_counter() - started)
    return 1.0 / float(np.median(times))


def run(quick: bool = False) -> dict[str, object]:
    import cv2
    import numba
    from skimage import data

    from calibration import calibrate
    from engines.face_model.ict import load_ict
    from engines.render import AvatarRenderer, RenderConfig

    numba.set_num_threads(1)
    cv2.setNumThreads(1)
    model = load_ict()
    avatar = calibrate(data.astronaut(), model=model).avatar
    count = 20 if quick else 60
    repeats = 1 if quick else 3
    frames = _frames(avatar, model, count)
    result: dict[str, object] = {}
    for size in (512, 256):
        started = time.perf_counter()
        renderer = AvatarRenderer(avatar, model, RenderConfig(size=size))
        result[f"render_setup_ms_{size}"] = round((time.perf_counter() - started) * 1000, 1)
        result[f"render_fps_{size}"] = round(_fps(renderer, frames, repeats), 1)
        if size == 512:
            stages = renderer.profile(frames[count // 2][0], frames[count // 2][1], repeats=10)
            for name, ms in stages.items():
                result[f"render_ms_{name}_512"] = round(ms, 2)
            result["render_triangles"] = int(renderer.mesh.faces.shape[0])
            result["render_fps_512_emotions"] = round(
                _fps(renderer, _emotion_frames(model), repeats), 1
            )
    return result
