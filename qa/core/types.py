"""The types that flow through the answering path.

    Hit (retrieve/) -> Evidence (evidence/) -> Draft (generate/, verify/) -> Answer

`Evidence` is the one sentence-level type from retrieval to citation: it carries its
article's fields once (`ArticleInfo`); llama-index nodes are made from it only at the
llama-index boundary (qa/evidence/postprocessor.py, qa/engines.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from index.types import ArticleFields, ArticleInfo, Span


@dataclass
class Evidence:
    """A sentence the model may read and an answer may cite."""

    article: ArticleInfo
    span: Span  # offsets into the article
    text: str  # equals the article's text at [span.start, span.end)
    relevance: float  # question-sentence cosine (the abstention gate reads it)
    score: float  # ranking score
    vector: np.ndarray
    chunk_id: str = ""  # the retrieved chunk it was read from
    # The sentence before it in its article, where the chunk holds it: what "He said ..." or
    # "Their meeting ..." refers to (a claim's names the question gives may be stated there).
    before: str = ""

    @property
    def key(self) -> tuple[str, int]:
        """Where the sentence is: the same sentence reached twice has one key."""
        return (self.article.path, self.span.start)


@dataclass(frozen=True)
class Citation(ArticleFields):
    """A passage that supports part of an answer, with exact offsets into its article."""

    article: ArticleInfo
    quote: str  # equals the article text at [start, end)
    start: int
    end: int
    support: float = 0.0  # how well the quote supports the cited sentence (qa/verify/support.py)
    also_in: tuple[str, ...] = ()  # other outlets that carried the same text

    @classmethod
    def of(cls, evidence: Evidence, support: float) -> Citation:
        return cls(evidence.article, evidence.text, evidence.span.start, evidence.span.end,
                   support=round(support, 3))  # fmt: skip

    def fields(self) -> dict[str, Any]:
        """Every field, flat, in the order its JSON has always had (the group, kept for
        bookkeeping, is not for readers)."""
        a = self.article
        return {"source": a.source, "title": a.title, "published": a.published,
                "quote": self.quote, "start": self.start, "end": self.end, "outlet": a.outlet,
                "path": a.path, "support": self.support, "author": a.author, "url": a.url,
                "group": a.group, "also_in": self.also_in}  # fmt: skip

    @classmethod
    def from_fields(cls, data: dict[str, Any]) -> Citation:
        """A citation back from its flat fields; a TypeError names what is missing."""
        missing = [k for k in ("source", "title", "published", "quote", "start", "end")
                   if k not in data]  # fmt: skip
        if missing:
            raise TypeError(f"a citation needs {', '.join(missing)}")
        return cls(ArticleInfo.from_metadata(data), data["quote"], data["start"], data["end"],
                   support=data.get("support", 0.0),
                   also_in=tuple(data.get("also_in") or ()))  # fmt: skip


@dataclass(frozen=True)
class RetrievedSource:
    source: str
    score: float


@dataclass(frozen=True)
class Draft:
    """An answer on its way through verification: every step takes one and returns one.

    `abstained` with a `reason` is how a step says "abstain, because ..."; the pipeline
    turns the last draft into the `Answer` in one place."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    unsupported: list[str] = field(default_factory=list)  # sentences removed as unsupported
    reason: str = ""  # why it abstained, or which step rewrote it

    def but(self, **changes: Any) -> Draft:
        return replace(self, **changes)


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
    decision: str = ""  # which step decided the answer, and why it abstained if it did
    confidence: float | None = None  # calibrated P(right) of the draft answer, when known
    signals: dict[str, float] = field(default_factory=dict)  # what confidence was read from
    withheld: str = ""  # the draft answer the confidence decision held back
    held: dict[str, Any] = field(default_factory=dict)  # a draft a rule step held back
    filters: str = ""  # the filter in force, as a person reads it ("since 2019-04-24, ...")
    kind: str = "answer"  # or "briefing"

    def to_json(self) -> dict[str, Any]:
        """The `qa ask --json` shape."""
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [
                {
                    k: list(v) if isinstance(v, tuple) else v
                    for k, v in c.fields().items()
                    if k in ("source", "title", "published", "quote", "start", "end")
                    or (k in ("outlet", "url", "also_in") and v)
                }
                for c in self.citations
            ],  # fmt: skip
            "retrieved": [{"source": r.source, "score": round(r.score, 4)} for r in self.retrieved],
            "latency_s": round(self.timings.get("total", 0.0), 3),
            "ttft_s": round(self.timings["ttft"], 3) if "ttft" in self.timings else None,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "decision": self.decision,
            "settings_hash": self.settings_hash,
            "model": self.model,
            "filters": self.filters,
            "kind": self.kind,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answer:
        """An answer back from its `to_json` shape (what the page's API hands out), enough
        to record feedback on it or write it out."""
        return cls(
            question=str(data.get("question") or ""),
            text=str(data.get("answer") or ""),
            citations=[Citation.from_fields(c) for c in data.get("citations") or []],
            abstained=bool(data.get("abstained")),
            settings_hash=str(data.get("settings_hash") or ""),
            model=str(data.get("model") or ""),
            decision=str(data.get("decision") or ""),
            filters=str(data.get("filters") or ""),
            kind=str(data.get("kind") or "answer"),
        )
