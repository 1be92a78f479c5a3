"""One table (a CSV, a sheet, a ZIP member) -> canonical rows + what the report needs.

Steps, each a function below: header (two-line headers merged) -> columns -> lines that are not
payments skipped with their reason (blank padding, repeated headers, the file's own totals, junk) ->
amounts (exact pence) and fused cells repaired -> unreadable amounts rejected and listed -> council
from a column -> dates -> kind (card by a majority of rows) -> redaction -> rows.

*Skipped* lines are not payments and say nothing bad about the file; *rejected* rows are payments
whose amount cannot be read, and are an error an officer must fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from normalise import council as council_mod
from normalise import kinds as kinds_mod
from normalise.amounts import amount_error, parse_pence
from normalise.canonical import build_rows
from normalise.columns import ColumnMap, map_columns
from normalise.dates import Dates, find_period, parse_date_codes
from normalise.header import find_header, merge_two_line_header, preamble_lines, threshold_from
from normalise.readers import RawTable
from normalise.redaction import detect as detect_redaction
from normalise.rows import blank_mask, clean_cells, filled, repair_fused, total_row_mask

ROW_KINDS = ("payments", "card")
MAX_ERRORS_LISTED = 200
# Why a line is not a payment: the report's ``skipped`` keys, in the order `check` names them.
SKIP_BLANK = "blank padding"
SKIP_HEADER = "repeated header"
SKIP_TOTAL = "total"
SKIP_JUNK = "no amount, payee or date"
_DATE_CHARS = re.compile(r"^[\d/\-. :A-Za-z]*$")
_PAYMENT_SIGNS = ("supplier_name", "payment_date", "period", "transaction_ref", "invoice_ref")


@dataclass
class TableResult:
    """One table's rows (None when it yields none), amounts in pence, kind and report facts."""

    rows: pd.DataFrame | None
    pence: np.ndarray
    kind: str
    kind_reason: str
    info: dict = field(default_factory=dict)


