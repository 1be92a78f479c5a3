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

_TOTAL_WORDS = [
    "total",
    "totals",
    "total:",
    "grand total",
    "grand total:",
    "sub total",
    "subtotal",
    "sub-total",
]
_FUSED_DATE = re.compile(r"(\d{2}/\d{2}/\d{4}|\d{4}-\d{2}-\d{2})")
_AMOUNT_TEXT = re.compile(r"^\(?-?£?\s*-?[\d,]*\.?\d+\)?-?$")
_FUSED_ANYWHERE = r"\S(?:\d{2}/\d{2}/\d{4}|\d{4}-\d{2}-\d{2})|(?:\d{2}/\d{2}/\d{4}|\d{4}-\d{2}-\d{2})\S"
_DAY_TEXT = re.compile(r"^(\d{2}/\d{2}/\d{4}|\d{4}-\d{2}-\d{2})$")


TEXT = pd.Series([""], dtype="str").dtype  # pandas' default text dtype (Arrow-backed, NaN missing)


def text_array(arr: pa.Array | pa.ChunkedArray) -> pd.api.extensions.ExtensionArray:
    """Wrap Arrow text as a pandas "str" array without copying: ``pd.array(arr, dtype="str")`` gives
    the same array but validates and converts first, which costs 3x more on every small column."""
    if pa.types.is_string(arr.type):
        arr = arr.cast(pa.large_string())
    return pd.arrays.ArrowStringArray(arr, dtype=TEXT)


def arrow(s: pd.Series | pd.api.extensions.ExtensionArray) -> pa.Array | pa.ChunkedArray:
    """The pyarrow array behind a Series (or array) of text (converting if it is not arrow-backed)."""
    arr = s.array if isinstance(s, pd.Series) else s
    if hasattr(arr, "_pa_array"):
        return arr._pa_array
    s = pd.Series(s) if not isinstance(s, pd.Series) else s
    return pa.array(s.astype(object).where(s.notna(), "").astype(str).tolist(), type=pa.large_string())


def map_unique(s: pd.Series, func) -> pd.Series:
    """Apply a pyarrow function to the distinct values only, then spread back. Council files repeat
    their text (service areas, expense types, suppliers), so this is 10-100x less work."""
    codes, uniques = pd.factorize(s)
    if not len(uniques):
        return s
    new = text_array(func(arrow(pd.Series(uniques))))
    return pd.Series(new.take(codes), index=s.index)


def mask_unique(s: pd.Series, func) -> np.ndarray:
    """A boolean pyarrow test evaluated once per distinct value."""
    codes, uniques = pd.factorize(s)
    if not len(uniques):
        return np.zeros(len(s), dtype=bool)
    hit = pc.fill_null(func(arrow(pd.Series(uniques))), False).to_numpy(zero_copy_only=False)
    return np.asarray(hit, dtype=bool)[codes]


def _clean(arr, ascii: bool = False):
    return pc.utf8_trim_whitespace(arr if ascii else pc.replace_substring(arr, "\xa0", " "))


def clean_cells(df: pd.DataFrame, ascii: bool = False) -> pd.DataFrame:
    """NBSP -> space and surrounding whitespace stripped, in every cell (one pass of two pyarrow
    kernels per column: cheaper than de-duplicating first). ``ascii``: the caller knows every cell is
    ASCII, so none holds a non-breaking space and the first kernel is skipped."""
    cleaned = {col: text_array(_clean(arrow(s), ascii)) for col, s in df.items()}
    return pd.DataFrame(cleaned, index=df.index, copy=False)  # new arrays: nothing to copy


def filled(df: pd.DataFrame) -> np.ndarray:
    """Boolean matrix (rows x columns): which cells are non-empty. One pyarrow kernel per column."""
    out = np.zeros((len(df), df.shape[1]), dtype=bool)
    for j, (_, s) in enumerate(df.items()):  # items(): no per-column label lookup
        lengths = pc.fill_null(pc.binary_length(arrow(s)), 0)  # bytes, from the offsets: no scan
        out[:, j] = np.asarray(lengths.to_numpy(zero_copy_only=False)) > 0
    return out


