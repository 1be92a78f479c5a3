"""The rule data (rules.yml, overrides.csv, council companies, forenames), loaded and applied to names.

Rule data lives in YAML/CSV so a policy change is a data change; this module compiles it once.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from normalise.rulefiles import parse_yaml
from normalise.suppliers.decision import SECTORS, Decision
from normalise.suppliers.keys import (
    company_number,
    display_name,
    match_key,
)

HERE = Path(__file__).resolve().parent
RULES_FILE = HERE / "rules.yml"
OVERRIDES_FILE = HERE / "overrides.csv"
COUNCIL_COMPANIES_FILE = HERE / "council_companies.csv"
FORENAMES_FILE = HERE / "forenames.txt"


@dataclass(frozen=True)
class Rulebook:
    """Everything a run knows besides the registers: compiled rules.yml, overrides, council companies."""

    rules: dict
    overrides: dict[tuple[str, str], Decision]
    council_companies: tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]


@dataclass(frozen=True)
class Rule:
    id: str
    pattern: re.Pattern
    unless: re.Pattern | None
    sector: str
    subsector: str
    confidence: float


# libyaml's parser when installed: the same objects as ``yaml.safe_load``, in a tenth of the time
safe_yaml = parse_yaml


@lru_cache(maxsize=4)
def load_rules(path: Path = RULES_FILE) -> dict:
    """rules.yml compiled: {"rules": [Rule], "individuals": {...}, "register_categories": {...}, ...}."""
    with open(path, encoding="utf-8") as fh:
        data = safe_yaml(fh)
    rules = []
    for i, r in enumerate(data["rules"]):
        try:
            if r["sector"] not in SECTORS:
                raise ValueError(f"sector {r['sector']!r} is not one of {SECTORS}")
            rules.append(
                Rule(
                    r["id"],
                    re.compile(r["pattern"]),
                    re.compile(r["unless"]) if r.get("unless") else None,
                    r["sector"],
                    r.get("subsector", ""),
                    float(r["confidence"]),
                )
            )
        except (KeyError, re.error, ValueError) as exc:
            raise ValueError(f"{path}: rule {i + 1} ({r.get('id', '?')}): {exc}") from exc
    data["rules"] = rules
    ind = data["individuals"]
    ind["carer_re"] = re.compile(ind["carer_pattern"])
    ind["business"] = frozenset(ind["business_words"])
    ind["business_but_and"] = ind["business"] - {"and"}
    data["brand_match"]["generic_set"] = frozenset(data["brand_match"]["generic_words"])
    cw = data["council_words"]
    cw["vocabulary_set"], cw["not_typos_set"] = frozenset(cw["vocabulary"]), frozenset(cw["not_typos"])
    for words in (
        "titles",
        "post_nominals",
        "legal_forms",
        "trade_words",
        "trade_fillers",
        "not_name_words",
        "royal_titles",
    ):
        ind[f"{words}_set"] = frozenset(ind[words])
    return data


@lru_cache(maxsize=1)
def forenames() -> frozenset[str]:
    lines = FORENAMES_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip().lower() for w in lines if w.strip() and not w.startswith("#"))


def _read_csv(path: Path, required: Iterable[str]) -> list[dict]:
    if not path.exists():
        return []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(row for row in fh if not row.lstrip().startswith("#")))
    if rows:
        missing = [c for c in required if c not in rows[0]]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    return rows


@lru_cache(maxsize=2)
def load_overrides(path: Path = OVERRIDES_FILE) -> dict[tuple[str, str], Decision]:
    """overrides.csv: match_key,council,sector,subsector,org_id,note,source → {(key, council or ""): Decision}.

    Every row needs a ``source`` (a URL or a register): an override is a fact, not a fit.
    """
    out: dict[tuple[str, str], Decision] = {}
    for n, row in enumerate(_read_csv(path, ["match_key", "sector", "source"]), start=2):
        sector = row["sector"].strip()
        if sector not in SECTORS:
            raise ValueError(f"{path}: row {n}: sector {sector!r} is not one of {SECTORS}")
        if not (row.get("source") or "").strip():
            raise ValueError(f"{path}: row {n}: no source (a URL or a register the fact comes from)")
        key = match_key(row["match_key"])
        note = (row.get("note") or "").strip()
        out[(key, (row.get("council") or "").strip())] = Decision(
            sector,
            (row.get("subsector") or "").strip(),
            1.0,
            f"override: {note or key} (source: {row['source'].strip()})",
            "override",
            (row.get("org_id") or "").strip() or None,
        )
    return out


@lru_cache(maxsize=2)
def load_council_companies(*paths: Path) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    """Council-owned companies: ({match_key: (name, council_id)}, {company_number: (name, council_id)})."""
    by_key: dict[str, tuple[str, str]] = {}
    by_number: dict[str, tuple[str, str]] = {}
    for path in paths:
        for row in _read_csv(path, ["name", "council_id"]):
            name = display_name(row["name"])
            entry = (name, (row.get("council_id") or "").strip())
            if name:
                by_key[match_key(name)] = entry
            number = company_number(row.get("company_number"))
            if number:
                by_number[number] = entry
    return by_key, by_number


GROUP_SIZE = 8


@lru_cache(maxsize=4)
def rule_groups(rules: tuple[Rule, ...]) -> list[tuple[re.Pattern, list[Rule]]]:
    """Rules by descending confidence, in groups screened by one combined pattern.

    Most payees match none of a group's rules, so one search usually rules out eight.
    """
    ordered = sorted(rules, key=lambda r: -r.confidence)  # stable: file order breaks ties
    groups = []
    for start in range(0, len(ordered), GROUP_SIZE):
        chunk = ordered[start : start + GROUP_SIZE]
        groups.append((re.compile("|".join(f"(?:{r.pattern.pattern})" for r in chunk)), chunk))
    return groups


def best_rule(text: str, groups: list[tuple[re.Pattern, list[Rule]]]) -> Decision | None:
    """The most confident rule that matches ``text`` (ties: the rule listed first in rules.yml).

    ``groups`` comes from ``rule_groups(tuple(load_rules()["rules"]))``.
    """
    for screen, chunk in groups:
        if not screen.search(text):
            continue
        for r in chunk:
            if r.pattern.search(text) and not (r.unless and r.unless.search(text)):
                return Decision(r.sector, r.subsector, r.confidence, f"rule {r.id}", "rule")
    return None
