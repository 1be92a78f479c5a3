"""Council context: who the payer is, the payer itself and its own companies, levies by expense type.

Why separate: the same payee means different things to different payers (a council paying itself is
an internal transfer), and this is decided once per distinct (council, expense type, payee).
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

import numpy as np
import yaml

from normalise.suppliers.decision import Decision
from normalise.suppliers.keys import (
    council_key,
    plain_text,
)
from normalise.suppliers.lookup import Registers
from normalise.suppliers.rulebook import HERE, safe_yaml


def in_contexts(
    decisions: list[Decision],
    keys: list[str],
    texts: list[str],
    codes: np.ndarray,
    council: tuple[np.ndarray, list[str]],
    expense: tuple[np.ndarray, list[str]],
    payer: dict[str, tuple[str | None, str]],
    cfg: dict,
    overrides: dict[tuple[str, str], Decision],
) -> tuple[list[Decision], list[int], np.ndarray]:
    """Each row's decision in its council and expense-type context: ``final[take[row]]``.

    Why: the input is often one row per (council, payee), so calling ``in_context`` and
    ``by_expense_type`` on every row was the slowest step at scale, while they change almost no
    decision. Rows are screened with numpy on the conditions those functions test (each a necessary
    condition for a change); only rows that pass are decided in Python, by those same functions.
    ``final`` starts as ``decisions`` (so ``take`` starts as ``codes``); ``final_code[j]`` is the
    distinct name behind ``final[j]``.
    """
    council_codes, council_values = council
    expense_codes, expense_values = expense
    payers = [payer.get(c) for c in council_values]
    rows = _rows_that_may_change(decisions, keys, texts, codes, council, expense, payers, cfg, overrides)
    cc, dc = council_codes, codes
    final = list(decisions)
    final_code = list(range(len(decisions)))
    take = codes.copy()
    contextual: dict[tuple[str, str, int], int] = {}
    for row, c, e, code in zip(
        rows.tolist(), cc[rows].tolist(), expense_codes[rows].tolist(), dc[rows].tolist(), strict=True
    ):
        ck = (council_values[c], expense_values[e], code)
        j = contextual.get(ck)
        if j is None:
            dec = in_context(
                decisions[code], keys[code], texts[code], council_values[c], payers[c], cfg, overrides
            )
            j = contextual[ck] = len(final)
            final.append(by_expense_type(dec, expense_values[e], cfg))
            final_code.append(code)
        take[row] = j
    return final, final_code, take


def _rows_that_may_change(
    decisions: list[Decision],
    keys: list[str],
    texts: list[str],
    codes: np.ndarray,
    council: tuple[np.ndarray, list[str]],
    expense: tuple[np.ndarray, list[str]],
    payers: list[tuple[str | None, str] | None],
    cfg: dict,
    overrides: dict[tuple[str, str], Decision],
) -> np.ndarray:
    """Rows whose decision ``in_context``/``by_expense_type`` could change: a numpy screen on the
    conditions those functions test (each necessary for a change)."""
    council_codes, council_values = council
    expense_codes, expense_values = expense
    spec = cfg.get("expense_transfer")
    # only the names these rows use: a slice of the keys uses a fraction of them at national scale
    used, dc = np.unique(codes, return_inverse=True)
    used_list = used.tolist()
    decisions = [decisions[k] for k in used_list]
    keys = [keys[k] for k in used_list]
    texts = [texts[k] for k in used_list]

    # per council value: (org-id, council key) of the payer, as ints comparable with the decisions' below
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
    d_local_authority = np.array(
        [d.sector == "public" and d.subsector == "local_authority" for d in decisions], dtype=bool
    )
    d_weak = np.array(
        [d.sector in ("private", "unknown") and d.confidence < 0.9 for d in decisions], dtype=bool
    )
    d_word = np.array([word_id.get(t.split(" ", 1)[0], -1) for t in texts], dtype=np.int64)
    d_levy = np.array(
        [bool(spec) and d.sector in spec["sectors"] and d.step != "override" for d in decisions], dtype=bool
    )
    e_levy = np.array(
        [bool(spec and e and re.search(spec["pattern"], plain_text(e))) for e in expense_values], dtype=bool
    )

    # ``in_context``: a council override; else the payer itself (same org-id, or a local authority with
    # the payer's key); else a weak decision whose text starts with the payer's key (so its first word)
    cc = council_codes
    payer_cue = (
        (d_org[dc] == c_org[cc])
        | (d_local_authority[dc] & c_has_key[cc])
        | (d_weak[dc] & (d_word[dc] == c_word[cc]))
    )
    screened = (c_override[cc] & d_override[dc]) | (c_active[cc] & ~d_passive[dc] & payer_cue)
    screened |= e_levy[expense_codes] & d_levy[dc]  # ``by_expense_type`` on an unchanged decision
    return np.flatnonzero(screened)


def by_expense_type(dec: Decision, expense_type: str, cfg: dict) -> Decision:
    """A public body paid under a levy/precept/pension expense type is a transfer, not a supplier."""
    spec = cfg.get("expense_transfer")
    if not expense_type or not spec or dec.sector not in spec["sectors"] or dec.step == "override":
        return dec
    if re.search(spec["pattern"], plain_text(expense_type)):
        return replace(
            dec,
            sector="transfer",
            subsector=spec["subsector"],
            confidence=spec["confidence"],
            evidence=f"expense type {expense_type!r} is a transfer ({dec.evidence})",
        )
    return dec


# --- council context ----------------------------------------------------------------------------


_GSS = re.compile(r"^[ENSW]\d{8}$")


def payer_lookup(councils: list[str], regs: Registers) -> dict[str, tuple[str | None, str]]:
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


@lru_cache(maxsize=1)
def _builtin_gss_names() -> dict[str, str]:
    """GSS code → council name from the normaliser's authorities.yml, for runs without registers."""
    try:
        with open(AUTHORITIES_FILE, encoding="utf-8") as fh:
            data = safe_yaml(fh) or {}
        return {a["gss"]: a["name"] for a in data.get("authorities", []) if a.get("gss") and a.get("name")}
    except (OSError, yaml.YAMLError, TypeError, KeyError):
        return {}


