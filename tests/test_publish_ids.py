"""Payments keep their id across re-crawls and re-publishes; local folders and people's names stay out.

Uses ``councilspend add`` + ``councilspend publish`` (the same CLI a user runs) on small CSVs.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyarrow as pa
from click.testing import CliRunner

from councilspend.cli import main
from publish.build.payment_rows import payment_ids

LEEDS_JAN = (
    "Body Name,Payment Date,Transaction Number,Net Amount,Supplier Name,Service Area,Expense Type,Directorate\n"
    "Leeds City Council,05/01/2024,1,1100.00,ACME LTD,Parks,Tools,\n"
    "Leeds City Council,06/01/2024,2,2200.00,Mr John Smithson t/a Smithson Builders,Highways,Repairs,City\n"
    "Leeds City Council,07/01/2024,3,900.00,BETA LTD,Parks,Tools,City\n"
)
LEEDS_FEB = (
    "Body Name,Payment Date,Transaction Number,Net Amount,Supplier Name,Service Area,Expense Type\n"
    "Leeds City Council,05/02/2024,7,700.00,GAMMA LTD,Parks,Tools\n"
)


def _cli(*args: str) -> None:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_payment_ids_are_equal_before_and_after_a_recrawl_that_adds_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (tmp_path / "in").mkdir()
    jan, feb = tmp_path / "in" / "leeds-2024-01.csv", tmp_path / "in" / "leeds-2024-02.csv"
    jan.write_text(LEEDS_JAN, encoding="utf-8")
    feb.write_text(LEEDS_FEB, encoding="utf-8")
    _cli("add", str(jan), "--data", str(data))
    _cli("publish", "--data", str(data), "--no-downloads")
    sql = "select source_sha256, source_row, id from payments order by 1, 2"
    before = _rows(data / "councilspend.db", sql)
    assert len(before) == 3 and len({r[2] for r in before}) == 3
    _cli("add", str(feb), "--data", str(data))
    _cli("publish", "--data", str(data), "--no-downloads")
    after = _rows(data / "councilspend.db", sql)
    assert len(after) == 4 and set(before) < set(after)
    _cli("publish", "--data", str(data), "--no-downloads", "--force")
    assert _rows(data / "councilspend.db", sql) == after
    # The id reaches the row page and its search index (FTS rowid = payments.id).
    pid = after[0][2]
    assert 0 < pid < 2**63
    assert _rows(data / "councilspend.db", f"select count(*) from payments_fts where rowid = {pid}") == [(1,)]

    db = data / "councilspend.db"
    names = {n for (n,) in _rows(db, "select supplier_name from payments")}
    aliases = {n for (n,) in _rows(db, "select alias from supplier_aliases")}
    fts = _rows(db, "select count(*) from payments_fts where payments_fts match 'Smithson'")
    assert "Smithson Builders" in names and not any("John" in n for n in names | aliases), (names, aliases)
    assert fts == [(1,)]  # the trading name is searchable, the person's first name is not stored
    assert _rows(db, "select count(*) from payments_fts where payments_fts match 'John'") == [(0,)]
    # Missing text is NULL, never "".
    assert _rows(db, "select count(*) from payments where directorate = ''") == [(0,)]
    assert _rows(db, "select count(*) from payments where directorate is null") == [(2,)]
    # Files added from a local folder show only their file name, never the user's folders.
    for url, name in _rows(db, "select url, file_name from files"):
        assert str(tmp_path) not in (url or "") and name in ("leeds-2024-01.csv", "leeds-2024-02.csv"), url


def test_payment_ids_depend_only_on_file_and_row() -> None:
    a, b = "ab" * 32, "cd" * 32
    one = payment_ids(pa.chunked_array([[a, a, b]]), pa.chunked_array([[2, 3, 2]])).to_pylist()
    two = payment_ids(pa.chunked_array([[b, a]]), pa.chunked_array([[2, 3]])).to_pylist()
    assert len(set(one)) == 3 and two == [one[2], one[1]] and all(0 < i < 2**63 for i in one)
