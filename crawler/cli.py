"""``councilspend crawl`` and ``councilspend councils …`` commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from councilspend.errors import user_errors
from councilspend.options import data_option, json_option, progress_option
from crawler.registry import (
    RegistryError,
    import_register,
    load_registry,
    register_path,
    resolve,
)


def _parse_setting(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise click.BadParameter(f"{text!r}: expected NAME=VALUE, e.g. DOWNLOAD_DELAY=0")
    name, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return name.strip(), value


def _select(councils: list[dict], wanted: tuple[str, ...]) -> list[dict]:
    """Councils matching ``--council`` values (GSS code or exact name, case-insensitive)."""
    if not wanted:
        return councils
    chosen, unknown = [], []
    for w in wanted:
        match = [c for c in councils if w.casefold() in (c["id"].casefold(), c["name"].casefold())]
        if not match:
            hit = resolve(w, registry=councils)
            match = [c for c in councils if hit and c["id"] == hit.get("id")]
        if match:
            chosen.extend(match)
        else:
            unknown.append(w)
    if unknown:
        raise click.BadParameter(
            f"not in the registry: {', '.join(unknown)} (see `councilspend councils list`)",
            param_hint="--council",
        )
    seen: set[str] = set()
    return [c for c in chosen if not (c["id"] in seen or seen.add(c["id"]))]


@click.command()
@click.option(
    "--registry",
    "registry_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Council registry YAML (default: the bundled crawler/councils.yml).",
)
@click.option(
    "--council",
    "council_ids",
    multiple=True,
    metavar="ID",
    help="Crawl only this council (GSS code or name); repeat for several. Default: all.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data/raw"),
    show_default=True,
    help="Crawl directory: files/, manifest.csv, httpcache/.",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a Scrapy setting, e.g. --set DOWNLOAD_DELAY=2 (value parsed as JSON if it can be).",
)
@progress_option()
def crawl(
    registry_path: Path | None,
    council_ids: tuple[str, ...],
    out_dir: Path,
    overrides: tuple[str, ...],
    progress: bool,
) -> None:
    """Find and download councils' spending files into OUT (incremental, polite).

    Follows each council's spending pages (and its data.gov.uk/CKAN datasets), stores each file
    once under files/<sha256>.<ext> and records it in manifest.csv. Re-running fetches only what
    changed (conditional GETs). Obeys robots.txt; at most 2 requests at a time per site.

    \b
    Examples:
        councilspend crawl --council E08000035 --out data/raw
        councilspend crawl --registry my-councils.yml
    """
    from rich.console import Console
    from rich.table import Table

    from crawler.run import CrawlError
    from crawler.run import crawl as run_crawl

    try:
        councils = _select(load_registry(registry_path), council_ids)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    settings = dict(_parse_setting(o) for o in overrides)
    console = Console(stderr=True)
    console.print(f"Crawling {len(councils)} council(s) into {out_dir}")
    try:
        summary = run_crawl(councils, out_dir, settings=settings, progress=progress)
    except CrawlError as exc:
        raise click.ClickException(str(exc)) from exc
    table = Table(title=f"Crawl summary ({out_dir / 'manifest.csv'})")
    for col in ("council", "pages", "new", "changed", "unchanged", "rejected", "failed", "problems"):
        table.add_column(
            col, justify="left" if col in ("council", "problems") else "right", no_wrap=col == "council"
        )
    totals = dict.fromkeys(("pages", "new", "changed", "unchanged", "rejected", "failed"), 0)
    for council_id, s in summary.items():
        for key in totals:
            totals[key] += s.get(key, 0)
        problems = "; ".join(s.get("errors", [])[:2])
        if s.get("blocked"):
            problems = f"{s['blocked']} blocked by robots.txt" + (f"; {problems}" if problems else "")
        table.add_row(f"{s.get('name') or ''} ({council_id})", *(str(s.get(k, 0)) for k in totals), problems)
    table.add_row("[bold]total[/bold]", *(str(v) for v in totals.values()), "")
    Console(width=None if sys.stdout.isatty() else 160).print(table)
    if summary and not any(totals.values()):
        first = next((e for s in summary.values() for e in s.get("errors", [])), "no page answered")
        raise click.ClickException(
            f"no spending page could be fetched (first problem: {first}). Are you offline? Check the "
            "connection and the councils' spending_pages, then crawl again: files already fetched are kept"
        )


@click.group()
def councils() -> None:
    """The council registry (what to crawl) and the national register (every council, past and present)."""


@councils.command("import")
@click.argument("source", metavar="PATH_OR_URL")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to store the register CSV (default: data/council_register.csv, or "
    "$COUNCILSPEND_COUNCIL_REGISTER).",
)
def import_command(source: str, out: Path | None) -> None:
    """Import mySociety's register of UK councils (uk_local_authorities_current.csv).

    Keeps names, GSS codes, types, start/end dates and replaced-by, so abolished councils
    (e.g. Craven, Harrogate) still resolve. PATH_OR_URL: a local file or an http(s) URL of the
    CSV from mySociety's "UK local authority names and codes" dataset (uk_la_past_current).

    \b
    Example:
        councilspend councils import uk_local_authorities_current.csv
    """
    out = out or register_path()
    try:
        with user_errors(
            source, "Check the path or URL (are you offline?), or download the CSV and give its path"
        ):
            n = import_register(source, out)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Imported {n} councils into {out}")


@councils.command("list")
@click.option(
    "--registry",
    "registry_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Council registry YAML (default: every English council, crawler/england.csv + councils.yml).",
)
@data_option("Data directory: pages found by earlier crawls (DATA/raw/discovery.csv) are shown too.")
@json_option(
    "Print the registry as a JSON array (id = GSS code, name, type, website, spending_pages, found_by)."
)
@click.option("--current", "current_only", is_flag=True, help="Only councils that exist today.")
def list_command(registry_path: Path | None, data_dir: Path, as_json: bool, current_only: bool) -> None:
    """List the councils in the crawl registry with their spending pages.

    \b
    Examples:
        councilspend councils list --current
        councilspend councils list --json > councils.json
    """
    from crawler.discovery import apply_discovery

    try:
        entries = apply_discovery(load_registry(registry_path), data_dir / "raw")
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    if current_only:
        entries = [c for c in entries if c.get("current", True)]
    if as_json:
        keys = (
            "id",
            "name",
            "type",
            "website",
            "spending_pages",
            "found_by",
            "current",
            "end_date",
            "replaced_by",
            "threshold",
            "dgu_publisher",
        )
        click.echo(json.dumps([{k: c.get(k) for k in keys} for c in entries], indent=1, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(entries)} councils")
    for col in ("id", "name", "type", "threshold", "spending pages / catalogue"):
        table.add_column(col)
    for c in entries:
        where = list(c["spending_pages"]) + (
            [f"CKAN: {c['dgu_publisher']}"] if c.get("dgu_publisher") else []
        )
        threshold = "unknown" if c.get("threshold") is None else f"£{c['threshold']}"
        table.add_row(c["id"], c["name"], c["type"], threshold, "\n".join(where))
    Console(width=200 if not sys.stdout.isatty() else None).print(table)


@councils.command("resolve")
@click.argument("name_or_code")
@click.option(
    "--register",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Imported register CSV (default: data/council_register.csv).",
)
def resolve_command(name_or_code: str, register: Path | None) -> None:
    """Look up a council by GSS code, register code or name (abolished ones too); print JSON.

    \b
    Examples:
        councilspend councils resolve E08000035
        councilspend councils resolve "Craven District Council"
    """
    hit = resolve(name_or_code, register=register)
    if hit is None:
        raise click.ClickException(
            f"no council matches {name_or_code!r} (import the register first: "
            "`councilspend councils import PATH_OR_URL`)"
        )
    click.echo(json.dumps(hit, indent=2, ensure_ascii=False))
