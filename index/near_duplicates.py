"""Syndicated copies: the same wire story under several outlets, found at index time.

Each article's body is cut into overlapping 5-word shingles and summarised by a 128-value
MinHash (datasketch): the share of equal values estimates the Jaccard similarity of two
articles' shingle sets. Articles at or above SYNDICATION_THRESHOLD join one group; retrieval
then returns one member per group and a citation names the other outlets that carried it.
The threshold was chosen on a made set of rewritten wire stories, out of fold
(`python -m evals.syndication`, docs/evaluation.md "Syndicated copies").

Signatures are stored with each file's record (base64), so a later index run compares new
articles with every indexed one through an LSH index built in memory, never all pairs.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

import numpy as np

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


class SyndicationGroups:
    """Which indexed article each new one copies: an LSH index over the signatures, and the
    group every known article belongs to (a group is named by its first member's path)."""

    def __init__(self, threshold: float = SYNDICATION_THRESHOLD) -> None:
        from datasketch import MinHashLSH

        self.threshold = threshold
        self._lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self._signatures: dict[str, np.ndarray] = {}
        self.group_of: dict[str, str] = {}
        self._known: Iterable[tuple[str, str, str]] | None = None

    @classmethod
    def of(cls, known: Iterable[tuple[str, str, str]]) -> SyndicationGroups:
        """From (path, encoded signature, group) of the indexed articles. The LSH index is
        built on the first article that needs a group, so an index run that finds nothing
        new never builds it."""
        groups = cls()
        groups._known = known
        return groups

    def _load(self) -> None:
        known, self._known = self._known, None
        for path, encoded, group in known or ():
            sig = decode(encoded) if encoded else None
            if sig is not None:
                self._insert(path, sig, group or path)

    def _insert(self, path: str, sig: np.ndarray, group: str) -> None:
        self._lsh.insert(path, _minhash(sig))
        self._signatures[path] = sig
        self.group_of[path] = group

    def forget(self, path: str) -> None:
        self._load()
        if path in self._signatures:
            self._lsh.remove(path)
            del self._signatures[path]
            self.group_of.pop(path, None)

    def assign(self, path: str, sig: np.ndarray) -> str:
        """The group of the article at `path` (its own path when it copies no one), after
        checking each LSH candidate's estimated similarity against the threshold."""
        self.forget(path)
        candidates = self._lsh.query(_minhash(sig))
        scored = [(similarity(sig, self._signatures[c]), c) for c in candidates]
        best = max((pair for pair in scored if pair[0] >= self.threshold), default=None)
        group = self.group_of[best[1]] if best else path
        self._insert(path, sig, group)
        return group
