"""The public import path of `SentenceEvidencePostprocessor` (README); it lives in qa/evidence/."""

from qa.evidence.postprocessor import SentenceEvidencePostprocessor

__all__ = ["SentenceEvidencePostprocessor"]
