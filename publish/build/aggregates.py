"""Running totals of published payments, batch by batch: everything the summary tables and the
measures are made from.

Every summary is a sum (of payments and of pence), so each batch is reduced to sums over its
distinct keys and the batches' sums are added at the end. Memory grows with the number of distinct
keys (councils × years × months × sectors × groups × divisions; suppliers × councils × years), not
with the number of payments: a 10-million-row build holds what a 1-million-row one does.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from councilspend.rowkeys import CATEGORY_KEY, EXPENSE_KEY, SERVICE_KEY
from publish.build.enrich import WITHHELD_ID
from publish.build.payment_rows import Shaped

#: The grain of ``publish.build.measures.compute``'s input and of the council summaries.
MEASURE_KEY = [
    "council_id",
    "financial_year",
    "month",
    "sector",
    "sercop_group",
    "sercop_division",
    "transfer_kind",
    "is_redacted",
    "is_card",
    "low_confidence",
]
SUPPLIER_KEY = ["supplier_id", "council_id", "financial_year"]
#: Transfers per council, year, kind and payee (the council page lists them).
TRANSFER_KEY = ["council_id", "financial_year", "transfer_kind", "supplier_id"]
ALIAS_KEY = ["supplier_id", "supplier_name", "council_id"]
FILE_KEY = ["source_sha256"]
SUMS = ["payments", "total_pence"]


def _codes(col: pa.ChunkedArray | pa.Array) -> pd.Categorical:
    """A text column as a pandas categorical (grouping on codes, not 250k Python strings)."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return pc.dictionary_encode(arr).to_pandas()


def _sum(frame: pd.DataFrame, key: list[str], values: list[str]) -> pd.DataFrame:
    """``frame`` summed by ``key`` (missing key values are a group of their own), keys as plain values.

    The keys' codes are packed into one integer per row and factorised once: pandas' groupby on
    eight categoricals spent most of its time checking and combining them (seconds per batch).
    """
    if frame.empty:
        return _sum_pandas(frame, key, values)
    levels, packed, radix = [], np.zeros(len(frame), dtype=np.int64), 1
    for k in key:
        col = frame[k]
        if isinstance(col.dtype, pd.CategoricalDtype):
            codes = col.cat.codes.to_numpy().astype(np.int64) + 1
            uniques = np.concatenate(
                [np.array([None], dtype=object), col.cat.categories.to_numpy(dtype=object)]
            )
        else:
            codes, found = pd.factorize(col, use_na_sentinel=False)
            codes, uniques = codes.astype(np.int64), np.asarray(found, dtype=object)
        radix *= max(len(uniques), 1)
        if radix >= 2**62:  # too many combinations to pack: let pandas group
            return _sum_pandas(frame, key, values)
        packed = packed * len(uniques) + codes
        levels.append(uniques)
    group, first = pd.factorize(packed)
    order = np.argsort(group, kind="stable")
    sizes = np.bincount(group, minlength=len(first))
    starts = np.r_[0, np.cumsum(sizes)[:-1]].astype(np.intp)
    out: dict[str, object] = {}
    rest = first.astype(np.int64)
    for k, uniques in zip(reversed(key), reversed(levels), strict=True):
        rest, code = np.divmod(rest, len(uniques))
        out[k] = uniques[code]
    result = pd.DataFrame({k: out[k] for k in key})
    for v in values:
        data = frame[v].to_numpy().astype(np.int64)
        result[v] = np.add.reduceat(data[order], starts) if len(starts) else data[:0]
    return result


def _sum_pandas(frame: pd.DataFrame, key: list[str], values: list[str]) -> pd.DataFrame:
    out = frame.groupby(key, observed=True, dropna=False, sort=False)[values].sum().reset_index()
    for k in key:  # batches have different categories: plain values so that parts concatenate
        if isinstance(out[k].dtype, pd.CategoricalDtype):
            out[k] = out[k].astype(object).where(out[k].notna(), None)
    return out


