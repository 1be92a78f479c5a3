"""Problem codes and the grouping of repeated problems, shared by ``check`` (normalise) and the
site's /quality page (publish), which may not import each other.

The codes are defined once, in ``problem_codes.yml`` beside this module, each with its severity and a
one-line meaning; a repeated problem is shown once per code with a count and the files it is in.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

import yaml

CODES_PATH = Path(__file__).with_name("problem_codes.yml")
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
FILES_SHOWN = 3


@cache
def problem_codes() -> dict[str, dict]:
    """code -> {"severity", "meaning"}, in the YAML's order."""
    entries = yaml.safe_load(CODES_PATH.read_text(encoding="utf-8"))["codes"]
    return {e["code"]: {"severity": e["severity"], "meaning": e["meaning"]} for e in entries}


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 row', '2 rows', '1,234 files' (``many`` for irregular plurals)."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def verb(n: int, one: str, many: str) -> str:
    """The verb that agrees with a count: verb(1, 'has', 'have') == 'has'."""
    return one if n == 1 else many


def names_line(names: list[str], shown: int = FILES_SHOWN) -> str:
    """'a.csv, b.csv, c.csv and 9 more' (or all of them when few)."""
    if len(names) <= shown + 1:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} and {len(names) - shown} more"


def group_problems(items: Iterable[tuple[str, dict]]) -> list[dict]:
    """(file name, problem) pairs -> one group per code, worst first then most files first.

    Each group: code, severity, meaning, files (distinct, in order seen), rows (summed over the
    problems that count rows, else None), messages (distinct), and ``line``: the sentence to show,
    e.g. "no column for the irrecoverable VAT — 12 files: a.csv, b.csv, c.csv and 9 more".
    """
    codes = problem_codes()
    groups: dict[str, dict] = {}
    for name, p in items:
        code = p.get("code") or "other"
        known = codes.get(code, codes["other"])
        g = groups.setdefault(
            code,
            {
                "code": code,
                "severity": p.get("severity") or known["severity"],
                "meaning": known["meaning"],
                "files": [],
                "rows": None,
                "messages": [],
            },
        )
        if name and name not in g["files"]:
            g["files"].append(name)
        if isinstance(p.get("rows"), int):
            g["rows"] = (g["rows"] or 0) + p["rows"]
        if p.get("message") and p["message"] not in g["messages"]:
            g["messages"].append(p["message"])
    out = sorted(groups.values(), key=lambda g: (SEVERITY_ORDER.get(g["severity"], 3), -len(g["files"])))
    for g in out:
        g["line"] = group_line(g)
    return out


def group_line(g: dict) -> str:
    """The one sentence for a group: its meaning (or its one message), how many rows, in which files."""
    n = len(g["files"])
    head = g["messages"][0] if n <= 1 and len(g["messages"]) == 1 else g["meaning"]
    if n <= 1:
        return head
    rows = f"{plural(g['rows'], 'row')} in " if g["rows"] else ""
    return f"{head} — {rows}{plural(n, 'file')}: {names_line(g['files'])}"
