"""Tokeniser, vocabulary and row-context rules of the category classifier, and the honest measures.

Values are written from general knowledge of council ledgers, not from the label files.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from normalise.categories import classify_categories
from normalise.categories.measure import gold_by_council, gold_split_half, half_of
from normalise.categories.tokens import expand, expand_token


@pytest.mark.parametrize(
    "raw,expanded",
    [
        ("hsg mgmt contrib", "housing management contribution"),  # vowels dropped, short form
        ("housing manageme", "housing management"),  # truncated by a field width
        ("edn psychology", "education psychology"),
        ("maint of grnds", "maintenance of grounds"),
        ("payments to h a", "payments to health authority"),  # phrase
        ("r and m buildings", "repairs and maintenance buildings"),
        ("sen transport", "special educational needs transport"),
        ("alloc of costs", "allocation of costs"),  # a plain word is not mangled
    ],
)
def test_expand(raw: str, expanded: str) -> None:
    assert expand(raw) == expanded


def test_ambiguous_prefix_is_left_alone() -> None:
    assert expand_token("con") == ("con", "kept")  # contract? consultancy? concession?
    assert expand_token("rest") == ("rest", "kept")


def _one(value: str, **context: str) -> pd.Series:
    return classify_categories(pd.DataFrame([{"kind": "expense_type", "value": value, **context}])).iloc[0]


def test_expanded_answers_carry_lower_confidence_and_evidence() -> None:
    row = _one("Pymnts to H A")
    assert row["label"] == "third_party_payments" and row["rule"].startswith("expanded:")
    assert row["confidence"] < 0.9 and "health authority" in row["evidence"]


@pytest.mark.parametrize(
    "value",
    [
        "Contract Payments",
        "Concession Payments",
        "Block Contract",
        "Other agencies",
        "Agency and Contracted",
        "Strategic Partnership Payments",
        "PFI Unitary Charge",
    ],
)
def test_big_vague_contract_accounts_are_third_party(value: str) -> None:
    assert _one(value)["label"] == "third_party_payments"


def test_capital_column_decides_capital() -> None:
    row = _one("Building Works", capital_revenue="Capital")
    assert row["label"] == "capital" and row["rule"] == "context:capital_revenue"
    assert _one("Building Works", capital_revenue="Revenue")["label"] == "premises"
    assert _one("Income - Fees", capital_revenue="C")["label"] == "income", (
        "a capital flag does not turn income into spend"
    )


def test_group_column_decides_a_vague_account() -> None:
    row = _one("Sundries", group="Third Party Payments")
    assert row["label"] == "third_party_payments" and row["rule"].startswith("context:group:")
    assert _one("Stationery", group="Third Party Payments")["label"] == "supplies_services", (
        "a clear account wins"
    )


def test_description_decides_when_there_is_no_account() -> None:
    row = _one("", context="Residential care placement - May")
    assert row["label"] == "third_party_payments" and row["rule"].startswith("context:context:")
    assert row["confidence"] < 0.85


def test_payee_name_and_sector_under_a_vague_account() -> None:
    assert _one("Services", payee_name="Sunny Meadows Care Ltd")["rule"] == "context:payee_name"
    row = _one("Other payments", payee_sector="third_sector")
    assert row["label"] == "third_party_payments" and row["confidence"] <= 0.55
    assert _one("Stationery", payee_sector="third_sector")["label"] == "supplies_services"


def test_service_prior_is_the_last_resort() -> None:
    row = _one("", service="Adult Social Care")
    assert row["label"] == "third_party_payments" and row["rule"] == "context:service_prior:adult_social_care"
    assert row["confidence"] <= 0.4
    assert _one("", service="Libraries")["label"] == "unknown"


def test_transfer_kind_and_group_from_context() -> None:
    row = _one("Payments", service="Collection Fund", payee_sector="public")
    assert (
        row["transfer_kind"] == "precept"
        and row["label"] == "financing"
        and row["rule"] == "transfer:precept"
    )
    levy = _one("Passenger Transport Levy", payee_sector="public")
    assert levy["transfer_kind"] == "levy" and levy["label"] == "financing"
    assert _one("Stationery")["transfer_kind"] is None


def test_split_is_fixed_and_both_halves_used() -> None:
    assert half_of("Somewhere") == half_of(" somewhere ")
    assert {half_of(c) for c in ("a", "b", "c", "d", "e", "f", "g", "h")} == {"A", "B"}


def test_measures_per_council_and_split_half(shared: Path) -> None:
    gold = shared / "data" / "labels"
    per = gold_by_council(gold)
    assert {"kind", "council", "half", "n", "accuracy", "accuracy_gbp", "unknown"} <= set(per.columns)
    split = gold_split_half(gold)
    for kind in ("expense_type", "service_area"):
        for half in ("A", "B", "ALL"):
            row = split[(split["kind"] == kind) & (split["half"] == half)].iloc[0]
            assert row["accuracy"] >= 0.97 and row["accuracy_gbp"] >= 0.97, (kind, half)
