"""Instruction vocabulary, FACS prototypes, lexicon analysis and the training corpus."""

from engines.instructions.analysis import (
    EmotionMention,
    IntensityWord,
    SpeedWord,
    TextAnalysis,
    analyze_text,
    tokenize,
)
from engines.instructions.corpus import (
    Corpus,
    CorpusConfig,
    InstructionSample,
    SubjectStyle,
    generate_corpus,
)
from engines.instructions.exceptions import (
    InstructionsError,
    NotUnderstoodError,
    UnknownEmotionError,
)
from engines.instructions.facs import (
    AU_TO_SHAPES,
    EMOTION_AUS,
    emotion_pose_prior,
    emotion_prototype,
    prototype_matrix,
)
from engines.instructions.knowledge import (
    EmotionKnowledge,
    KnowledgeConfig,
    KnowledgeMatch,
    default_knowledge,
)
from engines.instructions.planner import (
    EXAMPLE_INSTRUCTIONS,
    LexiconPlanner,
    RuleAnchor,
    RulePlan,
)
from engines.instructions.templates import (
    HELDOUT_PAIR_TEMPLATES,
    HELDOUT_SINGLE_TEMPLATES,
    PAIR_TEMPLATES,
    PAPER_TEMPLATES,
    SINGLE_TEMPLATES,
)
from engines.instructions.vocabulary import (
    BASIC_EMOTIONS,
    COMPOUND_EMOTIONS,
    COMPOUND_PARENTS,
    EMOTIONS,
    HELDOUT_INTENSITY_WORDS,
    HELDOUT_SYNONYMS,
    INTENSITY_ADVERBS,
    LEXICON,
    SPEED_WORDS,
    LexicalEntry,
    entries_for,
)
from engines.instructions.wordnet import WordNet, WordNetUnavailableError

__all__ = [
    "AU_TO_SHAPES",
    "BASIC_EMOTIONS",
    "COMPOUND_EMOTIONS",
    "COMPOUND_PARENTS",
    "EMOTIONS",
    "EMOTION_AUS",
    "EXAMPLE_INSTRUCTIONS",
    "HELDOUT_INTENSITY_WORDS",
    "HELDOUT_PAIR_TEMPLATES",
    "HELDOUT_SINGLE_TEMPLATES",
    "HELDOUT_SYNONYMS",
    "INTENSITY_ADVERBS",
    "LEXICON",
    "PAIR_TEMPLATES",
    "PAPER_TEMPLATES",
    "SINGLE_TEMPLATES",
    "SPEED_WORDS",
    "Corpus",
    "CorpusConfig",
    "EmotionKnowledge",
    "EmotionMention",
    "InstructionSample",
    "InstructionsError",
    "IntensityWord",
    "KnowledgeConfig",
    "KnowledgeMatch",
    "LexicalEntry",
    "LexiconPlanner",
    "NotUnderstoodError",
    "RuleAnchor",
    "RulePlan",
    "SpeedWord",
    "SubjectStyle",
    "TextAnalysis",
    "UnknownEmotionError",
    "WordNet",
    "WordNetUnavailableError",
    "analyze_text",
    "default_knowledge",
    "emotion_pose_prior",
    "emotion_prototype",
    "entries_for",
    "generate_corpus",
    "prototype_matrix",
    "tokenize",
]
