"""The answering path, stage by stage (each stage is a folder of qa/):

    understand/  the question cleaned, a follow-up rewritten, read once (QuestionProfile)
    retrieve/    chunks: our hybrid BM25 + dense search, or any llama-index retriever,
                 then any llama-index node postprocessors (a reranker)
    evidence/    the few best sentences (Evidence); none relevant enough: abstain
    generate/    the model's reply, streamed (a yes/no question that joins claims: each
                 claim answered from its own evidence, then combined)
    verify/      VERIFICATION_STEPS, in order, each turning one Draft into the next:
                 cite      each sentence kept only with a source that supports it
                 judgement a judgement over reports keeps its Yes/No with its passages
                 answer_check  it gives what the question asks for (else the exact words
                           of a source that do, else "the articles mention X but don't say")
                 evidence_led  a fact answer that did not stand becomes the best evidence
                           sentence, quoted whole and cited, when it names what the question does

Abstention is decided in one place, `AnswerPipeline._decide`, from the last draft: a step
says "abstain, because ..." by returning an abstained draft with its reason, and the
reason is the answer's `decision` (logged with `qa ask -v`). A draft that every step let
through is then judged by its calibrated P(right) (qa/verify/calibrated.py), read from its
signals (qa/verify/signals.py): below the target precision's threshold it is withheld.

`AnswerPipeline.stream` returns an `AnswerStream`: the reply's text as it is written, then
the verified `Answer`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.postprocessor.types import BaseNodePostprocessor

from index.chunking.sentences import split_sentences
from index.embedding.embedders import Embedder
from qa.core.answer_stream import (
    AnswerStream,
    Progress,
    SourcesFound,
    StreamEvent,
    VerifiedText,
)
from qa.core.interfaces import LLM, Message, TokenLogprob
from qa.core.settings import Settings
from qa.core.text import date_label
from qa.core.types import Answer, Citation, Draft, Evidence, RetrievedSource
from qa.evidence.injection import looks_like_instruction
from qa.evidence.recency import newest_first
from qa.evidence.select import grouped_by_article, ranked_sentences, relevant_enough
from qa.generate.prompts import answer_messages
from qa.generate.relevance import judged_by_model
from qa.retrieve.chunks import retrieve_hits
from qa.retrieve.filters import ArticleFilter, EmptyRange
from qa.retrieve.hybrid import Hit
from qa.retrieve.node_retriever import HybridNodeRetriever, settings_filter
from qa.understand.profile import QuestionProfile
from qa.understand.question import clean_question
from qa.understand.question_kind import split_polarity
from qa.understand.rewrite import standalone_question
from qa.understand.time_window import asks_latest, question_window, without_names
from qa.verify.answer_check import AnswerCheck
from qa.verify.answer_judge import answer_yes_or_no
from qa.verify.calibrated import CALIBRATION_FILE, CalibratedDecision
from qa.verify.citing import CiteSentences, verify_reply
from qa.verify.claims import ClaimAnswer, KeepJudgementOverReports, combined_reply
from qa.verify.confidence import (
    ModelConfidence,
    ReplyLogprobs,
    SourceChoice,
    p_cited_answers,
    source_choice,
)
from qa.verify.evidence_led import LeadWithEvidence
from qa.verify.signals import RetrievalScores, draft_signals
from qa.verify.step import StepContext, VerificationStep
from qa.verify.streaming import SentenceRelease
from qa.verify.support import unmentioned_facts

FACT_CHECK_MAX_WORDS = 25
ABSTAIN_TEXT = "The indexed articles don't say: nothing in them answers this question."
REPLY_STOP = ["\n\n", "Question:"]
VERIFICATION_STEPS = ("cite", "judgement", "answer_check", "evidence_led")
log = logging.getLogger(__name__)


@dataclass
class _Turn:
    """What one answer gathers on its way through the stages."""

    question: str
    started: float
    query: str = ""  # the stand-alone question the answer is about
    search: str = ""  # what retrieval searches for
    profile: QuestionProfile | None = None  # the stand-alone question, read once
    timings: dict[str, float] = field(default_factory=dict)
    retrieved: list[RetrievedSource] = field(default_factory=list)
    raw: str = ""
    context: list[str] = field(default_factory=list)  # retrieved text and headers
    parts: list[list[Evidence]] = field(default_factory=list)  # each searched part's evidence
    missing: list[str] = field(default_factory=list)  # question facts no retrieved text has
    no_evidence: str = ""  # why the evidence stage found nothing to read
    retrieval: RetrievalScores = field(default_factory=RetrievalScores)
    prompt: list[Message] = field(default_factory=list)  # the answer's prompt
    reply_logprobs: list[TokenLogprob] = field(default_factory=list)
    asked_filter: ArticleFilter | None = None  # given with the call (else the settings')
    filters: ArticleFilter = field(default_factory=ArticleFilter)  # what retrieval applies

    def lap(self, name: str, since: float) -> None:
        self.timings[name] = time.perf_counter() - since

    @property
    def asked(self) -> QuestionProfile:
        assert self.profile is not None, "the question is read before anything else"
        return self.profile


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
        v = settings.verification
        self.steps: list[VerificationStep] = [
            CiteSentences(embedder, v.min_support),
            KeepJudgementOverReports(),
            AnswerCheck(llm, v.answer_check, v.extract_fallback, v.judge_grammar),
            LeadWithEvidence(v.evidence_led),
        ]
        assert tuple(s.name for s in self.steps) == VERIFICATION_STEPS
        self.calibrated = (
            CalibratedDecision.load(v.target_precision, answering_model=settings.llm_identity())
            if CALIBRATION_FILE.exists()
            else None
        )

    def stream(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        filters: ArticleFilter | None = None,
    ) -> AnswerStream:
        """`filters` (dates, outlets, authors) replace the settings' filter for this answer."""
        return AnswerStream(self._stages(question, list(history), filters))

    def _stages(
        self, question: str, history: list[tuple[str, str]], filters: ArticleFilter | None
    ) -> Generator[str | StreamEvent, None, Answer]:
        turn = _Turn(
            clean_question(question, self.settings.question.max_question_chars),
            time.perf_counter(),
            asked_filter=filters,
        )
        yield Progress("searching")
        self._understand(turn, history)
        try:
            turn.filters = self._filters_for(turn)
        except EmptyRange as exc:
            turn.no_evidence = str(exc)
            draft = Draft(f"No indexed article can answer this: {exc}.", [], True, reason=str(exc))
            yield draft.text
            return self._decide(turn, draft, "filters")
        evidence = self._gather_evidence(turn)
        if not evidence:
            draft = self._nothing_to_read(turn)
            yield draft.text
            return self._decide(turn, draft, "evidence")
        turn.lap("sources", turn.started)  # the first true content a user can read
        yield SourcesFound([Citation.of(e, e.score) for e in evidence])
        yield Progress("reading")
        combined = (
            self._answer_claims(turn, evidence) if self.settings.generation.answer_claims else None
        )
        release = SentenceRelease(self._sentence_check(turn.asked, evidence))
        if combined:
            turn.lap("ttft", turn.started)
            turn.raw = combined
            yield combined
            release.add(combined)
        else:
            yield Progress("writing")
            turn.raw = yield from self._generate(turn, turn.asked, evidence, release)
        if verified := release.finish():
            yield verified
        yield Progress("checking")
        return self._verify(turn, evidence)

    def _sentence_check(
        self, question: QuestionProfile, evidence: list[Evidence]
    ) -> Callable[[str], Draft]:
        """The check a streamed sentence passes before it is shown: the first step of the
        final verification (qa/verify/streaming.py)."""
        v = self.settings.verification
        return lambda reply: verify_reply(reply, question, evidence, self.embedder, v.min_support)

    # --- understand ----------------------------------------------------------------------------
    def _understand(self, turn: _Turn, history: list[tuple[str, str]]) -> None:
        """A follow-up becomes a stand-alone question before retrieval; then it is read once."""
        turn.query = turn.search = turn.question
        if self.settings.question.rewrite_followups and history:
            turn.query = standalone_question(turn.question, history, self.llm)
            turn.lap("rewrite", turn.started)
            if turn.query != turn.question:
                log.info("follow-up %r rewritten as %r", turn.question, turn.query)
                # A small model's rewrite can drop context ("at the extended talks"); the
                # previous question keeps retrieval near the passages the conversation is about.
                turn.search = f"{turn.query} {history[-1][0]}"
        turn.profile = QuestionProfile.of(turn.query, self.settings.question.decompose)

    def _filters_for(self, turn: _Turn) -> ArticleFilter:
        """The call's filter (else the retriever's or the settings'), narrowed to the window
        a relative date in the question names ("last week"), and newest-first when it asks
        for the latest. Outlet and author names as the collection spells them."""
        ours = self.retriever if isinstance(self.retriever, HybridNodeRetriever) else None
        base = turn.asked_filter
        if base is None:
            base = ours.filters if ours else settings_filter(self.settings)
        if ours is not None and not base.empty:
            base = ours.resolved(base)
        if not self.settings.question.question_dates:
            return base
        # The catalog (every file record) is read only for a question that may name a time:
        # blanking outlet names can only remove a date expression, never add one.
        if question_window(turn.query, date.today()) is None and not asks_latest(turn.query):
            return base
        catalog = ours.search.catalog() if ours else None
        names = tuple(catalog.outlets()) if catalog else ()
        live = catalog is None or catalog.live
        reference = date.today() if live else (catalog.newest() if catalog else None)
        window = question_window(turn.query, reference or date.today(), names)
        if window:
            log.info("the question names %s", window.describe())
            base = base.narrowed(window.since, window.until, window.describe())
        if asks_latest(without_names(turn.query, names)):
            base = replace(base, latest=True)
        return base

    # --- retrieve and evidence ----------------------------------------------------------------
    def _gather_evidence(self, turn: _Turn) -> list[Evidence]:
        """Retrieve chunks, run the postprocessors, keep the best sentences. A question that
        joins claims from several reports is searched part by part (qa/understand/decompose.py),
        each part with its own evidence slots."""
        started = time.perf_counter()
        turn.context = []
        parts = turn.asked.parts
        top_n = self.settings.evidence.evidence_sentences
        if len(parts) == 1:
            evidence = self._evidence_for(turn, turn.asked, turn.search, top_n)
        else:
            log.info("searching %d parts: %s", len(parts), parts)
            per_part = max(2, math.ceil(top_n / len(parts)))
            found: dict[tuple[str, int], Evidence] = {}
            for part in parts:
                turn.parts.append(
                    self._evidence_for(turn, QuestionProfile.of(part, False), part, per_part)
                )
                for e in turn.parts[-1]:
                    found.setdefault(e.key, e)
            evidence = grouped_by_article(sorted(found.values(), key=lambda e: -e.score))
        turn.lap("retrieve", started)
        if not evidence and not turn.filters.empty and not turn.retrieved:
            turn.no_evidence = f"no indexed article matches {turn.filters.describe()}"
            return []
        if not evidence:
            turn.no_evidence = "no retrieved sentence is relevant enough (min_relevance)"
            return []
        # Long, compound questions name many things and retrieval may miss one of them
        # (measured on MultiHop: 32 of 117 answerable questions); short ones name what
        # they ask about.
        short = len(parts) == 1 and len(turn.query.split()) <= FACT_CHECK_MAX_WORDS
        if short and self.settings.evidence.check_question_facts:
            asked = " ".join(s for s in _sentences(turn.query) if not looks_like_instruction(s))
            missing = unmentioned_facts(asked, " ".join(turn.context))
            if missing:
                turn.missing = sorted(missing)
                turn.no_evidence = f"the retrieved text never mentions {turn.missing}"
                return []
        return evidence

    def candidates(self, question: str) -> list[Evidence]:
        """Every candidate sentence retrieval finds for `question` as asked (no history, no
        decomposition), best first: what the evidence step chooses from. No model call."""
        return self._ranked(QuestionProfile.of(question, False), question)[1]

    def _ranked(
        self,
        question: QuestionProfile,
        search: str,
        filters: ArticleFilter | None = None,
    ) -> tuple[list[Hit], list[Evidence]]:
        query_vector = self.embedder.embed([question.text])[0]
        search_vector = (
            query_vector if search == question.text else self.embedder.embed([search])[0]
        )
        hits = retrieve_hits(
            self.retriever,
            self.postprocessors,
            search=search,
            search_vector=search_vector,
            question=question.text,
            question_vector=query_vector,
            filters=filters,
        )
        return hits, ranked_sentences(question, query_vector, hits, self.embedder)

    def _evidence_for(
        self, turn: _Turn, question: QuestionProfile, search: str, top_n: int
    ) -> list[Evidence]:
        hits, ranked = self._ranked(question, search, turn.filters)
        if turn.filters.latest:
            ranked = newest_first(ranked, self.settings.evidence.min_relevance)
        turn.retrieved = merged_sources(turn.retrieved, retrieved_sources(hits))
        turn.retrieval = RetrievalScores(
            max([turn.retrieval.dense_max, *(h.dense for h in hits if h.dense is not None)]),
            max([turn.retrieval.bm25_max, *(h.bm25 for h in hits if h.bm25 is not None)]),
        )
        turn.context.extend(_text_and_header(h) for h in hits)
        if not relevant_enough(ranked[:top_n], self.settings.evidence.min_relevance):
            return []
        judge = self.settings.evidence.relevance_judge
        chosen = judged_by_model(self.llm, question.text, ranked, judge, top_n)
        return grouped_by_article(chosen)

    def _nothing_to_read(self, turn: _Turn) -> Draft:
        text = ABSTAIN_TEXT
        if not turn.filters.empty and not turn.retrieved:
            text = f"No indexed article matches {turn.filters.describe()}, so none answers this."
        elif turn.missing:
            named = ", ".join(f"'{w}'" for w in turn.missing)
            text = f"The indexed articles never mention {named}, so they don't answer this."
        return Draft(text, [], True, reason=turn.no_evidence)

    # --- generate ------------------------------------------------------------------------------
    def _reply_pieces(
        self,
        question: QuestionProfile,
        evidence: list[Evidence],
        turn: _Turn | None = None,
    ) -> Iterator[str]:
        """The reply as it streams; with `turn`, its prompt and (where the backend gives
        them) its token log-probabilities are kept there for the confidence signals."""
        g = self.settings.generation
        messages = answer_messages(question, evidence, g.abstain_instruction)
        sink = None
        if turn is not None:
            turn.prompt = messages
            sink = turn.reply_logprobs if self.llm.capabilities.logprobs else None
        if sink is None:  # backends without log-probabilities keep the four-argument call
            yield from self.llm.stream_chat(messages, g.max_answer_tokens, REPLY_STOP)
        else:
            yield from self.llm.stream_chat(
                messages, g.max_answer_tokens, REPLY_STOP, logprobs=sink
            )

    def _generate(
        self,
        turn: _Turn,
        question: QuestionProfile,
        evidence: list[Evidence],
        release: SentenceRelease,
    ) -> Generator[str | VerifiedText, None, str]:
        """The draft's pieces as the model writes them, and its verified text each time a
        sentence is complete and passes."""
        pieces: list[str] = []
        started = time.perf_counter()
        for piece in self._reply_pieces(question, evidence, turn):
            if not pieces:
                turn.lap("ttft", turn.started)
            pieces.append(piece)
            yield piece
            if verified := release.add(piece):
                turn.timings.setdefault("first_verified", time.perf_counter() - turn.started)
                yield verified
        turn.lap("generate", started)
        return "".join(pieces)

    def _answer_claims(self, turn: _Turn, evidence: list[Evidence]) -> str | None:
        """A yes/no question joining claims, answered claim by claim from each part's
        evidence and combined (qa/verify/claims.py); None when it is not one or a claim is
        left unanswered."""
        questions = turn.asked.claims
        if not questions or len(questions) != len(turn.parts):
            return None
        started = time.perf_counter()
        answers = []
        for question, part in zip(questions, turn.parts, strict=True):
            answers.append(self._answer_claim(QuestionProfile.of(question, False), part))
            if answers[-1].verified.abstained:
                break
        combined = combined_reply(answers, evidence)
        turn.lap("claims", started)
        log.info("claims %s -> %r", [(a.question, a.polarity) for a in answers], combined)
        return combined

    def _answer_claim(self, question: QuestionProfile, evidence: list[Evidence]) -> ClaimAnswer:
        reply = "".join(self._reply_pieces(question, evidence))
        v = self.settings.verification
        verified = verify_reply(reply, question, evidence, self.embedder, v.min_support)
        polarity, _ = split_polarity(verified.text)
        if not polarity and not verified.abstained:
            polarity = answer_yes_or_no(self.llm, question.text, evidence, v.judge_grammar)
        return ClaimAnswer(question.text, polarity, verified)

    # --- verify and decide ---------------------------------------------------------------------
    def _verify(self, turn: _Turn, evidence: list[Evidence]) -> Answer:
        context = StepContext(turn.asked, evidence, turn.raw)
        draft = Draft(turn.raw)
        decided_by = "cite"
        held: Draft | None = None  # a cited draft that a later rule step withheld
        held_by = ""
        for step in self.steps:
            started = time.perf_counter()
            before = draft
            draft = step.run(draft, context)
            if step.name == "answer_check":
                turn.lap("check", started)
            if draft is not before:
                decided_by = step.name
            if draft.abstained and not before.abstained and before.citations and held is None:
                held, held_by = before, step.name
        if draft.unsupported:
            log.info("removed %d unsupported sentence(s): %s", len(draft.unsupported),
                     draft.unsupported)  # fmt: skip
        led = decided_by == "evidence_led"
        signals = {} if draft.abstained else self._signals(turn, draft, evidence, led)
        answer = self._decide(turn, draft, decided_by, signals)
        if held is not None and self.settings.verification.score_withheld:
            # What the rule held back, scored like an answer: how `python -m evals.calibrate`
            # measures whether the calibrated decision makes the rule redundant.
            answer.held = {"step": held_by, "text": held.text,
                           "signals": self._signals(turn, held, evidence)}  # fmt: skip
        return answer

    def _signals(
        self, turn: _Turn, draft: Draft, evidence: list[Evidence], evidence_led: bool = False
    ) -> dict[str, float]:
        started = time.perf_counter()
        v = self.settings.verification
        # Each is None where the backend gives no log-probabilities.
        choice: SourceChoice | None = None
        if v.choice_signal:
            prompt = turn.prompt or answer_messages(
                turn.asked, evidence, self.settings.generation.abstain_instruction
            )
            choice = source_choice(self.llm, prompt, turn.raw, len(evidence))
        cited = None
        if v.confidence_judgements:
            quotes = [c.quote for c in draft.citations]
            cited = p_cited_answers(self.llm, turn.asked.text, quotes)
        chose_cited = choice.p_of(_cited_numbers(draft, evidence)) if choice else None
        reply = ReplyLogprobs.of(turn.reply_logprobs)
        model = ModelConfidence(cited, reply, choice, chose_cited)
        turn.lap("confidence", started)
        return draft_signals(turn.asked, evidence, draft, turn.retrieval, model, evidence_led)

    def _decide(
        self, turn: _Turn, draft: Draft, step: str, signals: dict[str, float] | None = None
    ) -> Answer:
        """The one place where an answer is given or withheld: from the last draft, and for
        a draft every step let through, from its calibrated P(right)."""
        signals = signals or {}
        estimate = self.calibrated.estimate(signals) if self.calibrated and signals else None
        withheld = ""
        if not draft.abstained and estimate is not None and not estimate.answer:
            withheld = draft.text
            draft = draft.but(
                text=_not_confident_text(draft), abstained=True, reason=estimate.describe()
            )
            step = "confidence"
        if draft.abstained:
            text, citations = draft.text or ABSTAIN_TEXT, []
            decision = f"abstained at {step}: {draft.reason or 'nothing supported'}"
        else:
            text, citations = draft.text, self.also_carried(draft.citations)
            reasons = [r for r in (draft.reason, estimate and estimate.describe()) if r]
            decision = f"answered ({step}{': ' + '; '.join(reasons) if reasons else ''})"
        log.info("%s", decision)
        turn.lap("total", turn.started)
        s = self.settings
        log.info("answered in %s", ", ".join(f"{k} {v:.2f}s" for k, v in turn.timings.items()))
        return Answer(
            question=turn.question,
            text=text,
            citations=citations,
            abstained=draft.abstained,
            retrieved=turn.retrieved,
            timings={k: round(v, 4) for k, v in turn.timings.items()},
            standalone_question=turn.query,
            raw_text=turn.raw,
            unsupported=list(draft.unsupported),
            settings_hash=s.fingerprint(),
            model=s.llm_identity(),
            decision=decision,
            confidence=estimate.p_right if estimate else None,
            signals=signals,
            withheld=withheld,
            filters="" if turn.filters.empty else turn.filters.describe(),
        )

    def also_carried(self, citations: list[Citation]) -> list[Citation]:
        """Each citation with the other outlets that carried the same (syndicated) text."""
        ours = self.retriever if isinstance(self.retriever, HybridNodeRetriever) else None
        groups = [c.group for c in citations if c.group]
        if ours is None or not groups:
            return citations
        members = ours.search.store.group_members(groups)
        out = []
        for c in citations:
            others = {r.outlet or r.source for r in members.get(c.group, []) if r.path != c.path}
            out.append(replace(c, also_in=tuple(sorted(others))) if others else c)
        return out


