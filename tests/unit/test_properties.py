"""Property-based tests (hypothesis): whatever bytes a file holds and whatever a model
replies, the loaders either load or refuse with a LoadError, and every citation that comes
out points at exactly the text it quotes, in a file that was really retrieved."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from index.chunking.chunks import chunk_article
from index.embedding.embedders import HashEmbedder
from index.reading.loaders import LoadError, load_article
from qa.understand.profile import QuestionProfile
from qa.verify.citing import verify_reply

SUFFIXES = [".txt", ".md", ".html", ".pdf"]
# Long enough to pass the boilerplate filter, so most drawn texts really load.
PROSE = st.text(
    alphabet=st.sampled_from(string.ascii_letters + "  ,.;'-\n\r\t" + "éßøü中文" + "\u00a0\u2028"),
    min_size=0,
    max_size=1500,
)
FILE_CHECK = settings(max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _check_article(path: Path) -> bool:
    """Load-or-refuse invariants; True when the file loaded."""
    try:
        article = load_article(path)
    except LoadError as exc:
        assert str(exc) and "\n" not in str(exc)
        event("refused")
        return False
    event("loaded")
    assert article.body, "a loaded article has body text"
    for span in article.body:
        assert 0 <= span.start < span.end <= len(article.text)
        assert article.text[span.start : span.end].strip()
    for chunk in chunk_article(article, chunk_words=40, overlap=1):
        assert article.text[chunk.start : chunk.end] == chunk.text
        for span, text in zip(chunk.sentences, chunk.sentence_texts, strict=True):
            assert article.text[span.start : span.end] == text
    return True


@FILE_CHECK
@given(data=st.binary(max_size=4000), suffix=st.sampled_from(SUFFIXES))
def test_any_bytes_load_or_fail_with_a_load_error(tmp_path: Path, data: bytes, suffix: str) -> None:
    path = tmp_path / f"article{suffix}"
    path.write_bytes(data)
    _check_article(path)


# Most drawn prose is long enough to load; a loader that refused everything would pass the
# invariants above vacuously, so these tests also require that a share really loads.
MIN_LOADED_SHARE = 0.5


def test_any_text_in_any_encoding_keeps_chunk_offsets_exact(tmp_path: Path) -> None:
    outcomes: list[bool] = []

    @FILE_CHECK
    @given(text=PROSE, encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"]))
    def check(text: str, encoding: str) -> None:
        path = tmp_path / "article.txt"
        try:
            path.write_bytes(text.encode(encoding))
        except UnicodeEncodeError:
            return  # latin-1 cannot hold every drawn character
        outcomes.append(_check_article(path))

    check()
    assert sum(outcomes) >= MIN_LOADED_SHARE * len(outcomes), f"{sum(outcomes)}/{len(outcomes)}"


def test_html_with_scripts_and_any_text_loads_or_fails_cleanly(tmp_path: Path) -> None:
    outcomes: list[bool] = []

    @FILE_CHECK
    @given(body=PROSE, script=st.text(max_size=200))
    def check(body: str, script: str) -> None:
        page = f"<html><head><title>T</title><script>{script}</script></head><body><p>{body}</p>"
        path = tmp_path / "page.html"
        path.write_text(page, encoding="utf-8")
        try:
            article = load_article(path)
        except LoadError:
            outcomes.append(False)
            return
        outcomes.append(True)
        assert "<script>" not in article.text
        if script.strip() and len(script.strip()) > 12 and script.strip() not in body:
            assert script.strip() not in article.text

    check()
    assert sum(outcomes) >= MIN_LOADED_SHARE * len(outcomes), f"{sum(outcomes)}/{len(outcomes)}"


# --- the citation mapper -------------------------------------------------------------------
MARKER_STYLES = ["[{}]", "[Source {}]", "({})", "[{}, 2]", "【{}】"]
MARKER = st.builds(lambda n, style: style.format(n), st.integers(-2, 12),
                   st.sampled_from(MARKER_STYLES))  # fmt: skip
REPLY_PART = st.one_of(
    st.text(max_size=60),
    MARKER,
    st.sampled_from(["Ri Yong-ho", "Choe Son-hui", "Wednesday and Thursday", "NOT IN ARTICLES",
                     "Yes", "No", ". ", "\n", "Question:", "[1] Kim, Putin Hold Summit"]),
)  # fmt: skip


@pytest.fixture(scope="module")
def evidence(make_evidence):
    return [
        make_evidence("000", "Moscow on Wednesday and Thursday"),
        make_evidence("004", "Ri Yong-ho"),
        make_evidence("004", "three hours"),
        make_evidence("002", "Russky Island"),
    ]


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(REPLY_PART, max_size=12), question=st.text(max_size=80))
def test_any_reply_maps_to_exact_quotes_from_the_evidence_only(
    evidence, parts: list[str], question: str
) -> None:
    profile = QuestionProfile.of(question)
    result = verify_reply("".join(parts), profile, evidence, HashEmbedder(), 0.45)
    event("abstained" if result.abstained else "answered")
    if result.abstained:
        assert result.citations == []
        return
    allowed = {(e.article.path, e.span.start, e.span.end) for e in evidence}
    for number, citation in enumerate(result.citations, start=1):
        assert (citation.path, citation.start, citation.end) in allowed
        text = Path(citation.path).read_text(encoding="utf-8")
        assert text[citation.start : citation.end] == citation.quote
        assert f"[{number}]" in result.text  # every listed citation is used in the answer
    assert all(0 < n <= len(result.citations) for n in _markers_in(result.text))


def _markers_in(text: str) -> list[int]:
    import re

    return [int(m) for m in re.findall(r"\[(\d+)\]", text)]
