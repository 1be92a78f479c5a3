"""Input columns reduced to codes into their distinct values, and output columns built back from them.

Why: payees repeat a lot; every step works once per distinct value, never per payment row.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from normalise.suppliers.decision import Decision
from normalise.suppliers.keys import (
    MATCH_KEY_RAW_CUES,
    council_body,
    match_key,
    match_key_from_plain,
    plain_text,
)
from normalise.suppliers.rule_scan import regex_mask


def col(df: pd.DataFrame, name: str) -> pd.Series:
    if name in df.columns:
        return df[name].astype("string").fillna("")
    return pd.Series([""] * len(df), index=df.index, dtype="string")


def redacted_flag(df: pd.DataFrame) -> pd.Series:
    if "is_redacted" not in df.columns:
        return pd.Series([False] * len(df), index=df.index)
    return df["is_redacted"].map(lambda v: str(v).strip().lower() in ("true", "1", "yes", "t"))


def per_distinct(values: list, fn) -> list:
    """``[fn(v) for v in values]``, calling ``fn`` once per distinct string (payees repeat a lot).

    Only strings are cached: ``1``, ``1.0`` and ``True`` are equal dict keys but not equal names.
    """
    cache: dict[str, object] = {}
    out = []
    for v in values:
        if type(v) is str:
            r = cache.get(v, _MISSING)
            if r is _MISSING:
                r = cache[v] = fn(v)
        else:
            r = fn(v)
        out.append(r)
    return out


_MISSING = object()


def cleaner(fn: Callable[[str], str | None]) -> Callable[[str], str | None]:
    """``fn`` for an identifier column: only real, non-empty strings in, a non-empty string or None out."""

    def one(v: str) -> str | None:
        # a stray float NaN must not become "nan"
        cleaned = fn(v) if isinstance(v, str) and v else None
        return cleaned if isinstance(cleaned, str) and cleaned else None

    return one


def clean(df: pd.DataFrame, column: str, fn) -> list:
    if column not in df.columns:
        return [None] * len(df)
    return per_distinct(col(df, column).tolist(), cleaner(fn))


def is_true(value: object) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes", "t")


def same(value: str) -> str:
    return value


EACH = object()  # ``_encode``: call ``fn`` on each missing value, as the row-by-row definition does


def _encode(
    values: pd.Series, fn: Callable[[str], object], missing: object
) -> tuple[np.ndarray, list] | None:
    """(codes, results) with ``results[codes[row]] == fn(values[row])``, ``fn`` called once per distinct value.

    Why: hashing a column once (``pd.factorize``) costs far less than a Python dict look-up per row, and
    the input has millions of rows. Missing values (None, NaN, NA) get ``missing`` (or, with ``EACH``,
    ``fn`` of each one). None when the column holds non-string values: factorize pools ``1``, ``1.0``
    and ``True``, which are different names, so the caller must go row by row.
    """
    codes, uniques = pd.factorize(values)
    distinct = uniques.tolist()
    if any(type(v) is not str for v in distinct):
        return None
    results = [fn(v) for v in distinct]
    codes = codes.astype(np.int64, copy=False)
    gaps = np.flatnonzero(codes < 0)
    if len(gaps) and missing is EACH:
        for row in gaps.tolist():
            codes[row] = len(results)
            results.append(fn(values.iat[row]))
    elif len(gaps):
        codes[gaps] = len(results)
        results.append(missing)
    return codes, results


def column_codes(
    df: pd.DataFrame,
    column: str,
    fn: Callable[[str], object],
    missing: object,
    row_by_row: Callable[[], list],
) -> tuple[np.ndarray, list]:
    """``_encode`` of one input column; ``[missing]`` for every row when the column is absent, and
    ``row_by_row()`` (the per-row definition) when the column has non-string values."""
    if column not in df.columns:
        return np.zeros(len(df), dtype=np.int64), [missing]
    encoded = _encode(df[column], fn, missing)
    if encoded is None:
        return np.arange(len(df), dtype=np.int64), row_by_row()
    return encoded


def value_codes(codes: np.ndarray, results: list) -> np.ndarray:
    """Row codes renumbered so that rows whose results are equal share a code ("A  B" and "A B")."""
    values = np.empty(len(results), dtype=object)
    values[:] = results
    ids, _ = pd.factorize(values)  # None is -1
    if np.array_equal(ids, np.arange(len(ids))):  # results all different (the usual case): codes as they are
        return codes
    return ids.astype(np.int64)[codes] + 1


def first_seen_codes(parts: list[np.ndarray]) -> np.ndarray:
    """One code per distinct tuple across row-aligned code arrays, numbered in order of first appearance.

    The order matters: entity resolution and its tie-breaks follow the order of the distinct names.
    Parts are packed into one int64 key (factorized early only if it would overflow), then factorized once.
    """
    key = parts[0].astype(np.int64)
    bound = int(key.max()) + 1 if len(key) else 1  # every key value is below bound
    for part in parts[1:]:
        size = int(part.max()) + 1 if len(part) else 1
        if size == 1:  # a constant column (an absent or empty identifier) distinguishes nothing
            continue
        if bound * size >= 2**62:
            key, uniques = pd.factorize(key)
            key, bound = key.astype(np.int64), len(uniques)
        key = key * size + part
        bound *= size
    return pd.factorize(key)[0].astype(np.int64)


def rounded_confidences(decisions: list[Decision]) -> np.ndarray:
    """``round(confidence, 3)`` of each decision; a run has a handful of distinct confidences, so each is
    rounded once."""
    memo: dict[float, float] = {}
    out = np.empty(len(decisions), dtype="float64")
    for i, d in enumerate(decisions):
        r = memo.get(d.confidence)
        if r is None:
            r = memo[d.confidence] = round(float(d.confidence), 3)
        out[i] = r
    return out


# With copy-on-write (always on from pandas 3) a shallow copy of the input cannot be changed through the
# output: the input columns need not be duplicated.
COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3 or pd.get_option("mode.copy_on_write") is True


def _inferred_string_dtype() -> pd.StringDtype | None:
    """The Arrow-backed dtype pandas gives an object array of strings (pandas >= 3), else None."""
    dtype = pd.Series(np.array(["x"], dtype=object)).dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return dtype
    return None


_STRING_DTYPE = _inferred_string_dtype()


def string_column(
    values: list, take: np.ndarray, all_text: bool | None = None
) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """``np.asarray(values, dtype=object)[take]``, stored as pandas would store it.

    Why: where pandas keeps strings in Arrow, an Arrow ``take`` builds the column directly, instead of
    an object array of millions of references that pandas then converts string by string.
    ``all_text``: whether the column's values are all strings, when the caller knows (``values`` may
    be the part of a column its rows use); by default, whether ``values`` are.
    """
    if all_text is None:
        all_text = all(type(v) is str for v in values)
    if _STRING_DTYPE is not None and all_text:
        return pd.array(pa.array(values, type=pa.large_string()).take(pa.array(take)), dtype=_STRING_DTYPE)
    return np.asarray(values, dtype=object)[take]


def plain_texts(names: list[str], name_arr: pa.Array) -> list[str]:
    """``plain_text`` of each distinct display name: Arrow kernels for ASCII names, Python for the rest."""
    out = _plain_ascii(name_arr)
    for i in _not_ascii(name_arr):  # accents to fold, curly apostrophes: the Python definition
        out[i] = plain_text(names[i])
    return out


def _plain_ascii(arr: pa.Array) -> list[str]:
    """``plain_text`` of each value, right for ASCII values only."""
    text = pc.utf8_lower(arr)
    text = pc.replace_substring_regex(text, "['`]", "")
    text = pc.replace_substring_regex(text, "[&+]", " and ")
    text = pc.replace_substring_regex(text, "[^a-z0-9]+", " ")
    text = pc.utf8_trim(text, " ")
    if text.null_count:
        return text.to_pylist()
    # equal texts share one string: names differing in case or punctuation are many, kept for all slices
    encoded = pc.dictionary_encode(text)
    return list(map(encoded.dictionary.to_pylist().__getitem__, encoded.indices.to_numpy().tolist()))


def _not_ascii(arr: pa.Array) -> list[int]:
    return np.nonzero(~pc.string_is_ascii(arr).to_numpy(zero_copy_only=False))[0].tolist()


def council_bodies(names: list[str], name_arr: pa.Array, texts: list[str]) -> list[str]:
    """``council_body`` of each distinct display name (``texts``: their plain texts): Arrow kernels
    for ASCII names (the patterns are those of ``keys._PARENS`` and ``keys._DEPARTMENT``, where RE2
    and Python agree on ASCII), Python for the rest."""
    cut = pc.replace_substring_regex(name_arr, r"\(([^)]*)\)?", " ")
    cut = pc.replace_substring_regex(cut, r"(?s)\s+[-:]\s+.*", "", max_replacements=1)
    out = _plain_ascii(cut)
    for i in _not_ascii(name_arr):
        out[i] = council_body(names[i], texts[i])
    return out


def match_keys(names: list[str], name_arr: pa.Array, texts: list[str]) -> list[str]:
    """``match_key`` of each distinct name, from its plain text unless the raw name has a cue that matters."""
    raw = np.zeros(len(names), dtype=bool)
    for cue in MATCH_KEY_RAW_CUES:
        raw |= regex_mask(name_arr, cue)
    from_plain: dict[str, str] = {}  # names differing only in case or punctuation share a plain text
    out = []
    for n, t, r in zip(names, texts, raw.tolist(), strict=True):
        if r:
            out.append(match_key(n))
            continue
        key = from_plain.get(t)
        if key is None:
            key = from_plain[t] = match_key_from_plain(t)
        out.append(key)
    return out
