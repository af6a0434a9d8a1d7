"""Agreement of the answer check with hand labels: `python -m evals.answer_check_agreement`.

The sample (evals/data/answer_check_sample.jsonl) holds replies the assistant gave to seeds and
near-miss questions, each labelled: does it give what the question asks for? Reports, for
the one rule left (a reply that adds nothing to the question's words fails), the LLM judge
alone and rule-then-judge (the default), the share of labels matched, how many bad replies
were caught and how many good ones were wrongly rejected (each of those costs a right
answer).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from qa.core.markers import strip_markers
from qa.core.settings import Settings
from qa.core.text import new_words
from qa.generate.llm import make_llm
from qa.verify.answer_judge import judge_gives_answer

SAMPLE = Path(__file__).parent / "data" / "answer_check_sample.jsonl"


def verdicts(rows: list[dict], settings: Settings) -> dict[str, list[bool]]:
    llm = make_llm(settings)
    out: dict[str, list[bool]] = {"rule": [], "judge": [], "rule+judge": []}
    for row in rows:
        question, answer = row["question"], strip_markers(row["answer"])
        adds_something = bool(new_words(answer, question))
        judged = judge_gives_answer(llm, question, answer)
        out["rule"].append(adds_something)
        out["judge"].append(judged is not False)
        out["rule+judge"].append(adds_something and judged is not False)
    return out


def agreement(labels: list[bool], predicted: list[bool]) -> dict[str, float | int]:
    pairs = list(zip(labels, predicted, strict=True))
    return {
        "agreement": round(sum(a == b for a, b in pairs) / len(pairs), 3),
        "bad_caught": sum(not a and not b for a, b in pairs),
        "bad_total": sum(not a for a, _ in pairs),
        "good_rejected": sum(a and not b for a, b in pairs),
        "good_total": sum(a for a, _ in pairs),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=SAMPLE)
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.sample.read_text().splitlines() if line.strip()]
    labels = [bool(r["gives_answer"]) for r in rows]
    for name, predicted in verdicts(rows, Settings()).items():
        print(name, json.dumps(agreement(labels, predicted)))


if __name__ == "__main__":
    main()
