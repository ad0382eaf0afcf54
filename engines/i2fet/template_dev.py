"""A development split for unseen templates that never touches the corpus' held-out phrasings.

``python -m engines.i2fet.template_dev NOISE OUT_DIR [--seed 123]`` holds back a third of the
*training* single and pair templates (chosen by ``--seed``), trains I2FET with the committed
recipe on the rest (``--template-noise NOISE``), and measures it on samples whose only unseen
part is one of those templates. It prints and writes ``OUT_DIR/template_dev.json``. This is
how ``TrainConfig.template_noise_prob`` was chosen (0.0 vs 0.3; 2026-12-01, about 8 min per
run on one core):

    noise 0.0: acc1 0.995, acc2 0.929 (text only 0.970 / 0.909), 1,204 samples
    noise 0.3: acc1 0.996, acc2 0.956 (text only 0.988 / 0.913)

The held-back templates stand in for the corpus' held-out ones for the length of one process:
the template lists of :mod:`engines.instructions.templates` are replaced before anything reads
them, so run it as its own process (never import it into a server or a test run).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

__all__ = ["hold_back_templates", "main"]

RECIPE: tuple[str, ...] = (
    "--seed", "1", "--corpus-seed", "0", "--train-size", "30000", "--eval-size", "2000",
    "--batch-size", "64", "--threads", "1", "--steps", "8000", "--mode", "ifed",
    "--vertex-weight", "1.0", "--model-dim", "64", "--encoder", "wordllama",
    "--grounding-prob", "0.7", "--partial-grounding", "0.3", "--connector-noise", "0.3",
    "--unknown-words", "2000",
)  # fmt: skip


def hold_back_templates(seed: int) -> dict[str, tuple[str, ...]]:
    """Move a third of the training single and pair templates into the held-out lists (for
    this process); returns the held-back templates by list name."""
    import engines.instructions.templates as templates

    rng = random.Random(seed)
    held: dict[str, tuple[str, ...]] = {}
    for train_name, heldout_name in (
        ("SINGLE_TEMPLATES", "HELDOUT_SINGLE_TEMPLATES"),
        ("PAIR_TEMPLATES", "HELDOUT_PAIR_TEMPLATES"),
    ):
        items = list(getattr(templates, train_name))
        chosen = set(rng.sample(range(len(items)), len(items) // 3))
        setattr(templates, train_name, tuple(t for i, t in enumerate(items) if i not in chosen))
        setattr(templates, heldout_name, tuple(items[i] for i in sorted(chosen)))
        held[heldout_name] = tuple(items[i] for i in sorted(chosen))
    return held


def _measure(out: Path, samples: int) -> dict[str, Any]:
    from engines.i2fet.checkpoint import CHECKPOINT_DIR, load_classifier, load_i2fet
    from engines.i2fet.data import samples_to_tensors
    from engines.i2fet.evaluate import classification_metrics, predict, with_source
    from engines.instructions import CorpusConfig, generate_corpus
    from engines.text import get_encoder

    model = load_i2fet(out / "i2fet.pt")
    judge = load_classifier(CHECKPOINT_DIR / "classifier.pt")
    labels = tuple(model.config.labels)
    corpus = generate_corpus(
        CorpusConfig(seed=0, num_train=1, num_val=1, num_test=1, num_heldout=samples)
    )
    chosen = [s for s in corpus.heldout if s.heldout_kinds == ("template",)]
    data = with_source(samples_to_tensors(chosen, labels, model.config.max_anchors), "neutral")
    encoder = get_encoder(model.config.encoder)
    result: dict[str, Any] = {"samples": len(chosen)}
    for name, grounded in (("train_vocab", True), ("text_only", False)):
        predictions = predict(model, encoder, data, grounded=grounded, vocabulary="train")
        metrics = classification_metrics(judge.predict(predictions.expressions), data, labels)
        result[name] = {"acc1": metrics["acc1"], "acc2": metrics["acc2"]}
    return result


def main(argv: list[str] | None = None) -> int:
    """Train on the reduced templates and measure on the held-back ones (see the module)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("noise", type=float, help="--template-noise of the run")
    parser.add_argument("out", help="directory for the checkpoint and template_dev.json")
    parser.add_argument("--seed", type=int, default=123, help="which templates are held back")
    parser.add_argument("--samples", type=int, default=4000, help="held-out samples drawn")
    args = parser.parse_args(argv)
    held = hold_back_templates(args.seed)
    from server.cli.main import main as facecast

    out = Path(args.out)
    command = ["train", "i2fet", *RECIPE, "--template-noise", str(args.noise)]
    code = facecast([*command, "--out", str(out), "--no-progress"])
    if code != 0:
        return code
    result = {"noise": args.noise, "held_back": held, **_measure(out, args.samples)}
    (out / "template_dev.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
