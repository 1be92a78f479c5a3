"""Arbitrary SQL (``?sql=``, ``_where=``) answered by a separate, limited process (issue 17).

Why a process: in the web server's own process one slow ``?sql=`` (a recursive CTE stopped by the 3 s
time limit) raised the pages' p95 from ~0.3 s to ~4.3 s on a 2-core machine, although it held only one
of the three SQL threads and the time-limit callbacks had been made rare: the query and the pages
share one interpreter and one event loop. So ``serve()`` starts a second uvicorn serving the same
database with the same Datasette app (same plugin, so every limit in ``guard.py`` applies inside it
too), niced, with an address-space limit, on a Unix socket in a private folder; :class:`SqlForwarder`,
outside the main app, sends it the requests that carry a stranger's SQL. The main process only relays
bytes: its pages keep the CPU.

- At most :data:`FORWARD_SLOTS` forwarded requests at once; the next waits ``guard.SQL_WAIT_SECONDS``
  then gets the same 503 as before (``Retry-After``).
- A worker that is down (crashed, killed by its memory limit, still starting) gives a 503 that says so
  and is restarted (at most once every :data:`RESTART_SECONDS`). A worker that is alive but stuck (a
  request timed out and it does not answer its version page within :data:`PING_SECONDS` either) is
  killed and restarted: a slow query leaves the worker's event loop free, a stuck worker does not.
- An answer is streamed through with a byte cap (:data:`MAX_FORWARDED_BYTES`) and a time cap
  (:data:`ANSWER_SECONDS`); past either the connection is cut, never buffered.
- The worker dies with its parent: ``PR_SET_PDEATHSIG`` on Linux, and a thread that checks the parent
  pid every second everywhere (``kill -9`` of the parent included); the parent also stops it on exit.

Tests that build the app with ``make_app`` and call ``datasette.client`` have no worker: there the
guard's in-process slot (1 of 3 SQL threads) applies, as before.
"""

from __future__ import annotations

import ctypes
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from publish.site.guard import (
    ARBITRARY_SQL_SLOTS,
    Slots,
    carries_arbitrary_sql,
    query_params,
    send_message,
)

NICENESS = 15  # CFS weight 36 against the web server's 1024: pages first, SQL with what is left
MEMORY_LIMIT = 2 * 1024**3  # bytes of address space for the worker (Python, Datasette, 3 SQL threads)
FORWARD_SLOTS = ARBITRARY_SQL_SLOTS  # the worker's guard runs one at a time as well
MAX_FORWARDED_BYTES = 64 * 1024 * 1024  # the worker's guard caps values at 32 MB; JSON adds quoting
ANSWER_SECONDS = 30.0  # a table page with _where= runs a few queries of at most 3 s each
RESTART_SECONDS = 5.0
PING_SECONDS = 2.0  # a worker that answers nothing, not even its version page, in this long is stuck
PING_URL = "http://sql-worker/-/versions.json"  # the cheapest page: answered by the event loop alone
STARTUP_SECONDS = 20.0  # a worker younger than this may be loading: never judged stuck
PARENT_CHECK_SECONDS = 1.0
_PR_SET_PDEATHSIG = 1
_FOLDER_PREFIX = "councilspend-sql-"
_HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"te", b"trailer"}
_SET_BY_UVICORN = {b"date", b"server"}  # the web server adds its own

#: The worker's command: ``serve.run_sql_worker`` (named, not imported: serve imports this module).
_WORKER = (
    "import sys; from pathlib import Path; from publish.site.serve import run_sql_worker; "
    "run_sql_worker(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))"
)