def in_context(
    dec: Decision,
    key: str,
    text: str,
    council: str,
    payer: tuple[str | None, str] | None,
    cfg: dict,
    overrides: dict[tuple[str, str], Decision],
) -> Decision:
    """One payee's decision for one payer: a council override, the payer itself, or the payer's own company."""
    if council and (key, council) in overrides:
        return overrides[(key, council)]
    if not payer or dec.step in ("override", "redaction"):
        return dec
    payer_org, payer_key = payer
    same_org = payer_org is not None and dec.org_id == payer_org
    same_name = (
        dec.sector == "public"
        and dec.subsector == "local_authority"
        and payer_key
        and council_key(text) == payer_key
    )
    if same_org or same_name:
        return replace(
            dec,
            sector="transfer",
            subsector="internal",
            confidence=max(dec.confidence, 0.85),
            evidence=f"the payer council itself ({dec.evidence})",
        )
    if payer_key and dec.sector in ("private", "unknown") and dec.confidence < 0.9:
        words = cfg["payer_company_words"]
        rest = text[len(payer_key) :].strip() if text.startswith(payer_key + " ") else ""
        rest_words = [w for w in rest.split() if w not in ("ltd", "limited", "the", "company", "co")]
        if rest_words and all(w in words for w in rest_words):
            return replace(
                dec,
                sector="council_company",
                subsector="latco",
                confidence=cfg["payer_company_confidence"],
                evidence=f"rule payer_company: the payer's place name + {' '.join(rest_words)!r}",
            )
    return dec
