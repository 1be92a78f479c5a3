"""The demo councils' websites: pages, files and a CKAN catalogue, as a routing table.

Each council imitates one way real councils publish (``site`` in councils.yml):

* ``year_month_pages`` - a year index links year pages, which link month pages, which link files;
* ``flat_list`` - one page links every file;
* ``paginated_list`` - the flat list split over two pages ("Next page");
* ``download_ids`` - WordPress download-manager links ``/<slug>/download?id=N``: the file's name and
  type are only in the Content-Disposition / Content-Type headers;
* ``ckan`` - files listed only in a data.gov.uk-style CKAN ``package_search`` API (one of them is
  also linked from the council's own page under another URL: same bytes, two URLs).

``build_sites`` returns a :class:`Site`; ``write_site`` stores it as ``www/`` (bodies) plus
``routes.json`` (URL -> body file and headers) and ``ckan.json``, which ``server.py`` serves.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import date, timedelta
from email.utils import format_datetime
from pathlib import Path

from demo import shapes
from demo.ledger import FINANCIAL_YEARS, Council, Payment, months_of
from demo.site_model import PAGE_DATE, TYPES, PublishedFile, Route, Site, link_item, published_on, size_text


def _month_rows(rows: list[Payment]) -> dict[date, list[Payment]]:
    out: dict[date, list[Payment]] = defaultdict(list)
    for p in rows:
        out[p.paid_on.replace(day=1)].append(p)
    return out


def _fy_end(fy: str) -> date:
    return date(int(fy[:4]) + 1, 3, 31)


# ------------------------------------------------------------------------------- site builders
def _year_month_pages(site: Site, c: Council, rows: list[Payment]) -> str:
    base = f"/{c.slug}/transparency/spending/"
    years = []
    for fy in FINANCIAL_YEARS:
        fy_rows = [p for p in rows if p.financial_year == fy and not p.is_card]
        by_month = _month_rows(fy_rows)
        month_links = []
        for month in months_of(fy):
            data = shapes.cp1252_preamble_csv(c, month, by_month[month])
            pub = published_on(month.replace(day=28))
            name = f"DCC_Spend_Over_500_{month:%B_%Y}.csv"
            f = site.add_file(
                PublishedFile(
                    c.id,
                    f"/{c.slug}/sites/default/files/{pub:%Y-%m}/{name}",
                    name,
                    data,
                    "payments",
                    fy,
                    pub,
                    by_month[month],
                )
            )
            page = f"{base}{fy}/{month:%B-%Y}/".lower()
            site.add_page(
                page,
                f"Spending over £500: {month:%B %Y}",
                "<ul>"
                + link_item(f.url, f"Download {month:%B %Y} spending data (CSV, {size_text(data)})")
                + "</ul>",
                c,
            )
            month_links.append(link_item(page, f"{month:%B %Y}"))
        card_links = []
        if c.card_file:
            card = [p for p in rows if p.financial_year == fy and p.is_card]
            for q in range(4):
                q_months = months_of(fy)[q * 3 : q * 3 + 3]
                q_rows = [p for p in card if p.paid_on.replace(day=1) in q_months]
                name = f"DCC_Purchase_Card_Q{q + 1}_{fy}.csv"
                f = site.add_file(
                    PublishedFile(
                        c.id,
                        f"/{c.slug}/sites/default/files/cards/{name}",
                        name,
                        shapes.card_csv(c, q_rows),
                        "card",
                        fy,
                        published_on(q_months[-1].replace(day=28)),
                        q_rows,
                    )
                )
                card_links.append(link_item(f.url, f"Purchase card transactions Q{q + 1} {fy} (CSV)"))
        year_url = f"{base}{fy}/"
        site.add_page(
            year_url,
            f"Spending over £500 in {fy}",
            "<h2>Monthly spending</h2><ul>"
            + "".join(month_links)
            + "</ul>"
            + ("<h2>Purchase cards</h2><ul>" + "".join(card_links) + "</ul>" if card_links else ""),
            c,
        )
        years.append(link_item(year_url, f"Spending over £500: {fy}"))
    site.add_page(
        base, "Spending over £500", "<p>Choose a financial year.</p><ul>" + "".join(years) + "</ul>", c
    )
    return base


def _download_ids(site: Site, c: Council, rows: list[Payment]) -> str:
    page = f"/{c.slug}/council/transparency/spending-over-500/"
    links = []
    next_id = 1001
    for fy in FINANCIAL_YEARS:
        by_month = _month_rows([p for p in rows if p.financial_year == fy])
        for month in months_of(fy):
            data = shapes.bom_csv(c, month, by_month[month], fy=fy)
            f = site.add_file(
                PublishedFile(
                    c.id,
                    f"/{c.slug}/download?id={next_id}",
                    f"{c.place}-Spend-{month:%Y-%m}.csv",
                    data,
                    "payments",
                    fy,
                    published_on(month.replace(day=28)),
                    by_month[month],
                ),
                disposition=True,
            )
            links.append(link_item(f.url, f"Spend over £500 – {month:%B %Y}"))
            next_id += 1
    site.add_page(
        page,
        "Spending over £500",
        "<p>We publish every payment over £500. Files are CSV.</p><ul>" + "".join(reversed(links)) + "</ul>",
        c,
    )
    return page


def _xlsx_flat_list(site: Site, c: Council, rows: list[Payment]) -> str:
    page = f"/{c.slug}/open-data/spending-over-500/"
    links = []
    media = 1200
    for fy in FINANCIAL_YEARS:
        fy_rows = [p for p in rows if p.financial_year == fy]
        months = months_of(fy)
        data = shapes.xlsx_month_sheets(c, fy, months, _month_rows(fy_rows))
        name = f"{c.slug}-spend-{fy}.xlsx"
        f = site.add_file(
            PublishedFile(
                c.id,
                f"/{c.slug}/media/{media}/{name}",
                name,
                data,
                "payments",
                fy,
                published_on(_fy_end(fy)),
                fy_rows,
            )
        )
        links.append(link_item(f.url, f"Spending over £500 {fy} (Excel, {size_text(data)})"))
        if c.totals_file:
            name = f"{c.slug}-supplier-totals-{fy}.csv"
            t = site.add_file(
                PublishedFile(
                    c.id,
                    f"/{c.slug}/media/{media + 1}/{name}",
                    name,
                    shapes.supplier_totals_csv(fy_rows),
                    "supplier_totals",
                    fy,
                    published_on(_fy_end(fy)),
                    fy_rows,
                )
            )
            links.append(link_item(t.url, f"Spending over £500 {fy}: totals by supplier (CSV)"))
        media += 10
    site.add_page(page, "Spending over £500", "<ul>" + "".join(links) + "</ul>", c)
    return page


def _zip_flat_list(site: Site, c: Council, rows: list[Payment]) -> str:
    page = f"/{c.slug}/your-council/payments-to-suppliers/"
    links = []
    for fy in FINANCIAL_YEARS:
        fy_rows = [p for p in rows if p.financial_year == fy]
        by_month = _month_rows(fy_rows)
        members = []
        for month in months_of(fy):
            effective = published_on(month.replace(day=28)).date().replace(day=1) - timedelta(days=1)
            members.append(
                (
                    f"{month:%Y-%m} {c.place} payments over 500.csv",
                    shapes.lga_csv(c, month, by_month[month], effective),
                )
            )
        name = f"{c.place}_Payments_{fy}.zip"
        f = site.add_file(
            PublishedFile(
                c.id,
                f"/{c.slug}/media/documents/{name}",
                name,
                shapes.zip_of(members),
                "payments",
                fy,
                published_on(_fy_end(fy)),
                fy_rows,
            )
        )
        links.append(link_item(f.url, f"Payments to suppliers {fy} (ZIP of monthly CSV files)"))
    site.add_page(page, "Payments to suppliers over £500", "<ul>" + "".join(links) + "</ul>", c)
    return page


def _ckan(site: Site, c: Council, rows: list[Payment]) -> str:
    page = f"/{c.slug}/council/spending/"
    copy_link = ""
    for fy in FINANCIAL_YEARS:
        pkg = f"{c.slug}-spend-over-{c.threshold}-{fy}"
        resources = []
        months = months_of(fy)
        for q in range(4):
            q_rows = [
                p
                for p in rows
                if p.financial_year == fy and p.paid_on.replace(day=1) in months[q * 3 : q * 3 + 3]
            ]
            name = f"{c.slug}-spend-{fy}-q{q + 1}.ods"
            url = f"/{c.slug}/ckan/dataset/{pkg}/resource/q{q + 1}/download/{name}"
            also = []
            if fy == FINANCIAL_YEARS[-1] and q == 3:  # the latest file is also on the council's own page
                also = [f"/{c.slug}/council/documents/spend-{fy}-q4.ods"]
                copy_link = link_item(also[0], f"Latest quarter: spending over £{c.threshold}, Q4 {fy} (ODS)")
            f = site.add_file(
                PublishedFile(
                    c.id,
                    url,
                    name,
                    shapes.ods_quarter(c, f"Q{q + 1} {fy}", q_rows),
                    "payments",
                    fy,
                    published_on(months[q * 3 + 2].replace(day=28)),
                    q_rows,
                    also_at=also,
                )
            )
            resources.append(
                {
                    "id": f"{pkg}-q{q + 1}",
                    "name": f"Spend over £{c.threshold} Q{q + 1} {fy}",
                    "format": "ODS",
                    "url": f.url,
                    "mimetype": f.content_type,
                    "created": f.published.strftime("%Y-%m-%dT%H:%M:%S"),
                }
            )
        site.ckan_packages.append(
            {
                "name": pkg,
                "title": f"{c.name}: spending over £{c.threshold}, {fy}",
                "notes": "Payments to suppliers, published under the Local Government Transparency Code.",
                "license_id": "uk-ogl",
                "organization": {"name": c.dgu_publisher, "title": c.name},
                "metadata_modified": PAGE_DATE.strftime("%Y-%m-%dT%H:%M:%S"),
                "resources": resources,
            }
        )
    site.add_page(
        page,
        "Council spending",
        "<p>We publish our spending over £250 on data.gov.uk.</p><ul>" + copy_link + "</ul>",
        c,
    )
    return page


def _paginated_list(site: Site, c: Council, rows: list[Payment]) -> str:
    base = f"/{c.slug}/council/finance/spending/"
    pages = {fy: [] for fy in FINANCIAL_YEARS}
    for fy in FINANCIAL_YEARS:
        by_month = _month_rows([p for p in rows if p.financial_year == fy])
        for month in months_of(fy):
            name = f"spend-{month:%Y-%m}.csv"
            f = site.add_file(
                PublishedFile(
                    c.id,
                    f"/{c.slug}/council/finance/files/{name}",
                    name,
                    shapes.cp1252_hyndburn_csv(c, by_month[month]),
                    "payments",
                    fy,
                    published_on(month.replace(day=28)),
                    by_month[month],
                )
            )
            pages[fy].append(link_item(f.url, f"Spending over £500 {month:%B %Y} (CSV)"))
    latest = FINANCIAL_YEARS[-1]
    extras = []
    if c.html_error_file:
        name = "spend-2025-10-revised.csv"
        f = site.add_file(
            PublishedFile(
                c.id,
                f"/{c.slug}/council/finance/files/{name}",
                name,
                shapes.html_error_page(c),
                "html_error",
                latest,
                PAGE_DATE,
                content_type=TYPES["html"],
            )
        )
        extras.append(link_item(f.url, "Spending over £500 October 2025 – revised (CSV)"))
    if c.robots_disallowed_file:
        drafts = f"/{c.slug}/council/finance/drafts/"
        site.robots_disallow.append(drafts)
        march = [p for p in rows if p.paid_on.replace(day=1) == months_of(latest)[-1]]
        name = "spend-2026-03-draft.csv"
        f = site.add_file(
            PublishedFile(
                c.id,
                drafts + name,
                name,
                shapes.cp1252_hyndburn_csv(c, march + march),
                "robots_disallowed",
                latest,
                PAGE_DATE,
            )
        )
        extras.append(link_item(f.url, "Spending over £500 March 2026 – draft (CSV)"))
    page2 = f"{base}page/2/"
    site.add_page(
        base,
        "Spending over £500",
        f"<h2>{latest}</h2><ul>"
        + "".join(reversed(pages[latest]))
        + "".join(extras)
        + "</ul>"
        + f'<p class="pager"><a href="{page2}" rel="next">Next page »</a></p>',
        c,
    )
    first = FINANCIAL_YEARS[0]
    site.add_page(
        page2,
        "Spending over £500 (page 2)",
        f"<h2>{first}</h2><ul>"
        + "".join(reversed(pages[first]))
        + "</ul>"
        + f'<p class="pager"><a href="{base}" rel="prev">« Previous page</a></p>',
        c,
    )
    return base


def spending_path(c: Council) -> str:
    """URL path of a council's spending page (the crawler's start page)."""
    return {
        "year_month_pages": f"/{c.slug}/transparency/spending/",
        "download_ids": f"/{c.slug}/council/transparency/spending-over-500/",
        "ckan": f"/{c.slug}/council/spending/",
        "paginated_list": f"/{c.slug}/council/finance/spending/",
        "flat_list": (
            f"/{c.slug}/your-council/payments-to-suppliers/"
            if c.shape == "zip_of_csv"
            else f"/{c.slug}/open-data/spending-over-500/"
        ),
    }[c.site]


BUILDERS = {
    "year_month_pages": _year_month_pages,
    "download_ids": _download_ids,
    "flat_list": None,  # by shape, below
    "ckan": _ckan,
    "paginated_list": _paginated_list,
}


def build_sites(councils: tuple[Council, ...], payments: list[Payment]) -> tuple[Site, dict[str, str]]:
    """All councils' sites and each council's spending page URL path."""
    site = Site()
    spending_pages: dict[str, str] = {}
    for c in councils:
        rows = [p for p in payments if p.council_id == c.id]
        if c.site == "flat_list":
            builder = _zip_flat_list if c.shape == "zip_of_csv" else _xlsx_flat_list
        else:
            builder = BUILDERS[c.site]
        spending = builder(site, c, rows)
        if spending != spending_path(c):
            raise AssertionError(f"{c.slug}: spending page {spending} != {spending_path(c)}")
        spending_pages[c.id] = spending
        site.add_page(
            f"/{c.slug}/",
            c.name,
            "<ul>"
            + link_item(spending, "Transparency: spending over £500")
            + link_item(f"/{c.slug}/council-tax/", "Council tax")
            + "</ul>",
            c,
        )
        site.add_page(f"/{c.slug}/council-tax/", "Council tax", "<p>Pay your council tax online.</p>", c)
        site.add_page(f"/{c.slug}/contact-us/", "Contact us", "<p>Telephone 01632 960000.</p>", c)
    site.add_page(
        "/",
        "Demo councils (fictional)",
        "<ul>" + "".join(link_item(f"/{c.slug}/", c.name) for c in councils) + "</ul>",
    )
    robots = "User-agent: *\n" + "".join(f"Disallow: {p}\n" for p in site.robots_disallow)
    site.routes["/robots.txt"] = Route(robots.encode(), "text/plain; charset=utf-8", PAGE_DATE)
    return site, spending_pages


def write_site(site: Site, out_dir: Path) -> None:
    """Store bodies under ``www/`` (by URL, query strings made file-safe) and the routing table."""
    www = out_dir / "www"
    routes = {}
    for url, route in sorted(site.routes.items()):
        rel = url.lstrip("/").replace("?", "/_query_/").replace("=", "_")
        if not rel or rel.endswith("/"):
            rel += "index.html"
        path = www / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(route.body)
        routes[url] = {
            "body": path.relative_to(out_dir).as_posix(),
            "content_type": route.content_type,
            "last_modified": format_datetime(route.last_modified, usegmt=True),
            "etag": '"' + hashlib.sha256(route.body).hexdigest()[:20] + '"',
            "file_name": route.file_name,
        }
    (out_dir / "routes.json").write_text(json.dumps(routes, indent=1, sort_keys=True), encoding="utf-8")
    (out_dir / "ckan.json").write_text(
        json.dumps(site.ckan_packages, indent=1, ensure_ascii=False), encoding="utf-8"
    )
