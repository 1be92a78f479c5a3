"""Canonical rows (Arrow) → rows of the published ``payments`` table (Arrow), a batch at a time.

Money becomes integer pence (sums of REAL pounds drift: 102444517.64000027), the April–March
financial year is derived once here, classifications are joined on by key (``councilspend/rowkeys.py``),
and individuals' names are replaced before anything is written. Whole columns at a time in
Arrow/numpy: a national build shapes 10 million rows, and per-row Python costs minutes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from councilspend import rowkeys as keys
from publish.build.enrich import WITHHELD_NAME
from publish.build.tables import columns

PAYMENT_COLUMNS = columns("payments")
PASS_THROUGH = ("date_precision", "redaction_reason", "expense_type", "service_area", "directorate",
                "transaction_ref", "capital_revenue")


@dataclass
class Lookups:
    """Classifications by key, built once from pass 1's classified distinct keys."""

    supplier_keys: pa.Array    # sorted by council, so that a batch looks up only its councils' payees
    council_bounds: dict[str, tuple[int, int]]
    supplier_id: pa.Array
    sector: pa.Array
    is_individual: pa.Array
    expense_keys: pa.Array
    expense_label: pa.Array
    service_keys: pa.Array
    service_label: pa.Array

    @classmethod
    def build(cls, suppliers: pd.DataFrame, categories: pd.DataFrame) -> Lookups:
        """``suppliers``/``categories``: ``publish.build.enrich.classify_*`` output (key columns as text)."""
        suppliers = suppliers.sort_values("council", kind="stable", ignore_index=True)
        councils = suppliers["council"].astype(str).to_numpy()
        bounds: dict[str, tuple[int, int]] = {}
        if len(councils):  # no payee at all when every rows file is unreadable
            starts = np.flatnonzero(np.r_[True, councils[1:] != councils[:-1]])
            ends = [*list(starts[1:]), len(councils)]
            bounds = {str(councils[a]): (int(a), int(b)) for a, b in zip(starts, ends, strict=True)}
        s = pa.Table.from_pandas(suppliers[keys.SUPPLIER_KEY].astype(str), preserve_index=False)
        exp = categories[categories["kind"] == "expense_type"]
        svc = categories[categories["kind"] == "service_area"].drop_duplicates(["value", "council"])
        e = pa.Table.from_pandas(exp[["value", "council", "code"]].astype(str), preserve_index=False)
        v = pa.Table.from_pandas(svc[["value", "council"]].astype(str), preserve_index=False)
        return cls(
            supplier_keys=_large(keys.joined(s)), council_bounds=bounds,
            supplier_id=_strings(suppliers["supplier_id"]),
            sector=_strings(suppliers["sector"]),
            is_individual=pa.array(suppliers["is_individual"].fillna(False).astype(bool).to_numpy()),
            expense_keys=_large(keys.joined(e)), expense_label=_strings(exp["label"]),
            service_keys=_large(keys.joined(v)), service_label=_strings(svc["label"]),
        )

    def supplier_positions(self, row_keys: pa.ChunkedArray, councils: pa.ChunkedArray) -> pa.ChunkedArray:
        """Each row's position in the supplier arrays (null when its key was never classified).

        ``index_in`` hashes its value set on every call: the batch's councils' few thousand keys,
        not the country's millions (that cost seconds a batch at 10M rows).
        """
        spans = [self.council_bounds[c] for c in pc.unique(councils).to_pylist() if c in self.council_bounds]
        subset = np.concatenate([np.arange(a, b) for a, b in spans]) if spans else np.zeros(0, dtype=np.int64)
        local = pc.index_in(row_keys, value_set=pc.take(self.supplier_keys, pa.array(subset)))
        return pc.take(pa.array(subset, pa.int64()), local)


def _large(a: pa.ChunkedArray) -> pa.Array:
    return a.combine_chunks().cast(pa.large_string())


def _strings(s: pd.Series) -> pa.Array:
    return pa.array(s.astype(object).where(s.notna(), None).tolist(), pa.large_string())


def _lookup(row_keys: pa.ChunkedArray, value_set: pa.Array, values: pa.Array) -> pa.ChunkedArray:
    """``values`` at each row's key's position in ``value_set`` (null when absent)."""
    return pc.take(values, pc.index_in(row_keys, value_set=value_set))


@dataclass
class Shaped:
    """A batch of published payments plus the per-row facts the summaries need but the table hides."""

    table: pa.Table            # exactly the ``payments`` columns, in order
    is_individual: np.ndarray  # bool per row
    month: pa.ChunkedArray     # "YYYY-MM" of payment_date, null when undated
    expense_value: pa.ChunkedArray
    service_value: pa.ChunkedArray
    expense_code: pa.ChunkedArray


