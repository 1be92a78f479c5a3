"""Name rules and other regular expressions run over all distinct payee texts at once.

Why: trying rules.yml's ~70 patterns one name at a time in Python ``re`` was the slowest step of the
publish build (millions of searches). Here each pattern runs once over an Arrow array of texts with
``pyarrow.compute.match_substring_regex`` (RE2: linear time, compiled to a DFA, no per-name Python).

Semantics are those of the per-name loop, exactly: rules are tried by descending confidence (file
order breaks ties) and the first whose ``pattern`` matches and whose ``unless`` does not wins. Rules
are screened in groups of ``GROUP_SIZE`` by one combined pattern, and each text leaves the scan as
soon as a rule decides it. The texts are plain lower-case ASCII (``keys.plain_text``), where RE2 and
Python agree on ``\\b``, ``\\w``, ``\\s`` and ``$``; a pattern RE2 cannot compile (look-arounds,
back-references) falls back to Python ``re`` for that pattern only, so rules.yml keeps full Python
regex syntax.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

GROUP_SIZE = 8


class RuleLike(Protocol):
    pattern: re.Pattern
    unless: re.Pattern | None
    confidence: float


def regex_mask(values: pa.Array, pattern: re.Pattern) -> np.ndarray:
    """Boolean array: does ``pattern`` match somewhere in each value (nulls never match)?"""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    ignore_case = bool(pattern.flags & re.IGNORECASE)
    try:
        hit = pc.match_substring_regex(values, pattern.pattern, ignore_case=ignore_case)
        mask = hit.fill_null(False).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:  # not RE2 syntax: Python re, one value at a time
        mask = np.fromiter(
            (v is not None and pattern.search(v) is not None for v in values.to_pylist()),
            dtype=bool,
            count=len(values),
        )
    # RE2 and Python differ only on non-ASCII text (Unicode \s and \w, case folding of the Kelvin sign):
    # let Python decide those few values, so the result is always exactly what ``pattern.search`` says.
    odd = np.nonzero(~pc.string_is_ascii(values).fill_null(True).to_numpy(zero_copy_only=False))[0]
    for i in odd.tolist():
        value = values[i].as_py()
        mask[i] = value is not None and pattern.search(value) is not None
    return mask


def _compiled_or(patterns: Sequence[re.Pattern]) -> re.Pattern:
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns))


def best_rules(texts: Sequence[str], rules: Sequence[RuleLike]) -> list[RuleLike | None]:
    """For each text, the rule the per-name cascade would pick (or None): see the module docstring."""
    ordered = sorted(rules, key=lambda r: -r.confidence)  # stable: file order breaks ties
    out: list[RuleLike | None] = [None] * len(texts)
    remaining = np.arange(len(texts))
    pending = pa.array(texts, type=pa.string())
    for start in range(0, len(ordered), GROUP_SIZE):
        if not len(remaining):
            break
        chunk = ordered[start : start + GROUP_SIZE]
        screened = regex_mask(pending, _compiled_or([r.pattern for r in chunk]))
        if not screened.any():
            continue
        where = np.nonzero(screened)[0]  # positions in ``pending``
        candidates = pending.take(pa.array(where))
        decided = np.zeros(len(where), dtype=bool)
        for rule in chunk:
            open_ = np.nonzero(~decided)[0]
            if not len(open_):
                break
            sub = candidates.take(pa.array(open_))
            hit = regex_mask(sub, rule.pattern)
            if rule.unless is not None and hit.any():
                hit &= ~regex_mask(sub, rule.unless)
            won = open_[hit]
            for i in remaining[where[won]].tolist():
                out[i] = rule
            decided[won] = True
        keep = np.ones(len(remaining), dtype=bool)
        keep[where[decided]] = False
        remaining = remaining[keep]
        pending = pending.filter(pa.array(keep))
    return out
