"""`councilspend normalise`: FILE... -> CSV with the schema header; --manifest -> files.csv."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from councilspend.cli import main
from councilspend.schemas import field_names

CSV = (
    "Body Name,Payment Date,Transaction Number,Net Amount,Irrecoverable VAT,Supplier Name,Service Area,"
    "Expense Type,Merchant Category,Capital or Revenue\n"
    'Leeds City Council,02/01/2018,1,"(1,234.50)",0.00,ACME LTD,Highways,Repairs,,R\n'
    "Leeds City Council,2018-01-03,2,£99.99,0.00,REDACTED PERSONAL DATA,Parks,Tools,,C\n"
)


def test_help_texts() -> None:
    runner = CliRunner()
    for cmd in ("normalise", "check"):
        result = runner.invoke(main, [cmd, "--help"])
        assert result.exit_code == 0
        assert "Usage" in result.output and len(result.output) > 400


def test_normalise_files_to_csv_and_report(tmp_path: Path) -> None:
    src = tmp_path / "jan.csv"
    src.write_text(CSV, encoding="utf-8")
    out, rep = tmp_path / "rows.csv", tmp_path / "report.json"
    result = CliRunner().invoke(
        main, ["normalise", str(src), "--council", "E08000035", "--out", str(out), "--report", str(rep)]
    )
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8").splitlines()
    assert text[0].split(",") == field_names("payment")
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert df["amount"].tolist() == ["-1234.50", "99.99"]
    assert df["payment_date"].tolist() == ["2018-01-02", "2018-01-03"]
    assert df["is_redacted"].tolist() == ["false", "true"]
    assert df["redaction_reason"].tolist() == ["", "personal"]
    assert df["capital_revenue"].tolist() == ["revenue", "capital"]
    assert df["council_id"].unique().tolist() == ["E08000035"]
    report = json.loads(rep.read_text())
    assert report["total_pence"] == -113451 and report["schema_errors"] == []


def test_normalise_rejected_file_exits_1_but_writes_others(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.csv", tmp_path / "bad.xls"
    good.write_text(CSV, encoding="utf-8")
    bad.write_bytes(b"")
    out, rep = tmp_path / "rows.csv", tmp_path / "report.json"
    result = CliRunner().invoke(
        main, ["normalise", str(bad), str(good), "--out", str(out), "--report", str(rep)]
    )
    assert result.exit_code == 1
    assert len(pd.read_csv(out)) == 2
    reports = json.loads(rep.read_text())["files"]
    assert reports[0]["kind"] == "rejected" and "empty" in reports[0]["error"]


def test_normalise_manifest_mode(tmp_path: Path) -> None:
    import hashlib

    crawl = tmp_path / "raw"
    (crawl / "files").mkdir(parents=True)
    data = CSV.encode()
    sha = hashlib.sha256(data).hexdigest()
    (crawl / "files" / f"{sha}.csv").write_bytes(data)
    row = dict.fromkeys(field_names("manifest"), "")
    row.update(
        url="http://x/jan.csv", council_id="E08000035", sha256=sha, status="new", path=f"files/{sha}.csv"
    )
    pd.DataFrame([row]).to_csv(crawl / "manifest.csv", index=False)
    result = CliRunner().invoke(
        main,
        [
            "normalise",
            "--manifest",
            str(crawl / "manifest.csv"),
            "--out-dir",
            str(tmp_path / "norm"),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    files = pd.read_csv(tmp_path / "norm" / "files.csv")
    assert files["status"].tolist() == ["counted"] and files["total_pence"].tolist() == [-113451]
