"""``councilspend serve`` (``councilspend publish`` is wired in ``councilspend/cli.py``: it runs the
classify step, then this stage's build)."""

from __future__ import annotations

from pathlib import Path

import click

from councilspend.errors import require_free_port, require_sqlite
from councilspend.options import data_option
from councilspend.paths import DataDir


@click.command()
@data_option("Data directory holding councilspend.db.")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Database to serve [default: DATA/councilspend.db].",
)
@click.option("--port", default=8001, show_default=True, help="Port to listen on.")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0 for everyone)."
)
def serve(data_dir: Path, db_path: Path | None, port: int, host: str) -> None:
    """Serve the site with Datasette (read-only, immutable) at http://HOST:PORT/.

    \b
    Example:
        councilspend serve --data data --port 8001
    """
    from publish.site.serve import serve as run

    db_path = db_path or DataDir(data_dir).database
    if not db_path.exists():
        raise click.ClickException(
            f"{db_path} does not exist: run `councilspend publish --data {data_dir}` first"
        )
    require_sqlite(db_path, f"Rebuild it: councilspend publish --data {data_dir} --force")
    require_free_port(host, port)
    click.echo(f"Serving {db_path} at http://{host}:{port}/ (Ctrl-C to stop)")
    run(db_path, port=port, host=host)
