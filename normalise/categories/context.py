"""Row context for the category classifier: the other columns of a payment (``rules/context.yml``).

Why: the account name is often vague ("Other payments", "Services") or missing, while the same row
carries a capital/revenue flag, a group or ledger column, a free-text description, a cost centre
and a payee. Those decide only where the account name says nothing or little, and every answer
names the column it came from. Transfers (``transfers.py``) are found here too, because they need
the payee as much as the account.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from pathlib import Path

import pandas as pd

from normalise.categories.rules import RuleFileError, normalise_value
from normalise.categories.taxonomy import LABELS
from normalise.categories.transfers import kind_group, transfer_kind
from normalise.rulefiles import load_yaml

CONTEXT = Path(__file__).parent / "rules" / "context.yml"
#: Optional input columns of ``classify_categories`` that this module reads.
CONTEXT_COLUMNS = (
    "group",
    "capital_revenue",
    "context",
    "service",
    "payee_name",
    "payee_sector",
    "service_division",
)
EXPENSE = "expense_type"

Decision = tuple[str, float, str, str]


@cache
def context_rules() -> dict:
    """The context file, checked (labels in the taxonomy, regexes compile)."""
    data = load_yaml(CONTEXT)
    allowed = LABELS[EXPENSE]
    words = []
    for entry in data["payee_words"]:
        if entry["label"] not in allowed:
            raise RuleFileError(f"{CONTEXT}: payee_words label {entry['label']!r} is not a subjective group")
        rx = re.compile("|".join(f"(?:{p})" for p in entry["patterns"]))
        words.append((rx, entry["label"], float(entry["confidence"])))
    for division, label in data["service_priors"]["divisions"].items():
        if division not in LABELS["service_area"] or label not in allowed:
            raise RuleFileError(f"{CONTEXT}: service prior {division!r} -> {label!r} is not in the taxonomy")
    for sector, entry in data["payee_sectors"].items():
        if entry["label"] not in allowed:
            raise RuleFileError(
                f"{CONTEXT}: payee sector {sector!r} label {entry['label']!r} is not a subjective group"
            )
    return {
        **data,
        "payee_words": words,
        "context_words": _word_rules(data.get("context_words", []), allowed),
        "vague_rules": frozenset(data["vague_rules"]),
        "capital_values": frozenset(data["capital_values"]),
        "capital_keeps": frozenset(data["capital_keeps"]),
    }


def _word_rules(entries: list[dict], allowed: tuple[str, ...]) -> list[tuple[re.Pattern[str], str, float]]:
    out = []
    for entry in entries:
        if entry["label"] not in allowed:
            raise RuleFileError(f"{CONTEXT}: label {entry['label']!r} is not a subjective group")
        rx = re.compile("|".join(f"(?:{p})" for p in entry["patterns"]))
        out.append((rx, entry["label"], float(entry["confidence"])))
    return out


def _from_words(text: str) -> Decision | None:
    """``context_words`` on a description or cost-centre name (what a payment under it bought)."""
    norm = normalise_value(text)
    for rx, label, confidence in context_rules()["context_words"] if norm else ():
        m = rx.search(norm)
        if m:
            return label, confidence, f"context:context_words:{label}", f"context column '{m.group(0)}'"
    return None


def _from_text(kind: str, text: str, where: str, factor: float, cap: float, floor: float) -> Decision | None:
    from normalise.categories.decide import decide_text

    norm = normalise_value(text)
    hit = decide_text(kind, norm) if norm else None
    if not hit or hit[0] == "unknown" or hit[1] < floor:
        return None
    return (
        hit[0],
        round(min(hit[1] * factor, cap), 3),
        f"context:{where}:{hit[2]}",
        f"{where} column {hit[3]}",
    )


def _from_payee(name: str, sector: str) -> Decision | None:
    cfg = context_rules()
    norm = normalise_value(name)
    for rx, label, confidence in cfg["payee_words"]:
        m = rx.search(norm) if norm else None
        if m:
            return label, confidence, "context:payee_name", f"payee name '{m.group(0)}'"
    entry = cfg["payee_sectors"].get(sector)
    if entry:
        return (
            entry["label"],
            float(entry["confidence"]),
            f"context:payee_sector:{sector}",
            f"payee sector {sector}",
        )
    return None


def _from_service(service: str, service_division: str = "") -> Decision | None:
    from normalise.categories.decide import decide_value

    priors = context_rules()["service_priors"]
    if service_division:
        division, said = service_division, f"service division {service_division}"
    else:
        division = decide_value("service_area", service)[0] if service else "unknown"
        said = f"service '{service}' is {division}"
    label = priors["divisions"].get(division)
    if not label:
        return None
    return label, float(priors["confidence"]), f"context:service_prior:{division}", said


def prior_division(division: str) -> str:
    """``division`` when the service prior reads it (adult social care...), else "": what of a
    payment's service division the expense context needs, so that publish keys stay few."""
    return division if division in context_rules()["service_priors"]["divisions"] else ""


