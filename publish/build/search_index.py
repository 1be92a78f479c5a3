"""Payments' full-text index, built in a side database on the second core.

SQLite has one writer per database file, so indexing 10 million payments with FTS5 (~35 s) used to
wait behind the B-tree index sorts (~70 s), one core idle throughout. Here the payments pass also
spools each batch's ``id`` and searchable text to an Arrow IPC file; after the pass a thread
indexes the spool into an FTS5 table of a *side* database while the main database sorts its
indexes; then the side table's shadow tables (``_data``, ``_idx``, ``_docsize``, ``_config``) are
copied in, a sequential copy of a few hundred MB.

The table is declared exactly as sqlite-utils' ``enable_fts`` declares it (external content, no
triggers), so Datasette finds it. FTS5 writes the same segments whether the rows come from
``INSERT ... SELECT`` over the content table or from this spool, in the same rowid order.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyarrow as pa

from publish.build.ingest import ArrowWriter
from publish.build.side_tables import attached

SHADOW_TABLES = ("data", "idx", "docsize", "config")


def fts_sql(table: str, columns: list[str]) -> str:
    """sqlite-utils' FTS5 declaration (external content ``table``)."""
    cols = ", ".join(f'"{c}"' for c in columns)
    return f'CREATE VIRTUAL TABLE "{table}_fts" USING FTS5 (\n    {cols},\n    content="{table}"\n)'


class SideSearchIndex:
    """Spool rows during the payments pass, :meth:`build` on a worker thread, :meth:`install` into
    the main database after its own writes. Files live next to ``db_path`` and share its name, so a
    killed build's leftovers are found and removed with the temporary database."""

    def __init__(self, db_path: Path, table: str, columns: list[str], id_column: str = "id"):
        self.table, self.columns, self.id_column = table, columns, id_column
        self.spool_path = Path(f"{db_path}.fts-{table}.arrow")
        self.side_path = Path(f"{db_path}.fts-{table}.db")
        self._spool: pa.ipc.RecordBatchStreamWriter | None = None
        self._direct: ArrowWriter | None = None
        self._schema: pa.Schema | None = None
        self.rows = 0

    def spool(self, rows: pa.Table) -> None:
        part = self._part(rows)
        if self._spool is None:
            self._spool = pa.ipc.new_stream(str(self.spool_path), self._schema)
        self._spool.write_table(part)
        self.rows += part.num_rows

    def build_from(self, rows: pa.Table) -> None:
        """Spool ``rows`` and :meth:`build` (a summary table indexed before it is written)."""
        self.spool(rows)
        self.build()

    def open_direct(self) -> None:
        """Index rows as they are given (:meth:`add`), not from a spool afterwards: for rows that come in
        rowid order anyway (the payments, written by id range), which saves writing and reading them again
        and indexes them while the table is written."""
        self._create_side()
        self._direct = ArrowWriter(self.side_path, cache_mb=32)

    def add(self, rows: pa.Table) -> None:
        """Index ``rows`` now (after :meth:`open_direct`); the insert runs on the writer's own thread."""
        self._direct.append(f"{self.table}_fts", self._part(rows))
        self.rows += rows.num_rows

    def close_direct(self) -> None:
        """Wait for the last rows and commit (the side index is then ready for :meth:`install`)."""
        direct, self._direct = self._direct, None
        if direct is not None:
            direct.__exit__(None, None, None)

    def _create_side(self) -> None:
        self.side_path.unlink(missing_ok=True)
        side = sqlite3.connect(self.side_path)
        side.execute(fts_sql(self.table, self.columns))
        side.commit()
        side.close()

    def _part(self, rows: pa.Table) -> pa.Table:
        part = rows.select([self.id_column, *self.columns]).rename_columns(["rowid", *self.columns])
        if self._schema is None:
            self._schema = pa.schema(
                [pa.field("rowid", pa.int64()), *(pa.field(c, pa.large_string()) for c in self.columns)]
            )
        return part.cast(self._schema)

    def build(self) -> None:
        """Index the spooled rows into the side database (runs on a worker thread)."""
        self.close_spool()
        self._create_side()
        if not self.spool_path.exists():
            return
        # FTS5 appends its segments: a small page cache does, and it runs beside two other jobs.
        # Read, not memory-mapped: mapped pages read stay counted in the process's RSS (a GB at 10M).
        with pa.OSFile(str(self.spool_path)) as source, ArrowWriter(self.side_path, cache_mb=32) as writer:
            for batch in pa.ipc.open_stream(source):
                writer.append(f"{self.table}_fts", pa.Table.from_batches([batch]))
        self.spool_path.unlink(missing_ok=True)

    def install(self, db_path: Path) -> None:
        """Declare the FTS table in ``db_path`` and copy the side index's shadow tables in."""
        name = f"{self.table}_fts"
        with attached(db_path, self.side_path) as run:
            run(fts_sql(self.table, self.columns))
            for shadow in SHADOW_TABLES:
                run(f'DELETE FROM "{name}_{shadow}"')  # FTS5 wrote its own rows when it was declared
                run(f'INSERT INTO "{name}_{shadow}" SELECT * FROM side."{name}_{shadow}"')
        self.discard()

    def close_spool(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def discard(self) -> None:
        self.close_spool()
        direct, self._direct = self._direct, None
        if direct is not None:  # a failed build: roll back, close, then remove the file
            try:
                direct.__exit__(RuntimeError, None, None)
            except Exception:  # noqa: BLE001 - the build's own error is the one to report
                pass
        for p in (self.spool_path, self.side_path, Path(f"{self.side_path}-journal")):
            p.unlink(missing_ok=True)
