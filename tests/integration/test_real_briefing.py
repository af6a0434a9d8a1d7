"""A cited briefing with the real embedder, real Chroma and the real model."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa import ArticleFilter, Assistant
from qa.core.settings import SEEDS_DIR

pytestmark = pytest.mark.integration

SUMMIT_REPORT = "004_dfd909dab3a5d0b8.txt"  # April 25, 2019: the summit itself, newest of it


def test_a_briefing_over_the_seeds_is_streamed_verified_and_cited(
    real_assistant: Assistant,
) -> None:
    stream = real_assistant.stream_brief("the Kim-Putin summit in Vladivostok")
    pieces = list(stream)
    briefing = stream.answer
    assert len(pieces) > 3 and not briefing.abstained
    assert len({c.source for c in briefing.citations}) >= 2  # many articles, not one
    for c in briefing.citations:
        text = (SEEDS_DIR / c.source).read_text(encoding="utf-8")
        assert text[c.start : c.end] == c.quote
    assert "[1]" in briefing.text and briefing.timings["ttft"] < briefing.timings["total"]

    since = real_assistant.brief(
        "the Kim-Putin summit in Vladivostok", ArticleFilter.of(since="2019-04-24")
    )
    assert since.citations
    assert all(Path(c.path).name in {"001_82d63e9785ee38ff.txt", SUMMIT_REPORT}
               for c in since.citations)  # fmt: skip


def test_the_summit_briefing_names_the_place_from_the_report_of_the_summit(
    real_assistant: Assistant,
) -> None:
    """The tester's briefing: where the summit was, cited to the report of the summit itself
    (the newest report of the event). Its time against four answers is a benchmark figure,
    not a timed test (docs/evaluation.md "Briefings")."""
    briefing = real_assistant.brief("the Kim-Putin summit")
    assert not briefing.abstained and "Vladivostok" in briefing.text
    assert SUMMIT_REPORT in {c.source for c in briefing.citations}