def service_cue(service: str) -> str:
    """The words of a service heading that the transfer rules read ("collection fund", "levy"),
    or "". Classifying an expense with the cue decides exactly what the whole heading decides."""
    from normalise.categories.transfers import service_words

    return service_words(normalise_value(service))


@cache
def _payee_any() -> re.Pattern[str]:
    from normalise.categories.transfers import payee_patterns

    parts = [rx.pattern for rx, _, _ in context_rules()["payee_words"]] + [
        rx.pattern for rx in payee_patterns()
    ]
    return re.compile("|".join(f"(?:{p})" for p in parts))


def payee_cue(name: str) -> str:
    """The words of a payee name that the rules read (a transfer payee's "hmrc", "pension fund";
    a provider's "care", "nursing"), or "". Publish keys an expense on the cue, not the name: a
    council pays thousands of payees and the rules read only these words of them."""
    return _payee_cue_and_transfer(name)[0]


def _payee_cue_and_transfer(name: str) -> tuple[str, str]:
    """(:func:`payee_cue`, :func:`payee_transfer_cue`) of a name: the cue holds the transfer words,
    so both come from one reading."""
    norm = normalise_value(name)
    if not norm or not _payee_any().search(norm):
        return "", ""
    from normalise.categories.transfers import payee_words

    words = [payee_words(norm)]
    for rx, _, _ in context_rules()["payee_words"]:
        m = rx.search(norm)
        if m:
            words.append(m.group(0))
            break
    return " ".join(dict.fromkeys(w for w in words if w)), words[0]


@lru_cache(maxsize=200_000)
def text_cue(text: str) -> str:
    """What of a description or cost-centre name (``context`` of :func:`contextual`) an expense is
    keyed on at publish: the words its rule matched, or "" when it says nothing.

    Why: a file with no expense column ("Minor Works Contracts" as its only heading) is classified
    from that text, but keying on every cost centre or description would multiply the keys. The
    matched words decide the group the whole text decides (the confidence may differ when the
    whole was read expanded); when they would not, the normalised text itself is the cue.
    """
    norm = normalise_value(text)
    whole = _from_text(EXPENSE, norm, "context", 1.0, 1.0, _text_floor()) if norm else None
    if whole is None:
        words = _from_words(norm)
        return re.search(r"'([^']*)'", words[3]).group(1) if words else ""
    from normalise.categories.decide import decide_text

    found = re.search(r"'([^']*)'", decide_text(EXPENSE, norm)[3])
    cue = found.group(1) if found else norm
    part = _from_text(EXPENSE, cue, "context", 1.0, 1.0, _text_floor())
    return cue if part is not None and part[0] == whole[0] else norm


def _text_floor() -> float:
    return float(context_rules()["text_min_confidence"])


def text_cues(texts: list[str]) -> list[str]:
    """:func:`text_cue` of many texts."""
    return [text_cue(t) for t in texts]


def needs_context(label: str, confidence: float, rule: str) -> bool:
    """True when a value-only answer is unknown, weak or vague, so that the row's context may replace
    it (:func:`contextual`). Otherwise only a transfer or a capital flag can change it, and publish
    keys the expense on those alone."""
    from normalise.categories.decide import WEAK

    return label == "unknown" or float(confidence) < WEAK or rule in context_rules()["vague_rules"]


def payee_transfer_cue(name: str) -> str:
    """The words of a payee name that decide a transfer kind ("hmrc", "pension fund"), or ""."""
    from normalise.categories.transfers import payee_words

    return payee_words(normalise_value(name))


def payee_cues(names: pd.Series) -> pd.Series:
    """:func:`payee_cue` of many names: one vectorised (RE2) test first, Python only on the few
    names that contain a cue (millions of payees at national scale)."""
    return payee_cues_and_transfers(names)[0]


