"""Sentence-aware chunks with overlap, each a true slice of its article.

llama-index's SentenceSplitter re-finds chunk text to recover offsets, which drifts when text
repeats, and it cannot avoid straddling removed boilerplate. We need exact spans for
citations, so chunks are packed from our own offset-carrying sentences.
"""

from __future__ import annotations

import hashlib
import re

from index.chunking.sentences import split_sentences
from index.types import Article, Chunk, Span

_WORD = re.compile(r"\S+")
# A sentence longer than this many chunk lengths is cut at word boundaries.
_MAX_SENTENCE_FACTOR = 2


def chunk_id(path: str, start: int, text: str) -> str:
    """Content hash: the same text at the same place in the same file gets the same id."""
    return hashlib.sha256(f"{path}\x00{start}\x00{text}".encode()).hexdigest()[:32]


def _cut_long(text: str, span: Span, max_words: int) -> list[Span]:
    words = list(_WORD.finditer(text, span.start, span.end))
    if len(words) <= max_words:
        return [span]
    pieces = []
    for i in range(0, len(words), max_words):
        group = words[i : i + max_words]
        pieces.append(Span(group[0].start(), group[-1].end()))
    return pieces


def _runs(article: Article) -> list[list[Span]]:
    """Body spans grouped so that only whitespace lies between members of a group."""
    runs: list[list[Span]] = []
    for span in article.body:
        if runs and not article.text[runs[-1][-1].end : span.start].strip():
            runs[-1].append(span)
        else:
            runs.append([span])
    return runs


def article_sentences(article: Article, chunk_words: int) -> list[list[Span]]:
    """Sentences of each run of body text."""
    limit = chunk_words * _MAX_SENTENCE_FACTOR
    result = []
    for run in _runs(article):
        sentences = []
        for span in run:
            for sentence in split_sentences(article.text, span.start, span.end):
                sentences.extend(_cut_long(article.text, sentence, limit))
        result.append(sentences)
    return result


def chunk_article(article: Article, chunk_words: int = 90, overlap: int = 1) -> list[Chunk]:
    """Pack consecutive sentences into chunks of about `chunk_words` words."""
    chunks: list[Chunk] = []
    info = article.info
    for sentences in article_sentences(article, chunk_words):
        counts = [len(_WORD.findall(article.text, s.start, s.end)) for s in sentences]
        first = 0
        while first < len(sentences):
            last, words = first, counts[first]
            while last + 1 < len(sentences) and words + counts[last + 1] <= chunk_words:
                last += 1
                words += counts[last]
            members = sentences[first : last + 1]
            start, end = members[0].start, members[-1].end
            text = article.text[start:end]
            chunks.append(
                Chunk(
                    id=chunk_id(article.path, start, text),
                    article=info,
                    text=text,
                    start=start,
                    end=end,
                    file_sha256=article.file_sha256,
                    byline=article.byline,
                    byline_text=article.text[article.byline.start : article.byline.end]
                    if article.byline
                    else "",
                    sentences=list(members),
                    sentence_texts=[article.text[s.start : s.end] for s in members],
                )
            )
            if last + 1 >= len(sentences):
                break
            # Step forward, repeating `overlap` sentences but always making progress.
            first = max(first + 1, last + 1 - overlap)
    return chunks
