"""``/council/<GSS code>``: one council's headline, measures by year, transfers, payees, divisions,
suppliers, delivery models and files. Reads summary tables only (pages stay fast on 10M payments)."""

from __future__ import annotations

from urllib.parse import quote

from datasette.utils.asgi import Response

from publish.build.quality import problems_list
from publish.site import charts, site_measures
from publish.site.pages import (
    EXTERNAL_MODELS,
    SECTOR_ORDER,
    _not_found,
    _render,
    _rows,
    _tables,
    database,
    echoed,
    typed_id,
)

ORDERED = "where council_id = :c order by financial_year, total_pence desc"


async def council(request, datasette):
    """The council page; any case of the code reaches it (redirect), anything else is a clean 404."""
    db = database(datasette)
    typed = typed_id(request, "council_id")
    cid = typed.upper()  # GSS codes are upper case; /council/e08000035 is the same council
    found = await _rows(db, "select * from councils where council_id = :c", {"c": cid})
    if not found:
        return await _not_found(
            datasette,
            request,
            f"council with the code “{echoed(typed)}”. A council's code looks like "
            "E08000035: find yours on the coverage page (/coverage)",
        )
    if cid != request.url_vars["council_id"]:
        return Response.redirect(f"/council/{quote(cid)}")
    info = found[0]
    sectors = await _rows(db, f"select * from council_year_sector {ORDERED}", {"c": cid})
    years = sorted({r["financial_year"] for r in sectors if site_measures.is_dated(r["financial_year"])})
    latest = site_measures.latest_year(years)
    undated = [r for r in sectors if not site_measures.is_dated(r["financial_year"])]
    divisions = await _rows(db, f"select * from council_year_division {ORDERED}", {"c": cid})
    measures = await site_measures.council_years(db, cid)
    return await _render(
        datasette,
        request,
        "cs_council.html",
        {
            "headline": site_measures.headline(site_measures.headline_year(measures["rows"]), info["name"]),
            "transfers": await site_measures.council_transfers(db, cid),
            "council": info,
            "sectors": sectors,
            "years": years,
            "latest": latest,
            "divisions": divisions,
            "measures": measures,
            "sector_order": SECTOR_ORDER,
            "undated_line": site_measures.undated_line(
                sum(r["total_pence"] or 0 for r in undated), sum(r["payments"] or 0 for r in undated)
            ),
            **_charts(sectors, years, divisions, latest, measures["rows"]),
            **await _payees_and_files(db, cid),
        },
    )


def _charts(
    sectors: list[dict], years: list[str], divisions: list[dict], latest: str | None, measures: list[dict]
) -> dict:
    """The page's three charts: dated years only (the undated year is never plotted)."""
    sector_chart = charts.stacked_share(
        [(y, {r["sector"]: r["total_pence"] for r in sectors if r["financial_year"] == y}) for y in years],
        title="Share of published spend by payee sector, by financial year",
        order=SECTOR_ORDER,
    )
    latest_divisions = [r for r in divisions if r["financial_year"] == latest]
    division_chart = charts.hbar(
        [(r["sercop_division"].replace("_", " "), r["total_pence"]) for r in latest_divisions],
        title=f"Spend by service division, {latest}",
    )
    m2_chart = None
    m2_points = [(m["financial_year"], m["m2_pct"]) for m in measures if m.get("m2_pct") is not None]
    if m2_points:
        series = {"M2 externally delivered, % of published spend": m2_points}
        m3_points = [(m["financial_year"], m["m3_pct"]) for m in measures if m.get("m3_pct") is not None]
        if m3_points:
            series["M3 externally delivered, % of service expenditure"] = m3_points
        m2_chart = charts.line(series, title="Externally delivered share by year", width=900)
    return {
        "sector_chart": sector_chart,
        "division_chart": division_chart,
        "m2_chart": m2_chart,
        "latest_divisions": latest_divisions,
    }


async def _payees_and_files(db, cid: str) -> dict:
    """Top suppliers, delivery models, quality and files."""
    # Sum per supplier on the covering (council_id, supplier_id, payments, total_pence) index first,
    # then join: a council pays ~10k suppliers, and joining before grouping cost ~40 ms at 10M rows.
    per_supplier = """select supplier_id, sum(payments) payments, sum(total_pence) total_pence
        from supplier_council_year where council_id = :c group by supplier_id"""
    top = await _rows(
        db,
        f"""
        select s.supplier_id, s.name, s.sector, t.payments, t.total_pence
        from ({per_supplier} order by total_pence desc limit 20) t
        join suppliers s on s.supplier_id = t.supplier_id order by t.total_pence desc""",
        {"c": cid},
    )
    models = await _rows(
        db,
        f"""
        select s.supplier_id, s.name, s.sector, s.subsector, t.payments, t.total_pence
        from ({per_supplier}) t join suppliers s on s.supplier_id = t.supplier_id
        where s.sector in {EXTERNAL_MODELS!r} order by t.total_pence desc limit 30""",
        {"c": cid},
    )
    delivery = []
    if "council_year_delivery_models" in await _tables(db):
        delivery = await _rows(
            db,
            "select * from council_year_delivery_models where council_id = :c "
            "order by financial_year, amount_pence desc",
            {"c": cid},
        )
    quality = await _rows(db, "select * from council_quality where council_id = :c", {"c": cid})
    files = await _rows(
        db,
        "select sha256, url, file_name, kind, status, reason, rows_kept, total_pence, "
        "period_start, period_end, quality_score, problems, individual_rows, "
        "code_fields_missing from files where council_id = :c "
        "order by period_start desc, status",
        {"c": cid},
    )
    for f in files:
        f["problem_list"] = problems_list(f.get("problems"))
    return {
        "top": top,
        "models": models,
        "delivery": delivery,
        "quality": quality[0] if quality else None,
        "files": files,
    }
