"""Verified streaming: the passages first, then the reply sentence by sentence, each shown
only once its source supports it; the draft itself is never an event."""

from __future__ import annotations

from collections.abc import Iterator

from unit_helpers import StreamingFake

from qa.assistant import Assistant
from qa.core.answer_stream import (
    REVISED,
    AnswerStream,
    Progress,
    SourcesFound,
    VerifiedText,
    verified_pieces,
)
from qa.core.types import Answer, Draft
from qa.verify.streaming import SentenceRelease, complete_sentences

QUESTION = "Where did Kim Jong Un arrive by train?"
INVENTED = "The summit ended with a parade of nine hundred elephants on the beach."


class WordByWord(StreamingFake):
    """Writes a fixed reply a word at a time, as a model streams."""

    def __init__(self, reply: str) -> None:
        self.reply = reply

    def stream_chat(self, messages, max_tokens, stop, grammar="", logprobs=None) -> Iterator[str]:
        words = self.reply.split(" ")
        for n, word in enumerate(words):
            yield word if n == 0 else " " + word


def test_a_sentence_is_complete_once_the_next_has_begun() -> None:
    assert complete_sentences("Kim arrived by train") == ""
    assert complete_sentences("Kim arrived by train.") == ""
    assert complete_sentences("Kim arrived by train. He") == "Kim arrived by train. "
    assert complete_sentences("It rained. Kim came. He") == "It rained. Kim came. "


def test_only_what_passes_is_released_and_it_only_grows() -> None:
    def verify(text: str) -> Draft:
        kept = [f"{s.strip()}." for s in text.split(".") if s.strip() and "elephant" not in s]
        return Draft(" ".join(kept), [], abstained=not kept)

    release = SentenceRelease(verify)
    assert release.add("Kim arrived") is None
    assert release.add(" by train. The") == VerifiedText("Kim arrived by train.", [])
    assert release.add(" summit had elephants. It") is None  # the failing sentence is held
    assert release.add(" ended.") is None
    final = release.finish()
    assert final is not None and "elephants" not in final.text and final.text.endswith("ended.")


def test_the_pipeline_shows_sources_first_then_only_verified_sentences(make_settings) -> None:
    settings = make_settings(
        answer_check="rules",
        confidence_judgements=False,
        choice_signal=False,
        answer_claims=False,
        min_relevance=-1.0,
    )
    indexing = Assistant(settings, llm=WordByWord(""))
    indexing.ensure_indexed()
    first = indexing.pipeline.candidates(QUESTION)[0].text
    assistant = Assistant(settings, llm=WordByWord(f"{first} [1] {INVENTED} [1]"))

    stream = assistant.stream(QUESTION)
    events = list(stream.events())
    kinds = [type(e).__name__ if not isinstance(e, str) else "draft" for e in events]
    assert kinds[:2] == ["Progress", "SourcesFound"]
    sources = next(e for e in events if isinstance(e, SourcesFound))
    assert sources.citations and sources.citations[0].quote  # before any draft piece
    assert kinds.index("SourcesFound") < kinds.index("draft")
    steps = [e.step for e in events if isinstance(e, Progress)]
    assert steps == ["searching", "reading", "writing", "checking"]

    verified = [e for e in events if isinstance(e, VerifiedText)]
    assert verified, kinds
    assert all("elephants" not in v.text for v in verified)  # never shown
    assert all(v.citations for v in verified)
    # The first sentence is released while the model is still writing the second.
    first_release = events.index(verified[0])
    assert any(isinstance(e, str) for e in events[first_release + 1 :])
    answer = stream.answer
    assert "elephants" not in answer.text and not answer.abstained
    assert answer.timings["first_verified"] <= answer.timings["total"]


def test_an_answer_records_the_filter_in_force(make_settings, indexed_assistant) -> None:
    from qa.retrieve.filters import ArticleFilter

    answer = indexed_assistant.ask(QUESTION, filters=ArticleFilter.of(since="2019-04-24"))
    assert answer.filters == "since 2019-04-24"
    assert answer.to_json()["filters"] == "since 2019-04-24"
    assert indexed_assistant.ask(QUESTION).filters == ""


def test_a_briefing_streams_the_same_way_and_says_it_is_one(indexed_assistant) -> None:
    from qa.retrieve.filters import ArticleFilter

    stream = indexed_assistant.stream_brief(
        "the Kim-Putin summit", ArticleFilter.of(since="2019-01-01")
    )
    events = [e for e in stream.events() if not isinstance(e, str)]
    assert isinstance(events[1], SourcesFound) and events[1].citations
    assert [e.step for e in events if isinstance(e, Progress)] == [
        "searching",
        "reading",
        "writing",
        "checking",
    ]  # fmt: skip  (the walk of an answer)
    answer = stream.answer
    assert answer.kind == "briefing" and answer.to_json()["kind"] == "briefing"
    assert answer.filters == "since 2019-01-01"


def _stream_of(items: list, final_text: str) -> AnswerStream:
    def steps():
        yield from items
        return Answer(question="q", text=final_text, citations=[], abstained=False)

    return AnswerStream(steps())


def test_a_reader_that_cannot_take_text_back_gets_only_verified_pieces() -> None:
    items = ["draft one", VerifiedText("A [1]."), "draft", VerifiedText("A [1]. B [2].")]
    stream = _stream_of(items, "A [1]. B [2].")
    pieces = verified_pieces(stream)
    assert list(pieces) == ["A [1].", " B [2]."]
    assert stream.answer.text == "A [1]. B [2]."


def test_a_final_answer_that_does_not_continue_the_shown_text_is_a_revision() -> None:
    stream = _stream_of([VerifiedText("A [1].")], "The articles don't say.")
    assert list(verified_pieces(stream)) == ["A [1].", REVISED + "The articles don't say."]
    assert list(verified_pieces(_stream_of([], "Only at the end."))) == ["Only at the end."]
