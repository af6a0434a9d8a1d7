"""The same indexing and retrieval against a real `chroma run` server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from processes import free_port, start_chroma, stop

from index.storing.store import StoreError
from qa import ArticleFilter, Assistant, Settings
from qa.core.settings import SEEDS_DIR

pytestmark = pytest.mark.integration


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    proc = start_chroma(tmp_path / "server", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def test_index_and_answer_through_a_chroma_server(chroma_server: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, chroma_url=chroma_server, llm_backend="fake")
    assistant = Assistant(settings)
    report = assistant.index([SEEDS_DIR])
    assert len(report.added) == 5 and report.chunks_embedded > 0
    again = assistant.index([SEEDS_DIR])
    assert again.chunks_embedded == 0 and len(again.unchanged) == 5

    answer = assistant.ask("Who accompanied Kim at the extended talks?")
    assert not answer.abstained
    assert answer.citations[0].source == "004_dfd909dab3a5d0b8.txt"
    assert "Ri Yong-ho" in answer.citations[0].quote
    # Nothing was written to the local on-disk store.
    assert not (tmp_path / "chroma").exists()

    # Filters travel to the server as a `where` clause: the real embedder, the server's
    # filtered search, and every hit passes.
    search = assistant.retriever.search
    since = ArticleFilter.of(since="2019-04-24")
    hits = search.retrieve("Who accompanied Kim at the extended talks?", 5, filters=since)
    assert len(hits) == 5 and all(h.chunk.published[:10] >= "2019-04-24" for h in hits)
    assert hits[0].chunk.source == "004_dfd909dab3a5d0b8.txt"
    kbs = assistant.ask(
        "Who accompanied Kim at the extended talks?", filters=ArticleFilter.of(outlets=["kbs"])
    )
    assert {r.source for r in kbs.retrieved} == {"000_86efe34d87499970.txt"}


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StoreError, match="cannot reach the Chroma server"):
        Assistant(settings).store  # noqa: B018
