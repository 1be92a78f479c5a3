"""Any council file -> canonical payment rows + a report. Entry points used by other stages:

- :func:`normalise_file` one file, in memory;
- :func:`normalise_one` one manifest row -> ``rows/<sha256>.parquet`` + ``reports/<sha256>.json``
  (pure and picklable: run by the process pool and by the Dask executor);
- :func:`normalise_manifest` a whole crawl, incremental, with superseded and overlapping files
  resolved so every payment is counted once.

Steps per table (a CSV, or each sheet / ZIP member): find header -> map columns -> drop blank and
total rows -> repair fused cells -> amounts (exact pence) -> dates -> kind -> redaction -> rows.
"""

from __future__ import annotations

import hashlib
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from councilspend.schemas import field_names
from councilspend.sniff import SniffError
from normalise import council as council_mod
from normalise import kinds as kinds_mod
from normalise.amounts import parse_pence, pence_to_pounds
from normalise.columns import ColumnMap, map_columns
from normalise.dates import find_period, parse_dates
from normalise.header import HeaderError, find_header, preamble_lines, threshold_from
from normalise.readers import RawTable, ReadError, read_tables
from normalise.redaction import detect as detect_redaction
from normalise.report import build_report, empty_report
from normalise.rows import (
    arrow,
    blank_mask,
    clean_cells,
    const_text,
    filled,
    repair_fused,
    squash_spaces,
    text_column,
    text_from_codes,
    total_row_mask,
)
from normalise.validate import validate_rows

RULES_VERSION = "1"  # bump by hand for a change the digest below cannot see (e.g. a library upgrade)


def _version() -> str:
    """Rules version + digest of this package's code and rule files: outputs written by another
    version are normalised again by the incremental crawl run."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for path in sorted([*here.glob("*.py"), *here.glob("*.yml")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"{RULES_VERSION}-{digest.hexdigest()[:12]}"


NORMALISER_VERSION = _version()
PAYMENT_FIELDS = field_names("payment")
ROW_KINDS = ("payments", "card")
MAX_ERRORS_LISTED = 200
_TEXT_FIELDS = [
    "transaction_ref",
    "supplier_ref",
    "supplier_company_number",
    "supplier_charity_number",
    "supplier_vat_number",
    "expense_type",
    "expense_code",
    "service_area",
    "directorate",
    "cost_centre",
    "description",
    "procurement_category",
]
_PLACEHOLDERS = {"n/a", "na", "#n/a", "nil", "none", "not yet available", "not applicable", "-", "null"}


@dataclass
class FileResult:
    """Canonical rows (payment schema columns, in order), the report, the file kind and the exact
    total in pence (sum of the rows' amounts, never of floats)."""

    rows: pd.DataFrame
    report: dict
    kind: str
    total_pence: int = 0


@dataclass
class TableResult:
    rows: pd.DataFrame | None
    pence: np.ndarray
    kind: str
    kind_reason: str
    info: dict = field(default_factory=dict)


def empty_rows() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=_dtype(name)) for name in PAYMENT_FIELDS})


def _dtype(name: str) -> str:
    if name in ("amount", "irrecoverable_vat"):
        return "float64"
    if name in ("is_redacted", "is_card"):
        return "bool"
    if name == "source_row":
        return "int64"
    return "str"  # same Parquet type (large_string) as files with rows


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
        return _normalise_bytes(data, path.name, council_id=council_id, sha256=sha256, registry=registry)
    except (SniffError, ReadError, HeaderError) as exc:
        report = empty_report(path.name, sha256, str(exc))
        return FileResult(empty_rows(), report, "rejected")
    except Exception as exc:  # a bug must not lose other files' data: report it, with where
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        msg = f"internal error {type(exc).__name__}: {exc} (at {Path(tb.filename).name}:{tb.lineno})"
        report = empty_report(path.name, sha256, msg)
        return FileResult(empty_rows(), report, "rejected")


