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
as follow-up reports do: those are different articles and must stay apart.

Corrections: each story is also corrected in one figure, date or name (in turn; one
occurrence, as a template story or a corrected report differs), then carried as it is and
syndicated at each level. (story, its correction) must stay apart too: grouped, one of them
hides the other. A rewrite that drops the corrected words is a plain copy and left out.

Two rules score each pair: the MinHash similarity of index/syndication/near_duplicates.py
alone, and the product's (the similarity counts only when the two articles' key facts
agree). The threshold maximising F1 on four fifths of the stories is judged on the fifth
(5 folds by story), with and without the corrections among the pairs to keep apart, and the
one on all stories is reported for the product. Prints a Markdown summary; `--out FILE`
writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from evals.extraction import PACK, ROOT, _header, seed_pages
from index.stopwords import STOPWORDS
from index.syndication.near_duplicates import (
    SYNDICATION_THRESHOLD,
    facts_agree,
    key_facts,
    signature,
)
from index.text import MONTH_NAMES, WEEKDAY_NAMES

SQUAD = ROOT.parent / "shared" / "benchmarks" / "squad2_dev_sample" / "docs"
SEEDS = ROOT / "seeds"
LEVELS = ("light", "medium", "heavy")
CORRECTED = ("as is", *LEVELS)  # a corrected story, carried as it is or rewritten
KINDS = ("figure", "date", "name")
RULES = ("minhash", "minhash + facts")
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


_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)*\b")
_CAPITALISED = re.compile(r"\b[A-Z][a-z]{2,}\b")
_DATE_WORDS = [w.capitalize() for w in MONTH_NAMES + WEEKDAY_NAMES]


def _occurrences(paragraphs: list[str]) -> dict[str, list[tuple[int, int, int, str]]]:
    """(paragraph, start, end, replacement) of each fact a correction could change, by
    kind: a figure (its last digit), a date (a year, month or weekday: the next one) and a
    name (a capitalised word inside a sentence; replaced later, from another story)."""
    found: dict[str, list[tuple[int, int, int, str]]] = {kind: [] for kind in KINDS}
    for p, text in enumerate(paragraphs):
        for m in _NUMBER.finditer(text):
            digits = m.group(0)
            if digits.isdigit() and len(digits) == 4 and 1800 <= int(digits) <= 2100:
                found["date"].append((p, m.start(), m.end(), str(int(digits) + 1)))
            else:
                last = int(digits[-1])
                new = digits[:-1] + str(last + 1 if last < 9 else last - 1)
                found["figure"].append((p, m.start(), m.end(), new))
        for m in _CAPITALISED.finditer(text):
            word = m.group(0)
            if word in _DATE_WORDS:
                names = MONTH_NAMES if word.lower() in MONTH_NAMES else WEEKDAY_NAMES
                nxt = names[(names.index(word.lower()) + 1) % len(names)].capitalize()
                found["date"].append((p, m.start(), m.end(), nxt))
            elif word.lower() not in STOPWORDS and _inside_sentence(text, m.start()):
                found["name"].append((p, m.start(), m.end(), ""))
    return found


def _inside_sentence(text: str, start: int) -> bool:
    """Whether a word at `start` is not the first of its sentence (a capital there is no
    sign of a name)."""
    return text[:start].rstrip(" \"'“‘(")[-1:] not in ("", ".", "!", "?", ":")


def correct(
    paragraphs: list[str], kind: str, rng: random.Random, names: list[str]
) -> tuple[list[str], str] | None:
    """The story with one fact changed (of `kind`, else of the next kind it has), and the
    kind changed; a name becomes one of `names` that the story does not use."""
    found = _occurrences(paragraphs)
    start = KINDS.index(kind)
    for changed in KINDS[start:] + KINDS[:start]:
        if not found[changed]:
            continue
        p, a, b, new = rng.choice(found[changed])
        if changed == "name":
            unused = [n for n in names if n not in " ".join(paragraphs)]
            if not unused:
                continue
            new = rng.choice(unused)
        out = list(paragraphs)
        out[p] = out[p][:a] + new + out[p][b:]
        return out, changed
    return None


# No threshold of the grid is under this: a pair less similar is never grouped, so its
# key facts are not compared (most pairs of different articles).
LOWEST_THRESHOLD = 0.05