def _packed(part: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(part, preserve_index=False)


def _unpacked(parts: list[pa.Table], key: list[str]) -> pd.DataFrame:
    """The batches' sums as one frame whose key columns hold plain values, None when missing."""
    frame = pa.concat_tables(parts, promote_options="permissive").to_pandas()
    for k in key:
        col = frame[k].astype(object)
        frame[k] = col.where(col.notna(), None)
    return frame


class Totals:
    """Sums per key set, added up over batches (:meth:`add`), combined once (:meth:`result`)."""

    def __init__(self) -> None:
        # Each batch's sums as Arrow tables: millions of supplier × council × year and spelling keys at
        # national scale, which as pandas object columns held a Python string per cell (over 1 GB at 10M
        # rows) and here hold bytes.
        self.parts: dict[str, list[pa.Table]] = defaultdict(list)

    def add(self, shaped: Shaped) -> None:
        t = shaped.table
        pence = t["amount_pence"].to_numpy(zero_copy_only=False)
        pence = np.nan_to_num(pence, nan=0).astype(np.int64) if pence.dtype.kind == "f" else pence
        n = t.num_rows
        base = pd.DataFrame(
            {
                "council_id": _codes(t["council_id"]),
                "financial_year": _codes(t["financial_year"]),
                "month": _codes(shaped.month),
                "sector": _codes(t["sector"]),
                "sercop_group": _codes(t["sercop_group"]),
                "sercop_division": _codes(t["sercop_division"]),
                "transfer_kind": _codes(t["transfer_kind"]),
                "is_redacted": t["is_redacted"].to_numpy(zero_copy_only=False).astype(bool),
                "is_card": t["is_card"].to_numpy(zero_copy_only=False).astype(bool),
                "low_confidence": shaped.low_confidence,
                "supplier_id": _codes(t["supplier_id"]),
                "supplier_name": _codes(t["supplier_name"]),
                "source_sha256": _codes(t["source_sha256"]),
                "is_individual": shaped.is_individual.astype(np.int64),
                "payments": np.ones(n, dtype=np.int64),
                "total_pence": pence,
            }
        )
        self.parts["measures"].append(_packed(_sum(base, MEASURE_KEY, SUMS)))
        self.parts["suppliers"].append(_packed(_sum(base, SUPPLIER_KEY, SUMS)))
        named = (
            base["supplier_id"].notna() & (base["supplier_id"] != WITHHELD_ID) & base["supplier_name"].notna()
        )
        self.parts["aliases"].append(_packed(_sum(base[named.to_numpy()], ALIAS_KEY, SUMS)))
        files = base[["source_sha256", "is_individual"]].assign(
            is_redacted=base["is_redacted"].astype(np.int64)
        )
        self.parts["files"].append(_packed(_sum(files, FILE_KEY, ["is_individual", "is_redacted"])))
        transfers = base[base["transfer_kind"].notna().to_numpy()]
        if len(transfers):
            self.parts["transfers"].append(_packed(_sum(transfers, TRANSFER_KEY, SUMS)))
        for kind, parts, key in (
            ("expense_type", shaped.expense, EXPENSE_KEY),
            ("service_area", shaped.service, SERVICE_KEY),
        ):
            cats = pd.DataFrame({c: _codes(parts[c]) for c in key})
            cats["payments"], cats["total_pence"] = base["payments"], pence
            part = _sum(cats, key, SUMS)
            for col in CATEGORY_KEY:  # a service key has no code or expense context: ""
                if col not in part.columns and col != "kind":
                    part[col] = ""
            part.insert(0, "kind", kind)
            self.parts["categories"].append(_packed(part[CATEGORY_KEY + SUMS]))

    def result(self, name: str) -> pd.DataFrame:
        """The summed table ``name`` (measures, suppliers, aliases, files, categories, transfers), sorted by key."""
        key, values = {
            "measures": (MEASURE_KEY, SUMS),
            "suppliers": (SUPPLIER_KEY, SUMS),
            "aliases": (ALIAS_KEY, SUMS),
            "files": (FILE_KEY, ["is_individual", "is_redacted"]),
            "categories": (CATEGORY_KEY, SUMS),
            "transfers": (TRANSFER_KEY, SUMS),
        }[name]
        parts = self.parts.get(name) or []
        if not parts:
            return pd.DataFrame(
                {c: pd.Series(dtype=object) for c in key} | {v: pd.Series(dtype="int64") for v in values}
            )
        frame = _unpacked(parts, key)
        out = frame.groupby(key, dropna=False, sort=True)[values].sum().reset_index()
        for k in key:
            if out[k].dtype == object:
                out[k] = out[k].where(out[k].notna(), None)
        return out
