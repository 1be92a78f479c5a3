"""Every real file in ../shared/data/real/EXPECTED.csv, through normalise, matches every figure.

EXPECTED.csv was computed independently (two methods, by hand-checked settings per file); the
normaliser must reach the same numbers with general rules only.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from normalise.pipeline import normalise_file

SHARED_REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def _expected() -> list[dict]:
    path = SHARED_REAL / "EXPECTED.csv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


EXPECTED = _expected()
_cache: dict[str, object] = {}


def _result(shared: Path, rel: str):
    if rel not in _cache:
        _cache[rel] = normalise_file(shared / "data" / "real" / rel)
    return _cache[rel]


@pytest.mark.parametrize("row", EXPECTED, ids=[r["path"] for r in EXPECTED])
def test_figures_match_expected(shared: Path, row: dict) -> None:
    result = _result(shared, row["path"])
    rep = result.report
    assert rep.get("error") is None, rep.get("error")
    got = {
        "kind": result.kind,
        "header_row": rep["header_row"],
        "data_rows": rep["data_rows"],
        "malformed_rows": rep["malformed_rows"],
        "total_amount": Decimal(rep["total_pence"]) / 100,
        "negative_rows": rep["negative_rows"],
        "date_min": rep["date_min"] or "none",
        "date_max": rep["date_max"] or "none",
        "distinct_suppliers": rep["distinct_suppliers"],
        "redacted_rows": rep["redacted_rows"],
    }
    want = {
        "kind": row["kind"],
        "header_row": int(row["header_row"].split()[0]),
        "data_rows": int(row["data_rows"]),
        "malformed_rows": int(row["malformed_rows"]),
        "total_amount": Decimal(row["total_amount"]),
        "negative_rows": int(row["negative_rows"]),
        "date_min": row["date_min"],
        "date_max": row["date_max"],
        "distinct_suppliers": int(row["distinct_suppliers"]),
        "redacted_rows": int(row["redacted_rows"]),
    }
    diffs = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    assert not diffs, f"(got, expected): {diffs}"


@pytest.mark.parametrize("row", EXPECTED, ids=[r["path"] for r in EXPECTED])
def test_rows_agree_with_report(shared: Path, row: dict) -> None:
    """Payment rows exist only for payments/card files, and add up to the reported total."""
    result = _result(shared, row["path"])
    rows = result.rows
    if result.kind in ("payments", "card"):
        assert len(rows) == int(row["data_rows"])  # no row rejected or lost
        assert result.total_pence == result.report["total_pence"]
        assert round(rows["amount"].sum() * 100) == result.total_pence
        assert rows["source_row"].min() > int(row["header_row"].split()[0])
        assert rows["is_card"].all() == (result.kind == "card")
        assert (rows["date_precision"] == "day").sum() > 0 or row["date_min"] == "none"
    else:
        assert rows.empty and result.total_pence == 0


@pytest.mark.parametrize("row", [r for r in EXPECTED if int(r["malformed_rows"])], ids=lambda r: r["path"])
def test_malformed_rows_are_repaired_and_reported_by_row(shared: Path, row: dict) -> None:
    result = _result(shared, row["path"])
    repairs = [r for r in result.report["repairs"] if "run together" in r["repair"]]
    assert repairs and repairs[0]["count"] == int(row["malformed_rows"])
    repaired_rows = set(repairs[0]["rows"])
    assert len(repaired_rows) == int(row["malformed_rows"])
    # every repaired source row is in the output with a day date and an amount
    out = result.rows[result.rows["source_row"].isin(repaired_rows)]
    assert len(out) == len(repaired_rows)
    assert (out["date_precision"] == "day").all()
