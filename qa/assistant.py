"""The public entry point: index articles, ask questions, stream answers."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import Path

from index.embedding import Embedder, make_embedder
from index.errors import UserError
from index.indexer import IndexReport, index_paths
from index.locking import collection_lock
from index.store import ChunkStore, FileRecord, open_client
from qa.citing import verify_reply
from qa.evidence import select_evidence
from qa.llm import LLM, make_llm
from qa.prompts import answer_messages
from qa.retrieval import HybridRetriever
from qa.rewrite import standalone_question
from qa.settings import Settings
from qa.types import Answer, RetrievedSource

ABSTAIN_TEXT = "The indexed articles don't say: nothing in them answers this question."


class InputError(UserError):
    """The question itself cannot be used (empty, too long ...)."""


def clean_question(question: str, max_chars: int) -> str:
    """Control characters out, whitespace collapsed; empty and huge questions refused."""
    if not isinstance(question, str):
        raise InputError("the question must be text")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in question)
    text = " ".join(text.split())
    if not text:
        raise InputError("the question is empty; type a question about the articles")
    if len(text) > max_chars:
        raise InputError(
            f"the question is {len(text)} characters long; the limit is {max_chars} "
            "(QA_MAX_QUESTION_CHARS)"
        )
    return text


class Assistant:
    """Question answering over one collection of articles.

    Models load lazily and stay warm; every answer carries the settings hash."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        llm: LLM | object | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._llm = _own_llm(llm)
        self._embedder = embedder
        self._store: ChunkStore | None = None
        self._retriever: HybridRetriever | None = None

    # --- lazily built parts -----------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = make_embedder(self.settings.embedder, self.settings.embed_batch_size)
        return self._embedder

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            self._llm = make_llm(self.settings)
        return self._llm

    @property
    def store(self) -> ChunkStore:
        if self._store is None:
            client = open_client(self.settings.home, self.settings.chroma_url)
            self._store = ChunkStore(
                client, self.settings.collection, self.embedder.name, self.embedder.dimension
            )
        return self._store

    @property
    def retriever(self) -> HybridRetriever:
        if self._retriever is None:
            s = self.settings
            self._retriever = HybridRetriever(
                self.store, self.embedder, hybrid=s.hybrid, candidates=s.candidates, rrf_k=s.rrf_k
            )
        return self._retriever

    # --- indexing ---------------------------------------------------------------------------
    def index(self, paths: Sequence[str | Path], progress: bool = False) -> IndexReport:
        s = self.settings
        with collection_lock(s.home, s.collection):
            report = index_paths(
                paths,
                self.store,
                self.embedder,
                chunk_words=s.chunk_words,
                overlap=s.chunk_overlap_sentences,
                max_file_mb=s.max_file_mb,
                batch_size=s.embed_batch_size,
                progress=progress,
            )
        self.retriever.invalidate()
        return report

    def ensure_indexed(self, progress: bool = False) -> IndexReport | None:
        """Index the default corpus when the collection is empty (first run)."""
        if self.store.count() > 0:
            return None
        return self.index([self.settings.default_corpus], progress=progress)

    def documents(self) -> list[FileRecord]:
        return sorted(self.store.file_records().values(), key=lambda r: r.source)

    # --- answering --------------------------------------------------------------------------
    def ask(self, question: str, history: Sequence[tuple[str, str]] = ()) -> Answer:
        answer = None
        for event in self.stream(question, history):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return answer

    def stream(
        self, question: str, history: Sequence[tuple[str, str]] = ()
    ) -> Iterator[str | Answer]:
        """Yield the reply's text pieces as the model writes them, then the verified Answer."""
        s = self.settings
        t0 = time.perf_counter()
        question = clean_question(question, s.max_question_chars)
        timings: dict[str, float] = {}

        query = search = question
        if s.rewrite_followups and history:
            query = standalone_question(question, list(history), self.llm)
            timings["rewrite"] = time.perf_counter() - t0
            if query != question:
                # A small model's rewrite can drop context ("at the extended talks"); the
                # previous question keeps retrieval near the passages the talk is about.
                search = f"{query} {history[-1][0]}"

        t_retrieve = time.perf_counter()
        qvec = self.embedder.embed([query])[0]
        svec = qvec if search == query else self.embedder.embed([search])[0]
        hits = self.retriever.retrieve(search, s.top_k, query_vector=svec)
        evidence = select_evidence(query, qvec, hits, self.embedder, s.evidence_sentences)
        timings["retrieve"] = time.perf_counter() - t_retrieve
        retrieved = _retrieved_sources(hits)

        def finish(text: str, citations: list, abstained: bool, raw: str = "",
                   unsupported: list[str] | None = None) -> Answer:  # fmt: skip
            timings["total"] = time.perf_counter() - t0
            return Answer(
                question=question,
                text=text,
                citations=citations,
                abstained=abstained,
                retrieved=retrieved,
                timings={k: round(v, 4) for k, v in timings.items()},
                standalone_question=query,
                raw_text=raw,
                unsupported=unsupported or [],
                settings_hash=s.fingerprint(),
                model=f"{s.llm_backend}:{s.llm_model}",
            )

        # Abstain before spending model time when nothing relevant was found.
        if not evidence or max(e.relevance for e in evidence) < s.min_relevance:
            yield ABSTAIN_TEXT
            yield finish(ABSTAIN_TEXT, [], True)
            return

        pieces: list[str] = []
        t_gen = time.perf_counter()
        for piece in self.llm.stream_chat(
            answer_messages(query, evidence, s.abstain_instruction),
            max_tokens=s.max_answer_tokens,
            stop=["\n\n", "Question:"],
        ):
            if not pieces:
                timings["ttft"] = time.perf_counter() - t0
            pieces.append(piece)
            yield piece
        timings["generate"] = time.perf_counter() - t_gen
        raw = "".join(pieces)
        verified = verify_reply(raw, query, evidence, self.embedder, s.min_support)
        if verified.abstained:
            yield finish(ABSTAIN_TEXT, [], True, raw, verified.unsupported)
        else:
            yield finish(verified.text, verified.citations, False, raw, verified.unsupported)


