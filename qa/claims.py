"""Yes/no questions that join claims, answered claim by claim and then combined.

"Does The Verge suggest A, while The Age implies B?" is true only when both claims are. One
reply over all the evidence lets a small model answer for the claim it reads best and say
Yes. Here each claim becomes its own yes/no question, answered from its own evidence
(qa/decompose.py retrieved it) and verified with a citation; the whole is Yes when every
claim is, and No, with the failing claim's cited reason, when one is not.

Questions that relate their parts ("is there consistency between A and B", "a different
stance compared to B") are not conjunctions: their answer is not the AND of the parts, so
they keep the single reply over all the parts' evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.citing import VerifiedAnswer
from qa.decompose import sub_questions
from qa.evidence import Evidence
from qa.question_kind import AUXILIARIES, is_yes_no_question, split_polarity

# Words that make the answer a relation between the parts rather than each part's truth.
_RELATIONAL = re.compile(
    r"\b(?:consisten\w*|inconsisten\w*|chang(?:e|ed|es) in|between|compar\w*|similar\w*"
    r"|the same as|in line with|align\w*)\b",
    re.I,
)
_MARKER = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class ClaimAnswer:
    """One claim's answer: its question, Yes/No ('' when unanswered) and cited reason."""

    question: str
    polarity: str
    verified: VerifiedAnswer


def claim_questions(question: str) -> list[str]:
    """One yes/no question per claim of a yes/no question that joins claims; [] otherwise."""
    if not is_yes_no_question(question) or _RELATIONAL.search(question):
        return []
    parts = sub_questions(question)
    if len(parts) < 2:
        return []
    return [as_yes_no_question(p) for p in parts]


def as_yes_no_question(part: str) -> str:
    """ "Does X say A" -> "Does X say A?"; "Y implies B" -> "Is it true that Y implies B?" """
    text = part.strip(" ,;?")
    first = text.split(maxsplit=1)[0].lower() if text else ""
    if first in AUXILIARIES:
        return text[:1].upper() + text[1:] + "?"
    return f"Is it true that {text}?"


def combined_reply(answers: list[ClaimAnswer], evidence: list[Evidence]) -> str | None:
    """ "No. <the failing claim's reason> [n]" or "Yes. <each claim's reason> [n] ...", its
    markers numbering `evidence`; None when a claim is unanswered (the caller then replies to
    the whole question at once)."""
    if not answers or any(a.verified.abstained or not a.polarity for a in answers):
        return None
    failing = [a for a in answers if a.polarity == "No"]
    verdict = "No" if failing else "Yes"
    reasons = [_renumbered(_reason(a), a.verified, evidence) for a in failing or answers]
    if any(r is None for r in reasons):
        return None
    return " ".join([f"{verdict}.", *(r for r in reasons if r)])


def _reason(answer: ClaimAnswer) -> str:
    _, rest = split_polarity(answer.verified.text)
    return rest.strip()


def _renumbered(text: str, verified: VerifiedAnswer, evidence: list[Evidence]) -> str | None:
    """The reason's [k] (a number of its own citations) as the number of the same sentence
    in the whole question's evidence; None if that sentence is not there."""
    number = {(e.chunk.path, e.span.start): i for i, e in enumerate(evidence, 1)}
    missing = False

    def swap(m: re.Match[str]) -> str:
        nonlocal missing
        k = int(m.group(1))
        if not 1 <= k <= len(verified.citations):
            missing = True
            return m.group(0)
        c = verified.citations[k - 1]
        n = number.get((c.path, c.start))
        if n is None:
            missing = True
            return m.group(0)
        return f"[{n}]"

    renumbered = _MARKER.sub(swap, text)
    return None if missing else renumbered
