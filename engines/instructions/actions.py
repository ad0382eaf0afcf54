"""Facial actions that are not emotions: "wink", "close your eyes", "raise your eyebrows".

People type these beside emotions ("smile and wink", "close your eyes, then look
surprised"). Each action names ICT (ARKit) shapes directly, with weights chosen by looking at
the rendered face, and sometimes a small head-pose offset ("look up"); there is nothing to
learn. An action joined to the emotion before it by "and", "while", "with" or "as" (no "then", no
comma) happens on that emotion's face ("smile and wink"); otherwise it starts from the neutral
face. "Left" and "right" are the avatar's own. The ICT model has no tongue, so "stick out
your tongue" is not an action here.

:func:`find_actions` finds them in a text; :func:`compose_actions` plans a text around them
with any planner (the I2FET one and the lexicon one both use it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from engines.instructions.plan import Anchor, PlanRecord

__all__ = [
    "ACTIONS",
    "ActionMention",
    "ComposedActions",
    "FacialAction",
    "apply_action",
    "compose_actions",
    "find_actions",
    "with_action",
]


@dataclass(frozen=True)
class FacialAction:
    """One facial action.

    Attributes:
        name: its label in plans and timelines ("wink").
        phrases: how people say it; ``{p}`` stands for "your", "her", "his", "their", "the"
            or nothing.
        shapes: ICT shape name -> weight in [0, 1] (the face shows at least this much).
        pose_degrees: (pitch, yaw, roll) head offset, degrees (positive pitch looks down,
            positive yaw turns to the avatar's left).
        unsupported: why the avatar cannot do it ("" for the actions it can): such a phrase
            is recognised, so that it is not misread ("shake your head" is not an emotion),
            and reported as not understood.
    """

    name: str
    phrases: tuple[str, ...]
    shapes: MappingProxyType[str, float]
    pose_degrees: tuple[float, float, float] = (0.0, 0.0, 0.0)
    unsupported: str = ""


def _action(
    name: str, phrases: str, shapes: dict[str, float], pose: tuple[float, float, float] = (0, 0, 0)
) -> FacialAction:
    degrees = (float(pose[0]), float(pose[1]), float(pose[2]))
    return FacialAction(
        name, tuple(p.strip() for p in phrases.split(",")), MappingProxyType(shapes), degrees
    )


_NONE: MappingProxyType[str, float] = MappingProxyType({})
_WINK_L = {"eyeBlink_L": 1.0, "eyeSquint_L": 0.4, "cheekSquint_L": 0.5, "mouthSmile_L": 0.3}
_WINK_R = {"eyeBlink_R": 1.0, "eyeSquint_R": 0.4, "cheekSquint_R": 0.5, "mouthSmile_R": 0.3}
_BOTH_UP = {"browInnerUp_L": 0.9, "browInnerUp_R": 0.9, "browOuterUp_L": 1.0, "browOuterUp_R": 1.0}
_SQUINT = {"eyeSquint_L": 0.9, "eyeSquint_R": 0.9, "cheekSquint_L": 0.4, "cheekSquint_R": 0.4}
_WIDE = {"eyeWide_L": 1.0, "eyeWide_R": 1.0, "browOuterUp_L": 0.3, "browOuterUp_R": 0.3}

ACTIONS: tuple[FacialAction, ...] = (
    _action("wink_right", "wink {p} right eye, wink with {p} right eye, right wink", _WINK_R),
    _action("wink", "wink {p} left eye, wink with {p} left eye, wink, winks, winking", _WINK_L),
    _action(
        "close_eyes",
        "close {p} eyes, shut {p} eyes, eyes closed, eyes shut, with {p} eyes closed",
        {"eyeBlink_L": 1.0, "eyeBlink_R": 1.0},
    ),
    _action("squint", "squint, squints, squinting, narrow {p} eyes", _SQUINT),
    _action("widen_eyes", "widen {p} eyes, open {p} eyes wide, eyes wide open", _WIDE),
    _action(
        "raise_eyebrows",
        "raise {p} eyebrows, raise {p} brows, lift {p} eyebrows, eyebrows raised, raised eyebrows",
        _BOTH_UP,
    ),
    _action(
        "raise_eyebrow",
        "raise {p} left eyebrow, raise an eyebrow, raise one eyebrow",
        {"browOuterUp_L": 1.0, "browInnerUp_L": 0.5, "browDown_R": 0.3},
    ),
    _action(
        "lower_eyebrows",
        "lower {p} eyebrows, knit {p} brows, furrow {p} brows, furrow {p} brow",
        {"browDown_L": 1.0, "browDown_R": 1.0},
    ),
    _action(
        "puff_cheeks",
        "puff {p} cheeks, puff out {p} cheeks",
        {"cheekPuff_L": 1.0, "cheekPuff_R": 1.0, "mouthClose": 0.2},
    ),
    _action(
        "open_mouth",
        "open {p} mouth wide, open {p} mouth, mouth open",
        {"jawOpen": 0.7, "mouthLowerDown_L": 0.3, "mouthLowerDown_R": 0.3},
    ),
    _action(
        "pucker",
        "pucker {p} lips, pucker up, blow a kiss, make a kissy face, kissy face, kiss",
        {"mouthPucker": 1.0, "mouthFunnel": 0.2},
    ),
    _action(
        "purse_lips",
        "purse {p} lips, press {p} lips together",
        {"mouthPress_L": 0.8, "mouthPress_R": 0.8, "mouthRollLower": 0.3},
    ),
    _action(
        "look_up", "look up, roll {p} eyes", {"eyeLookUp_L": 0.8, "eyeLookUp_R": 0.8}, (-8, 0, 0)
    ),
    _action("look_down", "look down", {"eyeLookDown_L": 0.8, "eyeLookDown_R": 0.8}, (10, 0, 0)),
    _action(
        "look_left",
        "look to {p} left, look left",
        {"eyeLookOut_L": 0.8, "eyeLookIn_R": 0.8},
        (0, 12, 0),
    ),
    _action(
        "look_right",
        "look to {p} right, look right",
        {"eyeLookOut_R": 0.8, "eyeLookIn_L": 0.8},
        (0, -12, 0),
    ),
    _action("tilt_head", "tilt {p} head, cock {p} head", {}, (0, 0, 12)),
    _action(
        "sleepy",
        "look sleepy, look tired, look drowsy, sleepy, drowsy, half-close {p} eyes, "
        "heavy eyelids, droopy eyes",
        # AU43 at C (lids drooping over the upper iris) with the brows slack and the head
        # sinking a little; never a shut eye (that is "close your eyes")
        {"eyeBlink_L": 0.35, "eyeBlink_R": 0.35, "eyeLookDown_L": 0.2, "eyeLookDown_R": 0.2},
        (6, 0, 0),
    ),
    *(
        FacialAction(name, tuple(p.strip() for p in phrases.split(",")), _NONE, unsupported=why)
        for name, phrases, why in (
            ("nod", "nod {p} head, nod, nods, nodding", "a motion; anchors are poses"),
            ("shake_head", "shake {p} head, shakes {p} head", "a motion; anchors are poses"),
            ("blink", "blink, blinks, blinking", "the avatar blinks by itself"),
            ("tongue", "stick out {p} tongue, stick {p} tongue out", "the ICT face has no tongue"),
        )
    ),
)

_POSSESSIVES = ("your ", "her ", "his ", "their ", "the ", "")
_JOINERS = frozenset({"and", "while", "with", "as", "and also"})
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


@dataclass(frozen=True)
class ActionMention:
    """An action phrase in a text: ``action``, the ``phrase`` as written (lower case),
    character ``start`` / ``end``, and ``joined``: True when it is joined to what comes
    before it by "and" / "while" / "with" / "as" (no comma, no "then"); ``intensity``: from
    an intensity word right before or after it ("slightly open your mouth": 0.3; 1.0
    without)."""

    action: FacialAction
    phrase: str
    start: int
    end: int
    joined: bool
    intensity: float = 1.0


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[re.Pattern[str], FacialAction], ...]:
    """Every phrase of every action as a compiled pattern, longest phrase first."""
    out: list[tuple[str, FacialAction]] = []
    for action in ACTIONS:
        for phrase in action.phrases:
            for possessive in _POSSESSIVES if "{p}" in phrase else ("",):
                out.append((phrase.replace("{p} ", possessive), action))
    out.sort(key=lambda item: -len(item[0]))  # longest first: "wink your right eye"
    return tuple((re.compile(r"\b" + re.escape(text) + r"\b"), action) for text, action in out)


def _emotion_spans(lowered: str) -> list[tuple[int, int]]:
    """Character spans of the emotion phrases the lexicon reads ("look up in surprise")."""
    from engines.instructions.analysis import analyze_text

    spans = [m.span() for m in _WORD.finditer(lowered)]
    out = []
    analysis = analyze_text(lowered)
    for mention in analysis.emotion_mentions + analysis.negated_mentions:
        first, last = mention.position, mention.position + mention.length - 1
        if 0 <= first <= last < len(spans):
            out.append((spans[first][0], spans[last][1]))
    return out


def find_actions(text: str) -> list[ActionMention]:
    """The facial actions ``text`` names, in text order (longest phrase wins; a phrase after
    a negation - "don't wink" - is not an action, nor one that an emotion phrase of the
    lexicon overlaps: "look up in surprise", "look down on someone"; an emotion word inside
    the action's phrase is the action's: "look down")."""
    lowered = text.lower()
    matches = [(m, action) for pattern, action in _patterns() for m in pattern.finditer(lowered)]
    if not matches:
        return []
    taken: list[tuple[int, int]] = _emotion_spans(lowered)  # only read when a phrase matched
    found: list[ActionMention] = []
    for match, action in matches:
        start, end = match.span()
        # an emotion phrase that overlaps the action wins ("look up in surprise", "look down
        # on someone"), one inside it does not: "look down" is the gaze, not "down" the sad word
        if any(start < b and a < end and not (start <= a and b <= end) for a, b in taken):
            continue
        before = _WORD.findall(lowered[max(0, start - 12) : start])
        if before and before[-1] in ("not", "don't", "dont", "never", "no", "stop"):
            continue
        taken.append((start, end))
        gap = lowered[:start].rstrip()
        words = _WORD.findall(gap[-10:])
        joined = bool(words) and words[-1] in _JOINERS and not gap.endswith(",")
        intensity = _intensity_near(lowered, start, end)
        found.append(ActionMention(action, match.group(), start, end, joined, intensity))
    found = sorted(found, key=lambda mention: mention.start)
    return _with_elided_looks(lowered, found)


_ELIDED_LOOK = re.compile(
    r"\s*(?:,\s*)?(?:and\s+)?(?:then\s+)?(?:to\s+the\s+)?(up|down|left|right)\b"
)


def _with_elided_looks(lowered: str, found: list[ActionMention]) -> list[ActionMention]:
    """``found`` with the gaze directions that follow a look without repeating it: "look up,
    then down" is looking up, then down (not "down" the sad word), "look left and right"."""
    by_direction = {a.name.removeprefix("look_"): a for a in ACTIONS if a.name.startswith("look_")}
    out: list[ActionMention] = []
    for index, mention in enumerate(found):
        out.append(mention)
        if not mention.action.name.startswith("look_"):
            continue
        end = mention.end
        limit = found[index + 1].start if index + 1 < len(found) else len(lowered)
        while (match := _ELIDED_LOOK.match(lowered, end)) is not None and match.end() <= limit:
            direction = match.group(1)
            out.append(ActionMention(by_direction[direction], direction, match.start(1),
                                     match.end(), joined=False))  # fmt: skip
            end = match.end()
    return out


def _intensity_near(lowered: str, start: int, end: int) -> float:
    """The value of an intensity phrase of the vocabulary right before ``start`` or right
    after ``end`` (at most three words, no punctuation between), else 1.0."""
    from engines.instructions.vocabulary import _EXTRA_VERB_ADVERBS, INTENSITY_ADVERBS

    table = {**INTENSITY_ADVERBS, **_EXTRA_VERB_ADVERBS}
    head = re.search(r"[a-z' ]*$", lowered[:start])
    tail = re.match(r"[a-z' ]*", lowered[end:])
    before = _WORD.findall(head.group() if head else "")[-3:]
    after = _WORD.findall(tail.group() if tail else "")[:3]
    for size in (3, 2, 1):
        for words in (before[-size:] if len(before) >= size else [], after[:size]):
            if len(words) == size and " ".join(words) in table:
                return float(table[" ".join(words)])
    return 1.0


def apply_action(
    base: NDArray[np.floating], action: FacialAction, names: tuple[str, ...]
) -> NDArray[np.float32]:
    """``base`` (E,) expression coefficients with ``action``'s shapes raised to at least
    their weights: (E,) float32 in [0, 1]. Shapes ``names`` lacks are ignored."""
    out = np.clip(np.asarray(base, dtype=np.float32).copy(), 0.0, 1.0)
    for shape, weight in action.shapes.items():
        if shape in names:
            index = names.index(shape)
            out[index] = max(out[index], weight)
    if "eyeBlink_L" in action.shapes or "eyeBlink_R" in action.shapes:  # shut lids: not wide
        for side in ("L", "R"):
            if f"eyeBlink_{side}" in action.shapes and f"eyeWide_{side}" in names:
                out[names.index(f"eyeWide_{side}")] = 0.0
    return out


def with_action(
    anchor: Anchor, action: FacialAction, scale: float, names: tuple[str, ...]
) -> Anchor:
    """``anchor`` with ``action`` on its face, the action's shapes and head offset scaled by
    ``scale``; label "<label> + <action>" (the action's name alone on a neutral anchor)."""
    raised = apply_action(anchor.expression, action, names)
    expression = np.clip(anchor.expression + scale * (raised - anchor.expression), 0.0, 1.0)
    pose = anchor.pose + np.radians(np.asarray(action.pose_degrees, np.float32)) * scale
    alone = anchor.label == "neutral"
    label = action.name if alone else f"{anchor.label} + {action.name}"
    intensity = float(np.clip(scale, 0.0, 1.0)) if alone else float(anchor.intensity)
    return Anchor(label, intensity, expression.astype(np.float32), pose.astype(np.float32))


@dataclass(frozen=True)
class ComposedActions:
    """What :func:`compose_actions` returns: the ``anchors`` in text order, the
    ``unknown_words`` of all pieces and their summed ``timings_ms`` (no "total")."""

    anchors: tuple[Anchor, ...]
    unknown_words: tuple[str, ...]
    timings_ms: dict[str, float]


# plan_piece(text, piece number, the anchor before it or None) -> its plan, or the piece's
# unknown words when it names no emotion ("at the blorf" -> ("blorf",))
PiecePlanner = Callable[[str, int, Anchor | None], PlanRecord | tuple[str, ...]]

_LINKS = r"(?:and|while|with|as|in|then|and then|but|after that|next|finally|first)"
_LEADING = re.compile(rf"^[\s,;.!?:]*(?:{_LINKS}\b[\s,;.!?:]*)*", re.IGNORECASE)
_TRAILING = re.compile(rf"(?:[\s,;.!?:]*\b{_LINKS})*[\s,;.!?:]*$", re.IGNORECASE)
_LEADING_JOINERS = ("and", "while", "with", "as", "in")


def compose_actions(
    text: str,
    actions: Sequence[ActionMention],
    plan_piece: PiecePlanner,
    neutral_expression: NDArray[np.float32],
    neutral_pose: NDArray[np.float32],
    names: tuple[str, ...],
    intensity_scale: float = 1.0,
) -> ComposedActions:
    """Plan ``text`` around its ``actions`` (from :func:`find_actions`).

    The text between actions is cut into pieces (linking words and punctuation at their ends
    removed: "smile and " alone would read as a compound) and each piece that names an
    emotion is planned by ``plan_piece`` from where the previous anchor ends. Each action is
    an anchor of its own on the neutral face, or goes on the emotion anchor next to it when
    they are linked: "smile and wink" (the action joined to the emotion before it) and "wink
    and smile" / "raise your eyebrows in surprise" (the piece after it begins with "and",
    "while", "with", "as" or "in") are one anchor each. The unknown words of pieces that name
    no emotion ("wink at the blorf") are kept for the user; an action the
    avatar cannot do ("nod") is listed among the unknown words and planned as nothing, so
    the anchors may be empty."""
    anchors: list[Anchor] = []
    unknown: list[str] = []
    timings: dict[str, float] = {}
    waiting: tuple[FacialAction, float] | None = None  # an action that may join what follows
    cursor = 0
    pieces: list[str | ActionMention] = []
    for mention in actions:
        pieces += [text[cursor : mention.start], mention]
        cursor = mention.end
    pieces.append(text[cursor:])
    for number, piece in enumerate(pieces):
        if isinstance(piece, ActionMention) and piece.action.unsupported:
            unknown += [piece.phrase] if piece.phrase not in unknown else []
            waiting = None
            continue
        if isinstance(piece, ActionMention):
            scale = intensity_scale * piece.intensity
            if piece.joined and anchors and anchors[-1].label != "neutral":
                anchors[-1] = with_action(anchors[-1], piece.action, scale, names)
                waiting = None
            else:
                base = Anchor("neutral", 0.0, neutral_expression, neutral_pose)
                anchors.append(with_action(base, piece.action, scale, names))
                waiting = (piece.action, scale)
            continue
        words = piece.split(maxsplit=1)
        linked = bool(words) and words[0].lower() in _LEADING_JOINERS
        trimmed = _TRAILING.sub("", _LEADING.sub("", piece))
        if not trimmed:
            continue
        plan = plan_piece(trimmed, number, anchors[-1] if anchors else None)
        if isinstance(plan, tuple):  # no emotion in the piece: only its unknown words
            unknown += [w for w in plan if w not in unknown]
            continue
        for key, value in plan.timings_ms.items():
            timings[key] = timings.get(key, 0.0) + value
        unknown += [w for w in plan.unknown_words if w not in unknown]
        new = list(plan.anchors)
        if waiting is not None and linked and anchors:
            anchors.pop()  # "wink and smile": the wink happens on the smile
            new[0] = with_action(new[0], waiting[0], waiting[1], names)
        anchors += new
        waiting = None
    return ComposedActions(tuple(anchors), tuple(unknown), timings)
