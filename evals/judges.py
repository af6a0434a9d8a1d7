"""Support judges for `qa eval`'s sentence-support metrics.

The assistant keeps an answer sentence when its own scorer (qa/verify/support.py) says a source
supports it, so scoring support with that same scorer can only read 1.0. `LLMSupportJudge`
asks a different question of a different method: the language model reads the passage and
the claim and says Yes or No (grammar-constrained with llama.cpp). Its agreement with hand
labels is measured by `python -m evals.judge_agreement` (docs/evaluation.md).
"""

from __future__ import annotations

from qa.generate.llm import LLM
from qa.verify.answer_judge import judge_supported


class LLMSupportJudge:
    """judge(claim, passage, question) -> does the passage state what the claim says?"""

    def __init__(self, llm: LLM) -> None:
        self.llm = llm
        self._seen: dict[tuple[str, str], bool] = {}

    def __call__(self, claim: str, passage: str, question: str) -> bool:
        key = (claim, passage)
        if key not in self._seen:
            # An unreadable verdict counts as unsupported: the metric must be able to fail.
            self._seen[key] = judge_supported(self.llm, claim, passage) is True
        return self._seen[key]
