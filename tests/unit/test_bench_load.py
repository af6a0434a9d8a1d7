"""The load benchmark's bookkeeping (benchmarks/load.py): cell order, summary and ratios."""

from __future__ import annotations

from benchmarks.load import Cell, interleaved, ratios, summarise, table


def test_cells_alternate_which_slot_count_runs_first() -> None:
    assert interleaved([8, 16], [1, 4]) == [Cell(8, 1), Cell(8, 4), Cell(16, 4), Cell(16, 1)]
    assert interleaved([2, 4, 8], [1, 2]) == [
        Cell(2, 1), Cell(2, 2), Cell(4, 2), Cell(4, 1), Cell(8, 1), Cell(8, 2),
    ]  # fmt: skip


def _records(latencies: list[float], started: float) -> list[dict]:
    return [
        {"user": i, "latency_s": lat, "done_at": started + lat, "correct": True}
        for i, lat in enumerate(latencies)
    ]


def test_summary_counts_answers_per_minute_over_load_and_drain() -> None:
    records = _records([10.0, 20.0, 30.0], started=100.0)
    records.append({"user": 3, "latency_s": 5.0, "done_at": 105.0, "correct": False})
    records.append({"user": 4, "latency_s": 60.0, "done_at": 160.0, "error": "Timeout"})
    machine = {"load_avg_before": [1.5, 1.0, 0.5], "server_rss_mb": {"idle": 1024, "peak": 3072},
               "server_cpu_s": 10.0, "others_cpu_share": 0.25}  # fmt: skip
    result = summarise(Cell(5, 4), records, 100.0, 50, machine)
    assert result["wall_s"] == 60.0  # the last request (an error) ended 60 s after the start
    assert result["answered"] == 4  # wrong answers are answers; errors are not
    assert result["answers_per_min"] == 4.0
    assert result["latency_s"]["50"] == 15.0
    assert len(result["errors"]) == 1 and len(result["wrong"]) == 1
    assert result["server_rss_mb"] == {"idle": 1024, "peak": 3072}
    assert result["server_cpu_s_per_answer"] == 2.5
    assert "| 5 | 4 | 4.0 | 15.0 |" in table([result])
    assert "| 3,072 | 2.5 | 0.25 | 1.5 |" in table([result])


def test_ratio_compares_the_most_slots_with_one() -> None:
    def cell(slots: int, per_min: float, p50: float) -> dict:
        return {"users": 8, "slots": slots, "answers_per_min": per_min,
                "latency_s": {"50": p50, "95": p50 * 2}}  # fmt: skip

    lines = ratios([cell(1, 10.0, 40.0), cell(4, 12.0, 30.0)])
    assert lines == ["8 users, 4 slots / 1 slot: throughput 1.20x, p50 0.75x, p95 0.75x"]
    assert ratios([cell(4, 12.0, 30.0)]) == []  # nothing to compare with
    repeated = ratios([cell(1, 10.0, 40.0), cell(4, 12.0, 30.0), cell(4, 18.0, 50.0),
                       cell(1, 20.0, 40.0)])  # fmt: skip
    assert repeated == [
        "8 users, 4 slots / 1 slot: throughput 1.00x, p50 1.00x, p95 1.00x (mean of 2 runs each)"
    ]
