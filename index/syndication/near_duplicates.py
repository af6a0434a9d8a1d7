"""Syndicated copies: the same wire story under several outlets, found at index time.

Each article's body is cut into overlapping 5-word shingles and summarised by a 128-value
MinHash (datasketch): the share of equal values estimates the Jaccard similarity of two
articles' shingle sets. Articles at or above SYNDICATION_THRESHOLD join one group; retrieval
then returns one member per group and a citation names the other outlets that carried it.
The threshold was chosen on a made set of rewritten wire stories, out of fold
(`python -m evals.syndication`, docs/evaluation.md "Syndicated copies").

MinHash cannot see a changed figure: "32 million" against "33 million" is a few shingles of
hundreds. So copies also must agree on their key facts (`key_facts`, `facts_agree`): a
corrected or updated story never hides behind its older copy.

Signatures and key facts are stored with each file's record (base64), so a later index run
compares new articles with every indexed one through an LSH index built in memory, never all
pairs, and without reading their files again.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from index.stopwords import STOPWORDS
from index.text import MONTH_NAMES, NUMBER_WORDS, WEEKDAY_NAMES

SHINGLE_WORDS = 5
NUM_PERM = 128
SEED = 1
SCHEME = "affine32"  # datasketch's hashing; stored signatures are only comparable within one
# Fitted on wire-length stories by `python -m evals.syndication` (docs/evaluation.md).
SYNDICATION_THRESHOLD = 0.425


def shingles(text: str, k: int = SHINGLE_WORDS) -> set[bytes]:
    words = "".join(c if c.isalnum() else " " for c in text.lower()).split()
    if len(words) <= k:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + k]).encode() for i in range(len(words) - k + 1)}


def signature(text: str) -> np.ndarray:
    """The MinHash of the text's shingles (uint32[NUM_PERM])."""
    from datasketch import MinHash

    minhash = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME)
    minhash.update_batch(list(shingles(text)))
    return np.asarray(minhash.hashvalues, dtype=np.uint32)


