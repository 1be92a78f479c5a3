"""The crawler end to end: real Scrapy (in its subprocess) against fixture sites on 127.0.0.1.

Two crawls of the same sites into one directory: the first finds and fetches everything, the
second revalidates with conditional GETs while one file has changed. Assertions are on
manifest.csv and the stored bytes, never on log lines.
"""

from __future__ import annotations

import csv
import hashlib
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from crawler_sites import (
    APRIL,
    CKAN_2023,
    CKAN_2024,
    MARCH,
    MAY_XLSX,
    P2_FILE,
    SEPT,
    Site,
    build_ckan,
    build_council_site,
    csv_bytes,
    static,
)

from crawler.run import crawl

APRIL_V2 = csv_bytes("04/2023", rows=4, salt="v2")

# Local server: no politeness delays; short timeouts and retry backoff keep the tests fast.
SETTINGS = {
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
    # 2 s, not 1: on a loaded 2-core CI machine a loopback page once took over 1 s and the whole
    # fixture council failed; /files/slow.csv still sleeps 4 s, past the timeout.
    "DOWNLOAD_TIMEOUT": 2,
    "RETRY_TIMES": 1,
    "RETRY_BACKOFF_BASE": 0.05,
    "DOWNLOAD_MAXSIZE": 50_000,
    "CKAN_ROWS": 2,
    "SPENDING_DEPTH": 3,
}
PAGES, CKAN, DEAD = "E06999901", "E06999902", "E06999903"


