"""The normaliser details of issue 16: each from a tiny synthetic file in the shape real files have.

Two-line headers, the council told from the file itself, card files by a majority of rows, month-only
dates, and lines that are not payments skipped (not rejected) and named in one line by `check`.
"""

from __future__ import annotations

from pathlib import Path

from normalise.check import render
from normalise.council import UNKNOWN
from normalise.pipeline import normalise_file
from normalise.report import skipped_line


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_two_line_header_is_merged_and_net_is_the_amount(tmp_path: Path) -> None:
    """`Amount,,` over `Gross,VAT,Net`: the amount is Net (as the council's other months use)."""
    path = _write(
        tmp_path,
        "salford.csv",
        "Payment Date,Supplier Name,Amount,,\n"
        ",,Gross,VAT,Net\n"
        "01/12/2011,ACME LTD,120.00,20.00,100.00\n"
        "02/12/2011,BETA LTD,60.00,10.00,50.00\n",
    )
    result = normalise_file(path, council_id="E08000006")
    rep = result.report
    assert rep["columns"]["mapped"]["amount"] == "Amount Net"
    assert rep["columns"]["mapped"]["amount_gross"] == "Amount Gross"
    assert rep["columns"]["mapped"]["vat"] == "Amount VAT"
    assert result.total_pence == 15000 and rep["rows_rejected"] == 0 and rep["lines_skipped"] == 0
    assert result.rows["source_row"].tolist() == [3, 4]
    assert result.rows["amount_basis"].tolist() == ["net", "net"]


def test_two_line_header_with_the_group_row_above(tmp_path: Path) -> None:
    """The group label alone on the upper row, every other label on the lower one."""
    path = _write(
        tmp_path,
        "f.csv",
        ",,Amount,,\nPayment Date,Supplier Name,Gross,VAT,Net\n01/12/2011,ACME LTD,120.00,20.00,100.00\n",
    )
    result = normalise_file(path, council_id="E08000006")
    assert result.report["columns"]["mapped"]["amount"] == "Amount Net" and result.total_pence == 10000
    assert result.report["header_row"] == 1


def test_a_data_row_under_a_header_is_not_merged(tmp_path: Path) -> None:
    path = _write(tmp_path, "f.csv", "Payment Date,Supplier Name,Amount,\n01/12/2011,ACME LTD,120.00,x\n")
    result = normalise_file(path, council_id="E08000006")
    assert result.report["columns"]["mapped"]["amount"] == "Amount" and len(result.rows) == 1


def test_council_from_the_preamble(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "downloads",
        "spend.csv",
        "London Borough of Lambeth - payments over £500,,\n,,\n"
        "Payment Date,Supplier Name,Amount\n01/06/2012,ACME LTD,900.00\n",
    )
    result = normalise_file(path)
    assert result.report["council_id"] == "E09000022"
    assert set(result.rows["council_id"]) == {"E09000022"}
    assert "preamble" in result.report["council_evidence"]


def test_council_from_a_column_beats_the_names(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "manchester",
        "Leeds City Council 2020-06.csv",
        "Body Name,Payment Date,Supplier Name,Amount\nDevon County Council,01/06/2020,ACME LTD,900.00\n",
    )
    assert normalise_file(path).report["council_id"] == "E10000008"


def test_council_from_the_file_name_then_the_folder(tmp_path: Path) -> None:
    body = "Payment Date,Supplier Name,Amount\n01/09/2014,ACME LTD,900.00\n"
    by_name = _write(tmp_path / "downloads", "Stockport September 2014.csv", body)
    assert normalise_file(by_name).report["council_id"] == "E08000007"
    by_folder = _write(tmp_path / "north-tyneside", "2020-08.csv", body)
    rep = normalise_file(by_folder).report
    assert rep["council_id"] == "E08000022" and "folder" in rep["council_evidence"]


def test_council_not_told_is_a_named_problem_not_silence(tmp_path: Path) -> None:
    """A folder naming something that is not a council ("lancashire-pcc") is not taken for one."""
    path = _write(tmp_path / "lancashire-pcc", "pcc-2018-19.csv", "Date,Supplier,Amount\n01/04/2018,A,1\n")
    rep = normalise_file(path).report
    assert rep["council_id"] == UNKNOWN
    problem = next(p for p in rep["problems"] if p["code"] == "council_unknown")
    assert "pcc-2018-19.csv" in problem["message"] and "lancashire-pcc" in problem["message"]


