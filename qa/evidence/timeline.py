"""News is written before and after events: prefer the reports from after them.

A preview says the leaders "are slated to meet next week"; the report two days later says
the talks "lasted for around three hours". Asked what happened, a small model answers from
whichever sentence comes first, so a question about the past reads prospective sentences
(plans, expectations, speculation) only after the later reports, using each article's
published date. A question about the plans themselves ("was scheduled to", "ahead of")
keeps them (qa/understand/tense.py tells which a question asks).
"""

from __future__ import annotations

import re

from qa.core.text import date_label

# Sentences that speak of what has not happened yet when they were written.
_PROSPECTIVE = re.compile(
    r"\b(?:will|shall|would|could|might)\s+(?:likely\s+|also\s+|soon\s+)?(?!have\b)[a-z]+"
    r"|\b(?:slated|expected|scheduled|set|due|poised|planning|plans?|likely)\s+to\b"
    r"|\bnext (?:week|month|year|tuesday|wednesday|thursday|friday|saturday|sunday|monday)\b"
    r"|\b(?:upcoming|imminent|speculat\w*|prospect of)\b",
    re.I,
)


def is_prospective(sentence: str) -> bool:
    return bool(_PROSPECTIVE.search(sentence))


def is_superseded(sentence: str, published: str, latest: str) -> bool:
    """A prospective sentence from an article older than the latest one at hand, or from an
    undated one when a dated report is at hand: a report after the event may say what
    happened, and a plan never says it."""
    return bool(latest and published[:10] < latest[:10] and is_prospective(sentence))


_PLAIN_OPENERS = frozenset(["the", "a", "an", "it", "they", "he", "she", "this", "these", "there"])


def dated_claims(claims: list[tuple[str, str, str]]) -> list[str]:
    """(claim, its source sentence, the source's published date) -> the claims, dated when
    the sources were written at different times and one of them still looks ahead: "As of
    April 23, 2019, ..." for a plan, "The April 25, 2019 report says ..." for the rest."""
    dates = {published[:10] for _, _, published in claims if published}
    if len(dates) < 2 or not any(is_prospective(sentence) for _, sentence, _ in claims):
        return [claim for claim, _, _ in claims]
    out = []
    for claim, sentence, published in claims:
        label = date_label(published)
        first = claim.split(" ", 1)[0]
        body = claim[:1].lower() + claim[1:] if first.lower() in _PLAIN_OPENERS else claim
        if not label:
            out.append(claim)
        elif is_prospective(sentence):
            out.append(f"As of {label}, {body}")
        else:
            out.append(f"The {label} report says {body}")
    return out
