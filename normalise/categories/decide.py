"""Decide one expense type or service area from its own words: a published code, the keyword rules
on the value as written, then expanded (``tokens.py``), then a descriptive code. ``classify.py``
adds row context and overrides; ``context.py`` reads these decisions for the other columns. Kept
apart so that neither of those imports the other.
"""

from __future__ import annotations

import re
from functools import lru_cache

from normalise.categories.rules import code_lists, keyword_rules, normalise_value
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
