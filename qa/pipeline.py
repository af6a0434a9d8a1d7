"""The answering path in named steps, on llama-index seams.

    question -> standalone question (follow-ups rewritten)
             -> retriever (any llama-index retriever; ours is hybrid BM25 + dense)
             -> node postprocessors (e.g. a reranker)
             -> sentence evidence (empty: abstain without calling the model)
             -> LLM reply, streamed (a yes/no question joining claims: each claim
                answered from its own evidence, then combined, qa/claims.py)
             -> verified answer: each sentence checked against the evidence and cited
             -> answer check: it gives what the question asks for (else the exact words of
                a source that do, else "the articles mention X but don't say")

`AnswerPipeline.stream` returns an `AnswerStream`: the reply's text as it is written, then
the verified `Answer`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle

from index.embedding import Embedder
from index.sentences import split_sentences
from qa.answer_check import AnswerChecker
from qa.answer_judge import answer_yes_or_no
from qa.answer_stream import AnswerStream
from qa.citing import verify_reply
from qa.claims import ClaimAnswer, claim_questions, combined_reply, judgement_with_quotes
from qa.decompose import sub_questions
from qa.evidence import Evidence, grouped_by_article
from qa.evidence_postprocessor import SentenceEvidencePostprocessor, node_to_evidence
from qa.injection import looks_like_instruction
from qa.llm import LLM
from qa.prompts import answer_messages
from qa.question import clean_question
from qa.question_kind import split_polarity
from qa.rewrite import standalone_question
from qa.settings import Settings
from qa.support import unmentioned_facts
from qa.timeline import date_label
from qa.types import Answer, Citation, RetrievedSource

FACT_CHECK_MAX_WORDS = 25
ABSTAIN_TEXT = "The indexed articles don't say: nothing in them answers this question."
log = logging.getLogger(__name__)


@dataclass
class _Turn:
    """What one answer gathers on its way through the steps."""

    question: str
    started: float
    query: str = ""  # the stand-alone question the answer is about
    search: str = ""  # what retrieval searches for
    timings: dict[str, float] = field(default_factory=dict)
    retrieved: list[RetrievedSource] = field(default_factory=list)
    raw: str = ""
    context: list[str] = field(default_factory=list)  # retrieved text and headers
    parts: list[list[Evidence]] = field(default_factory=list)  # each searched part's evidence
    missing: list[str] = field(default_factory=list)  # question facts no retrieved text has

    def lap(self, name: str, since: float) -> None:
        self.timings[name] = time.perf_counter() - since


class AnswerPipeline:
    def __init__(
        self,
        settings: Settings,
        *,
        llm: LLM,
        embedder: Embedder,
        retriever: BaseRetriever,
        postprocessors: Sequence[BaseNodePostprocessor] = (),
    ) -> None:
        self.settings = settings
        self.llm = llm
        self.embedder = embedder
        self.retriever = retriever
        self.postprocessors = list(postprocessors)
        self.evidence = SentenceEvidencePostprocessor(
            embedder=embedder,
            top_n=settings.evidence_sentences,
            min_relevance=settings.min_relevance,
        )
        self.checker = AnswerChecker(llm, settings.answer_check, settings.extract_fallback)

    def stream(self, question: str, history: Sequence[tuple[str, str]] = ()) -> AnswerStream:
        return AnswerStream(self._steps(question, list(history)))

    def _steps(self, question: str, history: list[tuple[str, str]]) -> Generator[str, None, Answer]:
        turn = _Turn(
            clean_question(question, self.settings.max_question_chars), time.perf_counter()
        )
        self._understand(turn, history)
        evidence = self._gather_evidence(turn)
        if not evidence:
            log.info(
                "abstained before generation: no evidence over min_relevance for %r", turn.query
            )
            text = ABSTAIN_TEXT
            if turn.missing:
                named = ", ".join(f"'{w}'" for w in turn.missing)
                text = f"The indexed articles never mention {named}, so they don't answer this."
            yield text
            return self._finish(turn, text, [], abstained=True)
        combined = self._answer_claims(turn, evidence) if self.settings.answer_claims else None
        if combined:
            turn.lap("ttft", turn.started)
            turn.raw = combined
            yield combined
        else:
            turn.raw = yield from self._generate(turn, evidence)
        return self._verify(turn, evidence)

    # --- steps -------------------------------------------------------------------------------
    def _understand(self, turn: _Turn, history: list[tuple[str, str]]) -> None:
        """A follow-up becomes a stand-alone question before retrieval."""
        turn.query = turn.search = turn.question
        if not (self.settings.rewrite_followups and history):
            return
        turn.query = standalone_question(turn.question, history, self.llm)
        turn.lap("rewrite", turn.started)
        if turn.query != turn.question:
            log.info("follow-up %r rewritten as %r", turn.question, turn.query)
            # A small model's rewrite can drop context ("at the extended talks"); the previous
            # question keeps retrieval near the passages the conversation is about.
            turn.search = f"{turn.query} {history[-1][0]}"

    def _gather_evidence(self, turn: _Turn) -> list[Evidence]:
        """Retrieve chunks, run the postprocessors, keep the best sentences. A question that
        joins claims from several reports is searched part by part (qa/decompose.py), each
        part with its own evidence slots."""
        started = time.perf_counter()
        turn.context = []
        parts = sub_questions(turn.query) if self.settings.decompose else [turn.query]
        if len(parts) == 1:
            evidence = self._evidence_for(turn, turn.query, turn.search, self.evidence)
        else:
            log.info("searching %d parts: %s", len(parts), parts)
            per_part = self.evidence.model_copy(
                update={"top_n": max(2, math.ceil(self.settings.evidence_sentences / len(parts)))}
            )
            found: dict[tuple[str, int], Evidence] = {}
            for part in parts:
                turn.parts.append(self._evidence_for(turn, part, part, per_part))
                for e in turn.parts[-1]:
                    found.setdefault((e.chunk.path, e.span.start), e)
            evidence = grouped_by_article(sorted(found.values(), key=lambda e: -e.score))
        turn.lap("retrieve", started)
        # Long, compound questions name many things and retrieval may miss one of them
        # (measured on MultiHop: 32 of 117 answerable questions); short ones name what
        # they ask about.
        short = len(parts) == 1 and len(turn.query.split()) <= FACT_CHECK_MAX_WORDS
        if evidence and short and self.settings.check_question_facts:
            asked = " ".join(s for s in _sentences(turn.query) if not looks_like_instruction(s))
            missing = unmentioned_facts(asked, " ".join(turn.context))
            if missing:
                log.info("abstained: the retrieved text never mentions %s", sorted(missing))
                turn.missing = sorted(missing)
                return []
        return evidence

    def _evidence_for(
        self, turn: _Turn, query: str, search: str, select: SentenceEvidencePostprocessor
    ) -> list[Evidence]:
        query_vector = self.embedder.embed([query])[0]
        search_vector = query_vector if search == query else self.embedder.embed([search])[0]
        nodes = self.retriever.retrieve(
            QueryBundle(search, embedding=[float(x) for x in search_vector])
        )
        question = QueryBundle(query, embedding=[float(x) for x in query_vector])
        for postprocessor in self.postprocessors:
            nodes = postprocessor.postprocess_nodes(nodes, query_bundle=question)
        turn.retrieved = merged_sources(turn.retrieved, retrieved_sources(nodes))
        turn.context.extend(_text_and_header(n) for n in nodes)
        return [node_to_evidence(n) for n in select.postprocess_nodes(nodes, query_bundle=question)]

    def _generate(self, turn: _Turn, evidence: list[Evidence]) -> Generator[str, None, str]:
        s = self.settings
        pieces: list[str] = []
        started = time.perf_counter()
        for piece in self.llm.stream_chat(
            answer_messages(turn.query, evidence, s.abstain_instruction),
            max_tokens=s.max_answer_tokens,
            stop=["\n\n", "Question:"],
        ):
            if not pieces:
                turn.lap("ttft", turn.started)
            pieces.append(piece)
            yield piece
        turn.lap("generate", started)
        return "".join(pieces)

    def _answer_claims(self, turn: _Turn, evidence: list[Evidence]) -> str | None:
        """A yes/no question joining claims, answered claim by claim from each part's
        evidence and combined (qa/claims.py); None when it is not one or a claim is left
        unanswered."""
        questions = claim_questions(turn.query)
        if not questions or len(questions) != len(turn.parts):
            return None
        started = time.perf_counter()
        answers = []
        for question, part in zip(questions, turn.parts, strict=True):
            answers.append(self._answer_claim(question, part))
            if answers[-1].verified.abstained:
                break
        combined = combined_reply(answers, evidence)
        turn.lap("claims", started)
        log.info("claims %s -> %r", [(a.question, a.polarity) for a in answers], combined)
        return combined

    def _answer_claim(self, question: str, evidence: list[Evidence]) -> ClaimAnswer:
        s = self.settings
        reply = "".join(
            self.llm.stream_chat(
                answer_messages(question, evidence, s.abstain_instruction),
                max_tokens=s.max_answer_tokens,
                stop=["\n\n", "Question:"],
            )
        )
        verified = verify_reply(reply, question, evidence, self.embedder, s.min_support)
        polarity, _ = split_polarity(verified.text)
        if not polarity and not verified.abstained:
            polarity = answer_yes_or_no(self.llm, question, evidence)
        return ClaimAnswer(question, polarity, verified)

    def _verify(self, turn: _Turn, evidence: list[Evidence]) -> Answer:
        verified = verify_reply(
            turn.raw, turn.query, evidence, self.embedder, self.settings.min_support
        )
        if verified.abstained:
            # A judgement over reports ("is there consistency ...?") has no sentence that
            # states it: its Yes/No stands with the passages it was judged from.
            verified = judgement_with_quotes(turn.raw, turn.query, evidence) or verified
        started = time.perf_counter()
        verified = self.checker.check(turn.query, evidence, verified)
        turn.lap("check", started)
        if verified.unsupported:
            log.info("removed %d unsupported sentence(s): %s", len(verified.unsupported),
                     verified.unsupported)  # fmt: skip
        if verified.abstained:
            log.info("abstained after verification: %s", verified.text or "nothing supported")
            return self._finish(turn, verified.text or ABSTAIN_TEXT, [], True, verified.unsupported)
        return self._finish(turn, verified.text, verified.citations, False, verified.unsupported)

    def _finish(
        self,
        turn: _Turn,
        text: str,
        citations: list[Citation],
        abstained: bool,
        unsupported: list[str] | None = None,
    ) -> Answer:
        turn.lap("total", turn.started)
        s = self.settings
        log.info("answered in %s", ", ".join(f"{k} {v:.2f}s" for k, v in turn.timings.items()))
        return Answer(
            question=turn.question,
            text=text,
            citations=citations,
            abstained=abstained,
            retrieved=turn.retrieved,
            timings={k: round(v, 4) for k, v in turn.timings.items()},
            standalone_question=turn.query,
            raw_text=turn.raw,
            unsupported=unsupported or [],
            settings_hash=s.fingerprint(),
            model=f"{s.llm_backend}:{s.llm_model}",
        )


def _sentences(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)] or [text]


def _text_and_header(scored: NodeWithScore) -> str:
    meta = scored.node.metadata
    header = [str(meta.get(k) or "") for k in ("title", "outlet", "author", "source")]
    return " ".join(
        [scored.node.get_content(), *header, date_label(str(meta.get("published") or ""))]
    )


def merged_sources(a: list[RetrievedSource], b: list[RetrievedSource]) -> list[RetrievedSource]:
    """Each file once with its best score, best first (parts of a question retrieve apart)."""
    best: dict[str, float] = {}
    for r in [*a, *b]:
        best[r.source] = max(best.get(r.source, -1.0), r.score)
    return [RetrievedSource(src, sc) for src, sc in sorted(best.items(), key=lambda x: -x[1])]


def retrieved_sources(nodes: list[NodeWithScore]) -> list[RetrievedSource]:
    """Each retrieved file once, with its best dense similarity (the fused score otherwise)."""
    best: dict[str, float] = {}
    for scored in nodes:
        meta = scored.node.metadata
        source = str(meta.get("source") or meta.get("file_name") or scored.node.ref_doc_id)
        dense = meta.get("dense_score")
        score = float(dense if dense is not None else (scored.score or 0.0))
        best[source] = max(best.get(source, -1.0), score)
    return [RetrievedSource(src, sc) for src, sc in sorted(best.items(), key=lambda x: -x[1])]
