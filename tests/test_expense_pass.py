"""Pass 2 of the classify step run beside the suppliers classifier (normalise/expense_pass.py): the
same expense keys as keying every row with its payee's sector in hand, and a clean stop on failure."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import normalise.classes as classes
import normalise.expense_pass as expense_pass
from councilspend import rowkeys as keys
from councilspend.normalised import open_normalised
from demo.sample_site import write_sample_normalised
from normalise.categories.context import text_cues
from normalise.expense_pass import (
    SECOND_PROCESS_ROWS,
    ExpensePass,
    ExpensePassError,
    PassInput,
    spill_path,
)


@pytest.fixture(scope="module", params=["in this process", "in a second process"])
def normalised(request, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("expense_pass") / "normalised"
    write_sample_normalised(root, months=2, n_repeats=1)  # public payees among others
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "in a second process":  # the sample is small: start one anyway
            patch.setattr(expense_pass, "SECOND_PROCESS_ROWS", 0)
        classes.classify_crawl(root)
    assert not list((root / "classes").glob(".*"))  # no keys, pairs, job or result file left
    return root


def _keyed_row_by_row(normalised: Path) -> tuple[pa.Table, dict[str, str]]:
    """(the expense keys, the context cues met) as the classify step made them before this pass:
    every row keyed with its payee's sector looked up in ``suppliers.parquet``."""
    nd = open_normalised(normalised)
    out = normalised / "classes"
    services = pq.read_table(out / "categories.parquet").to_pandas()
    services = services[services["kind"] == "service_area"]
    base = pa.concat_tables(keys.distinct(keys.base_parts(t)) for t in nd.iter_tables(keys.SOURCE_COLUMNS))
    bases = classes.classify_bases(keys.distinct(base).to_pandas())
    lookup = keys.ContextLookup(pq.read_table(out / "suppliers.parquet"), services, bases)
    cue_of = keys.CueBook(text_cues)
    parts = [
        keys.distinct(keys.expense_parts(rows, lookup.context(rows), cue_of))
        for rows in nd.iter_tables(keys.SOURCE_COLUMNS)
    ]
    return keys.distinct(pa.concat_tables(parts)), cue_of.seen


def test_the_keys_are_those_of_keying_each_row_with_its_sector(normalised: Path) -> None:
    written = _written_expense_keys(normalised)
    expected, seen = _keyed_row_by_row(normalised)
    assert written.num_rows == expected.num_rows > 0
    assert written.cast(expected.schema).equals(expected)
    cues = pq.read_table(normalised / "classes" / "context_cues.parquet")
    assert dict(zip(cues["text"].to_pylist(), cues["cue"].to_pylist(), strict=True)) == seen
    # the sector is there: a public payee keeps it even where the account alone answers
    assert "public" in written["payee_sector"].to_pylist()


