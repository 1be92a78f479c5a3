"""Small pure functions of the publish stage: years, pence, charts, FOI links, quality roll-up, inputs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pyarrow as pa
import pytest

from councilspend import rowkeys as keys
from councilspend.normalised import InputError, open_normalised
from publish.build import payment_rows
from publish.build.payments_table import financial_year
from publish.build.quality import code_fields_present, council_quality, problems_list
from publish.build.summaries import coverage_months
from publish.site import charts
from publish.site.foi import foi_url


def test_financial_year_runs_april_to_march() -> None:
    s = pd.Series(["2024-03-31", "2024-04-01", "2025-03-31", None, "1999-12-31"])
    assert financial_year(s).tolist()[:3] == ["2023-24", "2024-25", "2024-25"]
    assert pd.isna(financial_year(s).iloc[3])
    assert financial_year(s).iloc[4] == "1999-00"
    # The build's Arrow version gives the same years.
    dates = payment_rows._dates(
        pa.chunked_array(
            [pa.array(["2024-03-31", "2024-04-01", "2025-03-31", None, "1999-12-31"], pa.large_string())]
        )
    )
    assert payment_rows.financial_years(dates).to_pylist() == [
        "2023-24",
        "2024-25",
        "2024-25",
        None,
        "1999-00",
    ]


def test_pence_are_exact_and_keep_sign() -> None:
    rows = pa.table({"amount": [0.1 + 0.2, -125.4, 1234.56, None, 0.005]})
    assert payment_rows._pence(rows).to_pylist() == [30, -12540, 123456, None, 0]


def test_dates_accept_iso_strings_dates_and_timestamps() -> None:
    text = pa.chunked_array([pa.array(["2024-05-03", "", "31/12/2024", None, "2024-06-04 00:00:00"])])
    assert payment_rows._dates(text).cast(pa.string()).to_pylist() == [
        "2024-05-03",
        None,
        None,
        None,
        "2024-06-04",
    ]
    typed = pa.table(
        {"d": pa.array([dt.date(2024, 4, 2), None]), "t": pa.array([pd.Timestamp("2024-06-04"), None])}
    )
    assert payment_rows._dates(keys.column(typed, "d")).cast(pa.string()).to_pylist() == ["2024-04-02", None]
    assert payment_rows._dates(keys.column(typed, "t")).cast(pa.string()).to_pylist() == ["2024-06-04", None]


def test_keys_match_the_categories_rule_for_first_filled_columns() -> None:
    """Arrow's first-filled (build) and normalise.categories.row_values (CLI) agree."""
    from normalise.categories.row_values import expense_value

    df = pd.DataFrame(
        {
            "expense_type": ["  ", None, "Agency staff ", ""],
            "procurement_category": ["Care", "IT", None, ""],
            "description": ["x", "y", "z", " "],
        }
    )
    got = keys.first_filled(pa.Table.from_pandas(df), keys.EXPENSE_COLUMNS).to_pylist()
    assert got == expense_value(df).tolist() == ["Care", "IT", "Agency staff", ""]


def test_distinct_keys_keep_first_seen_order_and_tell_null_from_blank() -> None:
    parts = pa.table({"council": ["b", "a", "b", "a", "b"], "name": ["X", "Y", "X", "Z", "Y"]})
    out = keys.distinct(parts)
    assert list(zip(out["council"].to_pylist(), out["name"].to_pylist(), strict=True)) == [
        ("b", "X"),
        ("a", "Y"),
        ("a", "Z"),
        ("b", "Y"),
    ]
    with_null = pa.table({"council": ["a", "a", "a"], "name": ["", None, ""]})
    assert keys.distinct(with_null)["name"].to_pylist() == ["", None]
    assert keys.distinct(parts.slice(0, 0)).num_rows == 0


