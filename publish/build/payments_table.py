"""pandas helpers of the published tables: financial years of dates, frames as sqlite3 rows.

The payments themselves are shaped in Arrow by ``publish/build/payment_rows.py``.
"""

from __future__ import annotations

import pandas as pd


def financial_year(dates: pd.Series) -> pd.Series:
    """``2024-25`` for any date from 1 April 2024 to 31 March 2025; NA when the date is unknown."""
    d = pd.to_datetime(dates, errors="coerce")
    start = d.dt.year - (d.dt.month < 4).astype("Int64")
    out = (
        start.astype("Int64").astype("string")
        + "-"
        + ((start + 1) % 100).astype("Int64").astype("string").str.zfill(2)
    )
    return out.where(d.notna(), pd.NA)


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
