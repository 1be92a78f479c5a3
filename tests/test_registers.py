"""Register loaders: every real-format sample in ../shared/data/registers loads and answers look-ups."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from normalise.suppliers.register_files import RegisterFormatError
from normalise.suppliers.registers import delete_register, detect_kind, load_register

SAMPLES = {
    "ch_BasicCompanyData-2020-06-01-sample.csv": ("companies_house", 87),
    "ccew_publicextract.charity.sample.txt": ("charity_commission", 572),
    "ccew_publicextract.charity_other_names.sample.txt": ("charity_commission", 222),
    "ccni_charitydetails.sample.csv": ("ccni", 365),
    "mpr_mutual-companies.csv": ("fca_mutuals", 12252),
    "nhs_ods_etr_2021.csv": ("nhs_ods", 241),
    "uk_local_authorities_future.csv": ("local_authorities", 470),
    "la_lookup_name_to_registry.csv": ("local_authorities", 1750),
    "la_lookup_gss_to_registry.csv": ("local_authorities", 483),
    "academy-trusts-company-number.csv": ("academy_trusts", 3478),
    "rsp_social-housing-providers.csv": ("social_housing", 1844),
    "charity-company-numbers.csv": ("charity_company_numbers", 4399),
}


@pytest.fixture(scope="module")
def loaded(shared: Path, tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("reg") / "registers.db"
    for name, (kind, _) in SAMPLES.items():
        load_register(kind, shared / "data" / "registers" / name, db)
    return db


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_sample_loads_with_its_row_count(shared: Path, tmp_path: Path, name: str) -> None:
    kind, rows = SAMPLES[name]
    path = shared / "data" / "registers" / name
    assert detect_kind(path) == kind
    n = load_register(kind, path, tmp_path / "r.db")
    assert n >= rows - 1  # the CH sample has one row without a valid number
    with sqlite3.connect(tmp_path / "r.db") as conn:
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"names_key", "organisations_company_number"} <= indexes


def _one(db: Path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def test_lookups_after_loading_everything(loaded: Path) -> None:
    cat = _one(loaded, "SELECT category FROM organisations WHERE org_id='GB-COH-11990344'")
    assert cat == [("Private Limited Company",)]
    # local authorities by council key, including acronyms of combined authorities and GSS codes
    assert _one(loaded, "SELECT DISTINCT org_id FROM names WHERE key='camden'") == [("GB-LAE-CMD",)]
    assert ("GB-LAE-GMCA",) in _one(loaded, "SELECT org_id FROM names WHERE key='gmca'")
    assert _one(
        loaded, "SELECT org_id FROM organisations WHERE register='local_authorities_gss' AND code='E09000007'"
    ) == [("GB-LAE-CMD",)]
    # NHS names also indexed without "NHS"/"Foundation"
    assert _one(loaded, "SELECT org_id FROM names WHERE key='worcestershire health and care trust'")
    # mutual society and its Companies House number; housing provider by company number
    assert _one(loaded, "SELECT company_number FROM organisations WHERE org_id='GB-MPR-27440R'") == [
        ("IP27440R",)
    ]
    assert _one(
        loaded,
        "SELECT org_id FROM organisations WHERE register='social_housing' AND company_number='IP17186R'",
    ) == [("GB-SHPE-LH0250",)]
    # CCNI file is cp1252: names decode
    assert _one(
        loaded, "SELECT name FROM organisations WHERE org_id='GB-NIC-100002' AND register='ccni'"
    ) == [("Cancer Lifeline",)]


def test_replace_deletes_a_kinds_rows(shared: Path, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    path = shared / "data" / "registers" / "nhs_ods_etr_2021.csv"
    load_register("nhs_ods", path, db)
    delete_register("nhs_ods", db)
    load_register("nhs_ods", path, db)
    assert _one(db, "SELECT count(*) FROM organisations WHERE register='nhs_ods'") == [(241,)]


def test_wrong_file_for_kind_names_the_file_and_column(shared: Path, tmp_path: Path) -> None:
    path = shared / "data" / "registers" / "academy-trusts-company-number.csv"
    with pytest.raises(RegisterFormatError, match="academy-trusts-company-number.csv.*CompanyName"):
        load_register("companies_house", path, tmp_path / "r.db")
    with pytest.raises(ValueError, match="unknown register kind"):
        load_register("nope", path, tmp_path / "r.db")


def test_streams_a_large_generated_companies_file(tmp_path: Path) -> None:
    """More rows than one chunk, with the leading-space header of the real file."""
    src = tmp_path / "ch.csv"
    from normalise.suppliers.registers import CHUNK

    n = CHUNK + 1234
    with open(src, "w", encoding="utf-8") as fh:
        fh.write("CompanyName, CompanyNumber,CompanyCategory,CompanyStatus\n")
        for i in range(n):
            fh.write(f'"COMPANY {i} LIMITED","{i + 1:08d}","Private Limited Company","Active"\n')
    assert load_register("companies_house", src, tmp_path / "r.db") == n
    assert _one(tmp_path / "r.db", "SELECT org_id FROM names WHERE key='company 77'") == [
        ("GB-COH-00000078",)
    ]
