"""Find machine instructions beyond x86-64-v3 in native libraries.

The runtime promises to run on any x86-64-v3 CPU (AVX2, FMA, F16C, BMI2). A library built
with `-march=native` on a newer machine silently contains AVX-512 or AMX code and dies with
SIGILL elsewhere; this scan disassembles the shipped libraries (binutils' objdump) and
names every instruction family outside the baseline, so CI fails before a user crashes.

    python -m qa.runtime.isa                 # the runtime's own libraries
    python -m qa.runtime.isa lib.so ...      # any files
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Legacy prefixes that may come before an EVEX (0x62) or VEX (0xc4/0xc5) prefix.
_LEGACY_PREFIXES = {"26", "2e", "36", "3e", "64", "65", "66", "67", "f0", "f2", "f3"}
_AMX = re.compile(r"^(ldtilecfg|sttilecfg|tileloadd\w*|tilestored|tilezero|tilerelease|tdp\w+)$")
_VEX_VNNI_IFMA = re.compile(r"^(vpdp(bu|ws|bs|bu|wu|ws)\w*|vpmadd52[lh]uq|vbcstne\w+|vcvtne\w+)$")
_OTHER = {
    "gfni": re.compile(r"^(v?gf2p8\w+)$"),
    "sha": re.compile(r"^sha(1|256)\w+$"),
    "adx": re.compile(r"^ad[co]x$"),
}
_WIDE_VAES = re.compile(r"^(vaes\w+|vpclmulqdq)$")
_AVX512_OPERANDS = re.compile(r"%zmm|%k[0-7]\b|\{1to|%[xy]mm(1[6-9]|2\d|3[01])\b")


@dataclass
class ScanResult:
    path: str
    instructions: int = 0
    beyond: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.beyond

    def describe(self) -> str:
        if self.clean:
            return f"{self.path}: {self.instructions} instructions, all within x86-64-v3"
        found = ", ".join(
            f"{family} x{count} (e.g. {self.examples[family]})"
            for family, count in self.beyond.most_common()
        )
        return f"{self.path}: instructions beyond x86-64-v3: {found}"


def classify(raw_bytes: list[str], mnemonic: str, operands: str) -> str | None:
    """The extension family beyond x86-64-v3 that one decoded instruction needs, or None."""
    opcode = next((b for b in raw_bytes if b not in _LEGACY_PREFIXES), "")
    # 0x62 cannot start an instruction in 64-bit mode except as the EVEX prefix (AVX-512).
    if opcode == "62" or _AVX512_OPERANDS.search(operands):
        return "avx512"
    if mnemonic.startswith("k") and mnemonic[1:4] in {"mov", "and", "or", "xor", "not", "shi",
                                                      "tes", "add", "unp", "ort"}:  # fmt: skip
        return "avx512"
    if _AMX.match(mnemonic):
        return "amx"
    if _VEX_VNNI_IFMA.match(mnemonic):
        return "avx-vnni"
    if _WIDE_VAES.match(mnemonic) and "%ymm" in operands:
        return "vaes"
    for family, pattern in _OTHER.items():
        if pattern.match(mnemonic):
            return family
    return None


def parse_objdump(lines: Iterable[str]) -> Iterator[tuple[list[str], str, str]]:
    """(raw bytes, mnemonic, operands) for each instruction line of `objdump -d` output."""
    for line in lines:
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 3 or not parts[0].strip().endswith(":"):
            continue  # labels and headers
        text = parts[2].strip()
        if text.startswith("{"):  # "{vex} vpdpbusd ..." pseudo-prefix
            text = text.split("}", 1)[1].strip()
        mnemonic, _, operands = text.partition(" ")
        while mnemonic in ("rex", "rex.W", "lock", "rep", "repz", "repnz", "data16", "notrack",
                           "bnd", "cs", "ds", "addr32") and operands:  # fmt: skip
            mnemonic, _, operands = operands.strip().partition(" ")
        yield parts[1].split(), mnemonic, operands


def scan(path: Path, objdump: str | None = None) -> ScanResult:
    tool = objdump or shutil.which("objdump")
    if not tool:
        raise FileNotFoundError("objdump not found; install binutils")
    result = ScanResult(str(path))
    command = [tool, "-d", "-w", str(path)]  # -w: one line per instruction
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, errors="replace") as proc:
        assert proc.stdout is not None
        for raw, mnemonic, operands in parse_objdump(proc.stdout):
            result.instructions += 1
            family = classify(raw, mnemonic, operands)
            if family:
                result.beyond[family] += 1
                result.examples.setdefault(family, f"{mnemonic} {operands}".strip())
    if proc.returncode:
        raise RuntimeError(f"objdump failed on {path} (exit {proc.returncode})")
    return result


def runtime_libraries() -> list[Path]:
    """The native libraries of the inference runtime, as installed."""
    import importlib.util

    spec = importlib.util.find_spec("xllamacpp")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the inference runtime (xllamacpp) is not installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    libs = sorted(p for p in folder.parent.glob("xllamacpp*/**/*.so*") if p.is_file())
    return libs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qa.runtime.isa", description=__doc__.split("\n")[0]
    )
    parser.add_argument("files", nargs="*", type=Path, help="default: the runtime's libraries")
    args = parser.parse_args(argv)
    files = args.files or runtime_libraries()
    dirty = 0
    for path in files:
        result = scan(path)
        print(result.describe())
        dirty += not result.clean
    return 1 if dirty else 0


if __name__ == "__main__":
    sys.exit(main())
