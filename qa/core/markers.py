"""Citation markers: the one definition of what "[n]" looks like in a reply or an answer.

The model writes "[1]", "[1, 2]", "[1;3]" or "[Source 2]"; verified answers carry "[n]".
Verification (qa/verify/citing.py), the evaluation (evals/metrics.py) and the page (ui/render.py)
all read markers through this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MARKER = re.compile(r"\[\s*(?:sources?\s*)?(\d+(?:\s*[,;]\s*(?:sources?\s*)?\d+)*)\s*\]", re.I)
LEADING_MARKERS = re.compile(rf"^(?:\s*{MARKER.pattern})+", re.I)
_NUMBER = re.compile(r"\d+")


def marker_numbers(text: str) -> list[int]:
    """Every source number in the markers of `text`, in order."""
    return [int(n) for m in MARKER.finditer(text) for n in _NUMBER.findall(m.group(1))]


def strip_markers(text: str) -> str:
    """`text` without markers, and without the space a marker left before punctuation."""
    text = MARKER.sub("", text)
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return " ".join(text.split())


def replace_markers(text: str, each: Callable[[int], str]) -> str:
    """Every marker replaced by `each(n)` for each of its numbers, concatenated."""
    return MARKER.sub(lambda m: "".join(each(int(n)) for n in _NUMBER.findall(m.group(1))), text)
