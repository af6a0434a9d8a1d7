"""Questions that join claims from several reports, split into one sub-question per report.

"Does The Verge suggest X, while The Age and TechCrunch imply Y?" needs a sentence from each
article. One retrieval for the whole question finds the article that matches most of its
words and fills the few evidence slots from it. Splitting at the joints of the question
("while", "whereas", "; ", "Between A and B, ...") and retrieving for each part gives each
report its own slots. Rules, not an LLM call: they cost nothing, and a question they do not
split is answered as before.
"""

from __future__ import annotations

import re

from qa.understand.question_kind import AUXILIARIES

# Joints between the claims of a comparison, in the order they are tried.
_JOINTS = re.compile(
    r",?\s+\b(?:while|whereas|but|and whether|compared (?:to|with))\b\s+"
    r"|;\s+"
    r"|,\s+and\s+(?=(?:does|did|is|was|has|the|an?)\b|['\"‘“A-Z])",
    re.I,
)
# "Between the report from X on <date> and the report from Y on <date>, is there ...?"
_BETWEEN = re.compile(
    r"^\s*(?:between|comparing)\s+(?P<a>.+?)\s+and\s+(?P<b>.+?),\s*(?P<rest>.+)$", re.I
)
MIN_PART_WORDS = 4

# Words of a question that asks for a judgement over reports rather than a fact in one.
_JUDGES_REPORTS = re.compile(
    r"\b(?:consisten\w*|inconsisten\w*|chang(?:e|ed|es) in|similar\w*|differ\w*|the same as"
    r"|compar\w*|in line with|align\w*|agree\w*|disagree\w*|contradict\w*)\b",
    re.I,
)
# ... and words that make the answer a relation between the parts, not each part's truth.
_RELATIONAL = re.compile(_JUDGES_REPORTS.pattern + r"|\bbetween\b", re.I)


def sub_questions(question: str) -> list[str]:
    """The question's parts, each able to stand alone for retrieval; [question] when it
    does not join several claims."""
    between = _BETWEEN.match(question)
    if between:
        rest = between.group("rest")
        parts = [f"{between.group('a')} {rest}", f"{between.group('b')} {rest}"]
    else:
        parts = [p.strip(" ,?") for p in _JOINTS.split(question)]
    parts = [p for p in parts if len(p.split()) >= MIN_PART_WORDS]
    return parts if len(parts) > 1 else [question]


def claim_questions(question: str, yes_no: bool, parts: list[str]) -> list[str]:
    """One yes/no question per claim of a yes/no question that joins claims (`parts`, its
    `sub_questions`); [] otherwise."""
    if not yes_no or _RELATIONAL.search(question):
        return []
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


def judges_reports(question: str, yes_no: bool) -> bool:
    """ "Is there consistency between ...?", "Did the reviews agree ...?" """
    return yes_no and bool(_JUDGES_REPORTS.search(question))
