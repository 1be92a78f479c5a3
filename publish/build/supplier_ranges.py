"""The running sums keyed by supplier, spilled to disk by supplier-id range.

Supplier × council × year and every spelling per supplier and council are the build's biggest sums:
about 3M keys each at 10M rows, held with the per-key lookups until the summaries were computed
(2.4 GB at 10M rows). Here each batch's sums go to the spool of the supplier-id range they fall in
(ranges cut at quantiles of the entities' ids, so each holds about 1/count of the suppliers), and a
range is summed and sorted on its own. ``supplier_id`` leads each of these keys, so the ranges'
results one after another are exactly the whole result in key order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from publish.build.spools import Spools

#: Published rows per supplier range, on average (one range's sums are in memory at a time).
ROWS_PER_RANGE = 1_000_000


class SupplierRanges:
    """Spools per kind of sum (``suppliers``, ``aliases``), one per supplier-id range."""

    def __init__(self, prefix: Path, supplier_ids: pa.Array, expected_rows: int) -> None:
        """``supplier_ids``: every entity's id (any order, duplicates allowed); ids outside it (a
        withheld payee's) fall in the range their text sorts into; a missing id in the last range."""
        count = max(1, -(-expected_rows // ROWS_PER_RANGE))
        ids = pc.unique(pc.drop_null(supplier_ids.cast(pa.large_string())))
        ids = pc.take(ids, pc.sort_indices(ids))
        cuts = sorted({len(ids) * i // count for i in range(1, count)} - {0})
        #: A row's range is how many of these it is at or above: sorted, distinct ids.
        self.boundaries = [ids[c].as_py() for c in cuts]
        self.count = len(self.boundaries) + 1
        self._prefix = Path(prefix)
        self._spools: dict[str, Spools] = {}

    def range_of(self, supplier_id: pa.ChunkedArray | pa.Array) -> np.ndarray:
        """Each row's range (a missing id in the last)."""
        text = supplier_id.cast(pa.large_string())
        out = np.zeros(len(text), dtype=np.int64)
        for b in self.boundaries:
            out += pc.fill_null(pc.greater_equal(text, b), True).to_numpy(zero_copy_only=False)
        return out

    def add(self, kind: str, sums: pa.Table) -> None:
        """Spool one batch's ``sums`` (a ``supplier_id`` column and others) by range."""
        if sums.num_rows == 0:
            return
        if kind not in self._spools:
            self._spools[kind] = Spools(self._prefix, f"sums-{kind}", self.count)
        ranges = self.range_of(sums["supplier_id"])
        order = np.argsort(ranges, kind="stable")
        ranges = ranges[order]
        sums = sums.take(pa.array(order))
        bounds = np.searchsorted(ranges, np.arange(self.count + 1), side="left")
        for i in np.flatnonzero(bounds[1:] > bounds[:-1]).tolist():
            self._spools[kind].write(i, sums.slice(int(bounds[i]), int(bounds[i + 1] - bounds[i])))

    def tables(self, kind: str) -> Iterator[pa.Table]:
        """Each range's spooled sums (not yet added up), lowest range first; each file removed once read."""
        if kind in self._spools:
            yield from self._spools[kind].tables()

    def discard(self) -> None:
        for spools in self._spools.values():
            spools.discard()