def _minhash(sig: np.ndarray) -> Any:
    """A datasketch MinHash from stored values (for the LSH index)."""
    from datasketch import MinHash

    return MinHash(num_perm=NUM_PERM, seed=SEED, hashvalues=sig, scheme=SCHEME)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The estimated Jaccard similarity of two signatures."""
    return float(np.mean(a == b))


def encode(sig: np.ndarray) -> str:
    return base64.b64encode(sig.astype("<u4").tobytes()).decode()


def decode(text: str) -> np.ndarray | None:
    try:
        data = base64.b64decode(text.encode(), validate=True)
    except ValueError:
        return None
    return np.frombuffer(data, dtype="<u4").astype(np.uint32) if len(data) == 4 * NUM_PERM else None


# --- key facts -------------------------------------------------------------------------
# A fact is a number (by value: "32 million" == "32,000,000" == "32m"), a number word
# ("two"), a capitalised month or weekday, or a run of capitalised words that are not
# stopwords (names; a sentence's plain opener "The" or "But" is not one). Its place is the
# CONTEXT_WORDS words on each side inside its sentence, other facts there read as one
# placeholder. Two articles disagree when at a place both have facts and neither's are all
# the other's: a correction changes a fact and keeps the words around it, while syndication
# edits (a sentence dropped or added, a word swapped, a dateline, byline or credit line) move
# no other fact into its place. Measured on made copies and corrections (`python -m
# evals.syndication`, docs/evaluation.md "Syndicated copies").
CONTEXT_WORDS = 3
FACTS_TAG = "kf1:"  # the stored format: a record without it was indexed before facts were kept
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:['’][^\W\d_]+)*")
# Powers of ten of a scale word after a number, or a suffix written onto it ("32m", "$2bn").
_SCALES = {"thousand": 3, "million": 6, "billion": 9, "trillion": 12, "k": 3, "m": 6, "bn": 9}
_CARDINALS = {word: n for word, n in NUMBER_WORDS.items() if n.isdigit()}
_DATE_WORDS = frozenset(MONTH_NAMES + WEEKDAY_NAMES)  # "May" is a stopword, and a date
_PLACEHOLDER = "\x00"
_NOT_WORDS = frozenset([_PLACEHOLDER, "^", "$", "|", "_"])  # of a place: marks, not words


def _number(digits: str, scale: str) -> str:
    """The value of "32,000,000" or "1.5" (times 10**scale) in one spelling: commas are
    thousands separators, one dot a decimal point (several dots: separators too)."""
    plain = digits.replace(",", "")
    try:
        value = Decimal(plain)
    except InvalidOperation:
        value = Decimal(plain.replace(".", ""))
    return f"{value.scaleb(_SCALES.get(scale, 0)).normalize():f}"


def _fact_tokens(text: str) -> list[tuple[str, bool, str]]:
    """(value, is a fact, the text before it) of each word; a scale word after a number
    ("32 million", "32m") is read into it."""
    out: list[tuple[str, bool, str]] = []
    matches = list(_TOKEN.finditer(text))
    end, i = 0, 0
    while i < len(matches):
        m, gap = matches[i], text[end : matches[i].start()]
        word, lower = m.group(0), m.group(0).lower()
        end, i = m.end(), i + 1
        if word[0].isdigit():
            scale = ""
            if i < len(matches) and matches[i].group(0).lower() in _SCALES:
                between = text[m.end() : matches[i].start()]
                # "32m" written onto the number; "32 million" as a word ("32 m" is metres)
                if not between or (between.isspace() and len(matches[i].group(0)) > 2):
                    scale, end, i = matches[i].group(0).lower(), matches[i].end(), i + 1
            out.append((_number(word, scale), True, gap))
        elif lower in _CARDINALS:
            out.append((_CARDINALS[lower], True, gap))
        else:
            name = word[0].isupper() and (lower in _DATE_WORDS or lower not in STOPWORDS)
            out.append((lower, name, gap))
    return out


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "little")


def key_facts(text: str, k: int = CONTEXT_WORDS) -> np.ndarray:
    """The text's facts as unique (place, fact) hash pairs (uint32[n, 2]). A fact's places
    are the k words before it and the k words after it in its sentence (fewer at the
    sentence's edges, which are marked), less the word next to it on one side or the other.
    Facts written next to each other ("Anna Berg", "March 3") are one fact."""
    slots: list[str] = []
    sentence: list[int] = []  # of each slot
    facts: list[tuple[int, str]] = []  # (slot, value)
    for value, is_fact, gap in _fact_tokens(text):
        # A spaced dash ends a dateline ("LONDON (Wire) - "), or sets a clause apart.
        ends = any(c in ".!?\n" for c in gap) or (" " in gap and any(c in "-–—" for c in gap))
        if is_fact and facts and facts[-1][0] == len(slots) - 1 and gap.isspace():
            facts[-1] = (facts[-1][0], f"{facts[-1][1]} {value}")
            continue
        if is_fact:
            facts.append((len(slots), value))
        slots.append(_PLACEHOLDER if is_fact else value)
        sentence.append(sentence[-1] + ends if sentence else 0)
    pairs = set()
    for slot, value in facts:
        before = [w for i, w in enumerate(slots[max(0, slot - k) : slot], max(0, slot - k))
                  if sentence[i] == sentence[slot]]  # fmt: skip
        after = [w for i, w in enumerate(slots[slot + 1 : slot + 1 + k], slot + 1)
                 if sentence[i] == sentence[slot]]  # fmt: skip
        before = ["^"] * (len(before) < k) + before
        after += ["$"] * (len(after) < k)
        # Both sides, inside the sentence: a correction keeps the words around the fact it
        # changes, while a cut clause or a dropped, added or moved sentence (a credit line,
        # a headline) gives a fact other neighbours on at least one side. The word next to
        # it on one side may differ: outlets reword "said" and the like next to a name.
        for place in (before + ["|", "_"] + after[1:], before[:-1] + ["_", "|"] + after):
            # A place of no word (a dateline's "LONDON (Wire)") is where any fact can be.
            if any(w not in _NOT_WORDS for w in place):
                pairs.add((_hash("\x1f".join(place)), _hash(value)))
    return np.array(sorted(pairs), dtype=np.uint32).reshape(-1, 2)


def _by_place(pairs: np.ndarray) -> dict[int, set[int]]:
    places: dict[int, set[int]] = {}
    for place, fact in pairs.tolist():
        places.setdefault(place, set()).add(fact)
    return places


def facts_agree(a: np.ndarray, b: np.ndarray) -> bool:
    """False when at some place both articles have facts and neither's are all the other's
    (a place can recur: "located on a 21-acre" and "located on a 358-acre" in one text)."""
    places_a, places_b = _by_place(a), _by_place(b)
    shared = places_a.keys() & places_b.keys()
    return all(places_a[p] <= places_b[p] or places_b[p] <= places_a[p] for p in shared)


def encode_facts(pairs: np.ndarray) -> str:
    return FACTS_TAG + base64.b64encode(pairs.astype("<u4").tobytes()).decode()


def decode_facts(text: str) -> np.ndarray | None:
    """Stored facts, or None when unknown (a record indexed before facts were kept)."""
    if not text.startswith(FACTS_TAG):
        return None
    try:
        data = base64.b64decode(text[len(FACTS_TAG) :].encode(), validate=True)
    except ValueError:
        return None
    if len(data) % 8:
        return None
    return np.frombuffer(data, dtype="<u4").astype(np.uint32).reshape(-1, 2)


class SyndicationGroups:
    """Which indexed article each new one copies: an LSH index over the signatures, the key
    facts of every known article, and the group each belongs to (a group is named by its
    first member's path)."""

    def __init__(self, threshold: float = SYNDICATION_THRESHOLD) -> None:
        from datasketch import MinHashLSH

        self.threshold = threshold
        self._lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self._signatures: dict[str, np.ndarray] = {}
        self._facts: dict[str, str] = {}  # encoded: decoded only for a candidate's group
        self.group_of: dict[str, str] = {}
        self._members: dict[str, list[str]] = {}
        self._known: Iterable[tuple[str, str, str, str]] | None = None

    @classmethod
    def of(cls, known: Iterable[tuple[str, str, str, str]]) -> SyndicationGroups:
        """From (path, encoded signature, group, encoded facts) of the indexed articles. The
        LSH index is built on the first article that needs a group, so an index run that
        finds nothing new never builds it."""
        groups = cls()
        groups._known = known
        return groups

    def _load(self) -> None:
        known, self._known = self._known, None
        for path, encoded, group, facts in known or ():
            sig = decode(encoded) if encoded else None
            if sig is not None:
                self._insert(path, sig, group or path, facts)

    def _insert(self, path: str, sig: np.ndarray, group: str, facts: str) -> None:
        self._lsh.insert(path, _minhash(sig))
        self._signatures[path] = sig
        self._facts[path] = facts
        self.group_of[path] = group
        self._members.setdefault(group, []).append(path)

    def forget(self, path: str) -> None:
        self._load()
        if path in self._signatures:
            self._lsh.remove(path)
            del self._signatures[path], self._facts[path]
            group = self.group_of.pop(path)
            self._members[group].remove(path)
            if not self._members[group]:
                del self._members[group]

    def _accepts(self, group: str, facts: np.ndarray) -> bool:
        """Whether an article with these facts agrees with every member of the group (one
        that agrees with a copy may still differ from another member where that copy is
        silent). A record written before facts were kept has unknown facts: nothing joins
        its group, since a new copy could differ from it in a figure and be hidden behind
        it or hide it; its file's next re-index records them."""
        for member in self._members.get(group, []):
            known = decode_facts(self._facts[member])
            if known is None or not facts_agree(facts, known):
                return False
        return True

    def assign(self, path: str, sig: np.ndarray, facts: np.ndarray) -> str:
        """The group of the article at `path` (its own path when it copies no one): that of
        the most similar LSH candidate at or above the threshold whose group agrees with
        its key facts."""
        self.forget(path)
        candidates = self._lsh.query(_minhash(sig))
        scored = sorted((similarity(sig, self._signatures[c]), c) for c in candidates)
        passing = (self.group_of[c] for s, c in reversed(scored) if s >= self.threshold)
        group = next((g for g in passing if self._accepts(g, facts)), path)
        self._insert(path, sig, group, encode_facts(facts))
        return group