class SqlWorker:
    """The worker process, seen from the web server: start, restart when it has died, stop."""

    def __init__(self, db_path: Path, metadata: Path) -> None:
        self.db_path, self.metadata = Path(db_path), Path(metadata)
        _remove_orphaned_folders()
        self.folder = Path(tempfile.mkdtemp(prefix=f"{_FOLDER_PREFIX}{os.getpid()}-"))  # 0700: ours only
        self.socket_path = self.folder / "sql.sock"
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0

    def start(self) -> None:
        """Start the worker (from the main thread: PDEATHSIG follows the thread that started it)."""
        self.socket_path.unlink(missing_ok=True)
        args = [str(self.db_path), str(self.socket_path), str(os.getpid()), str(self.metadata)]
        # Address space counts toward MEMORY_LIMIT even when unused: glibc reserves 64 MB per thread's
        # arena, and Arrow's mimalloc pool 1 GB at its first allocation (the worker never needs Arrow).
        env = {**os.environ, "MALLOC_ARENA_MAX": "2", "ARROW_DEFAULT_MEMORY_POOL": "system"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER, *args], stdin=subprocess.DEVNULL, env=env
        )
        self.started_at = time.monotonic()

    def restart_if_dead(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        if time.monotonic() - self.started_at >= RESTART_SECONDS:
            self.start()

    def restart_if_stuck(self) -> None:
        """Kill and start again a worker that a ping found unresponsive (not one still loading)."""
        if self.proc is None or time.monotonic() - self.started_at < STARTUP_SECONDS:
            return
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.start()

    def wait_ready(self, seconds: float = STARTUP_SECONDS) -> bool:
        """Whether the worker answers within ``seconds`` (used at start-up and by the tests)."""
        deadline = time.monotonic() + seconds
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(self.socket_path)), timeout=2) as client:
            while time.monotonic() < deadline:
                try:
                    if client.get(PING_URL).status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                if self.proc is not None and self.proc.poll() is not None:
                    return False
                time.sleep(0.1)
        return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def _remove_orphaned_folders() -> None:
    """Socket folders of servers that were killed (``kill -9`` runs no clean-up): their pid is gone."""
    import psutil

    for folder in Path(tempfile.gettempdir()).glob(f"{_FOLDER_PREFIX}*-*"):
        pid = folder.name[len(_FOLDER_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


class ForwardTooLarge(Exception):
    """The worker's answer passed MAX_FORWARDED_BYTES: the connection is cut."""


class SqlForwarder:
    """ASGI wrapper, outside the Datasette app: requests carrying arbitrary SQL go to the worker."""

    def __init__(self, app, worker: SqlWorker) -> None:
        self.app, self.worker = app, worker
        self.slots = Slots(FORWARD_SLOTS)
        self.client: httpx.AsyncClient | None = None

    async def __call__(self, scope, receive, send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") not in ("GET", "HEAD")
            or not carries_arbitrary_sql(query_params(scope))
        ):
            await self.app(scope, receive, send)
            return
        await self.slots.answer_or_busy(lambda: self._forward(scope, send), send)

    async def _forward(self, scope, send) -> None:
        if self.client is None:  # uvicorn runs one event loop; the client lives as long as the server
            transport = httpx.AsyncHTTPTransport(uds=str(self.worker.socket_path))
            self.client = httpx.AsyncClient(
                transport=transport, timeout=httpx.Timeout(ANSWER_SECONDS, connect=2.0)
            )
        request = self.client.build_request(
            scope["method"], _worker_url(scope), headers=_forwarded_headers(scope["headers"])
        )
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TimeoutException:
            if not await self._answers_ping():
                self.worker.restart_if_stuck()
            await send_message(send, 504, "The SQL query took too long to answer.", [])
            return
        except httpx.TransportError:
            self.worker.restart_if_dead()
            await send_message(
                send,
                503,
                "The SQL service is restarting. Please try again in a few seconds.",
                [(b"retry-after", b"5")],
            )
            return
        try:
            await _relay(response, send)
        finally:
            await response.aclose()

    async def _answers_ping(self) -> bool:
        """Whether the worker answers its version page within :data:`PING_SECONDS`."""
        try:
            ping = await self.client.get(PING_URL, timeout=PING_SECONDS)
        except httpx.HTTPError:
            return False
        return ping.status_code == 200


async def _relay(response: httpx.Response, send) -> None:
    """Stream the worker's answer as it came (still compressed, if it was), counting the bytes."""
    dropped = _HOP_BY_HOP | _SET_BY_UVICORN
    headers = [(k, v) for k, v in response.headers.raw if k.lower() not in dropped]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    total = 0
    async for chunk in response.aiter_raw():
        total += len(chunk)
        if total > MAX_FORWARDED_BYTES:
            raise ForwardTooLarge(f"the SQL worker's answer passed {MAX_FORWARDED_BYTES} bytes")
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def _worker_url(scope) -> str:
    path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    return "http://sql-worker" + path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")


def _forwarded_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The client's headers, minus hop-by-hop ones. Without an Accept-Encoding of its own, ask for
    ``identity``: httpx would otherwise ask for gzip, and the raw bytes relayed would be compressed for a
    client that never asked."""
    headers = [(k, v) for k, v in raw if k.lower() not in _HOP_BY_HOP]
    if not any(k.lower() == b"accept-encoding" for k, _ in headers):
        headers.append((b"accept-encoding", b"identity"))
    return headers


def limit_worker(parent_pid: int) -> None:
    """In the worker, before Datasette is loaded: die with the parent, lower priority, cap memory."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the signal was asked for
        os._exit(0)
    threading.Thread(target=_exit_when_orphaned, args=(parent_pid,), daemon=True).start()
    os.nice(NICENESS)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _exit_when_orphaned(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)
