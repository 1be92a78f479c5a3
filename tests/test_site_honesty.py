"""The site never overstates what the data can say: the all-councils chart says what each bar covers,
the undated year is never plotted, ranked or headlined, a year whose categories cannot say "third party"
gets no share, and only rows with the headline measure are ranked. The sample site, with its database
edited into each case, driven in-process like tests/test_site.py."""

from __future__ import annotations

import re
import shutil
import sqlite3
from html import unescape
from pathlib import Path

import pytest

from demo.sample_site import build_sample_site
from publish.site.serve import make_app

A, B, C = "E99000001", "E99000002", "E99000003"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    built = build_sample_site(tmp_path_factory.mktemp("site"))
    db = tmp_path_factory.mktemp("edited") / "councilspend.db"
    shutil.copy(built, db)
    with sqlite3.connect(db) as conn:
        # The sample has no outturn, so its empty m3_share column was typed TEXT; a real M3 column is REAL.
        conn.execute("alter table council_year_measures drop column m3_share")
        conn.execute("alter table council_year_measures add column m3_share real")
        # A and B ranked on M3 (B higher); C rankable but without M3, like a police body with no outturn.
        conn.execute(
            "update council_year_measures set months_present = 12, rankable = 1, coverage = 'complete' "
            "where financial_year = '2024-25'"
        )
        conn.execute(
            f"update council_year_measures set m3_share = 0.30 where council_id = '{A}' "
            "and financial_year = '2024-25'"
        )
        conn.execute(
            f"update council_year_measures set m3_share = 0.40 where council_id = '{B}' "
            "and financial_year = '2024-25'"
        )
        conn.execute("update council_year_sector set payments = payments * 100")
        # An undated "unknown" year for A that would top every chart (99%).
        conn.execute(f"""insert into council_year_measures select * from council_year_measures
                         where council_id = '{A}' and financial_year = '2023-24'""")
        conn.execute(
            "update council_year_measures set financial_year = 'unknown', m2_share = 0.99, "
            "months_present = 0 where rowid = (select max(rowid) from council_year_measures)"
        )
        conn.execute(
            f"insert into council_year_sector (council_id, financial_year, sector, payments, total_pence, total_gbp) values ('{A}', 'unknown', 'private', 5, 1234567, 12345.67)"
        )
        # B's 2023-24 files name no third-party expense group at all.
        conn.execute(
            f"update summary_group set sercop_group = 'supplies_services' where council_id = '{B}' "
            "and financial_year = '2023-24' and sercop_group = 'third_party_payments'"
        )
        # National chart: real years above the threshold, a thin year and a gap before them.
        conn.execute(
            f"insert into council_year_sector (council_id, financial_year, sector, payments, total_pence, total_gbp) values ('{A}', '2021-22', 'private', 3, 5000000, 50000.0)"
        )
    return db


@pytest.fixture()
def ds(site: Path):
    return make_app(site)


def _text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


async def test_national_chart_captions_bars_greys_thin_years_and_keeps_gaps(ds) -> None:
    html = (await ds.client.get("/")).text
    chart = html.split('id="national"')[1].split("</figure>")[0]
    assert "3 councils · " in chart and "1 council · £50k" in chart
    assert "too little data to show: 3 payments" in chart and "2021-22" in chart
    assert re.search(r">2022-23<.*?no files for this year", chart, flags=re.S)
    assert "'end' font-size='13'>unknown<" not in chart  # no bar for it ("unknown" payees stay in the legend)
    assert "£12k in 5 payments (1 council) has no usable date" in _text(chart)


async def test_undated_year_is_never_plotted_ranked_or_headlined(ds) -> None:
    html = (await ds.client.get(f"/council/{A}")).text
    measures = html.split('id="measures"')[1].split("</table>")[0]
    assert "unknown" not in measures and "99" not in measures
    assert "£12k in 5 payments has no usable date" in _text(html)
    m2_chart = html.split('id="measures"')[1].split("<h2")[0]
    sector_chart = html.split("Who gets the money (M1)")[1].split('id="sectors"')[0]
    assert "<svg" in m2_chart and ">unknown<" not in m2_chart and "99%" not in m2_chart
    assert "'end' font-size='13'>unknown<" not in sector_chart
    headline = html.split('id="headline"')[1].split("</p>")[0]
    assert "In unknown" not in headline and "For unknown" not in headline and "In 2024-25" in headline


async def test_only_rows_with_m3_are_ranked_and_the_rest_say_why(ds) -> None:
    html = (await ds.client.get("/")).text
    body = html.split('id="league-table"')[1].split("</table>")[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body.split("<tbody>")[1], flags=re.S)
    firsts = [_text(re.findall(r"<td[^>]*>(.*?)</td>", r, flags=re.S)[0]).strip() for r in rows]
    order = [re.search(r"/council/(E\d+)", r).group(1) for r in rows]
    assert order == [B, A, C] and firsts == ["1", "2", "unranked"]
    assert "Not ranked: no outturn figure (M3) for 2024-25" in _text(rows[2])


async def test_canned_league_table_ranks_only_m3_rows(ds) -> None:
    r = await ds.client.get("/councilspend/league_table.json?_shape=array&year=2024-25")
    assert r.status_code == 200, r.text[:300]
    got = [(x["council_id"], x["rank"], x["not_ranked_because"]) for x in r.json()]
    assert got == [(B, 1, None), (A, 2, None), (C, None, "no outturn figure (M3) for this year")]
    undated = (await ds.client.get("/councilspend/league_table.json?_shape=array&year=unknown")).json()
    assert undated == []


async def test_a_year_without_third_party_groups_says_cant_tell(ds) -> None:
    html = (await ds.client.get(f"/council/{B}")).text
    measures = html.split('id="measures"')[1].split("</table>")[0]
    row = next(r for r in re.findall(r"<tr>(.*?)</tr>", measures, flags=re.S) if "2023-24" in r)
    assert "can't tell from this council's categories" in _text(row) and "%" not in _text(row)
    r = await ds.client.get("/councilspend/league_table.json?_shape=array&year=2023-24")
    by = {x["council_id"]: x for x in r.json()}
    assert by[B]["m2_pct"] is None and by[B]["m2_note"] == "can't tell from this council's categories"
    assert by[A]["m2_pct"] == pytest.approx(65.5, abs=0.1) and by[A]["m2_note"] is None
