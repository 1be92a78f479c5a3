"""Revenue Outturn loader on the real MHCLG RSX files in ../shared/data/reference/outturn."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from normalise.categories.outturn import OutturnFileError, load_outturn, parse_rsx, read_outturn

LEEDS, OXFORD, BURNLEY, BRADFORD, HARROGATE = "E08000035", "E07000178", "E07000117", "E08000032", "E07000165"
PENCE_PER_THOUSAND = 100_000


@pytest.fixture(scope="module")
def outturn_dir(shared: Path) -> Path:
    return shared / "data" / "reference" / "outturn"


@pytest.fixture(scope="module")
def loaded(outturn_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    db = tmp_path_factory.mktemp("outturn") / "registers.db"
    return db, load_outturn(outturn_dir / "mhclg_rsx", db)


def test_all_four_years_load_keyed_by_gss(loaded: tuple[Path, int]) -> None:
    db, written = loaded
    df = read_outturn(db)
    assert written > 30_000
    assert sorted(df["financial_year"].unique()) == ["2021-22", "2022-23", "2023-24", "2024-25"]
    assert df["gss"].str.fullmatch(r"E\d{8}").all()
    assert not df.duplicated(["gss", "financial_year", "division"]).any()
    assert set(df["division"]) == {
        "total",
        "education",
        "highways_transport",
        "childrens_social_care",
        "adult_social_care",
        "public_health",
        "housing",
        "cultural",
        "environmental_regulatory",
        "planning_development",
        "police",
        "fire",
        "central_services",
        "other",
    }
    # names change between releases ("Leeds" stays, "Devon" -> "Devon CC"); the key does not
    devon = df[(df["gss"] == "E10000008") & (df["division"] == "total")]
    assert len(devon) == 4 and devon["authority"].nunique() > 1


@pytest.mark.parametrize(
    "gss,expected_thousands",
    [
        (LEEDS, [1_888_488, 2_009_961, 2_208_293, 2_387_494]),
        (BURNLEY, [41_790, 44_078, 50_156, 52_811]),
        (OXFORD, [94_907, 91_834, 94_739, 100_883]),
    ],
)
def test_total_service_expenditure_matches_the_published_spot_values(
    loaded: tuple[Path, int], gss: str, expected_thousands: list[int]
) -> None:
    df = read_outturn(loaded[0])
    tse = df[(df["gss"] == gss) & (df["division"] == "total")].sort_values("financial_year")
    print(f"\n{gss} TSE (£): {[int(v) // 100 for v in tse['total_service_expenditure_pence']]}")
    assert list(tse["total_service_expenditure_pence"]) == [
        k * PENCE_PER_THOUSAND for k in expected_thousands
    ]


def test_divisions_add_up_to_total_and_values_are_sane(loaded: tuple[Path, int]) -> None:
    df = read_outturn(loaded[0])
    leeds = df[(df["gss"] == LEEDS) & (df["financial_year"] == "2023-24")].set_index("division")
    parts = leeds.drop(index="total")["total_service_expenditure_pence"].sum()
    total = leeds.at["total", "total_service_expenditure_pence"]
    assert abs(parts - total) <= 13 * 50_000  # each division rounded to £1k in the release
    # a metropolitan district runs education and social care; employees + running expenses = total
    assert leeds.at["education", "total_service_expenditure_pence"] > 0
    assert (
        leeds.at["adult_social_care", "employees_pence"]
        + leeds.at["adult_social_care", "running_expenses_pence"]
        == leeds.at["adult_social_care", "total_service_expenditure_pence"]
    )
    assert 1e9 * 100 < total < 5e9 * 100  # £1bn-£5bn: a large metropolitan council


def test_later_release_wins_and_missing_returns_are_marked(loaded: tuple[Path, int]) -> None:
    db = loaded[0]
    every = read_outturn(db, all_releases=True)
    brad = every[
        (every["gss"] == BRADFORD) & (every["financial_year"] == "2023-24") & (every["division"] == "total")
    ]
    assert set(brad["status"]) == {"ok", "not_received"}, "Bradford 2023-24 is [x] in the first release only"
    best = read_outturn(db)
    row = best[
        (best["gss"] == BRADFORD) & (best["financial_year"] == "2023-24") & (best["division"] == "total")
    ]
    assert row["release"].item() == "RSX_2023-24_data_by_LA.csv"
    assert row["total_service_expenditure_pence"].item() > 0
    # Harrogate was abolished on 1 April 2023
    harrogate = best[(best["gss"] == HARROGATE) & (best["division"] == "total")]
    assert sorted(harrogate["financial_year"]) == ["2021-22", "2022-23"]


def test_reloading_a_release_replaces_it(loaded: tuple[Path, int], outturn_dir: Path) -> None:
    db = loaded[0]
    with sqlite3.connect(db) as conn:
        before = conn.execute("SELECT count(*) FROM outturn").fetchone()[0]
    again = load_outturn(outturn_dir / "mhclg_rsx" / "RSX_2021-22_data_by_LA_Live.csv", db)
    with sqlite3.connect(db) as conn:
        after = conn.execute("SELECT count(*) FROM outturn").fetchone()[0]
    assert again > 0 and after == before


def test_ro_detail_forms_are_skipped_not_misread(outturn_dir: Path) -> None:
    ro3 = sorted((outturn_dir / "mhclg_ro3").glob("*.ods"))[0]
    assert parse_rsx(ro3).empty


def test_unreadable_release_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "summary.csv"
    bad.write_text(
        "E-code,ONS Code,Local authority,Total Service Expenditure - Total Expenditure (C3)\n"
        'E1,E08000035,Leeds,"1,000"\n',
        encoding="utf-8",
    )
    with pytest.raises(OutturnFileError, match="summary.csv: cannot tell the financial year"):
        load_outturn(bad, tmp_path / "db.sqlite")
    good = tmp_path / "RSX_2030-31.csv"
    good.write_text(bad.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_outturn(good, tmp_path / "db.sqlite") == 1
    row = read_outturn(tmp_path / "db.sqlite").iloc[0]
    assert (row["gss"], row["financial_year"], row["total_service_expenditure_pence"]) == (
        "E08000035",
        "2030-31",
        100_000_000,
    )


def test_cli_outturn_load(tmp_path: Path, outturn_dir: Path) -> None:
    from councilspend.cli import main

    db = tmp_path / "registers.db"
    res = CliRunner().invoke(
        main,
        ["outturn", "load", str(outturn_dir / "mhclg_rsx" / "RSX_2022-23_data_by_LA.csv"), "--db", str(db)],
    )
    assert res.exit_code == 0, res.output
    assert "2022-23" in res.output
    df = read_outturn(db)
    assert isinstance(df, pd.DataFrame) and set(df["financial_year"]) == {"2022-23"}
