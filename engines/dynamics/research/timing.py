"""How facial actions unfold in time: the timing of the 4D corpus, and where it comes from.

Nothing here is measured in this project. Every number is a choice inside what the studies
below report (quoted from memory of those papers, so read the ranges as "about", not as
their tables); where no study pins a quantity, it says "our choice".

Whole-expression phases (:data:`EXPRESSION_PHASES`, seconds, posed expressions)
--------------------------------------------------------------------------------
- Onset durations of posed basic expressions are a few tenths of a second to about a second,
  and differ by emotion: surprise is the fastest and sadness the slowest, with fear and
  anger quicker than happiness and disgust (Sato & Yoshikawa 2004, Cognition & Emotion
  18:701-710: the speeds that look most natural are ordered this way). The ranges are
  centred on ``engines.transition.timing.ONSET_FACTORS`` × 0.6 s, the project's eased
  timing, so that eased and learned dynamics take the same time.
- Smile onsets last about half a second (Cohn & Schmidt 2004, "The timing of facial motion
  in posed and spontaneous smiles", IJWMIP 2:1-12; Schmidt, Ambadar, Cohn & Reed 2006,
  J. Nonverbal Behav. 30:37-52, with deliberate smiles faster and larger than spontaneous
  ones).
- Offsets last longer than onsets (Schmidt et al. 2006 for smiles; Hess & Kleck 1990,
  Eur. J. Soc. Psychol. 20:369-385, for posed and felt expressions): offset ranges are 1.3-1.8
  times the onsets here.
- Apex holds of posed expressions: 0.5-1.5 s (our choice, typical of posed 4D sets such as
  BU-4DFE, where an actor holds the apex briefly before relaxing).

Per-action-unit timing within the onset (:data:`AU_ONSETS`)
------------------------------------------------------------
Each AU of the label's FACS prototype starts and reaches its apex at its own time, as a
share of the expression's onset ``(start, duration)``; the earliest starts at 0, the latest
ends at 1 (the corpus rescales after jitter), so the whole spread lies inside the onset.

- Jack, Garrod & Schyns (2014, Current Biology 24:187-192): dynamic expressions transmit an
  early, coarse signal before the later, specific one. The eye-widening upper-lid raiser
  (AU5) comes early in surprise and fear, the nose wrinkler / upper-lip raiser (AU9, AU10) early
  in disgust and anger; the mouth actions that tell them apart (jaw drop, lip stretch,
  pressed or parted lips) later.
- Surprise: brows (AU1+2) and lids (AU5) lead, the jaw (AU26) follows. Posed onsets fitted
  frame by frame spread by about 0.2-0.4 of the onset between the first and the last moving
  shape (the figure issue 13 gives for real recordings); the lags are set to land there.
- Happiness: the lip-corner pull (AU12) leads, the lips part with it (AU25/26), the cheek
  raise (AU6) follows (a Duchenne smile's cheeks rise after its lip corners).
- Sadness: the inner brows (AU1+4) lead, the lip corners (AU15) and chin (AU17) follow, the
  lids (AU43) droop last (our choice, following the brow-first order of Jack et al.).
- Contempt: the one-sided lip-corner tightening (R14) follows its pull (R12) (our choice).

Offsets (:data:`OFFSET_STAGGER`): actions release in the order they started, with the lags
compressed to ``OFFSET_STAGGER`` of the onset's (our choice: we know of no per-AU offset
order measured for posed expressions) so every action is back to rest at the offset's end.

Per-subject style (``engines.dynamics.research.style``): speed, per-AU gains and timing, the
shape of the onset curve and facial asymmetry, with its own sources.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["AU_ONSETS", "EXPRESSION_PHASES", "OFFSET_STAGGER", "PhaseRanges"]

# (low, high) seconds of onset, apex hold, offset
PhaseRanges = tuple[tuple[float, float], tuple[float, float], tuple[float, float]]

EXPRESSION_PHASES: MappingProxyType[str, PhaseRanges] = MappingProxyType(
    {
        "surprise": ((0.26, 0.40), (0.5, 1.2), (0.45, 0.70)),
        "fear": ((0.36, 0.54), (0.5, 1.2), (0.55, 0.85)),
        "anger": ((0.40, 0.62), (0.6, 1.4), (0.60, 0.95)),
        "happiness": ((0.48, 0.72), (0.6, 1.5), (0.70, 1.10)),
        "disgust": ((0.48, 0.72), (0.6, 1.4), (0.70, 1.05)),
        "contempt": ((0.52, 0.80), (0.6, 1.4), (0.70, 1.10)),
        "sadness": ((0.72, 1.08), (0.8, 1.5), (1.00, 1.50)),
    }
)

# label -> {AU (as in engines.instructions.facs.EMOTION_AUS): (start, duration)} as shares of
# the expression's onset
AU_ONSETS: MappingProxyType[str, dict[str, tuple[float, float]]] = MappingProxyType(
    {
        "surprise": {"1": (0.0, 0.55), "2": (0.0, 0.55), "5": (0.0, 0.45), "26": (0.3, 0.7)},
        "fear": {
            "1": (0.0, 0.55), "2": (0.0, 0.55), "5": (0.0, 0.45), "4": (0.1, 0.6),
            "7": (0.15, 0.6), "20": (0.3, 0.7), "25": (0.25, 0.7), "26": (0.3, 0.7),
        },
        "anger": {
            "4": (0.0, 0.6), "10": (0.0, 0.55), "5": (0.05, 0.5), "7": (0.1, 0.6),
            "16": (0.3, 0.7), "23": (0.3, 0.7), "25": (0.25, 0.7), "26": (0.3, 0.7),
        },
        "happiness": {"12": (0.0, 0.65), "25": (0.1, 0.65), "26": (0.1, 0.65), "6": (0.3, 0.7)},
        "disgust": {
            "9": (0.0, 0.55), "10": (0.0, 0.6), "4": (0.1, 0.6), "6": (0.2, 0.65),
            "15": (0.3, 0.7), "17": (0.3, 0.7),
        },
        "contempt": {"R12": (0.0, 0.65), "R14": (0.25, 0.75)},
        "sadness": {
            "1": (0.0, 0.6), "4": (0.0, 0.6), "15": (0.2, 0.7), "17": (0.25, 0.7),
            "43": (0.35, 0.65),
        },
    }
)  # fmt: skip

OFFSET_STAGGER = 0.5
