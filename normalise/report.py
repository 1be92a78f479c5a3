"""The per-file report: what was read, kept, rejected and repaired, and whether the file meets the
Transparency Code. It is JSON (written next to the rows) and is what ``councilspend check`` prints.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from councilspend.problems import plural, verb
from normalise.columns import example_labels
from normalise.rulefiles import load_yaml

CODE_PATH = Path(__file__).with_name("code2015.yml")
DEFAULT_THRESHOLD = 500
MAX_LISTED = 200


@cache
def code_rules() -> dict:
    return load_yaml(CODE_PATH)


def empty_report(name: str, sha256: str, error: str) -> dict:
    """The report of a file that could not be read at all."""
    return {
        "file": name,
        "sha256": sha256,
        "kind": "rejected",
        "kind_reason": error,
        "error": error,
        "rows_read": 0,
        "data_rows": 0,
        "rows_kept": 0,
        "rows_rejected": 0,
        "lines_skipped": 0,
        "skipped": {},
        "total_pence": 0,
        "malformed_rows": 0,
        "errors": [],
        "warnings": [],
        "repairs": [],
        "problems": [{"severity": "error", "code": "unreadable", "rule": "readable", "message": error}],
    }


def _date(v) -> str | None:
    return v.isoformat() if isinstance(v, dt.date) else None


def build_report(
    *,
    name: str,
    sha256: str,
    fmt: str,
    tables: list,
    results: list,
    skipped: list[dict],
    kind: str,
    rows: pd.DataFrame,
    pence: np.ndarray,
    council_id: str,
    given_council: str | None,
    content_council: str | None,
    normaliser_version: str,
) -> dict:
    chosen = _chosen(results, kind)
    stats = [r.info.get("_stats") for r in chosen if r.info.get("_stats")]
    all_pence = np.concatenate([r.pence for r in chosen]) if chosen else np.zeros(0, np.int64)
    redacted = np.concatenate([s["redacted"] for s in stats]) if stats else np.zeros(0, bool)
    suppliers: set[str] = set().union(*[s["suppliers"] for s in stats]) if stats else set()
    mins = [s["date_min"] for s in stats if s["date_min"]]
    maxs = [s["date_max"] for s in stats if s["date_max"]]
    info0 = chosen[0].info if chosen else results[0].info
    threshold = next((r.info.get("threshold") for r in chosen if r.info.get("threshold")), None)
    limit = (threshold or DEFAULT_THRESHOLD) * 100
    total = int(all_pence.sum())

    warnings, repairs, errors, total_rows = _gather(results, total, single=len(chosen) == 1)
    if given_council and content_council and given_council != content_council:
        warnings.append(
            f"the crawl says council {given_council} but the file's own Body column says {content_council}"
        )
    dup = duplicate_rows(rows)
    period_start, period_end = _period(mins, maxs, rows)
    report = {
        "file": name,
        "sha256": sha256,
        "normaliser_version": normaliser_version,
        "format": fmt,
        "encoding": info0.get("encoding"),
        "kind": kind,
        "kind_reason": chosen[0].kind_reason if chosen else "",
        "error": None,
        "council_id": council_id,
        "council_from_content": content_council,
        "council_evidence": next(
            (r.info.get("council_evidence") for r in results if r.info.get("council_evidence")), ""
        ),
        "header_row": info0.get("header_row"),
        "preamble": info0.get("preamble", []),
        "threshold": threshold,
        "columns": info0.get("columns", {}),
        "total_rows": total_rows,
        **{k: int(sum(r.info.get(k, 0) for r in chosen)) for k in _SUMMED},
        "rows_kept": int(len(rows)),
        "skipped": _skipped(chosen),
        "total_pence": total,
        "negative_rows": int((all_pence < 0).sum()),
        "date_min": _date(min(mins)) if mins else None,
        "date_max": _date(max(maxs)) if maxs else None,
        "period_start": _date(period_start),
        "period_end": _date(period_end),
        "distinct_suppliers": len(suppliers),
        "redacted_rows": int(redacted.sum()),
        "redacted_pence": int(all_pence[redacted].sum()) if len(redacted) == len(all_pence) else 0,
        "duplicate_rows": dup,
        "below_threshold_rows": int((np.abs(all_pence) < limit).sum()),
        "card_rows": int(rows["is_card"].sum()) if len(rows) else 0,
        "repairs": repairs,
        "errors": errors[:MAX_LISTED],
        "error_count": len(errors),
        "warnings": warnings,
        "sheets": _sheets(results, skipped),
    }
    report["lines_skipped"] = sum(report["skipped"].values())
    report["code_2015"] = code_fields(report, kind)
    report["problems"] = problems(report)
    return report


_SUMMED = (
    "rows_read",
    "blank_rows",
    "data_rows",
    "rows_rejected",
    "malformed_rows",
    "date_errors",
    "dates_time_only",
)


def _chosen(results: list, kind: str) -> list:
    """The tables the file's figures come from: those with payment rows, else those of its kind."""
    if kind in ("payments", "card"):
        return [r for r in results if r.kind in ("payments", "card")]
    return [r for r in results if r.kind == kind]


