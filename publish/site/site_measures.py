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
    "unknown_payee_pence": ("m1_unknown_pence", 1),
    "unknown_group_pence": ("unknown_group_only_pence", 1),
    "rows": ("rows", 1),
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
#: A year with no financial year (undated rows): listed on its own line, never plotted, ranked or headlined.
UNDATED = "unknown"
#: Expense groups a service is bought with (SeRCOP subjective groups; transfers, capital, financing,
#: income and unknown left out): the groups that can tell "paid someone to deliver" from the rest.
REVENUE_GROUPS = (
    "employees",
    "premises",
    "transport",
    "supplies_services",
    "third_party_payments",
    "support_services",
)
#: M2 and M3 need the "third party payments" group; below this share of the revenue groups' £ a
#: council's expense types (e.g. only "Premises", "Supplies and Services") cannot tell it apart.
MIN_THIRD_PARTY_SHARE = 0.02
CANT_TELL = "can't tell from this council's categories"


def latest_year(years) -> str | None:
    real = sorted(y for y in years if y and y != "unknown")
    return real[-1] if real else None


_MISSING = object()


def is_dated(year: str | None) -> bool:
    return bool(year) and year != UNDATED


async def third_party_shares(db, council_id: str | None = None) -> dict[tuple[str, str], float | None]:
    """``(council_id, financial_year)`` -> third-party £ over revenue-group £ (None: no revenue groups),
    from ``summary_group`` (a summary table: a few rows per council-year)."""
    if "summary_group" not in set(await db.table_names()):
        return {}
    groups = ", ".join(f"'{g}'" for g in REVENUE_GROUPS)
    where = "where council_id = :c" if council_id else ""
    result = await db.execute(
        f"""
        select council_id, financial_year,
               sum(case when sercop_group = 'third_party_payments' then amount_pence else 0 end) third,
               sum(case when sercop_group in ({groups}) then amount_pence else 0 end) known
        from summary_group {where} group by 1, 2""",
        {"c": council_id} if council_id else {},
    )
    return {
        (r["council_id"], r["financial_year"]): (
            r["third"] / r["known"] if r["known"] and r["known"] > 0 else None
        )
        for r in result.rows
    }


def mark_measurable(row: dict, shares: dict[tuple[str, str], float | None]) -> dict:
    """Blank M2/M3 (and say why) where the council's categories cannot tell third-party spending apart
    (docs/methodology.md, "When M2 can't be measured"). A year missing from ``summary_group`` (an older
    database) keeps its figures."""
    share = shares.get((row.get("council_id"), row.get("financial_year")), _MISSING)
    ok = share is _MISSING or (share is not None and share >= MIN_THIRD_PARTY_SHARE)
    row["measurable"] = ok
    if not ok:
        row["m2_pct"] = row["m3_pct"] = None
        row["m2_note"] = CANT_TELL
    return row


async def council_years(db, council_id: str) -> dict:
    """Every dated measures row for one council (``m2_pct``/``m3_pct``/``months`` added), and the undated
    row on its own (``undated``): it is never plotted, ranked or headlined."""
    if MEASURES_TABLE not in set(await db.table_names()):
        return {"available": False, "columns": [], "rows": [], "undated": None}
    result = await db.execute(
        f"select * from {MEASURES_TABLE} where council_id = :c order by financial_year", {"c": council_id}
    )
    shares = await third_party_shares(db, council_id)
    rows = [mark_measurable(_page_row(dict(r)), shares) for r in result.rows]
    undated = next((r for r in rows if not is_dated(r["financial_year"])), None)
    return {
        "available": True,
        "columns": list(result.columns),
        "undated": undated,
        "rows": [r for r in rows if is_dated(r["financial_year"])],
    }


def undated_line(pence: int | None, payments: int | None) -> str | None:
    """The plain line for money without a usable date ("£14.2m in 3,836 payments has no usable date")."""
    if not payments:
        return None
    return (
        f"{money(pence or 0)} in {payments:,} payment{'s' if payments != 1 else ''} has no usable date: "
        f"it is counted in no financial year."
    )


async def council_transfers(db, council_id: str) -> list[dict]:
    """The council's transfers, by year, kind and payee, biggest first within a year."""
    if TRANSFERS_TABLE not in set(await db.table_names()):
        return []
    result = await db.execute(
        f"""
        select t.financial_year, t.transfer_kind, t.supplier_id, s.name, t.payments, t.total_pence
        from {TRANSFERS_TABLE} t left join suppliers s on s.supplier_id = t.supplier_id
        where t.council_id = :c order by t.financial_year desc, t.total_pence desc""",
        {"c": council_id},
    )
    out = []
    for r in result.rows:
        row = dict(r)
        row["kind_words"] = TRANSFER_WORDS.get(
            row["transfer_kind"], (row["transfer_kind"] or "").replace("_", " ")
        )
        out.append(row)
    return out


