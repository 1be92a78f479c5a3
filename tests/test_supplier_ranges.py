"""Sums keyed by supplier, spilled by supplier range (publish/build/supplier_ranges.py): range by range
they add up to exactly the whole sorted result."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from publish.build.aggregates import ALIAS_KEY, SUMS, _summed_by_rank
from publish.build.supplier_ranges import SupplierRanges


def _sums(rng: np.random.Generator, n: int, ids: list[str | None]) -> pa.Table:
    return pa.table(
        {
            "supplier_id": pa.array([ids[i] for i in rng.integers(0, len(ids), n)], pa.large_string()),
            "supplier_name": pa.array([f"Näme {i}" for i in rng.integers(0, 40, n)], pa.large_string()),
            "council_id": pa.array([f"E0{i}" for i in rng.integers(0, 5, n)], pa.large_string()),
            "payments": pa.array(rng.integers(1, 5, n)),
            "total_pence": pa.array(rng.integers(-10_000, 10**9, n)),
        }
    )


def test_ranges_add_up_to_the_whole_result_in_order(tmp_path):
    rng = np.random.default_rng(3)
    entities = [f"GB-COH-{i:08d}" for i in range(300)] + [f"LOCAL-{i}" for i in range(50)]
    # Ids the entities don't list (a withheld payee's) and missing ids must land somewhere in order.
    paid = [*entities, "withheld", "ZZZ-unknown", "A-first", None]
    spill = SupplierRanges(tmp_path / "db", pa.array(entities), expected_rows=5_000_000)
    assert spill.count == 5
    batches = [_sums(rng, 2_000, paid) for _ in range(6)]
    for b in batches:
        spill.add("aliases", b)
    parts = [_summed_by_rank(t, ALIAS_KEY, SUMS) for t in spill.tables("aliases")]
    assert len(parts) == 5
    whole = _summed_by_rank(pa.concat_tables(batches), ALIAS_KEY, SUMS)
    assert pa.concat_tables(parts).equals(whole)
    assert not list(tmp_path.glob("db.*"))  # every spool removed once read


def test_one_range_for_a_small_build(tmp_path):
    spill = SupplierRanges(tmp_path / "db", pa.array(["a", "b"]), expected_rows=10)
    assert spill.count == 1 and spill.boundaries == []
    assert list(spill.tables("suppliers")) == []
