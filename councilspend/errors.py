"""Failures a user can cause, as one sentence that says what to do next.

Every command wraps the places where a user's file, database, folder or network can fail in
:func:`user_errors`, so a wrong path or an offline machine prints ``Error: <what>: <why>. <hint>``
and exits 1 — never a traceback, which reads as a bug in councilspend.
"""

from __future__ import annotations

import socket
import sqlite3
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

# What a user's input can raise on the way in: missing/unreadable paths and no network (OSError,
# which urllib's URLError is), a file that is not the SQLite database it should be, a broken ZIP,
# a spreadsheet the reader cannot open.
USER_ERRORS: tuple[type[BaseException], ...] = (OSError, sqlite3.DatabaseError, zipfile.BadZipFile)


def _reason(exc: BaseException) -> str:
    """The exception's own words, without the '[Errno 111]' noise."""
    inner = getattr(exc, "reason", None)  # urllib's URLError wraps the socket error
    for e in (inner, exc):
        if isinstance(e, OSError) and e.strerror:
            return e.strerror.rstrip(".")
    return (str(inner or exc) or type(exc).__name__).rstrip(".")


@contextmanager
def user_errors(what: str | Path, hint: str, also: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Turn :data:`USER_ERRORS` (and ``also``) raised inside into a ``ClickException`` naming ``what``."""
    try:
        yield
    except click.ClickException:
        raise
    except USER_ERRORS + also as exc:
        raise click.ClickException(f"{what}: {_reason(exc)}. {hint}") from exc


def require_sqlite(path: Path, hint: str) -> None:
    """Fail with a sentence when ``path`` is not an SQLite database (before a server or loader trips on it)."""
    with user_errors(path, hint):
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            con.execute("select count(*) from sqlite_master").fetchone()
        finally:
            con.close()


def require_free_port(host: str, port: int) -> None:
    """Fail with a sentence when another program already listens on ``host:port``."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise click.ClickException(
                f"cannot listen on {host}:{port}: {_reason(exc)}. Another server is using the port: stop "
                f"it, or pass another one, e.g. --port {port + 1}"
            ) from exc
