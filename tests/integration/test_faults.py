"""Faults around the chatbot, with real servers on loopback that the tests start and stop.

- the LLM: a real llama.cpp server (the model process, qa/runtime/llm_process.py, with the packaged
  0.5B model) behind a fault-injecting proxy (fault_proxy.py) that can be stopped, slowed,
  made to answer errors or garbage, or to drop an answer halfway;
- the store: a real `chroma run` server, stopped, stalled (SIGSTOP) and restarted mid-session
  and mid-index;
- the model file: damaged or missing.

Each fault must give a clear UserError (or a bounded retry that succeeds) and the chatbot
must answer again once the fault ends, without rebuilding anything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from processes import free_port, start, start_chroma, stop

from index.storing.store import ChunkStore, StoreError
from qa import Assistant, Settings
from qa.core.errors import UserError
from qa.core.settings import SEEDS_DIR
from qa.generate.llm import LLMError
from qa.runtime.model_files import ModelFileError, resolve_model_path

pytestmark = pytest.mark.integration

KIM = "Who accompanied Kim at the extended talks?"
HERE = Path(__file__).parent


# --- the LLM server ------------------------------------------------------------------------
class LLMServer:
    """A real llama.cpp server and the fault proxy in front of it."""

    def __init__(self, home: Path) -> None:
        model = resolve_model_path("qwen2.5-coder-0.5b", home)
        self.llm_port, self.proxy_port = free_port(), free_port()
        command = [sys.executable, "-m", "qa.runtime.llm_process", "--model", str(model),
                   "--port", str(self.llm_port), "--n-ctx", "2048",
                   "--threads", str(os.cpu_count() or 2)]  # fmt: skip
        self.llm = start(command, f"http://127.0.0.1:{self.llm_port}/health", timeout_s=180)
        self.proxy = self.start_proxy()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    def start_proxy(self) -> subprocess.Popen:
        command = [sys.executable, str(HERE / "fault_proxy.py"), str(self.proxy_port),
                   f"http://127.0.0.1:{self.llm_port}"]  # fmt: skip
        return start(command, f"{self.url}/health", timeout_s=30)

    def fault(self, mode: str, **params: object) -> None:
        httpx.post(f"{self.url}/_fault", json={"mode": mode, **params}, timeout=5)

    def stats(self) -> dict:
        return httpx.get(f"{self.url}/_stats", timeout=5).json()

    def close(self) -> None:
        stop(self.proxy)
        stop(self.llm)


@pytest.fixture(scope="module")
def llm_server(qa_home: Path) -> Iterator[LLMServer]:
    server = LLMServer(qa_home)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def remote_llm_assistant(qa_home: Path, llm_server: LLMServer, real_assistant: Assistant):
    """Seeds index and embedder of the shared assistant; answers from the LLM server."""
    settings = Settings(
        home=qa_home, collection="seeds-it", llm_backend="openai",
        openai_base_url=f"{llm_server.url}/v1", llm_model="qwen", request_timeout_s=60,
        # One answer is one request: the retry counts below read them (the confidence
        # judgements and the answer check's Yes/No are requests of their own).
        choice_signal=False, confidence_judgements=False, answer_check="off",
    )  # fmt: skip
    return Assistant(settings, embedder=real_assistant.embedder)


@pytest.fixture(autouse=True)
def _clear_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "llm_server" in request.fixturenames:
        request.getfixturevalue("llm_server").fault("pass")


def _assert_answers(assistant: Assistant) -> None:
    answer = assistant.ask(KIM)
    assert not answer.abstained, answer.raw_text
    assert "Ri Yong-ho" in answer.text
    assert {c.source for c in answer.citations} == {"004_dfd909dab3a5d0b8.txt"}


def test_answers_through_a_real_llm_server(remote_llm_assistant, llm_server) -> None:
    before = llm_server.stats()["requests"]
    _assert_answers(remote_llm_assistant)
    assert llm_server.stats()["requests"] == before + 1


def test_overloaded_server_is_retried_a_bounded_number_of_times(
    remote_llm_assistant, llm_server
) -> None:
    llm_server.fault("status", status=503, times=2)
    before = llm_server.stats()
    _assert_answers(remote_llm_assistant)  # two 503s, then the third try answers
    after = llm_server.stats()
    assert after["faulted"] - before["faulted"] == 2
    assert after["requests"] - before["requests"] == 3

    llm_server.fault("status", status=503, times=-1)
    with pytest.raises(LLMError, match="HTTP 503"):
        remote_llm_assistant.ask(KIM)
    assert llm_server.stats()["requests"] - after["requests"] == 3  # 1 try + 2 retries, no more
    llm_server.fault("pass")
    _assert_answers(remote_llm_assistant)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"mode": "status", "status": 500}, "answered HTTP 500"),
        ({"mode": "garbage"}, "not a chat completion"),
        ({"mode": "cut"}, "broke off its answer"),
    ],
)
def test_errors_and_garbage_are_clear_and_the_next_question_works(
    remote_llm_assistant, llm_server, fault: dict, message: str
) -> None:
    llm_server.fault(**fault, times=-1)
    with pytest.raises(LLMError, match=message):
        remote_llm_assistant.ask(KIM)
    llm_server.fault("pass")
    _assert_answers(remote_llm_assistant)


def test_slow_server_times_out_with_a_limit_then_recovers(
    remote_llm_assistant, llm_server, qa_home: Path
) -> None:
    impatient = Assistant(
        remote_llm_assistant.settings.model_copy(update={"request_timeout_s": 1.5}),
        embedder=remote_llm_assistant.embedder,
    )
    llm_server.fault("slow", delay_s=4, times=-1)
    started = time.perf_counter()
    with pytest.raises(LLMError, match=r"did not answer within 1\.5 s"):
        impatient.ask(KIM)
    # 3 tries of 1.5 s and two short pauses: the wait is bounded.
    assert time.perf_counter() - started < 3 * 1.5 + 1.5 + 5
    llm_server.fault("pass")
    _assert_answers(remote_llm_assistant)


def test_server_down_is_a_clear_error_and_coming_back_is_noticed(
    remote_llm_assistant, llm_server
) -> None:
    stop(llm_server.proxy)
    with pytest.raises(LLMError, match="cannot reach the LLM server"):
        remote_llm_assistant.ask(KIM)
    llm_server.proxy = llm_server.start_proxy()
    _assert_answers(remote_llm_assistant)


def test_cli_reports_a_down_llm_server_in_one_line(qa_home: Path, real_assistant) -> None:
    env = {**os.environ, "QA_HOME": str(qa_home), "QA_COLLECTION": "seeds-it",
           "QA_LLM_BACKEND": "openai",
           "QA_OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1"}  # fmt: skip
    qa = Path(sys.executable).parent / "qa"
    proc = subprocess.run([str(qa), "ask", KIM], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "cannot reach the LLM server" in lines[0]


# --- the model file ------------------------------------------------------------------------
def test_damaged_model_file_is_a_clear_error(tmp_path: Path) -> None:
    damaged = tmp_path / "mine.gguf"
    damaged.write_bytes(b"GGUF" + os.urandom(4096))
    assistant = Assistant(Settings(home=tmp_path, llm_model=str(damaged), embedder="hash"))
    with pytest.raises(LLMError, match="could not load the model file") as caught:
        assistant.llm  # noqa: B018
    assert "qa doctor" in str(caught.value) and "Traceback" not in str(caught.value)


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="unknown model"):
        resolve_model_path(str(tmp_path / "gone.gguf"), tmp_path)


# --- the Chroma server ---------------------------------------------------------------------
@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[dict]:
    server = {"port": free_port(), "path": tmp_path / "chroma-server"}
    server["proc"] = start_chroma(server["path"], server["port"])
    server["url"] = f"http://127.0.0.1:{server['port']}"
    try:
        yield server
    finally:
        stop(server["proc"])


def _chroma_assistant(server: dict, home: Path, collection: str = "seeds", **kw) -> Assistant:
    # The store is what is under test here, so answers come from the fake LLM.
    settings = Settings(home=home, chroma_url=server["url"], collection=collection,
                        llm_backend="fake", **kw)  # fmt: skip
    return Assistant(settings)


def test_chroma_server_down_then_restarted_mid_session(chroma: dict, tmp_path: Path) -> None:
    assistant = _chroma_assistant(chroma, tmp_path)
    assistant.index([SEEDS_DIR])
    first = assistant.ask(KIM)
    assert not first.abstained

    chroma["proc"].kill()
    chroma["proc"].wait()
    with pytest.raises(StoreError, match="Chroma server failed while") as info:
        assistant.ask(KIM)
    assert "is the server running" in str(info.value)

    chroma["proc"] = start_chroma(chroma["path"], chroma["port"])
    again = assistant.ask(KIM)  # same Assistant, same client: no rebuild
    assert again.text == first.text and again.citations == first.citations
    assert assistant.index([SEEDS_DIR]).chunks_embedded == 0


def test_stalled_chroma_server_is_waited_for(chroma: dict, tmp_path: Path) -> None:
    assistant = _chroma_assistant(chroma, tmp_path)
    assistant.index([SEEDS_DIR])
    expected = assistant.ask(KIM).text
    os.kill(chroma["proc"].pid, signal.SIGSTOP)
    resume = threading.Timer(2.0, os.kill, (chroma["proc"].pid, signal.SIGCONT))
    resume.start()
    try:
        assert assistant.ask(KIM).text == expected
    finally:
        resume.join()


def test_chroma_server_killed_mid_index_then_rerun_gives_a_clean_store(
    chroma: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = _chroma_assistant(chroma, tmp_path, collection="clean", embedder="hash")
    clean.index([SEEDS_DIR])
    expected = sorted(c.id for c in clean.store.iter_chunks())

    victim = _chroma_assistant(
        chroma, tmp_path, collection="victim", embedder="hash", embed_batch_size=1
    )
    real_add = ChunkStore.add_chunks
    calls = {"n": 0}

    def add_then_crash_the_server(store: ChunkStore, chunks, vectors) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # partway through the seeds
            chroma["proc"].kill()
            chroma["proc"].wait()
        real_add(store, chunks, vectors)

    monkeypatch.setattr(ChunkStore, "add_chunks", add_then_crash_the_server)
    with pytest.raises(UserError, match="Chroma server"):
        victim.index([SEEDS_DIR])
    monkeypatch.setattr(ChunkStore, "add_chunks", real_add)

    chroma["proc"] = start_chroma(chroma["path"], chroma["port"])
    report = victim.index([SEEDS_DIR])
    assert report.added or report.updated
    assert sorted(c.id for c in victim.store.iter_chunks()) == expected
    assert len(victim.documents()) == 5
