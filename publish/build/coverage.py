"""The ``coverage`` table: every council in England, and how (or whether) it publishes.

Built from the registry (every council, with its hand-entered spending page), what the crawler's
discovery found (``raw/discovery.csv``) and the ``files`` and ``council_quality`` tables. A council
that publishes nothing still gets a row, with a WhatDoTheyKnow link to ask for the data: the
people who use the site ask first "is my council there?".
"""

from __future__ import annotations

import sqlite3
from datetime import date
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote, urlencode

import pandas as pd

from crawler.discovery import read_discovery
from crawler.manifest import read_manifest
from publish.build.tables import columns, create, insert_rows

WDTK = "https://www.whatdotheyknow.com/"
#: ``discovery_problem`` of a council no crawl has looked for: "not found" would claim a search failed.
NOT_CRAWLED = "not crawled yet"
CRAWLED_SOURCES = ("page", "ckan")


def appeared(manifest: list[dict]) -> dict[str, str]:
    """sha256 -> the date (YYYY-MM-DD) a file appeared: the server's Last-Modified when it sent one,
    else the earliest time the crawler fetched it. Files added by hand (``add``) have neither: their
    ``fetched_at`` is the day they were added, which says nothing about when the council published."""
    out: dict[str, str] = {}
    for row in manifest:
        sha, when = row.get("sha256"), None
        if not sha:
            continue
        if row.get("last_modified"):
            try:
                when = parsedate_to_datetime(row["last_modified"]).date().isoformat()
            except (TypeError, ValueError):
                when = None
        if (
            when is None
            and row.get("source") in CRAWLED_SOURCES
            and (row.get("fetched_at") or "")[:4].isdigit()
        ):
            when = row["fetched_at"][:10]
        if when and (sha not in out or when < out[sha]):
            out[sha] = when
    return out


def foi_link(council: dict) -> str:
    """A request to the council's own WhatDoTheyKnow page when its slug is known, else a search for it
    (mySociety's register gives a number, not the slug; a guessed slug would be a broken link)."""
    if council.get("wdtk_id"):
        return f"{WDTK}new/{quote(str(council['wdtk_id']))}"
    return f"{WDTK}select_authority?{urlencode({'query': council.get('nice_name') or council['name']})}"


def last_two_years(today: date) -> list[str]:
    """The 24 months (YYYY-MM) of the last two complete financial years (April to March)."""
    end_year = today.year if today.month >= 4 else today.year - 1  # the current FY started April end_year
    return [f"{y:04d}-{m:02d}" for y in (end_year - 2, end_year - 1) for m in (*range(4, 13),)] + [
        f"{y:04d}-{m:02d}" for y in (end_year - 1, end_year) for m in range(1, 4)
    ]


def _months(start: str, end: str) -> list[str]:
    try:
        periods = pd.period_range(pd.Timestamp(start), pd.Timestamp(end), freq="M")
    except (ValueError, TypeError):
        return []
    return [str(p) for p in periods[:120]]


def coverage_rows(
    registry: list[dict],
    files: pd.DataFrame,
    quality: pd.DataFrame,
    discovery: list[dict],
    today: date,
    manifest: list[dict] | None = None,
) -> list[dict]:
    """One row per council: current councils, abolished ones whose files we hold, and any other body
    whose files we hold (a police and crime commissioner is not in the council registry, but the home
    page counts it, so coverage lists it too)."""
    counted = files[(files["status"] == "counted") & files["kind"].isin(["payments", "card"])]
    found = {r["council_id"]: r for r in discovery if r["kind"] == "page"}
    manifest = manifest or []
    when = appeared(manifest)
    crawled = {r["council_id"] for r in discovery} | {
        r.get("council_id") for r in manifest if r.get("source") in CRAWLED_SOURCES
    }
    scores = dict(zip(quality["council_id"], quality["quality_score"], strict=True)) if len(quality) else {}
    window = sorted(set(last_two_years(today)))
    out = []
    for council in registry:
        cid = council["id"]
        mine = counted[counted["council_id"] == cid]
        if not council.get("current", True) and mine.empty:
            continue
        page, how, problem = (council.get("spending_pages") or [""])[0], council.get("found_by") or "", ""
        record = found.get(cid)
        if record and not page and record["status"] == "found":
            page, how = record["url"], f"discovered: {record['found_by']}"
        elif record and not page:
            problem = record["reason"]
        elif not page and cid not in crawled and mine.empty:
            problem = NOT_CRAWLED
        out.append(_row(council, mine, window, when, scores, (page, how, problem), crawled))
    return out


