"""``councilspend normalise`` and ``councilspend check`` (wired up in councilspend/cli.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from councilspend.errors import user_errors
from councilspend.options import data_option, progress_option


@click.command()
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--council",
    "council_id",
    metavar="ID",
    help="GSS code of the publishing council (else read from the file).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the canonical payment rows here as CSV (header = payment schema field names).",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the per-file report(s) here as JSON.",
)
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Normalise a whole crawl: the crawl's manifest.csv.",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --manifest: where rows/, reports/ and files.csv go.",
)
@click.option("--workers", default=1, show_default=True, help="With --manifest: processes to use.")
@click.option(
    "--executor",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="With --manifest: run on this machine, or on a Dask cluster.",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="With --executor dask: the scheduler address (default: a local cluster).",
)
@progress_option()
def normalise(
    files: tuple[Path, ...],
    council_id: str | None,
    out: Path | None,
    report_path: Path | None,
    manifest: Path | None,
    out_dir: Path | None,
    workers: int,
    executor: str,
    scheduler: str | None,
    progress: bool,
) -> None:
    """Turn council spending files (CSV, XLS, XLSX, ODS, ZIP) into canonical payment rows.

    \b
    One or more files -> one CSV, one row per payment, amounts in pounds:
        councilspend normalise march.csv april.xlsx --council E08000035 --out rows.csv --report report.json
    A whole crawl -> rows/<sha256>.parquet, reports/<sha256>.json and files.csv:
        councilspend normalise --manifest data/raw/manifest.csv --out-dir data/normalised --workers 2

    Files that cannot be read are reported (in --report), never half-read; the exit status is 1 when
    any file was rejected.
    """
    if manifest:
        if files or out:
            raise click.UsageError("use either FILE... --out, or --manifest --out-dir, not both")
        if not out_dir:
            raise click.UsageError("--manifest needs --out-dir")
        click.echo(
            normalise_crawl(
                manifest, out_dir, workers=workers, executor=executor, scheduler=scheduler, progress=progress
            ),
            err=True,
        )
        return
    if not files:
        raise click.UsageError("give FILE... (with --out) or --manifest")
    if not out:
        raise click.UsageError("FILE... needs --out OUT.csv")

    import pandas as pd

    from normalise.pipeline import normalise_file
    from normalise.validate import to_text_frame

    frames, reports, rejected, misfits = [], [], 0, 0
    for path in files:
        result = normalise_file(path, council_id=council_id)
        text = to_text_frame(result.rows)
        if result.report.get("schema_errors"):
            misfits += 1
            click.echo(f"{path}: {result.report['problems'][0]['message']}", err=True)
        frames.append(text)
        reports.append(result.report)
        if result.kind == "rejected":
            rejected += 1
            click.echo(f"{path}: rejected: {result.report['error']}", err=True)
        else:
            click.echo(
                f"{path}: {result.kind}, {len(result.rows):,} rows, £{result.total_pence / 100:,.2f}",
                err=True,
            )
    with user_errors(out, "Give --out a path in a folder that exists and you can write to"):
        pd.concat(frames, ignore_index=True).to_csv(out, index=False)
    if report_path:
        payload = reports[0] if len(reports) == 1 else {"files": reports}
        with user_errors(report_path, "Give --report a path in a folder that exists and you can write to"):
            report_path.write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")
    if rejected or misfits:
        sys.exit(1)


def normalise_crawl(
    manifest: Path,
    out_dir: Path,
    *,
    workers: int = 1,
    executor: str = "local",
    scheduler: str | None = None,
    progress: bool = True,
) -> str:
    """Normalise a manifest's new files (``normalise --manifest``, and the first step of ``publish``);
    return the one-line summary. A manifest that breaks its contract is a ClickException."""
    from collections import Counter

    from normalise.manifest_check import ManifestError

    try:
        if executor == "dask":
            from normalise.dask_executor import run as dask_run

            rows = dask_run(manifest, out_dir, scheduler)
        else:
            from normalise.manifest import normalise_manifest

            rows = normalise_manifest(manifest, out_dir, workers=workers, progress=progress)
    except ManifestError as exc:
        raise click.ClickException(
            f"{exc}\nFix the manifest, or let `councilspend add FILE...` or `councilspend crawl` write it."
        ) from exc
    statuses = Counter(r["status"] for r in rows)
    parts = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items(), key=lambda kv: -kv[1]))
    return f"{len(rows)} files ({parts or 'none'}); files.csv in {out_dir}"


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--council", "council_id", metavar="ID", help="GSS code of your council, to cross-check the file."
)
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON instead of text.")
def check(file: Path, council_id: str | None, as_json: bool) -> None:
    """Check a spending file before you publish it.

    Reads the file as councilspend would, then lists what is wrong, worst first: missing Transparency
    Code 2015 fields, rows without an amount or a day-first date, rows that had to be repaired,
    redactions. Exits with status 1 when the file would not be publishable under the Code (the rule
    is named), 0 otherwise.

    \b
        councilspend check spending-march-2026.csv
    """
    from normalise.check import check_file, render

    _, report = check_file(file, council_id)
    if as_json:
        click.echo(json.dumps(report, indent=1, default=str))
    else:
        click.echo(render(report))
    if not report["publishable"]:
        sys.exit(1)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--council",
    metavar="NAME_OR_CODE",
    help="The council that published every file given (name, GSS or SNAC code). Default: read from "
    "each file (a council column, its preamble, its file or folder name).",
)
@data_option("Data directory: files go to DATA/raw/files/, their entries to DATA/raw/manifest.csv.")
def add(paths: tuple[Path, ...], council: str | None, data_dir: Path) -> None:
    """Add spending files you already have (files, folders, ZIPs) to the data directory.

    Each file is stored by its hash beside the crawler's downloads and listed in the manifest with
    its council, so `councilspend publish` normalises, classifies and builds it. Nothing is written
    when any file's council cannot be told; adding the same bytes again changes nothing.

    \b
    Examples:
        councilspend add ~/Downloads/leeds-spending/ --data data
        councilspend add march.csv april.xlsx --council "Newcastle upon Tyne"
        councilspend add demo/samples/newcastle-upon-tyne-2022-08.csv --data data
        councilspend publish --data data && councilspend serve --data data
    """
    from normalise.add import AddError, add_files

    try:
        outcome = add_files(list(paths), data_dir, council)
    except AddError as exc:
        raise click.ClickException(f"{exc}\nNothing was added.") from exc
    if outcome.note:
        click.echo(f"warning: {outcome.note}", err=True)
    for f in outcome.added:
        click.echo(f"added    {f.source_path} -> {f.council_id} ({f.evidence})")
        if f.note:
            click.echo(f"  warning: {f.note}", err=True)
    for f in outcome.already:
        click.echo(f"skipped  {f.source_path}: the same bytes are already added")
    if outcome.skipped:
        click.echo(
            f"skipped  {len(outcome.skipped)} file(s) that are not spreadsheets (e.g. {outcome.skipped[0]})"
        )
    click.echo(
        f"{len(outcome.added)} added, {len(outcome.already)} already there. "
        f"Next: councilspend publish --data {data_dir}"
    )
