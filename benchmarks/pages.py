"""Which URLs the Datasette benchmark times: the council, supplier and league pages, and all payments.

The busiest council and supplier are chosen, so the timed pages are the slowest real ones.
When the site's own pages (publish/site/plugin.py routes) exist they are used; otherwise the
equivalent table pages Datasette serves for any database.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

# (page, custom URL template, fallback table URL template); {db} is the database name.
PAGES = {
    "council_page": (
        "/council/{council_id}",
        "/{db}/payments?council_id={council_id}&_sort_desc=amount_pence",
    ),
    "supplier_page": (
        "/supplier/{supplier_id}",
        "/{db}/payments?supplier_id={supplier_id}&_sort_desc=amount_pence",
    ),
    "league_table": ("/", "/{db}/councils"),
    # Every payment, unfiltered, with metadata.yml's default facets: the page a national site must
    # still answer (each facet is a GROUP BY over every row unless it gives up in time).
    "payments_table": ("/{db}/payments", "/{db}/payments"),
}


def busiest(conn: sqlite3.Connection, column: str) -> str:
    row = conn.execute(
        f"select {column}, count(*) c from payments where {column} is not null and {column} != '' "
        f"group by {column} order by c desc limit 1"
    ).fetchone()
    if not row:
        raise LookupError(f"no payments with a {column} in the database")
    return str(row[0])


def pages_for(db: Path, custom_routes: bool = True) -> dict[str, str]:
    """``{page: url}`` for ``db``; raise ``LookupError`` when it has no payments to show."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type in ('table','view')")}
        if "payments" not in tables:
            raise LookupError(f"{db}: no payments table")
        ids = {"council_id": busiest(conn, "council_id"), "supplier_id": busiest(conn, "supplier_id")}
    finally:
        conn.close()
    out = {}
    for page, (custom, fallback) in PAGES.items():
        template = custom if custom_routes else fallback
        out[page] = template.format(db=db.stem, **ids)
    return out
