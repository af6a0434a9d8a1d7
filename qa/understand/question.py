"""A question as typed, made safe to use: terminal escapes and control characters out, size
checked."""

from __future__ import annotations

import re
import unicodedata

from qa.core.errors import InputError

# Terminal escape sequences, each removed whole: CSI (ESC [ or 0x9B, parameters, a final
# byte: colours, cursor moves), OSC (ESC ] ... BEL or ESC \: window titles, links) and the
# two-byte ESC x. Dropping only their control byte would leave "[31m" in the question.
_TERMINAL_ESCAPE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[ -~]"
)


def clean_question(question: str, max_chars: int) -> str:
    """Terminal escapes and control characters out, whitespace collapsed; empty and huge
    questions refused."""
    if not isinstance(question, str):
        raise InputError("the question must be text")
    text = _TERMINAL_ESCAPE.sub("", question)  # formatting, not spacing: "\x1b[1mKim\x1b[0m's"
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = " ".join(text.split())
    if not text:
        raise InputError("the question is empty; type a question about the articles")
    if len(text) > max_chars:
        raise InputError(
            f"the question is {len(text)} characters long; the limit is {max_chars} "
            "(QA_MAX_QUESTION_CHARS)"
        )
    return text
