"""Errors whose message is meant for the person at the keyboard (no traceback needed)."""


class UserError(Exception):
    """Base of every error the CLI, the web page and the API report as a one-line message."""
