"""Check rows against a Frictionless Table Schema, vectorised.

Frictionless validates ~50-140k rows/s here; this compiles the same schema (types, formats,
required, enum, pattern, minimum/maximum, min/maxLength, unique) into column operations.
Errors are the ones frictionless reports on the rows' CSV (what ``councilspend normalise --out``
writes, see :func:`to_text_frame`): ``{"rowNumber", "fieldName", "type", "note"}``, rowNumber
counting the header as row 1. tests/test_normalise_validate.py proves the two agree.

Text columns are checked as CSV text ("" = missing). Numeric and boolean columns are checked
natively: their CSV text is valid by construction, and skipping the float->text round trip is most
of the speed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from councilspend.schemas import descriptor
from normalise.rows import text_array

_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
_INTEGER = r"^[+-]?\d+$"


def to_text_frame(rows: pd.DataFrame, schema_name: str = "payment") -> pd.DataFrame:
    """Rows as the text that goes into the CSV: amounts with 2 decimals, booleans true/false,
    missing values as empty strings."""
    out = {}
    for f in descriptor(schema_name)["fields"]:
        name = f["name"]
        s = rows[name] if name in rows else pd.Series([""] * len(rows), index=rows.index)
        if f["type"] == "number":
            num = pd.to_numeric(s, errors="coerce")
            text = num.map(lambda v: "" if v != v else f"{v:.2f}")
        elif f["type"] == "boolean":
            text = s.map({True: "true", False: "false"}).fillna("")
        elif f["type"] == "integer":
            text = s.astype("Int64").astype(str).replace("<NA>", "")
        else:
            text = s.astype(str).replace({"nan": "", "None": "", "<NA>": ""}).where(s.notna(), "")
        out[name] = text.astype(str)
    return pd.DataFrame(out, index=rows.index)


_KNOWN_LIMIT = 50_000
_known: dict[tuple[str, str, str], bool] = {}  # (check, rule, text) -> valid, for this process


def _per_value(
    check: str, rule: str, values: list[str], compute: Callable[[list[str]], Iterable[bool]]
) -> np.ndarray:
    """``compute`` (list of texts -> bools) for each text, asked once per process for each text:
    the pandas parsers cost ~0.3 ms a call, and a crawl's files share their dates and councils.
    The answers come from a local dict, so emptying the bounded cache never loses one."""
    answers = {v: ok for v in values if (ok := _known.get((check, rule, v))) is not None}
    todo = [v for v in values if v not in answers]
    if todo:
        if len(_known) + len(todo) > _KNOWN_LIMIT:
            _known.clear()
        for v, ok in zip(todo, compute(todo), strict=True):
            answers[v] = _known[(check, rule, v)] = bool(ok)
    return np.array([answers[v] for v in values], dtype=bool)


def _date_ok(values: list[str], fmt: str) -> np.ndarray:
    """Which texts parse with ``fmt`` (pandas' parser: the answers frictionless' agree with)."""
    parse = pd.to_datetime(pd.Series(np.asarray(values, dtype=object)), format=fmt, errors="coerce")
    return parse.notna().to_numpy()


# Patterns made only of ASCII letters/digits, classes of them and counted repeats (the contracts'
# GSS codes and sha256s) mean the same to Python's re as to RE2, which pandas uses: no per-file call.
_SIMPLE_PATTERN = re.compile(r"(?:[A-Za-z0-9]|\[(?:[A-Za-z0-9](?:-[A-Za-z0-9])?)+\]|\{\d+(?:,\d+)?\})+")


def _fullmatch(values: list[str], pattern: str) -> np.ndarray:
    """Whole-value regex match (frictionless anchors patterns)."""
    if _SIMPLE_PATTERN.fullmatch(pattern):
        compiled = re.compile(pattern)
        return np.array([compiled.fullmatch(v) is not None for v in values], dtype=bool)
    return _text(values).str.fullmatch(pattern).to_numpy(dtype=bool)


def _text(values: list[str]) -> pd.Series:
    """A few texts as a pandas text Series, built from Arrow (a list of str costs 10x more)."""
    return pd.Series(text_array(pa.array(values, type=pa.large_string())), copy=False)


def _is_native(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)


def _csv_text(s: pd.Series) -> pa.ChunkedArray | pa.Array:
    """The column as the text its CSV holds: Arrow strings, missing as ""."""
    if not (isinstance(s.dtype, pd.StringDtype) and hasattr(s.array, "_pa_array")):
        s = s.astype(object).where(s.notna(), "").astype("str")
    arr = s.array._pa_array
    return pc.fill_null(arr, "") if arr.null_count else arr


def _type_ok(u: list[str], f: dict) -> np.ndarray:
    """Which distinct texts are valid for the field's type (strings always are)."""
    ftype = f.get("type", "string")
    if ftype == "string":
        return np.ones(len(u), dtype=bool)
    if ftype == "date":
        fmt = f.get("format", "%Y-%m-%d")
        fmt = "%Y-%m-%d" if fmt in ("default", "any") else fmt
        return _per_value("date", fmt, u, lambda todo: _date_ok(todo, fmt))
    text = _text(u)
    if ftype == "number":
        return text.str.strip().str.match(_NUMBER).to_numpy(dtype=bool)
    if ftype == "integer":
        return text.str.strip().str.match(_INTEGER).to_numpy(dtype=bool)
    if ftype == "boolean":
        return text.isin(
            f.get("trueValues", ["true", "True", "TRUE", "1"])
            + f.get("falseValues", ["false", "False", "FALSE", "0"])
        ).to_numpy(dtype=bool)
    return np.ones(len(u), dtype=bool)  # a type frictionless has that the contracts do not use