def _page_row(row: dict) -> dict:
    out = dict(row)
    for field, (col, scale) in COLUMNS.items():
        v = row.get(col)
        out[field] = None if v is None else (v * scale if scale != 1 else v)
    return out


def headline_year(rows: list[dict]) -> dict | None:
    """The year a council's headline speaks of: its latest year with M3 (9+ months, an outturn), else its
    latest rankable year with M2, else its year with the most months (the latest of those).

    Never the undated year; never a card-only year while any other year exists (three stray card lines in
    a later year, or a card-only latest year, said nothing about the council's spending).
    """
    real = [r for r in rows if is_dated(r.get("financial_year"))]
    real = [r for r in real if not r.get("card_only")] or real
    for test in (
        lambda r: r.get("rankable") and r.get("m3_pct") is not None,
        lambda r: r.get("rankable") and r.get("m2_pct") is not None,
    ):
        found = [r for r in real if test(r)]
        if found:
            return max(found, key=lambda r: r["financial_year"])
    return max(real, key=lambda r: (r.get("months") or 0, r["financial_year"])) if real else None


def unclassified_words(row: dict) -> str:
    """What we could not classify, in words: the payee part is M1's "unknown"; the expense-type part is
    money to a known payee whose expense type we could not place. M2 and M3 leave both out."""
    payee = row.get("unknown_payee_pence")
    group = row.get("unknown_group_pence")
    if payee is None and group is None:  # an older database: only the total M2 leaves out
        unknown = f" {money(row.get('unknown_pence') or 0)} could not be classified"
    else:
        unknown = (
            f' {money(payee or 0)} went to payees we could not identify ("unknown" in who gets the '
            f"money) and {money(group or 0)} to known payees under an expense type we could not place"
        )
    return f"{unknown}; {money(row.get('redacted_pence') or 0)} was redacted."


def _low_confidence(row: dict) -> tuple[int, float, str]:
    """How much of the external £ rests on an unsure classification: pence, share, and in words."""
    low = row.get("low_confidence_pence") or 0
    external = row.get("external_pence") or 0
    low_share = 100 * low / external if external > 0 else 0
    if external > 0 and low > 0:
        return (
            low,
            low_share,
            (
                f" {money(low)} of the {money(external)} paid to outside organisations "
                f"({_pct(low_share)}) rests on a classification we are not sure of."
            ),
        )
    if external > 0:
        return (
            low,
            low_share,
            (
                f" None of the {money(external)} paid to outside organisations rests on an "
                "unsure classification."
            ),
        )
    return low, low_share, ""


def _pct(v: float) -> str:
    return f"{v:.0f}%" if v >= 9.5 else f"{v:.1f}%"


def headline(row: dict | None, name: str) -> dict:
    """The one sentence for a council-year (``row`` from :func:`council_years`), with its parts.

    ``measure`` is ``M3``, ``M2`` or ``None`` (no share given); ``text`` is plain text (the template
    escapes it); ``low_confidence`` says how much of the external £ rests on answers below 0.6.
    """
    if row is None:
        return {
            "measure": None,
            "year": None,
            "text": f"We hold no dated payments for {name} yet.",
            "parts": [],
        }
    year = row["financial_year"]
    months = row.get("months") or 0
    tail = unclassified_words(row)
    if row.get("m2_note"):
        text = (
            f'For {year} {name}\'s expense types (such as "supplies and services") almost never say when a '
            f"payment bought a service from someone else, so we can't tell from this council's categories "
            f"what share of its spending went to outside organisations."
        )
        return {"measure": None, "year": year, "coverage": row.get("coverage"), "text": text, "parts": []}
    if not row.get("rankable"):
        what = "only purchase-card payments" if row.get("card_only") else "a partial year"
        text = (
            f"For {year} we hold {what} for {name} ({months} month{'s' if months != 1 else ''} of dated "
            f"payments): too little to say what share of its spending went to outside organisations."
        )
        return {"measure": None, "year": year, "coverage": row.get("coverage"), "text": text, "parts": []}
    if row.get("m3_pct") is not None:
        measure, pct, den = "M3", row["m3_pct"], row.get("m3_denominator_pence")
        scale = 12 / months if row.get("annualised") and months else 1
        opening = (
            f"In {year}, about {_pct(pct)} of {name}'s spending on services went to outside organisations"
        )
    else:
        measure, pct, den, scale = "M2", row["m2_pct"], row.get("m2_denominator_pence"), 1
        opening = (
            f"In {year}, about {_pct(pct)} of the money {name} paid out for its services (leaving out "
            f"transfers such as tax, pension contributions and levies) paid outside organisations to "
            f"deliver services"
        )
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
        text += (
            f" The share of all its service spending (M3) needs the government's outturn figures for {year}."
        )
    if row.get("annualised"):
        text += f" We hold {months} months of payments and scale them to a year."
    text += tail
    low, low_share, words = _low_confidence(row)
    text += words
    return {
        "measure": measure,
        "year": year,
        "pct": pct,
        "parts": parts,
        "coverage": row.get("coverage"),
        "low_confidence_pence": low,
        "low_confidence_pct": low_share,
        "text": text,
    }


