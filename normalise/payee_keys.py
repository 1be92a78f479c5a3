"""Pass 1's distinct payee keys, de-duplicated a council at a time into an Arrow file.

Why: a payee key starts with its council (``rowkeys.SUPPLIER_KEY``), so keys of different councils
never collide, and ``files.csv`` lists files by council (``normalise/manifest.py`` sorts it), so the
rows arrive a council after another. Once a batch no longer has a council, that council's keys are
final: they are de-duplicated and written out, and memory holds one or two councils' keys instead of
the country's (at 50M rows, collecting every batch's keys and de-duplicating them at the end took
3.8 GB). The file is the same as de-duplicating everything at once, in first-seen order: councils
come in the order they first appear, each one's keys in their first-seen order.

Rows that do not arrive a council after another (a hand-made ``files.csv``, a rows file whose
``council_id`` differs from its neighbours') are still right: when a council comes back after it was
written, the whole file is de-duplicated again at the end, in memory, as before.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from councilspend import rowkeys as keys

log = logging.getLogger(__name__)


class PayeeKeyFile:
    """Distinct :data:`~councilspend.rowkeys.SUPPLIER_KEY` rows written to ``path`` (Arrow IPC file)
    as their councils are finished. Use :meth:`add` per batch, then :meth:`close`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.rows = 0
        self._schema = pa.schema([(c, pa.large_string()) for c in keys.SUPPLIER_KEY])
        self._sink = pa.OSFile(str(self.path), "wb")
        self._writer = pa.ipc.new_file(self._sink, self._schema)
        self._pending: list[pa.Table] = []  # distinct keys of councils not yet finished, in arrival order
        self._written: set[str] = set()
        self._came_back: set[str] = set()

    def add(self, batch_keys: pa.Table) -> None:
        """A batch's distinct payee keys (``rowkeys.distinct(rowkeys.supplier_parts(rows))``)."""
        batch_keys = batch_keys.select(keys.SUPPLIER_KEY).cast(self._schema)
        here = pc.unique(batch_keys["council"])
        self._came_back.update(c for c in here.to_pylist() if c in self._written)
        if self._pending:
            self._write(pc.invert(pc.is_in(self._pending_councils(), value_set=here)))
        self._pending.append(batch_keys)

    def close(self) -> None:
        """Write the last councils' keys and close the file (de-duplicated again if a council came back)."""
        if self._pending:
            self._write(None)
        self._writer.close()
        self._sink.close()
        if self._came_back:
            log.warning(
                "payee keys of %d council(s) arrived in more than one run of files (files.csv not "
                "ordered by council?); de-duplicating all %d keys at once",
                len(self._came_back),
                self.rows,
            )
            with pa.memory_map(str(self.path)) as source:
                table = keys.distinct(pa.ipc.open_file(source).read_all())
            self.rows = table.num_rows
            with pa.OSFile(str(self.path), "wb") as sink, pa.ipc.new_file(sink, self._schema) as ipc:
                ipc.write_table(table)

    def abort(self) -> None:
        """Close and remove the file (the pass failed)."""
        for closing in (self._writer.close, self._sink.close):
            try:
                closing()
            except (OSError, pa.ArrowException):
                pass
        self.path.unlink(missing_ok=True)

    def _pending_councils(self) -> pa.ChunkedArray:
        return pa.chunked_array([t["council"].combine_chunks() for t in self._pending], pa.large_string())

    def _write(self, finished: pa.ChunkedArray | None) -> None:
        """De-duplicate and write the pending keys whose council is ``finished`` (a mask over the
        pending rows; None: all of them); keep the rest pending."""
        pending = pa.concat_tables(self._pending)
        done = pending if finished is None else pending.filter(finished)
        self._pending = [] if finished is None else [pending.filter(pc.invert(finished))]
        if not done.num_rows:
            return
        done = keys.distinct(done)
        self._written.update(pc.unique(done["council"]).to_pylist())
        self._writer.write_table(done)
        self.rows += done.num_rows
