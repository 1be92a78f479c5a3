"""Map expense types to SeRCOP subjective groups and service areas to SeRCOP service divisions.

Order of evidence, strongest first: a code from a published scheme (ProClass, RO division codes);
the ordered keyword rules (``rules/*.yml``) on the value as written; the same rules on the value
with abbreviations and truncations expanded (``rules/vocabulary.yml``), at lower confidence; then,
only where the value says nothing or little, the row's context (``context.py``: a group or
capital/revenue column, a description or cost centre, the payee); per-council overrides
(``overrides.csv``) win because a person checked them. Every row says which rule decided and why.

Work is done once per distinct key: publish calls this on a national dataset, and the same few
thousand headings repeat across millions of rows.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pandas as pd

from normalise.categories.rules import code_lists, keyword_rules, load_overrides, normalise_value
from normalise.categories.taxonomy import LABELS
from normalise.categories.tokens import expand

# A ProClass code must say so ("PROCLASS 321000", "ProClass:321000"): a bare six-digit number is
# far more often a council's own ledger code (Trafford's 230842 is a care-fees account, not
# ProClass "Highway Equipment").
_PROCLASS = re.compile(r"pro\s*class\s*(?:v?\d+(?:\.\d+)?)?\s*[:\-]?\s*(\d{6})", re.I)
_HAS_LETTERS = re.compile(r"[a-z]{3}", re.I)
#: Below this confidence a value-only answer is "weak": expansion and row context may improve it.
WEAK = 0.6
#: Confidence kept when the answer comes from the expanded text rather than the text as written.
EXPANDED_FACTOR = 0.9

Decision = tuple[str, float, str, str]  # label, confidence, rule, evidence


def _by_code(kind: str, code: str) -> Decision | None:
    code = code.strip()
    if not code:
        return None
    lists = code_lists()
    if kind == "expense_type":
        m = _PROCLASS.fullmatch(code)
        if m:
            entry = lists["proclass"]["level1_by_prefix"].get(m.group(1)[:2])
            if entry:
                return (
                    entry["group"],
                    float(lists["proclass"]["confidence"]),
                    f"code:proclass:{m.group(1)[:2]}",
                    f"ProClass code {m.group(1)} ({entry['name']})",
                )
        return None
    label = lists["service_division_codes"]["codes"].get(code.lower())
    if label:
        return (
            label,
            float(lists["service_division_codes"]["confidence"]),
            f"code:sercop_division:{code.lower()}",
            f"SeRCOP division code {code}",
        )
    return None


def _by_keywords(kind: str, text: str) -> Decision | None:
    for rule in keyword_rules(kind):
        found = rule.find(text)
        if found is not None:
            return rule.label, rule.confidence, f"keyword:{rule.id}", f"'{found}'"
    return None


@lru_cache(maxsize=200_000)
def decide_text(kind: str, text: str) -> Decision | None:
    """Keyword rules on normalised ``text``, then on its expansion when that says more."""
    hit = _by_keywords(kind, text) if text else None
    if hit and hit[0] != "unknown" and hit[1] >= WEAK:
        return hit
    expanded = expand(text)
    if expanded != text:
        wide = _by_keywords(kind, expanded)
        if (
            wide
            and wide[0] != "unknown"
            and (hit is None or hit[0] == "unknown" or wide[1] * EXPANDED_FACTOR > hit[1])
        ):
            return (
                wide[0],
                round(wide[1] * EXPANDED_FACTOR, 3),
                f"expanded:{wide[2]}",
                f"{wide[3]} in expanded '{expanded}'",
            )
    return hit


@lru_cache(maxsize=200_000)
def decide_value(kind: str, value: str, code: str = "") -> Decision:
    """(label, confidence, rule, evidence) for one value: a published code first, then the keyword
    rules on the value (as written, then expanded), then on a descriptive code such as Harrogate's
    "Expenditure Code" text."""
    if kind not in LABELS:
        raise ValueError(f"kind must be one of {', '.join(LABELS)}, not {kind!r}")
    decided = _by_code(kind, code)
    if decided:
        return decided
    text = normalise_value(value)
    hit = decide_text(kind, text) if text else None
    if hit and hit[0] != "unknown":
        return hit[0], hit[1], hit[2], f"value {hit[3]}"
    if _HAS_LETTERS.search(code):
        from_code = decide_text(kind, normalise_value(code))
        if from_code and from_code[0] != "unknown":
            return (
                from_code[0],
                round(from_code[1] * 0.8, 3),
                f"code_text:{from_code[2]}",
                f"code {from_code[3]}",
            )
    if hit:
        return hit[0], hit[1], hit[2], f"value {hit[3]}"
    return (
        ("unknown", 1.0, "empty", "no value") if not text else ("unknown", 0.0, "no_rule", "no rule matched")
    )


def classify_value(kind: str, value: str, code: str = "") -> tuple[str, float, str]:
    """(label, confidence, rule) for one value; see :func:`decide_value` (which adds evidence)."""
    return decide_value(kind, value, code)[:3]


def _clean(series: pd.Series) -> pd.Series:
    return series.astype("object").where(series.notna(), "").astype(str).str.strip()


def _apply_overrides(keys: pd.DataFrame, overrides: Path | None) -> None:
    table = load_overrides(overrides)
    if not table:
        return
    for i, (council, kind, value) in enumerate(
        zip(keys["council"], keys["kind"], keys["value"], strict=True)
    ):
        norm = normalise_value(value)
        for who in (council.lower(), "*"):
            hit = table.get((who, kind, norm))
            if hit:
                who_name = council if who != "*" else "*"
                keys.loc[i, ["label", "confidence", "rule", "evidence"]] = [
                    hit[0],
                    1.0,
                    f"override:{who_name}",
                    f"override ({hit[1] or 'checked by hand'})",
                ]
                break


def classify_categories(df: pd.DataFrame, overrides: Path | None = None) -> pd.DataFrame:
    """Return ``df`` plus ``label``, ``confidence`` (0-1), ``rule``, ``evidence`` and ``transfer_kind``.

    ``df`` needs ``kind`` (``expense_type``/``service_area``) and ``value``; ``council`` and
    ``code`` are optional, and so are the context columns of :data:`context.CONTEXT_COLUMNS`
    (``group``, ``capital_revenue``, ``context``, ``service``, ``payee_name``, ``payee_sector``),
    used only when present. ``overrides`` defaults to ``normalise/categories/overrides.csv``.
    """
    from normalise.categories.context import CONTEXT_COLUMNS, apply_context

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
    decided = [
        decide_value(k, v, c) for k, v, c in zip(keys["kind"], keys["value"], keys["code"], strict=True)
    ]
    for i, col in enumerate(("label", "confidence", "rule", "evidence")):
        keys[col] = [d[i] for d in decided]
    _apply_overrides(keys, overrides)
    merged = work.reset_index(drop=True).merge(keys, on=["kind", "value", "council", "code"], how="left")
    merged.index = df.index
    context = {c: _clean(df[c]) for c in CONTEXT_COLUMNS if c in df.columns}
    merged = apply_context(merged, context)
    out = df.copy()
    out["label"] = merged["label"].to_numpy()
    out["confidence"] = merged["confidence"].astype(float).to_numpy()
    out["rule"] = merged["rule"].to_numpy()
    out["evidence"] = merged["evidence"].to_numpy()
    out["transfer_kind"] = merged["transfer_kind"].to_numpy()
    return out
