"""``/coverage``: every council in England — found or not, how recent, how late, how good.

Sorted on the server (``?sort=latest_month&desc=1``) from a fixed list of columns, so the page
works without JavaScript and a stranger's ``sort`` value never reaches SQL.
"""

from __future__ import annotations

from crawler.registry import COUNCIL_TYPES as REGISTRY_TYPES
from publish.build.coverage import NOT_CRAWLED
from publish.site.pages import _not_found, _render, _rows, _tables, database

#: Council types in England's council registry; any other body (a police and crime commissioner) is
#: listed because we hold its files, and the page says so.
COUNCIL_TYPES = set(REGISTRY_TYPES) - {"other"}

SORTS = {
    "name": "name",
    "type": "council_type",
    "status": "status",
    "files": "files",
    "latest_month": "latest_month",
    "months_missing": "months_missing",
    "days": "median_days_after_period",
    "threshold": "threshold",
    "quality": "quality_score",
}


async def coverage_page(request, datasette):
    db = database(datasette)
    if "coverage" not in await _tables(db):
        return await _not_found(
            datasette, request, "the coverage table (rebuild with `councilspend publish`)"
        )
    sort = request.args.get("sort", "name")
    column = SORTS.get(sort, "name")
    desc = request.args.get("desc") == "1"
    order = f"{column} is null, {column} {'desc' if desc else 'asc'}, name"
    rows = await _rows(db, f"select * from coverage order by {order}")  # column from SORTS only
    counts = {s: sum(r["status"] == s for r in rows) for s in ("publishes", "page found", "not found")}
    # "not found" only where a crawl looked; a council no crawl has visited yet is "not crawled yet".
    counts["not crawled"] = sum(
        r["status"] == "not found" and r["discovery_problem"] == NOT_CRAWLED for r in rows
    )
    counts["not found"] -= counts["not crawled"]
    for r in rows:
        r["status_words"] = "not crawled yet" if r["discovery_problem"] == NOT_CRAWLED else r["status"]
    others = [r for r in rows if r["council_type"] not in COUNCIL_TYPES]
    return await _render(
        datasette,
        request,
        "cs_coverage.html",
        {
            "rows": rows,
            "counts": counts,
            "others": others,
            "sort": sort if sort in SORTS else "name",
            "desc": desc,
            "sorts": SORTS,
        },
    )
