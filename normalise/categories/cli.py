"""CLI for the categories stage: classify a CSV, score against gold labels, load Revenue Outturn.

Wired in ``councilspend/cli.py`` as ``councilspend classify categories``,
``councilspend accuracy categories`` and ``councilspend outturn load``.
"""

from __future__ import annotations

from pathlib import Path

import click

from councilspend.errors import require_sqlite, user_errors
from councilspend.options import registers_db_option

DEFAULT_GOLD = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "labels"


@click.command("categories")
@click.option(
    "--in",
    "in_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV with columns kind (expense_type|service_area) and value; optional council, code.",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV to write: the input plus label, confidence and rule.",
)
@click.option(
    "--overrides",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Per-council overrides CSV (default: normalise/categories/overrides.csv).",
)
def classify_categories(in_path: Path, out_path: Path, overrides: Path | None) -> None:
    """Map expense types to SeRCOP subjective groups and service areas to SeRCOP service divisions.

    \b
    Example:
        councilspend classify categories --in values.csv --out labelled.csv
    Each output row says which rule decided (code:..., keyword:<rule id>, override:<council>).
    """
    import pandas as pd
    from rich.console import Console

    from normalise.categories.classify import classify_categories as classify

    with user_errors(in_path, "Give a CSV with columns kind and value"):
        df = pd.read_csv(in_path, dtype=str, keep_default_na=False)
    try:
        out = classify(df, overrides=overrides)
    except ValueError as exc:
        raise click.ClickException(f"{in_path}: {exc}") from exc
    with user_errors(out_path, "Give --out a path in a folder that exists and you can write to"):
        out.to_csv(out_path, index=False)
    counts = out.groupby(["kind", "label"]).size()
    console = Console(stderr=True)
    console.print(f"wrote {len(out)} rows to {out_path}")
    for (kind, label), n in counts.items():
        console.print(f"  {kind:13} {label:25} {n}")


@click.command("categories")
@click.option(
    "--gold-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder with expense_types_gold.csv and service_areas_gold.csv (default: ../shared/data/labels).",
)
@click.option("--errors/--no-errors", default=False, help="Also list the values the classifier got wrong.")
@click.option(
    "--by-council",
    is_flag=True,
    default=False,
    help="Also: accuracy per council and per split half (high-confidence rows, by count and £), and "
    "per council on the real files the £ share with an unknown expense group and treated as transfer.",
)
@click.option(
    "--real-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder of real files with EXPECTED.csv (default: ../shared/data/real); used with --by-council.",
)
def accuracy_categories(gold_dir: Path | None, errors: bool, by_council: bool, real_dir: Path | None) -> None:
    """Accuracy of the category classifier per label and overall, by count and by £.

    Shown for all gold rows and for the rows the labeller marked high confidence
    (the acceptance target is 97% on those). ``--by-council`` adds the per-council and split-half
    views and the real-file £ shares (unknown, transfer), which show how the rules generalise.

    \b
    Example:
        councilspend accuracy categories --by-council --errors
    """
    from rich.console import Console
    from rich.table import Table

    from normalise.categories.accuracy import accuracy_report

    gold_dir = gold_dir or DEFAULT_GOLD
    if not gold_dir.exists():
        raise click.ClickException(f"gold folder not found: {gold_dir} (pass --gold-dir)")
    console = Console()
    with user_errors(
        gold_dir, "Pass --gold-dir a folder with expense_types_gold.csv and service_areas_gold.csv"
    ):
        report = accuracy_report(gold_dir)
    for kind, tables in report.items():
        for which in ("high", "all"):
            df = tables[which]
            table = Table(
                title=f"{kind}: {'high-confidence gold rows' if which == 'high' else 'all gold rows'}"
            )
            for col in df.columns:
                table.add_column(col, justify="left" if col == "label" else "right")
            for row in df.itertuples(index=False):
                table.add_row(
                    *[f"{v:.1%}" if isinstance(v, float) and not isinstance(v, bool) else str(v) for v in row]
                )
            console.print(table)
        if errors:
            console.print(tables["errors"].to_string(index=False))
    if by_council:
        _print_by_council(console, gold_dir, real_dir or DEFAULT_GOLD.parent / "real")


def _table(console, title: str, df) -> None:  # noqa: ANN001 - rich Console and DataFrame, imported lazily
    from rich.table import Table

    shares = {"accuracy", "accuracy_gbp", "unknown", "unknown_share", "transfer_share", "context_share"}
    table = Table(title=title)
    for col in df.columns:
        table.add_column(col, justify="left" if df[col].dtype == object else "right")
    for row in df.itertuples(index=False):
        cells = []
        for col, v in zip(df.columns, row, strict=True):
            if col in shares:
                cells.append("-" if v != v else f"{v:.1%}")
            elif col == "gbp":
                cells.append(f"£{v:,.0f}")
            else:
                cells.append(str(v))
        table.add_row(*cells)
    console.print(table)


def _print_by_council(console, gold_dir: Path, real_dir: Path) -> None:  # noqa: ANN001
    from normalise.categories.measure import gold_by_council, gold_split_half, real_shares

    per = gold_by_council(gold_dir)
    for kind in per["kind"].unique():
        _table(
            console,
            f"{kind}: per council (high-confidence gold rows)",
            per[per["kind"] == kind].drop(columns="kind"),
        )
    _table(console, "split-half (A: rules may be written from it; B: held out)", gold_split_half(gold_dir))
    if not (real_dir / "EXPECTED.csv").exists():
        console.print(f"no real files at {real_dir}; real-file shares skipped")
        return
    _table(
        console,
        "real files: £ share with unknown expense group, treated as transfer, decided by row context",
        real_shares(real_dir),
    )


@click.group("outturn")
def outturn() -> None:
    """Revenue Outturn (MHCLG RSX): the denominator of the externally delivered share (M3)."""


@outturn.command("load")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@registers_db_option(Path("data/registers.db"), "Registers database to write table 'outturn' into.")
def load(path: Path, db: Path) -> None:
    """Load RSX service-expenditure summaries from PATH (a file or a folder; CSV or ODS).

    \b
    Example:
        councilspend outturn load ../shared/data/reference/outturn --db data/registers.db
    Rows are keyed by GSS code and financial year; loading a release again replaces it.
    """
    from python_calamine import CalamineError
    from rich.console import Console
    from rich.progress import Progress

    from normalise.categories.outturn import OutturnFileError, _files, load_outturn, read_outturn

    with user_errors(path, "Give an RSX file (CSV or ODS) or a folder of them"):
        files = _files(path)
    if not files:
        raise click.ClickException(f"{path}: no CSV or ODS files in it. Give an RSX file or a folder of them")
    if db.exists():
        require_sqlite(db, "Give --db a registers database, or a new path to create one")
    total = 0
    with Progress(transient=True) as progress:
        task = progress.add_task("loading outturn", total=len(files))
        for file in files:
            try:
                with user_errors(file, "Is it an RSX summary saved as CSV or ODS?", also=(CalamineError,)):
                    total += load_outturn(file, db)
            except OutturnFileError as exc:
                raise click.ClickException(str(exc)) from exc
            progress.advance(task)
    if not total:
        raise click.ClickException(
            f"{path}: no RSX service-expenditure rows found (RO detail forms and notes are skipped). Give the "
            "RSX summary files of a Revenue Outturn release"
        )
    df = read_outturn(db)
    years = ", ".join(sorted(df["financial_year"].unique())) if not df.empty else "none"
    Console().print(f"wrote {total} rows to {db} (table outturn); years now held: {years}")
