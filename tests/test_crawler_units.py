"""Crawler building blocks without a network: link rules, file naming and sniffing, manifest merge."""

from __future__ import annotations

import io
import zipfile

import pytest

from crawler.filetypes import content_disposition_filename, extension, file_name, rejection, sniff
from crawler.links import LinkKind, council_hosts, council_scope, default_rules, host_allowed
from crawler.manifest import merge, read_manifest, write_manifest
from crawler.settings import make_settings, user_agent


@pytest.mark.parametrize(
    ("url", "text", "kind"),
    [
        ("https://c.gov.uk/media/1/march-2024.xlsx", "", LinkKind.FILE),
        ("https://c.gov.uk/a/spend.ODS", "x", LinkKind.FILE),
        ("https://c.gov.uk/?wpdmdl=44201&refresh=5", "Download", LinkKind.DOWNLOAD),
        ("https://c.gov.uk/download?id=3", "March", LinkKind.DOWNLOAD),
        ("https://c.gov.uk/docs/payments.pdf", "Payments over £500 (PDF)", LinkKind.DOCUMENT),
        ("https://c.gov.uk/docs/bins.pdf", "Bin calendar", LinkKind.SKIP),
        ("https://c.gov.uk/council/expenditure-over-500", "Spending", LinkKind.PAGE),
        ("https://c.gov.uk/spending/2023", "2022/23", LinkKind.PAGE),
        ("https://c.gov.uk/list?page=3", "3", LinkKind.PAGINATION),
        ("https://c.gov.uk/contact", "Contact us", LinkKind.SKIP),
        ("mailto:spend@c.gov.uk", "Email the spending team", LinkKind.SKIP),
        ("https://c.gov.uk/news/spending-cuts-2024", "Spending cuts", LinkKind.SKIP),
    ],
)
def test_link_classification(url, text, kind):
    assert default_rules().classify(url, text) is kind


def test_hosts_and_github_rewrite():
    hosts = council_hosts(
        {
            "website": "https://www.leeds.gov.uk/",
            "spending_pages": ["https://datamillnorth.org/x"],
            "domains": ["files.example.net"],
        }
    )
    assert hosts == {"leeds.gov.uk", "datamillnorth.org", "files.example.net"}
    assert host_allowed("https://democracy.leeds.gov.uk/a.csv", hosts)
    assert not host_allowed("https://notleeds.gov.uk/a.csv", hosts)
    assert (
        default_rules().rewrite_url("https://github.com/o/r/blob/main/a.csv#L1")
        == "https://github.com/o/r/blob/main/a.csv?raw=true"
    )


def test_pages_on_a_shared_portal_stay_under_the_spending_page():
    scope = council_scope(
        {
            "website": "https://www.leeds.gov.uk/",
            "spending_pages": ["https://datamillnorth.org/dataset/council-spending"],
        }
    )
    assert scope.allows("https://datamillnorth.org/dataset/council-spending?page=2", LinkKind.PAGINATION)
    assert not scope.allows("https://datamillnorth.org/dataset/sheffield-spend-over-250", LinkKind.PAGE)
    assert scope.allows("https://datamillnorth.org/download/council-spending/x/2024-01.csv", LinkKind.FILE)
    assert scope.allows("https://www.leeds.gov.uk/anything/spending", LinkKind.PAGE)
    assert not scope.allows("https://example.org/spending", LinkKind.PAGE)


