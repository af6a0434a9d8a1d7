"""`python -m evals.briefing`: time and citation quality of cited briefings (`qa brief`).

Topics over the seeds and over the MultiHop dev pack's articles (each corpus in its own
collection, as `qa eval` indexes it). For every briefing: the time to its first token and
to the verified briefing, its sentences, the articles it cites, and, judged by the model
asked Yes/No whether a cited passage states the sentence (the judge `qa eval` uses,
independent of the briefing's own support check):

- sentence support (ALCE citation recall): the share of the briefing's sentences that
  their cited quotes, joined, support;
- citation precision (ALCE): the share of citations that are needed (the sentence is
  supported, and the citation either supports it alone or the others do not without it).

The judge reads each cited quote with its report's date in front ("The April 25, 2019
report: ..."): a briefing drawn from reports of different dates says which report says
what ("The April 25, 2019 report says ...", qa/evidence/timeline.py), and that date is the
cited report's, not the quote's. `--undated-quotes` judges the quotes alone (the measure
before this was added; the judge then finds most dated sentences unsupported).

Writes `briefings.jsonl` and `summary.json` under `--out`, and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from statistics import median
from typing import Any

from evals.extraction import PACK, ROOT
from evals.judges import LLMSupportJudge
from evals.metrics import citation_support
from evals.runner import corpus_assistant
from qa.core.settings import Settings
from qa.core.text import date_label

SEEDS = ROOT / "seeds"
TOPICS = {
    "seeds": (SEEDS, [
        "the Kim-Putin summit in Vladivostok",
        "Stephen Biegun's visit to Moscow",
        "the talks on North Korea's nuclear programme",
        "Kim Chang-son's trips before the summit",
        "what Putin said after meeting Kim",
    ]),
    "multihop": (PACK, [
        "Sam Bankman-Fried and the FTX trial",
        "Sam Altman and OpenAI's board",
        "the Israel-Hamas war",
        "Black Friday deals",
        "Taylor Swift",
        "Google and antitrust cases",
        "the Cricket World Cup",
        "Arsenal in the Premier League",
    ]),
}  # fmt: skip


def dated_quotes(citations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The citations with each quote preceded by its report's date, where it has one."""
    return [
        {**c, "quote": f"The {label} report: {c['quote']}"} if label else c
        for c in citations
        for label in [date_label(str(c.get("published") or ""))]
    ]


def run(
    name: str, corpus: Path, topics: list[str], settings: Settings, dated: bool = True
) -> list[dict[str, Any]]:
    assistant, _ = corpus_assistant(corpus, settings)
    judge = LLMSupportJudge(assistant.llm)
    rows = []
    for topic in topics:
        briefing = assistant.brief(topic)
        data = briefing.to_json()
        judged = dated_quotes(data["citations"]) if dated else data["citations"]
        support = (
            citation_support(data["answer"], judged, topic, judge)
            if not briefing.abstained
            else {"sentence_support": None, "citation_needed": None}
        )
        rows.append({
            "set": name,
            "topic": topic,
            "briefing": data["answer"],
            "abstained": briefing.abstained,
            "citations": data["citations"],
            "articles_cited": len({c["source"] for c in data["citations"]}),
            "ttft_s": data["ttft_s"],
            "total_s": data["latency_s"],
            **support,
        })  # fmt: skip
        print(f"[{name}] {topic}: {data['latency_s']} s, {support}", file=sys.stderr)
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in sorted({r["set"] for r in rows}):
        mine = [r for r in rows if r["set"] == name]
        given = [r for r in mine if not r["abstained"]]
        supported = [r["sentence_support"] for r in given if r["sentence_support"] is not None]
        needed = [r["citation_needed"] for r in given if r["citation_needed"] is not None]
        out[name] = {
            "briefings": len(mine),
            "withheld": len(mine) - len(given),
            "sentence_support": sum(supported) / len(supported) if supported else None,
            "citation_precision": sum(needed) / len(needed) if needed else None,
            "articles_cited_median": median(r["articles_cited"] for r in given) if given else None,
            "ttft_s_median": median(r["ttft_s"] for r in given if r["ttft_s"]) if given else None,
            "total_s_median": median(r["total_s"] for r in mine),
            "total_s_max": max(r["total_s"] for r in mine),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.briefing", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("eval-runs/briefings"))
    parser.add_argument("--sets", nargs="+", default=list(TOPICS), choices=list(TOPICS))
    parser.add_argument(
        "--undated-quotes", action="store_true", help="judge the cited quotes without their dates"
    )
    args = parser.parse_args(argv)
    settings = Settings()
    rows = []
    for name in args.sets:
        corpus, topics = TOPICS[name]
        if not corpus.is_dir():
            print(f"error: no articles at {corpus}", file=sys.stderr)
            return 2
        rows += run(name, corpus, topics, settings, not args.undated_quotes)
    summary = summarise(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "briefings.jsonl").open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    keys = ["briefings", "withheld", "sentence_support", "citation_precision",
            "articles_cited_median", "ttft_s_median", "total_s_median", "total_s_max"]  # fmt: skip
    print("| set | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for name, s in summary.items():
        cells = [f"{s[k]:.3f}" if isinstance(s[k], float) else str(s[k]) for k in keys]
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
