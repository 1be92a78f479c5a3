"""Show a benchmark result as a rich table and save it as JSON (for comparison across commits)."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.run import TARGETS

UNITS = {"_seconds": "s", "_ms": "ms", "_mb": "MB", "_per_second": "rows/s"}


def _fmt(key: str, value: float | str) -> str:
    if isinstance(value, str):
        return value
    unit = next(
        (u for suffix, u in UNITS.items() if key.endswith(suffix)),
        "×" if ("_vs_" in key or key.startswith("speedup")) else "",
    )
    if key.endswith("_share"):
        return f"{value:.1%}"
    if key.endswith("_per_second") or key.endswith("_rows"):
        return f"{value:,.0f} {unit}".strip()
    return f"{value:,.2f} {unit}".strip()


def verdict(key: str, value: float | str, targets: dict[str, tuple[str, float, str]] = TARGETS) -> str:
    """ "met" / "MISSED" against the target, "" when the metric has none, "?" when not measured."""
    if key not in targets:
        return ""
    if isinstance(value, str):
        return "?"
    op, target, _ = targets[key]
    ok = value >= target if op == ">=" else value <= target
    return "met" if ok else "MISSED"


def table(result: dict) -> Table:
    m, d = result["machine"], result["data"]
    t = Table(
        title=f"councilspend bench — {d['rows']:,} rows in {d['files']} files of {d['councils']} councils, "
        f"{result['options']['workers']} worker(s)",
        caption=f"{result['date']} · {m['cores']} cores · {m['cpu']} · {m['memory_gb']} GB · Python {m['python']} · "
        f"pandas {result['versions']['pandas']} · SQLite {m['sqlite']}",
    )
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_column("target", justify="right")
    t.add_column("", justify="center")
    targets = _targets(result)
    for key, value in result["metrics"].items():
        target = ""
        if key in targets:
            op, v, _ = targets[key]
            target = f"{op} {_fmt(key, v)}"
        mark = verdict(key, value, targets)
        style = {"met": "green", "MISSED": "bold red", "?": "yellow"}.get(mark, "")
        shown = _fmt(key, value)
        if isinstance(value, str):
            shown = f"not measured [{reasons(result).index(value) + 1}]"
        t.add_row(key, shown, target, f"[{style}]{mark}[/]" if style else mark)
    return t


def _targets(result: dict) -> dict[str, tuple[str, float, str]]:
    """The targets the run declared (a 50M run's memory target differs), else :data:`TARGETS`."""
    declared = result.get("targets")
    if not declared:
        return TARGETS
    return {k: (t["op"], t["value"], t["meaning"]) for k, t in declared.items()}


def reasons(result: dict) -> list[str]:
    """Distinct "not measured: why" values, in order of first appearance (footnotes of the table)."""
    return list(dict.fromkeys(v for v in result["metrics"].values() if isinstance(v, str)))


def show(result: dict, console: Console | None = None) -> None:
    console = console or Console()
    console.print(table(result))
    for i, why in enumerate(reasons(result), start=1):
        console.print(f"[{i}] {why}")
    for note in result.get("notes", []):
        console.print(f"[yellow]note:[/] {note}")


def save(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
