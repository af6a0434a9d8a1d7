"""The same indexing and retrieval against a real `chroma run` server on loopback."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from processes import free_port, stop

from index.store import StoreError
from qa import Assistant, Settings
from qa.settings import SEEDS_DIR

pytestmark = pytest.mark.integration


def _chroma_executable() -> str:
    exe = Path(sys.executable).parent / "chroma"
    return str(exe) if exe.exists() else (shutil.which("chroma") or "chroma")


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [_chroma_executable(), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("chroma server did not start within 60 s")
        yield url
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


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StoreError, match="cannot reach the Chroma server"):
        Assistant(settings).store  # noqa: B018
