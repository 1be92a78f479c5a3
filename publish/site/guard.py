"""Limits on what a stranger's request can make the site do (issue 17).

- Every SQLite connection caps a value's size, the columns of a result and the SQL text, and counts the
  bytes a query returns: ``select zeroblob(1e9)`` or 5,000 rows of megabyte strings end with a
  400 error message instead of gigabytes of memory.
- Full-text search never fails on what was typed: Datasette's ``escape_fts`` SQL function (used by the
  table page's ``?_search=``) is replaced by :func:`publish.site.fts_query.fts_query`, the canned
  queries call ``cs_fts(:q)``, and ``_searchmode=raw`` is dropped from requests.
- Arbitrary SQL (``?sql=`` and ``_where=``) gets :data:`ARBITRARY_SQL_SLOTS` of Datasette's SQL
  threads at most, so 20 slow queries cannot hold the threads the pages read with; past that a
  request waits :data:`SQL_WAIT_SECONDS` for a slot, then gets a 503 that says why. Under ``serve``
  such requests never reach this process's app: ``publish.site.sql_worker`` forwards them to a niced,
  memory-capped worker process running this same guard (one slow query in-process still slowed every
  page); the slots here apply to the app run in process (the tests' ``make_app``) and in the worker.
- ``/downloads/*`` written from another build than the database served answer 503 with the reason
  (``publish.site.downloads_label``).
- Requests Datasette would answer with a 500 are refused first (``publish.site.request_checks``):
  other methods than GET/HEAD (POST only to ``/check`` and Datasette's ``/-/`` endpoints) get 405,
  NUL bytes and malformed JSON parameters 400, over-long file paths 404; requests to the OpenRefine
  endpoint the plugin cannot answer 400 (``publish.site.reconcile_checks``).
- Datasette's SQL time limit checks the clock every 50,000 SQLite steps, not 1,000 (see
  :data:`PROGRESS_STEPS`).
- CSV exports pass through :class:`publish.site.csv_stream.CsvFormulaFilter`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode

from markupsafe import escape

from publish.site import reconcile_checks, request_checks
from publish.site.csv_stream import CsvFormulaFilter
from publish.site.downloads_label import downloads_disagree
from publish.site.fts_query import fts_query
from publish.site.pages import database, downloads_dir

MAX_VALUE_BYTES = 2 * 1024 * 1024  # SQLITE_LIMIT_LENGTH: the largest stored value is a few KB
MAX_RESULT_COLUMNS = 200  # SQLITE_LIMIT_COLUMN: the widest table has ~45 columns
MAX_SQL_CHARS = 50_000  # SQLITE_LIMIT_SQL_LENGTH
MAX_RESULT_BYTES = 32 * 1024 * 1024  # text and blobs one query may return
ARBITRARY_SQL_SLOTS = 1  # of serve.SETTINGS["num_sql_threads"]; the rest stay with the pages
SQL_WAIT_SECONDS = 2.0
_ARBITRARY_PARAMS = ("sql", "_where")

#: SQLite VM steps between time-limit checks. Datasette checks every 1,000 (~0.08 ms): each check is a
#: Python call that takes the GIL, so one slow query took the GIL ~12,000 times a second and every page
#: waited behind it. 50,000 steps is ~4 ms of SQL: the limit stays accurate to a few milliseconds.
PROGRESS_STEPS = 50_000

_local = threading.local()


@contextmanager
def _coarse_time_limit(conn: sqlite3.Connection, ms: int):
    """Datasette's ``sqlite_timelimit`` with a check every PROGRESS_STEPS steps instead of 1,000."""
    deadline = time.perf_counter() + ms / 1000
    conn.set_progress_handler(
        lambda: 1 if time.perf_counter() >= deadline else 0, 1 if ms <= 20 else PROGRESS_STEPS
    )
    try:
        yield
    finally:
        conn.set_progress_handler(None, 1)


def install_coarse_time_limit() -> None:
    """Replace the time limit ``datasette.database`` imported (0.65 has no setting for its step)."""
    import datasette.database

    datasette.database.sqlite_timelimit = _coarse_time_limit


class ResultTooLarge(sqlite3.DatabaseError):
    """A query returned more bytes than one answer may hold."""


def _counted_row(cursor: sqlite3.Cursor, row: tuple) -> sqlite3.Row:
    """``sqlite3.Row`` (what Datasette uses), counting the bytes this cursor has returned so far."""
    state = getattr(_local, "state", None)
    if state is None or state[0] is not cursor:
        state = _local.state = [cursor, 0]
    size = 8 * len(row)
    for value in row:
        if isinstance(value, str | bytes):
            size += len(value)
    state[1] += size
    if state[1] > MAX_RESULT_BYTES:
        raise ResultTooLarge(
            f"the result is larger than {MAX_RESULT_BYTES // 2**20} MB: select fewer rows or columns"
        )
    return sqlite3.Row(cursor, row)