def _normalise_bytes(
    data: bytes, name: str, *, council_id: str | None, sha256: str, registry: list[dict] | None
) -> FileResult:
    fmt, tables = read_tables(data)
    results: list[TableResult] = []
    skipped: list[dict] = []
    for table in tables:
        try:
            results.append(_normalise_table(table, name, sha256, council_id, registry))
        except HeaderError as exc:
            if table.sheet is None or len(tables) == 1:
                raise
            skipped.append({"sheet": table.sheet, "reason": str(exc)})
    if not results:
        raise HeaderError("no sheet has a recognisable header: " + "; ".join(s["reason"] for s in skipped))
    kind = _file_kind(results)
    # a workbook's card sheet next to its payments sheet: both kept (card rows are flagged is_card)
    kept = [r for r in results if r.kind in ROW_KINDS and r.rows is not None]
    if kind in ROW_KINDS:
        rows = pd.concat([r.rows for r in kept], ignore_index=True) if kept else empty_rows()
        pence = np.concatenate([r.pence for r in kept]) if kept else np.zeros(0, np.int64)
    else:
        rows, pence = empty_rows(), np.zeros(0, np.int64)
    # council identity: the crawl's id wins; content is the cross-check
    content_ids = [r.info.get("council_from_content") for r in results if r.info.get("council_from_content")]
    content_id = content_ids[0] if content_ids else None
    final_id = council_id or content_id or "unknown"
    if len(rows):
        rows["council_id"] = final_id
    # the threshold the council publishes above: stated in the file, else the registry's
    for entry in registry or []:
        if str(entry.get("id") or entry.get("council_id") or "") == final_id and entry.get("threshold"):
            for r in results:
                r.info["threshold"] = r.info.get("threshold") or int(entry["threshold"])
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
    rows = rows[PAYMENT_FIELDS]
    _add_schema_check(report, rows)
    total = int(pence.sum()) if kind in ROW_KINDS else 0
    return FileResult(rows, report, kind, total)


def _add_schema_check(report: dict, rows: pd.DataFrame) -> None:
    """Every output row is checked against the payment contract; misfits are problems, not silence.

    An unidentified council is the caller's to supply (the crawl always does), not a fault in the
    file, so it is a warning; any other misfit is an error.
    """
    errors = validate_rows(rows, limit=100) if len(rows) else []
    report["schema_errors"] = errors
    council = [e for e in errors if e["fieldName"] == "council_id"]
    others = [e for e in errors if e["fieldName"] != "council_id"]
    if council:
        report.setdefault("problems", []).insert(
            0,
            {
                "severity": "warning",
                "rule": "councilspend payment schema",
                "message": "the file does not say which council published it: add a column such as 'Body Name' or "
                "'Organisation URI' (or give the council's GSS code, e.g. --council on the command line)",
            },
        )
    if not others:
        return
    first = others[0]
    message = (
        f"{len(others)}{'+' if len(errors) >= 100 else ''} values do not fit the canonical payment "
        f"schema (first: row {first['rowNumber']}, field {first['fieldName']}: {first['note']})"
    )
    report.setdefault("problems", []).insert(
        0, {"severity": "error", "rule": "councilspend payment schema", "message": message}
    )


def _file_kind(results: list[TableResult]) -> str:
    """A workbook's kind is the kind of its sheets with payment rows, else of its first sheet."""
    for preferred in ("payments", "card"):
        if any(r.kind == preferred for r in results):
            return preferred
    return results[0].kind


# ------------------------------------------------------------------------------------- one table


