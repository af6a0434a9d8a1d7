"""Chroma store round trips, hybrid retrieval, evidence selection, embedders and settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from unit_helpers import seed

from index.chunking.chunks import chunk_article
from index.embedding.embedders import HashEmbedder, make_embedder
from index.reading.loaders import load_article
from index.storing.store import ChunkStore, FileRecord, StoreError, open_client
from index.types import ArticleInfo
from qa.core.settings import Settings
from qa.evidence.select import select_evidence
from qa.retrieve.hybrid import HybridRetriever
from qa.understand.profile import QuestionProfile

# --- embedders ---------------------------------------------------------------------------------


def test_hash_embedder_is_deterministic_and_normalised() -> None:
    emb = HashEmbedder()
    a = emb.embed(["Kim met Putin in Vladivostok", "", "Kim met Putin in Vladivostok"])
    assert a.shape == (3, 256) and a.dtype == np.float32
    assert np.allclose(a[0], a[2])
    assert np.isclose(np.linalg.norm(a[0]), 1.0)
    assert not a[1].any()  # nothing to hash
    assert emb.embed([]).shape == (0, 256)
    b = emb.embed(["kim MET putin in vladivostok"])[0]
    assert np.allclose(a[0], b)  # case-insensitive


def test_make_embedder_registry() -> None:
    assert make_embedder("hash").name == "hash-256"
    with pytest.raises(ValueError, match="unknown embedder"):
        make_embedder("no-such-model-anywhere")


# --- store -------------------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path) -> ChunkStore:
    return ChunkStore(open_client(tmp_path / "home", None), "unit-test", "hash-256", 256)


def test_chunks_round_trip_through_chroma(store) -> None:
    article = load_article(seed("004"))
    article.path = str(seed("004"))
    chunks = chunk_article(article)
    vectors = HashEmbedder().embed([c.text for c in chunks])
    store.add_chunks(chunks, vectors)
    store.add_chunks(chunks, vectors)  # upsert: no duplicates
    assert store.count() == len(chunks)
    back = store.get_chunks([c.id for c in reversed(chunks)] + ["missing-id"])
    assert [c.id for c in back] == [c.id for c in reversed(chunks)]
    for original, stored in zip(reversed(chunks), back, strict=True):
        assert stored.text == original.text
        assert (stored.start, stored.end) == (original.start, original.end)
        assert stored.sentences == original.sentences
        assert stored.sentence_texts == original.sentence_texts
        assert stored.title == article.title and stored.published == article.published
    hits = store.query(vectors[2], 3)
    assert hits[0].chunk.id == chunks[2].id
    assert hits[0].distance == pytest.approx(0.0, abs=1e-4)
    paged = [c.id for c in store.iter_chunks(page=2)]
    assert sorted(paged) == sorted(c.id for c in chunks)  # paging sees every chunk once


def test_file_records_and_delete(store) -> None:
    record = FileRecord(ArticleInfo("a.txt", "/x/a.txt", "Title", "", "2019-04-25"), "f" * 64, 0)
    store.put_file(record)
    store.put_file(record)
    assert store.file_records() == {"/x/a.txt": record}
    store.delete_file("/x/a.txt")
    assert store.file_records() == {}


def test_empty_store_query_is_empty(store) -> None:
    assert store.query(HashEmbedder().embed(["x"])[0], 5) == []
    assert store.get_chunks([]) == []


def test_other_embedder_on_the_same_collection_is_refused(tmp_path) -> None:
    client = open_client(tmp_path / "home", None)
    ChunkStore(client, "news", "hash-256", 256)
    with pytest.raises(StoreError, match="embedder"):
        ChunkStore(client, "news", "all-MiniLM-L6-v2", 384)


def test_bad_chroma_url_is_a_store_error(tmp_path) -> None:
    with pytest.raises(StoreError, match="cannot reach"):
        open_client(tmp_path, "http://127.0.0.1:9")


# --- retrieval and evidence --------------------------------------------------------------------
def test_hybrid_retrieval_finds_the_rare_words(indexed_assistant) -> None:
    retriever = HybridRetriever(
        indexed_assistant.store, HashEmbedder(), lexical=indexed_assistant.lexical, candidates=10
    )
    hits = retriever.retrieve("Choe Son-hui Ri Yong-ho", top_k=3)
    assert 1 <= len(hits) <= 3
    assert hits[0].chunk.source.startswith("004")
    assert hits[0].bm25 is not None and hits[0].bm25 > 0
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_dense_only_retrieval(indexed_assistant) -> None:
    retriever = HybridRetriever(indexed_assistant.store, HashEmbedder(), lexical=None, hybrid=False)
    hits = retriever.retrieve("Kim Putin summit", top_k=4)
    assert len(hits) == 4
    assert all(h.bm25 is None and h.dense is not None for h in hits)


def test_bm25_ignores_unknown_words(indexed_assistant) -> None:
    bm25 = indexed_assistant.lexical
    assert bm25.search("zzzzqqq xyzzy", 5) == []
    assert bm25.search("Yongbyon", 5)


def test_select_evidence_ranks_sentences_and_respects_limit(indexed_assistant) -> None:
    emb = HashEmbedder()
    question = "Who were the key officials accompanying Kim during the extended summit?"
    qvec = emb.embed([question])[0]
    hits = HybridRetriever(
        indexed_assistant.store, emb, lexical=indexed_assistant.lexical
    ).retrieve(question, 5, qvec)
    evidence = select_evidence(QuestionProfile.of(question), qvec, hits, emb, limit=3)
    assert len(evidence) == 3
    assert "Ri Yong-ho" in evidence[0].text
    assert [e.score for e in evidence] == sorted((e.score for e in evidence), reverse=True)
    keys = [(e.article.path, e.span.start) for e in evidence]
    assert len(keys) == len(set(keys))  # overlapping chunks do not repeat a sentence
    for e in evidence:
        assert Path(e.article.path).read_text(encoding="utf-8")[e.span.start : e.span.end] == e.text
    assert select_evidence(QuestionProfile.of(question), qvec, [], emb, limit=3) == []


# --- settings ----------------------------------------------------------------------------------
def test_settings_read_qa_env(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("QA_TOP_K", "7")
    monkeypatch.setenv("QA_HOME", str(tmp_path))
    s = Settings()
    assert s.retrieval.top_k == 7 and s.store.home == tmp_path
    assert Settings(top_k=3).retrieval.top_k == 3  # arguments win over the environment


def test_settings_defaults_without_env() -> None:
    s = Settings()
    assert (
        s.embedding.embedder == "minilm"
        and s.generation.llm_backend == "llama_cpp"
        and s.retrieval.top_k == 5
    )


@pytest.mark.parametrize(
    "bad", [{"top_k": 0}, {"collection": "a b"}, {"min_relevance": 2}, {"llm_backend": "gpt"}]
)
def test_invalid_settings_are_rejected(bad) -> None:
    with pytest.raises(ValueError):
        Settings(**bad)


def test_fingerprint_ignores_paths_but_not_knobs(tmp_path) -> None:
    base = Settings(home=tmp_path / "a")
    assert base.fingerprint() == Settings(home=tmp_path / "b").fingerprint()
    assert base.fingerprint() != Settings(home=tmp_path / "a", top_k=9).fingerprint()
    assert len(base.fingerprint()) == 12


def test_store_failures_become_store_errors_and_server_faults_are_retried(
    tmp_path, monkeypatch
) -> None:
    import httpx

    import index.storing.store as store_module
    from index.storing.store import ChunkStore, StoreError, open_client

    store = ChunkStore(open_client(tmp_path, None), "faults", "hash-256", 256)
    calls = {"n": 0}

    def flaky() -> int:
        calls["n"] += 1
        if calls["n"] < 3:
            raise httpx.ConnectError("Connection refused")
        return 7

    monkeypatch.setattr(store_module, "SERVER_RETRY_WAIT_S", 0.0)
    with pytest.raises(StoreError, match="the index failed while counting"):
        store._call("counting chunks", flaky)  # on-disk store: no retry, a clear error
    assert calls["n"] == 1
    store.remote = True
    assert store._call("counting chunks", flaky) == 7  # a server gets bounded retries
    calls["n"] = -10
    with pytest.raises(StoreError, match="is the server running"):
        store._call("counting chunks", flaky)
    assert calls["n"] == -10 + store_module.SERVER_RETRIES + 1


def test_file_records_are_read_page_by_page(store, monkeypatch) -> None:
    monkeypatch.setattr("index.storing.store.FILE_PAGE", 2)  # 5 records: pages of 2, 2 and 1
    records = [FileRecord(ArticleInfo(f"{i}.txt", f"/x/{i}.txt", "T"), f"{i}" * 64, 1)
               for i in range(5)]  # fmt: skip
    store.put_files(records)
    assert store.file_records() == {r.path: r for r in records}
