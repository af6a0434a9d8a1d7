"""Errors whose message is meant for the person at the keyboard (no traceback needed).

`UserError` is defined here, on the ground floor, so that loading and storing can raise it
without importing the answering package; `qa.UserError` is the same class."""


class UserError(Exception):
    """Base of every error the CLI, the web page and the API report as a one-line message."""
