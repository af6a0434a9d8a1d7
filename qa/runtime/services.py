"""`qa services`: the whole system as separate processes, started from one config file.

Chroma server, LLM server (qa/runtime/llm_process.py), embedding server (`qa embed-server`), the web
page processes (`qa ui`) and the sticky balancer in front of them (`qa balance`), started in
dependency order; each must answer its health URL before the next level starts. Every `qa`
process gets the same environment (the config's [env] plus the servers' URLs and one
QA_HOME), so a `qa index` run elsewhere with that environment (`--print-env`) writes where
the pages read. A process that exits is reported, never restarted silently; Ctrl-C or
SIGTERM stops them all, the public side first. One log file per service in QA_HOME/logs.

docs/services.md explains the layout; docs/services.toml is the documented configuration.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from qa.core.errors import UserError
from qa.core.settings import Settings, is_setting_variable, setting_problems
from qa.runtime.health import HealthTimeout, ProcessExited, port_is_free, wait_until_healthy


class ServicesError(UserError):
    """The configuration is wrong or a service would not start; the message says which."""


# --- the configuration file --------------------------------------------------------------------
class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChromaService(_Section):
    port: int = Field(default=8000, ge=1, le=65535, description="Chroma server port.")
    start_timeout_s: float = Field(default=60, gt=0, description="Seconds to its first heartbeat.")


class LLMService(_Section):
    port: int = Field(default=8080, ge=1, le=65535, description="LLM server port (OpenAI API).")
    model: str = Field(
        default="qwen2.5-coder-1.5b",
        description="A packaged model name (qa/runtime/model_files.py) or a .gguf path.",
    )
    parallel: int = Field(
        default=2, ge=1, le=64, description="Answers decoded at once (llama.cpp slots)."
    )
    threads: int | None = Field(default=None, ge=1, description="CPU threads (unset: all).")
    start_timeout_s: float = Field(default=300, gt=0, description="Seconds to load the model.")


class EmbedService(_Section):
    port: int = Field(default=8081, ge=1, le=65535, description="Embedding server port.")
    start_timeout_s: float = Field(default=120, gt=0, description="Seconds to load the model.")


class UIService(_Section):
    ports: list[int] = Field(
        default=[7861, 7862],
        min_length=1,
        description="One `qa ui` process per port, all behind the balancer.",
    )
    start_timeout_s: float = Field(default=240, gt=0, description="Seconds to serve the page.")

    @field_validator("ports")
    @classmethod
    def _ports_in_range(cls, ports: list[int]) -> list[int]:
        if any(not 1 <= p <= 65535 for p in ports):
            raise ValueError("ports must be 1-65535")
        return ports


class BalancerService(_Section):
    port: int = Field(default=7860, ge=1, le=65535, description="The one public port.")
    start_timeout_s: float = Field(default=30, gt=0, description="Seconds to answer its health.")


class ServicesConfig(_Section):
    host: str = Field(
        default="127.0.0.1",
        description="Address every service listens on (0.0.0.0 to serve other machines).",
    )
    env: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="QA_* settings given to every qa process (qa/core/settings.py), QA_HOME "
        "included.",
    )
    chroma: ChromaService = Field(default_factory=ChromaService)
    llm: LLMService = Field(default_factory=LLMService)
    embed: EmbedService = Field(default_factory=EmbedService)
    ui: UIService = Field(default_factory=UIService)
    balancer: BalancerService = Field(default_factory=BalancerService)

    @field_validator("env")
    @classmethod
    def _only_settings(cls, env: dict[str, object]) -> dict[str, object]:
        unknown = [k for k in env if not is_setting_variable(k)]
        if unknown:
            raise ValueError(f"not a QA_* setting of qa/core/settings.py: {', '.join(unknown)}")
        return env


def _field(variable: str) -> str:
    """The flat setting name of QA_TOP_K or QA_RETRIEVAL__TOP_K: top_k."""
    return variable.removeprefix("QA_").lower().rpartition("__")[2]


def load_config(path: Path) -> ServicesConfig:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ServicesError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ServicesError(f"{path} is not valid TOML: {exc}") from exc
    try:
        return ServicesConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"[{'.'.join(map(str, e['loc']))}] {e['msg']}" for e in exc.errors())
        raise ServicesError(f"{path}: {problems}") from exc


# --- what to start -----------------------------------------------------------------------------
@dataclass
class Service:
    name: str
    port: int
    command: list[str]
    health_url: str
    url: str  # what the service offers, for the person reading the start-up lines
    start_timeout_s: float
    level: int  # started after every service of a lower level answers


def _text(value: str | int | float | bool) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _reachable(host: str) -> str:
    """The address clients on this machine use for a service listening on `host`."""
    return "127.0.0.1" if host in ("0.0.0.0", "", "*") else host


def settings_of(config: ServicesConfig) -> Settings:
    """The settings every qa process of the configuration will read, checked here once: the
    environment with the config's [env] on top, as the processes get it."""
    overrides: dict[str, Any] = {_field(k): _text(v) for k, v in config.env.items()}
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = setting_problems(exc)
        raise ServicesError(f"bad setting in [env] or the environment: {problems}") from exc