def test_a_few_merchant_categories_do_not_make_a_card_file(tmp_path: Path) -> None:
    """A `Merchant Category` column filled on 1 line of 6: payments, that one line flagged is_card."""
    lines = [f"0{d}/01/2020,SUPPLIER {d},{d}000.00,\n" for d in range(1, 6)]
    path = _write(
        tmp_path,
        "tfl.csv",
        "Payment Date,Supplier Name,Amount,Merchant Category\n"
        + "".join(lines)
        + "06/01/2020,SHOP,25.00,Stationery\n",
    )
    result = normalise_file(path, council_id="E08000006")
    assert result.kind == "payments"
    assert result.rows["is_card"].tolist() == [False] * 5 + [True]


def test_merchant_category_on_most_lines_is_a_card_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "card.csv",
        "Payment Date,Supplier Name,Amount,Merchant Category\n"
        "01/01/2020,AMAZON,25.00,Books\n02/01/2020,TESCO,12.00,Groceries\n03/01/2020,RAIL,900.00,\n",
    )
    result = normalise_file(path, council_id="E08000006")
    assert result.kind == "card" and "most lines" in result.report["kind_reason"]


def test_month_only_dates_are_month_precision_not_errors(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "months.csv",
        "Date,Supplier Name,Amount\n2011-12,A,1.00\nDec-2011,B,2.00\nDecember 2011,C,3.00\n12/2011,D,4.00\n",
    )
    result = normalise_file(path, council_id="E08000006")
    rows, rep = result.rows, result.report
    assert rep["date_errors"] == 0 and rep["errors"] == []
    assert set(rows["date_precision"]) == {"month"}
    assert set(rows["period_start"]) == {"2011-12-01"} and set(rows["period_end"]) == {"2011-12-31"}
    # the contract's payment_date is "the day the payment was made, when the file says": left empty
    assert set(rows["payment_date"]) == {""}
    assert rep["period_start"] == "2011-12-01"


def test_lines_that_are_not_payments_are_skipped_with_reasons(tmp_path: Path) -> None:
    """Padding, junk, a repeated header and a total line: skipped; a payment without an amount: rejected."""
    path = _write(
        tmp_path,
        "padded.csv",
        "Payment Date,Supplier Name,Amount,Notes\n"
        "01/01/2020,ACME LTD,100.00,\n"
        ",,,\n \xa0, ,,\n"
        "Payment Date,Supplier Name,Amount,Notes\n"
        "02/01/2020,BETA LTD,50.00,\n"
        ",,,see note 3\n"
        "03/01/2020,GAMMA LTD,,\n"
        "Total,,150.00,\n",
    )
    rep = normalise_file(path, council_id="E08000006").report
    assert rep["skipped"] == {
        "blank padding": 2,
        "repeated header": 1,
        "total": 1,
        "no amount, payee or date": 1,
    }
    assert rep["lines_skipped"] == 5 and rep["rows_rejected"] == 1 and rep["rows_kept"] == 2
    assert rep["errors"] == [{"row": 8, "field": "Amount", "error": "amount missing", "value": ""}]
    line = skipped_line(rep)
    assert line == (
        "5 lines skipped: not payments (blank padding 2, repeated header 1, total 1, no amount, payee or date 1)"
    )
    problem = next(p for p in rep["problems"] if p["code"] == "lines_skipped")
    assert problem["severity"] == "info" and problem["message"] == line


def test_check_speaks_of_skipped_lines_in_one_line(tmp_path: Path) -> None:
    rows = "".join(f"0{d}/01/2020,SUPPLIER {d},{d}00.00\n" for d in range(1, 4))
    padding = ",,\n" * 1590
    path = _write(tmp_path, "f.csv", "Payment Date,Supplier Name,Amount\n" + rows + padding)
    result = normalise_file(path, council_id="E08000006")
    text = render({**result.report, "publishable": True})
    assert text.count("lines skipped") == 1  # (and its code, lines_skipped)
    assert "1,590 lines skipped: not payments (blank padding 1,590)" in text
    assert result.report["rows_rejected"] == 0