def _normalise_table(
    table: RawTable, name: str, sha256: str, council_id: str | None, registry: list[dict] | None
) -> TableResult:
    cells = table.cells
    h = find_header(cells)
    labels = [str(x) for x in cells.iloc[h].tolist()]
    while labels and not labels[-1].strip():
        labels.pop()  # empty trailing header cells (Tameside has 24)
    width = len(labels)
    preamble = preamble_lines(cells, h)
    info: dict = {
        "sheet": table.sheet,
        "encoding": table.encoding,
        "header_row": int(table.line_numbers[h]),
        "preamble": preamble,
        "repairs": list(table.repairs),
        "warnings": list(table.warnings),
    }
    cmap = map_columns(labels, council_id)
    info["columns"] = cmap.as_report()
    data = clean_cells(cells.iloc[h + 1 :].reset_index(drop=True))
    lines = table.line_numbers[h + 1 :]
    rows_read = len(data)

    cells_filled = filled(data)
    # cells beyond the header, and unlabelled columns that carry values: reported, not used
    beyond = cells_filled[:, width:].any(axis=1) if data.shape[1] > width else np.zeros(len(data), bool)
    if beyond.any():
        sample = data.loc[beyond, width].value_counts().head(3).index.tolist()
        info["warnings"].append(
            f"{int(beyond.sum())} rows have cells beyond the {width} header columns (ignored; e.g. {sample})"
        )
    for c in range(min(width, data.shape[1])):
        if not labels[c].strip() and cells_filled[:, c].any():
            info["warnings"].append(f"column {c + 1} has no header but holds values (ignored)")
    data = data[list(range(width))] if width <= data.shape[1] else data
    cells_filled = cells_filled[:, : data.shape[1]]

    blank = blank_mask(data, cells_filled)
    info["blank_rows"] = int(blank.sum())
    # the header again (files concatenated from several exports)
    clean_labels = [" ".join(lab.replace("\xa0", " ").split()) for lab in labels]
    repeated = np.zeros(len(data), dtype=bool)
    first = next((c for c, lab in enumerate(clean_labels) if lab), None)
    if width > 1 and first is not None and first < data.shape[1]:
        repeated |= (data[first] == clean_labels[first]).to_numpy(dtype=bool)
    for i in np.flatnonzero(repeated):
        repeated[i] = [str(v) for v in data.iloc[i].tolist()[:width]] == clean_labels[: data.shape[1]]
    if repeated.any():
        info["warnings"].append(
            f"{int(repeated.sum())} rows repeat the header (ignored; rows {lines[repeated][:10].tolist()})"
        )
        blank |= repeated
    cells_filled = cells_filled[~blank]
    data, lines = _take(data, ~blank), lines[~blank]

    kind, kind_reason = kinds_mod.kind_from_header(cmap)
    amount_col = cmap.field_to_col.get("amount")
    if amount_col is None:
        info.update(rows_read=rows_read, data_rows=len(data))
        return TableResult(None, np.zeros(0, np.int64), kind or "not_spend", kind_reason, info)

    pence, ok = parse_pence(data[amount_col])
    totals = total_row_mask(data, amount_col, ok, cells_filled)
    info["total_rows"] = [
        {"row": int(lines[i]), "amount_pence": int(pence[i])} for i in np.flatnonzero(totals)
    ]
    keep = ~totals
    data, lines, pence, ok = _take(data, keep), lines[keep], pence[keep], ok[keep]

    # repair rows whose cells ran together (date fused with amount or supplier)
    date_col = cmap.field_to_col.get("payment_date")
    if date_col is None and "period" in cmap.field_to_col:
        date_col = cmap.field_to_col["period"]  # `Period` = 201009 etc.: a month, not a day
    malformed: list[int] = []
    if date_col is not None:
        date_text = data[date_col]
        looks_wrong = ~ok | ~date_text.str.match(r"^[\d/\-. :A-Za-z]*$") | (date_text.str.len() > 19)
        candidates = (looks_wrong.to_numpy(dtype=bool)) & (data[date_col] != "").to_numpy(dtype=bool)
        candidates |= ~ok
        if candidates.any():
            malformed = repair_fused(data, candidates, width, date_col, amount_col)
            if malformed:
                idx = np.array(malformed)
                p2, ok2 = parse_pence(data.loc[idx, amount_col])
                pence[idx], ok[idx] = p2, ok2
                info["repairs"].append(
                    {
                        "repair": "cells run together (a fixed-width date fused with its neighbour) split",
                        "count": len(malformed),
                        "rows": [int(lines[i]) for i in malformed],
                    }
                )
    info["malformed_rows"] = len(malformed)
    info["malformed_row_numbers"] = [int(lines[i]) for i in malformed]
    info["rows_read"] = rows_read
    info["data_rows"] = len(data)

    # rows without a usable amount are rejected and listed; the rest are kept
    errors: list[dict] = []
    amount_label = labels[amount_col]
    for i in np.flatnonzero(~ok)[:MAX_ERRORS_LISTED]:
        raw = data.at[i, amount_col]
        errors.append(
            {
                "row": int(lines[i]),
                "field": amount_label,
                "error": "amount missing" if raw == "" else "not an amount",
                "value": raw[:100],
            }
        )
    info["rows_rejected"] = int((~ok).sum())
    data, lines, pence = _take(data, ok), lines[ok], pence[ok]

    def col(fld: str) -> pd.Series | None:
        c = cmap.field_to_col.get(fld)
        return None if c is None else data[c]

    gss, how = council_mod.identify_from_columns(col("body"), col("body_name"), registry)
    info["council_from_content"], info["council_evidence"] = gss, how

    # dates
    if date_col is not None:
        dates = parse_dates(data[date_col])
        bad = (dates["date_status"] == "invalid").to_numpy(dtype=bool)
        for i in np.flatnonzero(bad)[: max(0, MAX_ERRORS_LISTED - len(errors))]:
            errors.append(
                {
                    "row": int(lines[i]),
                    "field": labels[date_col],
                    "error": "not a date (day first)",
                    "value": data.at[i, date_col][:100],
                }
            )
        info["date_errors"] = int(bad.sum())
        info["dates_time_only"] = int((dates["date_status"] == "time_only").sum())
    else:
        dates = parse_dates(pd.Series([""] * len(data), dtype=object))
        info["date_errors"] = 0
    period = None
    undated = (dates["date_precision"] == "none").to_numpy(dtype=bool)
    if undated.any():
        period = find_period(" ".join(preamble)) or find_period(Path(name).stem)
        if period:
            dates.loc[undated, "date_precision"] = period[0]
            dates.loc[undated, "period_start"] = period[1]
            dates.loc[undated, "period_end"] = period[2]
            info["period_from"] = "preamble or file name"
    info["threshold"] = threshold_from(preamble + [name])

    supplier = col("supplier_name")
    supplier = supplier if supplier is not None else pd.Series([""] * len(data), dtype=object)
    if kind is None:
        kind, kind_reason = "payments", "line-level payments"
        card_flag = col("card_flag")
        if (
            card_flag is not None
            and len(data)
            and kinds_mod.card_rows(pd.Series([""] * len(data)), None, card_flag).all()
        ):
            kind, kind_reason = "card", f"every line is flagged in {cmap.label_of('card_flag')!r}"
        elif kinds_mod.looks_like_card_file(pence):
            kind, kind_reason = "card", "most lines are small card receipts (median under £100)"
    info["errors"] = errors
    is_red, why = detect_redaction(supplier, col("redaction_flag"))
    day = dates["payment_date"][(dates["date_precision"] == "day").to_numpy(dtype=bool)]
    info["_stats"] = {
        "suppliers": set(supplier[supplier != ""].unique().tolist()),
        "redacted": is_red,
        "redaction_reason": why,
        "date_min": min(day) if len(day) else None,
        "date_max": max(day) if len(day) else None,
        "lines": lines,
    }
    if kind not in ROW_KINDS:
        return TableResult(None, pence, kind, kind_reason, info)

    rows = _build_rows(data, lines, pence, dates, cmap, supplier, sha256, table.sheet, kind, info)
    return TableResult(rows, pence, kind, kind_reason, info)


