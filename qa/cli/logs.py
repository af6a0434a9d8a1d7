"""The command line's logging: ours on stderr, quiet unless asked."""

from __future__ import annotations

import logging
import sys

_OUR_LOGGERS = ("qa", "index", "ui", "evals")


_log_handler = logging.StreamHandler()


_log_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))


def configure_logging(verbosity: int) -> None:
    """Quiet by default (warnings only); -v informs, -vv debugs. Other libraries stay at
    warnings, so their chatter never buries ours."""
    level = (logging.WARNING, logging.INFO)[verbosity] if verbosity < 2 else logging.DEBUG
    _log_handler.stream = sys.stderr  # the stream of this call (tests replace it)
    for name in _OUR_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.propagate = False
        if _log_handler not in logger.handlers:
            logger.addHandler(_log_handler)
