"""What several llama.cpp slots buy on this machine, without the app around them.

    python -m benchmarks.slots_speed [--slots 1 2 4] [--reps 2] [--threads N]

For each slot count N the model process (qa/runtime/supervisor.py) starts with `--parallel N` and
gets N requests at once: the same seeds article with a different closing request each,
prompt cache off, 96 generated tokens. Reported per N, medians over --reps: the wall time
for the N answers, answers per minute, and llama.cpp's own counters per request (prompt
tokens per second while prefilling, generated tokens per second while decoding) plus their
sum over the N requests, which is the machine's total rate when they ran together.
benchmarks/load.py measures the same question through the whole app under load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.runtime_speed import messages
from qa.core.settings import Settings

ASKS = ["in ten long sentences", "for a newsletter, in ten sentences",
        "for a radio bulletin, at length", "as ten detailed bullet points"]  # fmt: skip


def _request(url: str, number: int, max_tokens: int) -> dict[str, Any]:
    chat = messages()
    chat[-1]["content"] = chat[-1]["content"].replace(
        "in ten long sentences", ASKS[number % len(ASKS)]
    )
    body = {"messages": chat, "max_tokens": max_tokens, "temperature": 0, "cache_prompt": False}
    timings: dict[str, Any] = httpx.post(f"{url}/chat/completions", json=body, timeout=900).json()[
        "timings"
    ]
    return timings


def together(url: str, slots: int, max_tokens: int) -> dict[str, float]:
    """`slots` requests sent at once; wall time and llama.cpp's counters."""
    results: list[dict[str, Any]] = []

    def one(number: int) -> None:
        results.append(_request(url, number, max_tokens))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(slots)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    if len(results) != slots:
        raise SystemExit("a request failed; see the model process log")
    return {
        "wall_s": wall,
        "answers_per_min": 60 * slots / wall,
        "prompt_n": sum(r["prompt_n"] for r in results),
        "gen_n": sum(r["predicted_n"] for r in results),
        "prompt_tps_each": statistics.median(r["prompt_per_second"] for r in results),
        "gen_tps_each": statistics.median(r["predicted_per_second"] for r in results),
        "prompt_tps_sum": sum(r["prompt_per_second"] for r in results),
        "gen_tps_sum": sum(r["predicted_per_second"] for r in results),
    }


def measure(model: Path, slots: int, threads: int, reps: int, max_tokens: int) -> dict[str, Any]:
    from qa.runtime.supervisor import ModelProcess

    load_before = os.getloadavg()[0]  # other work on the machine slows every cell
    process = ModelProcess(model, parallel=slots, threads=threads)
    try:
        url = process.ensure_running()
        _request(url, 0, 4)  # warm the runtime
        runs = [together(url, slots, max_tokens) for _ in range(reps)]
    finally:
        process.close()
    medians = {k: round(statistics.median(r[k] for r in runs), 2) for k in runs[0]}
    return {"slots": slots, "threads": threads, "load_avg_before": round(load_before, 2), **medians}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.slots_speed")
    parser.add_argument("--slots", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--model", default=Settings().generation.llm_model)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=96)
    args = parser.parse_args(argv)
    from qa.runtime.model_files import resolve_model_path

    model = resolve_model_path(args.model, Settings().store.home)
    for slots in args.slots:
        print(json.dumps(measure(model, slots, args.threads, args.reps, args.max_tokens)),
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
