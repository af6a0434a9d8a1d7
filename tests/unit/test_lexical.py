"""The on-disk BM25 index: scores, incremental changes, restarts, merges, crashes, catching up
with the store."""

from __future__ import annotations

import json
import os

import bm25s
import numpy as np
import pytest

from index.chunking.chunks import chunk_article
from index.embedding.embedders import HashEmbedder
from index.indexer import index_paths
from index.reading.loaders import iter_article_files, load_article
from index.storing.lexical import LexicalIndex, query_terms
from index.storing.lexical_sync import in_step, lexical_folder, sync
from index.storing.lexical_writer import MAX_SEGMENTS, LexicalWriter, chunk_words
from index.storing.store import ChunkStore, open_client
from index.text import tokens
from qa.core.settings import SEEDS_DIR

QUESTION = "Who accompanied Kim at the extended talks with Putin?"


@pytest.fixture(scope="module")
def seed_files() -> dict[str, list]:
    out = {}
    for path in iter_article_files([SEEDS_DIR]):
        article = load_article(path)
        article.path = str(path)
        out[str(path)] = (article.file_sha256, chunk_article(article, chunk_words=90))
    return out


def _write_all(folder, files, per_commit: int | None = None) -> LexicalWriter:
    writer = LexicalWriter(folder)
    for n, (path, (sha, chunks)) in enumerate(files.items(), 1):
        writer.add_file(path, sha, chunks)
        if per_commit and n % per_commit == 0:
            writer.commit()
    writer.commit()
    return writer


def test_scores_equal_bm25s_on_the_seeds(tmp_path, seed_files) -> None:
    _write_all(tmp_path / "bm25", seed_files)
    chunks = [c for _, cs in seed_files.values() for c in cs]
    oracle = bm25s.BM25()  # Lucene's BM25, k1=1.5, b=0.75: the formula we implement
    oracle.index([chunk_words(c) for c in chunks], show_progress=False)
    docs, scores = oracle.retrieve([tokens(QUESTION)], k=10, show_progress=False)
    expected = {chunks[int(d)].id: float(s) for d, s in zip(docs[0], scores[0], strict=True)}
    got = dict(LexicalIndex(tmp_path / "bm25").search(QUESTION, 10))
    assert got.keys() == {k for k, v in expected.items() if v > 0}
    for cid, score in got.items():
        assert score == pytest.approx(expected[cid], rel=1e-4)


def test_a_restart_loads_the_saved_index_without_rebuilding(tmp_path, seed_files) -> None:
    folder = tmp_path / "bm25"
    _write_all(folder, seed_files)
    before = LexicalIndex(folder).search(QUESTION, 5)
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}
    reopened = LexicalIndex(folder)
    assert reopened.search(QUESTION, 5) == before
    assert reopened.live_docs == sum(len(c) for _, c in seed_files.values())
    # Reading wrote nothing: no rebuild happened.
    assert {p.name: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()} == stamps
    assert isinstance(reopened.current().segments[0].docs, np.memmap)


def test_deleted_and_changed_files_leave_search_and_a_reader_follows(tmp_path, seed_files):
    folder = tmp_path / "bm25"
    writer = _write_all(folder, seed_files)
    reader = LexicalIndex(folder)
    best = reader.search(QUESTION, 1)[0][0]
    path = next(p for p, (_, cs) in seed_files.items() if best in {c.id for c in cs})
    generation = reader.generation
    writer.delete([path])
    assert reader.search(QUESTION, 1)[0][0] == best  # staged, not yet live
    writer.commit()
    assert reader.generation == generation + 1  # the same reader saw the new manifest
    gone = {c.id for c in seed_files[path][1]}
    assert not gone & {cid for cid, _ in reader.search(QUESTION, 50)}
    assert path not in writer.files()
    # Put it back under a new content hash: a changed file.
    writer.add_file(path, "changed", seed_files[path][1])
    writer.commit()
    assert reader.search(QUESTION, 1)[0][0] == best
    assert writer.files()[path] == "changed"
    assert reader.live_docs == sum(len(c) for _, c in seed_files.values())


def test_many_commits_merge_into_few_segments_with_the_same_results(tmp_path, seed_files):
    once = tmp_path / "once"
    _write_all(once, seed_files)
    often = tmp_path / "often"
    writer = LexicalWriter(often)
    files = list(seed_files.items())
    for round_ in range(3):  # add, delete and re-add, so merges drop deleted documents
        for path, (sha, chunks) in files:
            writer.add_file(path, f"{sha}-{round_}", chunks)
            writer.commit()
    index = LexicalIndex(often)
    assert len(index.current().segments) <= MAX_SEGMENTS
    assert index.live_docs == LexicalIndex(once).live_docs
    # Deleted documents still count in document frequency until merged (as in Lucene), so
    # compare the ranking, not the last digits of the scores.
    assert [c for c, _ in index.search(QUESTION, 5)] == [
        c for c, _ in LexicalIndex(once).search(QUESTION, 5)
    ]
    names = {s["name"] for s in json.loads((often / "manifest.json").read_text())["segments"]}
    on_disk = {p.name for p in often.iterdir() if p.name.startswith("seg-")}
    assert on_disk - names  # one generation back is kept for readers still opening it ...
    assert len(on_disk) <= 2 * MAX_SEGMENTS + 1  # ... but not more


