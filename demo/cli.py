"""``councilspend demo``: the whole pipeline on the fictional councils, from websites to Datasette.

generate sites -> serve them on 127.0.0.1 -> crawl (real Scrapy) -> load outturn -> normalise ->
build SQLite -> serve Datasette. ``run_demo`` does the work (the end-to-end test calls it); the
click command only adds the printing and the serving.
"""

from __future__ import annotations

import csv
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import click
import yaml
from rich.console import Console
from rich.table import Table

from councilspend.paths import DataDir

CRAWL_SETTINGS = {"AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0, "CONCURRENT_REQUESTS_PER_DOMAIN": 8}
LOCAL_PREFIXES = ("http://127.0.0.1:", "http://localhost:")


@dataclass
class DemoResult:
    data_dir: Path
    site_dir: Path
    db_path: Path
    base_url: str
    truth: dict
    crawl_summary: dict
    requests: list[str] = field(default_factory=list)  # paths the demo server was asked for
    registry: list[dict] = field(default_factory=list)


def _guard_real_crawl(data: DataDir) -> None:
    """Refuse to wipe a directory that holds a real crawl: the demo starts from an empty raw/."""
    if not data.manifest.exists():
        return
    with open(data.manifest, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if not row.get("url", "").startswith(LOCAL_PREFIXES):
                raise click.ClickException(
                    f"{data.manifest} holds a real crawl ({row['url']}); the demo would overwrite it. "
                    "Run the demo with another directory, e.g. `councilspend demo --data demo-data`."
                )


def _load_outturn(paths: list[Path], registers_db: Path) -> None:
    """Load the demo's RSX files with the categories stage's loader (the same one real files use).

    The demo loads no supplier registers (it must not need ../shared), but registers.db is shared
    by both loaders: create it with its (empty) register tables first, as `registers load` would.
    """
    from normalise.categories import outturn
    from normalise.suppliers.registers import connect

    connect(registers_db).close()
    for path in paths:
        outturn.load_outturn(path, registers_db)


def run_demo(
    data_dir: Path,
    *,
    seed: int = 2024,
    rows_per_month: int = 40,
    keep_server: bool = False,
    progress: bool = True,
    console: Console | None = None,
):
    """Run generate -> crawl -> outturn -> normalise -> build into ``data_dir``.

    Returns ``(DemoResult, server)``; ``server`` is the still-running DemoServer when
    ``keep_server`` (so the councils' website links work while Datasette serves), else None.
    """
    from demo.generator import generate, registry
    from demo.server import DemoServer

    console = console or Console(quiet=not progress)
    data = DataDir(Path(data_dir))
    data.root.mkdir(parents=True, exist_ok=True)
    _guard_real_crawl(data)
    site_dir = data.root / "demo-site"

    def step(n: int, text: str) -> None:
        console.print(f"[bold cyan]{n}/5[/] {text}")

    t0 = time.monotonic()
    step(1, f"Generating 6 fictional councils' websites into {site_dir}")
    truth = generate(site_dir, seed=seed, rows_per_month=rows_per_month)
    for stale in (data.raw, data.normalised):
        if stale.exists():
            shutil.rmtree(stale)

    server = DemoServer(site_dir).start()
    base_url = server.base_url
    try:
        reg = registry(base_url)
        step(2, f"Crawling them with Scrapy from {base_url} into {data.raw}")
        from crawler.run import crawl

        summary = crawl(reg, data.raw, settings=CRAWL_SETTINGS, progress=progress)
        requests = list(server.requests)

        step(3, "Loading the demo Revenue Outturn (RSX) figures into " + str(data.registers))
        _load_outturn([site_dir / p for p in truth["outturn_files"]], data.registers)

        step(4, f"Normalising {data.manifest} into {data.normalised}")
        from normalise.manifest import normalise_manifest

        normalise_manifest(data.manifest, data.normalised, progress=progress)

        step(5, f"Building {data.database}")
        from normalise.classes import classify_crawl
        from publish.build.build import build_database

        # The fictional councils' own companies, where `councilspend publish` finds a user's list too.
        shutil.copyfile(Path(__file__).with_name("council_companies.csv"), data.council_companies)
        classify_crawl(data.normalised, data.registers, council_companies=[data.council_companies])
        # The fictional councils, where `councilspend publish` looks for a data directory's own councils.
        data.registry.write_text(
            yaml.safe_dump({"councils": reg}, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
        build_database(data.root, data.database, registry=reg, progress=progress)
    except BaseException:
        server.stop()
        raise
    if not keep_server:
        server.stop()
        server = None
    console.print(f"Done in {time.monotonic() - t0:.1f} s.")
    result = DemoResult(data.root, site_dir, data.database, base_url, truth, summary, requests, reg)
    return result, server


def truth_table(result: DemoResult) -> Table:
    """Rows and £ per council and year in the database, checked against the generator's truth."""
    table = Table(title="Payments in the database vs the ground truth (truth.json)")
    for col, justify in (
        ("council", "left"),
        ("year", "left"),
        ("rows", "right"),
        ("£", "right"),
        ("", "left"),
    ):
        table.add_column(col, justify=justify)
    conn = sqlite3.connect(result.db_path)
    try:
        got = {
            (c, fy): (n, p or 0)
            for c, fy, n, p in conn.execute(
                "select council_id, financial_year, count(*), sum(amount_pence) from payments group by 1, 2"
            )
        }
    finally:
        conn.close()
    for cid, council in result.truth["councils"].items():
        for fy, year in council["years"].items():
            n, p = got.get((cid, fy), (0, 0))
            rows = f"{n:,}" if n == year["rows"] else f"{n:,} (truth {year['rows']:,})"
            pounds = (
                f"{p / 100:,.2f}"
                if p == year["pence"]
                else f"{p / 100:,.2f} (truth {year['pence'] / 100:,.2f})"
            )
            ok = (n, p) == (year["rows"], year["pence"])
            table.add_row(council["name"], fy, rows, pounds, "[green]= truth[/]" if ok else "[red]differs[/]")
    return table


@click.command()
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data"),
    show_default=True,
    help="Directory for the demo sites, crawl, normalised rows and database.",
)
@click.option("--port", type=int, default=8001, show_default=True, help="Port for Datasette on 127.0.0.1.")
@click.option("--no-serve", is_flag=True, help="Stop after building the database (do not start Datasette).")
@click.option(
    "--seed", type=int, default=2024, show_default=True, help="Random seed of the generated councils."
)
@click.option(
    "--rows-per-month", type=int, default=40, show_default=True, help="Payment lines per council per month."
)
def demo(data_dir: Path, port: int, no_serve: bool, seed: int, rows_per_month: int) -> None:
    """Run the whole pipeline on six fictional councils and open the result in Datasette.

    \b
    1. generates the councils' websites (year/month pages, flat and paginated lists,
       ?id= downloads, a CKAN catalogue; CSV in cp1252 and UTF-8-BOM, XLSX, ODS, ZIP, a
       totals file, a purchase-card file, an HTML error page) and their ground truth;
    2. serves them on 127.0.0.1 and crawls them with the real Scrapy crawler;
    3. loads their Revenue Outturn figures; 4. normalises every file;
    5. builds the SQLite database and serves it with Datasette on 127.0.0.1:PORT.

    Nothing leaves this machine. See docs/demo.md.

    \b
    Examples:
        councilspend demo                      # and browse http://127.0.0.1:8001
        councilspend demo --no-serve --data /tmp/demo
    """
    console = Console()
    result, server = run_demo(
        data_dir, seed=seed, rows_per_month=rows_per_month, keep_server=not no_serve, console=console
    )
    console.print(truth_table(result))
    console.print(f"Ground truth: {result.site_dir / 'truth.json'}")
    console.print(f"Crawl manifest: {DataDir(result.data_dir).manifest}")
    console.print(f"Per-file reports: {DataDir(result.data_dir).normalised / 'reports'}")
    console.print(f"Database: {result.db_path}")
    if no_serve:
        console.print(f"Browse it with: [bold]councilspend serve --data {result.data_dir}[/]")
        return
    console.print(f"The fictional councils' websites stay up at {result.base_url}/ while Datasette runs.")
    console.print(f"[bold green]Open http://127.0.0.1:{port}/[/] (Ctrl-C to stop)")
    from publish.site.serve import serve

    try:
        serve(result.db_path, port=port)
    finally:
        if server is not None:
            server.stop()
