"""Training loops for I2FET, NED and the expression classifier (Adam, fixed seeds, tqdm)."""

from __future__ import annotations

import logging
import math
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from engines.i2fet.classifier import ExpressionClassifier
from engines.i2fet.config import ClassifierConfig, I2FETConfig, NEDConfig, TrainConfig
from engines.i2fet.data import InstructionTensors
from engines.i2fet.grounding import (
    GROUNDING_SEPARATOR,
    PLACEHOLDER,
    ground_mentions,
    lexicon_mentions,
)
from engines.i2fet.losses import I2FETLoss
from engines.i2fet.model import I2FET, PooledBaseline, build_model
from engines.i2fet.ned import NED
from engines.text.base import TextEncoder

__all__ = [
    "FILLER_WORDS",
    "TrainResult",
    "augment_sources",
    "augment_texts",
    "classifier_pairs",
    "count_parameters",
    "ground_for_training",
    "ned_pairs",
    "perturb_connectors",
    "perturb_template",
    "seed_everything",
    "train_classifier",
    "train_i2fet",
    "train_ned",
    "unknown_word_pool",
]

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """A trained module and its training history.

    Attributes:
        model: the trained module (eval mode).
        history: (step, loss) pairs logged during training.
        seconds: wall time.
        extra: trainer-specific numbers (final loss parts, ...).
    """

    model: torch.nn.Module
    history: list[tuple[int, float]]
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; returns a torch Generator for batch order."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def _batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Endless shuffled mini-batch indices."""
    while True:
        order = torch.randperm(n, generator=generator)
        for start in range(0, n - batch_size + 1 if n >= batch_size else 1, batch_size):
            yield order[start : start + batch_size]


