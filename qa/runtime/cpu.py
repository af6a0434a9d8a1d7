"""What this CPU can run, read from the kernel's view of cpuid.

The inference runtime promises the x86-64-v3 baseline (AVX2, FMA, F16C, BMI2); `qa doctor`
and the model supervisor use this module to say, before anything crashes, whether a machine
meets it. AMX is reported but never relied on: some VMs advertise it in cpuid and fault on
the first tile instruction.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from pathlib import Path

# The features each x86-64 micro-architecture level adds (System V psABI).
X86_64_LEVELS: dict[str, tuple[str, ...]] = {
    "v2": ("cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"),
    "v3": ("avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"),
    "v4": ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"),
}

# What the shipped runtime's native code needs (see docs/runtime.md).
RUNTIME_BASELINE = "v3"
RUNTIME_FEATURES = ("avx", "avx2", "fma", "f16c", "bmi2")

REPORTED = ("avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile", "amx_int8")


@dataclass(frozen=True)
class CpuInfo:
    arch: str
    model: str
    flags: frozenset[str] = field(default_factory=frozenset)

    @property
    def level(self) -> str:
        """The highest x86-64 level whose features are all present ('v1' .. 'v4')."""
        if self.arch not in ("x86_64", "AMD64"):
            return "none"
        level = "v1"
        for name, needed in X86_64_LEVELS.items():
            if not all(flag in self.flags for flag in needed):
                break
            level = name
        return level

    def missing_for_runtime(self) -> list[str]:
        if self.arch not in ("x86_64", "AMD64"):
            return [f"an x86-64 CPU (this one is {self.arch})"]
        return [f for f in RUNTIME_FEATURES if f not in self.flags]

    def summary(self) -> str:
        shown = [f for f in REPORTED if f in self.flags]
        return f"{self.model or self.arch}, x86-64-{self.level}, " + " ".join(shown)


def parse_cpuinfo(text: str, arch: str = "x86_64") -> CpuInfo:
    model, flags = "", frozenset[str]()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = frozenset(value.split())
    return CpuInfo(arch=arch, model=model, flags=flags)


def read_cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> CpuInfo:
    arch = platform.machine()
    try:
        return parse_cpuinfo(cpuinfo.read_text(errors="replace"), arch)
    except OSError:  # not Linux: report the architecture alone
        return CpuInfo(arch=arch, model=platform.processor())
