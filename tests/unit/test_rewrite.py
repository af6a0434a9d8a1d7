"""Follow-up detection and stand-alone question rewriting."""

from __future__ import annotations

import pytest
from unit_helpers import StreamingFake

from qa.core.text import as_data
from qa.generate.llm import FakeLLM
from qa.understand.rewrite import looks_like_follow_up, standalone_question

HISTORY = [("Who accompanied Kim at the extended talks?", "Ri Yong-ho and Choe Son-hui. [1]")]


class Scripted(StreamingFake):
    """An LLM that writes a fixed reply and records its prompts."""

    name = "scripted"

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.calls: list[list[dict[str, str]]] = []

    def stream_chat(self, messages, max_tokens, stop, grammar=""):
        self.calls.append(messages)
        yield from self.reply


@pytest.mark.parametrize(
    "question",
    [
        "And who joined Putin?",
        "what about Biegun?",
        "How about the banquet?",
        "Where did they meet?",
        "When did he arrive?",
        "What did the two discuss?",
        "Was it in Vladivostok?",
    ],
)
def test_follow_ups_are_recognised(question: str) -> None:
    assert looks_like_follow_up(question)


@pytest.mark.parametrize(
    "question",
    [
        "Who accompanied Kim at the extended talks?",
        "When will Biegun meet Russian officials?",
        "Where did Kim and Putin meet?",
        "Android news?",  # 'and' only as a whole word
    ],
)
def test_stand_alone_questions_are_not_follow_ups(question: str) -> None:
    assert not looks_like_follow_up(question)


def test_no_history_or_no_follow_up_means_no_llm_call() -> None:
    llm = Scripted("SHOULD NOT BE USED")
    assert standalone_question("And who joined Putin?", [], llm) == "And who joined Putin?"
    assert standalone_question("Where did Kim meet Putin?", HISTORY, llm) == (
        "Where did Kim meet Putin?"
    )
    assert llm.calls == []


def test_fake_llm_rewrite_is_used_and_sees_the_conversation() -> None:
    llm = FakeLLM()
    assert standalone_question("And who joined Putin?", HISTORY, llm) == "And who joined Putin?"
    (messages,) = llm.calls
    prompt = messages[-1]["content"]
    # Our own "[1]" markers in earlier answers do not reach the model.
    assert HISTORY[0][0] in prompt and as_data(HISTORY[0][1]) in prompt
    assert "Follow-up question: And who joined Putin?" in prompt


def test_a_good_rewrite_is_cleaned_and_returned() -> None:
    llm = Scripted('  "Who joined Putin at the extended talks?"  \n')
    assert standalone_question("And who joined Putin?", HISTORY, llm) == (
        "Who joined Putin at the extended talks?"
    )


@pytest.mark.parametrize(
    "garbage",
    ["", "?", "NOT IN ARTICLES", "not in the articles", "blah " * 200],
    ids=["empty", "tiny", "refusal", "refusal-lower", "rambling"],
)
def test_garbage_rewrite_falls_back_to_previous_question_plus_follow_up(garbage: str) -> None:
    result = standalone_question("And who joined Putin?", HISTORY, Scripted(garbage))
    assert result == f"{HISTORY[0][0]} And who joined Putin?"


def test_fallback_uses_the_latest_turn() -> None:
    history = [("First question?", "a"), ("Second question about Kim?", "b")]
    assert standalone_question("And then?", history, Scripted("")) == (
        "Second question about Kim? And then?"
    )
