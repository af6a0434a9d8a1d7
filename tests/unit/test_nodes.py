"""Stored chunks are llama-index nodes: exact offsets, metadata, SOURCE relationship; legacy
collections are migrated in place and stay readable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from llama_index.core.schema import NodeRelationship, QueryBundle
from llama_index.core.vector_stores.types import VectorStoreQuery
from llama_index.vector_stores.chroma import ChromaVectorStore
from unit_helpers import seed

from index.chunking.chunks import chunk_article
from index.embedding.embedders import HashEmbedder
from index.reading.loaders import load_article
from index.storing.nodes import LAYOUT, chunk_to_node, file_node_id, node_to_chunk
from index.storing.store import ChunkStore, open_client


def _chunks(prefix: str = "004"):
    return chunk_article(load_article(seed(prefix)), chunk_words=90, overlap=1)


def test_node_carries_exact_offsets_metadata_and_source() -> None:
    chunk = _chunks()[2]
    node = chunk_to_node(chunk)
    text = Path(chunk.path).read_text(encoding="utf-8")
    assert text[node.start_char_idx : node.end_char_idx] == node.text == chunk.text
    assert node.metadata["source"] == chunk.source and node.metadata["title"] == chunk.title
    assert node.source_node is not None and node.source_node.node_id == file_node_id(chunk.path)
    assert node.ref_doc_id == file_node_id(chunk.path)
    # Bookkeeping keys stay out of what an LLM or embedder reads.
    assert "sentences" not in node.get_content(metadata_mode="llm")
    back = node_to_chunk(node)
    assert back == chunk


def _store(tmp_path: Path, name: str = "news") -> ChunkStore:
    return ChunkStore(open_client(tmp_path, None), name, "hash-256", 256)


def test_chroma_vector_store_reads_our_records_with_offsets(tmp_path: Path) -> None:
    store = _store(tmp_path)
    chunks = _chunks()
    embedder = HashEmbedder()
    store.add_chunks(chunks, embedder.embed([c.text for c in chunks]))

    vector_store = ChromaVectorStore(chroma_collection=store.chunks)
    query = "Who accompanied Kim at the extended talks?"
    result = vector_store.query(
        VectorStoreQuery(query_embedding=embedder.embed([query])[0].tolist(), similarity_top_k=3)
    )
    assert result.nodes and len(result.nodes) == 3
    article = Path(chunks[0].path).read_text(encoding="utf-8")
    for node in result.nodes:
        assert node.start_char_idx is not None and node.end_char_idx is not None
        assert article[node.start_char_idx : node.end_char_idx] == node.get_content()
        assert node.relationships[NodeRelationship.SOURCE].node_id == file_node_id(chunks[0].path)
    assert QueryBundle(query).query_str == query
    # llama-index deletes by ref_doc_id: one file's chunks, nothing else.
    vector_store.delete(file_node_id(chunks[0].path))
    assert store.count() == 0


def _write_legacy(store: ChunkStore, chunks, vectors: np.ndarray) -> None:
    """Records as releases before the node layout wrote them."""
    store.chunks.upsert(
        ids=[c.id for c in chunks],
        embeddings=vectors.tolist(),
        documents=[c.text for c in chunks],
        metadatas=[
            {
                "source": c.source,
                "path": c.path,
                "start": c.start,
                "end": c.end,
                "title": c.title,
                "outlet": c.outlet,
                "published": c.published,
                "file_sha256": c.file_sha256,
                "sentences": json.dumps(
                    [[s.start - c.start, s.end - c.start] for s in c.sentences]
                ),
            }
            for c in chunks
        ],
    )
    kept = {k: v for k, v in store.chunks.metadata.items() if not k.startswith("hnsw:")}
    kept.pop("layout")
    store.chunks.modify(metadata=kept)


def test_legacy_collection_is_migrated_in_place(tmp_path: Path, caplog) -> None:
    chunks = _chunks()
    vectors = HashEmbedder().embed([c.text for c in chunks])
    _write_legacy(_store(tmp_path), chunks, vectors)

    reopened = _store(tmp_path)  # the open migrates

    assert "migrated" in caplog.text and str(len(chunks)) in caplog.text
    assert reopened.chunks.metadata["layout"] == LAYOUT
    assert sorted(reopened.iter_chunks(), key=lambda c: c.start) == sorted(
        chunks, key=lambda c: c.start
    )
    # Embeddings were kept, not recomputed: the nearest chunk to a chunk's own vector is itself.
    hit = reopened.query(vectors[3], 1)[0]
    assert hit.chunk.id == chunks[3].id and hit.distance < 1e-5
    got = reopened.chunks.get(include=["metadatas"])["metadatas"]
    assert all("_node_content" in m for m in got)
    caplog.clear()
    _store(tmp_path)
    assert "migrated" not in caplog.text  # once only


def test_a_layout_1_collection_gains_the_filterable_date_in_place(tmp_path: Path, caplog) -> None:
    chunks = _chunks("002")
    vectors = HashEmbedder().embed([c.text for c in chunks])
    store = _store(tmp_path)
    store.add_chunks(chunks, vectors)
    # As layout 1 wrote them: node records without `published_day`.
    got = store.chunks.get(include=["metadatas", "documents", "embeddings"])
    for m in got["metadatas"]:
        m.pop("published_day")
    store.chunks.delete(ids=got["ids"])
    store.chunks.add(
        ids=got["ids"],
        metadatas=got["metadatas"],
        documents=got["documents"],
        embeddings=got["embeddings"],
    )
    kept = {k: v for k, v in store.chunks.metadata.items() if not k.startswith("hnsw:")}
    store.chunks.modify(metadata={**kept, "layout": "llama-index-textnode-1"})
    assert store.query(vectors[0], 3, where={"published_day": {"$gte": 20190401}}) == []

    reopened = _store(tmp_path)

    assert "migrated" in caplog.text and reopened.chunks.metadata["layout"] == LAYOUT
    hits = reopened.query(vectors[0], 3, where={"published_day": {"$gte": 20190401}})
    assert hits[0].chunk.id == chunks[0].id and hits[0].distance < 1e-5


def test_the_author_and_the_byline_travel_with_every_chunk() -> None:
    chunk = _chunks("000")[0]
    assert chunk.author == "Albert Kim" and chunk.byline is not None
    text = Path(chunk.path).read_text(encoding="utf-8")
    assert text[chunk.byline.start : chunk.byline.end] == chunk.byline_text
    node = chunk_to_node(chunk)
    assert node.metadata["author"] == "Albert Kim"
    assert "byline" not in node.get_content(metadata_mode="embed")  # bookkeeping stays hidden
    assert node_to_chunk(node) == chunk
