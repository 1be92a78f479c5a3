"""Serve the published database with Datasette: immutable, read-only, with the inspect file.

Immutable mode lets Datasette skip locking and trust the inspect file's table counts (no
``count(*)`` over 10 million rows at start-up); nothing on the site can write to the database.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import yaml

from councilspend.schemas import descriptor
from publish.build.build import inspect_data, inspect_path_for
from publish.build.resources import metadata_path
from publish.build.tables import published_tables

METADATA = metadata_path()
SETTINGS = {
    "sql_time_limit_ms": 3000,
    # Datasette runs a page's facets one after another: payments has four default facets, each a GROUP BY
    # over every row when unfiltered. At 10M rows the unfiltered page took 3.7 s with 1000 ms and 0.7 s
    # with 150 ms (facets shown as timed out, a click away; docs/scaling.md). Filtered pages keep their
    # facets when they finish in 150 ms; the busiest councils' payments (38k rows) lose some of them.
    "facet_time_limit_ms": 150,
    "max_returned_rows": 5000,
    "default_page_size": 50,
    "allow_download": True,
    "suggest_facets": False,  # suggesting facets runs a GROUP BY per column: seconds on 10M payments
    "num_sql_threads": 3,
}


def load_metadata(path: Path = METADATA, db_name: str = "councilspend") -> dict:
    """metadata.yml, with its ``databases: councilspend`` section renamed to ``db_name`` if needed, and
    every published table's column descriptions taken from its contract (their one home, shared with
    the Data Package and the Parquet field metadata)."""
    meta = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    dbs = meta.get("databases", {})
    if db_name not in dbs and "councilspend" in dbs:
        dbs[db_name] = dbs.pop("councilspend")
    tables = dbs.setdefault(db_name, {}).setdefault("tables", {})
    for table in published_tables():
        described = {
            f["name"]: f["description"]
            for f in descriptor(f"published/{table}")["fields"]
            if f.get("description")
        }
        cfg = tables.setdefault(table, {})
        cfg["columns"] = {**described, **(cfg.get("columns") or {})}
    return meta


def make_app(db_path: Path, *, metadata: Path = METADATA, settings: dict | None = None):
    """A configured ``Datasette`` instance (used by ``serve`` and by the tests)."""
    from datasette.app import Datasette

    db_path = Path(db_path)
    if not db_path.exists():
        raise FileNotFoundError(f"{db_path}: no database; run `councilspend publish` first")
    inspect = _inspect(db_path)
    downloads = db_path.parent / "downloads"
    return Datasette(
        immutables=[str(db_path)],
        inspect_data=inspect,
        metadata=load_metadata(metadata, db_path.stem),
        settings={**SETTINGS, **(settings or {})},
        static_mounts=[("downloads", str(downloads))] if downloads.exists() else [],
    )


def _inspect(db_path: Path) -> dict:
    """The build's inspect file, recomputed if it doesn't match the database (e.g. copied by hand)."""
    path = inspect_path_for(db_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entry = data[db_path.stem]
        if entry["size"] == db_path.stat().st_size:
            return data
    except (OSError, ValueError, KeyError):
        pass
    return inspect_data(db_path, db_path)


def serve(db_path: Path, *, port: int = 8001, host: str = "127.0.0.1", metadata: Path = METADATA) -> None:
    """Serve the site on ``host:port`` until interrupted (datasette-gzip compresses for clients that accept
    it). Arbitrary SQL goes to a limited worker process (``publish/site/sql_worker.py``), stopped on exit."""
    import atexit

    import uvicorn

    from publish.site.sql_worker import SqlForwarder, SqlWorker

    worker = SqlWorker(db_path, metadata)
    atexit.register(worker.stop)
    if threading.current_thread() is threading.main_thread():
        # uvicorn shuts down on SIGTERM, puts this handler back and raises SIGTERM again: exiting through
        # SystemExit (not the default handler's instant death) lets ``finally`` stop the worker.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    worker.start()  # loads while this process does, then is waited for: no "restarting" 503 at start-up
    try:
        app = make_app(db_path, metadata=metadata)
        worker.wait_ready()
        uvicorn.run(SqlForwarder(app.app(), worker), host=host, port=port, log_level="warning")
    finally:
        worker.stop()


def _exit_on_sigterm(signum: int, frame) -> None:
    raise SystemExit(128 + signum)


def run_sql_worker(db_path: Path, socket_path: Path, parent_pid: int, metadata: Path = METADATA) -> None:
    """The SQL worker's main (started by ``serve`` through ``sql_worker.SqlWorker``): the same app as the
    site, niced and memory-capped, on a Unix socket only the site can reach."""
    from publish.site.sql_worker import limit_worker

    limit_worker(parent_pid)
    import uvicorn

    app = make_app(db_path, metadata=metadata)
    uvicorn.run(app.app(), uds=str(socket_path), log_level="warning")
