"""Benchmark bookkeeping on a hand-made result: targets, ratios, the table (no timing here)."""

from __future__ import annotations

from pathlib import Path

from benchmarks import report, workloads

RESULTS = {
    "date": "2026-11-23T10:00:00+00:00",
    "quick": False,
    "machine": {"cpus": 2, "memory_gb": 24},
    "ours": {"ttft_s": {"p50": 0.9, "p95": 1.5}, "latency_s": {"p50": 2.0, "p95": 3.0},
             "sources_shown_s": {"p50": 0.15}, "first_verified_s": {"p50": 1.4},
             "accuracy": 0.5, "peak_rss_mb": 1200.0, "questions": 58},
    "reference": {"ttft_s": {"p50": 5.0, "p95": 7.0}, "latency_s": {"p50": 6.0, "p95": 8.0},
                  "accuracy": 0.4, "peak_rss_mb": 1400.0, "questions": 58},
    "indexing": {"documents": 1000, "chunks": 2500, "ours_vs_raw": 0.75,
                 "reindex_unchanged_s": 0.8, "reindex_embedded": 0},
    "retrieval": {"1000": {"hybrid_ms": {"p50": 5.0, "p95": 9.0}},
                  "100000": {"hybrid_ms": {"p50": 30.0, "p95": 61.0}}, "peak_rss_mb": 900},
}  # fmt: skip


def test_targets_compare_measurements_with_the_goals() -> None:
    met = {t["name"]: t["met"] for t in report.targets(RESULTS)}
    assert met["first token p50 (s), warm"] is True
    assert met["verified answer p50 (s), warm"] is True
    assert met["speed-up vs reference (verified answer p50)"] is True  # 6.0 / 2.0 = 3x
    assert met["indexing throughput vs raw embedder"] is False  # 0.75 < 0.8
    assert met["unchanged re-index of 1000 documents (s)"] is True
    assert met["retrieval p95 at 100000 chunks (ms)"] is False  # the largest size counts
    assert met["accuracy at least the reference's"] is True


def test_missing_measurements_are_not_counted_as_met() -> None:
    assert all(t["met"] is None for t in report.targets({}))


def test_markdown_shows_ratios_and_every_target(tmp_path: Path) -> None:
    text = report.markdown({**RESULTS, "targets": report.targets(RESULTS)})
    assert "| verified answer p50 (s) | 2.000 | 6.000 | 0.333 |" in text
    assert "| sources shown p50 (s) | 0.150 |" in text  # the reference shows none early
    assert "| first verified sentence p50 (s) | 1.400 |" in text
    assert "| 100,000 chunks | 30.0 | 61.0 |" in text
    assert text.count("**no**") == 2
    report.chart(RESULTS, tmp_path / "chart.png")
    assert (tmp_path / "chart.png").stat().st_size > 1000


def test_corpus_of_n_documents_is_deterministic_and_distinct(tmp_path: Path) -> None:
    sources = workloads.pack_documents()
    n = len(sources) + 3
    folder = workloads.build_corpus(tmp_path / "c", n)
    files = sorted(folder.iterdir())
    assert len(files) == n
    texts = [f.read_text(encoding="utf-8") for f in files]
    assert len(set(texts)) == n  # re-issues differ from their originals
    assert texts[-1].startswith("Re-issue 1 of this report.")
