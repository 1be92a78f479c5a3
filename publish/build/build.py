"""Build the published SQLite database from the normaliser's output.

The classify step (``normalise/classes.py``) already decided each distinct payee and category once;
one pass over the counted files joins those answers back batch by batch (whole files, ≥ 250k rows)
and bulk-inserts, keeping only running sums. Then three jobs share the two cores: payments' index
sorts (a worker thread), payments' and aliases' FTS5 indexes (side databases,
``publish/build/search_index.py``) and the summaries (this thread), which are written once the sorts
release the database. Everything is written to a temporary file next to ``db_path`` and swapped in
with ``os.replace``: a failed or killed build leaves the previous database (and the site serving it)
untouched.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.compute as pc
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from councilspend import rowkeys as keys
from councilspend.memory import release_memory
from councilspend.normalised import NormalisedDir, open_normalised
from publish.build import enrich, fingerprint, quality, summaries
from publish.build.aggregates import Totals
from publish.build.councils_table import write_councils
from publish.build.coverage import write_coverage
from publish.build.id_ranges import IdRanges
from publish.build.ingest import ArrowWriter
from publish.build.payment_rows import Lookups, Shaped, shape
from publish.build.payments_table import as_tuples
from publish.build.pragmas import build_pragmas
from publish.build.search_index import SideSearchIndex
from publish.build.supplier_ranges import SupplierRanges
from publish.build.supplier_tables import SupplierTables, supplier_tables
from publish.build.tables import columns, create, insert_frame, insert_rows

log = logging.getLogger(__name__)

# What pass 2 reads: the published columns' sources and the category keys' sources.
PASS2_COLUMNS = sorted(
    {
        *keys.SOURCE_COLUMNS,
        "payment_date",
        "period_start",
        "date_precision",
        "amount",
        "redaction_reason",
        "transaction_ref",
        "capital_revenue",
        "is_card",
        "source_sha256",
        "source_sheet",
        "source_row",
    }
)

#: Rows a payments batch holds at least: two are in memory at once (one shaped while the other is kept).
SHAPE_BATCH_ROWS = 150_000


def build_database(
    data_dir: Path,
    db_path: Path,
    *,
    registry: list[dict] | None = None,
    progress: bool = True,
    downloads: bool = True,
    force: bool = False,
) -> Path:
    """Build ``db_path`` from ``data_dir/normalised``; return ``db_path``.

    The payees' and categories' classes come from ``data_dir/normalised/classes`` (written by
    ``normalise.classes.classify_crawl``); the build reads files and calls no classifier.
    ``registry`` defaults to ``crawler.registry.load_registry()``. With ``downloads`` the CSV + Data
    Package and Parquet downloads, labelled with the database's hash (a kill between the two swaps shows),
    go to ``db_path.parent/downloads``. Also writes ``<db stem>-inspect.json``. Kept as it is when its
    inputs are unchanged (``fingerprint.py``) and the downloads' label matches; ``force`` rebuilds.
    """
    from publish.build.export import downloads_agree, write_downloads

    data_dir, db_path = Path(data_dir), Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    if registry is None:
        registry = _default_registry()
    _remove_stale_temps(db_path)
    inspect_path, downloads_dir = inspect_path_for(db_path), db_path.parent / "downloads"
    inputs = fingerprint.inputs_fingerprint(data_dir / "normalised", registry, downloads)
    required = [inspect_path] + ([downloads_dir / "datapackage.json"] if downloads else [])
    labelled = not downloads or downloads_agree(downloads_dir, inspect_path, db_path.stem)
    if not force and labelled and fingerprint.unchanged(db_path, inputs, required):
        log.info("inputs unchanged since %s was built; kept it", db_path)
        return db_path
    fingerprint.stamp_path(db_path).unlink(missing_ok=True)
    tmp = db_path.with_name(f".{db_path.name}.building-{os.getpid()}")
    inspect_tmp = inspect_path.with_name(f".{inspect_path.name}.building-{os.getpid()}")
    try:
        nd = open_normalised(data_dir / "normalised")
        with _stage("whole build"):
            with _progress(progress) as bar:
                _build(nd, tmp, registry, bar)
            with _stage("inspect (hash and counts)"):
                inspect = inspect_data(tmp, db_path)
        if downloads:
            write_downloads(tmp, downloads_dir, database_hash=inspect[db_path.stem]["hash"])
        inspect_tmp.write_text(json.dumps(inspect, indent=1), encoding="utf-8")
        os.replace(tmp, db_path)
        os.replace(inspect_tmp, inspect_path)
        fingerprint.write_stamp(db_path, inputs)
    finally:
        for leftover in (tmp, inspect_tmp, *tmp.parent.glob(f"{tmp.name}[.-]*")):
            leftover.unlink(missing_ok=True)
    return db_path


def inspect_path_for(db_path: Path) -> Path:
    return db_path.with_name(f"{db_path.stem}-inspect.json")


def inspect_data(tmp: Path, final: Path) -> dict:
    """What ``datasette inspect`` writes, computed for ``tmp`` but naming ``final`` (swapped in later)."""
    from datasette.inspect import inspect_hash

    with ThreadPoolExecutor(max_workers=1) as pool:  # hashing gigabytes and counting rows, at once
        digest = pool.submit(inspect_hash, tmp)
        conn = sqlite3.connect(tmp)
        tables = [r[0] for r in conn.execute("select name from sqlite_master where type='table'")]
        counts = {t: {"count": conn.execute(f'select count(*) from "{t}"').fetchone()[0]} for t in tables}
        conn.close()
        return {
            final.stem: {
                "hash": digest.result(),
                "size": tmp.stat().st_size,
                "file": str(final),
                "tables": counts,
            }
        }


def _default_registry() -> list[dict]:
    try:
        from crawler.registry import load_registry
    except ImportError:
        log.warning("crawler.registry unavailable: councils are named by their codes only")
        return []
    return load_registry()


def _remove_stale_temps(db_path: Path) -> None:
    """Delete temp files of builds that were killed (their process is gone)."""
    for p in [
        *db_path.parent.glob(f".{db_path.name}.building-*"),
        *db_path.parent.glob(f".{inspect_path_for(db_path).name}.building-*"),
    ]:
        pid = re.search(r"\.building-(\d+)", p.name)  # also journals and the search index's side files
        if pid and not psutil.pid_exists(int(pid.group(1))):
            p.unlink(missing_ok=True)


@contextmanager
def _stage(name: str):
    """Log how long a build stage took, the CPU it used on all threads, and the memory held after it
    (``logging`` INFO): where the time goes on 10M rows, and how many cores each stage kept busy."""
    start, cpu = time.perf_counter(), time.process_time()
    yield
    rss = psutil.Process().memory_info().rss / 2**20
    log.info(
        "build stage %s: %.1f s, CPU %.1f s (RSS now %.0f MB)",
        name,
        time.perf_counter() - start,
        time.process_time() - cpu,
        rss,
    )


class _NoProgress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, *a, **k):
        return 0

    def update(self, *a, **k):
        pass

    def advance(self, *a, **k):
        pass


def _progress(enabled: bool):
    if not enabled:
        return _NoProgress()
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


def _build(nd: NormalisedDir, tmp: Path, registry: list[dict], bar) -> None:
    # The classify step's answers, one row per distinct key (normalise/classes.py wrote them).
    with _stage("read classes"):
        # One row per entity is all the suppliers table needs; the per-key table is tens of millions
        # of rows at national scale, so the payments pass reads the keys of a batch's councils only.
        classes = enrich.read_classes(nd.root)
        entities, categories, outturn = classes.entities, classes.categories, classes.outturn
        lookups = Lookups.build(classes.payees, categories, classes.cues)
        del classes
        release_memory()

    conn = _open_database(tmp)
    search = SideSearchIndex(tmp, "payments", summaries.FTS["payments"])
    entity_ids = pa.array(entities["supplier_id"].astype(object), pa.large_string())
    totals, ranges = _shape_payments(nd, tmp, lookups, entity_ids, bar)
    del lookups  # not needed once every row is shaped
    release_memory()

    # On two cores: a worker thread writes the payments in id order (the insert itself runs in C without
    # the GIL) while this thread computes the summaries; then SQLite sorts the payments' indexes (a
    # worker) while FTS5 indexes the payments and the spellings into side databases (the other).
    # Nothing else writes to the database until the sorts are done.
    t4 = bar.add_task("Summaries, indexes and search", total=5)
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="build")
    alias_search = None
    try:
        writing = pool.submit(_write_payments, tmp, ranges, search, bar)
        with _stage("summaries computed"):
            grain = totals.result("measures")
            tables = summaries.summary_frames(grain)
            by_supplier = supplier_tables(totals, entities, tmp)
            category_totals = totals.result("categories")
            transfer_rows = totals.result("transfers")
            file_rows = _file_rows(nd, totals.result("files"))
            del totals
        alias_search = by_supplier.alias_search
        with _stage("payments written (waited for)"):
            writing.result()
        indexing = pool.submit(summaries.index_table, tmp, "payments")
        searching_aliases = pool.submit(alias_search.build)
        bar.advance(t4)
        with _stage("payment indexes (waited for)"):
            indexing.result()
        bar.advance(t4)
        with _stage("summaries written"):
            _write_tables(
                conn,
                registry,
                nd,
                file_rows,
                by_supplier,
                (categories, category_totals),
                transfer_rows,
                tables,
                grain,
            )
            conn.commit()
        with _stage("measures"):
            # Months covered come from the dated rows (publish/build/payment_rows.dated_months), not file names.
            summaries.write_measures(conn, grain.rename(columns={"total_pence": "amount_pence"}), outturn)
        conn.commit()
        bar.advance(t4)
        with _stage("other indexes and search"):
            summaries.add_indexes_and_search(conn, searched_elsewhere=("payments", "supplier_aliases"))
        with _stage("search indexes (waited for, copied in)"):
            searching_aliases.result()
            for side in (search, alias_search):
                side.install(conn)
        bar.advance(t4)
    finally:  # on failure: drop queued jobs, wait for running ones, then remove their files
        pool.shutdown(wait=True, cancel_futures=True)
        for side in (search, alias_search):
            if side is not None:
                side.discard()
    _analyze_and_close(conn)
    bar.advance(t4)


def _analyze_and_close(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA analysis_limit=2000")  # sampled statistics: seconds instead of minutes on 10M rows
    with _stage("analyze"):
        conn.execute("ANALYZE")
    conn.commit()
    conn.close()


def _open_database(tmp: Path) -> sqlite3.Connection:
    """The temporary database with the build's settings and the tables pass 2 writes."""
    conn = sqlite3.connect(tmp)
    for pragma in build_pragmas(cache_mb=64):  # appends, then sorts for the summary tables' indexes
        conn.execute(pragma)
    for table in ("councils", "files", "suppliers", "payments"):
        create(conn, table)
    conn.commit()
    return conn


