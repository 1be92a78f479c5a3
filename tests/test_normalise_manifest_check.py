"""A manifest that breaks its contract: an error naming the file, row and column; non-zero exit; nothing written."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from councilspend.cli import main
from councilspend.schemas import field_names

BODY = b"Body Name,Payment Date,Net Amount,Supplier Name\nLeeds City Council,05/01/2024,100.00,ACME LTD\n"
SHA = hashlib.sha256(BODY).hexdigest()


def good_row() -> dict:
    return dict.fromkeys(field_names("manifest"), "") | {
        "url": "http://c/2024-01.csv",
        "council_id": "E08000035",
        "sha256": SHA,
        "bytes": str(len(BODY)),
        "status": "new",
        "path": f"files/{SHA}.csv",
        "fetched_at": "2026-01-01T00:00:00+0000",
        "source": "page",
    }


def write(data: Path, rows: list[dict], columns: list[str] | None = None) -> Path:
    raw = data / "raw"
    (raw / "files").mkdir(parents=True)
    (raw / "files" / f"{SHA}.csv").write_bytes(BODY)
    columns = columns or list(rows[0])
    with (raw / "manifest.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return raw / "manifest.csv"


def drop(name: str) -> list[str]:
    return [c for c in field_names("manifest") if c != name]


def rename(old: str, new: str) -> list[str]:
    return [new if c == old else c for c in field_names("manifest")]


CASES = {
    "missing sha256 column": ({}, drop("sha256"), "column 'sha256' is missing"),
    "misnamed sha256 column": (
        {"sha": SHA},
        rename("sha256", "sha"),
        "column 'sha' is not a manifest column (did you mean 'sha256'?)",
    ),
    "missing path column": ({}, drop("path"), "column 'path' is missing"),
    "sha256 not the bytes' hash": (
        {"sha256": "0" * 64},
        None,
        "row 2, column sha256: 000000000000… but the bytes of",
    ),
    "sha256 not a hash": ({"sha256": "abc"}, None, "row 2, column sha256: 'abc' does not match"),
    "path does not exist": (
        {"path": "files/nope.csv"},
        None,
        "row 2, column path: files/nope.csv does not exist",
    ),
    "status outside the vocabulary": (
        {"status": "downloaded"},
        None,
        "row 2, column status: 'downloaded' is not one of",
    ),
    "council_id missing": ({"council_id": ""}, None, "row 2, column council_id: is required"),
    "bytes disagree": ({"bytes": "7"}, None, "row 2, column bytes: 7 but"),
    "fetched_at not a date-time": (
        {"fetched_at": "yesterday"},
        None,
        "row 2, column fetched_at: 'yesterday'",
    ),
    "a new file without a path": ({"path": ""}, None, "row 2, column path: a 'new' file needs a path"),
}


@pytest.mark.parametrize("change, columns, message", CASES.values(), ids=CASES.keys())
def test_normalise_manifest_names_the_problem_and_writes_nothing(
    tmp_path: Path, change, columns, message
) -> None:
    manifest = write(tmp_path, [good_row() | change], columns)
    out = tmp_path / "normalised"
    result = CliRunner().invoke(main, ["normalise", "--manifest", str(manifest), "--out-dir", str(out)])
    assert result.exit_code == 1
    assert str(manifest) in result.output and message in result.output, result.output
    assert not out.exists()


@pytest.mark.parametrize(
    "name", ["missing sha256 column", "sha256 not the bytes' hash", "path does not exist"]
)
def test_publish_stops_at_the_door_too(tmp_path: Path, name: str) -> None:
    change, columns, message = CASES[name]
    write(tmp_path, [good_row() | change], columns)
    result = CliRunner().invoke(main, ["publish", "--data", str(tmp_path), "--quiet"])
    assert result.exit_code == 1 and message in result.output, result.output
    assert not (tmp_path / "normalised").exists() and not (tmp_path / "councilspend.db").exists()


def test_a_good_manifest_passes_and_a_later_run_does_not_rehash_done_files(tmp_path: Path) -> None:
    manifest = write(tmp_path, [good_row()])
    out = tmp_path / "normalised"
    first = CliRunner().invoke(main, ["normalise", "--manifest", str(manifest), "--out-dir", str(out)])
    assert first.exit_code == 0, first.output
    assert (out / "rows" / f"{SHA}.parquet").exists()
    # the stored copy is damaged after it was normalised: its outputs stand, it is not read again
    (tmp_path / "raw" / "files" / f"{SHA}.csv").write_bytes(BODY.replace(b"100.00", b"900.00"))
    again = CliRunner().invoke(main, ["normalise", "--manifest", str(manifest), "--out-dir", str(out)])
    assert again.exit_code == 0, again.output


def test_many_problems_are_listed_together_with_a_count(tmp_path: Path) -> None:
    rows = [good_row() | {"status": "bogus", "url": f"http://c/{i}.csv"} for i in range(15)]
    manifest = write(tmp_path, rows)
    result = CliRunner().invoke(
        main, ["normalise", "--manifest", str(manifest), "--out-dir", str(tmp_path / "o")]
    )
    assert result.exit_code == 1
    assert "row 2, column status" in result.output and "row 11, column status" in result.output
    assert "… and 5 more" in result.output