def prepare_connection(conn: sqlite3.Connection) -> None:
    """Limits and search functions on every connection Datasette opens."""
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_COLUMN, MAX_RESULT_COLUMNS)
    conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_CHARS)
    conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    conn.create_function("escape_fts", 1, fts_query, deterministic=True)
    conn.create_function("cs_fts", 1, fts_query, deterministic=True)
    conn.row_factory = _counted_row


class Slots:
    """At most ``size`` requests at once; the next waits ``wait_seconds`` for a place, then is refused.

    A counter polled by the waiters, not an ``asyncio.Semaphore``: tests run many event loops and a
    semaphore belongs to the loop it was first used in."""

    def __init__(self, size: int, wait_seconds: float = SQL_WAIT_SECONDS) -> None:
        self.size, self.wait_seconds, self.running = size, wait_seconds, 0

    async def take(self) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_seconds
        while self.running >= self.size:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.05)
        self.running += 1
        return True

    def release(self) -> None:
        self.running -= 1

    async def answer_or_busy(self, answer: Callable[[], Awaitable[None]], send) -> None:
        """``await answer()`` in a slot, or the busy 503 when no slot frees up in time."""
        if not await self.take():
            await send_sql_busy(send)
            return
        try:
            await answer()
        finally:
            self.release()


def carries_arbitrary_sql(params: list[tuple[str, str]]) -> bool:
    """Whether a request's query string holds SQL the stranger wrote (``?sql=``, ``_where=``)."""
    return any(k in _ARBITRARY_PARAMS and v.strip() for k, v in params)


def query_params(scope) -> list[tuple[str, str]]:
    return parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)


async def send_sql_busy(send) -> None:
    """The 503 for arbitrary SQL past its slots (in process, or forwarded to the SQL worker)."""
    await send_message(
        send,
        503,
        f"The server is busy with other people's SQL queries. Please try "
        f"again in a few seconds (at most {ARBITRARY_SQL_SLOTS} run at once).",
        [(b"retry-after", b"5")],
    )


class Guard:
    """ASGI wrapper around the Datasette app (see the module docstring)."""

    def __init__(self, app, datasette=None) -> None:
        install_coarse_time_limit()
        self.app = app
        self.datasette = datasette
        self.sql_slots = Slots(ARBITRARY_SQL_SLOTS)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        params = query_params(scope)
        refusal = (
            request_checks.check_method(scope.get("method", "GET"), path)
            or request_checks.check_path(path, scope.get("raw_path"))
            or request_checks.check_query(path, scope.get("query_string", b""), params)
        )
        if refusal:
            await send_message(send, *refusal)
            return
        reconcile = reconcile_checks.RECONCILE_PATH.match(path)
        if reconcile and self.datasette is not None:
            try:
                receive = await reconcile_checks.checked_receive(self.datasette, reconcile, params, receive)
            except reconcile_checks.Refused as refused:
                await send_message(send, refused.status, str(refused), [])
                return
        if path.startswith("/downloads/") and self.datasette is not None:
            stale = downloads_disagree(downloads_dir(self.datasette), database(self.datasette).hash)
            if stale:
                await send_message(send, 503, stale, [(b"retry-after", b"3600")])
                return
        if any(k == "_searchmode" for k, _ in params):
            params = [(k, v) for k, v in params if k != "_searchmode"]
            scope = {**scope, "query_string": urlencode(params).encode("latin-1")}
        if _is_csv(path, params):
            send = _csv_filtered(send)
        if not carries_arbitrary_sql(params):
            await self.app(scope, receive, send)
            return
        await self.sql_slots.answer_or_busy(lambda: self.app(scope, receive, send), send)


def _is_csv(path: str, params: list[tuple[str, str]]) -> bool:
    if path.startswith("/downloads/"):
        return False  # written safe by publish.build.export
    return path.endswith(".csv") or ("_format", "csv") in params


def _csv_filtered(send):
    """``send`` with CSV bodies rewritten by :class:`CsvFormulaFilter` (Content-Length dropped)."""
    csv_filter = CsvFormulaFilter()

    async def wrapped(message):
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers") or [] if k.lower() != b"content-length"]
            await send({**message, "headers": headers})
        elif message["type"] == "http.response.body":
            more = message.get("more_body", False)
            await send({**message, "body": csv_filter.feed(message.get("body", b""), final=not more)})
        else:
            await send(message)

    return wrapped


async def send_message(send, status: int, text: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = (
        f'<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8"><title>{status}</title></head>'
        f'<body><h1>Sorry</h1><p>{escape(text)}</p><p><a href="/">Home</a></p></body></html>'
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
