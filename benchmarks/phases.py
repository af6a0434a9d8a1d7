"""One measurement each, run in its own process so peak memory and cold start are its own.

`python -m benchmarks.phases NAME '{"json": "args"}'` prints one line `RESULT {...}`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import workloads
from evals.memory import peak_rss_mb
from evals.metrics import answer_correct, percentile
from qa.core.settings import SEEDS_DIR, Settings


def _latency_summary(values: list[float]) -> dict[str, float | None]:
    return {"p50": percentile(values, 50), "p95": percentile(values, 95)}


def _score(rows: list[dict[str, Any]], answers: list[str]) -> float | None:
    answerable = [(r, a) for r, a in zip(rows, answers, strict=True) if r["answers"]]
    if not answerable:
        return None
    hits = [answer_correct(a, r["answers"], r.get("all_required", False)) for r, a in answerable]
    return round(sum(hits) / len(hits), 3)


def answer_ours(home: str, limit: int | None, **_: Any) -> dict[str, Any]:
    """Our pipeline on the seeds gold questions, warm (one question answered first)."""
    from qa import Assistant

    rows = workloads.seeds_questions(limit)
    assistant = Assistant(Settings(home=Path(home), collection="bench-seeds"))
    assistant.index([SEEDS_DIR])
    assistant.ask(rows[0]["question"])  # load models, fill the KV cache of the system prompt
    ttft, total, answers, sources, verified = [], [], [], [], []
    for row in rows:
        answer = assistant.ask(row["question"])
        t = answer.timings
        total.append(t["total"])
        ttft.append(t.get("ttft", t["total"]))
        # What a user first reads: the passages (shown before the model writes), then the
        # first verified sentence (else the final answer, an abstention).
        sources.append(t.get("sources", t["total"]))
        verified.append(t.get("first_verified", t["total"]))
        answers.append(answer.text if not answer.abstained else "")
    assistant.llm.close()  # its peak memory counts once it has ended
    return {
        "questions": len(rows),
        "accuracy": _score(rows, answers),
        "ttft_s": _latency_summary(ttft),
        "sources_shown_s": _latency_summary(sources),
        "first_verified_s": _latency_summary(verified),
        "latency_s": _latency_summary(total),
        "peak_rss_mb": peak_rss_mb(with_children=True),
    }


def answer_reference(home: str, limit: int | None, workdir: str, **_: Any) -> dict[str, Any]:
    from benchmarks.reference import ReferencePipeline

    rows = workloads.seeds_questions(limit)
    pipeline = ReferencePipeline(SEEDS_DIR, Path(workdir), Settings(home=Path(home)))
    pipeline.ask(rows[0]["question"])  # warm, as for ours
    results = [pipeline.ask(row["question"]) for row in rows]
    cited = [r for r in results if "[" in r["answer"]]
    pipeline.model_process.close()
    return {
        "questions": len(rows),
        "accuracy": _score(rows, [r["answer"] for r in results]),
        "answers_with_a_marker": round(len(cited) / len(results), 3),
        "ttft_s": _latency_summary([r["ttft_s"] for r in results]),
        "latency_s": _latency_summary([r["latency_s"] for r in results]),
        "index_s": round(pipeline.index_seconds, 2),
        "peak_rss_mb": peak_rss_mb(with_children=True),
    }


def indexing(home: str, workdir: str, documents: int, **_: Any) -> dict[str, Any]:
    """Our indexer against the raw embedder on the same texts; then an unchanged re-index."""
    from index.chunking.chunks import chunk_article
    from index.embedding.embedders import embedder_from_settings
    from index.indexer import embedding_text, index_collection
    from index.reading.loaders import load_article
    from index.storing.store import ChunkStore, open_client

    settings = Settings(home=Path(home))
    corpus = workloads.build_corpus(Path(workdir) / f"corpus{documents}", documents)
    embedder = embedder_from_settings(settings.embedding, settings.runtime.request_timeout_s)
    embedder.embed(["warm up"])
    client = open_client(settings.store.home, None)
    name = f"bench-index-{documents}-{time.time_ns()}"
    store = ChunkStore(client, name, embedder.name, embedder.dimension)

    where = Settings(home=Path(home), collection=name)  # the same transaction as `qa index`

    def index_corpus() -> Any:
        return index_collection([corpus], store, embedder, where.store, where.indexing,
                                progress=False)  # fmt: skip

    started = time.perf_counter()
    report = index_corpus()
    ours_s = time.perf_counter() - started
    chunks = report.chunks_embedded

    texts = []
    for path in sorted(corpus.iterdir()):
        article = load_article(path)
        texts += [embedding_text(c) for c in chunk_article(article, settings.indexing.chunk_words)]
    started = time.perf_counter()
    for i in range(0, len(texts), settings.embedding.embed_batch_size):
        embedder.embed(texts[i : i + settings.embedding.embed_batch_size])
    raw_s = time.perf_counter() - started

    started = time.perf_counter()
    again = index_corpus()
    reindex_s = time.perf_counter() - started
    client.delete_collection(name)
    client.delete_collection(f"{name}__files")
    return {
        "documents": documents,
        "chunks": chunks,
        "ours_chunks_per_s": round(chunks / ours_s, 1),
        "raw_embedder_chunks_per_s": round(len(texts) / raw_s, 1),
        "ours_vs_raw": round((chunks / ours_s) / (len(texts) / raw_s), 3),
        "reindex_unchanged_s": round(reindex_s, 3),
        "reindex_embedded": again.chunks_embedded,
        "peak_rss_mb": peak_rss_mb(with_children=True),
    }


def _passing_share(retriever: Any, filters: Any, size: int) -> float:
    """The share of the collection's chunks a filter lets through."""
    catalog = retriever.catalog()
    allowed = catalog.allowed_paths(filters)
    return round(sum(r.chunks for r in catalog.records if r.path in allowed) / size, 3)


