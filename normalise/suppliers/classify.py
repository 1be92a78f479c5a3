"""Sector of each payee, with the evidence and confidence that decided it.

Cascade (docs/suppliers.md): manual overrides → redaction → council-company list → identifiers in the
file → register look-ups → name rules (rules.yml) → a weak default. Every step that has an opinion
proposes a candidate; the most confident wins (ties go to the earlier step), and its evidence is kept.
Work is done once per distinct name (and once per distinct council context), never per payment row.
"""

from __future__ import annotations

import csv
import logging
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from normalise.suppliers.keys import (
    MATCH_KEY_RAW_CUES,
    charity_number,
    charity_org_id,
    company_number,
    council_key,
    council_key_from_plain,
    display_name,
    match_key,
    match_key_from_plain,
    plain_text,
    vat_number,
)
from normalise.suppliers.resolve import CONFIDENT, resolve
from normalise.suppliers.rule_scan import best_rules, regex_mask

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
RULES_FILE = HERE / "rules.yml"
OVERRIDES_FILE = HERE / "overrides.csv"
COUNCIL_COMPANIES_FILE = HERE / "council_companies.csv"
DEMO_COUNCIL_COMPANIES_FILE = HERE.parents[1] / "councilspend" / "demo" / "council_companies.csv"
FORENAMES_FILE = HERE / "forenames.txt"

SECTORS = ("private", "third_sector", "mutual", "public", "council_company", "individual", "redacted",
           "transfer", "unknown")
OUTPUT_COLUMNS = ("supplier_id", "canonical_name", "sector", "subsector", "confidence", "evidence")
ID_COLUMNS = ("supplier_company_number", "supplier_charity_number", "supplier_vat_number")
DEFAULT_CONFIDENCE = 0.35
INDIVIDUAL_LABEL = "Individual (name withheld)"
STEP_ORDER = {"override": 0, "redaction": 1, "council_company": 2, "identifier": 3, "register": 4,
              "rule": 5, "individual": 6, "default": 7}
_COUNCILISH = re.compile(r"\b(council|borough|authority|county|city of|corporation|mbc|lbc|lb|ca)\b")


@dataclass(frozen=True)
class Decision:
    sector: str
    subsector: str
    confidence: float
    evidence: str
    step: str
    org_id: str | None = None
    canonical: str | None = None

    def rank(self) -> tuple[float, int]:
        return _rank(self.confidence, self.step)


@lru_cache(maxsize=1024)
def _rank(confidence: float, step: str) -> tuple[float, int]:
    """``Decision.rank``: called millions of times on a handful of (confidence, step) pairs."""
    return (round(confidence, 3), -STEP_ORDER[step])


def _best(candidates: Iterable[Decision]) -> Decision | None:
    best, best_rank = None, None
    for c in candidates:
        rank = c.rank()
        if best is None or rank > best_rank:
            best, best_rank = c, rank
    return best


# --- data files ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    id: str
    pattern: re.Pattern
    unless: re.Pattern | None
    sector: str
    subsector: str
    confidence: float