async def league(db) -> dict:
    """Councils for the home page's league table.

    Ranked: only councils whose headline year has M3 (9+ months, not card-only, an outturn, categories
    that can say "third party"), by M3. Every other council follows, unranked, with why
    (``unranked_because``): a usable year without an outturn (by M2), a partial or card-only year, or
    a year whose categories can't tell.
    """
    tables = set(await db.table_names())
    councils = [
        dict(r)
        for r in (
            await db.execute(
                "select c.council_id, c.name, c.council_type, q.quality_score, q.months_covered from councils c "
                "left join council_quality q using (council_id) order by c.name"
            )
        ).rows
    ]
    totals = {
        r["council_id"]: r["pence"]
        for r in (
            await db.execute("select council_id, sum(total_pence) pence from council_year_sector group by 1")
        ).rows
    }
    by_council: dict[str, list[dict]] = {}
    if MEASURES_TABLE in tables:
        # Only the columns the table and the headline use: reading all ~50 measure columns of every
        # council-year was most of the home page's time.
        present = set(await db.table_columns(MEASURES_TABLE))
        wanted = [
            "council_id",
            "financial_year",
            *(c for c, _ in COLUMNS.values() if c in present),
            *(f"external_{s}_pence" for s in SECTOR_WORDS if f"external_{s}_pence" in present),
        ]
        cols = ", ".join(f"[{c}]" for c in dict.fromkeys(wanted))
        result = await db.execute(
            f"select {cols} from {MEASURES_TABLE} "
            "where financial_year is not null and financial_year != 'unknown'"
        )
        shares = await third_party_shares(db)
        for r in result.rows:
            row = mark_measurable(_page_row(dict(r)), shares)
            by_council.setdefault(row["council_id"], []).append(row)
    rows = []
    for c in councils:
        if c["council_id"] not in totals:
            continue
        m = headline_year(by_council.get(c["council_id"], [])) or {}
        group = 0 if (m.get("rankable") and m.get("m3_pct") is not None) else 1 if m.get("rankable") else 2
        rows.append(
            {
                **c,
                "total_pence": totals[c["council_id"]],
                "financial_year": m.get("financial_year"),
                "m2_pct": m.get("m2_pct"),
                "m3_pct": m.get("m3_pct"),
                "months": m.get("months"),
                "complete": m.get("complete"),
                "coverage": m.get("coverage"),
                "group": group,
                "m2_note": m.get("m2_note"),
                "unranked_because": _unranked_because(m),
                "headline": headline(m or None, c["name"])["text"],
            }
        )
    # Only rows with the headline measure (M3) are ranked; the rest follow, by M2 then name, unranked.
    rows.sort(
        key=lambda r: (r["group"], -(r["m3_pct"] if r["group"] == 0 else (r["m2_pct"] or 0)), r["name"])
    )
    rank = 0
    for r in rows:
        r["rank"] = (rank := rank + 1) if r["group"] == 0 else None
    return {"available": MEASURES_TABLE in tables, "rows": rows, "ranked": rank}


def _unranked_because(m: dict) -> str | None:
    """Why a league row has no rank, in a few words (None when it is ranked)."""
    if not m:
        return "no dated payments"
    if m.get("m2_note"):
        return m["m2_note"]
    if m.get("rankable") and m.get("m3_pct") is None:
        return f"no outturn figure (M3) for {m['financial_year']}"
    if m.get("rankable"):
        return None
    return m.get("coverage") or "too little data"
