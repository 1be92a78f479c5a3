"""M1/M2/M3 on the demo ledger equal the demo generator's ground truth (demo/truth.py).

The ledger rows carry their true sector, group and division, so this checks the measures and the
outturn loader (on the demo's RSX files) without the classifiers in between.
"""

from __future__ import annotations

import pandas as pd
import pytest

from normalise.categories.outturn import load_outturn, read_outturn
from publish.build.measures import SECTORS, compute


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict[str, pd.DataFrame]]:
    from demo.generator import generate, generate_payments
    from demo.truth import _rules, group_of

    out = tmp_path_factory.mktemp("demo")
    seed, rpm = 7, 6
    truth = generate(out, seed=seed, rows_per_month=rpm)
    ledger = generate_payments(seed, rpm)
    payments = pd.DataFrame(
        {
            "council_id": [p.council_id for p in ledger],
            "payment_date": [p.paid_on.isoformat() for p in ledger],
            "amount_pence": [p.pence for p in ledger],
            "sector": [p.sector for p in ledger],
            "sercop_group": [group_of(p) for p in ledger],
            "transfer_kind": [_rules()["transfer_kinds"].get(p.expense_type) for p in ledger],
            "sercop_division": [p.division for p in ledger],
            "is_redacted": [p.sector == "redacted" for p in ledger],
            "is_card": [p.is_card for p in ledger],
        }
    )
    db = out / "registers.db"
    assert load_outturn(out / "outturn", db) > 0
    return truth, compute(payments, read_outturn(db))


def test_measures_equal_the_demo_truth(demo: tuple[dict, dict[str, pd.DataFrame]]) -> None:
    truth, result = demo
    cy = result["council_year_measures"].set_index(["council_id", "financial_year"])
    checked = 0
    for council_id, council in truth["councils"].items():
        for fy, t in council["years"].items():
            if not t["rows"]:
                continue
            r = cy.loc[(council_id, fy)]
            m2, m3 = t["m2"], t["m3"]
            assert r["spend_pence"] == m2["spend_pence"]
            assert r["transfer_pence"] == m2["transfer_pence"]
            assert r["unknown_pence"] == m2["unknown_pence"]
            assert r["external_delivery_pence"] == m2["external_delivery_pence"]
            assert r["m2_denominator_pence"] == m2["denominator_pence"]
            assert r["m2_share"] == pytest.approx(m2["value"], abs=5e-5)
            assert r["m3_denominator_pence"] == m3["outturn_tse_pence"]
            assert r["m3_raw_share"] == pytest.approx(m3["value"], abs=5e-5)
            assert {s: r[f"m1_{s}_pence"] for s in SECTORS} == t["sector_pence"]
            assert r["months_present"] == len(t["months"])
            checked += 1
    assert checked >= 4


def test_division_measures_equal_the_demo_truth(demo: tuple[dict, dict[str, pd.DataFrame]]) -> None:
    truth, result = demo
    cd = result["council_year_division_measures"].set_index(
        ["council_id", "financial_year", "sercop_division"]
    )
    for council_id, council in truth["councils"].items():
        for fy, t in council["years"].items():
            for division, d in t["m3"]["by_division"].items():
                if (council_id, fy, division) not in cd.index:
                    assert d["external_delivery_pence"] == 0
                    continue
                r = cd.loc[(council_id, fy, division)]
                assert r["external_delivery_pence"] == d["external_delivery_pence"]
                assert r["m3_denominator_pence"] == d["outturn_pence"]
                assert r["m3_raw_share"] == pytest.approx(d["value"], abs=5e-5)


def test_classifier_agrees_with_the_demo_vocabulary_where_the_measures_depend_on_it() -> None:
    """M2/M3 depend on which expense types are third-party payments or unknown, and on divisions."""
    from demo.ledger import load_vocabulary
    from normalise.categories import classify_categories

    vocab = load_vocabulary()
    groups = classify_categories(pd.DataFrame({"kind": "expense_type", "value": list(vocab.expense_groups)}))
    truth = groups["value"].map(vocab.expense_groups)
    for label in ("third_party_payments", "unknown"):
        mismatch = groups[(groups["label"] == label) != (truth == label)]
        assert mismatch.empty, mismatch.to_string()
    areas = classify_categories(pd.DataFrame({"kind": "service_area", "value": list(vocab.service_areas)}))
    wrong = areas[areas["label"] != areas["value"].map(lambda v: vocab.service_areas[v][0])]
    assert wrong.empty, wrong.to_string()
