"""The ``councilspend`` command. Each stage owns its commands; this module only wires them up.

Commands are imported lazily so ``councilspend --help`` stays fast (Scrapy and pandas are slow
to import).
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

import click

from councilspend.options import data_option, progress_option, registers_option
from councilspend.paths import DataDir

# command name -> "module:attribute" of a click command or group
COMMANDS: dict[str, str] = {
    "demo": "demo.cli:demo",
    "councils": "crawler.cli:councils",
    "crawl": "crawler.cli:crawl",
    "add": "normalise.cli:add",
    "normalise": "normalise.cli:normalise",
    "check": "normalise.cli:check",
    "classify": "councilspend.cli:classify",
    "registers": "normalise.suppliers.cli:registers",
    "outturn": "normalise.categories.cli:outturn",
    "accuracy": "councilspend.cli:accuracy",
    "publish": "councilspend.cli:publish",
    "serve": "publish.cli:serve",
    "bench": "benchmarks.cli:bench",
}


class LazyGroup(click.Group):
    def __init__(self, *args, lazy: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.lazy:
            return super().get_command(ctx, name)
        module, attr = self.lazy[name].split(":")
        try:
            command = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            # One broken stage must not take the whole CLI (and its --help) down with it.
            return _unavailable(name, f"{module}:{attr}", exc)
        command.name = name  # the name users type, whatever the function is called
        return command


def _unavailable(name: str, target: str, exc: Exception) -> click.Command:
    def fail() -> None:
        raise click.ClickException(f"command {name!r} is unavailable ({target}): {exc}")

    return click.Command(name, callback=fail, help=f"(unavailable: {exc})")


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="councilspend")
def main() -> None:
    """Crawl, normalise and publish English councils' spending over £500.

    \b
    The whole pipeline on the bundled fictional councils:
        councilspend demo
    Step by step on real councils:
        councilspend crawl --council E08000035 --out data/raw
        councilspend normalise --manifest data/raw/manifest.csv --out-dir data/normalised
        councilspend publish --data data
        councilspend serve --data data
    Check one file before you publish it:
        councilspend check my-spending-march.csv
    """


@click.group(
    cls=LazyGroup,
    lazy={
        "suppliers": "normalise.suppliers.cli:classify_suppliers",
        "categories": "normalise.categories.cli:classify_categories",
    },
)
def classify() -> None:
    """Classify payees (sector) or expense types and service areas (SeRCOP)."""


@click.group(
    cls=LazyGroup,
    lazy={
        "suppliers": "normalise.suppliers.cli:accuracy_suppliers",
        "categories": "normalise.categories.cli:accuracy_categories",
    },
)
def accuracy() -> None:
    """Measure the classifiers against hand-checked gold labels."""


@click.command()
@data_option("Data directory holding normalised/ (and registers.db if loaded).")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Database to write [default: DATA/councilspend.db].",
)
@registers_option()
@click.option(
    "--registry",
    "registry_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Councils YAML this data directory publishes [default: DATA/councils.yml when it "
    "exists, else every English council].",
)
@click.option("--no-downloads", is_flag=True, help="Skip the CSV/Data Package and Parquet downloads.")
@click.option("--force", is_flag=True, help="Rebuild even when nothing has changed since the last build.")
@progress_option()
def publish(
    data_dir: Path,
    db_path: Path | None,
    registers_db: Path | None,
    registry_path: Path | None,
    no_downloads: bool,
    force: bool,
    progress: bool,
) -> None:
    """Normalise what is new, classify, then build the SQLite database the site serves.

    Normalises the files of DATA/raw/manifest.csv (from `crawl` or `add`) not normalised before, then
    classifies payees and categories (once per distinct key, into DATA/normalised/classes), computes the
    M1/M2/M3 measures, writes summary tables, indexes, full-text search and the downloads. The new
    database replaces the old one only when complete, so a failed build leaves the site serving the
    previous data. When nothing it is built from has changed, the database is kept.

    \b
    Example:
        councilspend add ~/Downloads/spending/ --data data
        councilspend publish --data data
        councilspend serve --data data
    """
    from councilspend.normalised import InputError
    from normalise.classes import classify_crawl
    from publish.build.build import build_database

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    data = DataDir(data_dir)
    if data.manifest.exists():
        from normalise.cli import normalise_crawl

        click.echo(normalise_crawl(data.manifest, data.normalised, progress=progress), err=True)
    if not (data.normalised / "files.csv").exists():
        raise click.ClickException(
            f"{data.normalised / 'files.csv'} does not exist: add or crawl some files first, e.g. "
            f"`councilspend add my-spending-files/ --data {data_dir}`"
        )
    if registers_db is None and data.registers.exists():
        registers_db = data.registers
    db_path = db_path or data.database
    before = db_path.stat().st_mtime_ns if db_path.exists() else None
    try:
        companies = [data.council_companies] if data.council_companies.exists() else []
        classify_crawl(data.normalised, registers_db, force=force, council_companies=companies)
        registry = _data_registry(registry_path or data.registry, data.normalised / "files.csv")
        out = build_database(
            data_dir, db_path, registry=registry, downloads=not no_downloads, force=force, progress=progress
        )
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc
    if before is not None and out.stat().st_mtime_ns == before:
        click.echo(
            f"Nothing has changed since {out} was built: kept it. Serve it with: councilspend serve --data {data_dir}"
        )
    else:
        click.echo(f"Built {out}. Serve it with: councilspend serve --data {data_dir}")


def _data_registry(own: Path, files_csv: Path) -> list[dict] | None:
    """The data directory's own councils (``councils.yml``) plus every English council its files name."""
    import csv

    from crawler.registry import RegistryError, registry_for_data

    with files_csv.open(newline="", encoding="utf-8") as fh:
        named = {row.get("council_id", "") for row in csv.DictReader(fh)}
    try:
        return registry_for_data(own, named)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
