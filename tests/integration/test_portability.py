"""Proof that the shipped runtime runs on any x86-64-v3 CPU, not just on this one.

1. The runtime's native libraries hold no instruction beyond x86-64-v3 (python -m qa.runtime.isa).
2. The emulator traps what an AVX2-only CPU cannot run (so step 3 proves something).
3. A real answer on an emulated AVX2-only CPU: Debian's qemu-user with `-cpu Haswell` loads
   the packaged model and generates a few tokens; any AVX-512 or AMX instruction on that
   path would kill it with SIGILL.

qemu-user and binutils come from Debian (`apt-get install -y qemu-user binutils`); CI
installs them (.ci/run), and these tests fail rather than skip without them."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa.runtime.isa import runtime_libraries, scan
from qa.runtime.model_files import resolve_model_path

pytestmark = pytest.mark.integration

EMULATED_CPU = "Haswell"  # AVX2, FMA, F16C, BMI2; no AVX-512, no AMX
SMOKE_TOKENS = 3
REPO = Path(__file__).resolve().parents[2]


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: apt-get install -y qemu-user binutils (see .ci/run)"
    return path


def test_runtime_libraries_hold_no_instruction_beyond_x86_64_v3() -> None:
    libraries = runtime_libraries()
    assert libraries, "found no native library of the runtime to check"
    for library in libraries:
        result = scan(library, _tool("objdump"))
        assert result.instructions > 100_000, f"{library}: too few instructions to be llama.cpp"
        assert result.clean, result.describe()


def _static_program(tmp_path: Path, name: str, instruction: str) -> Path:
    """A tiny static x86-64 program: one instruction, then exit(0)."""
    source = tmp_path / f"{name}.s"
    source.write_text(
        f".globl _start\n_start:\n  {instruction}\n  mov $60, %eax\n  xor %edi, %edi\n  syscall\n"
    )
    obj, exe = tmp_path / f"{name}.o", tmp_path / name
    subprocess.run([_tool("as"), str(source), "-o", str(obj)], check=True)
    subprocess.run([_tool("ld"), str(obj), "-o", str(exe)], check=True)
    return exe


@pytest.mark.parametrize(
    ("instruction", "runs"),
    [
        ("vfmadd231ps %ymm1, %ymm2, %ymm3", True),  # AVX2/FMA: the baseline
        ("vpaddd %zmm1, %zmm2, %zmm3", False),  # AVX-512
        ("tilezero %tmm0", False),  # AMX, the instruction that crashed the Xeon VM
    ],
)
def test_the_emulated_cpu_traps_what_an_avx2_only_cpu_cannot_run(
    tmp_path: Path, instruction: str, runs: bool
) -> None:
    exe = _static_program(tmp_path, "probe", instruction)
    done = subprocess.run([_tool("qemu-x86_64"), "-cpu", EMULATED_CPU, str(exe)],
                          capture_output=True, timeout=60)  # fmt: skip
    if runs:
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode in (-signal.SIGILL, 128 + signal.SIGILL), done.returncode


def test_a_real_answer_on_an_emulated_avx2_only_cpu(qa_home: Path) -> None:
    model = resolve_model_path("qwen2.5-coder-0.5b", qa_home)
    interpreter = sys.executable  # the venv's own path, so the emulated Python finds the venv
    started = time.monotonic()
    done = subprocess.run(
        [
            _tool("qemu-x86_64"),
            "-cpu",
            EMULATED_CPU,
            interpreter,
            "-m",
            "qa.runtime.llm_process",
            "--model",
            str(model),
            "--smoke",
            str(SMOKE_TOKENS),
            "--threads",
            "2",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=3000,
        cwd=REPO,
    )
    minutes = (time.monotonic() - started) / 60
    assert done.returncode == 0, (
        f"exit {done.returncode} after {minutes:.1f} min under -cpu {EMULATED_CPU}; "
        f"{done.stdout[-1500:]}{done.stderr[-1500:]}"
    )
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("smoke:"))
    assert line.startswith(f"smoke: {SMOKE_TOKENS} tokens:"), line
    print(f"emulated {EMULATED_CPU}: {line} in {minutes:.1f} min")
