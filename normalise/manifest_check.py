"""A manifest checked against its contract (``manifest.schema.yaml``) before anything is done with it.

A hand-written or damaged manifest used to be read as best it could: without a ``sha256`` column
nothing was normalised and the run still exited 0. Now every column name, every value the contract
constrains, every stored file and every hash the run relies on is checked first, and the first
problems are raised together, naming the file, the row (line) and the column. Nothing is written
before the check passes.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from councilspend.schemas import descriptor

PROCESS_STATUSES = {"new", "changed", "unchanged"}
# The columns the normaliser cannot do without; the contract's other columns may be absent.
NEEDED = ("sha256", "path")
MAX_SHOWN = 10  # problems listed in one error; the count says how many more


class ManifestError(ValueError):
    """The manifest does not meet its contract; the message names the file, row and column."""


def _fields() -> dict[str, dict]:
    return {f["name"]: f for f in descriptor("manifest")["fields"]}


def _needed() -> list[str]:
    fields = _fields()
    required = [n for n, f in fields.items() if (f.get("constraints") or {}).get("required")]
    return [*required, *(n for n in NEEDED if n not in required)]


def _value_problem(value: str, field: dict) -> str | None:
    """What is wrong with one cell under its field's contract (None if nothing)."""
    cons = field.get("constraints") or {}
    if value == "":
        return "is required" if cons.get("required") else None
    if "pattern" in cons and not re.fullmatch(cons["pattern"], value):
        return f"{value!r} does not match the pattern {cons['pattern']}"
    if "enum" in cons and value not in cons["enum"]:
        return f"{value!r} is not one of {', '.join(cons['enum'])}"
    if field.get("type") == "integer":
        if not re.fullmatch(r"-?\d+", value):
            return f"{value!r} is not a whole number"
        if "minimum" in cons and int(value) < cons["minimum"]:
            return f"{value} is below the minimum {cons['minimum']}"
    if field.get("type") == "datetime" and field.get("format"):
        try:
            datetime.strptime(value, field["format"])
        except ValueError:
            return f"{value!r} is not a date-time such as 2026-01-31T09:00:00+0000"
    return None


def _header_problems(columns: list[str]) -> list[str]:
    fields = _fields()
    problems = []
    for col in columns:
        if col not in fields:
            near = difflib.get_close_matches(col, list(fields), n=1, cutoff=0.6)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            problems.append(f"column {col!r} is not a manifest column{hint}")
    for col in _needed():
        if col not in columns:
            problems.append(f"column {col!r} is missing")
    return problems


def _row_problems(row: dict, line: int, base: Path) -> list[str]:
    fields = _fields()
    problems = [
        f"row {line}, column {name}: {problem}"
        for name, value in row.items()
        if name in fields and (problem := _value_problem(value or "", fields[name]))
    ]
    if row.get("status") not in PROCESS_STATUSES:
        return problems
    for name in NEEDED:
        if not row.get(name):
            problems.append(f"row {line}, column {name}: a {row['status']!r} file needs a {name}")
    if row.get("path"):
        stored = base / row["path"]
        if not stored.is_file():
            problems.append(f"row {line}, column path: {row['path']} does not exist (relative to {base})")
        elif (row.get("bytes") or "").isdigit() and int(row["bytes"]) != stored.stat().st_size:
            problems.append(
                f"row {line}, column bytes: {row['bytes']} but {row['path']} has {stored.stat().st_size:,} bytes"
            )
    return problems


def _raise(path: Path, problems: list[str]) -> None:
    if not problems:
        return
    more = f"\n  … and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
    shown = "\n  ".join(problems[:MAX_SHOWN])
    raise ManifestError(
        f"{path} does not meet the manifest contract (councilspend/schemas/manifest.schema.yaml); "
        f"nothing was normalised:\n  {shown}{more}"
    )


def read_entries(path: Path) -> list[dict]:
    """The manifest's rows (text), each with ``abs_path`` and ``line``, once header and values pass."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = [c for c in (reader.fieldnames or [])]
            if not columns:
                raise ManifestError(f"{path} is empty: a manifest starts with a header row of its columns")
            _raise(path, _header_problems(columns))
            rows = []
            for row in reader:
                row = {k: (v or "") for k, v in row.items() if k is not None}
                row["line"] = reader.line_num
                rows.append(row)
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read the manifest: {exc}") from exc
    except csv.Error as exc:
        raise ManifestError(f"{path}: not a readable CSV: {exc}") from exc
    base = path.parent
    problems = [p for row in rows for p in _row_problems(row, row["line"], base)]
    _raise(path, problems)
    for row in rows:
        row["abs_path"] = str((base / row["path"]).resolve()) if row.get("path") else ""
    return rows


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_hashes(path: Path, entries: list[dict]) -> None:
    """Each entry's stored bytes hash to its ``sha256`` (the id of all its outputs), else ManifestError.

    Only the files about to be read are hashed: files normalised before were checked then."""
    problems = []
    # on two threads: hashlib lets go of the GIL while it hashes (10M rows: 1.3 GB of files)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="verify-hash") as pool:
        hashes = list(pool.map(lambda e: file_sha256(Path(e["abs_path"])), entries))
    for e, actual in zip(entries, hashes, strict=True):
        if actual != e["sha256"]:
            problems.append(
                f"row {e.get('line', '?')}, column sha256: {e['sha256'][:12]}… but the bytes of "
                f"{e['path']} hash to {actual[:12]}…"
            )
    _raise(Path(path), problems)
