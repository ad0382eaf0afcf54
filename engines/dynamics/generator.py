"""Learned dynamics at plan time: an emotion window (onset -> apex -> offset) as per-frame
expression coefficients from the trained model.

For a window the generator builds the motion labels (one-hot × s_i × phase amplitude, with
a few rest frames before the onset, as the corpus' sequences start at rest), runs the LSTM,
decodes every frame and projects the per-vertex deformation onto the 53 ICT expression
shapes by least squares, the form the renderer takes: nothing changes per rendered frame.

Cost: the decoder's linear tail (the last up-samplings and spiral convolutions, see
``SpiralDecoder``) composed with the least-squares projection is one (53, V_k · C_k) matrix,
computed once at load; per frame only the non-linear coarse levels run. s_i of a planned
anchor is its apex's mean displacement against the label's posed prototype, as in the corpus.

Shapes: T frames at the model's fps, E = 53 expression shapes.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from engines.dynamics.checkpoint import default_checkpoint, load_dynamics
from engines.dynamics.config import GeneratorConfig
from engines.dynamics.exceptions import CheckpointError, MotionLabelError
from engines.dynamics.hierarchy import MeshHierarchy, load_hierarchy
from engines.dynamics.labels import (
    NEUTRAL,
    PhaseTimes,
    label_references,
    mean_displacement,
    motion_labels,
    phase_amplitude,
)
from engines.dynamics.layers import SpiralConv, UpSample
from engines.dynamics.model import DynamicsModel, SpiralDecoder
from engines.dynamics.projection import RegionBasis
from engines.face_model.ict import FaceModelData

__all__ = ["MAX_INTENSITY", "LearnedCurve", "LearnedDynamics"]

logger = logging.getLogger(__name__)

MAX_INTENSITY = 2.0  # s_i beyond the corpus' range (0.4-1.5) is clipped here


@dataclass(frozen=True)
class LearnedCurve:
    """Per-frame coefficients of one emotion window from the model.

    Attributes:
        times: (T,) seconds from the onset's start (frame k at k / fps).
        expressions: (T, E) coefficients (the model's rest output subtracted: 0 at rest).
        apex: (E,) the model's coefficients where its apex ends (``onset_s + hold_s``): the
            window hands over to what follows there, so a plan pinned to it is exact there.
        intensity: the s_i the labels were scaled by.
    """

    times: NDArray[np.float64]
    expressions: NDArray[np.float32]
    apex: NDArray[np.float32]
    intensity: float

    def at(self, times: NDArray[np.floating]) -> NDArray[np.float32]:
        """(M, E) coefficients at ``times`` (seconds from the onset), linearly interpolated
        (held before the first and after the last frame)."""
        t = np.clip(np.asarray(times, np.float64), self.times[0], self.times[-1])
        position = np.interp(t, self.times, np.arange(len(self.times), dtype=np.float64))
        low = np.floor(position).astype(np.int64)
        high = np.minimum(low + 1, len(self.times) - 1)
        fraction = (position - low)[:, None].astype(np.float32)
        out = self.expressions[low] * (1.0 - fraction) + self.expressions[high] * fraction
        return np.asarray(out, np.float32)


class LearnedDynamics:
    """The trained spiral model ready to make timeline windows (``engines.transition``'s
    ``learned`` dynamics).

    Args:
        model: a spiral-decoder model (eval mode).
        hierarchy: its mesh hierarchy.
        face_model: the ICT model (for the projection and the s_i references).
        config: generation options.
    """

    def __init__(
        self,
        model: DynamicsModel,
        hierarchy: MeshHierarchy,
        face_model: FaceModelData,
        config: GeneratorConfig | None = None,
    ) -> None:
        if not isinstance(model.decoder, SpiralDecoder):
            raise CheckpointError(
                "learned dynamics need the spiral model; the PCA baseline's basis is "
                "recomputed from the corpus by engines.dynamics.research"
            )
        self.model = model
        self.config = config or GeneratorConfig()
        self.labels = tuple(model.config.labels)
        self.fps = float(model.config.fps)
        self.basis = RegionBasis(face_model, hierarchy.region_vertices)
        self.references = label_references(self.basis.basis, self.basis.expression_names,
                                           self.labels)  # fmt: skip
        self.head_weight, self.head_bias = self._fold_tail(model.decoder)

    @classmethod
    def load(
        cls,
        face_model: FaceModelData,
        checkpoint: str | Path | None = None,
        config: GeneratorConfig | None = None,
    ) -> LearnedDynamics:
        """The committed spiral checkpoint (or ``checkpoint``) on ``face_model``'s hierarchy
        (built and cached on first use, about 5 s).

        Raises:
            CheckpointError: missing, unreadable or made for another hierarchy.
        """
        from engines.dynamics.checkpoint import read_config

        started = time.perf_counter()
        path = Path(checkpoint) if checkpoint is not None else default_checkpoint("spiral")
        model_config, _ = read_config(path)
        hierarchy = load_hierarchy(face_model, model_config.hierarchy)
        model, _ = load_dynamics(path, hierarchy)
        generator = cls(model, hierarchy, face_model, config)
        logger.info("learned dynamics loaded in %.2f s", time.perf_counter() - started)
        return generator

    def _fold_tail(self, decoder: SpiralDecoder) -> tuple[torch.Tensor, torch.Tensor]:
        """(E, V_k * C_k) weight and (E,) bias of projection ∘ linear tail."""
        level = decoder.feature_level
        first = len(decoder.convs) - decoder.linear_levels
        conv, up = decoder.convs[first], decoder.ups[first]
        assert isinstance(conv, SpiralConv) and isinstance(up, UpSample)
        channels = int(conv.weight.shape[1])
        vertices = int(up.matrix.shape[1])
        projection = torch.from_numpy(self.basis.pseudo_inverse)  # (E, 3V_0)
        features = torch.zeros(vertices, 1, channels, requires_grad=True)
        with torch.enable_grad():
            coefficients = projection @ decoder.tail(features).reshape(-1)
            rows = []
            for e in range(coefficients.shape[0]):
                (grad,) = torch.autograd.grad(coefficients[e], features, retain_graph=True)
                rows.append(grad.reshape(-1))
        weight = torch.stack(rows).detach()  # (E, V_k * C_k), vertex-major like the features
        bias = coefficients.detach()
        logger.debug("folded the decoder tail at level %d: %s", level, tuple(weight.shape))
        return weight, bias

    def supports(self, label: str) -> bool:
        """Whether the model knows ``label`` (the 8 basic labels; compounds do not)."""
        return label in self.labels and label != NEUTRAL

    def intensity_of(self, label: str, apex_expression: NDArray[np.floating]) -> float:
        """s_i of an apex (E,): its mean displacement against the posed prototype's."""
        if not self.supports(label):
            raise MotionLabelError(f"the dynamics model has no label {label!r}")
        displacement = mean_displacement(self.basis.deform(np.asarray(apex_expression)))
        return float(min(displacement / self.references[label], MAX_INTENSITY))

    def curve(
        self,
        label: str,
        intensity: float,
        onset_s: float,
        hold_s: float,
        offset_s: float | None,
    ) -> LearnedCurve:
        """Coefficients of ``label`` at s_i ``intensity`` rising over ``onset_s``, held
        ``hold_s``, falling over ``offset_s`` (None: held to the end), at the model's fps.

        Raises:
            MotionLabelError: unknown label or bad durations.
        """
        if not self.supports(label):
            raise MotionLabelError(f"the dynamics model has no label {label!r}")
        end = onset_s + hold_s + (offset_s or 0.0)
        for name, value in (("onset_s", onset_s), ("hold_s", hold_s), ("end", end)):
            if not (math.isfinite(value) and 0.0 <= value <= 60.0):
                raise MotionLabelError(f"{name} must be in [0, 60] s, got {value}")
        if onset_s <= 0:
            raise MotionLabelError("onset_s must be > 0")
        lead = self.config.lead_frames / self.fps
        phases = PhaseTimes(lead, lead + onset_s, lead + onset_s + hold_s,
                            None if offset_s is None else lead + end)  # fmt: skip
        frames = self.config.lead_frames + math.ceil(end * self.fps - 1e-9) + 1
        times = np.arange(frames, dtype=np.float64) / self.fps
        amplitude = phase_amplitude(times, phases)
        labels = motion_labels(label, intensity, amplitude, self.labels)
        with torch.inference_mode():
            latents = self.model.latents(torch.from_numpy(labels)[None])[0]
            decoder = self.model.decoder
            assert isinstance(decoder, SpiralDecoder)
            features = decoder.features(latents)  # (V_k, T, C_k)
            flat = features.permute(1, 0, 2).reshape(frames, -1)
            coefficients = (flat @ self.head_weight.T + self.head_bias).numpy()
        # the model's output at rest (the last lead frame), subtracted from every frame
        rest = coefficients[max(self.config.lead_frames - 1, 0)].copy()
        window = coefficients[self.config.lead_frames :] - rest
        window_times = times[self.config.lead_frames :] - lead
        curve = LearnedCurve(window_times, window.astype(np.float32), window[0], float(intensity))
        apex = curve.at(np.array([onset_s + hold_s]))[0]
        return LearnedCurve(window_times, curve.expressions, apex, float(intensity))
