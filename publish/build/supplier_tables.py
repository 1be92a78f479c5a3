"""The tables made from the sums keyed by supplier (``suppliers``, ``supplier_council_year``,
``supplier_aliases`` and its search index), made a supplier range at a time.

Millions of rows at national scale: each range is summed (``Totals.ranges``), turned into its rows and
spooled to disk (``spools.py``) while the payments' indexes sort; the rows go into the database after
the sorts, range by range in key order. Only the ``suppliers`` rows (one per entity) stay in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from publish.build import summaries
from publish.build.aggregates import Totals
from publish.build.search_index import SideSearchIndex
from publish.build.spools import Spools
from publish.build.tables import columns, insert_arrow


@dataclass
class SupplierTables:
    suppliers: pd.DataFrame  # the suppliers table's rows: one per entity that was paid
    years: Spools  # supplier_council_year, a range per spool
    aliases: Spools  # supplier_aliases, a range per spool
    alias_search: SideSearchIndex  # the aliases' ids and text, spooled for its FTS5 side index

    def write_years(self, conn) -> None:  # noqa: ANN001 - sqlite3.Connection
        for table in self.years.tables():
            insert_arrow(conn, "supplier_council_year", table)

    def write_aliases(self, conn) -> None:  # noqa: ANN001 - sqlite3.Connection
        """Into an empty ``supplier_aliases``: row ``i`` gets rowid ``i + 1``, the id its search index uses."""
        for table in self.aliases.tables():
            insert_arrow(conn, "supplier_aliases", table)

    def discard(self) -> None:
        self.years.discard()
        self.aliases.discard()
        self.alias_search.discard()


def supplier_tables(totals: Totals, entities: pd.DataFrame, tmp: Path) -> SupplierTables:
    """``totals``' supplier × council × year and spelling sums, range by range, as rows to insert."""
    count = totals.spill.count if totals.spill is not None else 1
    out = SupplierTables(
        suppliers=pd.DataFrame(),
        years=Spools(tmp, "supplier-years", count),
        aliases=Spools(tmp, "supplier-aliases", count),
        alias_search=SideSearchIndex(tmp, "supplier_aliases", summaries.FTS["supplier_aliases"]),
    )
    try:
        rows, by_id = [], entities.set_index("supplier_id")
        known = set(by_id.index.dropna().tolist())
        for i, part in enumerate(totals.ranges("suppliers")):
            frame = summaries.supplier_year_frame(part)
            rows.append(supplier_rows(by_id, known, frame))
            if len(frame):
                years = frame[columns("supplier_council_year")]
                out.years.write(i, pa.Table.from_pandas(years, preserve_index=False))
        out.suppliers = pd.concat(rows, ignore_index=True)
        done = 0
        for i, part in enumerate(totals.ranges("aliases")):
            frame = summaries.alias_rows(part)
            if not len(frame):
                continue
            out.aliases.write(i, pa.Table.from_pandas(frame[summaries.ALIAS_COLUMNS], preserve_index=False))
            ids = pa.array(np.arange(done + 1, done + len(frame) + 1, dtype=np.int64))
            text = pa.array(frame["alias"].astype(object), pa.large_string())
            out.alias_search.spool(pa.table({"id": ids, "alias": text}))
            done += len(frame)
    except BaseException:
        out.discard()
        raise
    return out


def supplier_rows(by_id: pd.DataFrame, known: set[str], by_year: pd.DataFrame) -> pd.DataFrame:
    """The suppliers table: one row per entity (``by_id``: the entities indexed by supplier_id, whose ids
    are ``known``); totals come from the payments actually published (``by_year``: supplier_council_year's
    rows, all or a supplier range). Membership by a set: pandas' ``isin`` on Arrow text compared each id
    in Python (0.5 s a call at 1M rows, per range)."""
    g = by_year.groupby("supplier_id")
    totals = pd.DataFrame(
        {
            "councils": g["council_id"].nunique(),
            "payments": g["payments"].sum(),
            "total_pence": g["total_pence"].sum(),
            "first_year": g["financial_year"].min(),
            "last_year": g["financial_year"].max(),
        }
    )
    totals = totals[np.fromiter((i in known for i in totals.index.tolist()), bool, len(totals))]
    s = by_id.loc[totals.index]  # whole columns at once: a row-by-row loop was a minute at 10M rows
    conf = pd.to_numeric(s["confidence"], errors="coerce")
    pence = totals["total_pence"].astype("int64")
    out = pd.DataFrame(
        {
            "supplier_id": totals.index.astype(object),
            "name": s["canonical_name"].to_numpy(),
            "sector": s["sector"].to_numpy(),
            "subsector": s["subsector"].astype(object).to_numpy(),
            "confidence": conf.astype("float64").to_numpy(),
            "evidence": s["evidence"].astype(object).to_numpy(),
            "councils": totals["councils"].astype("int64").to_numpy(),
            "payments": totals["payments"].astype("int64").to_numpy(),
            "total_pence": pence.to_numpy(),
            "total_gbp": (pence / 100).round(2).to_numpy(),
            "first_year": totals["first_year"].to_numpy(),
            "last_year": totals["last_year"].to_numpy(),
        }
    )
    for col in ("subsector", "evidence"):  # "" means none, as before
        out[col] = out[col].where(out[col].notna() & (out[col] != ""), None)
    return out
