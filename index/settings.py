"""The settings sections of the ground floor: where the store is, how files are read and
chunked, which embedder runs. `qa.Settings` nests them (qa/core/settings.py); the fields keep
their names, so `QA_CHUNK_WORDS` and `Settings(chunk_words=...)` still reach them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, Field, field_validator

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = PROJECT_ROOT / "seeds"


def _default_home() -> Path:
    return Path(platformdirs.user_data_dir("newsqa", appauthor=False))


# 3-63 characters; each corpus also has a `<name>__files` companion collection.
_COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$")


def check_collection_name(name: str) -> str:
    """The name, stripped, if Chroma and our companion collection can both use it."""
    name = name.strip()
    if not _COLLECTION_NAME.match(name) or ".." in name or name.endswith("__files"):
        raise ValueError(
            f"{name!r} is not a usable collection name: 3-63 letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit"
        )
    return name


class StoreSettings(BaseModel):
    """Where the articles' chunks and the BM25 index live."""

    home: Path = Field(
        default_factory=_default_home,
        description="Data directory: Chroma store, assembled model files, locks.",
    )
    collection: str = Field(default="seeds", description="Chroma collection (one per corpus).")
    chroma_url: str | None = Field(
        default=None,
        description="Chroma server URL (http://host:port). Unset: embedded on-disk store in home.",
    )
    lexical_dir: Path | None = Field(
        default=None,
        description="Folder of the on-disk BM25 indexes (one per collection and store). Unset: "
        "<home>/lexical. With a Chroma server used from several machines, put it on a volume "
        "they share.",
    )
    default_corpus: Path = Field(
        default=SEEDS_DIR, description="Folder indexed on first use when the collection is empty."
    )

    @field_validator("collection")
    @classmethod
    def _collection_name(cls, name: str) -> str:
        return check_collection_name(name)

    def lexical_folder(self) -> Path:
        """This collection's BM25 index (index/storing/lexical.py)."""
        from index.storing.lexical_sync import lexical_folder

        root = self.lexical_dir or self.home / "lexical"
        return lexical_folder(root, self.chroma_url, self.collection)


class EmbeddingSettings(BaseModel):
    """Which embedder turns chunks and questions into vectors, and where it runs."""

    embedder: str = Field(
        default="minilm",
        description="'minilm' (packaged all-MiniLM-L6-v2), a local sentence-transformers path, "
        "or 'hash' (fast deterministic test embedder, no semantics).",
    )
    embed_batch_size: int = Field(default=32, ge=1, le=1024, description="Texts per embed call.")
    embed_backend: Literal["local", "openai"] = Field(
        default="local",
        description="'local': the `embedder` model runs in this process; 'openai': an "
        "OpenAI-compatible /v1/embeddings server at embed_base_url (e.g. `qa embed-server`).",
    )
    embed_base_url: str = Field(
        default="http://127.0.0.1:8081/v1",
        description="Base URL of the embedding server (embed_backend='openai').",
    )
    embed_model: str = Field(
        default="all-MiniLM-L6-v2",
        description="Model name sent to the embedding server and recorded in the collection: "
        "a server running the same MiniLM can search a collection indexed locally.",
    )
    embed_api_key_env: str = Field(
        default="OPENAI_API_KEY",
        description="Environment variable holding the embedding server's key (optional; sent "
        "as a Bearer token).",
    )
    embed_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Batches in flight at once against the embedding server while indexing.",
    )


class IndexingSettings(BaseModel):
    """How files are read and cut into chunks."""

    chunk_words: int = Field(
        default=90,
        ge=20,
        le=400,
        description="Target words per chunk; MiniLM reads only 256 word pieces, so keep it short.",
    )
    chunk_overlap_sentences: int = Field(
        default=1, ge=0, le=5, description="Sentences repeated between neighbouring chunks."
    )
    max_file_mb: float = Field(
        default=50.0, gt=0, description="Files larger than this are skipped."
    )


class FetchSettings(BaseModel):
    """How pages and feeds are fetched: the fence, the deadline, and the politeness."""

    allow_private_addresses: bool = Field(
        default=False,
        description="Fetch from loopback, private, link-local and multicast addresses too "
        "(off: a feed or a redirect cannot make the server reach internal services; tests "
        "that serve pages on 127.0.0.1 turn it on).",
    )
    fetch_deadline_s: float = Field(
        default=60.0, gt=0, description="Most seconds one whole fetch may take, body included."
    )
    fetch_read_timeout_s: float = Field(
        default=20.0, gt=0, description="Most seconds to wait for any one read."
    )
    feed_max_items: int = Field(
        default=200,
        ge=1,
        le=100_000,
        description="Items fetched per feed per refresh; the rest wait for the next refresh.",
    )
    fetch_workers: int = Field(
        default=4, ge=1, le=32, description="Pages fetched at once during a feed refresh."
    )
    fetch_per_host: int = Field(
        default=2, ge=1, le=16, description="Pages fetched at once from any one host."
    )
    fetch_host_interval_s: float = Field(
        default=0.25, ge=0, le=60, description="Least seconds between two requests to one host."
    )