@lru_cache(maxsize=4)
def load_rules(path: Path = RULES_FILE) -> dict:
    """rules.yml compiled: {"rules": [Rule], "individuals": {...}, "register_categories": {...}, ...}."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    rules = []
    for i, r in enumerate(data["rules"]):
        try:
            if r["sector"] not in SECTORS:
                raise ValueError(f"sector {r['sector']!r} is not one of {SECTORS}")
            rules.append(Rule(r["id"], re.compile(r["pattern"]),
                              re.compile(r["unless"]) if r.get("unless") else None,
                              r["sector"], r.get("subsector", ""), float(r["confidence"])))
        except (KeyError, re.error, ValueError) as exc:
            raise ValueError(f"{path}: rule {i + 1} ({r.get('id', '?')}): {exc}") from exc
    data["rules"] = rules
    ind = data["individuals"]
    ind["carer_re"] = re.compile(ind["carer_pattern"])
    ind["business"] = frozenset(ind["business_words"])
    ind["titles_set"] = frozenset(ind["titles"])
    return data


@lru_cache(maxsize=1)
def forenames() -> frozenset[str]:
    lines = FORENAMES_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))


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
    """overrides.csv: match_key,council,sector,subsector,org_id,note → {(key, council or ""): Decision}."""
    out: dict[tuple[str, str], Decision] = {}
    for n, row in enumerate(_read_csv(path, ["match_key", "sector"]), start=2):
        sector = row["sector"].strip()
        if sector not in SECTORS:
            raise ValueError(f"{path}: row {n}: sector {sector!r} is not one of {SECTORS}")
        key = match_key(row["match_key"])
        note = (row.get("note") or "").strip()
        out[(key, (row.get("council") or "").strip())] = Decision(
            sector, (row.get("subsector") or "").strip(), 1.0, f"override: {note or key}", "override",
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


# --- registers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrgFact:
    register: str
    org_id: str
    name: str | None
    category: str | None
    status: str | None
    company_number: str | None
    charity_number: str | None
    code: str | None


class Registers:
    """Read-only access to a registers database built by ``registers.load_register``."""

    def __init__(self, db: Path | None):
        self.conn = None
        if db is not None and Path(db).exists():
            self.conn = sqlite3.connect(f"file:{Path(db).resolve()}?mode=ro", uri=True)
            if not self.conn.execute("SELECT 1 FROM sqlite_master WHERE name='names'").fetchone():
                log.warning("%s has no supplier registers loaded; using name rules only", db)
                self.conn.close()
                self.conn = None
        elif db is not None:
            log.warning("registers database %s not found; using name rules only", db)
        self.rules = load_rules()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()

    def _facts(self, where: str, values: list[str]) -> dict[str, list[OrgFact]]:
        """{value: [OrgFact]} for organisations whose column in ``where`` equals a value."""
        out: dict[str, list[OrgFact]] = defaultdict(list)
        if self.conn is None or not values:
            return out
        for start in range(0, len(values), 900):
            chunk = values[start : start + 900]
            marks = ",".join("?" * len(chunk))
            sql = (f"SELECT {where}, register, org_id, name, category, status, company_number, charity_number, code "
                   f"FROM organisations WHERE {where} IN ({marks})")
            for row in self.conn.execute(sql, chunk):
                out[row[0]].append(OrgFact(*row[1:]))
        return out

    def names(self, keys: list[str], registers: tuple[str, ...] | None = None) -> dict[str, set[str]]:
        """{key: {org_id}} from the names index."""
        out: dict[str, set[str]] = defaultdict(set)
        if self.conn is None or not keys:
            return out
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS q(key TEXT PRIMARY KEY)")
        self.conn.execute("DELETE FROM q")
        self.conn.executemany("INSERT OR IGNORE INTO q VALUES (?)", ((k,) for k in keys))
        sql = "SELECT n.key, n.org_id, n.register FROM q JOIN names n ON n.key = q.key"
        for key, org_id, register in self.conn.execute(sql):
            if registers is None or register in registers:
                out[key].add(org_id)
        return out

    def facts_for(self, org_ids: Iterable[str]) -> dict[str, list[OrgFact]]:
        """Everything every register says about these org-ids, widened through shared company numbers."""
        org_ids = sorted(set(org_ids))
        direct = self._facts("org_id", org_ids)
        numbers = sorted({f.company_number for fs in direct.values() for f in fs if f.company_number}
                         | {o.removeprefix("GB-COH-") for o in org_ids if o.startswith("GB-COH-")})
        by_number = self._facts("company_number", numbers)
        out: dict[str, list[OrgFact]] = {}
        for o in org_ids:
            facts = list(direct.get(o, []))
            nums = {f.company_number for f in facts if f.company_number}
            if o.startswith("GB-COH-"):
                nums.add(o.removeprefix("GB-COH-"))
            for num in nums:
                facts += [f for f in by_number.get(num, []) if f not in facts]
            out[o] = facts
        return out

    def decide(self, facts: list[OrgFact], how: str, name_text: str = "") -> Decision | None:
        """One decision from everything the registers say about one organisation."""
        if not facts:
            return None
        cats = self.rules["register_categories"]
        order = self.rules["register_precedence"]
        facts = sorted(facts, key=lambda f: order.index(f.register) if f.register in order else len(order))
        registers = {f.register for f in facts}
        top = facts[0]
        mapping = cats.get(top.register, {})
        key = top.status if top.register == "charity_commission" else top.category
        sector, subsector, conf = mapping.get(key) or mapping.get("*") or ["unknown", "", 0.3]
        if top.register == "social_housing" and "fca_mutuals" in registers and not re.search(
            r"\b(homes?|housing|dwellings?|tenants?|estates?)\b", name_text
        ):
            # A registered society that also provides some social housing (care providers often do):
            # it is a mutual first; the RSH registration is noted.
            mutual = [f for f in facts if f.register == "fca_mutuals"][0]
            sector, subsector, conf = cats["fca_mutuals"].get(mutual.category) or cats["fca_mutuals"]["*"]
            subsector += "; registered_housing_provider"
        if top.register == "companies_house" and top.category == "Royal Charter Company" and re.search(
            r"\b(university|college)\b", name_text
        ):
            sector, subsector = "public", "higher_education"
        org_id = _preferred_org_id(facts)
        name = next((f.name for f in facts if f.name), None)
        evidence = f"register {top.register} ({how}): {top.org_id} {top.category or ''}".strip()
        return Decision(sector, subsector, float(conf), evidence, "register" if how == "name" else "identifier",
                        org_id, name)


SCHEME_PREFERENCE = ("GB-LAE", "GB-LAS", "GB-PLA", "GB-LANI", "GB-NHS", "GB-CHC", "GB-SC", "GB-NIC", "GB-COH",
                     "GB-MPR", "GB-SHPE")


def _preferred_org_id(facts: list[OrgFact]) -> str:
    ids = [f.org_id for f in facts if f.register != "local_authorities_gss"] or [facts[0].org_id]
    for prefix in SCHEME_PREFERENCE:
        for i in ids:
            if i.startswith(prefix + "-"):
                return i
    return ids[0]


# --- name rules ---------------------------------------------------------------------------------

_DIGIT = re.compile(r"[0-9]")


GROUP_SIZE = 8


@lru_cache(maxsize=4)
def _rule_groups(rules: tuple[Rule, ...]) -> list[tuple[re.Pattern, list[Rule]]]:
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

    ``groups`` comes from ``_rule_groups(tuple(load_rules()["rules"]))``.
    """
    for screen, chunk in groups:
        if not screen.search(text):
            continue
        for r in chunk:
            if r.pattern.search(text) and not (r.unless and r.unless.search(text)):
                return Decision(r.sector, r.subsector, r.confidence, f"rule {r.id}", "rule")
    return None


