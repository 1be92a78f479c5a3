"""File kind: payments, card, supplier_totals or not_spend, from the header profile and the rows
(card only by the rows: a card column must be filled on most lines, see ``kinds.yml``).

The rules are data in ``kinds.yml``; this module only applies them.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from normalise.columns import ColumnMap, normalise_label
from normalise.rows import arrow
from normalise.rulefiles import load_yaml

RULES_PATH = Path(__file__).with_name("kinds.yml")


@cache
def rules() -> dict:
    return load_yaml(RULES_PATH)


@cache
def _pattern(key: str) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in rules()[key]), re.I)


def kind_from_header(cmap: ColumnMap) -> tuple[str | None, str]:
    """Kind decided by the columns alone, or (None, "") when the rows must decide."""
    r = rules()
    present = set(cmap.field_to_col)
    if "amount" not in present:
        if present & set(r["not_spend"]["contract_fields"]):
            return "not_spend", "contract columns and no payment amount: a contracts register"
        return "not_spend", "no amount column: not a spending table"
    if present & set(r["not_spend"]["contract_fields"]) and "payment_date" not in present:
        return "not_spend", "contract columns and no payment date: a contracts register"
    amount_label = normalise_label(cmap.label_of("amount"))
    aggregate = any(re.match(p, amount_label) for p in r["supplier_totals"]["aggregate_amount_labels"])
    if "supplier_name" in present and "payment_date" not in present:
        detail = present & set(r["supplier_totals"]["forbidden_fields"])
        if not detail or (aggregate and "transaction_ref" not in present):
            return (
                "supplier_totals",
                "supplier and amount only, no dates or transactions: per-supplier totals",
            )
    return None, ""


def card_rows(
    supplier: pd.Series, ref: pd.Series | None, flag: pd.Series | None, merchant: pd.Series | None = None
) -> np.ndarray:
    """Lines inside a payments file that were paid by purchase card (a merchant category says so)."""
    out = _match_unique(supplier, _pattern("card_suppliers"))
    if merchant is not None:
        out |= (merchant != "").to_numpy(dtype=bool)
    if ref is not None:
        out |= _match_unique(ref, _pattern("card_refs"))
    if flag is not None:
        out |= _match_unique(flag, _pattern("card_flag_true"))
    return out


def looks_like_card_file(pence: np.ndarray) -> bool:
    """Row profile of a card file: most lines are small shop receipts, far under any threshold."""
    p = rules()["card_profile"]
    if len(pence) < p["min_rows"]:
        return False
    absolute = np.abs(pence) / 100
    return bool(
        np.median(absolute) < p["max_median_amount"]
        and (absolute < p["max_median_amount"]).mean() >= p["min_share_below"]
    )


def _match_unique(values: pd.Series, pattern: re.Pattern) -> np.ndarray:
    """Case-insensitive match at the start of each value (pyarrow RE2 over the column: cheaper than
    finding the distinct values first)."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    arr = pc.utf8_trim_whitespace(arrow(values if values.dtype == "str" else values.astype("str")))
    hit = pc.fill_null(pc.match_substring_regex(arr, f"^(?:{pattern.pattern})", ignore_case=True), False)
    return np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)
