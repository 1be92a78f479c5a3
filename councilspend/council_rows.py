"""A table of per-council rows (the classify step's payee keys) read a few councils at a time.

Why: at national scale the payee keys are tens of millions of rows (10.7M at 50M payments), but a
batch of payments names a few councils, and the batches come a council after another (``files.csv``
is ordered by council; the classify step writes the keys in that order). So the classify step's
second pass and the build hold only the keys of the councils in hand: the file's row groups are
read as the councils reach them, and a couple are kept for the next batch. Any order of the rows is
still right (a council's rows may lie in several runs); it is only slower.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

#: Row groups kept after they were read: the group the councils in hand end in and the one before.
KEEP_GROUPS = 3


class CouncilRows:
    """Rows with a text ``council`` column, looked up by council (:meth:`rows`)."""

    def __init__(
        self,
        read_group: Callable[[int], pa.Table],
        group_rows: list[int],
        councils: Iterable[pa.Array],
    ) -> None:
        """``read_group(i)``: the i-th group of rows (``group_rows[i]`` of them); ``councils``: each
        group's ``council`` column, in order (read once, to find each council's rows)."""
        self._read_group = read_group
        self._starts = np.cumsum([0, *group_rows])
        self.num_rows = int(self._starts[-1])
        self.spans = _spans(councils)
        self._kept: OrderedDict[int, pa.Table] = OrderedDict()

    @classmethod
    def of_table(cls, table: pa.Table) -> CouncilRows:
        """Rows already in memory."""
        return cls(lambda _i: table, [table.num_rows], [_text(table["council"])])

    @classmethod
    def of_parquet(
        cls, path: Path, columns: list[str], prepare: Callable[[pa.Table], pa.Table] | None = None
    ) -> CouncilRows:
        """``columns`` of a Parquet file, a row group at a time; ``prepare`` is applied to each group
        as it is read (the build masks individuals there)."""
        parquet = pq.ParquetFile(path)
        present = [c for c in columns if c in parquet.schema_arrow.names]
        groups = parquet.num_row_groups
        if not groups:  # no rows at all (every rows file unreadable)
            table = parquet.read(columns=present)
            return cls.of_table(prepare(table) if prepare is not None else table)
        sizes = [parquet.metadata.row_group(i).num_rows for i in range(groups)]

        def read(i: int) -> pa.Table:
            table = parquet.read_row_group(i, columns=present, use_threads=False)
            return prepare(table) if prepare is not None else table

        councils = (_text(parquet.read_row_group(i, columns=["council"])["council"]) for i in range(groups))
        return cls(read, sizes, councils)

    def rows(self, councils: Iterable[str]) -> pa.Table:
        """Every row of ``councils`` (in their order; each council's rows in file order)."""
        parts = []
        for council in councils:
            for start, end in self.spans.get(council, ()):
                parts.extend(self._slices(start, end))
        if not parts:
            return self._group(0).slice(0, 0)
        return pa.concat_tables(parts)

    def _slices(self, start: int, end: int) -> Iterable[pa.Table]:
        first = int(np.searchsorted(self._starts, start, side="right")) - 1
        for g in range(first, len(self._starts) - 1):
            g_start, g_end = int(self._starts[g]), int(self._starts[g + 1])
            if g_start >= end:
                break
            lo, hi = max(start, g_start), min(end, g_end)
            if hi > lo:
                yield self._group(g).slice(lo - g_start, hi - lo)

    def _group(self, g: int) -> pa.Table:
        table = self._kept.get(g)
        if table is None:
            table = self._kept[g] = self._read_group(g)
            while len(self._kept) > KEEP_GROUPS:
                self._kept.popitem(last=False)
        else:
            self._kept.move_to_end(g)
        return table


def _spans(groups: Iterable[pa.Array]) -> dict[str, list[tuple[int, int]]]:
    """Each council's runs of rows, ``[start, end)``, over the groups' council columns in order."""
    spans: dict[str, list[tuple[int, int]]] = {}
    offset = 0
    for councils in groups:
        if len(councils):
            encoded = pc.dictionary_encode(councils)
            codes = encoded.indices.to_numpy(zero_copy_only=False)
            names = encoded.dictionary.to_pylist()
            starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
            ends = np.r_[starts[1:], len(codes)]
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
                runs = spans.setdefault(names[codes[a]], [])
                if runs and runs[-1][1] == offset + a:  # the run goes on from the group before
                    runs[-1] = (runs[-1][0], offset + b)
                else:
                    runs.append((offset + a, offset + b))
        offset += len(councils)
    return spans


def _text(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A council column as one text array, missing as "" (as ``rowkeys`` keys it)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return pc.fill_null(column.cast(pa.large_string()), "")
