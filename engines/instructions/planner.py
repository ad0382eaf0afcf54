"""A rule-based planner: the lexicon reading of an instruction turned into FACS anchors.

It is the transparent baseline next to the learned I2FET planner (``engines.i2fet``): the
emotions named in the text, in order, each at the prototype of :mod:`.facs` scaled by its
intensity (intensity word, else the synonym's own strength) and with its head-pose prior.
It needs no checkpoint, so ``facecast animate --planner lexicon`` works everywhere. Its
plans have the fields of ``engines.i2fet.Plan`` that the transition builder reads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engines.face_model.ict import EXPRESSION_NAMES
from engines.instructions.actions import ActionMention, compose_actions, find_actions
from engines.instructions.analysis import analyze_text
from engines.instructions.exceptions import NotUnderstoodError
from engines.instructions.facs import apex_scale, emotion_pose_prior, emotion_prototype
from engines.instructions.knowledge import default_knowledge
from engines.instructions.plan import Anchor, PlanRecord

__all__ = [
    "EXAMPLE_INSTRUCTIONS",
    "LexiconPlanner",
    "RuleAnchor",
    "RulePlan",
    "not_understood_message",
]

logger = logging.getLogger(__name__)

EXAMPLE_INSTRUCTIONS: tuple[str, ...] = (
    "Turn this face from neutral to happy",
    "make her smile",
    "look a bit annoyed",
    "look surprised, then angry, then laugh",
    "calm down",
)
MAX_ANCHORS = 8


RuleAnchor = Anchor  # the lexicon planner's anchors are plain plan anchors


@dataclass(frozen=True)
class RulePlan(PlanRecord):
    """A plan produced by :class:`LexiconPlanner` (the fields of ``PlanRecord``, as in
    ``engines.i2fet.Plan``)."""


def not_understood_message(text: str, unknown_words: Sequence[str], examples: Sequence[str]) -> str:
    """The user-facing message for an instruction without a known emotion."""
    shown = text if len(text) <= 80 else text[:77] + "..."
    unknown = ", ".join(repr(w) for w in list(unknown_words)[:8]) or "none"
    return (
        f"no emotion understood in {shown!r} (understood: nothing; unknown words: {unknown}). "
        f"Try for example: {'; '.join(repr(e) for e in examples)}"
    )


class LexiconPlanner:
    """Plans from the lexicon analysis (see the module docstring)."""

    def __init__(
        self,
        expression_names: Sequence[str] = EXPRESSION_NAMES,
        *,
        include_heldout: bool = True,
        use_knowledge: bool = True,
    ) -> None:
        self.expression_names = tuple(expression_names)
        self.include_heldout = include_heldout
        self.use_knowledge = use_knowledge  # WordNet for unknown words, when installed

    def plan(
        self,
        text: str,
        *,
        current_expression: NDArray[np.floating] | None = None,
        current_pose: NDArray[np.floating] | None = None,
        intensity_scale: float = 1.0,
        seed: int | None = None,
    ) -> RulePlan:
        """Anchors for the emotions named in ``text``, in order.

        ``seed`` draws the side of a one-sided emotion and of its head-pose prior's turn;
        None is a fixed default (seed 0), so a plan is reproducible, as I2FET's mean anchors.

        Raises:
            NotUnderstoodError: the text names no emotion the lexicon knows.
            ValueError: ``intensity_scale`` outside (0, 2].
        """
        del current_expression, current_pose  # the baseline does not adapt to the face
        if not (0.0 < intensity_scale <= 2.0):
            raise ValueError(f"intensity_scale must be in (0, 2], got {intensity_scale}")
        started = time.perf_counter()
        actions = find_actions(text)
        if actions:
            return self._plan_with_actions(text, actions, intensity_scale, seed, started)
        knowledge = default_knowledge(self.include_heldout) if self.use_knowledge else None
        analysis = analyze_text(text, include_heldout=self.include_heldout, knowledge=knowledge)
        if not analysis.emotion_mentions:
            raise NotUnderstoodError(
                not_understood_message(text, analysis.unknown_words, EXAMPLE_INSTRUCTIONS),
                unknown_words=tuple(analysis.unknown_words),
                examples=EXAMPLE_INSTRUCTIONS,
            )
        rng = np.random.default_rng(0 if seed is None else seed)
        size = len(self.expression_names)
        neutral = np.zeros(size, np.float32)
        anchors: list[RuleAnchor] = []
        for mention in analysis.emotion_mentions:
            if anchors and anchors[-1].label == mention.label:
                continue
            if len(anchors) == MAX_ANCHORS:
                logger.warning(
                    "instruction names more than %d emotions; the rest are ignored", MAX_ANCHORS
                )
                break
            value = analysis.mention_intensity(mention)
            intensity = float(np.clip(value * intensity_scale, 0.0, 1.0))
            if mention.label == "neutral":
                anchors.append(RuleAnchor("neutral", 0.0, neutral.copy(), np.zeros(3, np.float32)))
                continue
            left = rng.random() < 0.5
            proto = emotion_prototype(
                mention.label, self.expression_names, side="left" if left else "right"
            )
            pose = emotion_pose_prior(mention.label) * intensity
            if rng.random() < 0.5:
                pose[1:] *= -1.0
            anchors.append(
                RuleAnchor(
                    mention.label,
                    intensity,
                    np.clip(neutral + proto * apex_scale(intensity), 0.0, 1.0).astype(np.float32),
                    pose.astype(np.float32),
                )
            )
        elapsed = (time.perf_counter() - started) * 1000.0
        return RulePlan(
            text=text,
            anchors=tuple(anchors),
            neutral_expression=neutral,
            neutral_pose=np.zeros(3, np.float32),
            understood=tuple(a.label for a in anchors),
            unknown_words=tuple(analysis.unknown_words),
            timings_ms={"total": elapsed},
        )

    def _plan_with_actions(
        self, text: str, actions: list[ActionMention], scale: float, seed: int | None,
        started: float,
    ) -> RulePlan:  # fmt: skip
        """Facial actions and the emotions around them (see :func:`.actions.compose_actions`)
        on the zero (neutral) face."""
        knowledge = default_knowledge(self.include_heldout) if self.use_knowledge else None

        def plan_piece(
            piece: str, number: int, state: Anchor | None
        ) -> PlanRecord | tuple[str, ...]:
            del state  # the baseline does not adapt to the face
            analysis = analyze_text(
                piece, include_heldout=self.include_heldout, knowledge=knowledge
            )
            if not analysis.emotion_mentions:
                return tuple(analysis.unknown_words)
            return self.plan(
                piece, intensity_scale=scale, seed=None if seed is None else seed + number
            )

        neutral = np.zeros(len(self.expression_names), np.float32)
        composed = compose_actions(
            text, actions, plan_piece, neutral, np.zeros(3, np.float32), self.expression_names,
            scale,
        )  # fmt: skip
        if not composed.anchors:  # only actions the avatar cannot do ("nod")
            raise NotUnderstoodError(
                not_understood_message(text, composed.unknown_words, EXAMPLE_INSTRUCTIONS),
                unknown_words=composed.unknown_words,
                examples=EXAMPLE_INSTRUCTIONS,
            )
        return RulePlan(
            text=text,
            anchors=composed.anchors,
            neutral_expression=neutral,
            neutral_pose=np.zeros(3, np.float32),
            understood=tuple(a.label for a in composed.anchors),
            unknown_words=composed.unknown_words,
            timings_ms={**composed.timings_ms, "total": (time.perf_counter() - started) * 1e3},
        )
