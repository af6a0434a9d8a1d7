"""Sentence splitting and chunking keep exact offsets (example-based and property-based)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unit_helpers import SEED_FILES

from index.chunking.chunks import chunk_article, chunk_id
from index.chunking.sentences import split_sentences
from index.reading.boilerplate import article_body
from index.reading.loaders import load_article
from index.types import Article, Span


def sentences(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)]


# --- sentence splitting ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Mr. Kim met the U.S. envoy at 2 p.m. on Friday. They talked.",
            ["Mr. Kim met the U.S. envoy at 2 p.m. on Friday.", "They talked."],
        ),
        (
            'He said "yes." Then he left! Why? Nobody knows.',
            ['He said "yes."', "Then he left!", "Why?", "Nobody knows."],
        ),
        ("It cost 3.5 million dollars. Next.", ["It cost 3.5 million dollars.", "Next."]),
        (
            "Kim J. Un arrived. Dr. Lee and Gen. Park followed.",
            ["Kim J. Un arrived.", "Dr. Lee and Gen. Park followed."],
        ),
        (
            "Talks (e.g. on sanctions) went on. Done.",
            ["Talks (e.g. on sanctions) went on.", "Done."],
        ),
        (
            "Headline without a period\n\nFirst sentence.",
            ["Headline without a period", "First sentence."],
        ),
        ("Items:\n- one\n- two", ["Items:", "- one", "- two"]),
        (
            "They met at 10 a.m. in Seoul. 3 aides came.",
            ["They met at 10 a.m. in Seoul.", "3 aides came."],
        ),
        (
            "Wait… What happened? “Nothing,” he said.",
            ["Wait…", "What happened?", "“Nothing,” he said."],
        ),
        ("", []),
        ("   \n\n  ", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_split_sentences_in_a_window_returns_offsets_into_the_whole_text() -> None:
    text = "IGNORED PREFIX. Mr. Kim arrived. Putin waited.  IGNORED SUFFIX."
    start, end = text.index("Mr."), text.index("  IGNORED SUFFIX")
    spans = split_sentences(text, start, end)
    assert [text[s.start : s.end] for s in spans] == ["Mr. Kim arrived.", "Putin waited."]
    assert spans[0].start == start


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name[:3])
def test_seed_sentences_are_exact_slices(path) -> None:
    article = load_article(path)
    for span in article.body:
        for s in split_sentences(article.text, span.start, span.end):
            assert span.start <= s.start < s.end <= span.end
            piece = article.text[s.start : s.end]
            assert piece == piece.strip() and piece


# --- properties --------------------------------------------------------------------------------
_PIECES = st.sampled_from(
    list("abcXYZ .!?\n\t\"')(…-,3[]“”’")
    + ["Mr.", "U.S.", "p.m.", "The ", "\u00a0", " and ", "\r\n"]
)
_TEXTS = st.one_of(st.text(max_size=300), st.lists(_PIECES, max_size=150).map("".join))


@settings(max_examples=300)
@given(_TEXTS)
def test_property_sentence_spans_are_ordered_trimmed_slices(text: str) -> None:
    spans = split_sentences(text)
    previous_end = 0
    for span in spans:
        assert 0 <= span.start < span.end <= len(text)
        assert span.start >= previous_end  # ordered, non-overlapping
        previous_end = span.end
        piece = text[span.start : span.end]
        assert piece == piece.strip()
    # Nothing but whitespace is lost between sentences.
    covered = set()
    for span in spans:
        covered.update(range(span.start, span.end))
    assert all(text[i].isspace() for i in range(len(text)) if i not in covered)


_WORDS = st.sampled_from(
    [
        "the", "of", "Kim", "Putin", "met", "in", "Moscow.", "said", "and", "U.S.", "Mr.",
        "talks", "on", "Thursday.", "\n", "\n\n", "cookies", "a", "summit!", "3.5", "was",
        "it", "Sign in", "“Yes,”", "officials", "(Reuters)", "é", "–",
    ]
)  # fmt: skip


@settings(max_examples=200)
@given(
    st.lists(_WORDS, min_size=1, max_size=400).map(" ".join),
    st.integers(min_value=20, max_value=60),
    st.integers(min_value=0, max_value=3),
)
def test_property_chunks_are_slices_holding_their_sentences(
    text: str, chunk_words: int, overlap: int
) -> None:
    article = Article(path="/x/a.txt", source="a.txt", text=text, body=article_body(text))
    chunks = chunk_article(article, chunk_words=chunk_words, overlap=overlap)
    assert bool(chunks) == bool(article.body)
    previous_start = -1
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.start > previous_start  # progress, no repeated chunk
        previous_start = chunk.start
        assert chunk.sentences and len(chunk.sentences) == len(chunk.sentence_texts)
        assert chunk.sentences[0].start == chunk.start and chunk.sentences[-1].end == chunk.end
        for span, sentence in zip(chunk.sentences, chunk.sentence_texts, strict=True):
            assert chunk.start <= span.start < span.end <= chunk.end
            assert text[span.start : span.end] == sentence
            assert any(b.start <= span.start and span.end <= b.end for b in article.body)
        words = sum(len(s.split()) for s in chunk.sentence_texts)
        if len(chunk.sentences) > 1:
            assert words <= chunk_words
        else:
            assert words <= 2 * chunk_words
    # Every body sentence is in some chunk.
    in_chunks = {s for c in chunks for s in c.sentences}
    for b in article.body:
        for s in split_sentences(text, b.start, b.end):
            if len(text[s.start : s.end].split()) <= 2 * chunk_words:  # longer ones are cut
                assert s in in_chunks


# --- chunking the seeds ------------------------------------------------------------------------
@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name[:3])
def test_seed_chunks_match_the_file(path) -> None:
    file_text = path.read_text(encoding="utf-8")
    article = load_article(path)
    chunks = chunk_article(article, chunk_words=90, overlap=1)
    assert chunks
    for chunk in chunks:
        assert file_text[chunk.start : chunk.end] == chunk.text
        assert chunk.source == path.name
        assert chunk.title == article.title and chunk.published == article.published
        assert chunk.file_sha256 == article.file_sha256
        n_words = len(re.findall(r"\S+", chunk.text))
        assert 1 <= n_words <= (90 if len(chunk.sentences) > 1 else 180)
        for span, sentence in zip(chunk.sentences, chunk.sentence_texts, strict=True):
            assert file_text[span.start : span.end] == sentence
    # Neighbouring chunks share exactly one sentence (overlap=1) or none across runs.
    for a, b in zip(chunks, chunks[1:], strict=False):
        shared = set(a.sentences) & set(b.sentences)
        assert len(shared) <= 1


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name[:3])
def test_chunk_ids_are_deterministic_and_unique(path) -> None:
    first = chunk_article(load_article(path))
    second = chunk_article(load_article(path))
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)
    assert all(re.fullmatch(r"[0-9a-f]{32}", c.id) for c in first)


def test_chunk_id_depends_on_source_start_and_text() -> None:
    base = chunk_id("a.txt", 10, "text")
    assert base == chunk_id("a.txt", 10, "text")
    assert len({base, chunk_id("b.txt", 10, "text"), chunk_id("a.txt", 11, "text"),
                chunk_id("a.txt", 10, "text!")}) == 4  # fmt: skip


def test_chunk_words_controls_chunk_size() -> None:
    article = load_article(SEED_FILES[4])
    small = chunk_article(article, chunk_words=20, overlap=0)
    large = chunk_article(article, chunk_words=200, overlap=0)
    assert len(small) > len(large)
    # Without overlap no sentence is repeated.
    spans = [s for c in small for s in c.sentences]
    assert len(spans) == len(set(spans))


def test_a_very_long_sentence_is_cut_at_word_boundaries() -> None:
    text = " ".join(f"word{i}" for i in range(130)) + "."
    article = Article(path="/x/long.txt", source="long.txt", text=text, body=[Span(0, len(text))])
    chunks = chunk_article(article, chunk_words=20, overlap=0)
    assert len(chunks) == 4  # 130 words cut into pieces of at most 40
    assert all(text[c.start : c.end] == c.text for c in chunks)
    assert all(len(c.text.split()) <= 40 for c in chunks)
    assert " ".join(c.text for c in chunks) == text
