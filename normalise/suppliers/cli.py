"""Commands: ``registers load``, ``classify suppliers`` and ``accuracy suppliers``."""

from __future__ import annotations

from pathlib import Path

import click

from councilspend.errors import require_sqlite, user_errors
from councilspend.options import registers_db_option

DEFAULT_DB = Path("data/registers.db")
DEFAULT_GOLD = Path(__file__).resolve().parents[3] / "shared" / "data" / "labels" / "suppliers_gold.csv"


@click.group()
def registers() -> None:
    """Load the free bulk registers (Companies House, charities, mutuals, NHS, councils, ...) into a
    local SQLite database that `councilspend classify suppliers` and `publish` use."""


@registers.command("load")
@click.argument(
    "kind",
    type=click.Choice(
        [
            "companies_house",
            "charity_commission",
            "ccni",
            "fca_mutuals",
            "nhs_ods",
            "local_authorities",
            "academy_trusts",
            "social_housing",
            "charity_company_numbers",
            "public_bodies",
            "nhs_icb",
            "charities",
            "cics",
            "gias",
            "auto",
        ]
    ),
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@registers_db_option(DEFAULT_DB, "Registers database to create or add to.")
@click.option(
    "--replace/--append",
    default=False,
    show_default=True,
    help="--replace first deletes the rows this KIND loaded before (use for a new monthly file).",
)
def load(kind: str, path: Path, db: Path, replace: bool) -> None:
    """Stream register file PATH of KIND into the registers database.

    \b
    Examples:
      councilspend registers load auto ../shared/data/registers/nhs_ods_etr_2021.csv
      councilspend registers load companies_house BasicCompanyDataAsOneFile-2026-01-01.zip --replace
    \b
    KIND and the file it expects:
      companies_house          BasicCompanyData CSV (or its .zip), about 5 million rows
      charity_commission       publicextract.charity.txt and publicextract.charity_other_names.txt
      ccni                     Charity Commission NI export CSV
      fca_mutuals              FCA SocietyList.csv, or charity-lookups mutual-companies.csv
      nhs_ods                  ODS etr.csv / ect.csv ... (no header row)
      local_authorities        mySociety uk_local_authorities*.csv, lookup_name_to_registry.csv,
                               lookup_gss_to_registry.csv (load the main file first)
      academy_trusts           academy trusts with company numbers
      social_housing           RSH list of registered providers (or charity-lookups rsp file)
      charity_company_numbers  charity-lookups charity-company-numbers.csv
      auto                     guess KIND from the file's header
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from normalise.suppliers.registers import delete_register, detect_kind, load_register

    if kind == "auto":
        kind = detect_kind(path) or ""
        if not kind:
            raise click.ClickException(f"{path}: cannot tell which register this is; give KIND")
    if db.exists():
        require_sqlite(db, "Give --db a registers database, or a new path to create one")
    if replace:
        delete_register(kind, db)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=True) as bar:
        task = bar.add_task(f"loading {kind} from {path.name}")
        try:
            n = load_register(
                kind, path, db, progress=lambda c: bar.update(task, description=f"{kind}: {c:,} rows")
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"{kind}: loaded {n:,} rows from {path} into {db}")


@registers.command("fetch")
@click.argument(
    "kind",
    type=click.Choice(["companies_house", "charity_commission", "fca_mutuals", "rsh", "nhs_ods", "gias"]),
)
@registers_db_option(DEFAULT_DB, "Registers database to load into (KIND's earlier rows are replaced).")
@click.option("--url", default=None, help="Download from here instead of the publisher's documented URL.")
@click.option(
    "--dir",
    "dest_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data/registers"),
    show_default=True,
    help="Where the downloaded file is kept (a .part file while downloading).",
)
def fetch(kind: str, db: Path, url: str | None, dest_dir: Path) -> None:
    """Download an official bulk register and load it; an interrupted download resumes.

    \b
    Examples:
      councilspend registers fetch nhs_ods
      councilspend registers fetch companies_house --db data/registers.db
      councilspend registers fetch rsh --url https://assets.publishing.service.gov.uk/.../rps.csv
    \b
    KIND and its source (URLs in normalise/suppliers/fetch_sources.yml):
      companies_house     BasicCompanyDataAsOneFile-<month>.zip (Companies House, ~450 MB)
      charity_commission  publicextract.charity.zip (Charity Commission register extract)
      fca_mutuals         SocietyList.csv (FCA Mutuals Public Register)
      rsh                 list of registered providers of social housing (give --url: it changes monthly)
      nhs_ods             etr.zip (NHS ODS trusts)
      gias                edubasealldata<date>.csv (Get Information about Schools)
    """
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from normalise.suppliers.fetch import FetchError
    from normalise.suppliers.fetch import fetch as run

    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), transient=True
    ) as bar:
        task = bar.add_task(f"downloading {kind}", total=None)
        try:
            got = run(
                kind,
                db,
                url=url,
                dest_dir=dest_dir,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        except (FetchError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
    resumed = f", resumed at {got.resumed_from:,} bytes" if got.resumed_from else ""
    click.echo(f"{kind}: {got.size:,} bytes from {got.url}{resumed}; loaded {got.rows:,} rows into {db}")


@click.command("classify_suppliers")
@click.option(
    "--in",
    "in_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV with a supplier_name column (optionally council, supplier_company_number, "
    "supplier_charity_number, supplier_vat_number, expense_type, is_redacted).",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV to write: every input column plus supplier_id, canonical_name, sector, subsector, "
    "confidence, evidence.",
)
@click.option(
    "--registers-db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Registers database (default: {DEFAULT_DB} if it exists; otherwise name rules only).",
)
def classify_suppliers(in_path: Path, out_path: Path, registers_db: Path | None) -> None:
    """Give each payee an entity id, a sector (private, third_sector, mutual, public, council_company,
    individual, redacted, transfer, unknown) and the evidence for it.

    \b
    Example:
      councilspend classify suppliers --in payees.csv --out classified.csv --registers-db data/registers.db
    """
    import pandas as pd

    from normalise.suppliers.classify import classify_suppliers as classify

    db = registers_db or (DEFAULT_DB if DEFAULT_DB.exists() else None)
    with user_errors(in_path, "Give a CSV with a supplier_name column", also=(UnicodeDecodeError,)):
        df = pd.read_csv(in_path, dtype=str, keep_default_na=False)
    if db is not None and db.exists():
        require_sqlite(db, "Give --registers-db a registers database (councilspend registers load)")
    try:
        out = classify(df, db)
    except ValueError as exc:
        raise click.ClickException(f"{in_path}: {exc}") from exc
    with user_errors(out_path, "Give --out a path you can write to"):
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out.to_csv(out_path, index=False)
    counts = out["sector"].value_counts()
    click.echo(f"{len(out):,} rows, {out['supplier_id'].nunique():,} entities -> {out_path}")
    click.echo(", ".join(f"{s} {n:,}" for s, n in counts.items()))


@click.command("accuracy_suppliers")
@click.option(
    "--gold",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Gold labels CSV (council,supplier_name_raw,total_gbp,rows,sector,confidence,evidence); "
    "default ../shared/data/labels/suppliers_gold.csv.",
)
@click.option(
    "--registers-db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Registers database (default: {DEFAULT_DB} if it exists).",
)
@click.option(
    "--no-overrides", is_flag=True, help="Ignore overrides.csv: what the general rules alone get right."
)
@click.option("--by-council", is_flag=True, help="Also one line per council, and per split half (A/B).")
def accuracy_suppliers(
    gold: Path | None, registers_db: Path | None, no_overrides: bool, by_council: bool
) -> None:
    """Score the supplier classifier against hand-checked labels: accuracy per sector, overall by
    count and by £ (high-confidence labels and all labels), the unknown share of £, organisations
    labelled individual and individuals missed.

    \b
    Examples:
      councilspend accuracy suppliers --by-council
      councilspend accuracy suppliers --registers-db data/registers.db --no-overrides
    """
    from rich.console import Console

    from normalise.suppliers.accuracy import accuracy_table, group_table, score_gold, with_halves

    gold = gold or DEFAULT_GOLD
    if not gold.exists():
        raise click.ClickException(f"{gold}: gold labels not found; pass --gold")
    db = registers_db or (DEFAULT_DB if DEFAULT_DB.exists() else None)
    try:
        scored = score_gold(gold, db, use_overrides=not no_overrides)
    except ValueError as exc:
        raise click.ClickException(f"{exc}. Give --gold a CSV with those columns") from exc
    console = Console()
    console.print(accuracy_table(scored))
    if by_council:
        scored = with_halves(scored)
        console.print(group_table(scored, "council", "Per council"))
        console.print(group_table(scored, "half", "Split half (councils alternately A/B by name)"))
