"""Read the M1/M2/M3 summary tables written by ``publish.build.measures.compute`` for the pages.

The measures engine owns the column names; this module is the one place that maps them onto what
the pages show (share as a percentage, coverage, the one-sentence headline), so a renamed column is
fixed here only.

The headline is M3 (docs/methodology.md, "Which figure is the headline"): external delivery over the
council's total service expenditure, annualised from 9 to 11 months. Without an outturn figure for
the year the sentence gives M2 in M2's own words; a year with fewer than 9 months of dated payments,
or only purchase-card lines, gets no share at all, only what it is.
"""

from __future__ import annotations

from publish.site.charts import money

MEASURES_TABLE = "council_year_measures"
TRANSFERS_TABLE = "council_year_transfers"
# page field -> (measures column, scale). Shares are stored as fractions; pages show percentages.
COLUMNS: dict[str, tuple[str, int]] = {
    "m2_pct": ("m2_share", 100),
    "m3_pct": ("m3_share", 100),
    "m3_raw_pct": ("m3_raw_share", 100),
    "external_pence": ("external_delivery_pence", 1),
    "m2_denominator_pence": ("m2_denominator_pence", 1),
    "m3_denominator_pence": ("m3_denominator_pence", 1),
    "spend_pence": ("spend_pence", 1),
    "months": ("months_present", 1),
    "complete": ("complete", 1),
    "coverage": ("coverage", 1),
    "rankable": ("rankable", 1),
    "card_only": ("card_only", 1),
    "annualised": ("m3_annualised", 1),
    "unknown_pence": ("unknown_pence", 1),
    "redacted_pence": ("redacted_pence", 1),
    "transfer_pence": ("transfer_pence", 1),
    "low_confidence_pence": ("external_low_confidence_pence", 1),
}
#: External sectors in the words the headline uses.
SECTOR_WORDS: dict[str, str] = {
    "private": "private firms",
    "third_sector": "charities and voluntary groups",
    "public": "other public bodies",
    "council_company": "council-owned companies",
    "mutual": "mutuals and co-operatives",
}
#: What a transfer kind is, in words (normalise/categories/rules/transfers.yml).
TRANSFER_WORDS: dict[str, str] = {
    "hmrc_paye_ni": "income tax and national insurance to HMRC",
    "vat": "VAT paid over",
    "pension_deficit": "pension deficit payments",
    "pension_contribution": "pension contributions",
    "payroll_deduction": "deductions from pay passed on",
    "nndr_central_share": "business rates: central share",
    "business_rates_tariff_topup": "business rates tariffs, top-ups and pools",
    "precept": "precepts",
    "levy": "levies",
    "housing_benefit": "housing benefit and council tax support",
    "grant_passthrough": "grants passed on",
    "inter_authority_recharge": "recharges between authorities",
    "debt_financing": "loan interest and repayments",
    "other_transfer": "other transfers",
}
#: Below this share a sector is left out of the headline's list.
MIN_PART_PCT = 0.5


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


async def council_transfers(db, council_id: str) -> list[dict]:
    """The council's transfers, by year, kind and payee, biggest first within a year."""
    if TRANSFERS_TABLE not in set(await db.table_names()):
        return []
    result = await db.execute(f"""
        select t.financial_year, t.transfer_kind, t.supplier_id, s.name, t.payments, t.total_pence
        from {TRANSFERS_TABLE} t left join suppliers s on s.supplier_id = t.supplier_id
        where t.council_id = :c order by t.financial_year desc, t.total_pence desc""", {"c": council_id})
    out = []
    for r in result.rows:
        row = dict(r)
        row["kind_words"] = TRANSFER_WORDS.get(row["transfer_kind"], (row["transfer_kind"] or "").replace("_", " "))
        out.append(row)
    return out


def _page_row(row: dict) -> dict:
    out = dict(row)
    for field, (col, scale) in COLUMNS.items():
        v = row.get(col)
        out[field] = None if v is None else (v * scale if scale != 1 else v)
    return out


def headline_year(rows: list[dict]) -> dict | None:
    """The year a council's headline speaks of: its latest year with M3 (9+ months, an outturn), else
    its latest rankable year (M2 only), else its latest year (partial or card-only: no share)."""
    real = [r for r in rows if r.get("financial_year") not in (None, "", "unknown")]
    for test in (lambda r: r.get("rankable") and r.get("m3_pct") is not None,
                 lambda r: r.get("rankable") and r.get("m2_pct") is not None,
                 lambda r: True):
        found = [r for r in real if test(r)]
        if found:
            return max(found, key=lambda r: r["financial_year"])
    return None


def _pct(v: float) -> str:
    return f"{v:.0f}%" if v >= 9.5 else f"{v:.1f}%"


