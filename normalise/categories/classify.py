"""Map expense types to SeRCOP subjective groups and service areas to SeRCOP service divisions.

Order of evidence, strongest first: a code from a published scheme (ProClass, RO division codes),
then the ordered keyword rules (``rules/*.yml``), then per-council overrides (``overrides.csv``),
which win because a person checked them. Every output row says which rule decided it.

Work is done once per distinct (kind, value, code, council): publish calls this on the distinct
values of a national dataset, and the same few thousand headings repeat across millions of rows.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pandas as pd

from normalise.categories.rules import code_lists, keyword_rules, load_overrides, normalise_value
from normalise.categories.taxonomy import LABELS

# A ProClass code must say so ("PROCLASS 321000", "ProClass:321000"): a bare six-digit number is
# far more often a council's own ledger code (Trafford's 230842 is a care-fees account, not
# ProClass "Highway Equipment").
_PROCLASS = re.compile(r"pro\s*class\s*(?:v?\d+(?:\.\d+)?)?\s*[:\-]?\s*(\d{6})", re.I)
_HAS_LETTERS = re.compile(r"[a-z]{3}", re.I)


def _by_code(kind: str, code: str) -> tuple[str, float, str] | None:
    code = code.strip()
    if not code:
        return None
    lists = code_lists()
    if kind == "expense_type":
        m = _PROCLASS.fullmatch(code)
        if m:
            entry = lists["proclass"]["level1_by_prefix"].get(m.group(1)[:2])
            if entry:
                return entry["group"], float(lists["proclass"]["confidence"]), f"code:proclass:{m.group(1)[:2]}"
        return None
    label = lists["service_division_codes"]["codes"].get(code.lower())
    if label:
        return label, float(lists["service_division_codes"]["confidence"]), f"code:sercop_division:{code.lower()}"
    return None


def _by_keywords(kind: str, text: str) -> tuple[str, float, str] | None:
    for rule in keyword_rules(kind):
        if rule.matches(text):
            return rule.label, rule.confidence, f"keyword:{rule.id}"
    return None


@lru_cache(maxsize=200_000)
def classify_value(kind: str, value: str, code: str = "") -> tuple[str, float, str]:
    """(label, confidence, rule) for one value: a code from a published scheme first, then the
    keyword rules on the value, then (when the value says nothing) the keyword rules on a
    descriptive code such as Harrogate's "Expenditure Code" text."""
    if kind not in LABELS:
        raise ValueError(f"kind must be one of {', '.join(LABELS)}, not {kind!r}")
    decided = _by_code(kind, code)
    if decided:
        return decided
    text = normalise_value(value)
    hit = _by_keywords(kind, text) if text else None
    if hit and hit[0] != "unknown":
        return hit
    if _HAS_LETTERS.search(code):
        from_code = _by_keywords(kind, normalise_value(code))
        if from_code and from_code[0] != "unknown":
            return from_code[0], round(from_code[1] * 0.8, 3), f"code_text:{from_code[2]}"
    if hit:
        return hit
    return ("unknown", 1.0, "empty") if not text else ("unknown", 0.0, "no_rule")


def _clean(series: pd.Series) -> pd.Series:
    return series.astype("object").where(series.notna(), "").astype(str).str.strip()


def classify_categories(df: pd.DataFrame, overrides: Path | None = None) -> pd.DataFrame:
    """Return ``df`` plus ``label``, ``confidence`` (0-1) and ``rule`` (which rule decided).

    ``df`` needs ``kind`` (``expense_type``/``service_area``) and ``value``; ``council`` and
    ``code`` are optional. ``overrides`` defaults to ``normalise/categories/overrides.csv``.
    """
    missing = [c for c in ("kind", "value") if c not in df.columns]
    if missing:
        raise ValueError(f"classify_categories: input lacks column(s) {', '.join(missing)}")
    work = pd.DataFrame(
        {
            "kind": _clean(df["kind"]),
            "value": _clean(df["value"]),
            "council": _clean(df["council"]) if "council" in df.columns else "",
            "code": _clean(df["code"]) if "code" in df.columns else "",
        },
        index=df.index,
    )
    bad = ~work["kind"].isin(list(LABELS))
    if bad.any():
        first = work.index[bad][0]
        raise ValueError(
            f"classify_categories: row {first}: kind {work.at[first, 'kind']!r} must be "
            f"'expense_type' or 'service_area' ({int(bad.sum())} such rows)"
        )
    keys = work.drop_duplicates(ignore_index=True)
    decided = [classify_value(k, v, c) for k, v, c in zip(keys["kind"], keys["value"], keys["code"], strict=True)]
    keys["label"] = [d[0] for d in decided]
    keys["confidence"] = [d[1] for d in decided]
    keys["rule"] = [d[2] for d in decided]
    table = load_overrides(overrides)
    if table:
        for i, (council, kind, value) in enumerate(zip(keys["council"], keys["kind"], keys["value"], strict=True)):
            norm = normalise_value(value)
            for who in (council.lower(), "*"):
                hit = table.get((who, kind, norm))
                if hit:
                    keys.loc[i, ["label", "confidence", "rule"]] = [hit[0], 1.0, f"override:{council if who != '*' else '*'}"]
                    break
    merged = work.reset_index(drop=True).merge(keys, on=["kind", "value", "council", "code"], how="left")
    out = df.copy()
    out["label"] = merged["label"].to_numpy()
    out["confidence"] = merged["confidence"].astype(float).to_numpy()
    out["rule"] = merged["rule"].to_numpy()
    return out
