"""Cutting a long instruction into pieces I2FET reads at once (engines.i2fet.pieces)."""

from __future__ import annotations

import pytest

from engines.i2fet.pieces import MAX_REPEATS, repeated_pieces, split_long_text


def test_a_short_text_is_one_piece() -> None:
    assert split_long_text("  look surprised, then smile ", 160) == ["look surprised, then smile"]
    assert split_long_text("   ", 160) == []


def test_sentences_first_then_clauses_then_words() -> None:
    text = "Good morning. Please look surprised, then smile."
    assert split_long_text(text, 30) == ["Good morning.", "Please look surprised,", "then smile."]
    # clauses of one long sentence are packed back together up to the limit
    text = "look surprised, as if you heard news, then smile warmly, and finally look sad"
    pieces = split_long_text(text, 40)
    assert pieces == ["look surprised, as if you heard news,",
                      "then smile warmly, and finally look sad"]  # fmt: skip
    # a clause without breaks is cut between words; a word longer than the limit inside
    assert split_long_text("one two three four five six", 9) == ["one two", "three", "four five",
                                                                  "six"]  # fmt: skip
    assert split_long_text("a" * 25, 10) == ["a" * 10, "a" * 10, "a" * 5]


@pytest.mark.parametrize(
    "text",
    [
        "Please be happy. Then be sad!\nThen be angry? " * 12,
        "smile and " * 120,
        "first look genuinely afraid, as if a noise came from the dark corridor behind you; "
        "then let it melt into relief and a broad happy grin — and at the end look disgusted "
        "at the smell of the old basement, until the curator says stop " * 4,
    ],
)
def test_nothing_is_left_out_and_every_piece_fits(text: str) -> None:
    for limit in (20, 80, 160):
        pieces = split_long_text(text, limit)
        assert all(0 < len(piece) <= limit for piece in pieces)
        assert " ".join(pieces).split() == text.split()  # every word, in order


def test_bad_limit() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        split_long_text("smile", 0)


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("frown three times in a row", ["frown"] * 3),
        ("smile twice", ["smile"] * 2),
        ("look surprised, then smile twice", ["look surprised,", "then smile", "then smile"]),
        ("Smile twice. Then frown 3 times!", ["Smile."] * 2 + ["Then frown!"] * 3),
        ("smile, twice", ["smile,", "smile,"]),
        ("look up 2 times in succession", ["look up"] * 2),
    ],
)
def test_a_counted_clause_is_repeated(text: str, pieces: list[str]) -> None:
    assert repeated_pieces(text) == pieces


def test_what_is_not_a_count_is_left_alone() -> None:
    for text in ("smile", "look angry twice as long", "smile once", "smile 1 time",
                 "blink 0 times", "look shocked then relieved"):  # fmt: skip
        assert repeated_pieces(text) is None, text
    assert repeated_pieces("smile 100 times") == ["smile"] * MAX_REPEATS
    assert repeated_pieces("smile 5 times 5 times 5 times") == ["smile"] * MAX_REPEATS
    assert repeated_pieces("twice") == []  # nothing to repeat: the planner says so
