"""Plain helpers shared by the unit tests (importable because tests/unit has no __init__.py)."""

from __future__ import annotations

from pathlib import Path

from qa.core.interfaces import StreamingBackend

# The `qa ask --json` shape (Answer.to_json), as the README documents it.
ANSWER_JSON_KEYS = {
    "question",
    "filters",
    "kind",
    "answer",
    "abstained",
    "citations",
    "retrieved",
    "latency_s",
    "ttft_s",
    "confidence",
    "decision",
    "settings_hash",
    "model",
}
SEEDS = Path(__file__).resolve().parents[2] / "seeds"
SEED_FILES = sorted(SEEDS.glob("*.txt"))


def seed(prefix: str) -> Path:
    """The seed file whose name starts with `prefix` ("000", "004" ...)."""
    (match,) = [p for p in SEED_FILES if p.name.startswith(prefix)]
    return match


class StreamingFake(StreamingBackend):
    """Base for test fakes of the LLM interface (qa.core.interfaces.LLM): a subclass writes
    `stream_chat`; `complete_chat` joins it, `close` releases nothing."""

    name = "fake"
