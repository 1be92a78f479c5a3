"""Discovery end to end: real Scrapy (subprocess) finds spending pages on fake council websites of
five real-world shapes (each on its own 127.0.0.1 host, so robots.txt and politeness are per site)
and a council's publisher in a fake CKAN by name; a second crawl starts from what was found."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from crawler_sites import (
    SHAPES,
    Site,
    build_discovery_site,
    ckan_search,
    csv_bytes,
    organization_autocomplete,
    static,
)

from crawler.registry import load_registry
from crawler.run import crawl

SETTINGS = {"AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0, "DOWNLOAD_TIMEOUT": 5, "RETRY_TIMES": 0}
BUDGET = 30  # requests per council, robots.txt and sitemap included


def rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    sites, expected, councils = {}, {}, []
    for i, shape in enumerate(SHAPES):
        site = Site().start()
        sites[shape] = site
        expected[shape] = build_discovery_site(site, shape, name=f"{shape.title()}ton")
        councils.append(
            {
                "id": f"E0799990{i}",
                "name": f"{shape.title()}ton Borough Council",
                "type": "district",
                "website": site.url("/"),
                "discover": True,
            }
        )
    ckan = Site().start()
    orgs = [
        {"name": "anytown-bc", "title": "Anytown Borough Council"},
        {"name": "anytown-chamber", "title": "Anytown Chamber of Commerce"},
    ]
    ckan.routes["/api/3/action/organization_autocomplete"] = organization_autocomplete(orgs)
    ckan.routes["/api/3/action/package_search"] = ckan_search(
        {
            "anytown-bc": [
                {
                    "name": "spend-over-500",
                    "title": "Spend over £500",
                    "resources": [{"name": "Jan", "url": ckan.url("/f/2024-01.csv"), "format": "CSV"}],
                }
            ]
        }
    )
    ckan.routes["/f/2024-01.csv"] = static(csv_bytes("01/2024", 2, "ckan"))
    api = ckan.url("/api/3/action/")
    councils.append(
        {
            "id": "E07999910",
            "name": "Anytown Borough Council",
            "nice_name": "Anytown",
            "type": "district",
            "ckan_lookup": True,
            "ckan_api": api,
        }
    )
    councils.append(
        {
            "id": "E07999911",
            "name": "Nowhere District Council",
            "type": "district",
            "ckan_lookup": True,
            "ckan_api": api,
        }
    )
    out = tmp_path_factory.mktemp("discovery")
    summary = crawl(councils, out, settings=SETTINGS, progress=False)
    yield {
        "sites": sites,
        "expected": expected,
        "councils": councils,
        "out": out,
        "summary": summary,
        "ckan": ckan,
    }
    for site in [*sites.values(), ckan]:
        site.stop()


def test_every_shape_a_person_could_use_is_found_in_30_requests(world):
    manifest = rows(world["out"] / "manifest.csv")
    found = {r["council_id"]: r for r in rows(world["out"] / "discovery.csv") if r["kind"] == "page"}
    for council, shape in zip(world["councils"], SHAPES, strict=False):
        site = world["sites"][shape]
        assert len(site.requests) <= BUDGET, (shape, [r.path for r in site.requests])
        got = {
            r["url"].removeprefix(site.base)
            for r in manifest
            if r["council_id"] == council["id"] and r["status"] == "new"
        }
        assert got == set(world["expected"][shape]), shape
        if shape == "robots":
            continue
        record = found[council["id"]]
        assert record["status"] == "found" and record["url"].startswith(site.base), record
        assert record["found_by"], record
    assert "sitemap" in found["E07999902"]["found_by"]
    assert "JSON endpoint" in found["E07999903"]["found_by"]
    assert 'link "Payments over £500"' in found["E07999900"]["found_by"]


def test_robots_forbidden_page_is_not_fetched_and_the_reason_recorded(world):
    site = world["sites"]["robots"]
    assert not [r for r in site.requests if r.path.startswith("/finance/")]
    record = next(r for r in rows(world["out"] / "discovery.csv") if r["council_id"] == "E07999904")
    assert record["status"] == "failed"
    assert record["reason"] == f"robots.txt forbids {site.url('/finance/spending-over-500/')}"
    assert "robots.txt forbids" in " ".join(world["summary"]["E07999904"]["errors"])


def test_catalogue_publisher_is_looked_up_by_name(world):
    found = {r["council_id"]: r for r in rows(world["out"] / "discovery.csv") if r["kind"] == "ckan"}
    assert found["E07999910"]["status"] == "found" and found["E07999910"]["url"] == "anytown-bc"
    assert "Anytown Borough Council" in found["E07999910"]["found_by"]
    assert (
        found["E07999911"]["status"] == "failed"
        and "no organization named like" in found["E07999911"]["reason"]
    )
    manifest = rows(world["out"] / "manifest.csv")
    assert [r["source"] for r in manifest if r["council_id"] == "E07999910" and r["status"] == "new"] == [
        "ckan"
    ]


def test_next_crawl_starts_from_the_found_page(world):
    site = world["sites"]["hub"]
    site.clear()
    crawl(world["councils"][1:2], world["out"], settings=SETTINGS, progress=False)
    paths = [r.path for r in site.requests]
    assert "/" not in paths and "/council/transparency/spend/" in paths, paths  # straight to the page
    manifest = rows(world["out"] / "manifest.csv")
    assert {r["status"] for r in manifest if r["council_id"] == "E07999901"} == {"unchanged"}


def test_national_registry_marks_current_councils_for_discovery():
    councils = {c["id"]: c for c in load_registry()}
    assert councils["E06000053"]["discover"] and councils["E06000053"]["ckan_lookup"]
    assert not councils["E07000163"]["discover"]  # Craven, abolished in 2023
    assert json.dumps(councils["E08000035"])  # plain data, ready for the job file