def _pass(normalised: Path, tmp_path: Path, rows: int) -> tuple[ExpensePass, Path]:
    """A pass over ``normalised`` (its keys file remade from ``suppliers.parquet``), in a second
    process when ``rows`` is at least ``SECOND_PROCESS_ROWS``."""
    nd = open_normalised(normalised)
    keys_file = tmp_path / "keys.arrow"
    suppliers = pq.read_table(normalised / "classes" / "suppliers.parquet").select(keys.SUPPLIER_KEY)
    schema = pa.schema([(c, pa.large_string()) for c in keys.SUPPLIER_KEY])
    with pa.OSFile(str(keys_file), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        writer.write_table(suppliers.cast(schema))
    categories = pq.read_table(normalised / "classes" / "categories.parquet").to_pandas()
    services = categories[categories["kind"] == "service_area"]
    bases = categories.iloc[0:0][["value", "council", "code"]].assign(needs_context=True)
    job = PassInput(nd.root, {}, keys_file, services, bases, spill_path(tmp_path))
    return ExpensePass(job, rows=rows), keys_file


def _written_expense_keys(normalised: Path) -> pa.Table:
    categories = pq.read_table(normalised / "classes" / "categories.parquet")
    return categories.filter(pc.equal(categories["kind"], "expense_type")).select(keys.EXPENSE_KEY)


def test_a_classifier_failure_stops_the_second_process_and_leaves_no_files(
    normalised: Path, tmp_path: Path
) -> None:
    expenses, _keys = _pass(normalised, tmp_path, SECOND_PROCESS_ROWS)
    expenses.start()
    expenses.close()  # what classify_crawl's finally does when the classifier raises
    assert expenses._proc is not None and expenses._proc.returncode is not None
    assert not list(tmp_path.glob(".expense-pairs*"))


def test_the_second_process_error_reaches_the_caller(normalised: Path, tmp_path: Path) -> None:
    expenses, keys_file = _pass(normalised, tmp_path, SECOND_PROCESS_ROWS)
    expenses.job.normalised = tmp_path / "no such folder"
    expenses.start()
    try:
        with pytest.raises(ExpensePassError, match="expense pass failed: .*no such folder"):
            expenses.finish(pa.array([], pa.large_string()), classes._payee_cues(keys_file))
    finally:
        expenses.close()
    assert not list(tmp_path.glob(".expense-pairs*"))


def test_a_failed_second_process_is_reported_between_the_classifier_s_slices(
    normalised: Path, tmp_path: Path
) -> None:
    expenses, _keys = _pass(normalised, tmp_path, SECOND_PROCESS_ROWS)
    expenses.job.normalised = tmp_path / "no such folder"
    expenses.start()
    try:
        expenses._proc.wait()
        with pytest.raises(ExpensePassError, match="expense pass failed: .*no such folder"):
            expenses.raise_if_failed()
    finally:
        expenses.close()


def test_the_second_process_writes_the_same_classes_as_this_one(tmp_path: Path) -> None:
    written = {}
    for mode, threshold in (("here", 10**12), ("second", 0)):
        root = tmp_path / mode / "normalised"
        write_sample_normalised(root, months=2, n_repeats=1)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(expense_pass, "SECOND_PROCESS_ROWS", threshold)
            classes.classify_crawl(root)
        names = ("suppliers", "categories", "context_cues", "outturn")
        written[mode] = {n: pq.read_table(root / "classes" / f"{n}.parquet") for n in names}
    for name, table in written["here"].items():
        assert table.num_rows > 0 and table.equals(written["second"][name]), name


def test_the_pass_stops_when_the_classify_step_that_started_it_is_gone(
    normalised: Path, tmp_path: Path
) -> None:
    expenses, _keys = _pass(normalised, tmp_path, 0)
    expenses.job.parent = os.getppid() + 1  # not this process's parent: as if that one was killed
    with pytest.raises(expense_pass.Orphaned, match="is gone"):
        expense_pass.before_sectors(expenses.job)


def test_a_result_left_by_an_earlier_run_is_never_taken_for_this_one(
    normalised: Path, tmp_path: Path
) -> None:
    """A killed run with the same process id (containers reuse them) left its spill and result; this
    run's second process is killed before it answers: an error, not the old keys."""
    expenses, keys_file = _pass(normalised, tmp_path, SECOND_PROCESS_ROWS)
    expenses._result_file.write_text('{"seen": {}}', encoding="utf-8")
    with pa.OSFile(str(expenses.job.spill), "wb") as sink:
        pa.ipc.new_stream(sink, pa.schema([("position", pa.int64())])).close()
    expenses.start()
    expenses._proc.kill()
    try:
        with pytest.raises(ExpensePassError, match="exit code -9 and no result"):
            expenses.finish(pa.array([], pa.large_string()), classes._payee_cues(keys_file))
    finally:
        expenses.close()


def test_the_second_process_runs_this_code_whatever_the_working_directory_holds(
    normalised: Path, tmp_path: Path, monkeypatch
) -> None:
    """``python -m`` would put the working directory first on the path: an old checkout there would
    answer instead of this code."""
    shadow = tmp_path / "cwd" / "normalise"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("", encoding="utf-8")
    (shadow / "expense_pass.py").write_text("raise SystemExit('the shadow copy ran')\n", encoding="utf-8")
    monkeypatch.chdir(shadow.parent)
    expenses, keys_file = _pass(normalised, tmp_path, SECOND_PROCESS_ROWS)
    expenses.start()
    try:
        sectors = read_sectors_of(normalised)
        got, _seen = expenses.finish(sectors, classes._payee_cues(keys_file))
    finally:
        expenses.close()
    assert got.num_rows > 0


def read_sectors_of(normalised: Path) -> pa.Array:
    return expense_pass.read_sectors(normalised / "classes" / "suppliers.parquet")


def test_an_orphaned_pass_removes_its_files_and_writes_no_result(normalised: Path, tmp_path: Path) -> None:
    expenses, _keys = _pass(normalised, tmp_path, 0)
    expenses.job.parent = os.getppid() + 1  # as if the classify step had been killed
    expenses.job.outturn = tmp_path / ".outturn.parquet.1"
    job_file, result_file = tmp_path / "pass.job", tmp_path / "pass.result"
    job_file.write_bytes(pickle.dumps(expenses.job))
    assert expense_pass.child_main([str(job_file), str(result_file)]) == 1
    assert not job_file.exists() and not result_file.exists() and not expenses.job.spill.exists()


def test_the_classify_step_removes_what_killed_runs_left(normalised: Path) -> None:
    out = normalised / "classes"
    gone = 2**22 + 12345  # above Linux's default pid_max: no such process
    while psutil.pid_exists(gone):
        gone += 1
    stale = [out / f".payee-keys.arrow.{gone}", out / f".expense-pairs.arrow.{gone}.result"]
    live = out / f".expense-pairs.arrow.{os.getppid()}"  # another classify step, still running
    for path in (*stale, live):
        path.write_bytes(b"x")
    try:
        classes.classify_crawl(normalised, force=True)
        assert [p for p in stale if p.exists()] == [] and live.exists()
    finally:
        live.unlink(missing_ok=True)
