"""Classify a crawl's payees and categories once, after its files are normalised (stage 3).

The classifiers (``normalise.suppliers``, ``normalise.categories``) run once per DISTINCT key over
every counted file: a council publishes the same payee thousands of times. What they decide is
written under contracts for the build to join back by key (``councilspend/rowkeys.py``), so the
build reads files and never calls a classifier:

- ``normalised/classes/suppliers.parquet``  (contract ``classes/suppliers``)
- ``normalised/classes/categories.parquet`` (contract ``classes/categories``)
- ``normalised/classes/outturn.parquet``    (contract ``classes/outturn``: Revenue Outturn, M3's denominator)
- ``normalised/classes/stamp.json``         (what they were computed from)

Nothing is recomputed when the rows, the registers database and the classifiers' code and rules are
unchanged since the last run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from councilspend import rowkeys as keys
from councilspend.memory import fix_mmap_threshold, release_memory, use_jemalloc
from councilspend.normalised import NormalisedDir, open_normalised
from normalise.expense_pass import ExpensePass, PassInput, PayeeCues, read_sectors, spill_path
from normalise.payee_keys import PayeeKeyFile

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
#: Code and rules whose change changes a classification.
CODE_DIRS = [HERE / "suppliers", HERE / "categories", HERE / "reference"]
#: Files whose change changes what is written (the keys, the columns).
CODE_FILES = [
    HERE / "classes.py",
    HERE / "expense_pass.py",
    HERE / "payee_keys.py",
    HERE.parent / "councilspend" / "rowkeys.py",
]
CODE_SUFFIXES = {".py", ".yml", ".yaml", ".csv", ".txt"}
SUPPLIER_OUT = [
    "supplier_id",
    "canonical_name",
    "sector",
    "subsector",
    "confidence",
    "evidence",
    "payee_cue",
    "payee_transfer_cue",
]
#: ``context_division``/``context_cue``: on service rows, what an expense under that service is keyed
#: on (``councilspend/rowkeys.py`` EXPENSE_CONTEXT); "" on expense rows.
CATEGORY_OUT = [
    "label",
    "confidence",
    "rule",
    "evidence",
    "transfer_kind",
    "context_division",
    "context_cue",
    "needs_context",
]
Progress = Callable[[str, int, int], None]
#: Pass 1 keys batches of this many rows, two at a time on threads: Arrow's kernels release the GIL,
#: so both cores work (1M rows: 0.88 -> 0.61 s).
PASS1_ROWS = 60_000
PASS1_THREADS = 2


def classes_dir(normalised: Path) -> Path:
    return Path(normalised) / "classes"


def classify_crawl(
    normalised: Path,
    registers_db: Path | None = None,
    *,
    force: bool = False,
    council_companies: Iterable[Path] = (),
    progress: Progress | None = None,
) -> Path:
    """Write ``normalised/classes/`` for the counted files of ``normalised``; return that folder.

    ``registers_db`` (supplier registers and Revenue Outturn) is optional: without it the classifiers
    use their bundled registers and rules, and M3 has no denominator. ``council_companies``: the
    user's own lists of council-owned companies (CSV ``name,council_id[,company_number]``).
    """
    use_jemalloc()
    fix_mmap_threshold()
    normalised = Path(normalised)
    out = classes_dir(normalised)
    companies = [Path(p) for p in council_companies]
    stamp = inputs_stamp(normalised, registers_db, companies)
    if not force and is_current(normalised, stamp):
        log.info("classes in %s are current; kept them", out)
        return out
    nd = open_normalised(normalised)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out)
    (out / "stamp.json").unlink(missing_ok=True)  # the files below are written one by one
    # Payees and services first: an expense is classified with its payee's sector and its service.
    keys_file = out / f".payee-keys.arrow.{os.getpid()}"
    svc_keys, base_keys = distinct_keys(nd, keys_file, progress)
    try:
        release_memory()  # pass 1's batches and hash tables, before the classifier's own
        services = classify_services(svc_keys)
        bases = classify_bases(base_keys)
        exp_keys, seen = _suppliers_and_expense_keys(
            nd, out, keys_file, services, bases, registers_db, companies
        )
    finally:
        keys_file.unlink(missing_ok=True)
    # the build keys expenses from this record of the context cues, calling no classifier
    _write(out, "context_cues", pd.DataFrame({"text": list(seen), "cue": list(seen.values())}))
    categories = pd.concat([classify_expenses(exp_keys), services], ignore_index=True)[
        keys.CATEGORY_KEY + CATEGORY_OUT
    ]
    _write(out, "categories", categories)
    (out / "stamp.json").write_text(json.dumps(stamp, indent=1), encoding="utf-8")
    release_memory()
    return out


def _suppliers_and_expense_keys(
    nd: NormalisedDir,
    out: Path,
    keys_file: Path,
    services: pd.DataFrame,
    bases: pd.DataFrame,
    registers_db: Path | None,
    companies: list[Path],
) -> tuple[pd.DataFrame, dict[str, str]]:
    """``suppliers.parquet`` written, and (the distinct expense keys, the context cues met).

    Pass 2 (the expense keys) reads the rows in a second process while the suppliers classifier
    runs: it needs the payees' sectors only at its end (``normalise/expense_pass.py``)."""
    name_codes, payee_cues = _payee_cues(keys_file)
    outturn = out / f".outturn.parquet.{os.getpid()}"
    job = PassInput(
        nd.root, dict(nd.unreadable), keys_file, services, bases, spill_path(out), registers_db, outturn
    )
    expenses = ExpensePass(job, rows=nd.counted_rows)
    try:
        expenses.start()
        # the ids, names and evidence are written slice by slice and not kept (millions at national scale)
        _write_suppliers(
            out, keys_file, registers_db, companies, (name_codes, payee_cues), expenses.raise_if_failed
        )
        release_memory()
        sectors = read_sectors(out / "suppliers.parquet")
        exp_keys, seen = expenses.finish(sectors, (name_codes, payee_cues))
        os.replace(outturn, out / "outturn.parquet")
    finally:
        expenses.close()
    return exp_keys.to_pandas(), seen


