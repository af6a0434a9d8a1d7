"""Does a question ask what happened, or what was planned? (qa/evidence/timeline.py ranks
plans from older articles below later reports only for the first kind.)"""

from __future__ import annotations

import re

# Questions that ask about the plans or the run-up, not about what happened.
_ABOUT_PLANS = re.compile(
    r"\b(?:will|would|could|might|may|scheduled|slated|expected|planned|plans?|supposed|due|"
    r"ahead of|in advance|before the|likely|speculat\w*|reported in advance)\b",
    re.I,
)
_PAST = re.compile(
    r"\b(?:did|was|were|had|happened|ended|lasted|took place|held|met)\b|\b\w{3,}ed\b", re.I
)


def asks_about_past(question: str) -> bool:
    """Asks what happened (past tense), not what was planned or expected."""
    return bool(_PAST.search(question)) and not _ABOUT_PLANS.search(question)
