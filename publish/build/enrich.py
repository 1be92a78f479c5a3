"""Attach supplier entities and SeRCOP categories to payment rows, and mask individuals.

The classify step (``normalise/classes.py``) decided each DISTINCT key once and wrote its answers to
``normalised/classes/``; ``publish/build/payment_rows.py`` joins them back onto every row by key
(``councilspend/rowkeys.py``). This module reads them and masks individuals: the build never calls
a classifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from councilspend import rowkeys as keys
from councilspend.council_rows import CouncilRows
from councilspend.normalised import InputError

WITHHELD_NAME = "Individual (name withheld)"
WITHHELD_ID = "individual-withheld"
SUPPLIER_KEY = keys.SUPPLIER_KEY
CATEGORY_KEY = keys.CATEGORY_KEY
#: "Mr J Smith t/a Smith Builders": the classifier names such a payee by its trading name only.
_TRADING_AS = re.compile(r"\b(?:t/a|t/as|trading as)\b", re.IGNORECASE)


#: What the payments pass reads of each payee key (``payment_rows.Lookups``).
LOOKUP_COLUMNS = [*SUPPLIER_KEY, "supplier_id", "sector", "confidence", "payee_cue", "payee_transfer_cue"]
#: What the suppliers table shows of each entity (its first key's answer).
ENTITY_COLUMNS = ["supplier_id", "canonical_name", "sector", "subsector", "confidence", "evidence"]
WITHHELD_EVIDENCE = "classified as a private individual; name withheld"


@dataclass
class Classes:
    """The classify step's answers as the build uses them."""

    payees: CouncilRows  # LOOKUP_COLUMNS + is_individual + published_name, individuals masked, by council
    entities: pd.DataFrame  # ENTITY_COLUMNS, one row per (masked) supplier id, in order of first key
    categories: pd.DataFrame
    outturn: pd.DataFrame
    cues: keys.CueBook


def read_classes(normalised: Path) -> Classes:
    """What the classify step wrote, individuals masked.

    Raises :class:`~councilspend.normalised.InputError` naming the folder when it is missing.
    """
    folder = Path(normalised) / "classes"
    paths = {}
    for name in ("suppliers", "categories", "outturn", "context_cues"):
        paths[name] = folder / f"{name}.parquet"
        if not paths[name].exists():
            raise InputError(
                f"{paths[name]} is missing: classify the normalised files first "
                "(`councilspend publish` does it, or `councilspend normalise --manifest`)"
            )
    categories = pd.read_parquet(paths["categories"])
    for col in CATEGORY_KEY:
        categories[col] = categories[col].astype("string").fillna("")
    cues = pd.read_parquet(paths["context_cues"])
    record = keys.CueBook.from_record(cues["text"].astype(str).tolist(), cues["cue"].astype(str).tolist())
    payees = CouncilRows.of_parquet(paths["suppliers"], PAYEE_READ, prepare=_payee_lookup)
    entities = read_entities(paths["suppliers"])
    return Classes(payees, entities, categories, pd.read_parquet(paths["outturn"]), record)


#: What is read of each payee key for the payments pass: its lookup columns and what masking reads.
PAYEE_READ = list(dict.fromkeys([*LOOKUP_COLUMNS, "canonical_name", "evidence"]))


def _payee_lookup(table: pa.Table) -> pa.Table:
    """A row group of payee keys as the payments pass joins them: individuals masked."""
    return masked(table).select([*LOOKUP_COLUMNS, "is_individual", "published_name"])


def read_entities(path: Path) -> pd.DataFrame:
    """Each entity's columns (its first key's answer), individuals masked, read a row group at a time
    in Arrow: at national scale the file has tens of millions of keys and a fraction as many entities."""
    parquet = pq.ParquetFile(path)
    wanted = [c for c in PAYEE_READ + ENTITY_COLUMNS if c in parquet.schema_arrow.names]
    wanted = list(dict.fromkeys(wanted))
    groups = range(parquet.num_row_groups)
    tables = (
        (parquet.read_row_group(g, columns=wanted) for g in groups) if len(groups) else [parquet.read(wanted)]
    )
    entities, seen = [], set()
    for table in tables:
        table = masked(table)
        ids = table["supplier_id"].combine_chunks()
        encoded = pc.dictionary_encode(ids)
        _, first = np.unique(encoded.indices.to_numpy(zero_copy_only=False), return_index=True)
        first = np.sort(first)
        new = [
            i
            for i, v in zip(first.tolist(), ids.take(pa.array(first)).to_pylist(), strict=True)
            if v not in seen
        ]
        seen.update(ids.take(pa.array(new, pa.int64())).to_pylist())
        entities.append(table.select(ENTITY_COLUMNS).take(pa.array(new, pa.int64())))
    return pa.concat_tables(entities).to_pandas()


def masked(table: pa.Table) -> pa.Table:
    """Every trace of an individual's name replaced (id, canonical name, evidence), plus
    ``is_individual`` and ``published_name`` (:func:`published_supplier_name`). The raw
    ``supplier_name`` stays (it is the join key) and is never published."""
    for col in SUPPLIER_KEY:
        table = table.set_column(table.schema.get_field_index(col), col, _text(table[col]))
    individual = pc.fill_null(pc.equal(table["sector"], "individual"), False)
    published = _published_names(table, individual)
    for col, value in (
        ("supplier_id", WITHHELD_ID),
        ("canonical_name", WITHHELD_NAME),
        ("evidence", WITHHELD_EVIDENCE),
    ):
        i = table.schema.get_field_index(col)
        table = table.set_column(i, col, pc.if_else(individual, value, table[col].cast(pa.large_string())))
    return table.append_column("is_individual", individual).append_column("published_name", published)


def _published_names(table: pa.Table, individual: pa.ChunkedArray) -> pa.Array:
    """:func:`published_supplier_name` of each key, in Arrow; Python only for names that say "t/a"."""
    raw = table["supplier_name"]
    maybe = pc.or_(
        pc.match_substring(raw, "t/a", ignore_case=True),
        pc.match_substring(raw, "trading as", ignore_case=True),
    )
    at = np.flatnonzero(pc.fill_null(maybe, False).to_numpy(zero_copy_only=False))
    shown = pa.nulls(table.num_rows, pa.large_string())
    if len(at):
        few = table.take(pa.array(at)).select(["supplier_name", "canonical_name"]).to_pandas()
        trading = published_supplier_name(few.assign(sector="")).to_numpy(dtype=object, na_value=None)
        values = np.full(table.num_rows, None, dtype=object)
        values[at] = trading
        shown = pa.array(values, pa.large_string())
    return pc.if_else(individual, pa.scalar(WITHHELD_NAME, pa.large_string()), shown)


def _text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.fill_null(col.cast(pa.large_string()), "")


def published_supplier_name(classified: pd.DataFrame) -> pd.Series:
    """The name a payment shows, per payee key: the withheld label for individuals, the canonical
    (trading) name for a person trading under a business name ("Mr X t/a Y Builders" → "Y Builders"),
    else the name as the council published it. Null means "as published" (the row's own spelling)."""
    raw = classified["supplier_name"].astype("string").fillna("")
    canonical = classified["canonical_name"].astype("string").fillna("")
    trading = raw.str.contains(_TRADING_AS) & (canonical.str.strip() != "") & (canonical != raw)
    shown = pd.Series(pd.NA, index=classified.index, dtype="string")
    shown[trading] = canonical[trading]
    shown[classified["sector"] == "individual"] = WITHHELD_NAME
    return shown