def retrieval_scale(
    home: str, sizes: list[int], queries: int, chroma_url: str | None = None, **_: Any
) -> dict[str, Any]:
    """Hybrid retrieval latency as the collection grows (deterministic synthetic corpora)."""
    from index.embedding.embedders import make_embedder
    from index.storing.lexical import LexicalIndex
    from index.storing.store import ChunkStore, open_client
    from qa.retrieve.filters import ArticleFilter
    from qa.retrieve.hybrid import HybridRetriever

    embedder = make_embedder("minilm", 32)
    base_chunks, base_vectors = workloads.base_chunks(embedder)
    questions = workloads.pack_questions(queries)
    qvecs = embedder.embed(questions)
    client = open_client(Path(home), chroma_url)
    out: dict[str, Any] = {}
    for size in sizes:
        settings = Settings(home=Path(home), chroma_url=chroma_url,
                            collection=f"bench-scale-{size}")  # fmt: skip
        # A server started on this home's store serves the very collections the embedded run
        # filled, so both use the one BM25 index (a deployment shares it the same way).
        folder = Settings(home=Path(home), collection=settings.store.collection).lexical_folder()
        store = ChunkStore(client, settings.store.collection, embedder.name, embedder.dimension)
        started = time.perf_counter()
        workloads.fill_to(store, base_chunks, base_vectors, size)
        fill_s = time.perf_counter() - started
        started = time.perf_counter()
        workloads.fill_lexical_to(folder, base_chunks, size)
        lexical_s = time.perf_counter() - started
        lexical = LexicalIndex(folder)
        retriever = HybridRetriever(store, embedder, lexical=lexical, hybrid=True)
        started = time.perf_counter()
        retriever.retrieve(questions[0], settings.retrieval.top_k, query_vector=qvecs[0])
        first_s = time.perf_counter() - started  # opens the saved BM25 index: no rebuild
        # A date filter that lets about half of the dated articles through, applied inside
        # both searches (the catalog of files is read on its first use, like a first query).
        since = workloads.median_day(base_chunks)
        filters = ArticleFilter.of(since=since)
        retriever.retrieve(questions[0], settings.retrieval.top_k, qvecs[0], filters)
        hybrid, dense, bm25, filtered = [], [], [], []
        for q, v in zip(questions, qvecs, strict=True):
            t0 = time.perf_counter()
            retriever.retrieve(q, settings.retrieval.top_k, query_vector=v)
            hybrid.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            retriever.retrieve(q, settings.retrieval.top_k, query_vector=v, filters=filters)
            filtered.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            store.query(v, settings.retrieval.top_k)
            dense.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            lexical.search(q, settings.retrieval.candidates)
            bm25.append(time.perf_counter() - t0)
        out[str(size)] = {
            "chunks": store.count(),
            "fill_s": round(fill_s, 2),
            "bm25_build_s": round(lexical_s, 2),
            "bm25_segments": len(lexical.current().segments),
            "first_query_s": round(first_s, 3),
            "hybrid_ms": {k: _ms(v) for k, v in _latency_summary(hybrid).items()},
            "filtered_ms": {k: _ms(v) for k, v in _latency_summary(filtered).items()},
            "filter": {"since": since, "share": _passing_share(retriever, filters, size)},
            "dense_ms": {k: _ms(v) for k, v in _latency_summary(dense).items()},
            "bm25_ms": {k: _ms(v) for k, v in _latency_summary(bm25).items()},
            "bm25_disk_mb": _disk_mb(folder),
        }
    if not chroma_url:
        out["chroma_disk_mb"] = _disk_mb(Path(home) / "chroma")
    out["peak_rss_mb"] = peak_rss_mb(with_children=True)
    return out


def _disk_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def cold_start(home: str, collection: str = "bench-seeds", **_: Any) -> dict[str, Any]:
    """Imports, opening the index, loading the models and the first answer (from process
    start, so the interpreter's own start-up is included)."""
    import psutil

    from qa import Assistant

    began = psutil.Process().create_time()
    assistant = Assistant(Settings(home=Path(home), collection=collection))
    assistant.ensure_indexed()
    opened_s = time.time() - began
    answer = assistant.ask("Who accompanied Kim at the extended talks?")
    answered_s = time.time() - began
    getattr(assistant.llm, "close", lambda: None)()
    return {
        "collection": collection,
        "chunks": assistant.store.count(),
        "opened_s": round(opened_s, 2),
        "first_answer_s": round(answered_s, 2),
        "answered": not answer.abstained,
        "peak_rss_mb": peak_rss_mb(with_children=True),
    }


