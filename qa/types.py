"""What the answering path returns: answers, citations, timings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Citation:
    """A passage that supports part of an answer, with exact offsets into its article."""

    source: str  # file name
    title: str
    published: str
    quote: str  # equals the article text at [start, end)
    start: int
    end: int
    outlet: str = ""
    path: str = ""
    support: float = 0.0  # how well the quote supports the cited sentence (qa/support.py)
    author: str = ""  # the reporter, when the article names one


@dataclass(frozen=True)
class RetrievedSource:
    source: str
    score: float


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Citation]
    abstained: bool
    retrieved: list[RetrievedSource] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds: ttft, total, retrieve ...
    standalone_question: str = ""  # the follow-up rewritten for retrieval
    raw_text: str = ""  # what the model wrote, before verification
    unsupported: list[str] = field(default_factory=list)  # sentences removed as unsupported
    settings_hash: str = ""
    model: str = ""

    def to_json(self) -> dict[str, Any]:
        """The `qa ask --json` shape."""
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [
                {
                    k: v
                    for k, v in asdict(c).items()
                    if k in ("source", "title", "published", "quote", "start", "end")
                }
                for c in self.citations
            ],  # fmt: skip
            "retrieved": [{"source": r.source, "score": round(r.score, 4)} for r in self.retrieved],
            "latency_s": round(self.timings.get("total", 0.0), 3),
            "ttft_s": round(self.timings["ttft"], 3) if "ttft" in self.timings else None,
        }
