"""Payments written in id order across the whole build, through one spool file per id range.

A payment's id is its rowid and a hash (``payment_rows.payment_ids``), so every batch of files
spans the whole id range. Appended batch by batch, each batch's rows land between rows already
written: at 10M rows (about 40 batches) SQLite's insert spent ~94 s and the side FTS5 index ~107 s,
mostly reading back and splitting pages, against ~30 s and ~22 s for the same rows in order (the
1M build, whose four batches barely overlap). So the payments pass writes each shaped batch (already
sorted by id) into the spool of each id range it touches (the id's top bits, ``spools.py``);
afterwards each range is read back, sorted and appended, and the table and its search index are
written strictly in rowid order. A range holds about ``ROWS_PER_RANGE`` rows, whatever the national
total, so reading one back costs a bounded amount of memory.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from publish.build.spools import Spools, sorted_taking

#: Rows per id range, on average: one range is read back and sorted at a time (~100 MB at this size).
ROWS_PER_RANGE = 250_000
_ID_BITS = 63  # ids are positive int64
#: Payments spooled without compression up to this many rows: at 1M rows LZ4 cost 0.5-1 CPU-s of the
#: build's 15 (compressing while shaping, decompressing while writing, both on the build's longest chain)
#: to keep the spools at 118 MB instead of 386 MB; 5M rows uncompressed are ~2 GB beside a ~3 GB database.
COMPRESS_ABOVE_ROWS = 5_000_000


def range_count(expected_rows: int, rows_per_range: int) -> int:
    """A power of two: ranges are the ids' top bits."""
    return 1 << max(0, math.ceil(math.log2(max(1.0, expected_rows / rows_per_range))))


class IdRanges:
    """Spool files next to ``prefix`` (the temporary database's path), one per id range."""

    def __init__(self, prefix: Path, expected_rows: int, rows_per_range: int = ROWS_PER_RANGE) -> None:
        self.count = range_count(expected_rows, rows_per_range)
        self._shift = np.int64(_ID_BITS - int(math.log2(self.count)))
        self._spools = Spools(prefix, "ids", self.count, compressed=expected_rows > COMPRESS_ABOVE_ROWS)
        self.rows = 0

    def add(self, table: pa.Table) -> None:
        """Spool ``table``, whose ``id`` column is sorted ascending, range by range."""
        if table.num_rows == 0:
            return
        ranges = table["id"].to_numpy() >> self._shift
        bounds = np.searchsorted(ranges, np.arange(self.count + 1), side="left")
        for i in np.flatnonzero(bounds[1:] > bounds[:-1]).tolist():
            start, stop = int(bounds[i]), int(bounds[i + 1])
            self._spools.write(i, table.slice(start, stop - start))
        self.rows += table.num_rows

    def tables(self) -> Iterator[pa.Table]:
        """Each range's rows sorted by id, lowest range first; a range's spool is removed once read."""
        for i in range(self.count):
            if self._spools.has(i):
                yield sorted_taking([self._spools.read(i)], "id")

    def discard(self) -> None:
        """Remove every spool (after a failure, or to be safe at the end)."""
        self._spools.discard()
