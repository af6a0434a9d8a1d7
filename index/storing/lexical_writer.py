"""Changes to the on-disk BM25 index (index/storing/lexical.py): stage, then commit atomically.

Only the process holding the collection's index lock writes. A commit writes the staged
chunks as a new segment, records deleted files per segment in a new manifest, merges small
segments when there are too many, and replaces the manifest with one rename, so a reader or
a crash sees either the old index or the new one, never a mix. Files no manifest refers to
are removed one generation later, so a reader still opening the previous one finds them.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.storing.lexical import FORMAT, MANIFEST, Segment, read_manifest, term_hash
from index.text import tokens
from index.types import Chunk

# More segments cost a little per query; merging costs a rewrite. Past this count, the
# smaller segments are merged into one.
MAX_SEGMENTS = 8


def chunk_words(chunk: Chunk) -> list[str]:
    """What BM25 reads of a chunk: its article's title and its text."""
    return tokens(f"{chunk.title} {chunk.text}")


@dataclass
class _Staged:
    ids: list[str] = field(default_factory=list)
    words: list[list[str]] = field(default_factory=list)
    file_of: list[int] = field(default_factory=list)
    files: dict[str, tuple[int, str]] = field(default_factory=dict)  # path -> (index, sha)

    def file_index(self, path: str, sha: str) -> int:
        if path not in self.files:
            self.files[path] = (len(self.files), sha)
        return self.files[path][0]

    def drop(self, paths: set[str]) -> None:
        gone = {self.files[p][0] for p in paths if p in self.files}
        if not gone:
            return
        keep = [i for i, f in enumerate(self.file_of) if f not in gone]
        self.ids = [self.ids[i] for i in keep]
        self.words = [self.words[i] for i in keep]
        self.file_of = [self.file_of[i] for i in keep]
        for p in paths:
            self.files.pop(p, None)
        # Renumber the files that are left, so indices stay dense.
        renumber = {old: new for new, (old, _) in enumerate(sorted(self.files.values()))}
        self.files = {p: (renumber[i], s) for p, (i, s) in self.files.items()}
        self.file_of = [renumber[f] for f in self.file_of]

    def __len__(self) -> int:
        return len(self.ids)


