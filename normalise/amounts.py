"""Money text -> exact integer pence, vectorised.

Floats are never summed: a file's total must match the council's own total row to the penny, and
Excel exports carry artefacts like ``2016.2199999999998``. Each value is split into its integer and
fractional digits and rounded half-up to the penny on the decimal digits themselves.

Accepted: ``1500``, ``1,234.56``, ``£2,681.94``, `` 519.89 ``, ``-438.80``, ``-£12``, ``£-12``,
``(1,234.00)``, ``161,413.00-`` (trailing minus), ``100.00 CR``, ``12.5 GBP``, ``1.5E+3``.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_STRIP = "[\\s\u00a0£,]|GBP"
# A plain decimal, perhaps with a pound sign and UK thousands separators (``-£1,234.5``): most cells.
# Each is read by this one regex; its commas are all separators, so none is ambiguous.
_PLAIN = r"^(?P<sign>-?)£?(?P<int>\d{1,13}|\d{1,3}(?:,\d{3}){1,3})(?:\.(?P<frac>\d*))?$"
_AMOUNT = (
    r"^(?P<open>\()?(?P<sign>[-+])?(?P<int>\d*)(?:\.(?P<frac>\d*))?"
    r"(?P<tsign>-)?(?P<close>\))?(?P<cr>CR|DR)?$"
)
MAX_INT_DIGITS = 13  # 10^11 pounds: far beyond any council payment
# A comma that is not a UK thousands separator: ``1.234,50`` (a point before it), ``12,34`` (one or two
# digits after it), ``12,3456``. Continental or a typo, the value is not guessed: the row is rejected
# with AMBIGUOUS so the council can fix it (£1.23 or £1,234 would both be wrong half the time).
_AMBIGUOUS = r"\d\.\d*,\d|,\d{1,2}(?:[^\d]|$)|,\d{4}"
AMBIGUOUS = "ambiguous decimal separator (1.234,50 or 12,34): write amounts as 1234.50"


def _arrow(values: pd.Series) -> pa.ChunkedArray | pa.Array:
    arr = values.array
    if hasattr(arr, "_pa_array"):
        return arr._pa_array
    return pa.array(values.astype(object).where(values.notna(), "").tolist(), type=pa.string())


def parse_pence(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Return (pence int64, ok bool) for a Series of text. ``ok`` is False where the text is not
    an amount (pence is 0 there). Empty text is not ok either: the caller decides what empty means.

    Runs in pyarrow compute kernels (RE2 regexes), not Python. Most cells are plain decimals
    (``-1234.5``): those are read by one small regex; only the others take the full parse."""
    n = len(values)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    raw = _arrow(values)
    m = pc.extract_regex(raw, _PLAIN)  # null where the cell is not a plain decimal
    plain = np.asarray(pc.is_valid(m).to_numpy(zero_copy_only=False), dtype=bool)
    # the full parse would strip the £ and commas of such a cell, then read the same sign, int, frac
    int_part = pc.replace_substring(pc.fill_null(pc.struct_field(m, "int"), "0"), ",", "")
    pence = _pence(int_part, pc.fill_null(pc.struct_field(m, "frac"), ""))
    negative = pc.fill_null(pc.equal(pc.struct_field(m, "sign"), "-"), False)
    negative = np.asarray(negative.to_numpy(zero_copy_only=False), dtype=bool)
    pence = np.where(negative, -pence, pence).astype(np.int64)
    ok = plain.copy()
    if not plain.all():
        rest = np.flatnonzero(~plain)
        texts = raw.take(pa.array(rest))
        # a cell with no digit is never an amount ("N/A", ""); Decimal reads any script's digits, so
        # any character beyond Latin-1 (none of which is a digit but 0-9) may be one
        digits = pc.match_substring_regex(texts, r"[0-9]|[^\x{0}-\x{ff}]")
        digits = np.asarray(digits.to_numpy(zero_copy_only=False), dtype=bool)
        if digits.any():
            rest, texts = rest[digits], texts.filter(pa.array(digits))
            pence[rest], ok[rest] = _parse_full(texts)
        pence[~ok] = 0
    return pence, ok


