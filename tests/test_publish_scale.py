"""The fast paths the national-scale build relies on give exactly what the simple code gave."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from councilspend.normalised import open_normalised
from publish.build import measures


def _normalised(tmp_path: Path, tables: dict[str, pa.Table]) -> Path:
    root = tmp_path / "normalised"
    (root / "rows").mkdir(parents=True)
    for sha, table in tables.items():
        pq.write_table(table, root / "rows" / f"{sha}.parquet")
    pd.DataFrame({"sha256": [*tables, "f" * 64], "council_id": "E06000001", "status": "counted"}).to_csv(
        root / "files.csv", index=False
    )
    return root


def test_batches_join_files_whose_column_types_differ(tmp_path: Path) -> None:
    """An all-empty column is read as Arrow null in one file and text in another; the pandas
    dtypes the normaliser wrote (nullable booleans) survive; a missing file is recorded, not fatal."""
    a = pa.Table.from_pandas(
        pd.DataFrame(
            {
                "council_id": ["E06000001"] * 2,
                "amount": [1.5, -2.0],
                "source_sha256": ["a" * 64] * 2,
                "source_row": [2, 3],
                "supplier_name": [None, None],
                "is_redacted": pd.array([True, None], dtype="boolean"),
            }
        ),
        preserve_index=False,
    )
    b = pa.Table.from_pandas(
        pd.DataFrame(
            {
                "council_id": ["E06000001"],
                "amount": [3.25],
                "source_sha256": ["b" * 64],
                "source_row": [2],
                "supplier_name": ["ACME LTD"],
                "is_redacted": pd.array([False], dtype="boolean"),
            }
        ),
        preserve_index=False,
    )
    nd = open_normalised(_normalised(tmp_path, {"a" * 64: a, "b" * 64: b}))
    batches = list(
        nd.iter_batches(["council_id", "amount", "supplier_name", "is_redacted", "expense_type"], min_rows=10)
    )
    assert len(batches) == 1
    rows = batches[0]
    assert rows["amount"].tolist() == [1.5, -2.0, 3.25]
    assert rows["supplier_name"].isna().tolist() == [True, True, False]
    assert rows["supplier_name"].iloc[2] == "ACME LTD"
    assert str(rows["is_redacted"].dtype) == "boolean" and rows["is_redacted"].isna().tolist() == [
        False,
        True,
        False,
    ]
    assert rows["expense_type"].isna().all()
    assert "f" * 64 in nd.unreadable


def test_grouped_sums_equal_pandas_groupby() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    p = pd.DataFrame(
        {
            "council_id": rng.choice(["E1", "E2", "E3"], n),
            "financial_year": rng.choice(["2023-24", "unknown"], n),
            "sercop_division": rng.choice(["adult_social_care", "highways", "unknown"], n),
            "amount_pence": rng.integers(-(10**9), 10**12, n),
        }
    )
    mask = pd.Series(rng.random(n) < 0.3)
    for keys in (
        ["council_id"],
        ["council_id", "financial_year"],
        ["council_id", "financial_year", "sercop_division"],
    ):
        expected = p["amount_pence"].where(mask, 0).groupby([p[k] for k in keys]).sum().rename("x")
        got = measures._sum_where(p, keys, mask, "x")
        measures._GROUPS.clear()
        pd.testing.assert_series_equal(got, expected, check_exact=True)


def test_measures_of_an_empty_payments_frame_are_empty() -> None:
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in measures.REQUIRED})
    empty["amount_pence"] = pd.Series(dtype="int64")
    out = measures.compute(empty)
    assert out["council_year_measures"].empty and out["summary_group"].empty


async def test_league_takes_each_councils_latest_real_year(tmp_path: Path) -> None:
    """The home page reads one year per council (not every council-year): the year its headline uses
    (docs/methodology.md: a whole year over a later partial one), never 'unknown'."""
    import sqlite3

    from datasette.app import Datasette

    from publish.site import site_measures

    path = tmp_path / "league.db"
    conn = sqlite3.connect(path)
    conn.executescript("""
        create table councils (council_id text primary key, name text, council_type text);
        create table council_quality (council_id text, quality_score integer, months_covered integer);
        create table council_year_sector (council_id text, financial_year text, sector text, total_pence integer);
        create table council_year_measures (council_id text, financial_year text, m2_share real, m3_share real,
                                            months_present integer, complete integer, spend_pence integer);
        insert into councils values ('E1', 'Ambridge', 'unitary'), ('E2', 'Barchester', 'district'),
                                    ('E3', 'Casterbridge', 'county');
        insert into council_year_sector values ('E1', '2023-24', 'private', 100), ('E2', '2024-25', 'public', 50),
                                               ('E3', '2024-25', 'public', 7);
        insert into council_year_measures values
            ('E1', '2023-24', 0.25, null, 12, 1, 100), ('E1', '2024-25', 0.5, null, 6, 0, 80),
            ('E1', 'unknown', 0.9, null, 0, 0, 5), ('E2', '2024-25', 0.75, null, 12, 1, 50),
            ('E3', 'unknown', 0.9, null, 0, 0, 7);
    """)
    conn.commit()
    conn.close()
    db = Datasette([str(path)]).get_database("league")
    league = await site_measures.league(db)
    rows = {r["council_id"]: r for r in league["rows"]}
    assert [r["council_id"] for r in league["rows"]] == ["E2", "E1", "E3"]
    assert (
        rows["E1"]["financial_year"] == "2023-24"
        and rows["E1"]["m2_pct"] == 25.0
        and rows["E1"]["months"] == 12
    )
    assert rows["E3"]["m2_pct"] is None and rows["E3"]["total_pence"] == 7