def _text_checks(s: pd.Series, f: dict, missing_values: list[str]) -> list[tuple[np.ndarray, str, str]]:
    """(row mask, error type, note) of each check, in frictionless' order, for a text column.

    Every check but ``unique`` is a function of the value alone, so it runs on the column's distinct
    texts, and the rows are looked up only for the (rare) values that fail."""
    cons = f.get("constraints", {})
    arr = _csv_text(s)
    u = pc.unique(arr).to_pylist()
    missing = np.array([v in missing_values for v in u], dtype=bool)
    bad_type = ~missing & ~_type_ok(u, f)
    bad_values = (
        [(missing, "constraint-error", 'constraint "required" is "True"')] if cons.get("required") else []
    )
    bad_values.append(
        (bad_type, "type-error", f'type is "{f.get("type", "string")}/{f.get("format", "default")}"')
    )
    check = ~missing & ~bad_type
    values = [v for v, c in zip(u, check, strict=True) if c]
    for key, bad in _constraint_errors(values, cons):
        full = np.zeros(len(u), dtype=bool)
        full[check] = bad
        bad_values.append((full, "constraint-error", f'constraint "{key}" is "{cons[key]}"'))
    out = [(_rows_of(arr, u, bad), kind, note) for bad, kind, note in bad_values if bad.any()]
    if cons.get("unique"):
        codes = (arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr).dictionary_encode()
        codes = codes.indices.to_numpy(zero_copy_only=False)
        rows = ~_rows_of(arr, u, ~check) if not check.all() else np.ones(len(codes), dtype=bool)
        dup = np.zeros(len(codes), dtype=bool)
        dup[rows] = pd.Series(codes[rows]).duplicated().to_numpy(dtype=bool)
        out.append((dup, "unique-error", "the same as in an earlier row"))
    return out


def _rows_of(arr: pa.ChunkedArray | pa.Array, u: list[str], which: np.ndarray) -> np.ndarray:
    """Row mask of the cells holding one of the distinct texts ``u[which]``."""
    chosen = pa.array([v for v, w in zip(u, which, strict=True) if w], type=arr.type)
    return np.asarray(pc.is_in(arr, value_set=chosen).to_numpy(zero_copy_only=False), dtype=bool)


def _native_checks(s: pd.Series, f: dict) -> list[tuple[np.ndarray, str, str]]:
    """The same checks for a typed (numeric or boolean) column: its CSV text is valid by construction.
    Worked on the numpy values (a pandas call per check cost more than the check on 2k rows)."""
    ftype, cons = f.get("type", "string"), f.get("constraints", {})
    plain = isinstance(s.dtype, np.dtype)  # float, int or bool numpy column: NaN is its only missing
    num = s.to_numpy(dtype=float, na_value=np.nan) if ftype != "boolean" or not plain else None
    if plain and s.dtype.kind == "f":
        missing = np.isnan(num)
    elif plain:
        missing = np.zeros(len(s), dtype=bool)
    else:
        missing = s.isna().to_numpy(dtype=bool)
    bad_type = np.zeros(len(s), dtype=bool)
    if ftype != "boolean":
        bad_type = np.isinf(num)
        if ftype == "integer":
            bad_type |= ~np.isnan(num) & (num != np.round(num))
    out = [(missing, "constraint-error", 'constraint "required" is "True"')] if cons.get("required") else []
    out.append((bad_type, "type-error", f'type is "{ftype}/{f.get("format", "default")}"'))
    check = ~missing & ~bad_type
    if not check.any():
        return out
    if cons.keys() & {"enum", "pattern", "minLength", "maxLength"}:
        constraints = _constraint_errors(s[check], cons)
    else:  # the numeric value itself (what pd.to_numeric gives back for a typed column)
        bounds = num[check] if num is not None else s.to_numpy(dtype=float)[check]
        constraints = _bounds(bounds, cons)
    for key, bad in constraints:
        full = np.zeros(len(s), dtype=bool)
        full[check] = bad
        out.append((full, "constraint-error", f'constraint "{key}" is "{cons[key]}"'))
    if cons.get("unique"):
        full = np.zeros(len(s), dtype=bool)
        full[check] = s[check].duplicated().to_numpy(dtype=bool)
        out.append((full, "unique-error", "the same as in an earlier row"))
    return out


