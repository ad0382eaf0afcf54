"""The rule-based lexicon planner (baseline beside the learned I2FET planner)."""

from __future__ import annotations

import numpy as np
import pytest

from engines.face_model.ict import EXPRESSION_NAMES
from engines.instructions import LexiconPlanner, NotUnderstoodError

SMILE = [EXPRESSION_NAMES.index("mouthSmile_L"), EXPRESSION_NAMES.index("mouthSmile_R")]


def test_plans_emotions_in_order_with_intensity() -> None:
    plan = LexiconPlanner().plan("Turn this face from slightly sad to extremely happy", seed=1)
    assert plan.understood == ("sadness", "happiness")
    sad, happy = plan.anchors
    assert sad.intensity < 0.5 < happy.intensity
    assert happy.expression[SMILE].min() > 0.8
    assert happy.expression.shape == (53,) and happy.pose.shape == (3,)
    assert plan.neutral_expression.shape == (53,) and plan.neutral_pose.shape == (3,)


def test_neutral_target_and_repeats() -> None:
    plan = LexiconPlanner().plan("calm down, relax your face")
    assert plan.understood == ("neutral",)
    assert not plan.anchors[0].expression.any()


def test_intensity_scale_and_determinism() -> None:
    planner = LexiconPlanner()
    weak = planner.plan("look angry", intensity_scale=0.5, seed=3)
    strong = planner.plan("look angry", intensity_scale=1.0, seed=3)
    assert weak.anchors[0].intensity == pytest.approx(0.5 * strong.anchors[0].intensity)
    again = planner.plan("look angry", intensity_scale=1.0, seed=3)
    np.testing.assert_array_equal(again.anchors[0].expression, strong.anchors[0].expression)
    with pytest.raises(ValueError, match="intensity_scale"):
        planner.plan("look angry", intensity_scale=0)


def test_not_understood_is_clear() -> None:
    with pytest.raises(NotUnderstoodError) as info:
        LexiconPlanner().plan("do the blorf")
    assert "'blorf'" in str(info.value)
    assert info.value.examples and info.value.understood == ()