def _write_suppliers(
    out: Path,
    keys_file: Path,
    registers_db: Path | None,
    companies: list[Path],
    payee_cues: PayeeCues,
    between_slices: Callable[[], None] = lambda: None,
) -> None:
    """``out/suppliers.parquet`` written a slice of payee keys at a time (``classify_in_slices``), in
    the keys' order (by council, as pass 2 and the build read it); ``between_slices`` may raise to stop."""
    from normalise.suppliers.classify import classify_in_slices

    tmp = out / f".suppliers.parquet.{os.getpid()}"
    writer: pq.ParquetWriter | None = None
    try:
        name_codes, cues = payee_cues
        done = 0
        for part in classify_in_slices(keys_file, registers_db, council_companies=companies):
            between_slices()
            frame = supplier_columns(part, (name_codes[done : done + len(part)], *cues))
            done += len(part)
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table.cast(writer.schema))
        if writer is None:  # no payees at all
            none = pd.DataFrame({c: pd.Series(dtype="str") for c in keys.SUPPLIER_KEY})
            classify_suppliers(none, registers_db, companies).to_parquet(tmp, index=False)
        else:
            writer.close()
            writer = None
        os.replace(tmp, out / "suppliers.parquet")
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)


def _payee_cues(keys_file: Path) -> PayeeCues:
    """(each payee key's distinct name, (the payee cue, the transfer cue) of each distinct name).

    Why once, before the slices: a payee paid by many councils is a key in many slices, and at
    national scale there are dozens of slices and a fraction as many distinct names as keys.
    """
    from normalise.categories.context import payee_cues_and_transfers

    with pa.memory_map(str(keys_file)) as source:
        # encoded chunk by chunk against one dictionary: no combined copy of every name (at 50M rows
        # that copy took the step's peak from 0.85 to 1.3 GB)
        encoded = pc.dictionary_encode(pa.ipc.open_file(source).read_all()["supplier_name"])
    if not encoded.num_chunks:
        return np.zeros(0, np.int32), (np.zeros(0, object), np.zeros(0, object))
    codes = np.concatenate([chunk.indices.to_numpy(zero_copy_only=False) for chunk in encoded.chunks])
    names = encoded.chunk(0).dictionary  # the same in every chunk
    del encoded
    cue, transfer = payee_cues_and_transfers(pd.Series(names.to_pylist(), dtype=object))
    return codes, (cue.to_numpy(dtype=object), transfer.to_numpy(dtype=object))


