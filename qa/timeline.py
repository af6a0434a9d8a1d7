"""News is written before and after events: prefer the reports from after them.

A preview says the leaders "are slated to meet next week"; the report two days later says
the talks "lasted for around three hours". Asked what happened, a small model answers from
whichever sentence comes first, so a question about the past reads prospective sentences
(plans, expectations, speculation) only after the later reports, using each article's
published date. A question about the plans themselves ("was scheduled to", "ahead of")
keeps them.
"""

from __future__ import annotations

import re

# Sentences that speak of what has not happened yet when they were written.
_PROSPECTIVE = re.compile(
    r"\b(?:will|shall|would|could|might)\s+(?:likely\s+|also\s+|soon\s+)?(?!have\b)[a-z]+"
    r"|\b(?:slated|expected|scheduled|set|due|poised|planning|plans?|likely)\s+to\b"
    r"|\bnext (?:week|month|year|tuesday|wednesday|thursday|friday|saturday|sunday|monday)\b"
    r"|\b(?:upcoming|imminent|speculat\w*|prospect of)\b",
    re.I,
)
# Questions that ask about the plans or the run-up, not about what happened.
_ABOUT_PLANS = re.compile(
    r"\b(?:will|would|could|might|may|scheduled|slated|expected|planned|plans?|supposed|due|"
    r"ahead of|in advance|before the|likely|speculat\w*|reported in advance)\b",
    re.I,
)
_PAST = re.compile(
    r"\b(?:did|was|were|had|happened|ended|lasted|took place|held|met)\b|\b\w{3,}ed\b", re.I
)


def is_prospective(sentence: str) -> bool:
    return bool(_PROSPECTIVE.search(sentence))


def asks_about_past(question: str) -> bool:
    """Asks what happened (past tense), not what was planned or expected."""
    return bool(_PAST.search(question)) and not _ABOUT_PLANS.search(question)


def is_superseded(sentence: str, published: str, latest: str) -> bool:
    """A prospective sentence from an article older than the latest one at hand: a report
    after the event may say what happened."""
    return bool(published and latest and published[:10] < latest[:10] and is_prospective(sentence))
