"""The I2FET generator: IFED (parameter branch, text branch, CAFT) + a conditional VAE.

Mapping of the paper (Vo et al., IEEE TMM 2025) to instructions naming 1..K emotions in order:

* Parameter branch (2 transformer layers) over the source face: the 53 expression
  coefficients and 3 head-rotation angles projected into P parameter tokens.
* Text branch (1 transformer layer) over the text encoder's tokens plus a CLS token, with
  fixed sinusoidal positions, so word order reaches the model.
* CAFT (1 cross-attention layer): K learned *anchor-slot queries* (plus a summary of the source
  face) attend over the concatenated text and parameter tokens; slot k yields the condition
  for the k-th anchor. A count head on the text CLS token says how many slots are used, and a
  label head per slot names the emotion (used for ``Anchor.label`` and confidence).
* Projections to the expression and pose conditions; a CVAE per modality with MLP encoders
  q(z | target, condition) and MLP decoders p(target | z, condition').
* Latent refinement: the sampled latents are projected back into the slot queries and passed
  through CAFT again, giving the refined decoder conditions condition'.

``mode="no_ifed"`` replaces IFED by an MLP over (mean-pooled text, source parameters, slot
embedding) — Table V's "without IFED" row; :class:`PooledBaseline` regresses the anchors
directly from the pooled text embedding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engines.i2fet.config import NUM_EXPRESSIONS, POSE_DIM, I2FETConfig
from engines.i2fet.layers import (
    masked_mean,
    mlp,
    sinusoidal_positions,
    source_parameters,
    text_projection,
    transformer_encoder,
)

__all__ = [
    "CAFT",
    "I2FET",
    "Conditioning",
    "I2FETOutput",
    "IFEDConditioner",
    "ParameterBranch",
    "PooledBaseline",
    "PooledConditioner",
    "TextBranch",
    "build_model",
]

NUM_PARAMETERS = NUM_EXPRESSIONS + POSE_DIM


@dataclass
class Conditioning:
    """What the conditioner hands to the CVAE.

    Attributes:
        condition: (B, K, d) per-slot fused features.
        queries: (B, K, d) the slot queries that produced them (refinement adds latents here).
        memory: (B, M, d) tokens CAFT attends over (None without IFED).
        memory_mask: (B, M) bool, True = real token (None without IFED).
        summary: (B, d) sentence-level feature (count head input).
    """

    condition: torch.Tensor
    queries: torch.Tensor
    memory: torch.Tensor | None
    memory_mask: torch.Tensor | None
    summary: torch.Tensor


@dataclass
class I2FETOutput:
    """Model outputs for K anchor slots.

    Attributes:
        expressions: (B, K, 53) in [0, 1].
        poses: (B, K, 3) radians.
        label_logits: (B, K, L).
        intensities: (B, K) in [0, 1].
        count_logits: (B, K) logits of "the instruction names k+1 emotions".
        kl: (B, K) KL divergence of the posterior (zeros at inference / for the baseline).
        prior_expressions: (B, K, 53) decoded with z = 0 (training only, else None).
        prior_poses: (B, K, 3) decoded with z = 0 (training only, else None).
    """

    expressions: torch.Tensor
    poses: torch.Tensor
    label_logits: torch.Tensor
    intensities: torch.Tensor
    count_logits: torch.Tensor
    kl: torch.Tensor
    prior_expressions: torch.Tensor | None = None
    prior_poses: torch.Tensor | None = None


class ParameterBranch(nn.Module):
    """Source expression and pose → (B, P, d) parameter tokens (2 transformer layers).

    The 56 parameters (53 expression coefficients + 3 pose angles) are projected into P
    learned tokens (``Linear(56, P·d)`` plus a token embedding): one token per parameter
    costs 7× more on a CPU for no gain in accuracy here.
    """

    def __init__(self, config: I2FETConfig) -> None:
        super().__init__()
        dim = config.model_dim
        self.max_pose = config.max_pose
        self.num_tokens = config.param_tokens
        self.project = nn.Linear(NUM_PARAMETERS, self.num_tokens * dim)
        self.token_embedding = nn.Parameter(torch.randn(self.num_tokens, dim) * 0.02)
        self.encoder = transformer_encoder(
            dim, config.num_heads, config.param_layers, config.dropout
        )

    def forward(self, expression: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        """(B, 53), (B, 3) → (B, P, d)."""
        values = source_parameters(expression, pose, self.max_pose)  # (B, 56)
        tokens = self.project(values).reshape(values.shape[0], self.num_tokens, -1)
        out: torch.Tensor = self.encoder(tokens + self.token_embedding)
        return out


class TextBranch(nn.Module):
    """Token embeddings → (B, 1 + T, d) contextual tokens; index 0 is a learned CLS token."""

    def __init__(self, config: I2FETConfig) -> None:
        super().__init__()
        dim = config.model_dim
        self.max_tokens = config.max_tokens
        self.positions: torch.Tensor
        self.project = text_projection(config.text_dim, dim)
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.register_buffer(
            "positions", sinusoidal_positions(config.max_tokens + 1, dim), persistent=False
        )
        self.encoder = transformer_encoder(
            dim, config.num_heads, config.text_layers, config.dropout
        )

    def forward(
        self, embeddings: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, D), (B, T) bool → tokens (B, 1 + T', d), mask (B, 1 + T') with T' ≤ max_tokens."""
        embeddings = embeddings[:, : self.max_tokens]
        mask = mask[:, : self.max_tokens]
        batch, length = mask.shape
        tokens = self.project(embeddings)
        tokens = torch.cat([self.cls.expand(batch, 1, -1), tokens], dim=1)
        tokens = tokens + self.positions[: length + 1]
        full_mask = torch.cat([mask.new_ones(batch, 1), mask], dim=1)
        if isinstance(self.encoder, nn.Identity):
            return tokens, full_mask
        out: torch.Tensor = self.encoder(tokens, src_key_padding_mask=~full_mask)
        return out, full_mask


