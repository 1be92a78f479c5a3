"""Headless Chromium against a real ``publish.site.serve`` server: charts render, no console errors, the
``<script>`` supplier shows as text and never runs, the check page takes an upload. Screenshots go to
tests/_artifacts/ (look at them: they must be presentable).

Chromium is driven through the DevTools Protocol over a websocket (aiohttp's client; no extra deps).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from demo.sample_site import COUNCILS, SCRIPT_SUPPLIER, build_sample_site

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "_artifacts"

pytestmark = [
    pytest.mark.browser,
    # On a developer's machine without Chromium these skip; in CI (.ci/run installs it) they must run.
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"), reason="/usr/bin/chromium is not installed"
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(url)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser-site")
    db = build_sample_site(root)
    port = _free_port()
    code = f"from pathlib import Path; from publish.site.serve import serve; serve(Path({str(db)!r}), port={port})"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    try:
        _wait_http(f"http://127.0.0.1:{port}/", proc)
        yield {"base": f"http://127.0.0.1:{port}", "db": db, "root": root}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    proc = subprocess.Popen(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    active = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while not (active.exists() and len(active.read_text().splitlines()) >= 2):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("Chromium did not start its DevTools endpoint")
        time.sleep(0.1)
    port, path = active.read_text().splitlines()[:2]
    try:
        yield f"ws://127.0.0.1:{port}{path}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


class Page:
    """One browser tab over CDP: navigate, evaluate, screenshot, and collect errors and dialogs."""

    def __init__(self, ws, session: str):
        self.ws, self.session = ws, session
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future] = {}
        self.events: list[dict] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.loaded = asyncio.Event()

    async def pump(self):
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
                continue
            method, params = data.get("method"), data.get("params", {})
            if method == "Page.loadEventFired":
                self.loaded.set()
            elif method == "Runtime.exceptionThrown":
                self.errors.append(json.dumps(params["exceptionDetails"])[:300])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                self.errors.append(json.dumps(params.get("args"))[:300])
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                self.errors.append(params["entry"].get("text", "")[:300])
            elif method == "Page.javascriptDialogOpening":
                self.dialogs.append(params.get("message", ""))
                asyncio.ensure_future(self.send("Page.handleJavaScriptDialog", accept=True))

    async def send(self, method: str, **params):
        i = next(self.ids)
        fut = asyncio.get_running_loop().create_future()
        self.pending[i] = fut
        await self.ws.send_str(
            json.dumps({"id": i, "method": method, "params": params, "sessionId": self.session})
        )
        reply = await asyncio.wait_for(fut, 30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def goto(self, url: str):
        self.loaded.clear()
        await self.send("Page.navigate", url=url)
        await asyncio.wait_for(self.loaded.wait(), 30)

    async def js(self, expression: str):
        r = await self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return r["result"].get("value")

    async def screenshot(self, name: str, full: bool = True) -> Path:
        await self.send(
            "Emulation.setDeviceMetricsOverride", width=1280, height=800, deviceScaleFactor=1, mobile=False
        )
        height = await self.js("Math.ceil(document.documentElement.scrollHeight)") if full else 800
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=1280,
            height=min(int(height), 6000),
            deviceScaleFactor=1,
            mobile=False,
        )
        shot = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=full)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


async def _open_page(ws_url: str):
    import aiohttp

    http = aiohttp.ClientSession()
    ws = await http.ws_connect(ws_url, max_msg_size=0)
    ids = itertools.count(10_000)

    async def browser_call(method, **params):
        i = next(ids)
        await ws.send_str(json.dumps({"id": i, "method": method, "params": params}))
        async for msg in ws:
            data = json.loads(msg.data)
            if data.get("id") == i:
                return data["result"]

    target = await browser_call("Target.createTarget", url="about:blank")
    attached = await browser_call("Target.attachToTarget", targetId=target["targetId"], flatten=True)
    page = Page(ws, attached["sessionId"])
    pump = asyncio.ensure_future(page.pump())
    for domain in ("Page", "Runtime", "Log", "DOM"):
        await page.send(f"{domain}.enable")
    await page.send(
        "Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False
    )
    return page, pump, ws, http


async def _close(pump, ws, http):
    pump.cancel()
    await ws.close()
    await http.close()


async def test_pages_render_charts_without_errors_and_escape_script(server, chromium) -> None:
    import sqlite3

    conn = sqlite3.connect(server["db"])
    script_id = conn.execute(
        "select supplier_id from suppliers where name = ?", (SCRIPT_SUPPLIER,)
    ).fetchone()[0]
    top_id = conn.execute(
        "select supplier_id from suppliers where councils = 3 and sector = 'private' "
        "order by total_pence desc limit 1"
    ).fetchone()[0]
    conn.close()
    page, pump, ws, http = await _open_page(chromium)
    try:
        for name, path, min_svgs in [
            ("home", "/", 2),
            ("council", f"/council/{COUNCILS[0]['id']}", 2),
            ("supplier", f"/supplier/{top_id}", 1),
            ("supplier-script", f"/supplier/{script_id}", 1),
            ("quality", "/quality", 1),
            ("payments-table", "/councilspend/payments", 0),
        ]:
            await page.goto(server["base"] + path)
            svgs = await page.js("document.querySelectorAll('svg.chart').length")
            assert svgs >= min_svgs, f"{path}: {svgs} charts"
            if min_svgs:
                drawn = await page.js(
                    "[...document.querySelectorAll('svg.chart')].every("
                    "s => s.getBoundingClientRect().width > 100 && s.querySelectorAll('rect,circle').length > 0)"
                )
                assert drawn, f"{path}: a chart has no size or no marks"
            await page.screenshot(name)
            await page.screenshot(f"{name}-top", full=False)
        await page.goto(server["base"] + f"/supplier/{script_id}")
        assert await page.js("document.querySelector('h1').textContent") == SCRIPT_SUPPLIER
        assert not await page.js("[...document.scripts].some(s => s.textContent.includes('alert(1)'))")
        assert page.dialogs == [], "the <script> supplier executed"
        assert page.errors == [], page.errors
    finally:
        await _close(pump, ws, http)


async def test_check_page_upload_in_the_browser(server, chromium, tmp_path: Path) -> None:
    upload = tmp_path / "spend-march.csv"
    upload.write_text(
        "Date,Supplier,Amount,Expense Type,Service Area,Description\n"
        "01/03/2025,Acme Care Ltd,1200.00,Care,Adult Social Care,Placement\n"
        "05/03/2025,Mr Albert Example,640.00,Direct Payments,Adult Social Care,Care\n",
        encoding="utf-8",
    )
    page, pump, ws, http = await _open_page(chromium)
    try:
        await page.goto(server["base"] + "/check")
        doc = await page.send("DOM.getDocument")
        node = await page.send("DOM.querySelector", nodeId=doc["root"]["nodeId"], selector="#file")
        await page.send("DOM.setFileInputFiles", files=[str(upload)], nodeId=node["nodeId"])
        page.loaded.clear()
        await page.js("document.querySelector('form.cs-upload button').click()")
        await asyncio.wait_for(page.loaded.wait(), 60)
        text = await page.js(
            "document.querySelector('#report') && document.querySelector('#report').innerText"
        )
        assert text and "spend-march.csv" in text
        assert "Mr Albert Example" in text  # flagged for redaction, shown only to the uploader
        await page.screenshot("check-report")
        assert page.errors == [], page.errors
    finally:
        await _close(pump, ws, http)


async def test_coverage_page_lists_every_council_in_england(server, chromium, tmp_path: Path) -> None:
    """The sample database's coverage rebuilt from the national registry: all 332 current councils
    listed, the ones with files marked as publishing; an FOI link only where a crawl looked and found no
    page, "not crawled yet" where none looked; sorting works."""
    import csv
    import sqlite3

    from crawler.discovery import COLUMNS, FILE_NAME
    from crawler.registry import load_registry
    from publish.build.coverage import write_coverage

    db = tmp_path / "councilspend.db"
    shutil.copy(server["db"], db)
    conn = sqlite3.connect(db)
    conn.execute("drop table if exists coverage")
    registry = load_registry()
    # A crawl looked for three councils without a hand-entered page and found none.
    looked = [c["id"] for c in registry if c["current"] and not c.get("spending_pages")][:3]
    (tmp_path / "raw").mkdir()
    with (tmp_path / "raw" / FILE_NAME).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(
            {
                "council_id": cid,
                "kind": "page",
                "status": "failed",
                "url": "",
                "found_by": "",
                "reason": "no spending page found",
                "requests": 9,
                "checked_at": "2025-01-01",
            }
            for cid in looked
        )
    write_coverage(conn, registry, tmp_path / "raw")
    conn.commit()
    conn.close()
    port = _free_port()
    code = f"from pathlib import Path; from publish.site.serve import serve; serve(Path({str(db)!r}), port={port})"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    page, pump, ws, http = await _open_page(chromium)
    try:
        _wait_http(f"http://127.0.0.1:{port}/coverage", proc)
        await page.goto(f"http://127.0.0.1:{port}/coverage")
        listed = await page.js(
            "[...document.querySelectorAll('#coverage tbody tr')].map(r => r.dataset.council)"
        )
        current = {c["id"] for c in registry if c["current"]}
        assert current <= set(listed) and len(current) == 332
        foi = await page.js(
            "[...document.querySelectorAll('#coverage a.cs-foi')].map(a => a.closest('tr').dataset.council)"
        )
        assert sorted(foi) == sorted(looked)
        lede = await page.js("document.querySelector('.cs-lede').innerText")
        assert "3 where a crawl found no spending page" in lede and "not crawled yet" in lede, lede
        await page.screenshot("coverage-top", full=False)
        await page.goto(f"http://127.0.0.1:{port}/coverage?sort=quality&desc=1")
        first = await page.js("document.querySelector('#coverage tbody tr td').textContent")
        assert first.strip(), "sorted page has rows"
        assert page.errors == [], page.errors
    finally:
        await _close(pump, ws, http)
        proc.terminate()
        proc.wait(timeout=10)
