"""``councilspend publish`` and ``councilspend serve``."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from councilspend.paths import DataDir


@click.command()
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
              show_default=True, help="Data directory holding normalised/ (and registers.db if loaded).")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Database to write [default: DATA/councilspend.db].")
@click.option("--registers", "registers_db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Registers database (supplier registers, revenue outturn) [default: DATA/registers.db].")
@click.option("--no-downloads", is_flag=True, help="Skip the CSV/Data Package and Parquet downloads.")
@click.option("--force", is_flag=True, help="Rebuild even when nothing has changed since the last build.")
def publish(data_dir: Path, db_path: Path | None, registers_db: Path | None, no_downloads: bool,
            force: bool) -> None:
    """Build the SQLite database the site serves, from DATA/normalised.

    Classifies payees and categories, computes the M1/M2/M3 measures, writes summary tables, indexes,
    full-text search and the downloads. The new database replaces the old one only when complete,
    so a failed build leaves the site serving the previous data. When nothing it is built from
    has changed (normalised files, registry, registers, code and rules), the database is kept.
    """
    from publish.build.build import build_database

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    data = DataDir(data_dir)
    db_path = db_path or data.database
    out = build_database(data_dir, db_path, registers_db=registers_db, downloads=not no_downloads, force=force)
    click.echo(f"Built {out}. Serve it with: councilspend serve --data {data_dir}")


@click.command()
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
              show_default=True, help="Data directory holding councilspend.db.")
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Database to serve [default: DATA/councilspend.db].")
@click.option("--port", default=8001, show_default=True, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0 for everyone).")
def serve(data_dir: Path, db_path: Path | None, port: int, host: str) -> None:
    """Serve the site with Datasette (read-only, immutable) at http://HOST:PORT/."""
    from publish.site.serve import serve as run

    db_path = db_path or DataDir(data_dir).database
    if not db_path.exists():
        raise click.ClickException(f"{db_path} does not exist: run `councilspend publish --data {data_dir}` first")
    click.echo(f"Serving {db_path} at http://{host}:{port}/ (Ctrl-C to stop)")
    run(db_path, port=port, host=host)
