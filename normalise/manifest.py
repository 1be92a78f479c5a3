"""Normalise a whole crawl: one manifest row -> rows Parquet + report JSON; then decide which files
count, so that every payment is counted once.

- **Incremental**: a file whose outputs exist for the same sha256 and normaliser version is not
  read again.
- **Superseded**: the crawl marks older versions of a URL; their rows are kept on disk but not
  counted.
- **Overlap**: two files of one council holding the same rows (a quarter file and its month files,
  a re-publication under a new URL) are detected by row fingerprints; the file whose rows are
  contained in another is marked ``overlap`` and not counted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from councilspend.schemas import descriptor, field_names
from normalise.manifest_check import PROCESS_STATUSES, read_entries, verify_hashes
from normalise.pipeline import NORMALISER_VERSION, normalise_file

FILES_FIELDS = field_names("published/files")
_INTEGER_FIELDS = [f["name"] for f in descriptor("published/files")["fields"] if f.get("type") == "integer"]
OVERLAP_SHARE = 0.95  # share of a file's rows found in another file for it to count as contained
KEY_FIELDS = ["payment_date", "period_start", "amount", "supplier_name", "transaction_ref"]


def _version() -> str:
    return NORMALISER_VERSION


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)


def _quality(report: dict) -> int | None:
    code = report.get("code_2015") or {}
    if not code:
        return None
    return round(100 * sum(bool(v) for v in code.values()) / len(code))


def files_row(entry: dict, report: dict) -> dict:
    """The files.csv row for one normalised file (status decided later for overlap/superseded)."""
    kind = report.get("kind", "rejected")
    counted = kind in ("payments", "card")
    problems = [  # code and rows too, so the site can group a code's files (councilspend/problem_codes.yml)
        {k: p[k] for k in ("severity", "code", "message", "rows") if k in p}
        for p in report.get("problems", [])
    ][:20]
    code = report.get("code_2015") or {}
    reason = ""
    if kind == "rejected":
        reason = report.get("error") or "rejected"
    elif not counted:
        reason = f"{kind.replace('_', ' ')}: {report.get('kind_reason', '')}"
    return {
        "sha256": entry.get("sha256") or report.get("sha256", ""),
        "council_id": entry.get("council_id") or report.get("council_id") or "unknown",
        "url": entry.get("url", ""),
        "file_name": entry.get("file_name") or Path(str(entry.get("path", ""))).name,
        "kind": kind,
        "status": "counted" if counted else "rejected",
        "reason": reason,
        "rows_read": report.get("rows_read", 0),
        "rows_kept": report.get("rows_kept", 0),
        "rows_rejected": report.get("rows_rejected", 0),
        "total_pence": report.get("total_pence", 0) if counted else 0,
        "period_start": report.get("period_start") or "",
        "period_end": report.get("period_end") or "",
        "quality_score": _quality(report),
        "problems": json.dumps(problems),
        "fetched_at": entry.get("fetched_at", ""),
        "code_fields_present": sum(bool(v) for v in code.values()) if code else None,
        "code_fields_missing": ", ".join(k for k, v in code.items() if not v),
        "redacted_rows": report.get("redacted_rows", 0) if counted else None,
    }


def url_key(url: str) -> str:
    """The files.csv key of a file that was never stored: sha256 of ``url:<url>``."""
    return hashlib.sha256(f"url:{url}".encode()).hexdigest()


def _declared_charset(content_type: str) -> str | None:
    m = re.search(r"charset=([\w-]+)", content_type or "", re.I)
    return m.group(1).lower() if m else None


def current_report(sha: str, out_dir: Path) -> dict | None:
    """The report of ``sha``'s outputs when both exist and this normaliser version wrote them."""
    rows_path = Path(out_dir) / "rows" / f"{sha}.parquet"
    report_path = Path(out_dir) / "reports" / f"{sha}.json"
    if not (sha and rows_path.exists() and report_path.exists()):
        return None
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # unreadable previous output: normalise again
    return report if report.get("normaliser_version") == _version() else None


def is_current(sha: str, out_dir: Path) -> bool:
    return current_report(sha, out_dir) is not None


