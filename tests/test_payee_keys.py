"""Pass 1's payee keys written a council at a time (normalise/payee_keys.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pytest

from councilspend import rowkeys as keys
from normalise.payee_keys import PayeeKeyFile


def _batch(rows: list[tuple[str, str]]) -> pa.Table:
    council, name = zip(*rows, strict=True) if rows else ((), ())
    blank = [""] * len(rows)
    columns = {"council": list(council), "supplier_name": list(name)}
    table = {c: columns.get(c, blank) for c in keys.SUPPLIER_KEY}
    return keys.distinct(pa.table({c: pa.array(v, pa.large_string()) for c, v in table.items()}))


def _written(path: Path) -> list[tuple[str, str]]:
    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_file(source).read_all()
    return list(zip(table["council"].to_pylist(), table["supplier_name"].to_pylist(), strict=True))


def _all_at_once(batches: list[pa.Table]) -> list[tuple[str, str]]:
    table = keys.distinct(pa.concat_tables(batches))
    return list(zip(table["council"].to_pylist(), table["supplier_name"].to_pylist(), strict=True))


def test_councils_in_runs_give_the_same_file_as_all_at_once(tmp_path: Path) -> None:
    batches = [
        _batch([("a", "X"), ("a", "Y"), ("b", "X")]),
        _batch([("b", "Z"), ("b", "X"), ("c", "Y")]),
        _batch([("c", "Y"), ("c", "X")]),
        _batch([("c", "Z"), ("d", "X")]),
    ]
    out = PayeeKeyFile(tmp_path / "keys.arrow")
    for b in batches:
        out.add(b)
    out.close()
    got = _written(out.path)
    assert got == _all_at_once(batches)
    assert got[:3] == [("a", "X"), ("a", "Y"), ("b", "X")] and out.rows == len(got) == 8


def test_a_council_that_comes_back_is_not_written_twice(tmp_path: Path, caplog) -> None:
    batches = [_batch([("a", "X")]), _batch([("b", "X")]), _batch([("a", "X"), ("a", "Y")])]
    out = PayeeKeyFile(tmp_path / "keys.arrow")
    with caplog.at_level(logging.WARNING):
        for b in batches:
            out.add(b)
        out.close()
    assert _written(out.path) == [("a", "X"), ("b", "X"), ("a", "Y")] and out.rows == 3
    assert "more than one run of files" in caplog.text


def test_no_keys_gives_an_empty_file_and_abort_removes_it(tmp_path: Path) -> None:
    empty = PayeeKeyFile(tmp_path / "empty.arrow")
    empty.close()
    assert _written(empty.path) == [] and empty.rows == 0
    failed = PayeeKeyFile(tmp_path / "failed.arrow")
    failed.add(_batch([("a", "X")]))
    failed.abort()
    assert not failed.path.exists()
    with pytest.raises(FileNotFoundError):
        _written(failed.path)
