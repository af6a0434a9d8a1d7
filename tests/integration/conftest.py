"""Integration fixtures: the real embedder, real Chroma on disk, the real default local LLM.

Models load once per test session; each test gets its own collection so tests stay
independent without paying for model loads again."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from processes import free_port, stop

from qa import Assistant, Settings
from qa.core.settings import SEEDS_DIR
from qa.runtime.health import HealthTimeout, ProcessExited, wait_until_healthy


@pytest.fixture(scope="session")
def qa_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("qa_home")


@pytest.fixture(scope="session")
def real_assistant(qa_home: Path) -> Assistant:
    """Default settings (MiniLM, on-disk Chroma, packaged Qwen GGUF), seeds indexed."""
    assistant = Assistant(Settings(home=qa_home, collection="seeds-it"))
    assistant.index([SEEDS_DIR])
    return assistant


@pytest.fixture
def fresh_collection() -> str:
    return f"it-{uuid.uuid4().hex[:10]}"


@dataclass
class UIServer:
    url: str
    pid: int
    home: Path


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UIServer]:
    """`qa ui` on a free loopback port with the embedded defaults (seeds indexed on start)."""
    home = tmp_path_factory.mktemp("ui_home")
    port = free_port()
    log = (home / "ui.log").open("w")
    # The page's feed test serves its feed on loopback: it opts in to local addresses.
    env = {**os.environ, "QA_HOME": str(home), "GRADIO_ANALYTICS_ENABLED": "False",
           "QA_ALLOW_PRIVATE_ADDRESSES": "1"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "ui", "--port", str(port), "--no-browser"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        try:
            wait_until_healthy(url, timeout_s=240, process=proc, interval_s=0.5)
        except ProcessExited:
            pytest.fail(f"qa ui exited: {(home / 'ui.log').read_text()[-2000:]}")
        except HealthTimeout:
            pytest.fail("qa ui did not answer within 240 s")
        yield UIServer(url, proc.pid, home)
    finally:
        stop(proc)
        log.close()
