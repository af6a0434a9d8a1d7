"""CPU features, the instruction scan and the model process's causes of death (no model)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from qa.runtime.cpu import CpuInfo, parse_cpuinfo
from qa.runtime.isa import classify, parse_objdump, scan
from qa.runtime.llm_process import EXIT_LOAD_FAILED
from qa.runtime.supervisor import ModelProcess, ModelProcessError, cause_of_exit

HASWELL = "fpu sse sse2 ssse3 cx16 sse4_1 sse4_2 popcnt lahf_lm movbe xsave avx f16c fma abm " \
          "bmi1 bmi2 avx2"  # fmt: skip
SAPPHIRE_RAPIDS = HASWELL + " avx512f avx512bw avx512cd avx512dq avx512vl avx512_vnni " \
                            "amx_tile amx_int8 amx_bf16"  # fmt: skip


def _cpuinfo(flags: str) -> str:
    return f"processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\n"


@pytest.mark.parametrize(
    ("flags", "level", "missing"),
    [
        (HASWELL, "v3", []),
        (SAPPHIRE_RAPIDS, "v4", []),
        ("fpu sse sse2 ssse3 cx16 sse4_1 sse4_2 popcnt lahf_lm avx", "v2", ["avx2", "fma",
                                                                           "f16c", "bmi2"]),
    ],
)  # fmt: skip
def test_cpu_level_and_what_the_runtime_misses(flags: str, level: str, missing: list) -> None:
    cpu = parse_cpuinfo(_cpuinfo(flags))
    assert cpu.model == "Test CPU"
    assert cpu.level == level
    assert cpu.missing_for_runtime() == missing


def test_a_non_x86_cpu_is_named_as_such() -> None:
    cpu = CpuInfo(arch="aarch64", model="", flags=frozenset({"neon"}))
    assert cpu.level == "none"
    assert cpu.missing_for_runtime() == ["an x86-64 CPU (this one is aarch64)"]


OBJDUMP_LINES = [
    "0000000000001000 <f>:",
    "    1000:\t62 f1 6d 48 fe d9    \tvpaddd %zmm1,%zmm2,%zmm3",
    "    1006:\tc4 e2 7b 49 c0       \ttilezero %tmm0",
    "    100b:\tc4 e2 6d 50 d9       \t{vex} vpdpbusd %ymm1,%ymm2,%ymm3",
    "    1010:\tc5 ec 58 d9          \tvaddps %ymm1,%ymm2,%ymm3",
    "    1014:\tc4 e2 e9 b8 d9       \tvfmadd231pd %xmm1,%xmm2,%xmm3",
    "    1019:\t62 b1 6d 08 fe d9    \tvpaddd %xmm17,%xmm2,%xmm3",
    "    101f:\tc5 f8 93 c1          \tkmovw  %k1,%eax",
    "    1023:\tf3 48 0f b8 c1       \tpopcnt %rcx,%rax",
]


def test_classify_names_each_family_beyond_v3_and_passes_v3() -> None:
    families = [classify(*parsed) for parsed in parse_objdump(OBJDUMP_LINES)]
    assert families == ["avx512", "amx", "avx-vnni", None, None, "avx512", "avx512", None]


@pytest.mark.skipif(not (shutil.which("as") and shutil.which("objdump")), reason="binutils")
def test_scan_fails_an_object_built_for_avx512_and_passes_one_built_for_v3(tmp_path) -> None:
    def assemble(name: str, code: str) -> Path:
        source, obj = tmp_path / f"{name}.s", tmp_path / f"{name}.o"
        source.write_text(code)
        subprocess.run(["as", str(source), "-o", str(obj)], check=True)
        return obj

    v3 = scan(assemble("v3", "vfmadd231ps %ymm1,%ymm2,%ymm3\nvpbroadcastd %xmm0,%ymm1\n"))
    v4 = scan(assemble("v4", "vfmadd231ps %zmm1,%zmm2,%zmm3\ntileloadd (%rax,%rbx,1),%tmm1\n"))
    assert v3.clean and v3.instructions == 2
    assert not v4.clean and set(v4.beyond) == {"avx512", "amx"}
    assert "beyond x86-64-v3" in v4.describe()


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (-signal.SIGILL, "illegal CPU instruction"),
        (-signal.SIGKILL, "out-of-memory killer"),
        (-signal.SIGSEGV, "segmentation fault"),
        (EXIT_LOAD_FAILED, "could not load the model file"),
        (7, "exited with code 7"),
    ],
)
def test_causes_of_exit_are_plain_words(code: int, words: str) -> None:
    assert words in cause_of_exit(code, "failed to load model x: bad magic")


def test_a_model_process_that_cannot_load_reports_why(tmp_path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    process = ModelProcess(bad, start_timeout_s=120)
    with pytest.raises(ModelProcessError) as caught:
        process.ensure_running()
    message = str(caught.value)
    assert "could not load the model file" in message and "qa doctor" in message
    assert "Traceback" not in message
    assert not process.alive()


def test_model_process_rejects_a_missing_file_with_its_exit_code(tmp_path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "qa.runtime.llm_process",
            "--model",
            str(tmp_path / "none.gguf"),
            "--port",
            "9",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == EXIT_LOAD_FAILED
    assert "model file not found" in proc.stderr


def test_a_taken_port_is_given_up_for_a_free_one(tmp_path) -> None:
    import socket

    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        process = ModelProcess(bad, start_timeout_s=120)
        process.port = taken.getsockname()[1]
        with pytest.raises(ModelProcessError, match="could not load the model file"):
            process.ensure_running()  # the second try got past the port, to the model
        assert process.port != taken.getsockname()[1]