def _schedule(optimizer: torch.optim.Optimizer, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    warmup = max(1, steps // 50)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _loop(
    module: torch.nn.Module,
    config: TrainConfig,
    n: int,
    step_fn: Callable[[torch.Tensor, int], tuple[torch.Tensor, dict[str, float]]],
    desc: str,
) -> TrainResult:
    from tqdm import tqdm

    if config.threads > 0:
        torch.set_num_threads(config.threads)
    generator = seed_everything(config.seed)
    optimizer = torch.optim.Adam(
        module.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    scheduler = _schedule(optimizer, config.steps)
    batches = _batches(n, min(config.batch_size, n), generator)
    history: list[tuple[int, float]] = []
    running: dict[str, float] = {}
    started = time.perf_counter()
    module.train()
    bar = tqdm(range(config.steps), desc=desc, disable=not config.progress, mininterval=1.0)
    for step in bar:
        loss, parts = step_fn(next(batches), step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        for name, value in parts.items():
            running[name] = value if name not in running else 0.95 * running[name] + 0.05 * value
        if step % 10 == 0 or step == config.steps - 1:
            history.append((step, float(loss.detach())))
            bar.set_postfix({k: f"{v:.3g}" for k, v in list(running.items())[:5]})
    module.eval()
    return TrainResult(module, history, time.perf_counter() - started, {"final": running})


# Filler / unknown words inserted at random (``TrainConfig.filler_prob``). Never a held-out
# word (an earlier list had "kind of", a held-out intensity phrase). "really" and "so" are
# training intensity words: inserted anywhere they teach the model not to trust every word next
# to an emotion (measured: without them unseen copulas and intensity words read worse).
FILLER_WORDS: tuple[str, ...] = (
    "please", "now", "okay", "hmm", "gently", "quickly", "slowly", "like",
    "you know", "the avatar", "for me", "right away", "blorf", "zorp", "table", "weather",
    "um", "just", "really", "well", "so", "actually", "today", "again", "camera",
)  # fmt: skip
# Connector stand-ins for ``perturb_connectors`` (no intensity meaning).
_CONNECTOR_FILLERS: tuple[str, ...] = ("um", "okay", "now", "well", "hmm", "blorf", "camera")


def unknown_word_pool(size: int, seed: int) -> tuple[str, ...]:
    """``size`` random single English words from WordNet that are not emotion, intensity,
    speed, template or stop words of the vocabulary (its held-out lists included, so no
    held-out word is ever inserted) and that WordNet grounding does not read as an emotion or
    an intensity; empty without WordNet or when ``size`` is 0."""
    if size <= 0:
        return ()
    from engines.instructions import INTENSITY_ADVERBS, LEXICON, SPEED_WORDS
    from engines.instructions.analysis import STOPWORDS
    from engines.instructions.knowledge import default_knowledge
    from engines.instructions.templates import template_words
    from engines.instructions.vocabulary import INTENSITY_NOUN_MODIFIERS, VERB_SUFFIX_ADVERBS

    knowledge = default_knowledge(True, use_similarity=False)
    if knowledge is None:
        return ()
    excluded = set(STOPWORDS) | set(template_words(True)) | set(FILLER_WORDS)
    for phrases in (
        [e.text for e in LEXICON], INTENSITY_ADVERBS, INTENSITY_NOUN_MODIFIERS, SPEED_WORDS,
        VERB_SUFFIX_ADVERBS,
    ):  # fmt: skip
        for phrase in phrases:
            excluded.update(phrase.split())
    candidates = sorted(
        {w for pos in "arv" for w in knowledge.wordnet.lemmas(pos)
         if w.isalpha() and w.islower() and 3 <= len(w) <= 12 and w not in excluded}
    )  # fmt: skip
    random.Random(seed).shuffle(candidates)
    pool: list[str] = []
    for word in candidates:
        if knowledge.lookup(word) is None and knowledge.lookup_intensity(word) is None:
            pool.append(word)
            if len(pool) == size:
                break
    return tuple(pool)


def augment_texts(
    texts: list[str], probability: float, rng: random.Random, pool: tuple[str, ...] = ()
) -> list[str]:
    """Insert 1-2 filler or unknown words at random word positions into some texts (half of
    them from ``pool`` when it is given)."""
    out = []
    for text in texts:
        if rng.random() < probability:
            words = text.split()
            for _ in range(rng.randint(1, 2)):
                source = pool if pool and rng.random() < 0.5 else FILLER_WORDS
                words.insert(rng.randint(0, len(words)), rng.choice(source))
            text = " ".join(words)
        out.append(text)
    return out


def _connector_pattern() -> re.Pattern[str]:
    from engines.instructions.templates import CHAIN_CONNECTORS, CHAIN_FINAL_CONNECTORS

    words = sorted({c.strip(" ,.").lower() for c in CHAIN_CONNECTORS + CHAIN_FINAL_CONNECTORS},
                   key=len, reverse=True)  # fmt: skip
    alternatives = "|".join(r"\s+".join(map(re.escape, w.split())) for w in words if w)
    return re.compile(rf"[,.]?\s+(?:{alternatives})\s+", re.IGNORECASE)


def perturb_connectors(text: str, rng: random.Random) -> str:
    """Replace the training chain connectors of ``text``'s instruction part (before the
    grounding suffix) by punctuation or a filler word (see ``TrainConfig.connector_noise_prob``)."""
    head, separator, tail = text.partition(GROUNDING_SEPARATOR)
    pattern = _connector_pattern()

    def replace(_: re.Match[str]) -> str:
        return rng.choice((", ", "; ", " ", ", " + rng.choice(_CONNECTOR_FILLERS) + " "))

    return pattern.sub(replace, head) + separator + tail


# Template words that carry order, count or negation: never replaced by ``perturb_template``.
_KEPT_TEMPLATE_WORDS: frozenset[str] = frozenset(
    {
        "from", "to", "into", "then", "and", "after", "that", "first", "finally", "next",
        "end", "up", "start", "back", "not", "no", "don't",
    }
)  # fmt: skip


@lru_cache(maxsize=1)
def _template_noise_words() -> frozenset[str]:
    """Words of the training templates ``perturb_template`` may replace (read once: this is
    called for every grounded training text)."""
    from engines.instructions.templates import template_words
    from engines.instructions.vocabulary import INTENSITY_ADVERBS, INTENSITY_NOUN_MODIFIERS

    intensity = {w for phrase in (*INTENSITY_ADVERBS, *INTENSITY_NOUN_MODIFIERS)
                 for w in phrase.split()}  # fmt: skip
    return frozenset(template_words(False)) - _KEPT_TEMPLATE_WORDS - intensity - {PLACEHOLDER}


def perturb_template(
    text: str, rng: random.Random, pool: tuple[str, ...], words: frozenset[str]
) -> str:
    """Replace each template word in ``words`` of ``text``'s instruction part (before the
    grounding suffix) by a random word of ``pool`` with probability 1/2 (see
    ``TrainConfig.template_noise_prob``)."""
    if not pool:
        return text
    head, separator, tail = text.partition(GROUNDING_SEPARATOR)

    def replace(match: re.Match[str]) -> str:
        word = match.group()
        if word.lower() in words and rng.random() < 0.5:
            return rng.choice(pool)
        return word

    return re.sub(r"[A-Za-z']+", replace, head) + separator + tail


def ground_for_training(
    text: str,
    max_anchors: int,
    config: TrainConfig,
    rng: random.Random,
    pool: tuple[str, ...] = (),
) -> str:
    """``text`` grounded as in training: raw (1 - grounding_prob), fully or partly grounded
    (``partial_grounding_prob``), connectors perturbed (``connector_noise_prob``), template
    words replaced by ``pool`` words (``template_noise_prob``)."""
    if rng.random() >= config.grounding_prob:
        return text
    # WordNet only, as the corpus' own words need: the sentence-similarity fallback would read
    # about 1 % of the inserted unknown-pool words as emotions the targets do not have
    mentions = lexicon_mentions(text, use_similarity=False)
    if not mentions or len(mentions) > max_anchors:
        return text
    if rng.random() < config.partial_grounding_prob:
        mentions = [m for m in mentions if rng.random() < 0.5]
    out = ground_mentions(text, mentions)
    if rng.random() < config.connector_noise_prob:
        out = perturb_connectors(out, rng)
    if config.template_noise_prob and rng.random() < config.template_noise_prob:
        out = perturb_template(out, rng, pool, _template_noise_words())
    return out


def augment_sources(
    batch: InstructionTensors, config: TrainConfig, generator: torch.Generator
) -> InstructionTensors:
    """Replace some source faces by the subject's resting face or another sample's source
    (in place on the batch copy); see ``TrainConfig.source_neutral_prob``."""
    n = len(batch)
    draw = torch.rand(n, generator=generator)
    neutral = draw < config.source_neutral_prob
    shuffle = (draw >= config.source_neutral_prob) & (
        draw < config.source_neutral_prob + config.source_shuffle_prob
    )
    permutation = torch.randperm(n, generator=generator)
    source_expression = batch.source_expression.clone()
    source_pose = batch.source_pose.clone()
    source_expression[neutral] = batch.neutral_expression[neutral]
    source_pose[neutral] = batch.neutral_pose[neutral]
    source_expression[shuffle] = batch.source_expression[permutation][shuffle]
    source_pose[shuffle] = batch.source_pose[permutation][shuffle]
    batch.source_expression = source_expression
    batch.source_pose = source_pose
    return batch


def train_i2fet(
    data: InstructionTensors,
    encoder: TextEncoder,
    model_config: I2FETConfig,
    config: TrainConfig,
    gram: torch.Tensor | None,
) -> TrainResult:
    """Train I2FET (or the ablation / baseline variants) on ``data``.

    Args:
        data: the train split as tensors.
        encoder: the text encoder (frozen; texts are encoded per batch).
        model_config: architecture (``mode`` selects the variant).
        config: optimisation settings.
        gram: (53, 53) vertex Gram matrix (see ``losses.vertex_gram``) or None.
    """
    seed_everything(config.seed)
    model: I2FET | PooledBaseline = build_model(model_config)
    criterion = I2FETLoss(config, gram)
    kl_warmup = max(1, config.steps // 3)
    text_rng = random.Random(config.seed)
    pool = unknown_word_pool(config.unknown_words, config.seed)
    if config.unknown_words:
        logger.info("unknown-word pool: %d WordNet words, e.g. %s", len(pool), pool[:8])
    source_generator = torch.Generator().manual_seed(config.seed + 1)

    def ground(text: str) -> str:
        return ground_for_training(text, model_config.max_anchors, config, text_rng, pool)

    def step_fn(index: torch.Tensor, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        batch = augment_sources(data.take(index), config, source_generator)
        texts = augment_texts(batch.texts, config.filler_prob, text_rng, pool)
        if model_config.grounding:
            texts = [ground(text) for text in texts]
        tokens = encoder.encode(texts)
        output = model(
            tokens.embeddings,
            tokens.mask,
            batch.source_expression,
            batch.source_pose,
            batch.expressions,
            batch.poses,
        )
        terms = criterion(output, batch, kl_scale=min(1.0, step / kl_warmup))
        return terms.total, {"loss": float(terms.total.detach()), **terms.parts}

    return _loop(model, config, len(data), step_fn, f"train i2fet[{model_config.mode}]")


def ned_pairs(
    data: InstructionTensors,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """NED training pairs: every source face and every anchor of a subject → its neutral.

    Returns:
        expression (M, 53), pose (M, 3), neutral expression (M, 53), neutral pose (M, 3).
    """
    mask = data.slot_mask
    n_anchor = int(mask.sum())
    expression = torch.cat([data.source_expression, data.expressions[mask]])
    pose = torch.cat([data.source_pose, data.poses[mask]])
    anchor_owner = torch.arange(len(data)).unsqueeze(1).expand_as(mask)[mask]
    neutral_expression = torch.cat([data.neutral_expression, data.neutral_expression[anchor_owner]])
    neutral_pose = torch.cat([data.neutral_pose, data.neutral_pose[anchor_owner]])
    if neutral_expression.shape[0] != len(data) + n_anchor:
        raise RuntimeError("NED pair construction mismatch")
    return expression, pose, neutral_expression, neutral_pose


def train_ned(data: InstructionTensors, ned_config: NEDConfig, config: TrainConfig) -> TrainResult:
    """Train NED on (face → neutral) pairs from ``data`` (L1 on expression and pose)."""
    seed_everything(config.seed)
    model = NED(ned_config)
    expression, pose, neutral_expression, neutral_pose = ned_pairs(data)

    def step_fn(index: torch.Tensor, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        pred_e, pred_p = model(expression[index], pose[index])
        # L1: most coefficients of a resting face are exactly zero; L1 keeps them near zero
        # where MSE spreads small values over every shape (worse than predicting zeros).
        loss_e = (pred_e - neutral_expression[index]).abs().sum(-1).mean()
        loss_p = ((pred_p - neutral_pose[index]) / 0.1).abs().sum(-1).mean()
        loss = loss_e + loss_p
        parts = {"loss": float(loss.detach()), "expression": float(loss_e.detach())}
        return loss, {**parts, "pose": float(loss_p.detach())}

    return _loop(model, config, expression.shape[0], step_fn, "train ned")


def classifier_pairs(data: InstructionTensors) -> tuple[torch.Tensor, torch.Tensor]:
    """(M, 53) anchor expressions and (M,) label indices of every real anchor."""
    return data.expressions[data.slot_mask], data.labels[data.slot_mask]


def train_classifier(
    data: InstructionTensors, classifier_config: ClassifierConfig, config: TrainConfig
) -> TrainResult:
    """Train the expression classifier on the ground-truth anchors of ``data``."""
    seed_everything(config.seed)
    model = ExpressionClassifier(classifier_config)
    features, labels = classifier_pairs(data)

    def step_fn(index: torch.Tensor, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        logits = model(features[index])
        loss = F.cross_entropy(logits, labels[index])
        accuracy = float((logits.argmax(-1) == labels[index]).float().mean())
        return loss, {"loss": float(loss.detach()), "accuracy": accuracy}

    return _loop(model, config, features.shape[0], step_fn, "train classifier")


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
