"""Targets, the Markdown table and the chart for a benchmark run."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _get(data: dict[str, Any], dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else round(a / b, 3)


def _largest(results: dict[str, Any], key: str = "retrieval") -> tuple[str, dict[str, Any]]:
    sizes = [k for k in results.get(key, {}) if k.isdigit()]
    size = max(sizes, key=int) if sizes else ""
    return size, results.get(key, {}).get(size, {})


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets with what was measured; `met` is None when not measured."""
    ours, ref = results.get("ours", {}), results.get("reference", {})
    speedup = _ratio(_get(ref, "latency_s.p50"), _get(ours, "latency_s.p50"))
    acc_ok = None
    if ours.get("accuracy") is not None and ref.get("accuracy") is not None:
        acc_ok = ours["accuracy"] >= ref["accuracy"]
    size, largest = _largest(results)
    rows = [
        ("first token p50 (s), warm", _get(ours, "ttft_s.p50"), "<=", 1.0),
        ("verified answer p50 (s), warm", _get(ours, "latency_s.p50"), "<=", 2.5),
        ("speed-up vs reference (verified answer p50)", speedup, ">=", 2.0),
        ("indexing throughput vs raw embedder", _get(results, "indexing.ours_vs_raw"), ">=", 0.8),
        (
            f"unchanged re-index of {_get(results, 'indexing.documents')} documents (s)",
            _get(results, "indexing.reindex_unchanged_s"),
            "<",
            2.0,
        ),
        (
            f"retrieval p95 at {size} chunks (ms)",
            _get(largest, "hybrid_ms.p95"),
            "<",
            100.0 if size == "1000000" else 50.0,
        ),
        (
            f"filtered retrieval p95 at {size} chunks (ms)",
            _get(largest, "filtered_ms.p95"),
            "<",
            100.0 if size == "1000000" else 50.0,
        ),
        ("serving peak RSS (MB)", ours.get("peak_rss_mb"), "<", 1536.0),
    ]
    million = results.get("million")
    if million:
        rows += [
            (
                "cold start to first retrieval at 1M chunks, no BM25 rebuild (s)",
                _get(million, "cold_retrieval_1000000.first_retrieval_s"),
                "<",
                10.0,
            ),
            (
                "cold start to first answer at 1M chunks (s)",
                _get(million, "cold_start.first_answer_s"),
                "<",
                10.0,
            ),
        ]
    checks = {"<=": lambda v, lim: v <= lim, ">=": lambda v, lim: v >= lim,
              "<": lambda v, lim: v < lim}  # fmt: skip
    out = []
    for name, value, op, limit in rows:
        met = None if value is None else checks[op](value, limit)
        out.append({"name": name, "measured": value, "target": f"{op} {limit:g}", "met": met})
    out.append({"name": "accuracy at least the reference's", "measured": ours.get("accuracy"),
                "target": f">= {ref.get('accuracy')}", "met": acc_ok})  # fmt: skip
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def markdown(results: dict[str, Any]) -> str:
    ours, ref = results.get("ours", {}), results.get("reference", {})
    m = results.get("machine", {})
    lines = [
        f"Run {results.get('date')} on {m.get('cpus')} CPUs, {m.get('memory_gb')} GB "
        f"({m.get('platform')}); quick={results.get('quick')}; MiniLM "
        f"{_get(results, 'embed_rate.passages_per_s')} passages/s.",
        "",
        "| seeds questions | ours | reference | ours / reference |",
        "|---|---|---|---|",
    ]
    for label, key in [
        ("sources shown p50 (s)", "sources_shown_s.p50"),
        ("first token p50 (s)", "ttft_s.p50"),
        ("first token p95 (s)", "ttft_s.p95"),
        ("first verified sentence p50 (s)", "first_verified_s.p50"),
        ("verified answer p50 (s)", "latency_s.p50"),
        ("verified answer p95 (s)", "latency_s.p95"),
        ("accuracy (answerable)", "accuracy"),
        ("peak RSS (MB)", "peak_rss_mb"),
    ]:
        a, b = _get(ours, key), _get(ref, key)
        lines.append(f"| {label} | {_fmt(a)} | {_fmt(b)} | {_fmt(_ratio(a, b))} |")
    lines.append(f"| questions | {ours.get('questions')} | {ref.get('questions')} | |")

    idx = results.get("indexing", {})
    lines += [
        "",
        "| indexing | value |",
        "|---|---|",
        f"| documents / chunks | {idx.get('documents')} / {idx.get('chunks')} |",
        f"| ours (chunks/s) | {_fmt(idx.get('ours_chunks_per_s'))} |",
        f"| raw embedder, same texts (chunks/s) | {_fmt(idx.get('raw_embedder_chunks_per_s'))} |",
        f"| ours / raw | {_fmt(idx.get('ours_vs_raw'))} |",
        f"| unchanged re-index (s) | {_fmt(idx.get('reindex_unchanged_s'))} "
        f"({idx.get('reindex_embedded')} embedded) |",
        f"| peak RSS while indexing (MB) | {_fmt(idx.get('peak_rss_mb'))} |",
        f"| cold start to first answer (s) | {_fmt(_get(results, 'cold_start.seconds'))} |",
    ]
    for key, label in [("retrieval", "embedded Chroma"), ("retrieval_server", "Chroma server")]:
        if key not in results:
            continue
        lines += [
            "",
            f"| retrieval, {label} | hybrid p50 (ms) | hybrid p95 (ms) | filtered p95 (ms) "
            "| dense p50 (ms) | dense p95 (ms) | BM25 p95 (ms) | first query (s) | fill (s) "
            "| BM25 build (s) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for size, r in results[key].items():
            if size.isdigit():
                lines.append(
                    f"| {int(size):,} chunks | {_fmt(_get(r, 'hybrid_ms.p50'))} | "
                    f"{_fmt(_get(r, 'hybrid_ms.p95'))} | {_fmt(_get(r, 'filtered_ms.p95'))} | "
                    f"{_fmt(_get(r, 'dense_ms.p50'))} | "
                    f"{_fmt(_get(r, 'dense_ms.p95'))} | {_fmt(_get(r, 'bm25_ms.p95'))} | "
                    f"{_fmt(r.get('first_query_s'))} | {_fmt(r.get('fill_s'))} | "
                    f"{_fmt(r.get('bm25_build_s'))} |"
                )
    lines += _million_lines(results.get("million"), results.get("retrieval", {}))
    lines += ["", "| target | measured | goal | met |", "|---|---|---|---|"]
    for t in results.get("targets", []):
        met = {True: "yes", False: "**no**", None: "–"}[t["met"]]
        lines.append(f"| {t['name']} | {_fmt(t['measured'])} | {t['target']} | {met} |")
    return "\n".join(lines) + "\n"


def _million_lines(million: dict[str, Any] | None, retrieval: dict[str, Any]) -> list[str]:
    if not million:
        return []
    update = million.get("update", {})
    cold = million.get("cold_start", {})
    big = million.get("cold_retrieval_1000000", {})
    return [
        "",
        "| 1M chunks | value |",
        "|---|---|",
        f"| fresh process to first retrieval (s) | {_fmt(big.get('first_retrieval_s'))} |",
        f"| fresh process to first answer (s) | {_fmt(cold.get('first_answer_s'))} |",
        f"| serving RSS after 50 queries (MB) | {_fmt(big.get('rss_after_queries_mb'))} |",
        f"| RSS growth per million chunks (MB) | "
        f"{_fmt(million.get('rss_growth_mb_per_million_chunks'))} |",
        f"| Chroma on disk, all collections (MB) | {_fmt(retrieval.get('chroma_disk_mb'))} |",
        f"| BM25 on disk (MB) | {_fmt(_get(retrieval, '1000000.bm25_disk_mb'))} |",
        f"| 1,000 changed documents: update (s) | {_fmt(update.get('update_s'))} "
        f"({update.get('chunks_embedded')} chunks embedded, MiniLM share "
        f"{_fmt(update.get('embedding_share_s'))} s) |",
        f"| unchanged re-index of them (s) | {_fmt(update.get('unchanged_s'))} |",
    ]


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    labels = ["first token p50", "verified answer p50", "verified answer p95"]
    keys = ["ttft_s.p50", "latency_s.p50", "latency_s.p95"]
    xs = range(len(keys))
    for offset, (name, data) in enumerate(
        [("ours", results.get("ours", {})), ("reference", results.get("reference", {}))]
    ):
        values = [_get(data, k) or 0 for k in keys]
        left.bar([x + offset * 0.4 for x in xs], values, width=0.4, label=name)
    left.set_xticks([x + 0.2 for x in xs], labels)
    left.set_ylabel("seconds")
    left.set_title("Answering the seeds questions")
    left.legend()
    for key, label in [("retrieval", "embedded"), ("retrieval_server", "server")]:
        sizes = sorted(int(k) for k in results.get(key, {}) if k.isdigit())
        if sizes:
            p95 = [_get(results[key][str(s)], "hybrid_ms.p95") or 0 for s in sizes]
            right.plot(sizes, p95, marker="o", label=f"hybrid p95, {label}")
    right.set_xscale("log")
    right.axhline(50, color="grey", linestyle="--", label="target 50 ms")
    right.set_xlabel("chunks in the collection")
    right.set_ylabel("ms")
    right.set_title("Retrieval latency vs corpus size")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
