"""Numbered spool files of Arrow tables beside the temporary database: what the build sorts or sums
later is written there range by range instead of held in memory (``id_ranges.py``,
``supplier_ranges.py``). Arrow IPC streams, LZ4-compressed unless small: a few percent of CPU, a third
of the disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from councilspend.rowkeys import one_array


class Spools:
    """``count`` spools named ``<prefix>.<kind>-<i>.arrow``: a killed build's leftovers share the
    temporary database's name and are removed with it."""

    def __init__(self, prefix: Path, kind: str, count: int, compressed: bool = True) -> None:
        """``compressed``: LZ4, about a third of the disk for a few percent of the build's CPU
        (``id_ranges.COMPRESS_ABOVE_ROWS``)."""
        self.prefix, self.kind, self.count = Path(prefix), kind, count
        self._writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
        self._schema: pa.Schema | None = None
        self._options = pa.ipc.IpcWriteOptions(compression="lz4" if compressed else None)

    def path(self, i: int) -> Path:
        return Path(f"{self.prefix}.{self.kind}-{i:05d}.arrow")

    def write(self, i: int, table: pa.Table) -> None:
        """Append ``table`` to spool ``i`` (every spool takes the first table's schema)."""
        if self._schema is None:
            self._schema = table.schema
        elif table.schema != self._schema:
            table = table.cast(self._schema)
        if i not in self._writers:
            self._writers[i] = pa.ipc.new_stream(str(self.path(i)), self._schema, options=self._options)
        self._writers[i].write_table(table)

    def has(self, i: int) -> bool:
        """Whether spool ``i`` was given anything (and not yet read)."""
        return i in self._writers

    def read(self, i: int) -> pa.Table | None:
        """Everything spool ``i`` was given, then the file is removed; None when it was given nothing."""
        writer = self._writers.pop(i, None)
        if writer is None:
            return None
        writer.close()
        path = self.path(i)
        with pa.OSFile(str(path)) as source:
            table = pa.ipc.open_stream(source).read_all()
        path.unlink()
        return table

    def tables(self) -> Iterator[pa.Table]:
        """Each spool's table (:meth:`read`), lowest number first, skipping spools given nothing."""
        for i in range(self.count):
            if self.has(i):
                yield self.read(i)

    def discard(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        for i in range(self.count):
            self.path(i).unlink(missing_ok=True)


def sorted_taking(parts: list[pa.Table], key: str) -> pa.Table:
    """``parts`` as one table sorted by ``key`` (stable), made a column at a time. ``parts`` is emptied:
    each unsorted column is let go once copied, so the sort never holds two copies of the whole table
    (hundreds of MB at 10M rows). Callers must keep no other reference to the parts."""
    table = pa.concat_tables(parts)
    parts.clear()
    order = pc.sort_indices(table[key])
    names, columns = table.column_names, []
    for name in names:
        columns.append(one_array(pc.take(table[name], order)))
        table = table.drop_columns([name])
    return pa.table(dict(zip(names, columns, strict=True)))
