"""``discovery.csv``: what the discovery spider and the CKAN lookup found (or why not), per council.

The next crawl starts from what was found: a found spending page becomes the council's
``spending_pages`` (``found_by`` says how), a found CKAN organization its ``dgu_publisher``. Hand
entries in the registry always win over discovered ones. A failure is kept with its reason until a
later crawl finds something.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

COLUMNS = ["council_id", "kind", "status", "url", "found_by", "reason", "requests", "checked_at"]
FILE_NAME = "discovery.csv"


def read_discovery(out_dir: Path) -> list[dict]:
    path = Path(out_dir) / FILE_NAME
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def merge_discovery(out_dir: Path) -> list[dict]:
    """Fold ``.crawl/discovery-*.jsonl`` into ``discovery.csv`` (latest per council and kind; a
    failure never replaces an earlier find) and remove the journals; return all rows."""
    out_dir = Path(out_dir)
    rows = {(r["council_id"], r["kind"]): r for r in read_discovery(out_dir)}
    journals = sorted((out_dir / ".crawl").glob("discovery-*.jsonl"))
    for path in journals:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:  # a torn last line of a killed crawl
                continue
            key = (rec["council_id"], rec["kind"])
            if rec["status"] == "failed" and rows.get(key, {}).get("status") == "found":
                continue
            rows[key] = {c: rec.get(c, "") for c in COLUMNS}
    ordered = sorted(rows.values(), key=lambda r: (r["council_id"], r["kind"]))
    tmp = out_dir / f".{FILE_NAME}.{os.getpid()}.tmp"
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(ordered)
    tmp.replace(out_dir / FILE_NAME)
    for path in journals:
        path.unlink()
    return ordered


def apply_discovery(councils: list[dict], out_dir: Path) -> list[dict]:
    """Councils with what earlier crawls found filled in where the registry has nothing."""
    found = {(r["council_id"], r["kind"]): r for r in read_discovery(out_dir) if r["status"] == "found"}
    out = []
    for council in councils:
        council = dict(council)
        page = found.get((council["id"], "page"))
        if page and not council.get("spending_pages"):
            council["spending_pages"] = [page["url"]]
            council["found_by"] = f"discovered: {page['found_by']}"
        ckan = found.get((council["id"], "ckan"))
        if ckan and not council.get("dgu_publisher"):
            council["dgu_publisher"] = ckan["url"]
        out.append(council)
    return out
