"""`python -m evals.rule_inventory`: the hand-made English rules left in the answering path.

The calibrated decision is meant to replace word lists and patterns, so their number is
tracked, counted the same way every time (docs/evaluation-history.md, the rule groups):

- a **regex site** is a call of the `re` module (compile, search, match, sub, split, ...);
- a **word list** is a literal collection of three or more words, a string of three or more
  words split into a set, or a regex alternation of three or more words;
- its **words** are the distinct words of all the lists.

The answering path is qa/ without the runtime, the command line and the settings and
interface declarations (they hold no English rules about questions or answers).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXCLUDED = ("qa/runtime/", "qa/cli/", "qa/core/settings.py", "qa/core/interfaces.py")
REGEX_CALLS = {"compile", "search", "match", "fullmatch", "sub", "subn", "findall",
               "finditer", "split"}  # fmt: skip
WORD = re.compile(r"[A-Za-z][A-Za-z'’.-]*")
# An alternation of plain words inside a regex: (?:a|b|c) or \b(a|b|c)\b.
ALTERNATION = re.compile(r"\((?:\?:)?((?:[A-Za-z][A-Za-z'’ -]*\|){2,}[A-Za-z][A-Za-z'’ -]*)\)")
MIN_WORDS = 3


@dataclass
class FileRules:
    path: str
    regex_sites: int = 0
    lists: list[list[str]] = field(default_factory=list)


def _words(values: Sequence[str]) -> list[str] | None:
    """The values as words, or None when they are not all words (markers, numbers)."""
    words = [v.strip().lower() for v in values]
    if len(words) >= MIN_WORDS and all(WORD.fullmatch(w.replace(" ", "")) for w in words):
        return words
    return None


def _string_items(node: ast.AST) -> list[str] | None:
    if isinstance(node, ast.Set | ast.List | ast.Tuple):
        items = [e.value for e in node.elts if isinstance(e, ast.Constant)]
        if len(items) == len(node.elts) and all(isinstance(i, str) for i in items):
            return [str(i) for i in items]
    return None


def _constant_text(node: ast.AST) -> str | None:
    """A string constant, or the constant parts of an f-string (regexes are often built so)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = [v.value for v in node.values if isinstance(v, ast.Constant)]
        return "".join(str(p) for p in parts)
    return None


def _not_english(tree: ast.AST) -> tuple[set[int], set[str]]:
    """Collections that name code, not words: `__all__`, `Literal[...]`; and the names of
    the fields the file declares or reads (a tuple of them picks attributes or keys)."""
    skipped: set[int] = set()
    fields: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            skipped.add(id(node.value))
        elif isinstance(node, ast.Subscript) and getattr(node.value, "id", "") == "Literal":
            skipped.add(id(node.slice))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            fields.add(node.target.id)
        elif isinstance(node, ast.Attribute):
            fields.add(node.attr)
    return skipped, fields


def _lists_in(tree: ast.AST) -> Iterator[list[str]]:
    skipped, fields = _not_english(tree)
    for node in ast.walk(tree):
        items = _string_items(node)
        if items is not None:
            words = _words(items)
            if words and id(node) not in skipped and not set(items) <= fields:
                yield words
            continue
        if isinstance(node, ast.Call) and node.args:
            # frozenset("a b c".split()) and helpers that split a string of words.
            arg = node.args[0]
            if isinstance(arg, ast.Call) and getattr(arg.func, "attr", "") == "split":
                arg = getattr(arg.func, "value", arg)  # "a b c".split()
            text = _constant_text(arg)
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if text is not None and name in ("words_of", "frozenset", "set") and " " in text:
                words = _words(text.split())
                if words:
                    yield words
        text = _constant_text(node)
        if text is not None and "|" in text:
            for group in ALTERNATION.findall(text):
                words = _words(group.split("|"))
                if words:
                    yield words


def _regex_sites(tree: ast.AST) -> int:
    return sum(
        1
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "re"
        and node.func.attr in REGEX_CALLS
    )


def inventory(root: Path = ROOT) -> list[FileRules]:
    out = []
    for path in sorted((root / "qa").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(EXCLUDED):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        rules = FileRules(rel, _regex_sites(tree), list(_lists_in(tree)))
        if rules.regex_sites or rules.lists:
            out.append(rules)
    return out


def totals(files: list[FileRules]) -> dict[str, int]:
    words = {w for f in files for lst in f.lists for w in lst}
    return {
        "regex_sites": sum(f.regex_sites for f in files),
        "word_lists": sum(len(f.lists) for f in files),
        "words": len(words),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evals.rule_inventory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="a checkout to count")
    parser.add_argument("--json", action="store_true", help="totals and files as JSON")
    args = parser.parse_args(argv)
    if not (args.root / "qa").is_dir():
        print(f"{args.root} has no qa/ folder: give a checkout of this project", file=sys.stderr)
        return 2
    files = inventory(args.root)
    if args.json:
        detail = [{"path": f.path, "regex_sites": f.regex_sites, "word_lists": len(f.lists)}
                  for f in files]  # fmt: skip
        json.dump({"totals": totals(files), "files": detail}, sys.stdout, indent=1)
        print()
        return 0
    for f in files:
        print(f"{f.path}: {f.regex_sites} regex sites, {len(f.lists)} word lists")
    t = totals(files)
    print(f"total: {t['regex_sites']} regex sites, {t['word_lists']} word lists, "
          f"{t['words']} words")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
