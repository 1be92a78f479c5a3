"""Every transfer path end to end: sample normaliser output -> classify step -> build -> the payments
table, council_year_transfers and M2's sides (demo/sample_site.py with payees of its own)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from demo.sample_site import COUNCILS, write_sample_normalised
from normalise.classes import classify_crawl
from publish.build.build import build_database

# (payee, company number, expense type, service area, £): one row per path, and services around them.
PAYEES = [
    ("Acme Care Services Ltd", "01234567", "Residential Care Placements", "Adult Social Care", 12_000.00),
    ("Office Supplies Direct Ltd", "05555555", "Stationery", "Corporate Services", 800.00),
    # by expense, whoever the payee: a levy paid to a transport body is a transfer, not a service
    ("Sampleshire Transport Authority", "", "Passenger Transport Levy", "Transport", 50_000.00),
    # by expense: housing benefit paid to a private landlord
    ("Northside Lettings Ltd", "07777777", "Housing Benefit Payments", "Housing Benefits", 900.00),
    # housing benefit to a payee no rule knows (a private landlord's name, sector only by default)
    ("Zhenyu Quarrington", "", "Housing Benefit Payments", "Housing Benefits", 650.00),
    # by payee name: HMRC under a vague account
    ("HM Revenue & Customs", "", "Payments", "Finance", 30_000.00),
    # employer's NI: an employee cost in SeRCOP, and a transfer (HMRC)
    ("HM Revenue & Customs", "", "Employer's National Insurance", "Finance", 20_000.00),
    # by payee name: a pension fund under a vague account
    ("Sampleshire Pension Fund", "", "Payments", "Finance", 25_000.00),
    # by service with a public payee: a payment from the collection fund to a police body is a precept
    ("Sampleshire Police and Crime Commissioner", "", "Payments", "Collection Fund", 40_000.00),
    # not a transfer: a shared service bought from another council stays a service
    ("Exampleton Borough Council", "", "Shared Service Recharge", "Revenues and Benefits", 5_000.00),
]
EXPECTED = {
    "Passenger Transport Levy": ("levy", "financing"),
    "Housing Benefit Payments": ("housing_benefit", "transfer_payments"),
    "Employer's National Insurance": ("hmrc_paye_ni", "employees"),
}


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("transfers")
    write_sample_normalised(root / "normalised", months=2, n_repeats=1, payees=PAYEES)
    classify_crawl(root / "normalised")
    return build_database(root, root / "councilspend.db", registry=COUNCILS, progress=False, downloads=False)


def _q(db: Path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def _kind(db: Path, supplier: str, expense: str) -> set[tuple]:
    return set(
        _q(
            db,
            "select transfer_kind, sercop_group from payments where supplier_name = ? and expense_type = ?",
            supplier,
            expense,
        )
    )


def test_transfer_by_expense_type_whoever_the_payee(db: Path) -> None:
    for name, _, expense, _, _ in PAYEES:
        if expense in EXPECTED and "Quarrington" not in name:  # that landlord is withheld (below)
            assert _kind(db, name, expense) == {EXPECTED[expense]}, (name, expense)


def test_transfer_by_payee_name(db: Path) -> None:
    assert {k for k, _ in _kind(db, "HM Revenue & Customs", "Payments")} == {"hmrc_paye_ni"}
    assert {k for k, _ in _kind(db, "Sampleshire Pension Fund", "Payments")} == {"pension_contribution"}


def test_transfer_by_service_with_a_public_payee(db: Path) -> None:
    (sector,) = {
        s for (s,) in _q(db, "select sector from payments where supplier_name like 'Sampleshire Police%'")
    }
    kinds = {k for k, _ in _kind(db, "Sampleshire Police and Crime Commissioner", "Payments")}
    if sector in ("public", "transfer"):
        assert kinds == {"precept"}
    else:  # the service decides only with a public payee
        pytest.skip(f"the supplier classifier called the police body {sector!r}")


def test_a_shared_service_is_not_a_transfer(db: Path) -> None:
    assert {k for k, _ in _kind(db, "Exampleton Borough Council", "Shared Service Recharge")} == {None}
    assert {k for k, _ in _kind(db, "Acme Care Services Ltd", "Residential Care Placements")} == {None}


def test_transfers_leave_both_sides_of_m2_and_are_listed(db: Path) -> None:
    rows = _q(
        db,
        """select council_id, financial_year, sum(amount_pence),
                            sum(case when transfer_kind is not null then amount_pence else 0 end)
                     from payments group by 1, 2""",
    )
    for council, year, spend, transfer in rows:
        m = _q(
            db,
            "select spend_pence, transfer_pence, unknown_pence, m2_denominator_pence, external_delivery_pence "
            "from council_year_measures where council_id = ? and financial_year = ?",
            council,
            year,
        )[0]
        assert m[0] == spend and m[1] == transfer and transfer > 0
        assert m[3] == spend - transfer - m[2]
        external = _q(
            db,
            "select coalesce(sum(amount_pence), 0) from payments where council_id = ? and "
            "financial_year = ? and transfer_kind is not null and sercop_group = 'third_party_payments' "
            "and sector in ('private', 'third_sector', 'mutual', 'public', 'council_company')",
            council,
            year,
        )[0][0]
        assert external == 0 or m[4] >= 0  # a transfer is never counted as external delivery
        listed = _q(
            db,
            "select sum(total_pence) from council_year_transfers where council_id = ? and financial_year = ?",
            council,
            year,
        )[0][0]
        assert listed == transfer
    kinds = {k for (k,) in _q(db, "select distinct transfer_kind from council_year_transfers")}
    assert {"levy", "housing_benefit", "hmrc_paye_ni", "pension_contribution"} <= kinds


def test_no_transfer_payment_is_external_delivery(db: Path) -> None:
    levy_pence = _q(db, "select sum(amount_pence) from payments where transfer_kind = 'levy'")[0][0]
    assert levy_pence > 0
    external = _q(db, "select sum(external_delivery_pence) from council_year_measures")[0][0]
    care = _q(
        db,
        "select sum(amount_pence) from payments where expense_type = 'Residential Care Placements' "
        "and sector in ('private', 'third_sector', 'mutual', 'public', 'council_company')",
    )[0][0]
    assert external == care  # only the care placements are external delivery here


def test_categories_carry_evidence_and_transfer_kind(db: Path) -> None:
    rows = _q(
        db,
        "select evidence, transfer_kind from categories where kind = 'expense_type' "
        "and value = 'Passenger Transport Levy'",
    )
    assert rows and all(e and k == "levy" for e, k in rows)


def test_a_landlord_known_to_no_rule_is_withheld_like_an_individual(db: Path) -> None:
    """Housing benefit to a payee whose sector rests only on the default: the name is not published
    anywhere (payments, suppliers, aliases, search); a landlord with a legal form still is."""
    assert _q(db, "select count(*) from payments where supplier_name like '%Quarrington%'") == [(0,)]
    assert _q(db, "select count(*) from suppliers where name like '%Quarrington%'") == [(0,)]
    assert _q(db, "select count(*) from supplier_aliases where alias like '%Quarrington%'") == [(0,)]
    assert _q(db, "select count(*) from payments_fts where payments_fts match 'Quarrington'") == [(0,)]
    withheld = _q(
        db,
        "select distinct sector, supplier_id from payments where expense_type = 'Housing Benefit Payments' "
        "and supplier_name = 'Individual (name withheld)'",
    )
    assert withheld == [("individual", "individual-withheld")]
    assert _kind(db, "Northside Lettings Ltd", "Housing Benefit Payments") == {
        ("housing_benefit", "transfer_payments")
    }
