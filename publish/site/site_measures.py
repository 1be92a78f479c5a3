"""Read the M1/M2/M3 summary tables written by ``publish.build.measures.compute`` for the pages.

The measures engine owns the column names; this module is the one place that maps them onto what
the pages show (share as a percentage, coverage), so a renamed column is fixed here only.
"""

from __future__ import annotations

MEASURES_TABLE = "council_year_measures"
# page field -> (measures column, scale). Shares are stored as fractions; pages show percentages.
COLUMNS: dict[str, tuple[str, int]] = {
    "m2_pct": ("m2_share", 100),
    "m3_pct": ("m3_share", 100),
    "external_pence": ("external_delivery_pence", 1),
    "m2_denominator_pence": ("m2_denominator_pence", 1),
    "m3_denominator_pence": ("m3_denominator_pence", 1),
    "spend_pence": ("spend_pence", 1),
    "months": ("months_present", 1),
    "complete": ("complete", 1),
    "unknown_pence": ("unknown_pence", 1),
    "redacted_pence": ("redacted_pence", 1),
    "transfer_pence": ("transfer_pence", 1),
}


def latest_year(years) -> str | None:
    real = sorted(y for y in years if y and y != "unknown")
    return real[-1] if real else None


async def council_years(db, council_id: str) -> dict:
    """Every measures row for one council, with ``m2_pct``/``m3_pct``/``months`` added, and the raw columns."""
    if MEASURES_TABLE not in set(await db.table_names()):
        return {"available": False, "columns": [], "rows": []}
    result = await db.execute(f"select * from {MEASURES_TABLE} where council_id = :c order by financial_year",
                              {"c": council_id})
    return {"available": True, "columns": list(result.columns), "rows": [_page_row(dict(r)) for r in result.rows]}


def _page_row(row: dict) -> dict:
    out = dict(row)
    for field, (col, scale) in COLUMNS.items():
        v = row.get(col)
        out[field] = None if v is None else (v * scale if scale != 1 else v)
    return out


async def league(db) -> dict:
    """Councils ranked by their latest year's M2 share (councils without measures listed last)."""
    tables = set(await db.table_names())
    councils = [dict(r) for r in (await db.execute(
        "select c.council_id, c.name, c.council_type, q.quality_score, q.months_covered from councils c "
        "left join council_quality q using (council_id) order by c.name")).rows]
    totals = {r["council_id"]: r["pence"] for r in (await db.execute(
        "select council_id, sum(total_pence) pence from council_year_sector group by 1")).rows}
    by_council: dict[str, dict] = {}
    if MEASURES_TABLE in tables:
        # Only each council's latest year, and only the columns the table shows: reading every
        # council-year with all ~45 measure columns was most of the home page's time.
        present = set(await db.table_columns(MEASURES_TABLE))
        wanted = ["council_id", "financial_year", *(c for c, _ in COLUMNS.values() if c in present)]
        cols = ", ".join(f"m.[{c}]" for c in dict.fromkeys(wanted))
        result = await db.execute(f"""
            select {cols} from {MEASURES_TABLE} m join (
              select council_id, max(financial_year) fy from {MEASURES_TABLE}
              where financial_year is not null and financial_year != 'unknown' group by council_id
            ) latest on latest.council_id = m.council_id and latest.fy = m.financial_year""")
        for r in result.rows:
            row = _page_row(dict(r))
            by_council[row["council_id"]] = row
    rows = []
    for c in councils:
        if c["council_id"] not in totals:
            continue
        m = by_council.get(c["council_id"], {})
        rows.append({**c, "total_pence": totals[c["council_id"]], "financial_year": m.get("financial_year"),
                     "m2_pct": m.get("m2_pct"), "m3_pct": m.get("m3_pct"), "months": m.get("months"),
                     "complete": m.get("complete")})
    rows.sort(key=lambda r: (r["m2_pct"] is None, -(r["m2_pct"] or 0), r["name"]))
    return {"available": MEASURES_TABLE in tables, "rows": rows}
