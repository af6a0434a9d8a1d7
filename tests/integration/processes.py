"""Starting and stopping the real servers the integration tests talk to (loopback only)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from qa.runtime.health import HealthTimeout, ProcessExited, wait_until_healthy
from qa.runtime.health import free_port as free_port  # re-exported for the tests


def stop(proc: subprocess.Popen) -> None:
    """Terminate, then kill if it has not exited within 20 s."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=20)


def wait_until_up(url: str, proc: subprocess.Popen, timeout_s: float = 120) -> None:
    """Poll `url` until it answers 200; fail early if the process died, stop it on timeout."""
    try:
        wait_until_healthy(url, timeout_s=timeout_s, process=proc, request_timeout_s=1)
    except ProcessExited as exited:
        raise RuntimeError(
            f"server exited with {exited.returncode} before answering {url}"
        ) from None
    except HealthTimeout:
        stop(proc)
        raise


def start(command: Sequence[str], health_url: str, timeout_s: float = 120) -> subprocess.Popen:
    proc = subprocess.Popen(list(command), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until_up(health_url, proc, timeout_s)
    return proc


def chroma_executable() -> str:
    exe = Path(sys.executable).parent / "chroma"
    return str(exe) if exe.exists() else (shutil.which("chroma") or "chroma")


def start_chroma(path: Path, port: int) -> subprocess.Popen:
    """`chroma run` on loopback, storing in `path`; returns once its heartbeat answers."""
    command = [chroma_executable(), "run", "--path", str(path), "--host", "127.0.0.1",
               "--port", str(port)]  # fmt: skip
    return start(command, f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout_s=60)
