"""Chunks and their embeddings in Chroma: on disk by default, or on a Chroma server.

Two collections per corpus: `<name>` holds the chunks, `<name>__files` one record per indexed
file (path, sha256, title, chunk count). The file records make "is this file unchanged?" a
single lookup, and they are written last, so a crash mid-file leaves the file looking
un-indexed and the next run redoes it.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlparse

import numpy as np

from index.errors import UserError
from index.locking import IndexBusyError, opening_store
from index.retry import Retry
from index.storing.nodes import LAYOUT, chroma_metadata, chunk_from_record, needs_rewrite
from index.types import ArticleFields, ArticleInfo, Chunk


class StoreError(UserError):
    """The store cannot be opened or used; the message says what to do."""


T = TypeVar("T")
log = logging.getLogger(__name__)

# A Chroma server that restarts or drops a connection usually answers again within a second
# or two; beyond that the person is told, and the next question tries afresh.
SERVER_RETRIES = 3
SERVER_RETRY_WAIT_S = 0.5
FILE_PAGE = 25_000  # file records per call (each call costs ~0.7 s at 500k records)


def _is_transient(exc: Exception) -> bool:
    """Connection-level failures (server down, restarting, slow) are worth a retry."""
    import httpx

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (httpx.TransportError, ConnectionError, TimeoutError)):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(exc).lower()
    return any(w in text for w in ("connection refused", "could not connect", "timed out"))


@dataclass
class FileRecord(ArticleFields):
    """What the store keeps about one indexed file (flattened into Chroma's metadata)."""

    article: ArticleInfo
    file_sha256: str
    chunks: int
    # What version of metadata extraction read the file: an older one is read again.
    extraction: int = 0
    feed: str = ""  # the feed that listed it ("" when not from a feed)
    minhash: str = ""  # the body's MinHash signature (index/syndication/near_duplicates.py)
    # The body's key facts (index/syndication/near_duplicates.py); "" in a record written
    # before they were kept: unknown, so no new copy joins its group.
    facts: str = ""

    def flat(self) -> dict[str, Any]:
        """Its own fields and its article's side by side: Chroma's flat metadata."""
        own = {k: v for k, v in asdict(self).items() if k != "article"}
        return {**asdict(self.article), **own}

    @classmethod
    def from_metadata(cls, meta: dict[str, Any]) -> FileRecord:
        """A file record from its Chroma metadata (fields added later default when absent)."""
        own = {k: meta[k] for k in cls.__dataclass_fields__ if k in meta and k != "article"}
        return cls(article=ArticleInfo.from_metadata(meta), **own)


@dataclass
class StoredHit:
    chunk: Chunk
    distance: float


def _chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def open_client(home: Path, chroma_url: str | None) -> Any:
    """A Chroma client: HTTP when a server URL is set, else persistent under `home`."""
    import chromadb

    if chroma_url:
        parsed = urlparse(chroma_url if "://" in chroma_url else f"http://{chroma_url}")
        if not parsed.hostname:
            raise StoreError(f"bad Chroma server URL {chroma_url!r}; use http://host:port")
        try:
            client = chromadb.HttpClient(
                host=parsed.hostname,
                port=parsed.port or 8000,
                ssl=parsed.scheme == "https",
                settings=_chroma_settings(),
            )
            client.heartbeat()
        except Exception as exc:  # chromadb raises several types for "cannot connect"
            raise StoreError(
                f"cannot reach the Chroma server at {chroma_url} ({exc.__class__.__name__}); "
                "is `chroma run` up?"
            ) from exc
        return client
    path = home / "chroma"
    try:
        path.mkdir(parents=True, exist_ok=True)
        with opening_store(home):
            return chromadb.PersistentClient(path=str(path), settings=_chroma_settings())
    except IndexBusyError:
        raise
    except Exception as exc:
        if "database is locked" in str(exc):  # busy, not broken: nothing to move away
            raise StoreError(
                f"the index at {path} is busy: another process is writing to it; try again "
                "in a moment"
            ) from exc
        raise StoreError(
            f"the index at {path} cannot be opened ({exc.__class__.__name__}: {exc}); "
            "move it away and run `qa index` to rebuild it"
        ) from exc


def list_collections(client: Any) -> list[str]:
    """Corpus names in this Chroma (each corpus also has a `<name>__files` companion)."""
    names = [getattr(c, "name", c) for c in client.list_collections()]
    return sorted(n for n in names if not n.endswith("__files"))


class Store(Protocol):
    """What indexing and answering need of a chunk store (ChunkStore: Chroma, embedded or
    as a server). A store never embeds: vectors come from our embedder."""

    name: str

    def add_chunks(self, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None: ...
    def delete_file(self, path: str) -> None: ...
    def delete_chunks_of(self, *paths: str) -> None: ...
    def put_file(self, record: FileRecord) -> None: ...
    def put_files(self, records: Sequence[FileRecord]) -> None: ...
    def file_records(self) -> dict[str, FileRecord]: ...
    def count(self) -> int: ...
    def group_members(self, groups: Sequence[str]) -> dict[str, list[FileRecord]]: ...
    def query(
        self,
        embedding: np.ndarray,
        n: int,
        where: dict[str, Any] | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[StoredHit]: ...
    def nearest_ids(self, embedding: np.ndarray, n: int) -> list[tuple[str, float]]: ...
    def iter_chunks(self, page: int = 5000) -> Iterator[Chunk]: ...
    def chunks_of(self, paths: Sequence[str]) -> list[Chunk]: ...
    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]: ...


class ChunkStore:
    """One corpus in Chroma. Chroma never embeds anything itself: we pass vectors in."""

    def __init__(self, client: Any, collection: str, embedder_name: str, dimension: int) -> None:
        self.client = client
        self.name = collection
        self.embedder_name = embedder_name
        try:
            self.chunks = client.get_or_create_collection(
                collection,
                metadata={
                    "hnsw:space": "cosine",
                    "embedder": embedder_name,
                    "dimension": dimension,
                    "layout": LAYOUT,
                },
                embedding_function=None,
            )
            self.files = client.get_or_create_collection(
                f"{collection}__files", metadata={"hnsw:space": "l2"}, embedding_function=None
            )
        except Exception as exc:
            raise StoreError(f"cannot open collection {collection!r}: {exc}") from exc
        stored = (self.chunks.metadata or {}).get("embedder")
        if stored and stored != embedder_name:
            raise StoreError(
                f"collection {collection!r} was built with embedder {stored!r}, not "
                f"{embedder_name!r}; use another collection (QA_COLLECTION) or the same embedder"
            )
        stored_dimension = (self.chunks.metadata or {}).get("dimension")
        if stored_dimension is not None and int(stored_dimension) != dimension:
            raise StoreError(
                f"collection {collection!r} holds {stored_dimension}-dimensional vectors, but "
                f"embedder {embedder_name!r} makes {dimension}-dimensional ones; use another "
                "collection (QA_COLLECTION) or the embedder it was built with"
            )
        # HttpClient talks to a server through chromadb's FastAPI client class.
        self.remote = "fastapi" in str(client.get_settings().chroma_api_impl).lower()
        self._batch = max(1, min(int(getattr(client, "get_max_batch_size", lambda: 5000)()), 5000))
        if (self.chunks.metadata or {}).get("layout") != LAYOUT:
            self._migrate_to_nodes()

    def _migrate_to_nodes(self) -> None:
        """Rewrite older records (offsets in metadata keys, or no `published_day`) as
        llama-index nodes of the current layout, in place.

        Embeddings and ids are kept, so nothing is re-embedded; each page is an idempotent
        upsert, so an interrupted migration simply continues on the next open."""
        legacy = 0
        offset = 0
        while True:
            read = partial(
                self.chunks.get,
                include=["documents", "metadatas", "embeddings"],
                limit=self._batch,
                offset=offset,
            )
            got = self._call("reading chunks to migrate", read)
            if not got["ids"]:
                break
            rows = [
                (i, d, m, e)
                for i, d, m, e in zip(
                    got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True
                )
                if needs_rewrite(m)
            ]
            if rows and not legacy:
                log.warning(
                    "collection %r holds chunks in an older layout; rewriting them as "
                    "llama-index nodes with a filterable date (no re-embedding)",
                    self.name,
                )
            if rows:
                chunks = [chunk_from_record(i, d, m) for i, d, m, _ in rows]
                upsert = partial(
                    self.chunks.upsert,
                    ids=[i for i, *_ in rows],
                    embeddings=[list(map(float, e)) for *_, e in rows],
                    documents=[c.text for c in chunks],
                    metadatas=[chroma_metadata(c) for c in chunks],
                )
                self._call("migrating chunks", upsert)
                legacy += len(rows)
            offset += len(got["ids"])
        # Chroma refuses metadata that restates the distance function, so hnsw keys stay out.
        kept = {k: v for k, v in (self.chunks.metadata or {}).items() if not k.startswith("hnsw:")}
        self._call(
            "marking the layout", lambda: self.chunks.modify(metadata={**kept, "layout": LAYOUT})
        )
        if legacy:
            log.warning("collection %r: %d chunks migrated", self.name, legacy)

    def _call(self, action: str, fn: Callable[[], T]) -> T:
        """Run one store operation; retry a bounded number of times when a server connection
        fails, and turn every failure into a StoreError a person can act on.

        Every write here is an idempotent upsert or delete, so a retry cannot duplicate."""
        retry = Retry(SERVER_RETRIES, SERVER_RETRY_WAIT_S) if self.remote else Retry(0)
        for attempt in retry.attempts():
            try:
                return fn()
            except StoreError:
                raise
            except Exception as exc:
                transient = _is_transient(exc)
                if transient and retry.again(attempt, action, type(exc).__name__):
                    continue
                where = "the Chroma server" if self.remote else "the index"
                hint = (
                    "is the server running? Try again when it is back"
                    if transient
                    else "if this persists, move the index away and run `qa index` to rebuild it"
                )
                raise StoreError(
                    f"{where} failed while {action} ({exc.__class__.__name__}: "
                    f"{str(exc)[:160]}); {hint}"
                ) from exc
        raise AssertionError("unreachable")

    # --- writing ---------------------------------------------------------------------------
    def add_chunks(self, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None:
        for i in range(0, len(chunks), self._batch):
            part = chunks[i : i + self._batch]
            upsert = partial(
                self.chunks.upsert,
                ids=[c.id for c in part],
                embeddings=embeddings[i : i + self._batch].tolist(),
                documents=[c.text for c in part],
                metadatas=[chroma_metadata(c) for c in part],
            )
            self._call("adding chunks", upsert)

    def delete_file(self, path: str) -> None:
        self.delete_chunks_of(path)
        self._call("removing a file", lambda: self.files.delete(ids=[_file_id(path)]))

    def delete_chunks_of(self, *paths: str) -> None:
        """Remove every chunk of these files (one call: Chroma pays per call, not per row)."""
        if not paths:
            return
        where = {"path": paths[0]} if len(paths) == 1 else {"path": {"$in": list(paths)}}
        self._call("removing chunks", lambda: self.chunks.delete(where=where))

    def put_file(self, record: FileRecord) -> None:
        self.put_files([record])

    def put_files(self, records: Sequence[FileRecord]) -> None:
        if not records:
            return
        upsert = partial(
            self.files.upsert,
            ids=[_file_id(r.path) for r in records],
            embeddings=[[0.0]] * len(records),  # file records are looked up by id, never by vector
            documents=[r.title for r in records],
            metadatas=[r.flat() for r in records],
        )
        self._call("recording files", upsert)

    # --- reading ---------------------------------------------------------------------------
    def file_records(self) -> dict[str, FileRecord]:
        records: dict[str, FileRecord] = {}
        # Paged: one unbounded read fails past some 30,000 files ("too many SQL variables").
        for offset in itertools.count(0, FILE_PAGE):
            read = partial(self.files.get, include=["metadatas"], limit=FILE_PAGE, offset=offset)
            page = self._call("listing files", read)["metadatas"] or []
            for m in page:
                records[str(m["path"])] = FileRecord.from_metadata(m)
            if len(page) < FILE_PAGE:
                return records
        raise AssertionError("unreachable")

    def group_members(self, groups: Sequence[str]) -> dict[str, list[FileRecord]]:
        """The indexed files of these syndication groups (one call)."""
        wanted = sorted({g for g in groups if g})
        if not wanted:
            return {}
        where = {"group": wanted[0]} if len(wanted) == 1 else {"group": {"$in": wanted}}
        read = partial(self.files.get, where=where, include=["metadatas"])
        out: dict[str, list[FileRecord]] = {}
        for m in self._call("reading syndication groups", read)["metadatas"] or []:
            record = FileRecord.from_metadata(m)
            out.setdefault(record.group, []).append(record)
        return out

    def count(self) -> int:
        return int(self._call("counting chunks", self.chunks.count))

    def query(
        self,
        embedding: np.ndarray,
        n: int,
        where: dict[str, Any] | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[StoredHit]:
        """The `n` nearest chunks; with `where` (a Chroma filter), the nearest that pass it;
        with `ids`, the nearest of those chunks."""
        # No count() first: an empty collection answers with no hits, and counting a million
        # chunks on every question costs more than the search.
        if n <= 0:
            return []
        res = self._call(
            "searching",
            lambda: self.chunks.query(
                query_embeddings=[embedding.tolist()],
                n_results=n,
                include=["documents", "metadatas", "distances"],
                **({"where": where} if where else {}),
                **({"ids": list(ids)} if ids is not None else {}),
            ),
        )
        return [
            StoredHit(chunk_from_record(i, d, m), float(dist))
            for i, d, m, dist in zip(
                res["ids"][0],
                res["documents"][0],
                res["metadatas"][0],
                res["distances"][0],
                strict=True,
            )
        ]

    def nearest_ids(self, embedding: np.ndarray, n: int) -> list[tuple[str, float]]:
        """The `n` nearest chunks as (id, distance) only: reading no text or metadata makes
        a wide search cheap (1,000 ids in about 5 ms at 100k chunks)."""
        if n <= 0:
            return []
        res = self._call(
            "searching",
            lambda: self.chunks.query(
                query_embeddings=[embedding.tolist()], n_results=n, include=["distances"]
            ),
        )
        return list(zip(res["ids"][0], map(float, res["distances"][0]), strict=True))

    def iter_chunks(self, page: int = 5000) -> Iterator[Chunk]:
        """Every stored chunk, paged so memory stays flat on large corpora."""
        offset = 0
        while True:
            read_page = partial(
                self.chunks.get, include=["documents", "metadatas"], limit=page, offset=offset
            )
            got = self._call("reading chunks", read_page)
            ids = got["ids"]
            if not ids:
                return
            for i, d, m in zip(ids, got["documents"], got["metadatas"], strict=True):
                yield chunk_from_record(i, d, m)
            offset += len(ids)

    def chunks_of(self, paths: Sequence[str]) -> list[Chunk]:
        """Every stored chunk of these files (one call; used to bring BM25 in step)."""
        if not paths:
            return []
        where = {"path": paths[0]} if len(paths) == 1 else {"path": {"$in": list(paths)}}
        read = partial(self.chunks.get, where=where, include=["documents", "metadatas"])
        got = self._call("reading chunks", read)
        return [
            chunk_from_record(i, d, m)
            for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        ]

    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
        if not ids:
            return []
        read = partial(self.chunks.get, ids=list(ids), include=["documents", "metadatas"])
        got = self._call("reading chunks", read)
        by_id = {
            i: chunk_from_record(i, d, m)
            for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }
        return [by_id[i] for i in ids if i in by_id]


def _file_id(path: str) -> str:
    return hashlib.sha256(path.encode()).hexdigest()[:32]
