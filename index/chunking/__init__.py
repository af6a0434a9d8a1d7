"""Chunking: sentences with exact character offsets, and the overlapping chunks cut from them."""

from index.chunking.chunks import chunk_article, chunk_id
from index.chunking.sentences import split_sentences

__all__ = ["chunk_article", "chunk_id", "split_sentences"]
