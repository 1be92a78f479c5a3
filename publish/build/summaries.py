"""Summary tables, indexes and full-text search, written after the payments table.

Pages read summary tables, never ``GROUP BY`` over 10 million payments at request time; the council
page's figures are exactly these tables' rows (a test checks it).
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from pathlib import Path

import pandas as pd
import sqlite_utils
import yaml

from publish.build.pragmas import build_pragmas
from publish.build.resources import metadata_path
from publish.build.tables import create, insert_frame

log = logging.getLogger(__name__)
METADATA = metadata_path()  # publish/metadata.yml → the repository's metadata.yml, shipped in the wheel

# Indexes: every join key and the orders the pages and canned queries use; default facets are added
# from metadata.yml. Each index on 10M payments costs seconds of build time, so no speculative ones.
INDEXES: dict[str, list[list[str]]] = {
    "payments": [
        ["council_id", "amount_pence"],
        ["supplier_id", "amount_pence"],
        ["source_sha256"],
        ["amount_pence"],
    ],
    "files": [["council_id"], ["status"], ["kind"]],
    "suppliers": [["sector"], ["total_pence"], ["councils"]],
    "supplier_aliases": [["council_id"], ["alias"]],
    "categories": [["council_id"], ["label"], ["kind", "label"]],
    "council_year_sector": [["sector"], ["financial_year"]],
    "council_year_division": [["sercop_division"], ["financial_year"]],
    # Covering: the council page sums a council's ~10k suppliers without reading the table.
    "supplier_council_year": [["council_id", "supplier_id", "payments", "total_pence"], ["financial_year"]],
    "council_quality": [["rank"]],
    "council_year_transfers": [["council_id", "financial_year", "total_pence"]],
}
# Tables whose default facets get no single-column index: payments are reached filtered by council
# (every council page links so), where the council index serves each facet in ~20 ms at 10M rows.
# Unfiltered, a facet over 10M payments takes 1.3 s with its index and 9 s without: over the 1 s
# facet limit either way, so three such indexes bought nothing for ~30 s of build each national run.
FACETS_FILTERED_FIRST = {"payments"}
FTS: dict[str, list[str]] = {
    "suppliers": ["name"],
    "supplier_aliases": ["alias"],
    "payments": ["supplier_name", "description"],
}


ALIAS_COLUMNS = ["supplier_id", "alias", "council_id", "payments", "total_pence"]


def alias_rows(aliases: pd.DataFrame) -> pd.DataFrame:
    """Every published spelling per entity and council (``Totals.result("aliases")``), in the order
    :func:`write_aliases` inserts them: row ``i`` gets rowid ``i + 1`` (what its search index uses)."""
    return aliases.rename(columns={"supplier_name": "alias"})[ALIAS_COLUMNS].reset_index(drop=True)


def write_aliases(conn: sqlite3.Connection, rows: pd.DataFrame) -> None:
    """``rows`` from :func:`alias_rows`, into an empty ``supplier_aliases``."""
    insert_frame(conn, "supplier_aliases", rows, ALIAS_COLUMNS)


def summary_frames(grain: pd.DataFrame, by_supplier: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """council × year × sector, council × year × division (and supplier × council × year from
    ``by_supplier``, or a supplier range of it: :func:`supplier_year_frame`), from the batches' running
    sums (``publish/build/aggregates.py``): a GROUP BY over 10M payments in SQLite costs a minute each,
    and holding every payment in memory costs gigabytes."""
    out = {
        "council_year_sector": _summed(grain, ["council_id", "financial_year", "sector"]),
        "council_year_division": _summed(grain, ["council_id", "financial_year", "sercop_division"]),
    }
    if by_supplier is not None:
        out["supplier_council_year"] = supplier_year_frame(by_supplier)
    return out


def supplier_year_frame(by_supplier: pd.DataFrame) -> pd.DataFrame:
    """``supplier_council_year``'s rows from ``Totals.result("suppliers")`` or one supplier range of it
    (``Totals.ranges``): ranges in order give the whole table in order."""
    return _summed(by_supplier, ["supplier_id", "council_id", "financial_year"])


def _summed(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    src = frame[keys + ["payments", "total_pence"]].copy()
    for k in keys:
        if k in ("financial_year", "sector", "sercop_division"):
            src[k] = src[k].where(src[k].notna(), "unknown")
    src = src.dropna(subset=keys)
    t = src.groupby(keys, as_index=False, sort=True)[["payments", "total_pence"]].sum()
    for k in keys:
        t[k] = t[k].astype(str)
    t["payments"] = t["payments"].astype("int64")
    t["total_pence"] = t["total_pence"].astype("int64")
    t["total_gbp"] = (t["total_pence"] / 100).round(2)
    return t


def write_categories(conn: sqlite3.Connection, categories: pd.DataFrame, counts: pd.DataFrame) -> None:
    """Each mapping with the payments and pence it applies to (zero when no counted row used it)."""
    from councilspend.rowkeys import CATEGORY_KEY

    categories = categories.copy()
    for col in ("evidence", "transfer_kind"):
        if col not in categories.columns:
            categories[col] = None
    counts = counts.copy()
    for col in CATEGORY_KEY:
        counts[col] = counts[col].astype("object").where(counts[col].notna(), "").astype(str)
        categories[col] = categories[col].astype("object").where(categories[col].notna(), "").astype(str)
    merged = categories.merge(counts, on=CATEGORY_KEY, how="left")
    merged["payments"] = merged["payments"].fillna(0).astype(int)
    merged["total_pence"] = merged["total_pence"].fillna(0).astype("int64")
    merged["confidence"] = pd.to_numeric(merged["confidence"], errors="coerce")
    merged["transfer_kind"] = merged["transfer_kind"].where(
        merged["transfer_kind"].notna() & (merged["transfer_kind"] != ""), None
    )
    merged = merged.rename(columns={"council": "council_id"})
    cols = ["council_id" if c == "council" else c for c in CATEGORY_KEY] + [
        "label",
        "confidence",
        "rule",
        "evidence",
        "transfer_kind",
        "payments",
        "total_pence",
    ]
    insert_frame(conn, "categories", merged, cols)


TRANSFER_COLUMNS = ["council_id", "financial_year", "transfer_kind", "supplier_id", "payments", "total_pence"]


def write_transfers(conn: sqlite3.Connection, transfers: pd.DataFrame) -> None:
    """Transfers per council, year, kind and payee (``Totals.result("transfers")``): the council page
    lists them, because they are what M2 leaves out."""
    create(conn, "council_year_transfers")
    frame = transfers.copy()
    for col in ("financial_year", "supplier_id"):
        frame[col] = frame[col].astype("object").where(frame[col].notna(), None)
    frame["payments"] = frame["payments"].astype("int64")
    frame["total_pence"] = frame["total_pence"].astype("int64")
    if not frame.empty:
        insert_frame(conn, "council_year_transfers", frame[TRANSFER_COLUMNS], TRANSFER_COLUMNS)


def write_measures(
    conn: sqlite3.Connection,
    payments: pd.DataFrame,
    outturn: pd.DataFrame | None,
    coverage_months: pd.DataFrame | None = None,
) -> list[str]:
    """Write every table ``publish.build.measures.compute`` returns; return their names.

    ``outturn``: Revenue Outturn as the classify step wrote it (``normalised/classes/outturn.parquet``).
    """
    try:
        from publish.build.measures import compute
    except ImportError as exc:
        log.warning("publish.build.measures unavailable (%s): no M1/M2/M3 tables", exc)
        return []
    tables = compute(payments, outturn, coverage_months)
    db = sqlite_utils.Database(conn)
    written = []
    for name, df in tables.items():
        if not isinstance(df, pd.DataFrame):
            continue
        frame = df.reset_index(drop=not _has_named_index(df))
        frame.columns = [str(c) for c in frame.columns]
        for col in frame.columns:
            if isinstance(frame[col].dtype, pd.CategoricalDtype):
                frame[col] = frame[col].astype(object)
        frame = frame.astype(object).where(frame.notna(), None)
        # The foreign key is declared when the table is created: sqlite-utils' add_foreign_key
        # rewrites the schema and VACUUMs the whole database (minutes at 10M payments).
        fks = [("council_id", "councils", "council_id")] if "council_id" in frame.columns else None
        db[name].insert_all(frame.to_dict("records"), batch_size=5000, foreign_keys=fks)
        written.append(name)
    return written


def coverage_months(files: pd.DataFrame) -> pd.DataFrame:
    """Months each counted file says it covers (council_id, financial_year, month "YYYY-MM").

    Measures count a month as covered when a payment is dated in it; a file that covers a month
    with only period-level dates (or no payments over £500) still covers it.
    """
    from publish.build.payments_table import financial_year

    rows = []
    counted = files[files["status"] == "counted"]
    # Parse every file's period at once: one to_datetime per file was 20 s on 10,000 monthly files.
    starts = pd.to_datetime(counted["period_start"], errors="coerce", format="mixed")
    ends = pd.to_datetime(counted["period_end"], errors="coerce", format="mixed")
    for council_id, s, e in zip(counted["council_id"], starts, ends, strict=True):
        if pd.isna(s) or pd.isna(e) or e < s or (e - s).days > 400:
            continue
        first, last = s.year * 12 + s.month - 1, e.year * 12 + e.month - 1
        rows.extend((council_id, f"{m // 12:04d}-{m % 12 + 1:02d}") for m in range(first, last + 1))
    out = pd.DataFrame(rows, columns=["council_id", "month"]).drop_duplicates()
    out["financial_year"] = financial_year(out["month"] + "-01").astype(object)
    return out[["council_id", "financial_year", "month"]]


def _has_named_index(df: pd.DataFrame) -> bool:
    return any(n is not None for n in df.index.names)


def facet_columns(metadata: Path = METADATA) -> dict[str, list[str]]:
    """Default facets per table from metadata.yml: each needs an index or Datasette's facet times out."""
    if not metadata.exists():
        return {}
    meta = yaml.safe_load(metadata.read_text(encoding="utf-8")) or {}
    out: dict[str, list[str]] = {}
    for db in (meta.get("databases") or {}).values():
        for table, cfg in (db.get("tables") or {}).items():
            out.setdefault(table, []).extend(cfg.get("facets") or [])
    return out