def shared_env(config: ServicesConfig, settings: Settings) -> dict[str, str]:
    """The QA_* environment every qa process of the configuration gets (and `qa index`)."""
    at = _reachable(config.host)
    env = {k: _text(v) for k, v in config.env.items()}
    env.update(
        QA_HOME=str(settings.store.home.expanduser().resolve()),
        QA_CHROMA_URL=f"http://{at}:{config.chroma.port}",
        QA_LLM_BACKEND="openai",
        QA_OPENAI_BASE_URL=f"http://{at}:{config.llm.port}/v1",
        QA_LLM_MODEL=config.llm.model,
        QA_EMBED_BACKEND="openai",
        QA_EMBED_BASE_URL=f"http://{at}:{config.embed.port}/v1",
    )
    # Each page process may send as many answers at once as the server has slots.
    env.setdefault("QA_LLM_CONCURRENCY", str(config.llm.parallel))
    return env


def chroma_executable() -> str:
    beside = Path(sys.executable).parent / "chroma"
    return str(beside) if beside.exists() else (shutil.which("chroma") or "chroma")


def plan(config: ServicesConfig, settings: Settings) -> list[Service]:
    """Every process of the configuration, with its command line and health URL."""
    _check_ports(config)
    host, at = config.host, _reachable(config.host)
    home = settings.store.home.expanduser().resolve()
    qa = [sys.executable, "-m", "qa.cli"]
    chroma, llm, embed, balancer = config.chroma, config.llm, config.embed, config.balancer
    llm_command = [sys.executable, "-m", "qa.runtime.llm_process", "--model", llm.model,
                   "--host", host, "--port", str(llm.port), "--parallel", str(llm.parallel),
                   "--n-ctx", str(settings.runtime.n_ctx)]  # fmt: skip
    if llm.threads:
        llm_command += ["--threads", str(llm.threads)]
    base = f"http://{at}"
    services = [
        Service(
            "chroma", chroma.port,
            [chroma_executable(), "run", "--path", str(home / "chroma-server"),
             "--host", host, "--port", str(chroma.port)],
            f"{base}:{chroma.port}/api/v2/heartbeat", f"{base}:{chroma.port}",
            chroma.start_timeout_s, 0,
        ),
        Service(
            "llm", llm.port, llm_command, f"{base}:{llm.port}/health", f"{base}:{llm.port}/v1",
            llm.start_timeout_s, 0,
        ),
        Service(
            "embed", embed.port,
            [*qa, "embed-server", "--host", host, "--port", str(embed.port)],
            f"{base}:{embed.port}/health", f"{base}:{embed.port}/v1", embed.start_timeout_s, 0,
        ),
    ]  # fmt: skip
    for n, port in enumerate(config.ui.ports, 1):
        services.append(
            Service(
                f"ui-{n}", port, [*qa, "ui", "--host", host, "--port", str(port), "--no-browser"],
                f"{base}:{port}/", f"{base}:{port}/", config.ui.start_timeout_s, 1,
            )
        )  # fmt: skip
    backends = [x for p in config.ui.ports for x in ("--backend", f"{base}:{p}")]
    services.append(
        Service(
            "balancer", balancer.port,
            [*qa, "balance", "--host", host, "--port", str(balancer.port), *backends],
            f"{base}:{balancer.port}/.balancer/health", f"{base}:{balancer.port}/",
            balancer.start_timeout_s, 2,
        )
    )  # fmt: skip
    return services


def _check_ports(config: ServicesConfig) -> None:
    named = [("chroma", config.chroma.port), ("llm", config.llm.port),
             ("embed", config.embed.port), ("balancer", config.balancer.port)]  # fmt: skip
    named += [(f"ui-{n}", p) for n, p in enumerate(config.ui.ports, 1)]
    seen: dict[int, str] = {}
    for name, port in named:
        if port in seen:
            raise ServicesError(f"{name} and {seen[port]} are both given port {port}")
        seen[port] = name


