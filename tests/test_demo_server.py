"""The demo server behaves like the real council servers the crawler meets (urllib on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from demo.generator import generate
from demo.server import DemoServer


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo-site")
    truth = generate(out, rows_per_month=4)
    with DemoServer(out) as server:
        yield server, truth


def _get(url: str, headers: dict | None = None, method: str = "GET"):
    """(status, headers, body) without raising on 3xx/4xx."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with opener.open(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def _file(truth: dict, **where) -> dict:
    return next(f for f in truth["files"] if all(f[k] == v for k, v in where.items()))


def test_download_id_names_the_file_only_in_headers(served) -> None:
    server, truth = served
    f = next(f for f in truth["files"] if "/download?id=" in f["url"])
    status, headers, body = _get(server.base_url + f["url"])
    assert status == 200
    assert headers["Content-Disposition"] == f'attachment; filename="{f["file_name"]}"'
    assert headers["Content-Type"].startswith("text/csv")
    assert hashlib.sha256(body).hexdigest() == f["sha256"]
    assert f["file_name"] not in f["url"]


def test_conditional_requests_get_304(served) -> None:
    server, truth = served
    url = server.base_url + _file(truth, kind="payments", council_id="E99999906")["url"]
    status, headers, _ = _get(url)
    assert status == 200 and headers["ETag"] and headers["Last-Modified"]
    status, _, body = _get(url, {"If-None-Match": headers["ETag"]})
    assert (status, body) == (304, b"")
    assert _get(url, {"If-None-Match": '"something-else"'})[0] == 200
    assert _get(url, {"If-Modified-Since": headers["Last-Modified"]})[0] == 304
    assert _get(url, {"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"})[0] == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110)
    assert _get(url, {"If-None-Match": '"other"', "If-Modified-Since": headers["Last-Modified"]})[0] == 200


def test_ckan_package_search(served) -> None:
    server, truth = served
    base = server.base_url + "/api/3/action/package_search"
    org = "sampleborough-district-council"
    status, headers, body = _get(f"{base}?fq=organization:{org}&rows=100&start=0")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    data = json.loads(body)
    assert data["success"] is True and data["result"]["count"] == 2
    packages = data["result"]["results"]
    assert all(p["organization"]["name"] == org for p in packages)
    resources = [r for p in packages for r in p["resources"]]
    assert len(resources) == 8 and {r["format"] for r in resources} == {"ODS"}
    shas = {f["sha256"] for f in truth["files"] if f["council_id"] == "E99999904"}
    for r in resources[:2]:
        assert r["url"].startswith(server.base_url + "/") and r["name"]
        assert hashlib.sha256(_get(r["url"])[2]).hexdigest() in shas
    page2 = json.loads(_get(f"{base}?fq=organization:{org}&rows=1&start=1")[2])["result"]
    assert page2["count"] == 2 and [p["name"] for p in page2["results"]] == [packages[1]["name"]]
    none = json.loads(_get(f"{base}?fq=organization:no-such-council&rows=100&start=0")[2])["result"]
    assert none == {"count": 0, "results": [], "sort": "score desc"}
    assert json.loads(_get(f"{base}?fq=organization:{org}&rows=x")[2])["success"] is False


def test_robots_txt_disallows_the_draft(served) -> None:
    server, truth = served
    status, headers, body = _get(server.base_url + "/robots.txt")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    lines = body.decode().splitlines()
    assert lines[0] == "User-agent: *"
    disallowed = [line.split(": ", 1)[1] for line in lines if line.startswith("Disallow: ")]
    draft = _file(truth, kind="robots_disallowed")
    assert disallowed and any(draft["url"].startswith(d) for d in disallowed)
    # everything else is allowed
    assert not any(f["url"].startswith(d) for f in truth["files"] if f["counted"] for d in disallowed)


def test_html_error_page_under_csv_url(served) -> None:
    server, truth = served
    f = _file(truth, kind="html_error")
    status, headers, body = _get(server.base_url + f["url"])
    assert (
        status == 200
        and headers["Content-Type"].startswith("text/html")
        and body.startswith(b"<!DOCTYPE html>")
    )


def test_pages_link_files_and_missing_paths_404(served) -> None:
    server, truth = served
    status, _, body = _get(server.base_url + "/specimen-vale/council/finance/spending/")
    assert status == 200 and b'rel="next"' in body and b"draft" in body
    status, headers, _ = _get(server.base_url + "/demoshire/transparency/spending")
    assert status == 301 and headers["Location"] == "/demoshire/transparency/spending/"
    assert _get(server.base_url + "/no/such/page.csv")[0] == 404
    status, headers, body = _get(server.base_url + "/robots.txt", method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0


def test_requests_are_recorded(served) -> None:
    server, _ = served
    _get(server.base_url + "/mockford/")
    assert "/mockford/" in server.requests


def test_server_needs_a_generated_site(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="routes.json"):
        DemoServer(tmp_path)
    server = DemoServer.__new__(DemoServer)
    server._httpd = None
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.base_url
