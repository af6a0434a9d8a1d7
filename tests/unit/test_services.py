"""`qa services` (qa/runtime/services.py): the config file, the plan it makes, the environment every
process shares, the compose file that mirrors it, and the launcher itself with tiny stand-in
services (real processes: python's http.server)."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from test_cli import one_error_line

from qa.cli import main
from qa.core.settings import PROJECT_ROOT
from qa.runtime.health import free_port
from qa.runtime.services import (
    Launcher,
    Service,
    ServicesConfig,
    ServicesError,
    load_config,
    plan,
    settings_of,
    shared_env,
)

DOCS = PROJECT_ROOT / "docs"


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "services.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _plan(config: ServicesConfig) -> dict[str, Service]:
    return {s.name: s for s in plan(config, settings_of(config))}


def test_the_documented_config_is_valid_and_starts_in_dependency_order() -> None:
    config = load_config(DOCS / "services.toml")
    services = plan(config, settings_of(config))
    levels = {s.name: s.level for s in services}
    assert levels == {"chroma": 0, "llm": 0, "embed": 0, "ui-1": 1, "ui-2": 1, "balancer": 2}
    assert services[-1].url == "http://127.0.0.1:7860/"


def test_the_plan_wires_every_service_to_the_others(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("QA_HOME", str(tmp_path / "home"))
    config = load_config(
        _config(
            tmp_path,
            '[llm]\nport = 9080\nmodel = "qwen2.5-coder-0.5b"\nparallel = 3\nthreads = 2\n'
            "[ui]\nports = [9001, 9002, 9003]\n[balancer]\nport = 9000\n",
        )
    )
    services = _plan(config)
    llm = services["llm"].command
    assert llm[1:3] == ["-m", "qa.runtime.llm_process"]
    assert llm[llm.index("--model") + 1] == "qwen2.5-coder-0.5b"
    assert llm[llm.index("--parallel") + 1] == "3" and llm[llm.index("--threads") + 1] == "2"
    assert services["llm"].health_url == "http://127.0.0.1:9080/health"
    chroma = services["chroma"].command
    assert chroma[chroma.index("--path") + 1] == str(tmp_path / "home" / "chroma-server")
    balancer = services["balancer"].command
    backends = [balancer[i + 1] for i, arg in enumerate(balancer) if arg == "--backend"]
    assert backends == [f"http://127.0.0.1:{p}" for p in (9001, 9002, 9003)]
    assert [services[f"ui-{n}"].level for n in (1, 2, 3)] == [1, 1, 1]


def test_every_qa_process_gets_the_same_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(
        _config(tmp_path, '[env]\nQA_HOME = "data"\nQA_TOP_K = 8\nQA_HYBRID = false\n')
    )
    env = shared_env(config, settings_of(config))
    assert env["QA_HOME"] == str(tmp_path / "data")  # absolute: any shell can use it
    assert env["QA_TOP_K"] == "8" and env["QA_HYBRID"] == "false"
    assert env["QA_CHROMA_URL"] == "http://127.0.0.1:8000"
    assert env["QA_LLM_BACKEND"] == "openai"
    assert env["QA_OPENAI_BASE_URL"] == "http://127.0.0.1:8080/v1"
    assert env["QA_EMBED_BACKEND"] == "openai"
    assert env["QA_EMBED_BASE_URL"] == "http://127.0.0.1:8081/v1"
    assert env["QA_LLM_CONCURRENCY"] == "2"  # one answer per slot of the LLM server


def test_listening_on_every_address_still_gives_clients_a_reachable_one(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, 'host = "0.0.0.0"\n'))
    env = shared_env(config, settings_of(config))
    assert env["QA_CHROMA_URL"] == "http://127.0.0.1:8000"
    ui = _plan(config)["ui-1"].command
    assert ui[ui.index("--host") + 1] == "0.0.0.0"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[llm\n", "is not valid TOML"),
        ("[llm]\nparallel = 0\n", r"\[llm.parallel\] Input should be greater than or equal to 1"),
        ("[ui]\nports = []\n", r"\[ui.ports\]"),
        ("[chroma]\nprot = 1\n", r"\[chroma.prot\] Extra inputs are not permitted"),
        ('[env]\nQA_NOPE = "1"\n', "not a QA_\\* setting of qa/core/settings.py: QA_NOPE"),
        ('[env]\nQA_TOP_K = "many"\n', "bad setting in \\[env\\] or the environment: QA_TOP_K"),
        ("[ui]\nports = [8000]\n", "ui-1 and chroma are both given port 8000"),
    ],
)
def test_a_bad_config_is_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ServicesError, match=message):
        config = load_config(_config(tmp_path, text))
        plan(config, settings_of(config))


def test_cli_prints_the_environment_and_the_commands(tmp_path: Path, capsys) -> None:
    path = _config(tmp_path, f'[env]\nQA_HOME = "{tmp_path / "h"}"\n')
    assert main(["services", "--config", str(path), "--print-env"]) == 0
    exports = dict(
        shlex.split(line)[1].split("=", 1) for line in capsys.readouterr().out.splitlines()
    )
    assert exports["QA_HOME"] == str(tmp_path / "h")
    assert exports["QA_CHROMA_URL"] == "http://127.0.0.1:8000"
    assert main(["services", "--config", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "qa.cli balance --host 127.0.0.1 --port 7860" in out
    assert "# ui-2 (level 1, health http://127.0.0.1:7862/)" in out


def test_cli_reports_a_missing_config_in_one_line(tmp_path: Path, capsys) -> None:
    assert main(["services", "--config", str(tmp_path / "none.toml")]) == 2
    assert "cannot read" in one_error_line(capsys.readouterr().err)


def _as_written(command: list[str]) -> list[str]:
    """A command as docs write it: `qa ...`, `python -m ...`, `chroma ...`, with the values
    that differ in containers (addresses, the store's path, backend host names) left out."""
    if command[1:3] == ["-m", "qa.cli"]:
        command = ["qa", *command[3:]]
    elif command[1:2] == ["-m"]:
        command = ["python", *command[1:]]
    else:
        command = [Path(command[0]).name, *command[1:]]
    out: list[str] = []
    for before, arg in zip(["", *command], command, strict=False):
        if before in ("--host", "--path"):
            out.append("*")
        elif before == "--backend":
            out.append(arg.rsplit(":", 1)[1])
        else:
            out.append(arg)
    return out


def test_the_compose_file_mirrors_the_launcher() -> None:
    """Same processes, same commands and ports, same QA_* variables."""
    config = load_config(DOCS / "services.toml")
    launcher = _plan(config)
    compose = yaml.safe_load((DOCS / "compose.yaml").read_text(encoding="utf-8"))["services"]
    assert set(compose) == set(launcher)
    for name, service in launcher.items():
        written = _as_written(shlex.split(compose[name]["command"]))
        assert written == _as_written(service.command), name
    env = shared_env(config, settings_of(config))
    for name in compose:
        assert set(compose[name]["environment"]) == set(env), name
        assert compose[name]["environment"]["QA_LLM_MODEL"] == env["QA_LLM_MODEL"]


# --- the launcher with stand-in services -------------------------------------------------------
def _web(name: str, level: int, port: int, timeout_s: float = 20) -> Service:
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    url = f"http://127.0.0.1:{port}/"
    return Service(name, port, command, url, url, timeout_s, level)


def test_the_launcher_starts_by_level_reports_an_exit_and_stops_everything(tmp_path: Path) -> None:
    services = [_web("store", 0, free_port()), _web("page", 1, free_port())]
    said: list[str] = []
    launcher = Launcher(services, {"QA_X": "1"}, tmp_path / "logs", "127.0.0.1", said.append)
    try:
        launcher.start_all()
        assert [line.split()[0] for line in said] == ["store", "page"]
        assert all(httpx.get(s.health_url).status_code == 200 for s in services)
        assert (tmp_path / "logs" / "store.log").read_text().startswith("--- ")
        assert launcher.check() == []
        store = launcher.running[0].proc
        store.kill()
        store.wait()
        lines = launcher.check()
        assert len(lines) == 1 and lines[0].startswith("store exited with code -9")
        assert "not restarted" in lines[0]
        assert launcher.check() == []  # said once
    finally:
        procs = [r.proc for r in launcher.running]
        launcher.stop_all()
    assert all(p.poll() is not None for p in procs)


def test_a_service_that_dies_on_start_is_named_with_its_last_log_line(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-c", "import sys; print('no model here'); sys.exit(3)"]
    broken = Service("llm", port, command, f"http://127.0.0.1:{port}/", "", 20, 0)
    launcher = Launcher([broken], {}, tmp_path / "logs", "127.0.0.1", lambda _: None)
    with pytest.raises(
        ServicesError, match=r"llm exited with code 3 before it answered \(no model"
    ):
        launcher.start_all()
    launcher.stop_all()


def test_a_port_already_taken_is_refused_before_anything_starts(tmp_path: Path) -> None:
    port = free_port()
    holder = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/")
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        launcher = Launcher([_web("chroma", 0, port)], {}, tmp_path, "127.0.0.1", lambda _: None)
        with pytest.raises(
            ServicesError, match=f"ports already in use for chroma \\(port {port}\\)"
        ):
            launcher.start_all()
        assert launcher.running == []
    finally:
        holder.terminate()
        holder.wait()


# --- the LLM server started on its own names its model as the app does ------------------------
def test_the_llm_server_takes_a_packaged_model_name(tmp_path: Path, monkeypatch) -> None:
    import qa.runtime.model_files
    from qa.runtime import llm_process

    monkeypatch.setenv("QA_HOME", str(tmp_path))
    asked: list[tuple[str, Path]] = []

    def resolve(name: str, home: Path) -> Path:
        asked.append((name, home))
        return home / "models" / f"{name}.gguf"

    monkeypatch.setattr(qa.runtime.model_files, "resolve_model_path", resolve)
    assert llm_process.model_file("qwen2.5-coder-0.5b") == str(
        tmp_path / "models" / "qwen2.5-coder-0.5b.gguf"
    )
    assert asked == [("qwen2.5-coder-0.5b", tmp_path)]
    gguf = tmp_path / "own.gguf"
    gguf.write_bytes(b"GGUF")
    assert llm_process.model_file(str(gguf)) == str(gguf)  # a file is used as it is
    assert llm_process.model_file("nonexistent.gguf") == "nonexistent.gguf"  # reported later


def test_the_llm_server_reports_a_model_it_cannot_assemble(monkeypatch, capsys) -> None:
    import qa.runtime.model_files
    from qa.runtime import llm_process

    def missing(name: str, home: Path) -> Path:
        raise qa.runtime.model_files.ModelFileError("model part package 'x' is not installed")

    monkeypatch.setattr(qa.runtime.model_files, "resolve_model_path", missing)
    monkeypatch.setattr(llm_process.signal, "signal", lambda *_: None)  # keep pytest's handlers
    assert llm_process.main(["--model", "qwen2.5-coder-1.5b"]) == llm_process.EXIT_LOAD_FAILED
    assert "is not installed" in capsys.readouterr().err
