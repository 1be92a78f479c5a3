"""Transfers and pass-throughs (normalise/categories/transfers.py, rules/transfers.yml).

Values are written from general knowledge of council ledgers, not from the label files.
"""

from __future__ import annotations

import pandas as pd
import pytest

from normalise.categories.transfers import kind_group, kind_ids, transfer_kind, transfer_kinds

# One example per kind, by expense words alone.
BY_EXPENSE = {
    "hmrc_paye_ni": "Employers NI",
    "vat": "VAT",
    "pension_deficit": "Pension Fund Deficit Recovery",
    "pension_contribution": "Employers Superannuation",
    "payroll_deduction": "Attachment of Earnings",
    "nndr_central_share": "NNDR Central Share",
    "business_rates_tariff_topup": "Business Rates Tariff",
    "precept": "Parish Precepts",
    "levy": "Environment Agency Flood Defence Levy",
    "housing_benefit": "Rent Allowances",
    "grant_passthrough": "Small Business Grants",
    "debt_financing": "PWLB Loan Repayments",
}


@pytest.mark.parametrize("kind,expense", sorted(BY_EXPENSE.items()))
def test_each_kind_by_expense(kind: str, expense: str) -> None:
    got = transfer_kind(expense)
    assert got is not None and got[0] == kind, got
    assert got[1].startswith("expense '"), "evidence names the column and the words"


def test_every_kind_in_the_file_has_an_example() -> None:
    assert set(kind_ids()) - {"other_transfer", "inter_authority_recharge"} == set(BY_EXPENSE)
    assert kind_group("levy") == "financing" and kind_group("other_transfer") == "unknown"


def test_abbreviated_expense_is_expanded() -> None:
    assert transfer_kind("Empl'rs Supn")[0] == "pension_contribution"
    assert transfer_kind("Ctax Preceptr Pymnts")[0] == "precept"


def test_inter_authority_recharge_needs_a_public_payee() -> None:
    assert transfer_kind("Recharges") is None
    assert transfer_kind("Recharges", payee_sector="private") is None
    kind, evidence = transfer_kind("Recharges", payee_sector="public")
    assert kind == "inter_authority_recharge" and "payee sector public" in evidence


def test_payee_name_decides_when_the_expense_does_not() -> None:
    assert transfer_kind("Miscellaneous", payee_name="HM Revenue & Customs")[0] == "hmrc_paye_ni"
    assert transfer_kind("", payee_name="County Pension Fund")[0] == "pension_contribution"
    assert transfer_kind("Other payments", payee_name="Waste Disposal Authority (Levy)")[0] == "levy"


def test_expense_beats_payee() -> None:
    # superannuation paid via HMRC-named batch is still a pension contribution
    assert transfer_kind("Teachers Superannuation", payee_name="HMRC")[0] == "pension_contribution"


def test_service_decides_only_with_a_public_payee() -> None:
    assert transfer_kind("Payments", service_text="Collection Fund", payee_sector="private") is None
    kind, evidence = transfer_kind("Payments", service_text="Collection Fund", payee_sector="public")
    assert kind == "precept" and evidence.startswith("service")


def test_transfer_sector_alone_is_other_transfer() -> None:
    assert transfer_kind("Payments", payee_sector="transfer") == ("other_transfer", "payee sector transfer")


def test_services_are_not_transfers() -> None:
    for expense in ("Residential Care", "Stationery", "Electricity", "Private Contractors", "Agency Staff"):
        assert transfer_kind(expense, payee_sector="private") is None, expense


def test_vectorised_form_over_a_frame() -> None:
    df = pd.DataFrame(
        {
            "expense_type": ["Passenger Transport Levy", "Stationery", "Recharges", None],
            "supplier_name": ["Transport Authority", "Office Ltd", "Next Door Council", "HMRC"],
            "sector": ["public", "private", "public", "transfer"],
        },
        index=[5, 6, 7, 8],
    )
    out = transfer_kinds(df, expense="expense_type", payee_name="supplier_name", payee_sector="sector")
    assert list(out.index) == [5, 6, 7, 8]
    assert list(out["transfer_kind"]) == ["levy", None, "inter_authority_recharge", "hmrc_paye_ni"]
    assert out.loc[6, "transfer_evidence"] == ""
    with pytest.raises(ValueError, match="expense column"):
        transfer_kinds(df)