def _bounds(num: np.ndarray, cons: dict) -> list[tuple[str, np.ndarray]]:
    """minimum/maximum on numbers (NaN, a text that is not one, breaks neither)."""
    return [
        (k, num < cons[k] if k == "minimum" else num > cons[k]) for k in ("minimum", "maximum") if k in cons
    ]


def _constraint_errors(values: pd.Series | list[str], cons: dict) -> list[tuple[str, np.ndarray]]:
    """(constraint, bad mask over ``values``) for enum, pattern, minimum/maximum, min/maxLength.
    ``values``: a typed Series, or a list of distinct CSV texts."""
    out: list[tuple[str, np.ndarray]] = []
    if not len(values):
        return out
    if "enum" in cons:
        if isinstance(values, list):  # texts: equality of str, as pandas' isin tests it
            allowed = {str(v) for v in cons["enum"]}
            out.append(("enum", np.array([v not in allowed for v in values], dtype=bool)))
        else:
            out.append(("enum", ~values.isin(cons["enum"]).to_numpy(dtype=bool)))
    if ("minimum" in cons or "maximum" in cons or "minLength" in cons or "maxLength" in cons) and isinstance(
        values, list
    ):
        values = _text(values)
    if "pattern" in cons:
        texts = values if isinstance(values, list) else values.astype("str").tolist()
        ok = _per_value("pattern", cons["pattern"], texts, lambda todo: _fullmatch(todo, cons["pattern"]))
        out.append(("pattern", ~ok))
    if "minimum" in cons or "maximum" in cons:
        out += _bounds(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float), cons)
    if "minLength" in cons or "maxLength" in cons:
        length = values.astype("str").str.len().to_numpy()
        out += [
            (k, length < cons[k] if k == "minLength" else length > cons[k])
            for k in ("minLength", "maxLength")
            if k in cons
        ]
    return out


def check_frame(frame: pd.DataFrame, schema_name: str = "payment", limit: int | None = None) -> list[dict]:
    """Errors in a frame (text or typed columns), ordered by row, then by field order."""
    schema = descriptor(schema_name)
    missing_values = list(schema.get("missingValues", [""]))
    found: list[tuple[int, int, str, str, str]] = []
    for order, f in enumerate(schema["fields"]):
        name, ftype = f["name"], f.get("type", "string")
        cons = f.get("constraints", {})
        if ftype == "string" and not (cons.keys() - {"required"}) and not cons.get("required"):
            continue  # any text fits a string with no constraint: nothing here can be an error
        s = frame[name] if name in frame else pd.Series([""] * len(frame), index=frame.index)
        if _is_native(s) and ftype in ("number", "integer", "boolean"):
            checks = _native_checks(s, f)
        else:
            checks = _text_checks(s, f, missing_values)
        for mask, kind, note in checks:
            # rows are sorted, so a check's first `limit` rows are all of it that can be kept
            rows = np.flatnonzero(mask)[:limit] + 2  # the header is row 1
            found.extend((int(p), order, name, kind, note) for p in rows)
    found.sort(key=lambda e: (e[0], e[1]))
    if limit is not None:
        found = found[:limit]
    return [{"rowNumber": p, "fieldName": n, "type": t, "note": note} for p, _, n, t, note in found]


def validate_rows(rows: pd.DataFrame, schema_name: str = "payment", limit: int | None = 1000) -> list[dict]:
    """Validate canonical rows (as normalise_file returns them, or read back from Parquet): the
    errors frictionless would report on their CSV. Empty list = valid."""
    return check_frame(rows, schema_name, limit=limit)
