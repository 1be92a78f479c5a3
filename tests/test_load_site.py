"""The site under load (issue 17), on loopback: readers keep their pages while strangers run slow SQL
and trickle uploads. Bounded: ~10 s of traffic against a real uvicorn server in a child process, whose
arbitrary SQL runs in its niced SQL worker (``publish/site/sql_worker.py``)."""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from demo.sample_site import COUNCILS, build_sample_site

pytestmark = pytest.mark.slow
SLOW_SQL = "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"
PAGE_CLIENTS, SQL_CLIENTS, UPLOADS = 20, 20, 2
SECONDS = 8.0
THINK_SECONDS = 0.3  # a reader between clicks
TARGET_P95 = 0.5
ATTEMPTS = 3
SERVER = (
    "import sys; from pathlib import Path; from publish.site.serve import serve; "
    "serve(Path(sys.argv[1]), port=int(sys.argv[2]))"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: Path, prelude: str = "") -> tuple[subprocess.Popen, str]:
    """``serve`` (as ``councilspend serve`` runs it) in a child process; returns it and its base URL
    once it answers. ``prelude``: Python run first (a test shortens a limit)."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", prelude + SERVER, str(db), str(port)])
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(base + "/-/versions.json", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = build_sample_site(tmp_path_factory.mktemp("load"))
    proc, base = start_server(db)
    try:
        yield base, db
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def _reader(client: httpx.AsyncClient, pages: list[str], stop: float, out: list) -> None:
    i = 0
    while time.monotonic() < stop:
        path = pages[i % len(pages)]
        i += 1
        t = time.monotonic()
        r = await client.get(path)
        out.append((path, r.status_code, time.monotonic() - t))
        await asyncio.sleep(THINK_SECONDS)


async def _sql(client: httpx.AsyncClient, stop: float, out: list) -> None:
    while time.monotonic() < stop:
        r = await client.get("/councilspend.json", params={"sql": SLOW_SQL})
        out.append(r.status_code)


async def _slow_upload(client: httpx.AsyncClient, stop: float, out: list) -> None:
    async def trickle():
        yield b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nDate,'
        while time.monotonic() < stop:
            await asyncio.sleep(1.0)
            yield b"x"

    r = await client.post(
        "/check", content=trickle(), headers={"content-type": "multipart/form-data; boundary=xx"}
    )
    out.append(r.status_code)


def _pages(supplier: str) -> list[str]:
    return [
        f"/council/{COUNCILS[0]['id']}",
        f"/supplier/{supplier}",
        "/councilspend/league_table?year=2024-25",
        "/search?q=care",
        "/",
        f"/council/{COUNCILS[1]['id']}",
    ]


async def _run(base: str, supplier: str, sql_clients: int = SQL_CLIENTS) -> tuple[list, list, list]:
    pages = _pages(supplier)
    stop = time.monotonic() + SECONDS
    page_results: list = []
    sql_results: list = []
    upload_results: list = []
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        await asyncio.gather(
            *(_sql(client, stop, sql_results) for _ in range(sql_clients)),
            *(_slow_upload(client, stop, upload_results) for _ in range(UPLOADS)),
            *(_reader(client, pages, stop, page_results) for _ in range(PAGE_CLIENTS)),
        )
    return page_results, sql_results, upload_results


@contextmanager
def _gc_pauses():
    """The time this (client) process spent in garbage collection, as ``[seconds]``."""
    total, started = [0.0], [0.0]

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            total[0] += time.perf_counter() - started[0]

    gc.callbacks.append(callback)
    try:
        yield total
    finally:
        gc.callbacks.remove(callback)


_CLIENT = (
    "import asyncio, json, sys; sys.path.insert(0, sys.argv[1]); import test_load_site as t; "
    "print(json.dumps(t.client_main(sys.argv[2], sys.argv[3], int(sys.argv[4]))))"
)


def client_main(base: str, supplier: str, sql_clients: int) -> tuple[list, list, list, float]:
    """One window, with the time this process spent collecting garbage (its pauses count in its timings)."""
    with _gc_pauses() as gc_seconds:
        pages, sql, uploads = asyncio.run(_run(base, supplier, sql_clients))
    return pages, sql, uploads, gc_seconds[0]


def _window(base: str, supplier: str, sql_clients: int = SQL_CLIENTS) -> tuple[list, list, list, float]:
    """One window measured by a fresh client process: after a thousand tests, this pytest process's heap
    would make its own collections part of what is measured."""
    args = [str(Path(__file__).parent), base, supplier, str(sql_clients)]
    done = subprocess.run([sys.executable, "-c", _CLIENT, *args], capture_output=True, text=True, check=True)
    return tuple(json.loads(done.stdout.strip().splitlines()[-1]))


def _p50_p95(pages: list) -> tuple[float, float]:
    times = sorted(t for _, _, t in pages)
    return times[len(times) // 2], times[int(len(times) * 0.95)]


def test_pages_stay_fast_while_slow_sql_and_uploads_run(server) -> None:
    """Up to ATTEMPTS windows of SECONDS: on this shared 2-core machine a burst from another session can
    push one window's p95 over the target (pages alone measured p95 134-552 ms within half an hour at load
    average 5-6, docs/publish.md); slow SQL starving the pages (in process: p95 1.5-4.3 s) misses in
    every window. When all miss, pages alone are measured too: if they miss as well, the machine is too
    busy to judge and the test is skipped with the numbers, otherwise it fails."""
    import sqlite3

    base, db = server
    supplier = (
        sqlite3.connect(db)
        .execute("select supplier_id from suppliers order by total_pence desc")
        .fetchone()[0]
    )
    for path in _pages(supplier):  # readers meet a warm server: templates compiled, pages cached
        assert httpx.get(base + path, timeout=30).status_code == 200, path
    windows = []
    for _ in range(ATTEMPTS):
        pages, sql, uploads, gc_seconds = _window(base, supplier)
        p50, p95 = _p50_p95(pages)
        windows.append(
            f"p50 {p50 * 1000:.0f} ms / p95 {p95 * 1000:.0f} ms, client gc {gc_seconds * 1000:.0f} ms"
        )
        print(
            f"pages: {len(pages)} requests, {windows[-1]}; sql {sorted(set(sql))} ({len(sql)}); uploads {uploads}"
        )
        assert not [p for p in pages if p[1] != 200], "a page failed under load"
        assert all(s in (400, 503) for s in sql), sorted(set(sql))  # time limit or busy, never a 500
        assert sql.count(400) >= 1  # some slow queries did run, and were stopped by the time limit
        assert len(uploads) == UPLOADS and all(s < 500 for s in uploads), uploads
        if p95 <= TARGET_P95:
            return
    _, alone = _p50_p95(_window(base, supplier, sql_clients=0)[0])
    if alone > TARGET_P95:
        pytest.skip(f"machine too busy to judge: pages alone p95 {alone * 1000:.0f} ms; under load {windows}")
    pytest.fail(
        f"page p95 over {TARGET_P95 * 1000:.0f} ms under load in every window {windows}; "
        f"pages alone p95 {alone * 1000:.0f} ms"
    )