def personal_name_shape(text: str, cfg: dict, carer: bool | None = None) -> Decision | None:
    """A payee written like a private person: "Mr J Smith", "Jane Smith", "J A Smith", foster carers.

    ``carer``: whether ``cfg["carer_re"]`` matches ``text``, when already known (vectorised callers).
    """
    if carer if carer is not None else cfg["carer_re"].search(text):
        return Decision("individual", "carer", cfg["carer_confidence"], "individual: carer wording", "individual")
    words = text.split()
    # ``text`` is plain_text (a-z, 0-9, spaces), so "a word has a digit" is "the text has a digit"
    if not 2 <= len(words) <= 4 or not cfg["business"].isdisjoint(words) or _DIGIT.search(text):
        return None
    if words[0] in cfg["titles_set"]:
        return Decision("individual", "person", cfg["title_confidence"], "individual: title + name", "individual")
    known = forenames()
    middle_ok = all(len(w) == 1 or w in known for w in words[1:-1])
    if words[0] in known and len(words[-1]) > 1 and len(words) <= 3 and middle_ok:
        return Decision("individual", "person", cfg["forename_confidence"], "individual: forename + surname",
                        "individual")
    singles = [w for w in words if len(w) == 1]
    longs = [w for w in words if len(w) > 1]
    if singles and len(longs) == 1 and (words[0] in singles or words[-1] in singles):
        return Decision("individual", "person", cfg["initials_confidence"], "individual: initials + surname",
                        "individual")
    return None


# --- the cascade ----------------------------------------------------------------------------------


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    if name in df.columns:
        return df[name].astype("string").fillna("")
    return pd.Series([""] * len(df), index=df.index, dtype="string")


def _redacted_flag(df: pd.DataFrame) -> pd.Series:
    if "is_redacted" not in df.columns:
        return pd.Series([False] * len(df), index=df.index)
    return df["is_redacted"].map(lambda v: str(v).strip().lower() in ("true", "1", "yes", "t"))


def classify_suppliers(df: pd.DataFrame, registers_db: Path | None = None) -> pd.DataFrame:
    """Add ``supplier_id, canonical_name, sector, subsector, confidence, evidence`` to every row.

    ``df`` needs ``supplier_name``; ``council`` (or ``council_id``), ``supplier_company_number``,
    ``supplier_charity_number``, ``supplier_vat_number``, ``expense_type`` and ``is_redacted`` are
    used when present. One output row per input row, same order, input columns kept.
    """
    if "supplier_name" not in df.columns:
        raise ValueError(f"classify_suppliers: input has no 'supplier_name' column (columns: {list(df.columns)})")
    if df.empty:
        out = df.copy()
        for c in OUTPUT_COLUMNS:
            out[c] = pd.Series(dtype="float64" if c == "confidence" else "string")
        return out
    cfg = load_rules()
    regs = Registers(registers_db)
    try:
        return _classify(df, regs, cfg)
    finally:
        regs.close()


def _per_distinct(values: list, fn) -> list:
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


def _cleaner(fn: Callable[[str], str | None]) -> Callable[[str], str | None]:
    """``fn`` for an identifier column: only real, non-empty strings in, a non-empty string or None out."""

    def one(v: str) -> str | None:
        # a stray float NaN must not become "nan"
        cleaned = fn(v) if isinstance(v, str) and v else None
        return cleaned if isinstance(cleaned, str) and cleaned else None

    return one


def _clean(df: pd.DataFrame, column: str, fn) -> list:
    if column not in df.columns:
        return [None] * len(df)
    return _per_distinct(_col(df, column).tolist(), _cleaner(fn))


def _is_true(value: object) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes", "t")


def _same(value: str) -> str:
    return value


_EACH = object()  # ``_encode``: call ``fn`` on each missing value, as the row-by-row definition does


