"""Prompt and generation speed of an inference runtime on the packaged model.

    python -m benchmarks.runtime_speed [--runtime server|llama-cpp-python] [--model NAME]

Both runtimes get the same chat messages (a seeds article and a request for a long
summary) with the prompt cache off, and report llama.cpp's own counters: prompt tokens per
second (prefill) and generated tokens per second (decode), medians over --reps runs.
`server` is the shipped runtime (xllamacpp's llama.cpp server in the model process);
`llama-cpp-python` measures an in-process llama-cpp-python build if one is installed
(the runtime before docs/runtime.md's change). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from qa.core.settings import SEEDS_DIR, Settings

ARTICLE = "004_dfd909dab3a5d0b8.txt"


def messages(words: int = 300) -> list[dict[str, str]]:
    text = " ".join((SEEDS_DIR / ARTICLE).read_text().split()[:words])
    return [
        {"role": "system", "content": "You summarise news articles."},
        {"role": "user", "content": f"{text}\n\nSummarise this article in ten long sentences."},
    ]


def via_server(model: Path, threads: int, reps: int, max_tokens: int) -> list[dict[str, float]]:
    import httpx

    from qa.runtime.supervisor import ModelProcess

    process = ModelProcess(model, threads=threads)
    started = time.perf_counter()
    url = process.ensure_running()
    load_s = time.perf_counter() - started
    runs = []
    try:
        for _ in range(reps):
            body = {"messages": messages(), "max_tokens": max_tokens, "temperature": 0,
                    "cache_prompt": False}  # fmt: skip
            t = httpx.post(f"{url}/chat/completions", json=body, timeout=600).json()["timings"]
            runs.append({"prompt_n": t["prompt_n"], "prompt_tps": t["prompt_per_second"],
                         "gen_n": t["predicted_n"], "gen_tps": t["predicted_per_second"],
                         "load_s": load_s})  # fmt: skip
    finally:
        process.close()
    return runs


def via_llama_cpp_python(
    model: Path, threads: int, reps: int, max_tokens: int
) -> list[dict[str, float]]:
    import llama_cpp

    started = time.perf_counter()
    llm = llama_cpp.Llama(model_path=str(model), n_ctx=2048, n_threads=threads, n_batch=512,
                          verbose=False, seed=0)  # fmt: skip
    load_s = time.perf_counter() - started
    runs = []
    for _ in range(reps):
        llm.reset()
        llama_cpp.llama_perf_context_reset(llm.ctx)
        chat: Any = messages()
        llm.create_chat_completion(messages=chat, max_tokens=max_tokens, temperature=0)
        perf = llama_cpp.llama_perf_context(llm.ctx)
        prompt_tps = 1e3 * perf.n_p_eval / perf.t_p_eval_ms
        gen_tps = 1e3 * perf.n_eval / perf.t_eval_ms
        runs.append({"prompt_n": perf.n_p_eval, "prompt_tps": prompt_tps, "gen_n": perf.n_eval,
                     "gen_tps": gen_tps, "load_s": load_s})  # fmt: skip
    return runs


def summarize(runs: list[dict[str, float]]) -> dict[str, Any]:
    return {key: round(statistics.median(r[key] for r in runs), 2) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.runtime_speed")
    parser.add_argument("--runtime", choices=["server", "llama-cpp-python"], default="server")
    parser.add_argument("--model", default=Settings().generation.llm_model)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=96)
    args = parser.parse_args()
    from qa.runtime.model_files import resolve_model_path

    model = resolve_model_path(args.model, Settings().store.home)
    measure = via_server if args.runtime == "server" else via_llama_cpp_python
    runs = measure(model, args.threads, args.reps, args.max_tokens)
    print(json.dumps({"runtime": args.runtime, "model": args.model, "threads": args.threads,
                      **summarize(runs)}))  # fmt: skip


if __name__ == "__main__":
    main()
