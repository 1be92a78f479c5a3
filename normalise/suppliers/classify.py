"""Sector of each payee, with the evidence and confidence that decided it.

Cascade (docs/suppliers.md): manual overrides → redaction → council-company list → identifiers in the
file → register look-ups → name rules (rules.yml) → a weak default. Every step that has an opinion
proposes a candidate; the most confident wins (ties go to the earlier step), and its evidence is kept.
Work is done once per distinct name (and once per distinct council context), never per payment row.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from normalise.suppliers.brands import brand_candidate, brand_hits, council_company_candidates
from normalise.suppliers.decision import (
    BLANK_NAME,
    MARKUP_DEFAULT,
    PRIVATE_DEFAULT,
    REDACTED_FLAG,
    UNKNOWN_DEFAULT,
    Decision,
    best_decision,
    with_register_id,
)
from normalise.suppliers.distinct import (
    COPY_ON_WRITE,
    EACH,
    clean,
    cleaner,
    col,
    column_codes,
    first_seen_codes,
    is_true,
    match_keys,
    per_distinct,
    plain_texts,
    redacted_flag,
    rounded_confidences,
    same,
    string_column,
    value_codes,
)
from normalise.suppliers.keys import (
    charity_number,
    charity_org_id,
    company_number,
    council_key_and_cue,
    display_name,
    vat_number,
)
from normalise.suppliers.lookup import Registers
from normalise.suppliers.payer import in_contexts, payer_lookup
from normalise.suppliers.persons import TradingNames, person_shape, trading_name_of_person
from normalise.suppliers.resolve import CONFIDENT, resolve
from normalise.suppliers.rule_scan import best_rules, regex_mask
from normalise.suppliers.rulebook import (
    COUNCIL_COMPANIES_FILE,
    Rulebook,
    load_council_companies,
    load_overrides,
    load_rules,
)

OUTPUT_COLUMNS = ("supplier_id", "canonical_name", "sector", "subsector", "confidence", "evidence")
ID_COLUMNS = ("supplier_company_number", "supplier_charity_number", "supplier_vat_number")
INDIVIDUAL_LABEL = "Individual (name withheld)"
# A candidate from one of these steps says "organisation": a person-shaped name is then not a person.
_NOT_A_PERSON = frozenset({"override", "council_company", "identifier", "register", "rule"})
_TRADING_NAME = re.compile(r"\b(t/a|t/as|trading as)\b", re.IGNORECASE)
_COUNCILISH = re.compile(
    r"\b(council|borough|authority|county|city of|corporation|mbc|lbc|lb|rb|rbc|cbc|mdc|cc|dc|bc|ca)\b"
)


def classify_suppliers(
    df: pd.DataFrame,
    registers_db: Path | None = None,
    *,
    use_overrides: bool = True,
    council_companies: Iterable[Path] = (),
    use_reference: bool = True,
) -> pd.DataFrame:
    """Add ``supplier_id, canonical_name, sector, subsector, confidence, evidence`` to every row.

    ``df`` needs ``supplier_name``; ``council`` (or ``council_id``), ``supplier_company_number``,
    ``supplier_charity_number``, ``supplier_vat_number``, ``expense_type`` and ``is_redacted`` are
    used when present. One output row per input row, same order, input columns kept.
    ``use_overrides=False`` ignores overrides.csv (to measure what the general rules alone get right);
    ``council_companies``: extra CSVs (``name,council_id[,company_number]``) added to the bundled list,
    e.g. a demo's own companies. ``use_reference=False`` skips the bundled reference register
    (``reference/``), leaving only ``registers_db``.
    """
    if "supplier_name" not in df.columns:
        raise ValueError(
            f"classify_suppliers: input has no 'supplier_name' column (columns: {list(df.columns)})"
        )
    if df.empty:
        out = df.copy()
        for c in OUTPUT_COLUMNS:
            out[c] = pd.Series(dtype="float64" if c == "confidence" else "string")
        return out
    book = Rulebook(
        load_rules(),
        load_overrides() if use_overrides else {},
        load_council_companies(COUNCIL_COMPANIES_FILE, *(Path(p) for p in council_companies)),
    )
    regs = Registers(registers_db, use_reference)
    try:
        return _classify(df, regs, book)
    finally:
        regs.close()


def _classify(df: pd.DataFrame, regs: Registers, book: Rulebook) -> pd.DataFrame:
    # ---- each input column reduced to codes into its distinct cleaned values ----
    names = column_codes(
        df,
        "supplier_name",
        display_name,
        EACH,
        lambda: per_distinct(df["supplier_name"].tolist(), display_name),
    )
    cns = column_codes(
        df,
        "supplier_company_number",
        cleaner(company_number),
        None,
        lambda: clean(df, "supplier_company_number", company_number),
    )
    chs = column_codes(
        df,
        "supplier_charity_number",
        cleaner(charity_number),
        None,
        lambda: clean(df, "supplier_charity_number", charity_number),
    )
    vats = column_codes(
        df,
        "supplier_vat_number",
        cleaner(vat_number),
        None,
        lambda: clean(df, "supplier_vat_number", vat_number),
    )
    reds = column_codes(df, "is_redacted", is_true, False, lambda: redacted_flag(df).tolist())

    # ---- intrinsic decision per distinct (name, identifiers): row -> code -> distinct ----
    columns = {"name": names, "cn": cns, "ch": chs, "vat": vats, "red": reds}
    codes = first_seen_codes([value_codes(c, r) for c, r in columns.values()])
    # codes are numbered by first appearance: a row starts a new code exactly when it beats the running max
    first = np.flatnonzero(np.concatenate(([True], codes[1:] > np.maximum.accumulate(codes)[:-1])))
    distinct = pd.DataFrame(
        {col: [r[k] for k in c[first].tolist()] for col, (c, r) in columns.items()}, dtype=object
    )
    del columns, names, cns, chs, vats, reds
    rows_per_name = np.bincount(codes, minlength=len(first)).tolist()
    d_names = distinct["name"].tolist()
    name_arr = pa.array(d_names, type=pa.string())
    texts = plain_texts(d_names, name_arr)
    keys = match_keys(d_names, name_arr, texts)
    decisions = _intrinsic(distinct, name_arr, texts, keys, regs, book)

    # ---- entity resolution across the distinct names ----
    org_ids = [d.org_id for d in decisions]
    id_keys = [[f"VAT:{v}"] if v else [] for v in distinct["vat"]]
    sectors = [
        d.sector if d.confidence >= CONFIDENT and d.sector not in ("unknown",) else None for d in decisions
    ]
    entity_ids, methods = resolve(keys, org_ids, id_keys, sectors)
    decisions, canonical = _unify(distinct, decisions, entity_ids, methods, rows_per_name)

    # ---- council context: overrides, payer itself, payer's own companies, expense type ----
    council_col = "council" if "council" in df.columns else "council_id"
    council = column_codes(df, council_col, same, "", lambda: col(df, council_col).tolist())
    expense = column_codes(df, "expense_type", same, "", lambda: col(df, "expense_type").tolist())
    payer = payer_lookup(sorted(set(council[1]) - {""}), regs)
    final, final_code, take = in_contexts(
        decisions, keys, texts, codes, council, expense, payer, book.rules, book.overrides
    )

    return _output(df, entity_ids, codes, canonical, final, final_code, take)


def _output(
    df: pd.DataFrame,
    entity_ids: list[str],
    codes: np.ndarray,
    canonical: list[str],
    final: list[Decision],
    final_code: list[int],
    take: np.ndarray,
) -> pd.DataFrame:
    """The input plus the output columns: entity columns via ``codes``, decision columns via ``take``."""
    out = df.copy(deep=not COPY_ON_WRITE)
    out["supplier_id"] = string_column(entity_ids, codes)
    # never repeat a private person's name in a column meant for display
    out["canonical_name"] = string_column(
        [
            INDIVIDUAL_LABEL if d.sector == "individual" else canonical[k]
            for d, k in zip(final, final_code, strict=True)
        ],
        take,
    )
    out["sector"] = string_column([d.sector for d in final], take)
    out["subsector"] = string_column([d.subsector for d in final], take)
    out["confidence"] = rounded_confidences(final)[take]
    out["evidence"] = string_column([d.evidence for d in final], take)
    return out


@dataclass(frozen=True)
class NameScan:
    """What the vectorised regular expressions found in each distinct name (index = distinct name)."""

    best_rule: list[Decision | None]
    councilish: list[bool]
    markup: list[bool]
    trading: list[bool]


@dataclass(frozen=True)
class RegisterHits:
    """Register look-ups for every distinct name at once: name index hits, council-key hits, and facts."""

    by_key: dict[str, set[str]]
    councils: dict[str, set[str]]
    council_keys: list[str]
    facts: dict[str, list]
    councilish: list[bool]  # a council word, typo or abbreviation in the name
    brands: dict[str, set[str]]  # match key -> org-ids of its brand (brands.py), keys with no exact hit


def _scan_names(name_arr: pa.Array, texts: list[str], cfg: dict) -> NameScan:
    """Every regular expression over all distinct names at once (rule_scan.py)."""
    text_arr = pa.array(texts, type=pa.string())
    rule_of = {
        id(r): Decision(r.sector, r.subsector, r.confidence, f"rule {r.id}", "rule") for r in cfg["rules"]
    }
    return NameScan(
        best_rule=[rule_of[id(r)] if r is not None else None for r in best_rules(texts, cfg["rules"])],
        councilish=regex_mask(text_arr, _COUNCILISH).tolist(),
        markup=regex_mask(name_arr, _MARKUP).tolist(),
        trading=regex_mask(name_arr, _TRADING_NAME).tolist(),
    )


def _look_up(
    names: list[str],
    texts: list[str],
    keys: list[str],
    cns: list,
    chs: list,
    councilish: list[bool],
    regs: Registers,
) -> RegisterHits:
    """Register look-ups in bulk: names (match key, council key) and identifiers."""
    if not regs.active:  # nothing to look up: every register step finds nothing
        return RegisterHits({}, {}, [""] * len(names), {}, councilish, {})
    by_key = regs.names(sorted(set(keys) - {""}))
    words = load_rules()["council_words"]
    ckeys, cues = [], []
    for n, t in zip(names, texts, strict=True):
        ckey, cue = council_key_and_cue(n, t, words)
        ckeys.append(ckey)
        cues.append(cue)
    councilish = [a or b for a, b in zip(councilish, cues, strict=True)]
    councils = regs.names(sorted(set(ckeys) - {""}), registers=("local_authorities",))
    wanted = {f"GB-COH-{c}" for c in cns if c} | {charity_org_id(c) for c in chs if c}
    brands = brand_hits(keys, by_key, regs, load_rules())
    wanted |= set().union(*brands.values()) if brands else set()
    for i, key in enumerate(keys):
        wanted |= by_key.get(key, set())
        if councilish[i] or ckeys[i] == key:
            wanted |= councils.get(ckeys[i], set())
    return RegisterHits(by_key, councils, ckeys, regs.facts_for(wanted), councilish, brands)


def _identifier_candidates(
    cn: str | None, ch: str | None, text: str, hits: RegisterHits, regs: Registers
) -> list[Decision]:
    """What the company and charity numbers given in the file say."""
    cands: list[Decision] = []
    if cn:
        d = regs.decide(hits.facts.get(f"GB-COH-{cn}", []), "company number", text)
        cands.append(
            d
            or Decision(
                "private", "company", 0.75, f"company number {cn} in the file", "identifier", f"GB-COH-{cn}"
            )
        )
        if cn[:2] in ("CE", "CS"):
            cands.append(
                Decision(
                    "third_sector",
                    "charity",
                    0.9,
                    f"company number {cn} is a CIO",
                    "identifier",
                    f"GB-COH-{cn}",
                )
            )
        elif cn[:2] in ("IP", "RS", "SP"):
            cands.append(
                Decision(
                    "mutual",
                    "registered_society",
                    0.85,
                    f"company number {cn} is a registered society",
                    "identifier",
                    f"GB-COH-{cn}",
                )
            )
    if ch:
        org = charity_org_id(ch)
        d = regs.decide(hits.facts.get(org, []), "charity number", text)
        cands.append(
            d
            or Decision(
                "third_sector", "charity", 0.95, f"charity number {ch} in the file", "identifier", org
            )
        )
    return cands


def _register_name_candidates(
    i: int, key: str, text: str, councilish: bool, hits: RegisterHits, regs: Registers
) -> list[Decision]:
    """Register names: councils by council key, every register by match key."""
    cands: list[Decision] = []
    ckey = hits.council_keys[i]
    if ckey and (councilish or ckey == key):
        las = hits.councils.get(ckey, set())
        if len(las) == 1:
            d = regs.decide(hits.facts.get(next(iter(las)), []), "name", text)
            if d:
                cands.append(replace(d, confidence=d.confidence if councilish else 0.75, step="register"))
    ds = [
        d
        for d in (regs.decide(hits.facts.get(o, []), "name", text) for o in sorted(hits.by_key.get(key, ())))
        if d
    ]
    if not ds and key in hits.brands:
        brand = brand_candidate(
            [
                d
                for d in (regs.decide(hits.facts.get(o, []), "name", text) for o in sorted(hits.brands[key]))
                if d
            ],
            regs.rules,
        )
        cands += [brand] if brand else []
    if ds:
        agree = len({d.sector for d in ds}) == 1
        first = ds[0]
        cands.append(
            replace(
                first,
                confidence=min(first.confidence, 0.9 if agree else 0.7),
                evidence=first.evidence + ("" if agree else f" (+{len(ds) - 1} others)"),
            )
        )
    return cands


def _intrinsic(
    distinct: pd.DataFrame,
    name_arr: pa.Array,
    texts: list[str],
    keys: list[str],
    regs: Registers,
    book: Rulebook,
) -> list[Decision]:
    """The decision for each distinct (name, identifiers), before entity resolution and council context."""
    names, cns, chs, reds = (distinct[c].tolist() for c in ("name", "cn", "ch", "red"))
    scan = _scan_names(name_arr, texts, book.rules)
    hits = _look_up(names, texts, keys, cns, chs, scan.councilish, regs)
    ind_cfg = book.rules["individuals"]
    everywhere = {k: d for (k, council), d in book.overrides.items() if not council}
    trading_names = TradingNames(texts, ind_cfg)
    out: list[Decision] = []
    for i, text in enumerate(texts):
        cn, key = cns[i], keys[i]
        cands: list[Decision] = [everywhere[key]] if key in everywhere else []
        if reds[i]:
            cands.append(REDACTED_FLAG)
        elif not text:
            cands.append(BLANK_NAME)
        cands += council_company_candidates(cn, key, book.council_companies, book.rules)
        cands += _identifier_candidates(cn, chs[i], text, hits, regs)
        cands += _register_name_candidates(i, key, text, hits.councilish[i], hits, regs)
        if scan.best_rule[i]:
            cands.append(scan.best_rule[i])
        if not (scan.trading[i] or scan.markup[i] or hits.councilish[i]):
            cands += _person_candidates(names[i], text, cands, ind_cfg, trading_names)
        if scan.markup[i]:
            # "<script>…</script>" or "=HYPERLINK(…)" is an injection or a broken export, not a firm.
            cands.append(MARKUP_DEFAULT)
        elif text and not text.replace(" ", "").isdigit():  # plain text: a-z, 0-9 and spaces only
            cands.append(PRIVATE_DEFAULT)
        else:
            cands.append(UNKNOWN_DEFAULT)
        best = with_register_id(best_decision(cands), cands)
        if scan.trading[i] and best.sector != "individual" and not best.canonical:
            # "Mr J Smith t/a Smith Builders": a business, shown by its trading name only
            trading = trading_name_of_person(names[i], ind_cfg)
            best = replace(best, canonical=trading) if trading else best
        out.append(best)
    return out


# A person-shaped name that the batch shows trading under the same name ("T Smith" next to "T Smith Ltd").
_TRADES_IN_BATCH = Decision(
    "private",
    "business",
    0.5,
    "person-shaped name, but the same name trades with a legal form or business word in this batch",
    "rule",
)


def _person_candidates(
    name: str, text: str, cands: list[Decision], cfg: dict, trading_names: TradingNames
) -> list[Decision]:
    """The personal-name candidate, unless another step or the batch says organisation."""
    person = person_shape(name, cfg)
    if not person:
        return []
    if person.subsector == "carer":
        return [person]
    if any(c.step in _NOT_A_PERSON for c in cands):
        return []
    titled = person.evidence.startswith("individual: title")
    return [_TRADES_IN_BATCH] if not titled and trading_names.corroborates(text) else [person]


def _unify(
    distinct: pd.DataFrame,
    decisions: list[Decision],
    entity_ids: list[str],
    methods: list[str],
    rows_per_name: Sequence[int],
) -> tuple[list[Decision], list[str]]:
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


_MARKUP = re.compile(r"<\s*/?\s*[a-z!][^>]*>|^\s*[=+@]\s*[A-Za-z]+\s*\(", re.IGNORECASE)
