"""Our hand-written OpenAI-compatible client against llama-index's OpenAILike, on one server.

    python -m benchmarks.llm_client [--model NAME] [--reps N]

Both clients stream the same answer prompts (seeds evidence, the fixed system prompt) from
the same model process, in alternating order. Each request's question ends with a run number,
so no request reuses another's cached prompt beyond the fixed system prompt (as in
production: llama.cpp keeps earlier prompts in memory, and a repeated prompt would answer at
once). Reports the median time to first piece and to the last piece per client, and the import
time of each client module in a fresh interpreter. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

from qa.core.settings import Settings

QUESTIONS = [
    "Who accompanied Kim at the extended talks?",
    "How long did the summit meetings last?",
    "When will Biegun meet Russian officials?",
    "Which airline scheduled an extra flight to Vladivostok?",
]


def _import_seconds(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return round(float(out.stdout.strip()), 3)


def _timed(llm: Any, messages: list[dict[str, str]], max_tokens: int) -> tuple[float, float, str]:
    started = time.perf_counter()
    first = None
    text = ""
    for piece in llm.stream_chat(messages, max_tokens=max_tokens, stop=["\n\n", "Question:"]):
        first = first or time.perf_counter() - started
        text += piece
    return first or 0.0, time.perf_counter() - started, text


def _numbered(messages: list[dict[str, str]], run: int) -> list[dict[str, str]]:
    *head, last = messages
    return [*head, {**last, "content": f"{last['content']} (request {run})"}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()

    from qa import Assistant
    from qa.evidence.select import select_evidence
    from qa.generate.backends.llama_index import LlamaIndexChatLLM, _openai_like
    from qa.generate.llm import LocalModelLLM, OpenAICompatibleLLM
    from qa.generate.prompts import answer_messages
    from qa.retrieve.searcher import Search
    from qa.understand.profile import QuestionProfile

    settings = Settings(**({"llm_model": args.model} if args.model else {}))
    assistant = Assistant(settings)
    assistant.ensure_indexed()
    local = LocalModelLLM(settings)
    url = local.process.ensure_running()
    served = settings.model_copy(update={"openai_base_url": url, "temperature": 0.0})
    clients = {
        "ours": OpenAICompatibleLLM(served, retries=0),
        "llama_index_openai_like": LlamaIndexChatLLM(_openai_like(served)),
    }
    prompts = []
    for question in QUESTIONS:
        vector = assistant.embedder.embed([question])[0]
        hits = assistant.searcher.hits(Search(question, vector))
        profile = QuestionProfile.of(question)
        evidence = select_evidence(profile, vector, hits, assistant.embedder, 4)
        prompts.append(answer_messages(profile, evidence, settings.generation.abstain_instruction))

    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in clients}
    request = 0
    for _ in range(args.reps):
        for order in (list(clients), list(reversed(clients))):
            for messages in prompts:
                for name in order:
                    request += 1
                    first, total, _text = _timed(
                        clients[name],
                        _numbered(messages, request),
                        settings.generation.max_answer_tokens,
                    )
                    runs[name].append((first, total))
    local.close()
    result: dict[str, Any] = {
        name: {
            "first_piece_s_median": round(statistics.median(r[0] for r in runs[name]), 4),
            "full_answer_s_median": round(statistics.median(r[1] for r in runs[name]), 4),
            "runs": len(runs[name]),
        }
        for name in clients
    }
    result["import_s"] = {
        "ours": _import_seconds("qa.generate.llm"),
        "llama_index_openai_like": _import_seconds("llama_index.llms.openai_like"),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
