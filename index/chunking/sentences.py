"""Sentence splitting that keeps exact character offsets.

A regex splitter rather than a trained tokenizer: it needs no downloaded data, it is fast,
and every sentence is a true slice of the input, which citations depend on.
"""

from __future__ import annotations

import re

from index.types import Span

# Words that end with a period without ending a sentence.
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "gen", "col", "lt", "sgt", "capt",
    "gov", "sen", "rep", "rev", "pres", "no", "vs", "etc", "inc", "ltd", "co", "corp", "dept",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "u.s", "u.k", "u.n", "e.g", "i.e", "a.m", "p.m", "approx", "fig", "est",
}  # fmt: skip

# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before whitespace.
_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")
_NEWLINES = re.compile(r"\n\s*\n|\n(?=\s*[•\-*]\s)")


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the period at `dot` closes an abbreviation or an initial."""
    if text[dot] != ".":
        return False
    word_start = dot
    while word_start > 0 and (text[word_start - 1].isalpha() or text[word_start - 1] == "."):
        word_start -= 1
    word = text[word_start:dot].lower()
    if not word:
        return False
    if word in _ABBREVIATIONS:
        return True
    # Single capital initials ("Kim J. Un"), but not a sentence ending in "I."
    return len(word) == 1 and text[word_start].isupper() and text[word_start] != "I"


def is_blank(ch: str) -> bool:
    """Whitespace, or a byte-order mark left at the start of a file."""
    return ch.isspace() or ch == "\ufeff"


def _trim(text: str, start: int, end: int) -> Span | None:
    while start < end and is_blank(text[start]):
        start += 1
    while end > start and is_blank(text[end - 1]):
        end -= 1
    return Span(start, end) if end > start else None


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Split text[start:end] into sentence spans (offsets into `text`)."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    # Paragraph breaks always end a sentence (headlines, list items, captions).
    pieces: list[tuple[int, int]] = []
    cursor = start
    for brk in _NEWLINES.finditer(text, start, end):
        pieces.append((cursor, brk.start()))
        cursor = brk.end()
    pieces.append((cursor, end))

    for piece_start, piece_end in pieces:
        sent_start = piece_start
        for match in _END.finditer(text, piece_start, piece_end):
            if _is_abbreviation(text, match.start()) and match.end() - match.start() == 1:
                continue
            nxt = match.end()
            while nxt < piece_end and text[nxt].isspace():
                nxt += 1
            # "3.5 million" or "e.g. the" continue; a new sentence starts with a capital,
            # digit, quote or bracket.
            if nxt < piece_end and not (text[nxt].isupper() or text[nxt] in "\"'“‘([0123456789"):
                continue
            span = _trim(text, sent_start, match.end())
            if span:
                spans.append(span)
            sent_start = match.end()
        span = _trim(text, sent_start, piece_end)
        if span:
            spans.append(span)
    return spans
