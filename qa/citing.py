"""Turn the model's reply into verified sentences with citations.

The model's [n] markers are hints, not truth: small models omit them, misplace them, or write
"[Source 3]". Each answer sentence is aligned with the evidence sentence that supports it best
(qa/support.py); a marker wins only if its source supports the sentence nearly as well as the
best one. Sentences no source supports are removed; if none survive, the assistant abstains.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from index.embedding import Embedder
from index.sentences import split_sentences
from qa.evidence import Evidence
from qa.markers import marker_numbers, strip_markers
from qa.prompts import ABSTAIN_MARKERS
from qa.question_kind import is_yes_no_question, split_polarity
from qa.support import cosine, lexical_support, support_score
from qa.types import Citation

_LOOSE_MARKER = re.compile(r"\(?\b(?:according to )?sources? (\d+)\)?", re.I)
HINT_MARGIN = 0.1


@dataclass
class VerifiedAnswer:
    text: str
    citations: list[Citation]
    abstained: bool
    unsupported: list[str] = field(default_factory=list)


def _markers(sentence: str) -> list[int]:
    found = marker_numbers(sentence)
    found.extend(int(m.group(1)) for m in _LOOSE_MARKER.finditer(sentence))
    return found


def _strip_markers(sentence: str) -> str:
    # Bracketed markers go first: "[Source 1]" must not leave "[]" behind.
    text = strip_markers(_LOOSE_MARKER.sub("", strip_markers(sentence)))
    text = re.sub(r"[,;:]+(?=[.!?]|\s*$)", "", text)
    return " ".join(text.split()).strip(" ,;:")


def strip_header_echo(reply: str, evidence: list[Evidence]) -> str:
    """Remove source headers the model copied into its reply ("Article: <title> (<date>)"):
    small models echo the line after a marker; a title or date alone answers nothing."""
    echoes = {"Article:"}
    for e in evidence:
        echoes.update(x for x in (e.chunk.title, e.chunk.published[:10]) if len(x) >= 8)
    for echo in sorted(echoes, key=len, reverse=True):
        reply = re.sub(r"\(?\s*" + re.escape(echo) + r"\s*\)?,?", " ", reply, flags=re.I)
    return reply


def said_not_in_articles(reply: str) -> bool:
    upper = reply.upper()
    return any(marker in upper for marker in ABSTAIN_MARKERS)


def _citation(e: Evidence, support: float) -> Citation:
    return Citation(
        source=e.chunk.source,
        title=e.chunk.title,
        published=e.chunk.published,
        quote=e.text,
        start=e.span.start,
        end=e.span.end,
        outlet=e.chunk.outlet,
        path=e.chunk.path,
        support=round(support, 3),
    )


def verify_reply(
    reply: str,
    question: str,
    evidence: list[Evidence],
    embedder: Embedder,
    min_support: float,
) -> VerifiedAnswer:
    if not evidence or said_not_in_articles(reply):
        return VerifiedAnswer("", [], True)
    reply = strip_header_echo(reply, evidence).strip()
    sentences = [reply[s.start : s.end] for s in split_sentences(reply)]
    claims = [
        (_strip_markers(s), [n for n in _markers(s) if 1 <= n <= len(evidence)]) for s in sentences
    ]
    # "Yes, both reports agree [1]": the Yes/No carries no checkable fact; the reason does.
    polarity = ""
    if claims and is_yes_no_question(question):
        polarity, rest = split_polarity(claims[0][0])
        claims[0] = (rest[:1].upper() + rest[1:], claims[0][1])

    # A reply of bare markers ("[1]") points at a source: let that source's sentence answer.
    if claims and all(not c for c, _ in claims):
        hinted = [n for _, ns in claims for n in ns]
        claims = [(evidence[hinted[0] - 1].text, [hinted[0]])] if hinted else []
    claims = [(c, ns) for c, ns in claims if c]
    if not claims:
        return VerifiedAnswer("", [], True)

    vectors = embedder.embed([c for c, _ in claims])
    kept: list[tuple[str, list[tuple[Evidence, float]]]] = []
    unsupported: list[str] = []
    for (claim, hints), vector in zip(claims, vectors, strict=True):
        scores = [
            support_score(lexical_support(claim, e.text, question), cosine(vector, e.vector))
            for e in evidence
        ]
        best = max(range(len(evidence)), key=lambda i: scores[i])
        chosen = best
        for n in hints:
            if scores[n - 1] >= scores[best] - HINT_MARGIN and scores[n - 1] >= min_support:
                chosen = n - 1
                break
        if scores[chosen] >= min_support:
            kept.append((claim, [(evidence[chosen], scores[chosen])]))
            continue
        # A sentence may combine facts from two sources.
        second = max(
            (i for i in range(len(evidence)) if i != best), key=lambda i: scores[i], default=None
        )
        if second is not None:
            joint = evidence[best].text + " " + evidence[second].text
            joint_lex = lexical_support(claim, joint, question)
            joint_score = support_score(joint_lex, max(scores[best], scores[second]))
            if joint_lex >= 0.99 and joint_score >= min_support:
                kept.append(
                    (claim, [(evidence[best], scores[best]), (evidence[second], scores[second])])
                )
                continue
        unsupported.append(claim)

    if not kept:
        return VerifiedAnswer("", [], True, unsupported)

    citations: list[Citation] = []
    numbered: dict[tuple[str, int], int] = {}
    parts = []
    for claim, sources in kept:
        marks = []
        for e, score in sources:
            key = (e.chunk.path, e.span.start)
            if key not in numbered:
                numbered[key] = len(citations) + 1
                citations.append(_citation(e, score))
            marks.append(f"[{numbered[key]}]")
        body = claim if claim.endswith((".", "!", "?", '"', "”")) else claim + "."
        parts.append(f"{body} {''.join(marks)}")
    text = " ".join(parts)
    text = f"{polarity}. {text}" if polarity else text
    return VerifiedAnswer(text, citations, False, unsupported)
