"""The coverage table's rules on small frames: status, months missing, lateness, FOI link."""

from __future__ import annotations

from datetime import date

import pandas as pd

from publish.build.coverage import NOT_CRAWLED, coverage_rows, foi_link, last_two_years, other_bodies

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
    {"id": "E5", "name": "Unvisited Council", "type": "district", "current": True},
]
# a: the server's Last-Modified (30 days after April); b: crawled, first seen 30 days after May (a later
# refetch does not count); c: superseded.
MANIFEST = [
    {
        "sha256": "a",
        "source": "page",
        "last_modified": "Thu, 30 May 2024 10:00:00 GMT",
        "fetched_at": "2025-01-01T00:00:00+0000",
        "council_id": "E1",
    },
    {
        "sha256": "b",
        "source": "ckan",
        "last_modified": "",
        "fetched_at": "2024-07-20T10:00:00+0000",
        "council_id": "E1",
    },
    {
        "sha256": "b",
        "source": "ckan",
        "last_modified": "",
        "fetched_at": "2024-06-30T10:00:00+0000",
        "council_id": "E1",
    },
]


def test_rows_for_every_current_council_with_months_missing_and_lateness():
    files = pd.DataFrame(
        {
            "council_id": ["E1", "E1", "E1"],
            "sha256": ["a", "b", "c"],
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
    rows = {
        r["council_id"]: r
        for r in coverage_rows(REGISTRY, files, quality, discovery, date(2025, 6, 1), MANIFEST)
    }
    assert set(rows) == {"E1", "E2", "E4", "E5"}  # the abolished council without files is left out
    e1 = rows["E1"]
    assert e1["status"] == "publishes" and e1["files"] == 2 and e1["latest_month"] == "2024-05"
    assert e1["months_missing"] == 22 and "2024-06" in e1["missing_months"]
    assert e1["median_days_after_period"] == 30 and e1["formats"] == "csv,xlsx"
    assert e1["quality_score"] == 71 and e1["threshold"] == 500 and e1["found_by"] == "registry"
    assert rows["E2"]["status"] == "not found" and rows["E2"]["discovery_problem"].startswith("robots.txt")
    assert rows["E2"]["foi_url"] == "https://www.whatdotheyknow.com/select_authority?query=Quiet"
    assert rows["E4"]["status"] == "page found" and rows["E4"]["found_by"] == "discovered: sitemap"
    # No crawl looked for E5: it says so, and offers no FOI request (nothing has failed yet).
    assert rows["E5"]["discovery_problem"] == NOT_CRAWLED and rows["E5"]["foi_url"] is None
    assert e1["foi_url"] is None  # it publishes
    assert (
        rows["E4"]["foi_url"] == foi_link(REGISTRY[3]) == "https://www.whatdotheyknow.com/new/found_council"
    )


def test_last_two_financial_years():
    months = last_two_years(date(2025, 3, 31))
    assert len(months) == 24 and min(months) == "2022-04" and max(months) == "2024-03"


def test_added_files_have_no_lateness_and_bodies_outside_the_registry_are_listed() -> None:
    files = pd.DataFrame(
        {
            "council_id": ["E1", "P1"],
            "sha256": ["x", "y"],
            "status": ["counted", "counted"],
            "kind": ["payments", "payments"],
            "file_name": ["x.csv", "y.xlsx"],
            "period_start": ["2024-04-01", "2018-04-01"],
            "period_end": ["2024-04-30", "2019-03-31"],
            "fetched_at": ["2030-01-01T00:00:00+0000", "2030-01-01T00:00:00+0000"],
        }
    )
    added = [
        {"sha256": s, "source": "local", "last_modified": "", "fetched_at": "2030-01-01T00:00:00+0000"}
        for s in ("x", "y")
    ]
    councils = pd.DataFrame({"council_id": ["P1"], "name": ["Testshire PCC"], "council_type": ["pcc"]})
    registry = REGISTRY[:1] + other_bodies(REGISTRY[:1], files, councils)
    rows = {
        r["council_id"]: r
        for r in coverage_rows(registry, files, pd.DataFrame(), [], date(2025, 6, 1), added)
    }
    assert rows["E1"]["median_days_after_period"] is None  # added by hand: when it appeared is unknown
    assert rows["P1"]["name"] == "Testshire PCC" and rows["P1"]["status"] == "publishes"
