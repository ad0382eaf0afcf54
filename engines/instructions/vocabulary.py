"""The emotion vocabulary: canonical labels, their words and phrases, and intensity words.

Every canonical label in :data:`EMOTIONS` has lexical entries in three grammatical forms,
so that the corpus generator can fill templates grammatically:

- ``adj``  -- a state ("happy", "grossed out"): "look {adj}", "from {adj} to ...";
- ``noun`` -- a thing shown ("joy", "a smile"): "show {noun}", "from {noun} to ...";
- ``verb`` -- an imperative ("smile", "burst out laughing"): "{verb}, then ...".

Each entry carries an intrinsic intensity ("annoyed" is weaker than "furious"). Entries
marked ``heldout`` never occur in the train/val/test splits of the corpus: they only occur in
the ``heldout`` split, which measures generalisation to unseen synonyms (see
:data:`HELDOUT_SYNONYMS`).

Compound emotions follow Du, Tao & Martinez (2014), "Compound facial expressions of
emotion", PNAS 111(15): E1454-E1462.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

__all__ = [
    "BASIC_EMOTIONS",
    "COMPOUND_EMOTIONS",
    "COMPOUND_PARENTS",
    "EMOTIONS",
    "HELDOUT_INTENSITY_WORDS",
    "HELDOUT_SYNONYMS",
    "INTENSITY_ADVERBS",
    "INTENSITY_NOUN_MODIFIERS",
    "INTENSITY_WORD_SHARE",
    "LEXICON",
    "PLAIN_INTENSITY",
    "SPEED_WORDS",
    "VERB_SUFFIX_ADVERBS",
    "Form",
    "LexicalEntry",
    "blended_intensity",
    "entries_for",
    "validate_label",
]

Form = Literal["adj", "noun", "verb"]

BASIC_EMOTIONS: tuple[str, ...] = (
    "neutral",
    "happiness",
    "sadness",
    "surprise",
    "fear",
    "anger",
    "disgust",
    "contempt",
)

# Du, Tao & Martinez (2014): the 12 compounds of two basic emotions + appalled, hatred, awed.
COMPOUND_EMOTIONS: tuple[str, ...] = (
    "happily_surprised",
    "happily_disgusted",
    "sadly_fearful",
    "sadly_angry",
    "sadly_surprised",
    "sadly_disgusted",
    "fearfully_angry",
    "fearfully_surprised",
    "fearfully_disgusted",
    "angrily_surprised",
    "angrily_disgusted",
    "disgustedly_surprised",
    "appalled",
    "hatred",
    "awed",
)

EMOTIONS: tuple[str, ...] = BASIC_EMOTIONS + COMPOUND_EMOTIONS

# The basic emotions each compound mixes (used for head-pose priors and confusions).
COMPOUND_PARENTS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "happily_surprised": ("happiness", "surprise"),
        "happily_disgusted": ("happiness", "disgust"),
        "sadly_fearful": ("sadness", "fear"),
        "sadly_angry": ("sadness", "anger"),
        "sadly_surprised": ("sadness", "surprise"),
        "sadly_disgusted": ("sadness", "disgust"),
        "fearfully_angry": ("fear", "anger"),
        "fearfully_surprised": ("fear", "surprise"),
        "fearfully_disgusted": ("fear", "disgust"),
        "angrily_surprised": ("anger", "surprise"),
        "angrily_disgusted": ("anger", "disgust"),
        "disgustedly_surprised": ("disgust", "surprise"),
        "appalled": ("disgust", "anger"),
        "hatred": ("anger", "disgust"),
        "awed": ("surprise", "fear"),
    }
)


# The intrinsic intensity of a word the lexicon gives no other ("sad", "anger").
PLAIN_INTENSITY = 0.75
# An intensity word and the emotion word it modifies: the intensity word's share of the
# apex intensity ("a bit furious" is mostly "a bit"), the word's own the rest (written out:
# 1 - 0.7 is not 0.3 in floating point, and the corpus must stay bit-identical).
INTENSITY_WORD_SHARE = 0.7
_OWN_SHARE = 0.3


def blended_intensity(intrinsic: float, intensity_word: float | None) -> float:
    """The apex intensity of an emotion word of ``intrinsic`` intensity under an intensity
    word asking for ``intensity_word`` (None: no intensity word)."""
    if intensity_word is None:
        return intrinsic
    return INTENSITY_WORD_SHARE * intensity_word + _OWN_SHARE * intrinsic


@dataclass(frozen=True)
class LexicalEntry:
    """One way of naming an emotion.

    Attributes:
        text: lower-case words, possibly several ("grossed out", "burst out laughing").
        label: canonical label (one of :data:`EMOTIONS`).
        form: grammatical form, see the module docstring.
        intensity: intrinsic apex intensity in (0, 1] when no intensity word is given.
        heldout: True if the entry only appears in the corpus' held-out split.
    """

    text: str
    label: str
    form: Form
    intensity: float = PLAIN_INTENSITY
    heldout: bool = False


def _entries(label: str, form: Form, spec: str, *, heldout: bool = False) -> list[LexicalEntry]:
    """Parse ``"happy, joyful:0.8, over the moon:0.95"`` into entries (``:x`` = intensity)."""
    out: list[LexicalEntry] = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        text, _, value = item.partition(":")
        intensity = float(value) if value else PLAIN_INTENSITY
        out.append(LexicalEntry(text.strip(), label, form, intensity, heldout))
    return out


# label -> (form -> (train spec, held-out spec))
_LEXICON_SPEC: dict[str, dict[Form, tuple[str, str]]] = {
    "neutral": {
        "adj": (
            "neutral, calm, relaxed, expressionless, blank, composed, at ease, emotionless",
            "impassive, placid",
        ),
        "noun": (
            "a neutral face, a blank face, a straight face, a neutral expression, calm",
            "a poker face",
        ),
        "verb": (
            "calm down, relax, relax your face, go neutral, keep a straight face, settle",
            "settle down, unwind",
        ),
    },
    "happiness": {
        "adj": (
            "happy, joyful, cheerful, glad, delighted:0.85, pleased:0.6, amused:0.6, "
            "content:0.5, ecstatic:1.0, thrilled:0.95, jolly",
            "elated:0.95, merry, over the moon:0.95, gleeful",
        ),
        "noun": (
            "happiness, joy, delight, cheer, a smile:0.6, a grin, a big smile:0.9, laughter:0.95",
            "glee, bliss:0.9",
        ),
        "verb": (
            "smile:0.6, grin, laugh:0.95, beam:0.85, burst out laughing:1.0, light up",
            "crack a smile:0.5, chuckle:0.8",
        ),
    },
    "sadness": {
        "adj": (
            "sad, unhappy, sorrowful, gloomy, miserable:0.9, depressed:0.85, upset, "
            "heartbroken:0.95, down:0.6, tearful:0.9, devastated:1.0",
            "glum, downcast, melancholic, crestfallen:0.85",
        ),
        "noun": (
            "sadness, sorrow, grief:0.95, misery:0.9, despair:0.95, gloom",
            "melancholy, heartache:0.9",
        ),
        "verb": (
            "cry:0.95, weep:0.95, sob:1.0, pout:0.6, be on the verge of tears:0.9",
            "mope:0.6, tear up:0.85",
        ),
    },
    "surprise": {
        "adj": (
            "surprised, astonished:0.85, amazed:0.85, shocked:0.95, startled, stunned:0.9, "
            "dumbfounded:0.9",
            "astounded:0.9, flabbergasted:1.0, taken aback:0.6",
        ),
        "noun": ("surprise, astonishment, amazement, shock:0.95", "disbelief"),
        "verb": ("gasp:0.9, be surprised, look up in surprise", "drop your jaw:0.95"),
    },
    "fear": {
        "adj": (
            "afraid, scared, frightened, fearful, terrified:1.0, anxious:0.5, nervous:0.45, "
            "panicked:0.9, horrified:0.95, alarmed:0.7",
            "petrified:1.0, spooked, freaked out:0.85",
        ),
        "noun": ("fear, terror:1.0, panic:0.9, horror:0.95, fright", "dread:0.8"),
        "verb": ("panic:0.9, tremble with fear, freeze in fear:0.85", "cower:0.85"),
    },
    "anger": {
        "adj": (
            "angry, mad, furious:0.95, annoyed:0.45, irritated:0.5, enraged:1.0, irate:0.9, "
            "cross:0.55, outraged:0.95, grumpy:0.5, hostile:0.7",
            "livid:1.0, fuming:0.95, pissed off:0.85, infuriated:0.95",
        ),
        "noun": (
            "anger, rage:1.0, fury:0.95, irritation:0.5, annoyance:0.45, a scowl",
            "wrath:1.0",
        ),
        "verb": (
            "scowl:0.7, glare:0.7, rage:1.0, lose your temper:0.95, get mad",
            "glower:0.7, seethe:0.9",
        ),
    },
    "disgust": {
        "adj": (
            "disgusted, grossed out, repulsed:0.9, revolted:0.9, nauseated, icked out, repelled",
            "sickened:0.85, queasy:0.6",
        ),
        "noun": ("disgust, revulsion:0.9, distaste:0.55", "repugnance:0.9"),
        "verb": ("wrinkle your nose:0.6, recoil in disgust:0.9, go yuck", "gag:0.9"),
    },
    "contempt": {
        "adj": (
            "contemptuous, disdainful, scornful, smug:0.55, condescending:0.6, dismissive:0.55, "
            "unimpressed:0.5",
            "derisive, sneering, supercilious",
        ),
        "noun": ("contempt, disdain, scorn, a smirk:0.6", "derision"),
        "verb": ("smirk:0.6, sneer:0.8, look down on someone", "scoff:0.7"),
    },
    "happily_surprised": {
        "adj": (
            "happily surprised, pleasantly surprised, happy and surprised, delightfully surprised, "
            "excited:0.8",
            "overjoyed:0.95, surprised and happy",
        ),
        "noun": ("a happy surprise, a pleasant surprise, excitement:0.8", "joyful surprise"),
        "verb": ("light up with surprise, gasp with joy:0.9", "squeal with delight:0.95"),
    },
    "happily_disgusted": {
        "adj": (
            "happily disgusted, amused and disgusted, happy but grossed out",
            "disgusted but amused",
        ),
        "noun": ("happy disgust, amused disgust", "gleeful disgust"),
        "verb": ("laugh in disgust", "giggle at something gross"),
    },
    "sadly_fearful": {
        "adj": (
            "sadly fearful, sad and scared, sad and afraid, worried:0.6, distressed:0.8",
            "anguished:0.9, scared and sad",
        ),
        "noun": ("sad fear, worry:0.6, distress:0.8", "anguish:0.9"),
        "verb": ("worry:0.6, fret", "despair in fear"),
    },
    "sadly_angry": {
        "adj": (
            "sadly angry, sad and angry, bitter, hurt and angry, resentful",
            "aggrieved, angry and sad",
        ),
        "noun": ("bitterness, resentment, sad anger", "hurt anger"),
        "verb": ("sulk:0.6, brood:0.6", "be bitter"),
    },
    "sadly_surprised": {
        "adj": (
            "sadly surprised, disappointed:0.7, dismayed, sad and surprised",
            "let down:0.65, surprised and sad",
        ),
        "noun": ("disappointment:0.7, dismay", "sad surprise"),
        "verb": ("be disappointed", "sigh in disappointment"),
    },
    "sadly_disgusted": {
        "adj": (
            "sadly disgusted, sad and disgusted, disheartened and disgusted",
            "disgusted and sad, sickened and sad",
        ),
        "noun": ("sad disgust", "sorrowful disgust"),
        "verb": ("grimace sadly", "wince in sad disgust"),
    },
    "fearfully_angry": {
        "adj": (
            "fearfully angry, scared and angry, afraid and angry, defensive:0.65",
            "angry and scared, frightened and furious",
        ),
        "noun": ("fearful anger, frightened rage", "panicky anger"),
        "verb": ("snarl in fear", "lash out in fear"),
    },
    "fearfully_surprised": {
        "adj": (
            "fearfully surprised, startled and scared, scared and surprised, shocked and afraid",
            "aghast:0.9, surprised and scared",
        ),
        "noun": ("fearful surprise, alarm", "a fright and a shock"),
        "verb": ("jump in fright:0.9, gasp in fear:0.9", "shriek:1.0"),
    },
    "fearfully_disgusted": {
        "adj": (
            "fearfully disgusted, scared and disgusted, creeped out, afraid and disgusted",
            "disgusted and scared, skeeved out",
        ),
        "noun": ("fearful disgust", "creepy revulsion"),
        "verb": ("shrink back in disgust", "recoil in fear and disgust"),
    },
    "angrily_surprised": {
        "adj": (
            "angrily surprised, shocked and angry, indignant, angry and surprised",
            "surprised and angry, incensed",
        ),
        "noun": ("indignation, angry surprise", "outraged shock"),
        "verb": ("explode in surprise", "blow up in shock"),
    },
    "angrily_disgusted": {
        "adj": (
            "angrily disgusted, angry and disgusted, revolted and angry, fed up",
            "disgusted and furious, disgusted and angry",
        ),
        "noun": ("angry disgust, indignant disgust", "furious disgust"),
        "verb": ("snarl:0.85, curl your lip in anger", "spit in anger"),
    },
    "disgustedly_surprised": {
        "adj": (
            "disgustedly surprised, shocked and disgusted, surprised and disgusted",
            "surprised and grossed out, disgusted and shocked",
        ),
        "noun": ("disgusted surprise, a gross surprise", "shocked disgust"),
        "verb": ("recoil in surprise", "do a disgusted double take"),
    },
    "appalled": {
        "adj": (
            "appalled:0.9, outraged and disgusted, horrified and disgusted",
            "scandalized, mortified",
        ),
        "noun": ("a look of horror and disgust, outrage and disgust", "moral outrage"),
        "verb": ("be appalled", "recoil in horror"),
    },
    "hatred": {
        "adj": (
            "hateful, full of hatred, loathing, hostile and disgusted, vengeful",
            "spiteful, venomous",
        ),
        "noun": ("hatred, hate, loathing, hostility", "animosity, odium"),
        "verb": ("hate, loathe, glare with hatred", "detest"),
    },
    "awed": {
        "adj": ("awed, in awe, awestruck, amazed and moved, wowed", "wonderstruck, spellbound"),
        "noun": ("awe, wonder, amazement and wonder", "reverence"),
        "verb": ("stare in awe, marvel", "gaze in wonder"),
    },
}


def _build_lexicon() -> tuple[LexicalEntry, ...]:
    entries: list[LexicalEntry] = []
    for label, forms in _LEXICON_SPEC.items():
        for form, (train_spec, heldout_spec) in forms.items():
            entries.extend(_entries(label, form, train_spec))
            entries.extend(_entries(label, form, heldout_spec, heldout=True))
    return tuple(entries)


LEXICON: tuple[LexicalEntry, ...] = _build_lexicon()

# Entries never seen in training (only the ``heldout`` split uses them).
HELDOUT_SYNONYMS: tuple[str, ...] = tuple(e.text for e in LEXICON if e.heldout)

# Intensity words: adverbs before an adjective ("very angry") and after some verbs
# ("smile slightly"), and modifiers before a noun ("a hint of joy"). Values are the apex
# intensity they ask for.
INTENSITY_ADVERBS: MappingProxyType[str, float] = MappingProxyType(
    {
        "slightly": 0.3,
        "a bit": 0.4,
        "a little": 0.4,
        "a little bit": 0.35,
        "somewhat": 0.5,
        "mildly": 0.4,
        "moderately": 0.6,
        "fairly": 0.6,
        "quite": 0.75,
        "very": 0.9,
        "really": 0.85,
        "so": 0.85,
        "super": 0.95,
        "extremely": 1.0,
        "incredibly": 1.0,
        "totally": 0.95,
        "completely": 1.0,
        "utterly": 1.0,
        "faintly": 0.25,
        "barely": 0.2,
        "hugely": 0.95,
        "deeply": 0.9,
        # held out (only in the heldout split)
        "a tad": 0.35,
        "exceedingly": 1.0,
        "kind of": 0.5,
        "insanely": 1.0,
    }
)
INTENSITY_NOUN_MODIFIERS: MappingProxyType[str, float] = MappingProxyType(
    {
        "a hint of": 0.3,
        "a touch of": 0.35,
        "a little": 0.4,
        "some": 0.55,
        "slight": 0.3,
        "mild": 0.4,
        "strong": 0.9,
        "intense": 0.95,
        "extreme": 1.0,
        "pure": 1.0,
        "total": 0.95,
        "deep": 0.9,
        # held out
        "a trace of": 0.3,
        "overwhelming": 1.0,
    }
)
# Speed words: a factor on the transition durations ("slowly smile", "suddenly look shocked").
# They are read by analyze_text and the transition builder; the corpus does not vary speed.
SPEED_WORDS: MappingProxyType[str, float] = MappingProxyType(
    {
        "slowly": 2.0,
        "very slowly": 3.0,
        "gradually": 2.0,
        "gently": 1.5,
        "softly": 1.5,
        "calmly": 1.5,
        "quickly": 0.5,
        "fast": 0.5,
        "rapidly": 0.45,
        "suddenly": 0.35,
        "abruptly": 0.35,
        "instantly": 0.3,
        "immediately": 0.4,
        "all of a sudden": 0.35,
    }
)

# Adverbs that read well after a verb ("laugh a little", "smile slightly").
VERB_SUFFIX_ADVERBS: tuple[str, ...] = (
    "slightly", "a bit", "a little", "a little bit", "mildly", "faintly", "hugely", "intensely",
    "a lot", "wildly", "a tad", "like crazy",
)  # fmt: skip
_EXTRA_VERB_ADVERBS = {"intensely": 0.95, "a lot": 0.9, "wildly": 1.0, "like crazy": 1.0}

HELDOUT_INTENSITY_WORDS: tuple[str, ...] = (
    "a tad", "exceedingly", "kind of", "insanely", "a trace of", "overwhelming", "like crazy",
)  # fmt: skip


def verb_adverb_value(word: str) -> float:
    """Intensity of an adverb placed after a verb."""
    if word in _EXTRA_VERB_ADVERBS:
        return _EXTRA_VERB_ADVERBS[word]
    return INTENSITY_ADVERBS[word]


def validate_label(label: str) -> str:
    """Return ``label`` if it is canonical, else raise UnknownEmotionError listing them."""
    if label not in EMOTIONS:
        from engines.instructions.exceptions import UnknownEmotionError

        raise UnknownEmotionError(f"unknown emotion {label!r}; valid: {', '.join(EMOTIONS)}")
    return label


def entries_for(
    label: str, form: Form | None = None, *, heldout: bool | None = None
) -> tuple[LexicalEntry, ...]:
    """Lexical entries of a label, optionally filtered by form and held-out flag."""
    validate_label(label)
    return tuple(
        e
        for e in LEXICON
        if e.label == label
        and (form is None or e.form == form)
        and (heldout is None or e.heldout == heldout)
    )