def _row(
    council: dict,
    mine: pd.DataFrame,
    window: list[str],
    when: dict[str, str],
    scores: dict,
    found: tuple[str, str, str],
    crawled: set,
) -> dict:
    """One council's coverage row from its counted files."""
    page, how, problem = found
    months = sorted(
        {
            m
            for s, e in zip(mine["period_start"], mine["period_end"], strict=True)
            if isinstance(s, str) and isinstance(e, str)
            for m in _months(s, e)
        }
    )
    missing = [m for m in window if m not in set(months)]
    lateness = [
        (pd.Timestamp(when[sha]) - pd.Timestamp(e)).days
        for sha, e in zip(mine["sha256"], mine["period_end"], strict=True)
        if sha in when and isinstance(e, str) and e[:4].isdigit()
    ]
    formats = sorted(
        {n.rsplit(".", 1)[-1].lower() for n in mine["file_name"] if isinstance(n, str) and "." in n}
    )
    status = "publishes" if len(mine) else ("page found" if page else "not found")
    return {
        "council_id": council["id"],
        "name": council["name"],
        "council_type": council.get("type"),
        "current": int(bool(council.get("current", True))),
        "website": council.get("website") or None,
        "spending_page": page or None,
        "found_by": how or None,
        "discovery_problem": problem or None,
        "status": status,
        "files": len(mine),
        "latest_month": months[-1] if months else None,
        "months_missing": len(missing),
        "missing_months": ",".join(missing) or None,
        "median_days_after_period": int(pd.Series(lateness).median()) if lateness else None,
        "formats": ",".join(formats) or None,
        "threshold": council.get("threshold"),
        "quality_score": _int(scores.get(council["id"])),
        # Asking by FOI only makes sense where a crawl looked and found nothing usable.
        "foi_url": foi_link(council) if council["id"] in crawled and not len(mine) else None,
    }


def other_bodies(registry: list[dict], files: pd.DataFrame, councils: pd.DataFrame) -> list[dict]:
    """Registry-style entries for bodies whose files we hold but the council registry lacks (a police
    and crime commissioner added with ``--council``)."""
    known = {c["id"] for c in registry}
    held = set(files.loc[files["status"] == "counted", "council_id"].dropna()) - known
    names = {r.council_id: r for r in councils.itertuples()} if len(councils) else {}
    return [
        {
            "id": cid,
            "name": getattr(names.get(cid), "name", None) or cid,
            "type": getattr(names.get(cid), "council_type", None),
            "current": True,
        }
        for cid in sorted(held)
    ]


def _int(value: object) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def write_coverage(
    conn: sqlite3.Connection, registry: list[dict], raw_dir: Path, today: date | None = None
) -> None:
    """Create and fill ``coverage`` (contract: ``schemas/published/coverage.schema.yaml``)."""
    files = pd.read_sql("select * from files", conn)
    quality = pd.read_sql("select council_id, quality_score from council_quality", conn)
    registry = [
        {**c, "id": c.get("id") or c.get("council_id")}
        for c in registry
        if c.get("id") or c.get("council_id")
    ]
    councils = pd.read_sql("select * from councils", conn)
    registry += other_bodies(registry, files, councils)
    manifest = read_manifest(Path(raw_dir) / "manifest.csv")
    rows = coverage_rows(registry, files, quality, read_discovery(raw_dir), today or date.today(), manifest)
    create(conn, "coverage")
    cols = columns("coverage")
    insert_rows(conn, "coverage", [tuple(r[c] for c in cols) for r in rows])
