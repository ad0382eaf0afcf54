"""``facecast eval fidelity``: do generated expressions read as asked to an independent judge?

Research code (the server never imports it): see :mod:`evaluation.fidelity.runner`.
"""

from evaluation.fidelity.config import (
    DEFAULT_PAIRS,
    JUDGE_TO_EMOTION,
    FidelityConfig,
    pair_instruction,
    single_instruction,
)
from evaluation.fidelity.exceptions import FidelityError, NoPhotosError
from evaluation.fidelity.report import NO_FACE, FidelitySummary, emotion_of, summarize
from evaluation.fidelity.runner import (
    IMAGE_SUFFIXES,
    FidelityRunner,
    PairResult,
    PhotoResult,
    Reading,
    list_photos,
)
from evaluation.fidelity.sheets import save_confusion_plot, save_contact_sheet, stack_sheets

__all__ = [
    "DEFAULT_PAIRS",
    "IMAGE_SUFFIXES",
    "JUDGE_TO_EMOTION",
    "NO_FACE",
    "FidelityConfig",
    "FidelityError",
    "FidelityRunner",
    "FidelitySummary",
    "NoPhotosError",
    "PairResult",
    "PhotoResult",
    "Reading",
    "emotion_of",
    "list_photos",
    "pair_instruction",
    "save_confusion_plot",
    "save_contact_sheet",
    "single_instruction",
    "stack_sheets",
    "summarize",
]