def _encode(values: pd.Series, fn: Callable[[str], object], missing: object) -> tuple[np.ndarray, list] | None:
    """(codes, results) with ``results[codes[row]] == fn(values[row])``, ``fn`` called once per distinct value.

    Why: hashing a column once (``pd.factorize``) costs far less than a Python dict look-up per row, and
    the input has millions of rows. Missing values (None, NaN, NA) get ``missing`` (or, with ``_EACH``,
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
    if len(gaps) and missing is _EACH:
        for row in gaps.tolist():
            codes[row] = len(results)
            results.append(fn(values.iat[row]))
    elif len(gaps):
        codes[gaps] = len(results)
        results.append(missing)
    return codes, results


def _column_codes(df: pd.DataFrame, column: str, fn: Callable[[str], object], missing: object,
                  row_by_row: Callable[[], list]) -> tuple[np.ndarray, list]:
    """``_encode`` of one input column; ``[missing]`` for every row when the column is absent, and
    ``row_by_row()`` (the per-row definition) when the column has non-string values."""
    if column not in df.columns:
        return np.zeros(len(df), dtype=np.int64), [missing]
    encoded = _encode(df[column], fn, missing)
    if encoded is None:
        return np.arange(len(df), dtype=np.int64), row_by_row()
    return encoded


def _value_codes(codes: np.ndarray, results: list) -> np.ndarray:
    """Row codes renumbered so that rows whose results are equal share a code ("A  B" and "A B")."""
    values = np.empty(len(results), dtype=object)
    values[:] = results
    ids, _ = pd.factorize(values)  # None is -1
    if np.array_equal(ids, np.arange(len(ids))):  # results all different (the usual case): codes as they are
        return codes
    return ids.astype(np.int64)[codes] + 1


def _first_seen_codes(parts: list[np.ndarray]) -> np.ndarray:
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


def _classify(df: pd.DataFrame, regs: Registers, cfg: dict) -> pd.DataFrame:
    # ---- each input column reduced to codes into its distinct cleaned values ----
    names = _column_codes(df, "supplier_name", display_name, _EACH,
                          lambda: _per_distinct(df["supplier_name"].tolist(), display_name))
    cns = _column_codes(df, "supplier_company_number", _cleaner(company_number), None,
                        lambda: _clean(df, "supplier_company_number", company_number))
    chs = _column_codes(df, "supplier_charity_number", _cleaner(charity_number), None,
                        lambda: _clean(df, "supplier_charity_number", charity_number))
    vats = _column_codes(df, "supplier_vat_number", _cleaner(vat_number), None,
                         lambda: _clean(df, "supplier_vat_number", vat_number))
    reds = _column_codes(df, "is_redacted", _is_true, False, lambda: _redacted_flag(df).tolist())

    # ---- intrinsic decision per distinct (name, identifiers): row -> code -> distinct ----
    columns = {"name": names, "cn": cns, "ch": chs, "vat": vats, "red": reds}
    codes = _first_seen_codes([_value_codes(c, r) for c, r in columns.values()])
    # codes are numbered by first appearance: a row starts a new code exactly when it beats the running max
    first = np.flatnonzero(np.concatenate(([True], codes[1:] > np.maximum.accumulate(codes)[:-1])))
    distinct = pd.DataFrame({col: [r[k] for k in c[first].tolist()] for col, (c, r) in columns.items()},
                            dtype=object)
    del columns, names, cns, chs, vats, reds
    rows_per_name = np.bincount(codes, minlength=len(first)).tolist()
    d_names = distinct["name"].tolist()
    name_arr = pa.array(d_names, type=pa.string())
    texts = _plain_texts(d_names, name_arr)
    keys = _match_keys(d_names, name_arr, texts)
    decisions = _intrinsic(distinct, name_arr, texts, keys, regs, cfg)

    # ---- entity resolution across the distinct names ----
    org_ids = [d.org_id for d in decisions]
    id_keys = [[f"VAT:{v}"] if v else [] for v in distinct["vat"]]
    sectors = [d.sector if d.confidence >= CONFIDENT and d.sector not in ("unknown",) else None for d in decisions]
    entity_ids, methods = resolve(keys, org_ids, id_keys, sectors)
    decisions, canonical = _unify(distinct, decisions, entity_ids, methods, rows_per_name)

    # ---- council context: overrides, payer itself, payer's own companies, expense type ----
    council_col = "council" if "council" in df.columns else "council_id"
    council = _column_codes(df, council_col, _same, "", lambda: _col(df, council_col).tolist())
    expense = _column_codes(df, "expense_type", _same, "", lambda: _col(df, "expense_type").tolist())
    payer = _payer_lookup(sorted(set(council[1]) - {""}), regs)
    final, final_code, take = _in_contexts(decisions, keys, texts, codes, council, expense, payer, cfg)

    out = df.copy(deep=not _COPY_ON_WRITE)
    out["supplier_id"] = _string_column(entity_ids, codes)
    # never repeat a private person's name in a column meant for display
    out["canonical_name"] = _string_column(
        [INDIVIDUAL_LABEL if d.sector == "individual" else canonical[k] for d, k in zip(final, final_code, strict=True)],
        take)
    out["sector"] = _string_column([d.sector for d in final], take)
    out["subsector"] = _string_column([d.subsector for d in final], take)
    out["confidence"] = _rounded_confidences(final)[take]
    out["evidence"] = _string_column([d.evidence for d in final], take)
    return out


def _in_contexts(decisions: list[Decision], keys: list[str], texts: list[str], codes: np.ndarray,
                 council: tuple[np.ndarray, list[str]], expense: tuple[np.ndarray, list[str]],
                 payer: dict[str, tuple[str | None, str]], cfg: dict) -> tuple[list[Decision], list[int], np.ndarray]:
    """Each row's decision in its council and expense-type context: ``final[take[row]]``.

    Why: the input is often one row per (council, payee), so calling ``_in_context`` and
    ``_by_expense_type`` on every row was the slowest step at scale, while they change almost no
    decision. Rows are screened with numpy on the conditions those functions test (each a necessary
    condition for a change); only rows that pass are decided in Python, by those same functions.
    ``final`` starts as ``decisions`` (so ``take`` starts as ``codes``); ``final_code[j]`` is the
    distinct name behind ``final[j]``.
    """
    council_codes, council_values = council
    expense_codes, expense_values = expense
    overrides = load_overrides()
    spec = cfg.get("expense_transfer")

    # per council value: (org-id, council key) of the payer, as ints comparable with the decisions' below
    payers = [payer.get(c) for c in council_values]
    payer_orgs = {p[0] for p in payers if p and p[0] is not None}
    org_id = {o: i for i, o in enumerate(sorted(payer_orgs))}
    payer_words = {p[1].split(" ", 1)[0] for p in payers if p and p[1]}
    word_id = {w: i for i, w in enumerate(sorted(payer_words))}
    override_councils = {c for _, c in overrides if c}
    override_keys = {k for k, c in overrides if c}
    c_active = np.array([bool(p) for p in payers], dtype=bool)
    c_override = np.array([bool(c) and c in override_councils for c in council_values], dtype=bool)
    c_org = np.array([org_id[p[0]] if p and p[0] is not None else -2 for p in payers], dtype=np.int64)
    c_has_key = np.array([bool(p and p[1]) for p in payers], dtype=bool)
    c_word = np.array([word_id[p[1].split(" ", 1)[0]] if p and p[1] else -2 for p in payers], dtype=np.int64)

    # per distinct name: what in its decision could react to a council
    d_passive = np.array([d.step in ("override", "redaction") for d in decisions], dtype=bool)
    d_override = np.array([k in override_keys for k in keys], dtype=bool)
    d_org = np.array([org_id.get(d.org_id, -1) for d in decisions], dtype=np.int64)
    d_local_authority = np.array([d.sector == "public" and d.subsector == "local_authority" for d in decisions],
                                 dtype=bool)
    d_weak = np.array([d.sector in ("private", "unknown") and d.confidence < 0.9 for d in decisions], dtype=bool)
    d_word = np.array([word_id.get(t.split(" ", 1)[0], -1) for t in texts], dtype=np.int64)
    d_levy = np.array([bool(spec) and d.sector in spec["sectors"] and d.step != "override" for d in decisions],
                      dtype=bool)
    e_levy = np.array([bool(spec and e and re.search(spec["pattern"], plain_text(e))) for e in expense_values],
                      dtype=bool)

    # ``_in_context``: a council override; else the payer itself (same org-id, or a local authority with
    # the payer's key); else a weak decision whose text starts with the payer's key (so its first word)
    cc, dc = council_codes, codes
    payer_cue = ((d_org[dc] == c_org[cc]) | (d_local_authority[dc] & c_has_key[cc])
                 | (d_weak[dc] & (d_word[dc] == c_word[cc])))
    screened = (c_override[cc] & d_override[dc]) | (c_active[cc] & ~d_passive[dc] & payer_cue)
    screened |= e_levy[expense_codes] & d_levy[dc]  # ``_by_expense_type`` on an unchanged decision
    rows = np.flatnonzero(screened)
    del payer_cue, screened

    final = list(decisions)
    final_code = list(range(len(decisions)))
    take = codes.copy()
    contextual: dict[tuple[str, str, int], int] = {}
    for row, c, e, code in zip(rows.tolist(), cc[rows].tolist(), expense_codes[rows].tolist(), dc[rows].tolist(),
                               strict=True):
        ck = (council_values[c], expense_values[e], code)
        j = contextual.get(ck)
        if j is None:
            dec = _in_context(decisions[code], keys[code], texts[code], council_values[c], payers[c], cfg)
            j = contextual[ck] = len(final)
            final.append(_by_expense_type(dec, expense_values[e], cfg))
            final_code.append(code)
        take[row] = j
    return final, final_code, take


def _rounded_confidences(decisions: list[Decision]) -> np.ndarray:
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
_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3 or pd.get_option("mode.copy_on_write") is True


def _inferred_string_dtype() -> pd.StringDtype | None:
    """The Arrow-backed dtype pandas gives an object array of strings (pandas >= 3), else None."""
    dtype = pd.Series(np.array(["x"], dtype=object)).dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return dtype
    return None


_STRING_DTYPE = _inferred_string_dtype()


def _string_column(values: list, take: np.ndarray) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """``np.asarray(values, dtype=object)[take]``, stored as pandas would store it.

    Why: where pandas keeps strings in Arrow, an Arrow ``take`` builds the column directly, instead of
    an object array of millions of references that pandas then converts string by string.
    """
    if _STRING_DTYPE is not None and all(type(v) is str for v in values):
        return pd.array(pa.array(values, type=pa.large_string()).take(pa.array(take)), dtype=_STRING_DTYPE)
    return np.asarray(values, dtype=object)[take]


def _plain_texts(names: list[str], name_arr: pa.Array) -> list[str]:
    """``plain_text`` of each distinct display name: Arrow kernels for ASCII names, Python for the rest."""
    text = pc.utf8_lower(name_arr)
    text = pc.replace_substring_regex(text, "['`]", "")
    text = pc.replace_substring_regex(text, "[&+]", " and ")
    text = pc.replace_substring_regex(text, "[^a-z0-9]+", " ")
    out = pc.utf8_trim(text, " ").to_pylist()
    ascii_ = pc.string_is_ascii(name_arr).to_numpy(zero_copy_only=False)
    for i in np.nonzero(~ascii_)[0].tolist():  # accents to fold, curly apostrophes: the Python definition
        out[i] = plain_text(names[i])
    return out


def _match_keys(names: list[str], name_arr: pa.Array, texts: list[str]) -> list[str]:
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


def _intrinsic(distinct: pd.DataFrame, name_arr: pa.Array, texts: list[str], keys: list[str], regs: Registers,
               cfg: dict) -> list[Decision]:
    overrides = load_overrides()
    cc_by_key, cc_by_number = load_council_companies(COUNCIL_COMPANIES_FILE, DEMO_COUNCIL_COMPANIES_FILE)
    names = distinct["name"].tolist()
    cns = distinct["cn"].tolist()
    chs = distinct["ch"].tolist()
    reds = distinct["red"].tolist()

    # every regular expression over all distinct names at once (rule_scan.py)
    text_arr = pa.array(texts, type=pa.string())
    rules = [(r, Decision(r.sector, r.subsector, r.confidence, f"rule {r.id}", "rule")) for r in cfg["rules"]]
    rule_of = {id(r): d for r, d in rules}
    best = [rule_of[id(r)] if r is not None else None for r in best_rules(texts, cfg["rules"])]
    councilish = regex_mask(text_arr, _COUNCILISH).tolist()
    markup = regex_mask(name_arr, _MARKUP).tolist()
    trading = regex_mask(name_arr, _TRADING_NAME).tolist()
    carer = regex_mask(text_arr, cfg["individuals"]["carer_re"]).tolist()

    # register look-ups in bulk: names (match key, council key) and identifiers
    if regs.conn is not None:
        name_hits = regs.names(sorted(set(keys) - {""}))
        ckeys = [council_key_from_plain(t) if "(" not in n else council_key(n) for n, t in zip(names, texts, strict=True)]
        la_hits = regs.names(sorted(set(ckeys) - {""}), registers=("local_authorities",))
        wanted = {f"GB-COH-{c}" for c in cns if c} | {charity_org_id(c) for c in chs if c}
        for i, key in enumerate(keys):
            wanted |= name_hits.get(key, set())
            if councilish[i] or ckeys[i] == key:
                wanted |= la_hits.get(ckeys[i], set())
        facts = regs.facts_for(wanted)
    else:  # nothing to look up: every register step below finds nothing
        name_hits, la_hits, facts = {}, {}, {}
        ckeys = [""] * len(names)

    ind_cfg = cfg["individuals"]
    everywhere = {k: d for (k, council), d in overrides.items() if not council}
    out: list[Decision] = []
    for i, text in enumerate(texts):
        cn, ch, red, key = cns[i], chs[i], reds[i], keys[i]
        cands: list[Decision] = []
        if key in everywhere:
            cands.append(everywhere[key])
        if red:
            cands.append(_REDACTED_FLAG)
        elif not text:
            cands.append(_BLANK_NAME)
        cc = cc_by_number.get(cn) if cn else None
        cc = cc or cc_by_key.get(key)
        if cc:
            cands.append(Decision("council_company", "latco", 0.97,
                                  f"council company list: {cc[0]} (owner {cc[1] or '?'})", "council_company",
                                  f"GB-COH-{cn}" if cn else None, cc[0]))
        if cn:
            d = regs.decide(facts.get(f"GB-COH-{cn}", []), "company number", text)
            cands.append(d or Decision("private", "company", 0.75, f"company number {cn} in the file",
                                       "identifier", f"GB-COH-{cn}"))
            if cn[:2] in ("CE", "CS"):
                cands.append(Decision("third_sector", "charity", 0.9, f"company number {cn} is a CIO", "identifier",
                                      f"GB-COH-{cn}"))
            elif cn[:2] in ("IP", "RS", "SP"):
                cands.append(Decision("mutual", "registered_society", 0.85,
                                      f"company number {cn} is a registered society", "identifier", f"GB-COH-{cn}"))
        if ch:
            org = charity_org_id(ch)
            d = regs.decide(facts.get(org, []), "charity number", text)
            cands.append(d or Decision("third_sector", "charity", 0.95, f"charity number {ch} in the file",
                                       "identifier", org))
        # register names
        if ckeys[i] and (councilish[i] or ckeys[i] == key):
            las = la_hits.get(ckeys[i], set())
            if len(las) == 1:
                d = regs.decide(facts.get(next(iter(las)), []), "name", text)
                if d:
                    conf = d.confidence if councilish[i] else 0.75
                    cands.append(replace(d, confidence=conf, step="register"))
        hits = name_hits.get(key)
        if hits:
            ds = [regs.decide(facts.get(o, []), "name", text) for o in sorted(hits)]
            ds = [d for d in ds if d]
            if ds:
                agree = len({d.sector for d in ds}) == 1
                first = ds[0]
                cap = 0.9 if agree else 0.7
                cands.append(replace(first, confidence=min(first.confidence, cap),
                                     evidence=first.evidence + ("" if agree else f" (+{len(ds) - 1} others)")))
        if best[i]:
            cands.append(best[i])
        person = personal_name_shape(text, ind_cfg, carer[i])
        if person and not trading[i] and not markup[i]:
            cands.append(person)
        if markup[i]:
            # "<script>…</script>" or "=HYPERLINK(…)" is an injection or a broken export, not a firm.
            cands.append(_MARKUP_DEFAULT)
        elif text and not text.replace(" ", "").isdigit():  # plain text: a-z, 0-9 and spaces only
            cands.append(_PRIVATE_DEFAULT)
        else:
            cands.append(_UNKNOWN_DEFAULT)
        out.append(_with_register_id(_best(cands), cands))
    return out


_REDACTED_FLAG = Decision("redacted", "", 1.0, "is_redacted flag set by the normaliser", "redaction")
_BLANK_NAME = Decision("redacted", "blank", 0.6, "blank payee name", "redaction")
_MARKUP_DEFAULT = Decision("unknown", "", 0.2, "default: name looks like markup or a formula", "default")
_PRIVATE_DEFAULT = Decision("private", "", DEFAULT_CONFIDENCE,
                            "default: a trading name with no other cue (most are businesses)", "default")
_UNKNOWN_DEFAULT = Decision("unknown", "", 0.2, "default: no usable name", "default")


def _with_register_id(best: Decision, cands: list[Decision]) -> Decision:
    """A rule that agrees with a register keeps the register's org-id and name as corroboration."""
    if best.org_id:
        return best
    agreeing = [c for c in cands if c.org_id and c.sector == best.sector]
    if not agreeing:
        return best
    reg = _best(agreeing)
    return replace(best, org_id=reg.org_id, canonical=reg.canonical, evidence=f"{best.evidence}; {reg.evidence}")


