"""The house rules, checked on the code itself: stages import only earlier stages, no import circles,
no file over 500 lines and no function over 80 (docs/architecture.md draws the same picture)."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("councilspend", "crawler", "normalise", "publish", "demo", "benchmarks")
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80

#: What each part of the flow may import (beyond itself and the standard library / third parties).
#: crawl → normalise (→ classify) → build → site; demo and benchmarks run every stage; the CLI wires them.
MAY_IMPORT = {
    "ground": {"ground"},
    "crawler": {"ground", "crawler"},
    "normalise": {"ground", "crawler", "normalise"},
    "build": {"ground", "crawler", "build"},
    "site": {"ground", "crawler", "build", "site"},
    "demo": {"ground", "crawler", "normalise", "build", "site", "demo"},
    "benchmarks": {"ground", "crawler", "normalise", "build", "site", "demo", "benchmarks"},
    "cli": {"ground", "crawler", "normalise", "build", "site", "demo", "benchmarks", "cli"},
}


def stage_of(module: str) -> str | None:
    """The part of the flow a dotted module name belongs to (None: not ours)."""
    top = module.split(".")[0]
    if module == "councilspend.cli":
        return "cli"
    if top == "councilspend":
        return "ground"
    if module.startswith("publish.build") or module == "publish":
        return "build"
    if top == "publish":
        return "site"  # publish.site.*, publish.cli (serve)
    return top if top in PACKAGES else None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def source_files() -> tuple[Path, ...]:
    return tuple(
        sorted(p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py") if "__pycache__" not in p.parts)
    )


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Every project module this file imports, at the top or inside a function (lazy imports count).

    ``from pkg import sub`` is an arrow to ``pkg.sub`` when ``sub`` is a module, else to ``pkg``.
    """
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
    return {name for name in found if name in modules}


@cache
def graph() -> dict[str, set[str]]:
    """module → the project modules it imports."""
    paths = {module_name(p): p for p in source_files()}
    return {name: imports_of(path, set(paths)) - {name} for name, path in paths.items()}


def test_no_stage_imports_a_later_one() -> None:
    wrong = [
        f"{module} ({stage_of(module)}) imports {target} ({stage_of(target)})"
        for module, targets in graph().items()
        for target in sorted(targets)
        if stage_of(target) not in MAY_IMPORT[stage_of(module)]
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_circles() -> None:
    g = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(g):
        if v not in index:
            visit(v)
    assert not circles, circles


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_files_and_functions_stay_small(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= MAX_FILE_LINES, f"{path.name}: {text.count(chr(10))} lines"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{path.name}: " + ", ".join(long)


def test_the_checker_sees_a_violation() -> None:
    """The rules can fail: a site module importing the normaliser is caught."""
    assert "normalise" not in MAY_IMPORT[stage_of("publish.site.pages")]
    assert stage_of("publish.build.build") == "build" and stage_of("normalise.classes") == "normalise"