def pairs(docs: list[tuple[str, list[str]]], seed: int = 11) -> dict[str, Any]:
    """Every scored pair, as (similarity, facts agree): of a story and its copy, of two
    different stories, of a story and one reusing its paragraph, of a story and its
    correction."""
    rng = random.Random(seed)
    texts = ["\n\n".join(p) for _, p in docs]
    originals = np.stack([signature(t) for t in texts])
    facts = [key_facts(t) for t in texts]

    def scored(i: int, sim: float, text: str) -> tuple[float, bool]:
        return sim, sim < LOWEST_THRESHOLD or facts_agree(facts[i], key_facts(text))

    def apart(i: int, j: int, sim: float) -> tuple[int, int, float, bool]:
        return i, j, sim, sim < LOWEST_THRESHOLD or facts_agree(facts[i], facts[j])

    copies = {level: [rewrite(t, p, level, rng) for t, p in docs] for level in LEVELS}
    positives = []
    for level in LEVELS:
        sigs = np.stack([signature(c) for c in copies[level]])
        positives += [
            (i, level, *scored(i, float(np.mean(originals[i] == sigs[i])), copies[level][i]))
            for i in range(len(docs))
        ]
    n = len(docs)
    negatives = []
    for i in range(n):
        same = (originals[i + 1 :] == originals[i]).mean(axis=1)
        negatives += [apart(i, i + 1 + j, float(s)) for j, s in enumerate(same)]
    reuse = []  # story j with one paragraph of story i as background
    for i, (_, paragraphs) in enumerate(docs):
        j = (i + 1 + rng.randrange(n - 1)) % n
        other = list(docs[j][1])
        other.insert(len(other), rng.choice(paragraphs))
        text = "\n\n".join(other)
        reuse.append((i, j, *scored(i, float(np.mean(originals[i] == signature(text))), text)))
    return {
        "positives": positives,
        "negatives": negatives + reuse,
        "reuse": reuse,
        "corrections": corrections(docs, originals, scored, seed),
    }


def corrections(
    docs: list[tuple[str, list[str]]],
    originals: np.ndarray,
    scored: Callable[[int, float, str], tuple[float, bool]],
    seed: int,
) -> list[tuple[int, str, float, bool, str]]:
    """(story, how it is carried, similarity, facts agree, kind) of each story against its
    correction. A rewrite of the correction and one of the story share their random draws,
    so they differ only where the corrected words survived."""
    names = sorted({p[k][a:b] for _, p in docs for k, a, b, _ in _occurrences(p)["name"]})
    out = []
    for i, (title, paragraphs) in enumerate(docs):
        change = correct(paragraphs, KINDS[i % len(KINDS)], random.Random(f"{seed}:{i}"), names)
        if change is None:
            continue
        changed, kind = change
        for level in CORRECTED:
            text = "\n\n".join(changed)
            if level != "as is":
                text = rewrite(title, changed, level, random.Random(f"{seed}:{i}:{level}"))
                if text == rewrite(title, paragraphs, level, random.Random(f"{seed}:{i}:{level}")):
                    continue  # the rewrite dropped the corrected words: a plain copy
            sim = float(np.mean(originals[i] == signature(text)))
            out.append((i, level, *scored(i, sim, text), kind))
    return out


def score(sim: float, agree: bool, rule: str) -> float:
    """What a rule compares with the threshold: under the product's rule, a pair whose key
    facts disagree is never grouped."""
    return sim if rule == "minhash" or agree else -1.0


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
    grid = [round(float(t), 3) for t in np.arange(LOWEST_THRESHOLD, 1.0, 0.025)]
    f1 = {t: at(t, pos, neg)[2] for t in grid}
    best = max(f1.values())
    return max(t for t in grid if f1[t] >= best - F1_SLACK)


def out_of_fold(
    pos: list[tuple[int, float]], neg: list[tuple[int, int, float]], n: int
) -> dict[str, Any]:
    """Scores of (story, copy) and of (story, story) pairs that must stay apart (a story
    and its correction: the same story twice)."""
    fold = [i % FOLDS for i in range(n)]
    rows = []
    for k in range(FOLDS):
        fit_pos = [s for i, s in pos if fold[i] != k]
        fit_neg = [s for i, j, s in neg if fold[i] != k and fold[j] != k]
        threshold = best_threshold(fit_pos, fit_neg)
        test_pos = [s for i, s in pos if fold[i] == k]
        test_neg = [s for i, j, s in neg if fold[i] == k or fold[j] == k]
        p, r, f = at(threshold, test_pos, test_neg)
        rows.append({"fold": k, "threshold": threshold, "precision": p, "recall": r, "f1": f})
    return {
        "folds": rows,
        "precision": float(np.mean([r["precision"] for r in rows])),
        "recall": float(np.mean([r["recall"] for r in rows])),
        "f1": float(np.mean([r["f1"] for r in rows])),
    }