def test_file_names_from_headers_query_and_path():
    assert (
        content_disposition_filename("attachment; filename*=UTF-8''Spend%20%C2%A3500.csv") == "Spend £500.csv"
    )
    assert content_disposition_filename('attachment; filename="..\\..\\evil.csv"') == "evil.csv"
    assert file_name("https://c/?wpdmdl=1&filename=HBC-Spend.csv") == "HBC-Spend.csv"
    assert file_name("https://c/media/1/March%202024.csv") == "March 2024.csv"


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_sniffing_and_extension_choice():
    assert sniff(b"\xef\xbb\xbf  <!DOCTYPE html><html>") == "html"
    assert sniff(b"%PDF-1.7") == "pdf"
    assert extension("", "application/octet-stream", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest") == "xls"
    assert extension("", "", b"Date,Supplier,Amount\n1,2,3\n") == "csv"
    assert extension("", "", _zip({"[Content_Types].xml": b"x", "xl/workbook.xml": b"x"})) == "xlsx"
    # A CSV disguised as .xls keeps its published name: the normaliser reads by content.
    assert extension("spend.xls", "text/csv", b"a,b\n") == "xls"


def test_crawler_and_normaliser_agree_on_what_is_html():
    """A CSV whose cell quotes HTML is still a CSV: the crawler must not reject what the normaliser reads."""
    body = b"Date,Supplier,Amount,Description\n01/04/2024,Acme Ltd,100.00,<html><body>pasted</body></html>\n"
    assert rejection(body, "csv", "text/csv") is None
    assert rejection(b"<!DOCTYPE html><html><body>Not found</body></html>", "csv", "text/csv").startswith(
        "HTML page"
    )
    assert rejection(b"  \r\n ", "csv", "text/csv").startswith("empty file")


@pytest.mark.parametrize(
    ("body", "ext", "reason"),
    [
        (b"", "csv", "empty file"),
        (b"<html><body>Error</body></html>", "csv", "HTML page served as .csv"),
        (b"%PDF-1.4", "pdf", "PDF"),
        (_zip({"readme.txt": b"hello"}), "zip", "ZIP holds no CSV"),
        (b"PK\x03\x04broken", "zip", "corrupt ZIP"),
        (b"GIF89a....", "gif", "not a spreadsheet"),
    ],
)
def test_rejections(body, ext, reason):
    assert reason in rejection(body, ext, "")


def test_spreadsheets_and_zips_of_them_are_accepted():
    assert rejection(b"a,b\n1,2\n", "csv", "text/csv") is None
    assert rejection(_zip({"q1/jan.csv": b"a,b\n"}), "zip", "application/zip") is None


def _rec(url: str, sha: str = "", status: str = "fetched", error: str = "") -> dict:
    return {
        "url": url,
        "council_id": "E1",
        "sha256": sha,
        "status": status,
        "error": error,
        "path": f"files/{sha}.csv" if sha else "",
        "fetched_at": "2024-01-01T00:00:00+0000",
    }


def test_merge_statuses_across_crawls():
    a, b = "a" * 64, "b" * 64
    rows, now = merge([], [_rec("u1", a), _rec("u2", status="failed", error="HTTP 404")])
    assert [r["status"] for r in now] == ["new", "failed"]
    rows, now = merge(rows, [_rec("u1", a), _rec("u2", a)])  # u2 recovered, with u1's bytes
    assert [r["status"] for r in now] == ["unchanged", "new"]
    assert not [r for r in rows if r["status"] == "failed"]
    rows, now = merge(rows, [_rec("u1", b)])
    old = next(r for r in rows if r["url"] == "u1" and r["sha256"] == a)
    assert (old["status"], old["superseded_by"]) == ("superseded", b)
    assert now[0]["status"] == "changed"
    rows, now = merge(rows, [_rec("u1", a)])  # reverted to the old bytes: the old row comes back
    statuses = {r["sha256"]: r["status"] for r in rows if r["url"] == "u1"}
    assert statuses == {a: "changed", b: "superseded"} and len(now) == 1
    rows, now = merge(rows, [_rec("u1", status="failed", error="HTTP 500")])
    assert {r["status"] for r in rows if r["url"] == "u1"} == {"changed", "superseded", "failed"}


def test_manifest_round_trip_and_bad_manifest(tmp_path):
    path = tmp_path / "manifest.csv"
    write_manifest(path, [_rec("u1", "a" * 64) | {"status": "new", "link_text": 'He said "hi", twice\n'}])
    (row,) = read_manifest(path)
    assert row["link_text"] == 'He said "hi", twice\n' and row["status"] == "new"
    path.write_text("url,status\nx,new\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing columns"):
        read_manifest(path)


def test_settings_are_polite_and_overridable(tmp_path, monkeypatch):
    s = make_settings(tmp_path, {"DOWNLOAD_DELAY": 0, "DEFAULT_REQUEST_HEADERS": {"X-Test": "1"}})
    assert s["ROBOTSTXT_OBEY"] and s["CONCURRENT_REQUESTS_PER_DOMAIN"] <= 2
    assert s["DOWNLOAD_MAXSIZE"] == 200 * 1024 * 1024 and s["DOWNLOAD_DELAY"] == 0
    assert (
        s["DEFAULT_REQUEST_HEADERS"]["Cache-Control"] == "max-age=0"
        and s["DEFAULT_REQUEST_HEADERS"]["X-Test"] == "1"
    )
    assert s["HTTPCACHE_DIR"] == str(tmp_path.resolve() / "httpcache")
    assert "councilspend" in s["USER_AGENT"] and "http" in s["USER_AGENT"]
    monkeypatch.setenv("COUNCILSPEND_CONTACT", "mailto:me@example.org")
    assert "mailto:me@example.org" in user_agent()


def test_http_cache_storage_round_trips_without_guessing_csv_encoding(tmp_path):
    import gzip
    import pickle

    from scrapy import Request, Spider
    from scrapy.http import TextResponse
    from scrapy.utils.test import get_crawler

    from crawler.httpcache import FilesystemCacheStorage

    crawler = get_crawler(Spider, {"HTTPCACHE_DIR": str(tmp_path), "HTTPCACHE_GZIP": True})
    spider = Spider.from_crawler(crawler, name="t")
    storage = FilesystemCacheStorage(crawler.settings)
    storage.open_spider(spider)
    request = Request("http://127.0.0.1/a.csv")
    body = "Supplier,Amount\nCafé Ltd,£5\n".encode("cp1252")
    storage.store_response(
        spider,
        request,
        TextResponse(request.url, body=body, headers={"Content-Type": "text/csv", "ETag": '"x"'}),
    )
    cached = storage.retrieve_response(spider, request)
    assert isinstance(cached, TextResponse) and cached.body == body and cached.headers["ETag"] == b'"x"'
    (data_file,) = tmp_path.rglob("response_data")
    assert "encoding" not in pickle.loads(gzip.decompress(data_file.read_bytes()))
