"""Every error meant for the person at the keyboard, in one place (no traceback needed).

The CLI, the web page and the API report a `UserError` as one line. `UserError` itself is
defined on the ground floor (index/errors.py) so that loading and storing can raise it."""

from index.errors import UserError


class InputError(UserError):
    """The question itself cannot be used (empty, too long ...)."""


class LLMError(UserError):
    """The model could not produce an answer; the message says why."""


__all__ = ["InputError", "LLMError", "UserError"]
