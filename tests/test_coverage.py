"""The coverage table's rules on small frames: status, months missing, lateness, FOI link."""

from __future__ import annotations

from datetime import date

import pandas as pd

from publish.build.coverage import coverage_rows, foi_link, last_two_years

REGISTRY = [
    {
        "id": "E1",
        "name": "Publishes Council",
        "type": "district",
        "current": True,
        "threshold": 500,
        "spending_pages": ["https://p.example/spend"],
        "found_by": "registry",
    },
    {"id": "E2", "name": "Quiet Council", "nice_name": "Quiet", "type": "district", "current": True},
    {"id": "E3", "name": "Gone Council", "type": "district", "current": False},
    {"id": "E4", "name": "Found Council", "type": "unitary", "current": True, "wdtk_id": "found_council"},
]


def test_rows_for_every_current_council_with_months_missing_and_lateness():
    files = pd.DataFrame(
        {
            "council_id": ["E1", "E1", "E1"],
            "status": ["counted", "counted", "superseded"],
            "kind": ["payments", "payments", "payments"],
            "file_name": ["a.csv", "b.XLSX", "c.ods"],
            "period_start": ["2024-04-01", "2024-05-01", "2024-06-01"],
            "period_end": ["2024-04-30", "2024-05-31", "2024-06-30"],
            "fetched_at": [
                "2024-05-30T10:00:00+0000",
                "2024-06-30T10:00:00+0000",
                "2024-07-30T10:00:00+0000",
            ],
        }
    )
    quality = pd.DataFrame({"council_id": ["E1"], "quality_score": [71]})
    discovery = [
        {
            "council_id": "E4",
            "kind": "page",
            "status": "found",
            "url": "https://f.example/s",
            "found_by": "sitemap",
            "reason": "",
        },
        {
            "council_id": "E2",
            "kind": "page",
            "status": "failed",
            "url": "",
            "found_by": "",
            "reason": "robots.txt forbids https://q.example/spend",
        },
    ]
    rows = {r["council_id"]: r for r in coverage_rows(REGISTRY, files, quality, discovery, date(2025, 6, 1))}
    assert set(rows) == {"E1", "E2", "E4"}  # the abolished council without files is left out
    e1 = rows["E1"]
    assert e1["status"] == "publishes" and e1["files"] == 2 and e1["latest_month"] == "2024-05"
    assert e1["months_missing"] == 22 and "2024-06" in e1["missing_months"]
    assert e1["median_days_after_period"] == 30 and e1["formats"] == "csv,xlsx"
    assert e1["quality_score"] == 71 and e1["threshold"] == 500 and e1["found_by"] == "registry"
    assert rows["E2"]["status"] == "not found" and rows["E2"]["discovery_problem"].startswith("robots.txt")
    assert rows["E2"]["foi_url"] == "https://www.whatdotheyknow.com/select_authority?query=Quiet"
    assert rows["E4"]["status"] == "page found" and rows["E4"]["found_by"] == "discovered: sitemap"
    assert (
        rows["E4"]["foi_url"] == foi_link(REGISTRY[3]) == "https://www.whatdotheyknow.com/new/found_council"
    )


def test_last_two_financial_years():
    months = last_two_years(date(2025, 3, 31))
    assert len(months) == 24 and min(months) == "2022-04" and max(months) == "2024-03"
