"""`councilspend bench` end to end at a small size, so it cannot rot. No timing assertions."""

from __future__ import annotations

import json
import sqlite3
import sys

import pytest
from click.testing import CliRunner

from benchmarks.measure import MeasureError, run_measured
from benchmarks.report import verdict
from benchmarks.run import METRIC_KEYS, TARGETS, targets_for


@pytest.fixture(scope="module")
def bench_result(tmp_path_factory):
    from councilspend.cli import main

    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "bench.json"
    result = CliRunner().invoke(
        main,
        [
            "bench",
            "--rows",
            "2000",
            "--months",
            "1",
            "--workers",
            "2",
            "--json",
            str(out),
            "--work-dir",
            str(tmp / "work"),
            "--keep",
            "--datasette-requests",
            "5",
            "--frictionless-sample",
            "500",
        ],
    )
    assert result.exit_code == 0, result.output + repr(result.exception)
    return json.loads(out.read_text(encoding="utf-8")), result.output, tmp / "work"


def test_json_has_every_metric_as_a_number(bench_result):
    data, _, _ = bench_result
    assert list(data["metrics"]) == METRIC_KEYS
    # Every stage exists, so every metric is measured: a "not measured: …" here is a real failure.
    for key, value in data["metrics"].items():
        assert isinstance(value, int | float), (key, value)
    assert data["machine"]["cores"] >= 1
    assert data["versions"]["pandas"] and data["versions"]["sqlite-utils"]
    assert data["data"]["rows"] == 2000
    assert set(data["targets"]) == set(TARGETS)


def test_baselines_loaded_the_same_rows(bench_result):
    data, _, work = bench_result
    for key in ("sqlite_utils_seconds", "pandas_floor_seconds", "sqlite_utils_peak_rss_mb"):
        assert isinstance(data["metrics"][key], float), key
    for db in ("sqlite-utils.db", "pandas.db"):
        with sqlite3.connect(work / db) as conn:
            assert conn.execute("select count(*) from payments").fetchone()[0] == 2000


def test_pipeline_figures_when_the_stages_exist(bench_result):
    data, _, work = bench_result
    m = data["metrics"]
    # The stages exist, so the pipeline must run on the generated files (a failure is a real bug).
    assert isinstance(m["pipeline_seconds"], float), (m["pipeline_seconds"], data["notes"])
    assert (work / "data" / "councilspend.db").exists()
    assert m["pipeline_peak_rss_mb"] > 10
    assert isinstance(m["pipeline_vs_sqlite_utils"], float)
    assert isinstance(m["rerun_share"], float)
    assert isinstance(m["speedup_2_workers"], float)
    # The build's own stage log comes back with the figures: where a national build's time goes.
    stages = data["stages"]["pipeline"]["build_stages"]
    names = [s["stage"] for s in stages]
    assert (
        names[0] == "classify (normalise.classes)"
        and "payments shaped" in names
        and "payments written" in names
        and "payment indexes (waited for)" in names
    )
    assert all(s["seconds"] >= 0 and s["cpu_seconds"] >= 0 and s["rss_mb"] > 10 for s in stages)
    assert any(n.startswith("build stages: classify") for n in data["notes"])


def test_table_printed(bench_result):
    _, output, _ = bench_result
    assert "pipeline_vs_sqlite_utils" in output and "cores" in output


def test_verdicts():
    assert verdict("pipeline_vs_sqlite_utils", 5.0) == "met"
    assert verdict("pipeline_vs_sqlite_utils", 3.0) == "MISSED"
    assert verdict("rerun_share", 0.01) == "met"
    assert verdict("rerun_share", "not measured: x") == "?"
    assert verdict("generate_seconds", 1.0) == ""
    # a national-scale run (50M rows) declares its own memory target: 2 GB, not 1.5 GB
    assert verdict("pipeline_peak_rss_mb", 1700.0) == "MISSED"
    assert verdict("pipeline_peak_rss_mb", 1700.0, targets_for(50_000_000)) == "met"
    assert verdict("pipeline_peak_rss_mb", 2100.0, targets_for(50_000_000)) == "MISSED"
    assert targets_for(1_000_000) == TARGETS


def test_measure_reports_the_childs_own_peak_memory(tmp_path):
    big = run_measured(
        [sys.executable, "-c", "x = bytearray(150 * 2**20); print('BENCH-RESULT {\"ok\": 1}')"],
        tmp_path,
        "big",
    )
    small = run_measured([sys.executable, "-c", "pass"], tmp_path, "small")
    assert big.peak_rss_bytes > 150 * 2**20 > small.peak_rss_bytes
    assert big.result == {"ok": 1}
    with pytest.raises(MeasureError, match="exited 3"):
        run_measured([sys.executable, "-c", "import sys; sys.exit(3)"], tmp_path, "fails")


def test_refuses_to_empty_a_directory_it_did_not_make(tmp_path):
    from councilspend.cli import main

    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "thesis.txt").write_text("do not delete", encoding="utf-8")
    result = CliRunner().invoke(main, ["bench", "--rows", "100", "--work-dir", str(precious)])
    assert result.exit_code == 2 and "not made by" in result.output
    assert (precious / "thesis.txt").exists()


def test_skip_baselines_times_only_our_own_runs(tmp_path):
    """The 50M run's mode: the pipeline and its re-run are measured, no baseline is run at all."""
    from councilspend.cli import main

    out = tmp_path / "bench.json"
    result = CliRunner().invoke(
        main,
        [
            "bench",
            "--rows",
            "500",
            "--months",
            "1",
            "--workers",
            "1",
            "--json",
            str(out),
            "--skip-baselines",
            "--skip-datasette",
            "--work-dir",
            str(tmp_path / "work"),
        ],
    )
    assert result.exit_code == 0, result.output + repr(result.exception)
    m = json.loads(out.read_text(encoding="utf-8"))["metrics"]
    assert isinstance(m["pipeline_seconds"], float) and isinstance(m["rerun_share"], float)
    for key in (
        "sqlite_utils_seconds",
        "pandas_floor_seconds",
        "validate_vs_frictionless",
        "speedup_2_workers",
    ):
        assert str(m[key]).startswith("not measured"), (key, m[key])
