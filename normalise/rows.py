"""Row hygiene: blank rows, the file's own total rows, and repair of rows whose cells ran together.

Repairs never guess: a row is repaired only when one cell holds a fixed-width date
(``DD/MM/YYYY`` or ``YYYY-MM-DD``) fused with its neighbour (Lambeth: ``25/06/2012900`` is
``25/06/2012`` + ``900``) and splitting it puts a date in the date column and an amount in the
amount column without pushing any non-empty cell off the end of the row.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_TOTAL_WORDS = ["total", "totals", "total:", "grand total", "grand total:", "sub total", "subtotal", "sub-total"]
_FUSED_DATE = re.compile(r"(\d{2}/\d{2}/\d{4}|\d{4}-\d{2}-\d{2})")
_AMOUNT_TEXT = re.compile(r"^\(?-?£?\s*-?[\d,]*\.?\d+\)?-?$")
_DAY_TEXT = re.compile(r"^(\d{2}/\d{2}/\d{4}|\d{4}-\d{2}-\d{2})$")


def clean_cells(df: pd.DataFrame) -> pd.DataFrame:
    """NBSP -> space and surrounding whitespace stripped, in every cell (vectorised per column)."""
    out = {}
    for col in df.columns:
        s = df[col].astype(str)
        if s.str.contains("\xa0", regex=False).any():
            s = s.str.replace("\xa0", " ", regex=False)
        out[col] = s.str.strip()
    return pd.DataFrame(out, index=df.index)


def blank_mask(df: pd.DataFrame) -> np.ndarray:
    """Rows whose every cell is empty (blank lines, ``,,,,,`` rows, NBSP-only garbage)."""
    mask = np.ones(len(df), dtype=bool)
    for col in df.columns:
        mask &= (df[col] == "").to_numpy(dtype=bool)
    return mask


def total_row_mask(df: pd.DataFrame, amount_col: int, amount_ok: np.ndarray) -> np.ndarray:
    """Rows that carry only an amount, plus at most the word Total: the file's own total line.

    A supplier called "Total Gas & Power" is not a total row: only a cell that is exactly
    "Total"/"Grand total" is ignored when counting the row's other cells.
    """
    others = np.zeros(len(df), dtype=np.int64)
    for col in df.columns:
        if col == amount_col:
            continue
        s = df[col]
        filled = (s != "") & ~s.str.lower().isin(_TOTAL_WORDS)
        others += filled.to_numpy(dtype=np.int64)
    return amount_ok & (others == 0)


def repair_fused(
    df: pd.DataFrame, candidates: np.ndarray, width: int, date_col: int, amount_col: int
) -> list[int]:
    """Split fused cells in the candidate rows, in place. Returns the positions repaired.

    Only rows flagged as candidates (date or amount did not parse) are looked at, so this Python
    loop runs over a handful of rows, not the file.
    """
    repaired: list[int] = []
    positions = np.flatnonzero(candidates)
    if not len(positions):
        return repaired
    ncols = df.shape[1]
    columns = {c: df[c].to_numpy(dtype=object) for c in df.columns}
    for pos in positions:
        cells = [str(columns[c][pos]) for c in df.columns]
        fixed = _split_row(cells, width, date_col, amount_col)
        if fixed is not None:
            fixed = fixed + [""] * (ncols - len(fixed))
            for c, value in zip(df.columns, fixed, strict=True):
                columns[c][pos] = value
            repaired.append(int(pos))
    if repaired:
        for c in df.columns:
            df[c] = pd.array(columns[c], dtype="str")
    return repaired


def _split_row(cells: list[str], width: int, date_col: int, amount_col: int) -> list[str] | None:
    for j, cell in enumerate(cells):
        m = _FUSED_DATE.search(cell)
        if not m or (m.start() == 0 and m.end() == len(cell)):
            continue
        parts = [p for p in (cell[: m.start()], m.group(1), cell[m.end() :]) if p]
        new = cells[:j] + parts + cells[j + 1 :]
        if any(c != "" for c in new[width:]):
            continue  # splitting would push data off the end of the row: not this cell
        new = new[:width]
        if date_col < len(new) and amount_col < len(new):
            if _DAY_TEXT.match(new[date_col]) and _AMOUNT_TEXT.match(new[amount_col].replace(" ", "")):
                return new
    return None


def squash_spaces(s: pd.Series) -> pd.Series:
    """Runs of whitespace -> one space, in pyarrow (pandas falls back to Python for ``\\s+``)."""
    arr = s.array._pa_array if hasattr(s.array, "_pa_array") else pa.array(s.astype(str).tolist())
    if not pc.any(pc.match_substring_regex(arr, r"\s\s|[\t\r\n]")).as_py():
        return s
    return pd.Series(pd.array(pc.replace_substring_regex(arr, r"\s+", " "), dtype="str"), index=s.index)
