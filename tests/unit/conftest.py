"""Shared fixtures for the fast unit suite.

Everything here is hermetic: no QA_* variable from the caller's shell leaks in, every store
lives in a temporary folder, the embedder is the hashing one and the LLM is the fake one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from unit_helpers import SEED_FILES

from index.chunking.chunks import chunk_article
from index.embedding.embedders import HashEmbedder
from index.reading.loaders import load_article
from index.types import Chunk
from qa.core.types import Evidence

# No example database on disk, no wall-clock deadlines (CI machines are slow and shared).
settings.register_profile(
    "unit",
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("unit")


def _clear_qa_env(mp: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("QA_") or name == "OPENAI_API_KEY":
            mp.delenv(name, raising=False)


@pytest.fixture(scope="session", autouse=True)
def _session_env() -> Iterator[None]:
    """Session-scoped fixtures build Settings too: clear QA_* for the whole run."""
    mp = pytest.MonkeyPatch()
    _clear_qa_env(mp)
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("TRANSFORMERS_OFFLINE", "1")
    mp.setenv("ANONYMIZED_TELEMETRY", "False")
    yield
    mp.undo()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without QA_* variables (a test may set its own with monkeypatch)."""
    _clear_qa_env(monkeypatch)


@pytest.fixture
def make_settings(tmp_path: Path):
    """Settings with the fakes and a private home; keyword overrides win."""
    from qa.core.settings import Settings

    def make(**overrides):
        values = {"home": tmp_path / "home", "embedder": "hash", "llm_backend": "fake"}
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A private copy of the seed articles that a test may modify."""
    folder = tmp_path / "articles"
    folder.mkdir()
    for path in SEED_FILES:
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture(scope="session")
def indexed_assistant(tmp_path_factory: pytest.TempPathFactory):
    """One read-only Assistant over the seeds (hash embedder, fake LLM), shared by tests.

    Tests that use it must not index or change it; they may replace nothing but `_llm`."""
    from qa.assistant import Assistant
    from qa.core.settings import Settings

    home = tmp_path_factory.mktemp("shared_home")
    folder = tmp_path_factory.mktemp("shared_seeds")
    for path in SEED_FILES:
        shutil.copy(path, folder / path.name)
    assistant = Assistant(
        Settings(home=home, embedder="hash", llm_backend="fake", min_relevance=-1.0)
    )
    report = assistant.index([folder])
    assert len(report.added) == len(SEED_FILES)
    return assistant


@pytest.fixture(scope="session")
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture(scope="session")
def seed_chunks() -> dict[str, list[Chunk]]:
    """Chunks of every seed, keyed by the three-digit prefix."""
    return {p.name[:3]: chunk_article(load_article(p)) for p in SEED_FILES}


@pytest.fixture(scope="session")
def make_evidence(seed_chunks, hash_embedder):
    """Evidence for the seed sentence that contains `needle` (exact offsets, real vector,
    the sentence before it in its chunk)."""

    def make(prefix: str, needle: str, relevance: float = 0.5) -> Evidence:
        for chunk in seed_chunks[prefix]:
            before = ""
            for span, text in zip(chunk.sentences, chunk.sentence_texts, strict=True):
                if needle in text:
                    vector = hash_embedder.embed([text])[0]
                    return Evidence(
                        chunk.article, span, text, relevance, relevance, vector, chunk.id, before
                    )
                before = text
        raise AssertionError(f"no sentence with {needle!r} in seed {prefix}")

    return make