def headline(row: dict | None, name: str) -> dict:
    """The one sentence for a council-year (``row`` from :func:`council_years`), with its parts.

    ``measure`` is ``M3``, ``M2`` or ``None`` (no share given); ``text`` is plain text (the template
    escapes it); ``low_confidence`` says how much of the external £ rests on answers below 0.6.
    """
    if row is None:
        return {"measure": None, "year": None, "text": f"We hold no dated payments for {name} yet.", "parts": []}
    year = row["financial_year"]
    months = row.get("months") or 0
    tail = (f" {money(row.get('unknown_pence') or 0)} could not be classified and "
            f"{money(row.get('redacted_pence') or 0)} was redacted.")
    if not row.get("rankable"):
        what = "only purchase-card payments" if row.get("card_only") else "a partial year"
        text = (f"For {year} we hold {what} for {name} ({months} month{'s' if months != 1 else ''} of dated "
                f"payments): too little to say what share of its spending went to outside organisations.")
        return {"measure": None, "year": year, "coverage": row.get("coverage"), "text": text, "parts": []}
    if row.get("m3_pct") is not None:
        measure, pct, den = "M3", row["m3_pct"], row.get("m3_denominator_pence")
        scale = 12 / months if row.get("annualised") and months else 1
        opening = f"In {year}, about {_pct(pct)} of {name}'s spending on services went to outside organisations"
    else:
        measure, pct, den, scale = "M2", row["m2_pct"], row.get("m2_denominator_pence"), 1
        opening = (f"In {year}, about {_pct(pct)} of the money {name} paid out for its services (leaving out "
                   f"transfers such as tax, pension contributions and levies) paid outside organisations to "
                   f"deliver services")
    parts = []
    for sector, words in SECTOR_WORDS.items():
        pence = row.get(f"external_{sector}_pence") or 0
        share = 100 * pence * scale / den if den else 0
        if share >= MIN_PART_PCT:
            parts.append({"sector": sector, "words": words, "pct": share})
    parts.sort(key=lambda p: -p["pct"])
    listed = ", ".join(f"{p['words']} ({_pct(p['pct'])})" for p in parts)
    text = opening + (f": mostly {listed}." if parts else ".")
    if measure == "M2":
        text += f" The share of all its service spending (M3) needs the government's outturn figures for {year}."
    if row.get("annualised"):
        text += f" We hold {months} months of payments and scale them to a year."
    text += tail
    low = row.get("low_confidence_pence") or 0
    external = row.get("external_pence") or 0
    low_share = 100 * low / external if external > 0 else 0
    if external > 0 and low > 0:
        text += (f" {money(low)} of the {money(external)} paid to outside organisations ({_pct(low_share)}) "
                 f"rests on a classification we are not sure of.")
    elif external > 0:
        text += f" None of the {money(external)} paid to outside organisations rests on an unsure classification."
    return {"measure": measure, "year": year, "pct": pct, "parts": parts, "coverage": row.get("coverage"),
            "low_confidence_pence": low, "low_confidence_pct": low_share, "text": text}


async def league(db) -> dict:
    """Councils for the home page's league table.

    Ranked: councils whose headline year has M3, by M3 (a year of 9+ months, not card-only). Then,
    unranked, councils whose latest rankable year has no outturn figure yet (by M2), then councils
    with only a partial or card-only year: they are listed, never ranked.
    """
    tables = set(await db.table_names())
    councils = [dict(r) for r in (await db.execute(
        "select c.council_id, c.name, c.council_type, q.quality_score, q.months_covered from councils c "
        "left join council_quality q using (council_id) order by c.name")).rows]
    totals = {r["council_id"]: r["pence"] for r in (await db.execute(
        "select council_id, sum(total_pence) pence from council_year_sector group by 1")).rows}
    by_council: dict[str, list[dict]] = {}
    if MEASURES_TABLE in tables:
        # Only the columns the table and the headline use: reading all ~50 measure columns of every
        # council-year was most of the home page's time.
        present = set(await db.table_columns(MEASURES_TABLE))
        wanted = ["council_id", "financial_year", *(c for c, _ in COLUMNS.values() if c in present),
                  *(f"external_{s}_pence" for s in SECTOR_WORDS if f"external_{s}_pence" in present)]
        cols = ", ".join(f"[{c}]" for c in dict.fromkeys(wanted))
        result = await db.execute(f"select {cols} from {MEASURES_TABLE} "
                                  "where financial_year is not null and financial_year != 'unknown'")
        for r in result.rows:
            row = _page_row(dict(r))
            by_council.setdefault(row["council_id"], []).append(row)
    rows = []
    for c in councils:
        if c["council_id"] not in totals:
            continue
        m = headline_year(by_council.get(c["council_id"], [])) or {}
        group = 0 if (m.get("rankable") and m.get("m3_pct") is not None) else 1 if m.get("rankable") else 2
        rows.append({**c, "total_pence": totals[c["council_id"]], "financial_year": m.get("financial_year"),
                     "m2_pct": m.get("m2_pct"), "m3_pct": m.get("m3_pct"), "months": m.get("months"),
                     "complete": m.get("complete"), "coverage": m.get("coverage"), "group": group,
                     "headline": headline(m or None, c["name"])["text"]})
    rows.sort(key=lambda r: (r["group"], -(r["m3_pct"] if r["group"] == 0 else (r["m2_pct"] or 0)), r["name"]))
    rank = 0
    for r in rows:
        r["rank"] = (rank := rank + 1) if r["group"] == 0 else None
    return {"available": MEASURES_TABLE in tables, "rows": rows, "ranked": rank}
