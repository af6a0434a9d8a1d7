"""Turn the model's reply into verified sentences with citations.

The model's [n] markers are hints, not truth: small models omit them, misplace them, or write
"[Source 3]". Each answer sentence is aligned with the evidence sentence that supports it best
(qa/verify/support.py); a marker wins only if its source supports the sentence nearly as well as the
best one. Sentences no source supports are removed; if none survive, the assistant abstains.
"""

from __future__ import annotations

import re

import numpy as np

from index.chunking.sentences import split_sentences
from index.embedding.embedders import Embedder
from qa.core.markers import marker_numbers, strip_markers
from qa.core.text import date_label, lexical_support
from qa.core.types import Citation, Draft, Evidence
from qa.evidence.timeline import dated_claims
from qa.generate.prompts import ABSTAIN_MARKERS
from qa.understand.profile import QuestionProfile
from qa.understand.question_kind import split_polarity
from qa.verify.step import StepContext
from qa.verify.support import cosine, support_score, unstated_facts

_LOOSE_MARKER = re.compile(r"\(?\b(?:according to )?sources? (\d+)\)?", re.I)
HINT_MARGIN = 0.1
SAID_NOT_IN_ARTICLES = "the model replied that the sources do not say"
NOTHING_SUPPORTED = "no sentence of the reply is supported by a source"
STATES_NOTHING = "the reply states nothing"
# Why citing abstained when the reply itself had no source (not the model's own refusal).
REPLY_UNSUPPORTED = (NOTHING_SUPPORTED, STATES_NOTHING)


class CiteSentences:
    """Verification step: each sentence of the reply is kept only with the source that
    supports it, and cited to it; nothing supported means abstain."""

    name = "cite"

    def __init__(
        self, embedder: Embedder, min_support: float, names_given: bool | None = None
    ) -> None:
        self.embedder = embedder
        self.min_support = min_support
        self.names_given = names_given  # see verify_reply (True: a briefing's topic)

    def run(self, draft: Draft, context: StepContext) -> Draft:
        return verify_reply(context.reply, context.question, context.evidence, self.embedder,
                            self.min_support, self.names_given)  # fmt: skip


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
        echoes.update(x for x in (e.article.title, e.article.published[:10]) if len(x) >= 8)
    for echo in sorted(echoes, key=len, reverse=True):
        reply = re.sub(r"\(?\s*" + re.escape(echo) + r"\s*\)?,?", " ", reply, flags=re.I)
    return reply


def said_not_in_articles(reply: str) -> bool:
    upper = reply.upper()
    return any(marker in upper for marker in ABSTAIN_MARKERS)


Claim = tuple[str, list[int]]  # an answer sentence without markers, its marker numbers
Support = list[tuple[Evidence, float]]  # the evidence sentences that support a claim


def verify_reply(
    reply: str,
    question: QuestionProfile,
    evidence: list[Evidence],
    embedder: Embedder,
    min_support: float,
    names_given: bool | None = None,
) -> Draft:
    """The reply's supported sentences, each cited to its evidence; abstain if none is.
    `names_given`: the question's names need no statement in a cited sentence (default: only
    for a yes/no question, whose reason restates the question's claim; a briefing's topic
    too)."""
    if not evidence or said_not_in_articles(reply):
        return Draft("", [], True, reason=SAID_NOT_IN_ARTICLES if evidence else "no evidence")
    claims = claims_of(strip_header_echo(reply, evidence).strip(), len(evidence))
    polarity, claims = _split_yes_no(claims, question)
    claims = _bare_markers_as_claims(claims, evidence)
    if not claims:
        return Draft("", [], True, reason=STATES_NOTHING)
    vectors = embedder.embed([c for c, _ in claims])
    kept: list[tuple[str, Support]] = []
    unsupported: list[str] = []
    for (claim, hints), vector in zip(claims, vectors, strict=True):
        support = supporting_evidence(
            claim, hints, vector, question, evidence, min_support, names_given
        )
        if support:
            kept.append((claim, support))
        else:
            unsupported.append(claim)
    if not kept:
        return Draft("", [], True, unsupported, reason=NOTHING_SUPPORTED)
    text, citations = cited_text(kept)
    return Draft(f"{polarity}. {text}" if polarity else text, citations, False, unsupported)


def claims_of(reply: str, sources: int) -> list[Claim]:
    """Each sentence of the reply without markers, with the marker numbers that name a source."""
    sentences = [reply[s.start : s.end] for s in split_sentences(reply)]
    return [(_strip_markers(s), [n for n in _markers(s) if 1 <= n <= sources]) for s in sentences]


