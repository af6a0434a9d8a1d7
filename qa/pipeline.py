"""The answering path: each stage's component run in order, and the one decision.

    Understanding      question, history -> Understood (stand-alone question, profile)
    article_scope      -> the ArticleFilter searched under (retrieve/)
    EvidenceGathering  -> Gathered: the numbered sentences, or why none (evidence/)
    QuestionFacts      -> the question's names no retrieved text mentions (verify/)
    ReplyWriter        -> the reply, streamed (generate/); ClaimByClaim for yes/no questions
                          joining claims; SentenceRelease shows each supported sentence
    Verification       -> Verified: cite, judgement, answer_check, evidence_led (verify/)
    Signals            -> the numbers P(right) is read from (verify/)

`_decide` is the one place an answer is given or withheld: a step says "abstain, because
..." by returning an abstained draft with its reason (the answer's `decision`); a draft every
step let through is withheld when its calibrated P(right) is below the target precision's
threshold (qa/verify/calibrated.py). `stream` returns an `AnswerStream`: events as the stages
run, then the verified `Answer`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.postprocessor.types import BaseNodePostprocessor

from index.embedding.embedders import Embedder
from qa.core.answer_stream import AnswerStream, Clock, Progress, SourcesFound, StreamEvent
from qa.core.interfaces import LLM, Reply
from qa.core.settings import Settings
from qa.core.types import Answer, Citation, Draft, Evidence
from qa.evidence import Gathered
from qa.recipes import Recipe, answer_gathering, answer_recipe, briefing_recipe
from qa.retrieve import (
    ArticleFilter,
    EmptyRange,
    Searcher,
    article_scope,
    searcher_for,
    with_copies,
)
from qa.retrieve.node_retriever import settings_filter
from qa.understand import QuestionProfile, Understood
from qa.verify import (
    ABSTAIN_TEXT,
    VERIFICATION_STEPS,
    Grounds,
    SentenceRelease,
    not_confident,
    nothing_to_read,
)
from qa.verify.calibrated import CalibratedDecision

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Walk:
    """What the stages returned for one question, read by the decision."""

    recipe: Recipe
    understood: Understood
    scope: ArticleFilter = field(default_factory=ArticleFilter)
    gathered: Gathered = field(default_factory=lambda: Gathered([]))


class AnswerPipeline:
    def __init__(
        self,
        settings: Settings,
        *,
        llm: LLM,
        embedder: Embedder,
        retriever: BaseRetriever | Searcher,
        postprocessors: Sequence[BaseNodePostprocessor] = (),
    ) -> None:
        self.settings, self.llm, self.embedder = settings, llm, embedder
        self.searcher = searcher_for(retriever, settings_filter(settings))
        self.gathering = answer_gathering(settings, llm, embedder, self.searcher, postprocessors)
        self.answering = answer_recipe(settings, llm, embedder, self.gathering)
        self.briefing = briefing_recipe(settings, llm, embedder, self.searcher)
        self.steps = self.answering.verification.steps  # a list tests may change
        target = settings.verification.target_precision
        self.calibrated = CalibratedDecision.shipped(target, settings.llm_identity())

    def stream(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        filters: ArticleFilter | None = None,
    ) -> AnswerStream:
        """`filters` (dates, outlets, authors) replace the settings' filter for this answer."""
        return AnswerStream(self._stages(self.answering, question, list(history), filters))

    def brief(self, topic: str, filters: ArticleFilter | None = None) -> AnswerStream:
        """A short cited briefing on `topic` over many articles (qa/briefing.py)."""
        return AnswerStream(self._stages(self.briefing, topic, [], filters))

    def candidates(self, question: str) -> list[Evidence]:
        """Every candidate sentence retrieval finds for `question` as asked (no history, no
        decomposition), best first: what the evidence step chooses from. No model call."""
        return self.gathering.ranked(QuestionProfile.of(question, False), question)[1]

    def also_carried(self, citations: list[Citation]) -> list[Citation]:
        """Each citation with the other outlets that carried the same (syndicated) text."""
        return with_copies(citations, self.searcher)

    def _stages(
        self,
        recipe: Recipe,
        question: str,
        history: list[tuple[str, str]],
        filters: ArticleFilter | None,
    ) -> Generator[str | StreamEvent, None, Answer]:
        clock = Clock()
        yield Progress("searching")
        understood = recipe.reading.run(question, history)
        if understood.rewrite_s is not None:
            clock.lap("rewrite")
        asked = understood.profile
        try:
            scope = article_scope(understood.query, filters, self.searcher,
                                  self.settings.question.question_dates)  # fmt: skip
        except EmptyRange as exc:
            draft = Draft(f"No indexed article can answer this: {exc}.", [], True, reason=str(exc))
            yield draft.text
            return self._decide(_Walk(recipe, understood), draft, "filters", clock)
        gathered = recipe.gathering.run(asked, understood.search, scope)
        clock.lap("retrieve", gathered.seconds)
        walk = _Walk(recipe, understood, scope, gathered)
        facts = recipe.question_facts
        missing = facts.run(asked, gathered.context) if facts and gathered.evidence else []
        if not gathered.evidence or missing:
            draft = nothing_to_read(scope, bool(gathered.retrieved), gathered.no_evidence,
                                    missing)  # fmt: skip
            yield draft.text
            return self._decide(walk, draft, "evidence", clock)
        evidence = gathered.evidence
        clock.lap("sources")  # the first true content a user can read
        yield SourcesFound([Citation.of(e, e.score) for e in evidence])
        yield Progress("reading")
        release = SentenceRelease.by_step(recipe.verification.steps[0], asked, evidence)
        started, claims = time.perf_counter(), recipe.claims
        combined = claims.run(asked, gathered.parts, evidence) if claims else None
        if combined:
            clock.lap("claims", time.perf_counter() - started)
            clock.lap("ttft")
            reply = Reply(combined)
            yield combined
            release.add(combined)
        else:
            yield Progress("writing")
            writing = recipe.writer.start(understood, evidence)
            for piece in writing:
                clock.lap("ttft", first=True)
                yield piece
                if verified := release.add(piece):
                    clock.lap("first_verified", first=True)
                    yield verified
            reply = writing.reply
            clock.lap("generate", reply.seconds)
        if verified := release.finish():
            yield verified
        yield Progress("checking")
        return self._verify(walk, reply, clock)

    def _verify(self, walk: _Walk, reply: Reply, clock: Clock) -> Answer:
        asked, evidence = walk.understood.profile, walk.gathered.evidence
        grounds = Grounds(asked, evidence, walk.gathered.scores)
        verified = walk.recipe.verification.run(asked, evidence, reply.text)
        if verified.check_s is not None:
            clock.lap("check", verified.check_s)
        draft = verified.draft

        def signals(of: Draft, led: bool = False) -> dict[str, float]:
            if walk.recipe.signals is None:  # a briefing: nothing to read P(right) from
                return {}
            started = time.perf_counter()
            found = walk.recipe.signals.run(grounds, of, reply, led)
            clock.lap("confidence", time.perf_counter() - started)
            return found

        led = verified.decided_by == "evidence_led"
        scored = {} if draft.abstained else signals(draft, led)
        answer = self._decide(walk, draft, verified.decided_by, clock, scored, reply.text)
        if verified.held is not None and self.settings.verification.score_withheld:
            # What the rule held back, scored like an answer: how `python -m evals.calibrate`
            # measures whether the calibrated decision makes the rule redundant.
            answer.held = {"step": verified.held_by, "text": verified.held.text,
                           "signals": signals(verified.held)}  # fmt: skip
        return answer

    def _decide(
        self,
        walk: _Walk,
        draft: Draft,
        step: str,
        clock: Clock,
        signals: dict[str, float] | None = None,
        raw: str = "",
    ) -> Answer:
        """The one place where an answer is given or withheld: from the last draft, and for
        a draft every step let through, from its calibrated P(right)."""
        signals = signals or {}
        estimate = self.calibrated.estimate(signals) if self.calibrated and signals else None
        withheld = ""
        if not draft.abstained and estimate is not None and not estimate.answer:
            withheld, step = draft.text, "confidence"
            draft = not_confident(draft, estimate.describe())
        if draft.abstained:
            text, citations = walk.recipe.abstain_text or draft.text or ABSTAIN_TEXT, []
            decision = f"abstained at {step}: {draft.reason or 'nothing supported'}"
        else:
            text, citations = draft.text, self.also_carried(draft.citations)
            reasons = [r for r in (draft.reason, estimate and estimate.describe()) if r]
            decision = f"answered ({step}{': ' + '; '.join(reasons) if reasons else ''})"
        log.info("%s", decision)
        clock.lap("total")
        log.info("answered in %s", ", ".join(f"{k} {v:.2f}s" for k, v in clock.timings.items()))
        s = self.settings
        return Answer(
            question=walk.understood.question,
            text=text,
            citations=citations,
            abstained=draft.abstained,
            retrieved=walk.gathered.retrieved,
            timings={k: round(v, 4) for k, v in clock.timings.items()},
            standalone_question=walk.understood.query,
            raw_text=raw,
            unsupported=list(draft.unsupported),
            settings_hash=s.fingerprint(),
            model=s.llm_identity(),
            decision=decision,
            confidence=estimate.p_right if estimate else None,
            signals=signals,
            withheld=withheld,
            filters="" if walk.scope.empty else walk.scope.describe(),
            kind=walk.recipe.kind,
        )


__all__ = ["ABSTAIN_TEXT", "VERIFICATION_STEPS", "AnswerPipeline"]
