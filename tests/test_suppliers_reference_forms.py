"""Public bodies written short resolve through the bundled register's derived name forms."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from normalise.suppliers import classify_suppliers
from normalise.suppliers.reference.forms import add_name_forms, derived_keys, initials, load_forms
from normalise.suppliers.registers import SCHEMA


def classify(names: list[str], council: str = "somewhere") -> pd.DataFrame:
    return classify_suppliers(pd.DataFrame({"supplier_name": names, "council": council}))


@pytest.mark.parametrize(
    "name,subsector",
    [
        ("Leeds Teaching Hospitals", "nhs"),
        ("Mid Yorkshire Hospitals NH", "nhs"),  # cut at the column width
        ("LANCASHIRE TEACHING HOSPITALS FT", "nhs"),
        ("Harrogate and District", "nhs"),
        ("West Yorkshire Passenger Transport", "transport_authority"),
        ("South Yorkshire PTE", "transport_authority"),
        ("Peak District National Park", "national_park"),
    ],
)
def test_short_forms_are_public(name: str, subsector: str) -> None:
    row = classify([name]).iloc[0]
    assert (row["sector"], row["subsector"]) == ("public", subsector), row["evidence"]
    assert row["evidence"].startswith("register")


def test_short_form_must_still_say_health_or_be_long() -> None:
    """ "Pennine Care" (from "Pennine Care NHS Foundation Trust") could as well be a home-care firm."""
    assert classify(["Pennine Care"]).iloc[0]["sector"] != "public"


def test_forms_drop_collisions_and_council_places() -> None:
    forms = load_forms()
    trust = next(f for f in forms if f["id"] == "nhs_trust")
    assert "leeds teaching hospitals nh" in derived_keys("leeds teaching hospitals nhs trust", trust)
    assert initials("tyne and wear") == "tw"
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)
    rows = [
        ("alpha hospitals nhs trust", "GB-NHS-A", "nhs_ods", "name"),
        ("alpha hospitals nhs foundation trust", "GB-NHS-B", "nhs_ods", "name"),  # two bodies, one short form
        ("beta hospitals nhs trust", "GB-NHS-C", "nhs_ods", "name"),
        ("beta hospitals", "GB-CHC-1", "charities", "name"),  # already another organisation's name
        ("gamma hospitals nhs trust", "GB-NHS-D", "nhs_ods", "name"),
    ]
    conn.executemany("INSERT INTO names VALUES (?, ?, ?, ?)", rows)
    add_name_forms(conn, [f for f in forms if f["id"].startswith("nhs_trust")])
    short = {k: o for k, o in conn.execute("SELECT key, org_id FROM names WHERE name_type = 'short'")}
    assert "alpha hospitals" not in short and "beta hospitals" not in short
    assert short["gamma hospitals"] == "GB-NHS-D" and short["beta hospitals nh"] == "GB-NHS-C"


def test_nexus_override_only_for_tyne_and_wear() -> None:
    assert classify(["NEXUS"], "newcastle-upon-tyne").iloc[0]["sector"] == "public"
    assert classify(["NEXUS"], "devon").iloc[0]["sector"] == "private"
    without = classify_suppliers(
        pd.DataFrame({"supplier_name": ["NEXUS"], "council": ["newcastle-upon-tyne"]}), use_overrides=False
    )
    assert without.iloc[0]["sector"] == "private"