def cold_retrieval(home: str, collection: str, queries: int = 50, **_: Any) -> dict[str, Any]:
    """A fresh serving process on a large collection: time to its first retrieval (the BM25
    index is opened as saved, memory-mapped), then memory after `queries` more."""
    import psutil

    from qa import Assistant

    began = psutil.Process().create_time()
    steps: dict[str, float] = {"imports": time.time() - began}

    def mark(name: str) -> None:
        steps[name] = time.time() - began - sum(steps.values())

    assistant = Assistant(Settings(home=Path(home), collection=collection))
    assistant.embedder.embed(["load"])
    mark("embedder")
    assistant.store.count()
    mark("store")
    assistant.ensure_indexed()  # the in-step check a serving process makes at start-up
    assistant.lexical.current()
    mark("bm25_open")
    questions = workloads.pack_questions(queries + 1)
    assistant.retriever.retrieve(questions[0])
    mark("first_retrieval")
    first_s = time.time() - began
    rss_first = psutil.Process().memory_info().rss / 2**20
    for q in questions[1:]:
        assistant.retriever.retrieve(q)
    return {
        "collection": collection,
        "chunks": assistant.store.count(),
        "bm25_generation": assistant.lexical.generation,
        "first_retrieval_s": round(first_s, 2),
        "steps_s": {k: round(v, 3) for k, v in steps.items()},
        "rss_after_first_mb": round(rss_first, 1),
        "rss_after_queries_mb": round(psutil.Process().memory_info().rss / 2**20, 1),
        "peak_rss_mb": peak_rss_mb(with_children=False),
    }


def update_documents(
    home: str, collection: str, documents: int, workdir: str, **_: Any
) -> dict[str, Any]:
    """`qa index` on a large collection: add `documents` real articles, change every one of
    them and index again (the incremental update), then once more unchanged (the fixed cost)."""
    from qa import Assistant

    assistant = Assistant(Settings(home=Path(home), collection=collection))
    corpus = workloads.build_corpus(Path(workdir) / f"update{documents}", documents)
    assistant.embedder.embed(["warm up"])
    timings = {}
    started = time.perf_counter()
    added = assistant.index([corpus])
    timings["add_s"] = time.perf_counter() - started
    for path in sorted(corpus.iterdir()):
        path.write_text("Updated edition.\n\n" + path.read_text(encoding="utf-8"), "utf-8")
    started = time.perf_counter()
    changed = assistant.index([corpus])
    timings["update_s"] = time.perf_counter() - started
    started = time.perf_counter()
    assistant.index([corpus])
    timings["unchanged_s"] = time.perf_counter() - started
    # The share of the update that is MiniLM itself, on the same number of passages.
    texts = [f"An updated passage {i} about talks in Vladivostok. " * 6 for i in range(256)]
    started = time.perf_counter()
    assistant.embedder.embed(texts)
    per_chunk_s = (time.perf_counter() - started) / len(texts)
    return {
        "collection": collection,
        "chunks": assistant.store.count(),
        "documents_added": len(added.added),
        "documents_updated": len(changed.updated),
        "chunks_embedded": changed.chunks_embedded,
        **{k: round(v, 2) for k, v in timings.items()},
        "embedding_share_s": round(per_chunk_s * changed.chunks_embedded, 2),
        "in_step": assistant.lexical.live_docs == assistant.store.count(),
        "peak_rss_mb": peak_rss_mb(with_children=False),
    }


def embed_rate(**_: Any) -> dict[str, Any]:
    """Sanity figure for the machine: MiniLM passages per second, batch 32."""
    from index.embedding.embedders import make_embedder

    embedder = make_embedder("minilm", 32)
    texts = [f"News passage number {i} about a summit in Vladivostok." * 4 for i in range(256)]
    embedder.embed(texts[:32])
    t0 = time.perf_counter()
    embedder.embed(texts)
    return {"passages_per_s": round(len(texts) / (time.perf_counter() - t0), 1)}


PHASES: dict[str, Callable[..., dict[str, Any]]] = {
    "answer_ours": answer_ours,
    "answer_reference": answer_reference,
    "indexing": indexing,
    "retrieval_scale": retrieval_scale,
    "cold_start": cold_start,
    "cold_retrieval": cold_retrieval,
    "update_documents": update_documents,
    "embed_rate": embed_rate,
}


def main() -> None:
    name, args = sys.argv[1], json.loads(sys.argv[2] if len(sys.argv) > 2 else "{}")
    result = PHASES[name](**args)
    print("RESULT " + json.dumps(result, default=_jsonable), flush=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.floating | np.integer):
        return value.item()
    return str(value)


if __name__ == "__main__":
    main()
