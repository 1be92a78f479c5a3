"""The Datasette site in-process (``Datasette(...).client``): every page, table and canned query."""

from __future__ import annotations

import re
import sqlite3
from html import unescape
from pathlib import Path

import pytest

from demo.sample_site import COUNCILS, INDIVIDUAL_NAME, SCRIPT_SUPPLIER, build_sample_site
from publish.site.serve import load_metadata, make_app

REPO = Path(__file__).resolve().parents[1]
META = load_metadata()["databases"]["councilspend"]
COUNCIL = COUNCILS[0]["id"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return build_sample_site(tmp_path_factory.mktemp("site"))


@pytest.fixture()
def ds(site: Path):
    return make_app(site)


def rows(db: Path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def canned_params(site: Path) -> dict[str, dict[str, str]]:
    """Real parameter values for every canned query, taken from the built database."""
    year = rows(site, "select max(financial_year) from payments")[0][0]
    supplier = rows(site, "select supplier_id from suppliers order by total_pence desc limit 1")[0][0]
    values = {"council": COUNCIL, "year": year, "supplier_id": supplier, "q": "fostering"}
    out = {}
    for name, query in META["queries"].items():
        params = sorted(set(re.findall(r":(\w+)", query["sql"])))
        assert set(params) <= set(values), f"no test value for {name} params {params}"
        out[name] = {p: values[p] for p in params}
    return out


PAGES = [
    "/",
    f"/council/{COUNCIL}",
    "/quality",
    "/methodology",
    "/search?q=care",
    "/check",
    "/downloads",
    "/councilspend",
    "/-/static-plugins/councilspend/site.css",
]


@pytest.mark.parametrize("path", PAGES)
async def test_pages_return_200(ds, path: str) -> None:
    r = await ds.client.get(path)
    assert r.status_code == 200, r.text[:500]


async def test_every_supplier_page_returns_200(ds, site: Path) -> None:
    for (sid,) in rows(site, "select supplier_id from suppliers"):
        r = await ds.client.get(f"/supplier/{sid}")
        assert r.status_code == 200, sid


async def test_every_table_html_and_json(ds, site: Path) -> None:
    tables = [t for (t,) in rows(site, "select name from sqlite_master where type='table'")]
    assert "payments" in tables and "council_year_measures" in tables
    for table in tables:
        html = await ds.client.get(f"/councilspend/{table}")
        assert html.status_code == 200, (table, html.text[:300])
        js = await ds.client.get(f"/councilspend/{table}.json?_shape=array")
        assert js.status_code == 200, table
        assert isinstance(js.json(), list)


async def test_every_canned_query_with_real_params(ds, site: Path) -> None:
    assert len(META["queries"]) >= 8
    for name, params in canned_params(site).items():
        html = await ds.client.get(f"/councilspend/{name}", params=params)
        assert html.status_code == 200, (name, html.text[:300])
        js = await ds.client.get(f"/councilspend/{name}.json", params={**params, "_shape": "array"})
        assert js.status_code == 200, name
        assert js.json(), f"canned query {name} returned no rows for {params}"


async def test_every_table_and_column_is_described(ds, site: Path) -> None:
    for (table,) in rows(
        site,
        "select name from sqlite_master where type='table' and name not like '%_fts%' and name not like 'sqlite_%'",
    ):
        assert table in META["tables"], f"{table} not described in metadata.yml"
        cols = [r[1] for r in rows(site, f'pragma table_info("{table}")')]
        missing = set(cols) - set(META["tables"][table].get("columns", {}))
        assert not missing, f"{table}: undescribed columns {sorted(missing)}"


def _cells(html: str, table_id: str) -> list[list[str]]:
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    out = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S):
        tds = re.findall(r"<td[^>]*>(.*?)</td>", tr, flags=re.S)
        if tds:
            out.append([unescape(re.sub(r"<[^>]+>", "", td)).strip() for td in tds])
    return out


async def test_council_page_figures_equal_summary_tables(ds, site: Path) -> None:
    html = (await ds.client.get(f"/council/{COUNCIL}")).text
    pence = [
        int(p)
        for p in re.findall(r'data-pence="(-?\d+)"', html.split('id="sectors"')[1].split("</table>")[0])
    ]
    expected = rows(
        site,
        "select total_pence from council_year_sector where council_id = ? "
        "order by financial_year, total_pence desc",
        (COUNCIL,),
    )
    assert pence == [p for (p,) in expected]
    shown = [(r[0], r[1].replace(" ", "_"), r[3]) for r in _cells(html, "sectors")]
    expected_rows = rows(
        site,
        "select financial_year, sector, total_pence from council_year_sector "
        "where council_id = ? order by financial_year, total_pence desc",
        (COUNCIL,),
    )
    assert shown == [(y, s, ("-" if p < 0 else "") + f"£{abs(p) / 100:,.2f}") for y, s, p in expected_rows]
    divisions = [
        int(p)
        for p in re.findall(r'data-pence="(-?\d+)"', html.split('id="divisions"')[1].split("</table>")[0])
    ]
    assert divisions == [
        p
        for (p,) in rows(
            site,
            "select total_pence from council_year_division where "
            "council_id = ? order by financial_year, total_pence desc",
            (COUNCIL,),
        )
    ]
    measures = _cells(html, "measures")
    expected_m = rows(
        site,
        "select financial_year, round(100 * m2_share, 1), months_present from "
        "council_year_measures where council_id = ? order by financial_year",
        (COUNCIL,),
    )
    assert [(m[0].split()[0], float(m[1].rstrip("%")), int(m[3])) for m in measures] == expected_m


async def test_home_league_table_matches_measures(ds, site: Path) -> None:
    html = (await ds.client.get("/")).text
    assert "<svg" in html
    latest = rows(
        site,
        "select council_id, round(100 * m2_share, 1) from council_year_measures m where "
        "financial_year = (select max(financial_year) from council_year_measures "
        "where council_id = m.council_id)",
    )
    for council_id, share in latest:
        name = rows(site, "select name from councils where council_id = ?", (council_id,))[0][0]
        row = next(r for r in re.findall(r"<tr[^>]*>(.*?)</tr>", html, flags=re.S) if name in r)
        assert f"{share:.1f}%" in row


async def test_supplier_page_lists_every_paying_council(ds, site: Path) -> None:
    sid = rows(site, "select supplier_id from suppliers where councils = 3 limit 1")[0][0]
    html = (await ds.client.get(f"/supplier/{sid}")).text
    for c in COUNCILS:
        assert c["name"] in html
    total = rows(site, "select total_pence from suppliers where supplier_id = ?", (sid,))[0][0]
    by_council = [int(p) for p in re.findall(r'data-pence="(-?\d+)"', html.split('id="by-council"')[1])]
    assert sum(by_council) == total


async def test_script_supplier_is_escaped_everywhere(ds, site: Path) -> None:
    sid = rows(site, "select supplier_id from suppliers where name = ?", (SCRIPT_SUPPLIER,))[0][0]
    for path in (
        f"/supplier/{sid}",
        f"/council/{COUNCIL}",
        "/search?q=alert",
        "/councilspend/suppliers",
        f"/councilspend/payments?supplier_id={sid}",
    ):
        html = (await ds.client.get(path)).text
        assert SCRIPT_SUPPLIER not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path


async def test_individual_name_not_shown_anywhere(ds) -> None:
    for path in (
        "/",
        f"/council/{COUNCIL}",
        "/search?q=Joseph",
        "/councilspend/payments?_search=Joseph",
        "/supplier/individual-withheld",
        "/councilspend/payments.json?sector=individual",
    ):
        r = await ds.client.get(path)
        assert r.status_code == 200, path
        assert INDIVIDUAL_NAME not in r.text, path


async def test_payments_carry_a_prefilled_whatdotheyknow_link(ds, site: Path) -> None:
    html = (await ds.client.get(f"/councilspend/payments?council_id={COUNCIL}")).text
    slug = COUNCILS[0]["wdtk_id"]
    assert f"https://www.whatdotheyknow.com/new/{slug}?title=" in html
    assert "Ask the council about this" in html
    no_slug = COUNCILS[2]["id"]  # Testford has no WhatDoTheyKnow id: no link, reference still shown
    html = (await ds.client.get(f"/councilspend/payments?council_id={no_slug}")).text
    assert "whatdotheyknow.com/new/" not in html


async def test_search_box_on_every_page(ds) -> None:
    for path in PAGES[:-2] + ["/councilspend/payments"]:
        html = (await ds.client.get(path)).text
        assert 'action="/search"' in html, path


async def test_search_finds_suppliers_and_payments(ds) -> None:
    html = (await ds.client.get("/search?q=brightside")).text
    assert "Brightside Fostering Limited" in html and 'id="payment-results"' in html


async def test_reconciliation_endpoint_matches_supplier_names(ds) -> None:
    r = await ds.client.get(
        "/councilspend/suppliers/-/reconcile", params={"queries": '{"q0": {"query": "Brightside Fostering"}}'}
    )
    assert r.status_code == 200
    result = r.json()["q0"]["result"]
    assert result and result[0]["name"] == "Brightside Fostering Limited"


async def test_downloads_are_served(ds) -> None:
    page = (await ds.client.get("/downloads")).text
    assert "datapackage.json" in page and "parquet/payments.parquet" in page
    r = await ds.client.get("/downloads/datapackage.json")
    assert r.status_code == 200 and r.json()["resources"]


async def test_unknown_council_and_supplier_are_404(ds) -> None:
    assert (await ds.client.get("/council/E00000000")).status_code == 404
    assert (await ds.client.get("/supplier/nope")).status_code == 404


async def test_database_is_read_only(ds) -> None:
    # Immutable: Datasette opens it read-only (mode=ro, immutable=1), so no write can reach the file.
    assert ds.get_database("councilspend").is_mutable is False
    r = await ds.client.get("/councilspend.json", params={"sql": "delete from payments", "_shape": "array"})
    assert r.status_code in (400, 403)
    assert (await ds.client.get("/councilspend/payments.json?_size=1")).status_code == 200


CHECK_CSV = (
    b"Date,Supplier,Amount,Expense Type,Service Area,Description\n"
    b"01/04/2024,Acme Ltd,1200.00,Consultancy,Planning,Advice\n"
    b"02/04/2024,Mrs Jane Example,700,Direct Payments,Adult Social Care,Care\n"
    b"03/04/2024,<script>alert(1)</script>,900,Fees,Planning,x\n"
)


async def test_check_page_reports_an_upload_and_stores_nothing(ds, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    r = await ds.client.post("/check", files={"file": ("march.csv", CHECK_CSV, "text/csv")})
    assert r.status_code == 200
    report = r.text.split('id="report"', 1)[1]
    assert "march.csv" in report and "Rows read" in report
    assert "merchant category" in report  # a missing Code field, in plain words
    assert "Mrs Jane Example" in report  # the officer sees the names to redact in their own file
    assert SCRIPT_SUPPLIER.encode() not in r.content
    assert list(tmp_path.iterdir()) == []


async def test_check_page_rejects_empty_and_oversized_uploads(ds, monkeypatch) -> None:
    r = await ds.client.post("/check", files={"file": ("empty.csv", b"", "text/csv")})
    assert r.status_code == 400
    from publish.site import pages

    monkeypatch.setattr(pages, "MAX_UPLOAD", 1000)
    r = await ds.client.post("/check", files={"file": ("big.csv", b"x" * 200_000, "text/csv")})
    assert r.status_code == 413 and "larger than" in r.text


async def test_check_page_says_busy_instead_of_queueing(ds, monkeypatch) -> None:
    import asyncio

    from publish.site import pages

    monkeypatch.setattr(pages, "_check_slots", asyncio.Semaphore(0))  # every slot taken
    r = await ds.client.post("/check", files={"file": ("march.csv", CHECK_CSV, "text/csv")})
    assert r.status_code == 503 and "busy" in r.text


async def test_datasette_gzip_compresses_pages_and_streams(site: Path) -> None:
    """datasette-gzip (a plugin, so in every Datasette this venv makes) compresses what clients accept."""
    import httpx

    app = make_app(site).app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        r = await client.get("/", headers={"accept-encoding": "gzip"})
        assert r.headers.get("content-encoding") == "gzip"
        assert "<svg" in r.text  # httpx decompresses
        csv = await client.get("/councilspend/payments.csv?_stream=on", headers={"accept-encoding": "gzip"})
        assert csv.status_code == 200 and csv.text.startswith("id,")
        raw = await client.get(
            "/-/static-plugins/councilspend/site.css", headers={"accept-encoding": "identity"}
        )
        assert raw.status_code == 200 and "content-encoding" not in raw.headers
