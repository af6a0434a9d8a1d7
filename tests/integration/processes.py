"""Starting and stopping the real servers the integration tests talk to (loopback only)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(proc: subprocess.Popen) -> None:
    """Terminate, then kill if it has not exited within 20 s."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=20)


def wait_until_up(url: str, proc: subprocess.Popen, timeout_s: float = 120) -> None:
    """Poll `url` until it answers 200; fail early if the process died."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    stop(proc)
    raise RuntimeError(f"{url} did not answer within {timeout_s:g} s")


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
