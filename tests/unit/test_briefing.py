"""Cited briefings: the map step's sentences, the verified and cited result, filters, the
five-sentence stop, the sampling options reaching the backend, and the command line and page
entry points (fake model; the real one runs in CI's integration tests and
`python -m evals.briefing`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
from unit_helpers import StreamingFake

from index.chunking.sentences import split_sentences
from index.types import ArticleInfo, Span
from qa.briefing import (
    BRIEF_SAMPLING,
    BRIEF_TOKENS,
    MAX_REPORTS,
    MAX_SENTENCES,
    best_by_article,
    briefing_messages,
    first_sentences,
)
from qa.cli import main
from qa.core.interfaces import Sampling, current_sampling, sampled
from qa.core.settings import Settings
from qa.core.types import Evidence
from qa.generate.backends.openai import OpenAICompatibleLLM
from qa.retrieve.filters import ArticleFilter
from qa.understand.profile import QuestionProfile
from ui.service import ChatService

TOPIC = "the Kim Putin summit in Vladivostok"


def _sentence(
    path: str, published: str, score: float, relevance: float = 0.5, vector: tuple = (0, 0)
) -> Evidence:
    article = ArticleInfo(source=path, path=path, published=published)
    text = f"{path} {score}"
    return Evidence(article, Span(0, 10), text, relevance, score, np.array(vector, float))


def _ranked(*sentences: Evidence) -> list[Evidence]:
    return sorted(sentences, key=lambda e: e.score, reverse=True)


def test_each_relevant_report_gives_its_best_sentence_newest_report_first() -> None:
    ranked = _ranked(
        _sentence("a", "2019-04-17", 0.9), _sentence("a", "2019-04-17", 0.8),
        _sentence("b", "2019-04-25T18:38:40", 0.4), _sentence("b", "2019-04-25", 0.3),
        _sentence("c", "", 0.7), _sentence("d", "2019-04-23", 0.6),
        _sentence("e", "2019-04-30", 0.95, relevance=0.1),  # newest, but not relevant
    )  # fmt: skip
    kept = best_by_article(ranked, min_relevance=0.2)
    assert [(e.article.path, e.score) for e in kept] == [
        ("b", 0.4), ("d", 0.6), ("a", 0.9), ("c", 0.7)
    ]  # fmt: skip
    # A report's sentence is the one closest to the topic, not the one ranked best.
    closer = _sentence("a", "2019-04-17", 0.5, relevance=0.8)
    kept = best_by_article(_ranked(*ranked, closer), min_relevance=0.2)
    assert [e for e in kept if e.article.path == "a"][0] is closer
    assert best_by_article(ranked, min_relevance=2.0) == []


def test_a_report_gives_its_main_event_rather_than_a_side_fact_sharing_the_topics_words():
    side_fact = _sentence("a", "2019-04-23", 0.9, relevance=0.62, vector=(0, 1))
    main_event = _sentence("a", "2019-04-23", 0.7, relevance=0.58, vector=(1, 0))
    far_off = _sentence("a", "2019-04-23", 0.6, relevance=0.40, vector=(1, 0))
    ranked = _ranked(side_fact, main_event, far_off)
    headline = {"a": np.array([1.0, 0.0])}  # "Kim to meet Putin in Vladivostok this week"
    assert best_by_article(ranked, 0.3, headline)[0] is main_event
    assert best_by_article(ranked, 0.3)[0] is side_fact  # no headline: the closest one
    # Only sentences nearly as close to the topic compete on the headline.
    assert best_by_article(_ranked(side_fact, far_off), 0.3, headline)[0] is side_fact


def test_the_newest_report_is_always_in_even_when_it_ranks_last() -> None:
    older = [_sentence(f"r{n}", f"2019-04-{10 + n}", 0.9 - n / 100) for n in range(MAX_REPORTS)]
    newest = _sentence("newest", "2019-04-25", 0.3)
    kept = best_by_article(_ranked(*older, newest), min_relevance=0.0)
    assert len(kept) == MAX_REPORTS and kept[0] is newest
    # It takes the weakest report's place; the others stay.
    assert {e.article.path for e in kept[1:]} == {e.article.path for e in older[:-1]}


def test_the_map_step_over_the_seeds_gives_every_retrieved_report(indexed_assistant) -> None:
    briefing = indexed_assistant.pipeline.briefing  # the answering path's briefing recipe
    evidence = briefing.gathering.run(QuestionProfile.of(TOPIC), TOPIC, ArticleFilter()).evidence
    paths = [e.article.path for e in evidence]
    assert len(paths) == len(set(paths)) == min(5, MAX_REPORTS)  # one sentence per seed
    dates = [e.article.published[:10] for e in evidence]
    assert dates == sorted(dates, reverse=True)  # the newest report first
    prompt = briefing_messages(TOPIC, evidence)[-1]["content"]
    assert prompt.count("\n[") == len(paths) and prompt.endswith("Briefing:")
    assert f"[1] ({dates[0]}) {evidence[0].text}" in prompt  # each report's date first


def test_first_sentences_cuts_once_the_next_sentence_has_begun() -> None:
    assert first_sentences("Kim came [1]. Putin met him [2]. The", 2) == (
        "Kim came [1]. Putin met him [2]."
    )
    assert first_sentences("Kim came [1]. Putin met him [2]. ", 2) is None
    # A marker after the full stop is the sentence's own, not the next one's start ...
    assert first_sentences("Kim came. [1] Putin met him. [2]", 2) is None
    assert first_sentences("Kim came. [1] Putin met him. [2] The", 2) == (
        "Kim came. [1] Putin met him. [2]"
    )
    # ... and a list's numbers are no sentences.
    assert first_sentences("1. Kim came [1].\n2. Putin met him [2].\n3.", 2) is None
    assert first_sentences("1. Kim came [1].\n2. Putin met him [2].\n3. The", 2) == (
        "1. Kim came [1].\n2. Putin met him [2]."
    )


class Looping(StreamingFake):
    """Repeats one sentence until its token limit, as the small model did; records what each
    request carried and how far it got before it was closed."""

    sentence = "Kim and Putin will meet in Vladivostok next week [1]. "

    def __init__(self) -> None:
        self.requests: list[tuple[int, Sampling]] = []
        self.written = 0
        self.closed = False

    def stream_chat(self, messages, max_tokens, stop, grammar="", logprobs=None) -> Iterator[str]:
        self.requests.append((max_tokens, current_sampling()))
        try:
            for _ in range(max_tokens):
                for word in self.sentence.split(" "):
                    self.written += 1
                    yield word + " "
        finally:
            self.closed = True


def test_a_repeating_model_is_stopped_after_five_sentences(indexed_assistant, monkeypatch):
    looping = Looping()
    monkeypatch.setattr(indexed_assistant, "_llm", looping)
    briefing = indexed_assistant.brief(TOPIC)
    assert len(split_sentences(briefing.raw_text)) == MAX_SENTENCES
    assert looping.closed  # the request ended ...
    words_per_sentence = len(Looping.sentence.split(" "))
    assert looping.written <= (MAX_SENTENCES + 1) * words_per_sentence  # ... at once


def test_the_repeat_penalty_and_token_limit_reach_the_backend(indexed_assistant, monkeypatch):
    looping = Looping()
    monkeypatch.setattr(indexed_assistant, "_llm", looping)  # behind the assistant's wrapper
    indexed_assistant.brief(TOPIC)
    assert looping.requests == [(BRIEF_TOKENS, BRIEF_SAMPLING)]
    assert BRIEF_SAMPLING.frequency_penalty > 0 and BRIEF_TOKENS <= 256
    assert current_sampling() == Sampling()  # nothing left over for the next call
    indexed_assistant.ask("Where did Kim Jong Un arrive by train?")
    assert looping.requests[-1][1] == Sampling()  # answers are sampled as before


def test_the_openai_compatible_backend_sends_the_penalty(monkeypatch) -> None:
    bodies: list[dict[str, object]] = []

    class Reply:
        status_code = 200

        def __enter__(self) -> Reply:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def iter_lines(self) -> Iterator[str]:
            yield 'data: {"choices": [{"delta": {"content": "Kim came [1]."}}]}'

    def stream(method: str, url: str, json: dict[str, object], **kw: object) -> Reply:
        bodies.append(json)
        return Reply()

    monkeypatch.setattr(httpx, "stream", stream)
    llm = OpenAICompatibleLLM(Settings(llm_backend="openai", openai_base_url="http://x/v1"))
    messages = [{"role": "user", "content": "Brief me."}]
    assert list(sampled(llm.stream_chat(messages, 180, []), Sampling(0.5))) == ["Kim came [1]."]
    assert list(llm.stream_chat(messages, 96, [])) == ["Kim came [1]."]
    assert bodies[0]["frequency_penalty"] == 0.5 and bodies[0]["max_tokens"] == 180
    assert "frequency_penalty" not in bodies[1]  # a plain call stays plain


def test_a_briefing_is_verified_and_cited_like_an_answer(indexed_assistant) -> None:
    stream = indexed_assistant.stream_brief(TOPIC)
    pieces = list(stream)
    briefing = stream.answer
    assert pieces and not briefing.abstained and briefing.citations
    # The same verification and decision as an answer's: the cite step kept it.
    assert briefing.kind == "briefing" and briefing.decision == "answered (cite)"
    assert briefing.question == TOPIC
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


def test_closing_a_sampled_stream_closes_the_request() -> None:
    closed: list[bool] = []

    def pieces() -> Iterator[str]:
        try:
            yield from ("a", "b", "c", "d")
        finally:
            closed.append(True)

    stream = sampled(pieces(), Sampling(0.5))
    assert next(stream) == "a" and current_sampling() == Sampling()  # set only inside
    stream.close()
    assert closed == [True]
