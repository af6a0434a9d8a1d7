"""The calibrated answer-or-abstain decision: P(the draft answer is right) from its signals
(qa/verify/signals.py), by a logistic regression fitted on labelled questions and judged by
cross-validation (`python -m evals.calibrate`, which writes calibration.json beside this
file: readable coefficients, no pickle).

Three models are fitted: one with the model's judgement of its cited sentences and its
choice of source (the default), one with the reply's log-probabilities and the choice
(judgements turned off), one without the model's numbers for backends that give none. Each
carries its cross-validated curve (threshold -> precision and coverage of the answers it
lets through), so a target precision becomes a threshold without refitting: the product
answers when P(right) reaches it. Each also carries the target the news objective chose for
it (evals/objective.py: the most abstentions on the news gold sets for at most 1 right
answer in 50 lost against never withholding, out of fold), used when no target is set.
The fit is of one answering model's signals (calibration.json's "fitted" "model"): with
another model and no target set, P(right) is reported but nothing is withheld, since its
thresholds were never measured there.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")


@dataclass(frozen=True)
class Estimate:
    p_right: float
    basis: str  # which model: "judged", "logprobs" or "no_logprobs"
    threshold: float  # the P(right) the target precision asks for

    @property
    def answer(self) -> bool:
        return self.p_right >= self.threshold

    def describe(self) -> str:
        basis = {
            "judged": "with the model's judgement and choice of source",
            "logprobs": "with the model's log-probabilities",
        }.get(self.basis, "without the model's log-probabilities")
        return (
            f"P(right) {self.p_right:.2f} {'>=' if self.answer else '<'} {self.threshold:.2f}, "
            f"calibrated {basis}"
        )


@dataclass(frozen=True)
class LogisticModel:
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    curve: tuple[tuple[float, float, float], ...]  # (threshold, precision, coverage), rising
    best_target: float = 0.0  # the news objective's choice; 0 when withholding never helped

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LogisticModel:
        return cls(
            tuple(data["features"]),
            tuple(float(x) for x in data["mean"]),
            tuple(float(x) for x in data["scale"]),
            tuple(float(x) for x in data["coef"]),
            float(data["intercept"]),
            tuple((float(t), float(p), float(c)) for t, p, c in data["curve"]),
            float(data.get("best_target") or 0.0),
        )

    def covers(self, signals: dict[str, float]) -> bool:
        return all(name in signals for name in self.features)

    def p_right(self, signals: dict[str, float]) -> float:
        z = self.intercept
        for name, mean, scale, coef in zip(
            self.features, self.mean, self.scale, self.coef, strict=True
        ):
            z += coef * (signals[name] - mean) / (scale or 1.0)
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))

    def threshold(self, target_precision: float) -> float:
        """The lowest threshold whose cross-validated precision reaches the target (the
        highest one seen when none does); 0 when no target is set."""
        if target_precision <= 0 or not self.curve:
            return 0.0
        for threshold, precision, _ in self.curve:
            if precision >= target_precision:
                return threshold
        return self.curve[-1][0]


@dataclass(frozen=True)
class CalibratedDecision:
    models: dict[str, LogisticModel]
    target_precision: float | None  # None: each model's own best target
    meta: dict[str, Any]
    answering_model: str = ""  # the model whose drafts are judged; "" when not known

    @classmethod
    def load(
        cls,
        target_precision: float | None,
        path: Path = CALIBRATION_FILE,
        answering_model: str = "",
    ) -> CalibratedDecision:
        data = json.loads(path.read_text(encoding="utf-8"))
        models = {name: LogisticModel.from_json(m) for name, m in data["models"].items()}
        return cls(models, target_precision, data.get("fitted", {}), answering_model)

    @classmethod
    def shipped(
        cls, target_precision: float | None, answering_model: str
    ) -> CalibratedDecision | None:
        """The decision fitted and shipped with the package; None where it is missing."""
        if not CALIBRATION_FILE.exists():
            return None
        return cls.load(target_precision, answering_model=answering_model)

    @property
    def fitted_here(self) -> bool:
        """The drafts come from the model the fit was made with (or either is unknown)."""
        fitted = self.meta.get("model", "")
        return not fitted or not self.answering_model or fitted == self.answering_model

    def estimate(self, signals: dict[str, float]) -> Estimate | None:
        """From the model that reads the most of what the signals have: judgements and
        log-probabilities, log-probabilities, neither; None when none applies."""
        for basis in ("judged", "logprobs", "no_logprobs"):
            model = self.models.get(basis)
            if model is not None and model.covers(signals):
                p = model.p_right(signals)
                target = self.target_precision
                if target is None:
                    target = model.best_target if self.fitted_here else 0.0
                return Estimate(p, basis, model.threshold(target))
        return None


__all__ = ["CALIBRATION_FILE", "CalibratedDecision", "Estimate", "LogisticModel"]
