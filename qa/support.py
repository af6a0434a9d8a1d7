"""How well a passage supports an answer sentence, given the question.

support = 0.7 * lexical + 0.3 * semantic, in [0, 1]:
  lexical  = share of the answer's *new* content words (those not already in the question)
             found in the passage; an answer that only restates the question uses all its
             words. Judging new words only is what lets short right answers ("Wednesday and
             Thursday", "3 hours") pass and keeps a restated question from passing on its own.
  semantic = cosine of the answer sentence and the passage embeddings, clipped at 0.
Numbers are compared as digits ("three" == "3") and plurals folded (qa/text.py).
"""

from __future__ import annotations

import numpy as np

from qa.text import content_words

LEXICAL_WEIGHT = 0.7


def lexical_support(answer: str, passage: str, question: str) -> float:
    claimed = content_words(answer)
    new = claimed - content_words(question)
    words = new or claimed
    if not words:
        return 0.0
    present = content_words(passage)
    found = sum(1 for w in words if w in present or _prefix_match(w, present))
    return found / len(words)


def _prefix_match(word: str, present: set[str]) -> bool:
    """'denuclearize' ~ 'denuclearization': a shared stem of at least six letters."""
    if len(word) < 6:
        return False
    stem = word[:6]
    return any(p.startswith(stem) for p in present)


def support_score(lexical: float, semantic: float) -> float:
    return LEXICAL_WEIGHT * lexical + (1 - LEXICAL_WEIGHT) * max(0.0, semantic)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))  # embedders return unit vectors
