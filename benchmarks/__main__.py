"""`python -m benchmarks [--quick] [--server] [--out DIR]`: our pipeline and a vanilla
LlamaIndex reference measured side by side in one run; writes results.json, results.md and
chart.png. Every phase runs in its own process (its own peak memory and cold start)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import report, workloads


def run_phase(name: str, **args: Any) -> tuple[dict[str, Any], float]:
    """(result, wall seconds from process start to its result)."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.phases", name, json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=workloads.ROOT,
    )
    wall = time.perf_counter() - started
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"benchmark phase {name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1].removeprefix("RESULT ")), wall


def start_chroma_server(path: Path) -> tuple[subprocess.Popen, str]:
    from qa.runtime.health import HealthError, free_port, wait_until_healthy

    port = free_port()
    exe = Path(sys.executable).parent / "chroma"
    proc = subprocess.Popen(
        [str(exe), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    heartbeat = f"{url}/api/v2/heartbeat"
    try:
        wait_until_healthy(
            heartbeat, timeout_s=60, process=proc, interval_s=0.5, request_timeout_s=1
        )
    except HealthError:
        proc.kill()
        raise SystemExit("chroma server did not start") from None
    return proc, url


def million(sizes: list[int], common: dict[str, Any], work: str, step: Any) -> dict[str, Any]:
    """The 1M-chunk collection (already filled by the retrieval phase): fresh serving processes
    on the smallest and the largest collection, a cold start to the first answer, and an
    update of 1,000 changed documents."""
    large = f"bench-scale-{sizes[-1]}"
    out: dict[str, Any] = {}
    for size in (sizes[0], sizes[-1]):
        step(f"cold serving process on {size} chunks")
        out[f"cold_retrieval_{size}"], _ = run_phase(
            "cold_retrieval", collection=f"bench-scale-{size}", **common
        )
    small, big = out[f"cold_retrieval_{sizes[0]}"], out[f"cold_retrieval_{sizes[-1]}"]
    growth = (big["rss_after_queries_mb"] - small["rss_after_queries_mb"]) / (
        (big["chunks"] - small["chunks"]) / 1e6
    )
    out["rss_growth_mb_per_million_chunks"] = round(growth, 1)
    step(f"cold start to the first answer on {sizes[-1]} chunks")
    out["cold_start"], wall = run_phase("cold_start", collection=large, **common)
    out["cold_start"]["wall_s"] = round(wall, 2)
    step(f"1,000 changed documents on {sizes[-1]} chunks")
    try:  # an hour of measurements above is kept even if this last phase fails
        out["update"], _ = run_phase(
            "update_documents", collection=large, documents=1000, workdir=work, **common
        )
    except SystemExit as failed:
        out["update"] = {"error": str(failed)[-500:]}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: seconds, not minutes")
    parser.add_argument("--server", action="store_true", help="also measure a Chroma server")
    parser.add_argument(
        "--million",
        action="store_true",
        help="also a 1,000,000-chunk collection: retrieval, cold start, memory, disk, and an "
        "update of 1,000 changed documents (about an hour on 2 cores; --home keeps it)",
    )
    parser.add_argument("--only-scale", action="store_true", help="skip the answering phases")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--questions", type=int, help="only the first N seeds questions")
    parser.add_argument("--home", type=Path, help="data directory (default: a temporary one)")
    args = parser.parse_args(argv)

    quick = args.quick
    home = args.home or Path(tempfile.mkdtemp(prefix="qa-bench-"))
    work = home / "work"
    work.mkdir(parents=True, exist_ok=True)
    common = {"home": str(home)}
    limit = 2 if quick else args.questions
    sizes = [1000] if quick else [1000, 10_000, 100_000]
    if args.million:
        sizes.append(1_000_000)
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "machine": workloads.machine(),
    }

    def step(label: str) -> None:
        print(f"[{datetime.now():%H:%M:%S}] {label}", file=sys.stderr, flush=True)

    step("embedder rate")
    results["embed_rate"], _ = run_phase("embed_rate")
    if not args.only_scale:
        step("our pipeline on the seeds questions")
        results["ours"], _ = run_phase("answer_ours", limit=limit, **common)
        step("reference pipeline (vanilla LlamaIndex) on the same questions")
        results["reference"], _ = run_phase(
            "answer_reference", limit=limit, workdir=str(work), **common
        )
        step("cold start")
        cold, wall = run_phase("cold_start", **common)
        results["cold_start"] = {**cold, "seconds": round(wall, 2)}
        step("indexing")
        results["indexing"], _ = run_phase(
            "indexing", documents=40 if quick else 1000, workdir=str(work), **common
        )
    step(f"retrieval at {sizes} chunks (embedded Chroma)")
    results["retrieval"], _ = run_phase(
        "retrieval_scale", sizes=sizes, queries=20 if quick else 100, **common
    )
    if args.server:
        # The server opens the same store the embedded phase filled (that process has ended),
        # so both measure the very same collections.
        proc, url = start_chroma_server(home / "chroma")
        try:
            step(f"retrieval at {sizes} chunks (Chroma server)")
            results["retrieval_server"], _ = run_phase(
                "retrieval_scale", sizes=sizes, queries=20 if quick else 100, chroma_url=url,
                **common,
            )  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    if args.million:
        results["million"] = million(sizes, common, str(work), step)

    results["targets"] = report.targets(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(workloads.dump(results), encoding="utf-8")
    (args.out / "results.md").write_text(report.markdown(results), encoding="utf-8")
    report.chart(results, args.out / "chart.png")
    print(report.markdown(results))
    missed = [t["name"] for t in results["targets"] if t["met"] is False]
    print(f"\n{len(results['targets']) - len(missed)} of {len(results['targets'])} targets met; "
          f"results in {args.out}", file=sys.stderr)  # fmt: skip
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