def normalise_one(entry: dict, out_dir: Path) -> dict:
    """Normalise one manifest row; write ``rows/<sha256>.parquet`` and ``reports/<sha256>.json``.

    ``entry`` holds the manifest fields; ``entry["abs_path"]`` is the file's absolute path (else
    ``path`` is used as is). Pure and picklable: safe for a process pool or a Dask worker.
    Never raises on a bad file: the report says what was wrong.
    """
    out_dir = Path(out_dir)
    sha = entry.get("sha256") or ""
    if report := current_report(sha, out_dir):
        return files_row(entry, report)
    path = Path(entry.get("abs_path") or entry.get("path") or "")
    result = normalise_file(path, council_id=entry.get("council_id") or None, sha256=sha or None)
    report = result.report
    report["normaliser_version"] = _version()
    declared = _declared_charset(entry.get("content_type", ""))
    found = report.get("encoding")
    if (
        declared
        and found
        and declared.replace("-", "") not in found.replace("-", "")
        and not (declared in ("utf-8", "utf8") and found == "utf-8-sig")
    ):
        report.setdefault("warnings", []).append(
            f"the server declared charset {declared} but the bytes are {found}; read as {found}"
        )
    sha = sha or report.get("sha256", "")
    rows_path = out_dir / "rows" / f"{sha}.parquet"
    report_path = out_dir / "reports" / f"{sha}.json"
    rows_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(rows_path, lambda p: write_rows(result.rows, p))
    _atomic_write(
        report_path, lambda p: p.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    )
    return files_row(entry, report)


_UNIQUE_COLUMNS = frozenset({"amount", "transaction_ref", "source_row"})
_SCHEMAS: dict[tuple, pa.Schema] = {}  # Arrow schema (with pandas metadata) per column dtypes


