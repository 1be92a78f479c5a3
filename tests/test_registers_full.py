"""The fuller registers in ../shared/data/registers/full: recognised by header, loaded, mapped to sectors;
and the bundled reference register used when no registers database is given."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from normalise.suppliers import classify_suppliers
from normalise.suppliers.registers import detect_kind, load_register

FULL = {
    "cabinet_office_public_bodies_directory_2023_24.data.derived.csv": "public_bodies",
    "ons_pscg_2017-06_local_government.derived.csv": "public_bodies",
    "ons_pscg_2017-06_central_government.derived.csv": "public_bodies",
    "ons_pscg_2017-06_public_nonfinancial_corporations.derived.csv": "public_bodies",
    "govuk_government_organisation_register_2020-09.csv": "public_bodies",
    "dluhc_odc_localgov.csv": "public_bodies",
    "digital_land_organisation_2023-11.csv": "public_bodies",
    "police_forces_2018.tsv": "public_bodies",
    "rsh_registered_providers_2023.derived.csv": "social_housing",
    "rsh_registered_providers_2017-05-08.tsv": "social_housing",
    "ons_icb_names_codes_dec_2024.csv": "nhs_icb",
    "nhs_ods_etr_2025.csv": "nhs_ods",
    "nhs_ods_eccg_2025.csv": "nhs_ods",
    "ukcat_charities_top2000.csv": "charities",
    "ccew_register_of_mergers.csv": "charities",
    "charity_federations_parent.csv": "charities",
    "ukcat_cics_icnptso.csv": "cics",
}


@pytest.mark.parametrize(("name", "kind"), sorted(FULL.items()))
def test_each_full_register_is_recognised_and_loads(
    shared: Path, tmp_path: Path, name: str, kind: str
) -> None:
    path = shared / "data" / "registers" / "full" / name
    assert detect_kind(path) == kind
    db = tmp_path / "r.db"
    assert load_register(kind, path, db) > 20
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM organisations").fetchone()[0] > 20


def sectors(names: list[str], **kwargs) -> list[str]:
    return classify_suppliers(pd.DataFrame({"supplier_name": names}), **kwargs)["sector"].tolist()


def test_reference_register_knows_public_bodies_and_housing_without_a_database() -> None:
    names = [
        "NHS Cheshire and Merseyside Integrated Care Board",
        "Avon and Somerset Constabulary",
        "Environment Agency",
        "Peak District National Park Authority",
        "Northwards Housing Ltd",
    ]
    assert sectors(names) == ["public", "public", "public", "public", "council_company"]


def test_registered_society_housing_provider_without_a_housing_word_is_a_mutual() -> None:
    # policy (docs/suppliers.md): RSH + registered society + no housing word → mutual
    out = classify_suppliers(pd.DataFrame({"supplier_name": ["Creative Support Ltd"]})).iloc[0]
    assert out["sector"] == "mutual" and "registered_housing_provider" in out["subsector"]


def test_reference_can_be_switched_off() -> None:
    assert sectors(["Northwards Housing Ltd"], use_reference=False) == ["private"]


def test_no_overrides_flag_is_honoured(tmp_path: Path) -> None:
    df = pd.DataFrame({"supplier_name": ["Acme Widgets Ltd"]})
    assert classify_suppliers(df, use_overrides=False)["sector"].tolist() == ["private"]
