"""Integration fixtures: the real embedder, real Chroma on disk, the real default local LLM.

Models load once per test session; each test gets its own collection so tests stay
independent without paying for model loads again."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from qa import Assistant, Settings
from qa.settings import SEEDS_DIR


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
