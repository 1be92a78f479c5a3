"""Load the rule files (YAML/CSV data next to this module) into compiled, ordered matchers.

The rules are data so a reviewer can read and change them without reading Python; this module
only checks them (every label must be in the taxonomy, every regex must compile) and compiles
them once per process.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from normalise.categories.taxonomy import LABELS
from normalise.rulefiles import load_yaml

RULES_DIR = Path(__file__).parent / "rules"
RULE_FILES = {"expense_type": "subjective_groups.yml", "service_area": "service_divisions.yml"}
CODE_LISTS = RULES_DIR / "code_lists.yml"
OVERRIDES = Path(__file__).parent / "overrides.csv"

_APOSTROPHES = re.compile(r"['’‘´`]")
_NON_WORD = re.compile(r"[^0-9a-z+]+")


def normalise_value(value: object) -> str:
    """Lower case, ``&`` -> ``and``, apostrophes dropped, other punctuation -> one space.

    Why: councils spell one heading many ways ("Children's Services", "CHILDRENS SERVICES",
    "Childrens' Svcs"); the rules are written once against this form.
    """
    if value is None:
        return ""
    text = str(value)
    if text.lower() in {"nan", "<na>", "none"}:
        return ""
    text = _APOSTROPHES.sub("", text.lower().replace("&", " and "))
    return _NON_WORD.sub(" ", text).strip()


@dataclass(frozen=True)
class Rule:
    id: str
    label: str
    confidence: float
    whole: bool
    regex: re.Pattern[str]

    def matches(self, text: str) -> bool:
        return bool(self.regex.fullmatch(text) if self.whole else self.regex.search(text))

    def find(self, text: str) -> str | None:
        """The words that matched (for evidence), or None."""
        m = self.regex.fullmatch(text) if self.whole else self.regex.search(text)
        return m.group(0) if m else None


class RuleFileError(ValueError):
    """A rule file is malformed; the message names the file and the rule."""


@cache
def keyword_rules(kind: str) -> tuple[Rule, ...]:
    """The ordered keyword rules for ``kind`` (``expense_type`` or ``service_area``)."""
    path = RULES_DIR / RULE_FILES[kind]
    data = load_yaml(path)
    allowed = LABELS[kind]
    rules: list[Rule] = []
    for i, raw in enumerate(data.get("rules", []), start=1):
        rid = raw.get("id") or f"rule{i}"
        label = raw.get("label")
        if label not in allowed:
            raise RuleFileError(f"{path}: rule {rid!r} has label {label!r}; allowed: {', '.join(allowed)}")
        patterns = raw.get("patterns") or []
        if not patterns:
            raise RuleFileError(f"{path}: rule {rid!r} has no patterns")
        try:
            regex = re.compile("|".join(f"(?:{p})" for p in patterns))
        except re.error as exc:
            raise RuleFileError(f"{path}: rule {rid!r}: bad regex: {exc}") from exc
        rules.append(Rule(rid, label, float(raw.get("confidence", 0.5)), bool(raw.get("whole")), regex))
    return tuple(rules)


@cache
def code_lists() -> dict:
    """ProClass prefixes and service-division codes (``code_lists.yml``)."""
    data = load_yaml(CODE_LISTS)
    for prefix, entry in data["proclass"]["level1_by_prefix"].items():
        if entry["group"] not in LABELS["expense_type"]:
            raise RuleFileError(f"{CODE_LISTS}: ProClass {prefix} has unknown group {entry['group']!r}")
    for code, label in data["service_division_codes"]["codes"].items():
        if label not in LABELS["service_area"]:
            raise RuleFileError(f"{CODE_LISTS}: service code {code!r} has unknown division {label!r}")
    return data


def load_overrides(path: Path | None = None) -> dict[tuple[str, str, str], tuple[str, str]]:
    """Per-council overrides: (council, kind, normalised value) -> (label, note).

    ``council`` is matched case-insensitively and may be a GSS code or the registry slug;
    ``*`` applies to every council. Errors name the file and line.
    """
    path = path or OVERRIDES
    if not path.exists():
        return {}
    out: dict[tuple[str, str, str], tuple[str, str]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        lines = (line for line in fh if not line.lstrip().startswith("#"))
        for n, row in enumerate(csv.DictReader(lines), start=2):
            kind = (row.get("kind") or "").strip()
            label = (row.get("label") or "").strip()
            if kind not in LABELS:
                raise RuleFileError(
                    f"{path}: data row {n}: kind {kind!r} must be expense_type or service_area"
                )
            if label not in LABELS[kind]:
                raise RuleFileError(f"{path}: data row {n}: label {label!r} is not a {kind} label")
            council = (row.get("council") or "*").strip().lower() or "*"
            out[(council, kind, normalise_value(row.get("value")))] = (label, (row.get("note") or "").strip())
    return out