def _take(data: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """The kept rows, renumbered from 0. Most files keep every row: then nothing is copied."""
    if keep.all():
        return data
    return data.loc[keep].reset_index(drop=True)


def _build_rows(
    data: pd.DataFrame,
    lines: np.ndarray,
    pence: np.ndarray,
    dates: pd.DataFrame,
    cmap: ColumnMap,
    supplier: pd.Series,
    sha256: str,
    sheet: str | None,
    kind: str,
    info: dict,
) -> pd.DataFrame:
    n = len(data)
    index = pd.RangeIndex(n)

    def col(fld: str) -> pd.Series | None:
        c = cmap.field_to_col.get(fld)
        return None if c is None else data[c]

    def const(value: str) -> pd.Series:
        return const_text(value, n)

    def text(values: np.ndarray) -> pd.Series:
        return text_column(values)

    out: dict[str, pd.Series | np.ndarray] = {"council_id": const("")}
    out["payment_date"] = _iso(dates["payment_date"])
    out["date_precision"] = text(dates["date_precision"].to_numpy(dtype=object))
    out["period_start"] = _iso(dates["period_start"])
    out["period_end"] = _iso(dates["period_end"])
    out["amount"] = pence_to_pounds(pence)
    out["amount_basis"] = const(_amount_basis(cmap, info))
    vat = col("irrecoverable_vat")
    if vat is not None:
        vp, vok = parse_pence(vat)
        out["irrecoverable_vat"] = np.where(vok, pence_to_pounds(vp), np.nan)
    else:
        out["irrecoverable_vat"] = np.full(n, np.nan)
    is_red, why = info["_stats"]["redacted"], info["_stats"]["redaction_reason"]
    out["supplier_name"] = squash_spaces(supplier)
    for fld in _TEXT_FIELDS:
        s = col(fld)
        if s is None and fld == "transaction_ref":
            s = col("invoice_ref")
        if s is None:
            out[fld] = const("")
            continue
        s = squash_spaces(s)
        if fld in ("supplier_company_number", "supplier_charity_number", "supplier_vat_number"):
            s = s.where(~s.str.lower().isin(_PLACEHOLDERS), "")
        out[fld] = s
    if kind == "card" and col("merchant_category") is not None and col("expense_type") is None:
        out["expense_type"] = col("merchant_category")
    line = col("transaction_line")
    if line is not None and (col("transaction_ref") is not None or col("invoice_ref") is not None):
        ref = out["transaction_ref"]
        out["transaction_ref"] = ref.where(line == "", ref + "/" + line)
    out["is_redacted"] = is_red
    out["redaction_reason"] = text(why)
    out["capital_revenue"] = text(_capital_revenue(col("capital_revenue"), n, info))
    if kind == "card":
        out["is_card"] = np.ones(n, dtype=bool)
    else:
        out["is_card"] = kinds_mod.card_rows(supplier, col("transaction_ref"), col("card_flag"))
    out["source_sha256"] = const(sha256)
    out["source_sheet"] = const(sheet or "")
    out["source_row"] = lines.astype(np.int64)
    # plain arrays (no index to align): building the frame is then a cheap gather
    out = {k: (v.array if isinstance(v, pd.Series) else v) for k, v in out.items()}
    _warn_active_text(out, ["supplier_name", *_TEXT_FIELDS], lines, info)
    return pd.DataFrame({k: out[k] for k in PAYMENT_FIELDS}, index=index)


_ACTIVE = {
    "formula": (
        r"^(?:[=+@]|-[A-Za-z(])",
        "look like spreadsheet formulas (kept as text; a spreadsheet opening the CSV may run them)",
    ),
    "markup": (
        r"(?i)<\s*/?\s*(?:script|iframe|object|embed|img|a)\b|javascript:",
        "contain HTML/script markup (kept as text, never interpreted)",
    ),
}


_ACTIVE_ANY = "|".join(f"(?:{pattern})" for pattern, _ in _ACTIVE.values())


def _warn_active_text(out: dict, fields: list[str], lines: np.ndarray, info: dict) -> None:
    """Formula-looking (``=HYPERLINK(...)``) and markup (``<script>``) cells are kept verbatim, and
    reported: the rows go to a CSV that someone may open in Excel, and to a web page."""
    hits: dict[str, list[int]] = {key: [] for key in _ACTIVE}
    examples: dict[str, str] = {}
    # one RE2 pass over all the text columns at once: almost every file has no such cell
    columns = [arrow(out[fld]) for fld in fields]
    chunks = [
        c.cast(pa.large_string())
        for col in columns
        for c in (col.chunks if isinstance(col, pa.ChunkedArray) else [col])
    ]
    if not chunks or not pc.any(pc.match_substring_regex(pa.chunked_array(chunks), _ACTIVE_ANY)).as_py():
        return
    for fld in fields:
        codes, uniques = pd.factorize(out[fld])
        if not len(uniques):
            continue
        arr = pa.array(np.asarray(uniques, dtype=object).astype(str), type=pa.large_string())
        for key, (pattern, _) in _ACTIVE.items():
            hit = np.asarray(
                pc.match_substring_regex(arr, pattern).to_numpy(zero_copy_only=False), dtype=bool
            )
            if hit.any():
                mask = hit[codes]
                hits[key].extend(lines[mask].tolist())
                examples.setdefault(key, f"{fld}={str(uniques[np.flatnonzero(hit)[0]])[:60]!r}")
    for key, (_, what) in _ACTIVE.items():
        if hits[key]:
            rows = sorted(set(hits[key]))
            info["warnings"].append(
                f"{len(rows)} rows have cells that {what} ({key}; e.g. {examples[key]}; rows {rows[:10]})"
            )


def _iso(s: pd.Series) -> pd.Series:
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    return text_from_codes([v.isoformat() for v in uniques], codes)


def _amount_basis(cmap: ColumnMap, info: dict) -> str:
    label = (cmap.label_of("amount") or "").lower()
    preamble = " ".join(info.get("preamble", [])).lower()
    if "net" in label or "excl" in label or "nett" in label:
        return "net"
    if "gross" in label or "incl" in label or "including vat" in preamble:
        return "gross"
    return "unknown"


def _capital_revenue(s: pd.Series | None, n: int, info: dict) -> np.ndarray:
    if s is None:
        return np.full(n, "", dtype=object)
    low = s.str.lower().str.strip()
    out = np.full(n, "", dtype=object)
    out[low.isin(["r", "rev", "revenue"]).to_numpy()] = "revenue"
    out[low.isin(["c", "cap", "capital"]).to_numpy()] = "capital"
    other = (low != "") & ~low.isin(["r", "rev", "revenue", "c", "cap", "capital"])
    if other.any():
        info["warnings"].append(
            f"{int(other.sum())} capital/revenue values not recognised (left empty), "
            f"e.g. {s[other].value_counts().head(3).index.tolist()}"
        )
    return out


def __getattr__(name: str):
    """Transitional: ``normalise_manifest``/``normalise_one`` live in :mod:`normalise.manifest` (a
    crawl), which imports this module (a file). Callers outside ``normalise/`` that still use the old
    path (demo/cli.py, benchmarks/stages.py) get them here until they switch; nothing in
    ``normalise/`` uses this."""
    if name in ("normalise_manifest", "normalise_one"):
        import importlib

        return getattr(importlib.import_module("normalise.manifest"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
