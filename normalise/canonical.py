"""The canonical payment rows of one table: the mapped columns, cleaned, in the payment contract's
order and types (``councilspend/schemas/payment.schema.yaml``). Cells that could do harm where the rows
go next (a spreadsheet, a web page) are kept verbatim and reported.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from councilspend.schemas import field_names
from normalise import kinds as kinds_mod
from normalise.amounts import parse_pence, pence_to_pounds
from normalise.columns import ColumnMap
from normalise.dates import Dates
from normalise.rows import arrow, const_array, squash_spaces, text_column, text_from_codes

PAYMENT_FIELDS = field_names("payment")
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
    "cost_centre_code",
    "description",
    "procurement_category",
]
_PLACEHOLDERS = {"n/a", "na", "#n/a", "nil", "none", "not yet available", "not applicable", "-", "null"}


def empty_rows() -> pd.DataFrame:
    """No rows, with the contract's columns and dtypes (a rejected or non-spend file)."""
    return pd.DataFrame({name: pd.Series(dtype=_dtype(name)) for name in PAYMENT_FIELDS})


def _dtype(name: str) -> str:
    if name in ("amount", "irrecoverable_vat"):
        return "float64"
    if name in ("is_redacted", "is_card"):
        return "bool"
    if name == "source_row":
        return "int64"
    return "str"  # same Parquet type (large_string) as files with rows


def build_rows(
    data: pd.DataFrame,
    lines: np.ndarray,
    pence: np.ndarray,
    dates: Dates,
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

    consts: dict[str, pd.api.extensions.ExtensionArray] = {}

    def const(value: str) -> pd.api.extensions.ExtensionArray:
        # one Arrow buffer per value, shared by the columns that hold it; each column gets its own
        # array object (a shallow copy), so writing into one column can never change another
        if value not in consts:
            consts[value] = const_array(value, n)
        return consts[value].copy()

    def text(values: np.ndarray) -> pd.Series:
        return text_column(values)

    out: dict[str, pd.Series | np.ndarray] = {"council_id": const("")}

    out.update(_date_columns(dates, const))
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
    # a reason is given exactly where a row is redacted: most files have none
    out["redaction_reason"] = text(why) if is_red.any() else const("")
    cap = col("capital_revenue")
    out["capital_revenue"] = const("") if cap is None else text(_capital_revenue(cap, n, info))
    if kind == "card":
        out["is_card"] = np.ones(n, dtype=bool)
    else:
        out["is_card"] = kinds_mod.card_rows(
            supplier, col("transaction_ref"), col("card_flag"), col("merchant_category")
        )
    out["source_sha256"] = const(sha256)
    out["source_sheet"] = const(sheet or "")
    out["source_row"] = lines.astype(np.int64)
    # plain arrays (no index to align): building the frame is then a cheap gather
    out = {k: (v.array if isinstance(v, pd.Series) else v) for k, v in out.items()}
    _warn_active_text(out, ["supplier_name", *_TEXT_FIELDS], lines, info)
    # no copy: every array is new here or immutable Arrow data (and pandas copies on write)
    return pd.DataFrame({k: out[k] for k in PAYMENT_FIELDS}, index=index, copy=False)


def _date_columns(dates: Dates, const) -> dict:
    """The four date columns: each row's text is its date text's; one text for all (a file of days
    has no period) is a constant."""

    def coded(values: list[str]) -> pd.api.extensions.ExtensionArray:
        if len(set(values)) == 1:
            return const(values[0])
        return text_from_codes(values, dates.codes).array

    return {
        "payment_date": coded(_iso(dates.table["payment_date"])),
        "date_precision": coded([str(v) for v in dates.table["date_precision"]]),
        "period_start": coded(_iso(dates.table["period_start"])),
        "period_end": coded(_iso(dates.table["period_end"])),
    }


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
    # one RE2 pass over all the text columns at once: almost every file has no such cell. Columns
    # of empty cells (a field the file lacks) are left out: "" matches neither pattern.
    columns = [arrow(out[fld]) for fld in fields]
    chunks = [
        c.cast(pa.large_string())
        for col in columns
        for c in (col.chunks if isinstance(col, pa.ChunkedArray) else [col])
        if _text_bytes(c)
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


def _text_bytes(arr: pa.Array) -> int:
    """Bytes of text in a string array, read from its offsets (no kernel, no copy)."""
    if not len(arr):
        return 0
    offsets = np.frombuffer(
        arr.buffers()[1], dtype=np.int64 if pa.types.is_large_string(arr.type) else np.int32
    )
    return int(offsets[arr.offset + len(arr)] - offsets[arr.offset])


def _iso(values: pd.Series) -> list[str]:
    """ISO text of each date, "" where there is none."""
    return ["" if pd.isna(v) else v.isoformat() for v in values]


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