def _own_llm(llm: object) -> LLM | None:
    """Our LLM interface for `llm`: a llama-index LLM object is wrapped, ours kept."""
    if llm is None or not any(c.__module__.startswith("llama_index.") for c in type(llm).__mro__):
        return llm  # type: ignore[return-value]
    from qa.llamaindex_llm import as_chat_llm  # loads llama-index only when it is used

    wrapped: LLM = as_chat_llm(llm)
    return wrapped


def _retrieved_sources(hits: list) -> list[RetrievedSource]:
    best: dict[str, float] = {}
    for hit in hits:
        score = hit.dense if hit.dense is not None else hit.score
        best[hit.chunk.source] = max(best.get(hit.chunk.source, -1.0), float(score))
    return [RetrievedSource(src, sc) for src, sc in sorted(best.items(), key=lambda x: -x[1])]


class Conversation:
    """A multi-turn chat: remembers questions and answers for follow-up rewriting."""

    def __init__(self, assistant: Assistant, max_turns: int = 6) -> None:
        self.assistant = assistant
        self.history: list[tuple[str, str]] = []
        self.max_turns = max_turns

    def stream(self, question: str) -> Iterator[str | Answer]:
        for event in self.assistant.stream(question, self.history):
            if isinstance(event, Answer):
                self.history = [*self.history, (event.standalone_question, event.text)][
                    -self.max_turns :
                ]
            yield event

    def ask(self, question: str) -> Answer:
        answer = None
        for event in self.stream(question):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return answer


__all__ = ["ABSTAIN_TEXT", "Assistant", "Conversation", "InputError"]
