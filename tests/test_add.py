"""`councilspend add`: files, folders and ZIPs into the raw store and manifest; nothing written on failure."""

from __future__ import annotations

import csv
import hashlib
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from frictionless import Resource

from councilspend.cli import main
from councilspend.schemas import frictionless_schema
from demo import samples

LEEDS = (
    "Body Name,Payment Date,Transaction Number,Net Amount,Supplier Name,Service Area,Expense Type\n"
    "Leeds City Council,05/01/2024,1,100.00,ACME LTD,Parks,Tools\n"
    "Leeds City Council,06/01/2024,2,200.00,BETA LTD,Parks,Tools\n"
)
NOBODY = (
    "Payment Date,Transaction Number,Net Amount,Supplier Name\n05/01/2024,1,100.00,ACME LTD\n"
    "06/01/2024,2,250.00,BETA LTD\n"
)


def run(*args: str):
    return CliRunner().invoke(main, ["add", *args], catch_exceptions=False)


def manifest(data: Path) -> list[dict]:
    with (data / "raw" / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_a_file_gets_a_manifest_entry_and_is_stored_by_hash(tmp_path: Path) -> None:
    src = tmp_path / "in" / "january.csv"
    src.parent.mkdir()
    src.write_text(LEEDS, encoding="utf-8")
    data = tmp_path / "data"
    result = run(str(src), "--data", str(data))
    assert result.exit_code == 0, result.output
    (row,) = manifest(data)
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    assert row["sha256"] == sha and row["bytes"] == str(src.stat().st_size)
    assert row["council_id"] == "E08000035" and row["status"] == "new" and row["source"] == "local"
    assert row["source_path"] == str(src) and row["added_at"] and row["file_name"] == "january.csv"
    assert row["url"] == src.resolve().as_uri()
    assert (data / "raw" / row["path"]).read_bytes() == src.read_bytes()
    assert row["path"] == f"files/{sha}.csv"
    raw = str(data / "raw")
    report = Resource(path="manifest.csv", basepath=raw, schema=frictionless_schema("manifest")).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "note"])


def test_re_adding_the_same_bytes_changes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "leeds.csv"
    src.write_text(LEEDS, encoding="utf-8")
    copy = tmp_path / "elsewhere" / "leeds-copy.csv"
    copy.parent.mkdir()
    copy.write_bytes(src.read_bytes())
    data = tmp_path / "data"
    assert run(str(src), "--data", str(data)).exit_code == 0
    before = (data / "raw" / "manifest.csv").read_bytes()
    result = run(str(src), str(copy), "--data", str(data))
    assert result.exit_code == 0 and "0 added, 2 already there" in result.output
    assert (data / "raw" / "manifest.csv").read_bytes() == before


def test_council_from_option_by_name_and_the_files_own_claim_is_a_warning(tmp_path: Path) -> None:
    src = tmp_path / "x.csv"
    src.write_text(LEEDS, encoding="utf-8")
    result = CliRunner().invoke(
        main, ["add", str(src), "--council", "Bradford", "--data", str(tmp_path / "d")]
    )
    assert result.exit_code == 0, result.output
    assert manifest(tmp_path / "d")[0]["council_id"] == "E08000032"
    assert "the file itself names Leeds City Council" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--council", "Leds"], "did you mean 'Leeds City Council' (E08000035)"),
        (["--council", "Nowhere At All"], "is not a council name or code we know"),
    ],
)
def test_an_unknown_council_option_suggests_and_writes_nothing(tmp_path: Path, args, message) -> None:
    src = tmp_path / "x.csv"
    src.write_text(LEEDS, encoding="utf-8")
    data = tmp_path / "data"
    result = run(str(src), *args, "--data", str(data))
    assert result.exit_code != 0 and message in result.output and "Nothing was added" in result.output
    assert not data.exists()


def test_a_file_whose_council_cannot_be_told_stops_everything(tmp_path: Path) -> None:
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "a-leeds.csv").write_text(LEEDS, encoding="utf-8")
    (folder / "spending-march.csv").write_text(NOBODY, encoding="utf-8")
    data = tmp_path / "data"
    result = run(str(folder), "--data", str(data))
    assert result.exit_code != 0
    assert f"{folder / 'spending-march.csv'}: cannot tell which council published it" in result.output
    assert "--council NAME_OR_CODE" in result.output
    assert not data.exists()  # the Leeds file, read first, was not written either


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.csv", "missing.csv does not exist"),
        (lambda p: (p / "r.pdf").write_bytes(b"%PDF-1.4 x") and p / "r.pdf", "not a spending file (PDF"),
        (lambda p: (p / "e.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18) and p / "e.zip", "e.zip"),
    ],
    ids=["missing", "pdf", "empty-zip"],
)
def test_bad_paths_are_named_and_nothing_is_written(tmp_path: Path, make, message) -> None:
    path = make(tmp_path)
    data = tmp_path / "data"
    result = run(str(path), "--council", "Leeds", "--data", str(data))
    assert result.exit_code != 0 and message in result.output, result.output
    assert not data.exists()


def test_zip_members_are_added_one_by_one_with_their_folders_council(tmp_path: Path) -> None:
    archive = tmp_path / "downloads.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("north-tyneside/2024-01.csv", NOBODY)
        zf.writestr("leeds.csv", LEEDS)
        zf.writestr("notes.txt", "not data")
    data = tmp_path / "data"
    result = run(str(archive), "--data", str(data))
    assert result.exit_code == 0, result.output
    rows = {r["source_path"]: r for r in manifest(data)}
    assert rows[f"{archive}/north-tyneside/2024-01.csv"]["council_id"] == "E08000022"
    assert rows[f"{archive}/leeds.csv"]["council_id"] == "E08000035"
    assert len(rows) == 2


def test_the_bundled_sample_is_told_by_its_name_and_publishes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = run(str(samples.HERE), "--data", str(data))
    assert result.exit_code == 0, result.output
    (row,) = manifest(data)
    assert row["council_id"] == "E08000021" and row["file_name"] == samples.NEWCASTLE.name
    published = CliRunner().invoke(main, ["publish", "--data", str(data), "--quiet", "--no-downloads"])
    assert published.exit_code == 0, published.output
    files = list(csv.DictReader((data / "normalised" / "files.csv").open(encoding="utf-8")))
    assert [(f["council_id"], f["status"], f["rows_kept"]) for f in files] == [
        ("E08000021", "counted", "300")
    ]
