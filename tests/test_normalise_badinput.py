"""Bad input never crashes the normaliser: a named error or a warning in the report instead."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from normalise.manifest import normalise_one
from normalise.pipeline import normalise_file

GOOD_CSV = (
    "Body Name,Payment Date,Transaction Number,Net Amount,Supplier Name,Service Area,Expense Type\n"
    "Leeds City Council,02/01/2018,1,100.00,ACME LTD,Highways,Repairs\n"
    'Leeds City Council,03/01/2018,2,"1,200.50",BETA LTD,Parks,Tools\n'
)


def _rejected(path: Path, *words: str) -> dict:
    result = normalise_file(path)
    assert result.kind == "rejected"
    assert result.rows.empty
    message = result.report["error"].lower()
    for w in words:
        assert w in message, message
    return result.report


def test_zero_byte_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.csv"
    p.write_bytes(b"")
    _rejected(p, "empty")


def test_binary_garbage(tmp_path: Path) -> None:
    p = tmp_path / "garbage.csv"
    p.write_bytes(bytes(range(256)) * 64)
    _rejected(p, "binary")


def test_html_soft_404_and_pdf(tmp_path: Path) -> None:
    p = tmp_path / "spend.csv"
    p.write_bytes(b"<!DOCTYPE html>\n<html><head><title>Page not found</title></head></html>")
    _rejected(p, "html")
    q = tmp_path / "spend.xlsx"
    q.write_bytes(b"%PDF-1.7\n1 0 obj\n")
    _rejected(q, "pdf")


def test_truncated_xlsx(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["Supplier Name", "Payment Date", "Amount"])
    for i in range(200):
        ws.append([f"Supplier {i}", "01/04/2024", i * 10.5])
    buf = io.BytesIO()
    wb.save(buf)
    p = tmp_path / "truncated.xlsx"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    report = _rejected(p)
    assert "zip" in report["error"].lower() or "spreadsheet" in report["error"].lower()


def test_zip_bomb_refused_by_ratio(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("spend.csv", b"Supplier Name,Amount\n" + b"0" * (40 * 1024 * 1024))
    p = tmp_path / "bomb.zip"
    p.write_bytes(buf.getvalue())
    assert p.stat().st_size < 1024 * 1024
    _rejected(p, "zip bomb")


def test_zip_of_csv_is_read(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("2018-01.csv", GOOD_CSV)
    p = tmp_path / "spend.zip"
    p.write_bytes(buf.getvalue())
    result = normalise_file(p)
    assert result.kind == "payments" and len(result.rows) == 2
    assert result.rows["source_sheet"].tolist() == ["2018-01.csv"] * 2
    assert result.total_pence == 130050


def test_ten_megabyte_single_line(tmp_path: Path) -> None:
    p = tmp_path / "oneline.csv"
    p.write_bytes(b"Supplier Name,Amount," + b"x" * (10 * 1024 * 1024))
    _rejected(p, "header")
    q = tmp_path / "commas.csv"
    q.write_bytes(b"a," * (5 * 1024 * 1024))
    _rejected(q, "cells")


def test_wrong_declared_encoding_is_a_warning(tmp_path: Path) -> None:
    p = tmp_path / "cp1252.csv"
    p.write_bytes((GOOD_CSV.replace("ACME LTD", "CAFÉ £ LTD")).encode("cp1252"))
    entry = {
        "sha256": "a" * 64,
        "council_id": "E08000035",
        "abs_path": str(p),
        "url": "http://x/y.csv",
        "content_type": "text/csv; charset=utf-8",
        "path": "y.csv",
    }
    row = normalise_one(entry, tmp_path / "out")
    assert row["status"] == "counted" and row["rows_kept"] == 2
    import json

    report = json.loads((tmp_path / "out" / "reports" / f"{'a' * 64}.json").read_text())
    assert any("declared charset utf-8" in w for w in report["warnings"])
    import pandas as pd

    rows = pd.read_parquet(tmp_path / "out" / "rows" / f"{'a' * 64}.parquet")
    assert "CAFÉ £ LTD" in rows["supplier_name"].tolist()


def test_formula_and_script_text_kept_as_text(tmp_path: Path) -> None:
    p = tmp_path / "formula.csv"
    body = GOOD_CSV.replace("ACME LTD", '"=HYPERLINK(""http://evil.example"",""click"")"').replace(
        "BETA LTD", "<script>alert(1)</script>"
    )
    p.write_text(body, encoding="utf-8")
    result = normalise_file(p)
    names = result.rows["supplier_name"].tolist()
    assert names[0] == '=HYPERLINK("http://evil.example","click")'
    assert names[1] == "<script>alert(1)</script>"
    assert any("formula" in w for w in result.report["warnings"])


def test_unknown_header_is_a_named_error(tmp_path: Path) -> None:
    p = tmp_path / "minutes.csv"
    p.write_text("Item,Notes\n1,Apologies\n2,Minutes of the last meeting\n", encoding="utf-8")
    _rejected(p, "no header row")


def test_rows_without_amount_are_rejected_and_listed(tmp_path: Path) -> None:
    p = tmp_path / "bad_amount.csv"
    p.write_text(GOOD_CSV + "Leeds City Council,04/01/2018,3,twelve pounds,GAMMA LTD,Parks,Tools\n")
    result = normalise_file(p)
    assert len(result.rows) == 2 and result.report["rows_rejected"] == 1
    err = result.report["errors"][0]
    assert err == {"row": 4, "field": "Net Amount", "error": "not an amount", "value": "twelve pounds"}


@pytest.mark.parametrize("name", ["missing.csv"])
def test_missing_file_is_reported(tmp_path: Path, name: str) -> None:
    result = normalise_file(tmp_path / name)
    assert result.kind == "rejected" and "cannot read" in result.report["error"]


def _frame():
    import pandas as pd

    return pd.DataFrame(
        {
            "Supplier Name": ["ACME LTD", "BETA LTD"],
            "Payment Date": ["02/01/2024", "03/01/2024"],
            "Net Amount": [1200.5, -30.25],
            "Service Area": ["Parks", "Roads"],
            "Expense Type": ["Tools", "Repairs"],
        }
    )


def test_ods_is_read(tmp_path: Path) -> None:
    p = tmp_path / "spend.ods"
    _frame().to_excel(p, engine="odf", index=False)
    result = normalise_file(p)
    assert result.report["format"] == "ods" and result.kind == "payments"
    assert result.total_pence == 117025


def test_workbook_sheets_with_and_without_header(tmp_path: Path) -> None:
    import pandas as pd

    p = tmp_path / "year.xlsx"
    with pd.ExcelWriter(p, engine="openpyxl") as xw:
        pd.DataFrame({"Notes": ["This workbook lists payments over £500"]}).to_excel(
            xw, sheet_name="Notes", index=False
        )
        _frame().to_excel(xw, sheet_name="Jan 24", index=False)
        _frame().to_excel(xw, sheet_name="Feb 24", index=False)
    result = normalise_file(p)
    assert result.kind == "payments" and len(result.rows) == 4
    assert sorted(set(result.rows["source_sheet"])) == ["Feb 24", "Jan 24"]
    assert result.rows["source_row"].tolist() == [2, 3, 2, 3]
    skipped = [s for s in result.report["sheets"] if s["kind"] == "skipped"]
    assert skipped and skipped[0]["sheet"] == "Notes"


def test_unbalanced_quote_loses_no_rows(tmp_path: Path) -> None:
    p = tmp_path / "quote.csv"
    p.write_bytes(b'Supplier Name,Amount,Payment Date\n"A,1.00,01/01/2020\nB,2,02/01/2020\n')
    result = normalise_file(p)
    assert result.rows["supplier_name"].tolist() == ["A", "B"]
    assert any("unbalanced quotes" in w for w in result.report["warnings"])


def test_header_without_rows_is_not_publishable(tmp_path: Path) -> None:
    p = tmp_path / "empty_table.csv"
    p.write_bytes(b"Supplier Name,Amount,Payment Date\n")
    result = normalise_file(p)
    assert result.rows.empty
    assert any("no data rows" in x["message"] and x["severity"] == "error" for x in result.report["problems"])


def test_repeated_header_rows_are_not_data(tmp_path: Path) -> None:
    p = tmp_path / "concat.csv"
    p.write_bytes(
        b"Supplier Name,Amount,Payment Date\nA,1.00,01/01/2020\n"
        b"Supplier Name,Amount,Payment Date\nB,2,02/01/2020\n"
    )
    result = normalise_file(p)
    assert result.rows["source_row"].tolist() == [2, 4] and result.report["rows_rejected"] == 0
    assert result.report["skipped"] == {"repeated header": 1}


def test_period_column_gives_month_precision(tmp_path: Path) -> None:
    p = tmp_path / "period.csv"
    p.write_bytes(b"Supplier Name,Amount,Period,Service Area\nA,1.00,201009,X\nB,2,201010,Y\n")
    rows = normalise_file(p).rows
    assert rows["date_precision"].tolist() == ["month", "month"]
    assert rows["period_start"].tolist() == ["2010-09-01", "2010-10-01"]
    assert rows["payment_date"].tolist() == ["", ""]


def test_workbook_with_payments_and_card_sheets_keeps_both(tmp_path: Path) -> None:
    import pandas as pd

    card = _frame().assign(**{"Merchant Category": ["Stationery", "Books"]})
    p = tmp_path / "both.xlsx"
    with pd.ExcelWriter(p, engine="openpyxl") as xw:
        _frame().to_excel(xw, sheet_name="Payments", index=False)
        card.to_excel(xw, sheet_name="Card", index=False)
    result = normalise_file(p)
    assert result.kind == "payments" and len(result.rows) == 4
    assert result.rows.groupby("source_sheet")["is_card"].all().to_dict() == {"Card": True, "Payments": False}
    assert result.total_pence == 2 * 117025 == result.report["total_pence"]


def test_registry_threshold_and_council_cross_check(tmp_path: Path) -> None:
    p = tmp_path / "leeds.csv"
    p.write_text(GOOD_CSV, encoding="utf-8")
    registry = [{"id": "E08000035", "name": "Leeds City Council", "threshold": 250}]
    same = normalise_file(p, council_id="E08000035", registry=registry).report
    assert same["threshold"] == 250 and same["below_threshold_rows"] == 1
    assert same["council_from_content"] == "E08000035" and not same["warnings"]
    other = normalise_file(p, council_id="E08000032").report  # the crawl says Bradford
    assert other["council_id"] == "E08000032"
    assert any("file's own Body column says E08000035" in w for w in other["warnings"])
