"""Grounding with the whole vocabulary vs the training vocabulary only (honest held-out eval)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engines.i2fet.evaluate import VOCABULARIES, predict
from engines.i2fet.grounding import GROUNDING_SEPARATOR, PLACEHOLDER, grounded_text


def test_train_vocab_forgets_heldout_synonyms() -> None:
    text = "look elated, then angry"
    full, full_labels = grounded_text(text)
    assert full_labels == ["happiness", "anger"]
    assert "elated" not in full and full.count(PLACEHOLDER) == 2
    honest, honest_labels = grounded_text(text, include_heldout=False)
    assert honest_labels == ["anger"]
    assert honest.startswith("look elated, then " + PLACEHOLDER)
    assert honest.endswith(GROUNDING_SEPARATOR + "anger")
    # a phrasing made only of held-out words is not grounded at all
    assert grounded_text("be merry", include_heldout=False) == ("be merry", [])
    assert grounded_text("be happy", include_heldout=False)[1] == ["happiness"]


def test_unknown_vocabulary_is_rejected() -> None:
    assert VOCABULARIES == ("full", "train")
    with pytest.raises(ValueError, match="vocabulary must be one of"):
        predict(None, None, None, grounded=True, vocabulary="heldout")  # type: ignore[arg-type]


def test_eval_cli_train_vocab_grounding(capsys: pytest.CaptureFixture[str]) -> None:
    from server.cli.main import main

    assert main(["eval", "i2fet", "--json", "--eval-size", "40", "--grounding", "train-vocab"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["grounding"] == "train-vocab"
    for block in (result, result["heldout"]):
        assert {"acc1", "acc2", "gmean", "confusion", "text_only", "full_vocab"} <= set(block)
        assert block["grounding_vocabulary"] == "train"
        assert np.array(block["confusion"]["matrix"]).sum() == block["anchors"]


def test_eval_cli_bad_grounding() -> None:
    from server.cli.main import main

    with pytest.raises(SystemExit) as info:
        main(["eval", "i2fet", "--grounding", "everything"])
    assert info.value.code == 2
