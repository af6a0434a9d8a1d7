"""Short constrained questions to the answering model: does a reply give what was asked,
which exact words of a source answer, yes or no.

Each is one call with a tiny reply. With llama.cpp (the packaged model) the reply is
constrained by a GBNF grammar, so it cannot wander; other backends get the same prompt
and their reply is parsed, and anything unreadable counts as "cannot tell".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.core.yes_no import Prober
from qa.evidence.select import Evidence
from qa.generate.llm import LLM, Message
from qa.generate.prompts import SYSTEM_PROMPT, as_data, numbered_sources

# "[2] Yongbyon nuclear research center" or "none".
SPAN_GRAMMAR = 'root ::= "none" | "[" [1-9] "] " [^\\n\\[\\]]{1,120}'

# The answering prompt's own system prompt: llama.cpp keeps the KV cache of the longest
# prefix a new prompt shares with the last one, so a judgement with another system prompt
# would make the next answer compute its system prompt again (about 1 s of first token).
# The task is in the user turn, and the grammar holds the reply to its form.
JUDGE_SYSTEM = EXTRACT_SYSTEM = SYSTEM_PROMPT


def gives_answer_messages(question: str, answer: str) -> list[Message]:
    """Does `answer` give what `question` asks for (not a related fact, not the question's
    own words)? Asked as a verdict here and as P(Yes) by qa/verify/confidence.py. The model
    reads what kind of answer the question wants from the question itself."""
    user = (
        f"Question: {as_data(question)}\nAnswer: {as_data(answer)}\n\n"
        "Does the answer give the answer, rather than a related fact or the question's own "
        "words? Reply Yes or No."
    )
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]


def judge_gives_answer(
    llm: LLM, question: str, answer: str, use_grammar: bool = True
) -> bool | None:
    """The verdict of gives_answer_messages; None when the reply cannot be read."""
    messages = gives_answer_messages(question, answer)
    return Prober(llm).verdict(messages, use_grammar)


def judge_supported(llm: LLM, claim: str, passage: str) -> bool | None:
    """Does `passage` state what `claim` says? (qa eval's independent support judge)."""
    user = (
        f"Passage: {as_data(passage)}\nClaim: {as_data(claim)}\n\n"
        "Does the passage state everything the claim says? Reply Yes or No."
    )
    messages = [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]
    return Prober(llm).verdict(messages)


def answer_yes_or_no(
    llm: LLM, question: str, evidence: list[Evidence], use_grammar: bool = True
) -> str:
    """'Yes' or 'No' for a yes/no question from the sources; '' when the reply is unreadable."""
    user = (
        f"Sources:\n{numbered_sources(evidence)}\n\nQuestion: {as_data(question)}\n"
        "Going by the sources, reply only Yes or No."
    )
    messages = [{"role": "system", "content": EXTRACT_SYSTEM}, {"role": "user", "content": user}]
    verdict = Prober(llm).verdict(messages, use_grammar)
    return "" if verdict is None else ("Yes" if verdict else "No")


@dataclass(frozen=True)
class Extracted:
    source: int  # 1-based number of the evidence sentence
    span: str  # words copied from it


_SPAN_REPLY = re.compile(r"^\s*\[(\d+)\]\s*(.+?)\s*$", re.S)


def extract_span(
    llm: LLM, question: str, evidence: list[Evidence], use_grammar: bool = True
) -> Extracted | None:
    """The shortest words of one source that answer `question`, if the model finds any and
    they really are in that source (checked here, not trusted)."""
    user = (
        f"Sources:\n{numbered_sources(evidence)}\n\nQuestion: {as_data(question)}\n"
        "Copy the shortest exact words from one source that answer the question, after that "
        "source's number, like: [2] the words. If no source answers it, reply: none"
    )
    messages = [{"role": "system", "content": EXTRACT_SYSTEM}, {"role": "user", "content": user}]
    match = _SPAN_REPLY.match(Prober(llm).reply(messages, 40, SPAN_GRAMMAR, use_grammar))
    if not match:
        return None
    number, span = int(match.group(1)), match.group(2).strip(" .,;:\"'")
    if not span:
        return None
    # Small models copy the right words but may name the wrong number: the named source is
    # tried first, then the others.
    order = [number - 1] if 1 <= number <= len(evidence) else []
    order += [i for i in range(len(evidence)) if i != number - 1]
    for i in order:
        found = _find_in(span, evidence[i].text)
        if found:
            return Extracted(i + 1, found)
    return None


def _find_in(span: str, sentence: str) -> str:
    """`span` as it is written in `sentence` (case and spacing may differ), or ''."""
    words = [re.escape(w) for w in span.split()]
    if not words:
        return ""
    pattern = re.compile(r"\s+".join(words), re.I)
    m = pattern.search(sentence)
    return m.group(0) if m else ""
