"""The `qa` command line's options, and the settings they make."""

from __future__ import annotations

import argparse
from pathlib import Path

from qa.core.settings import Settings


def _global_options(parser: argparse.ArgumentParser, after_command: bool = False) -> None:
    """The options of every command, given before it (`qa --since D ask "..."`). ask, chat
    and brief take them after it too (`qa ask --since D "..."`): there they default to
    SUPPRESS, so a value given before the command is not reset, and the repeatable ones
    (-v, --outlet, --author) go to `more_*`, added to those before by `merge_options_after`."""
    more = "more_" if after_command else ""
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        dest=f"{more}verbose",
        default=argparse.SUPPRESS if after_command else 0,
        help="log retries, rewrites, abstentions and timings (-vv: debug)",
    )
    parser.add_argument("--collection", help="Chroma collection (QA_COLLECTION)")
    parser.add_argument("--top-k", type=int, help="chunks to retrieve (QA_TOP_K)")
    parser.add_argument("--model", help="LLM model name or .gguf path (QA_LLM_MODEL)")
    parser.add_argument(
        "--backend", choices=["llama_cpp", "openai", "llama_index", "fake"], help="QA_LLM_BACKEND"
    )
    parser.add_argument("--chroma-url", help="Chroma server URL (QA_CHROMA_URL)")
    parser.add_argument(
        "--since", metavar="YYYY-MM-DD", help="answer only from articles published since (QA_SINCE)"
    )
    parser.add_argument(
        "--until", metavar="YYYY-MM-DD", help="answer only from articles published until (QA_UNTIL)"
    )
    parser.add_argument(
        "--outlet",
        action="append",
        dest=f"{more}outlets",
        metavar="NAME",
        help="answer only from this outlet; repeat for several (QA_OUTLETS)",
    )
    parser.add_argument(
        "--author",
        action="append",
        dest=f"{more}authors",
        metavar="NAME",
        help="answer only from this author's articles; repeat for several (QA_AUTHORS)",
    )


