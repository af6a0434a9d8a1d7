"""`python -m benchmarks.load --users 8 16 --slots 1 4 --seconds 100`: the load test with the
local model decoding 1 or N answers at once (QA_LLM_PARALLEL), side by side.

Each cell (users, slots) starts its own `qa ui` on a loopback port, sends one unrecorded
question to warm it, then lets `users` clients ask the seeds questions of
tests/integration/test_load.py through the `/ask` API (gradio_client) for `--seconds`, and
waits for the questions still in flight (drain). It reports answers per minute, latency
p50/p95 (queueing included), errors, wrong answers, the peak RSS and the CPU seconds per
answer of the server (the page process and its model process), and the share of the cores
that other programs took meanwhile. Cells run in an interleaved order (slots 1,4 then 4,1) so a
machine that slows down over the run does not favour one setting; the load average before
each cell is recorded with it. Results: a table on stdout and JSON (--out).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from evals.metrics import percentile
from qa.runtime.health import HealthTimeout, ProcessExited, free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[1]
# The questions of tests/integration/test_load.py and what a right answer contains.
QUESTIONS = [
    ("Who accompanied Kim at the extended talks?", r"Ri Yong-ho"),
    ("How long did the summit meetings last?", r"\b(three|3) hours"),
    ("Where did Kim and Putin meet?", r"Vladivostok|Russky"),
]
REQUEST_TIMEOUT_S = 900  # 16 users in front of one slot: the last waits for 15 answers
START_TIMEOUT_S = 600


@dataclass(frozen=True)
class Cell:
    users: int
    slots: int


def interleaved(users: list[int], slots: list[int]) -> list[Cell]:
    """Every (users, slots) pair; the slot order flips from one user count to the next
    (1,4 then 4,1), so neither setting always runs first."""
    cells = []
    for i, count in enumerate(users):
        order = slots if i % 2 == 0 else slots[::-1]
        cells += [Cell(count, s) for s in order]
    return cells


@contextmanager
def ui_server(home: Path, slots: int, n_ctx: int | None, log: Path) -> Iterator[tuple[str, int]]:
    """`qa ui` with `slots` model slots; yields (url, pid) once the page answers."""
    env = {**os.environ, "QA_HOME": str(home), "QA_LLM_PARALLEL": str(slots),
           "GRADIO_ANALYTICS_ENABLED": "False"}  # fmt: skip
    if n_ctx:
        env["QA_N_CTX"] = str(n_ctx)
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qa.cli", "ui", "--port", str(port), "--no-browser"],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}/"
        try:
            _wait_until_up(url, proc, log)
            yield url, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    try:
        wait_until_healthy(url, timeout_s=START_TIMEOUT_S, process=proc, interval_s=0.5)
    except ProcessExited as exited:
        raise SystemExit(
            f"qa ui exited ({exited.returncode}):\n{log.read_text()[-2000:]}"
        ) from None
    except HealthTimeout:
        raise SystemExit(f"qa ui did not answer within {START_TIMEOUT_S} s") from None


def _tree_rss(pid: int) -> int:
    """RSS of the page process and its children (the model process), in bytes."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        with suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total


def _user(url: str, user: int, until: float, records: list[dict[str, Any]]) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    turn = user
    while time.monotonic() < until:
        question, expected = QUESTIONS[turn % len(QUESTIONS)]
        turn += 1
        record: dict[str, Any] = {"user": user, "question": question}
        started = time.perf_counter()
        try:
            result = client.submit(question, api_name="/ask").result(timeout=REQUEST_TIMEOUT_S)
            record["correct"] = bool(re.search(expected, result["answer"]))
            if not record["correct"]:
                record["answer"] = result["answer"]
        except Exception as exc:  # a load test records failures instead of stopping
            record["error"] = f"{exc.__class__.__name__}: {exc}"
        record["latency_s"] = time.perf_counter() - started
        record["done_at"] = time.monotonic()
        records.append(record)  # list.append is atomic; each record is whole


def _warm(url: str) -> None:
    from gradio_client import Client

    Client(url, verbose=False).predict(QUESTIONS[0][0], api_name="/ask")


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of the page process and its model process so far."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for p in procs:
        with suppress(psutil.NoSuchProcess):
            times = p.cpu_times()
            total += times.user + times.system
    return total


def _busy_cpu_s() -> float:
    """CPU seconds the whole machine has been busy (steal included: other guests' share)."""
    t = psutil.cpu_times()
    return (
        sum(t)
        - t.idle
        - getattr(t, "iowait", 0.0)
        - getattr(t, "guest", 0.0)
        - getattr(t, "guest_nice", 0.0)
    )


def _cpu_counters(pid: int, me: psutil.Process) -> tuple[float, float, float]:
    """(machine busy, server, this benchmark's clients) CPU seconds so far."""
    own = me.cpu_times()
    return _busy_cpu_s(), _tree_cpu_s(pid), own.user + own.system


