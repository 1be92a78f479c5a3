"""The one-sentence headline (publish/site/site_measures.py): which measure, which year, its words;
and in a real browser on the demo's full years, the sentence on the council and home pages."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import test_browser as browser
from test_browser import CHROMIUM, _close, _free_port, _open_page, _wait_http

from publish.site.site_measures import headline, headline_year

chromium = browser.chromium  # the headless Chromium fixture of tests/test_browser.py

ROW = {
    "financial_year": "2024-25",
    "months": 12,
    "rankable": 1,
    "card_only": 0,
    "annualised": 0,
    "coverage": "complete",
    "m2_pct": 60.0,
    "m3_pct": 25.0,
    "m3_denominator_pence": 400_000_00,
    "m2_denominator_pence": 160_000_00,
    "external_pence": 100_000_00,
    "external_private_pence": 70_000_00,
    "external_third_sector_pence": 20_000_00,
    "external_public_pence": 10_000_00,
    "external_mutual_pence": 0,
    "external_council_company_pence": 0,
    "unknown_pence": 1_200_000_00,
    "redacted_pence": 30_000_00,
    "low_confidence_pence": 5_000_00,
}


def test_m3_is_the_headline_with_its_sectors_unknown_redacted_and_low_confidence() -> None:
    h = headline(ROW, "Testshire County Council")
    assert h["measure"] == "M3"
    assert h["text"].startswith(
        "In 2024-25, about 25% of Testshire County Council's spending on services "
        "went to outside organisations: mostly private firms (18%), charities and "
        "voluntary groups (5.0%), other public bodies (2.5%)."
    )
    assert (
        "£1.2m could not be classified; £30k was redacted." in h["text"]
    )  # an older database: the total only
    assert "None of" in headline({**ROW, "low_confidence_pence": 0}, "X")["text"]
    assert "(5.0%) rests on a classification we are not sure of" in h["text"]


def test_without_an_outturn_the_sentence_is_m2_in_m2_words() -> None:
    h = headline({**ROW, "m3_pct": None}, "Testshire")
    assert h["measure"] == "M2" and "paid out for its services" in h["text"]
    assert "needs the government's outturn figures for 2024-25" in h["text"]


def test_annualised_year_says_so_and_scales_its_parts() -> None:
    h = headline({**ROW, "months": 10, "annualised": 1, "coverage": "10 months (M3 annualised)"}, "X")
    assert "We hold 10 months of payments and scale them to a year." in h["text"]
    assert h["parts"][0]["pct"] == pytest.approx(70_000_00 * 1.2 / 400_000_00 * 100)


@pytest.mark.parametrize("card,words", [(0, "a partial year"), (1, "only purchase-card payments")])
def test_a_partial_or_card_only_year_gets_no_share(card: int, words: str) -> None:
    h = headline({**ROW, "months": 3, "rankable": 0, "card_only": card}, "X")
    assert h["measure"] is None and words in h["text"] and "3 months" in h["text"] and "%" not in h["text"]


def test_unclassified_money_says_payee_or_expense_type_and_matches_m1_unknown() -> None:
    h = headline({**ROW, "unknown_payee_pence": 900_000_00, "unknown_group_pence": 300_000_00}, "X")
    assert (
        '£900k went to payees we could not identify ("unknown" in who gets the money) and £300k to '
        "known payees under an expense type we could not place; £30k was redacted."
    ) in h["text"]


def test_a_year_whose_categories_cannot_say_third_party_gets_no_share() -> None:
    from publish.site.site_measures import CANT_TELL, mark_measurable

    row = {**ROW, "council_id": "E1"}
    assert mark_measurable(dict(row), {("E1", "2024-25"): 0.013})["m2_note"] == CANT_TELL
    assert mark_measurable(dict(row), {("E1", "2024-25"): None})["m2_pct"] is None  # no revenue groups at all
    kept = mark_measurable(dict(row), {("E1", "2024-25"): 0.25})
    assert kept["m2_pct"] == 60.0 and not kept.get("m2_note")
    assert mark_measurable(dict(row), {})["m2_pct"] == 60.0  # no summary_group: figures kept
    h = headline(mark_measurable(dict(row), {("E1", "2024-25"): 0.0}), "X")
    assert h["measure"] is None and "can't tell from this council's categories" in h["text"]
    assert "%" not in h["text"]


def test_the_headline_year_is_never_undated_or_card_only_and_prefers_most_months() -> None:
    partial = {**ROW, "rankable": 0, "m3_pct": None, "card_only": 0}
    wakefield = [
        {**partial, "financial_year": "2014-15", "months": 3},
        {**partial, "financial_year": "2020-21", "months": 3, "card_only": 1},
    ]
    assert headline_year(wakefield)["financial_year"] == "2014-15"
    leeds = [
        {**partial, "financial_year": "2013-14", "months": 2},
        {**partial, "financial_year": "2019-20", "months": 2, "card_only": 1},
        {**partial, "financial_year": "2020-21", "months": 3},
        {**partial, "financial_year": "2021-22", "months": 1},
    ]
    assert headline_year(leeds)["financial_year"] == "2020-21"  # most months, not the latest stray year
    assert headline_year([*leeds, {**ROW, "financial_year": "unknown"}])["financial_year"] == "2020-21"
    assert headline_year([{**partial, "financial_year": "unknown", "months": 0}]) is None
    only_cards = [{**partial, "financial_year": "2020-21", "months": 1, "card_only": 1}]
    assert headline_year(only_cards)["financial_year"] == "2020-21"  # nothing else: said as card-only


def test_the_headline_year_is_the_latest_with_m3_then_rankable_then_any() -> None:
    old = {**ROW, "financial_year": "2023-24"}
    partial = {**ROW, "financial_year": "2025-26", "rankable": 0, "m3_pct": None}
    no_outturn = {**ROW, "financial_year": "2024-25", "m3_pct": None}
    assert headline_year([old, no_outturn, partial])["financial_year"] == "2023-24"
    assert headline_year([no_outturn, partial])["financial_year"] == "2024-25"
    assert headline_year([partial])["financial_year"] == "2025-26"
    assert headline_year([{**ROW, "financial_year": "unknown"}, partial])["financial_year"] == "2025-26"
    assert headline_year([]) is None


# ---- in a browser, on the demo (two complete years with Revenue Outturn) ----


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    from demo.cli import run_demo

    result, server = run_demo(tmp_path_factory.mktemp("headline-demo"), progress=False)
    assert server is None
    port = _free_port()
    code = (
        f"from pathlib import Path; from publish.site.serve import serve; "
        f"serve(Path({str(result.db_path)!r}), port={port})"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1])
    try:
        _wait_http(f"http://127.0.0.1:{port}/", proc)
        yield {"base": f"http://127.0.0.1:{port}", "db": result.db_path}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"), reason="/usr/bin/chromium is not installed"
)
async def test_headline_sentence_in_the_browser(demo_server, chromium) -> None:
    with sqlite3.connect(demo_server["db"]) as conn:
        cid, name = conn.execute(
            "select council_id, name from councils where council_id in "
            "(select council_id from council_year_measures where rankable = 1 "
            "and m3_share is not null) order by council_id limit 1"
        ).fetchone()
        fy, m3 = conn.execute(
            "select financial_year, m3_share from council_year_measures where council_id = ? "
            "and rankable = 1 and m3_share is not null order by financial_year desc limit 1",
            (cid,),
        ).fetchone()
    page, pump, ws, http = await _open_page(chromium)
    try:
        await page.goto(demo_server["base"] + f"/council/{cid}")
        text = await page.js("document.querySelector('#headline').innerText")
        pct = 100 * m3
        shown = f"{pct:.0f}%" if pct >= 9.5 else f"{pct:.1f}%"
        assert text.startswith(
            f"In {fy}, about {shown} of {name}'s spending on services went to outside organisations: mostly "
        ), text
        assert "went to payees we could not identify" in text and "was redacted" in text
        assert "rests on a classification we are not sure of" in text or "rests on an unsure" in text
        assert await page.js("document.querySelector('#headline').dataset.measure") == "M3"
        assert await page.js("document.querySelectorAll('#transfer-list tbody tr').length") > 0
        visible = await page.js(
            "(() => { const r = document.querySelector('#headline').getBoundingClientRect();"
            " return r.width > 300 && r.height > 20 && r.top < 900; })()"
        )
        assert visible, "the sentence is near the top of the council page"
        await page.screenshot("headline-council-top", full=False)
        await page.goto(demo_server["base"] + "/")
        featured = await page.js(
            "[...document.querySelectorAll('#headlines .cs-headline')].map(p => p.innerText)"
        )
        assert featured and all(
            " of " in f and "spending on services went to outside organisations" in f for f in featured
        )
        ranks = await page.js(
            "[...document.querySelectorAll('#league-table tbody tr td:first-child')].map(td => td.innerText)"
        )
        assert ranks[0] == "1"
        await page.screenshot("headline-home-top", full=False)
        assert not page.errors, page.errors
    finally:
        await _close(pump, ws, http)
