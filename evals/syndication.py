"""`python -m evals.syndication`: the threshold at which two articles are one syndicated
story, chosen on a made set of rewritten wire stories and judged out of fold.

Every MultiHop pack article is a wire story; each is "syndicated" three times, as outlets
rewrite wire copy (seeded, reproducible):

- light: a new headline, a dateline ("LONDON (Wire) -"), a credit line at the end;
- medium: light, plus one paragraph dropped (or the last sentence cut) and a few words
  swapped for synonyms;
- heavy: medium, plus two paragraphs swapped, a paragraph of local context added and some
  sentences shortened.

Positive pairs are (story, its copy); negative pairs are two different pack articles (among
them articles about the same event from different outlets: the pack covers events from
many outlets), and (story, another story that reuses one of its paragraphs as background),
as follow-up reports do: those are different articles and must stay apart. The MinHash similarity of
index/near_duplicates.py scores each pair; the threshold maximising F1 on four fifths of the
stories is judged on the fifth (5 folds by story), and the one on all stories is reported
for the product. Prints a Markdown summary; `--out FILE` writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from evals.extraction import PACK, ROOT, _header, seed_pages
from index.near_duplicates import SYNDICATION_THRESHOLD, signature

SQUAD = ROOT.parent / "shared" / "benchmarks" / "squad2_dev_sample" / "docs"
SEEDS = ROOT / "seeds"
LEVELS = ("light", "medium", "heavy")
FOLDS = 5
SYNONYMS = {
    "said": "stated", "says": "states", "also": "additionally", "big": "large",
    "help": "assist", "show": "indicate", "shows": "indicates", "buy": "purchase",
    "start": "begin", "started": "began", "about": "around", "many": "numerous",
    "new": "fresh", "people": "individuals", "get": "obtain", "use": "employ",
    "told": "informed", "but": "however", "because": "since", "need": "require",
}  # fmt: skip
CITIES = ["LONDON", "NEW YORK", "SYDNEY", "MUMBAI", "TORONTO", "BERLIN", "PARIS", "TOKYO"]


def short_stories(folder: Path = PACK) -> list[tuple[str, list[str]]]:
    """(title, paragraphs) of every MultiHop pack article: evidence excerpts of a median 28
    words, far shorter than a wire story (reported apart)."""
    out = []
    for path in sorted(folder.glob("*.txt")):
        head, body = _header(path.read_text(encoding="utf-8"))
        paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
        if paragraphs:
            out.append((head.get("title", ""), paragraphs))
    return out


def long_stories(squad: Path = SQUAD, seeds: Path = SEEDS) -> list[tuple[str, list[str]]]:
    """Stories of wire length: the five seed articles (their body paragraphs, as labelled in
    evals/gold/seed_bodies.json), and stories of four SQuAD paragraphs each (about 450
    words; paragraphs of one story come from different pages, which changes no shingle)."""
    out = []
    for page in seed_pages(seeds):
        out.append((page.name, page.body.split("\n")))
    paragraphs = []
    for path in sorted(squad.glob("*.txt")):
        body = _header(path.read_text(encoding="utf-8"))[1].strip()
        if body:
            paragraphs.append(body)
    for k in range(0, len(paragraphs) - 3, 4):
        out.append((f"squad story {k // 4 + 1}", paragraphs[k : k + 4]))
    return out


def _swap_words(text: str, rng: random.Random, share: float) -> str:
    def swap(m: re.Match[str]) -> str:
        word = m.group(0)
        new = SYNONYMS.get(word.lower())
        return new if new and rng.random() < share else word

    return re.sub(r"[A-Za-z]+", swap, text)


def rewrite(title: str, paragraphs: list[str], level: str, rng: random.Random) -> str:
    paras = list(paragraphs)
    if level in ("medium", "heavy"):
        if len(paras) >= 3:
            paras.pop(rng.randrange(1, len(paras)))
        else:
            sentences = re.split(r"(?<=[.!?])\s+", paras[-1])
            if len(sentences) > 1:
                paras[-1] = " ".join(sentences[:-1])
        paras = [_swap_words(p, rng, 0.5) for p in paras]
    if level == "heavy":
        if len(paras) >= 3:
            i = rng.randrange(1, len(paras) - 1)
            paras[i], paras[i + 1] = paras[i + 1], paras[i]
        paras.insert(
            rng.randrange(1, len(paras) + 1),
            "Local officials said they were following the situation closely and would share "
            "more information with residents in the coming days.",
        )
        paras = [re.sub(r",[^,.]{10,60},", ",", p, count=1) for p in paras]
    city = rng.choice(CITIES)
    paras[0] = f"{city} (Wire) - {paras[0]}"
    headline = f"{title.split(':')[0]} - report" if title else "Wire report"
    credit = "Reporting by wire staff; editing by the news desk."
    return "\n\n".join([headline, *paras, credit])


def pairs(docs: list[tuple[str, list[str]]], seed: int = 11) -> dict[str, Any]:
    """Signatures of the originals and their copies, and every scored pair."""
    rng = random.Random(seed)
    originals = np.stack([signature("\n\n".join(p)) for _, p in docs])
    copies = {
        level: np.stack([signature(rewrite(t, p, level, rng)) for t, p in docs]) for level in LEVELS
    }
    positives = [
        (i, level, float(np.mean(originals[i] == copies[level][i])))
        for level in LEVELS
        for i in range(len(docs))
    ]
    n = len(docs)
    negatives = []
    for i in range(n):
        same = (originals[i + 1 :] == originals[i]).mean(axis=1)
        negatives += [(i, i + 1 + j, float(s)) for j, s in enumerate(same)]
    reuse = []  # (i, j, similarity): story j with one paragraph of story i as background
    for i, (_, paragraphs) in enumerate(docs):
        j = (i + 1 + rng.randrange(n - 1)) % n
        other = list(docs[j][1])
        other.insert(len(other), rng.choice(paragraphs))
        sig = signature("\n\n".join(other))
        reuse.append((i, j, float(np.mean(originals[i] == sig))))
    return {"positives": positives, "negatives": negatives + reuse, "reuse": reuse}


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def at(threshold: float, pos: list[float], neg: list[float]) -> tuple[float, float, float]:
    tp = sum(s >= threshold for s in pos)
    fp = sum(s >= threshold for s in neg)
    return _prf(tp, fp, len(pos) - tp)


# Merging two different stories hides one of them; missing a copy only repeats a story. So
# of the thresholds whose F1 is within this of the best, the highest is taken.
F1_SLACK = 0.005


def best_threshold(pos: list[float], neg: list[float]) -> float:
    grid = [round(float(t), 3) for t in np.arange(0.05, 1.0, 0.025)]
    f1 = {t: at(t, pos, neg)[2] for t in grid}
    best = max(f1.values())
    return max(t for t in grid if f1[t] >= best - F1_SLACK)


def out_of_fold(scored: dict[str, Any], n: int) -> dict[str, Any]:
    fold = [i % FOLDS for i in range(n)]
    rows = []
    for k in range(FOLDS):
        fit_pos = [s for i, _, s in scored["positives"] if fold[i] != k]
        fit_neg = [s for i, j, s in scored["negatives"] if fold[i] != k and fold[j] != k]
        threshold = best_threshold(fit_pos, fit_neg)
        test_pos = [s for i, _, s in scored["positives"] if fold[i] == k]
        test_neg = [s for i, j, s in scored["negatives"] if fold[i] == k or fold[j] == k]
        p, r, f = at(threshold, test_pos, test_neg)
        rows.append({"fold": k, "threshold": threshold, "precision": p, "recall": r, "f1": f})
    return {
        "folds": rows,
        "precision": float(np.mean([r["precision"] for r in rows])),
        "recall": float(np.mean([r["recall"] for r in rows])),
        "f1": float(np.mean([r["f1"] for r in rows])),
    }


def evaluate(docs: list[tuple[str, list[str]]], threshold: float) -> dict[str, Any]:
    scored = pairs(docs)
    pos = [s for _, _, s in scored["positives"]]
    neg = [s for _, _, s in scored["negatives"]]
    reuse = [s for _, _, s in scored["reuse"]]
    p, r, f = at(threshold, pos, neg)
    return {
        "stories": len(docs),
        "positive_pairs": len(pos),
        "negative_pairs": len(neg),
        "fitted_on_all": best_threshold(pos, neg),
        "out_of_fold": out_of_fold(scored, len(docs)),
        "at_threshold": {"threshold": threshold, "precision": p, "recall": r, "f1": f},
        "recall_by_level": {
            lv: at(threshold, [s for _, x, s in scored["positives"] if x == lv], [])[1]
            for lv in LEVELS
        },
        "median_copy_similarity": {
            lv: float(np.median([s for _, x, s in scored["positives"] if x == lv])) for lv in LEVELS
        },
        "reused_paragraph_similarity": {"median": float(np.median(reuse)), "max": max(reuse)},
        "hardest_negatives": sorted(neg, reverse=True)[:5],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.syndication", description=__doc__)
    parser.add_argument("--pack", type=Path, default=PACK, help="MultiHop pack docs folder")
    parser.add_argument("--squad", type=Path, default=SQUAD, help="SQuAD pack docs folder")
    parser.add_argument("--out", type=Path, help="write the numbers as JSON")
    args = parser.parse_args(argv)
    if not args.pack.is_dir() or not args.squad.is_dir():
        print(f"error: no pack articles at {args.pack} or {args.squad}", file=sys.stderr)
        return 2
    sets = {
        "wire-length stories (seeds, SQuAD x4)": long_stories(args.squad),
        "short excerpts (MultiHop)": short_stories(args.pack),
    }
    results = {name: evaluate(docs, SYNDICATION_THRESHOLD) for name, docs in sets.items()}
    for name, r in results.items():
        oof, shipped = r["out_of_fold"], r["at_threshold"]
        print(f"## {name}: {r['stories']} stories, {r['positive_pairs']} copies, "
              f"{r['negative_pairs']} pairs of different articles")  # fmt: skip
        folds = [f["threshold"] for f in oof["folds"]]
        print(f"out of fold ({FOLDS} folds by story): precision {oof['precision']:.3f}, "
              f"recall {oof['recall']:.3f}, F1 {oof['f1']:.3f}, thresholds {folds}; "
              f"fitted on all {r['fitted_on_all']}")  # fmt: skip
        print(f"at the shipped {SYNDICATION_THRESHOLD}: precision {shipped['precision']:.3f}, "
              f"recall {shipped['recall']:.3f} (by rewrite {r['recall_by_level']})")  # fmt: skip
        print(f"median similarity of copies {r['median_copy_similarity']}; a reused paragraph "
              f"{r['reused_paragraph_similarity']}; most similar different articles "
              f"{[round(h, 3) for h in r['hardest_negatives']]}")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