def _shape_payments(
    nd: NormalisedDir, tmp: Path, lookups: Lookups, entity_ids: pa.Array, bar
) -> tuple[Totals, IdRanges]:
    """Pass 2: payments shaped a batch of whole files at a time into spools by id range; only running
    sums stay in memory. :func:`_write_payments` then writes them in id order."""
    task = bar.add_task("Reading payments", total=len(nd.counted))
    counted = nd.files[nd.files["status"] == "counted"]
    expected = int(pd.to_numeric(counted["rows_kept"], errors="coerce").fillna(0).sum())
    totals = Totals(SupplierRanges(tmp, entity_ids, expected))
    ranges = IdRanges(tmp, expected)

    def keep(shaped: Shaped, files: int) -> None:
        ranges.add(shaped.table)
        totals.add(shaped)
        bar.advance(task, files)

    # A batch is shaped on a worker thread while this one spools and sums the batch before it: most
    # of both runs in Arrow and numpy without the GIL, so the second core has work.
    try:
        with _stage("payments shaped"), ThreadPoolExecutor(1, thread_name_prefix="shape") as shaper:
            before = None
            for rows in nd.iter_tables(PASS2_COLUMNS, min_rows=SHAPE_BATCH_ROWS):
                shaping = (
                    shaper.submit(shape, rows, lookups),
                    pc.count_distinct(rows["source_sha256"]).as_py(),
                )
                if before is not None:
                    keep(before[0].result(), before[1])
                before = shaping
            if before is not None:
                keep(before[0].result(), before[1])
    except BaseException:
        ranges.discard()
        totals.spill.discard()
        raise
    return totals, ranges


