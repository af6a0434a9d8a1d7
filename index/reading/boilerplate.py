"""Separate the article body from page furniture (menus, cookie notices, share bars, bios).

A general, file-agnostic method in the spirit of jusText (Pomikálek 2011) and body-text
extraction: classify each block by how much it reads like prose, then keep the densest run of
prose blocks. No rule names a site or a file.

  1. Blocks are lines (menus and share bars are often single lines glued to prose), except
     that a hard-wrapped sentence (a line ending mid-sentence, the next starting in lower
     case) is one block, so a wrapped line is judged with the sentence it belongs to.
  2. A block is `good` prose when it has enough words and a normal share of stopwords (running
     text uses many "the/of/and"; menus, bylines and buttons use almost none), `short` when it
     is a brief sentence, and `bad` otherwise or when it speaks the vocabulary of site chrome
     (cookies, sign-in, subscribe, share, comments ...).
  3. Runs of blocks broken by two or more bad blocks form clusters; the cluster with the most
     good text is the article, plus any other cluster at least half as large.
  4. Exact repeats of an earlier block (duplicated headlines, captions) are dropped.
  5. Kept lines of one paragraph are merged again, so sentences never break at a line wrap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.chunking.sentences import is_blank
from index.stopwords import STOPWORDS
from index.types import Span

_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)
_LINE_BREAK = re.compile(r"\n")
_CHROME = re.compile(
    r"\b(cookies?|sign[ -]?(in|up)|log[ -]?in|subscribe|subscription|newsletter|comments?|"
    r"commenting|advertisement|sponsored|share (this|on)|follow us|all rights reserved|"
    r"privacy policy|terms of (use|service)|read more|related (news|articles?|stories)|"
    r"previous article|next article|editor'?s pick|click here|sign-up|register)\b",
    re.IGNORECASE,
)

GOOD_MIN_WORDS = 12
GOOD_MIN_STOPWORD_SHARE = 0.22
SHORT_MIN_WORDS = 3
CHROME_MAX_WORDS = 80  # a long real paragraph may mention "comments" in passing


@dataclass
class Block:
    span: Span
    kind: str  # "good" | "short" | "bad"
    chars: int


def split_blocks(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Non-empty line spans of text[start:end], whitespace trimmed."""
    end = len(text) if end is None else end
    spans = []
    cursor = start
    for brk in [*_LINE_BREAK.finditer(text, start, end), None]:
        stop = brk.start() if brk else end
        s, e = cursor, stop
        while s < e and is_blank(text[s]):
            s += 1
        while e > s and is_blank(text[e - 1]):
            e -= 1
        if e > s:
            spans.append(Span(s, e))
        if brk:
            cursor = brk.end()
    return spans


def classify(block_text: str) -> str:
    words = _WORD.findall(block_text)
    n = len(words)
    if n == 0:
        return "bad"
    if _CHROME.search(block_text) and n <= CHROME_MAX_WORDS:
        return "bad"
    share = sum(w.lower() in STOPWORDS for w in words) / n
    if n >= GOOD_MIN_WORDS and share >= GOOD_MIN_STOPWORD_SHARE:
        return "good"
    ends_like_sentence = block_text.rstrip().endswith((".", "!", "?", '"', "”", "’", "'"))
    if n >= SHORT_MIN_WORDS and share > 0 and ends_like_sentence:
        return "short"
    return "bad"


def looks_like_prose_language(text: str) -> bool:
    """Stopword statistics only work for English; elsewhere keep every block."""
    words = _WORD.findall(text)
    if len(words) < 30:
        return True
    share = sum(w.lower() in STOPWORDS for w in words) / len(words)
    return share >= 0.12


def article_body(text: str, blocks: list[Span] | None = None) -> list[Span]:
    """Spans of `text` that are the article itself, in document order."""
    blocks = join_wrapped_lines(text, split_blocks(text) if blocks is None else blocks)
    if not blocks:
        return []

    seen: set[str] = set()
    unique: list[Span] = []
    for b in blocks:
        key = " ".join(text[b.start : b.end].split()).lower()
        if key not in seen:
            seen.add(key)
            unique.append(b)

    if not looks_like_prose_language(text):
        return merge_paragraph_lines(text, unique)

    classified = [Block(b, classify(text[b.start : b.end]), b.end - b.start) for b in unique]

    # Clusters: maximal runs where no two consecutive blocks are bad.
    clusters: list[list[Block]] = []
    current: list[Block] = []
    bad_run = 0
    for block in classified:
        if block.kind == "bad":
            bad_run += 1
            if bad_run >= 2 and current:
                clusters.append(current)
                current = []
            continue
        bad_run = 0
        current.append(block)
    if current:
        clusters.append(current)

    def mass(cluster: list[Block]) -> int:
        return sum(b.chars for b in cluster if b.kind == "good")

    if not clusters or max(mass(c) for c in clusters) == 0:
        # No prose at all (a list, a table, a one-line note): keep what is not chrome.
        kept = [b.span for b in classified if b.kind != "bad"] or unique
        return merge_paragraph_lines(text, kept)
    best = max(mass(c) for c in clusters)
    kept = sorted(
        (b.span for c in clusters if mass(c) >= best / 2 for b in c), key=lambda s: s.start
    )
    return merge_paragraph_lines(text, kept)


_SENTENCE_END = (".", "!", "?", ":", ";", '"', "”", "’", "'", ")")


def join_wrapped_lines(text: str, spans: list[Span]) -> list[Span]:
    """Merge a line that stops mid-sentence with the next line when that one goes on in lower
    case ("... the harbour" + "authority said."): one sentence, one block."""
    joined: list[Span] = []
    for span in spans:
        if joined:
            prev = joined[-1]
            gap = text[prev.end : span.start]
            wrapped = not text[prev.start : prev.end].endswith(_SENTENCE_END)
            if wrapped and gap.count("\n") == 1 and not gap.strip() and text[span.start].islower():
                joined[-1] = Span(prev.start, span.end)
                continue
        joined.append(span)
    return joined


def merge_paragraph_lines(text: str, spans: list[Span]) -> list[Span]:
    """Join kept spans separated only by a single line break (one wrapped paragraph)."""
    merged: list[Span] = []
    for span in spans:
        if (
            merged
            and text[merged[-1].end : span.start].count("\n") <= 1
            and not text[merged[-1].end : span.start].strip()
        ):
            merged[-1] = Span(merged[-1].start, span.end)
        else:
            merged.append(span)
    return merged
