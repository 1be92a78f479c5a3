"""Any council file -> canonical payment rows + a report. Entry points used by other stages:

- :func:`normalise_file` one file, in memory;
- ``normalise.manifest.normalise_one`` / ``normalise_manifest``: a manifest row, a whole crawl.

This module is one file: read its tables (``readers``), normalise each (``table``), decide the
file's kind and council, and report. A whole crawl is :mod:`normalise.manifest`, which imports this
module (never the reverse).
"""

from __future__ import annotations

import hashlib
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from councilspend import sniff as sniff_mod
from councilspend.sniff import SniffError
from normalise import council as council_mod
from normalise.canonical import PAYMENT_FIELDS, empty_rows
from normalise.header import HeaderError
from normalise.readers import ReadError, read_tables
from normalise.report import build_report, empty_report
from normalise.rows import const_array
from normalise.table import ROW_KINDS, TableResult, normalise_table
from normalise.validate import validate_rows

__all__ = ["FileResult", "NORMALISER_VERSION", "PAYMENT_FIELDS", "empty_rows", "normalise_file"]

RULES_VERSION = "1"  # bump by hand for a change the digest below cannot see (e.g. a library upgrade)


def _version() -> str:
    """Rules version + digest of this package's code and rule files: outputs written by another
    version are normalised again by the incremental crawl run."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for path in sorted([*here.glob("*.py"), *here.glob("*.yml"), Path(sniff_mod.__file__)]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"{RULES_VERSION}-{digest.hexdigest()[:12]}"


NORMALISER_VERSION = _version()


@dataclass
class FileResult:
    """Canonical rows (payment schema columns, in order), the report, the file kind and the exact
    total in pence (sum of the rows' amounts, never of floats)."""

    rows: pd.DataFrame
    report: dict
    kind: str
    total_pence: int = 0


# ------------------------------------------------------------------------------------- one file


def normalise_file(
    path: Path,
    *,
    council_id: str | None = None,
    sha256: str | None = None,
    registry: list[dict] | None = None,
) -> FileResult:
    """Normalise one file. Never raises on bad input: the reason goes in ``report["error"]`` and the
    kind is ``rejected``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        report = empty_report(path.name, sha256 or "", f"cannot read file: {exc}")
        return FileResult(empty_rows(), report, "rejected")
    sha256 = sha256 or hashlib.sha256(data).hexdigest()
    try:
        return _normalise_bytes(
            data, path.name, council_id=council_id, sha256=sha256, registry=registry, folder=path.parent.name
        )
    except (SniffError, ReadError, HeaderError) as exc:
        report = empty_report(path.name, sha256, str(exc))
        return FileResult(empty_rows(), report, "rejected")
    except Exception as exc:  # a bug must not lose other files' data: report it, with where
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        msg = f"internal error {type(exc).__name__}: {exc} (at {Path(tb.filename).name}:{tb.lineno})"
        report = empty_report(path.name, sha256, msg)
        return FileResult(empty_rows(), report, "rejected")


def _normalise_bytes(
    data: bytes,
    name: str,
    *,
    council_id: str | None,
    sha256: str,
    registry: list[dict] | None,
    folder: str = "",
) -> FileResult:
    fmt, tables = read_tables(data)
    results, skipped = _tables(tables, name, sha256, council_id, registry)
    kind = _file_kind(results)
    # a workbook's card sheet next to its payments sheet: both kept (card rows are flagged is_card)
    kept = [r for r in results if r.kind in ROW_KINDS and r.rows is not None]
    if kind in ROW_KINDS and kept:
        rows = pd.concat([r.rows for r in kept], ignore_index=True)
        pence = np.concatenate([r.pence for r in kept])
    else:
        rows, pence = empty_rows(), np.zeros(0, np.int64)
    # council identity: the caller's id wins; the file's own content is the cross-check
    content_id, evidence = _council_from_file(results, name, folder, registry)
    final_id = council_id or content_id or council_mod.UNKNOWN
    if len(rows):
        rows["council_id"] = const_array(final_id, len(rows))  # Arrow buffers, not n Python strings
    _registry_threshold(results, final_id, registry)
    report = build_report(
        name=name,
        sha256=sha256,
        fmt=fmt,
        tables=tables,
        results=results,
        skipped=skipped,
        kind=kind,
        rows=rows,
        pence=pence,
        council_id=final_id,
        given_council=council_id,
        content_council=content_id,
        normaliser_version=NORMALISER_VERSION,
    )
    report["council_evidence"] = evidence
    if list(rows.columns) != PAYMENT_FIELDS:  # build_rows and empty_rows already give this order
        rows = rows[PAYMENT_FIELDS]
    _add_schema_check(report, rows, name, folder)
    total = int(pence.sum()) if kind in ROW_KINDS else 0
    return FileResult(rows, report, kind, total)


def _tables(
    tables: list, name: str, sha256: str, council_id: str | None, registry: list[dict] | None
) -> tuple[list[TableResult], list[dict]]:
    """Each table normalised; in a workbook a sheet without a header is listed, not fatal."""
    results: list[TableResult] = []
    skipped: list[dict] = []
    for table in tables:
        try:
            results.append(normalise_table(table, name, sha256, council_id, registry))
        except HeaderError as exc:
            if table.sheet is None or len(tables) == 1:
                raise
            skipped.append({"sheet": table.sheet, "reason": str(exc)})
    if not results:
        raise HeaderError("no sheet has a recognisable header: " + "; ".join(s["reason"] for s in skipped))
    return results, skipped


def _council_from_file(
    results: list[TableResult], name: str, folder: str, registry: list[dict] | None
) -> tuple[str | None, str]:
    """Who published the file, from the file alone: a council column, else the preamble, the file
    name, the folder name (in that order: the nearer the data, the more it is to be believed)."""
    for r in results:
        if r.info.get("council_from_content"):
            return r.info["council_from_content"], r.info.get("council_evidence", "")
    preamble = " ".join(line for r in results for line in r.info.get("preamble", []))
    return council_mod.identify_from_names(preamble, name, folder, registry)


def _registry_threshold(results: list[TableResult], council_id: str, registry: list[dict] | None) -> None:
    """The threshold the council publishes above: stated in the file, else the registry's."""
    for entry in registry or []:
        if str(entry.get("id") or entry.get("council_id") or "") == council_id and entry.get("threshold"):
            for r in results:
                r.info["threshold"] = r.info.get("threshold") or int(entry["threshold"])


def _add_schema_check(report: dict, rows: pd.DataFrame, name: str, folder: str) -> None:
    """Every output row is checked against the payment contract; misfits are problems, not silence.

    An unidentified council is the caller's to supply (the crawl always does), not a fault in the
    file, so it is a warning that says what was looked at; any other misfit is an error.
    """
    errors = validate_rows(rows, limit=100) if len(rows) else []
    report["schema_errors"] = errors
    others = [e for e in errors if e["fieldName"] != "council_id"]
    if report.get("council_id") == council_mod.UNKNOWN:
        looked = f"no council/organisation column, and neither the preamble, the file name {name!r}"
        looked += f" nor the folder {folder!r} names one" if folder else " names one"
        report.setdefault("problems", []).insert(
            0,
            {
                "severity": "warning",
                "code": "council_unknown",
                "rule": "councilspend payment schema",
                "message": f"cannot tell which council published {name}: {looked}. Add a column such as "
                "'Body Name' or 'Organisation URI', or give the council (--council NAME_OR_CODE)",
            },
        )
    if not others:
        return
    first = others[0]
    message = (
        f"{len(others)}{'+' if len(errors) >= 100 else ''} value{'s do' if len(others) != 1 else ' does'} not fit "
        "the canonical payment "
        f"schema (first: row {first['rowNumber']}, field {first['fieldName']}: {first['note']})"
    )
    report.setdefault("problems", []).insert(
        0, {"severity": "error", "code": "schema", "rule": "councilspend payment schema", "message": message}
    )


def _file_kind(results: list[TableResult]) -> str:
    """A workbook's kind is the kind of its sheets with payment rows, else of its first sheet."""
    for preferred in ("payments", "card"):
        if any(r.kind == preferred for r in results):
            return preferred
    return results[0].kind
