"""Redacted payees: recognise placeholder text in all its spellings and say why it was withheld.

Patterns live in ``redaction.yml``. Only distinct values are tested, so a 40k-row file costs a few
thousand regex matches at most.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from normalise.rulefiles import load_yaml

RULES_PATH = Path(__file__).with_name("redaction.yml")


@cache
def _rules() -> tuple[re.Pattern, re.Pattern, list[tuple[str, list[str]]]]:
    data = load_yaml(RULES_PATH)
    placeholder = re.compile("|".join(f"(?:{p})" for p in data["placeholders"]), re.I)
    flag = re.compile("|".join(f"(?:{p})" for p in data["flag_values"]), re.I)
    reasons = [(k, [w.lower() for w in v]) for k, v in data["reasons"].items()]
    return placeholder, flag, reasons


def reason_for(text: str) -> str:
    low = text.lower()
    for reason, words in _rules()[2]:
        if any(w in low for w in words):
            return reason
    return "unspecified"


_SEEN_LIMIT = 50_000  # distinct payee texts per pattern kept per process (a few MB)
_seen: dict[str, dict[str, str | None]] = {}  # pattern -> text -> reason, None when not a placeholder


_UNSEEN = object()


def _classify(texts: list[str], pattern: re.Pattern) -> list[str | None]:
    """Each text's reason (None: not redacted). A crawl's files repeat their payees month after
    month, so each text is matched once per process, not once per file."""
    seen = _seen.setdefault(pattern.pattern, {})
    if len(seen) > _SEEN_LIMIT:
        seen.clear()
    out = []
    for u in texts:
        reason = seen.get(u, _UNSEEN)
        if reason is _UNSEEN:
            reason = seen[u] = reason_for(u) if pattern.match(" ".join(u.split())) else None
        out.append(reason)
    return out


def _classify_unique(values: pd.Series, pattern: re.Pattern) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(values if values.dtype == "str" else values.astype(str))
    if len(uniques) == 0:
        return np.zeros(len(values), bool), np.full(len(values), "", dtype=object)
    # one conversion, not Arrow iteration; a missing value (code -1) is the last, never redacted
    reasons = [*_classify(uniques.tolist(), pattern), None]
    hit = np.fromiter((r is not None for r in reasons), dtype=bool, count=len(reasons))
    if not hit.any():
        return hit[codes], np.full(len(codes), "", dtype=object)
    why = np.array([r or "" for r in reasons], dtype=object)
    return hit[codes], why[codes]


def detect(supplier: pd.Series, flag: pd.Series | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (is_redacted bool array, reason array with "" where not redacted)."""
    placeholder, flag_re, _ = _rules()
    is_red, why = _classify_unique(supplier, placeholder)
    if flag is not None:
        f_red, f_why = _classify_unique(flag, flag_re)
        new = f_red & ~is_red
        is_red = is_red | f_red
        why = np.where(new, f_why, why)
    return is_red, why
