"""The site's error pages: every exception a request raises becomes a clear page, 4xx for the visitor's
mistakes, 500 (with the traceback in the log) for ours.

Datasette 0.65's own ``handle_exception`` hook calls ``rich``'s ``print_exception`` outside an
``except`` block: with ``rich`` installed that raises inside the error handler, so under a real server
every unknown URL (a 404) became a bare 500. Datasette awaits every ``handle_exception`` hook (the
hookspec is not ``firstresult``), so :func:`retire_datasette_handler` blocks its one and
:func:`handle_exception` answers alone. Several of Datasette's own errors for bad query strings are
500s (``?_sort=nope``, ``_timelimit=-1``, a bad ``_through``): they are the visitor's mistake, so 400.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sqlite3

from datasette.utils.asgi import Base400, Response
from markupsafe import Markup

log = logging.getLogger("councilspend.site")
DATASETTE_HANDLER = "datasette.handle_exception"
INTERNAL = "Something went wrong on our side. It has been logged; please try again later."
_csv_query = contextvars.ContextVar("councilspend_csv_query", default=False)


def retire_datasette_handler() -> None:
    """Block Datasette's default exception hook (see the module docstring); idempotent."""
    from datasette.plugins import pm

    if not pm.is_blocked(DATASETTE_HANDLER):
        pm.set_blocked(DATASETTE_HANDLER)


def classify(exception: BaseException) -> tuple[int, str, str | None]:
    """(status, message, title) for an exception a request raised."""
    from datasette.database import QueryInterrupted
    from datasette.views.base import DatasetteError

    if isinstance(exception, Base400):
        return exception.status, str(exception.args[0]) if exception.args else "Bad request", None
    if isinstance(exception, DatasetteError):
        message = Markup(exception.message) if exception.message_is_html else exception.message
        status = 400 if exception.status == 500 else exception.status
        return status, message, exception.title
    if isinstance(exception, QueryInterrupted):
        return 400, "The query took longer than the time limit allows. Try a narrower one.", "Too slow"
    if isinstance(exception, json.JSONDecodeError):
        return 400, f"A parameter that must be JSON is not valid JSON: {exception.msg}.", None
    if isinstance(exception, sqlite3.DataError) and "too big" in str(exception):
        return 400, "A value in the query is larger than the site allows (2 MB).", None
    if isinstance(exception, ValueError) and str(exception).startswith("invalid literal for int()"):
        return 400, "A parameter that must be a whole number is not one.", None
    return 500, INTERNAL, None


def _wants(request) -> str:
    path = request.path if request is not None else ""
    fmt = request.args.get("_format") if request is not None else None
    if path.endswith(".csv") or fmt == "csv":
        return "csv"
    return "json" if path.endswith(".json") or fmt == "json" else "html"


async def render_error(datasette, request, exception: BaseException) -> Response:
    """The error response for ``exception``: the site's error page, JSON for .json, text for .csv."""
    status, message, title = classify(exception)
    if status >= 500:
        where = f"{request.method} {request.path}" if request is not None else "request"
        log.error("%s failed", where, exc_info=exception)
    headers = {}
    if datasette.cors:
        headers["Access-Control-Allow-Origin"] = "*"
    info = {"ok": False, "error": message, "status": status, "title": title}
    kind = _wants(request)
    if kind == "json":
        return Response.json({**info, "error": str(message)}, status=status, headers=headers)
    if kind == "csv":
        return Response.text(f"Error {status}: {message}\n", status=status, headers=headers)
    try:
        template = datasette.jinja_env.select_template([f"{status}.html", "error.html"])
        body = await template.render_async(
            dict(info, urls=datasette.urls, app_css_hash=datasette.app_css_hash(), menu_links=lambda: [])
        )
    except Exception as exc:  # noqa: BLE001 - the error page itself failed: say so in plain text
        log.error("rendering the error page failed", exc_info=exc)
        return Response.text(f"Error {status}: {message}\n", status=status, headers=headers)
    return Response.html(body, status=status, headers=headers)


def handle_exception(datasette, request, exception):
    """The ``handle_exception`` hook's body (registered in ``publish.site.plugin``)."""

    async def inner():
        return await render_error(datasette, request, exception)

    return inner


def install_csv_query_errors() -> None:
    """A CSV export of SQL that failed answers 400 with the error, not 200 with an empty body.

    Datasette's ``as_csv`` drops the 400 status that ``QueryView.data`` returns with a failed query and
    writes the (empty) result; during ``as_csv`` the failed result is raised instead (a contextvar marks
    the call, so HTML and JSON pages keep Datasette's own error display)."""
    from datasette.views.base import DatasetteError, DataView
    from datasette.views.database import QueryView

    if getattr(DataView.as_csv, "_councilspend", False):
        return
    as_csv, data = DataView.as_csv, QueryView.data

    async def csv_marked(self, request, *args, **kwargs):
        token = _csv_query.set(True)
        try:
            return await as_csv(self, request, *args, **kwargs)
        finally:
            _csv_query.reset(token)

    async def data_or_raise(self, request, *args, **kwargs):
        result = await data(self, request, *args, **kwargs)
        if _csv_query.get() and isinstance(result, tuple) and isinstance(result[0], dict):
            if result[0].get("ok") is False and result[0].get("error"):
                raise DatasetteError(result[0]["error"], title="Invalid SQL", status=400)
        return result

    csv_marked._councilspend = True  # type: ignore[attr-defined]
    DataView.as_csv, QueryView.data = csv_marked, data_or_raise