def blank_mask(df: pd.DataFrame, cells: np.ndarray | None = None) -> np.ndarray:
    """Rows whose every cell is empty (blank lines, ``,,,,,`` rows, NBSP-only garbage)."""
    cells = filled(df) if cells is None else cells
    return ~cells.any(axis=1)


def total_row_mask(
    df: pd.DataFrame, amount_col: int, amount_ok: np.ndarray, cells: np.ndarray | None = None
) -> np.ndarray:
    """Rows that carry only an amount, plus at most the word Total: the file's own total line.

    A supplier called "Total Gas & Power" is not a total row: only a cell that is exactly
    "Total"/"Grand total" is ignored when counting the row's other cells.
    """
    cells = filled(df) if cells is None else cells
    position = list(df.columns).index(amount_col)
    others = cells.sum(axis=1) - cells[:, position]
    candidates = np.flatnonzero(amount_ok & (others <= 1))
    mask = np.zeros(len(df), dtype=bool)
    if not len(candidates):
        return mask
    words = np.zeros(len(candidates), dtype=np.int64)  # cells that are just "Total"
    for col in df.columns:
        if col != amount_col:
            words += df[col].iloc[candidates].str.lower().isin(_TOTAL_WORDS).to_numpy(dtype=np.int64)
    mask[candidates] = others[candidates] == words
    return mask


def repair_fused(
    df: pd.DataFrame, candidates: np.ndarray, width: int, date_col: int, amount_col: int
) -> list[int]:
    """Split fused cells in the candidate rows, in place. Returns the positions repaired.

    Only rows flagged as candidates (date or amount did not parse) are looked at, so this Python
    loop runs over a handful of rows, not the file.
    """
    repaired: list[int] = []
    # only rows where some cell holds a date with something glued to it (vectorised pre-filter)
    fused = np.zeros(len(df), dtype=bool)
    for col in df.columns:
        hit = pc.match_substring_regex(arrow(df[col]), _FUSED_ANYWHERE)
        fused |= np.asarray(pc.fill_null(hit, False).to_numpy(zero_copy_only=False), dtype=bool)
    positions = np.flatnonzero(candidates & fused)
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
    """Runs of whitespace -> one space (pyarrow; the replacement runs once per distinct value, and
    not at all when no cell needs it)."""
    pattern = r"\s\s+|[\t\r\n]"
    if not pc.any(pc.match_substring_regex(arrow(s), pattern)).as_py():
        return s
    return map_unique(s, lambda a: pc.replace_substring_regex(a, pattern, " "))


def text_from_codes(values: list[str], codes: np.ndarray) -> pd.Series:
    """A text Series from distinct values and per-row codes, built in pyarrow (no Python objects
    per row). Code -1 means missing and gives ""."""
    table = pa.array(list(values) + [""], type=pa.large_string())
    idx = np.where(codes < 0, len(values), codes).astype(np.int64)
    return pd.Series(text_array(table.take(pa.array(idx))), copy=False)


def const_text(value: str, n: int) -> pd.Series:
    """The same text n times, built straight from Arrow buffers (a file's sha256, council, sheet)."""
    return pd.Series(const_array(value, n), copy=False)


def const_array(value: str, n: int) -> pd.api.extensions.ExtensionArray:
    """:func:`const_text` as the bare array (a column of a frame about to be built needs no Series)."""
    b = value.encode("utf-8")
    offsets = np.arange(n + 1, dtype=np.int64) * len(b)
    return text_array(pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(b * n)))


def text_column(values: np.ndarray) -> pd.Series:
    """A numpy array of Python strings (few distinct) -> text Series."""
    codes, uniques = pd.factorize(values)
    return text_from_codes([str(u) for u in uniques], codes)
