"""Understanding the question: `Understanding.run(question, history) -> Understood` (cleaned,
a follow-up made stand-alone, read once into a `QuestionProfile`)."""

from qa.understand.profile import QuestionProfile
from qa.understand.understanding import Understanding, Understood

__all__ = ["QuestionProfile", "Understanding", "Understood"]
