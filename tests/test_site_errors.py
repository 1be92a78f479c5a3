"""Nothing a visitor sends gives a 500 (fuzzing pass 9): bad requests get a clear 4xx page.

The first tests run the site's app under uvicorn on 127.0.0.1: Datasette's default
error hook only failed there (``rich`` printing outside an ``except`` block), so every unknown URL was a
bare 500 that in-process clients never saw."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from demo.sample_site import build_sample_site
from publish.site.serve import make_app

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return build_sample_site(tmp_path_factory.mktemp("errors-site"))


@pytest.fixture(scope="module")
def ds(site: Path):
    return make_app(site)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, method: str = "GET") -> tuple[int, str]:
    """(status, body) without raising on 4xx/5xx."""
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def server(site: Path):
    port = _free_port()
    code = (
        "import uvicorn; from publish.site.serve import make_app; "
        f"uvicorn.run(make_app({str(site)!r}).app(), host='127.0.0.1', port={port}, log_level='warning')"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, "the server exited"
            try:
                urllib.request.urlopen(base + "/-/versions.json", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_real_server_unknown_urls_are_404_pages(server: str) -> None:
    for path in ("/.env", "/a.b.c", "/councilspend/nope/a/b", "//x"):
        status, body = _get(server + path)
        assert status == 404, (path, status, body[:200])
        assert "<html" in body.lower(), path
    status, body = _get(server + "/councilspend/nope.json")
    assert status == 404 and '"ok": false' in body


def test_real_server_datasette_500s_for_bad_parameters_are_400(server: str) -> None:
    for query in (
        "/councilspend/payments?_sort=nope",
        "/councilspend/payments?_sort_desc=rowid",
        "/councilspend/payments?_sort=amount_pence&_sort_desc=amount_pence",
        "/councilspend/payments.json?id__in=[1,%222%22",
    ):
        status, body = _get(server + query)
        assert status == 400, (query, status, body[:200])


async def test_unexpected_errors_are_500_pages_with_a_logged_traceback(ds, caplog) -> None:
    from publish.site.errors import render_error

    class Boom(RuntimeError):
        pass

    from datasette.utils.asgi import Request

    request = Request.fake("/councilspend/payments")
    with caplog.at_level(logging.ERROR, logger="councilspend.site"):
        response = await render_error(ds, request, Boom("/secret/path"))
    assert response.status == 500
    assert "/secret/path" not in response.body and "Something went wrong" in response.body
    assert any(r.exc_info and r.exc_info[0] is Boom for r in caplog.records)


async def test_query_errors_in_process_are_400(ds) -> None:
    for path, params in (
        ("/councilspend/payments", {"_sort": "nope"}),
        ("/councilspend/payments.json", {"_sort": "rowid"}),
        ("/councilspend/payments", {"_where": "length(zeroblob(3000000))>0"}),
        ("/councilspend/payments.json", {"_through": '{"table":"nope","column":"x","value":"1"}'}),
        ("/councilspend/search_payments.csv", {"q": "care", "_timelimit": "-1"}),
        ("/councilspend/payments.json", {"id__in": "[1,"}),
    ):
        r = await ds.client.get(path, params=params)
        assert r.status_code == 400, (path, params, r.status_code, r.text[:300])


async def test_csv_of_failed_sql_is_a_400_with_the_error(ds) -> None:
    r = await ds.client.get("/councilspend.csv", params={"sql": "select * from nope"})
    assert r.status_code == 400 and "no such table: nope" in r.text, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("text/plain")
    ok = await ds.client.get("/councilspend.csv", params={"sql": "select 1 as a"})
    assert ok.status_code == 200 and ok.text.splitlines() == ["a", "1"]


def test_real_server_other_methods_are_405(server: str) -> None:
    for path in ("/-/versions", "/councilspend/payments", "/councilspend/search_payments?q=care", "/"):
        for method in ("TRACE", "PUT", "DELETE", "PATCH"):
            status, _ = _get(server + path, method=method)
            assert status == 405, (method, path, status)
    assert _get(server + "/", method="HEAD")[0] == 200


async def test_guard_refuses_what_datasette_would_fail_on(ds) -> None:
    long = "x" * 5000
    for url, status in (
        ("/councilspend/payments?_where=%00", 400),
        ("/councilspend/payments?%00=1", 400),
        ("/downloads/a%00b.csv", 400),
        ("/council/%00", 404),
        (f"/council/{long}", 404),
        ("/councilspend.json?sql=select+1%00", 400),
        (f"/downloads/{long}", 404),
        (f"/downloads/csv/{long}", 404),
        (f"/-/static/{long}", 404),
        (f"/-/static-plugins/councilspend/{long}", 404),
        ("/councilspend/payments?_facet=%7B%22nope%22%3A1%7D", 400),
        ("/councilspend/payments?_facet_array=%7B%22column%22%3A1%7D", 400),
        ("/councilspend/payments?_facet=%7B", 400),
        ("/councilspend/payments?_through=%7B%7D", 400),
        ("/councilspend/payments?_through=abc", 400),
        ("/councilspend/payments?_through=%5B%5D", 400),
        ("/councilspend/search_payments?q=care&_timelimit=abc", 400),
        ("/councilspend/payments.json?_timelimit=1.5", 400),
        ("/councilspend.csv", 400),
        ("/councilspend.csv?sql=", 400),
        ("/councilspend.json?_shape=array", 400),
    ):
        r = await ds.client.get(url)
        assert r.status_code == status, (url[:80], r.status_code, r.text[:300])
        assert "/work/" not in r.text and "site-packages" not in r.text
    ok = await ds.client.get('/councilspend/payments.json?_facet={"column":"council_id"}&_size=1')
    assert ok.status_code == 200 and "council_id" in ok.json()["facet_results"]
    assert (await ds.client.get("/councilspend/payments.json?_timelimit=2000&_size=1")).status_code == 200


async def test_no_redirect_to_another_site(ds) -> None:
    for path in ("/\\evil.com/", "//evil.com/", "/%5Cevil.com/"):
        r = await ds.client.get(path)
        assert r.status_code == 404, (path, r.status_code, r.headers.get("location"))
    r = await ds.client.get("/coverage/")
    assert r.status_code == 302 and r.headers["location"] == "/coverage"


RECONCILE = "/councilspend/suppliers/-/reconcile"


async def test_reconcile_refuses_what_it_cannot_answer(ds) -> None:
    bad_queries = [
        "",
        "{",
        "[]",
        "-1",
        '{"q0":"x"}',
        '{"q0":{}}',
        '{"q0":{"query":null}}',
        '{"q0":{"query":123}}',
        '{"q0":{"query":"\\"","type":"x"}}',
        '{"q0":{"query":"a","limit":"abc"}}',
        '{"q0":{"query":"a","limit":-1}}',
        '{"q0":{"query":"a","limit":NaN}}',
        '{"q0":{"query":"a","limit":0}}',
        '{"q0":{"query":"a","type":{"x":1}}}',
        '{"q0":{"query":"NEAR(","properties":[{"pid":"x","v":"y"}]}}',
        '{"q0":{"query":"a","properties":[{"pid":"sector"}]}}',
        json.dumps({f"q{i}": {"query": "care"} for i in range(51)}),
    ]
    for queries in bad_queries:
        for r in (
            await ds.client.get(RECONCILE, params={"queries": queries}),
            await ds.client.post(RECONCILE, data={"queries": queries}),
        ):
            expected = 200 if queries == "" else 400  # no queries: the service manifest
            assert r.status_code == expected, (queries[:60], r.status_code, r.text[:300])
    for extend in ("{", "[]", "0", "{}", '{"ids":["x"],"properties":[{"id":"nope"}]}'):
        r = await ds.client.get(RECONCILE, params={"extend": extend})
        assert r.status_code == 400, (extend, r.status_code, r.text[:300])
    for path in ("/suggest/property", "/suggest/type", "/suggest/entity?prefix=a&cursor=x"):
        r = await ds.client.get(RECONCILE + path)
        assert r.status_code == 400, (path, r.status_code, r.text[:300])
    r = await ds.client.post(
        RECONCILE, content=b"\xff\xfe", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 400


async def test_reconcile_answers_valid_openrefine_requests(ds) -> None:
    queries = {
        "q0": {"query": "Exampleton Borough Council", "limit": 3, "type": "public"},
        "q2": {"query": "council", "limit": 1000},
        "q1": {"query": 'council "borough', "properties": [{"pid": "sector", "v": "public"}]},
    }
    r = await ds.client.post(RECONCILE, data={"queries": json.dumps(queries)})
    assert r.status_code == 200, r.text[:300]
    results = r.json()
    assert results["q0"]["result"] and len(results["q0"]["result"]) <= 3
    assert results["q0"]["result"][0]["name"] == "Exampleton Borough Council"
    assert "result" in results["q1"] and len(results["q2"]["result"]) <= 20
    assert (await ds.client.get(RECONCILE)).json()["versions"]
    r = await ds.client.get(RECONCILE + "/suggest/entity", params={"prefix": "Exam"})
    assert r.status_code == 200 and r.json()["result"]


async def test_check_refuses_an_overlong_multipart_boundary(ds) -> None:
    boundary = "b" * 300
    body = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nx\r\n--{boundary}--\r\n'
    r = await ds.client.post(
        "/check", content=body.encode(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}
    )
    assert r.status_code == 400, (r.status_code, r.text[:300])


async def test_check_report_names_the_uploaders_file_not_the_temp_copy(ds) -> None:
    csv = b"Date,Supplier,Amount\n01/04/2024,Acme Ltd,1200.00\n"
    r = await ds.client.post("/check", files={"file": ("march payments.csv", csv, "text/csv")})
    assert r.status_code == 200
    report = r.text.split('id="report"', 1)[1]
    assert "cannot tell which council published march payments.csv" in report, report[:2000]
    for leak in ("councilspend-check-", "--council", "upload.csv"):
        assert leak not in report, leak


async def test_supplier_page_decodes_the_id_and_trims_the_echo(ds) -> None:
    sid = (await ds.client.get("/councilspend/suppliers.json?_shape=array&_size=1")).json()[0]["supplier_id"]
    encoded = "".join(f"%{b:02X}" if chr(b) in "-_" else chr(b) for b in sid.encode())
    assert "%2D" in encoded  # the id has a hyphen, sent percent-encoded
    r = await ds.client.get(f"/supplier/{encoded}")
    assert r.status_code == 200, (encoded, r.status_code)
    r = await ds.client.get("/supplier/" + "Q" * 200)
    assert r.status_code == 404 and "Q" * 41 not in r.text