def _write_payments(tmp: Path, ranges: IdRanges, search: SideSearchIndex, bar) -> None:
    """The spooled payments into the table, an id range at a time (``publish/build/id_ranges.py``)."""
    written = bar.add_task("Writing payments in id order", total=ranges.count)
    try:
        search.open_direct()  # FTS5 indexes each range beside, on its own thread, in the same id order
        with _stage("payments written"), ArrowWriter(tmp) as writer:
            for table in ranges.tables():
                writer.append("payments", table)
                search.add(table)
                bar.advance(written)
        search.close_direct()
    finally:
        ranges.discard()


def _write_tables(
    conn: sqlite3.Connection,
    registry: list[dict],
    nd: NormalisedDir,
    file_rows: list[tuple],
    by_supplier: SupplierTables,
    category_parts: tuple,
    transfer_rows,
    tables: dict,
    grain: pd.DataFrame,
) -> None:
    """Every table but payments and the measures, once the payments' index sorts are done."""
    categories, category_totals = category_parts
    write_councils(conn, registry, nd.files)
    insert_rows(conn, "files", file_rows)
    insert_frame(conn, "suppliers", by_supplier.suppliers, list(by_supplier.suppliers.columns))
    for table in (
        "supplier_aliases",
        "categories",
        "council_year_sector",
        "council_year_division",
        "supplier_council_year",
    ):
        create(conn, table)
    by_supplier.write_aliases(conn)
    summaries.write_categories(conn, categories, category_totals)
    summaries.write_transfers(conn, transfer_rows)
    for name, frame in tables.items():
        insert_frame(conn, name, frame)
    by_supplier.write_years(conn)
    _write_quality(conn, grain)
    write_coverage(conn, registry, nd.root.parent / "raw")


