"""Brand matches: "<Brand> Services/Trust/UK" for a registered charity or council company "<Brand>"."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from normalise.suppliers import classify_suppliers
from normalise.suppliers.brands import brand_of, variants
from normalise.suppliers.registers import load_register
from normalise.suppliers.rulebook import load_rules

UKCAT = ["org_id", "reg_number", "name", "postcode", "active", "date_registered", "activities", "objects"]


@pytest.fixture
def charity_db(tmp_path: Path) -> Path:
    src = tmp_path / "ukcat_charities_sample.csv"
    with open(src, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([*UKCAT, "source", "income", "spending", "fye", "Batch ID", "web", "company_number"])
        w.writerow(
            [
                "GB-CHC-1999999",
                "1999999",
                "ZORBLEWICK OUTREACH",
                "",
                "True",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
            ]
        )
    db = tmp_path / "reg.db"
    load_register("charities", src, db)
    return db


@pytest.mark.parametrize(
    "payee", ["Zorblewick Outreach Services", "ZORBLEWICK OUTREACH TRUST", "Zorblewick Outreach UK"]
)
def test_brand_plus_generic_word_matches_a_registered_charity(charity_db: Path, payee: str) -> None:
    row = classify_suppliers(pd.DataFrame({"supplier_name": [payee]}), charity_db, use_reference=False).iloc[
        0
    ]
    assert row["sector"] == "third_sector", row["evidence"]
    assert "brand match" in row["evidence"] and row["confidence"] <= 0.6
    assert row["supplier_id"] == "GB-CHC-1999999"


@pytest.mark.parametrize(
    "payee", ["Zorblewick Outreach Builders", "Zorblewick Services", "Outreach Services"]
)
def test_other_words_or_part_of_a_brand_do_not_match(charity_db: Path, payee: str) -> None:
    row = classify_suppliers(pd.DataFrame({"supplier_name": [payee]}), charity_db, use_reference=False).iloc[
        0
    ]
    assert "brand match" not in row["evidence"]


def test_brand_needs_distinctive_words() -> None:
    rules = load_rules()
    assert brand_of("zorblewick outreach services", rules) == "zorblewick outreach"
    assert brand_of("care services", rules) is None  # a business word alone
    assert brand_of("jenny trust", rules) is None  # a forename alone
    assert brand_of("abc services", rules) is None  # one short word
    assert variants("zorblewick outreach", rules) == []  # never "<Brand>" -> "<Brand> Foundation"


def test_brand_of_a_listed_council_company(tmp_path: Path) -> None:
    extra = tmp_path / "companies.csv"
    extra.write_text("name,council_id\nZorblewick Ventures Ltd,E08000001\n", encoding="utf-8")
    out = classify_suppliers(
        pd.DataFrame({"supplier_name": ["Zorblewick Ventures Services", "Zorblewick Ventures Limited"]}),
        council_companies=[extra],
    )
    assert out["sector"].tolist() == ["council_company", "council_company"]
    assert "brand match" in out["evidence"][0] and out["confidence"][0] <= 0.6
    assert out["confidence"][1] == 0.97