_TRADING_NAME = re.compile(r"\b(t/a|t/as|trading as)\b", re.IGNORECASE)


def _has_trading_name(name: str) -> bool:
    return bool(_TRADING_NAME.search(name))


def _unify(distinct: pd.DataFrame, decisions: list[Decision], entity_ids: list[str], methods: list[str],
           rows_per_name: Sequence[int]) -> tuple[list[Decision], list[str]]:
    """One decision and one display name per entity: the most confident member's decision."""
    out = list(decisions)
    names = distinct["name"].tolist()
    # most entities have one member: its own decision, its register name or its own spelling
    canonical = [d.canonical or n for d, n in zip(decisions, names, strict=True)]
    # members of the larger entities, grouped by entity (in order of first member), ascending within each
    group, _ = pd.factorize(np.asarray(entity_ids, dtype=object))
    shared = np.flatnonzero(np.bincount(group)[group] > 1)
    shared = shared[np.argsort(group[shared], kind="stable")]
    starts = np.flatnonzero(np.diff(group[shared], prepend=-1)).tolist()
    ranks = [d.rank() for d in decisions]
    shared_list = shared.tolist()
    for start, end in pairwise([*starts, len(shared_list)]):
        members = shared_list[start:end]
        best_i = max(members, key=ranks.__getitem__)
        best = decisions[best_i]
        register_name = next((decisions[i].canonical for i in members if decisions[i].canonical), None)
        counts = Counter()
        for i in members:
            counts[names[i]] += rows_per_name[i]
        popular = max(counts.items(), key=lambda kv: (kv[1], len(kv[0]), kv[0]))[0] if counts else ""
        name = register_name or popular
        for i in members:
            canonical[i] = name
            if i != best_i and ranks[i] < ranks[best_i] and decisions[i].step not in ("redaction",):
                how = methods[i] if methods[i] != "single" else "same entity"
                alias = "another spelling" if best.sector == "individual" else repr(names[best_i])
                out[i] = replace(best, evidence=f"{best.evidence} [via alias {alias}, {how}]")
    return out, canonical


