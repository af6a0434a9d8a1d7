"""Generation: `ReplyWriter.start(question, evidence)` streams the model's reply to the
numbered evidence; its `Reply` keeps the prompt, the token log-probabilities and timing."""

from qa.generate.writing import ReplyWriter, Writing

__all__ = ["ReplyWriter", "Writing"]