def _gather(results: list, total: int, *, single: bool) -> tuple[list, list, list, list]:
    """Every table's warnings, repairs, row errors and total lines, named by sheet in a workbook; a
    file's own total line is checked against the rows' sum."""
    warnings: list[str] = []
    repairs: list[dict] = []
    errors: list[dict] = []
    total_rows: list[dict] = []
    for r in results:
        sheet = r.info.get("sheet")
        for w in r.info.get("warnings", []):
            warnings.append(f"sheet {sheet!r}: {w}" if sheet else w)
        for rep in r.info.get("repairs", []):
            repairs.append({**rep, "sheet": sheet} if sheet else rep)
        for e in r.info.get("errors", []):
            errors.append({**e, "sheet": sheet} if sheet else e)
        total_rows += [{**t, "sheet": sheet} if sheet else t for t in r.info.get("total_rows", [])]
    for t in total_rows:
        diff = t["amount_pence"] - total
        t["matches_computed_total"] = abs(diff) <= 10  # a published total rounded to 1 dp still matches
        if not t["matches_computed_total"] and single:
            warnings.append(
                f"the file's own total row (row {t['row']}) says £{t['amount_pence'] / 100:,.2f} but its "
                f"rows add up to £{total / 100:,.2f}"
            )
    return warnings, repairs, errors, total_rows


def _period(mins: list, maxs: list, rows: pd.DataFrame) -> tuple[dt.date | None, dt.date | None]:
    """The period the file covers: its payment days, else the periods its rows carry."""
    if mins:
        return min(mins), max(maxs)
    if len(rows) and (rows["period_start"] != "").any():
        start = dt.date.fromisoformat(rows.loc[rows["period_start"] != "", "period_start"].min())
        return start, dt.date.fromisoformat(rows.loc[rows["period_end"] != "", "period_end"].max())
    return None, None


def _sheets(results: list, skipped: list[dict]) -> list[dict]:
    """Each sheet's kind and size, and the sheets skipped with why."""
    return [
        {
            "sheet": r.info.get("sheet"),
            "kind": r.kind,
            "header_row": r.info.get("header_row"),
            "data_rows": r.info.get("data_rows", 0),
            "rows_rejected": r.info.get("rows_rejected", 0),
        }
        for r in results
    ] + [{"sheet": s["sheet"], "kind": "skipped", "reason": s["reason"]} for s in skipped]


def _skipped(results: list) -> dict[str, int]:
    """Lines that are not payments, by reason, over the tables that gave rows (see table.py)."""
    out: dict[str, int] = {}
    for r in results:
        for reason, n in r.info.get("skipped", {}).items():
            out[reason] = out.get(reason, 0) + n
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def skipped_line(report: dict) -> str | None:
    """One line for everything skipped: '1,599 lines skipped: not payments (blank padding 1,590, ...)'."""
    total = report.get("lines_skipped") or 0
    if not total:
        return None
    parts = ", ".join(f"{reason} {n:,}" for reason, n in report.get("skipped", {}).items())
    return f"{plural(total, 'line')} skipped: not payments ({parts})"


def duplicate_rows(rows: pd.DataFrame) -> int:
    """Rows that repeat an earlier row in every field but the source row number. Exact, but cheap:
    only rows whose (amount, date), then also (supplier, reference), repeat can repeat whole. Those
    pre-filters are integer mixes of the fields (collisions only add candidates, never hide one), and
    the exact comparison runs on the few candidates, usually none."""
    if not len(rows):
        return 0
    key = np.round(rows["amount"].to_numpy(dtype=float, na_value=0.0) * 100).astype(np.int64)
    candidates = _repeated(_mix(key, rows, ("payment_date",)))
    if not candidates.any():
        return 0
    rows = rows.loc[candidates]
    candidates = _repeated(_mix(key[candidates], rows, ("payment_date", "supplier_name", "transaction_ref")))
    if not candidates.any():
        return 0
    return int(rows.loc[candidates].drop(columns=["source_row"]).duplicated().sum())


def _mix(key: np.ndarray, rows: pd.DataFrame, names: tuple[str, ...]) -> np.ndarray:
    for name in names:
        if name in rows:
            key = key * 1_000_003 + pd.factorize(rows[name])[0]  # int64 wrap-around is harmless here
    return key


def _repeated(key: np.ndarray) -> np.ndarray:
    """Which entries' key occurs more than once (hashing, not the sort np.unique does)."""
    codes, _ = pd.factorize(key)
    return np.bincount(codes)[codes] > 1