def _by_expense_type(dec: Decision, expense_type: str, cfg: dict) -> Decision:
    """A public body paid under a levy/precept/pension expense type is a transfer, not a supplier."""
    spec = cfg.get("expense_transfer")
    if not expense_type or not spec or dec.sector not in spec["sectors"] or dec.step == "override":
        return dec
    if re.search(spec["pattern"], plain_text(expense_type)):
        return replace(dec, sector="transfer", subsector=spec["subsector"], confidence=spec["confidence"],
                       evidence=f"expense type {expense_type!r} is a transfer ({dec.evidence})")
    return dec


# --- council context ----------------------------------------------------------------------------


_GSS = re.compile(r"^[ENSW]\d{8}$")


def _payer_lookup(councils: list[str], regs: Registers) -> dict[str, tuple[str | None, str]]:
    """{council value: (org-id or None, council key)} for the payer column (GSS code, slug or name)."""
    out: dict[str, tuple[str | None, str]] = {}
    gss = [c for c in councils if _GSS.match(c)]
    by_gss = regs._facts("code", gss) if gss else {}
    other = [c for c in councils if not _GSS.match(c)]
    ckeys = {c: council_key(c.replace("-", " ").replace("_", " ")) for c in other}
    hits = regs.names(sorted(set(ckeys.values()) - {""}), registers=("local_authorities",))
    builtin = _builtin_gss_names() if any(c not in by_gss for c in gss) else {}
    for c in councils:
        if c not in by_gss and c in builtin:
            out[c] = (None, council_key(builtin[c]))
        elif c in by_gss:
            facts = by_gss[c]
            org = facts[0].org_id
            name = next((f.name for f in regs.facts_for([org]).get(org, []) if f.name), "")
            out[c] = (org, council_key(name))
        else:
            key = ckeys.get(c, "")
            orgs = hits.get(key, set())
            out[c] = (next(iter(orgs)) if len(orgs) == 1 else None, key)
    return out


