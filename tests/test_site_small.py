"""Small things a reader trips over: file sizes in KB, plurals, the checked file's own name in its
report, council codes in any case or with stray characters, and wide tables that fit 1280px."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import test_browser as browser

from demo.sample_site import COUNCILS, build_sample_site
from publish.site import check_upload
from publish.site.serve import make_app
from publish.site.templating import file_size, plural

COUNCIL = COUNCILS[0]["id"]
chromium = browser.chromium  # the headless Chromium fixture of tests/test_browser.py


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return build_sample_site(tmp_path_factory.mktemp("site"))


@pytest.fixture()
def ds(site: Path):
    return make_app(site)


def test_sizes_and_plurals_in_words() -> None:
    assert [file_size(n) for n in (1, 900, 12_345, 3_500_000, None)] == [
        "1 byte",
        "900 bytes",
        "12 KB",
        "3.3 MB",
        "–",
    ]
    assert [plural(1, "line"), plural(2, "line"), plural(1234, "row names", "rows name")] == [
        "1 line",
        "2 lines",
        "1,234 rows name",
    ]


async def test_downloads_never_say_zero_mb(ds) -> None:
    html = (await ds.client.get("/downloads")).text
    assert "0.0 MB" not in html and (" KB<" in html or " MB<" in html)


@pytest.mark.parametrize("typed", [COUNCIL.lower(), f" {COUNCIL.lower()}"])
async def test_council_code_in_any_case_reaches_the_council(ds, typed: str) -> None:
    r = await ds.client.get(f"/council/{typed}")
    assert r.status_code == 302 and r.headers["location"] == f"/council/{COUNCIL}"


@pytest.mark.parametrize("typed", [f"{COUNCIL}%27", "%3Cb%3Ex%3C%2Fb%3E", "%00%ff", "x" * 300])
async def test_unknown_council_code_is_a_clean_404(ds, typed: str) -> None:
    r = await ds.client.get(f"/council/{typed}")
    assert r.status_code == 404
    assert "%27" not in r.text and "<b>x</b>" not in r.text and "A council&#39;s code looks like" in r.text


async def test_full_report_is_titled_with_the_uploaded_name(tmp_path: Path, monkeypatch) -> None:
    stored = tmp_path / "upload.csv"
    stored.write_text("x")
    monkeypatch.setattr(
        check_upload, "_run_check", lambda p: {"_text": f"{p}\n{p.name}: 1 line is below £500"}
    )
    report = await check_upload.check_path("march spend.csv", stored)
    assert report["file_name"] == "march spend.csv"
    assert report["text"] == "march spend.csv\nmarch spend.csv: 1 line is below £500"


@pytest.mark.browser
@pytest.mark.skipif(
    not Path("/usr/bin/chromium").exists() and not os.environ.get("CI"),
    reason="/usr/bin/chromium is not installed",
)
async def test_wide_tables_fit_1280px(site: Path, chromium) -> None:
    import subprocess
    import sys

    from test_browser import _close, _free_port, _open_page, _wait_http

    port = _free_port()
    code = f"from pathlib import Path; from publish.site.serve import serve; serve(Path({str(site)!r}), port={port})"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1])
    try:
        _wait_http(f"http://127.0.0.1:{port}/", proc)
        page, pump, ws, http = await _open_page(chromium)
        try:
            for name, path in [
                ("council-wide", f"/council/{COUNCIL}"),
                ("quality-wide", "/quality"),
                ("methodology-wide", "/methodology"),
                ("home-wide", "/"),
            ]:
                await page.goto(f"http://127.0.0.1:{port}{path}")
                wide = await page.js("document.documentElement.scrollWidth")
                assert wide <= 1280, f"{path} is {wide}px wide"
                cut = await page.js(
                    "[...document.querySelectorAll('table')].filter(t => "
                    "t.getBoundingClientRect().right > document.documentElement.clientWidth + 1)"
                    ".map(t => t.id || t.className)"
                )
                assert cut == [], f"{path}: tables past the window: {cut}"
                await page.screenshot(name, full=False)
        finally:
            await _close(pump, ws, http)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
