"""The public entry point: index articles, ask questions, stream answers.

`Assistant` is the simple front door over llama-index parts: a retriever (ours by default),
node postprocessors (a reranker, say), our sentence-evidence step, an LLM, and the citation
check. `as_query_engine()` and `as_chat_engine()` give the same answers as llama-index engines.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.embedding.embedders import Embedder, embedder_from_settings
from index.indexer import IndexReport, index_collection
from index.locking import IndexBusyError, collection_lock
from index.reading.feeds import FeedList, FeedRefresh
from index.reading.web import Fetched, FetchError, FetchPolicy, fetch, is_url, save_page
from index.storing.lexical import LexicalIndex
from index.storing.lexical_sync import in_step
from index.storing.lexical_sync import sync as sync_lexical
from index.storing.lexical_writer import LexicalWriter
from index.storing.store import ChunkStore, FileRecord, open_client
from qa.conversation import Conversation
from qa.core.answer_stream import AnswerStream
from qa.core.errors import InputError
from qa.core.interfaces import LLM
from qa.core.settings import Settings
from qa.core.types import Answer
from qa.feedback import Feedback, FeedbackLog, Rating
from qa.generate.deferred import DeferredLLM
from qa.generate.llm import make_llm
from qa.pipeline import ABSTAIN_TEXT, AnswerPipeline
from qa.retrieve.catalog import Catalog
from qa.retrieve.filters import ArticleFilter
from qa.retrieve.node_retriever import settings_filter
from qa.retrieve.searcher import Searcher, searcher_for
from qa.understand.question import clean_question

if TYPE_CHECKING:
    from llama_index.core.base.base_retriever import BaseRetriever
    from llama_index.core.llms import LLM as LlamaIndexLLM
    from llama_index.core.postprocessor.types import BaseNodePostprocessor

    from qa.engines import VerifiedChatEngine, VerifiedQueryEngine


class Assistant:
    """Question answering over one collection of articles.

    Models load lazily and stay warm; every answer carries the settings hash."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        llm: LLM | LlamaIndexLLM | None = None,
        embedder: Embedder | None = None,
        retriever: BaseRetriever | None = None,
        postprocessors: Sequence[BaseNodePostprocessor] = (),
    ) -> None:
        """`llm`: ours or any llama-index LLM. `retriever`: any llama-index retriever (default:
        hybrid BM25 + dense over the settings' collection). `postprocessors`: llama-index node
        postprocessors run on the retrieved chunks before evidence selection (a reranker)."""
        self.settings = settings or Settings()
        self._llm = _own_llm(llm)
        self._embedder = embedder
        self._store: ChunkStore | None = None
        self._lexical: LexicalIndex | None = None
        self._retriever = retriever
        self._searcher: Searcher | None = None
        self.postprocessors = list(postprocessors)
        self._pipeline: AnswerPipeline | None = None
        # The first caller builds each lazy part; the rest wait for it (one model process).
        self._building = threading.RLock()

    # --- lazily built parts -----------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        with self._building:
            if self._embedder is None:
                s = self.settings
                self._embedder = embedder_from_settings(s.embedding, s.runtime.request_timeout_s)
        return self._embedder

    @property
    def llm(self) -> LLM:
        with self._building:
            if self._llm is None:
                self._llm = make_llm(self.settings)
        return self._llm

    @property
    def store(self) -> ChunkStore:
        with self._building:
            if self._store is None:
                s = self.settings.store
                client = open_client(s.home, s.chroma_url)
                self._store = ChunkStore(
                    client, s.collection, self.embedder.name, self.embedder.dimension
                )
        return self._store

    @property
    def lexical(self) -> LexicalIndex:
        """The collection's on-disk BM25 index, shared with every process that serves it."""
        with self._building:
            if self._lexical is None:
                self._lexical = LexicalIndex(self.settings.store.lexical_folder())
        return self._lexical

    @property
    def retriever(self) -> BaseRetriever:
        with self._building:
            if self._retriever is None:
                from qa.retrieve.node_retriever import HybridNodeRetriever, settings_filter

                r = self.settings.retrieval
                self._retriever = HybridNodeRetriever(
                    self.store,
                    self.embedder,
                    lexical=self.lexical,
                    similarity_top_k=r.top_k,
                    hybrid=r.hybrid,
                    candidates=r.candidates,
                    rrf_k=r.rrf_k,
                    filters=settings_filter(self.settings),
                )
        return self._retriever

    @property
    def searcher(self) -> Searcher:
        """Retrieval as the answering path uses it: the retriever, wrapped once if it is not
        ours; the pipeline shares it."""
        with self._building:
            if self._searcher is None:
                self._searcher = searcher_for(self.retriever, settings_filter(self.settings))
        return self._searcher

    @property
    def pipeline(self) -> AnswerPipeline:
        with self._building:
            if self._pipeline is None:
                from qa.retrieve.reranking import make_reranker

                llm = _DeferredLLM(self)
                rerankers = make_reranker(
                    self.settings, lambda: _as_llama_index(llm, self.settings)
                )
                self._pipeline = AnswerPipeline(
                    self.settings,
                    llm=llm,
                    embedder=self.embedder,
                    retriever=self.searcher,
                    postprocessors=[*self.postprocessors, *rerankers],
                )
        return self._pipeline

    # --- indexing ---------------------------------------------------------------------------
    def index(self, paths: Sequence[str | Path], progress: bool = False) -> IndexReport:
        """Index files, folders and web pages (http:// or https:// addresses: each is
        fetched, kept under the data directory and indexed like a file)."""
        urls = [str(p) for p in paths if is_url(str(p))]
        files: list[str | Path] = [p for p in paths if not is_url(str(p))]
        failed: list[tuple[str, str]] = []
        policy = FetchPolicy.of(self.settings.fetch)
        for url in urls:
            try:
                files.append(save_page(self.feed_list().pages, fetch(url, policy=policy)))
            except FetchError as exc:
                failed.append((url, str(exc).removeprefix(f"{url}: ")))
        report = self._index_files(files, progress) if files else IndexReport()
        report.skipped[:0] = failed
        return report

    def feed_list(self) -> FeedList:
        """The feeds this collection follows (`qa feed add|refresh|list|remove`)."""
        s = self.settings
        return FeedList(s.store.home, s.store.collection, s.fetch)

    def add_feed(
        self, url: str, progress: bool = False, fetched: Fetched | None = None
    ) -> tuple[FeedRefresh, IndexReport]:
        """Follow an RSS or Atom feed and index its items now. A feed that cannot be read
        the first time is not followed (the report says why). `fetched`: the feed as the
        caller already fetched it from `url`, read instead of fetching it again."""
        feeds = self.feed_list()
        feed, new = feeds.add(url)
        got = {feed.url: fetched} if fetched else None
        reports, index_report = self.refresh_feeds([feed.url], progress, feeds, fetched=got)
        if new and reports[0].error:
            feeds.remove(feed.url)
            reports[0].error += "; not followed"
        return reports[0], index_report

    def refresh_feeds(
        self,
        urls: list[str] | None = None,
        progress: bool = False,
        feeds: FeedList | None = None,
        *,
        fetched: Mapping[str, Fetched] | None = None,
    ) -> tuple[list[FeedRefresh], IndexReport]:
        """Fetch what is new, changed or still pending in the feeds (default: all) and index
        it; an item counts as done only once its page is indexed. `fetched`: feeds already
        fetched, by URL (FeedList.refresh)."""
        total = IndexReport()

        def index_pages(pages: list[Path]) -> IndexReport:
            report = self._index_files(list(pages), progress)
            total.merge(report)
            return report

        feeds = feeds or self.feed_list()
        in_store = lambda: set(self.store.file_records())  # the files indexed now  # noqa: E731
        return feeds.refresh(index_pages, urls, indexed_files=in_store, fetched=fetched), total

    def _index_files(self, paths: Sequence[str | Path], progress: bool) -> IndexReport:
        s = self.settings
        report = index_collection(paths, self.store, self.embedder, s.store, s.indexing,
                                  batch_size=s.embedding.embed_batch_size,
                                  progress=progress)  # fmt: skip
        self.invalidate()
        return report

    def invalidate(self) -> None:
        """The collection changed elsewhere: lexical search re-reads its index now."""
        if self._retriever is not None:
            self.searcher.invalidate()

    def ensure_indexed(self, progress: bool = False) -> IndexReport | None:
        """Index the default corpus when the collection is empty (first run); otherwise make
        sure BM25 is in step with the store (after a crash, or a collection indexed before
        BM25 was kept on disk)."""
        if self.store.count() == 0:
            return self.index([self.settings.store.default_corpus], progress=progress)
        if not in_step(self.store, self.lexical):
            s = self.settings.store
            try:
                with collection_lock(s.home, s.collection, wait_s=0):
                    sync_lexical(self.store, LexicalWriter(s.lexical_folder()))
            except IndexBusyError:
                pass  # someone is indexing; their run brings BM25 in step when it ends
            self.invalidate()
        return None

    def documents(self) -> list[FileRecord]:
        return sorted(self.store.file_records().values(), key=lambda r: r.source)

    # --- answering --------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        filters: ArticleFilter | None = None,
    ) -> Answer:
        """`filters`: answer only from these articles (dates, outlets, authors), in place
        of the settings' `since`/`until`/`outlets`/`authors`."""
        return self.stream(question, history, filters).answer

    def stream(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        filters: ArticleFilter | None = None,
    ) -> AnswerStream:
        """Iterate for the reply's text as the model writes it; then `.answer` is verified."""
        return self.pipeline.stream(question, history, filters)

    # --- feedback ---------------------------------------------------------------------------
    def feedback(
        self,
        answer: Answer,
        rating: Rating = "",
        wrong_citations: Sequence[int] = (),
        note: str = "",
    ) -> Feedback:
        """Record a thumbs up or down and/or the citations (numbered from 1) that are wrong,
        with the question, answer, citations and settings hash, in $QA_HOME/feedback/."""
        collection = self.settings.store.collection
        verdict = Feedback.of(answer, rating, wrong_citations, note, collection)
        return self.feedback_log().add(verdict)

    def feedback_log(self) -> FeedbackLog:
        return FeedbackLog(self.settings.store.home, self.settings.store.collection)

    def outlets(self) -> list[str]:
        """The outlets a filter can name in this collection."""
        return Catalog.of(self.store.file_records().values()).outlets()

    def brief(self, topic: str, filters: ArticleFilter | None = None) -> Answer:
        """A short cited briefing on `topic` over many articles (qa/briefing.py)."""
        return self.stream_brief(topic, filters).answer

    def stream_brief(self, topic: str, filters: ArticleFilter | None = None) -> AnswerStream:
        """The briefing as the model writes it; then `.answer` is the verified briefing."""
        return self.pipeline.brief(topic, filters)

    def as_query_engine(self, **kwargs: Any) -> VerifiedQueryEngine:
        from qa.engines import VerifiedQueryEngine

        return VerifiedQueryEngine(pipeline=self.pipeline, **kwargs)

    def as_chat_engine(self, **kwargs: Any) -> VerifiedChatEngine:
        from qa.engines import VerifiedChatEngine

        return VerifiedChatEngine(self.pipeline, **kwargs)


class _DeferredLLM(DeferredLLM):
    """The assistant's LLM, loaded only when an answer needs it: a question that abstains
    before generation never starts the model. The assistant's LLM is the assistant's to
    close."""

    def __init__(self, assistant: Assistant) -> None:
        self._assistant = assistant

    def target(self) -> LLM:
        return self._assistant.llm


def _own_llm(llm: LLM | LlamaIndexLLM | None) -> LLM | None:
    """Our LLM interface for `llm`: a llama-index LLM object is wrapped, ours kept."""
    from qa.generate.backends.llama_index import as_chat_llm

    return None if llm is None else as_chat_llm(llm)


def _as_llama_index(llm: LLM, settings: Settings) -> LlamaIndexLLM:
    """Our LLM as a llama-index one, for llama-index components (the LLM reranker)."""
    from qa.generate.backends.llama_index import ChatLLMAsLlamaIndex

    return ChatLLMAsLlamaIndex(
        llm,
        context_window=settings.runtime.n_ctx,
        num_output=64,
        model_name=settings.generation.llm_model,
    )


__all__ = [
    "ABSTAIN_TEXT",
    "ArticleFilter",
    "Assistant",
    "Conversation",
    "InputError",
    "clean_question",
]
