"""publish.build.build.build_database on the sample normaliser output (demo/sample_site.py)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from demo.sample_site import (
    COUNCILS,
    INDIVIDUAL_NAME,
    SCRIPT_SUPPLIER,
    build_sample_site,
    classify_sample,
    write_sample_normalised,
)
from publish.build.build import build_database, inspect_path_for
from publish.build.enrich import WITHHELD_NAME
from publish.build.summaries import FACETS_FILTERED_FIRST
from publish.build.tables import published_tables

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return build_sample_site(tmp_path_factory.mktemp("site"))


def _build(data_dir: Path, db: Path, **kwargs) -> Path:
    """What ``councilspend publish`` does: classify what changed (incremental), then build."""
    classify_sample(data_dir / "normalised")
    return build_database(data_dir, db, **kwargs)


def q(db: Path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_only_counted_files_contribute_rows_and_pence(site: Path) -> None:
    files = pd.read_csv(site.parent / "normalised" / "files.csv", dtype=str, keep_default_na=False)
    counted = files[files["status"] == "counted"]
    expected_rows = counted["rows_kept"].astype(int).sum()
    expected_pence = counted["total_pence"].astype(int).sum()
    ((rows, pence),) = q(site, "select count(*), sum(amount_pence) from payments")
    assert rows == expected_rows
    assert pence == expected_pence
    ignored = files.loc[files["status"] != "counted", "sha256"].tolist()
    placeholders = ",".join("?" * len(ignored))
    assert q(site, f"select count(*) from payments where source_sha256 in ({placeholders})", ignored) == [
        (0,)
    ]


def test_money_is_exact_pence_and_credits_stay_negative(site: Path) -> None:
    assert q(site, "select count(*) from payments where amount_pence < 0")[0][0] > 0
    assert q(site, "select count(*) from payments where round(amount_gbp * 100) != amount_pence") == [(0,)]
    assert q(site, "select typeof(amount_pence) from payments group by 1") == [("integer",)]


def test_financial_year_splits_at_april(site: Path) -> None:
    years = dict(
        q(
            site,
            "select substr(payment_date, 1, 7), group_concat(distinct financial_year) "
            "from payments group by 1",
        )
    )
    assert years["2024-03"] == "2023-24"
    assert years["2024-04"] == "2024-25"


def test_individual_names_never_reach_public_tables(site: Path) -> None:
    conn = sqlite3.connect(site)
    tables = [r[0] for r in conn.execute("select name from sqlite_master where type='table'")]
    for table in tables:
        cols = [r[1] for r in conn.execute(f'pragma table_info("{table}")')]
        for col in cols:
            hits = conn.execute(
                f'select count(*) from "{table}" where cast("{col}" as text) like ?',
                (f"%{INDIVIDUAL_NAME}%",),
            ).fetchone()[0]
            assert hits == 0, f"{table}.{col} contains an individual's name"
    conn.close()
    for csv_file in (site.parent / "downloads" / "csv").glob("*.csv"):
        assert INDIVIDUAL_NAME not in csv_file.read_text(encoding="utf-8"), csv_file.name
    withheld = q(
        site,
        "select count(*), group_concat(distinct sector) from payments where supplier_name = ?",
        (WITHHELD_NAME,),
    )
    assert withheld[0][0] > 0 and withheld[0][1] == "individual"
    assert q(site, "select count(*) from supplier_aliases where supplier_id = 'individual-withheld'") == [
        (0,)
    ]


def test_quality_flags_rows_naming_individuals_per_file(site: Path) -> None:
    per_file = q(
        site,
        "select f.individual_rows, count(p.id) from files f join payments p "
        "on p.source_sha256 = f.sha256 and p.sector = 'individual' group by f.sha256",
    )
    assert per_file and all(flagged == actual for flagged, actual in per_file)
    total = q(site, "select sum(individual_rows) from council_quality")[0][0]
    assert total == q(site, "select count(*) from payments where sector = 'individual'")[0][0]


def test_script_supplier_is_stored_as_plain_text(site: Path) -> None:
    assert q(site, "select count(*) from suppliers where name = ?", (SCRIPT_SUPPLIER,)) == [(1,)]


def test_foreign_keys_hold_and_are_declared(site: Path) -> None:
    conn = sqlite3.connect(site)
    assert conn.execute("pragma foreign_key_check").fetchall() == []
    fks = {(r[3], r[2]) for r in conn.execute("pragma foreign_key_list(payments)")}
    assert fks == {("council_id", "councils"), ("supplier_id", "suppliers"), ("source_sha256", "files")}
    conn.close()


def test_every_default_facet_and_join_column_is_indexed(site: Path) -> None:
    meta = yaml.safe_load((REPO / "metadata.yml").read_text(encoding="utf-8"))
    conn = sqlite3.connect(site)
    for table, cfg in meta["databases"]["councilspend"]["tables"].items():
        leading = {
            conn.execute(f'pragma index_info("{ix[1]}")').fetchone()[2]
            for ix in conn.execute(f'pragma index_list("{table}")')
        }
        pk = {r[1] for r in conn.execute(f'pragma table_info("{table}")') if r[5] == 1}
        if table in FACETS_FILTERED_FIRST:  # faceted after filtering by council: that index serves them
            assert "council_id" in leading, table
            continue
        for facet in cfg.get("facets", []):
            assert facet in leading | pk, f"{table}.{facet} is a default facet without an index"
    for col in ("council_id", "supplier_id", "source_sha256"):
        assert any(
            conn.execute(f'pragma index_info("{ix[1]}")').fetchone()[2] == col
            for ix in conn.execute("pragma index_list(payments)")
        ), col
    conn.close()


def test_full_text_search_finds_suppliers_and_descriptions(site: Path) -> None:
    assert q(
        site,
        "select name from suppliers where rowid in "
        "(select rowid from suppliers_fts where suppliers_fts match 'brightside')",
    ) == [("Brightside Fostering Limited",)]
    n = q(site, "select count(*) from payments_fts where payments_fts match 'fostering'")[0][0]
    assert (
        n
        == q(
            site,
            "select count(*) from payments where description like '%fostering%' "
            "or supplier_name like '%fostering%'",
        )[0][0]
        > 0
    )


def test_summary_tables_add_up_to_payments(site: Path) -> None:
    total = q(site, "select sum(amount_pence) from payments")[0][0]
    for table in ("council_year_sector", "council_year_division", "supplier_council_year"):
        assert q(site, f"select sum(total_pence) from {table}")[0][0] == total, table
    assert q(site, "select sum(spend_pence) from council_year_measures")[0][0] == total
    by_sector = dict(q(site, "select sector, sum(total_pence) from council_year_sector group by 1"))
    m1 = q(
        site, "select " + ", ".join(f"sum(m1_{s}_pence)" for s in by_sector) + " from council_year_measures"
    )[0]
    assert dict(zip(by_sector, m1, strict=True)) == by_sector


def test_published_tables_validate_against_their_schemas(site: Path) -> None:
    from frictionless import Resource, Schema, system

    from councilspend.schemas import descriptor

    csv_dir = site.parent / "downloads" / "csv"
    for table in published_tables():
        d = {
            k: v
            for k, v in descriptor(f"published/{table}").items()
            if k not in ("name", "title", "description", "foreignKeys")
        }  # FKs: checked package-wide below
        with system.use_context(trusted=True):
            report = Resource(path=str(csv_dir / f"{table}.csv"), schema=Schema.from_descriptor(d)).validate()
        assert report.valid, (table, report.flatten(["rowNumber", "fieldName", "type", "note"])[:5])


def test_data_package_validates_with_frictionless(site: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("frictionless")), "validate", "--json", "datapackage.json"],
        cwd=site.parent / "downloads",
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(result.stdout)
    assert report["valid"], [t["errors"][:3] for t in report["tasks"] if not t["valid"]]
    assert result.returncode == 0


def test_parquet_downloads_match_the_database(site: Path) -> None:
    pq = pd.read_parquet(site.parent / "downloads" / "parquet" / "payments.parquet")
    assert len(pq) == q(site, "select count(*) from payments")[0][0]
    assert int(pq["amount_pence"].sum()) == q(site, "select sum(amount_pence) from payments")[0][0]


def test_inspect_file_matches_the_database(site: Path) -> None:
    data = json.loads(inspect_path_for(site).read_text())["councilspend"]
    assert data["size"] == site.stat().st_size
    assert data["tables"]["payments"]["count"] == q(site, "select count(*) from payments")[0][0]


def test_unreadable_rows_file_is_reported_and_others_still_published(tmp_path: Path) -> None:
    norm = write_sample_normalised(tmp_path / "normalised", months=2, n_repeats=1)
    files = pd.read_csv(norm / "files.csv", dtype=str, keep_default_na=False)
    bad = files.loc[files["status"] == "counted", "sha256"].iloc[0]
    (norm / "rows" / f"{bad}.parquet").write_bytes(b"not parquet at all")
    db = _build(tmp_path, tmp_path / "councilspend.db", registry=COUNCILS, progress=False, downloads=False)
    status, reason = q(db, "select status, reason from files where sha256 = ?", (bad,))[0]
    assert status == "unreadable" and f"{bad}.parquet" in reason
    good = files[(files["status"] == "counted") & (files["sha256"] != bad)]
    assert q(db, "select count(*) from payments")[0][0] == good["rows_kept"].astype(int).sum()


def test_no_readable_rows_still_builds_a_searchable_empty_site(tmp_path: Path) -> None:
    """Every rows file broken: the files are listed as unreadable, and the empty payments and aliases
    still get their (side-built) search indexes, so the site's search pages work."""
    norm = write_sample_normalised(tmp_path / "normalised", months=1, n_repeats=1)
    files = pd.read_csv(norm / "files.csv", dtype=str, keep_default_na=False)
    for sha in files.loc[files["status"] == "counted", "sha256"]:
        (norm / "rows" / f"{sha}.parquet").write_bytes(b"not parquet at all")
    db = _build(tmp_path, tmp_path / "councilspend.db", registry=COUNCILS, progress=False, downloads=False)
    assert q(db, "select count(*) from payments") == [(0,)]
    assert (
        q(db, "select count(*) from files where status = 'unreadable'")[0][0]
        == (files["status"] == "counted").sum()
    )
    for table in ("payments", "supplier_aliases", "suppliers"):
        assert q(db, f"select count(*) from {table}_fts where {table}_fts match 'ltd'") == [(0,)]
    assert not list(tmp_path.glob("*.fts*"))


