"""Unit tests of the normaliser's parts: each rule on the exact shapes seen in real files."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from councilspend.sniff import sniff
from normalise.amounts import parse_pence
from normalise.columns import map_columns, normalise_label
from normalise.council import identify
from normalise.dates import find_period, parse_dates
from normalise.header import find_header, threshold_from
from normalise.kinds import kind_from_header, looks_like_card_file
from normalise.readers import decode, read_csv_bytes
from normalise.redaction import detect
from normalise.rows import repair_fused


@pytest.mark.parametrize(
    "text, pence",
    [
        ("1500", 150000),
        ("1616.23 ", 161623),
        ("1,000.00", 100000),
        ("£2,681.94", 268194),
        (" 519.89 ", 51989),
        ("-438.80", -43880),
        ("(1,234.00)", -123400),
        ("-£12", -1200),
        ("£-12", -1200),
        ("161,413.00-", -16141300),
        ("100.00 CR", -10000),
        ("12.5 GBP", 1250),
        ("2016.2199999999998", 201622),
        ("\u22121,234.50", -123450),
        ("0.125", 13),
        ("1.5E+3", 150000),
        ("1\xa0000", 100000),
        ("0E+20", 0),
        ("1e-9999999", 0),
    ],
)
def test_amounts_exact_pence(text: str, pence: int) -> None:
    p, ok = parse_pence(pd.Series([text], dtype="str"))
    assert ok[0] and p[0] == pence


# "1e9999999" overflowed the decimal context and rejected its whole file
@pytest.mark.parametrize("text", ["", "abc", "(5", "5)", "-", "N/A", "1.2.3", "1e9999999", "-1E+14", "inf"])
def test_not_amounts(text: str) -> None:
    _, ok = parse_pence(pd.Series([text], dtype="str"))
    assert not ok[0]


def test_dates_are_day_first_and_iso_is_not_swapped() -> None:
    s = pd.Series(
        [
            "2018-01-02",
            "02/01/2018",
            "2/1/18",
            "01.09.2014",
            "20-Dec-13",
            "2018-06-01 00:00:00",
            "43000",
            "13/25/2020",
            "00:00:00",
            "",
        ]
    )
    out = parse_dates(s)
    got = out["payment_date"].tolist()
    assert got[0] == dt.date(2018, 1, 2)  # ISO: 2 January, never 1 February
    assert got[1] == got[2] == dt.date(2018, 1, 2)
    assert got[3] == dt.date(2014, 9, 1)
    assert got[4] == dt.date(2013, 12, 20)
    assert got[5] == dt.date(2018, 6, 1)
    assert got[6] == dt.date(2017, 9, 22)  # Excel serial
    assert out["date_status"].tolist()[7:] == ["invalid", "time_only", "empty"]


def test_dates_with_times_and_zones() -> None:
    s = pd.Series(["2024-01-05T10:00:00Z", "05/01/2024 10:00:00 AM", "2024-01-05T10:00:00+01:00"])
    assert parse_dates(s)["payment_date"].tolist() == [dt.date(2024, 1, 5)] * 3


def test_period_text_gives_period_not_day() -> None:
    out = parse_dates(pd.Series(["July 2010-September 2010", "Sep 2014", "201009"]))
    assert out["payment_date"].isna().all()
    assert out["date_precision"].tolist() == ["quarter", "month", "month"]
    assert out["period_start"].tolist()[0] == dt.date(2010, 7, 1)
    assert out["period_end"].tolist()[0] == dt.date(2010, 9, 30)


def test_period_found_in_file_names_and_titles() -> None:
    assert find_period("expenditure-over-500-apr-jun-2014") == (
        "quarter",
        dt.date(2014, 4, 1),
        dt.date(2014, 6, 30),
    )
    assert find_period("Payments over £500 - 1st August 2010 - 31st August 2010")[0] == "month"
    assert threshold_from(["Invoice Threshold Nett Amt:  500"]) == 500
    assert threshold_from(["HBC-Spend-OVER-250.00-Mar-22.csv"]) == 250


def test_redaction_matches_phrases_not_redactive_publishing() -> None:
    names = pd.Series(
        [
            "REDACTED PERSONAL DATA",
            "REDACTIVE PUBLISHING LTD",
            "Redacted",
            "REDACTED – PERSONAL DATA",
            "REDACTED COMMERCIAL CONFIDENTIALITY",
            "DETAILS REDACTED",
            "REDACTED UNDER DP ACT",
            "Total Gas & Power",
            "",
        ]
    )
    flag = pd.Series(["", "", "", "", "", "", "", "", "Redacted Supplier"])
    is_red, why = detect(names, flag)
    assert is_red.tolist() == [True, False, True, True, True, True, True, False, True]
    assert why.tolist()[:7] == [
        "personal",
        "",
        "unspecified",
        "personal",
        "commercial",
        "unspecified",
        "personal",
    ]


def test_labels_normalise_camelcase_bom_and_pound() -> None:
    assert normalise_label("ï»¿Body Name") == normalise_label("BodyName") == "bodyname"
    assert normalise_label("NetAmount") == normalise_label(" Net amount ")
    assert normalise_label("NetAmount") == normalise_label("Net Amount(£)")
    assert normalise_label("ProClass") == normalise_label("Proclass")
    assert normalise_label("Name:  ") == "name"


def test_purpose_goes_to_expense_type_unless_a_better_column_exists() -> None:
    alone = map_columns(["Supplier Name", "Amount", "Purpose of Spend"])
    assert alone.label_of("expense_type") == "Purpose of Spend"
    both = map_columns(["Supplier Name", "Amount", "SeRCOP Expenditure Category", "Purpose of Spend"])
    assert both.label_of("expense_type") == "SeRCOP Expenditure Category"
    assert both.label_of("description") == "Purpose of Spend"


def test_duplicate_headers_are_code_description_pairs() -> None:
    labels = [
        "Body Name",
        "Transaction No",
        "Supplier ID",
        "Supplier Name",
        "Payment Date",
        "Account Code",
        "Account Code",
        "Cost Centre Code",
        "Cost Centre Code",
        "Amount",
    ]
    cmap = map_columns(labels)
    assert cmap.field_to_col["expense_code"] == 5 and cmap.field_to_col["expense_type"] == 6
    assert cmap.field_to_col["cost_centre_code"] == 7 and cmap.field_to_col["cost_centre"] == 8
    assert cmap.field_to_col["amount"] == 9


@pytest.mark.parametrize(
    "labels",
    [
        ["Service Area", "Cost Centre", "Cost Centre Name", "Supplier Name", "Amount"],  # Newcastle
        ["Cost Centre Description", "Cost Centre Code", "Supplier Name", "Amount"],
        ["Cost Centre Code", "Cost Centre Name", "Supplier Name", "Amount"],
    ],
)
def test_cost_centre_name_is_the_text_and_its_code_is_kept_beside_it(labels: list[str]) -> None:
    cmap = map_columns(labels)
    assert "Name" in cmap.label_of("cost_centre") or "Description" in cmap.label_of("cost_centre")
    assert cmap.label_of("cost_centre_code") in ("Cost Centre", "Cost Centre Code")
    assert not cmap.unused and not cmap.unmapped


def test_a_lone_cost_centre_column_stays_cost_centre() -> None:
    cmap = map_columns(["Cost Centre", "Supplier Name", "Amount"])
    assert cmap.label_of("cost_centre") == "Cost Centre" and "cost_centre_code" not in cmap.field_to_col


def test_unknown_columns_are_reported_not_dropped() -> None:
    cmap = map_columns(["Supplier Name", "Amount", "Payment Date", "Favourite Colour"])
    assert cmap.as_report()["unmapped"] == ["Favourite Colour"]


def test_net_amount_wins_over_gross() -> None:
    cmap = map_columns(["Supplier", "Gross", "VAT", "Net", "Date"])
    assert cmap.label_of("amount") == "Net"
    assert cmap.label_of("amount_gross") == "Gross"


def test_header_found_below_preamble() -> None:
    cells = pd.DataFrame(
        [
            ["Lambeth Invoices Over Specified Nett Amount", "", ""],
            ["Report Date: 02/07/2012", "", ""],
            ["", "", ""],
            ["Supplier Name", "Invoice Creation Date", "Invoice Nett Amount"],
            ["Acme", "01/06/2012", "10.00"],
        ]
    )
    assert find_header(cells) == 3


def test_kinds_from_header() -> None:
    assert (
        kind_from_header(map_columns(["Supplier Name", "Sum of Invoice Nett Amount"]))[0] == "supplier_totals"
    )
    assert kind_from_header(map_columns(["Supplier ID", "Supplier Name", "Amount"]))[0] == "supplier_totals"
    # a card column alone decides nothing: the rows do (a majority of lines filled), see table.py
    assert (
        kind_from_header(map_columns(["Supplier Name", "Payment Date", "Net Amount", "Merchant Category"]))[0]
        is None
    )
    assert (
        kind_from_header(
            map_columns(["Contract Reference", "Supplier Name", "Start Date", "End Date", "Contract Value"])
        )[0]
        == "not_spend"
    )
    assert kind_from_header(map_columns(["Supplier Name", "Payment Date", "Net Amount"]))[0] is None


def test_card_profile() -> None:
    assert looks_like_card_file(np.array([1, 2000, 3999, 1250, 800] * 20))
    assert not looks_like_card_file(np.array([50000, 13451, 120000, 900] * 20))


def test_fused_date_and_amount_split_without_guessing() -> None:
    df = pd.DataFrame(
        [
            ["Lambeth", "CYPS", "A A GuestHouses", "25/06/2012900", "PRIVATE RESIDENTIAL CARE", ""],
            ["Lambeth", "CYPS", "Catch2212/06/2012", "8755.20", "SUPPORTED HOUSING", ""],
            ["Lambeth", "CYPS", "Inter High Education/Academy2129/05/2012740", "PROFESSIONAL FEES", "", ""],
            ["Lambeth", "CYPS", "Acme 12/06/2012 x", "oops", "more", "data"],  # would push data off the row
        ],
        dtype="str",
    )
    repaired = repair_fused(df, np.ones(4, dtype=bool), width=6, date_col=3, amount_col=4)
    assert repaired == [0, 1, 2]
    assert df.iloc[0].tolist()[2:5] == ["A A GuestHouses", "25/06/2012", "900"]
    assert df.iloc[1].tolist()[2:5] == ["Catch22", "12/06/2012", "8755.20"]
    assert df.iloc[2].tolist()[2:5] == ["Inter High Education/Academy21", "29/05/2012", "740"]
    assert df.iloc[3].tolist()[3] == "oops"


def test_sniff_by_content_not_extension() -> None:
    assert sniff(b'Body Name,Amount\r\nManchester,"\xa32,681.94"\r\n') == "csv"
    assert sniff(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100) == "xls"
    assert sniff(b"<!DOCTYPE html><html><body>Not found</body></html>") == "html"
    assert sniff(b"%PDF-1.4 ...") == "pdf"
    assert sniff(b"") == "empty"


def test_decoding_and_mojibake_repair() -> None:
    text, enc = decode("Net Amount(£)\r\n".encode("cp1252"))
    assert enc == "cp1252" and "£" in text
    table = read_csv_bytes("Supplier,Amount\nREDACTED \x96 PERSONAL DATA,1\nCafÃ© Â£,2\n".encode())
    assert table.cells.iloc[1, 0] == "REDACTED – PERSONAL DATA"
    assert table.cells.iloc[2, 0] == "Café £"
    assert {r["rows"][0] for r in table.repairs} == {2, 3}


def test_bare_cr_line_endings() -> None:
    table = read_csv_bytes(b"Name,Payment date,Net Amount\rA,31/01/2020,256.00\rB,31/01/2020,1.00\r\n")
    assert table.cells.shape[0] == 3 and table.cells.iloc[2, 0] == "B"


def test_line_numbers_follow_quoted_line_breaks() -> None:
    table = read_csv_bytes(b'Name,Description,Amount\nA,"two\nlines",1\nB,x,2\n')
    assert table.line_numbers.tolist() == [1, 2, 4]


@pytest.mark.parametrize(
    "value, gss",
    [
        ("18", "E10000008"),
        ("http://statistics.data.gov.uk/id/local-authority/00BU", "E08000009"),
        ("Http://opendatacommunities.org/id/metropolitan-district-council/leeds", "E08000035"),
        ("E08000036", "E08000036"),
        ("Craven District Council", "E07000163"),
        ("Nowhere Parish", None),
    ],
)
def test_council_identity_from_content(value: str, gss: str | None) -> None:
    assert identify(value)[0] == gss


def test_a_missing_cell_is_neither_dated_nor_redacted_by_its_neighbours():
    """Values are worked out once per distinct text and spread back by code; a missing cell (code -1)
    must not take the answer of whichever text came last."""
    import pandas as pd

    from normalise.dates import parse_date_codes
    from normalise.redaction import detect

    dates = parse_date_codes(pd.Series(["01/02/2020", None], dtype=object))
    assert dates.table.iloc[dates.codes]["payment_date"].tolist()[1] is None
    redacted, why = detect(pd.Series(["Redacted", None], dtype=object))
    assert redacted.tolist() == [True, False] and why.tolist()[1] == ""
