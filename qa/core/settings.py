"""One typed settings tree for every knob, in sections that follow the answering path.

    Settings.store / .embedding / .indexing      the ground floor (index/settings.py)
    Settings.fetch                               web pages and feeds: fence, deadline, pace
    Settings.question                            cleaning, follow-ups, decomposition
    Settings.retrieval                           hybrid search, fusion, reranker
    Settings.evidence                            the sentences the model reads
    Settings.generation                          the model and its reply
    Settings.verification                        support, answer check, claims
    Settings.runtime                             model process, threads, timeouts
    Settings.ui                                  the web page

Every field keeps the flat name it had before the sections, and that name is an alias:
`QA_TOP_K=8`, `Settings(top_k=8)` and `settings.model_copy(update={"top_k": 8})` set
`settings.retrieval.top_k`, as does `QA_RETRIEVAL__TOP_K=8`. Flat names are unique across
sections, which is what makes them usable as aliases (tested).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from index.settings import (
    PROJECT_ROOT,
    SEEDS_DIR,
    EmbeddingSettings,
    FetchSettings,
    IndexingSettings,
    StoreSettings,
    check_collection_name,
)

ENV_PREFIX = "QA_"

# Paths and access details do not change what an answer says.
UNHASHED = {"home", "lexical_dir", "default_corpus", "chroma_url", "ui_username", "ui_password",
            "api_key", "api_max_body_bytes",
            "model_start_timeout_s", "request_timeout_s", "embed_concurrency",
            "allow_private_addresses", "fetch_deadline_s", "fetch_read_timeout_s",
            "feed_max_items", "fetch_workers", "fetch_per_host", "fetch_host_interval_s",
            "llm_concurrency"}  # fmt: skip


class QuestionSettings(BaseModel):
    """How a question is read before anything is searched."""

    max_question_chars: int = Field(
        default=2000, ge=10, description="Longer questions are refused with a clear message."
    )
    rewrite_followups: bool = Field(
        default=True, description="Rewrite follow-up questions into stand-alone ones."
    )
    decompose: bool = Field(
        default=True,
        description="Search a question that joins claims from several reports ('Does X say A, "
        "while Y says B?') part by part, each part with its own evidence "
        "(qa/understand/decompose.py).",
    )
    question_dates: bool = Field(
        default=True,
        description="A question's relative dates ('last week', '3 days ago', 'this month') "
        "narrow retrieval to the articles published then, counted back from the collection's "
        "newest article (today for a collection that follows feeds); 'the latest on X' ranks "
        "the newest relevant reports first (qa/understand/time_window.py).",
    )


class RetrievalSettings(BaseModel):
    """Which chunks are found: BM25 and dense candidates, fused, optionally reranked."""

    top_k: int = Field(default=5, ge=1, le=50, description="Chunks kept after hybrid fusion.")
    hybrid: bool = Field(
        default=True, description="Fuse BM25 with dense retrieval (else dense only)."
    )
    candidates: int = Field(
        default=20, ge=1, le=500, description="Candidates taken from each retriever before fusion."
    )
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal-rank-fusion constant.")
    reranker: Literal["none", "llm"] = Field(
        default="none",
        description="Rerank the top_k chunks before evidence selection: 'llm' asks the answering "
        "model (llama-index LLMRerank). Off: it did not win on the packs (docs/llama-index.md).",
    )
    rerank_top_n: int = Field(default=3, ge=1, le=50, description="Chunks the reranker keeps.")
    since: date | None = Field(
        default=None, description="Answer only from articles published on or after this day."
    )
    until: date | None = Field(
        default=None, description="Answer only from articles published on or before this day."
    )
    outlets: list[str] = Field(
        default_factory=list,
        description="Answer only from these outlets (case-insensitive; 'kbs' matches 'KBS World "
        "Radio News'). Env: a JSON list or names separated by commas.",
    )
    authors: list[str] = Field(
        default_factory=list,
        description="Answer only from articles by these authors. Env: a JSON list or names "
        "separated by commas.",
    )

    @field_validator("outlets", "authors", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        """QA_OUTLETS='["KBS World Radio News"]' or QA_OUTLETS='KBS, Yonhap'."""
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else text.split(",")
        return value

    rerank_batch_size: int | None = Field(
        default=None,
        ge=1,
        le=50,
        description="Chunks the reranker shows the model per call. Unset: all top_k at once.",
    )


class EvidenceSettings(BaseModel):
    """Which sentences the model reads, and when nothing found is worth reading."""

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
    relevance_judge: int = Field(
        default=0,
        ge=0,
        le=20,
        description="Ask the model P(Yes) 'does this sentence help answer the question?' for "
        "this many of the best candidate sentences and keep the likeliest (one short call "
        "each; 0: off). Needs a backend with log-probabilities.",
    )
    check_question_facts: bool = Field(
        default=True,
        description="Abstain when a name, number or date of the question is in none of the "
        "retrieved text (misspellings forgiven): the articles are about something else.",
    )


class GenerationSettings(BaseModel):
    """Which model writes the reply, and how."""

    llm_backend: Literal["llama_cpp", "openai", "llama_index", "fake"] = Field(
        default="llama_cpp",
        description="'llama_cpp' (packaged GGUF run by llama.cpp in a supervised child process, "
        "offline), 'openai' (any OpenAI-compatible server), 'llama_index' (a llama-index LLM "
        "integration, see llm_integration) or 'fake' (tests).",
    )
    llm_integration: str = Field(
        default="openai_like",
        description="With llm_backend='llama_index': the integration "
        "(qa/generate/backends/llama_index.py), configured from llm_model, openai_base_url "
        "and openai_api_key_env.",
    )
    llm_model: str = Field(
        default="qwen2.5-coder-1.5b",
        description="For llama_cpp: a packaged model name (see qa/runtime/model_files.py) or a "
        ".gguf path. For openai: the model name the server expects.",
    )
    openai_base_url: str = Field(
        default="http://127.0.0.1:8080/v1", description="Base URL of the OpenAI-compatible API."
    )
    openai_api_key_env: str = Field(
        default="OPENAI_API_KEY", description="Environment variable that holds the API key."
    )
    abstain_instruction: bool = Field(
        default=False,
        description="Tell the model to reply NOT IN ARTICLES when the sources lack the answer "
        "(helps the 0.5B model abstain, but costs it answers it had right; docs/evaluation.md).",
    )
    max_answer_tokens: int = Field(default=96, ge=8, le=2048, description="Generation cap.")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="Sampling temperature.")
    answer_claims: bool = Field(
        default=True,
        description="Answer a yes/no question that joins claims ('Does X say A, while Y says "
        "B?') claim by claim, each from its own evidence with a citation, then combine: Yes "
        "when every claim holds, else No with the failing claim's reason (qa/verify/claims.py).",
    )


class VerificationSettings(BaseModel):
    """What a reply must pass before it is shown."""

    min_support: float = Field(
        default=0.45,
        ge=0.0,
        le=1.0,
        description="An answer sentence is kept only if its best source supports it at least this "
        "much (see qa/verify/support.py).",
    )
    answer_check: Literal["off", "rules", "judge"] = Field(
        default="judge",
        description="Check that a reply gives what the question asks for (a person for who, a "
        "date for when ...): 'judge' asks the LLM a yes/no question; 'rules' only refuses a "
        "reply that adds nothing to the question's words (qa/verify/answer_check.py).",
    )
    extract_fallback: bool = Field(
        default=True,
        description="When the reply fails the answer check, ask the model for the exact words "
        "of a source that answer before abstaining (one more call, only then; on the news sets "
        "it found none, through other backends it rescues right answers, docs/evaluation.md).",
    )
    evidence_led: bool = Field(
        default=True,
        description="When a fact question's reply has no supported sentence, answer with the "
        "best evidence sentence, quoted whole and cited, if it names everything the question "
        "names (qa/verify/evidence_led.py); the calibrated decision then judges it.",
    )
    judge_grammar: bool = Field(
        default=False,
        description="Constrain the answering path's yes/no judgements and extractions with a "
        "GBNF grammar where the backend honours one. Off: the judgements the gold sets were "
        "measured with read the model's free reply; turning it on "
        "changes answers, so measure before you do.",
    )
    target_precision: float | None = Field(
        default=None,
        ge=0.0,
        lt=1.0,
        description="Answer only when the calibrated P(the answer is right) reaches the threshold "
        "at which cross-validated precision reached this target (qa/verify/calibrated.py); "
        "0: never withhold an answer on confidence alone; unset: the target the fit found best "
        "for the model in use (the most abstentions on the news sets for at most 1 right answer "
        "lost in 50 against never withholding, out of fold: evals/objective.py).",
    )
    score_withheld: bool = Field(
        default=False,
        description="When a rule step (judgement, answer check) withholds a cited draft, score "
        "that draft's signals too, for measuring the rule (qa eval; costs the confidence calls).",
    )
    choice_signal: bool = Field(
        default=True,
        description="After its answer, ask the model in the same conversation which numbered "
        "source states the answer, or 0 for none (one grammar-held token, the evidence already "
        "cached), and read P(none) and P(a cited source) as confidence signals.",
    )
    confidence_judgements: bool = Field(
        default=True,
        description="After its answer, also ask the model P(Yes) 'does the cited sentence answer "
        "the question?' as a confidence signal (a short call with the answer's cached system "
        "prompt, one per cited sentence up to 3).",
    )


class RuntimeSettings(BaseModel):
    """The model process and the servers: threads, slots, timeouts."""

    request_timeout_s: float = Field(default=120.0, gt=0, description="LLM/server request timeout.")
    n_threads: int | None = Field(default=None, ge=1, description="llama.cpp threads (None: all).")
    n_ctx: int = Field(default=2048, ge=512, le=32768, description="llama.cpp context window.")
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


class UISettings(BaseModel):
    ui_username: str | None = Field(
        default=None, description="Web page login name; with ui_password, the page asks to log in."
    )
    ui_password: SecretStr | None = Field(default=None, description="Web page login password.")
    api_key: SecretStr | None = Field(
        default=None,
        description="With it set, `qa serve` (the OpenAI-compatible API) answers only requests "
        "that send `Authorization: Bearer <key>`.",
    )
    api_max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        description="`qa serve` refuses a larger request body (413) before reading it. A long "
        "conversation fits: its history is cut to what the model's context holds anyway.",
    )


SECTIONS: dict[str, type[BaseModel]] = {
    "store": StoreSettings,
    "embedding": EmbeddingSettings,
    "indexing": IndexingSettings,
    "fetch": FetchSettings,
    "question": QuestionSettings,
    "retrieval": RetrievalSettings,
    "evidence": EvidenceSettings,
    "generation": GenerationSettings,
    "verification": VerificationSettings,
    "runtime": RuntimeSettings,
    "ui": UISettings,
}
# Each flat (pre-section) name and the section that holds it.
SECTION_OF: dict[str, str] = {
    leaf: section for section, model in SECTIONS.items() for leaf in model.model_fields
}


def nest_flat_names(data: dict[str, Any]) -> dict[str, Any]:
    """{"top_k": 8, "retrieval": {...}} -> {"retrieval": {..., "top_k": 8}}: a flat name
    wins over the same field given in its section (it is the more recent spelling at hand)."""
    out = {k: v for k, v in data.items() if k not in SECTION_OF}
    for leaf, value in data.items():
        if leaf not in SECTION_OF:
            continue
        section = SECTION_OF[leaf]
        current = out.get(section, {})
        if isinstance(current, BaseModel):
            current = current.model_dump()
        out[section] = {**current, leaf: value}
    return out


def is_setting_variable(name: str) -> bool:
    """QA_TOP_K (a flat name) or QA_RETRIEVAL__TOP_K (section and field)."""
    if not name.startswith(ENV_PREFIX):
        return False
    key = name.removeprefix(ENV_PREFIX).lower()
    section, _, leaf = key.partition("__")
    return key in SECTION_OF or SECTION_OF.get(leaf) == section


def setting_problems(exc: ValidationError) -> str:
    """A validation error as the variables a user sets: 'QA_TOP_K: ...; QA_HYBRID: ...'."""
    return "; ".join(
        f"{ENV_PREFIX}{str(e['loc'][-1]).upper() if e['loc'] else 'SETTINGS'}: {e['msg']}"
        for e in exc.errors()
    )


class FlatEnvironment(PydanticBaseSettingsSource):
    """`QA_<FLAT_NAME>` environment variables (`QA_TOP_K`), read into their sections."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every flat name at once

    def __call__(self) -> dict[str, Any]:
        environ = {k.upper(): v for k, v in os.environ.items()}
        found: dict[str, Any] = {}
        for leaf, section in SECTION_OF.items():
            value = environ.get(f"{ENV_PREFIX}{leaf}".upper())
            if value is not None:
                found.setdefault(section, {})[leaf] = value
        return found


