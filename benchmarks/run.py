"""Run every benchmark on the same generated data in one go and collect the figures.

Every figure that is compared is measured in the same run on the same rows, because these
machines are shared and noisy: only ratios are believable. Each run happens in its own process
(``benchmarks.measure``) so its peak memory is its own. A stage whose code does not exist yet is
reported as "not measured (stage missing: ...)", never estimated.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import shutil
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import psutil

from benchmarks.generate import Generated, generate
from benchmarks.measure import Measured, MeasureError, run_measured

MB = 1024 * 1024

# metric -> (comparison, target, what it means)
TARGETS: dict[str, tuple[str, float, str]] = {
    "pipeline_vs_sqlite_utils": (">=", 4.0, "sqlite-utils insert --csv time / pipeline time"),
    "pipeline_vs_pandas_floor": ("<=", 2.0, "pipeline time / bare pandas read_csv + to_sql time"),
    "validate_vs_frictionless": (">=", 10.0, "normalise.validate rows/s / frictionless validate rows/s"),
    "rerun_share": ("<=", 0.05, "no-change re-run time / full run time"),
    "pipeline_peak_rss_mb": ("<=", 1536.0, "largest process during the pipeline (target is at 10M rows)"),
    "datasette_council_page_p95_ms": ("<=", 100.0, "council page p95"),
    "datasette_supplier_page_p95_ms": ("<=", 100.0, "supplier page p95"),
    "datasette_league_table_p95_ms": ("<=", 100.0, "league table p95"),
    "datasette_payments_table_p95_ms": ("<=", 1000.0, "unfiltered payments table page p95 (default facets)"),
}

#: Above this many rows the run is a national-scale one (the 50M run): its memory target is 2 GB.
NATIONAL_ROWS = 10_000_000


def targets_for(rows: int) -> dict[str, tuple[str, float, str]]:
    """The targets a run of ``rows`` rows declares: :data:`TARGETS`, with the peak-memory target of a
    national-scale run (≤ 2 GB at 50M rows) above :data:`NATIONAL_ROWS`."""
    if rows <= NATIONAL_ROWS:
        return dict(TARGETS)
    peak = ("<=", 2048.0, "largest process during the pipeline (target above 10M rows, the 50M run)")
    return {**TARGETS, "pipeline_peak_rss_mb": peak}


# Every key the JSON carries under "metrics" (value: a number, or "not measured: <why>").
METRIC_KEYS = [
    "generate_seconds",
    "pipeline_seconds",
    "pipeline_normalise_seconds",
    "pipeline_build_seconds",
    "pipeline_rows_per_second",
    "pipeline_peak_rss_mb",
    "pipeline_peak_tree_rss_mb",
    "sqlite_utils_seconds",
    "sqlite_utils_peak_rss_mb",
    "pandas_floor_seconds",
    "pandas_floor_peak_rss_mb",
    "pipeline_vs_sqlite_utils",
    "pipeline_vs_pandas_floor",
    "validate_rows_per_second",
    "frictionless_rows_per_second",
    "frictionless_sample_rows",
    "validate_vs_frictionless",
    "rerun_seconds",
    "rerun_share",
    "normalise_1_worker_seconds",
    "normalise_2_workers_seconds",
    "speedup_2_workers",
    "datasette_council_page_p50_ms",
    "datasette_council_page_p95_ms",
    "datasette_supplier_page_p50_ms",
    "datasette_supplier_page_p95_ms",
    "datasette_league_table_p50_ms",
    "datasette_league_table_p95_ms",
    "datasette_payments_table_p50_ms",
    "datasette_payments_table_p95_ms",
]

VERSIONED = [
    "councilspend",
    "pandas",
    "pyarrow",
    "numpy",
    "frictionless",
    "sqlite-utils",
    "datasette",
    "python-calamine",
    "dask",
    "distributed",
    "psutil",
]


@dataclass
class Options:
    rows: int = 1_000_000
    workers: int = 2
    work_dir: Path | None = None
    keep: bool = False
    skip_datasette: bool = False
    skip_baselines: bool = False
    datasette_requests: int = 30
    frictionless_sample: int = 100_000
    councils: int | None = None
    months: int | None = None
    seed: int = 0


def not_measured(why: str) -> str:
    return f"not measured: {why}"


def machine() -> dict:
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
    }


def versions() -> dict[str, str]:
    out = {}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _py_stage(name: str, **args) -> list[str]:
    import json

    return [sys.executable, "-m", "benchmarks.stages", name, json.dumps(args)]


def _mb(n: int) -> float:
    return round(n / MB, 1)


class Bench:
    """One benchmark run; ``step`` callbacks drive the progress display."""

    def __init__(
        self,
        opts: Options,
        on_step: Callable[[str], None] | None = None,
        on_file: Callable[[int], None] | None = None,
    ):
        self.opts = opts
        self.on_step = on_step or (lambda _s: None)
        self.on_file = on_file
        self.metrics: dict[str, float | str] = {}
        self.details: dict[str, dict] = {}
        self.notes: list[str] = []

    # -- helpers -------------------------------------------------------------------------------
    def _measure(self, name: str, cmd: list[str]) -> Measured | str:
        """Run a stage; return the measurement, or a "not measured" string saying why."""
        self.on_step(name)
        try:
            m = run_measured(cmd, self.work / "logs", name)
        except MeasureError as exc:
            self.notes.append(f"{name} failed: {str(exc)[-600:]}")
            return not_measured(f"{name} failed (see notes)")
        if m.result and "missing" in m.result:
            return not_measured(f"stage missing ({m.result['missing']})")
        self.details[name] = {
            "seconds": round(m.seconds, 3),
            "peak_rss_mb": _mb(m.peak_rss_bytes),
            "peak_tree_rss_mb": _mb(m.peak_tree_rss_bytes),
            **(m.result or {}),
        }
        return m

    def _set(self, key: str, value: float | str) -> None:
        self.metrics[key] = round(value, 4) if isinstance(value, float) else value

    def _ratio(self, key: str, a: float | str, b: float | str) -> None:
        if isinstance(a, str):
            self._set(key, a)
        elif isinstance(b, str):
            self._set(key, b)
        elif b <= 0:
            self._set(key, not_measured("zero denominator"))
        else:
            self._set(key, a / b)

    # -- the run ---------------------------------------------------------------------------------
    def run(self) -> dict:
        o = self.opts
        self.work = Path(o.work_dir) if o.work_dir else Path.cwd() / "build" / "bench"
        prepare_work_dir(self.work)
        try:
            self._run()
        finally:
            if not o.keep:
                shutil.rmtree(self.work, ignore_errors=True)
        for key in METRIC_KEYS:
            self.metrics.setdefault(key, not_measured("not reached"))
        return {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "versions": versions(),
            "options": {
                "rows": o.rows,
                "workers": o.workers,
                "councils": o.councils,
                "months": o.months,
                "seed": o.seed,
                "frictionless_sample": o.frictionless_sample,
                "datasette_requests": o.datasette_requests,
            },
            "data": self.data_summary,
            "metrics": {k: self.metrics[k] for k in METRIC_KEYS},
            "targets": {
                k: {"op": op, "value": v, "meaning": m} for k, (op, v, m) in targets_for(o.rows).items()
            },
            "stages": self.details,
            "notes": self.notes,
        }

    def _run(self) -> None:
        o = self.opts
        import time

        self.on_step("generate")
        start = time.perf_counter()
        data_dir = self.work / "data"
        gen = generate(
            data_dir, o.rows, councils=o.councils, months=o.months, seed=o.seed, on_file=self.on_file
        )
        self._set("generate_seconds", time.perf_counter() - start)
        self.data_summary = _data_summary(gen)

        self._pipeline(gen)
        if o.skip_baselines:
            self.notes.append(
                "--skip-baselines: no sqlite-utils, pandas floor, frictionless or 1/2-worker runs"
            )
        else:
            self._baselines(gen)
            self._validate(gen)
        self._rerun(gen)
        if not o.skip_baselines:
            self._workers(gen)
        self._datasette(gen)

    def _pipeline(self, gen: Generated) -> None:
        m = self._measure(
            "pipeline",
            _py_stage(
                "pipeline", data_dir=str(gen.root), workers=self.opts.workers, registry=str(gen.councils_yml)
            ),
        )
        self.pipeline = m
        if isinstance(m, str):
            for key in (
                "pipeline_seconds",
                "pipeline_normalise_seconds",
                "pipeline_build_seconds",
                "pipeline_rows_per_second",
                "pipeline_peak_rss_mb",
                "pipeline_peak_tree_rss_mb",
            ):
                self._set(key, m)
            return
        r = m.result or {}
        self._set("pipeline_seconds", m.seconds)
        self._set("pipeline_normalise_seconds", float(r["normalise_seconds"]))
        self._set("pipeline_build_seconds", float(r["build_seconds"]))
        self._set("pipeline_rows_per_second", gen.rows / m.seconds)
        self._set("pipeline_peak_rss_mb", _mb(m.peak_rss_bytes))
        self._set("pipeline_peak_tree_rss_mb", _mb(m.peak_tree_rss_bytes))
        if r.get("rows") != gen.rows:
            self.notes.append(f"pipeline kept {r.get('rows')} rows of {gen.rows} generated")
        if r.get("build_stages"):
            self.notes.append(
                "build stages: "
                + " · ".join(
                    f"{s['stage']} {s['seconds']:.1f} s, CPU {s['cpu_seconds']:.1f} s ({s['rss_mb']} MB)"
                    for s in r["build_stages"]
                )
            )

    def _baselines(self, gen: Generated) -> None:
        sqlite_utils = shutil.which("sqlite-utils", path=str(Path(sys.executable).parent)) or "sqlite-utils"
        su = self._measure(
            "sqlite_utils",
            [
                sqlite_utils,
                "insert",
                str(self.work / "sqlite-utils.db"),
                "payments",
                str(gen.plain_csv),
                "--csv",
            ],
        )
        pf = self._measure(
            "pandas_floor",
            _py_stage("pandas_floor", csv_path=str(gen.plain_csv), db_path=str(self.work / "pandas.db")),
        )
        for key, m in (("sqlite_utils", su), ("pandas_floor", pf)):
            self._set(f"{key}_seconds", m if isinstance(m, str) else m.seconds)
            self._set(f"{key}_peak_rss_mb", m if isinstance(m, str) else _mb(m.peak_rss_bytes))
        p = self.metrics["pipeline_seconds"]
        self._ratio("pipeline_vs_sqlite_utils", self.metrics["sqlite_utils_seconds"], p)
        self._ratio("pipeline_vs_pandas_floor", p, self.metrics["pandas_floor_seconds"])

    def _validate(self, gen: Generated) -> None:
        if isinstance(self.pipeline, str):
            for key in (
                "validate_rows_per_second",
                "frictionless_rows_per_second",
                "frictionless_sample_rows",
                "validate_vs_frictionless",
            ):
                self._set(key, not_measured("needs the normalised rows of the pipeline run"))
            return
        m = self._measure(
            "validate",
            _py_stage(
                "validate",
                normalised_dir=str(gen.root / "normalised"),
                sample_rows=self.opts.frictionless_sample,
                work_dir=str(self.work),
            ),
        )
        if isinstance(m, str):
            for key in (
                "validate_rows_per_second",
                "frictionless_rows_per_second",
                "frictionless_sample_rows",
                "validate_vs_frictionless",
            ):
                self._set(key, m)
            return
        r = m.result or {}
        ours = r["rows"] / max(r["seconds"], 1e-9)
        theirs = r["frictionless_rows"] / max(r["frictionless_seconds"], 1e-9)
        self._set("validate_rows_per_second", ours)
        self._set("frictionless_rows_per_second", theirs)
        self._set("frictionless_sample_rows", float(r["frictionless_rows"]))
        self._set("validate_vs_frictionless", ours / theirs)
        if r["frictionless_rows"] < r["rows"]:
            self.notes.append(
                f"frictionless validated a sample of {r['frictionless_rows']} of {r['rows']} canonical rows; "
                "its rate is per row"
            )

    def _rerun(self, gen: Generated) -> None:
        if isinstance(self.pipeline, str):
            self._set("rerun_seconds", self.pipeline)
            self._set("rerun_share", self.pipeline)
            return
        m = self._measure(
            "rerun",
            _py_stage(
                "pipeline", data_dir=str(gen.root), workers=self.opts.workers, registry=str(gen.councils_yml)
            ),
        )
        self._set("rerun_seconds", m if isinstance(m, str) else m.seconds)
        if not isinstance(m, str):
            before = (self.pipeline.result or {}).get("normaliser_version")
            after = (m.result or {}).get("normaliser_version")
            if before != after:
                self.notes.append(
                    f"the normaliser's version changed between the full run and the re-run ({before} -> {after}): "
                    "code or rules were edited during the bench, so the re-run normalised everything again"
                )
        self._ratio("rerun_share", self.metrics["rerun_seconds"], self.metrics["pipeline_seconds"])

    def _workers(self, gen: Generated) -> None:
        """Normalise alone at 1 and 2 workers; the pipeline run already gives one of them."""
        times: dict[int, float | str] = {}
        if not isinstance(self.pipeline, str) and self.opts.workers in (1, 2):
            times[self.opts.workers] = float(self.pipeline.result["normalise_seconds"])
        for w in (1, 2):
            if w in times:
                continue
            m = self._measure(
                f"normalise_{w}_worker",
                _py_stage(
                    "normalise",
                    manifest=str(gen.manifest),
                    out_dir=str(self.work / f"normalised-w{w}"),
                    workers=w,
                ),
            )
            times[w] = m if isinstance(m, str) else float(m.result["seconds"])
            shutil.rmtree(self.work / f"normalised-w{w}", ignore_errors=True)
        self._set("normalise_1_worker_seconds", times[1])
        self._set("normalise_2_workers_seconds", times[2])
        self._ratio("speedup_2_workers", times[1], times[2])

    def _datasette(self, gen: Generated) -> None:
        keys = ["council_page", "supplier_page", "league_table", "payments_table"]
        if self.opts.skip_datasette:
            for k in keys:
                for q in ("p50", "p95"):
                    self._set(f"datasette_{k}_{q}_ms", not_measured("--skip-datasette"))
            return
        db = gen.root / "councilspend.db"
        why = None if db.exists() else "no database (the pipeline did not build one)"
        urls = None
        if why is None:
            urls, why = page_urls(db, gen)
        m = why and not_measured(why)
        if urls:
            m = self._measure(
                "datasette",
                _py_stage("datasette", db_path=str(db), requests=self.opts.datasette_requests, urls=urls),
            )
        pages = {} if isinstance(m, str) else (m.result or {}).get("pages", {})
        for k in keys:
            page = pages.get(k, {})
            for q in ("p50", "p95"):
                if isinstance(m, str):
                    self._set(f"datasette_{k}_{q}_ms", m)
                elif f"{q}_ms" in page:
                    self._set(f"datasette_{k}_{q}_ms", float(page[f"{q}_ms"]))
                else:
                    self._set(
                        f"datasette_{k}_{q}_ms",
                        not_measured(f"{page.get('url')} returned HTTP {page.get('status')}"),
                    )


MARKER = ".councilspend-bench"


class WorkDirError(ValueError):
    """The work directory holds files the bench did not write; it is never emptied."""


def prepare_work_dir(work: Path) -> None:
    """Empty ``work`` if an earlier bench made it (it has the marker file); refuse any other non-empty dir."""
    if work.exists() and any(work.iterdir()):
        if not (work / MARKER).exists():
            raise WorkDirError(
                f"{work}: not empty and not made by `councilspend bench`; choose another --work-dir"
            )
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    (work / MARKER).write_text("made by councilspend bench; emptied by its next run\n", encoding="utf-8")


def page_urls(db: Path, gen: Generated) -> tuple[dict[str, str] | None, str | None]:
    """URLs of the three pages people look at, for the busiest council and supplier in ``db``."""
    from benchmarks.pages import pages_for

    try:
        return pages_for(db), None
    except LookupError as exc:
        return None, str(exc)


def _data_summary(gen: Generated) -> dict:
    return {
        "rows": gen.rows,
        "files": gen.files,
        "councils": len(gen.councils),
        "bytes": gen.bytes,
        "rows_by_shape": gen.rows_by_shape,
    }
