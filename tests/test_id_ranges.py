"""The payments' spool by id range (publish/build/id_ranges.py): every row back once, in id order."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from publish.build.id_ranges import IdRanges


def _batch(rng: np.random.Generator, n: int, start: int) -> pa.Table:
    ids = np.sort(rng.integers(1, 2**63 - 1, size=n, dtype=np.int64))
    return pa.table({"id": ids, "row": pa.array(np.arange(start, start + n)), "text": [f"t{i}" for i in ids]})


def test_rows_come_back_once_each_in_global_id_order(tmp_path):
    rng = np.random.default_rng(7)
    ranges = IdRanges(tmp_path / "db", expected_rows=10_000, rows_per_range=1_000)
    assert ranges.count == 16  # 10k rows at ~1k a range
    batches = [_batch(rng, 2_500, 2_500 * i) for i in range(4)]
    for b in batches:
        ranges.add(b)
    assert len(list(tmp_path.glob("db.ids-*.arrow"))) == 16
    out = list(ranges.tables())
    got = pa.concat_tables(out)
    want = pa.concat_tables(batches)
    want = want.take(pc.sort_indices(want["id"]))
    assert got.equals(want)
    assert all(t.num_rows < 2_500 for t in out)  # one range at a time, not everything at once
    assert not list(tmp_path.glob("db.ids-*"))  # each spool removed once read


def test_one_range_for_a_small_build_and_discard_removes_spools(tmp_path):
    rng = np.random.default_rng(1)
    small = IdRanges(tmp_path / "small", expected_rows=50)
    assert small.count == 1
    ranges = IdRanges(tmp_path / "db", expected_rows=4_000, rows_per_range=1_000)
    ranges.add(_batch(rng, 100, 0))
    ranges.add(_batch(rng, 0, 0))
    assert list(tmp_path.glob("db.ids-*"))
    ranges.discard()
    assert not list(tmp_path.glob("db.ids-*"))
