"""``InstructionPlanner``: instruction text → ordered expression anchors (the server's entry).

When the vocabulary recognises 1..4 emotion phrases, the text is grounded (see
``engines.i2fet.grounding``) and the number of anchors is the number of phrases (when
I2FET's slot labels then contradict the phrases, the text is planned one phrase at a time);
otherwise I2FET reads the raw text and its count head decides (and the text is rejected
unless every slot is near-certain). I2FET always generates the expressions, poses and intensities;
a grounded phrase then gets its own strength back (``engines.i2fet.strength``: masked,
"annoyed" and "furious" read the same to I2FET), a plain emotion word is its posed apex, and
a one-sided emotion (contempt) is on one side.

A text longer than ``PlannerConfig.piece_chars`` (more than I2FET reads at once) is planned in
pieces (``engines.i2fet.pieces``: sentences, then clauses), each from where the previous one
ends; a piece that names nothing is skipped and said so (``Plan.skipped``), never dropped
silently.

Facial actions that are not emotions ("wink", "close your eyes", "raise your eyebrows"; see
``engines.instructions.actions``) are anchors of their own, or join the emotion they are
linked to by "and" ("smile and wink").

One planner holds the text encoder, I2FET and NED (loaded once); ``plan`` runs under
``torch.inference_mode`` and times the text encoding, I2FET and NED apart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from engines.face_model import EXPRESSION_NAMES
from engines.i2fet.checkpoint import CHECKPOINT_DIR, load_i2fet, load_ned
from engines.i2fet.config import NUM_EXPRESSIONS, POSE_DIM
from engines.i2fet.exceptions import InstructionError, InstructionNotUnderstoodError
from engines.i2fet.grounding import grounded_reading, lexicon_reading, split_at_mentions
from engines.i2fet.model import I2FET, PooledBaseline
from engines.i2fet.ned import NED
from engines.i2fet.pieces import repeated_pieces, split_long_text
from engines.i2fet.strength import one_sided_anchor, rescaled_anchor
from engines.instructions.actions import ActionMention, compose_actions, find_actions
from engines.instructions.plan import Anchor, PlanRecord
from engines.text import TextEncoder, get_encoder

__all__ = ["EXAMPLE_INSTRUCTIONS", "Anchor", "InstructionPlanner", "Plan", "PlannerConfig"]

logger = logging.getLogger(__name__)

EXAMPLE_INSTRUCTIONS: tuple[str, ...] = (
    "smile",
    "from anger to joy",
    "look slightly sad",
    "be surprised, then burst out laughing, then calm down",
    "very disgusted",
)


@dataclass(frozen=True)
class Plan(PlanRecord):
    """An I2FET plan (the fields of :class:`engines.instructions.plan.PlanRecord`).

    ``anchors`` are :class:`Anchor` with (53,) ICT expressions (1..4 per I2FET run; a longer
    chain is planned in pieces); the neutral face is the
    subject's, from NED; ``understood`` comes from I2FET's slot heads; ``timings_ms`` has
    "text", "i2fet", "ned" and "total".

    Attributes:
        pieces: the pieces a long text was planned in, in order (empty when it was read at
            once; see :func:`engines.i2fet.pieces.split_long_text`).
        skipped: the pieces that named no emotion or facial action: nothing was performed for
            them (their unknown words are in ``unknown_words``).
    """

    pieces: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlannerConfig:
    """Planner options.

    Attributes:
        max_chars: longer instructions are rejected (InstructionError); the server's one limit
            (``server.protocol.MAX_TEXT_CHARS``, a test pins them together).
        piece_chars: longest text I2FET reads at once. Its training instructions are at most
            135 characters (33 wordllama tokens; the encoder cuts at 64): a longer text is
            planned in pieces of at most this many characters (sentences, then clauses).
        min_confidence: with no emotion word found by the vocabulary, every used slot's label
            must be at least this probable for the text to be accepted. The model has never
            seen non-emotional text: at 0.995, 3% of 30 everyday sentences ("be yourself")
            passed and 2.7% of raw held-out instructions; at 0.999 none of either, so in
            practice an instruction needs a word the vocabulary knows.
        sample_temperature: prior-sample scale when ``plan(seed=...)`` asks for variation.
    """

    max_chars: int = 1000
    piece_chars: int = 160
    min_confidence: float = 0.999
    sample_temperature: float = 0.6

    def __post_init__(self) -> None:
        if self.max_chars < 1:
            raise ValueError("max_chars must be >= 1")
        if not 1 <= self.piece_chars <= self.max_chars:
            raise ValueError(f"piece_chars must be in [1, max_chars], got {self.piece_chars}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError("min_confidence must be in [0, 1]")
        if self.sample_temperature < 0:
            raise ValueError("sample_temperature must be >= 0")


def _vector(value: Any, size: int, name: str) -> NDArray[np.float32]:
    try:
        array = np.asarray(value, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError) as error:
        raise InstructionError(f"{name} must be a numeric array of {size} values") from error
    if array.shape != (size,):
        raise InstructionError(f"{name} must have {size} values, got {array.size}")
    if not np.all(np.isfinite(array)):
        raise InstructionError(f"{name} contains NaN or infinite values")
    return array


class InstructionPlanner:
    """Instruction → :class:`Plan`.

    ``plan`` keeps no state between calls (modules in eval mode, a local RNG per call), so one
    planner can serve several threads. The model is tiny: torch's intra-op threads only add
    latency, especially on a busy CPU (bench: p95 3.8 ms with one thread, 72 ms with two
    while other work ran) — servers should run ``torch.set_num_threads(1)``.
    """

    def __init__(
        self,
        model: I2FET | PooledBaseline,
        ned: NED,
        encoder: TextEncoder,
        config: PlannerConfig | None = None,
    ) -> None:
        self.model = model.eval()
        self.ned = ned.eval()
        self.encoder = encoder
        self.config = config or PlannerConfig()
        self.labels: tuple[str, ...] = tuple(model.config.labels)
        self.examples: list[str] = list(EXAMPLE_INSTRUCTIONS)
        from engines.instructions.knowledge import default_knowledge

        knowledge = default_knowledge(True)  # read WordNet now (~1 s), not on the first instruction
        if knowledge is not None and knowledge.similarity is not None:
            knowledge.similarity.prepare()  # embed the vocabulary now (~0.3 s)

    @classmethod
    def load(
        cls,
        checkpoint_dir: Path | None = None,
        encoder: str | None = None,
        config: PlannerConfig | None = None,
        **encoder_options: Any,
    ) -> InstructionPlanner:
        """Load ``i2fet.pt`` and ``ned.pt`` from ``checkpoint_dir`` (default: the committed
        ones) and build the text encoder (the checkpoint's ``text_dim`` must match it).

        Raises:
            CheckpointError: a checkpoint is missing or unreadable.
            EncoderUnavailableError: the encoder cannot be built.
        """
        directory = Path(checkpoint_dir) if checkpoint_dir is not None else CHECKPOINT_DIR
        model = load_i2fet(directory / "i2fet.pt")
        ned = load_ned(directory / "ned.pt")
        encoder = encoder or model.config.encoder
        text_encoder = get_encoder(encoder, **encoder_options)
        if text_encoder.dim != model.config.text_dim:
            from engines.i2fet.exceptions import CheckpointError

            raise CheckpointError(
                f"{directory / 'i2fet.pt'} was trained on {model.config.text_dim}-d text "
                f"features; encoder {encoder!r} gives {text_encoder.dim}-d"
            )
        return cls(model, ned, text_encoder, config)

    def plan(
        self,
        text: str,
        *,
        current_expression: NDArray[np.floating] | None = None,
        current_pose: NDArray[np.floating] | None = None,
        intensity_scale: float = 1.0,
        seed: int | None = None,
    ) -> Plan:
        """Turn ``text`` into anchors.

        Args:
            text: the instruction ("from anger to joy", "smile slightly", ...).
            current_expression: (53,) the face now (source of the parameter branch and NED);
                default the zero expression.
            current_pose: (3,) head-rotation offset now; default zeros.
            intensity_scale: scales every apex towards (< 1) or beyond (> 1) the neutral face;
                in [0, 2].
            seed: None for the deterministic mean anchors; an int draws a CVAE prior sample
                (a different but plausible rendition of the same instruction).

        Raises:
            InstructionError: ``text`` is not a string, too long, or bad numeric arguments.
            InstructionNotUnderstoodError: no emotion understood in ``text``.
        """
        started = time.perf_counter()
        if not isinstance(text, str):
            raise InstructionError(f"instruction must be a string, got {type(text).__name__}")
        if len(text) > self.config.max_chars:
            raise InstructionError(
                f"instruction too long ({len(text)} characters, max {self.config.max_chars})"
            )
        if not (isinstance(intensity_scale, int | float) and 0.0 <= intensity_scale <= 2.0):
            raise InstructionError(f"intensity_scale must be in [0, 2], got {intensity_scale!r}")
        expression = (
            np.zeros(NUM_EXPRESSIONS, np.float32)
            if current_expression is None
            else np.clip(_vector(current_expression, NUM_EXPRESSIONS, "current_expression"), 0, 1)
        )
        pose = (
            np.zeros(POSE_DIM, np.float32)
            if current_pose is None
            else _vector(current_pose, POSE_DIM, "current_pose")
        )
        if len(text.strip()) > self.config.piece_chars:
            pieces = split_long_text(text, self.config.piece_chars)
            if len(pieces) > 1:
                return self._plan_long(
                    text, pieces, expression, pose, intensity_scale, seed, started
                )
        repeated = repeated_pieces(text)
        if repeated is not None and len(repeated) > 1:
            # "frown three times": the clause once per repetition, each from where the last
            # one ends (and through the neutral midpoint, as in any chain); a clause naming
            # nothing is skipped as in a long text
            return self._plan_long(text, repeated, expression, pose, intensity_scale, seed,
                                   started)  # fmt: skip
        actions = find_actions(text)
        if actions:
            return self._plan_with_actions(
                text, actions, expression, pose, intensity_scale, seed, started
            )
        lexicon_labels, unknown_words = lexicon_reading(text)
        max_anchors = self.model.config.max_anchors
        if self.model.config.grounding and len(lexicon_labels) > max_anchors:
            pieces = split_at_mentions(text, max_anchors)
            if len(pieces) > 1:
                return self._plan_pieces(
                    text, pieces, expression, pose, intensity_scale, seed, started
                )
        if not text.strip() or not any(ch.isalpha() for ch in text):
            raise InstructionNotUnderstoodError(
                text, unknown_words=unknown_words, examples=self.examples
            )
        timings: dict[str, float] = {}
        with torch.inference_mode():
            t0 = time.perf_counter()
            model_text, grounded_labels, lexical = text, list[str](), list[float]()
            if self.model.config.grounding:
                model_text, grounded_labels, lexical = grounded_reading(
                    text, self.model.config.max_anchors
                )
            tokens = self.encoder.encode([model_text])
            t1 = time.perf_counter()
            generator = None
            temperature = 0.0
            if seed is not None:
                generator = torch.Generator().manual_seed(int(seed))
                temperature = self.config.sample_temperature
            source_expression = torch.from_numpy(expression).unsqueeze(0)
            source_pose = torch.from_numpy(pose).unsqueeze(0)
            out = self.model(
                tokens.embeddings,
                tokens.mask,
                source_expression,
                source_pose,
                generator=generator,
                temperature=temperature,
            )
            t2 = time.perf_counter()
            neutral_expression, neutral_pose = self.ned(source_expression, source_pose)
            t3 = time.perf_counter()
        timings.update(text=(t1 - t0) * 1e3, i2fet=(t2 - t1) * 1e3, ned=(t3 - t2) * 1e3)
        # Grounded, the count of emotion phrases the vocabulary (and WordNet) named is used:
        # the model's count head would sometimes add an anchor for an unknown non-emotion word
        # ("blorf, look angry"); it decides for raw text.
        count = len(grounded_labels) or int(out.count_logits[0].argmax()) + 1
        probabilities = out.label_logits[0, :count].softmax(-1)
        confidence, label_ids = probabilities.max(-1)
        labels = tuple(self.labels[int(i)] for i in label_ids)
        if not lexicon_labels and float(confidence.min()) < self.config.min_confidence:
            raise InstructionNotUnderstoodError(
                text, understood=(), unknown_words=unknown_words, examples=self.examples
            )
        if len(grounded_labels) > 1 and labels != tuple(grounded_labels):
            # I2FET's slots contradict the emotions it was told (a form it reads poorly:
            # "happy then sad then angry then calm"): plan one emotion at a time instead,
            # each from where the previous one ends.
            pieces = split_at_mentions(text, 1)
            if len(pieces) == len(grounded_labels):
                logger.info("slots %s differ from the grounding %s: planned one by one",
                            labels, grounded_labels)  # fmt: skip
                return self._plan_pieces(
                    text, pieces, expression, pose, intensity_scale, seed, started
                )
        neutral = neutral_expression[0].numpy().astype(np.float32)
        anchors = []
        for k in range(count):
            apex = out.expressions[0, k].numpy()
            intensity = float(out.intensities[0, k])
            if labels[k] != "neutral":
                apex = one_sided_anchor(apex, neutral, labels[k])
                if k < len(lexical) and labels[k] == grounded_labels[k]:
                    apex = rescaled_anchor(apex, neutral, labels[k], lexical[k], intensity)
                    intensity = lexical[k]
            scaled = np.clip(neutral + intensity_scale * (apex - neutral), 0.0, 1.0)
            anchors.append(
                Anchor(
                    label=labels[k],
                    intensity=float(np.clip(intensity * intensity_scale, 0, 1)),
                    expression=scaled.astype(np.float32),
                    pose=out.poses[0, k].numpy().astype(np.float32),
                )
            )
        timings["total"] = (time.perf_counter() - started) * 1e3
        return Plan(
            text=text,
            anchors=tuple(anchors),
            neutral_expression=neutral,
            neutral_pose=neutral_pose[0].numpy().astype(np.float32),
            understood=labels,
            unknown_words=tuple(unknown_words),
            timings_ms=timings,
        )

    def _plan_pieces(
        self,
        text: str,
        pieces: list[str],
        expression: NDArray[np.float32],
        pose: NDArray[np.float32],
        intensity_scale: float,
        seed: int | None,
        started: float,
    ) -> Plan:
        """A chain longer than ``max_anchors``: each piece planned from where the previous
        one ends, the anchors joined (the subject's neutral face is the first piece's)."""
        plans: list[Plan] = []
        for number, piece in enumerate(pieces):
            plan = self.plan(
                piece,
                current_expression=expression,
                current_pose=pose,
                intensity_scale=intensity_scale,
                seed=None if seed is None else seed + number,
            )
            plans.append(plan)
            expression, pose = plan.anchors[-1].expression, plan.anchors[-1].pose
        return _joined(text, plans, started)

    def _plan_long(
        self,
        text: str,
        pieces: list[str],
        expression: NDArray[np.float32],
        pose: NDArray[np.float32],
        intensity_scale: float,
        seed: int | None,
        started: float,
    ) -> Plan:
        """A text longer than I2FET reads at once: each piece (sentence or clauses) planned
        from where the previous one ends; pieces naming nothing are skipped and listed in
        ``Plan.skipped``. Raises InstructionNotUnderstoodError when no piece names anything."""
        plans: list[Plan] = []
        skipped: list[str] = []
        unknown: list[str] = []
        for number, piece in enumerate(pieces):
            try:
                plan = self.plan(
                    piece,
                    current_expression=expression,
                    current_pose=pose,
                    intensity_scale=intensity_scale,
                    seed=None if seed is None else seed + number,
                )
            except InstructionNotUnderstoodError as error:
                skipped.append(piece)
                unknown.extend(error.unknown_words)
                continue
            plans.append(plan)
            unknown.extend(plan.unknown_words)
            expression, pose = plan.anchors[-1].expression, plan.anchors[-1].pose
        if not plans:
            raise InstructionNotUnderstoodError(
                text, unknown_words=tuple(dict.fromkeys(unknown)), examples=self.examples
            )
        return _joined(
            text, plans, started, pieces=tuple(pieces), skipped=tuple(skipped), unknown=unknown
        )

    def _plan_with_actions(
        self,
        text: str,
        actions: list[ActionMention],
        expression: NDArray[np.float32],
        pose: NDArray[np.float32],
        intensity_scale: float,
        seed: int | None,
        started: float,
    ) -> Plan:
        """An instruction naming facial actions: see ``engines.instructions.actions.
        compose_actions``; the neutral face is the subject's, from NED."""
        with torch.inference_mode():
            ned_e, ned_p = self.ned(
                torch.from_numpy(expression).unsqueeze(0), torch.from_numpy(pose).unsqueeze(0)
            )
        neutral = ned_e[0].numpy().astype(np.float32)
        neutral_pose = ned_p[0].numpy().astype(np.float32)

        def plan_piece(
            piece: str, number: int, state: Anchor | None
        ) -> PlanRecord | tuple[str, ...]:
            labels, unknown_words = lexicon_reading(piece)
            if not labels:
                return tuple(unknown_words)
            return self.plan(
                piece,
                current_expression=expression if state is None else state.expression,
                current_pose=pose if state is None else state.pose,
                intensity_scale=intensity_scale,
                seed=None if seed is None else seed + number,
            )

        composed = compose_actions(
            text, actions, plan_piece, neutral, neutral_pose, EXPRESSION_NAMES, intensity_scale
        )
        if not composed.anchors:  # only actions the avatar cannot do ("nod")
            raise InstructionNotUnderstoodError(
                text, unknown_words=composed.unknown_words, examples=self.examples
            )
        timings = dict(composed.timings_ms)
        timings["total"] = (time.perf_counter() - started) * 1e3
        return Plan(
            text=text,
            anchors=composed.anchors,
            neutral_expression=neutral,
            neutral_pose=neutral_pose,
            understood=tuple(a.label for a in composed.anchors),
            unknown_words=composed.unknown_words,
            timings_ms=timings,
        )

    def plan_many(self, texts: Sequence[str], **options: Any) -> list[Plan]:
        """``plan`` for each text (convenience for tests and benchmarks)."""
        return [self.plan(text, **options) for text in texts]


def _joined(
    text: str,
    plans: list[Plan],
    started: float,
    *,
    pieces: tuple[str, ...] = (),
    skipped: tuple[str, ...] = (),
    unknown: Sequence[str] | None = None,
) -> Plan:
    """One plan of ``text`` from the plans of its pieces, in order: their anchors joined, the
    subject's neutral face the first piece's, stage times summed."""
    timings: dict[str, float] = {}
    for plan in plans:
        _add_timings(timings, plan)
    timings["total"] = (time.perf_counter() - started) * 1e3
    if unknown is None:
        unknown = [word for plan in plans for word in plan.unknown_words]
    return Plan(
        text=text,
        anchors=tuple(a for plan in plans for a in plan.anchors),
        neutral_expression=plans[0].neutral_expression,
        neutral_pose=plans[0].neutral_pose,
        understood=tuple(label for plan in plans for label in plan.understood),
        unknown_words=tuple(dict.fromkeys(unknown)),
        timings_ms=timings,
        pieces=pieces,
        skipped=skipped,
    )


def _add_timings(timings: dict[str, float], plan: Plan) -> None:
    """Add ``plan``'s stage times to ``timings`` (a plan made of several pieces)."""
    for key, value in plan.timings_ms.items():
        timings[key] = timings.get(key, 0.0) + value
