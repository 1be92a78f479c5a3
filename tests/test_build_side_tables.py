"""The build's tables written beside the payments and copied in (``publish/build/side_tables.py``), and
the payments' indexes sorted through the ADBC driver (``summaries.index_table``): the database must
read exactly as if everything had been written into it in place."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import sqlite_utils

from publish.build import summaries
from publish.build.side_tables import DECLARED_FIRST, SideTables
from publish.build.tables import create


def _schema(conn: sqlite3.Connection) -> list[tuple]:
    return conn.execute("select type, name, tbl_name, sql from sqlite_master order by rowid").fetchall()


def _fill(conn: sqlite3.Connection) -> None:
    """What the build writes after the payments: rows in the first tables, a table of its own with an
    index, and an FTS5 table over one of them (sqlite-utils' declaration, as the build makes it)."""
    conn.execute("insert into councils (council_id, name) values ('E1', 'One'), ('E2', 'Two')")
    conn.executemany(
        "insert into suppliers (supplier_id, name, total_pence) values (?, ?, ?)",
        [(f"S{i:03d}", f"Supplier number {i} Ltd", i * 100) for i in range(300)],
    )
    conn.execute(
        "create table summary (council_id text, year text, pence integer, primary key (council_id, year))"
    )
    conn.executemany(
        "insert into summary values (?, ?, ?)", [(f"E{i % 7}", str(2000 + i), i) for i in range(200)]
    )
    db = sqlite_utils.Database(conn)
    db["summary"].create_index(["pence"], if_not_exists=True)
    db["suppliers"].create_index(["total_pence"], if_not_exists=True)
    db["suppliers"].enable_fts(["name"], fts_version="FTS5", create_triggers=False, replace=True)
    conn.commit()


def _tables(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    names = [r[0] for r in conn.execute("select name from sqlite_master where type = 'table' order by name")]
    return {
        n: conn.execute(f'select rowid, * from "{n}" order by rowid').fetchall()
        for n in names
        if n != "suppliers_fts" and not n.endswith(("_idx", "_config"))
    }


def test_copied_tables_read_as_if_written_in_place(tmp_path: Path) -> None:
    """Tables, indexes and the FTS5 table land in the main database in the side's order after what the
    main database already declared (the payments), with the same rows and a working search index."""
    in_place = sqlite3.connect(tmp_path / "in_place.db")
    main = sqlite3.connect(tmp_path / "main.db")
    for conn in (in_place, main):
        for table in DECLARED_FIRST:
            create(conn, table)
        conn.execute("create table payments (id integer primary key, council_id text)")
        conn.execute('create index "idx_payments_council_id" on payments (council_id)')
        conn.commit()
    _fill(in_place)
    side = SideTables(tmp_path / "main.db")
    side_conn = side.open()
    _fill(side_conn)
    side_conn.close()
    main.commit()
    side.copy_into(tmp_path / "main.db")
    assert not side.path.exists()
    assert [r[:3] for r in _schema(main)] == [r[:3] for r in _schema(in_place)]
    assert _schema(main) == _schema(in_place)
    assert _tables(main) == _tables(in_place)
    main.execute("insert into suppliers_fts(suppliers_fts) values('integrity-check')")
    found = main.execute("select rowid from suppliers_fts where suppliers_fts match 'number' order by rowid")
    assert len(found.fetchall()) == 300


def test_index_sql_is_worded_as_sqlite_utils_words_it(tmp_path: Path) -> None:
    """The payments' indexes are made through ADBC, not sqlite-utils: the schema must read the same."""
    ours, theirs = sqlite3.connect(tmp_path / "ours.db"), sqlite3.connect(tmp_path / "theirs.db")
    for conn in (ours, theirs):
        conn.execute('create table "payments" (council_id text, amount_pence integer, "odd name" text)')
    for cols in [["council_id", "amount_pence"], ["odd name"], *summaries.INDEXES["payments"]]:
        if set(cols) <= {"council_id", "amount_pence", "odd name"}:
            ours.execute(summaries.index_sql("payments", cols))
            sqlite_utils.Database(theirs)["payments"].create_index(cols, if_not_exists=True)
    assert _schema(ours) == _schema(theirs)


def test_index_table_sorts_the_payments_indexes_through_adbc(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    conn = sqlite3.connect(db)
    create(conn, "payments")
    conn.executemany(
        "insert into payments (id, council_id, supplier_id, amount_pence, source_sha256) values (?, ?, ?, ?, ?)",
        [(i, f"E{i % 5}", f"S{i % 11}", (i * 7919) % 1000, f"{i % 3:064d}") for i in range(1, 5000)],
    )
    conn.commit()
    conn.close()
    summaries.index_table(db, "payments")
    conn = sqlite3.connect(db)
    names = [
        r[0] for r in conn.execute("select name from sqlite_master where type = 'index' and sql is not null")
    ]
    assert names == [f"idx_payments_{'_'.join(c)}" for c in summaries.INDEXES["payments"]]
    assert conn.execute("pragma integrity_check").fetchone() == ("ok",)


def test_a_large_build_writes_the_side_tables_after_the_payments_and_the_same_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above ``OVERLAP_ROWS`` the side tables wait for the payments to be written (memory); the database
    is the same, table by table and in its schema, either way."""
    from demo.sample_site import COUNCILS, build_sample_site
    from publish.build import build

    db = build_sample_site(tmp_path, months=1, n_repeats=1)
    monkeypatch.setattr(build, "OVERLAP_ROWS", 0)
    large = build.build_database(
        tmp_path, tmp_path / "large.db", registry=COUNCILS, progress=False, downloads=False
    )
    one, other = sqlite3.connect(db), sqlite3.connect(large)
    assert _schema(one) == _schema(other)
    assert _tables(one) == _tables(other)


def test_an_error_sqlite_rolled_back_itself_reaches_the_caller_as_it_is(tmp_path: Path) -> None:
    """After some errors (disk full, I/O) SQLite has rolled the transaction back already; the caller must
    see that error, not "cannot rollback - no transaction is active" from the rollback after it."""
    from publish.build.side_tables import attached

    sqlite3.connect(tmp_path / "side.db").close()
    with closing(sqlite3.connect(tmp_path / "main.db")) as conn:
        conn.execute("create table t (x)")
        conn.execute(
            "create trigger full before insert on t "
            "begin select raise(rollback, 'database or disk is full (as SQLite says it)'); end"
        )
        conn.commit()
    with pytest.raises(Exception, match="database or disk is full"):
        with attached(tmp_path / "main.db", tmp_path / "side.db") as run:
            run("insert into t values (1)")