def shape(rows: pa.Table, lookups: Lookups, first_id: int) -> Shaped:
    """Published ``payments`` rows for a batch of canonical rows; ids run from ``first_id``."""
    n = rows.num_rows
    parts = keys.supplier_parts(rows)
    at = lookups.supplier_positions(keys.joined(parts), parts["council"])
    individual = pc.fill_null(pc.take(lookups.is_individual, at), False)
    expense, service = keys.category_parts(rows)
    date = _dates(keys.column(rows, "payment_date"))
    when = pc.coalesce(date, _dates(keys.column(rows, "period_start")))
    pence = _pence(rows)
    cols: dict[str, pa.ChunkedArray | pa.Array] = {
        "id": pa.array(np.arange(first_id, first_id + n, dtype=np.int64)),
        "council_id": keys.column(rows, "council_id"),
        "payment_date": date.cast(pa.large_string()),
        "financial_year": financial_years(when),
        "amount_pence": pence,
        "amount_gbp": pa.array(np.round(pence.to_numpy(zero_copy_only=False) / 100, 2), pa.float64(),
                               mask=pence.is_null().to_numpy(zero_copy_only=False)),
        "supplier_id": pc.take(lookups.supplier_id, at),
        "supplier_name": pc.if_else(individual, WITHHELD_NAME, keys.column(rows, "supplier_name")),
        "sector": pc.fill_null(pc.take(lookups.sector, at), "unknown"),
        "is_redacted": keys.flag(rows, "is_redacted").cast(pa.int64()),
        "sercop_group": pc.fill_null(_lookup(keys.joined(expense), lookups.expense_keys,
                                             lookups.expense_label), "unknown"),
        "sercop_division": pc.fill_null(_lookup(keys.joined(service), lookups.service_keys,
                                                lookups.service_label), "unknown"),
        "description": _scrubbed(keys.column(rows, "description"), keys.column(rows, "supplier_name"),
                                 individual),
        "is_card": keys.flag(rows, "is_card").cast(pa.int64()),
        "source_sha256": keys.column(rows, "source_sha256"),
        "source_row": rows["source_row"],  # int64: councilspend.normalised casts every file to the contract
    }
    for name in PASS_THROUGH:
        cols[name] = keys.column(rows, name)
    table = pa.table({name: cols[name] for name in PAYMENT_COLUMNS})
    month = pc.utf8_slice_codeunits(cols["payment_date"], 0, 7)
    return Shaped(table=table, is_individual=individual.to_numpy(zero_copy_only=False).astype(bool),
                  month=month, expense_value=expense["value"], service_value=service["value"],
                  expense_code=expense["code"])


def _dates(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """ISO dates (the normaliser writes ``YYYY-MM-DD``; a time part is ignored), null when unparsable."""
    day = pc.utf8_slice_codeunits(col, 0, 10)
    return pc.strptime(day, format="%Y-%m-%d", unit="s", error_is_null=True).cast(pa.date32())


def financial_years(dates: pa.ChunkedArray) -> pa.ChunkedArray:
    """``2024-25`` for any date from 1 April 2024 to 31 March 2025; null when the date is unknown."""
    year = pc.year(dates).to_numpy(zero_copy_only=False)
    month = pc.month(dates).to_numpy(zero_copy_only=False)
    missing = np.isnan(year) if year.dtype.kind == "f" else np.zeros(len(year), dtype=bool)
    start = np.where(missing, 0, year).astype(np.int64) - (np.where(missing, 12, month) < 4)
    uniques, inverse = np.unique(start, return_inverse=True)
    labels = pa.array([f"{y}-{(y + 1) % 100:02d}" for y in uniques], pa.large_string())
    return pa.chunked_array([pc.take(labels, pa.array(inverse.astype(np.int32), mask=missing))])


def _pence(rows: pa.Table) -> pa.ChunkedArray:
    amount = pc.cast(rows["amount"], pa.float64()) if "amount" in rows.column_names else pa.chunked_array(
        [pa.nulls(rows.num_rows, pa.float64())])
    values = amount.to_numpy(zero_copy_only=False)
    missing = np.isnan(values)
    pence = np.round(np.where(missing, 0, values) * 100).astype(np.int64)
    return pa.chunked_array([pa.array(pence, pa.int64(), mask=missing)])


def _scrubbed(description: pa.ChunkedArray, name: pa.ChunkedArray, individual: pa.ChunkedArray
              ) -> pa.ChunkedArray:
    """Descriptions with an individual payee's name removed (case-insensitive); other rows as they are."""
    mask = individual.combine_chunks()
    if not pc.any(mask).as_py():
        return description
    where = pc.indices_nonzero(mask)
    scrubbed = [_scrub(d, n) for d, n in zip(pc.take(description, where).to_pylist(),
                                             pc.take(name, where).to_pylist(), strict=True)]
    return pc.replace_with_mask(description.combine_chunks(), mask, pa.array(scrubbed, pa.large_string()))


def _scrub(description: object, name: object) -> object:
    if not isinstance(description, str) or not isinstance(name, str) or not name.strip():
        return description
    if name.strip().casefold() not in description.casefold():  # most don't: skip compiling a regex
        return description
    return re.sub(re.escape(name.strip()), "[name withheld]", description, flags=re.IGNORECASE)
