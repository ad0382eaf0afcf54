"""``facecast eval i2fet|grounding [--json]``: Acc1, Acc2, G-mean and the confusion matrix of the
committed I2FET checkpoint on the corpus' test split and, apart, on the held-out phrasings.

With a grounded checkpoint (trained to read the vocabulary's suffix, see
``engines.i2fet.grounding``) the headline numbers are the planner's (grounded) and
``text_only`` gives the model reading the raw text alone. The judge is the project's
expression classifier (engines/i2fet/checkpoints/classifier.pt), an MLP trained on the
ground-truth anchors of the train split; its accuracy on the ground-truth anchors of each
split is printed too. The Table V ablation (``facecast train ablation``) is included when
``ablation.json`` exists.

``--grounding train-vocab`` is the honest held-out measure: the vocabulary forgets the corpus'
held-out synonyms, intensity words and template words, and unknown words are grounded through
WordNet 3.0 (third-party knowledge; see ``engines.instructions.knowledge``) when it is
installed, and what WordNet cannot place by sentence similarity
(``engines.instructions.similarity``: all-mpnet-base-v2, else all-MiniLM-L6-v2, when installed).
``train_vocab_wordnet_only`` gives the same without the similarity fallback,
``train_vocab_no_wordnet`` without either, and
``heldout.train_vocab_by_kind`` splits the held-out phrasings by what is held out in them
("synonym": any unseen emotion word; "structure_only": only unseen templates, connectors,
copulas or intensity words).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

from server.cli.output import emit_json

logger = logging.getLogger(__name__)

GROUNDING_CHOICES: tuple[str, ...] = ("full", "train-vocab")
_SUMMARY_KEYS = ("acc1", "acc2", "gmean", "count_accuracy", "per_class_recall")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval", help="evaluate I2FET (Acc1, Acc2, G-mean, confusion), fidelity or dynamics"
    )
    parser.add_argument(
        "target",
        choices=["i2fet", "grounding", "fidelity", "dynamics"],
        help="i2fet: the model; grounding: WordNet grounding on development sets drawn from the "
        "training vocabulary only (leave-one-out recall, random and made-up words, typos); "
        "fidelity: animate instructions on photos and let an independent image-level judge "
        "(FER2013 mini-Xception) read the frames; dynamics: the dynamic-expression model "
        "against its PCA baseline on held-out identities",
    )
    parser.add_argument("--json", action="store_true", help="print the full JSON result")
    parser.add_argument("--checkpoint-dir", default=None, help="default: the committed ones")
    parser.add_argument("--corpus-seed", type=int, default=0)
    parser.add_argument("--eval-size", type=int, default=2_000, help="samples per split")
    parser.add_argument("--encoder", default=None, help="text encoder (default: the checkpoint's)")
    parser.add_argument(
        "--source",
        choices=("neutral", "corpus"),
        default="neutral",
        help="face before the instruction: the subject's resting face (default) or the "
        "corpus' source (X itself for 'from X to Y', the paper's protocol)",
    )
    parser.add_argument(
        "--grounding",
        choices=GROUNDING_CHOICES,
        default="full",
        help="vocabulary of the headline (grounded) numbers: the whole lexicon (default, as the "
        "planner runs; it contains the held-out synonyms) or the training vocabulary only "
        "(train-vocab: held-out synonyms must be read by the text encoder). Both are reported "
        "either way: the other one under 'full_vocab' / 'train_vocab'",
    )
    parser.add_argument(
        "--no-similarity",
        action="store_true",
        help="grounding: measure WordNet alone, without the sentence-similarity fallback",
    )
    parser.add_argument("-o", "--output", default=None, help="write the JSON here too")
    parser.add_argument("--plot", default=None, help="write the confusion matrices as a PNG")
    from server.cli.cmd_eval_fidelity import add_fidelity_arguments

    add_fidelity_arguments(parser)
    from server.cli.cmd_eval_dynamics import add_dynamics_eval_arguments

    add_dynamics_eval_arguments(parser)
    parser.set_defaults(func=run)


def evaluate(
    checkpoint_dir: Path,
    corpus_seed: int,
    eval_size: int,
    encoder_name: str | None,
    source: str = "neutral",
    grounding: str = "full",
) -> dict[str, Any]:
    """The evaluation JSON (top-level keys describe the test split; ``heldout`` the rest).

    ``grounding`` ("full" or "train-vocab") picks the grounding vocabulary of the headline
    numbers of a grounded checkpoint; the other one is summarised under ``full_vocab`` /
    ``train_vocab`` and the model reading raw text under ``text_only``.
    """
    if grounding not in GROUNDING_CHOICES:
        raise ValueError(f"grounding must be one of {GROUNDING_CHOICES}, got {grounding!r}")
    vocabulary = "full" if grounding == "full" else "train"
    other = "train" if vocabulary == "full" else "full"
    from engines.i2fet.checkpoint import load_classifier, load_i2fet
    from engines.i2fet.data import samples_to_tensors
    from engines.i2fet.evaluate import classifier_accuracy, evaluate_model
    from engines.instructions import EMOTIONS, CorpusConfig, generate_corpus
    from engines.text import get_encoder

    started = time.perf_counter()
    model = load_i2fet(checkpoint_dir / "i2fet.pt")
    classifier = load_classifier(checkpoint_dir / "classifier.pt")
    labels = tuple(model.config.labels)
    encoder_name = encoder_name or model.config.encoder
    if labels != tuple(EMOTIONS):
        logger.warning("checkpoint labels differ from the current vocabulary's EMOTIONS")
    encoder = get_encoder(encoder_name)
    gram = None
    try:
        from engines.i2fet.pipeline import load_gram

        gram = load_gram(2000)
    except Exception as error:  # the ICT model is optional for evaluation
        logger.warning("no vertex error (ICT model unavailable: %s)", error)
    corpus = generate_corpus(
        CorpusConfig(
            seed=corpus_seed, num_train=1, num_val=1, num_test=eval_size, num_heldout=eval_size
        )
    )
    from engines.i2fet.evaluate import knowledge_name

    result: dict[str, Any] = {
        "checkpoint_dir": str(checkpoint_dir),
        "encoder": encoder_name,
        "grounding": grounding,
        "knowledge": knowledge_name(),
    }
    for split in ("test", "heldout"):
        data = samples_to_tensors(corpus.split(split), labels, model.config.max_anchors)
        grounded = bool(model.config.grounding)
        metrics = evaluate_model(
            model, encoder, classifier, data, labels, source, grounded, gram, vocabulary
        )
        metrics["classifier_accuracy_ground_truth"] = round(
            classifier_accuracy(classifier, data), 4
        )
        if grounded:
            text_only = evaluate_model(model, encoder, classifier, data, labels, source, False)
            metrics["text_only"] = {k: text_only[k] for k in _SUMMARY_KEYS}
            alternative = evaluate_model(
                model, encoder, classifier, data, labels, source, True, vocabulary=other
            )
            metrics[f"{other}_vocab"] = {k: alternative[k] for k in _SUMMARY_KEYS}
            bare = evaluate_model(
                model, encoder, classifier, data, labels, source, True, vocabulary="train",
                knowledge=False,
            )  # fmt: skip
            metrics["train_vocab_no_wordnet"] = {k: bare[k] for k in _SUMMARY_KEYS}
            wordnet_only = evaluate_model(
                model, encoder, classifier, data, labels, source, True, vocabulary="train",
                similarity=False,
            )  # fmt: skip
            metrics["train_vocab_wordnet_only"] = {k: wordnet_only[k] for k in _SUMMARY_KEYS}
            if split == "heldout":
                metrics["train_vocab_by_kind"] = by_kind(
                    model, encoder, classifier, data, corpus.split(split), labels, source
                )
        if split == "test":
            result.update(metrics)
        else:
            result["heldout"] = metrics
    sidecar = checkpoint_dir / "classifier.json"
    if sidecar.is_file():
        info = json.loads(sidecar.read_text())
        result["classifier"] = {
            "training": info.get("metrics", {}).get("training"),
            "command": info.get("command"),
            "accuracy_ground_truth": {
                k.removeprefix("accuracy_"): v
                for k, v in info.get("metrics", {}).items()
                if k.startswith("accuracy_")
            },
        }
    ablation = checkpoint_dir / "ablation.json"
    if ablation.is_file():
        result["ablation"] = json.loads(ablation.read_text())
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def by_kind(
    model: Any,
    encoder: Any,
    classifier: Any,
    data: Any,
    samples: list[Any],
    labels: tuple[str, ...],
    source: str,
) -> dict[str, Any]:
    """Train-vocabulary (+ WordNet) metrics of the held-out phrasings split by what is held
    out in each sample: "synonym" (any sample with an unseen emotion word) vs the rest
    ("template", "intensity", "copula": structure and intensity words only)."""
    import torch

    from engines.i2fet.evaluate import classification_metrics, predict, with_source

    data = with_source(data, source)
    predictions = predict(model, encoder, data, grounded=True, vocabulary="train")
    judged = classifier.predict(predictions.expressions)
    groups: dict[str, list[int]] = {}
    for index, sample in enumerate(samples):
        kinds = tuple(getattr(sample, "heldout_kinds", ()))
        key = "synonym" if "synonym" in kinds else "+".join(kinds) or "none"
        groups.setdefault(key, []).append(index)
        if "synonym" not in kinds:
            groups.setdefault("structure_only", []).append(index)
    out: dict[str, Any] = {}
    for key, indices in sorted(groups.items()):
        idx = torch.tensor(indices)
        block = classification_metrics(judged[idx], data.take(idx), labels)
        out[key] = {"samples": len(indices), "acc1": block["acc1"], "acc2": block["acc2"]}
    return out


def plot_confusions(result: dict[str, Any], path: Path) -> None:
    """Row-normalised confusion matrices of the test split and the held-out phrasings."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure, axes = plt.subplots(1, 2, figsize=(13, 6.2), dpi=70)
    for axis, (name, block) in zip(
        axes, (("test", result), ("held-out phrasings", result["heldout"])), strict=True
    ):
        labels = block["confusion"]["labels"]
        matrix = np.asarray(block["confusion"]["matrix"], dtype=np.float64)
        matrix = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
        axis.imshow(matrix, cmap="viridis", vmin=0, vmax=1)
        axis.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
        axis.set_yticks(range(len(labels)), labels, fontsize=7)
        axis.set_xlabel("judge's label of the generated anchor")
        axis.set_ylabel("emotion named in the instruction")
        axis.set_title(
            f"{name}: acc1 {block['acc1']}, acc2 {block['acc2']}, G-mean {block['gmean']}",
            fontsize=9,
        )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


