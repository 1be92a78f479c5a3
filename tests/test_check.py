"""`councilspend check`: plain words, worst first, non-zero exit when not publishable (rule named)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from councilspend.cli import main

FULL = (
    "Payment Date,Transaction Number,Net Amount,Irrecoverable VAT,Supplier Name,Service Area,Expense Type,"
    "Procurement Classification\n"
    "02/01/2026,1,1200.00,0.00,ACME LTD,Highways,Repairs,Construction\n"
    "03/01/2026,2,600.00,0.00,BETA LTD,Parks,Tools,Equipment\n"
)


def test_publishable_file_exits_0(tmp_path: Path) -> None:
    p = tmp_path / "jan.csv"
    p.write_text(FULL, encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(p)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("jan.csv: PUBLISHABLE")


def test_missing_fields_and_bad_rows_exit_1_naming_the_rule(tmp_path: Path) -> None:
    p = tmp_path / "feb.csv"
    p.write_text(
        "Supplier Name,Net Amount,Payment Date\nACME LTD,12.00,31/02/2026\nBETA LTD,n/a,01/02/2026\n"
    )
    result = CliRunner().invoke(main, ["check", str(p)])
    assert result.exit_code == 1
    out = result.output
    assert "NOT PUBLISHABLE" in out
    assert "Code 2015 Part 2, item 2: department" in out  # no department column
    assert "row 3, column 'Net Amount': not an amount ('n/a')" in out
    assert "not a day-first date" in out
    # worst first: "Must fix" before "Should fix"
    assert out.index("Must fix") < out.index("Should fix")


def test_supplier_totals_are_not_publishable(shared: Path) -> None:
    path = shared / "data" / "real" / "lambeth" / "2011-01-payments.csv"
    result = CliRunner().invoke(main, ["check", str(path), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["kind"] == "supplier_totals" and report["publishable"] is False
    assert report["problems"][0]["rule"].startswith("Code 2015 Part 2: publish each individual item")


def test_unreadable_file(tmp_path: Path) -> None:
    p = tmp_path / "spend.csv"
    p.write_bytes(b"<html><body>Login</body></html>")
    result = CliRunner().invoke(main, ["check", str(p)])
    assert result.exit_code == 1
    assert "HTML page" in result.output


def test_possible_personal_names_are_a_warning_in_the_cli(tmp_path: Path) -> None:
    """The CLI and the web check page give the same data-protection warning, from the same code."""
    p = tmp_path / "mar.csv"
    p.write_text(
        FULL + "04/01/2026,3,750.00,0.00,Mrs Jane Smith,Adult Care,Direct Payments,Care\n", encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["check", "--json", str(p)])
    report = json.loads(result.output)
    assert [i["name"] for i in report["possible_individuals"]] == ["Mrs Jane Smith"]
    warning = next(x for x in report["problems"] if x["rule"].startswith("Data protection"))
    assert warning["severity"] == "warning" and "Mrs Jane Smith" in warning["message"]
    assert report["publishable"] is True
