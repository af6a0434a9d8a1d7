"""Where a collection's BM25 index lives, and bringing it in step with the vector store.

The vector store is the truth: its file records say which file versions are indexed. The
lexical index records the same (path, sha256) pairs, so after any crash the difference
between the two is exactly the files to drop or to read back from the store (no re-embedding,
no full rebuild). `qa index` does this before each run; a serving process does it once at
start-up when the two disagree and nobody is indexing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from index.storing.lexical import LexicalIndex
from index.storing.lexical_writer import LexicalWriter
from index.storing.store import Store

log = logging.getLogger(__name__)

# Files read back from the store per call while catching up.
SYNC_BATCH = 200


def lexical_folder(root: Path, chroma_url: str | None, collection: str) -> Path:
    """`root/<store>/<collection>`: one index per collection of each store, so an embedded
    collection and a server's collection of the same name never share one."""
    if chroma_url:
        parsed = urlparse(chroma_url if "://" in chroma_url else f"http://{chroma_url}")
        store = re.sub(r"[^A-Za-z0-9._-]", "_", f"{parsed.hostname}_{parsed.port or 8000}")
    else:
        store = "local"
    return root / store / collection


@dataclass
class SyncReport:
    dropped: int = 0
    added: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.dropped or self.added)


def in_step(store: Store, index: LexicalIndex) -> bool:
    """Cheap check (one count call): the last index run finished, and BM25 holds as many
    chunks as the store. Anything else is checked file by file by `sync`."""
    view = index.current()
    return index.exists() and not view.indexing and view.live_docs == store.count()


def sync(store: Store, writer: LexicalWriter) -> SyncReport:
    """Make the lexical index hold exactly the store's indexed files; caller holds the lock."""
    records = store.file_records()
    held = writer.files()
    stale = [p for p, sha in held.items() if p not in records or records[p].file_sha256 != sha]
    missing = [p for p, r in records.items() if held.get(p) != r.file_sha256]
    report = SyncReport(dropped=len(stale), added=len(missing))
    if report.changed:
        log.warning(
            "lexical index of %r: %d files dropped, %d read back from the store",
            store.name, len(stale), len(missing),
        )  # fmt: skip
    writer.delete(stale)
    for i in range(0, len(missing), SYNC_BATCH):
        paths = missing[i : i + SYNC_BATCH]
        by_path: dict[str, list] = {p: [] for p in paths}
        for chunk in store.chunks_of(paths):
            by_path.setdefault(chunk.path, []).append(chunk)
        for path in paths:
            writer.add_file(path, records[path].file_sha256, by_path[path])
    writer.finish()
    return report
