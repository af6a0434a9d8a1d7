"""Storing: chunks and their vectors in Chroma, and the on-disk BM25 index kept in step with it."""

from index.storing.lexical import LexicalIndex, query_terms
from index.storing.lexical_sync import in_step, lexical_folder, sync
from index.storing.lexical_writer import LexicalWriter
from index.storing.nodes import article_node, chunk_to_node, node_to_chunk
from index.storing.store import (
    ChunkStore,
    FileRecord,
    Store,
    StoredHit,
    StoreError,
    list_collections,
    open_client,
)

__all__ = [
    "ChunkStore",
    "FileRecord",
    "LexicalIndex",
    "LexicalWriter",
    "Store",
    "StoreError",
    "StoredHit",
    "article_node",
    "chunk_to_node",
    "in_step",
    "lexical_folder",
    "list_collections",
    "node_to_chunk",
    "open_client",
    "query_terms",
    "sync",
]
