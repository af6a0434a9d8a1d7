"""Question answering over news articles with verified citations.

from qa import Assistant, Settings
answer = Assistant(Settings()).ask("Who accompanied Kim at the extended talks?")
"""

from index.errors import UserError
from index.indexer import IndexReport
from qa.assistant import ABSTAIN_TEXT, Assistant, Conversation, InputError
from qa.settings import Settings
from qa.types import Answer, Citation, RetrievedSource

__all__ = [
    "ABSTAIN_TEXT",
    "Answer",
    "Assistant",
    "Citation",
    "Conversation",
    "IndexReport",
    "InputError",
    "RetrievedSource",
    "Settings",
    "UserError",
]
