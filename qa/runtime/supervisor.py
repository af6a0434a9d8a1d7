"""Start, watch and restart the model process (qa/runtime/llm_process.py).

The app never runs model code in its own process: a crash there (illegal instruction, the
out-of-memory killer, a damaged model file) would take the chat page down with it. Here a
crash becomes one readable line with its cause, and the next request starts a new process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

from qa.runtime.health import HealthTimeout, ProcessExited, free_port, wait_until_healthy
from qa.runtime.llm_process import EXIT_LOAD_FAILED, EXIT_PORT_BUSY

DOCTOR_HINT = "run `qa doctor`"

_SIGNAL_CAUSES = {
    signal.SIGILL: "illegal CPU instruction: the runtime does not match this CPU",
    signal.SIGKILL: "killed (SIGKILL), most often by the out-of-memory killer",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGBUS: "bus error (the model file changed or the disk failed while reading it)",
    signal.SIGABRT: "aborted by the runtime",
    signal.SIGFPE: "arithmetic fault",
    signal.SIGTERM: "terminated (SIGTERM)",
}


def cause_of_exit(returncode: int, log_tail: str = "") -> str:
    """A short human cause for a model process's exit status."""
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            return f"killed by signal {-returncode}"
        return _SIGNAL_CAUSES.get(sig, f"killed by {sig.name}")
    if returncode == EXIT_LOAD_FAILED:
        detail = log_tail.strip().splitlines()[-1][:200] if log_tail.strip() else ""
        return "could not load the model file (damaged, truncated or not a GGUF file)" + (
            f": {detail}" if detail else ""
        )
    return f"exited with code {returncode}"


class ModelProcessError(RuntimeError):
    """The model process died or would not start; `str()` is the line for the user."""


class _PortBusy(Exception):
    """The port the model process was given is taken."""


class ModelProcess:
    """One llama.cpp server child on a loopback port, restarted on demand."""

    def __init__(
        self,
        model_path: Path,
        *,
        n_ctx: int = 2048,
        parallel: int = 1,
        threads: int | None = None,
        log_path: Path | None = None,
        start_timeout_s: float = 300.0,
    ) -> None:
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.parallel = parallel
        self.threads = threads or os.cpu_count() or 2
        self.log_path = log_path
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.restarts = 0
        self.last_cause: str | None = None
        self._log_tail: deque[str] = deque(maxlen=40)
        self._lock = threading.Lock()

    # --- state ------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_cause(self, wait_s: float = 0.0) -> str | None:
        """The cause if the process has exited (waiting up to `wait_s` for it), else None."""
        if self.proc is None:
            return None
        try:
            code = self.proc.wait(timeout=wait_s) if wait_s else self.proc.poll()
        except subprocess.TimeoutExpired:
            return None
        if code is None:
            return None
        return cause_of_exit(code, "\n".join(self._log_tail))

    # --- life cycle -------------------------------------------------------------------------
    def ensure_running(self) -> str:
        """Start the process if it is not running; return its base URL once it serves."""
        with self._lock:
            if self.alive():
                return self.base_url
            if self.proc is not None:
                self.last_cause = self.exit_cause()
                self.restarts += 1
            self._start()
            return self.base_url

    def restart_in_background(self) -> None:
        threading.Thread(target=self._quiet_start, daemon=True, name="model-restart").start()

    def _quiet_start(self) -> None:
        with contextlib.suppress(ModelProcessError):  # the next request reports it
            self.ensure_running()

    def _start(self) -> None:
        # One port for the life of this object, so clients holding the URL (a llama-index
        # LLM, say) keep working across restarts; a fresh one only if another program took it.
        self.port = self.port or free_port()
        try:
            self._spawn()
        except _PortBusy:
            self.port = free_port()
            self._spawn()

    def _spawn(self) -> None:
        command = [
            sys.executable, "-m", "qa.runtime.llm_process", "--model", str(self.model_path),
            "--port", str(self.port), "--n-ctx", str(self.n_ctx),
            "--parallel", str(self.parallel), "--threads", str(self.threads), "--stdin-lifeline",
        ]  # fmt: skip
        self._log_tail.clear()
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,  # closes when we exit: the child then ends too
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # a Ctrl-C in the terminal is ours to handle, not its
        )
        threading.Thread(target=self._pump_log, args=(self.proc,), daemon=True).start()
        self._wait_until_serving(self.proc)

    def _pump_log(self, proc: subprocess.Popen[bytes]) -> None:
        log = self.log_path.open("ab") if self.log_path else None
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                self._log_tail.append(line.decode(errors="replace").rstrip())
                if log:
                    log.write(line)
                    log.flush()
        finally:
            if log:
                log.close()

    def _wait_until_serving(self, proc: subprocess.Popen[bytes]) -> None:
        url = f"http://127.0.0.1:{self.port}/health"
        try:
            wait_until_healthy(url, timeout_s=self.start_timeout_s, process=proc, interval_s=0.1)
        except ProcessExited as exited:
            if exited.returncode == EXIT_PORT_BUSY:
                raise _PortBusy(self.port) from None
            time.sleep(0.1)  # let the log pump catch the last lines
            cause = cause_of_exit(exited.returncode, "\n".join(self._log_tail))
            self.last_cause = cause
            raise ModelProcessError(
                f"the language model process could not start ({cause}); {DOCTOR_HINT}"
            ) from None
        except HealthTimeout:
            self.kill(signal.SIGKILL)
            raise ModelProcessError(
                f"the language model process did not start within {self.start_timeout_s:g} s; "
                f"{DOCTOR_HINT}"
            ) from None

    def kill(self, sig: int = signal.SIGTERM) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)

    def close(self) -> None:
        self.kill(signal.SIGTERM)
