"""Route handlers for the pages people read. Each reads summary tables (never aggregates payments at
request time, so pages stay fast on 10 million rows) and renders a template in ``publish/site/templates``."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from pathlib import Path
from urllib.parse import unquote

from datasette.utils.asgi import Response
from markupsafe import Markup

from councilspend.problems import group_problems
from publish.build.quality import CODE_FIELDS, problems_list
from publish.build.resources import methodology_path
from publish.site import charts, site_measures
from publish.site.downloads_label import downloads_disagree
from publish.site.national import national_chart

METHODOLOGY = methodology_path()
MAX_UPLOAD = 50 * 1024 * 1024
# Checks run at most this many at once: each may hold a 50 MB upload and a core; more would starve
# the pages everyone else is reading. A busy server says so (503) rather than queueing unboundedly.
MAX_CONCURRENT_CHECKS = 2
_check_slots = asyncio.Semaphore(MAX_CONCURRENT_CHECKS)
SECTOR_ORDER = [
    "private",
    "third_sector",
    "mutual",
    "council_company",
    "public",
    "individual",
    "redacted",
    "transfer",
    "unknown",
]
EXTERNAL_MODELS = ("public", "council_company")


def database(datasette):
    """The councilspend database: plugin setting ``database``, else the one named councilspend, else the first."""
    config = datasette.plugin_config("councilspend") or {}
    names = [n for n in datasette.databases if n != "_internal"]
    name = config.get("database") or (
        "councilspend" if "councilspend" in names else (names[0] if names else None)
    )
    if name is None:
        raise LookupError("no database attached")
    return datasette.get_database(name)


async def _rows(db, sql: str, params=None) -> list[dict]:
    return [dict(r) for r in (await db.execute(sql, params or {})).rows]


async def _tables(db) -> set[str]:
    return set(await db.table_names())


async def _render(datasette, request, template: str, ctx: dict, status: int = 200) -> Response:
    db = database(datasette)
    ctx = {"dbname": db.name, "metadata": datasette.metadata(), **ctx}
    html = await datasette.render_template(template, ctx, request=request)
    return Response.html(html, status=status)


@functools.cache
def _sync_env():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from publish.site.templating import TEMPLATES, add_filters

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True))
    add_filters(env)
    return env


def render_sync(template: str, **ctx) -> Markup:
    """A long table fragment rendered by a plain (synchronous) Jinja environment: Datasette's async
    environment costs ~0.1 ms per loop iteration, which is most of a 300-council page."""
    return Markup(_sync_env().get_template(template).render(**ctx))


async def _not_found(datasette, request, what: str) -> Response:
    return await _render(
        datasette,
        request,
        "cs_message.html",
        {"title": "Not found", "message": f"We have no {what}."},
        status=404,
    )


async def home(request, datasette):
    db = database(datasette)
    totals = (
        await _rows(
            db,
            "select count(distinct council_id) councils, sum(payments) payments, "
            "sum(total_pence) pence from council_year_sector",
        )
    )[0]
    totals["suppliers"] = (await _rows(db, "select count(*) n from suppliers"))[0]["n"]
    league = await site_measures.league(db)
    national = await national_chart(db, SECTOR_ORDER)
    # Only ranked years (9+ months, not card-only, with an outturn): a bar chart is a ranking too.
    ranked = [(r["name"], r["m3_pct"]) for r in league["rows"] if r.get("rank")][:25]
    share_chart = (
        charts.hbar(
            ranked,
            title="Externally delivered share of service spending (M3)",
            fmt=lambda v: f"{v:.1f}%",
            max_value=100,
        )
        if ranked
        else charts.hbar(
            [(r["name"], r["total_pence"]) for r in league["rows"]][:25],
            title="Published spend, all years (no year is complete enough to rank yet)",
        )
    )
    # The headline in words for the three biggest ranked councils (every league row has its own too).
    featured = sorted((r for r in league["rows"] if r.get("rank")), key=lambda r: -(r["total_pence"] or 0))[
        :3
    ]
    return await _render(
        datasette,
        request,
        "cs_home.html",
        {
            "totals": totals,
            "national": national,
            "share_chart": share_chart,
            "league": league,
            "featured": featured,
            "league_rows": render_sync("cs_league_rows.html", league=league),
        },
    )


def typed_id(request, name: str) -> str:
    """The id in the URL as typed: percent-escapes decoded (``/supplier/GB%2DCOH%2D…``), spaces trimmed."""
    return unquote(request.url_vars[name]).strip()


def echoed(typed: str) -> str:
    """What a not-found page repeats of the typed id: printable characters, at most 40."""
    return "".join(ch for ch in typed if ch.isprintable())[:40]


async def supplier(request, datasette):
    from publish.site.foi import foi_url, wdtk_ids

    db = database(datasette)
    sid = typed_id(request, "supplier_id")
    found = await _rows(db, "select * from suppliers where supplier_id = :s", {"s": sid})
    if not found:
        return await _not_found(datasette, request, f"supplier with the id “{echoed(sid)}”")
    info = found[0]
    by_year = await _rows(
        db,
        """
        select y.council_id, c.name council_name, y.financial_year, y.payments, y.total_pence
        from supplier_council_year y join councils c on c.council_id = y.council_id
        where y.supplier_id = :s order by c.name, y.financial_year""",
        {"s": sid},
    )
    years = sorted({r["financial_year"] for r in by_year})
    table: dict[str, dict] = {}
    for r in by_year:
        row = table.setdefault(
            r["council_id"],
            {"council_id": r["council_id"], "name": r["council_name"], "years": {}, "total": 0},
        )
        row["years"][r["financial_year"]] = r["total_pence"]
        row["total"] += r["total_pence"] or 0
    councils = sorted(table.values(), key=lambda r: -r["total"])
    aliases = await _rows(
        db,
        "select alias, council_id, payments, total_pence from supplier_aliases "
        "where supplier_id = :s order by total_pence desc limit 50",
        {"s": sid},
    )
    biggest = await _rows(
        db,
        "select p.id, p.council_id, c.name council_name, p.payment_date, p.amount_gbp, "
        "p.supplier_name, p.description, p.transaction_ref, p.sercop_division "
        "from payments p join councils c on c.council_id = p.council_id "
        "where p.supplier_id = :s order by p.amount_pence desc limit 20",
        {"s": sid},
    )
    wdtk = await wdtk_ids(datasette, db.name)
    for p in biggest:
        p["foi"] = foi_url(wdtk[p["council_id"]], p) if wdtk.get(p["council_id"]) else None
    chart = charts.hbar(
        [(c["name"], c["total"]) for c in councils[:20]],
        title=f"Payments to {info['name']} by council, all years",
    )
    return await _render(
        datasette,
        request,
        "cs_supplier.html",
        {
            "supplier": info,
            "councils": councils,
            "years": years,
            "aliases": aliases,
            "biggest": biggest,
            "chart": chart,
        },
    )


async def quality_page(request, datasette):
    db = database(datasette)
    ranked = await _rows(
        db, "select q.*, c.name from council_quality q join councils c using (council_id) order by q.rank"
    )
    files = await _rows(
        db,
        """
        select f.council_id, c.name, f.file_name, f.url, f.status, f.reason, f.problems, f.individual_rows
        from files f join councils c using (council_id)
        where f.status != 'superseded' and (f.problems not in ('', '[]') or f.individual_rows > 0
              or f.status = 'rejected')
        order by c.name, f.file_name""",
    )
    chart = charts.hbar(
        [(r["name"], r["quality_score"]) for r in ranked[:30]],
        title="Transparency Code publication score (0-100)",
        fmt=lambda v: f"{v:.0f}",
        max_value=100,
    )
    return await _render(
        datasette,
        request,
        "cs_quality.html",
        {
            "ranked": ranked,
            "councils": council_problems(files),
            "chart": chart,
            "code_fields": CODE_FIELDS,
        },
    )


def council_problems(files: list[dict]) -> list[dict]:
    """Each council's problems, one line per code with its count and files (worst first), so a problem
    every file shares reads once, not once per file. Councils with the most errors come first."""
    by_council: dict[str, dict] = {}
    for f in files:
        c = by_council.setdefault(
            f["council_id"], {"council_id": f["council_id"], "name": f["name"], "items": []}
        )
        name = f.get("file_name") or f.get("url") or ""
        found = problems_list(f.get("problems"), f.get("individual_rows"))
        if f.get("status") == "rejected" and not any(p["severity"] == "error" for p in found):
            # a file the crawl refused (an HTML page, say) has a reason but no normaliser report
            found.append({"severity": "error", "code": "unreadable", "message": f["reason"] or "rejected"})
        c["items"] += [(name, p) for p in found]
    out = []
    for c in by_council.values():
        groups = group_problems(c.pop("items"))
        counts = {s: sum(g["severity"] == s for g in groups) for s in ("error", "warning", "info")}
        out.append({**c, "groups": groups, "counts": counts})
    return sorted(out, key=lambda c: (-c["counts"]["error"], -c["counts"]["warning"], c["name"]))


async def methodology(request, datasette):
    from markdown_it import MarkdownIt

    if METHODOLOGY.exists():
        # html=False: raw HTML in the markdown is shown as text, never injected.
        body = (
            MarkdownIt("commonmark", {"html": False})
            .enable("table")
            .render(METHODOLOGY.read_text(encoding="utf-8"))
        )
    else:
        body = "<p>The methodology document (docs/methodology.md) has not been written yet.</p>"
    return await _render(datasette, request, "cs_methodology.html", {"body": Markup(body)})


async def search(request, datasette):
    """Suppliers and payments matching the words typed; whatever was typed gives a page, never an error."""
    from datasette.database import QueryInterrupted

    from publish.site.fts_query import MAX_QUERY_CHARS, fts_query, is_empty

    db = database(datasette)
    q = (request.args.get("q") or "").strip()[:MAX_QUERY_CHARS]
    suppliers, payments, message = [], [], None
    fts = fts_query(q)
    if q and is_empty(fts):
        message = "Type a word or a name: punctuation alone finds nothing."
    elif q:
        try:
            suppliers = await _rows(
                db,
                """
                select s.supplier_id, s.name, s.sector, s.councils, s.total_pence from suppliers s
                where s.rowid in (select rowid from suppliers_fts where suppliers_fts match :q
                                  union select sp.rowid from suppliers sp join supplier_aliases a
                                    on a.supplier_id = sp.supplier_id
                                    where a.rowid in (select rowid from supplier_aliases_fts
                                                      where supplier_aliases_fts match :q))
                order by s.total_pence desc limit 50""",
                {"q": fts},
            )
            payments = await _rows(
                db,
                """
                select p.id, p.council_id, c.name council_name, p.payment_date, p.amount_gbp, p.supplier_id,
                       p.supplier_name, p.description
                from payments p join councils c on c.council_id = p.council_id
                where p.rowid in (select rowid from payments_fts where payments_fts match :q limit 5000)
                order by p.amount_pence desc limit 50""",
                {"q": fts},
            )
        except (QueryInterrupted, sqlite3.Error):
            message = "That search took too long or could not be run. Try fewer or longer words."
    return await _render(
        datasette,
        request,
        "cs_search.html",
        {"q": q, "suppliers": suppliers, "payments": payments, "message": message},
    )


async def downloads(request, datasette):
    folder = downloads_dir(datasette)
    files = []
    if folder and folder.exists():
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                files.append({"name": str(p.relative_to(folder)), "bytes": p.stat().st_size})
    stale = downloads_disagree(folder, database(datasette).hash)
    return await _render(datasette, request, "cs_downloads.html", {"files": files, "stale": stale})


def downloads_dir(datasette) -> Path | None:
    config = datasette.plugin_config("councilspend") or {}
    if config.get("downloads_dir"):
        return Path(config["downloads_dir"])
    db = database(datasette)
    return Path(db.path).parent / "downloads" if db.path else None


async def check(request, datasette):
    if request.method != "POST":
        return await _render(
            datasette, request, "cs_check.html", {"report": None, "max_mb": MAX_UPLOAD // 2**20}
        )
    from publish.site.check_upload import check_request
    from publish.site.upload import UploadRefused

    try:
        report = await check_request(request, limit=MAX_UPLOAD, slots=_check_slots)
    except UploadRefused as exc:
        return await _check_error(datasette, request, exc.message, exc.status)
    return await _render(
        datasette, request, "cs_check.html", {"report": report, "max_mb": MAX_UPLOAD // 2**20}
    )


async def _check_error(datasette, request, message: str, status: int) -> Response:
    return await _render(
        datasette,
        request,
        "cs_check.html",
        {"report": None, "error": message, "max_mb": MAX_UPLOAD // 2**20},
        status=status,
    )
