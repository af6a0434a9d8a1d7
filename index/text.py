"""Word normalisation shared by BM25, evidence scoring and support checks."""

from __future__ import annotations

import re

from index.stopwords import STOPWORDS

_WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*", re.UNICODE)
# Numbers are compared as digits ("three hours" == "3 hours"), here and in the evaluation.
NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13",
    "fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18",
    "nineteen": "19", "twenty": "20", "hundred": "100", "thousand": "1000", "first": "1st",
    "second": "2nd", "third": "3rd",
}  # fmt: skip


# Month and weekday names, read as dates by the answer check and the key-fact rule.
MONTH_NAMES = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
)  # fmt: skip
WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def normalise(word: str) -> str:
    w = word.lower().replace("’", "'").removesuffix("'s")
    w = NUMBER_WORDS.get(w, w)
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    return w


def tokens(text: str) -> list[str]:
    """Normalised words, stopwords included (BM25 weighs them down by itself)."""
    return [normalise(w) for w in _WORD.findall(text)]


def content_words(text: str) -> set[str]:
    """Normalised words that carry meaning: no stopwords, no one-letter tokens."""
    out = set()
    for w in _WORD.findall(text):
        if w.lower() in STOPWORDS:
            continue
        n = normalise(w)
        if len(n) > 1 or n.isdigit():
            out.add(n)
        # Hyphenated names also match their parts ("Yong-ho" ~ "Yong ho").
        if "-" in n:
            out.update(p for p in n.split("-") if len(p) > 1)
    return out
