"""Brand matches: "<Brand> Services", "<Brand> Trust", "<Brand> UK" for a registered "<Brand>".

Why: charities and council companies are paid under their brand with a generic word added or left off
("Brightpath Services" for a charity registered as "Brightpath"); an exact-name look-up misses them and they
default to private. The match is looser than an exact name, so it is taken only when the distinctive
words are identical, the rest are generic (``brand_match`` in rules.yml), the brand is distinctive (not
one short word, a business word, a forename or a council's place), and it gives one of the sectors a
brand stands for (third sector, council company), at a lower confidence.
"""

from __future__ import annotations

from dataclasses import replace

from normalise.suppliers.decision import Decision
from normalise.suppliers.lookup import Registers
from normalise.suppliers.rulebook import forenames


def brand_of(key: str, rules: dict) -> str | None:
    """The distinctive part of a match key with trailing generic words dropped, or None."""
    cfg = rules["brand_match"]
    return _brand_of(key, cfg["generic_set"], cfg["min_single_word"], rules["individuals"]["business"])


def _brand_of(
    key: str, generic: frozenset[str], min_single_word: int, business: frozenset[str]
) -> str | None:
    """``brand_of`` from the rules' parts. Not memoised: the batch asks once or twice per distinct
    key, and a module cache of every key kept ~10^5 objects for each later garbage collection."""
    words = key.split()
    while words and words[-1] in generic:
        words.pop()
    if not words or not generic.isdisjoint(words):
        return None
    if len(words) == 1:
        w = words[0]
        if len(w) < min_single_word or w in business or w in forenames():
            return None
    return " ".join(words)


def variants(key: str, rules: dict) -> list[str]:
    """The bare brand a key with a generic word added may be registered under ("<Brand> Services" ->
    "<Brand>"). Only this way round: a company's own charitable foundation ("<Company> Foundation") is
    registered under the company's brand, so "<Brand>" alone must not become "<Brand> Foundation"."""
    cfg = rules["brand_match"]
    brand = _brand_of(key, cfg["generic_set"], cfg["min_single_word"], rules["individuals"]["business"])
    return [brand] if brand is not None and brand != key else []


def brand_hits(
    keys: list[str], exact: dict[str, set[str]], regs: Registers, rules: dict
) -> dict[str, set[str]]:
    """{match key: {org_id}} for keys without an exact register name, through their brand variants.

    A single-word brand that is a council's place ("Bradford Services") is no brand.
    """
    wanted = {k: variants(k, rules) for k in set(keys) - {""} if k not in exact}
    wanted = {k: v for k, v in wanted.items() if v}
    found = regs.names(sorted({v for vs in wanted.values() for v in vs}))
    singles = sorted({vs[0] for vs in wanted.values() if " " not in vs[0]})
    places = regs.names(singles, registers=("local_authorities",))
    out: dict[str, set[str]] = {}
    for k, vs in wanted.items():
        if vs[0] in places:
            continue
        ids = set().union(*(found.get(v, set()) for v in vs))
        if ids:
            out[k] = ids
    return out


def brand_candidate(decisions: list[Decision], rules: dict) -> Decision | None:
    """One candidate from what the registers say about a brand's organisations, if they agree."""
    cfg = rules["brand_match"]
    ds = [d for d in decisions if d.sector in cfg["sectors"]]
    if not ds or len({d.sector for d in decisions}) != 1:
        return None
    first = ds[0]
    return replace(
        first,
        confidence=min(first.confidence, float(cfg["confidence"])),
        evidence=f"{first.evidence} (brand match)",
    )


def council_company_candidates(
    cn: str | None, key: str, lists: tuple[dict, dict], rules: dict
) -> list[Decision]:
    """The council-company list: by company number or exact name (0.97), else by brand (lower)."""
    by_key, by_number = lists
    cc = (by_number.get(cn) if cn else None) or by_key.get(key)
    if cc:
        org = f"GB-COH-{cn}" if cn else None
        evidence = f"council company list: {cc[0]} (owner {cc[1] or '?'})"
        return [Decision("council_company", "latco", 0.97, evidence, "council_company", org, cc[0])]
    for v in variants(key, rules):
        if v in by_key:
            name, owner = by_key[v]
            evidence = f"council company list: {name} (owner {owner or '?'}; brand match)"
            conf = float(rules["brand_match"]["confidence"])
            return [Decision("council_company", "latco", conf, evidence, "council_company")]
    return []