def _write(out: Path, name: str, frame: pd.DataFrame) -> None:
    """``out/<name>.parquet``, replaced atomically."""
    tmp = out / f".{name}.parquet.{os.getpid()}"
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, out / f"{name}.parquet")


def remove_stale_temps(out: Path) -> None:
    """Delete what a killed classify step left in ``out`` (``.<name>.<pid>``, ``.<name>.<pid>.job``):
    files of a process that is gone, or of this one (a process id comes round again in containers)."""
    for path in out.glob(".*"):
        pid = re.search(r"\.(\d+)(?:\.job|\.result)?$", path.name)
        if pid and (int(pid.group(1)) == os.getpid() or not psutil.pid_exists(int(pid.group(1)))):
            path.unlink(missing_ok=True)


def is_current(normalised: Path, stamp: dict) -> bool:
    path = classes_dir(normalised) / "stamp.json"
    names = ("suppliers.parquet", "categories.parquet", "outturn.parquet", "context_cues.parquet")
    if not path.exists() or not all((path.parent / n).exists() for n in names):
        return False
    try:
        return json.loads(path.read_text(encoding="utf-8")) == stamp
    except (OSError, ValueError):
        return False


def inputs_stamp(normalised: Path, registers_db: Path | None, council_companies: list[Path] = ()) -> dict:
    """The rows files, registers database and classifier code a set of classes was computed from."""
    normalised = Path(normalised)
    files_csv = normalised / "files.csv"
    rows = sorted((normalised / "rows").glob("*.parquet")) if (normalised / "rows").exists() else []
    registers = Path(registers_db) if registers_db else None
    return {
        "files_csv": hashlib.sha256(files_csv.read_bytes()).hexdigest() if files_csv.exists() else None,
        "rows": [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in rows],
        "registers": (
            [str(registers), registers.stat().st_size, registers.stat().st_mtime_ns]
            if registers and registers.exists()
            else None
        ),
        "council_companies": [
            [str(p), hashlib.sha256(p.read_bytes()).hexdigest()] for p in council_companies
        ],
        "code": code_digest(),
    }