def test_a_crash_before_the_manifest_leaves_the_old_index(tmp_path, seed_files, monkeypatch):
    folder = tmp_path / "bm25"
    items = list(seed_files.items())
    _write_all(folder, dict(items[:2]))
    before = LexicalIndex(folder).search(QUESTION, 5)
    writer = LexicalWriter(folder)
    for path, (sha, chunks) in items[2:]:
        writer.add_file(path, sha, chunks)

    def die(*_args, **_kwargs):
        raise KeyboardInterrupt  # stands in for SIGKILL between segment and manifest

    monkeypatch.setattr("index.storing.lexical_writer._write_json_atomically", die)
    with pytest.raises(KeyboardInterrupt):
        writer.commit()
    monkeypatch.undo()
    assert LexicalIndex(folder).search(QUESTION, 5) == before
    assert set(LexicalWriter(folder).files()) == {p for p, _ in items[:2]}


def test_sync_brings_bm25_in_step_with_the_store(tmp_path) -> None:
    store = ChunkStore(open_client(tmp_path / "home", None), "news", "hash-256", 256)
    folder = lexical_folder(tmp_path / "lexical", None, "news")
    index = LexicalIndex(folder)
    index_paths([SEEDS_DIR], store, HashEmbedder(), progress=False)  # no BM25: an old store
    assert not in_step(store, index)
    first = sync(store, LexicalWriter(folder))
    assert first.added == 5 and first.dropped == 0
    assert in_step(store, index)
    assert sync(store, LexicalWriter(folder)).changed is False
    # The store loses a file behind BM25's back (a crash after its delete): sync drops it.
    gone = next(iter(store.file_records()))
    store.delete_file(gone)
    again = sync(store, LexicalWriter(folder))
    assert (again.dropped, again.added) == (1, 0)
    assert gone not in LexicalWriter(folder).files()
    assert in_step(store, index)
    # An index run that started and never finished (killed) is not trusted by count alone.
    LexicalWriter(folder).begin()
    assert not in_step(store, index)
    assert sync(store, LexicalWriter(folder)).changed is False
    assert in_step(store, index)


def test_the_indexer_keeps_bm25_in_step(tmp_path) -> None:
    store = ChunkStore(open_client(tmp_path / "home", None), "news", "hash-256", 256)
    folder = tmp_path / "bm25"
    corpus = tmp_path / "articles"
    corpus.mkdir()
    for path in iter_article_files([SEEDS_DIR]):
        (corpus / path.name).write_bytes(path.read_bytes())
    index_paths([corpus], store, HashEmbedder(), progress=False, lexical=LexicalWriter(folder))
    index = LexicalIndex(folder)
    assert in_step(store, index)
    victim, changed = sorted(corpus.iterdir())[:2]
    victim.unlink()
    text = changed.read_text(encoding="utf-8").replace(". ", ". Zanzibar quokkas agreed. ")
    changed.write_text(text, encoding="utf-8")
    report = index_paths(
        [corpus], store, HashEmbedder(), progress=False, lexical=LexicalWriter(folder)
    )
    assert report.removed and report.updated
    assert in_step(store, index)
    held = LexicalWriter(folder).files()
    assert held == {p: r.file_sha256 for p, r in store.file_records().items()}
    top = index.search("Zanzibar quokka", 1)
    assert top and store.get_chunks([top[0][0]])[0].path == str(changed.resolve())


def test_unknown_words_and_an_absent_index_find_nothing(tmp_path) -> None:
    assert LexicalIndex(tmp_path / "none").search(QUESTION, 5) == []
    os.makedirs(tmp_path / "bm25")
    LexicalWriter(tmp_path / "bm25").commit()  # an empty collection's index
    assert LexicalIndex(tmp_path / "bm25").search(QUESTION, 5) == []


@pytest.mark.parametrize(
    "question",
    [
        QUESTION,
        "the Yongbyon summit of the two leaders",
        "what did the state department official say",
    ],
)
def test_skipping_common_terms_never_changes_the_top(tmp_path, seed_files, monkeypatch, question):
    folder = tmp_path / "bm25"
    _write_all(folder, seed_files, per_commit=2)  # several segments
    monkeypatch.setattr("index.storing.lexical.COMMON_SHARE", 1.0)  # every term scored everywhere
    full = LexicalIndex(folder).search(question, 8)
    index = LexicalIndex(folder)
    split = 0
    for share in (0.02, 0.1, 0.2, 0.3):  # from most terms common to a few
        monkeypatch.setattr("index.storing.lexical.COMMON_SHARE", share)
        pruned = index.search(question, 8)
        assert [c for c, _ in pruned] == [c for c, _ in full]
        assert [s for _, s in pruned] == pytest.approx([s for _, s in full], rel=1e-5)
        sizes = [sum(len(seg.postings(h)[0]) for seg in index.current().segments)
                 for h in query_terms(question)]  # fmt: skip
        common = [d for d in sizes if d > share * index.live_docs]
        split += 0 < len(common) < len([d for d in sizes if d])
    assert split  # the pruned path (rare and common terms both present) was taken
