"""`python -m benchmarks.embed_server [--documents N] [--rounds R]`: indexing throughput with
the embedder in this process vs behind `qa embed-server` (embed_concurrency 1 and N).

Every run indexes the same corpus (the seeds, then pack documents) into a fresh collection of a
temporary home, so each one embeds every chunk. Runs alternate (A B C, C B A, ...) so drift on
a shared machine hits each setting alike. Besides chunks per second it reports the CPU seconds
each side spent: with a server, our process should spend little, i.e. it is not the limit.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

import psutil

from benchmarks import workloads
from index.embedding.embedders import Embedder, embedder_from_settings
from index.indexer import index_collection
from index.storing.store import ChunkStore, open_client
from qa.core.settings import SEEDS_DIR, Settings
from qa.runtime.health import HealthTimeout, ProcessExited, free_port, wait_until_healthy


@dataclass
class Setup:
    label: str
    embedder: Embedder


def start_server(port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "qa.cli", "embed-server", "--port", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/health"
    try:
        wait_until_healthy(url, timeout_s=180, process=proc, request_timeout_s=1)
    except ProcessExited as exited:
        raise SystemExit(f"qa embed-server exited with {exited.returncode}") from None
    except HealthTimeout:
        proc.terminate()
        raise SystemExit("qa embed-server did not start within 180 s") from None
    return proc


def index_once(
    setup: Setup, corpus: Path, home: Path, run: int, server: psutil.Process
) -> dict[str, Any]:
    client = open_client(home, None)
    name = f"bench-embed-{run}"
    store = ChunkStore(client, name, setup.embedder.name, setup.embedder.dimension)
    ours_cpu, server_cpu = time.process_time(), sum(server.cpu_times()[:2])
    started = time.perf_counter()
    where = Settings(home=home, collection=name)  # the same transaction as `qa index`
    report = index_collection([corpus], store, setup.embedder, where.store, where.indexing,
                              progress=False)  # fmt: skip
    wall = time.perf_counter() - started
    result = {
        "setup": setup.label,
        "chunks": report.chunks_embedded,
        "seconds": round(wall, 2),
        "chunks_per_s": round(report.chunks_embedded / wall, 1),
        "our_cpu_s": round(time.process_time() - ours_cpu, 2),
        "server_cpu_s": round(sum(server.cpu_times()[:2]) - server_cpu, 2),
    }
    client.delete_collection(name)
    client.delete_collection(f"{name}__files")
    return result


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for label in dict.fromkeys(r["setup"] for r in runs):
        mine = [r for r in runs if r["setup"] == label]
        out[label] = {
            key: median(r[key] for r in mine)
            for key in ("chunks", "chunks_per_s", "seconds", "our_cpu_s", "server_cpu_s")
        }
    return out


def markdown(summary: dict[str, dict[str, float]]) -> str:
    lines = [
        "| embedder | chunks/s | seconds | CPU s, our process | CPU s, server |",
        "|---|---|---|---|---|",
    ]
    for label, m in summary.items():
        lines.append(
            f"| {label} | {m['chunks_per_s']:.0f} | {m['seconds']:.1f} | {m['our_cpu_s']:.1f} "
            f"| {m['server_cpu_s']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    seeds = len(list(SEEDS_DIR.glob("*.txt")))
    parser.add_argument("--documents", type=int, default=seeds + 200, help="seeds + 200")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each setting")
    parser.add_argument("--concurrency", type=int, default=4, help="the concurrent setting")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench-embed-"))
    port = free_port()
    proc = start_server(port)
    try:
        corpus = workloads.build_corpus(work / "corpus", args.documents)
        url = f"http://127.0.0.1:{port}/v1"
        local = Settings(home=work / "home")
        setups = [
            Setup(
                "in-process",
                embedder_from_settings(local.embedding, local.runtime.request_timeout_s),
            )
        ]
        for c in (1, args.concurrency):
            remote = local.model_copy(
                update={"embed_backend": "openai", "embed_base_url": url, "embed_concurrency": c}
            )
            setups.append(
                Setup(
                    f"server, concurrency {c}",
                    embedder_from_settings(remote.embedding, remote.runtime.request_timeout_s),
                )
            )
        for s in setups:  # warm: model caches, connections, the server's first batch
            s.embedder.embed(["warm up"] * 32)
        server = psutil.Process(proc.pid)
        runs: list[dict[str, Any]] = []
        for r in range(args.rounds):
            order = setups if r % 2 == 0 else setups[::-1]
            for s in order:
                runs.append(index_once(s, corpus, work / "home", len(runs), server))
                print(json.dumps(runs[-1]), file=sys.stderr)
        summary = summarise(runs)
        print(json.dumps({"documents": args.documents, "runs": runs, "median": summary}))
        print(markdown(summary))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