def _judged(
    pos: list[tuple[int, float]], neg: list[tuple[int, int, float]], n: int, threshold: float
) -> dict[str, Any]:
    p, r, f = at(threshold, [s for _, s in pos], [s for _, _, s in neg])
    return {
        "fitted_on_all": best_threshold([s for _, s in pos], [s for _, _, s in neg]),
        "out_of_fold": out_of_fold(pos, neg, n),
        "at_threshold": {"threshold": threshold, "precision": p, "recall": r, "f1": f},
    }


def evaluate(docs: list[tuple[str, list[str]]], threshold: float) -> dict[str, Any]:
    scored = pairs(docs)
    fixes = scored["corrections"]
    out: dict[str, Any] = {
        "stories": len(docs),
        "positive_pairs": len(scored["positives"]),
        "negative_pairs": len(scored["negatives"]),
        "correction_pairs": len(fixes),
        "corrections_by_kind": {k: sum(c[4] == k for c in fixes) for k in KINDS},
        "median_copy_similarity": {
            lv: float(np.median([s for _, x, s, _ in scored["positives"] if x == lv]))
            for lv in LEVELS
        },
        "median_correction_similarity": float(np.median([c[2] for c in fixes])),
        "reused_paragraph_similarity": {
            "median": float(np.median([s for *_, s, _ in scored["reuse"]])),
            "max": max(s for *_, s, _ in scored["reuse"]),
        },
        "hardest_negatives": sorted((s for *_, s, _ in scored["negatives"]), reverse=True)[:5],
    }
    for rule in RULES:
        pos = [(i, score(s, a, rule)) for i, _, s, a in scored["positives"]]
        neg = [(i, j, score(s, a, rule)) for i, j, s, a in scored["negatives"]]
        fixed = [(i, i, score(s, a, rule)) for i, _, s, a, _ in fixes]
        by_level = {lv: [score(s, a, rule) for _, x, s, a in scored["positives"] if x == lv]
                    for lv in LEVELS}  # fmt: skip
        grouped = {
            kind: [score(s, a, rule) >= threshold for _, lv, s, a, k in fixes if kind in (lv, k)]
            for kind in (*CORRECTED, *KINDS)
        }
        out[rule] = {
            "made set": _judged(pos, neg, len(docs), threshold),
            "with corrections": _judged(pos, neg + fixed, len(docs), threshold),
            "recall_by_level": {lv: at(threshold, s, [])[1] for lv, s in by_level.items()},
            "corrections_grouped": {k: sum(g) / max(1, len(g)) for k, g in grouped.items()},
            "corrections_grouped_count": sum(s >= threshold for *_, s in fixed),
        }
    return out


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
        print(f"## {name}: {r['stories']} stories, {r['positive_pairs']} copies, "
              f"{r['negative_pairs']} pairs of different articles, {r['correction_pairs']} "
              f"corrections {r['corrections_by_kind']}")  # fmt: skip
        for rule in RULES:
            print(f"### {rule}")
            for made in ("made set", "with corrections"):
                oof, shipped = r[rule][made]["out_of_fold"], r[rule][made]["at_threshold"]
                folds = [f["threshold"] for f in oof["folds"]]
                print(f"- {made}: out of fold ({FOLDS} folds by story) precision "
                      f"{oof['precision']:.3f}, recall {oof['recall']:.3f}, F1 {oof['f1']:.3f}, "
                      f"thresholds {folds}, fitted on all {r[rule][made]['fitted_on_all']}; at "
                      f"the shipped {SYNDICATION_THRESHOLD}: precision "
                      f"{shipped['precision']:.3f}, recall {shipped['recall']:.3f}")  # fmt: skip
            grouped = {k: round(v, 3) for k, v in r[rule]["corrections_grouped"].items()}
            recall = {k: round(v, 3) for k, v in r[rule]["recall_by_level"].items()}
            kept = r[rule]["corrections_grouped_count"]
            print(f"- recall by rewrite {recall}; corrections grouped {kept} of "
                  f"{r['correction_pairs']}: {grouped}")  # fmt: skip
        print(f"median similarity of copies {r['median_copy_similarity']}, of a correction "
              f"{r['median_correction_similarity']:.3f}; a reused paragraph "
              f"{r['reused_paragraph_similarity']}; most similar different articles "
              f"{[round(h, 3) for h in r['hardest_negatives']]}")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
