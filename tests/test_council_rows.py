"""Per-council rows read a few councils at a time (councilspend/council_rows.py)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from councilspend.council_rows import CouncilRows

COUNCILS = ["a", "a", "b", "b", "b", "c", "a", "d", "d", None]


def _table() -> pa.Table:
    return pa.table({"council": COUNCILS, "n": list(range(len(COUNCILS)))})


def _expected(council: str) -> list[int]:
    return [i for i, c in enumerate(COUNCILS) if (c or "") == council]


def test_rows_of_each_council_in_any_order_from_memory() -> None:
    rows = CouncilRows.of_table(_table())
    assert rows.num_rows == len(COUNCILS)
    assert rows.spans["a"] == [(0, 2), (6, 7)]  # a council may lie in several runs
    for council in ("a", "b", "c", "d", ""):
        assert rows.rows([council])["n"].to_pylist() == _expected(council)
    assert rows.rows(["d", "a"])["n"].to_pylist() == [7, 8, 0, 1, 6]
    empty = rows.rows(["nowhere"])
    assert empty.num_rows == 0 and empty.schema == _table().schema


def test_parquet_row_groups_are_read_as_councils_reach_them(tmp_path: Path) -> None:
    path = tmp_path / "keys.parquet"
    pq.write_table(_table(), path, row_group_size=3)  # runs cross the groups' edges
    reads: list[int] = []

    def prepare(table: pa.Table) -> pa.Table:
        reads.append(table.num_rows)
        return table.append_column("twice", pc.multiply(table["n"], 2))

    rows = CouncilRows.of_parquet(path, ["council", "n", "absent"], prepare=prepare)
    assert rows.spans["b"] == [(2, 5)] and rows.spans["a"] == [(0, 2), (6, 7)]
    got = rows.rows(["b"])
    assert got["n"].to_pylist() == [2, 3, 4] and got["twice"].to_pylist() == [4, 6, 8]
    assert got.column_names == ["council", "n", "twice"]
    assert reads == [3, 3]  # the two groups b lies in, each read once
    assert rows.rows(["c", "d"])["n"].to_pylist() == [5, 7, 8]
    for council in ("a", "b", "c", "d", ""):  # groups dropped from the cache are read again
        assert rows.rows([council])["n"].to_pylist() == _expected(council)


def test_an_empty_parquet_file_has_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "none.parquet"
    pq.write_table(_table().slice(0, 0), path)
    rows = CouncilRows.of_parquet(path, ["council", "n"])
    assert rows.num_rows == 0 and rows.rows(["a"]).num_rows == 0
