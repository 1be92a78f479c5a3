"""Entity resolution: known variants collapse to one id; known different entities never merge."""

from __future__ import annotations

import collections
from pathlib import Path

import pandas as pd
import pytest

from normalise.suppliers import classify_suppliers
from normalise.suppliers.keys import company_number, council_key, match_key, split_trading_as, vat_number
from normalise.suppliers.resolve import initialism_pairs, resolve, tokens_compatible

SAME = [
    ["VEOLIA ES (UK) LTD", "Veolia ES (UK) Limited", "veolia es uk ltd", "The Veolia E.S. (UK) Ltd"],
    ["Bunzl UK Ltd T/A Greenham", "BUNZL UK LIMITED", "Bunzl UK Ltd trading as Greenham Trade"],
    [
        "Morgan Sindall Construction & Infrastructure Ltd",
        "MORGAN SINDALL CONSTRUCTION AND INFRASTRUCTURE LIMITED",
    ],
    ["Creative Support Ltd", "Creative Suport Ltd", "CREATIVE SUPPORT LIMITED"],
    ["Greenwich Leisure Ltd", "Greenwhich Leisure Limited"],
    ["Children's Society", "Childrens Society", "The Children’s Society"],
    ["B & Q (205037)", "B&Q", "B and Q plc"],
]
DIFFERENT = [
    ["Age UK Camden", "Age UK Barnet", "Age UK"],
    ["Mind in Camden", "Mind in Barnet"],
    ["Acme Cleaning (North) Ltd", "Acme Cleaning (South) Ltd"],
    ["Unit 1 Services Ltd", "Unit 2 Services Ltd"],
    ["Sunrise Healthcare NHS Trust", "Sunrise Healthcare Trust"],
    ["Leeds Teaching Hospitals NHS Trust", "Leeds Hospitals Charity Trust"],
    ["Kent County Council", "Kent County Services Ltd"],
]


def _ids(names: list[str], **cols) -> list[str]:
    df = pd.DataFrame({"supplier_name": names, **cols})
    # name-based resolution alone: the bundled register would give some of these names real org-ids
    return classify_suppliers(df, use_reference=False)["supplier_id"].tolist()


@pytest.mark.parametrize("variants", SAME, ids=lambda v: v[0])
def test_variants_share_one_id(variants: list[str]) -> None:
    assert len(set(_ids(variants))) == 1


@pytest.mark.parametrize("names", DIFFERENT, ids=lambda v: v[0])
def test_different_entities_keep_their_own_ids(names: list[str]) -> None:
    assert len(set(_ids(names))) == len(names)


def test_ids_are_stable_across_runs_order_and_councils() -> None:
    names = [n for group in SAME + DIFFERENT for n in group]
    first = dict(zip(names, _ids(names), strict=True))
    shuffled = list(reversed(names))
    again = dict(zip(shuffled, _ids(shuffled, council=["E08000035"] * len(shuffled)), strict=True))
    assert first == again
    assert all(i.startswith("CS-") for i in first.values())


def test_identifiers_join_names_that_do_not_look_alike() -> None:
    ids = _ids(["Veolia ES (UK) Ltd", "Onyx Environmental"], supplier_company_number=["2215767", "02215767"])
    assert ids == ["GB-COH-02215767", "GB-COH-02215767"]
    ids = _ids(["Acme Cleaning Ltd", "Sparkle Windows"], supplier_vat_number=["GB 123 4567 89", "123456789"])
    assert ids[0] == ids[1]
    # the same name under two charity numbers is two entities
    ids = _ids(["Age UK", "Age UK"], supplier_charity_number=["1128267", "1000000"])
    assert ids == ["GB-CHC-1128267", "GB-CHC-1000000"]


def test_keys() -> None:
    assert match_key("The Foo Bar & Baz (South) Ltd T/A Bar Foo") == "foo bar and baz south"
    assert match_key("Smiths Equipment Hire Ltd#2") == "smiths equipment hire"
    assert split_trading_as("A E Bussy trading as AHSL Care at Home.") == ("A E Bussy", "AHSL Care at Home.")
    assert (
        council_key("London Borough of Camden") == council_key("Camden Council") == council_key("LB Camden")
    )
    assert council_key("PLYMOUTH CITY COUNCIL (RADIUS ACCOUNT") == "plymouth"
    assert company_number("445790") == "00445790" and company_number("sc 416208") == "SC416208"
    assert company_number("not a number") is None
    assert vat_number("GB123456789") == "123456789" and vat_number("12345") is None
    assert not tokens_compatible("age uk camden", "age uk barnet")
    assert tokens_compatible("creative suport", "creative support")


def test_real_bolton_matches(shared: Path) -> None:
    """Bolton 2019 payees matched to company numbers by hand: few merges across companies."""
    b = pd.read_csv(
        shared / "data" / "reference" / "gmca_bolton_2019_nwod_enriched.csv", dtype=str, keep_default_na=False
    )
    b = b[b["company_number"].str.strip() != ""].drop_duplicates("beneficiary_name")
    ids, _ = resolve([match_key(n) for n in b["beneficiary_name"]])
    companies = collections.defaultdict(set)
    for entity, number in zip(ids, b["company_number"].str.strip(), strict=True):
        companies[entity].add(number)
    mixed = sum(1 for numbers in companies.values() if len(numbers) > 1)
    assert mixed <= 0.01 * len(companies)
    assert len(companies) <= 1.1 * b["company_number"].nunique()  # variants collapse


def test_initialisms_join_issue_5_veolia_variants() -> None:
    names = [
        "VEOLIA ES (UK) LTD",
        "Veolia ES (UK) Limited",
        "Veolia Environmental Services",
        "VEOLIA ENVIRONMENTAL SERVICES (UK) PLC",
    ]
    assert len(set(_ids(names))) == 1
    assert len(set(_ids(["Acme GBS Ltd", "ACME GLOBAL BUSINESS SERVICES LIMITED"]))) == 1


INITIALISM_DIFFERENT = [
    ["ABC Ltd", "Alpha Beta Care Ltd"],  # the short word leads: nothing shared to vouch for it
    ["Acme FM (North) Ltd", "Acme Facilities Management (South) Ltd"],  # place words differ
    ["Acme Car Hire Ltd", "Acme Commercial Auto Repairs Hire Ltd"],  # "car" is a word, not initials
    ["Mind in Camden", "Mind International Network Camden"],
    ["North ES Ltd", "North Environmental Services Ltd"],  # a place word alone does not name anyone
    ["Sunrise HT Ltd", "Sunrise Healthcare Trust"],  # "trust" never stands in a run of initials
    ["Acme ES 2 Ltd", "Acme Environmental Services 3 Ltd"],
]


@pytest.mark.parametrize("names", INITIALISM_DIFFERENT, ids=lambda v: v[0])
def test_initialisms_do_not_merge_different_entities(names: list[str]) -> None:
    assert len(set(_ids(names))) == len(names)


def test_initialisms_respect_org_ids() -> None:
    ids = _ids(
        ["Veolia ES (UK) Ltd", "Veolia Environmental Services"],
        supplier_company_number=["02215767", "01234567"],
    )
    assert ids == ["GB-COH-02215767", "GB-COH-01234567"]


def test_initialism_pairs_on_keys() -> None:
    keys = [
        "veolia es uk",
        "veolia environmental services",
        "age uk camden",
        "age uk barnet",
        "abc",
        "alpha beta care",
        "acme it",
        "acme information technology",
    ]
    assert initialism_pairs(keys) == [(0, 1), (6, 7)]
