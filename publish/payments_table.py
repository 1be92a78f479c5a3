"""Turn enriched canonical rows into rows of the published ``payments`` table.

Money becomes integer pence (sums of REAL pounds drift: 102444517.64000027), the April–March
financial year is derived once here, and individuals' names are replaced before anything is written.
"""

from __future__ import annotations

import re

import pandas as pd

from publish.enrich import WITHHELD_NAME
from publish.tables import columns

PAYMENT_COLUMNS = columns("payments")


def iso_dates(s: pd.Series) -> pd.Series:
    """Any date-ish column (date objects, datetime64, ISO strings) as ``YYYY-MM-DD`` strings or NA."""
    d = pd.to_datetime(s, errors="coerce", format="mixed") if s.dtype == object else pd.to_datetime(
        s, errors="coerce")
    return d.dt.strftime("%Y-%m-%d").astype("string")


def financial_year(dates: pd.Series) -> pd.Series:
    """``2024-25`` for any date from 1 April 2024 to 31 March 2025; NA when the date is unknown."""
    d = pd.to_datetime(dates, errors="coerce")
    start = d.dt.year - (d.dt.month < 4).astype("Int64")
    out = start.astype("Int64").astype("string") + "-" + ((start + 1) % 100).astype("Int64").astype(
        "string").str.zfill(2)
    return out.where(d.notna(), pd.NA)


def to_pence(amount: pd.Series) -> pd.Series:
    return (pd.to_numeric(amount, errors="coerce") * 100).round().astype("Int64")


def _scrub(description: object, name: object) -> object:
    """Remove an individual's name from a free-text description (case-insensitive)."""
    if not isinstance(description, str) or not isinstance(name, str) or not name.strip():
        return description
    return re.sub(re.escape(name.strip()), "[name withheld]", description, flags=re.IGNORECASE)


def published_payments(rows: pd.DataFrame, first_id: int) -> pd.DataFrame:
    """Published ``payments`` columns for enriched rows; ids run from ``first_id``."""
    out = pd.DataFrame(index=rows.index)
    out["id"] = range(first_id, first_id + len(rows))
    out["council_id"] = rows["council_id"].astype("string")
    out["payment_date"] = iso_dates(rows["payment_date"])
    out["date_precision"] = rows["date_precision"].astype("string")
    when = out["payment_date"].fillna(iso_dates(rows["period_start"]))
    out["financial_year"] = financial_year(when)
    out["amount_pence"] = to_pence(rows["amount"])
    out["amount_gbp"] = (out["amount_pence"].astype("Float64") / 100).round(2)
    out["supplier_id"] = rows["supplier_id"].astype("string")
    ind = rows["is_individual"].astype(bool)
    out["supplier_name"] = rows["supplier_name"].astype("string").mask(ind, WITHHELD_NAME)
    out["sector"] = rows["sector"].astype("string")
    out["is_redacted"] = rows["is_redacted"].fillna(False).astype(bool).astype(int)
    out["redaction_reason"] = rows["redaction_reason"].astype("string")
    for col in ("expense_type", "sercop_group", "service_area", "sercop_division", "directorate",
                "transaction_ref", "capital_revenue"):
        out[col] = rows[col].astype("string")
    desc = rows["description"].astype(object)
    if ind.any():
        desc = desc.copy()
        desc[ind] = [_scrub(d, n) for d, n in zip(desc[ind], rows.loc[ind, "supplier_name"], strict=True)]
    out["description"] = desc.astype("string")
    out["is_card"] = rows["is_card"].fillna(False).astype(bool).astype(int)
    out["source_sha256"] = rows["source_sha256"].astype("string")
    out["source_row"] = pd.to_numeric(rows["source_row"], errors="coerce").astype("Int64")
    return out[PAYMENT_COLUMNS]


def as_tuples(df: pd.DataFrame):
    """Rows as plain Python tuples with ``None`` for missing values (what sqlite3 wants).

    Column by column (``tolist`` then ``zip``) is about twice as fast as ``itertuples`` on a frame
    converted to object, and this runs once per payment row.
    """
    cols = []
    for name in df.columns:
        s = df[name]
        if s.dtype.kind in "iuf" and not s.hasnans:  # plain numpy numbers: no missing values to map
            cols.append(s.tolist())
        else:
            cols.append(s.astype(object).where(s.notna(), None).tolist())
    return zip(*cols, strict=True)
