"""Budgets per council against a hostile-ish site on 127.0.0.1: an endless calendar, a redirect
loop, a rejected file that must not be downloaded again, and the daily request budget."""

from __future__ import annotations

import csv
from pathlib import Path

from crawler_sites import RecordedRequest, Reply, Site, page, redirect, static

from crawler.run import crawl

SETTINGS = {
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "DOWNLOAD_TIMEOUT": 5,
    "RETRY_TIMES": 0,
    "HTTPCACHE_ENABLED": False,
    "CALENDAR_DEPTH": 3,
}


def calendar(req: RecordedRequest) -> Reply:
    """An events-style calendar: every month links to the next, for ever."""
    month = int(req.query.get("month", ["0"])[0])
    return page(f"Spending calendar {month}", [(f"/spend/calendar?month={month + 1}", "Next")])(req)


def rows(out: Path) -> list[dict]:
    with (out / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_calendar_redirect_loop_rejected_file_and_daily_budget(tmp_path):
    site = Site().start()
    try:
        r = site.routes
        r["/robots.txt"] = static(b"User-agent: *\n", "text/plain")
        r["/spend/"] = page(
            "Spending over £500",
            [
                ("/spend/calendar?month=1", "Calendar of payments"),
                ("/files/loop.csv", "Loop"),
                ("/files/page.csv", "March"),
            ],
        )
        r["/spend/calendar"] = calendar
        r["/files/loop.csv"] = redirect("/files/loop2.csv")
        r["/files/loop2.csv"] = redirect("/files/loop.csv")
        r["/files/page.csv"] = static(b"<html><body>Sorry, moved</body></html>", "text/csv")
        council = {
            "id": "E07999920",
            "name": "Budget Council",
            "type": "district",
            "website": site.url("/"),
            "spending_pages": [site.url("/spend/")],
        }
        crawl([council], tmp_path, settings=SETTINGS, progress=False)
        calendar_hits = [q for q in site.requests if q.path.startswith("/spend/calendar")]
        assert len(calendar_hits) <= 3, [q.path for q in calendar_hits]
        manifest = {m["url"].removeprefix(site.base): m for m in rows(tmp_path)}
        loop = manifest["/files/loop.csv"]
        assert loop["status"] == "failed" and loop["error"].startswith("redirect loop: "), loop
        assert manifest["/files/page.csv"]["status"] == "rejected"

        site.clear()
        crawl([council], tmp_path, settings=SETTINGS, progress=False)
        again = site.requested("/files/page.csv")
        assert again and again[0].headers.get("if-none-match"), "asked with its validators"
        row = {m["url"].removeprefix(site.base): m for m in rows(tmp_path)}["/files/page.csv"]
        assert row["status"] == "rejected" and "not modified since it was rejected" in row["error"], row

        site.clear()
        crawl([council], tmp_path, settings={**SETTINGS, "COUNCIL_DAILY_REQUESTS": 5}, progress=False)
        assert [q.path for q in site.requests if q.path != "/robots.txt"] == []  # today's budget is spent
    finally:
        site.stop()
