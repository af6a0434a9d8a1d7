"""One typed settings object for every knob; read from `QA_*` environment variables."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = PROJECT_ROOT / "seeds"


def _default_home() -> Path:
    return Path(platformdirs.user_data_dir("newsqa", appauthor=False))


# Paths and access details do not change what an answer says.
UNHASHED = {"home", "lexical_dir", "default_corpus", "chroma_url", "ui_username", "ui_password",
            "model_start_timeout_s", "request_timeout_s", "embed_concurrency",
            "llm_concurrency"}  # fmt: skip


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


class Settings(BaseSettings):
    """Everything that changes behaviour lives here, so an answer can be traced to its settings."""

    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore", validate_default=True)

    # --- storage ---------------------------------------------------------------------------
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

    # --- embedding and chunking -------------------------------------------------------------
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

    # --- retrieval ----------------------------------------------------------------------------
    top_k: int = Field(default=5, ge=1, le=50, description="Chunks kept after hybrid fusion.")
    reranker: Literal["none", "llm"] = Field(
        default="none",
        description="Rerank the top_k chunks before evidence selection: 'llm' asks the answering "
        "model (llama-index LLMRerank). Off: it did not win on the packs (docs/evaluation.md).",
    )
    rerank_top_n: int = Field(default=3, ge=1, le=50, description="Chunks the reranker keeps.")
    hybrid: bool = Field(
        default=True, description="Fuse BM25 with dense retrieval (else dense only)."
    )
    candidates: int = Field(
        default=20, ge=1, le=500, description="Candidates taken from each retriever before fusion."
    )
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal-rank-fusion constant.")
    evidence_sentences: int = Field(
        default=4,
        ge=1,
        le=20,
        description="Sentences shown to the LLM as numbered sources; small models read few well.",
    )
    min_relevance: float = Field(
        # 0.40: on the packs' off-topic questions abstention went 0.50 -> 0.90 at no loss of
        # accuracy on seeds, SQuAD or MultiHop (docs/evaluation.md).
        default=0.40,
        ge=-1.0,
        le=1.0,
        description="Abstain without asking the LLM when the best question-sentence cosine is "
        "below this.",
    )
    min_support: float = Field(
        default=0.45,
        ge=0.0,
        le=1.0,
        description="An answer sentence is kept only if its best source supports it at least this "
        "much (see qa/support.py).",
    )

    # --- generation --------------------------------------------------------------------------
    llm_backend: Literal["llama_cpp", "openai", "llama_index", "fake"] = Field(
        default="llama_cpp",
        description="'llama_cpp' (packaged GGUF run by llama.cpp in a supervised child process, "
        "offline), 'openai' (any OpenAI-compatible server), 'llama_index' (a llama-index LLM "
        "integration, see llm_integration) or 'fake' (tests).",
    )
    llm_integration: str = Field(
        default="openai_like",
        description="With llm_backend='llama_index': the integration (qa/llamaindex_llm.py), "
        "configured from llm_model, openai_base_url and openai_api_key_env.",
    )
    llm_model: str = Field(
        default="qwen2.5-coder-1.5b",
        description="For llama_cpp: a packaged model name (see qa/model_files.py) or a .gguf path. "
        "For openai: the model name the server expects.",
    )
    openai_base_url: str = Field(
        default="http://127.0.0.1:8080/v1", description="Base URL of the OpenAI-compatible API."
    )
    openai_api_key_env: str = Field(
        default="OPENAI_API_KEY", description="Environment variable that holds the API key."
    )
    request_timeout_s: float = Field(default=120.0, gt=0, description="LLM/server request timeout.")
    abstain_instruction: bool = Field(
        default=False,
        description="Tell the model to reply NOT IN ARTICLES when the sources lack the answer "
        "(helps the 0.5B model abstain, but costs it answers it had right; docs/evaluation.md).",
    )
    max_answer_tokens: int = Field(default=96, ge=8, le=2048, description="Generation cap.")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="Sampling temperature.")
    n_threads: int | None = Field(default=None, ge=1, description="llama.cpp threads (None: all).")
    llm_parallel: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Answers the local model process decodes at once (llama.cpp server slots); "
        "each slot gets n_ctx tokens. The web page lets this many answers generate together.",
    )
    llm_concurrency: int = Field(
        default=4,
        ge=1,
        le=256,
        description="With llm_backend 'openai' or 'llama_index': answers sent to the server at "
        "once (a vLLM or multi-slot llama.cpp server batches them); more wait in line.",
    )
    model_start_timeout_s: float = Field(
        default=300.0, gt=0, description="How long the model process may take to load."
    )
    n_ctx: int = Field(default=2048, ge=512, le=32768, description="llama.cpp context window.")
    max_question_chars: int = Field(
        default=2000, ge=10, description="Longer questions are refused with a clear message."
    )
    check_question_facts: bool = Field(
        default=True,
        description="Abstain when a name, number or date of the question is in none of the "
        "retrieved text (misspellings forgiven): the articles are about something else.",
    )
    decompose: bool = Field(
        default=True,
        description="Search a question that joins claims from several reports ('Does X say A, "
        "while Y says B?') part by part, each part with its own evidence (qa/decompose.py).",
    )
    answer_claims: bool = Field(
        default=True,
        description="Answer a yes/no question that joins claims ('Does X say A, while Y says "
        "B?') claim by claim, each from its own evidence with a citation, then combine: Yes "
        "when every claim holds, else No with the failing claim's reason (qa/claims.py).",
    )
    answer_check: Literal["off", "rules", "judge"] = Field(
        default="judge",
        description="Check that a reply gives what the question asks for (a person for who, a "
        "date for when ...): 'rules' only, or rules then a yes/no question to the LLM when the "
        "rules cannot tell (qa/answer_check.py).",
    )
    extract_fallback: bool = Field(
        default=True,
        description="When the reply fails the answer check, ask the model for the exact words "
        "of a source that answer before abstaining.",
    )
    rewrite_followups: bool = Field(
        default=True, description="Rewrite follow-up questions into stand-alone ones."
    )

    ui_username: str | None = Field(
        default=None, description="Web page login name; with ui_password, the page asks to log in."
    )
    ui_password: SecretStr | None = Field(default=None, description="Web page login password.")

    @field_validator("collection")
    @classmethod
    def _collection_name(cls, name: str) -> str:
        return check_collection_name(name)

    def lexical_folder(self) -> Path:
        """This collection's BM25 index (index/lexical.py)."""
        from index.lexical_sync import lexical_folder

        root = self.lexical_dir or self.home / "lexical"
        return lexical_folder(root, self.chroma_url, self.collection)

    def fingerprint(self) -> str:
        """Short hash of the settings that shape an answer (paths excluded)."""
        data = self.model_dump(mode="json", exclude=UNHASHED)
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]
