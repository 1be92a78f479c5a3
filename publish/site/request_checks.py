"""Requests refused before Datasette sees them, because Datasette would answer them with a 500 (or an
open redirect). Each check names the status and a plain message; :class:`publish.site.guard.Guard`
sends it.

- Methods: GET and HEAD everywhere, POST only where the site takes one (Datasette looks the method up
  as a view attribute: ``TRACE`` called ``None``).
- A NUL byte in the query string (SQLite refuses SQL holding one), or a NUL or a segment over 255
  bytes in a path served from a folder (static files, downloads: "File name too long", and the error
  page showed the server's folder); other pages answer such text with their own 404.
- Paths starting ``//`` or ``/\\`` (Datasette's trailing-slash redirect sent ``/\\evil.com/`` to
  ``/\\evil.com``, which browsers read as another site).
- JSON parameters Datasette parses without checking their shape (``_through``, ``_facet*``), and
  ``_timelimit``, which it passes to ``int()``.
- A database-level export with no SQL (``/councilspend.csv``, ``/councilspend.json?_shape=array``).
"""

from __future__ import annotations

import json

Refusal = tuple[int, str, list[tuple[bytes, bytes]]]
MAX_SEGMENT_BYTES = 255
_READ_METHODS = ("GET", "HEAD")
_ALLOW_READ = [(b"allow", b"GET, HEAD")]
_INTEGER_PARAMS = ("_timelimit",)
_FILE_PATHS = ("/downloads/", "/-/static/", "/-/static-plugins/")  # served from folders on disk


def _bad(message: str) -> Refusal:
    return 400, message, []


def check_method(method: str, path: str) -> Refusal | None:
    """405 for methods the page does not take."""
    if method in _READ_METHODS:
        return None
    if method == "POST" and (path == "/check" or "/-/" in path):
        return None
    if method == "OPTIONS" and "/-/" in path:  # CORS preflight for Datasette's API endpoints
        return None
    return 405, "This page only reads data: use GET.", _ALLOW_READ


def check_path(path: str, raw_path: bytes | None) -> Refusal | None:
    """NUL bytes, over-long segments and paths a redirect would turn into another site's address."""
    if path.startswith(("//", "/\\", "\\")):
        return 404, "There is no page at this address.", []
    if not path.startswith(_FILE_PATHS):
        return None  # pages and tables answer any text with their own 404
    raw = raw_path if raw_path is not None else path.encode("utf-8", "surrogatepass")
    if "\x00" in path or b"%00" in raw:
        return _bad("The address holds a NUL character.")
    if any(len(seg.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES for seg in path.split("/")):
        return 404, "There is no file at this address (a part of it is too long).", []
    return None


def check_query(path: str, query_string: bytes, params: list[tuple[str, str]]) -> Refusal | None:
    """Query-string parameters Datasette would fail on with a 500."""
    if b"\x00" in query_string or b"%00" in query_string.lower() or any("\x00" in k + v for k, v in params):
        return _bad("The query string holds a NUL character.")
    for key, value in params:
        problem = _param_problem(key, value)
        if problem:
            return _bad(problem)
    if _database_export(path) and not any(k == "sql" and v.strip() for k, v in params):
        if path.endswith(".csv") or any(k == "_shape" for k, _ in params):
            return _bad("Give a SQL query (?sql=select …) to export from the database.")
    return None


def _database_export(path: str) -> bool:
    """``/db.csv`` or ``/db.json``: the database's own page in a format, where ``?sql=`` is run."""
    name, dot, ext = path[1:].rpartition(".")
    return bool(dot) and "/" not in name and ext in ("csv", "json") and bool(name)


def _param_problem(key: str, value: str) -> str | None:
    if key in _INTEGER_PARAMS and value and not (value.isascii() and value.isdigit()):
        return f"{key} must be a whole number of milliseconds."
    if key == "_through":
        data = _json_object(value)
        if data is None or not all(isinstance(data.get(k), str) for k in ("table", "column", "value")):
            return '_through must be a JSON object like {"table": "…", "column": "…", "value": "…"}.'
    if key.startswith("_facet") and value.startswith("{"):
        data = _json_object(value)
        column = None if data is None else (data.get("column") or data.get("simple"))
        if not isinstance(column, str) or not column:
            return f'A JSON {key} must be an object naming a column: {{"column": "…"}}.'
    return None


def _json_object(text: str) -> dict | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
