"""``councilspend bench``: generate spending files and time the pipeline against its peers."""

from __future__ import annotations

import os
from pathlib import Path

import click


@click.command()
@click.option(
    "--rows",
    type=click.IntRange(min=100),
    default=1_000_000,
    show_default=True,
    help="Payment rows to generate (spread over councils × months of files in the real shapes).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=min(2, os.cpu_count() or 1),
    show_default=True,
    help="Processes normalising files in parallel in the pipeline run. "
    "Normalisation is also timed alone at 1 and 2 workers for the speed-up.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the result as JSON here (machine, library versions, every metric).",
)
@click.option("--skip-datasette", is_flag=True, help="Do not time the Datasette pages.")
@click.option(
    "--skip-baselines",
    is_flag=True,
    help="Time only our own runs (pipeline, re-run, Datasette): no sqlite-utils, pandas floor, "
    "frictionless or 1/2-worker runs. For the 50M run, where the baselines take hours.",
)
@click.option(
    "--datasette-requests",
    type=click.IntRange(min=5),
    default=30,
    show_default=True,
    help="Timed requests per page (after 2 warm-up requests).",
)
@click.option(
    "--frictionless-sample",
    type=click.IntRange(min=100),
    default=100_000,
    show_default=True,
    help="Rows frictionless validates (it is slow; its rate is per row).",
)
@click.option("--councils", type=click.IntRange(min=1), help="Councils to generate (default: from --rows).")
@click.option("--months", type=click.IntRange(min=1), help="Months of files per council (default 12).")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same bytes.")
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to generate and build (default ./build/bench). Emptied first if an earlier "
    "bench made it; any other non-empty directory is refused.",
)
@click.option("--keep", is_flag=True, help="Keep the generated files and databases afterwards.")
def bench(
    rows: int,
    workers: int,
    json_path: Path | None,
    skip_datasette: bool,
    skip_baselines: bool,
    datasette_requests: int,
    frictionless_sample: int,
    councils: int | None,
    months: int | None,
    seed: int,
    work_dir: Path | None,
    keep: bool,
) -> None:
    """Measure the whole pipeline against sqlite-utils, pandas and frictionless on the same rows.

    \b
    Generates --rows payment rows as council files in the shapes real councils publish
    (cp1252 with £ and preamble, UTF-8 BOM, ragged rows, XLSX), then times, in this run:
      - crawl output -> published database (normalise + classify + build with indexes,
        FTS and summaries) vs `sqlite-utils insert --csv` and a bare pandas
        read_csv + to_sql of the same rows as one flat CSV;
      - schema checks (normalise.validate) vs frictionless validate;
      - a no-change re-run vs the full run; normalising at 1 and 2 workers;
      - peak memory (RSS) of each run, each in its own process;
      - Datasette p50/p95 of the council page, supplier page and league table.
    Stages that do not exist yet are shown as "not measured". Example:

        councilspend bench --rows 1000000 --json build/bench.json
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from benchmarks.report import save, show
    from benchmarks.run import Bench, Options, WorkDirError, prepare_work_dir

    console = Console()
    try:
        prepare_work_dir(work_dir or Path.cwd() / "build" / "bench")
    except WorkDirError as exc:
        raise click.UsageError(str(exc)) from exc
    opts = Options(
        rows=rows,
        workers=workers,
        work_dir=work_dir,
        keep=keep,
        skip_datasette=skip_datasette,
        skip_baselines=skip_baselines,
        datasette_requests=datasette_requests,
        frictionless_sample=frictionless_sample,
        councils=councils,
        months=months,
        seed=seed,
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        gen_task = progress.add_task("generate rows", total=rows)
        step_task = progress.add_task("steps", total=None)

        def on_step(name: str) -> None:
            progress.update(step_task, description=f"running {name}")

        def on_file(n: int) -> None:
            progress.advance(gen_task, n)

        result = Bench(opts, on_step=on_step, on_file=on_file).run()
    show(result, console)
    if json_path:
        save(result, json_path)
        console.print(f"wrote {json_path}")
