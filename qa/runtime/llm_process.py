"""The model process: llama.cpp's own OpenAI-compatible server, on loopback, in a child process.

The app starts it (`python -m qa.runtime.llm_process --model FILE --port N ...`, see
qa/runtime/supervisor.py) and talks to it over HTTP. Whatever kills this process (an illegal
instruction, the out-of-memory killer, a damaged model file) ends this process only; the
supervisor reports the cause and starts a new one.

The runtime is xllamacpp, a prebuilt llama.cpp for the x86-64-v3 baseline (docs/runtime.md).
This module imports nothing heavy, so it also runs quickly under an emulated CPU (CI).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from qa.core.errors import UserError
from qa.runtime.health import port_is_free

# Exit codes the supervisor understands (qa/runtime/supervisor.py).
EXIT_LOAD_FAILED = 3
EXIT_BAD_ARGS = 4
EXIT_PORT_BUSY = 5


def model_file(name_or_path: str) -> str:
    """A GGUF path as given, or a packaged model's file (assembled on first use): a server
    started on its own (`qa services`, a container) names the model as the app does."""
    if os.path.isfile(name_or_path):
        return name_or_path
    from qa.runtime.model_files import PACKAGED_MODELS, resolve_model_path

    if name_or_path not in PACKAGED_MODELS:
        return name_or_path
    from qa.core.settings import Settings

    return str(resolve_model_path(name_or_path, Settings().store.home))


def server_params(args: argparse.Namespace):  # -> xllamacpp.CommonParams
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = args.model
    params.n_parallel = args.parallel
    params.n_ctx = args.n_ctx * args.parallel  # the server splits the context among its slots
    params.n_batch = 512
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.hostnames = [args.host]
    params.port = args.port
    params.cache_prompt = True  # reuse the KV cache of the shared prompt prefix
    params.use_jinja = True  # the model's own chat template
    params.warmup = args.warmup
    params.sampling.seed = 0
    params.endpoint_slots = True
    return params


def smoke(server: object, tokens: int) -> int:
    """Generate a few tokens without HTTP: proof that the runtime's kernels run here."""
    request = {
        "messages": [{"role": "user", "content": "Who wrote Hamlet? Answer in one word."}],
        "max_tokens": tokens,
        "temperature": 0,
    }
    reply = server.handle_chat_completions(request)  # type: ignore[attr-defined]
    text = reply["choices"][0]["message"]["content"]
    usage = reply.get("usage", {})
    print(f"smoke: {usage.get('completion_tokens', '?')} tokens: {text!r}", flush=True)
    os._exit(0 if usage.get("completion_tokens") else 1)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m qa.runtime.llm_process")
    parser.add_argument(
        "--model",
        required=True,
        help="GGUF file, or a packaged model name (joined under QA_HOME/models on first use)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--n-ctx", type=int, default=2048, help="context per slot")
    parser.add_argument("--parallel", type=int, default=1, help="slots decoded together")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--no-warmup", dest="warmup", action="store_false")
    parser.add_argument(
        "--smoke",
        metavar="TOKENS",
        type=int,
        help="no server: load the model, generate this many tokens, print them and exit "
        "(CI runs this under an emulated AVX2-only CPU)",
    )
    parser.add_argument(
        "--stdin-lifeline",
        action="store_true",
        help="exit when stdin closes: the app holds the other end, so this ends with the app",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit:
        return EXIT_BAD_ARGS
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    try:
        args.model = model_file(args.model)
    except (UserError, ValueError) as exc:  # ValueError: a bad QA_* setting (pydantic)
        print(str(exc), file=sys.stderr, flush=True)
        return EXIT_LOAD_FAILED
    if not os.path.isfile(args.model):
        print(f"model file not found: {args.model}", file=sys.stderr, flush=True)
        return EXIT_LOAD_FAILED
    import xllamacpp as xlc

    if args.smoke:
        args.port, args.warmup = 0, False
    elif not port_is_free(args.host, args.port):
        print(f"port {args.port} is in use", file=sys.stderr, flush=True)
        return EXIT_PORT_BUSY
    try:
        server = xlc.Server(server_params(args))
    except Exception as exc:  # the runtime raises plain exceptions for unreadable models
        print(f"failed to load model {args.model}: {exc}", file=sys.stderr, flush=True)
        return EXIT_LOAD_FAILED
    if args.smoke:
        return smoke(server, args.smoke)
    print(f"listening on {getattr(server, 'listening_address', args.port)}", flush=True)
    if args.stdin_lifeline:
        # The pipe closes when the app's process ends in any way, SIGKILL included (prctl's
        # PDEATHSIG would fire when the app's starting *thread* ends, not the app).
        try:
            while sys.stdin.read(1 << 16):
                pass
        except (OSError, ValueError):
            pass
    else:
        signal.signal(signal.SIGINT, lambda *_: os._exit(0))
        while True:
            signal.pause()
    os._exit(0)  # skip the runtime's slow teardown


if __name__ == "__main__":
    sys.exit(main())
