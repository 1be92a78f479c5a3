"""Arbitrary SQL is answered by a separate, limited process (issue 17): real servers on 127.0.0.1, as
``councilspend serve`` runs them. The worker is niced and memory-capped, applies the same guard, is
restarted when it dies, and never outlives the server (SIGTERM or kill -9)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest
from test_load_site import start_server

from demo.sample_site import COUNCILS, build_sample_site
from publish.site import sql_worker

pytestmark = pytest.mark.slow
COUNCIL_PAGE = f"/council/{COUNCILS[0]['id']}"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return build_sample_site(tmp_path_factory.mktemp("worker"))


@pytest.fixture()
def server(site: Path):
    proc, base = start_server(site)
    try:
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


def _worker(server_pid: int, seconds: float = 20.0) -> psutil.Process:
    """The server's worker process (the one child that runs ``run_sql_worker``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for child in psutil.Process(server_pid).children():
            try:
                if "run_sql_worker" in " ".join(child.cmdline()):
                    return child
            except psutil.NoSuchProcess:
                pass
        time.sleep(0.1)
    raise AssertionError("no SQL worker process")


def _sql(base: str, sql: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{base}/councilspend.json", params={"sql": sql}, headers=headers, timeout=30)


def _gone(proc: psutil.Process, seconds: float) -> bool:
    """Whether ``proc`` ended within ``seconds`` (a zombie has ended: only its parent can reap it)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def test_the_worker_is_niced_memory_capped_and_answers_through_the_guard(server) -> None:
    proc, base = server
    worker = _worker(proc.pid)
    assert worker.nice() >= 10
    assert worker.rlimit(psutil.RLIMIT_AS) == (sql_worker.MEMORY_LIMIT, sql_worker.MEMORY_LIMIT)
    r = _sql(base, "select 1 as one")
    assert r.status_code == 200 and r.json()["rows"] == [[1]]
    # the worker's own guard: SQLite's value cap and the spreadsheet-safe CSV
    assert _sql(base, "select length(zeroblob(1e9))").status_code == 400
    csv = httpx.get(f"{base}/councilspend.csv", params={"sql": "select '=HYPERLINK(1)' as x"}, timeout=30)
    assert csv.status_code == 200 and "'=HYPERLINK(1)" in csv.text
    # relayed as the worker sent it: compressed only for a client that asked
    gz = _sql(base, "select * from payments limit 200", **{"accept-encoding": "gzip"})
    assert gz.headers.get("content-encoding") == "gzip" and len(gz.json()["rows"]) == 200
    plain = _sql(base, "select * from payments limit 200", **{"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and len(plain.json()["rows"]) == 200


def test_a_dead_worker_gives_a_friendly_503_and_is_restarted(server) -> None:
    proc, base = server
    worker = _worker(proc.pid)
    worker.kill()
    assert _gone(worker, 5)
    down = _sql(base, "select 1")
    assert down.status_code == 503 and "try again" in down.text and down.headers["retry-after"] == "5"
    assert httpx.get(base + COUNCIL_PAGE, timeout=30).status_code == 200  # the pages never needed it
    deadline = time.monotonic() + sql_worker.RESTART_SECONDS + 30
    while _sql(base, "select 1").status_code != 200:
        assert time.monotonic() < deadline, "the worker was not restarted"
        time.sleep(0.5)
    assert _worker(proc.pid).pid != worker.pid


def test_a_stuck_worker_is_killed_and_restarted(site: Path) -> None:
    # a worker that answers nothing (stopped: as one stuck in C code with the GIL held would be)
    prelude = (
        "import publish.site.sql_worker as w; w.ANSWER_SECONDS = 3.0; w.STARTUP_SECONDS = 1.0; "
        "w.PING_SECONDS = 1.0; "
    )
    proc, base = start_server(site, prelude)
    try:
        worker = _worker(proc.pid)
        assert _sql(base, "select 1").status_code == 200
        time.sleep(1.0)  # older than STARTUP_SECONDS
        os.kill(worker.pid, signal.SIGSTOP)
        stuck = _sql(base, "select 1")
        assert stuck.status_code == 504 and "too long" in stuck.text
        assert _gone(worker, 5), "the stuck worker was not killed"
        deadline = time.monotonic() + 60
        while _sql(base, "select 1").status_code != 200:
            assert time.monotonic() < deadline, "the worker was not restarted"
            time.sleep(0.5)
        assert _worker(proc.pid).pid != worker.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_the_worker_never_outlives_the_server(server, how: signal.Signals) -> None:
    proc, base = server
    worker = _worker(proc.pid)
    socket_folder = Path(worker.cmdline()[-3]).parent  # argv: db, socket, parent pid, metadata
    assert socket_folder.name.startswith("councilspend-sql-")
    assert _sql(base, "select 1").status_code == 200
    os.kill(proc.pid, how)
    proc.wait(timeout=15)
    assert _gone(worker, 5), f"the SQL worker outlived the server ({how.name})"
    if how == signal.SIGTERM:  # a clean exit also removes the socket's folder
        assert not socket_folder.exists()
    else:  # the next server removes what a killed one left
        sql_worker.SqlWorker(Path("unused.db"), Path("unused.yml")).stop()
        assert not socket_folder.exists()


async def test_in_process_the_guard_keeps_one_slot_for_arbitrary_sql(site: Path) -> None:
    """No worker (``make_app`` and ``datasette.client``, as the other tests run the site): the guard's
    in-process slot still lets one stranger's query run and tells the others the server is busy."""
    import asyncio

    from test_load_site import SLOW_SQL

    from publish.site.serve import make_app

    ds = make_app(site)
    answers = await asyncio.gather(
        *(ds.client.get("/councilspend.json", params={"sql": SLOW_SQL}) for _ in range(3))
    )
    assert sorted(r.status_code for r in answers) == [400, 503, 503]
    busy = [r for r in answers if r.status_code == 503]
    assert all("busy with other people" in r.text and r.headers["retry-after"] == "5" for r in busy)