def run_cell(cell: Cell, seconds: float, home: Path, n_ctx: int | None, logs: Path) -> dict:
    load_before = os.getloadavg()
    log = logs / f"ui-{cell.users}u-{cell.slots}s.log"
    me = psutil.Process()  # the users' clients run here
    with ui_server(home, cell.slots, n_ctx, log) as (url, pid):
        _warm(url)
        rss_idle = _tree_rss(pid)
        records: list[dict[str, Any]] = []
        cpu_before = _cpu_counters(pid, me)
        started = time.monotonic()
        until = started + seconds
        users = [
            threading.Thread(target=_user, args=(url, i, until, records)) for i in range(cell.users)
        ]
        for t in users:
            t.start()
        peak = rss_idle
        while any(t.is_alive() for t in users):
            peak = max(peak, _tree_rss(pid))
            time.sleep(1)
        for t in users:
            t.join()
        elapsed = time.monotonic() - started
        cpu_after = _cpu_counters(pid, me)
        busy, server, clients = (a - b for a, b in zip(cpu_after, cpu_before, strict=True))
    machine = {
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        "server_rss_mb": {"idle": round(rss_idle / 2**20), "peak": round(peak / 2**20)},
        "server_cpu_s": round(server, 1),
        # What the rest of the machine took while the cell ran: the benchmark cannot stop
        # other jobs, but it can say how much of the cores they had.
        "others_cpu_share": round(
            max(busy - server - clients, 0.0) / (elapsed * (psutil.cpu_count() or 1)), 3
        ),
    }
    return summarise(cell, records, started, seconds, machine)


def summarise(
    cell: Cell,
    records: list[dict[str, Any]],
    started: float,
    seconds: float,
    machine: dict[str, Any],
) -> dict[str, Any]:
    answered = [r for r in records if "error" not in r]
    latencies = [r["latency_s"] for r in answered]
    finished = max((r["done_at"] for r in records), default=started)
    wall = max(finished - started, 1e-9)  # load plus drain
    cpu = machine.get("server_cpu_s")
    return {
        "users": cell.users,
        "slots": cell.slots,
        "load_s": seconds,
        "wall_s": round(wall, 1),
        "requests": len(records),
        "answered": len(answered),
        "answers_per_min": round(60 * len(answered) / wall, 2),
        "latency_s": {str(p): round(percentile(latencies, p) or 0.0, 2) for p in (50, 95, 100)},
        "errors": [r for r in records if "error" in r],
        "wrong": [r for r in records if r.get("correct") is False],
        "server_cpu_s_per_answer": round(cpu / len(answered), 2) if cpu and answered else None,
        **machine,
    }


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| users | slots | answers/min | p50 s | p95 s | errors | wrong | peak RSS MB "
        "| server CPU s/answer | others' CPU share | load before |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['users']} | {r['slots']} | {r['answers_per_min']} | {r['latency_s']['50']} | "
            f"{r['latency_s']['95']} | {len(r['errors'])} | {len(r['wrong'])} | "
            f"{r['server_rss_mb']['peak']:,} | {r.get('server_cpu_s_per_answer')} | "
            f"{r.get('others_cpu_share')} | {r['load_avg_before'][0]} |"
        )
    return "\n".join(lines)


def ratios(results: list[dict[str, Any]]) -> list[str]:
    """Per user count: the most slots against one slot, throughput and latency. A cell run
    more than once (`--users 8 16 16 8` repeats each in mirrored order) counts by its mean."""
    lines = []
    for users in sorted({r["users"] for r in results}):
        by_slots: dict[int, list[dict[str, Any]]] = {}
        for r in results:
            if r["users"] == users:
                by_slots.setdefault(r["slots"], []).append(r)
        if 1 not in by_slots or len(by_slots) < 2:
            continue
        many, one = by_slots[max(by_slots)], by_slots[1]
        lines.append(
            f"{users} users, {max(by_slots)} slots / 1 slot: throughput "
            f"{_mean_ratio(many, one, lambda r: r['answers_per_min']):.2f}x, "
            f"p50 {_mean_ratio(many, one, lambda r: r['latency_s']['50']):.2f}x, "
            f"p95 {_mean_ratio(many, one, lambda r: r['latency_s']['95']):.2f}x"
            + (f" (mean of {len(one)} runs each)" if len(one) > 1 else "")
        )
    return lines


def _mean_ratio(
    cells: list[dict[str, Any]], baseline: list[dict[str, Any]], value: Callable[[dict], float]
) -> float:
    mean = statistics.mean(value(r) for r in cells)
    return mean / max(statistics.mean(value(r) for r in baseline), 1e-9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    parser.add_argument("--users", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--slots", type=int, nargs="+", default=[1, 4],
                        help="QA_LLM_PARALLEL values to compare")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=100, help="load per cell, then drain")
    parser.add_argument("--n-ctx", type=int, default=None, help="QA_N_CTX (context per slot)")
    parser.add_argument("--home", type=Path, default=None,
                        help="QA_HOME for the servers (default: the settings' home)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "load.json")
    args = parser.parse_args(argv)
    if args.home is None:
        from qa.core.settings import Settings

        args.home = Settings().store.home
    args.out.parent.mkdir(parents=True, exist_ok=True)
    logs = args.out.parent
    results = []
    for cell in interleaved(args.users, args.slots):
        print(f"{cell.users} users, {cell.slots} slot(s): load {os.getloadavg()[0]:.2f}",
              flush=True)  # fmt: skip
        result = run_cell(cell, args.seconds, args.home, args.n_ctx, logs)
        results.append(result)
        print(table([result]).splitlines()[-1], flush=True)
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(table(results))
    for line in ratios(results):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
