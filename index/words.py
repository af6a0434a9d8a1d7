"""Counts in messages people read: "1 chunk", "2 chunks", never "1 chunks"."""

from __future__ import annotations


def plural(count: int, noun: str, nouns: str = "") -> str:
    """`count` with `noun`, or with its plural (`nouns`, else `noun` + "s") unless it is 1."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"
