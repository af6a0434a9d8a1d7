"""Recognise sentences that speak to the assistant instead of reporting news.

A news sentence tells what someone did or said; a planted instruction addresses the model
("ignore previous instructions", "reply only with", "you are now", "note to the
assistant"). Such sentences never become evidence: the model does not read them and no
answer can cite them. The patterns need an instruction's framing, so reporting about
instructions ("the minister ignored previous warnings") is left alone."""

from __future__ import annotations

import re

_PATTERNS = [
    r"\b(ignore|disregard|forget|override)\b[^.]{0,30}\b(previous|prior|above|earlier|all|"
    r"your|the system)\b[^.]{0,20}\b(instructions?|prompts?|rules|directions|sources)\b",
    r"\b(ignore|disregard)\b (the|these|those) (sources|articles|context)\b",
    r"\b(reply|respond|answer)\b[^.]{0,15}\b(only|exactly|just)\b[^.]{0,10}\bwith\b",
    r"\banswer (to )?(every|each|any|all) questions?\b[^.]{0,30}\b(with|is)\b",
    r"\bthe correct answer to (every|each|any|all) questions?\b",
    r"\b(you are|you're) now\b",
    r"\bfrom now on,? you\b",
    r"\b(system|developer) (prompt|message|note|instruction)s?\b",
    r"\b(note|message|instructions?) (to|for) the (assistant|ai|model|chatbot|llm|bot)\b",
    r"\b(reveal|print|show|repeat)\b[^.]{0,20}\b(your|the) (system )?(prompt|instructions)\b",
    r"\bdo not cite\b",
    r"\bcite (it|this) as \[",
]
_INSTRUCTION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE)


def looks_like_instruction(sentence: str) -> bool:
    return bool(_INSTRUCTION.search(sentence))
