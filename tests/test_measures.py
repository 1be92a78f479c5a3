"""M1/M2/M3 (publish/build/measures.py) on a hand-built payments frame; expected values worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from publish.build.measures import SECTORS, compute, financial_year

# sector, sercop_group, sercop_division, amount_pence, is_redacted, is_card, payment_date
ROWS = [
    ("private", "third_party_payments", "adult_social_care", 10_000, False, False, "2023-04-03"),  # external
    (
        "third_sector",
        "third_party_payments",
        "childrens_social_care",
        5_000,
        False,
        False,
        "2023-05-02",
    ),  # external
    (
        "public",
        "third_party_payments",
        "central_services",
        3_000,
        False,
        False,
        "2023-06-01",
    ),  # shared service
    ("public", "financing", "other", 7_000, False, False, "2023-07-01"),  # levy: pass-through
    ("council_company", "third_party_payments", "housing", 2_000, False, False, "2023-08-01"),  # external
    ("private", "supplies_services", "central_services", 4_000, False, False, "2023-09-01"),  # bought goods
    ("transfer", "transfer_payments", "other", 6_000, False, False, "2023-10-01"),  # transfer
    (
        "unknown",
        "third_party_payments",
        "adult_social_care",
        1_500,
        False,
        False,
        "2023-11-01",
    ),  # unknown sector
    ("private", "unknown", "education", 2_500, False, False, "2023-12-01"),  # unknown group
    ("redacted", "third_party_payments", "adult_social_care", 800, True, False, "2024-01-02"),  # redacted
    ("individual", "supplies_services", "cultural", 600, False, False, "2024-01-03"),
    ("mutual", "third_party_payments", "cultural", -200, False, False, "2024-01-04"),  # credit note, external
    (
        "private",
        "third_party_payments",
        "adult_social_care",
        1_000,
        False,
        True,
        "2024-01-05",
    ),  # card, external
    ("transfer", "unknown", "unknown", 300, False, False, "2024-01-06"),  # transfer wins over unknown group
]
COUNCIL = "E08000001"


def payments() -> pd.DataFrame:
    df = pd.DataFrame(
        ROWS,
        columns=[
            "sector",
            "sercop_group",
            "sercop_division",
            "amount_pence",
            "is_redacted",
            "is_card",
            "payment_date",
        ],
    )
    df.insert(0, "council_id", COUNCIL)
    return df


def outturn() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "gss": [COUNCIL, COUNCIL, COUNCIL],
            "financial_year": ["2023-24", "2023-24", "2022-23"],
            "division": ["total", "adult_social_care", "total"],
            "total_service_expenditure_pence": [83_200, 44_000, 1],
            "release": ["RSX_2023-24.csv"] * 2 + ["RSX_2022-23.csv"],
        }
    )


@pytest.fixture(scope="module")
def result() -> dict[str, pd.DataFrame]:
    return compute(payments(), outturn())


def test_m1_m2_m3_by_hand(result: dict[str, pd.DataFrame]) -> None:
    cy = result["council_year_measures"]
    assert len(cy) == 1
    r = cy.iloc[0]
    assert (r["council_id"], r["financial_year"], r["rows"]) == (COUNCIL, "2023-24", 14)
    assert r["spend_pence"] == 43_500
    assert r["transfer_pence"] == 6_300
    assert r["unknown_pence"] == 4_000
    assert (r["unknown_sector_pence"], r["unknown_group_only_pence"]) == (1_500, 2_500)
    assert r["external_delivery_pence"] == 20_800  # 10000 + 5000 + 3000 + 2000 - 200 + 1000
    assert r["m2_denominator_pence"] == 33_200  # 43500 - 6300 - 4000
    assert r["not_external_pence"] == 12_400
    assert r["m2_share"] == 0.6265  # 20800 / 33200 = 0.62650...
    assert r["m3_denominator_pence"] == 83_200 and r["m3_release"] == "RSX_2023-24.csv"
    # 10 months held: M3 is annualised (20800 x 12 / 10 = 24960 over 83200); the raw share is kept
    assert r["m3_raw_share"] == 0.25 and r["m3_share"] == 0.3 and bool(r["m3_annualised"])
    assert r["coverage"] == "10 months (M3 annualised)" and bool(r["rankable"]) and not bool(r["card_only"])
    # broad comparator: all £ to outside payees (private, third sector, mutual, public, council company)
    assert r["external_payees_pence"] == 17_500 + 5_000 - 200 + 10_000 + 2_000
    assert r["external_payees_share_of_tse"] == round(34_300 / 83_200, 4)
    assert r["redacted_pence"] == 800 and r["card_pence"] == 1_000
    m1 = {s: r[f"m1_{s}_pence"] for s in SECTORS}
    assert m1 == {
        "private": 17_500,
        "third_sector": 5_000,
        "mutual": -200,
        "public": 10_000,
        "council_company": 2_000,
        "individual": 600,
        "redacted": 800,
        "transfer": 6_300,
        "unknown": 1_500,
    }
    assert sum(m1.values()) == r["spend_pence"]
    # M2's buckets partition spend
    assert (
        r["external_delivery_pence"] + r["not_external_pence"] + r["transfer_pence"] + r["unknown_pence"]
        == r["spend_pence"]
    )
    assert (
        r["external_private_pence"],
        r["external_third_sector_pence"],
        r["external_mutual_pence"],
        r["external_public_pence"],
        r["external_council_company_pence"],
    ) == (11_000, 5_000, -200, 3_000, 2_000)


def test_public_bodies_split_and_delivery_models(result: dict[str, pd.DataFrame]) -> None:
    r = result["council_year_measures"].iloc[0]
    assert r["public_shared_service_pence"] == 3_000
    assert r["public_precepts_levies_pensions_pence"] == 7_000
    assert r["public_other_pence"] == 0
    dm = result["council_year_delivery_models"].set_index("delivery_model")["amount_pence"].to_dict()
    assert dm == {
        "private_contractor": 11_000,
        "third_sector": 5_000,
        "mutual": -200,
        "shared_service_public_body": 3_000,
        "council_company": 2_000,
        "public_body_precepts_levies_pensions": 7_000,
    }


def test_division_measures(result: dict[str, pd.DataFrame]) -> None:
    cd = result["council_year_division_measures"].set_index("sercop_division")
    adult = cd.loc["adult_social_care"]
    assert (adult["spend_pence"], adult["unknown_pence"], adult["external_delivery_pence"]) == (
        13_300,
        1_500,
        11_000,
    )
    assert adult["m2_denominator_pence"] == 11_800
    assert adult["m2_share"] == 0.9322  # 11000 / 11800
    assert adult["m3_denominator_pence"] == 44_000 and adult["m3_raw_share"] == 0.25
    assert adult["m3_share"] == 0.3  # annualised like the council's year (10 months)
    assert pd.isna(cd.loc["education", "m3_share"]), "no outturn figure -> no M3, never a guessed one"
    # education's only row has an unknown group: denominator 0, so no share rather than 0%
    assert cd.loc["education", "m2_denominator_pence"] == 0 and pd.isna(cd.loc["education", "m2_share"])
    assert cd["spend_pence"].sum() == 43_500


def test_summary_sector_division(result: dict[str, pd.DataFrame]) -> None:
    s = result["summary_sector_division"]
    assert list(s.columns) == [
        "council_id",
        "financial_year",
        "sector",
        "sercop_division",
        "amount_pence",
        "rows",
    ]
    assert s["amount_pence"].sum() == 43_500 and s["rows"].sum() == 14
    row = s[(s["sector"] == "private") & (s["sercop_division"] == "adult_social_care")].iloc[0]
    assert (row["amount_pence"], row["rows"]) == (11_000, 2)
    assert str(s["amount_pence"].dtype) == "int64"


def test_months_and_completeness() -> None:
    res = compute(payments(), None)
    r = res["council_year_measures"].iloc[0]
    assert r["months_present"] == 10  # April 2023 .. January 2024
    assert not r["complete"]
    assert pd.isna(r["m3_share"]) and pd.isna(r["m3_denominator_pence"])

    full = payments().iloc[:12].copy()
    full["payment_date"] = [
        f"{y}-{m:02d}-15" for y, m in [(2023, m) for m in range(4, 13)] + [(2024, m) for m in range(1, 4)]
    ]
    stray = full.iloc[[0]].assign(payment_date="2024-04-01")  # April of the next year: its own year
    r = compute(pd.concat([full, stray]), None)["council_year_measures"].set_index("financial_year")
    assert r.loc["2023-24", "months_present"] == 12 and bool(r.loc["2023-24", "complete"])
    assert r.loc["2024-25", "months_present"] == 1 and not bool(r.loc["2024-25", "complete"])

    # a quarterly file with no day-level dates: coverage comes from the file, not the rows
    undated = payments().drop(columns="payment_date").assign(financial_year="2023-24")
    cov = pd.DataFrame({"council_id": [COUNCIL], "financial_year": ["2023-24"], "months_present": [12]})
    assert bool(compute(undated, None, coverage_months=cov)["council_year_measures"].iloc[0]["complete"])
    assert compute(undated, None)["council_year_measures"].iloc[0]["months_present"] == 0


def test_financial_year_boundaries() -> None:
    fy = financial_year(pd.Series(["2024-03-31", "2024-04-01", None, "2000-01-01"]))
    assert list(fy[[0, 1, 3]]) == ["2023-24", "2024-25", "1999-00"]
    assert pd.isna(fy[2])
    # period_start stands in when there is no payment date; rows with neither are kept as "unknown"
    df = payments().iloc[:2].drop(columns="payment_date").assign(period_start=["2022-07-01", None])
    cy = compute(df, None)["council_year_measures"]
    assert set(cy["financial_year"]) == {"2022-23", "unknown"}
    assert cy["spend_pence"].sum() == 15_000


def test_odd_sectors_count_as_unknown_and_bad_amounts_fail() -> None:
    df = payments().iloc[:1].assign(sector="a_new_sector")
    r = compute(df, None)["council_year_measures"].iloc[0]
    assert (
        r["m1_unknown_pence"] == 10_000 and r["unknown_pence"] == 10_000 and r["external_delivery_pence"] == 0
    )
    with pytest.raises(ValueError, match="row 0: amount_pence"):
        compute(payments().iloc[:1].assign(amount_pence="ten pounds"), None)
    with pytest.raises(ValueError, match="lack column"):
        compute(payments().drop(columns="sercop_group"), None)


def test_m3_is_not_given_for_a_partial_year_and_card_only_years_are_never_ranked() -> None:
    few = payments()
    few["payment_date"] = ["2023-04-03"] * 7 + ["2023-05-02"] * 7  # 2 months of payments
    r = compute(few, outturn())["council_year_measures"].iloc[0]
    assert r["months_present"] == 2 and r["coverage"] == "partial year (2 months)"
    assert pd.isna(r["m3_share"]) and r["m3_raw_share"] == 0.25, "a raw share is kept, never shown as M3"
    assert not bool(r["rankable"])
    card = payments().assign(is_card=True)
    r = compute(card, outturn())["council_year_measures"].iloc[0]
    assert bool(r["card_only"]) and not bool(r["rankable"]) and pd.isna(r["m3_share"])
    assert r["coverage"] == "card payments only (10 months)"


def test_a_transfer_by_expense_leaves_both_sides_of_m2() -> None:
    """A levy paid to a public body is a transfer (its expense has a transfer kind), not a shared
    service: out of M2's numerator and denominator, though its payee is not a transfer payee."""
    base = compute(payments(), None)["council_year_measures"].iloc[0]
    levy = payments()
    levy["transfer_kind"] = None
    levy.loc[2, "transfer_kind"] = "levy"  # public, third_party_payments: was a shared service
    r = compute(levy, None)["council_year_measures"].iloc[0]
    assert r["transfer_pence"] == base["transfer_pence"] + 3_000
    assert r["transfer_by_expense_pence"] == 3_000
    assert r["external_delivery_pence"] == base["external_delivery_pence"] - 3_000
    assert r["m2_denominator_pence"] == base["m2_denominator_pence"] - 3_000
    assert r["public_shared_service_pence"] == 0 and r["public_precepts_levies_pensions_pence"] == 10_000
