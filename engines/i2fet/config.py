"""One config dataclass per component of ``engines.i2fet``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "ClassifierConfig",
    "I2FETConfig",
    "NEDConfig",
    "TrainConfig",
]

NUM_EXPRESSIONS = 53
POSE_DIM = 3


@dataclass(frozen=True)
class I2FETConfig:
    """The instruction → anchors generator (IFED + CVAE).

    Attributes:
        labels: emotion labels the slot heads classify into (from the corpus vocabulary).
        text_dim: width of the text encoder's token embeddings.
        model_dim: width of the IFED features.
        num_heads: attention heads in every transformer layer.
        param_layers: transformer layers of the parameter branch (paper: 2).
        param_tokens: tokens the 56 source parameters are projected into.
        text_layers: transformer layers of the text branch (paper: 1).
        caft_layers: cross-attention fusion layers (paper: 1).
        max_anchors: anchor slots K (instructions name 1..K emotions).
        max_tokens: longest text (positional table size; the CLS token is extra).
        expression_latent: CVAE latent size of the expression branch.
        pose_latent: CVAE latent size of the pose branch.
        hidden: width of the CVAE MLPs.
        max_pose: |pose| bound in radians (tanh output scale).
        dropout: dropout inside the transformer layers.
        mode: "ifed" (the paper's model), "no_ifed" (CVAE conditioned on pooled text + source
            parameters + slot embedding, no transformers) or "baseline" (pooled text → MLP →
            anchors, no CVAE).
        grounding: the model was trained to read the vocabulary's grounding suffix
            (see ``engines.i2fet.grounding``); the planner then adds it.
        encoder: name of the text encoder the model was trained on (``engines.text``
            registry); checkpoints from before it was recorded were all "wordllama".
    """

    labels: tuple[str, ...] = ()
    text_dim: int = 256
    model_dim: int = 128
    num_heads: int = 4
    param_layers: int = 2
    param_tokens: int = 8
    text_layers: int = 1
    caft_layers: int = 1
    max_anchors: int = 4
    max_tokens: int = 64
    expression_latent: int = 16
    pose_latent: int = 4
    hidden: int = 256
    max_pose: float = 0.6
    dropout: float = 0.0
    mode: str = "ifed"
    grounding: bool = True
    encoder: str = "wordllama"

    def __post_init__(self) -> None:
        if not self.encoder:
            raise ValueError("I2FETConfig.encoder must name a text encoder (e.g. 'wordllama')")
        if not self.labels:
            raise ValueError("I2FETConfig.labels is empty: pass the corpus emotion labels")
        if self.mode not in ("ifed", "no_ifed", "baseline"):
            raise ValueError(f"mode must be 'ifed', 'no_ifed' or 'baseline', got {self.mode!r}")
        if self.model_dim % self.num_heads:
            raise ValueError(
                f"model_dim ({self.model_dim}) must be divisible by num_heads ({self.num_heads})"
            )
        for name in (
            "text_dim",
            "model_dim",
            "max_anchors",
            "max_tokens",
            "hidden",
            "param_tokens",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        for name in ("param_layers", "text_layers", "caft_layers"):
            if getattr(self, name) < (1 if name == "caft_layers" else 0):
                raise ValueError(f"{name} out of range: {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["labels"] = list(self.labels)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> I2FETConfig:
        values = dict(data)
        values["labels"] = tuple(values.get("labels", ()))
        values.setdefault("grounding", False)  # checkpoints from before grounding existed
        return cls(**values)


@dataclass(frozen=True)
class NEDConfig:
    """Neutral encoder-decoder: four fully connected layers each way.

    Attributes:
        hidden: width of the hidden layers.
        latent: bottleneck width.
        max_pose: |pose| bound of the decoded neutral pose (radians).
    """

    hidden: int = 128
    latent: int = 32
    max_pose: float = 0.6

    def __post_init__(self) -> None:
        if self.hidden < 1 or self.latent < 1:
            raise ValueError("NEDConfig.hidden and latent must be >= 1")


@dataclass(frozen=True)
class ClassifierConfig:
    """The expression classifier used as the judge (Acc1/Acc2/G-mean).

    Attributes:
        labels: emotion labels.
        hidden: MLP width.
        layers: hidden layers.
        dropout: dropout between hidden layers.
    """

    labels: tuple[str, ...] = ()
    hidden: int = 128
    layers: int = 2
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if not self.labels:
            raise ValueError("ClassifierConfig.labels is empty")
        if self.hidden < 1 or self.layers < 1:
            raise ValueError("ClassifierConfig.hidden and layers must be >= 1")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings shared by the three trainers.

    Attributes:
        steps: optimisation steps.
        batch_size: samples per step.
        lr: Adam learning rate (cosine-decayed to 5% of it).
        weight_decay: Adam weight decay.
        seed: seeds torch, numpy and the batch order.
        kl_weight: weight of the KL terms (warmed up linearly over the first third).
        vertex_weight: weight of the vertex loss (0 disables it).
        prior_weight: weight of the reconstruction with z = 0 (the deterministic path the
            planner uses by default).
        label_weight: weight of the per-slot label cross-entropy.
        count_weight: weight of the anchor-count cross-entropy.
        pose_weight: weight of the pose loss.
        intensity_weight: weight of the intensity regression.
        vertex_count: face vertices sampled for the vertex loss.
        source_neutral_prob: chance that a sample's source face is replaced by the subject's
            resting face. The corpus gives "from X to Y" samples X as the source; without this
            the model learns to copy the source into the first anchor and ignores the text.
        source_shuffle_prob: chance that the source face is another sample's source.
        filler_prob: chance that 1-2 filler / unknown words are inserted into the text.
        unknown_words: size of a pool of random WordNet words (no emotion, intensity, speed or
            template word, held-out ones included) that half of the inserted fillers come
            from, so the model learns to ignore words it has never seen (0 = the fixed fillers
            only; without WordNet the pool is empty).
        grounding_prob: chance that a text gets the vocabulary's grounding suffix (only
            used when the model config has ``grounding``).
        partial_grounding_prob: chance that a grounded text is grounded only in part: each
            emotion phrase is left in the text, unnamed, with probability 1/2, as when
            neither the vocabulary nor WordNet knows a word at run time.
        connector_noise_prob: chance that a grounded text's chain connectors ("then",
            ", after that", "and finally") are replaced by punctuation or a filler word, so
            that the count and order of anchors are read from the grounding suffix rather
            than from connector words the model has seen (unseen connectors then matter less).
        template_noise_prob: chance that a grounded text's template words ("make her look",
            "change the expression to", "show": words of the training templates that are not
            linking, order or intensity words) are each, with probability 1/2, replaced by a
            word of the unknown-word pool, so that unseen template words ("express", "let's
            see") matter less; 0 keeps the text (and the random stream) as before.
        threads: torch threads during training (0 = leave torch's default).
        progress: show tqdm progress bars.
    """

    steps: int = 3000
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-5
    seed: int = 0
    kl_weight: float = 0.02
    vertex_weight: float = 1.0
    prior_weight: float = 1.0
    label_weight: float = 0.2
    count_weight: float = 0.2
    pose_weight: float = 1.0
    intensity_weight: float = 0.2
    vertex_count: int = 2000
    source_neutral_prob: float = 0.5
    source_shuffle_prob: float = 0.2
    filler_prob: float = 0.3
    unknown_words: int = 0
    grounding_prob: float = 0.7
    partial_grounding_prob: float = 0.3
    connector_noise_prob: float = 0.3
    template_noise_prob: float = 0.0
    threads: int = 0
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be >= 1")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        for name in (
            "source_neutral_prob",
            "source_shuffle_prob",
            "filler_prob",
            "grounding_prob",
            "partial_grounding_prob",
            "connector_noise_prob",
            "template_noise_prob",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.source_neutral_prob + self.source_shuffle_prob > 1.0:
            raise ValueError("source_neutral_prob + source_shuffle_prob must be <= 1")
        if self.unknown_words < 0:
            raise ValueError(f"unknown_words must be >= 0, got {self.unknown_words}")
        if self.vertex_count < 1:
            raise ValueError("vertex_count must be >= 1")