def write_rows(rows: pd.DataFrame, path: Path) -> None:
    """The rows as Parquet, written by pyarrow directly: the same table as ``DataFrame.to_parquet``
    writes (pandas metadata included, so ``pd.read_parquet`` gives back the same dtypes) at a third of the
    cost. Every file has the same columns and dtypes, so the schema pandas works out is computed once
    and the columns' own Arrow arrays are handed over as they are."""
    key = tuple((str(name), str(dtype)) for name, dtype in rows.dtypes.items())
    schema = _SCHEMAS.get(key) if len(rows) else None
    table = None
    if schema is not None:
        try:
            table = pa.Table.from_arrays([_arrow_column(s) for _, s in rows.items()], schema=schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            table = None  # an unusual column type: let pandas convert it
    if table is None:
        table = pa.Table.from_pandas(rows, preserve_index=False, nthreads=1)
        if len(rows):
            _SCHEMAS[key] = table.schema
    # no dictionary for the columns that are (nearly) unique per row: the writer would build one,
    # find it too big and write plain anyway (a third of its time, and larger files)
    dictionary = [name for name in table.column_names if name not in _UNIQUE_COLUMNS]
    pq.write_table(table, path, use_dictionary=dictionary)


def _arrow_column(s: pd.Series) -> pa.Array | pa.ChunkedArray:
    arr = s.array
    if hasattr(arr, "_pa_array"):
        return arr._pa_array
    # pandas' own conversion makes a NaN null; so must this path, or a file's bytes (and what Arrow
    # readers see: a NaN value instead of a missing one) would depend on which file a process wrote first
    return pa.array(s.to_numpy(), from_pandas=True)


def _row_keys(rows_path: Path) -> np.ndarray:
    try:
        df = pd.read_parquet(rows_path, columns=KEY_FIELDS)
    except (OSError, ValueError):
        return np.zeros(0, dtype=np.uint64)
    return pd.util.hash_pandas_object(df, index=False).to_numpy()


def mark_overlaps(files: list[dict], out_dir: Path) -> None:
    """Within each council, a counted file whose rows are (almost) all in another counted file with
    at least as many rows is marked ``overlap``: its payments are already counted there."""
    by_council: dict[str, list[dict]] = {}
    for f in files:
        if f["status"] == "counted":
            by_council.setdefault(f["council_id"], []).append(f)
    keys: dict[str, np.ndarray] = {}

    def key_of(f: dict) -> np.ndarray:
        # read lazily: a council's month files do not meet each other, so most are never read
        if f["sha256"] not in keys:
            keys[f["sha256"]] = _row_keys(out_dir / "rows" / f"{f['sha256']}.parquet")
        return keys[f["sha256"]]

    for group in by_council.values():
        if len(group) < 2:
            continue
        keys.clear()  # one council's fingerprints in memory at a time
        # bigger files first, so a quarter file is kept and its month files marked
        # (ties: the newest fetch is kept, the older copy marked; then the lower sha256, so that which
        # copy counts never depends on the order files were normalised in, or a killed run before)
        group.sort(key=lambda f: f["sha256"])
        group.sort(key=lambda f: f.get("fetched_at") or "", reverse=True)
        group.sort(key=lambda f: -int(f.get("rows_kept") or 0))
        for i, small in enumerate(group):
            for big in group[:i]:
                if big["status"] != "counted" or not _periods_meet(small, big):
                    continue
                k_small = key_of(small)
                if not len(k_small):
                    break
                share = np.isin(k_small, key_of(big)).mean()
                if share >= OVERLAP_SHARE:
                    small["status"] = "overlap"
                    small["reason"] = (
                        f"{share:.0%} of its rows are also in {big['file_name'] or big['sha256'][:12]} "
                        f"({big['sha256'][:12]}), which is counted instead"
                    )
                    break


def _periods_meet(a: dict, b: dict) -> bool:
    if not (a["period_start"] and b["period_start"]):
        return True
    return a["period_start"] <= b["period_end"] and b["period_start"] <= a["period_end"]


def normalise_manifest(
    manifest: Path, out_dir: Path, *, workers: int = 1, progress: bool = True
) -> list[dict]:
    """Normalise every new/changed/unchanged file of a crawl and write ``out_dir/files.csv``."""
    manifest, out_dir = Path(manifest), Path(out_dir)
    entries = read_entries(manifest)  # the contract, checked before anything is written
    todo: dict[str, dict] = {}
    files: dict[str, dict] = {}
    for e in entries:
        sha = e.get("sha256", "")
        if not sha:
            # Nothing stored (the crawler rejected an HTML page, or the fetch failed): still listed,
            # so nothing disappears silently, keyed by the hash of its URL.
            if e.get("status") in ("rejected", "failed") and e.get("url"):
                key = url_key(e["url"])
                row = files_row(
                    {**e, "sha256": key}, {"kind": "rejected", "error": e.get("error") or e["status"]}
                )
                files.setdefault(key, row)
            continue
        status = e.get("status", "")
        if status in PROCESS_STATUSES and e["abs_path"]:
            todo.setdefault(sha, e)
        elif sha not in files and sha not in todo:
            report = {"kind": "rejected", "error": e.get("error") or status}
            row = files_row(e, report)
            if status == "superseded":
                # its rows stay on disk if they were normalised before, but are not counted
                row["status"], row["reason"] = "superseded", f"replaced by {e.get('superseded_by', '')[:12]}"
                prev = out_dir / "reports" / f"{sha}.json"
                if prev.exists():
                    old = files_row(e, json.loads(prev.read_text(encoding="utf-8")))
                    row.update(
                        {
                            k: old[k]
                            for k in (
                                "kind",
                                "rows_read",
                                "rows_kept",
                                "rows_rejected",
                                "period_start",
                                "period_end",
                                "quality_score",
                            )
                        }
                    )
            files[sha] = row
    # Files whose outputs are current are listed from their reports here: no worker is started for
    # them (a re-run with nothing new starts none).
    reports = {sha: current_report(sha, out_dir) for sha in todo}
    stale = [e for sha, e in todo.items() if reports[sha] is None]
    verify_hashes(manifest, stale)
    out_dir.mkdir(parents=True, exist_ok=True)
    for sha, report in reports.items():
        if report is not None:
            files[sha] = files_row(todo[sha], report)
    for row in _run(stale, out_dir, workers, progress):
        files[row["sha256"]] = row
    out = list(files.values())
    mark_overlaps(out, out_dir)
    out.sort(key=lambda r: (r["council_id"], r["period_start"] or "", r["sha256"]))
    df = pd.DataFrame(out, columns=FILES_FIELDS)
    for name in _INTEGER_FIELDS:
        if name in df:
            df[name] = pd.to_numeric(df[name], errors="coerce").astype("Int64")
    _atomic_write(out_dir / "files.csv", lambda p: df.to_csv(p, index=False))
    return out


def warm_rules() -> None:
    """Load and compile every rule file now (synonyms, kinds, redaction, authorities, Code fields):
    each is cached per process, so forked workers start with them instead of re-parsing the YAML."""
    from normalise import council, kinds, redaction, report
    from normalise.columns import load_synonyms

    load_synonyms()
    kinds.rules()
    redaction._rules()
    council._index()
    report.code_rules()


def _run(entries: list[dict], out_dir: Path, workers: int, progress: bool) -> list[dict]:
    from rich.progress import Progress

    results: list[dict] = []
    with Progress(disable=not progress, transient=False) as bar:
        task = bar.add_task("normalising", total=len(entries))
        if workers <= 1 or len(entries) <= 1:
            for e in entries:
                results.append(normalise_one(e, out_dir))
                bar.advance(task)
            return results
        warm_rules()  # loaded once here, inherited by the forked workers
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(normalise_one, e, out_dir): e for e in entries}
            for fut in as_completed(futures):
                e = futures[fut]
                try:
                    results.append(fut.result())
                except Exception as exc:  # a crashed worker must not lose the other files
                    results.append(files_row(e, {"kind": "rejected", "error": f"worker failed: {exc}"}))
                bar.advance(task)
    return results