# --- running them ------------------------------------------------------------------------------
def _die_with_parent() -> None:
    """In the child: SIGTERM when the launcher dies, however it dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Running:
    service: Service
    proc: subprocess.Popen[bytes]
    log_path: Path
    reported: bool = False


@dataclass
class Launcher:
    services: list[Service]
    env: dict[str, str]
    logs: Path
    host: str
    say: Callable[[str], None] = field(default=lambda line: print(line, flush=True))
    running: list[Running] = field(default_factory=list)

    def start_all(self) -> None:
        """Level by level: start a level's services together, then wait for each to answer."""
        busy = [
            f"{s.name} (port {s.port})"
            for s in self.services
            if not port_is_free(self.host, s.port)
        ]
        if busy:
            raise ServicesError(
                f"ports already in use for {', '.join(busy)}; stop what holds them or change "
                "the ports in the config"
            )
        self.logs.mkdir(parents=True, exist_ok=True)
        for level in sorted({s.level for s in self.services}):
            started = [self._start(s) for s in self.services if s.level == level]
            for running in started:
                self._wait_until_up(running)
                self.say(f"{running.service.name:<9} {running.service.url:<28} "
                         f"log: {running.log_path}")  # fmt: skip

    def _start(self, service: Service) -> Running:
        log_path = self.logs / f"{service.name}.log"
        with log_path.open("ab") as log:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            log.write(f"--- {stamp} {shlex.join(service.command)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                service.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env, "PYTHONUNBUFFERED": "1"},
                start_new_session=True,  # Ctrl-C reaches the launcher only; it stops them in order
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        running = Running(service, proc, log_path)
        self.running.append(running)
        return running

    def _wait_until_up(self, running: Running) -> None:
        service = running.service
        try:
            wait_until_healthy(
                service.health_url, timeout_s=service.start_timeout_s, process=running.proc
            )
        except ProcessExited as exited:
            running.reported = True
            raise ServicesError(
                f"{service.name} exited with code {exited.returncode} before it answered"
                f"{_last_line(running.log_path)}; see {running.log_path}"
            ) from None
        except HealthTimeout:
            raise ServicesError(
                f"{service.name} did not answer {service.health_url} within "
                f"{service.start_timeout_s:g} s; see {running.log_path}"
            ) from None

    def check(self) -> list[str]:
        """One line for each service that has exited since the last check."""
        lines = []
        for running in self.running:
            code = running.proc.poll()
            if code is None or running.reported:
                continue
            running.reported = True
            lines.append(
                f"{running.service.name} exited with code {code}{_last_line(running.log_path)}; "
                f"it is not restarted (the others keep running and the page reports what is "
                f"missing); see {running.log_path}"
            )
        return lines

    def stop_all(self, grace_s: float = 20.0) -> None:
        """The public side first (balancer, pages), then what they use."""
        for level in sorted({r.service.level for r in self.running}, reverse=True):
            group = [r for r in self.running if r.service.level == level]
            for running in group:
                if running.proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        running.proc.terminate()
            deadline = time.monotonic() + grace_s
            for running in group:
                try:
                    running.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    running.proc.kill()
                    running.proc.wait()
        self.running.clear()


def _last_line(log_path: Path) -> str:
    """The log's last line, as ' (line)', to say why a service ended."""
    try:
        with log_path.open("rb") as log:
            log.seek(max(0, log_path.stat().st_size - 8192))
            tail = log.read().replace(b"\r", b"\n").splitlines()
    except OSError:
        return ""
    lines = [ln.decode(errors="replace").strip() for ln in tail]
    lines = [ln for ln in lines if ln and not ln.startswith("--- ")]
    return f" ({lines[-1][:200]})" if lines else ""


class _Stop(Exception):
    """SIGTERM arrived: stop like Ctrl-C."""


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop


def export_lines(env: dict[str, str]) -> str:
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in sorted(env.items()))


def run(
    config_path: Path,
    *,
    print_env: bool = False,
    dry_run: bool = False,
    say: Callable[[str], None] | None = None,
) -> int:
    """Start everything and keep it running until Ctrl-C or SIGTERM."""
    say = say or (lambda line: print(line, flush=True))
    config = load_config(config_path)
    settings = settings_of(config)
    env = shared_env(config, settings)
    if print_env:
        say(export_lines(env))
        return 0
    services = plan(config, settings)
    if dry_run:
        say(export_lines(env))
        for service in services:
            say(f"# {service.name} (level {service.level}, health {service.health_url})")
            say(shlex.join(service.command))
        return 0
    launcher = Launcher(services, env, Path(env["QA_HOME"]) / "logs", config.host, say)
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    failed = False
    try:
        launcher.start_all()
        say(
            f"open {services[-1].url} ; to index from another shell: "
            f'eval "$(qa services --config {config_path} --print-env)" && qa index FOLDER'
        )
        while True:
            for line in launcher.check():
                failed = True
                say(line)
            time.sleep(0.5)
    except (KeyboardInterrupt, _Stop):
        say("stopping every service")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            launcher.stop_all()
        finally:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, signal.default_int_handler)
    return 1 if failed else 0
