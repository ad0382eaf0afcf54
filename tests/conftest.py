"""Shared fixtures. The ICT model is loaded once per session from the project's cache."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def ict():
    """The ICT Face Model Light (FaceModelData), converted once per machine."""
    from engines.face_model.ict import load_ict

    return load_ict(progress=False)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """skimage's astronaut photo, (512, 512, 3) uint8 RGB: a real face."""
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def astronaut_avatar(ict, astronaut):
    """The astronaut calibrated once per session (an engines.avatar.Avatar); read-only."""
    from calibration import calibrate

    return calibrate(astronaut, model=ict).avatar


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


# The astronaut performing a surprise, rendered by the product's renderer: every brow shape
# rises first, the jaw follows 0.2 of the onset later (raised-cosine curves over 0.8 of a
# 12-frame onset, an 8-frame apex, a 14-frame offset, 4 still frames at each end, 25 fps).
SURPRISE_AMPLITUDES = {"browInnerUp_L": 0.8, "browInnerUp_R": 0.8, "browOuterUp_L": 0.7,
                       "browOuterUp_R": 0.7, "jawOpen": 0.45}  # fmt: skip
SURPRISE_LAG = {"jawOpen": 0.2}


def _surprise_curve(lag: float, rest: int = 4, onset: int = 12, apex: int = 8,
                    offset: int = 14) -> np.ndarray:  # fmt: skip
    t = np.arange(2 * rest + onset + apex + offset, dtype=np.float64)
    rise = np.clip((t - rest - lag * onset) / (0.8 * onset), 0.0, 1.0)
    fall = np.clip((t - rest - onset - apex) / offset, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * rise * (1.0 - fall))


@pytest.fixture(scope="session")
def surprise_recording(ict, astronaut_avatar, tmp_path_factory):
    """(known (T, 53) coefficients, fps, the fitted recording's .npz): the astronaut's
    rendered surprise fitted once per session by ``facecast fit-sequence``.

    ``FACECAST_KEEP_SURPRISE=DIR`` also copies the frames, the fit and the known
    coefficients (``known.npy``) to DIR, for the README's commands."""
    import cv2

    from engines.render import AvatarRenderer, RenderConfig
    from server.cli.main import main

    names = ict.expression_names
    curves = {name: _surprise_curve(SURPRISE_LAG.get(name, 0.0)) for name in SURPRISE_AMPLITUDES}
    rest = np.asarray(astronaut_avatar.expression, np.float32)
    known = np.tile(rest, (len(curves["jawOpen"]), 1))
    for name, curve in curves.items():
        column = names.index(name)
        known[:, column] = known[0, column] + SURPRISE_AMPLITUDES[name] * curve
    # The known coefficients are the recording's truth only where the renderer moves the
    # mesh by ICT's own shapes: its rigid brows (engines/render/brows.py) move the brow hair
    # by the skin above it, off the brow landmarks' ICT motion the fit reads them with
    # (with them on, browInnerUp_R's half-change share reads 0.202 against 0.359).
    renderer = AvatarRenderer(astronaut_avatar, ict, RenderConfig(size=512, rigid_brows=False))
    folder = tmp_path_factory.mktemp("surprise")
    frames = folder / "frames"
    frames.mkdir()
    for k, coefficients in enumerate(known):
        image = renderer.render(coefficients, np.zeros(3, np.float32))
        cv2.imwrite(str(frames / f"{k:04d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    fitted = folder / "surprise.npz"
    assert main(["fit-sequence", str(frames), "-o", str(fitted), "--fps", "25"]) == 0
    keep = os.environ.get("FACECAST_KEEP_SURPRISE")
    if keep:
        import shutil

        np.save(folder / "known.npy", known)
        shutil.copytree(folder, keep, dirs_exist_ok=True)
    return known, 25.0, fitted
