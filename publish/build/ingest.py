"""Bulk-insert Arrow tables into SQLite through the ADBC SQLite driver, on a background thread.

Python's ``sqlite3.executemany`` needs a Python object per value: at 23 columns × 10 million
payments that was ~13 µs a row (``tolist`` + ``zip`` + binding), the largest part of a national
build. ADBC binds straight from Arrow buffers in C (~3 µs a row here) and releases the GIL, so the
next batch is shaped on one core while this one is written on the other. At most one batch waits,
so memory stays bounded.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa

from publish.build.pragmas import build_pragmas


class ArrowWriter:
    """Append Arrow tables to existing tables of ``db_path`` in one transaction.

    Use as a context manager; the Python ``sqlite3`` connection to the same file must not write
    while this is open (SQLite has one writer). Errors from the background insert are raised by the
    next :meth:`append` or on exit.
    """

    def __init__(self, db_path: Path, cache_mb: int = 32):
        """``cache_mb``: SQLite's page cache. Rows are appended in rowid order, so a page once full is never
        read again: a bigger cache only holds dirty pages longer (200 MB of the build's RSS at 10M rows)."""
        import adbc_driver_sqlite.dbapi as adbc

        self._conn = adbc.connect(str(db_path), autocommit=True)
        self._cur = self._conn.cursor()
        for pragma in build_pragmas(cache_mb, sort_threads=0):  # appends in order: nothing to sort
            self._cur.execute(pragma)
            self._cur.fetchall()
        self._cur.execute("BEGIN")
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-ingest")
        self._pending: Future | None = None
        self.rows = 0

    def append(self, table_name: str, table: pa.Table) -> None:
        self._wait()
        self._pending = self._pool.submit(self._cur.adbc_ingest, table_name, table, mode="append")
        self.rows += table.num_rows

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def __enter__(self) -> ArrowWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._wait()
            self._cur.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            self._pool.shutdown(wait=True)
            self._cur.close()
            self._conn.close()
