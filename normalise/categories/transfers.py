"""Transfers and pass-throughs: payments that buy no service and so leave the denominator.

The kinds and their words are data (``rules/transfers.yml``). Two entry points:

* :func:`transfer_kind` for one payment: ``(kind, evidence)`` or ``None``;
* :func:`transfer_kinds` over a DataFrame (the publish build): adds ``transfer_kind`` and
  ``transfer_evidence``, working once per distinct (expense, service, payee sector, payee name).

The expense type decides most kinds on its own ("Passenger Transport Levy"); the payee decides when
its name says so (HMRC, a pension fund) or when the supplier classifier calls it a transfer; the
service column decides only together with a public payee (a payment under "Collection Fund" to a
police body is a precept).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import pandas as pd

from normalise.categories.rules import RuleFileError, normalise_value
from normalise.categories.taxonomy import LABELS
from normalise.categories.tokens import expand

TRANSFERS = Path(__file__).parent / "rules" / "transfers.yml"


@dataclass(frozen=True)
class TransferKind:
    id: str
    description: str
    group: str
    expense: re.Pattern[str] | None
    payee: re.Pattern[str] | None
    service: re.Pattern[str] | None
    needs_public_payee: bool
    unless: re.Pattern[str] | None = None


def _compile(path: Path, kind: str, patterns: list[str] | None) -> re.Pattern[str] | None:
    if not patterns:
        return None
    try:
        return re.compile("|".join(f"(?:{p})" for p in patterns))
    except re.error as exc:
        raise RuleFileError(f"{path}: transfer kind {kind!r}: bad regex: {exc}") from exc


@cache
def transfer_rules() -> tuple[tuple[TransferKind, ...], frozenset[str], str]:
    """(kinds in order, payee sectors counted as public, the supplier sector meaning 'transfer')."""
    from normalise.rulefiles import load_yaml

    data = load_yaml(TRANSFERS)
    kinds = []
    for raw in data["kinds"]:
        kid = raw["id"]
        if not (raw.get("expense") or raw.get("payee")):
            raise RuleFileError(f"{TRANSFERS}: transfer kind {kid!r} has neither expense nor payee patterns")
        group = raw.get("group", "unknown")
        if group not in LABELS["expense_type"]:
            raise RuleFileError(
                f"{TRANSFERS}: transfer kind {kid!r} has group {group!r}; allowed: {', '.join(LABELS['expense_type'])}"
            )
        kinds.append(
            TransferKind(
                kid,
                raw.get("description", ""),
                group,
                _compile(TRANSFERS, kid, raw.get("expense")),
                _compile(TRANSFERS, kid, raw.get("payee")),
                _compile(TRANSFERS, kid, raw.get("service")),
                bool(raw.get("needs_public_payee")),
                _compile(TRANSFERS, kid, raw.get("unless")),
            )
        )
    return (
        tuple(kinds),
        frozenset(data.get("public_sectors", [])),
        str(data.get("transfer_sector", "transfer")),
    )


def kind_ids() -> tuple[str, ...]:
    """Every transfer kind the file defines, plus ``other_transfer`` (payee-only)."""
    return tuple(k.id for k in transfer_rules()[0]) + ("other_transfer",)


def kind_group(kind: str) -> str:
    """The SeRCOP subjective group of a transfer kind (``unknown`` for ``other_transfer``)."""
    return next((k.group for k in transfer_rules()[0] if k.id == kind), "unknown")


def payee_patterns() -> tuple[re.Pattern[str], ...]:
    """Every kind's payee patterns (what :func:`payee_words` looks for)."""
    return tuple(k.payee for k in transfer_rules()[0] if k.payee is not None)


def payee_words(payee: str) -> str:
    """The words of a normalised payee name that decide a transfer kind (first kind in order), or ""."""
    for kind in transfer_rules()[0]:
        hit = _search(kind.payee, payee)
        if hit:
            return hit
    return ""


def service_words(service: str) -> str:
    """The words of a normalised service heading that decide a transfer kind, or ""."""
    for kind in transfer_rules()[0]:
        hit = _search(kind.service, service)
        if hit:
            return hit
    return ""


def _search(rx: re.Pattern[str] | None, *texts: str) -> str | None:
    if rx is None:
        return None
    for text in texts:
        m = rx.search(text) if text else None
        if m:
            return m.group(0)
    return None


@lru_cache(maxsize=200_000)
def transfer_kind(
    expense_text: str | None,
    service_text: str | None = None,
    payee_sector: str | None = None,
    payee_name: str | None = None,
) -> tuple[str, str] | None:
    """``(kind, evidence)`` when the payment is a transfer or pass-through, else ``None``.

    ``expense_text`` is the expense type as published; ``payee_sector`` is the supplier classifier's
    sector (``public``, ``transfer``, ``private``...). Evidence names the column and the words.
    """
    kinds, public, transfer_sector = transfer_rules()
    expense = normalise_value(expense_text)
    expanded = expand(expense)
    service = normalise_value(service_text)
    payee = normalise_value(payee_name)
    sector = (payee_sector or "").strip().lower()
    is_public = sector in public
    # The expense type is the strongest evidence, then the payee's name, then the service column.
    for kind in kinds:
        hit = _search(kind.expense, expense, expanded)
        if hit and _search(kind.unless, expense, expanded):
            continue  # the account says it buys a service ("Shared Service Recharge")
        if hit and (not kind.needs_public_payee or is_public):
            extra = f"; payee sector {sector}" if kind.needs_public_payee or is_public else ""
            return kind.id, f"expense '{hit}'{extra}"
    for kind in kinds:
        hit = _search(kind.payee, payee)
        if hit:
            return kind.id, f"payee '{hit}'"
    for kind in kinds:
        hit = _search(kind.service, service)
        if hit and is_public:
            return kind.id, f"service '{hit}'; payee sector {sector}"
    if sector and sector == transfer_sector:
        return "other_transfer", f"payee sector {sector}"
    return None


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    if name not in df.columns:
        return pd.Series("", index=df.index, dtype="object")
    col = df[name].astype("object")
    return col.where(col.notna(), "").astype(str)


def transfer_kinds(
    df: pd.DataFrame,
    expense: str = "value",
    service: str = "service",
    payee_sector: str = "payee_sector",
    payee_name: str = "payee_name",
) -> pd.DataFrame:
    """``df`` plus ``transfer_kind`` (None when not a transfer) and ``transfer_evidence``.

    Column names are parameters so the publish build can pass its own (e.g. ``expense="expense_type"``,
    ``payee_name="supplier_name"``, ``payee_sector="sector"``). Missing columns count as blank.
    """
    if expense not in df.columns:
        raise ValueError(f"transfer_kinds: input lacks the expense column {expense!r}")
    keys = pd.DataFrame(
        {
            "e": _column(df, expense),
            "s": _column(df, service),
            "p": _column(df, payee_sector),
            "n": _column(df, payee_name),
        }
    )
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(keys))
    decided = [transfer_kind(e, s or None, p or None, n or None) for e, s, p, n in uniques]
    kinds = [d[0] if d else None for d in decided]
    evidence = [d[1] if d else "" for d in decided]
    out = df.copy()
    out["transfer_kind"] = pd.Series([kinds[c] for c in codes], index=df.index, dtype="object")
    out["transfer_evidence"] = pd.Series([evidence[c] for c in codes], index=df.index, dtype="object")
    return out
