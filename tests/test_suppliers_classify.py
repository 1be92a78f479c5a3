"""The classification cascade: each step, its evidence, and the output contract."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from normalise.suppliers import SECTORS, classify_suppliers
from normalise.suppliers.registers import load_register
from normalise.suppliers.rulebook import load_overrides, load_rules

REG = "data/registers"


@pytest.fixture(scope="module")
def db(shared: Path, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cls") / "registers.db"
    for name, kind in [
        ("uk_local_authorities_future.csv", "local_authorities"),
        ("la_lookup_gss_to_registry.csv", "local_authorities"),
        ("nhs_ods_etr_2021.csv", "nhs_ods"),
        ("mpr_mutual-companies.csv", "fca_mutuals"),
        ("rsp_social-housing-providers.csv", "social_housing"),
        ("ch_BasicCompanyData-2020-06-01-sample.csv", "companies_house"),
        ("academy-trusts-company-number.csv", "academy_trusts"),
    ]:
        load_register(kind, shared / REG / name, path)
    return path


def one(name: str, db: Path | None = None, **cols) -> pd.Series:
    df = pd.DataFrame({"supplier_name": [name], **{k: [v] for k, v in cols.items()}})
    return classify_suppliers(df, db).iloc[0]


def test_output_contract_keeps_columns_rows_and_order() -> None:
    df = pd.DataFrame(
        {
            "supplier_name": ["Acme Ltd", "HMRC", "Acme Ltd", None],
            "amount": [1, 2, 3, 4],
            "council": ["E1", "E2", "E3", "E4"],
        }
    )
    out = classify_suppliers(df)
    assert list(out.columns[:3]) == ["supplier_name", "amount", "council"]
    assert list(out["amount"]) == [1, 2, 3, 4]
    assert set(out.columns) >= {
        "supplier_id",
        "canonical_name",
        "sector",
        "subsector",
        "confidence",
        "evidence",
    }
    assert set(out["sector"]) <= set(SECTORS)
    assert out["sector"].tolist()[:3] == ["private", "transfer", "private"]
    assert out["supplier_id"][0] == out["supplier_id"][2]
    assert classify_suppliers(df.iloc[:0]).empty
    with pytest.raises(ValueError, match="supplier_name"):
        classify_suppliers(pd.DataFrame({"name": ["x"]}))


@pytest.mark.parametrize(
    "name,sector",
    [
        ("Redacted", "redacted"),
        ("REDACTED - PERSONAL DATA", "redacted"),
        ("Name withheld", "redacted"),
        ("Mr J Bloggs", "individual"),
        ("Mrs A Example", "individual"),
        ("Jane Exampleton", "individual"),
        ("Foster Carer payment", "individual"),
        ("A Bloggs T/A Bloggs Plumbing", "private"),
        ("Jane Exampleton Dog Grooming", "private"),
        ("HM Revenue & Customs", "transfer"),
        ("West Midlands Pension Fund", "transfer"),
        ("Environment Agency Flood Defence Levy", "transfer"),
        ("Somewhere Borough Council", "public"),
        ("Anyshire County Council", "public"),
        ("Police and Crime Commissioner for Anyshire", "public"),
        ("Anyshire Fire and Rescue Service", "public"),
        ("Anytown Hospitals NHS Foundation Trust", "public"),
        ("Anytown Healthcare Trust", "public"),
        ("Anytown Primary School", "public"),
        ("Department for Education", "public"),
        ("Sunrise Community Interest Company", "mutual"),
        ("Sunrise CIC", "mutual"),
        ("Anytown Co-operative Society", "mutual"),
        ("Anytown Credit Union", "mutual"),
        ("Anytown Housing Association", "third_sector"),
        ("Anytown Hospice", "third_sector"),
        ("Friends of Anytown Park", "third_sector"),
        ("St Mary's Church", "third_sector"),
        ("Anytown Wildlife Trust", "third_sector"),
        ("Green Valley Trust", "unknown"),
        ("Acme Widgets Ltd", "private"),
        ("Acme Widgets GmbH", "private"),
        ("Smith & Sons", "private"),
        ("Anytown Dance Academy Ltd", "private"),
        ("Sunnyside Nursing Home", "unknown"),
    ],
)
def test_name_rules(name: str, sector: str) -> None:
    row = one(name)
    assert row["sector"] == sector, row["evidence"]
    assert row["evidence"]


def test_individuals_are_not_named_in_canonical_name() -> None:
    row = one("Mr J Bloggs")
    assert row["canonical_name"] == "Individual (name withheld)"
    assert "Bloggs" not in row["evidence"]


def test_identifiers_present_on_some_rows_only() -> None:
    df = pd.DataFrame(
        {
            "supplier_name": ["Some Charity", "Acme Ltd", "Acme Ltd"],
            "supplier_charity_number": ["1107583", None, ""],
            "supplier_company_number": [None, "445790", None],
        }
    )
    out = classify_suppliers(df)
    assert out["supplier_id"].tolist() == ["GB-CHC-1107583", "GB-COH-00445790", "GB-COH-00445790"]


def test_redaction_flag_from_the_normaliser_wins() -> None:
    row = one("Acme Ltd", is_redacted="true")
    assert (row["sector"], row["confidence"]) == ("redacted", 1.0)


def test_registers_decide_and_give_org_ids(db: Path) -> None:
    nhs = one("Worcestershire Health and Care Trust", db)  # ODS name without "NHS"
    assert (nhs["sector"], nhs["supplier_id"]) == ("public", "GB-NHS-R1A")
    ca = one("GMCA", db)
    assert (ca["sector"], ca["supplier_id"]) == ("public", "GB-LAE-GMCA")
    society = one("CREATIVE SUPPORT LTD", db)  # registered society that is also a housing provider
    assert society["sector"] == "mutual" and society["supplier_id"] == "GB-MPR-27440R"
    housing = one("Onward Homes", db)
    assert housing["sector"] == "third_sector" and "housing_association" in housing["subsector"]
    cic = one("Whatever Name", db, supplier_company_number="11501421")  # a CIC in the CH sample
    assert cic["sector"] == "mutual", cic["evidence"]
    assert cic["supplier_id"] == "GB-COH-11501421"
    charity = one("Some Charity Name", db, supplier_charity_number="1107583")
    assert (charity["sector"], charity["supplier_id"]) == ("third_sector", "GB-CHC-1107583")


def test_the_payer_itself_is_a_transfer(db: Path) -> None:
    assert one("London Borough of Camden", db, council="E09000007")["sector"] == "transfer"
    assert one("London Borough of Camden", db, council="E08000035")["sector"] == "public"
    assert one("Camden Council", None, council="camden")["sector"] == "transfer"
    assert one("Leeds City Council", None, council="E08000035")["sector"] == "transfer"


def test_council_companies(db: Path) -> None:
    listed = one("Essex Cares Ltd", db)  # seeded in council_companies.csv
    assert listed["sector"] == "council_company" and "council company list" in listed["evidence"]
    payer_named = one("Barnet Homes Ltd", None, council="barnet")
    assert payer_named["sector"] == "council_company"
    # another council's place name is no cue (Barnet Homes itself is in the bundled register)
    assert one("Barnet Trading Ltd", None, council="camden")["sector"] == "private"


def test_rules_and_overrides_files_are_valid(tmp_path: Path) -> None:
    cfg = load_rules()
    assert all(r.sector in SECTORS for r in cfg["rules"])
    bad = tmp_path / "overrides.csv"
    bad.write_text(
        "match_key,council,sector,subsector,org_id,note,source\nAcme Ltd,,privat,,,typo,http://x\n"
    )
    with pytest.raises(ValueError, match="overrides.csv: row 2: sector 'privat'"):
        load_overrides(bad)
    no_source = tmp_path / "no_source.csv"
    no_source.write_text("match_key,council,sector,subsector,org_id,note,source\nAcme Ltd,,private,,,x,\n")
    with pytest.raises(ValueError, match="row 2: no source"):
        load_overrides(no_source)
    old = tmp_path / "old.csv"
    old.write_text("match_key,council,sector,subsector,org_id,note\nAcme Ltd,,private,,,x\n")
    with pytest.raises(ValueError, match="missing column.*source"):
        load_overrides(old)
    good = tmp_path / "ok.csv"
    good.write_text(
        "match_key,council,sector,subsector,org_id,note,source\nThe ACME Limited,,council_company,latco,,x,http://x\n"
    )
    assert load_overrides(good)[("acme", "")].sector == "council_company"
    assert all(d.evidence.startswith("override") for d in load_overrides().values())


def test_cli_load_classify_and_accuracy(shared: Path, tmp_path: Path) -> None:
    from councilspend.cli import main

    runner = CliRunner()
    db = tmp_path / "r.db"
    res = runner.invoke(
        main, ["registers", "load", "nhs_ods", str(shared / REG / "nhs_ods_etr_2021.csv"), "--db", str(db)]
    )
    assert res.exit_code == 0, res.output
    assert "241" in res.output
    src = tmp_path / "in.csv"
    pd.DataFrame({"supplier_name": ["Solent NHS Trust", "Acme Ltd"], "amount": ["5", "6"]}).to_csv(
        src, index=False
    )
    res = runner.invoke(
        main,
        [
            "classify",
            "suppliers",
            "--in",
            str(src),
            "--out",
            str(tmp_path / "o.csv"),
            "--registers-db",
            str(db),
        ],
    )
    assert res.exit_code == 0, res.output
    out = pd.read_csv(tmp_path / "o.csv")
    assert out["supplier_id"][0] == "GB-NHS-R1C" and out["amount"].tolist() == [5, 6]
    res = runner.invoke(
        main,
        [
            "accuracy",
            "suppliers",
            "--gold",
            str(shared / "data/labels/suppliers_gold.csv"),
            "--registers-db",
            str(db),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "ALL" in res.output and "unknown share" in res.output
    res = runner.invoke(main, ["registers", "load", "--help"])
    assert "companies_house" in res.output


def test_expense_type_turns_a_levy_to_a_public_body_into_a_transfer() -> None:
    df = pd.DataFrame(
        {
            "supplier_name": ["Anyshire Combined Authority"] * 2 + ["Acme Ltd"],
            "expense_type": ["Transport Levy", "Consultancy", "Transport Levy"],
        }
    )
    assert classify_suppliers(df)["sector"].tolist() == ["transfer", "public", "private"]


def test_a_registers_db_without_registers_falls_back_to_rules(tmp_path: Path) -> None:
    import sqlite3

    empty = tmp_path / "outturn_only.db"
    with sqlite3.connect(empty) as conn:
        conn.execute("CREATE TABLE outturn (x)")
    assert one("Anyshire County Council", empty)["sector"] == "public"
    assert one("Anyshire County Council", tmp_path / "missing.db")["sector"] == "public"
