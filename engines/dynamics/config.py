"""One config dataclass per component of ``engines.dynamics``."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from engines.instructions.vocabulary import BASIC_EMOTIONS

__all__ = ["DecoderKind", "DynamicsModelConfig", "GeneratorConfig", "HierarchyConfig"]

DecoderKind = str  # "spiral" | "pca"
DECODER_KINDS: tuple[str, ...] = ("spiral", "pca")


@dataclass(frozen=True)
class HierarchyConfig:
    """The mesh hierarchy of the spiral decoder (computed once per face model, cached).

    Attributes:
        region: ICT geometry part the decoder deforms (``narrow_face``: the 6,706 vertices of
            the skin of the face, where expressions move; teeth, eyes and the back of the head
            follow through the projection onto the 53 expression shapes).
        factors: vertex-count reduction of each down-sampling (four levels, as the paper's
            Table 1 and Neural3DMM's COMA set-up: 4, 4, 4, 4).
        spiral_length: vertices in every spiral (the vertex, then its rings; Neural3DMM: 9).
        boundary_weight: weight of the boundary-preserving planes of the quadric error (the
            eye, mouth and outer borders of the face keep their shape as it is decimated).
    """

    region: str = "narrow_face"
    factors: tuple[int, ...] = (4, 4, 4, 4)
    spiral_length: int = 9
    boundary_weight: float = 100.0

    def __post_init__(self) -> None:
        if not self.factors or any(f < 2 for f in self.factors):
            raise ValueError(f"factors must be >= 2 each, got {self.factors}")
        if not 2 <= self.spiral_length <= 64:
            raise ValueError(f"spiral_length must be in [2, 64], got {self.spiral_length}")
        if not (math.isfinite(self.boundary_weight) and self.boundary_weight >= 0):
            raise ValueError("boundary_weight must be a finite number >= 0")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "factors": list(self.factors)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HierarchyConfig:
        return cls(**{**data, "factors": tuple(data["factors"])})


@dataclass(frozen=True)
class DynamicsModelConfig:
    """Motion-label LSTM encoder + mesh decoder (Potamias et al. 2020).

    Attributes:
        labels: motion-label classes (the 8 basic labels of ``engines.instructions``).
        fps: frame rate the model runs at (the corpus' rate; timelines resample it).
        lstm_hidden: LSTM width.
        lstm_layers: stacked LSTM layers.
        latent: per-frame latent size (the paper: 64).
        decoder: "spiral" (spiral convolutions on the mesh hierarchy) or "pca" (the paper's
            baseline: a linear PCA blendshape decoder of the same latent size).
        channels: spiral decoder features per level, coarsest first (one entry per
            down-sampling level of the hierarchy); the finest level outputs 3 coordinates.
        linear_levels: the finest levels of the spiral decoder without ReLU (1: only the
            output convolution is linear, as in Neural3DMM; 2, the default: also the one
            before it, which lets the plan-time generator fold both into one matrix and keeps
            a 3-second segment within 30 ms on one core).
        hierarchy: the mesh hierarchy the spiral decoder was built on.
        hierarchy_fingerprint: hash of that hierarchy's topology (checked on load).
        pca_rank: rank of the PCA basis (components beyond it decode to nothing).
    """

    labels: tuple[str, ...] = BASIC_EMOTIONS
    fps: float = 25.0
    lstm_hidden: int = 128
    lstm_layers: int = 1
    latent: int = 64
    decoder: str = "spiral"
    channels: tuple[int, ...] = (32, 32, 16, 8)
    linear_levels: int = 2
    hierarchy: HierarchyConfig = field(default_factory=HierarchyConfig)
    hierarchy_fingerprint: str = ""
    pca_rank: int = 0

    def __post_init__(self) -> None:
        if self.decoder not in DECODER_KINDS:
            raise ValueError(f"decoder must be one of {DECODER_KINDS}, got {self.decoder!r}")
        if len(self.labels) < 1 or len(set(self.labels)) != len(self.labels):
            raise ValueError("labels must be distinct and non-empty")
        if not (math.isfinite(self.fps) and 1.0 <= self.fps <= 120.0):
            raise ValueError(f"fps must be in [1, 120], got {self.fps}")
        for name in ("lstm_hidden", "lstm_layers", "latent"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.decoder == "spiral" and len(self.channels) != len(self.hierarchy.factors):
            raise ValueError(
                f"channels needs one entry per hierarchy level ({len(self.hierarchy.factors)}), "
                f"got {self.channels}"
            )
        if any(c < 1 for c in self.channels):
            raise ValueError("channels must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["labels"] = list(self.labels)
        data["channels"] = list(self.channels)
        data["hierarchy"] = self.hierarchy.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DynamicsModelConfig:
        values = dict(data)
        values["labels"] = tuple(values["labels"])
        values["channels"] = tuple(values["channels"])
        values["hierarchy"] = HierarchyConfig.from_dict(values["hierarchy"])
        return cls(**values)


@dataclass(frozen=True)
class GeneratorConfig:
    """How the learned model makes a timeline segment at plan time.

    Attributes:
        lead_frames: zero-label frames run through the LSTM before the onset (the corpus'
            sequences start at rest), dropped from the output.
        threads: torch threads while generating (1: the plan-time budget is for one core).
        min_intensity: motion-label amplitudes below this give an all-neutral segment.
    """

    lead_frames: int = 5
    threads: int = 1
    min_intensity: float = 0.02

    def __post_init__(self) -> None:
        if not 0 <= self.lead_frames <= 100:
            raise ValueError(f"lead_frames must be in [0, 100], got {self.lead_frames}")
        if self.threads < 1:
            raise ValueError("threads must be >= 1")