def code_digest() -> str:
    h = hashlib.sha256()
    for root in CODE_DIRS:
        for p in sorted(root.rglob("*")):
            if p.suffix in CODE_SUFFIXES and "__pycache__" not in p.parts:
                h.update(p.relative_to(root.parent).as_posix().encode())
                h.update(p.read_bytes())
    for p in CODE_FILES:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def distinct_keys(
    nd: NormalisedDir, keys_file: Path, progress: Progress | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pass 1: distinct payee, service and expense-words keys over every counted file (Arrow, by batch).

    The payee keys (millions at national scale) go to the Arrow file ``keys_file`` a council at a time
    (``normalise/payee_keys.py``): the suppliers classifier reads them back memory-mapped. The service
    and expense-words keys (thousands) are returned.
    """
    sup = PayeeKeyFile(keys_file)
    svc, base = [], []
    done, total = 0, len(nd.counted)
    pending: deque[Future] = deque()

    def take_next() -> None:  # in batch order: the keys file is written in first-seen order
        nonlocal done
        payees, services, bases, files = pending.popleft().result()
        sup.add(payees)
        svc.append(services)
        base.append(bases)
        if progress:  # files done: counted only for a progress bar
            done += files
            progress("Reading payees and services", done, total)

    try:
        with ThreadPoolExecutor(PASS1_THREADS, thread_name_prefix="pass-1") as pool:
            for rows in nd.iter_tables(keys.SOURCE_COLUMNS + ["source_sha256"], min_rows=PASS1_ROWS):
                pending.append(pool.submit(_batch_keys, rows))
                if len(pending) > PASS1_THREADS:
                    take_next()
            while pending:
                take_next()
        sup.close()
    except BaseException:
        sup.abort()
        raise
    return (
        keys.concat_distinct(svc, keys.SERVICE_KEY).to_pandas(),
        keys.concat_distinct(base, ["value", "council", "code"]).to_pandas(),
    )


def _batch_keys(rows: pa.Table) -> tuple[pa.Table, pa.Table, pa.Table, int]:
    """A batch's distinct payee, service and expense-words keys, and how many files it holds."""
    return (
        keys.distinct(keys.supplier_parts(rows)),
        keys.distinct(keys.service_parts(rows)),
        keys.distinct(keys.base_parts(rows)),
        pc.count_distinct(rows["source_sha256"]).as_py(),
    )


def classify_bases(distinct: pd.DataFrame) -> pd.DataFrame:
    """Whether each expense's words alone answer with confidence (``needs_context`` false) or the
    row's context may change the answer: what its publish key keeps (``rowkeys.expense_parts``)."""
    from normalise.categories.classify import decide_value
    from normalise.categories.context import needs_context

    out = distinct.copy()
    out["needs_context"] = [
        needs_context(*decide_value("expense_type", v, c)[:3])
        for v, c in zip(out["value"], out["code"], strict=True)
    ]
    return out


def _text(s: pd.Series) -> pd.Series:
    """Strings with missing values as "" so that they can be join keys."""
    return s.astype("string").fillna("")


def classify_suppliers(
    distinct: pd.DataFrame, registers_db: Path | None, council_companies: list[Path] = ()
) -> pd.DataFrame:
    """The suppliers classifier on distinct payee keys; every row gets a supplier id and a sector."""
    from normalise.suppliers import classify_suppliers as classify

    # No defensive copy: the classifier returns a new frame.
    return supplier_columns(
        classify(distinct, registers_db=registers_db, council_companies=council_companies)
    )


def supplier_columns(
    out: pd.DataFrame, cues: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
) -> pd.DataFrame:
    """The classifier's answers for payee keys as the contract ``classes/suppliers`` has them: payee
    cues added, text blanks as "", a local id for payees no register knows. ``cues``: each row's
    name code and the payee cue and transfer cue of each code (:func:`_payee_cues`), when known."""
    missing = [
        c for c in SUPPLIER_OUT if c not in out.columns and c not in ("payee_cue", "payee_transfer_cue")
    ]
    if missing:
        raise RuntimeError(f"normalise.suppliers.classify_suppliers returned no {', '.join(missing)}")
    from normalise.categories.context import payee_cues_and_transfers

    if cues is None:
        # each distinct name once (a payee paid by many councils is many keys); a missing name has no cue
        codes, names = pd.factorize(out["supplier_name"])
        cue, transfer = payee_cues_and_transfers(pd.Series(names, dtype=object))
        cues = (
            codes,
            np.asarray([*cue.tolist(), ""], dtype=object),
            np.asarray([*transfer.tolist(), ""], dtype=object),
        )
    out["payee_cue"] = cues[1][cues[0]]
    out["payee_transfer_cue"] = cues[2][cues[0]]
    out = out[keys.SUPPLIER_KEY + SUPPLIER_OUT]
    for col in [
        *keys.SUPPLIER_KEY,
        "supplier_id",
        "canonical_name",
        "subsector",
        "evidence",
        "payee_cue",
        "payee_transfer_cue",
    ]:
        out[col] = _text(out[col])
    out["sector"] = _text(out["sector"]).replace("", "unknown")
    blank_id = out["supplier_id"] == ""
    out.loc[blank_id, "supplier_id"] = [local_id(n) for n in out.loc[blank_id, "supplier_name"]]
    out["canonical_name"] = out["canonical_name"].where(out["canonical_name"] != "", out["supplier_name"])
    out["confidence"] = pd.to_numeric(out["confidence"], errors="coerce").astype("float64")
    return out


def local_id(name: str) -> str:
    """An id for a payee no register knows: stable across runs and councils for the same name."""
    return "local-" + hashlib.sha1(name.casefold().encode()).hexdigest()[:12]


def classify_services(distinct: pd.DataFrame) -> pd.DataFrame:
    """The categories classifier on distinct service keys, plus what an expense under each service is
    keyed on: its division when a service prior reads it, and the words the transfer rules read."""
    from normalise.categories.context import prior_division, service_cue

    frame = distinct[keys.SERVICE_KEY].assign(
        kind="service_area", code="", **dict.fromkeys(keys.EXPENSE_CONTEXT, "")
    )
    out = _categories(frame)
    out["context_division"] = [prior_division(d) for d in out["label"]]
    out["context_cue"] = [service_cue(v) for v in out["value"]]
    out["needs_context"] = False
    return out


def classify_expenses(distinct: pd.DataFrame) -> pd.DataFrame:
    """The categories classifier on distinct expense keys with their row context (rowkeys.EXPENSE_CONTEXT):
    the payee's sector and name words, the service's division and words, capital or revenue."""
    frame = distinct.assign(kind="expense_type").rename(
        columns={"payee_cue": "payee_name", "service_cue": "service"}
    )
    out = _categories(frame).rename(columns={"payee_name": "payee_cue", "service": "service_cue"})
    out["context_division"] = ""
    out["context_cue"] = ""
    from normalise.categories.classify import decide_value
    from normalise.categories.context import needs_context

    out["needs_context"] = [
        needs_context(*decide_value("expense_type", v, c)[:3])
        for v, c in zip(out["value"], out["code"], strict=True)
    ]
    return out


def classify_categories(distinct: pd.DataFrame) -> pd.DataFrame:
    """The categories classifier on distinct keys (``kind`` expense_type or service_area), for callers
    that have no row context: the context columns are blank."""
    parts = []
    for kind, frame in distinct.groupby("kind", sort=False):
        frame = frame.drop(columns="kind")
        if kind == "service_area":
            parts.append(classify_services(frame[keys.SERVICE_KEY]))
        else:
            for col in keys.EXPENSE_KEY:
                if col not in frame.columns:
                    frame[col] = ""
            parts.append(classify_expenses(frame[keys.EXPENSE_KEY]))
    empty = pd.DataFrame({c: pd.Series(dtype="object") for c in keys.CATEGORY_KEY + CATEGORY_OUT})
    return pd.concat(parts, ignore_index=True)[keys.CATEGORY_KEY + CATEGORY_OUT] if parts else empty


def _categories(frame: pd.DataFrame) -> pd.DataFrame:
    from normalise.categories import classify_categories as classify

    out = classify(frame.copy())
    for col in ("label", "confidence", "rule", "evidence", "transfer_kind"):
        if col not in out.columns:
            raise RuntimeError(f"normalise.categories.classify_categories returned no {col}")
    for col in out.columns:
        if col not in ("confidence", "needs_context"):
            out[col] = _text(out[col])
    out["label"] = out["label"].replace("", "unknown")
    out["confidence"] = pd.to_numeric(out["confidence"], errors="coerce").astype("float64")
    return out
