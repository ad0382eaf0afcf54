"""Deterministic generation of the instruction corpus the I2FET model trains on.

A sample pairs an instruction text with the expression anchors it asks for. The anchors
are drawn from a distribution around the FACS prototypes (see :mod:`.facs`), not looked
up: each subject has a style (per-shape gains, overall expressivity, a resting face with
small offsets, a resting head pose), every anchor has its own intensity (from the intensity
words and the intrinsic strength of the synonym, jittered), left/right asymmetry, shape
noise and a small head pose around the emotion's pose prior.

Splits: ``train``, ``val`` and ``test`` use the training phrasings only; ``heldout`` uses
at least one held-out template, synonym, intensity word, copula or connector in every
sample (listed in :mod:`.templates` and :mod:`.vocabulary`), to measure generalisation.
Generation is deterministic for a given :class:`CorpusConfig` (``seed``).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from engines.face_model.ict import EXPRESSION_NAMES
from engines.instructions import templates as T
from engines.instructions.facs import apex_scale, emotion_pose_prior, emotion_prototype
from engines.instructions.vocabulary import (
    BASIC_EMOTIONS,
    COMPOUND_EMOTIONS,
    EMOTIONS,
    HELDOUT_INTENSITY_WORDS,
    INTENSITY_ADVERBS,
    INTENSITY_NOUN_MODIFIERS,
    LEXICON,
    VERB_SUFFIX_ADVERBS,
    LexicalEntry,
    blended_intensity,
    verb_adverb_value,
)

__all__ = ["Corpus", "CorpusConfig", "InstructionSample", "SubjectStyle", "generate_corpus"]

Split = Literal["train", "val", "test", "heldout"]
_SLOT = re.compile(r"\{(A|B)(?::(adj|noun|vp))?\}")


@dataclass(frozen=True)
class CorpusConfig:
    """Size and distribution of the generated corpus.

    Attributes:
        seed: everything is a deterministic function of the config.
        num_train, num_val, num_test, num_heldout: samples per split.
        num_subjects: distinct subject styles.
        single_fraction: share of one-target instructions ("make her smile").
        chain_fraction: share of chains of 3-4 emotions (the rest are "from X to Y" pairs).
        neutral_probability: chance that an item is "neutral" ("calm down").
        compound_fraction: chance that a non-neutral item is a compound emotion.
        intensity_word_probability: chance that a non-neutral item gets an intensity word.
        asymmetry_std: std of the left/right gain difference of an anchor.
        expression_noise_std: relative std of the per-shape noise of active shapes.
        pose_noise_degrees: std of the head-pose noise of an anchor.
        expression_names: the face model's expression shapes (ICT order by default).
    """

    seed: int = 0
    num_train: int = 30_000
    num_val: int = 2_000
    num_test: int = 2_000
    num_heldout: int = 2_000
    num_subjects: int = 200
    single_fraction: float = 0.3
    chain_fraction: float = 0.15
    neutral_probability: float = 0.07
    compound_fraction: float = 0.35
    intensity_word_probability: float = 0.4
    asymmetry_std: float = 0.08
    expression_noise_std: float = 0.1
    pose_noise_degrees: float = 2.0
    expression_names: tuple[str, ...] = EXPRESSION_NAMES

    def __post_init__(self) -> None:
        for name in ("num_train", "num_val", "num_test", "num_heldout"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.num_subjects < 1:
            raise ValueError(f"num_subjects must be >= 1, got {self.num_subjects}")
        for name in (
            "single_fraction", "chain_fraction", "neutral_probability", "compound_fraction",
            "intensity_word_probability",
        ):  # fmt: skip
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.single_fraction + self.chain_fraction > 1.0:
            raise ValueError("single_fraction + chain_fraction must be <= 1")
        if self.neutral_probability >= 0.5:
            raise ValueError("neutral_probability must be < 0.5 (instructions need emotions)")
        for name in ("asymmetry_std", "expression_noise_std", "pose_noise_degrees"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if len(self.expression_names) == 0:
            raise ValueError("expression_names must not be empty")


@dataclass(frozen=True)
class InstructionSample:
    """One instruction and the anchors it asks for (K = number of emotions, 1..4).

    Attributes:
        text: the instruction.
        labels: (K,) canonical emotion labels in order.
        intensities: (K,) apex intensities in [0, 1] (0 for "neutral").
        expressions: (K, E) float32 absolute expression coefficients of the anchors.
        poses: (K, 3) float32 head-rotation offsets (pitch, yaw, roll), radians.
        neutral_expression: (E,) the subject's resting face.
        neutral_pose: (3,) the subject's resting head-rotation offset.
        source_expression: (E,) the face before the instruction (``expressions[0]`` for
            "from X to Y" instructions and chains; the resting face or another expression
            for one-target instructions).
        subject_id: which subject style generated the anchors.
        source_pose: (3,) the head-rotation offset before the instruction (``poses[0]``,
            the resting pose, or the pose of the other expression, like ``source_expression``).
        heldout_kinds: what is held out in this sample (``heldout`` split only): any of
            "template", "synonym", "intensity", "copula"; empty in train / val / test.
    """

    text: str
    labels: tuple[str, ...]
    intensities: tuple[float, ...]
    expressions: NDArray[np.float32]
    poses: NDArray[np.float32]
    neutral_expression: NDArray[np.float32]
    neutral_pose: NDArray[np.float32]
    source_expression: NDArray[np.float32]
    subject_id: int
    source_pose: NDArray[np.float32] = field(default_factory=lambda: np.zeros(3, np.float32))
    heldout_kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubjectStyle:
    """How one subject expresses: (E,) per-shape gains, expressivity, resting face and pose."""

    subject_id: int
    gains: NDArray[np.float32]
    expressivity: float
    neutral_expression: NDArray[np.float32]
    neutral_pose: NDArray[np.float32]


@dataclass
class Corpus:
    """The generated splits and the config that produced them."""

    config: CorpusConfig
    train: list[InstructionSample] = field(default_factory=list)
    val: list[InstructionSample] = field(default_factory=list)
    test: list[InstructionSample] = field(default_factory=list)
    heldout: list[InstructionSample] = field(default_factory=list)

    def split(self, name: str) -> list[InstructionSample]:
        """A split by name (``train``, ``val``, ``test`` or ``heldout``)."""
        if name not in ("train", "val", "test", "heldout"):
            raise ValueError(f"unknown split {name!r}; valid: train, val, test, heldout")
        samples: list[InstructionSample] = getattr(self, name)
        return samples

    def label_counts(self, name: str = "train") -> Counter[str]:
        """How often each label occurs as an anchor in a split."""
        return Counter(label for s in self.split(name) for label in s.labels)


class _Generator:
    """Holds the per-config tables; ``sample(rng, heldout)`` draws one sample."""

    def __init__(self, config: CorpusConfig) -> None:
        self.config = config
        names = config.expression_names
        self.num_shapes = len(names)
        self.prototypes = {
            label: emotion_prototype(label, names, side="right") for label in EMOTIONS
        }
        self.prototypes_left = {
            label: emotion_prototype(label, names, side="left") for label in EMOTIONS
        }
        self.pose_priors = {label: emotion_pose_prior(label) for label in EMOTIONS}
        self.left = np.array([i for i, n in enumerate(names) if n.endswith("_L")], np.int64)
        self.right = np.array([i for i, n in enumerate(names) if n.endswith("_R")], np.int64)
        pairs = {n[:-2]: i for i, n in enumerate(names) if n.endswith("_L")}
        self.pair_l = np.array(
            [pairs[n[:-2]] for n in names if n.endswith("_R") and n[:-2] in pairs]
        )
        self.pair_r = np.array(
            [i for i, n in enumerate(names) if n.endswith("_R") and n[:-2] in pairs]
        )
        self.blink = [names.index(n) for n in ("eyeBlink_L", "eyeBlink_R") if n in names]
        self.entries: dict[tuple[str, str, bool], list[LexicalEntry]] = {}
        for entry in LEXICON:
            self.entries.setdefault((entry.label, entry.form, entry.heldout), []).append(entry)
        self.basic = [label for label in BASIC_EMOTIONS if label != "neutral"]
        self.compound = list(COMPOUND_EMOTIONS)
        self.train_adverbs = [w for w in INTENSITY_ADVERBS if w not in HELDOUT_INTENSITY_WORDS]
        self.heldout_adverbs = [w for w in INTENSITY_ADVERBS if w in HELDOUT_INTENSITY_WORDS]
        self.train_mods = [w for w in INTENSITY_NOUN_MODIFIERS if w not in HELDOUT_INTENSITY_WORDS]
        self.heldout_mods = [w for w in INTENSITY_NOUN_MODIFIERS if w in HELDOUT_INTENSITY_WORDS]
        self.train_verb_advs = [w for w in VERB_SUFFIX_ADVERBS if w not in HELDOUT_INTENSITY_WORDS]
        self.heldout_verb_advs = [w for w in VERB_SUFFIX_ADVERBS if w in HELDOUT_INTENSITY_WORDS]
        self.subjects = [self._subject(i) for i in range(config.num_subjects)]
        self.label_index = {label: i for i, label in enumerate(EMOTIONS)}
        self.proto_right = np.stack([self.prototypes[label] for label in EMOTIONS])
        self.proto_left = np.stack([self.prototypes_left[label] for label in EMOTIONS])
        self.pose_prior = np.stack([self.pose_priors[label] for label in EMOTIONS])
        self.gains = np.stack([s.gains for s in self.subjects])
        self.expressivity = np.array([s.expressivity for s in self.subjects])
        self.neutral = np.stack([s.neutral_expression for s in self.subjects])
        self.neutral_pose = np.stack([s.neutral_pose for s in self.subjects])

    # ----------------------------------------------------------------------------- subjects
    def _subject(self, subject_id: int) -> SubjectStyle:
        rng = np.random.default_rng([self.config.seed, 7, subject_id])
        e = self.num_shapes
        gains = np.exp(rng.normal(0.0, 0.2, e))
        # left/right shapes share most of their gain (faces are nearly symmetric)
        if len(self.pair_l):
            mean = 0.5 * (gains[self.pair_l] + gains[self.pair_r])
            gains[self.pair_l] = mean * np.exp(rng.normal(0, 0.05, len(mean)))
            gains[self.pair_r] = mean * np.exp(rng.normal(0, 0.05, len(mean)))
        expressivity = float(np.exp(rng.normal(0.0, 0.15)))
        neutral = np.zeros(e, np.float32)
        active = rng.choice(e, size=min(5, e), replace=False)
        neutral[active] = rng.uniform(0.0, 0.08, len(active))
        if self.blink:
            neutral[self.blink] = rng.uniform(0.0, 0.12)
        pose = np.radians(rng.normal(0.0, 2.0, 3)).astype(np.float32)
        gains = gains.astype(np.float32)
        for array in (gains, neutral, pose):
            array.flags.writeable = False  # shared by every sample of the subject
        return SubjectStyle(subject_id, gains, expressivity, neutral, pose)

    # ------------------------------------------------------------------------------ labels
    def _label(self, r: random.Random) -> str:
        cfg = self.config
        if r.random() < cfg.neutral_probability:
            return "neutral"
        if r.random() < cfg.compound_fraction:
            return r.choice(self.compound)
        return r.choice(self.basic)

    def _labels(self, r: random.Random, count: int) -> list[str]:
        while True:
            labels: list[str] = []
            while len(labels) < count:
                label = self._label(r)
                if labels and labels[-1] == label:
                    continue
                labels.append(label)
            if count == 1 or any(label != "neutral" for label in labels):
                return labels

    # ------------------------------------------------------------------------------- words
    def _entry(
        self, r: random.Random, label: str, forms: tuple[str, ...], heldout: bool
    ) -> LexicalEntry:
        candidates: list[LexicalEntry] = []
        for form in forms:
            if heldout:
                candidates += self.entries.get((label, form, True), [])
        if not candidates:
            for form in forms:
                candidates += self.entries.get((label, form, False), [])
        return r.choice(candidates)

    def _phrase(
        self, r: random.Random, entry: LexicalEntry, slot: str, heldout: set[str], used: set[str]
    ) -> tuple[str, float]:
        """Render an item in a slot kind; returns (phrase, apex intensity)."""
        cfg = self.config
        word, word_value = "", None
        want_word = entry.label != "neutral" and r.random() < cfg.intensity_word_probability
        ho_word = "intensity" in heldout
        if want_word:
            if entry.form == "adj":
                word = r.choice(self.heldout_adverbs if ho_word else self.train_adverbs)
                word_value = INTENSITY_ADVERBS[word]
            elif entry.form == "noun" and not entry.text.startswith("a "):
                word = r.choice(self.heldout_mods if ho_word else self.train_mods)
                word_value = INTENSITY_NOUN_MODIFIERS[word]
            elif entry.form == "verb" and len(entry.text.split()) <= 2:
                word = r.choice(self.heldout_verb_advs if ho_word else self.train_verb_advs)
                word_value = verb_adverb_value(word)
            if word and word in HELDOUT_INTENSITY_WORDS:
                used.add("intensity")
        if entry.heldout:
            used.add("synonym")
        if entry.form == "verb":
            core = f"{entry.text} {word}" if word else entry.text
        else:
            core = f"{word} {entry.text}" if word else entry.text
        if slot == "vp":
            if entry.form == "adj":
                if "copula" in heldout:
                    used.add("copula")
                    copula = r.choice(T.HELDOUT_COPULAS)
                else:
                    copula = r.choice(T.COPULAS)
                core = f"{copula} {core}"
            elif entry.form == "noun":
                if "copula" in heldout:
                    used.add("copula")
                    verb = r.choice(T.HELDOUT_NOUN_VERBS)
                else:
                    verb = r.choice(T.NOUN_VERBS)
                core = f"{verb} {core}"
        if entry.label == "neutral":
            intensity = 0.0
        else:
            base = entry.intensity
            value = blended_intensity(base, word_value)
            intensity = float(np.clip(value * r.uniform(0.88, 1.12), 0.1, 1.0))
        return core, intensity

    @staticmethod
    def _forms(slot: str) -> tuple[str, ...]:
        return {
            "state": ("adj", "noun"),
            "adj": ("adj",),
            "noun": ("noun",),
            "vp": ("adj", "noun", "verb"),
        }[slot]

    def _fill(
        self, r: random.Random, template: str, labels: list[str], heldout: set[str], used: set[str]
    ) -> tuple[str, list[float]]:
        intensities: list[float] = [0.0] * len(labels)

        def replace(match: re.Match[str]) -> str:
            k = "AB".index(match.group(1))
            slot = match.group(2) or "state"
            entry = self._entry(r, labels[k], self._forms(slot), "synonym" in heldout)
            text, intensities[k] = self._phrase(r, entry, slot, heldout, used)
            return text

        text = _SLOT.sub(replace, template)
        if "{who}" in text:
            text = text.replace("{who}", r.choice(T.WHO))
        return text, intensities

    def _chain(
        self, r: random.Random, labels: list[str], heldout: set[str], used: set[str]
    ) -> tuple[str, list[float]]:
        intensities: list[float] = []
        if r.random() < 0.3:
            # "from A to B to C" / "cycle through A, B and C"
            parts = []
            for label in labels:
                entry = self._entry(r, label, ("adj", "noun"), "synonym" in heldout)
                text, value = self._phrase(r, entry, "state", heldout, used)
                parts.append(text)
                intensities.append(value)
            if "template" in heldout:
                used.add("template")
                return r.choice(T.HELDOUT_CHAIN_STATE_TEMPLATES).replace(
                    "{items_and}", ", ".join(parts[:-1]) + " and " + parts[-1]
                ), intensities
            return r.choice(T.CHAIN_STATE_TEMPLATES).replace(
                "{items_to}", " to ".join(parts)
            ), intensities
        parts = []
        for label in labels:
            entry = self._entry(r, label, ("adj", "noun", "verb"), "synonym" in heldout)
            text, value = self._phrase(r, entry, "vp", heldout, used)
            parts.append(text)
            intensities.append(value)
        ho = "template" in heldout
        out = ("first " if r.random() < 0.3 else "") + parts[0]
        for i, part in enumerate(parts[1:], start=1):
            final = i == len(parts) - 1 and r.random() < 0.5
            if ho:
                pool = T.HELDOUT_CHAIN_FINAL_CONNECTORS if final else T.HELDOUT_CHAIN_CONNECTORS
                used.add("template")
            else:
                pool = T.CHAIN_FINAL_CONNECTORS if final else T.CHAIN_CONNECTORS
            out += r.choice(pool) + part
        return out, intensities

    # ----------------------------------------------------------------------------- anchors
    def anchors(
        self, rng: np.random.Generator, specs: list[_AnchorSpec]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """(M, E) expressions and (M, 3) poses of M anchor specs, drawn in one batch."""
        cfg = self.config
        m, e = len(specs), self.num_shapes
        if m == 0:
            return np.zeros((0, e), np.float32), np.zeros((0, 3), np.float32)
        subject = np.array([s.subject_id for s in specs])
        label = np.array([self.label_index[s.label] for s in specs])
        intensity = np.array([s.intensity for s in specs])
        left = np.array([s.left_side for s in specs])
        sign = np.array([s.sign for s in specs])
        is_neutral = label == self.label_index["neutral"]
        proto = np.where(left[:, None], self.proto_left[label], self.proto_right[label])
        # the posed apex at the plain word's intensity, scaled by the anchor's (facs.apex_scale)
        scale = apex_scale(intensity) * self.expressivity[subject]
        active = proto * scale[:, None] * self.gains[subject]
        asym = rng.normal(0.0, cfg.asymmetry_std, m)
        active[:, self.left] *= (1.0 + asym)[:, None]
        active[:, self.right] *= (1.0 - asym)[:, None]
        active *= np.maximum(rng.normal(1.0, cfg.expression_noise_std, (m, e)), 0.0)
        sparse = rng.random((m, e)) < 0.1
        active += sparse * np.abs(rng.normal(0.0, 0.03, (m, e)))
        rest_noise = np.abs(rng.normal(0.0, 0.005, (m, e)))
        active = np.where(is_neutral[:, None], rest_noise, active)
        expressions = np.clip(self.neutral[subject] + active, 0.0, 1.0).astype(np.float32)
        prior = self.pose_prior[label] * intensity[:, None]
        prior[:, 1:] *= sign[:, None]
        noise_std = np.where(is_neutral, 0.5, 1.0) * cfg.pose_noise_degrees
        noise = np.radians(rng.normal(0.0, 1.0, (m, 3)) * noise_std[:, None])
        poses = (self.neutral_pose[subject] + prior + noise).astype(np.float32)
        return expressions, poses

    # ------------------------------------------------------------------------------ sample
    def sample(self, r: random.Random, heldout_split: bool) -> _SampleSpec:
        cfg = self.config
        while True:
            heldout: set[str] = set()
            if heldout_split:
                heldout = {r.choice(("template", "synonym", "intensity", "copula"))}
                if r.random() < 0.3:
                    heldout.add(r.choice(("template", "synonym", "intensity")))
            used: set[str] = set()
            u = r.random()
            if u < cfg.single_fraction:
                labels = self._labels(r, 1)
                if "template" in heldout:
                    template = r.choice(T.HELDOUT_SINGLE_TEMPLATES)
                    used.add("template")
                else:
                    template = r.choice(T.SINGLE_TEMPLATES)
                text, intensities = self._fill(r, template, labels, heldout, used)
            elif u < cfg.single_fraction + cfg.chain_fraction:
                labels = self._labels(r, r.choice((3, 3, 4)))
                text, intensities = self._chain(r, labels, heldout, used)
            else:
                labels = self._labels(r, 2)
                if "template" in heldout:
                    template = r.choice(T.HELDOUT_PAIR_TEMPLATES)
                    used.add("template")
                else:
                    template = r.choice(T.PAIR_TEMPLATES)
                text, intensities = self._fill(r, template, labels, heldout, used)
            if not heldout_split or used:
                break
        subject_id = r.randrange(len(self.subjects))
        anchors = [
            _AnchorSpec(subject_id, lab, val, r.random() < 0.5, 1.0 if r.random() < 0.5 else -1.0)
            for lab, val in zip(labels, intensities, strict=True)
        ]
        source: _AnchorSpec | None = None  # None: the first anchor or the resting face
        # "calm down" needs something to calm down from: never the resting face
        source_is_rest = len(labels) == 1 and labels[0] != "neutral" and r.random() < 0.5
        if len(labels) == 1 and not source_is_rest:
            source_label = self._label(r)
            while source_label == "neutral":
                source_label = self._label(r)
            source = _AnchorSpec(
                subject_id,
                source_label,
                r.uniform(0.2, 0.9),
                r.random() < 0.5,
                1.0 if r.random() < 0.5 else -1.0,
            )
        return _SampleSpec(
            _finish(r, text),
            tuple(labels),
            tuple(intensities),
            subject_id,
            anchors,
            source,
            source_is_rest,
            tuple(sorted(used)),
        )


@dataclass(frozen=True)
class _AnchorSpec:
    subject_id: int
    label: str
    intensity: float
    left_side: bool
    sign: float


@dataclass(frozen=True)
class _SampleSpec:
    text: str
    labels: tuple[str, ...]
    intensities: tuple[float, ...]
    subject_id: int
    anchors: list[_AnchorSpec]
    source: _AnchorSpec | None
    source_is_rest: bool
    heldout_kinds: tuple[str, ...]


_ARTICLE = re.compile(r"\ba ([aeiou])")


def _finish(r: random.Random, text: str) -> str:
    """Fix articles, vary capitalisation and end punctuation."""
    text = _ARTICLE.sub(r"an \1", text)
    u = r.random()
    if u < 0.45:
        text = text[0].upper() + text[1:]
    elif u < 0.55:
        text = text.lower()
    v = r.random()
    if v < 0.25:
        text += "."
    elif v < 0.35:
        text += "!"
    return text


def generate_corpus(config: CorpusConfig | None = None) -> Corpus:
    """Generate the corpus (deterministic for a config; a few seconds for 36k samples)."""
    config = config or CorpusConfig()
    generator = _Generator(config)
    corpus = Corpus(config)
    for index, (name, count) in enumerate(
        (("train", config.num_train), ("val", config.num_val), ("test", config.num_test),
         ("heldout", config.num_heldout))
    ):  # fmt: skip
        r = random.Random(config.seed * 1_000_003 + index)
        specs = [generator.sample(r, name == "heldout") for _ in range(count)]
        flat = [a for spec in specs for a in spec.anchors]
        sources = [spec.source for spec in specs if spec.source is not None]
        rng = np.random.default_rng([config.seed, 11, index])
        expressions, poses = generator.anchors(rng, flat + sources)
        samples: list[InstructionSample] = []
        offset, source_offset = 0, len(flat)
        for spec in specs:
            k = len(spec.anchors)
            subject = generator.subjects[spec.subject_id]
            if spec.source is not None:
                source, source_pose = expressions[source_offset], poses[source_offset]
                source_offset += 1
            elif spec.source_is_rest:
                source, source_pose = subject.neutral_expression, subject.neutral_pose
            else:
                source, source_pose = expressions[offset], poses[offset]
            samples.append(
                InstructionSample(
                    text=spec.text,
                    labels=spec.labels,
                    intensities=tuple(round(v, 4) for v in spec.intensities),
                    expressions=expressions[offset : offset + k],
                    poses=poses[offset : offset + k],
                    neutral_expression=subject.neutral_expression,
                    neutral_pose=subject.neutral_pose,
                    source_expression=source.copy(),
                    subject_id=spec.subject_id,
                    source_pose=source_pose.copy(),
                    heldout_kinds=spec.heldout_kinds,
                )
            )
            offset += k
        setattr(corpus, name, samples)
    return corpus
