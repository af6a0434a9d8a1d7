"""Support judges against hand labels: `python -m evals.judge_agreement`.

evals/data/judge_sample.jsonl holds (question, claim, passage, supported) pairs labelled by
hand: claims from real seeds runs and near misses (one detail changed: a time, a name, a
place). Prints each judge's agreement and its errors by direction.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from evals.judges import LLMSupportJudge
from evals.metrics import Judge, LexicalSemanticJudge
from index.embedding.embedders import embedder_from_settings
from qa.core.settings import Settings
from qa.generate.llm import make_llm

SAMPLE = Path(__file__).parent / "data" / "judge_sample.jsonl"


def score(judge: Judge, rows: list[dict]) -> dict[str, float | int]:
    verdicts = [judge(r["claim"], r["passage"], r["question"]) for r in rows]
    pairs = list(zip((r["supported"] for r in rows), verdicts, strict=True))
    return {
        "agreement": round(sum(a == b for a, b in pairs) / len(pairs), 3),
        "pairs": len(pairs),
        "false_support": sum(b and not a for a, b in pairs),  # passes an unsupported claim
        "false_reject": sum(a and not b for a, b in pairs),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=SAMPLE)
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.sample.read_text().splitlines() if line.strip()]
    settings = Settings()
    judges: dict[str, Judge] = {
        "lexical": LexicalSemanticJudge(None, settings.verification.min_support),
        "lexical+minilm": LexicalSemanticJudge(
            embedder_from_settings(settings.embedding, settings.runtime.request_timeout_s),
            settings.verification.min_support,
        ),
        "llm": LLMSupportJudge(make_llm(settings)),
    }
    for name, judge in judges.items():
        print(name, json.dumps(score(judge, rows)))


if __name__ == "__main__":
    main()
