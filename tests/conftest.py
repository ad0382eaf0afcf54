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
