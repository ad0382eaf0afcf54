"""Pictures of timelines: the coefficient plot and the face strip are written and non-empty."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engines.face_model.ict import EXPRESSION_NAMES, FaceModelData
from engines.instructions import LexiconPlanner
from engines.transition import IdleMotion, Timeline, TransitionConfig, build_timeline
from engines.transition.plot import plot_timeline, plot_timeline_strip


@pytest.fixture(scope="module")
def timeline() -> Timeline:
    plan = LexiconPlanner().plan("look surprised, then angry", seed=0)
    return build_timeline(plan, np.zeros(53, np.float32), np.zeros(3, np.float32))


def test_plot_timeline(timeline: Timeline, tmp_path: Path) -> None:
    path = plot_timeline(
        timeline, EXPRESSION_NAMES, tmp_path / "t.png", idle=IdleMotion(TransitionConfig())
    )
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape[0] > 200 and image.shape[1] > 400
    assert image.std() > 10


def test_plot_timeline_strip_draws_the_faces(
    timeline: Timeline, ict: FaceModelData, tmp_path: Path
) -> None:
    path = plot_timeline_strip(timeline, ict, tmp_path / "s.png", count=2)
    image = np.asarray(Image.open(path).convert("RGB")).astype(float)
    skin = (np.abs(image - [221, 184, 158]).sum(axis=-1) < 90).mean()
    assert skin > 0.05  # the face is there
    with pytest.raises(ValueError, match="count"):
        plot_timeline_strip(timeline, ict, tmp_path / "x.png", count=1)
