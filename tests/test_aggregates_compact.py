"""The build's running sums added up as they go (publish/build/aggregates.py ``Totals._keep``)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from publish.build import aggregates
from publish.build.aggregates import TRANSFER_KEY, Totals


def _batches() -> list[pa.Table]:
    rows = [
        ("c1", "2023-24", "levy", "s1", 1, 100),
        ("c1", "2023-24", "levy", "s1", 2, 250),
        ("c2", "2023-24", None, "s2", 1, -5),
        ("c1", "2024-25", "levy", None, 1, 7),
        ("c2", "2023-24", None, "s2", 3, 11),
        ("c1", "2023-24", "levy", "s1", 1, 1),
        ("c3", None, "grant", "s3", 1, 2**40),
    ]
    names = [*TRANSFER_KEY, "payments", "total_pence"]
    out = []
    for start in range(0, len(rows), 2):  # batches of two rows, keys repeating across batches
        cols = list(zip(*rows[start : start + 2], strict=True))
        out.append(pa.table({n: pa.array(c) for n, c in zip(names, cols, strict=True)}))
    return out


def _result(monkeypatch: pytest.MonkeyPatch, compact_rows: int) -> tuple[pd.DataFrame, int]:
    monkeypatch.setattr(aggregates, "COMPACT_ROWS", compact_rows)
    totals = Totals()
    most = 0
    for batch in _batches():
        totals._keep("transfers", batch)
        most = max(most, sum(p.num_rows for p in totals.parts["transfers"]))
    return totals.result("transfers"), most


def test_sums_added_up_as_they_go_give_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    whole, most_whole = _result(monkeypatch, 10**9)
    compacted, most_compacted = _result(monkeypatch, 2)
    pd.testing.assert_frame_equal(whole, compacted)
    assert most_whole == 7 and most_compacted < most_whole  # compaction happened
    first = whole.iloc[0]
    assert (first["council_id"], first["financial_year"], first["supplier_id"]) == ("c1", "2023-24", "s1")
    assert (first["payments"], first["total_pence"]) == (4, 351)
    assert whole["total_pence"].sum() == 351 + 7 + 6 + 2**40
