"""Instruction phrasings: the paper's five templates and many more, with held-out ones.

Slots: ``{A}``, ``{B}`` name emotion items. ``{A}`` alone is a *state* (an adjective or a
noun: "angry", "joy"); ``{A:adj}`` an adjective only; ``{A:noun}`` a noun only; ``{A:vp}`` an
imperative verb phrase built from any form ("look angry", "show joy", "smile"); ``{who}`` a
person ("her", "this face", ...).

Templates, copulas and connectors in the ``HELDOUT_*`` tuples never occur in the corpus'
train / val / test splits, only in its ``heldout`` split.
"""

from __future__ import annotations

import re

__all__ = [
    "CHAIN_CONNECTORS",
    "CHAIN_FINAL_CONNECTORS",
    "CHAIN_STATE_TEMPLATES",
    "COPULAS",
    "HELDOUT_CHAIN_CONNECTORS",
    "HELDOUT_CHAIN_FINAL_CONNECTORS",
    "HELDOUT_CHAIN_STATE_TEMPLATES",
    "HELDOUT_COPULAS",
    "HELDOUT_NOUN_VERBS",
    "HELDOUT_PAIR_TEMPLATES",
    "HELDOUT_SINGLE_TEMPLATES",
    "NOUN_VERBS",
    "PAIR_TEMPLATES",
    "PAPER_TEMPLATES",
    "SINGLE_TEMPLATES",
    "WHO",
    "template_words",
]

# The five templates of the paper (all in the training split).
PAPER_TEMPLATES: tuple[str, ...] = (
    "Turn this face from {A} to {B}",
    "Change this face from {A} to {B}",
    "Transform this face from {A} to {B}",
    "Modify this face from {A} to {B}",
    "Replace this face from {A} to {B}",
)

PAIR_TEMPLATES: tuple[str, ...] = (
    *PAPER_TEMPLATES,
    "from {A} to {B}",
    "{A} to {B}",
    "go from {A} to {B}",
    "make {who} go from {A} to {B}",
    "switch {who} from {A} to {B}",
    "change the expression from {A} to {B}",
    "shift from {A} to {B}",
    "turn {who} from {A} to {B}",
    "move from {A} to {B}",
    "start {A:adj} and end up {B:adj}",
    "{A:vp}, then {B:vp}",
    "first {A:vp}, then {B:vp}",
    "{A:vp} and then {B:vp}",
    "{A:vp}, after that {B:vp}",
    "{A:vp} first and then {B:vp}",
    "please go from {A} to {B}",
    "can you change from {A} to {B}",
    "make this face change from {A} to {B}",
)
HELDOUT_PAIR_TEMPLATES: tuple[str, ...] = (
    "Morph this face from {A} into {B}",
    "Convert this face from {A} to {B}",
    "let the face drift from {A} to {B}",
    "begin {A:adj}, finish {B:adj}",
    "{A:vp}; afterwards {B:vp}",
    "transition from {A} over to {B}",
)

SINGLE_TEMPLATES: tuple[str, ...] = (
    "make {who} {A:adj}",
    "make {who} look {A:adj}",
    "look {A:adj}",
    "{A:vp}",
    "now {A:vp}",
    "please {A:vp}",
    "can you {A:vp}",
    "I want {who} to {A:vp}",
    "show {A:noun}",
    "turn this face {A:adj}",
    "change the expression to {A}",
    "switch to {A}",
    "go back to {A}",
    "give {who} a {A:adj} expression",
    "{A:adj}",
    "{A:noun}",
    "be {A:adj}",
    "make {who} {A:vp}",
)
HELDOUT_SINGLE_TEMPLATES: tuple[str, ...] = (
    "put on a {A:adj} face",
    "could you appear {A:adj}",
    "act {A:adj}",
    "express {A:noun}",
    "let's see some {A:noun}",
    "I'd like {who} to {A:vp}",
)

# Chains of 3-4 items: verb phrases joined by connectors, or states in a from-to chain.
CHAIN_CONNECTORS: tuple[str, ...] = (", then ", " and then ", " then ", ", after that ", ". Then ")
CHAIN_FINAL_CONNECTORS: tuple[str, ...] = (", and finally ", " and finally ", ", then finally ")
HELDOUT_CHAIN_CONNECTORS: tuple[str, ...] = ("; next, ", ", subsequently ")
HELDOUT_CHAIN_FINAL_CONNECTORS: tuple[str, ...] = (", and lastly ",)
CHAIN_STATE_TEMPLATES: tuple[str, ...] = (
    "from {items_to}",
    "Turn this face from {items_to}",
    "Change this face from {items_to}",
    "go from {items_to}",
)
HELDOUT_CHAIN_STATE_TEMPLATES: tuple[str, ...] = ("cycle through {items_and}",)

WHO: tuple[str, ...] = ("her", "him", "them", "the face", "this face", "the avatar", "me")
COPULAS: tuple[str, ...] = ("look", "get", "become", "be", "turn")
HELDOUT_COPULAS: tuple[str, ...] = ("appear", "grow")
NOUN_VERBS: tuple[str, ...] = ("show", "display")
HELDOUT_NOUN_VERBS: tuple[str, ...] = ("radiate",)

_SLOT = re.compile(r"\{[^}]*\}")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def template_words(include_heldout: bool = True) -> frozenset[str]:
    """Every word the templates, connectors, copulas and person words use (lower case);
    the training phrasings' words only when ``include_heldout`` is False."""
    texts = [
        *PAIR_TEMPLATES, *SINGLE_TEMPLATES, *CHAIN_CONNECTORS, *CHAIN_FINAL_CONNECTORS,
        *CHAIN_STATE_TEMPLATES, *WHO, *COPULAS, *NOUN_VERBS,
    ]  # fmt: skip
    if include_heldout:
        texts += [
            *HELDOUT_PAIR_TEMPLATES, *HELDOUT_SINGLE_TEMPLATES, *HELDOUT_CHAIN_CONNECTORS,
            *HELDOUT_CHAIN_FINAL_CONNECTORS, *HELDOUT_CHAIN_STATE_TEMPLATES, *HELDOUT_COPULAS,
            *HELDOUT_NOUN_VERBS,
        ]  # fmt: skip
    words: set[str] = set()
    for text in texts:
        words.update(_WORD.findall(_SLOT.sub(" ", text.lower())))
    return frozenset(words)