def merge_options_after(args: argparse.Namespace) -> None:
    """Repeatable options given both before and after the command add up."""
    given = vars(args)
    args.verbose += given.pop("more_verbose", 0)
    for key in ("outlets", "authors"):
        more = given.pop(f"more_{key}", None)
        if more:
            given[key] = [*(given[key] or []), *more]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa", description="Ask questions about news articles; answers cite their sources."
    )
    _global_options(parser)
    # Given after ask, chat or brief, an option not given keeps the value before the command.
    after = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    _global_options(after, after_command=True)
    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    p_index = sub.add_parser(
        "index", help="index article files, folders or web pages (default: seeds/)"
    )
    p_index.add_argument("paths", nargs="*", help="files, folders, or http(s):// page addresses")
    p_index.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    p_feed = sub.add_parser("feed", help="follow RSS/Atom feeds: add, refresh, list, remove")
    feed_actions = p_feed.add_subparsers(dest="action", required=True)
    for action, urls, text in [
        ("add", "+", "follow feeds and index their items now"),
        ("refresh", "*", "index what is new or changed in the feeds (default: all)"),
        ("list", "", "the feeds this collection follows"),
        ("remove", "+", "stop following feeds (their articles stay indexed)"),
    ]:
        p_action = feed_actions.add_parser(action, help=text)
        if urls:
            p_action.add_argument("urls", nargs=urls, metavar="URL")
        p_action.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    p_ask = sub.add_parser("ask", help="answer one question", parents=[after, quiet])
    p_ask.add_argument("question")
    p_ask.add_argument("--json", action="store_true", help="print one JSON object")

    p_brief = sub.add_parser(
        "brief",
        help="a short cited briefing on a topic over many articles (filters apply)",
        parents=[after, quiet],
    )
    p_brief.add_argument("topic", help='e.g. "the Kim-Putin summit"')
    p_brief.add_argument("--json", action="store_true", help="print one JSON object")

    sub.add_parser("chat", help="a conversation in the terminal", parents=[after, quiet])

    p_feedback = sub.add_parser("feedback", help="export the recorded feedback as gold rows")
    feedback_actions = p_feedback.add_subparsers(dest="action", required=True)
    p_export = feedback_actions.add_parser(
        "export", help="thumbs and wrong citations as gold-set JSONL (qa eval --gold)"
    )
    p_export.add_argument("--out", type=Path, help="write to this file (default: stdout)")

    p_ui = sub.add_parser("ui", help="the chat web page (Gradio)")
    p_ui.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p_ui.add_argument("--port", type=int, default=7860, help="port (7860)")
    p_ui.add_argument("--no-browser", action="store_true", help="do not open a browser tab")

    p_serve = sub.add_parser(
        "serve", help="an OpenAI-compatible API: POST /v1/chat/completions, GET /v1/models"
    )
    p_serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p_serve.add_argument("--port", type=int, default=8000, help="port (8000)")

    p_balance = sub.add_parser(
        "balance", help="one port in front of several `qa ui` processes (sticky sessions)"
    )
    p_balance.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p_balance.add_argument("--port", type=int, default=7860, help="port (7860)")
    p_balance.add_argument(
        "--backend",
        dest="backends",  # not the global --backend (the LLM backend)
        action="append",
        default=[],
        metavar="URL",
        help="a `qa ui` process: http://HOST:PORT (repeat for each)",
    )

    p_services = sub.add_parser(
        "services", help="start every service of a config file (docs/services.md)"
    )
    p_services.add_argument("--config", type=Path, required=True, help="e.g. docs/services.toml")
    p_services.add_argument(
        "--print-env", action="store_true", help="print the QA_* exports `qa index` needs, and exit"
    )
    p_services.add_argument(
        "--dry-run", action="store_true", help="print each service's command, start nothing"
    )

    p_embed = sub.add_parser(
        "embed-server", help="serve the embedder as an OpenAI-compatible /v1/embeddings API"
    )
    p_embed.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p_embed.add_argument("--port", type=int, default=8081, help="port (8081)")
    p_embed.add_argument(
        "--embedder", help="'minilm' or a local sentence-transformers folder (QA_EMBEDDER)"
    )

    p_doctor = sub.add_parser("doctor", help="check the machine, model, store and servers")
    p_doctor.add_argument("--json", action="store_true", help="print one JSON object")

    p_eval = sub.add_parser("eval", help="score answers against gold questions")
    p_eval.add_argument("--gold", type=Path, help="gold questions (.jsonl)")
    p_eval.add_argument("--corpus", type=Path, help="article folder (default: seeds/)")
    p_eval.add_argument("--out", type=Path, help="output folder (default: eval-runs/<time>)")
    p_eval.add_argument("--limit", type=int, help="only N questions, taken in turn from each type")
    p_eval.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any setting, e.g. --set top_k=8 --set hybrid=false",
    )
    p_eval.add_argument(
        "--compare",
        nargs="+",
        type=Path,
        metavar="SUMMARY",
        help="diff two summary.json files; three or more: a Markdown table",
    )
    p_eval.add_argument(
        "--judge",
        choices=["llm", "lexical"],
        default="llm",
        help="sentence-support judge: the LLM asked yes/no (independent of the answer's own "
        "check; default) or the assistant's lexical+embedding scorer (fast)",
    )
    p_eval.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides = {
        "collection": args.collection,
        "top_k": args.top_k,
        "llm_model": args.model,
        "llm_backend": args.backend,
        "chroma_url": args.chroma_url,
        "since": _day(args.since, "--since"),
        "until": _day(args.until, "--until"),
        "outlets": args.outlets,
        "authors": args.authors,
    }
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _day(value: str | None, option: str) -> str | None:
    from qa.retrieve.filters import parse_day

    day = parse_day(value, option)
    return day.isoformat() if day else None
