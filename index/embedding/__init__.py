"""Embedding: chunks and questions into vectors, in this process or from a server."""

from index.embedding.client import EmbeddingServerError, OpenAIEmbedder
from index.embedding.embedders import (
    Embedder,
    HashEmbedder,
    SentenceTransformerEmbedder,
    embedder_from_settings,
    make_embedder,
)

# server (FastAPI) is not imported here: it is `qa embed-server`'s, loaded when one starts.
__all__ = [
    "Embedder",
    "EmbeddingServerError",
    "HashEmbedder",
    "OpenAIEmbedder",
    "SentenceTransformerEmbedder",
    "embedder_from_settings",
    "make_embedder",
]
