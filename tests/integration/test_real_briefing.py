"""A cited briefing with the real embedder, real Chroma and the real model."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa import ArticleFilter, Assistant
from qa.core.settings import SEEDS_DIR

pytestmark = pytest.mark.integration


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
    assert all(Path(c.path).name in {"001_82d63e9785ee38ff.txt", "004_dfd909dab3a5d0b8.txt"}
               for c in since.citations)  # fmt: skip
