"""Read, merge and atomically write ``manifest.csv`` (contract: ``manifest.schema.yaml``).

The manifest keeps history across crawls. One row per (council, url, stored version):

* a URL fetched for the first time → ``new``;
* same bytes as its current version → that row becomes ``unchanged`` (fetch fields refreshed);
* other bytes → a ``changed`` row, and the previous version becomes ``superseded`` with
  ``superseded_by`` = the new sha256 (the normaliser replaces its rows);
* ``rejected`` / ``failed`` → at most one such row per URL, the latest; it disappears once the URL
  is fetched fine again. A failure never removes a good version fetched earlier.
"""

from __future__ import annotations

import csv
import json
import os
from collections import defaultdict
from pathlib import Path

from councilspend.schemas import field_names

COLUMNS: list[str] = field_names("manifest")
# Columns added to the contract after manifests were first written (by `councilspend add`): an older
# manifest without them is still a manifest; they read as "".
ADDED_LATER = ("source_path", "added_at")
PROBLEM = ("rejected", "failed")
FETCH_FIELDS = (
    "final_url",
    "content_type",
    "etag",
    "last_modified",
    "fetched_at",
    "link_text",
    "referer",
    "file_name",
    "source",
    "bytes",
)


def read_manifest(path: Path) -> list[dict]:
    """Rows of an existing manifest (all values as strings); [] if there is none."""
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = set(COLUMNS) - set(reader.fieldnames or []) - set(ADDED_LATER)
        if missing:
            raise ValueError(
                f"{path}: not a councilspend manifest (missing columns: {', '.join(sorted(missing))})"
            )
        return [{c: row.get(c) or "" for c in COLUMNS} for row in reader]


def write_manifest(path: Path, rows: list[dict]) -> None:
    """Write all rows with exactly the schema's columns, atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: "" if row.get(c) is None else row.get(c) for c in COLUMNS})
    tmp.replace(path)


def merge(previous: list[dict], fetched: list[dict]) -> tuple[list[dict], list[dict]]:
    """Merge this crawl's file records into the previous manifest rows.

    Returns (all rows, this crawl's rows with their final status). Linear in rows + records."""
    rows = [dict(r) for r in previous]
    by_key: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        by_key[(r["council_id"], r["url"])].append(r)
    dropped: set[int] = set()
    this_crawl: list[dict] = []
    for rec in fetched:
        rec = {c: rec.get(c, "") for c in COLUMNS}
        key = (rec["council_id"], rec["url"])
        # The latest outcome replaces any earlier rejected/failed row of this URL.
        dropped.update(id(r) for r in by_key[key] if r["status"] in PROBLEM)
        versions = [r for r in by_key[key] if r["status"] not in PROBLEM]
        by_key[key] = versions
        if rec["status"] in PROBLEM:
            by_key[key].append(rec)
            rows.append(rec)
            this_crawl.append(rec)
            continue
        current = [r for r in versions if r["status"] != "superseded"]
        known = next((r for r in versions if r["sha256"] == rec["sha256"]), None)
        if known is not None and known in current:
            known.update({f: rec[f] for f in FETCH_FIELDS})
            known["status"] = "unchanged"
            this_crawl.append(known)
            continue
        for old in current:
            old["status"] = "superseded"
            old["superseded_by"] = rec["sha256"]
        if known is not None:  # an older version came back: revive its row
            known.update({f: rec[f] for f in FETCH_FIELDS})
            known.update(status="changed", superseded_by="")
            this_crawl.append(known)
            continue
        rec["status"] = "changed" if versions else "new"
        by_key[key].append(rec)
        rows.append(rec)
        this_crawl.append(rec)
    return [r for r in rows if id(r) not in dropped], this_crawl


def read_journals(journal_dir: Path) -> tuple[list[dict], list[dict]]:
    """(file records, page records) from the spiders' journals; a torn last line is skipped."""
    files: list[dict] = []
    pages: list[dict] = []
    for path in sorted(journal_dir.glob("journal-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            (files if rec.pop("kind", "") == "file" else pages).append(rec)
    return files, pages


def _blank_summary(name: str = "") -> dict:
    return {
        "name": name,
        "pages": 0,
        "pages_failed": 0,
        "new": 0,
        "changed": 0,
        "unchanged": 0,
        "rejected": 0,
        "failed": 0,
        "errors": [],
    }


def summarise(councils: list[dict], this_crawl: list[dict], pages: list[dict]) -> dict[str, dict]:
    """Per council: pages visited/failed, files new/changed/unchanged/rejected/failed, and the
    errors of its start pages (a dead spending page is the first thing to fix in the registry)."""
    summary = {c["id"]: _blank_summary(c.get("name", "")) for c in councils}
    for page in pages:
        s = summary.setdefault(page["council_id"], _blank_summary())
        if page.get("error"):
            s["pages_failed"] += 1
            if page.get("start"):
                s["errors"].append(f"{page['url']}: {page['error']}")
        else:
            s["pages"] += 1
    for row in this_crawl:
        s = summary.setdefault(row["council_id"], _blank_summary())
        s[row["status"]] += 1
    return summary


def finalise(out_dir: Path, councils: list[dict]) -> dict[str, dict]:
    """Merge the journals into ``manifest.csv``, clear them, and return the per-council summary."""
    journal_dir = out_dir / ".crawl"
    files, pages = read_journals(journal_dir)
    manifest_path = out_dir / "manifest.csv"
    rows, this_crawl = merge(read_manifest(manifest_path), files)
    write_manifest(manifest_path, rows)
    summary = summarise(councils, this_crawl, pages)
    for path in journal_dir.glob("journal-*.jsonl"):  # kept (renamed) for the progress display
        path.replace(path.with_suffix(".merged"))
    return summary