def index_sql(table: str, cols: list[str]) -> str:
    """``CREATE INDEX`` as sqlite-utils' ``create_index(cols, if_not_exists=True)`` words it: the schema
    reads the same whichever connection ran it."""
    names = ", ".join('"' + c.replace('"', '""') + '"' for c in cols)
    index = "idx_{}_{}".format(table.replace(" ", "_"), "_".join(cols)).replace('"', '""')
    return f'CREATE INDEX IF NOT EXISTS "{index}"\n    ON "{table}" ({names});'


#: The page cache, and so the size of each sorted run, when the payments' indexes are sorted. SQLite's
#: sorter hands each full run to a helper thread (``PRAGMA threads``) and merges the runs at the end:
#: small runs keep both cores busy and sort within the processor's caches. The four sorts took 3.0 s at
#: 1M rows with 40 MB (one or two runs an index, on one core) and 1.7 s with 4 MB; at 10M rows 24.5 s
#: (42 CPU-s) with 40 MB, 19.5 s with 16 MB, 16.5-17.4 s (29-30 CPU-s) with 4 MB, 16.3 s with 2 MB,
#: 18.8 s with 1 MB (sorted alone, ADBC, 2 helper threads).
SORT_CACHE_MB = 4


def index_table(db_path: Path, table: str) -> None:
    """Create ``INDEXES[table]`` through a connection of its own.

    The build runs this for payments on a worker thread while the main thread writes the other tables
    into a database of their own. Through the ADBC driver: its SQLite (3.53 against Python's 3.40 here)
    sorts the payments' indexes with about 20% less CPU. The sort runs in C without the GIL.
    """
    import adbc_driver_sqlite.dbapi as adbc

    # The build's own connection holds no lock meanwhile: a lock here is a bug, so it fails at once.
    with closing(adbc.connect(str(db_path), autocommit=True)) as conn, closing(conn.cursor()) as cur:
        for sql in build_pragmas(cache_mb=SORT_CACHE_MB) + [index_sql(table, c) for c in INDEXES[table]]:
            cur.execute(sql)
            cur.fetchall()