def _pence(int_part: pa.Array, frac: pa.Array) -> np.ndarray:
    """Unsigned pence from the integer and fraction digits, rounded half-up on the third decimal."""
    ints = np.asarray(pc.cast(int_part, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    frac3 = pc.utf8_slice_codeunits(pc.utf8_rpad(frac, width=3, padding="0"), 0, 3)
    frac3 = np.asarray(pc.cast(frac3, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    return ints * 100 + frac3 // 10 + (frac3 % 10 >= 5)


def _parse_full(raw: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`parse_pence` for any text: currency signs, thousands separators, brackets, CR/DR."""
    ambiguous = np.asarray(
        pc.fill_null(pc.match_substring_regex(raw, _AMBIGUOUS), False).to_numpy(zero_copy_only=False),
        dtype=bool,
    )
    s = pc.utf8_upper(pc.replace_substring_regex(raw, _STRIP, ""))
    s = pc.replace_substring(s, "\u2212", "-")  # Unicode minus sign
    m = pc.extract_regex(s, _AMOUNT)
    field = {
        name: pc.struct_field(m, name) for name in ("open", "sign", "int", "frac", "tsign", "close", "cr")
    }
    int_part = pc.fill_null(field["int"], "")
    frac = pc.fill_null(field["frac"], "")
    matched = pc.is_valid(field["int"])
    has_digits = pc.or_(pc.greater(pc.utf8_length(int_part), 0), pc.greater(pc.utf8_length(frac), 0))
    balanced = pc.equal(
        pc.fill_null(field["open"], ""), pc.if_else(pc.equal(pc.fill_null(field["close"], ""), ")"), "(", "")
    )
    short = pc.less_equal(pc.utf8_length(int_part), MAX_INT_DIGITS)
    ok_arr = pc.fill_null(pc.and_(pc.and_(matched, has_digits), pc.and_(balanced, short)), False)
    ok = np.asarray(ok_arr.to_numpy(zero_copy_only=False), dtype=bool) & ~ambiguous
    ints = pc.if_else(pc.and_(ok_arr, pc.greater(pc.utf8_length(int_part), 0)), int_part, "0")
    ints = np.asarray(pc.cast(ints, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    frac3 = pc.utf8_slice_codeunits(pc.utf8_rpad(frac, width=3, padding="0"), 0, 3)
    frac3 = pc.if_else(ok_arr, frac3, "000")
    frac3 = np.asarray(pc.cast(frac3, pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    pence = ints * 100 + frac3 // 10 + (frac3 % 10 >= 5)
    negative = pc.or_(
        pc.or_(
            pc.is_valid(pc.if_else(pc.equal(pc.fill_null(field["open"], ""), "("), True, None)),
            pc.equal(pc.fill_null(field["sign"], ""), "-"),
        ),
        pc.or_(
            pc.equal(pc.fill_null(field["tsign"], ""), "-"), pc.equal(pc.fill_null(field["cr"], ""), "CR")
        ),
    )
    negative = np.asarray(pc.fill_null(negative, False).to_numpy(zero_copy_only=False), dtype=bool)
    pence = np.where(negative, -pence, pence).astype(np.int64)
    # Rare forms (scientific notation from spreadsheets): exact Decimal, value by value.
    empty = np.asarray(pc.equal(s, "").to_numpy(zero_copy_only=False), dtype=bool)
    rest = np.flatnonzero(~ok & ~empty & ~ambiguous)
    if len(rest):
        texts = pc.take(s, pa.array(rest)).to_pylist()
        for i, text in zip(rest, texts, strict=True):
            p = _decimal_pence(text)
            if p is not None:
                pence[i] = p
                ok[i] = True
    pence[~ok] = 0
    return pence, ok


def amount_error(raw: str) -> str:
    """Why ``raw`` (not read by :func:`parse_pence`) is not an amount, in plain words."""
    if raw == "":
        return "amount missing"
    if re.search(_AMBIGUOUS, raw):
        return AMBIGUOUS
    return "not an amount"


def _decimal_pence(text: str) -> int | None:
    """Exact pence of a rarer form ("1.2E+3"), None when it is not an amount. ``adjusted()`` (the
    power of ten of the first digit) needs no arithmetic: ``abs()`` of "1e9999999" overflows the
    decimal context, which once rejected the whole file."""
    try:
        d = Decimal(text)
        if not d.is_finite() or (d and d.adjusted() >= MAX_INT_DIGITS):  # 0E+20 is 0
            return None
        return int((d * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except ArithmeticError:  # InvalidOperation, Overflow: not an amount this file can hold
        return None


def pence_to_pounds(pence: np.ndarray) -> np.ndarray:
    """Float pounds for the output column: the nearest double to the exact pence value."""
    return np.round(pence / 100.0, 2)