class CAFT(nn.Module):
    """Cross-attention fusion: slot queries (B, K, d) attend over memory tokens (B, M, d)."""

    def __init__(self, config: I2FETConfig) -> None:
        super().__init__()
        dim = config.model_dim
        layer = nn.TransformerDecoderLayer(
            dim,
            config.num_heads,
            2 * dim,
            config.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.decoder = nn.TransformerDecoder(layer, config.caft_layers)
        self.norm = nn.LayerNorm(dim)

    def forward(
        self, queries: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor
    ) -> torch.Tensor:
        """(B, K, d), (B, M, d), (B, M) bool → (B, K, d)."""
        out = self.decoder(queries, memory, memory_key_padding_mask=~memory_mask)
        fused: torch.Tensor = self.norm(out)
        return fused


class IFEDConditioner(nn.Module):
    """IFED: parameter branch + text branch + CAFT with K anchor-slot queries."""

    def __init__(self, config: I2FETConfig) -> None:
        super().__init__()
        dim = config.model_dim
        self.parameter_branch = ParameterBranch(config)
        self.text_branch = TextBranch(config)
        self.caft = CAFT(config)
        self.slot_queries = nn.Parameter(torch.randn(config.max_anchors, dim) * 0.1)
        self.source_summary = nn.Linear(dim, dim)
        self.modality = nn.Parameter(torch.randn(2, dim) * 0.02)  # text, parameter

    def forward(
        self,
        text: torch.Tensor,
        text_mask: torch.Tensor,
        source_expression: torch.Tensor,
        source_pose: torch.Tensor,
    ) -> Conditioning:
        text_tokens, text_valid = self.text_branch(text, text_mask)  # (B, 1+T, d)
        parameter_tokens = self.parameter_branch(source_expression, source_pose)  # (B, P, d)
        memory = torch.cat(
            [text_tokens + self.modality[0], parameter_tokens + self.modality[1]], dim=1
        )
        memory_mask = torch.cat(
            [text_valid, text_valid.new_ones(parameter_tokens.shape[:2])], dim=1
        )
        summary_source = self.source_summary(parameter_tokens.mean(dim=1))  # (B, d)
        queries = self.slot_queries.unsqueeze(0) + summary_source.unsqueeze(1)  # (B, K, d)
        condition = self.caft(queries, memory, memory_mask)
        return Conditioning(condition, queries, memory, memory_mask, text_tokens[:, 0])

    def refine(self, queries: torch.Tensor, conditioning: Conditioning) -> torch.Tensor:
        """Run CAFT again with latent-shifted queries (B, K, d) → refined condition (B, K, d)."""
        if conditioning.memory is None or conditioning.memory_mask is None:
            raise RuntimeError("IFED conditioning without memory")
        refined: torch.Tensor = self.caft(queries, conditioning.memory, conditioning.memory_mask)
        return refined


class PooledConditioner(nn.Module):
    """Without IFED: MLP over (mean-pooled text, source parameters, slot embedding)."""

    def __init__(self, config: I2FETConfig) -> None:
        super().__init__()
        dim = config.model_dim
        self.max_pose = config.max_pose
        self.text = text_projection(config.text_dim, dim)
        self.source = nn.Linear(NUM_PARAMETERS, dim)
        self.slot_queries = nn.Parameter(torch.randn(config.max_anchors, dim) * 0.1)
        self.fuse = mlp([dim, config.hidden, dim])
        self.norm = nn.LayerNorm(dim)

    def forward(
        self,
        text: torch.Tensor,
        text_mask: torch.Tensor,
        source_expression: torch.Tensor,
        source_pose: torch.Tensor,
    ) -> Conditioning:
        summary = self.text(masked_mean(text, text_mask))  # (B, d)
        source = self.source(source_parameters(source_expression, source_pose, self.max_pose))
        queries = (summary + source).unsqueeze(1) + self.slot_queries  # (B, K, d)
        condition = self.norm(self.fuse(queries) + queries)
        return Conditioning(condition, queries, None, None, summary)

    def refine(self, queries: torch.Tensor, conditioning: Conditioning) -> torch.Tensor:
        refined: torch.Tensor = self.norm(self.fuse(queries) + queries)
        return refined


def _kl(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(log_var)) || N(0, 1)) summed over the last axis."""
    return 0.5 * (mean.square() + log_var.exp() - 1.0 - log_var).sum(dim=-1)


class ModalityCVAE(nn.Module):
    """MLP encoder q(z | x, c) and MLP decoder p(x | z, c) for one modality."""

    def __init__(self, data_dim: int, condition_dim: int, latent: int, hidden: int) -> None:
        super().__init__()
        self.latent = latent
        self.encoder = mlp([data_dim + condition_dim, hidden, hidden, 2 * latent])
        self.decoder = mlp([latent + condition_dim, hidden, hidden, data_dim])

    def encode(
        self, data: torch.Tensor, condition: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., data_dim), (..., c) → mean, log-variance (..., latent)."""
        stats = self.encoder(torch.cat([data, condition], dim=-1))
        mean, log_var = stats.chunk(2, dim=-1)
        return mean, log_var.clamp(-8.0, 8.0)

    def posterior_sample(
        self, data: torch.Tensor, condition: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., data_dim), (..., c) → z ~ q(z | data, c) (..., latent) (reparameterised, so
        gradients reach the encoder) and KL(q || N(0, 1)) (...)."""
        mean, log_var = self.encode(data, condition)
        latent = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
        return latent, _kl(mean, log_var)

    def decode(self, latent: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """(..., latent), (..., c) → raw (..., data_dim) (activation applied by the caller)."""
        out: torch.Tensor = self.decoder(torch.cat([latent, condition], dim=-1))
        return out


class I2FET(nn.Module):
    """Instruction → K (expression, pose) anchors, with labels, intensities and a count."""

    def __init__(self, config: I2FETConfig) -> None:
        super().__init__()
        if config.mode == "baseline":
            raise ValueError("use PooledBaseline (or build_model) for mode='baseline'")
        self.config = config
        dim = config.model_dim
        self.conditioner: IFEDConditioner | PooledConditioner = (
            IFEDConditioner(config) if config.mode == "ifed" else PooledConditioner(config)
        )
        self.expression_condition = nn.Linear(dim, dim)
        self.pose_condition = nn.Linear(dim, dim)
        self.expression_cvae = ModalityCVAE(
            NUM_EXPRESSIONS, dim, config.expression_latent, config.hidden
        )
        self.pose_cvae = ModalityCVAE(POSE_DIM, dim, config.pose_latent, config.hidden // 2)
        self.latent_to_query = nn.Linear(config.expression_latent + config.pose_latent, dim)
        self.label_head = nn.Linear(dim, len(config.labels))
        self.intensity_head = nn.Linear(dim, 1)
        self.count_head = mlp([dim, dim, config.max_anchors])

    def _decode(
        self,
        conditioning: Conditioning,
        expression_latent: torch.Tensor,
        pose_latent: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        latent = torch.cat([expression_latent, pose_latent], dim=-1)  # (B, K, ze + zp)
        refined = self.conditioner.refine(
            conditioning.queries + self.latent_to_query(latent), conditioning
        )
        expression = torch.sigmoid(
            self.expression_cvae.decode(expression_latent, self.expression_condition(refined))
        )
        pose = self.config.max_pose * torch.tanh(
            self.pose_cvae.decode(pose_latent, self.pose_condition(refined))
        )
        return expression, pose

    def forward(
        self,
        text: torch.Tensor,
        text_mask: torch.Tensor,
        source_expression: torch.Tensor,
        source_pose: torch.Tensor,
        target_expressions: torch.Tensor | None = None,
        target_poses: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        temperature: float = 0.0,
    ) -> I2FETOutput:
        """Predict the anchors.

        Args:
            text: (B, T, D) token embeddings; text_mask: (B, T) bool.
            source_expression: (B, 53); source_pose: (B, 3).
            target_expressions: (B, K, 53) and target_poses (B, K, 3) for training (posterior
                latents); None at inference (prior latents).
            generator: RNG for prior samples at inference.
            temperature: prior sample scale at inference (0 = the mean, deterministic).

        Returns:
            :class:`I2FETOutput` with K = ``config.max_anchors`` slots.
        """
        config = self.config
        conditioning = self.conditioner(text, text_mask, source_expression, source_pose)
        condition = conditioning.condition  # (B, K, d)
        batch, slots = condition.shape[:2]
        label_logits = self.label_head(condition)
        intensities = torch.sigmoid(self.intensity_head(condition)).squeeze(-1)
        count_logits = self.count_head(conditioning.summary)
        shape_e = (batch, slots, config.expression_latent)
        shape_p = (batch, slots, config.pose_latent)
        if target_expressions is not None and target_poses is not None:
            z_e, kl_e = self.expression_cvae.posterior_sample(
                target_expressions, self.expression_condition(condition)
            )
            z_p, kl_p = self.pose_cvae.posterior_sample(
                target_poses / config.max_pose, self.pose_condition(condition)
            )
            kl = kl_e + kl_p
            expressions, poses = self._decode(conditioning, z_e, z_p)
            prior_expressions, prior_poses = self._decode(
                conditioning, condition.new_zeros(shape_e), condition.new_zeros(shape_p)
            )
            return I2FETOutput(
                expressions, poses, label_logits, intensities, count_logits, kl,
                prior_expressions, prior_poses,
            )  # fmt: skip
        z_e = condition.new_zeros(shape_e)
        z_p = condition.new_zeros(shape_p)
        if temperature > 0:
            z_e = z_e + temperature * torch.randn(shape_e, generator=generator)
            z_p = z_p + temperature * torch.randn(shape_p, generator=generator)
        expressions, poses = self._decode(conditioning, z_e, z_p)
        kl = condition.new_zeros(batch, slots)
        return I2FETOutput(expressions, poses, label_logits, intensities, count_logits, kl)


class PooledBaseline(nn.Module):
    """Baseline: mean-pooled text embedding (+ source face) → MLP → K anchors directly."""

    def __init__(self, config: I2FETConfig) -> None:
        super().__init__()
        self.config = config
        k, labels = config.max_anchors, len(config.labels)
        self.per_slot = NUM_EXPRESSIONS + POSE_DIM + labels + 1
        self.net = mlp(
            [config.text_dim + NUM_PARAMETERS, config.hidden, config.hidden, k * self.per_slot + k]
        )
        self.norm = nn.LayerNorm(config.text_dim)

    def forward(
        self,
        text: torch.Tensor,
        text_mask: torch.Tensor,
        source_expression: torch.Tensor,
        source_pose: torch.Tensor,
        target_expressions: torch.Tensor | None = None,
        target_poses: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        temperature: float = 0.0,
    ) -> I2FETOutput:
        """Same signature and output as :meth:`I2FET.forward` (latent arguments ignored)."""
        config = self.config
        pooled = masked_mean(text, text_mask)  # (B, D)
        source = source_parameters(source_expression, source_pose, config.max_pose)
        out = self.net(torch.cat([self.norm(pooled), source], dim=-1))
        batch, k = out.shape[0], config.max_anchors
        count_logits = out[:, -k:]
        slots = out[:, : k * self.per_slot].reshape(batch, k, self.per_slot)
        expressions = torch.sigmoid(slots[..., :NUM_EXPRESSIONS])
        poses = config.max_pose * torch.tanh(slots[..., NUM_EXPRESSIONS : NUM_EXPRESSIONS + 3])
        label_logits = slots[..., NUM_EXPRESSIONS + 3 : -1]
        intensities = torch.sigmoid(slots[..., -1])
        kl = out.new_zeros(batch, k)
        prior_e = expressions if target_expressions is not None else None
        prior_p = poses if target_expressions is not None else None
        return I2FETOutput(
            expressions, poses, label_logits, intensities, count_logits, kl, prior_e, prior_p
        )


def build_model(config: I2FETConfig) -> I2FET | PooledBaseline:
    """The model for ``config.mode`` ("ifed", "no_ifed" or "baseline")."""
    if config.mode == "baseline":
        return PooledBaseline(config)
    return I2FET(config)