def add_indexes_and_search(conn: sqlite3.Connection, searched_elsewhere: tuple[str, ...] = ()) -> None:
    """Every index and FTS table; tables in ``searched_elsewhere`` get their FTS table another way
    (``publish.build.search_index``)."""
    db = sqlite_utils.Database(conn)
    tables = set(db.table_names())
    wanted = {t: list(ix) for t, ix in INDEXES.items()}
    for table, facets in facet_columns().items():
        if table in FACETS_FILTERED_FIRST:
            continue
        leading = {ix[0] for ix in wanted.get(table, [])}
        # A composite index that starts with the facet column serves the facet too.
        wanted.setdefault(table, []).extend([f] for f in facets if f not in leading)
    for table, indexes in wanted.items():
        if table not in tables:
            continue
        present = set(db[table].columns_dict)
        for cols in indexes:
            if set(cols) <= present:
                db[table].create_index(cols, if_not_exists=True)
    for name in db.table_names():  # measures tables: index their key columns
        if name not in INDEXES and not name.endswith(
            ("_fts", "_fts_data", "_fts_idx", "_fts_docsize", "_fts_config")
        ):
            present = set(db[name].columns_dict)
            for col in ("council_id", "financial_year", "sector", "sercop_division"):
                if col in present:
                    db[name].create_index([col], if_not_exists=True)
    for table, cols in FTS.items():
        if table in searched_elsewhere:
            continue
        db[table].enable_fts(cols, fts_version="FTS5", create_triggers=False, replace=True)