def read_manifest(out: Path) -> list[dict]:
    with (out / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def site():
    s = Site().start()
    build_council_site(s)
    build_ckan(s)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def councils(site):
    return [
        {
            "id": PAGES,
            "name": "Fixture Council",
            "type": "unitary",
            "website": site.url("/"),
            "spending_pages": [site.url("/spending/")],
            "threshold": 500,
        },
        {
            "id": CKAN,
            "name": "Catalogue Council",
            "type": "district",
            "website": site.url("/"),
            "spending_pages": [],
            "threshold": None,
            "dgu_publisher": "fixture-council",
            "ckan_api": site.url("/api/3/action/"),
        },
        # Nothing listens on port 9: this council fails, the others must not notice.
        {
            "id": DEAD,
            "name": "Unreachable Council",
            "type": "district",
            "website": "http://127.0.0.1:9/",
            "spending_pages": ["http://127.0.0.1:9/spending/"],
            "threshold": 500,
        },
        {
            "id": "E06999904",
            "name": "Registry Gap Council",
            "type": "district",
            "website": "http://127.0.0.1:9/",
        },
    ]


def run(site: Site, councils: list[dict], out: Path) -> SimpleNamespace:
    site.clear()
    summary = crawl(councils, out, settings=SETTINGS, progress=False)
    rows = read_manifest(out)
    return SimpleNamespace(
        out=out,
        summary=summary,
        rows=rows,
        requests=list(site.requests),
        by_path={r["url"].split(site.base, 1)[-1]: r for r in rows if r["url"].startswith(site.base)},
    )


@pytest.fixture(scope="module")
def first(site, councils, tmp_path_factory):
    return run(site, councils, tmp_path_factory.mktemp("crawl"))


@pytest.fixture(scope="module")
def second(first, site, councils):
    site.routes["/files/2023-04.csv"] = static(APRIL_V2)  # republished with more rows
    return run(site, councils, first.out)


def requested(crawl_run, path: str) -> list:
    return [r for r in crawl_run.requests if r.path == path]


def stored(crawl_run, row: dict) -> bytes:
    return (crawl_run.out / row["path"]).read_bytes()


# --------------------------------------------------------------------------- first crawl


def test_year_index_month_pages_and_pagination(first, site):
    april = first.by_path["/files/2023-04.csv"]
    assert april["status"] == "new" and april["source"] == "page"
    assert april["referer"] == site.url("/spending/2023-24/april/")
    assert april["link_text"] == "April 2023 spend (CSV)"
    assert stored(first, april) == APRIL and april["sha256"] == sha(APRIL)
    page2 = first.by_path["/files/2024-02.csv"]
    assert page2["referer"] == site.url("/spending/2024-25/?page=2")
    assert stored(first, page2) == P2_FILE
    assert first.summary[PAGES]["pages"] == 12


def test_depth_counts_link_hops_but_not_pagination(first):
    assert requested(first, "/spending/2023-24/april/details/")  # hop 3: crawled
    assert not requested(first, "/files/too-deep.csv")  # hop 4 > SPENDING_DEPTH
    assert first.by_path["/files/2024-25-p5.csv"]["status"] == "new"  # 5 listing pages deep


def test_download_links_named_only_by_content_disposition(first):
    wp = first.by_path["/?wpdmdl=44201&refresh=abc123"]
    assert wp["file_name"] == "September-23.csv" and wp["path"].endswith(".csv")
    assert stored(first, wp) == SEPT
    may = first.by_path["/download?id=5"]
    assert may["file_name"] == "May 2023.xlsx" and may["path"] == f"files/{sha(MAY_XLSX)}.xlsx"


def test_redirect_chain_records_final_url(first, site):
    march = first.by_path["/old/2024-03.csv"]
    assert march["final_url"] == site.url("/files/2024-03.csv")
    assert stored(first, march) == MARCH


def test_http_errors_timeouts_and_retries(first):
    assert first.by_path["/files/missing.csv"]["status"] == "failed"
    assert first.by_path["/files/missing.csv"]["error"] == "HTTP 404"
    slow = first.by_path["/files/slow.csv"]
    assert slow["status"] == "failed" and "timed out" in slow["error"]
    flaky = first.by_path["/files/flaky.csv"]
    assert flaky["status"] == "new" and flaky["sha256"]
    assert len(requested(first, "/files/flaky.csv")) == 2  # a 500, then the retry succeeded


def test_robots_txt_disallow_is_never_fetched(first):
    assert requested(first, "/robots.txt")
    assert not requested(first, "/private/secret-spend.csv")
    assert "/private/secret-spend.csv" not in first.by_path
    assert first.summary[PAGES]["blocked"] == 1
    assert all(r.headers["user-agent"].startswith("councilspend/") for r in first.requests)


def test_rejected_files_are_recorded_not_stored(first):
    expected = {
        "/files/error.csv": "HTML page served as .csv",
        "/files/empty.csv": "empty file",
        "/files/huge.csv": "larger than the download size limit",
        "/files/report.pdf": "PDF",
    }
    for path, reason in expected.items():
        row = first.by_path[path]
        assert row["status"] == "rejected", path
        assert reason in row["error"], (path, row["error"])
        assert row["path"] == "" and row["sha256"] == ""
    stored_files = {p.name.split(".")[0] for p in (first.out / "files").iterdir()}
    assert stored_files == {r["sha256"] for r in first.rows if r["sha256"]}


def test_links_outside_spending_and_host_are_not_followed(first):
    assert not requested(first, "/contact-us")
    assert not requested(first, "/files/leaflet.pdf")  # a PDF that does not look like spending
    assert not any("elsewhere.invalid" in r["url"] for r in first.rows)


def test_zip_of_csvs_is_stored_whole(first):
    row = first.by_path["/files/2024-q1.zip"]
    assert row["status"] == "new" and row["path"].endswith(".zip")
    with zipfile.ZipFile(first.out / row["path"]) as zf:
        assert sorted(zf.namelist()) == ["2024-q1/feb.csv", "2024-q1/jan.csv"]


def test_same_bytes_at_two_urls_stored_once(first):
    a, b = first.by_path["/files/2023-04.csv"], first.by_path["/mirror/april-copy.csv"]
    assert a["sha256"] == b["sha256"] and a["path"] == b["path"]
    assert len(list((first.out / "files").glob(f"{a['sha256']}.*"))) == 1


def test_ckan_package_search_paginates_and_picks_spend_datasets(first, site):
    searches = [r for r in first.requests if r.path.startswith("/api/3/action/package_search")]
    assert sorted(r.query["start"][0] for r in searches) == ["0", "2"]
    assert all(r.query["fq"] == ["organization:fixture-council"] for r in searches)
    assert searches[0].path == "/api/3/action/package_search?fq=organization:fixture-council&rows=2&start=0"
    rows = {r["url"]: r for r in first.rows if r["source"] == "ckan"}
    assert set(rows) == {site.url("/ckan/files/2023-05.csv"), site.url("/ckan/files/2024-05")}
    assert stored(first, rows[site.url("/ckan/files/2023-05.csv")]) == CKAN_2023
    no_ext = rows[site.url("/ckan/files/2024-05")]
    assert no_ext["path"].endswith(".csv") and stored(first, no_ext) == CKAN_2024  # type from Content-Type
    assert no_ext["referer"] == site.url("/dataset/expenditure-2024")
    assert all(r["council_id"] == CKAN for r in rows.values())
    assert not requested(first, "/ckan/files/planning.csv")  # not a spending dataset


def test_one_failing_council_does_not_stop_the_others(first):
    dead = first.summary[DEAD]
    assert dead["pages"] == 0 and dead["pages_failed"] == 1
    assert "connection refused" in dead["errors"][0]
    assert first.summary[CKAN]["new"] == 2
    assert first.summary["E06999904"]["errors"] == [
        "nothing to crawl: no spending_pages and no dgu_publisher"
    ]


def test_summary_matches_manifest(first):
    for council_id, s in first.summary.items():
        rows = [r for r in first.rows if r["council_id"] == council_id]
        for status in ("new", "rejected", "failed"):
            assert s[status] == sum(r["status"] == status for r in rows), (council_id, status)


def test_manifest_matches_schema(first):
    from frictionless import Resource

    from councilspend.schemas import field_names, frictionless_schema

    with (first.out / "manifest.csv").open(encoding="utf-8") as fh:
        assert fh.readline().strip().split(",") == field_names("manifest")
    report = Resource(
        path="manifest.csv", basepath=str(first.out), schema=frictionless_schema("manifest")
    ).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])


