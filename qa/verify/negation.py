"""Questions about what is *not* so, and sentences that say something is not.

"Where are clinical pharmacists not allowed to work?" is answered only by a sentence that
states a negation ("... may not ...", "are barred from ...", "only in ..."). SQuAD 2.0 builds
many of its unanswerable questions by adding a "not" or "never" to a question the paragraph
answers, and a small model answers them from the plain sentence, dropping or inventing the
negation. Measured on the 140-question SQuAD sample: 8 negated questions answered from a
sentence with no negation of its own, 7 of them unanswerable.
"""

from __future__ import annotations

import re

from qa.understand.negation import ASKED_NEGATION

# A sentence can also negate with words a question rarely uses.
_IMPLIED = re.compile(
    r"\b(?:only|except\w*|unless|instead|rather|lack\w*|fail\w*|refus\w*|prohibit\w*"
    r"|forb[ia]d\w*|bann?\w*|barr\w*|exclud\w*|unable|den(?:y|ied|ies)|absen\w*|avoid\w*"
    r"|prevent\w*)\b",
    re.I,
)


def states_negation(sentence: str, question: str) -> bool:
    """The sentence negates in words of its own ("failures" does not count when the
    question speaks of "the failure")."""
    if ASKED_NEGATION.search(sentence):
        return True
    asked = {w.lower()[:5] for w in re.findall(r"\w+", question)}
    return any(m.group(0).lower()[:5] not in asked for m in _IMPLIED.finditer(sentence))