def _file_rows(nd: NormalisedDir, stats: pd.DataFrame) -> list[tuple]:
    """The files table's rows. ``stats``: individual and redacted rows per published file
    (``Totals.result("files")``)."""
    files = nd.files.copy()
    cols = columns("files")
    for col in cols:
        if col not in files.columns:
            files[col] = ""
    for sha, why in nd.unreadable.items():
        files.loc[files["sha256"] == sha, ["status", "reason"]] = ["unreadable", why]
    by_sha = stats.set_index("source_sha256")
    files["individual_rows"] = files["sha256"].map(by_sha["is_individual"]).astype("Int64")
    files["redacted_rows"] = files["sha256"].map(by_sha["is_redacted"]).astype("Int64")
    present = [quality.code_fields_present(nd.report(s)) for s in files["sha256"]]
    files["code_fields_present"] = [None if p is None else sum(p.values()) for p in present]
    files["code_fields_missing"] = [
        None if p is None else ", ".join(f for f, ok in p.items() if not ok) for p in present
    ]
    files = files[cols].replace("", None)
    # A file added from this computer (`councilspend add`) has a file: URL: publish its name only, never
    # the user's folders.
    local = files["url"].fillna("").astype(str).str.startswith("file:")
    files.loc[local, "url"] = None
    files["file_name"] = [
        n.replace("\\", "/").rsplit("/", 1)[-1] if isinstance(n, str) else n for n in files["file_name"]
    ]
    for col in (
        "rows_read",
        "rows_kept",
        "rows_rejected",
        "total_pence",
        "quality_score",
        "code_fields_present",
    ):
        files[col] = pd.to_numeric(files[col], errors="coerce").astype("Int64")
    return as_tuples(files)


def _write_quality(conn: sqlite3.Connection, grain: pd.DataFrame) -> None:
    """``grain``: payments summed by council, year and month (``Totals.result("measures")``)."""
    files = pd.read_sql("select * from files", conn)
    dated = grain[grain["month"].notna()]
    months = dated[["council_id", "financial_year", "month"]].drop_duplicates().astype(object)
    red = grain["is_redacted"].astype(bool)
    pays = (
        pd.DataFrame(
            {
                "council_id": grain["council_id"].astype(object),
                "payments": grain["payments"],
                "redacted_rows": grain["payments"].where(red, 0),
                "redacted_pence": grain["total_pence"].where(red, 0).astype("int64"),
            }
        )
        .groupby("council_id", as_index=False)
        .sum()
    )
    table = quality.council_quality(files, months, pays)
    create(conn, "council_quality")
    if not table.empty:
        insert_rows(conn, "council_quality", as_tuples(table[columns("council_quality")]))
