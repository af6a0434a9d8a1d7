"""The layout is the pipeline: stages import only stages below them, there are no import
cycles, the ground floor (index/) never imports the answering package and keeps one folder
per job, and the public import paths of the README still work."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Lowest first. The front (qa/*.py and qa/cli/) may import every stage.
STAGES = ["core", "runtime", "understand", "retrieve", "evidence", "generate", "verify"]
FRONT = len(STAGES)
# index/: one folder per job, in the order an article goes through them; beside them only
# the run that drives them (indexer) and the common ground the jobs share.
INDEX_JOBS = ["reading", "chunking", "embedding", "storing", "syndication"]
INDEX_COMMON = [
    "indexer",
    "errors", "locking", "retry", "settings", "stopwords", "text", "types", "words",
]  # fmt: skip


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(package: str) -> dict[str, Path]:
    return {_module_name(p): p for p in (ROOT / package).rglob("*.py")}


def _imports(path: Path, module: str) -> set[str]:
    """Modules `path` imports at run time: TYPE_CHECKING blocks are left out, imports
    inside functions count (they run too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    found = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _stage(module: str) -> int:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in STAGES:
        return STAGES.index(parts[1])
    return FRONT


ALL = {**_modules("qa"), **_modules("index"), **_modules("ui"), **_modules("evals")}


def _internal_imports(module: str) -> set[str]:
    return {m for m in _imports(ALL[module], module) if m in ALL and m != module}


def test_the_folder_listing_is_the_pipeline() -> None:
    folders = sorted(p.name for p in (ROOT / "qa").iterdir() if (p / "__init__.py").exists())
    assert folders == sorted([*STAGES, "cli"])


@pytest.mark.parametrize("module", sorted(m for m in ALL if m.startswith("qa.")))
def test_no_stage_imports_a_higher_stage(module: str) -> None:
    higher = {
        m for m in _internal_imports(module) if m.startswith("qa.") and _stage(m) > _stage(module)
    }
    assert not higher, f"{module} (stage {_stage(module)}) imports higher stages: {sorted(higher)}"


@pytest.mark.parametrize("module", sorted(m for m in ALL if m.startswith("index")))
def test_the_ground_floor_never_imports_qa(module: str) -> None:
    assert not {m for m in _imports(ALL[module], module) if m == "qa" or m.startswith("qa.")}


def test_index_holds_its_job_folders_and_the_common_ground_only() -> None:
    top = ROOT / "index"
    folders = sorted(p.name for p in top.iterdir() if p.is_dir() and p.name != "__pycache__")
    modules = sorted(p.stem for p in top.glob("*.py") if p.stem != "__init__")
    assert folders == sorted(INDEX_JOBS)
    assert modules == sorted(INDEX_COMMON), "a new module of index/ goes in its job's folder"


@pytest.mark.parametrize("job", INDEX_JOBS)
def test_each_index_job_says_what_it_offers(job: str) -> None:
    package = importlib.import_module(f"index.{job}")
    assert package.__doc__, f"index/{job}/__init__.py says its job in a docstring"
    offered = getattr(package, "__all__", None)
    assert offered, f"index/{job}/__init__.py lists what it offers in __all__"
    assert all(hasattr(package, name) for name in offered)


def test_no_import_cycles() -> None:
    graph = {m: _internal_imports(m) for m in ALL}
    # A package's __init__ imported for its submodule is not an edge of the cycle we mean.
    for module, targets in graph.items():
        graph[module] = {t for t in targets if not module.startswith(t + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The layering check is not vacuous: a generate-stage module importing verify is seen."""
    source = tmp_path / "x.py"
    source.write_text("from qa.verify.citing import verify_reply\n", encoding="utf-8")
    assert "qa.verify.citing" in _imports(source, "qa.generate.x")
    assert _stage("qa.verify.citing") > _stage("qa.generate.x")


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("qa", "Assistant"),
        ("qa", "Conversation"),
        ("qa", "Settings"),
        ("qa", "UserError"),
        ("qa", "Answer"),
        ("qa", "HybridNodeRetriever"),
        ("qa", "SentenceEvidencePostprocessor"),
        ("qa", "packaged_model_llm"),
        ("qa.engines", "VerifiedQueryEngine"),
        ("qa.engines", "VerifiedChatEngine"),
        ("qa.node_retriever", "HybridNodeRetriever"),
        ("qa.evidence_postprocessor", "SentenceEvidencePostprocessor"),
        ("qa.llamaindex_llm", "packaged_model_llm"),
        ("qa.cli", "main"),
    ],
)
def test_public_import_paths_still_work(module: str, name: str) -> None:
    assert getattr(importlib.import_module(module), name) is not None


def test_python_dash_m_runs_the_cli_and_the_runtime_entry_points() -> None:
    import subprocess
    import sys

    for module in ("qa.cli", "qa.runtime.llm_process", "qa.runtime.isa"):
        done = subprocess.run(
            [sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120
        )
        assert "usage: " in done.stdout, (module, done.stderr[-500:])  # its main() ran


# --- each stage a component (issue: "pipeline.py sequences and decides") -----------------------
ANSWERING_STAGES = ["understand", "retrieve", "evidence", "generate", "verify"]
# Classes of retrievers a module could test for to reach past the `Searcher` interface.
CONCRETE_RETRIEVERS = {"HybridNodeRetriever", "HybridRetriever", "RetrieverSearcher"}
PIPELINE_MAX_LINES = 250


def _tested_classes(path: Path) -> set[str]:
    """The class names `path` passes to isinstance/issubclass (alone or in a tuple)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in (
            "isinstance",
            "issubclass",
        ):
            kinds = node.args[1] if len(node.args) > 1 else None
            for kind in kinds.elts if isinstance(kinds, ast.Tuple) else [kinds]:
                name = getattr(kind, "id", None) or getattr(kind, "attr", None)
                if name:
                    found.add(name)
    return found


CODE = {**ALL, **_modules("benchmarks")}


@pytest.mark.parametrize("module", sorted(m for m in CODE if not m.startswith("qa.retrieve")))
def test_only_the_retrieval_stage_tells_retrievers_apart(module: str) -> None:
    assert not _tested_classes(CODE[module]) & CONCRETE_RETRIEVERS, (
        f"{module} tests for a concrete retriever: use the Searcher interface"
    )


def test_the_retriever_check_sees_a_downcast(tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text("ok = isinstance(r, (int, node_retriever.HybridNodeRetriever))\n")
    assert "HybridNodeRetriever" in _tested_classes(source)


def test_the_pipeline_sequences_and_decides_in_few_lines() -> None:
    lines = (ROOT / "qa" / "pipeline.py").read_text(encoding="utf-8").count("\n")
    assert lines < PIPELINE_MAX_LINES, f"qa/pipeline.py has {lines} lines"


@pytest.mark.parametrize("stage", ANSWERING_STAGES)
def test_every_stage_says_what_it_offers(stage: str) -> None:
    package = importlib.import_module(f"qa.{stage}")
    offered = getattr(package, "__all__", None)
    assert offered, f"qa/{stage}/__init__.py declares no __all__"
    for name in offered:
        assert getattr(package, name) is not None
    # Its component: a class with `run`, or (retrieval) the interface it searches through.
    assert any(isinstance(getattr(package, n), type) and hasattr(getattr(package, n), "run")
               for n in offered), f"qa.{stage} offers no component with run()"  # fmt: skip


def _called(path: Path) -> set[str]:
    """Names of the functions and methods `path` calls."""
    calls = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            calls.add(getattr(node.func, "id", None) or getattr(node.func, "attr", ""))
    return calls


@pytest.mark.parametrize("module", sorted(m for m in CODE if m != "index.indexer"))
def test_every_caller_indexes_through_the_transaction(module: str) -> None:
    """Indexing without the collection lock and BM25's begin/finish is left to index/."""
    assert "index_paths" not in _called(CODE[module]), (
        f"{module} calls index_paths: use index.indexer.index_collection"
    )


@pytest.mark.parametrize("module", sorted(m for m in CODE if m != "qa.core.yes_no"))
def test_every_judgement_asks_through_the_prober(module: str) -> None:
    """One Yes/No and choice prober (qa/core/yes_no.py): no module reads a first token's
    alternatives or a grammar-held one-token reply of its own."""
    tree = ast.parse(CODE[module].read_text(encoding="utf-8"))
    functions = {n.func.id for n in ast.walk(tree)
                 if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}  # fmt: skip
    assert not functions & {"p_yes", "choice_probabilities", "_one_token"}, module


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("index.types", "Chunk"),
        ("index.storing.store", "FileRecord"),
        ("qa.core.types", "Citation"),
    ],  # fmt: skip
)
def test_an_article_s_fields_are_held_once(module: str, name: str) -> None:
    """A chunk, a file record and a citation hold one `ArticleInfo`; its fields are copied
    out only where data leaves for Chroma or JSON."""
    import dataclasses

    from index.types import ArticleInfo

    holder = getattr(importlib.import_module(module), name)
    own = {f.name: f.type for f in dataclasses.fields(holder)}
    assert own.get("article") in (ArticleInfo, "ArticleInfo")
    assert not set(own) & {f.name for f in dataclasses.fields(ArticleInfo)}
