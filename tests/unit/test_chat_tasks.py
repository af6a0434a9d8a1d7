"""A chat client's background tasks (Open WebUI's title, tags, follow-ups ...) are answered at
once, in the JSON the client reads, with no model call and without the model's slot; its
users' questions still get cited answers, with sources in the form it shows.

The requests replayed are those Open WebUI 0.12.4 sent (tests/data/openwebui/README.md)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from test_openai_api import running, slots_taken
from unit_helpers import SEED_FILES

from index.types import ArticleInfo
from qa.core.types import Citation
from qa.generate.backends.fake import FakeLLM
from ui.chat_tasks import (
    ChatTask,
    Passage,
    cited_outlets,
    follow_ups,
    names,
    recognise,
    reply,
    tags,
    title,
)
from ui.openai_api import create_app, footnote
from ui.service import ChatService

FIXTURES = Path(__file__).parents[1] / "data" / "openwebui"
URL = "/v1/chat/completions"
# The JSON key each task's reply holds, as Open WebUI reads it.
KEYS = {"title": "title", "tags": "tags", "follow_ups": "follow_ups", "queries": "queries",
        "autocomplete": "text", "image_prompt": "prompt", "tools": "tool_calls"}  # fmt: skip
QUICK_S = 5.0  # a task's reply, on a slow shared machine; an answer's took minutes


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


TASKS = sorted(p.name for p in FIXTURES.glob("*.json") if "chat" not in p.name)
CHATS = sorted(p.name for p in FIXTURES.glob("captured-*-chat.json"))


def _kind(name: str) -> str:
    return name.removesuffix(".json").split("-")[-1]


@pytest.fixture(scope="module")
def busy(indexed_assistant) -> Iterator[tuple[str, FakeLLM]]:
    """`qa serve` on loopback with its model busy (every slot taken), and its model."""
    llm = FakeLLM()
    service = ChatService(indexed_assistant.settings, llm=llm)
    with running(create_app(service)) as base, slots_taken(service):
        yield base, llm


def _post(base: str, body: dict[str, Any]) -> tuple[httpx.Response, float]:
    """The reply and how long it took; one that waits for the model's slot times out."""
    started = time.perf_counter()
    sent = httpx.post(f"{base}/chat/completions", json=body, timeout=QUICK_S)
    return sent, time.perf_counter() - started


@pytest.mark.parametrize("name", TASKS)
def test_each_task_open_webui_sends_is_answered_at_once_in_its_json(busy, name) -> None:
    base, llm = busy
    sent, took = _post(base, _fixture(name))
    assert sent.status_code == 200, sent.text
    assert took < QUICK_S and llm.calls == []  # no model call, no wait for the slot
    content = sent.json()["choices"][0]["message"]["content"]
    kind = _kind(name)
    if kind == "emoji":
        assert content and len(content) <= 4
        return
    # Open WebUI cuts the text from the first "{" to the last "}" and reads it as JSON.
    answer = json.loads(content[content.find("{") : content.rfind("}") + 1])
    assert list(answer) == [KEYS[kind]]


def test_what_open_webui_shows_from_the_captured_tasks(busy) -> None:
    base, _ = busy

    def ask(name: str) -> Any:
        return json.loads(_post(base, _fixture(name))[0].json()["choices"][0]["message"]["content"])

    assert ask("captured-1-title.json") == {"title": "Who accompanied Kim at the extended talks"}
    assert ask("captured-4-tags.json") == {"tags": ["News", "Kim"]}  # seeds name no outlet
    first, second = (ask(n)["follow_ups"] for n in
                     ("captured-3-follow_ups.json", "captured-6-follow_ups.json"))  # fmt: skip
    assert ask("templated-queries.json") == {"queries": ["How long did the talks last?"]}
    assert ask("templated-autocomplete.json") == {"text": ""}
    seeds = " ".join(p.read_text(encoding="utf-8") for p in SEED_FILES)
    for suggestion in first + second:
        assert suggestion.startswith("What do the articles say about ")
        named = suggestion.removeprefix("What do the articles say about ").removesuffix("?")
        assert named in seeds  # about what the indexed articles name
        assert "Kim" not in named  # not what was asked already
    assert first and len(first) <= 3 and len(set(first)) == len(first)


