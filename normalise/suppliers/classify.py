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
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
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
        return (round(self.confidence, 3), -STEP_ORDER[self.step])


def _best(candidates: Iterable[Decision]) -> Decision | None:
    best = None
    for c in candidates:
        if best is None or c.rank() > best.rank():
            best = c
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


def _clean(df: pd.DataFrame, column: str, fn) -> list:
    # Only real, non-empty strings reach the normalisers: a stray float NaN must not become "nan".
    if column not in df.columns:
        return [None] * len(df)

    def one(v):
        cleaned = fn(v) if isinstance(v, str) and v else None
        return cleaned if isinstance(cleaned, str) and cleaned else None

    return _per_distinct(_col(df, column).tolist(), one)


def _classify(df: pd.DataFrame, regs: Registers, cfg: dict) -> pd.DataFrame:
    council = (_col(df, "council") if "council" in df.columns else _col(df, "council_id")).tolist()
    row_ids = list(zip(
        _per_distinct(df["supplier_name"].tolist(), display_name),
        _clean(df, "supplier_company_number", company_number),
        _clean(df, "supplier_charity_number", charity_number),
        _clean(df, "supplier_vat_number", vat_number),
        _redacted_flag(df).tolist(),
        strict=True,
    ))
    # ---- intrinsic decision per distinct (name, identifiers): row -> code -> distinct ----
    index: dict[tuple, int] = {}
    codes = [index.setdefault(t, len(index)) for t in row_ids]
    del row_ids
    rows_per_name = Counter(codes)
    distinct = pd.DataFrame(list(index), columns=["name", "cn", "ch", "vat", "red"], dtype=object)
    del index
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
    payer = _payer_lookup(sorted(set(council) - {""}), regs)
    expense = _col(df, "expense_type").tolist()
    contextual: dict[tuple[str, str, int], int] = {}
    final: list[Decision] = []
    row_final = []
    for c, e, code in zip(council, expense, codes, strict=True):
        ck = (c, e, code)
        j = contextual.get(ck)
        if j is None:
            dec = _in_context(decisions[code], keys[code], texts[code], c, payer.get(c), cfg)
            j = contextual[ck] = len(final)
            final.append(_by_expense_type(dec, e, cfg))
        row_final.append(j)
    take = np.asarray(row_final, dtype=np.int64)
    codes_arr = np.asarray(codes, dtype=np.int64)
    out = df.copy()
    out["supplier_id"] = np.asarray(entity_ids, dtype=object)[codes_arr]
    # never repeat a private person's name in a column meant for display
    individual = np.array([d.sector == "individual" for d in final], dtype=bool)[take]
    out["canonical_name"] = np.where(individual, INDIVIDUAL_LABEL, np.asarray(canonical, dtype=object)[codes_arr])
    out["sector"] = np.asarray([d.sector for d in final], dtype=object)[take]
    out["subsector"] = np.asarray([d.subsector for d in final], dtype=object)[take]
    out["confidence"] = np.asarray([round(float(d.confidence), 3) for d in final], dtype="float64")[take]
    out["evidence"] = np.asarray([d.evidence for d in final], dtype=object)[take]
    return out


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
    return [match_key(n) if r else match_key_from_plain(t) for n, t, r in zip(names, texts, raw.tolist(), strict=True)]


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
    out: list[Decision] = []
    for i, text in enumerate(texts):
        cn, ch, red, key = cns[i], chs[i], reds[i], keys[i]
        cands: list[Decision] = []
        if (key, "") in overrides:
            cands.append(overrides[(key, "")])
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
        hits = name_hits.get(key, set())
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
           rows_per_name: Counter) -> tuple[list[Decision], list[str]]:
    """One decision and one display name per entity: the most confident member's decision."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(entity_ids):
        groups[e].append(i)
    out = list(decisions)
    canonical = [""] * len(decisions)
    names = distinct["name"].tolist()
    for members in groups.values():
        if len(members) == 1:  # most entities: its own decision, its register name or its own spelling
            i = members[0]
            canonical[i] = decisions[i].canonical or names[i]
            continue
        best_i = max(members, key=lambda i: decisions[i].rank())
        best = decisions[best_i]
        register_name = next((decisions[i].canonical for i in members if decisions[i].canonical), None)
        counts = Counter()
        for i in members:
            counts[names[i]] += rows_per_name.get(i, 0)
        popular = max(counts.items(), key=lambda kv: (kv[1], len(kv[0]), kv[0]))[0] if counts else ""
        name = register_name or popular
        for i in members:
            canonical[i] = name
            if i != best_i and decisions[i].rank() < best.rank() and decisions[i].step not in ("redaction",):
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
