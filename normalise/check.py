"""``councilspend check``: the report a council officer reads before publishing a file.

Plain words, worst problems first, and a verdict: the file is not publishable under the
Transparency Code 2015 when any problem has severity "error" (the rule is named).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from councilspend.problems import plural, problem_codes, verb
from normalise.pipeline import FileResult, normalise_file

MAX_LINES = 12


def check_file(path: Path, council_id: str | None = None) -> tuple[FileResult, dict]:
    """Normalise the file (which checks every row against the schema); returns (result, report with verdict)."""
    result = normalise_file(Path(path), council_id=council_id)
    report = result.report
    people = possible_individuals(result.rows)
    report["possible_individuals"] = people
    if people:
        # The Code allows naming sole traders, so this is a warning, not a Code failure.
        # Care and direct payments to people are the usual case.
        report.setdefault("problems", []).append(
            {
                "severity": "warning",
                "code": "possible_individuals",
                "rule": "Data protection: payments to private individuals",
                "rows": sum(p["rows"] for p in people),
                "message": f"{plural(len(people), 'payee name')} {verb(len(people), 'looks', 'look')} like "
                f"{verb(len(people), 'a private individual', 'private individuals')}: check whether "
                f"{verb(len(people), 'it', 'they')} should be redacted before publishing ("
                + ", ".join(repr(p["name"]) for p in people[:5])
                + (", ..." if len(people) > 5 else "")
                + ")",
            }
        )
    report["publishable"] = publishable(report)
    return result, report


def possible_individuals(rows: pd.DataFrame | None) -> list[dict]:
    """Payees the suppliers classifier thinks are private individuals (name, rows, pence), biggest first.

    Shown only to the person checking their own file; the published site never names them.
    """
    if rows is None or not len(rows) or "supplier_name" not in rows.columns:
        return []
    from normalise.suppliers import classify_suppliers

    names = rows[["supplier_name"]].astype("string").fillna("")
    names["pence"] = (pd.to_numeric(rows.get("amount"), errors="coerce").fillna(0) * 100).round()
    if "is_redacted" in rows.columns:
        names = names[~rows["is_redacted"].astype("boolean").fillna(False).to_numpy()]
    grouped = (
        names[names["supplier_name"] != ""]
        .groupby("supplier_name", as_index=False)
        .agg(rows=("pence", "size"), pence=("pence", "sum"))
    )
    if grouped.empty:
        return []
    classified = classify_suppliers(grouped[["supplier_name"]].copy())
    grouped["sector"] = classified["sector"].to_numpy()
    ind = grouped[grouped["sector"] == "individual"].sort_values("pence", ascending=False)
    return [{"name": r.supplier_name, "rows": int(r.rows), "pence": int(r.pence)} for r in ind.itertuples()]


def publishable(report: dict) -> bool:
    return not any(p["severity"] == "error" for p in report.get("problems", []))


def render(report: dict) -> str:
    """The report as plain text for a person."""
    lines: list[str] = []
    name = report.get("file", "")
    verdict = (
        "PUBLISHABLE" if report.get("publishable") else "NOT PUBLISHABLE under the Transparency Code 2015"
    )
    lines.append(f"{name}: {verdict}")
    if report.get("error"):
        lines.append(f"  The file could not be read: {report['error']}")
        return "\n".join(lines)
    total = report.get("total_pence", 0) / 100
    lines.append(
        f"  {report.get('kind', '?')} file ({report.get('kind_reason', '')}); "
        f"{report.get('rows_kept', 0):,} rows kept of {report.get('data_rows', 0):,}, "
        f"total £{total:,.2f}"
    )
    if report.get("period_start"):
        lines.append(f"  Period covered: {report['period_start']} to {report['period_end']}")
    lines += problem_lines(report.get("problems", []))
    errors = report.get("errors", [])
    if errors:
        more = report.get("error_count", len(errors)) - min(len(errors), MAX_LINES)
        lines.append("\nRows with problems (row = line in your file):")
        for e in errors[:MAX_LINES]:
            lines.append(f"  row {e['row']}, column {e['field']!r}: {e['error']} ({e['value']!r})")
        if more > 0:
            lines.append(f"  ... and {plural(more, 'more row')} (see --json)")
    for r in report.get("repairs", []):
        rows = ", ".join(str(x) for x in r.get("rows", [])[:10])
        more = "" if len(r.get("rows", [])) <= 10 else ", ..."
        lines.append(
            f"\nRepaired: {r['repair']} — {plural(r.get('count', len(r.get('rows', []))), 'cell')}, "
            f"{verb(len(r.get('rows', [])), 'row', 'rows')} {rows}{more}"
        )
    cols = report.get("columns", {})
    if cols.get("unmapped"):
        lines.append(f"\nColumns not recognised (not used): {', '.join(repr(c) for c in cols['unmapped'])}")
    code = report.get("code_2015", {})
    if code:
        have = [k for k, v in code.items() if v]
        miss = [k for k, v in code.items() if not v]
        lines.append(
            f"\nTransparency Code fields present: {', '.join(have) or 'none'}"
            + (f"; missing: {', '.join(miss)}" if miss else "")
        )
    return "\n".join(lines)


def problem_lines(problems: list[dict]) -> list[str]:
    """Problems by severity, one line per code: a code that repeats (a warning per sheet, say) is
    shown once with its count and its messages, each with the rule and the code to look up."""
    lines: list[str] = []
    codes = problem_codes()
    for severity, title in (("error", "Must fix"), ("warning", "Should fix"), ("info", "For information")):
        by_code: dict[str, list[dict]] = {}
        for p in problems:
            if p["severity"] == severity:
                by_code.setdefault(p.get("code") or "other", []).append(p)
        if not by_code:
            continue
        lines.append(f"\n{title}:")
        for code, items in list(by_code.items())[:MAX_LINES]:
            if len(items) == 1:
                lines.append(f"  - {items[0]['message']}")
            else:
                meaning = codes.get(code, codes["other"])["meaning"]
                lines.append(f"  - {meaning} ({plural(len(items), 'time')}):")
                lines += [f"      {p['message']}" for p in items[:MAX_LINES]]
                if len(items) > MAX_LINES:
                    lines.append(f"      ... and {len(items) - MAX_LINES} more (see --json)")
            rule = f"rule: {items[0]['rule']}; " if severity != "info" and items[0].get("rule") else ""
            lines.append(f"      {rule}code: {code}")
        if len(by_code) > MAX_LINES:
            lines.append(f"  ... and {len(by_code) - MAX_LINES} more (see --json)")
    return lines
