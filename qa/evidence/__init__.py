"""Evidence: `EvidenceGathering.run(question, search, scope) -> Gathered` (the few best
sentences of the retrieved chunks, numbered for the model, or why there are none)."""

from qa.evidence.gather import EvidenceGathering, Gathered

__all__ = ["EvidenceGathering", "Gathered"]