AUTHORITIES_FILE = HERE.parent / "authorities.yml"


_MARKUP = re.compile(r"<\s*/?\s*[a-z!][^>]*>|^\s*[=+@]\s*[A-Za-z]+\s*\(", re.IGNORECASE)


def _looks_like_markup(name: str) -> bool:
    return bool(_MARKUP.search(name or ""))


@lru_cache(maxsize=1)
def _builtin_gss_names() -> dict[str, str]:
    """GSS code → council name from the normaliser's authorities.yml, for runs without registers."""
    try:
        with open(AUTHORITIES_FILE, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        return {a["gss"]: a["name"] for a in data.get("authorities", []) if a.get("gss") and a.get("name")}
    except (OSError, yaml.YAMLError, TypeError, KeyError):
        return {}


def _in_context(dec: Decision, key: str, text: str, council: str, payer: tuple[str | None, str] | None,
                cfg: dict) -> Decision:
    overrides = load_overrides()
    if council and (key, council) in overrides:
        return overrides[(key, council)]
    if not payer or dec.step in ("override", "redaction"):
        return dec
    payer_org, payer_key = payer
    same_org = payer_org is not None and dec.org_id == payer_org
    same_name = (dec.sector == "public" and dec.subsector == "local_authority" and payer_key
                 and council_key(text) == payer_key)
    if same_org or same_name:
        return replace(dec, sector="transfer", subsector="internal", confidence=max(dec.confidence, 0.85),
                       evidence=f"the payer council itself ({dec.evidence})")
    if payer_key and dec.sector in ("private", "unknown") and dec.confidence < 0.9:
        words = cfg["payer_company_words"]
        rest = text[len(payer_key):].strip() if text.startswith(payer_key + " ") else ""
        rest_words = [w for w in rest.split() if w not in ("ltd", "limited", "the", "company", "co")]
        if rest_words and all(w in words for w in rest_words):
            return replace(dec, sector="council_company", subsector="latco",
                           confidence=cfg["payer_company_confidence"],
                           evidence=f"rule payer_company: the payer's place name + {' '.join(rest_words)!r}")
    return dec