def _split_yes_no(claims: list[Claim], question: QuestionProfile) -> tuple[str, list[Claim]]:
    """ "Yes, both reports agree [1]": the Yes/No carries no checkable fact; the reason does."""
    if not claims or not question.yes_no:
        return "", claims
    polarity, rest = split_polarity(claims[0][0])
    return polarity, [(rest[:1].upper() + rest[1:], claims[0][1]), *claims[1:]]


def _bare_markers_as_claims(claims: list[Claim], evidence: list[Evidence]) -> list[Claim]:
    """A reply of bare markers ("[1]") points at a source: that source's sentence answers."""
    if claims and all(not c for c, _ in claims):
        hinted = [n for _, ns in claims for n in ns]
        claims = [(evidence[hinted[0] - 1].text, [hinted[0]])] if hinted else []
    return [(c, ns) for c, ns in claims if c]


def supporting_evidence(
    claim: str,
    hints: list[int],
    vector: np.ndarray,
    profile: QuestionProfile,
    evidence: list[Evidence],
    min_support: float,
    names_given: bool | None = None,
) -> Support:
    """The evidence that supports `claim`: the best sentence (a marker's source wins if it
    supports nearly as well), else two sentences that together hold all its words; else [].
    A sentence that lacks one of the claim's key facts (a number, date or name) supports
    nothing, however many other words it shares."""
    stated = [stated_by(e, claim) for e in evidence]
    # Words the claim shares with the question prove nothing, unless the question is a yes/no
    # one: its reason restates the question's claim, and those words are what must be stated.
    question = profile.text
    asked = "" if profile.yes_no else question
    overlap = [
        support_score(lexical_support(claim, text, asked), cosine(vector, e.vector))
        for e, text in zip(evidence, stated, strict=True)
    ]
    # The question's own names must be stated by the cited sentence (or the one before it),
    # except in a yes/no reason: it restates the question's claim, whose names are given.
    given = profile.yes_no if names_given is None else names_given
    scores = [
        0.0 if unstated_facts(claim, text, question, e.before, given) else score
        for e, text, score in zip(evidence, stated, overlap, strict=True)
    ]
    best = max(range(len(evidence)), key=lambda i: scores[i])
    chosen = best
    for n in hints:
        if scores[n - 1] >= scores[best] - HINT_MARGIN and scores[n - 1] >= min_support:
            chosen = n - 1
            break
    if scores[chosen] >= min_support:
        return [(evidence[chosen], scores[chosen])]
    # A sentence may combine facts from two sources: the two that share most of its words.
    first, second, *_ = sorted(range(len(evidence)), key=lambda i: -overlap[i]) + [None, None]
    if first is None or second is None:
        return []
    joint_text = f"{stated[first]} {stated[second]}"
    joint_lex = lexical_support(claim, joint_text, asked)
    if (
        joint_lex >= 0.99
        and not unstated_facts(
            claim,
            joint_text,
            question,
            f"{evidence[first].before} {evidence[second].before}",
            given,
        )
        and support_score(joint_lex, max(overlap[first], overlap[second])) >= min_support
    ):
        return [(evidence[first], overlap[first]), (evidence[second], overlap[second])]
    return []


def stated_by(e: Evidence, claim: str) -> str:
    """What a source states for `claim`: its sentence, its author, and the report's date
    when the claim gives that date with its day ("they met on Thursday, April 25" rests on
    a report dated April 25; "in April" does not: a month alone is not what the report
    dates). Not the title: its words would lend support to every sentence of the article."""
    a = e.article
    dated = date_label(a.published)
    day = dated.split(",")[0]  # "April 25"
    shown = dated if day and re.search(rf"\b{re.escape(day)}\b", claim) else ""
    return " ".join(x for x in (e.text, shown, a.author) if x)


def cited_text(kept: list[tuple[str, Support]]) -> tuple[str, list[Citation]]:
    """ "Claim. [1] Next claim. [2]": each evidence sentence numbered once, in first use.
    Claims from reports of different dates say their dates when one is a plan or forecast
    (qa/evidence/timeline.py)."""
    citations: list[Citation] = []
    numbered: dict[tuple[str, int], int] = {}
    parts = []
    claims = dated_claims([(c, s[0][0].text, s[0][0].article.published) for c, s in kept])
    for claim, (_, sources) in zip(claims, kept, strict=True):
        marks = []
        for e, score in sources:
            if e.key not in numbered:
                numbered[e.key] = len(citations) + 1
                citations.append(Citation.of(e, score))
            marks.append(f"[{numbered[e.key]}]")
        body = claim if claim.endswith((".", "!", "?", '"', "”")) else claim + "."
        parts.append(f"{body} {''.join(marks)}")
    return " ".join(parts), citations