class LexicalWriter:
    """Stages additions and deletions for the index in `folder`; `commit()` makes them live."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        manifest = read_manifest(folder)
        self.generation = int(manifest["generation"]) if manifest else 0
        self._segments: list[dict[str, Any]] = list(manifest["segments"]) if manifest else []
        self._previous: set[str] = _referenced(manifest)
        self._staged = _Staged()
        self._deleted: dict[str, set[int]] = {}  # segment name -> file indices, not yet live
        self._file_maps: dict[str, dict[str, tuple[int, str]]] = {}
        self._dirty = manifest is None
        # True from `begin()` to `finish()`: a manifest still saying so after the writer is
        # gone means an index run died, and BM25 must be checked against the store.
        self.indexing = bool(manifest and manifest.get("indexing"))

    # --- reading what is there -------------------------------------------------------------
    def _segment_files(self, name: str) -> dict[str, tuple[int, str]]:
        if name not in self._file_maps:
            rows = json.loads((self.folder / name / "files.json").read_text(encoding="utf-8"))
            self._file_maps[name] = {p: (i, s) for i, (p, s) in enumerate(rows)}
        return self._file_maps[name]

    def files(self) -> dict[str, str]:
        """Every file the index holds once staged changes are committed: path -> sha256."""
        out: dict[str, str] = {}
        for seg in self._segments:
            gone = set(seg.get("deleted_files", [])) | self._deleted.get(seg["name"], set())
            for path, (i, sha) in self._segment_files(seg["name"]).items():
                if i not in gone:
                    out[path] = sha
        out.update({p: s for p, (_, s) in self._staged.files.items()})
        return out

    # --- staging ---------------------------------------------------------------------------
    def delete(self, paths: Iterable[str]) -> None:
        wanted = set(paths)
        if not wanted:
            return
        self._staged.drop(wanted)
        for seg in self._segments:
            held = self._segment_files(seg["name"])
            hits = {held[p][0] for p in wanted if p in held}
            if hits:
                self._deleted.setdefault(seg["name"], set()).update(hits)
                self._dirty = True

    def add_file(self, path: str, sha: str, chunks: Sequence[Chunk]) -> None:
        """Stage one file and its chunks (none is fine: the file is still recorded)."""
        self.add_words(path, sha, [(c.id, chunk_words(c)) for c in chunks])

    def add_words(self, path: str, sha: str, docs: Sequence[tuple[str, list[str]]]) -> None:
        """Stage one file's chunks, already split into BM25 words (benchmarks reuse them)."""
        self.delete([path])
        index = self._staged.file_index(path, sha)
        for chunk_id, words in docs:
            self._staged.ids.append(chunk_id)
            self._staged.words.append(words)
            self._staged.file_of.append(index)
        self._dirty = True

    @property
    def staged_docs(self) -> int:
        return len(self._staged)

    # --- committing ------------------------------------------------------------------------
    def begin(self) -> None:
        """Mark an index run as under way (before the store changes)."""
        self.indexing = self._dirty = True
        self.commit()

    def finish(self) -> None:
        """Commit what is staged and mark the run as complete."""
        self.indexing, self._dirty = False, True
        self.commit()

    def commit(self) -> bool:
        """Make staged changes live in one rename; False when there was nothing to do."""
        if not self._dirty:
            return False
        self.generation += 1
        segments = [self._with_deletions(seg) for seg in self._segments]
        if self._staged.files:
            name = f"seg-{self.generation}"
            _write_segment(self.folder / name, *_postings_of(self._staged), self._staged)
            segments.append(_describe(self.folder / name, name, []))
        segments = [s for s in segments if s["live"] > 0 or s["files_live"] > 0]
        if len(segments) > MAX_SEGMENTS:
            segments = self._merge(segments)
        manifest = {"format": FORMAT, "generation": self.generation, "indexing": self.indexing,
                    "segments": segments}  # fmt: skip
        _write_json_atomically(self.folder / MANIFEST, manifest)
        self._clean(keep=self._previous | _referenced(manifest))
        self._previous = _referenced(manifest)
        self._segments = segments
        self._staged = _Staged()
        self._deleted = {}
        self._dirty = False
        return True

    def _with_deletions(self, seg: dict[str, Any]) -> dict[str, Any]:
        extra = self._deleted.get(seg["name"])
        if not extra:
            return seg
        deleted = sorted(set(seg.get("deleted_files", [])) | extra)
        return _describe(self.folder / seg["name"], seg["name"], deleted)

    def _merge(self, segments: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rewrite the smaller segments, without their deleted files, as one."""
        by_size = sorted(segments, key=lambda s: s["live"])
        small = by_size[: len(segments) - MAX_SEGMENTS // 2 + 1]
        name = f"seg-{self.generation}-merged"
        _merge_segments(
            [Segment(self.folder / s["name"], s.get("deleted_files", [])) for s in small],
            self.folder / name,
        )
        kept = [s for s in segments if s not in small]
        return [*kept, _describe(self.folder / name, name, [])]

    def _clean(self, keep: set[str]) -> None:
        for entry in self.folder.iterdir():
            if entry.name.startswith("seg-") and entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)
                self._file_maps.pop(entry.name, None)
            elif entry.name.endswith(".tmp"):
                entry.unlink(missing_ok=True)


def _referenced(manifest: dict[str, Any] | None) -> set[str]:
    return {s["name"] for s in manifest["segments"]} if manifest else set()


def _describe(folder: Path, name: str, deleted: list[int]) -> dict[str, Any]:
    seg = Segment(folder, deleted)
    live = seg.live_mask()
    files = len(seg.files())
    return {
        "name": name,
        "docs": seg.size,
        "live": int(live.sum()),
        "live_length": int(np.asarray(seg.lengths, dtype=np.int64)[live].sum()),
        "files_live": files - len(deleted),
        "deleted_files": deleted,
    }


def _postings_of(staged: _Staged) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(term hash, document, term frequency) per posting, and words per document."""
    vocab: dict[str, int] = {}
    flat: list[int] = []
    lengths = np.zeros(len(staged), dtype=np.int32)
    for doc, words in enumerate(staged.words):
        flat.extend(vocab.setdefault(w, len(vocab)) for w in words)
        lengths[doc] = len(words)
    n = max(len(staged), 1)
    term = np.asarray(flat, dtype=np.int64)
    doc_of = np.repeat(np.arange(len(staged), dtype=np.int64), lengths)
    pairs, counts = np.unique(term * n + doc_of, return_counts=True)
    hashes = np.fromiter((term_hash(w) for w in vocab), dtype=np.uint64, count=len(vocab))
    return (
        hashes[pairs // n],
        (pairs % n).astype(np.int32),
        np.minimum(counts, np.iinfo(np.uint16).max).astype(np.uint16),
        lengths,
    )


def _write_segment(
    folder: Path,
    hashes: np.ndarray,
    docs: np.ndarray,
    tfs: np.ndarray,
    lengths: np.ndarray,
    staged: _Staged,
) -> None:
    files = [(p, s) for p, (_, s) in sorted(staged.files.items(), key=lambda kv: kv[1][0])]
    _write_arrays(
        folder, hashes, docs, tfs, lengths, np.asarray(staged.ids, dtype=np.bytes_),
        np.asarray(staged.file_of, dtype=np.int32), files,
    )  # fmt: skip


def _write_arrays(
    folder: Path,
    hashes: np.ndarray,
    docs: np.ndarray,
    tfs: np.ndarray,
    lengths: np.ndarray,
    ids: np.ndarray,
    file_of: np.ndarray,
    files: list[tuple[str, str]],
) -> None:
    """Sort postings by (term, document) and write the segment, durably, before any manifest
    can name it."""
    order = np.lexsort((docs, hashes))
    hashes, docs, tfs = hashes[order], docs[order], tfs[order]
    terms, starts = np.unique(hashes, return_index=True)
    offsets = np.append(starts, len(hashes)).astype(np.int64)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    arrays = {"terms": terms, "offsets": offsets, "docs": docs, "tfs": tfs,
              "lengths": lengths, "ids": ids, "file_of": file_of}  # fmt: skip
    for name, array in arrays.items():
        with (tmp / f"{name}.npy").open("wb") as handle:
            np.save(handle, array)
            handle.flush()
            os.fsync(handle.fileno())
    _write_json_atomically(tmp / "files.json", [list(f) for f in files])
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)


def _merge_segments(segments: list[Segment], target: Path) -> None:
    hashes, docs, tfs, lengths, ids, file_of = [], [], [], [], [], []
    files: list[tuple[str, str]] = []
    base = 0
    for seg in segments:
        live = seg.live_mask()
        renumber = np.cumsum(live, dtype=np.int64) - 1 + base
        all_files = seg.files()
        gone = set(seg.deleted_files)
        kept_files = [i for i in range(len(all_files)) if i not in gone]
        file_renumber = np.full(len(all_files), -1, dtype=np.int32)
        file_renumber[kept_files] = np.arange(len(kept_files), dtype=np.int32) + len(files)
        term_of = np.repeat(np.asarray(seg.terms), np.diff(np.asarray(seg.offsets)))
        seg_docs = np.asarray(seg.docs)
        keep = live[seg_docs]
        hashes.append(term_of[keep])
        docs.append(renumber[seg_docs[keep]].astype(np.int32))
        tfs.append(np.asarray(seg.tfs)[keep])
        lengths.append(np.asarray(seg.lengths)[live])
        ids.append(np.asarray(seg.ids)[live])
        file_of.append(file_renumber[np.asarray(seg.file_of)[live]])
        files += [all_files[i] for i in kept_files]
        base += int(live.sum())
    width = max((a.dtype.itemsize for a in ids), default=1)
    _write_arrays(
        target, np.concatenate(hashes), np.concatenate(docs), np.concatenate(tfs),
        np.concatenate(lengths), np.concatenate([a.astype(f"S{width}") for a in ids]),
        np.concatenate(file_of), files,
    )  # fmt: skip


def _write_json_atomically(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
