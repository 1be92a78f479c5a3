"""A whole crawl: incremental, superseded and overlapping files counted once, files.csv valid."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from frictionless import Resource, Schema, system

from councilspend.schemas import descriptor, field_names
from normalise.manifest import normalise_manifest

HEADER = "Body Name,Payment Date,Transaction Number,Net Amount,Supplier Name,Service Area,Expense Type\n"
JAN = [
    "Leeds City Council,05/01/2024,1,100.00,ACME LTD,Parks,Tools",
    "Leeds City Council,06/01/2024,2,200.00,BETA LTD,Parks,Tools",
]
FEB = [
    "Leeds City Council,05/02/2024,3,300.00,ACME LTD,Parks,Tools",
    "Leeds City Council,06/02/2024,4,400.00,GAMMA LTD,Parks,Tools",
]
MAR = ["Leeds City Council,05/03/2024,5,500.00,ACME LTD,Parks,Tools"]


def _store(crawl: Path, content: bytes, ext: str = "csv") -> tuple[str, str]:
    sha = hashlib.sha256(content).hexdigest()
    rel = f"files/{sha}.{ext}"
    (crawl / rel).write_bytes(content)
    return sha, rel


@pytest.fixture()
def crawl(tmp_path: Path) -> Path:
    crawl = tmp_path / "raw"
    (crawl / "files").mkdir(parents=True)
    fields = field_names("manifest")
    rows = []

    def add(content: bytes, status: str, url: str, ext: str = "csv", **extra) -> str:
        sha, rel = _store(crawl, content, ext)
        row = dict.fromkeys(fields, "")
        row.update(
            url=url,
            council_id="E08000035",
            sha256=sha,
            bytes=len(content),
            status=status,
            path=rel,
            file_name=url.rsplit("/", 1)[-1],
            fetched_at="2026-01-01T00:00:00+0000",
            source="page",
        )
        row.update(extra)
        rows.append(row)
        return sha

    add((HEADER + "\n".join(JAN) + "\n").encode(), "new", "http://c/2024-01.csv")
    add((HEADER + "\n".join(FEB) + "\n").encode(), "new", "http://c/2024-02.csv")
    add((HEADER + "\n".join(JAN + FEB + MAR) + "\n").encode(), "new", "http://c/2024-q4.csv")
    newer = add((HEADER + "\n".join(MAR) + "\n").encode(), "changed", "http://c/2024-03-fixed.csv")
    add(
        (
            HEADER
            + "\n".join(MAR[:0] + ["Leeds City Council,05/03/2024,5,999.00,OLD LTD,Parks,Tools"])
            + "\n"
        ).encode(),
        "superseded",
        "http://c/2024-03-fixed.csv",
        superseded_by=newer,
    )
    add(b"\x00\x01garbage" * 100, "new", "http://c/broken.csv")
    add(
        b"<html><body>Not found</body></html>",
        "rejected",
        "http://c/missing.csv",
        ext="html",
        error="HTML page",
    )
    # the same bytes found at a second URL: described once
    add((HEADER + "\n".join(JAN) + "\n").encode(), "new", "http://c/copy-of-january.csv")
    # what the crawler writes for a page it refused to store, and for a failed fetch: no sha256
    for url, status, error in (
        ("http://c/login.csv", "rejected", "HTML page, not a data file"),
        ("http://c/gone.csv", "failed", "HTTP 404"),
    ):
        row = dict.fromkeys(fields, "")
        row.update(url=url, council_id="E08000035", status=status, error=error, source="page")
        rows.append(row)
    pd.DataFrame(rows, columns=fields).to_csv(crawl / "manifest.csv", index=False)
    return crawl


def test_manifest_counts_each_payment_once(crawl: Path, tmp_path: Path) -> None:
    out = tmp_path / "normalised"
    files = normalise_manifest(crawl / "manifest.csv", out, workers=2, progress=False)
    df = pd.read_csv(out / "files.csv", dtype=str, keep_default_na=False)
    assert list(df.columns) == field_names("published/files")
    assert df["sha256"].is_unique and len(df) == len(files) == 9
    never_stored = df[df["url"].isin(["http://c/login.csv", "http://c/gone.csv"])]
    assert (
        never_stored["kind"].tolist() == ["rejected"] * 2
        and never_stored["status"].tolist() == ["rejected"] * 2
    )
    assert set(never_stored["reason"]) == {"HTML page, not a data file", "HTTP 404"}
    by_name = {r["file_name"]: r for r in files}
    assert by_name["2024-q4.csv"]["status"] == "counted"
    assert (
        by_name["2024-01.csv"]["status"] == "overlap" or by_name["copy-of-january.csv"]["status"] == "overlap"
    )
    assert by_name["2024-02.csv"]["status"] == "overlap"
    assert by_name["2024-03-fixed.csv"]["status"] in ("overlap", "counted")
    assert by_name["broken.csv"]["status"] == "rejected" and by_name["broken.csv"]["kind"] == "rejected"
    assert "binary" in by_name["broken.csv"]["reason"]
    assert by_name["missing.csv"]["kind"] == "rejected"
    superseded = [r for r in files if r["status"] == "superseded"]
    assert len(superseded) == 1 and superseded[0]["reason"].startswith("replaced by")
    counted_pence = sum(int(r["total_pence"]) for r in files if r["status"] == "counted")
    assert counted_pence == 150000  # Jan + Feb + Mar once: 100+200+300+400+500 pounds
    for r in files:
        if r["kind"] in ("payments", "card"):
            assert (out / "rows" / f"{r['sha256']}.parquet").exists()
            assert (out / "reports" / f"{r['sha256']}.json").exists()
    d = {
        k: v
        for k, v in descriptor("published/files").items()
        if k not in ("name", "title", "description", "foreignKeys")
    }  # councils is another table
    with system.use_context(trusted=True):
        report = Resource(path=str(out / "files.csv"), schema=Schema.from_descriptor(d)).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])


def test_manifest_is_incremental(crawl: Path, tmp_path: Path) -> None:
    out = tmp_path / "normalised"
    first = normalise_manifest(crawl / "manifest.csv", out, progress=False)
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "rows").iterdir()}
    second = normalise_manifest(crawl / "manifest.csv", out, progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in (out / "rows").iterdir()} == stamps
    key = lambda rows: sorted((r["sha256"], r["status"], str(r["total_pence"])) for r in rows)  # noqa: E731
    assert key(first) == key(second)


def test_rows_parquet_has_schema_columns(crawl: Path, tmp_path: Path) -> None:
    out = tmp_path / "normalised"
    files = normalise_manifest(crawl / "manifest.csv", out, progress=False)
    q = next(r for r in files if r["file_name"] == "2024-q4.csv")
    rows = pd.read_parquet(out / "rows" / f"{q['sha256']}.parquet")
    assert list(rows.columns) == field_names("payment")
    assert rows["council_id"].unique().tolist() == ["E08000035"]
    assert rows["amount"].sum() == 1500.0 and rows["source_row"].tolist() == [2, 3, 4, 5, 6]


def test_every_rows_file_has_the_same_parquet_schema(crawl: Path, tmp_path: Path) -> None:
    """Publish reads all rows files as one dataset: an empty (rejected) file must not differ."""
    import pyarrow.parquet as pq

    out = tmp_path / "normalised"
    normalise_manifest(crawl / "manifest.csv", out, progress=False)
    schemas = {str(pq.read_schema(p).remove_metadata()) for p in (out / "rows").glob("*.parquet")}
    assert len(list((out / "rows").glob("*.parquet"))) >= 5 and len(schemas) == 1


def test_which_copy_counts_does_not_depend_on_run_history(tmp_path: Path) -> None:
    """Two copies of January (other bytes, the same rows, fetched together): the same one is counted
    after a fresh run, after a run killed halfway (one copy's outputs missing) and with the manifest in
    the other order."""
    crawl = tmp_path / "raw"
    (crawl / "files").mkdir(parents=True)
    january = HEADER + "\n".join(JAN) + "\n"
    rows = []
    for name, content in (("a-jan.csv", january), ("b-jan.csv", january + "\n")):
        sha, rel = _store(crawl, content.encode())
        row = dict.fromkeys(field_names("manifest"), "")
        row.update(
            url=f"http://c/{name}",
            council_id="E08000035",
            sha256=sha,
            bytes=len(content),
            status="new",
            path=rel,
            file_name=name,
            fetched_at="2026-01-01T00:00:00+0000",
            source="page",
        )
        rows.append(row)

    def statuses(manifest_rows: list[dict], out: Path) -> dict[str, str]:
        pd.DataFrame(manifest_rows).to_csv(crawl / "manifest.csv", index=False)
        return {
            f["file_name"]: f["status"]
            for f in normalise_manifest(crawl / "manifest.csv", out, progress=False)
        }

    out = tmp_path / "normalised"
    first = statuses(rows, out)
    assert sorted(first.values()) == ["counted", "overlap"]
    for row in rows:  # as if a killed run had left only the other copy's outputs
        (out / "rows" / f"{row['sha256']}.parquet").unlink()
        (out / "reports" / f"{row['sha256']}.json").unlink()
        assert statuses(rows, out) == first
    assert statuses(rows[::-1], tmp_path / "reversed") == first