def run(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from engines.i2fet.checkpoint import CHECKPOINT_DIR
    from engines.i2fet.exceptions import I2FETError
    from engines.text import TextEncoderError

    if args.target == "grounding":
        return _run_grounding(args)
    if args.target == "fidelity":
        from server.cli.cmd_eval_fidelity import run_fidelity

        return run_fidelity(args)
    if args.target == "dynamics":
        from server.cli.cmd_eval_dynamics import run_eval_dynamics

        return run_eval_dynamics(args)
    if args.eval_size < 1:
        logger.error("--eval-size must be >= 1")
        return 2
    directory = Path(args.checkpoint_dir) if args.checkpoint_dir else CHECKPOINT_DIR
    try:
        result = evaluate(
            directory, args.corpus_seed, args.eval_size, args.encoder, args.source, args.grounding
        )
    except (I2FETError, TextEncoderError) as error:
        logger.error("%s", error)
        return 1
    if args.plot:
        plot_confusions(result, Path(args.plot))
    if emit_json(result, args):
        return 0
    for name, block in (("test", result), ("heldout", result["heldout"])):
        rows = [(f"{name} ({args.grounding})", block)]
        for key, label in (
            ("full_vocab", "full"),
            ("train_vocab", "train-vocab"),
            ("train_vocab_wordnet_only", "train-vocab, WordNet only"),
            ("train_vocab_no_wordnet", "train-vocab, no WordNet"),
            ("text_only", "text only"),
        ):
            if key in block:
                rows.append((f"{name} ({label})", block[key]))
        for label, row in rows:
            print(
                f"{label:34s} acc1={row['acc1']} acc2={row['acc2']} gmean={row['gmean']} "
                f"count={row['count_accuracy']}"
            )
    for kind, row in result["heldout"].get("train_vocab_by_kind", {}).items():
        print(f"heldout train-vocab [{kind}] n={row['samples']} acc1={row['acc1']} "
              f"acc2={row['acc2']}")  # fmt: skip
    print(f"judge accuracy on ground truth: {result['classifier_accuracy_ground_truth']}")
    return 0


def _run_grounding(args: argparse.Namespace) -> int:
    from engines.instructions.grounding_eval import evaluate_grounding
    from engines.instructions.similarity import default_similarity
    from engines.instructions.vocabulary import LEXICON
    from engines.instructions.wordnet import WordNetUnavailableError

    training = [e for e in LEXICON if not e.heldout]
    similarity = None if args.no_similarity else default_similarity(training)
    try:
        result = evaluate_grounding(similarity=similarity)
    except WordNetUnavailableError as error:
        logger.error("%s", error)
        return 1
    if not emit_json(result, args):
        for key, value in result.items():
            if not isinstance(value, dict):
                print(f"{key:22s} {value}")
    return 0