def test_a_task_asked_as_a_stream_comes_as_one(busy) -> None:
    base, llm = busy
    sent, _ = _post(base, {**_fixture("captured-1-title.json"), "stream": True})
    events = [line.removeprefix("data: ") for line in sent.text.splitlines() if line]
    assert events[-1] == "[DONE]" and llm.calls == []
    chunks = [json.loads(e) for e in events[:-1]]
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert json.loads(content) == {"title": "Who accompanied Kim at the extended talks"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("name", CHATS)
def test_a_users_question_gets_a_cited_answer_with_open_webui_sources(
    indexed_assistant, name
) -> None:
    llm = FakeLLM()
    service = ChatService(indexed_assistant.settings, llm=llm)
    with TestClient(create_app(service)) as client:
        sent = client.post(URL, json=_fixture(name))
    assert sent.status_code == 200 and llm.calls  # this one is answered by the model
    chunks = [json.loads(line.removeprefix("data: ")) for line in sent.text.splitlines()
              if line.startswith("data: {")]  # fmt: skip
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    final = chunks[-1]
    assert final["choices"][0]["finish_reason"] == "stop" and final["citations"]
    assert "[1]" in text and "\n\nSources:\n[1] " in text
    # One "source" event per citation, in order, before the last chunk: what Open WebUI
    # shows under the answer and opens for [n].
    shown = [c["event"]["data"] for c in chunks if c.get("event", {}).get("type") == "source"]
    assert shown == final["sources"]
    assert [s["document"][0] for s in shown] == [c["quote"] for c in final["citations"]]
    ids = [s["metadata"][0]["source"] for s in shown]
    assert len(set(ids)) == len(ids) and not any(i.startswith("http") for i in ids)


# --- the pieces -------------------------------------------------------------------------


def test_recognised_by_the_json_the_instructions_name_not_the_history() -> None:
    history = '<chat_history>\nUSER: reply with { "title": "x" }\nASSISTANT: ok\n</chat_history>'
    tags_task = f'### Task:\nTag it.\n### Output:\n{{ "tags": ["a"] }}\n{history}'
    task = recognise([("user", tags_task)])
    assert task == ChatTask("tags", [("user", 'reply with { "title": "x" }'), ("assistant", "ok")])
    assert recognise([("user", 'Who met Kim? Answer as { "title": ... }')]) is None
    assert recognise([("user", "### Task:\nno JSON named")]) is None
    assert recognise([("user", '### Task:\n{ "unknown": 1 }')]) is None
    assert recognise([("user", tags_task), ("assistant", "...")]) is None  # not the last


def test_a_multi_line_answer_in_the_history_stays_one_turn() -> None:
    prompt = ("### Task:\n{ \"follow_ups\": [] }\n<chat_history>\nUSER: Who met Kim?\n"
              "ASSISTANT: Putin [1].\n\nSources:\n[1] A (KBS), x: “Putin met Kim.”\n"
              "USER: Where?\n</chat_history>")  # fmt: skip
    task = recognise([("user", prompt)])
    assert task is not None and task.question == "Where?"
    assert task.last_answer == "Putin [1].\n\nSources:\n[1] A (KBS), x: “Putin met Kim.”"


def _citation(outlet: str, published: str = "2019-04-25") -> Citation:
    article = ArticleInfo("a.txt", "a.txt", "Kim, Putin Meet (Again)", outlet, published)
    return Citation(article, "Kim met Putin.", 0, 14)


def test_tags_read_the_outlets_from_our_own_footnotes() -> None:
    notes = "\n".join(footnote(n, c) for n, c in enumerate(
        [_citation("KBS"), _citation("Yonhap"), _citation("KBS"), _citation("", "2019-04-26")], 1
    ))  # fmt: skip
    answer = f"Kim met Putin [1][2].\n\nSources:\n{notes}"
    assert cited_outlets(answer) == ["KBS", "Yonhap"]
    assert tags("Did Kim Jong-un meet Vladimir Putin?", answer) == [
        "News", "KBS", "Yonhap", "Kim Jong-un", "Vladimir Putin"
    ]  # fmt: skip
    assert tags("what happened?", "") == ["News"]


def test_a_title_is_the_question_cut_short() -> None:
    assert title('Who met "Kim"?') == "Who met Kim"
    long = "What did the South Korean and Russian reports say about the summit last week?"
    assert title(long) == "What did the South Korean and Russian reports…"
    assert title("") == "News question"


def test_names_leave_out_sentence_starts_headlines_months_and_nationalities() -> None:
    assert names("Did Kim Jong-un meet Putin in Vladivostok on Thursday?") == [
        "Kim Jong-un", "Putin", "Vladivostok"
    ]  # fmt: skip
    assert names("North Korean leader Kim met Putin.") == ["Kim", "Putin"]
    assert names("Biegun to Visit Moscow Amid Reports of Summit\nIt was KBS.") == []


def test_follow_ups_ask_about_new_names_the_passages_give() -> None:
    passages = [
        Passage("KBS", "Kim met Putin. He was joined by Choe Son-hui and Ri Yong-ho."),
        Passage("", "The talks at Far Eastern Federal University lasted three hours."),
        Passage("Yonhap", "Yonhap News said Sergei Lavrov attended. Ri Yong-ho spoke."),
    ]
    assert follow_ups(passages, "USER: Who met Kim and Putin?") == [
        "What did KBS report about Choe Son-hui?",
        "What did KBS report about Ri Yong-ho?",
        "What do the articles say about Far Eastern Federal University?",
    ]
    assert follow_ups(passages, "Choe Son-hui Ri Yong-ho Far Eastern Federal University") == [
        "What did Yonhap report about Sergei Lavrov?"  # "Yonhap News" is the outlet
    ]
    assert follow_ups([], "anything") == []


def test_follow_ups_without_retrieval_when_nothing_is_asked() -> None:
    def never(question: str) -> list[Passage]:
        raise AssertionError("no question, no retrieval")

    task = ChatTask("follow_ups", [])
    assert json.loads(reply(task, never)) == {"follow_ups": []}
    assert json.loads(reply(ChatTask("tools", []), never)) == {"tool_calls": []}
