"""Chunks as llama-index `TextNode`s, stored the way llama-index's `ChromaVectorStore` reads them.

A stored chunk is a node with exact `start_char_idx`/`end_char_idx` into its article, flat
metadata (source, title, outlet, published, sentence spans) and a `SOURCE` relationship to
its file, so `VectorStoreIndex.from_vector_store(ChromaVectorStore(...))` over a collection
that `qa index` built returns nodes whose offsets slice the article. Collections written
before this layout ("legacy": offsets in metadata keys `start`/`end`) are still read, and
`index/storing/store.py` rewrites them in place.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from llama_index.core.schema import (
    BaseNode,
    NodeRelationship,
    ObjectType,
    RelatedNodeInfo,
    TextNode,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from index.types import ArticleInfo, Chunk, Span

# Recorded in the collection's metadata; a collection without it may hold legacy records.
# Layout 2 adds `published_day`, the number date filters compare (Chroma compares numbers only).
LAYOUT = "llama-index-textnode-2"
# Bookkeeping that neither the embedder nor an LLM should read as part of a node's text.
_HIDDEN_KEYS = ["path", "file_sha256", "sentences", "byline", "byline_text", "published_day",
                "group"]  # fmt: skip


def published_day(published: str) -> int:
    """ "2019-04-23T22:13:00+05:30" -> 20190423, the day as a number that sorts like the
    date; 0 when the date is unknown or unreadable."""
    digits = published[:10].replace("-", "")
    return int(digits) if len(digits) == 8 and digits.isdigit() else 0


def file_node_id(path: str) -> str:
    """The id of a file's document node: every chunk's `ref_doc_id`, so llama-index's
    `vector_store.delete(ref_doc_id)` removes one file's chunks."""
    return hashlib.sha256(path.encode()).hexdigest()[:32]


def article_node(
    id_: str | None,
    text: str,
    start: int,
    end: int,
    path: str,
    metadata: dict[str, Any],
    hidden: Sequence[str] = (),
    **fields: Any,
) -> TextNode:
    """A node for the span [start, end) of the article at `path`, linked to it as SOURCE.
    Keys in `hidden` are bookkeeping: neither an embedder nor an LLM reads them."""
    relationships = {
        NodeRelationship.SOURCE: RelatedNodeInfo(
            node_id=file_node_id(path), node_type=ObjectType.DOCUMENT
        ),
        **fields.pop("relationships", {}),
    }
    return TextNode(
        **({"id_": id_} if id_ else {}),
        text=text,
        start_char_idx=start,
        end_char_idx=end,
        metadata=metadata,
        excluded_embed_metadata_keys=list(hidden),
        excluded_llm_metadata_keys=list(hidden),
        relationships=relationships,
        **fields,
    )


def chunk_to_node(chunk: Chunk) -> TextNode:
    metadata = {
        "source": chunk.source,
        "path": chunk.path,
        "title": chunk.title,
        "outlet": chunk.outlet,
        "published": chunk.published,
        "published_day": published_day(chunk.published),
        "file_sha256": chunk.file_sha256,
        "author": chunk.author,
        "url": chunk.url,
        "group": chunk.group,
        # The author's line, quotable like a sentence: [start, end] in the article, and text.
        "byline": json.dumps([chunk.byline.start, chunk.byline.end] if chunk.byline else []),
        "byline_text": chunk.byline_text,
        # Flat metadata holds scalars only, so sentence spans (relative to the chunk) travel
        # as JSON.
        "sentences": json.dumps(
            [[s.start - chunk.start, s.end - chunk.start] for s in chunk.sentences]
        ),
    }
    return article_node(
        chunk.id, chunk.text, chunk.start, chunk.end, chunk.path, metadata, _HIDDEN_KEYS
    )


def node_to_chunk(node: BaseNode) -> Chunk:
    """The chunk a node stands for; the node needs our metadata and its offsets."""
    if not isinstance(node, TextNode) or node.start_char_idx is None or node.end_char_idx is None:
        raise ValueError(f"node {node.node_id} has no character offsets")
    meta = node.metadata
    text = node.get_content()
    return _chunk(node.node_id, text, node.start_char_idx, node.end_char_idx, meta)


def _chunk(id_: str, text: str, start: int, end: int, meta: dict[str, Any]) -> Chunk:
    rel = json.loads(str(meta.get("sentences") or "[]")) or [[0, len(text)]]
    byline = json.loads(str(meta.get("byline") or "[]"))
    return Chunk(
        id=id_,
        article=ArticleInfo.from_metadata(meta),
        text=text,
        start=start,
        end=end,
        file_sha256=str(meta.get("file_sha256") or ""),
        byline=Span(byline[0], byline[1]) if len(byline) == 2 else None,
        byline_text=str(meta.get("byline_text") or ""),
        sentences=[Span(start + a, start + b) for a, b in rel],
        sentence_texts=[text[a:b] for a, b in rel],
    )


def chroma_metadata(chunk: Chunk) -> dict[str, Any]:
    """The Chroma metadata of a chunk's record; the text goes in the record's document."""
    return node_to_metadata_dict(chunk_to_node(chunk), remove_text=True, flat_metadata=True)


def is_legacy(meta: dict[str, Any]) -> bool:
    return "_node_content" not in meta


def needs_rewrite(meta: dict[str, Any]) -> bool:
    """A record written before the current layout: legacy, or without `published_day`."""
    return is_legacy(meta) or "published_day" not in meta


def chunk_from_record(id_: str, text: str, meta: dict[str, Any]) -> Chunk:
    """A chunk from a Chroma record, in the node layout or the legacy one."""
    if is_legacy(meta):
        return _chunk(id_, text, int(meta["start"]), int(meta["end"]), meta)
    return node_to_chunk(metadata_dict_to_node(meta, text=text))
