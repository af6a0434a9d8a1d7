"""Two answers at once from the real local model: with llm_parallel=2 the llama.cpp process
decodes both slots together, so the pieces of two answers arrive interleaved, and both are
still right. With one slot (the default) the second answer starts only after the first."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa import Assistant, Settings

pytestmark = pytest.mark.integration

QUESTIONS = [
    ("Who accompanied Kim at the extended talks?", r"Ri Yong-ho"),
    ("Where did Kim and Putin meet?", r"Vladivostok|Russky"),
]


@pytest.fixture(scope="module", params=[1, 2], ids=["1-slot", "2-slots"])
def slots(request, qa_home: Path, real_assistant: Assistant) -> Iterator[Assistant]:
    """The shared seeds index, answered by its own model process with `param` slots."""
    settings = Settings(home=qa_home, collection="seeds-it", llm_parallel=request.param)
    own = Assistant(settings, embedder=real_assistant.embedder)
    own.llm  # noqa: B018 - start the model process before the answers race
    yield own
    own.llm.close()  # type: ignore[attr-defined]


def test_answers_stream_together_only_with_two_slots(slots: Assistant) -> None:
    arrivals: list[int] = []  # which answer each streamed piece belongs to, in arrival order
    texts: dict[int, str] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()
    go = threading.Barrier(len(QUESTIONS))

    def ask(number: int, question: str) -> None:
        try:
            stream = slots.stream(question)
            go.wait(60)
            for _piece in stream:
                with lock:
                    arrivals.append(number)
            texts[number] = stream.answer.text
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(n, q)) for n, (q, _) in enumerate(QUESTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert errors == []
    for number, (_, expected) in enumerate(QUESTIONS):
        assert re.search(expected, texts[number]), texts[number]

    spans = [
        (arrivals.index(n), len(arrivals) - 1 - arrivals[::-1].index(n))
        for n in range(len(QUESTIONS))
    ]
    (first_a, last_a), (first_b, last_b) = spans
    together = first_a < last_b and first_b < last_a
    switches = sum(1 for x, y in zip(arrivals, arrivals[1:], strict=False) if x != y)
    if slots.settings.runtime.llm_parallel == 1:
        assert not together and switches == 1, arrivals  # one after the other
    else:
        assert together and switches >= 3, arrivals  # pieces of both, back and forth