# --------------------------------------------------------------------------- second crawl


def test_recrawl_sends_conditional_requests_and_marks_unchanged(second):
    for path in ("/files/2024-01.csv", "/files/2024-02.csv", "/files/2024-q1.zip", "/spending/"):
        (req,) = requested(second, path)
        assert req.headers.get("if-none-match"), path
        assert req.headers.get("if-modified-since"), path
    for path in (
        "/files/2024-01.csv",
        "/mirror/april-copy.csv",
        "/?wpdmdl=44201&refresh=abc123",
        "/old/2024-03.csv",
    ):
        assert second.by_path[path]["status"] == "unchanged", path
    assert second.summary[CKAN]["unchanged"] == 2


def test_changed_file_supersedes_the_old_version(first, second):
    rows = [r for r in second.rows if r["url"].endswith("/files/2023-04.csv")]
    by_status = {r["status"]: r for r in rows}
    assert sorted(by_status) == ["changed", "superseded"]
    assert by_status["superseded"]["sha256"] == sha(APRIL)
    assert by_status["superseded"]["superseded_by"] == sha(APRIL_V2)
    assert stored(second, by_status["changed"]) == APRIL_V2
    # The old bytes stay: the mirror URL still serves them.
    assert stored(second, second.by_path["/mirror/april-copy.csv"]) == APRIL
    assert second.summary[PAGES]["changed"] == 1
    # One new file on disk, nothing else re-stored.
    assert (
        len(list((second.out / "files").iterdir()))
        == len(list({r["sha256"] for r in first.rows if r["sha256"]})) + 1
    )


def test_recrawl_keeps_history_and_one_problem_row_per_url(second):
    for path in ("/files/missing.csv", "/files/error.csv"):
        assert sum(1 for r in second.rows if r["url"].endswith(path)) == 1
    assert (second.out / "httpcache").is_dir()
    test_manifest_matches_schema(second)


def test_cli_crawl_prints_a_summary_per_council(site, councils, tmp_path):
    import yaml
    from click.testing import CliRunner

    from councilspend.cli import main

    registry = tmp_path / "councils.yml"
    registry.write_text(yaml.safe_dump({"councils": [councils[1]]}), encoding="utf-8")
    out = tmp_path / "raw"
    result = CliRunner().invoke(
        main,
        [
            "crawl",
            "--registry",
            str(registry),
            "--out",
            str(out),
            "--quiet",
            "--set",
            "AUTOTHROTTLE_ENABLED=false",
            "--set",
            "DOWNLOAD_DELAY=0",
            "--set",
            "CKAN_ROWS=2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Catalogue Council (E06999902)" in result.output
    rows = read_manifest(out)
    assert {r["status"] for r in rows} == {"new"} and len(rows) == 2


def test_a_crashing_crawl_raises_with_its_log_and_keeps_the_manifest(councils, tmp_path):
    from crawler.run import CrawlError

    with pytest.raises(CrawlError, match="nonexistent_pipeline_module"):
        crawl(
            councils[:1],
            tmp_path,
            settings={"ITEM_PIPELINES": {"nonexistent_pipeline_module.P": 1}},
            progress=False,
        )
    assert read_manifest(tmp_path) == []  # written (empty), never left half-written
