"""Cited briefings: the map step's sentences, the verified and cited result, filters, and
the command line and page entry points (fake model; the real one runs in CI's integration
tests and `python -m evals.briefing`)."""

from __future__ import annotations

import json
from pathlib import Path

from qa.briefing import MAX_ARTICLES, PER_ARTICLE, Briefer, best_by_article, briefing_messages
from qa.cli import main
from qa.retrieve.filters import ArticleFilter
from ui.service import ChatService

TOPIC = "the Kim Putin summit in Vladivostok"


def test_the_map_step_keeps_a_few_sentences_of_each_article_oldest_first(indexed_assistant):
    evidence = Briefer(indexed_assistant.pipeline).evidence(TOPIC)
    per_article: dict[str, int] = {}
    for e in evidence:
        per_article[e.article.path] = per_article.get(e.article.path, 0) + 1
    assert 1 < len(per_article) <= MAX_ARTICLES and max(per_article.values()) <= PER_ARTICLE
    dates = [e.article.published or "9999" for e in evidence]
    assert dates == sorted(dates)  # the story in the order it was reported
    assert best_by_article(evidence, min_relevance=2.0) == []  # nothing relevant enough
    prompt = briefing_messages(TOPIC, evidence)[-1]["content"]
    assert prompt.count("Article:") == len(per_article) and prompt.endswith("Briefing:")


def test_a_briefing_is_verified_and_cited_like_an_answer(indexed_assistant) -> None:
    stream = indexed_assistant.stream_brief(TOPIC)
    pieces = list(stream)
    briefing = stream.answer
    assert pieces and not briefing.abstained and briefing.citations
    assert briefing.decision == "briefing" and briefing.question == TOPIC
    for c in briefing.citations:  # every quote is an exact slice of its article
        text = Path(c.path).read_text(encoding="utf-8")
        assert text[c.start : c.end] == c.quote
    assert "ttft" in briefing.timings and briefing.timings["total"] >= briefing.timings["ttft"]


def test_filters_narrow_a_briefing_and_nothing_relevant_is_said(indexed_assistant) -> None:
    kbs = indexed_assistant.brief(TOPIC, ArticleFilter.of(outlets=["kbs"]))
    assert kbs.citations and {c.source for c in kbs.citations} == {"000_86efe34d87499970.txt"}
    none = indexed_assistant.brief(TOPIC, ArticleFilter.of(since="2031-01-01"))
    assert none.abstained and "don't cover this topic" in none.text


def test_the_brief_command_and_the_page(indexed_assistant, monkeypatch, capsys) -> None:
    monkeypatch.setenv("QA_HOME", str(indexed_assistant.settings.store.home))
    monkeypatch.setenv("QA_EMBEDDER", "hash")
    monkeypatch.setenv("QA_LLM_BACKEND", "fake")
    monkeypatch.setenv("QA_MIN_RELEVANCE", "-1")
    assert main(["brief", "--json", TOPIC, "--outlet", "kbs"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {c["source"] for c in data["citations"]} == {"000_86efe34d87499970.txt"}
    assert main(["brief", TOPIC, "--since", "someday"]) == 2
    assert "write it as YYYY-MM-DD" in capsys.readouterr().err

    service = ChatService(indexed_assistant.settings)
    page = service.stream_brief(TOPIC)
    assert "".join(page) and page.answer.citations