@dataclass
class _Work:
    """A table between steps: its cells below the header, their line numbers and what is known."""

    data: pd.DataFrame
    lines: np.ndarray
    labels: list[str]
    cmap: ColumnMap
    info: dict
    cells_filled: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))

    @property
    def width(self) -> int:
        return len(self.labels)

    def col(self, fld: str) -> pd.Series | None:
        c = self.cmap.field_to_col.get(fld)
        return None if c is None else self.data[c]

    def keep(self, keep: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
        """Keep these rows in data, lines, the filled-cells matrix and any row-aligned arrays."""
        self.data, self.lines = _take(self.data, keep), self.lines[keep]
        if len(self.cells_filled) == len(keep):
            self.cells_filled = self.cells_filled[keep]
        return [a[keep] for a in arrays]

    def skip(self, mask: np.ndarray, reason: str) -> None:
        """Lines that are not payments: counted under their reason, then dropped."""
        if mask.any():
            skipped = self.info["skipped"]
            skipped[reason] = skipped.get(reason, 0) + int(mask.sum())
            self.keep(~mask)


def normalise_table(
    table: RawTable, name: str, sha256: str, council_id: str | None, registry: list[dict] | None
) -> TableResult:
    """Normalise one table. Raises HeaderError when no row looks like a header."""
    work = _header(table, council_id)
    _fit_to_header(work)
    _skip_blank_and_headers(work)
    kind, kind_reason = kinds_mod.kind_from_header(work.cmap)
    amount_col = work.cmap.field_to_col.get("amount")
    if amount_col is None:
        work.info["data_rows"] = len(work.data)
        return TableResult(None, np.zeros(0, np.int64), kind or "not_spend", kind_reason, work.info)
    pence, ok = _amounts(work, amount_col)
    pence = _reject_unreadable(work, amount_col, pence, ok)
    gss, how = council_mod.identify_from_columns(work.col("body"), work.col("body_name"), registry)
    work.info["council_from_content"], work.info["council_evidence"] = gss, how
    dates = _dates(work, name)
    if kind is None:
        kind, kind_reason = _kind_from_rows(work, pence)
    supplier = work.col("supplier_name")
    supplier = supplier if supplier is not None else pd.Series([""] * len(work.data), dtype=object)
    _stats(work, supplier, dates)
    if kind not in ROW_KINDS:
        return TableResult(None, pence, kind, kind_reason, work.info)
    rows = build_rows(
        work.data, work.lines, pence, dates, work.cmap, supplier, sha256, table.sheet, kind, work.info
    )
    return TableResult(rows, pence, kind, kind_reason, work.info)


def _header(table: RawTable, council_id: str | None) -> _Work:
    """Find the header (merging a two-line header), map its labels, and cut the cells below it."""
    cells = table.cells
    h = find_header(cells)
    labels, first, last = merge_two_line_header(cells, h)
    while labels and not labels[-1].strip():
        labels.pop()  # empty trailing header cells (Tameside has 24)
    info: dict = {
        "sheet": table.sheet,
        "encoding": table.encoding,
        "header_row": int(table.line_numbers[first]),
        "preamble": preamble_lines(cells, first),
        "repairs": list(table.repairs),
        "warnings": list(table.warnings),
        "skipped": {},
    }
    if last > first:
        info["header_lines"] = [int(table.line_numbers[first]), int(table.line_numbers[last])]
    cmap = map_columns(labels, council_id)
    info["columns"] = cmap.as_report()
    data = clean_cells(cells.iloc[last + 1 :].reset_index(drop=True), table.ascii)
    info["rows_read"] = len(data)
    return _Work(data, table.line_numbers[last + 1 :], labels, cmap, info)


def _fit_to_header(work: _Work) -> None:
    """Cells beyond the header, and unlabelled columns that carry values: reported, not used."""
    data, width = work.data, work.width
    cells_filled = filled(data)
    beyond = cells_filled[:, width:].any(axis=1) if data.shape[1] > width else np.zeros(len(data), bool)
    if beyond.any():
        sample = data.loc[beyond, width].value_counts().head(3).index.tolist()
        work.info["warnings"].append(
            f"{int(beyond.sum())} rows have cells beyond the {width} header columns (ignored; e.g. {sample})"
        )
    for c in range(min(width, data.shape[1])):
        if not work.labels[c].strip() and cells_filled[:, c].any():
            work.info["warnings"].append(f"column {c + 1} has no header but holds values (ignored)")
    if width < data.shape[1] or list(data.columns) != list(range(data.shape[1])):
        work.data = data[list(range(width))] if width <= data.shape[1] else data
    work.cells_filled = cells_filled[:, : work.data.shape[1]]


def _skip_blank_and_headers(work: _Work) -> None:
    """Blank rows (all cells empty) and rows repeating the header (concatenated exports)."""
    data, width = work.data, work.width
    blank = blank_mask(data, work.cells_filled)
    work.info["blank_rows"] = int(blank.sum())
    clean_labels = [" ".join(lab.replace("\xa0", " ").split()) for lab in work.labels]
    repeated = np.zeros(len(data), dtype=bool)
    first = next((c for c, lab in enumerate(clean_labels) if lab), None)
    if width > 1 and first is not None and first < data.shape[1]:
        repeated |= (data[first] == clean_labels[first]).to_numpy(dtype=bool)
    for i in np.flatnonzero(repeated):
        repeated[i] = [str(v) for v in data.iloc[i].tolist()[:width]] == clean_labels[: data.shape[1]]
    if repeated.any():
        work.info["repeated_header_rows"] = work.lines[repeated][:10].tolist()
    work.skip(blank, SKIP_BLANK)
    work.skip(repeated[~blank], SKIP_HEADER)


def _amounts(work: _Work, amount_col: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact pence per row; the file's own total lines skipped; fused cells repaired."""
    pence, ok = parse_pence(work.data[amount_col])
    totals = total_row_mask(work.data, amount_col, ok, work.cells_filled)
    work.info["total_rows"] = [
        {"row": int(work.lines[i]), "amount_pence": int(pence[i])} for i in np.flatnonzero(totals)
    ]
    if totals.any():
        work.info["skipped"][SKIP_TOTAL] = int(totals.sum())
        pence, ok = work.keep(~totals, pence, ok)
    date_col = _date_col(work.cmap)
    malformed: list[int] = []
    if date_col is not None:
        data = work.data
        odd_date, empty_date = _odd_dates(data[date_col])
        candidates = (~ok | odd_date) & ~empty_date
        candidates |= ~ok
        if candidates.any():
            malformed = repair_fused(data, candidates, work.width, date_col, amount_col)
    if malformed:
        idx = np.array(malformed)
        pence[idx], ok[idx] = parse_pence(work.data.loc[idx, amount_col])
        work.info["repairs"].append(
            {
                "repair": "cells run together (a fixed-width date fused with its neighbour) split",
                "count": len(malformed),
                "rows": [int(work.lines[i]) for i in malformed],
            }
        )
    work.info["malformed_rows"] = len(malformed)
    work.info["malformed_row_numbers"] = [int(work.lines[i]) for i in malformed]
    return pence, ok


def _odd_dates(date_text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Row masks: date cells with characters no date has or too long to be one, and empty cells.
    Tested once per distinct text (a column of dates holds a few dozen), with Python's re: what
    pandas' ``str.match`` answers for this pattern on any text (it hands RE2 only text where the two
    agree: ASCII without newlines)."""
    codes, uniques = pd.factorize(date_text)
    if (codes < 0).any():  # a missing cell: test the column itself
        odd = ~date_text.str.match(_DATE_CHARS.pattern) | (date_text.str.len() > 19)
        return odd.to_numpy(dtype=bool), (date_text == "").to_numpy(dtype=bool)
    texts = uniques.tolist()
    odd = np.array([_DATE_CHARS.match(t) is None or len(t) > 19 for t in texts], dtype=bool)
    return odd[codes], np.array([t == "" for t in texts], dtype=bool)[codes]


def _date_col(cmap: ColumnMap) -> int | None:
    """The payment date column, else a ``Period`` column (``201009``: a month, not a day)."""
    date_col = cmap.field_to_col.get("payment_date")
    return cmap.field_to_col.get("period") if date_col is None else date_col


def _reject_unreadable(work: _Work, amount_col: int, pence: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Lines with no readable amount: junk (nothing that makes a payment) is skipped; the others are
    payments whose amount cannot be read, rejected and listed."""
    signs = [c for f in _PAYMENT_SIGNS if (c := work.cmap.field_to_col.get(f)) is not None]
    positions = [list(work.data.columns).index(c) for c in signs]
    if positions:
        junk = ~ok & ~work.cells_filled[:, positions].any(axis=1)
        if junk.any():
            work.info["skipped"][SKIP_JUNK] = int(junk.sum())
            pence, ok = work.keep(~junk, pence, ok)
    work.info["data_rows"] = len(work.data)
    errors: list[dict] = []
    amount_label = work.labels[amount_col]
    for i in np.flatnonzero(~ok)[:MAX_ERRORS_LISTED]:
        raw = work.data.at[i, amount_col]
        error = amount_error(raw)
        errors.append({"row": int(work.lines[i]), "field": amount_label, "error": error, "value": raw[:100]})
    work.info["errors"] = errors
    work.info["rows_rejected"] = int((~ok).sum())
    (pence,) = work.keep(ok, pence)
    return pence


def _dates(work: _Work, name: str) -> Dates:
    """Per-row dates (day, or a period); rows without one take the preamble's or file name's period."""
    info, date_col = work.info, _date_col(work.cmap)
    if date_col is not None:
        dates = parse_date_codes(work.data[date_col])
        bad = dates.rows_where("date_status", "invalid")
        room = max(0, MAX_ERRORS_LISTED - len(info["errors"]))
        for i in np.flatnonzero(bad)[:room]:
            info["errors"].append(
                {
                    "row": int(work.lines[i]),
                    "field": work.labels[date_col],
                    "error": "not a date (day first)",
                    "value": work.data.at[i, date_col][:100],
                }
            )
        info["date_errors"] = int(bad.sum())
        info["dates_time_only"] = int(dates.rows_where("date_status", "time_only").sum())
        info["dates_month_only"] = int(dates.rows_where("date_status", "period").sum())
    else:
        dates = parse_date_codes(pd.Series([""] * len(work.data), dtype=object))
        info["date_errors"] = 0
    if dates.rows_where("date_precision", "none").any():
        period = find_period(" ".join(info["preamble"])) or find_period(Path(name).stem)
        if period:
            # every row of an undated text is undated: filling the text's row fills them all
            undated = (dates.table["date_precision"] == "none").to_numpy(dtype=bool)
            dates.table.loc[undated, "date_precision"] = period[0]
            dates.table.loc[undated, "period_start"] = period[1]
            dates.table.loc[undated, "period_end"] = period[2]
            info["period_from"] = "preamble or file name"
    info["threshold"] = threshold_from([*info["preamble"], name])
    return dates


def _kind_from_rows(work: _Work, pence: np.ndarray) -> tuple[str, str]:
    """Card or payments, decided by the rows: a card column filled or flagged on most lines, or
    most lines small receipts. A column present on a few lines only flags those lines (is_card)."""
    n = len(work.data)
    share = kinds_mod.rules()["card_column_min_share"]
    merchant = work.col("merchant_category")
    if merchant is not None and n and (merchant != "").mean() >= share:
        label = work.cmap.label_of("merchant_category")
        return "card", f"purchase-card column {label!r} filled on most lines"
    flag = work.col("card_flag")
    if flag is not None and n and kinds_mod.card_rows(pd.Series([""] * n), None, flag).mean() >= share:
        return "card", f"most lines are flagged in {work.cmap.label_of('card_flag')!r}"
    if kinds_mod.looks_like_card_file(pence):
        return "card", "most lines are small card receipts (median under £100)"
    return "payments", "line-level payments"


def _stats(work: _Work, supplier: pd.Series, dates: Dates) -> None:
    """What the file-level report adds up over tables (suppliers, redaction, date range)."""
    is_red, why = detect_redaction(supplier, work.col("redaction_flag"))
    used = np.bincount(dates.codes, minlength=len(dates.table)) > 0  # the texts some row holds
    day_texts = used & (dates.table["date_precision"] == "day").to_numpy(dtype=bool)
    day = dates.table["payment_date"].to_numpy(dtype=object)[day_texts].tolist()
    work.info["_stats"] = {
        "suppliers": _distinct_filled(supplier),
        "redacted": is_red,
        "redaction_reason": why,
        "date_min": min(day) if len(day) else None,
        "date_max": max(day) if len(day) else None,
        "lines": work.lines,
    }


def _distinct_filled(s: pd.Series) -> set:
    """The column's distinct non-empty values (pyarrow's hash of the column when it has no nulls)."""
    arr = getattr(s.array, "_pa_array", None)
    if arr is None or arr.null_count:
        return set(s[s != ""].unique().tolist())
    return set(pc.unique(arr).to_pylist()) - {""}


def _take(data: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """The kept rows, renumbered from 0. Most files keep every row: then nothing is copied."""
    if keep.all():
        return data
    return data.loc[keep].reset_index(drop=True)
