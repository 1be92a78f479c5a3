"""The candidates each step of the cascade proposes for one distinct payee name (docs/suppliers.md).

Split from classify.py: these read only the name, its identifiers, the registers and the rules, never
the council context or the rest of the batch (except the batch's trading names), so they run once per
distinct name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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
from normalise.suppliers.distinct import council_bodies, first_seen_codes
from normalise.suppliers.keys import charity_org_id, council_keys_and_cues
from normalise.suppliers.lookup import Registers
from normalise.suppliers.persons import (
    PersonShapes,
    TradingNames,
    carer,
    carer_wording,
    trading_name_of_person,
)
from normalise.suppliers.rule_scan import best_rules, regex_mask
from normalise.suppliers.rulebook import Rulebook, load_rules

# A candidate from one of these steps says "organisation": a person-shaped name is then not a person.
_NOT_A_PERSON = frozenset({"override", "council_company", "identifier", "register", "rule"})
_TRADING_NAME = re.compile(r"\b(t/a|t/as|trading as)\b", re.IGNORECASE)
_COUNCILISH = re.compile(
    r"\b(council|borough|authority|county|city of|corporation|mbc|lbc|lb|rb|rbc|cbc|mdc|cc|dc|bc|ca)\b"
)
_MARKUP = re.compile(r"<\s*/?\s*[a-z!][^>]*>|^\s*[=+@]\s*[A-Za-z]+\s*\(", re.IGNORECASE)


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
    name_arr: pa.Array,
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
    bodies = council_bodies(names, name_arr, texts)
    ckeys, cues = council_keys_and_cues(bodies, load_rules()["council_words"])
    del bodies
    councilish = [a or b for a, b in zip(councilish, cues, strict=True)]
    # a council key is read only where the name is council-like or is its own key: the others, most
    # of millions of names, keep no string of their own
    ckeys = [
        c if c and (ish or c == key) else "" for c, ish, key in zip(ckeys, councilish, keys, strict=True)
    ]
    councils = regs.names(sorted(set(ckeys) - {""}), registers=("local_authorities",))
    wanted = {f"GB-COH-{c}" for c in cns if c} | {charity_org_id(c) for c in chs if c}
    brands = brand_hits(keys, by_key, regs, load_rules())
    wanted |= set().union(*brands.values()) if brands else set()
    none: frozenset[str] = frozenset()
    for i, key in enumerate(keys):
        wanted |= by_key.get(key, none)
        if councilish[i] or ckeys[i] == key:
            wanted |= councils.get(ckeys[i], none)
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
    by_council = ckey and (councilish or ckey == key)
    if not by_council and key not in hits.by_key and key not in hits.brands:  # most names
        return cands
    if by_council:
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


def intrinsic_decisions(
    distinct: pd.DataFrame,
    name_arr: pa.Array,
    texts: list[str],
    keys: list[str],
    regs: Registers,
    book: Rulebook,
) -> list[Decision]:
    """The decision for each distinct (name, identifiers), before entity resolution and council context.

    Only the name as folded to lower case, the company and charity numbers and the redaction flag
    decide it (a VAT number joins entities later, in ``resolve``; every test of an ASCII name ignores
    case, and only a trading name is shown as written): "ACME LTD" and "Acme Ltd" are decided once.
    """
    names = distinct["name"].tolist()
    cns, chs, reds = (distinct[c].to_numpy(dtype=object) for c in ("cn", "ch", "red"))
    ind_cfg = book.rules["individuals"]
    # the batch's trading names count every distinct (name, identifiers), VAT numbers included
    trading_names = TradingNames(texts, ind_cfg)
    # a non-ASCII name is never folded; codes are numbered in order of first row
    folded = pc.if_else(pc.string_is_ascii(name_arr), pc.utf8_lower(name_arr), name_arr)
    which = first_seen_codes(
        [pc.dictionary_encode(folded).indices.to_numpy().astype(np.int64)]
        + [pd.factorize(v, use_na_sentinel=False)[0] for v in (cns, chs, reds)]
    )
    del folded
    # a row starts a code when it beats the running max
    firsts = np.flatnonzero(which > np.maximum.accumulate(np.r_[-1, which[:-1]]))
    # the first rows' values, and no list of millions of row numbers, kept while they are decided
    first_rows = firsts.tolist()
    f_names, f_texts, f_keys = ([v[i] for i in first_rows] for v in (names, texts, keys))
    del first_rows
    f_cns, f_chs, f_reds = (v[firsts].tolist() for v in (cns, chs, reds))
    decided, trading = _decide(
        f_names,
        f_cns,
        f_chs,
        f_reds,
        name_arr.take(pa.array(firsts)),
        f_texts,
        f_keys,
        regs,
        book,
        trading_names,
    )
    del f_names, f_cns, f_chs, f_reds, f_texts, f_keys
    out = [decided[w] for w in which.tolist()]
    for i, w in enumerate(which.tolist()):
        best = out[i]
        if trading[w] and best.sector != "individual" and not best.canonical:
            # "Mr J Smith t/a Smith Builders": a business, shown by its trading name only (as written)
            shown = trading_name_of_person(names[i], ind_cfg)
            out[i] = replace(best, canonical=shown) if shown else best
    return out


def _decide(
    names: list[str],
    cns: list,
    chs: list,
    reds: list,
    name_arr: pa.Array,
    texts: list[str],
    keys: list[str],
    regs: Registers,
    book: Rulebook,
    trading_names: TradingNames,
) -> tuple[list[Decision], list[bool]]:
    """``intrinsic_decisions`` of distinct (folded name, company number, charity number, redaction
    flag), before any trading name is shown; and whether each name has a trading name."""
    scan = _scan_names(name_arr, texts, book.rules)
    hits = _look_up(names, name_arr, texts, keys, cns, chs, scan.councilish, regs)
    ind_cfg = book.rules["individuals"]
    everywhere = {k: d for (k, council), d in book.overrides.items() if not council}
    shapes = PersonShapes(ind_cfg)
    carers = carer_wording(names, name_arr, ind_cfg)
    companies: dict[str | tuple, tuple[Decision, ...]] = {}
    out: list[Decision] = []
    for i, text in enumerate(texts):
        cn, key = cns[i], keys[i]
        cands: list[Decision] = [everywhere[key]] if key in everywhere else []
        if reds[i]:
            cands.append(REDACTED_FLAG)
        elif not text:
            cands.append(BLANK_NAME)
        memo = key if cn is None else (cn, key)  # no tuple for the many names without a company number
        company = companies.get(memo)
        if company is None:  # a key recurs with each spelling of its name
            # one shared () for the many keys that are no council's company
            company = companies[memo] = tuple(
                council_company_candidates(cn, key, book.council_companies, book.rules)
            )
        cands += company
        if cn or chs[i]:
            cands += _identifier_candidates(cn, chs[i], text, hits, regs)
        cands += _register_name_candidates(i, key, text, hits.councilish[i], hits, regs)
        if scan.best_rule[i]:
            cands.append(scan.best_rule[i])
        if not (scan.trading[i] or scan.markup[i] or hits.councilish[i]):
            cands += _person_candidates(names[i], text, carers[i], cands, shapes, trading_names)
        if scan.markup[i]:
            # "<script>…</script>" or "=HYPERLINK(…)" is an injection or a broken export, not a firm.
            cands.append(MARKUP_DEFAULT)
        elif text and not text.replace(" ", "").isdigit():  # plain text: a-z, 0-9 and spaces only
            cands.append(PRIVATE_DEFAULT)
        else:
            cands.append(UNKNOWN_DEFAULT)
        out.append(with_register_id(best_decision(cands), cands))
    return out, scan.trading


# A person-shaped name that the batch shows trading under the same name ("T Smith" next to "T Smith Ltd").
_TRADES_IN_BATCH = Decision(
    "private",
    "business",
    0.5,
    "person-shaped name, but the same name trades with a legal form or business word in this batch",
    "rule",
)


def _person_candidates(
    name: str,
    text: str,
    has_carer_wording: bool,
    cands: list[Decision],
    shapes: PersonShapes,
    trading_names: TradingNames,
) -> list[Decision]:
    """The personal-name candidate, unless another step or the batch says organisation."""
    if any(c.step in _NOT_A_PERSON for c in cands):  # only carer wording still makes a person
        return [carer(shapes.cfg)] if has_carer_wording else []
    person = shapes(name)
    if not person:
        return []
    if person.subsector == "carer":
        return [person]
    titled = person.evidence.startswith("individual: title")
    return [_TRADES_IN_BATCH] if not titled and trading_names.corroborates(text) else [person]
