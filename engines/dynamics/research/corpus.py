"""A 4D expression corpus on ICT identities: sequences of per-frame expression coefficients.

Subjects are ICT identities drawn from the identity prior, split into training subjects and
held-out test subjects (the paper keeps 27 unseen subjects apart). Every subject performs the
8 basic labels (neutral stays still) at several intensities; every sequence is rest ->
onset -> apex -> offset -> rest with durations drawn from :mod:`.timing`, and within it every
action unit of the label's FACS prototype (``engines.instructions.facs``) moves on its own
schedule: staggered starts, its own curve, per-subject gains, asymmetry and speed
(:mod:`.style`). That is what a linear interpolation of one apex in time cannot reproduce.

A frame's deformation of the decoder region is ``face_scale · Σ_e w_e X_e``: the ICT
expression shapes are the same for every identity, and scaling them by the subject's face
size (inter-ocular distance against the generic face) is the one way the identity enters the
motion (a larger face moves further). The corpus stores coefficients, never vertices: the
deformations come from the user's face model when they are needed
(:meth:`DynamicsCorpus.deformations`).

Shapes: T frames, E = 53 expression shapes, K identity modes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from engines.dynamics.exceptions import DynamicsError
from engines.dynamics.labels import (
    MOTION_LABELS,
    NEUTRAL,
    PhaseTimes,
    mean_displacement,
    motion_labels,
    phase_amplitude,
)
from engines.dynamics.projection import RegionBasis
from engines.dynamics.research.style import SubjectStyle, sample_style
from engines.dynamics.research.timing import AU_ONSETS, EXPRESSION_PHASES, OFFSET_STAGGER
from engines.face_model.ict import FaceModelData
from engines.instructions.facs import AU_TO_SHAPES, EMOTION_AUS

__all__ = [
    "DynamicSequence",
    "DynamicsCorpus",
    "DynamicsCorpusConfig",
    "Subject",
    "generate_corpus",
    "minjerk",
]

_OUTER_EYE_CORNERS = (36, 45)  # Multi-PIE indices into LANDMARKS_68


@dataclass(frozen=True)
class DynamicsCorpusConfig:
    """Size and seed of the corpus.

    Attributes:
        seed: everything is drawn from it.
        train_subjects, test_subjects: identities of each split (disjoint).
        intensities: factors on the posed apex each subject performs every label at
            (each jittered by 8 % per sequence).
        repetitions: sequences per (subject, label, intensity).
        neutral_per_subject: still sequences per subject (label neutral).
        fps: frame rate.
        identity_modes: identity coefficients drawn (first K of the ICT's 100).
        lead_s, tail_s: rest before the onset / after the offset, (low, high) seconds.
        tempo_share: share of the sequences performed at an instructed tempo: their onset
            and offset durations times a factor drawn log-uniformly from ``tempo_range``
            (the product's speed words scale transitions from x0.35, "suddenly", to x3,
            "very slowly": ``engines.instructions.SPEED_WORDS``; the actions keep their
            order and their shares of the onset, our choice). Without them the model sees
            each expression only at its natural speed and does not follow a slower label.
        tempo_range: (low, high) tempo factors.
    """

    seed: int = 0
    train_subjects: int = 40
    test_subjects: int = 12
    intensities: tuple[float, ...] = (0.55, 0.8, 1.05)
    repetitions: int = 1
    neutral_per_subject: int = 1
    fps: float = 25.0
    identity_modes: int = 60
    lead_s: tuple[float, float] = (0.2, 0.5)
    tail_s: tuple[float, float] = (0.2, 0.5)
    tempo_share: float = 0.5
    tempo_range: tuple[float, float] = (0.4, 2.5)

    def __post_init__(self) -> None:
        if self.train_subjects < 1 or self.test_subjects < 0:
            raise ValueError("train_subjects must be >= 1 and test_subjects >= 0")
        if not self.intensities or any(not 0.05 <= k <= 2.0 for k in self.intensities):
            raise ValueError(f"intensities must be in [0.05, 2], got {self.intensities}")
        if self.repetitions < 1 or self.neutral_per_subject < 0:
            raise ValueError("repetitions must be >= 1 and neutral_per_subject >= 0")
        if not (math.isfinite(self.fps) and 5.0 <= self.fps <= 120.0):
            raise ValueError(f"fps must be in [5, 120], got {self.fps}")
        if not 0 <= self.identity_modes <= 100:
            raise ValueError("identity_modes must be in [0, 100]")
        low, high = self.tempo_range
        if not (0.0 <= self.tempo_share <= 1.0 and 0.1 <= low <= high <= 10.0):
            raise ValueError("tempo_share must be in [0, 1] and tempo_range within [0.1, 10]")


@dataclass(frozen=True)
class Subject:
    """One ICT identity with its style.

    Attributes:
        index: subject number (unique over both splits).
        split: "train" or "test".
        identity: (K,) identity coefficients.
        face_scale: inter-ocular distance against the generic face's.
        style: how they perform expressions.
    """

    index: int
    split: str
    identity: NDArray[np.float32]
    face_scale: float
    style: SubjectStyle


@dataclass(frozen=True)
class DynamicSequence:
    """One performance: per-frame expression coefficients of one subject and label.

    Attributes:
        subject: :attr:`Subject.index`.
        label: one of :data:`~engines.dynamics.labels.MOTION_LABELS`.
        intensity: s_i, the apex's mean displacement against the posed prototype's.
        requested: the factor on the posed apex it was drawn with.
        fps: frame rate.
        phases: the expression's onset / apex / offset times.
        weights: (T, E) expression coefficients.
        face_scale: the subject's (deformation = face_scale · weights · X).
        au_onsets: AU -> (start, end) seconds of its onset (left side).
        tempo: the instructed-tempo factor on its onset and offset (1: natural speed).
    """

    subject: int
    label: str
    intensity: float
    requested: float
    fps: float
    phases: PhaseTimes
    weights: NDArray[np.float32]
    face_scale: float
    au_onsets: dict[str, tuple[float, float]] = field(default_factory=dict)
    tempo: float = 1.0

    @property
    def num_frames(self) -> int:
        return int(self.weights.shape[0])

    @property
    def times(self) -> NDArray[np.float64]:
        return np.arange(self.num_frames, dtype=np.float64) / self.fps

    @property
    def amplitude(self) -> NDArray[np.float32]:
        """(T,) the motion label's phase amplitude."""
        return phase_amplitude(self.times, self.phases)

    def labels(self, labels: tuple[str, ...] = MOTION_LABELS) -> NDArray[np.float32]:
        """(T, L) motion labels."""
        return motion_labels(self.label, self.intensity, self.amplitude, labels)

    def phase_names(self) -> list[str]:
        """Per frame "rest", "onset", "apex" or "offset"."""
        t = self.times
        p = self.phases
        end = p.offset_end if p.offset_end is not None else math.inf
        names = np.full(self.num_frames, "rest", dtype=object)
        names[(t >= p.onset_start) & (t < p.apex_start)] = "onset"
        names[(t >= p.apex_start) & (t < p.offset_start)] = "apex"
        names[(t >= p.offset_start) & (t < end)] = "offset"
        return [str(n) for n in names]


@dataclass(frozen=True)
class DynamicsCorpus:
    """Subjects and sequences of both splits, and the s_i references.

    Attributes:
        config: how it was generated.
        subjects: every subject, train first.
        train, test: sequences of the training and the held-out subjects.
        references: label -> mean displacement of its posed prototype (s_i = 1).
    """

    config: DynamicsCorpusConfig
    subjects: tuple[Subject, ...]
    train: tuple[DynamicSequence, ...]
    test: tuple[DynamicSequence, ...]
    references: dict[str, float]

    def split(self, name: str) -> tuple[DynamicSequence, ...]:
        if name not in ("train", "test"):
            raise ValueError(f"split must be train or test, got {name!r}")
        return self.train if name == "train" else self.test

    @cached_property
    def subject_by_index(self) -> dict[int, Subject]:
        return {s.index: s for s in self.subjects}

    @staticmethod
    def deformations(sequence: DynamicSequence, basis: RegionBasis) -> NDArray[np.float32]:
        """(T, V, 3) region deformation of ``sequence`` in cm."""
        return basis.deform(sequence.weights, sequence.face_scale)


def minjerk(u: NDArray[np.float64]) -> NDArray[np.float64]:
    """10u³ - 15u⁴ + 6u⁵ on u clipped to [0, 1]."""
    u = np.clip(u, 0.0, 1.0)
    return u * u * u * (10.0 + u * (-15.0 + 6.0 * u))


def _face_scale(model: FaceModelData, identity: NDArray[np.float32]) -> float:
    corners = model.landmarks_68[list(_OUTER_EYE_CORNERS)]
    k = identity.shape[0]
    generic = model.neutral[corners].astype(np.float64)
    moved = generic + np.tensordot(identity.astype(np.float64), model.identity_basis[:k, corners],
                                   axes=1)  # fmt: skip
    return float(np.linalg.norm(moved[0] - moved[1]) / np.linalg.norm(generic[0] - generic[1]))


def _side(shape: str) -> int:
    """0 left, 1 right, 2 centre."""
    return 0 if shape.endswith("_L") else 1 if shape.endswith("_R") else 2


class _SequenceMaker:
    """Draws sequences for one corpus (keeps the model's shape index)."""

    def __init__(self, model: FaceModelData, basis: RegionBasis, fps: float) -> None:
        self.names = model.expression_names
        self.index = {name: i for i, name in enumerate(self.names)}
        self.basis = basis
        self.fps = fps
        self.references = _references(basis)

    def neutral(self, subject: Subject, rng: np.random.Generator) -> DynamicSequence:
        lead = rng.uniform(0.3, 0.6)
        onset, apex, offset = rng.uniform(0.4, 0.7), rng.uniform(0.6, 1.4), rng.uniform(0.5, 1.0)
        phases = PhaseTimes(lead, lead + onset, lead + onset + apex, lead + onset + apex + offset)
        frames = math.ceil((phases.offset_end or 0.0) * self.fps + rng.uniform(0.2, 0.5) * self.fps)
        weights = np.zeros((frames + 1, len(self.names)), np.float32)
        return DynamicSequence(subject.index, NEUTRAL, 0.0, 0.0, self.fps, phases, weights,
                               subject.face_scale)  # fmt: skip

    def expression(
        self,
        subject: Subject,
        label: str,
        requested: float,
        rng: np.random.Generator,
        config: DynamicsCorpusConfig,
    ) -> DynamicSequence:
        style = subject.style
        (on_lo, on_hi), (ap_lo, ap_hi), (off_lo, off_hi) = EXPRESSION_PHASES[label]
        trial = float(np.exp(rng.normal(0.0, 0.08)))
        tempo = 1.0
        if rng.random() < config.tempo_share:
            tempo = float(np.exp(rng.uniform(*np.log(config.tempo_range))))
        trial *= tempo
        onset = rng.uniform(on_lo, on_hi) * style.speed * trial
        apex = rng.uniform(ap_lo, ap_hi)
        offset = rng.uniform(off_lo, off_hi) * style.speed * trial
        lead = rng.uniform(*config.lead_s)
        tail = rng.uniform(*config.tail_s)
        phases = PhaseTimes(lead, lead + onset, lead + onset + apex, lead + onset + apex + offset)
        frames = math.ceil((lead + onset + apex + offset + tail) * self.fps) + 1
        times = np.arange(frames, dtype=np.float64) / self.fps

        # per-AU onset shares, jittered per subject and trial, rescaled to span [0, 1]
        shares: dict[str, tuple[float, float]] = {}
        for au, (start, duration) in AU_ONSETS[label].items():
            begin = start + style.au_shift[(label, au)] + rng.normal(0.0, 0.02)
            shares[au] = (begin, begin + duration * float(np.exp(rng.normal(0.0, 0.05))))
        first = min(b for b, _ in shares.values())
        last = max(e for _, e in shares.values())
        shares = {au: ((b - first) / (last - first), (e - first) / (last - first))
                  for au, (b, e) in shares.items()}  # fmt: skip

        level = requested * float(np.exp(rng.normal(0.0, 0.08)))
        delays = (max(0.0, -style.side_delay_s), max(0.0, style.side_delay_s), 0.0)
        weights = np.zeros((frames, len(self.names)), np.float64)
        apex_weights = np.zeros(len(self.names), np.float64)
        au_onsets: dict[str, tuple[float, float]] = {}
        for au, (begin, end) in sorted(shares.items()):
            t_on0 = phases.onset_start + begin * onset
            t_on1 = phases.onset_start + end * onset
            t_off0 = phases.offset_start + OFFSET_STAGGER * begin * offset
            t_off1 = phases.offset_start + offset
            au_onsets[au] = (t_on0, t_on1)
            phase = rng.uniform(0.0, 2.0 * np.pi)
            gain = level * style.au_gain[(label, au)] * EMOTION_AUS[label][au]
            for shape, shape_weight in AU_TO_SHAPES[au].items():
                if au.startswith("R") and style.contempt_side == "left":
                    shape = shape.replace("_R", "_L")
                if shape not in self.index:
                    continue
                side = _side(shape)
                side_gain = style.side_gain[side] if side < 2 else 1.0
                shifted = times - delays[side]
                rise = minjerk(np.clip((shifted - t_on0) / (t_on1 - t_on0), 0, 1) ** style.skew)
                fall = 1.0 - minjerk(
                    np.clip((shifted - t_off0) / (t_off1 - t_off0), 0, 1) ** style.skew
                )
                envelope = rise * fall
                wobble = 1.0 + style.apex_wobble * np.sin(2 * np.pi * style.apex_hz * times + phase)
                held = 1.0 + (wobble - 1.0) * envelope  # the wobble only where the AU is held
                curve = gain * shape_weight * side_gain * envelope * held
                column = self.index[shape]
                weights[:, column] = np.maximum(weights[:, column], curve)
                apex_weights[column] = max(apex_weights[column], gain * shape_weight * side_gain)
        weights = np.clip(weights, 0.0, 1.0)
        apex_weights = np.clip(apex_weights, 0.0, 1.0)
        apex_deformation = self.basis.deform(apex_weights, subject.face_scale)
        intensity = mean_displacement(apex_deformation) / self.references[label]
        return DynamicSequence(subject.index, label, float(intensity), float(requested),
                               self.fps, phases, weights.astype(np.float32), subject.face_scale,
                               au_onsets, tempo)  # fmt: skip


def _references(basis: RegionBasis) -> dict[str, float]:
    from engines.dynamics.labels import label_references

    return label_references(basis.basis, basis.expression_names)


def generate_corpus(
    model: FaceModelData, basis: RegionBasis, config: DynamicsCorpusConfig | None = None
) -> DynamicsCorpus:
    """Generate the corpus (deterministic for ``config.seed``; about a second).

    Raises:
        DynamicsError: the model lacks the shapes the FACS prototypes need.
    """
    config = config or DynamicsCorpusConfig()
    missing = {s for shapes in AU_TO_SHAPES.values() for s in shapes} - set(model.expression_names)
    if missing:
        raise DynamicsError(f"the face model lacks expression shapes: {sorted(missing)}")
    rng = np.random.default_rng([config.seed, 4])
    maker = _SequenceMaker(model, basis, config.fps)
    subjects: list[Subject] = []
    total = config.train_subjects + config.test_subjects
    for index in range(total):
        identity = rng.standard_normal(config.identity_modes).astype(np.float32)
        split = "train" if index < config.train_subjects else "test"
        subjects.append(Subject(index, split, identity, _face_scale(model, identity),
                                sample_style(rng)))  # fmt: skip
    splits: dict[str, list[DynamicSequence]] = {"train": [], "test": []}
    emotions = [label for label in MOTION_LABELS if label != NEUTRAL]
    for subject in subjects:
        sequence_rng = np.random.default_rng([config.seed, 5, subject.index])
        for _ in range(config.neutral_per_subject):
            splits[subject.split].append(maker.neutral(subject, sequence_rng))
        for label in emotions:
            for requested in config.intensities:
                for _ in range(config.repetitions):
                    splits[subject.split].append(
                        maker.expression(subject, label, requested, sequence_rng, config)
                    )
    return DynamicsCorpus(config, tuple(subjects), tuple(splits["train"]), tuple(splits["test"]),
                          maker.references)  # fmt: skip