def _not_confident_text(draft: Draft) -> str:
    """What the articles do mention, when the answer drawn from it is not trusted."""
    if not draft.citations:
        return ABSTAIN_TEXT
    c = draft.citations[0]
    where = ", ".join(x for x in (c.title or c.source, date_label(c.published)) if x)
    return (
        "The indexed articles may not answer this: the closest passage "
        f'({where}) says "{c.quote}", which may not be what was asked.'
    )


def _cited_numbers(draft: Draft, evidence: list[Evidence]) -> list[int]:
    """The evidence numbers (1-based) of the sentences the draft cites."""
    cited = {(c.path, c.start) for c in draft.citations}
    return [n for n, e in enumerate(evidence, 1) if e.key in cited]


def _sentences(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)] or [text]


def _text_and_header(hit: Hit) -> str:
    c = hit.chunk
    return " ".join([c.text, c.title, c.outlet, c.author, c.source, date_label(c.published)])


def merged_sources(a: list[RetrievedSource], b: list[RetrievedSource]) -> list[RetrievedSource]:
    """Each file once with its best score, best first (parts of a question retrieve apart)."""
    best: dict[str, float] = {}
    for r in [*a, *b]:
        best[r.source] = max(best.get(r.source, -1.0), r.score)
    return [RetrievedSource(src, sc) for src, sc in sorted(best.items(), key=lambda x: -x[1])]


def retrieved_sources(hits: list[Hit]) -> list[RetrievedSource]:
    """Each retrieved file once, with its best dense similarity (the fused score otherwise)."""
    best: dict[str, float] = {}
    for hit in hits:
        score = float(hit.dense if hit.dense is not None else hit.score)
        best[hit.chunk.source] = max(best.get(hit.chunk.source, -1.0), score)
    return [RetrievedSource(src, sc) for src, sc in sorted(best.items(), key=lambda x: -x[1])]


__all__ = ["ABSTAIN_TEXT", "VERIFICATION_STEPS", "AnswerPipeline"]
