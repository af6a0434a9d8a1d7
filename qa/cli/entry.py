"""`qa`: parse, configure logging, run the command; a user's mistake is one line, exit 2."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pydantic import ValidationError

from qa.assistant import Assistant
from qa.cli.commands import HANDLERS, ModelOnFirstUse, progress_for
from qa.cli.logs import configure_logging
from qa.cli.parser import build_parser, merge_options_after, settings_from_args
from qa.core.errors import UserError
from qa.core.settings import setting_problems


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    merge_options_after(args)
    configure_logging(args.verbose)
    try:
        settings = settings_from_args(args)
        answers = args.command in ("ask", "brief", "chat")
        local_model = settings.generation.llm_backend == "llama_cpp"
        model = ModelOnFirstUse(settings, progress_for(args)) if answers and local_model else None
        assistant = Assistant(settings, llm=model)
        return HANDLERS[args.command](assistant, args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"error: bad setting: {setting_problems(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