def code_fields(report: dict, kind: str) -> dict:
    """Which of the Transparency Code 2015 fields the file has (by mapped column)."""
    mapped = set(report["columns"].get("mapped", {}))
    out = {}
    for item in code_rules()["fields"]:
        present = bool(mapped & set(item["any_of"]))
        out[item["key"]] = present
    return out


def problems(report: dict) -> list[dict]:
    """Everything a council officer should fix, worst first. severity: error (the file is not
    publishable under the Code as it stands), warning (should fix), info. Each has a stable ``code``
    (defined in councilspend/problem_codes.yml; tests, the site and translations key on it); the message
    is for people; ``rows`` says how many rows it concerns, so the site can add them up across files."""
    out: list[dict] = []

    def add(severity: str, rule: str, message: str, code: str, rows: int | None = None) -> None:
        problem = {"severity": severity, "code": code, "rule": rule, "message": message}
        if rows is not None:
            problem["rows"] = int(rows)
        out.append(problem)

    _code_problems(report, add)
    _row_problems(report, add)
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(out, key=lambda p: order[p["severity"]])


def _code_problems(report: dict, add) -> None:
    """The Transparency Code's own requirements: itemised lines and the fields it lists."""
    rules = code_rules()
    kind = report["kind"]
    if kind in ("supplier_totals", "not_spend"):
        add(
            "error",
            rules["rules"]["itemised"],
            f"this file is {kind.replace('_', ' ')}: {report['kind_reason']}",
            "not_itemised",
        )
    for item in rules["fields"]:
        if report["code_2015"].get(item["key"]):
            continue
        severity = item.get("severity_card" if kind == "card" else "severity", "error")
        add(
            severity,
            item["rule"],
            f"no column for {item['label']} (a column headed e.g. "
            f"{', '.join(repr(x) for f in item['any_of'] for x in example_labels(f, 1))})",
            f"missing_{item['key']}",
        )
    if kind in ("payments", "card") and not report["data_rows"]:
        add("error", rules["rules"]["itemised"], "the file has a header but no data rows", "no_data_rows")
    if report["rows_rejected"]:
        add(
            "error",
            rules["rules"]["amount"],
            f"{plural(report['rows_rejected'], 'row')} {verb(report['rows_rejected'], 'has', 'have')} "
            "no readable amount (see errors for rows)",
            "amount_unreadable",
            report["rows_rejected"],
        )
    if report["date_errors"]:
        add(
            "error",
            rules["rules"]["date"],
            f"{plural(report['date_errors'], 'row')} {verb(report['date_errors'], 'has', 'have')} "
            "a date that is not a day-first date",
            "date_invalid",
            report["date_errors"],
        )
    if report["dates_time_only"]:
        add(
            "error",
            rules["rules"]["date"],
            f"{plural(report['dates_time_only'], 'row')} {verb(report['dates_time_only'], 'has', 'have')} "
            "only a time (00:00:00) where the date should be: the date was lost when the file was exported",
            "date_time_only",
            report["dates_time_only"],
        )
    if report["code_2015"].get("date") and not report["date_min"] and report["rows_kept"]:
        add(
            "error",
            rules["rules"]["date"],
            "no row has a day-level payment date (only a period or nothing)",
            "no_day_dates",
        )


def _row_problems(report: dict, add) -> None:
    """What the rows showed: repairs, warnings, duplicates, small lines, redaction, skipped lines."""
    rules = code_rules()
    kind = report["kind"]
    if report["malformed_rows"]:
        add(
            "warning",
            rules["rules"]["machine_readable"],
            f"{plural(report['malformed_rows'], 'row')} had cells run together and "
            f"{verb(report['malformed_rows'], 'was', 'were')} repaired (rows listed under repairs)",
            "cells_repaired",
            report["malformed_rows"],
        )
    for w in report["warnings"]:
        add("warning", rules["rules"]["machine_readable"], w, "file_warning")
    if report["duplicate_rows"]:
        add(
            "info",
            "duplicates",
            f"{plural(report['duplicate_rows'], 'row')} {verb(report['duplicate_rows'], 'repeats', 'repeat')} "
            "another row exactly (kept: split invoice lines look like this)",
            "duplicate_rows",
            report["duplicate_rows"],
        )
    if report["below_threshold_rows"] and kind == "payments":
        add(
            "info",
            "threshold",
            f"{plural(report['below_threshold_rows'], 'line')} "
            f"{verb(report['below_threshold_rows'], 'is', 'are')} below £{report['threshold'] or 500}",
            "below_threshold",
            report["below_threshold_rows"],
        )
    if report["redacted_rows"]:
        add(
            "info",
            rules["rules"]["redaction"],
            f"{plural(report['redacted_rows'], 'row')} {verb(report['redacted_rows'], 'has', 'have')} "
            f"the payee redacted (£{report['redacted_pence'] / 100:,.2f})",
            "redacted",
            report["redacted_rows"],
        )
    if line := skipped_line(report):
        add("info", "not payments", line, "lines_skipped", report.get("lines_skipped"))