class Settings(BaseSettings):
    """Everything that changes behaviour lives here, so an answer can be traced to its settings."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    store: StoreSettings = Field(default_factory=StoreSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    indexing: IndexingSettings = Field(default_factory=IndexingSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    question: QuestionSettings = Field(default_factory=QuestionSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    evidence: EvidenceSettings = Field(default_factory=EvidenceSettings)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    verification: VerificationSettings = Field(default_factory=VerificationSettings)
    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)
    ui: UISettings = Field(default_factory=UISettings)

    def __init__(self, **values: Any) -> None:
        """Sections, section fields by their flat names (`Settings(top_k=8)`), or both."""
        super().__init__(**values)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Arguments first, then QA_SECTION__FIELD, then the flat QA_FIELD aliases.
        flat = FlatEnvironment(settings_cls)
        return init_settings, env_settings, flat, dotenv_settings, file_secret_settings

    @model_validator(mode="before")
    @classmethod
    def _flat_names(cls, data: Any) -> Any:
        return nest_flat_names(data) if isinstance(data, dict) else data

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> Settings:
        """A copy with `update` applied: flat names go to their sections, values are checked."""
        if not update:
            return super().model_copy(deep=deep)
        data = {name: getattr(self, name).model_dump() for name in SECTIONS}
        for key, value in update.items():
            if key in SECTIONS and isinstance(value, BaseModel):
                value = value.model_dump()
            data[key] = {**data[key], **value} if key in SECTIONS else value
        return type(self).model_validate(nest_flat_names(data))

    @classmethod
    def field_names(cls) -> list[str]:
        """Every setting by its flat name (what `qa eval --set` and QA_* accept)."""
        return list(SECTION_OF)

    def flat(self) -> dict[str, Any]:
        """Every setting by its flat name, JSON-ready: the shape reports and hashes use."""
        out: dict[str, Any] = {}
        for name in SECTIONS:
            out.update(getattr(self, name).model_dump(mode="json"))
        return out

    def lexical_folder(self) -> Path:
        """This collection's BM25 index (index/storing/lexical.py)."""
        return self.store.lexical_folder()

    def llm_identity(self) -> str:
        """The answering model as answers, reports and the calibration name it:
        "backend:model"."""
        return f"{self.generation.llm_backend}:{self.generation.llm_model}"

    def fingerprint(self) -> str:
        """Short hash of the settings that shape an answer (paths excluded)."""
        data = {k: v for k, v in self.flat().items() if k not in UNHASHED}
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


__all__ = ["PROJECT_ROOT", "SEEDS_DIR", "SECTIONS", "Settings", "check_collection_name"]
