"""`qa` command line: index, ask, chat, brief, serve, evaluate (`qa --help`)."""

from __future__ import annotations

from qa.cli.commands import chat_command
from qa.cli.entry import main
from qa.cli.logs import configure_logging
from qa.cli.parser import build_parser, settings_from_args

__all__ = ["build_parser", "chat_command", "configure_logging", "main", "settings_from_args"]