def payee_cues_and_transfers(names: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(:func:`payee_cues`, :func:`payee_transfer_cue` of each name with a cue, else "")."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(names.astype("object").where(names.notna(), "").astype(str).tolist(), pa.large_string())
    norm = pc.utf8_lower(text)
    norm = pc.replace_substring(norm, "&", " and ")
    norm = pc.replace_substring_regex(norm, "['\u2019\u2018\u00b4`]", "")
    norm = pc.replace_substring_regex(norm, "[^0-9a-z+]+", " ")
    try:
        hit = pc.match_substring_regex(norm, _payee_any().pattern).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a pattern RE2 cannot run: test each in Python
        hit = [True] * len(names)
    out = pd.Series("", index=names.index, dtype="object")
    transfer = pd.Series("", index=names.index, dtype="object")
    where = [i for i, h in enumerate(hit) if h]
    if where:
        values = names.iloc[where].astype(str).tolist()
        # a payee paid by several councils is one name in many rows: read each name once
        cue = {v: _payee_cue_and_transfer(v) for v in dict.fromkeys(values)}
        out.iloc[where] = [cue[v][0] for v in values]
        # a transfer word is a cue too: a name with no cue has no transfer words
        transfer.iloc[where] = [cue[v][1] if cue[v][0] else "" for v in values]
    return out, transfer


@lru_cache(maxsize=500_000)
def contextual(
    kind: str,
    value: str,
    decided: Decision,
    group: str = "",
    capital_revenue: str = "",
    context: str = "",
    service: str = "",
    payee_name: str = "",
    payee_sector: str = "",
    service_division: str = "",
) -> tuple[Decision, str | None]:
    """(decision, transfer kind) for one row given the value-only ``decided`` and its context.

    ``service_division``, when given, is the row's service division already decided (publish
    passes it instead of the service text); ``service`` and ``payee_name`` may be the cues of
    :func:`service_cue` and :func:`payee_cue`, which decide what the whole texts decide."""
    cfg = context_rules()
    sector = payee_sector.strip().lower()
    transfer = None
    if kind == EXPENSE:
        transfer = transfer_kind(value or context, service or None, sector or None, payee_name or None)
    label, confidence, rule, evidence = decided
    if (
        kind == EXPENSE
        and normalise_value(capital_revenue) in cfg["capital_values"]
        and label not in cfg["capital_keeps"]
        and transfer is None
    ):
        return (
            "capital",
            float(cfg["capital_confidence"]),
            "context:capital_revenue",
            f"capital/revenue column '{capital_revenue}'; account {evidence}",
        ), None
    vague = label == "unknown" or confidence < 0.6 or rule in cfg["vague_rules"]
    if not vague:
        return decided, transfer and transfer[0]
    better = None
    if group:
        better = _from_text(kind, group, "group", 1.0, float(cfg["group_cap"]), 0.6)
    if better is None and transfer:
        grp = kind_group(transfer[0])
        if grp != "unknown":
            better = grp, float(cfg["transfer_confidence"]), f"transfer:{transfer[0]}", transfer[1]
    if better is None and context:
        better = _from_text(
            kind, context, "context", float(cfg["text_factor"]), 0.85, float(cfg["text_min_confidence"])
        )
        if better is None and kind == EXPENSE:
            better = _from_words(context)
    if better is None and kind == EXPENSE:
        better = _from_payee(payee_name, sector) or _from_service(service, service_division)
    if better is not None and (label == "unknown" or better[1] >= confidence or rule in cfg["vague_rules"]):
        return better, transfer and transfer[0]
    return decided, transfer and transfer[0]


def apply_context(merged: pd.DataFrame, context: dict[str, pd.Series]) -> pd.DataFrame:
    """``merged`` (kind, value, label, confidence, rule, evidence) revised by the context columns,
    plus ``transfer_kind``. Works once per distinct combination."""
    out = merged.copy()
    cols = {c: context[c].to_numpy() if c in context else [""] * len(out) for c in CONTEXT_COLUMNS}
    keys = pd.DataFrame(
        {
            "kind": out["kind"].to_numpy(),
            "value": out["value"].to_numpy(),
            "label": out["label"].to_numpy(),
            "confidence": out["confidence"].astype(float).to_numpy(),
            "rule": out["rule"].to_numpy(),
            "evidence": out["evidence"].to_numpy(),
            **cols,
        }
    )
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(keys))
    results = [contextual(u[0], u[1], (u[2], u[3], u[4], u[5]), *u[6:]) for u in uniques]
    for i, col in enumerate(("label", "confidence", "rule", "evidence")):
        values = [r[0][i] for r in results]
        out[col] = [values[c] for c in codes]
    kinds = [r[1] for r in results]
    out["transfer_kind"] = pd.Series([kinds[c] for c in codes], index=out.index, dtype="object")
    return out
