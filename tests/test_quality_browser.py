"""The demo's /quality page in headless Chromium: each problem code once per council, with its count.

Screenshot: tests/_artifacts/quality-grouped.png (look at it: a council officer reads this page).
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from test_browser import REPO, _close, _free_port, _open_page, _wait_http, chromium, pytestmark  # noqa: F401

pytestmark = [*pytestmark, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    from demo.cli import run_demo

    result, _ = run_demo(tmp_path_factory.mktemp("quality-demo"), progress=False)
    port = _free_port()
    code = f"from pathlib import Path; from publish.site.serve import serve; serve(Path({str(result.db_path)!r}), port={port})"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    try:
        _wait_http(f"http://127.0.0.1:{port}/", proc)
        yield {"base": f"http://127.0.0.1:{port}", "db": Path(result.db_path)}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_quality_page_shows_each_code_once_per_council(demo_server, chromium) -> None:  # noqa: F811
    page, pump, ws, http = await _open_page(chromium)
    try:
        await page.goto(demo_server["base"] + "/quality")
        rows = await page.js(
            "[...document.querySelectorAll('section.cs-council-problems')].flatMap(s => "
            "[...s.querySelectorAll('tr[data-code]')].map(r => [s.id, r.dataset.code, "
            "r.cells[2].innerText.trim(), r.innerText]))"
        )
        text = await page.js("document.body.innerText")
        shot = await page.screenshot("quality-grouped")
        assert not page.errors, page.errors
    finally:
        await _close(pump, ws, http)
    assert rows, "no grouped problems on the demo's quality page"
    per_council = Counter((council, code) for council, code, _, _ in rows)
    assert max(per_council.values()) == 1, [k for k, n in per_council.items() if n > 1]
    assert any(int(files) > 1 for _, _, files, _ in rows)  # repeated problems were grouped with a count
    assert all(files.isdigit() and int(files) >= 1 for _, _, files, _ in rows)
    assert " 1 rows" not in text and " 1 files" not in text and "(1 rows" not in text
    assert "Problems by file" not in text
    assert shot.exists() and shot.stat().st_size > 10_000