def test_charts_escape_labels_and_scale_bars() -> None:
    svg = charts.hbar([("<script>alert(1)</script>", 100), ("B & co", 50)], title="t <b>")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "B &amp; co" in svg
    widths = [float(w) for w in __import__("re").findall(r"<rect x='230' y='\d+' width='([\d.]+)'", svg)]
    assert widths[0] == pytest.approx(2 * widths[1])
    stacked = charts.stacked_share([("2024-25", {"private": 75, "public": 25})], title="s")
    assert "75%" in stacked and "25%" in stacked and charts.SECTOR_COLOURS["private"] in stacked
    assert "<circle" in charts.line({"M2": [("2023-24", 30.0), ("2024-25", 40.0)]}, title="l")


def test_money_uses_readable_units() -> None:
    assert [charts.money(p) for p in (50_000, 5_600_000, 340_000_000, 1_200_000_000_00, -50_000, None)] == [
        "£500",
        "£56k",
        "£3.4m",
        "£1.2bn",
        "-£500",
        "–",
    ]


def test_foi_url_prefills_a_whatdotheyknow_request() -> None:
    url = foi_url(
        "sampleshire_county_council",
        {
            "amount_gbp": 12500.0,
            "supplier_name": "Acme & Co",
            "payment_date": "2024-04-02",
            "transaction_ref": "T1",
        },
    )
    parsed = urlparse(url)
    assert parsed.netloc == "www.whatdotheyknow.com" and parsed.path == "/new/sampleshire_county_council"
    letter = parse_qs(parsed.query)["default_letter"][0]
    assert "£12,500.00" in letter and "Acme & Co" in letter and "T1" in letter


def test_code_fields_and_problems_are_read_tolerantly() -> None:
    assert code_fields_present({"code_2015": {"date": True, "amount": True}})["amount"] is True
    assert code_fields_present({"code_2015": {"date": True}})["merchant_category"] is False
    assert code_fields_present({}) is None
    assert problems_list('[{"severity": "error", "rule": "r", "message": "m"}]') == [
        {"severity": "error", "code": "other", "rule": "r", "message": "m", "rows": None}
    ]  # no code: other
    assert problems_list("not json")[0]["message"] == "not json"
    assert problems_list("") == [] and problems_list(None) == []


def test_council_quality_ranks_by_score_then_coverage() -> None:
    files = pd.DataFrame(
        {
            "council_id": ["A", "A", "B", "B"],
            "status": ["counted", "rejected", "counted", "superseded"],
            "quality_score": [100, 0, 80, 10],
            "code_fields_present": [7, None, 5, 7],
            "period_end": ["2024-04-30", None, "2024-05-31", "2024-04-30"],
            "individual_rows": [0, None, 3, 0],
        }
    )
    months = pd.DataFrame(
        {
            "council_id": ["A", "B", "B"],
            "financial_year": ["2024-25"] * 3,
            "month": ["2024-04", "2024-04", "2024-05"],
        }
    )
    pays = pd.DataFrame(
        {"council_id": ["A", "B"], "payments": [10, 20], "redacted_rows": [0, 2], "redacted_pence": [0, 500]}
    )
    q = council_quality(files, months, pays).set_index("council_id")
    assert q.loc["A", "file_score"] == 50.0  # the rejected file counts against A; superseded ones don't
    assert q.loc["B", "file_score"] == 80.0
    assert q.loc["B", "rank"] == 1 and q.loc["A", "rank"] == 2
    assert q.loc["B", "individual_rows"] == 3 and q.loc["B", "months_covered"] == 2
    assert q.loc["B", "code_fields_pct"] == pytest.approx(100 * 5 / 7, abs=0.1)


def test_coverage_months_spans_each_counted_file() -> None:
    files = pd.DataFrame(
        {
            "council_id": ["A", "A"],
            "status": ["counted", "superseded"],
            "period_start": ["2024-03-01", "2024-01-01"],
            "period_end": ["2024-05-31", "2024-01-31"],
        }
    )
    got = coverage_months(files)
    assert got["month"].tolist() == ["2024-03", "2024-04", "2024-05"]
    assert got["financial_year"].tolist() == ["2023-24", "2024-25", "2024-25"]


def test_missing_normalised_dir_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="files.csv"):
        open_normalised(tmp_path / "normalised")
    (tmp_path / "files.csv").write_text("sha256,council_id\nabc,E1\n")
    with pytest.raises(InputError, match="status"):
        open_normalised(tmp_path)
