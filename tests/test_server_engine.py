"""The engine adapter on the real engines: calibration, source choice, planning, timelines,
rendering, and the translation of engine errors into client-facing codes."""

from __future__ import annotations

import numpy as np
import pytest

from server.engine import AvatarEngine, EngineConfig, FacecastEngine, FaceState
from server.exceptions import EngineInputError

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def engine() -> FacecastEngine:
    return FacecastEngine()


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="planner must be"):
        EngineConfig(planner="gpt")


def test_calibrate_choose_and_bad_images(engine: FacecastEngine, astronaut: np.ndarray) -> None:
    from skimage import data

    assert isinstance(engine, AvatarEngine)
    avatar = engine.calibrate(astronaut)
    assert avatar.rest.expression.shape == (53,) and np.all(avatar.rest.pose == 0)
    assert avatar.report["landmark_nme"] < 0.1
    frames = [np.roll(astronaut, shift, axis=1) for shift in (0, 4, 8)]
    choice = engine.choose_source(frames)
    assert 0 <= choice.index < 3 and choice.reason and len(choice.scores) == 3
    with pytest.raises(EngineInputError) as info:
        engine.calibrate(data.coffee())
    assert info.value.code == "no_face"
    with pytest.raises(EngineInputError) as info:
        engine.choose_source([data.coffee()])
    assert info.value.code == "no_face"
    for garbage in (b"", b"not an image at all", bytes(range(256)) * 8):
        with pytest.raises(EngineInputError) as info:
            engine.load_image(garbage, max_pixels=10_000_000, max_side=2048)
        assert info.value.code == "bad_image"


def test_plan_timeline_idle(engine: FacecastEngine) -> None:
    start = FaceState(np.zeros(53, np.float32), np.zeros(3, np.float32))
    plan = engine.plan("Turn this face from disgust to happiness", start, 1.0)
    # The learned planner may read "from disgust" as a blend; the last anchor is what matters.
    assert plan.understood and plan.understood[-1] == "happiness"
    assert [a["label"] for a in plan.anchors][-1] == "happiness"
    assert all(0 < a["intensity"] <= 2 for a in plan.anchors)
    motion = engine.timeline(plan, start, 30.0)
    assert motion.duration > 1.0
    first, last = motion.state_at(0.0), motion.state_at(motion.duration + 5)
    np.testing.assert_allclose(first.expression, start.expression, atol=1e-5)  # no jump
    assert np.abs(last.expression).sum() > 0.2
    moved = engine.idle_motion(3).apply(2.0, last)
    assert moved.expression.shape == (53,) and moved.pose.shape == (3,)
    for nonsense in ("blorf the zibble", "qwxz blorf", "open the door"):
        with pytest.raises(EngineInputError) as info:
            engine.plan(nonsense, start, 1.0)
        assert info.value.code == "not_understood", nonsense
        assert nonsense.split()[-1] in info.value.message  # says what it did not understand


def test_an_upload_that_is_no_image_is_named_as_the_uploaded_file(engine: FacecastEngine) -> None:
    """The message reaches the page's chat: no internal "<bytes>" placeholder in it."""
    with pytest.raises(EngineInputError) as info:
        engine.load_image(b"hello", max_pixels=10_000_000, max_side=2048)
    assert info.value.code == "bad_image"
    assert "<bytes>" not in info.value.message
    assert info.value.message.startswith("the uploaded file")


def test_not_understood_carries_unknown_words_and_examples(engine: FacecastEngine) -> None:
    """The page shows the unknown words and clickable examples from ``details``."""
    rest = FaceState(np.zeros(53, np.float32), np.zeros(3, np.float32))
    with pytest.raises(EngineInputError) as info:
        engine.plan("open the door", rest, 1.0)
    assert info.value.code == "not_understood"
    details = info.value.details
    assert details is not None and set(details["unknown_words"]) >= {"open", "door"}
    assert 1 <= len(details["examples"]) <= 5 and all(
        isinstance(e, str) for e in details["examples"]
    )
