"""Publication quality: how well each council follows the Local Government Transparency Code 2015.

The per-file score comes from the normaliser (``files.csv`` ``quality_score``, 0-100, share of the
Code's checks passed). Here it is rolled up per council, with the things an officer can act on:
missing Code fields, rejected files, months missing from the latest year, and rows that name a
private individual (published by us as "Individual (name withheld)", but the council should redact).
"""

from __future__ import annotations

import json

import pandas as pd

from councilspend.problems import plural, verb

# The seven fields the Code requires for every item over £500 (standards.md §1.2).
CODE_FIELDS = [
    "date",
    "department",
    "beneficiary",
    "purpose",
    "amount",
    "irrecoverable_vat",
    "merchant_category",
]
CURRENT = {"counted", "rejected", "overlap"}  # superseded versions are not the council's current publication
FILE_WEIGHT, COVERAGE_WEIGHT = 0.7, 0.3


def code_fields_present(report: dict) -> dict[str, bool] | None:
    """The Code fields a file carries, from its normaliser report; ``None`` when the report doesn't say.

    Accepts a mapping ``{field: bool}`` or a list of present field names, under ``code_fields``
    or ``transparency_code``.
    """
    for key in ("code_2015", "code_fields", "transparency_code"):
        value = report.get(key)
        if isinstance(value, dict):
            return {f: bool(value.get(f, False)) for f in CODE_FIELDS}
        if isinstance(value, list):
            return {f: f in value for f in CODE_FIELDS}
    return None


def problems_list(raw: object, individual_rows: object = None) -> list[dict]:
    """The ``problems`` JSON of files.csv as ``{"severity", "code", "rule", "message", "rows"}`` dicts.

    Every problem has a code of councilspend/problem_codes.yml: files.csv written before problems had
    codes (plain strings) get ``other``. Rows the build found naming a private individual
    (``individual_rows``) are the build's own problem, ``individuals_named``.
    """
    value: object = []
    if isinstance(raw, str) and raw.strip():
        try:
            value = json.loads(raw)
        except ValueError:
            value = [raw]
    out = []
    for p in value if isinstance(value, list) else [value]:
        p = p if isinstance(p, dict) else {"message": str(p)}
        rows = p.get("rows")
        out.append(
            {
                "severity": str(p.get("severity") or "warning"),
                "code": str(p.get("code") or "other"),
                "rule": str(p.get("rule") or p.get("check") or ""),
                "message": str(p.get("message") or p.get("note") or p),
                "rows": int(rows) if isinstance(rows, int | float) else None,
            }
        )
    n = int(pd.to_numeric(individual_rows, errors="coerce") or 0) if individual_rows is not None else 0
    if n:
        out.append(
            {
                "severity": "warning",
                "code": "individuals_named",
                "rule": "Data protection",
                "message": f"{plural(n, 'row')} {verb(n, 'names', 'name')} a private individual: redact "
                f"{verb(n, 'it', 'them')} before publishing",
                "rows": n,
            }
        )
    return out


def council_quality(files: pd.DataFrame, months: pd.DataFrame, payments: pd.DataFrame) -> pd.DataFrame:
    """One row per council (columns of published/council_quality.schema.yaml, rank included).

    ``files``: the published files table (with ``code_fields_pct`` per file, NA when unknown);
    ``months``: council_id, financial_year, month (distinct months with payments);
    ``payments``: council_id, payments, redacted_rows, redacted_pence.
    """
    rows = []
    for council_id, f in files.groupby("council_id", sort=True):
        current = f[f["status"].isin(CURRENT)]
        counted = f[f["status"] == "counted"]
        m = months[months["council_id"] == council_id]
        latest = m["financial_year"].max() if len(m) else None
        months_covered = int(m.loc[m["financial_year"] == latest, "month"].nunique()) if latest else 0
        score = pd.to_numeric(current["quality_score"], errors="coerce").fillna(0)
        file_score = float(score.mean()) if len(score) else 0.0
        code_pct = (
            pd.to_numeric(counted["code_fields_present"], errors="coerce").dropna() * 100 / len(CODE_FIELDS)
        )
        p = payments[payments["council_id"] == council_id]
        ends = pd.to_datetime(counted["period_end"], errors="coerce").dropna()
        rows.append(
            {
                "council_id": council_id,
                "files_found": len(f),
                "files_counted": len(counted),
                "files_rejected": int((f["status"] == "rejected").sum()),
                "files_superseded": int((f["status"] == "superseded").sum()),
                "payments": int(p["payments"].sum()) if len(p) else 0,
                "code_fields_pct": round(float(code_pct.mean()), 1) if len(code_pct) else None,
                "file_score": round(file_score, 1),
                "months_covered": months_covered,
                "latest_period_end": ends.max().strftime("%Y-%m-%d") if len(ends) else None,
                "individual_rows": int(pd.to_numeric(f["individual_rows"], errors="coerce").fillna(0).sum()),
                "redacted_rows": int(p["redacted_rows"].sum()) if len(p) else 0,
                "redacted_pence": int(p["redacted_pence"].sum()) if len(p) else 0,
                "quality_score": round(
                    FILE_WEIGHT * file_score + COVERAGE_WEIGHT * 100 * months_covered / 12
                ),
            }
        )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out = out.sort_values(["quality_score", "months_covered", "council_id"], ascending=[False, False, True])
    out["rank"] = range(1, len(out) + 1)
    return out
