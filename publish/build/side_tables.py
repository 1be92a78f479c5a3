"""Every table but the payments written into a database of their own while the payments are written and
their indexes sorted, then copied in.

SQLite has one writer per file: the summary tables, the measures, their indexes and the suppliers' search
index (~17 s at 10M rows, ~1.5 s at 1M) waited for the payments' four index sorts with one core idle.
Here they go into a side database (``<temporary database>.tables.db``, removed with it) on the main
thread while a worker writes and indexes the payments. Afterwards :meth:`SideTables.copy_into` declares
each table, index and FTS5 table in the main database exactly as it was declared in the side one, in
the same order, and copies the rows with ``INSERT INTO t SELECT * FROM side.t``: into an empty table with
the same columns and indexes that is SQLite's transfer optimisation (what ``VACUUM`` uses), which
copies the stored rows and index entries in order, without decoding or sorting them again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from publish.build import summaries
from publish.build.pragmas import build_pragmas
from publish.build.tables import create

#: Tables the main database declares before the payments (``build._open_database``), in that order;
#: the side database declares them first too, so every later table lands in the same order in both.
DECLARED_FIRST = ("councils", "files", "suppliers")


class SideTables:
    """The side database next to ``db_path`` (the temporary database)."""

    def __init__(self, db_path: Path) -> None:
        self.path = Path(f"{db_path}.tables.db")

    def open(self) -> sqlite3.Connection:
        """A connection to a new side database holding the empty tables of :data:`DECLARED_FIRST`."""
        self.discard()
        conn = sqlite3.connect(self.path)
        # A small cache: this runs beside the payments' insert or index sorts and its memory adds to
        # theirs (at 10M rows a 64 MB cache, which is also each sort thread's run, took the build's peak
        # over 1.5 GB); its indexes sort in small runs, as the payments' do (``summaries.SORT_CACHE_MB``).
        for pragma in build_pragmas(cache_mb=summaries.SORT_CACHE_MB):
            conn.execute(pragma)
        for table in DECLARED_FIRST:
            create(conn, table)
        conn.commit()
        return conn

    def copy_into(self, db_path: Path) -> None:
        """Declare in ``db_path`` what it lacks of the side database's schema, in the side's order, copy
        every table's rows, then remove the side database."""
        with attached(db_path, self.path) as run:
            entries = run("SELECT type, name, sql FROM side.sqlite_master ORDER BY rowid")
            for _kind, name, sql in entries:
                # Automatic indexes and FTS5's shadow tables (no SQL of their own, or made by their
                # virtual table a statement before) exist by now.
                if sql and not name.startswith("sqlite_") and name not in _names(run):
                    run(sql)
            for kind, name, sql in entries:
                if kind == "table" and not name.startswith("sqlite_") and not _virtual(sql):
                    run(f'DELETE FROM main."{name}"')  # FTS5 wrote its own shadow rows
                    run(f'INSERT INTO main."{name}" SELECT * FROM side."{name}"')
        self.discard()

    def discard(self) -> None:
        for p in (self.path, Path(f"{self.path}-journal")):
            p.unlink(missing_ok=True)


@contextmanager
def attached(db_path: Path, side_path: Path) -> Iterator[Callable[[str], list[tuple]]]:
    """A connection to ``db_path`` with ``side_path`` attached as ``side``, for one transaction (committed
    at the end, rolled back on an error); yields a function that runs one statement and returns its rows.

    Through the ADBC driver: its SQLite (3.53 here; Python's is 3.40) copies rows and index entries about
    a third faster. No other connection may write to ``db_path`` meanwhile."""
    import adbc_driver_sqlite.dbapi as adbc

    with closing(adbc.connect(str(db_path), autocommit=True)) as conn, closing(conn.cursor()) as cur:

        def run(sql: str) -> list[tuple]:
            cur.execute(sql)
            return cur.fetchall()

        for pragma in build_pragmas(cache_mb=64, sort_threads=0):
            run(pragma)
        side = str(side_path).replace("'", "''")
        run(f"ATTACH DATABASE '{side}' AS side")
        run("BEGIN")
        try:
            yield run
        except BaseException:
            try:
                run("ROLLBACK")
            except Exception:  # noqa: BLE001 - SQLite rolled back already (disk full, I/O error): keep its error
                pass
            raise
        run("COMMIT")


def _names(run: Callable[[str], list[tuple]]) -> set[str]:
    return {name for (name,) in run("SELECT name FROM main.sqlite_master")}


def _virtual(sql: str | None) -> bool:
    return bool(sql) and sql.lstrip().upper().startswith("CREATE VIRTUAL")
