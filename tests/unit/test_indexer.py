"""Incremental, idempotent indexing into a real (temporary) Chroma store with hash embeddings."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from unit_helpers import SEED_FILES, seed

from index.embedding.embedders import HashEmbedder
from index.indexer import index_paths
from qa import Assistant

N = len(SEED_FILES)
OLD = "gas pipeline project"
NEW = "railway line project"


@pytest.fixture
def assistant(make_settings) -> Assistant:
    return Assistant(make_settings())


def assert_store_consistent(assistant: Assistant) -> None:
    """No duplicate ids; count == sum of file records; every chunk is a slice of its file."""
    chunks = list(assistant.store.iter_chunks())
    ids = [c.id for c in chunks]
    assert len(ids) == len(set(ids))
    records = assistant.store.file_records()
    assert assistant.store.count() == len(chunks) == sum(r.chunks for r in records.values())
    per_path: dict[str, int] = {}
    for c in chunks:
        per_path[c.path] = per_path.get(c.path, 0) + 1
        assert c.path in records
        assert Path(c.path).read_text(encoding="utf-8")[c.start : c.end] == c.text
    assert per_path == {p: r.chunks for p, r in records.items()}


def test_first_run_adds_every_seed_then_nothing_changes(assistant, seeds_copy) -> None:
    first = assistant.index([seeds_copy])
    assert sorted(first.added) == [p.name for p in SEED_FILES]
    assert first.updated == first.unchanged == first.removed == first.skipped == []
    assert first.chunks_embedded == assistant.store.count() > 0
    assert_store_consistent(assistant)
    records = assistant.store.file_records()
    assert set(records) == {str((seeds_copy / p.name).resolve()) for p in SEED_FILES}
    r000 = records[str((seeds_copy / seed("000").name).resolve())]
    assert r000.published == "2019-04-17T11:00:23"
    assert r000.title.startswith("Biegun to Visit Moscow")
    assert [r.source for r in assistant.documents()] == [p.name for p in SEED_FILES]

    second = assistant.index([seeds_copy])
    assert second.chunks_embedded == 0
    assert len(second.unchanged) == N
    assert second.added == second.updated == second.removed == second.skipped == []
    assert second.summary().startswith("0 added, 0 updated, 5 unchanged")
    assert assistant.store.count() == first.chunks_embedded


def test_files_read_by_an_older_extraction_are_read_again_once(assistant, seeds_copy) -> None:
    from dataclasses import replace

    assistant.index([seeds_copy])
    store = assistant.store
    old = [replace(r, article=replace(r.article, author=""), extraction=0)
           for r in store.file_records().values()]  # fmt: skip
    store.put_files(old)  # as an index written before bylines were read
    again = assistant.index([seeds_copy])
    assert sorted(again.updated) == [p.name for p in SEED_FILES] and again.unchanged == []
    r000 = store.file_records()[str((seeds_copy / seed("000").name).resolve())]
    assert r000.author == "Albert Kim"
    assert_store_consistent(assistant)
    assert len(assistant.index([seeds_copy]).unchanged) == N


def test_modified_file_is_replaced(assistant, seeds_copy) -> None:
    assistant.index([seeds_copy])
    before = assistant.store.count()
    path = seeds_copy / seed("004").name
    path.write_text(path.read_text(encoding="utf-8").replace(OLD, NEW), encoding="utf-8")

    report = assistant.index([seeds_copy])
    assert report.updated == [path.name]
    assert len(report.unchanged) == N - 1 and report.added == []
    assert 0 < report.chunks_embedded < before
    texts = [c.text for c in assistant.store.iter_chunks()]
    assert not any(OLD in t for t in texts)
    assert any(NEW in t for t in texts)
    assert_store_consistent(assistant)
    assert assistant.store.file_records()[str(path.resolve())].file_sha256 == (
        hashlib.sha256(path.read_bytes()).hexdigest()
    )


def test_a_changed_file_stays_searchable_until_its_new_chunks_are_in(assistant, seeds_copy) -> None:
    assistant.index([seeds_copy])
    before = sorted(c.id for c in assistant.store.iter_chunks())
    path = seeds_copy / seed("004").name
    path.write_text(path.read_text(encoding="utf-8").replace(OLD, NEW), encoding="utf-8")

    class BrokenEmbedder(HashEmbedder):  # the re-index dies while embedding the new version
        def embed(self, texts):
            raise RuntimeError("embedder down")

    old_sha = assistant.store.file_records()[str(path.resolve())].file_sha256
    with pytest.raises(RuntimeError):
        index_paths([seeds_copy], assistant.store, BrokenEmbedder(), progress=False)
    # Readers still find the old version, whole, and its record still says so (the next run
    # sees the new hash and replaces it).
    assert sorted(c.id for c in assistant.store.iter_chunks()) == before
    assert assistant.store.file_records()[str(path.resolve())].file_sha256 == old_sha
    assert assistant.index([seeds_copy]).updated == [path.name]
    assert_store_consistent(assistant)


def test_deleted_file_is_removed(assistant, seeds_copy) -> None:
    assistant.index([seeds_copy])
    gone = seeds_copy / seed("002").name
    gone.unlink()
    report = assistant.index([seeds_copy])
    assert report.removed == [gone.name]
    assert str(gone.resolve()) not in assistant.store.file_records()
    assert not any(c.source == gone.name for c in assistant.store.iter_chunks())
    assert_store_consistent(assistant)


def test_duplicate_content_under_another_name_is_skipped(assistant, seeds_copy) -> None:
    shutil.copy(seeds_copy / seed("004").name, seeds_copy / "zz_copy_of_004.txt")
    report = assistant.index([seeds_copy])
    assert len(report.added) == N
    assert [name for name, _ in report.skipped] == ["zz_copy_of_004.txt"]
    reason = report.skipped[0][1]
    assert "same content" in reason and seed("004").name in reason
    assert not any(c.source == "zz_copy_of_004.txt" for c in assistant.store.iter_chunks())
    assert_store_consistent(assistant)


def test_unreadable_files_are_skipped_and_the_rest_indexed(assistant, seeds_copy) -> None:
    (seeds_copy / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)))
    (seeds_copy / "empty.md").write_text("")
    (seeds_copy / "scan.pdf").write_bytes(b"%PDF-1.4 garbage")
    (seeds_copy / "notes.docx").write_text("not an article type; never listed")
    report = assistant.index([seeds_copy])
    assert len(report.added) == N
    reasons = dict(report.skipped)
    assert set(reasons) == {"photo.txt", "empty.md", "scan.pdf"}
    assert "binary" in reasons["photo.txt"]
    assert "empty" in reasons["empty.md"]
    assert "PDF" in reasons["scan.pdf"]
    assert_store_consistent(assistant)


def test_missing_path_is_reported(assistant, tmp_path) -> None:
    report = assistant.index([tmp_path / "nowhere"])
    assert report.skipped == [(str(tmp_path / "nowhere"), "no such file or folder")]
    assert assistant.store.count() == 0


def test_single_files_and_idempotent_upserts(assistant, seeds_copy) -> None:
    one = seeds_copy / seed("000").name
    report = assistant.index([one, one])
    assert report.added == [one.name]
    assert_store_consistent(assistant)
    assert assistant.index([one]).unchanged == [one.name]


def test_small_flush_batches_give_the_same_store(make_settings, seeds_copy, tmp_path) -> None:
    a = Assistant(make_settings())
    a.index([seeds_copy])
    b = Assistant(make_settings(home=tmp_path / "other_home"))
    report = index_paths([seeds_copy], b.store, HashEmbedder(), batch_size=1, progress=False)
    assert len(report.added) == N
    assert sorted(c.id for c in a.store.iter_chunks()) == sorted(
        c.id for c in b.store.iter_chunks()
    )


def test_ensure_indexed_indexes_the_default_corpus_once(make_settings, seeds_copy) -> None:
    assistant = Assistant(make_settings(default_corpus=seeds_copy))
    report = assistant.ensure_indexed()
    assert report is not None and len(report.added) == N
    assert assistant.ensure_indexed() is None


# --- known bugs --------------------------------------------------------------------------------
def test_same_file_name_in_two_folders_keeps_both_files_chunks(assistant, tmp_path) -> None:
    text = seed("004").read_text(encoding="utf-8")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "report.txt").write_text(text, encoding="utf-8")
    (tmp_path / "b" / "report.txt").write_text(text.replace(OLD, NEW), encoding="utf-8")
    report = assistant.index([tmp_path / "a", tmp_path / "b"])
    assert len(report.added) == 2
    assert_store_consistent(assistant)


def test_file_changed_into_a_duplicate_loses_its_old_chunks(assistant, tmp_path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    text = seed("004").read_text(encoding="utf-8")
    (folder / "a.txt").write_text(text, encoding="utf-8")
    (folder / "b.txt").write_text(text.replace(OLD, NEW), encoding="utf-8")
    assistant.index([folder])
    (folder / "b.txt").write_text(text, encoding="utf-8")  # now a copy of a.txt
    assistant.index([folder])
    assert not any(NEW in c.text for c in assistant.store.iter_chunks())


def test_file_that_became_unreadable_loses_its_old_chunks(assistant, seeds_copy) -> None:
    assistant.index([seeds_copy])
    emptied = seeds_copy / seed("000").name
    emptied.write_text("")
    report = assistant.index([seeds_copy])
    assert [name for name, _ in report.skipped] == [emptied.name]
    assert not any(c.source == emptied.name for c in assistant.store.iter_chunks())


def test_former_duplicate_is_indexed_when_the_original_changes(assistant, seeds_copy) -> None:
    shutil.copy(seeds_copy / seed("004").name, seeds_copy / "zz_copy.txt")
    assistant.index([seeds_copy])
    original = seeds_copy / seed("004").name
    original.write_text(original.read_text(encoding="utf-8").replace(OLD, NEW), encoding="utf-8")
    report = assistant.index([seeds_copy])
    assert report.updated == [original.name]
    assert report.added == ["zz_copy.txt"]
    assert report.skipped == []


def test_a_second_writer_waits_then_gets_a_clear_refusal(tmp_path) -> None:
    import pytest

    from index.locking import IndexBusyError, collection_lock

    with collection_lock(tmp_path, "news"):
        busy = pytest.raises(IndexBusyError, match="being indexed by another process")
        with busy, collection_lock(tmp_path, "news", wait_s=0.3):
            pass
        with collection_lock(tmp_path, "other", wait_s=0.3):  # other collections are free
            pass
    with collection_lock(tmp_path, "news", wait_s=0.3):  # released after use
        pass


def test_symlinks_are_followed_once_and_dangling_ones_ignored(assistant, seeds_copy) -> None:
    (seeds_copy / "alias.txt").symlink_to(seeds_copy / seed("000").name)
    (seeds_copy / "dangling.txt").symlink_to(seeds_copy / "nothing-here.txt")
    report = assistant.index([seeds_copy])
    assert len(report.added) == N  # the alias is the same file, indexed once
    assert report.skipped == []
    assert_store_consistent(assistant)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_is_skipped_as_permission_denied(assistant, seeds_copy) -> None:
    locked = seeds_copy / "locked.txt"
    locked.write_text("A locked article about a summit in Vladivostok. " * 5)
    locked.chmod(0)
    report = assistant.index([seeds_copy])
    assert dict(report.skipped)["locked.txt"] == "permission denied"
    assert len(report.added) == N


def test_a_read_refused_by_the_system_is_skipped_as_permission_denied(
    assistant, seeds_copy, monkeypatch
) -> None:
    """The same path for root, who cannot be refused by file modes: the read itself fails."""
    locked = seeds_copy / "locked.txt"
    locked.write_text("A locked article about a summit in Vladivostok. " * 5)
    real_read = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "locked.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    report = assistant.index([seeds_copy])
    assert dict(report.skipped)["locked.txt"] == "permission denied"
    assert len(report.added) == N