def test_rows_file_with_a_value_of_the_wrong_type_names_file_row_and_field(tmp_path: Path) -> None:
    """A Parquet file whose amount is text ('twelve') is reported with its row; the others are published."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    norm = write_sample_normalised(tmp_path / "normalised", months=2, n_repeats=1)
    files = pd.read_csv(norm / "files.csv", dtype=str, keep_default_na=False)
    bad = files.loc[files["status"] == "counted", "sha256"].iloc[0]
    path = norm / "rows" / f"{bad}.parquet"
    table = pq.read_table(path)
    amounts = table["amount"].cast(pa.string()).to_pylist()
    amounts[2] = "twelve"
    table = table.set_column(table.column_names.index("amount"), "amount", pa.array(amounts))
    pq.write_table(table, path)
    row = table["source_row"][2].as_py()
    db = _build(tmp_path, tmp_path / "councilspend.db", registry=COUNCILS, progress=False, downloads=False)
    status, reason = q(db, "select status, reason from files where sha256 = ?", (bad,))[0]
    assert status == "unreadable"
    assert f"{bad}.parquet: row {row}: field 'amount': 'twelve' is not a number" in reason
    good = files[(files["status"] == "counted") & (files["sha256"] != bad)]
    assert q(db, "select count(*) from payments")[0][0] == good["rows_kept"].astype(int).sum()


def test_side_built_search_indexes_find_what_sqlite_utils_indexes_find(tmp_path: Path) -> None:
    """Payments' and aliases' FTS5 indexes are built in side databases and copied in
    (publish/build/search_index.py): each must pass FTS5's own integrity check against its table, and
    every word of the indexed text must find the same rows as in an index sqlite-utils'
    ``enable_fts`` builds in place."""
    import re
    import shutil

    import sqlite_utils

    db = build_sample_site(tmp_path, months=2, n_repeats=2)
    conn = sqlite3.connect(db)
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)
    other = sqlite3.connect(copy)
    for table, cols in (("payments", ["supplier_name", "description"]), ("supplier_aliases", ["alias"])):
        conn.execute(f"insert into {table}_fts({table}_fts) values('integrity-check')")
        other.execute(f"drop table {table}_fts")
        sqlite_utils.Database(other)[table].enable_fts(cols, fts_version="FTS5", create_triggers=False)
        ddl = f"select sql from sqlite_master where name = '{table}_fts'"
        assert conn.execute(ddl).fetchall() == other.execute(ddl).fetchall()
        text = " ".join(
            v or "" for row in conn.execute(f"select {', '.join(cols)} from {table}") for v in row
        )
        words = sorted({w.lower() for w in re.findall(r"[A-Za-z]{3,}", text)})
        assert len(words) > 20
        for word in words:
            sql = f"select rowid from {table}_fts where {table}_fts match ? order by rowid"
            found = conn.execute(sql, (word,)).fetchall()
            assert found and found == other.execute(sql, (word,)).fetchall(), (table, word)
    assert not list(tmp_path.glob("*.fts*"))


@pytest.mark.parametrize("failing", ["summary_frames", "write_measures", "side_build", "side_add"])
def test_failure_while_indexes_and_search_run_leaves_previous_database_and_no_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """An error in any of the three jobs that share the cores after the payments pass: the error
    reaches the caller, the worker threads are done before the temporary files go, none is left,
    and the previous database is untouched."""
    import publish.build.search_index
    import publish.build.summaries

    db = build_sample_site(tmp_path, months=1, n_repeats=1)
    before = _digest(db)

    def boom(*args, **kwargs):
        raise RuntimeError(f"injected failure in {failing}")

    if failing in ("side_build", "side_add"):  # the spellings' index from a spool; the payments' as written
        monkeypatch.setattr(publish.build.search_index.SideSearchIndex, failing.removeprefix("side_"), boom)
    else:
        monkeypatch.setattr(publish.build.summaries, failing, boom)
    with pytest.raises(RuntimeError, match=f"injected failure in {failing}"):
        _build(tmp_path, db, registry=COUNCILS, progress=False, downloads=False, force=True)
    assert _digest(db) == before
    assert not list(tmp_path.glob(".*building-*"))
    import threading

    assert not [
        t.name for t in threading.enumerate() if t.name.startswith(("build", "sqlite-ingest", "read-ahead"))
    ]


def test_a_failure_beside_the_payments_stops_their_index_sorts(tmp_path: Path, monkeypatch) -> None:
    """The payments' index sorts wait for the payments to be written; when the build fails meanwhile,
    they are not started (at 10M rows they take ~17 s before the error could be reported)."""
    import publish.build.build as build_module
    import publish.build.other_tables
    import publish.build.summaries

    db = build_sample_site(tmp_path, months=1, n_repeats=1)
    sorted_tables: list[str] = []
    real_index, real_write = publish.build.summaries.index_table, build_module._write_payments
    monkeypatch.setattr(
        publish.build.summaries,
        "index_table",
        lambda path, table: sorted_tables.append(table) or real_index(path, table),
    )

    def boom(*args, **kwargs):
        raise RuntimeError("injected failure beside the payments")

    def slow_write(*args, **kwargs):
        time.sleep(0.5)  # the failure comes first
        return real_write(*args, **kwargs)

    monkeypatch.setattr(publish.build.other_tables, "compute", boom)
    monkeypatch.setattr(build_module, "_write_payments", slow_write)
    with pytest.raises(RuntimeError, match="injected failure beside the payments"):
        _build(tmp_path, db, registry=COUNCILS, progress=False, downloads=False, force=True)
    assert "payments" not in sorted_tables
    assert not list(tmp_path.glob(".*building-*"))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_killed_build_leaves_previous_database_intact(tmp_path: Path) -> None:
    """Build once, then kill a second (bigger) build half-way: the first database must be untouched."""
    db = build_sample_site(tmp_path, months=1, n_repeats=1)
    before = _digest(db)
    payments_before = q(db, "select count(*) from payments")[0][0]
    write_sample_normalised(tmp_path / "normalised", months=6, n_repeats=300)
    classify_sample(tmp_path / "normalised")
    script = (
        "from pathlib import Path; from publish.build.build import build_database; "
        "from demo.sample_site import COUNCILS; "
        f"build_database(Path({str(tmp_path)!r}), Path({str(db)!r}), registry=COUNCILS, progress=False)"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stderr=subprocess.DEVNULL)
    tmp_db = tmp_path / f".councilspend.db.building-{proc.pid}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if tmp_db.exists() and tmp_db.stat().st_size > 0:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the build finished before it could be interrupted"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert _digest(db) == before
    assert q(db, "select count(*) from payments")[0][0] == payments_before
    assert q(db, "pragma integrity_check") == [("ok",)]
    # The next build cleans the dead build's temporary file and completes.
    _build(tmp_path, db, registry=COUNCILS, progress=False, downloads=False)
    assert not list(tmp_path.glob(f"{tmp_db.name}*"))  # the database, its journal, the search side files
    assert q(db, "select count(*) from payments")[0][0] > payments_before


def test_publish_and_serve_commands(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from councilspend.cli import publish
    from publish.cli import serve

    write_sample_normalised(tmp_path / "normalised", months=1, n_repeats=1)
    result = CliRunner().invoke(publish, ["--data", str(tmp_path), "--no-downloads"])
    assert result.exit_code == 0, result.output
    assert q(tmp_path / "councilspend.db", "select count(*) from payments")[0][0] > 0
    missing = CliRunner().invoke(serve, ["--data", str(tmp_path / "nowhere")])
    assert missing.exit_code != 0 and "councilspend publish" in missing.output


def test_every_published_table_has_a_yaml_contract(site: Path) -> None:
    """A table published without a contract would be validated against its own SQLite types: a check
    that cannot fail. Every table (bar FTS shadows and SQLite's own) must have a YAML schema."""
    from publish.build.export import exportable_tables

    with sqlite3.connect(site) as conn:
        tables = set(exportable_tables(conn))
    assert tables - set(published_tables()) == set()


def test_unchanged_inputs_keep_the_database_changed_inputs_rebuild_it(tmp_path: Path) -> None:
    norm = write_sample_normalised(tmp_path / "normalised", months=1, n_repeats=1)
    db = _build(tmp_path, tmp_path / "councilspend.db", registry=COUNCILS, progress=False, downloads=False)
    built = db.stat().st_mtime_ns
    _build(tmp_path, db, registry=COUNCILS, progress=False, downloads=False)
    assert db.stat().st_mtime_ns == built  # nothing changed: kept, not rebuilt
    _build(tmp_path, db, registry=COUNCILS, progress=False, downloads=False, force=True)
    forced = db.stat().st_mtime_ns
    assert forced != built
    # a re-normalised file (new bytes in rows/) is a change
    rows = sorted((norm / "rows").glob("*.parquet"))[0]
    rows.write_bytes(rows.read_bytes())
    os.utime(rows, ns=(forced + 10**9, forced + 10**9))
    _build(tmp_path, db, registry=COUNCILS, progress=False, downloads=False)
    assert db.stat().st_mtime_ns != forced
    # so is another registry (a council renamed)
    again = db.stat().st_mtime_ns
    renamed = [dict(c, name=c["name"] + " (renamed)") if i == 0 else c for i, c in enumerate(COUNCILS)]
    _build(tmp_path, db, registry=renamed, progress=False, downloads=False)
    assert db.stat().st_mtime_ns != again
