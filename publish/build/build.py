"""Build the published SQLite database from the normaliser's output.

The classify step (``normalise/classes.py``) already decided each distinct payee and category once;
one pass over the counted files joins those answers back batch by batch (whole files, ≥ 250k rows)
and bulk-inserts, keeping only running sums. Then the two cores share the rest: a worker writes the
payments in id order and sorts their indexes, FTS5 indexes the payments and the spellings into side
databases (``search_index.py``), and this thread writes every other table into a side database of its
own (``other_tables.py``, ``side_tables.py``); the side databases are copied in after the sorts.
Everything is written to a temporary file next to ``db_path`` and swapped in
with ``os.replace``: a failed or killed build leaves the previous database (and the site serving it)
untouched.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.compute as pc
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from councilspend import rowkeys as keys
from councilspend.memory import fix_mmap_threshold, release_memory
from councilspend.normalised import NormalisedDir, open_normalised
from publish.build import enrich, fingerprint, other_tables, summaries
from publish.build.aggregates import Totals
from publish.build.id_ranges import IdRanges
from publish.build.ingest import ArrowWriter
from publish.build.payment_rows import Lookups, Shaped, shape
from publish.build.pragmas import build_pragmas
from publish.build.search_index import SideSearchIndex
from publish.build.side_tables import SideTables
from publish.build.stages import stage as _stage
from publish.build.supplier_ranges import SupplierRanges
from publish.build.tables import create

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

#: Up to this many payments the other tables are written into their side database while the payments are
#: written (0.9 GB at 1M rows); above, once the payments are written, so that the two jobs' memory never
#: adds up (the build's peak at 10M and 50M rows is while the payments are written).
OVERLAP_ROWS = 2_000_000

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
    fix_mmap_threshold()  # after a classify step in this process, the heap would hold its freed buffers
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
    # the GIL) and sorts their indexes, while this thread computes the summaries and writes every other
    # table into a side database (``side_tables.py``); FTS5 indexes the payments and the spellings into
    # side databases of their own. The side tables are copied in once the payments' indexes are sorted.
    t4 = bar.add_task("Summaries, indexes and search", total=5)
    pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="build")
    alias_search, side = None, SideTables(tmp)
    stop = threading.Event()  # set when this thread fails: the workers stop at their next step
    try:
        writing = pool.submit(_write_payments, tmp, ranges, search, bar, stop)
        indexing = pool.submit(_index_payments, writing, tmp, stop)
        others = other_tables.compute(totals, nd, tmp, (entities, categories, outturn))
        del totals
        alias_search = others.by_supplier.alias_search
        searching_aliases = pool.submit(alias_search.build)
        bar.advance(t4)
        if ranges.rows > OVERLAP_ROWS:
            with _stage("payments written (waited for)"):
                writing.result()
                release_memory()  # the ranges' freed buffers, before the side tables and the sorts
        with closing(side.open()) as side_conn:
            other_tables.write(side_conn, registry, nd, others)
        del others
        bar.advance(t4)
        with _stage("payment indexes (waited for)"):
            indexing.result()
        with _stage("side tables copied in"):
            side.copy_into(tmp)
        bar.advance(t4)
        with _stage("search indexes (waited for, copied in)"):
            searching_aliases.result()
            for index in (search, alias_search):
                index.install(tmp)
        bar.advance(t4)
    finally:  # on failure: drop queued jobs, stop and wait for running ones, then remove their files
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        side.discard()
        for index in (search, alias_search):
            if index is not None:
                index.discard()
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
    expected = nd.counted_rows
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


def _write_payments(tmp: Path, ranges: IdRanges, search: SideSearchIndex, bar, stop: threading.Event) -> None:
    """The spooled payments into the table, an id range at a time (``publish/build/id_ranges.py``);
    nothing more once ``stop`` is set."""
    written = bar.add_task("Writing payments in id order", total=ranges.count)
    try:
        search.open_direct()  # FTS5 indexes each range beside, on its own thread, in the same id order
        with _stage("payments written"), ArrowWriter(tmp) as writer:
            for table in ranges.tables():
                if stop.is_set():  # the build failed elsewhere: its database will be deleted
                    return
                writer.append("payments", table)
                search.add(table)
                bar.advance(written)
        search.close_direct()
    finally:
        ranges.discard()


def _index_payments(writing: Future, tmp: Path, stop: threading.Event) -> None:
    """The payments' indexes sorted (``summaries.index_table``) as soon as ``writing`` has written them,
    unless the build has failed meanwhile (``stop``)."""
    writing.result()
    if stop.is_set():
        return
    with _stage("payment indexes"):
        summaries.index_table(tmp, "payments")
