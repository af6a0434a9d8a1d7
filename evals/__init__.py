"""Evaluation against gold questions (built on the public `qa` API)."""
