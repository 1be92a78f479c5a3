"""Every real council file through normaliser -> suppliers -> categories -> measures.

Checks that M1's sector buckets and M2's buckets (external delivery, other counted spend,
transfer, unknown) add up to the file's total to the penny, and prints M1 and M2 per council-file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from normalise.categories import classify_categories
from normalise.categories.row_values import expense_value, service_value
from publish.build.measures import SECTORS, compute

COUNTED_KINDS = {"payments", "card"}


def _pipeline():
    from normalise.pipeline import normalise_file
    from normalise.suppliers import classify_suppliers

    return normalise_file, classify_suppliers


def _classified(rows: pd.DataFrame, council: str, classify_suppliers) -> pd.DataFrame:
    rows = rows.copy()
    rows["council_id"] = rows["council_id"].where(rows["council_id"].astype(str) != "", council)
    rows["amount_pence"] = (rows["amount"].astype(float) * 100).round().astype("int64")
    sup = classify_suppliers(rows.assign(council=council))
    rows["sector"] = sup["sector"].fillna("unknown").to_numpy()
    exp = classify_categories(
        pd.DataFrame(
            {
                "kind": "expense_type",
                "value": expense_value(rows),
                "council": council,
                "code": rows["expense_code"],
            }
        )
    )
    svc = classify_categories(
        pd.DataFrame({"kind": "service_area", "value": service_value(rows), "council": council})
    )
    rows["sercop_group"] = exp["label"].to_numpy()
    rows["sercop_division"] = svc["label"].to_numpy()
    return rows


@pytest.mark.slow
def test_measures_add_up_on_every_real_file(shared: Path) -> None:
    normalise_file, classify_suppliers = _pipeline()
    real = shared / "data" / "real"
    expected = pd.read_csv(real / "EXPECTED.csv", dtype={"path": str})
    lines, problems, checked = [], [], 0
    for item in expected.itertuples(index=False):
        if item.kind not in COUNTED_KINDS:
            continue
        council = item.path.split("/")[0]
        result = normalise_file(real / item.path)
        if result.rows.empty:
            problems.append(f"{item.path}: normaliser returned no rows ({result.report.get('error', '')})")
            continue
        rows = _classified(result.rows, council, classify_suppliers)
        file_total = int(rows["amount_pence"].sum())
        cy = compute(rows, None)["council_year_measures"]
        m1 = {s: int(cy[f"m1_{s}_pence"].sum()) for s in SECTORS}
        ext, other = int(cy["external_delivery_pence"].sum()), int(cy["not_external_pence"].sum())
        transfer, unknown = int(cy["transfer_pence"].sum()), int(cy["unknown_pence"].sum())
        checked += 1
        if sum(m1.values()) != file_total:
            problems.append(f"{item.path}: M1 buckets {sum(m1.values())} != file total {file_total}")
        if ext + other + transfer + unknown != file_total:
            problems.append(
                f"{item.path}: M2 buckets {ext + other + transfer + unknown} != file total {file_total}"
            )
        if int(cy["spend_pence"].sum()) != file_total:
            problems.append(f"{item.path}: spend {int(cy['spend_pence'].sum())} != file total {file_total}")
        truth = round(float(item.total_amount) * 100)
        den = file_total - transfer - unknown
        m2 = f"{ext / den:6.1%}" if den > 0 else "   n/a"
        top = ", ".join(
            f"{s} {v / file_total:.0%}"
            for s, v in sorted(m1.items(), key=lambda kv: -abs(kv[1]))[:4]
            if file_total and v
        )
        lines.append(
            f"{item.path:55} £{file_total / 100:>15,.2f} {'=' if truth == file_total else '≠'}EXPECTED "
            f"M2 {m2} (ext £{ext / 100:,.0f}; transfer £{transfer / 100:,.0f}; unknown £{unknown / 100:,.0f}) "
            f"M1: {top}"
        )
    print("\n" + "\n".join(lines))
    assert checked >= 25, f"only {checked} files normalised to rows"
    assert not problems, "\n".join(problems)
