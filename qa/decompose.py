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
