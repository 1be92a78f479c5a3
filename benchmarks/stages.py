"""The benchmark's stages, each run in its own process by ``benchmarks.run``.

Each stage is a plain function of JSON-able arguments returning a dict of figures; run as
``python -m benchmarks.stages NAME '{"arg": ...}'`` it prints that dict after
``benchmarks.measure.RESULT_MARKER``. A stage whose project code is not importable yet returns
``{"missing": "<why>"}`` instead of failing, so the report can say "not measured (stage missing)"
rather than inventing a figure.
"""

from __future__ import annotations

import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.measure import RESULT_MARKER


class StageMissing(Exception):
    """Project code a stage needs does not exist (yet)."""


def _import(module: str, attr: str) -> Callable:
    import importlib

    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise StageMissing(f"{module} not importable ({exc})") from exc
    try:
        return getattr(mod, attr)
    except AttributeError as exc:
        raise StageMissing(f"{module}.{attr} does not exist") from exc


def parquet_rows(rows_dir: Path) -> int:
    """Rows in every Parquet partition under ``rows_dir`` (from the footers; no data read)."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in sorted(Path(rows_dir).glob("*.parquet")))


def normalise(manifest: str, out_dir: str, workers: int) -> dict:
    """``normalise_manifest`` alone: raw files -> Parquet partitions + reports + files.csv."""
    import inspect

    normalise_manifest = _import("normalise.manifest", "normalise_manifest")
    quiet = {"progress": False} if "progress" in inspect.signature(normalise_manifest).parameters else {}
    start = time.perf_counter()
    normalise_manifest(Path(manifest), Path(out_dir), workers=workers, **quiet)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": parquet_rows(Path(out_dir) / "rows")}


def build(data_dir: str, registry: str | None) -> dict:
    """``classify_crawl`` then ``build_database``: classify suppliers/categories, payments, summaries,
    indexes, FTS (what ``councilspend publish`` runs)."""
    import inspect

    import yaml

    build_database = _import("publish.build.build", "build_database")
    classify_crawl = _import("normalise.classes", "classify_crawl")
    data = Path(data_dir)
    kwargs: dict = {
        "registry": yaml.safe_load(Path(registry).read_text(encoding="utf-8")) if registry else None
    }
    accepted = inspect.signature(build_database).parameters
    # No progress bar in a measured child; downloads (CSV/Parquet exports) are not the database.
    kwargs.update({k: False for k in ("progress", "downloads") if k in accepted})
    stages = _StageLog()
    logging.getLogger("publish.build.build").addHandler(stages)
    logging.getLogger("publish.build.build").setLevel(logging.INFO)
    start, cpu = time.perf_counter(), time.process_time()
    registers = data / "registers.db"
    classify_crawl(data / "normalised", registers if registers.exists() else None)
    stages.stages.append(_stage_entry("classify (normalise.classes)", start, cpu))
    build_database(data, data / "councilspend.db", **kwargs)
    return {"seconds": time.perf_counter() - start, "build_stages": stages.stages}


def _stage_entry(name: str, start: float, cpu: float) -> dict:
    """A stage log entry measured here, in the shape of the build's own entries."""
    import psutil

    rss = psutil.Process().memory_info().rss / 1e6
    return {
        "stage": name,
        "seconds": round(time.perf_counter() - start, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "rss_mb": round(rss),
    }


class _StageLog(logging.Handler):
    """Collects the build's own stage log ("build stage NAME: S s, CPU C s (RSS now M MB)") for the JSON."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.stages: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("build stage") and len(record.args or ()) == 4:
            name, seconds, cpu, rss = record.args
            self.stages.append(
                {
                    "stage": name,
                    "seconds": round(seconds, 2),
                    "cpu_seconds": round(cpu, 2),
                    "rss_mb": round(rss),
                }
            )


def pipeline(data_dir: str, workers: int, registry: str | None) -> dict:
    """The whole pipeline on a data directory laid out as ``councilspend.paths.DataDir``."""
    from councilspend.paths import DataDir

    d = DataDir(Path(data_dir))
    # Check both stages exist before spending minutes on the first one.
    _import("normalise.manifest", "normalise_manifest")
    _import("publish.build.build", "build_database")
    norm = normalise(str(d.manifest), str(d.normalised), workers)
    built = build(data_dir, registry)
    import importlib

    version = getattr(importlib.import_module("normalise.pipeline"), "NORMALISER_VERSION", None)
    return {
        "normalise_seconds": norm["seconds"],
        "build_seconds": built["seconds"],
        "rows": norm["rows"],
        "normaliser_version": version,
        "build_stages": built.get("build_stages", []),
    }


def pandas_floor(csv_path: str, db_path: str) -> dict:
    """The floor: one ``read_csv`` and one ``to_sql`` of the flat CSV, nothing else."""
    import sqlite3

    import pandas as pd

    start = time.perf_counter()
    df = pd.read_csv(csv_path, dtype={"transaction_ref": str, "supplier_ref": str, "expense_code": str})
    read = time.perf_counter() - start
    with sqlite3.connect(db_path) as conn:
        df.to_sql("payments", conn, index=False, if_exists="replace", chunksize=50_000)
    return {"read_seconds": read, "seconds": time.perf_counter() - start, "rows": len(df)}


def _canonical_rows(rows_dir: Path, limit: int | None = None):
    import pandas as pd

    frames, total = [], 0
    for path in sorted(rows_dir.glob("*.parquet")):
        df = pd.read_parquet(path)
        frames.append(df)
        total += len(df)
        if limit is not None and total >= limit:
            break
    if not frames:
        raise RuntimeError(f"{rows_dir}: no Parquet partitions to validate")
    df = pd.concat(frames, ignore_index=True)
    return df if limit is None else df.head(limit)


def validate(normalised_dir: str, sample_rows: int, work_dir: str) -> dict:
    """``normalise.validate`` on every canonical row vs frictionless on a sample of the same rows."""
    validate_rows = _import("normalise.validate", "validate_rows")
    to_text_frame = _import("normalise.validate", "to_text_frame")
    import frictionless

    from councilspend.schemas import frictionless_schema

    rows_dir = Path(normalised_dir) / "rows"
    df = _canonical_rows(rows_dir)
    # Best of a few runs for both: the machine is shared, and noise only ever adds time.
    ours_seconds, ours = _best_of(3, lambda: validate_rows(df, limit=None))
    sample = df.head(sample_rows)
    csv_path = Path(work_dir) / "canonical-sample.csv"
    # The same rows as the normaliser's CSV contract (what `councilspend normalise --out` writes).
    to_text_frame(sample).to_csv(csv_path, index=False)
    schema = frictionless_schema("payment")

    def frictionless_validate():
        with frictionless.system.use_context(trusted=True):
            return frictionless.Resource(path=str(csv_path), schema=schema).validate(limit_errors=100_000)

    fl_seconds, report = _best_of(2, frictionless_validate)
    return {
        "rows": len(df),
        "seconds": ours_seconds,
        "errors": _count_errors(ours),
        "frictionless_rows": len(sample),
        "frictionless_seconds": fl_seconds,
        "frictionless_errors": report.stats["errors"] if hasattr(report, "stats") else None,
    }


def _best_of(n: int, fn: Callable):
    """(fastest wall time of ``n`` calls, result of the last call)."""
    best, result = float("inf"), None
    for _ in range(n):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _count_errors(result) -> int | None:
    """Error count from whatever ``validate_rows`` returns (a frame, a list, or a report)."""
    for attr in ("errors",):
        if hasattr(result, attr):
            return len(getattr(result, attr))
    try:
        return len(result)
    except TypeError:
        return None


def datasette(db_path: str, requests: int, urls: dict[str, str]) -> dict:
    """p50/p95 of each page through Datasette's in-process client (no network, no server noise)."""
    import asyncio

    make_app = _import("publish.site.serve", "make_app")  # the site exactly as `councilspend serve` runs it
    ds = make_app(Path(db_path))

    async def timed() -> dict:
        out = {}
        for name, url in urls.items():
            for _ in range(2):  # warm the page and SQLite's cache
                warm = await ds.client.get(url)
            if warm.status_code != 200:
                out[name] = {"url": url, "status": warm.status_code}
                continue
            times = []
            for _ in range(requests):
                start = time.perf_counter()
                r = await ds.client.get(url)
                times.append((time.perf_counter() - start) * 1000)
                if r.status_code != 200:
                    raise RuntimeError(f"{url}: HTTP {r.status_code}")
            q = statistics.quantiles(times, n=20, method="inclusive")
            out[name] = {
                "url": url,
                "status": 200,
                "n": requests,
                "p50_ms": statistics.median(times),
                "p95_ms": q[18],
            }
        return out

    return {"pages": asyncio.run(timed())}


STAGES: dict[str, Callable[..., dict]] = {
    "normalise": normalise,
    "build": build,
    "pipeline": pipeline,
    "pandas_floor": pandas_floor,
    "validate": validate,
    "datasette": datasette,
}


def main(argv: list[str]) -> int:
    name, args = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    try:
        result = STAGES[name](**args)
    except StageMissing as exc:
        result = {"missing": str(exc)}
    print(RESULT_MARKER + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
