"""Pass 2 of the classify step, the expense keys, run in a second process beside the suppliers classifier.

Why: the suppliers classifier is Python on one core, and for its whole run (half the classify step)
the other core had nothing to do while the expense pass waited for it, then read every row again.
An expense key needs the payee's sector only at the end (``rowkeys.expense_parts_with_sector``: to
keep or drop the sector and the service's words), so a second process reads and keys the rows while
the classifier runs, and writes the distinct (payee, everything else) pairs of each batch to an Arrow
file; once the sectors are known each pair gets its payee's sector, and the pairs become the expense
keys. Same keys, same order. (A thread was tried first: the pass holds the GIL most of the time, so
at 10M rows the classifier slowed by as much as the pass saved.)

A payee is its position in the payee keys file: ``suppliers.parquet`` is written in that order.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from councilspend import rowkeys as keys
from councilspend.council_rows import CouncilRows

log = logging.getLogger(__name__)


#: Each payee key's name code, and (the payee cue, the transfer cue) of each name (``classes._payee_cues``).
PayeeCues = tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]


class Orphaned(RuntimeError):
    """The second process outlived the classify step that started it (killed, not stopped)."""


class ExpensePassError(RuntimeError):
    """The second process failed; the message says how."""


@dataclass
class PassInput:
    """What the second process is given (pickled to it)."""

    normalised: Path
    unreadable: dict[str, str]  # files pass 1 could not read: skipped again, not reported again
    keys_file: Path
    services: pd.DataFrame
    bases: pd.DataFrame
    spill: Path
    registers_db: Path | None = None  # Revenue Outturn is read here too: it needs no payee either
    outturn: Path | None = None  # where that is written (Parquet); None: not read
    parent: int | None = None  # the classify step's process: when it is gone, the pass stops


def keys_file_rows(keys_file: Path) -> CouncilRows:
    """The payee keys file as :class:`CouncilRows`, each key with its ``position`` in the file.

    Read a record batch at a time into memory, not mapped: the classifier maps the same file, and
    pages mapped by both processes would count twice in their memory."""
    reader = pa.ipc.open_file(pa.OSFile(str(keys_file)))
    sizes = [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)]
    if not sum(sizes):
        empty = pa.table({c: pa.array([], pa.large_string()) for c in keys.SUPPLIER_KEY})
        return CouncilRows.of_table(empty.append_column("position", pa.array([], pa.int64())))
    starts = np.cumsum([0, *sizes])

    def read(i: int) -> pa.Table:
        position = pa.array(np.arange(starts[i], starts[i + 1], dtype=np.int64))
        return pa.Table.from_batches([reader.get_batch(i)]).append_column("position", position)

    return CouncilRows(read, sizes, (reader.get_batch(i).column("council") for i in range(len(sizes))))


def before_sectors(job: PassInput) -> dict[str, str]:
    """The second process's work: every batch's distinct pairs to ``job.spill``; returns the context
    cues it met (``rowkeys.CueBook.seen``, which the classify step writes out).

    The payee's cues are left blank here, like its sector: the parent knows each key's name
    (``classes._payee_cues``) and adds them with the sector."""
    from councilspend.memory import use_jemalloc
    from councilspend.normalised import open_normalised
    from normalise.categories.context import text_cues

    use_jemalloc()
    nd = open_normalised(job.normalised)
    nd.unreadable.update(job.unreadable)
    cue_of = keys.CueBook(text_cues)
    lookup = keys.ContextLookup(keys_file_rows(job.keys_file), job.services, job.bases)
    writer = None
    try:
        for rows in nd.iter_tables(keys.SOURCE_COLUMNS):
            if job.parent is not None and os.getppid() != job.parent:
                raise Orphaned(f"the classify step (process {job.parent}) is gone")
            payees = lookup.window(rows)
            at = payees.positions(keys.supplier_parts(rows))
            pairs = keys.expense_parts_before_sector(rows, lookup.context(rows, at=at, payees=payees), cue_of)
            pairs = keys.distinct(pairs.append_column("position", pc.take(payees.column("position"), at)))
            if writer is None:
                writer = pa.ipc.new_stream(str(job.spill), pairs.schema)
            writer.write_table(pairs)
        if writer is None:  # no rows at all: an empty stream, so the parent has something to read
            writer = pa.ipc.new_stream(str(job.spill), pa.schema([("position", pa.int64())]))
    finally:
        if writer is not None:
            writer.close()
    if job.outturn is not None:
        from normalise.reference import outturn_for

        outturn_for(job.registers_db).to_parquet(job.outturn, index=False)
    return cue_of.seen


#: Below this many rows the pass runs in this process after the classifier: starting an interpreter
#: (~1 s) would cost more than the overlap saves.
SECOND_PROCESS_ROWS = 200_000


class ExpensePass:
    """:meth:`start` the second process, then :meth:`finish` with the sectors; :meth:`close` always.

    The process is a fresh interpreter (``python -P -c _CHILD ROOT JOB RESULT``), not a fork: this
    one may have threads, and ``multiprocessing``'s spawn re-runs the caller's main script. Small
    crawls run the same work in this process, in :meth:`finish`."""

    def __init__(self, job: PassInput, rows: int) -> None:
        self.job = job
        self.second_process = rows >= SECOND_PROCESS_ROWS
        self._job_file = job.spill.with_name(job.spill.name + ".job")
        self._result_file = job.spill.with_name(job.spill.name + ".result")
        self._proc: subprocess.Popen | None = None

    def start(self) -> None:
        if not self.second_process:
            return
        self.job.parent = os.getpid()
        # a killed run with this process id (containers reuse them) may have left a result behind
        for path in (self.job.spill, self._result_file, self.job.outturn):
            if path is not None:
                path.unlink(missing_ok=True)
        self._job_file.write_bytes(pickle.dumps(self.job))
        root = str(Path(__file__).resolve().parents[1])  # this checkout, or the installation's folder
        self._proc = subprocess.Popen(
            [sys.executable, "-P", "-c", _CHILD, root, str(self._job_file), str(self._result_file)],
            stdin=subprocess.DEVNULL,
        )

    def finish(self, sectors: pa.Array, payee_cues: PayeeCues) -> tuple[pa.Table, dict[str, str]]:
        """(the distinct expense keys (:data:`~councilspend.rowkeys.EXPENSE_KEY`) in first-seen order,
        the context cues met). ``sectors``: each payee key's sector in keys-file order, nulls allowed;
        ``payee_cues``: each key's name code, and the payee and transfer cues of each name."""
        seen = self._result() if self.second_process else before_sectors(self.job)
        codes = pa.array(payee_cues[0])
        cue, transfer = (pa.array(c, pa.large_string()) for c in payee_cues[1])
        out = []
        # read a batch at a time into memory, not mapped: mapped pages stay resident until the file is
        # closed (at 50M rows the classify step peaked here at 2.3 GB; read like this, 0.87 GB)
        with pa.OSFile(str(self.job.spill)) as source:
            for batch in pa.ipc.open_stream(source):
                pairs = pa.Table.from_batches([batch])
                name = pc.take(codes, pairs["position"])
                payee_cue = pc.if_else(pairs["needs_context"], pc.take(cue, name), pc.take(transfer, name))
                pairs = pairs.set_column(
                    pairs.schema.get_field_index("payee_cue"), "payee_cue", pc.fill_null(payee_cue, "")
                )
                sector = pc.fill_null(pc.take(sectors, pairs["position"]), "unknown")
                out.append(keys.distinct(keys.expense_parts_with_sector(pairs, sector)))
        return keys.concat_distinct(out, keys.EXPENSE_KEY), seen

    def raise_if_failed(self) -> None:
        """Raise the second process's error now if it has already failed, rather than at :meth:`finish`,
        after the whole suppliers classifier (minutes at national scale)."""
        if self._proc is not None and self._proc.poll() not in (None, 0):
            self._result()

    def _result(self) -> dict[str, str]:
        assert self._proc is not None
        code = self._proc.wait()
        try:
            result = json.loads(self._result_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            result = {}
        if "error" in result:
            raise ExpensePassError(f"the expense pass failed: {result['error']}")
        if code != 0 or "seen" not in result:
            raise ExpensePassError(f"the expense pass's process ended with exit code {code} and no result")
        return result["seen"]

    def close(self) -> None:
        """Stop the process if it still runs, and remove its files."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        for path in (self.job.spill, self._job_file, self._result_file, self.job.outturn):
            if path is not None:
                path.unlink(missing_ok=True)


#: The second process's command (``python -P -c _CHILD ROOT JOB RESULT``): the parent's code folder first
#: on the path, and not the working directory (``-P``), whose own ``normalise/`` would shadow it.
_CHILD = (
    "import sys\n"
    "root = sys.argv.pop(1)\n"
    "if root not in sys.path:\n"
    "    sys.path.insert(0, root)\n"
    "from normalise.expense_pass import child_main\n"
    "sys.exit(child_main(sys.argv[1:]))\n"
)


def child_main(argv: list[str]) -> int:
    """The second process's entry: ``JOB RESULT``."""
    try:
        return _main(argv[0], argv[1])
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: the parent reports it
        return 130


def _main(job_file: str, result_file: str) -> int:
    """The second process: run :func:`before_sectors` and write its result (or its error) as JSON."""
    job: PassInput | None = None
    try:
        job = pickle.loads(Path(job_file).read_bytes())
        result = {"seen": before_sectors(job)}
    except Orphaned:  # nobody will read a result: remove what this process wrote, and stop
        for path in (Path(job_file), job.spill if job else None, job.outturn if job else None):
            if path is not None:
                path.unlink(missing_ok=True)
        return 1
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the parent as a message
        log.exception("expense pass failed")
        result = {"error": f"{type(exc).__name__}: {exc}"}
    Path(result_file).write_text(json.dumps(result), encoding="utf-8")
    return 0 if "seen" in result else 1


def read_sectors(suppliers: Path) -> pa.Array:
    """Each payee key's sector from ``suppliers.parquet`` (in keys-file order), nulls kept."""
    column = pq.read_table(suppliers, columns=["sector"])["sector"]
    return keys.one_array(column if column.type == pa.large_string() else column.cast(pa.large_string()))


def spill_path(out: Path) -> Path:
    return Path(out) / f".expense-pairs.arrow.{os.getpid()}"


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
