"""Fixture web sites for the crawler tests: a fake council site and a fake CKAN, on 127.0.0.1.

``Site`` serves a route table that tests can change between crawls (to make a file change) and
records every request it receives with its headers, so tests can assert what was (not) fetched
and that re-crawls sent conditional headers.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LAST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT"

Reply = tuple[int, dict[str, str], bytes]
Route = Callable[["RecordedRequest"], Reply]


@dataclass
class RecordedRequest:
    path: str  # path + query, as sent
    headers: dict[str, str]  # lower-case names

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)


def static(
    body: bytes,
    content_type: str = "text/csv",
    headers: dict[str, str] | None = None,
    validators: bool = True,
) -> Route:
    """A file with ETag/Last-Modified that answers conditional requests with 304."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

    def route(req: RecordedRequest) -> Reply:
        extra = dict(headers or {})
        if validators:
            extra.update({"ETag": etag, "Last-Modified": LAST_MODIFIED})
            if req.headers.get("if-none-match") == etag:
                return 304, extra, b""
        return 200, {"Content-Type": content_type, **extra}, body

    return route


def html(body: str) -> Route:
    return static(body.encode(), "text/html; charset=utf-8")


def redirect(location: str, status: int = 301) -> Route:
    return lambda req: (status, {"Location": location}, b"")


def error(status: int, body: bytes = b"error") -> Route:
    return lambda req: (status, {"Content-Type": "text/html"}, body)


def flaky(route: Route, failures: int = 1) -> Route:
    """Fails with 500 for the first ``failures`` requests, then serves ``route``."""
    seen = {"n": 0}

    def wrapped(req: RecordedRequest) -> Reply:
        seen["n"] += 1
        if seen["n"] <= failures:
            return 500, {"Content-Type": "text/plain"}, b"temporary failure"
        return route(req)

    return wrapped


def slow(route: Route, seconds: float) -> Route:
    def wrapped(req: RecordedRequest) -> Reply:
        time.sleep(seconds)
        return route(req)

    return wrapped


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def ckan_search(packages_by_org: dict[str, list[dict]]) -> Route:
    """CKAN ``package_search`` honouring ``fq=organization:X``, ``rows`` and ``start``."""

    def route(req: RecordedRequest) -> Reply:
        q = req.query
        org = q.get("fq", [""])[0].removeprefix("organization:")
        rows, start = int(q.get("rows", ["10"])[0]), int(q.get("start", ["0"])[0])
        packages = packages_by_org.get(org, [])
        body = {
            "success": True,
            "result": {"count": len(packages), "results": packages[start : start + rows]},
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    return route


class Site:
    """A threaded HTTP server on 127.0.0.1:<free port> serving ``routes`` (path+query → Route)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                req = RecordedRequest(self.path, {k.lower(): v for k, v in self.headers.items()})
                with site._lock:
                    site.requests.append(req)
                route = site.routes.get(self.path) or site.routes.get(urlsplit(self.path).path)
                status, headers, body = (
                    route(req) if route else (404, {"Content-Type": "text/html"}, b"<html>not found</html>")
                )
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if status != 304:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, client_address: None  # clients that time out
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> Site:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def requested(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()


# --------------------------------------------------------------------------- the fixture council


def csv_bytes(month: str, rows: int = 3, salt: str = "") -> bytes:
    lines = ["Body Name,Payment Date,Supplier Name,Amount"]
    lines += [f'Fixture Council,01/{month},Supplier {i}{salt} Ltd,"£{1000 + i:,}.50"' for i in range(rows)]
    return ("\n".join(lines) + "\n").encode("cp1252")


APRIL = csv_bytes("04/2023")
MAY_XLSX = b"PK\x03\x04" + b"not really xlsx but zip-magic" + b"\x00" * 64
SEPT = csv_bytes("09/2023")
P1_FILE = csv_bytes("01/2024")
P2_FILE = csv_bytes("02/2024")
MARCH = csv_bytes("03/2024")
FLAKY = csv_bytes("06/2023")
ZIP = zip_of(
    {"2024-q1/jan.csv": csv_bytes("01/2024", 2, "z"), "2024-q1/feb.csv": csv_bytes("02/2024", 2, "z")}
)
HUGE = csv_bytes("07/2023", rows=2000)  # ~100 kB, over the tests' DOWNLOAD_MAXSIZE
CKAN_2023 = csv_bytes("05/2023", 4, "c")
CKAN_2024 = csv_bytes("05/2024", 4, "c")


def page(title: str, links: list[tuple[str, str]]) -> Route:
    items = "\n".join(f'<li><a href="{href}">{text}</a></li>' for href, text in links)
    return html(
        f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1>"
        f"<ul>{items}</ul></body></html>"
    )


def build_council_site(site: Site) -> None:
    """Routes reproducing the structures real councils use (see tests/test_crawler.py)."""
    r = site.routes
    r["/robots.txt"] = static(b"User-agent: *\nDisallow: /private/\n", "text/plain")
    r["/spending/"] = page(
        "Spending over £500",
        [
            ("/spending/2023-24/", "2023/24"),
            ("/spending/2024-25/", "2024 to 2025"),
            ("/private/secret-spend.csv", "Internal spend extract"),
            ("/contact-us", "Contact us"),
            ("http://elsewhere.invalid/spend.csv", "Another council's spend"),
            ("/files/report.pdf", "Spending report (PDF)"),
            ("/files/leaflet.pdf", "Bin collection leaflet"),
        ],
    )
    r["/contact-us"] = page("Contact", [("/files/contact.csv", "Contact list")])
    # Year index -> month pages -> files.
    r["/spending/2023-24/"] = page(
        "2023/24",
        [
            ("/spending/2023-24/april/", "April 2023"),
            ("/spending/2023-24/may/", "May 2023"),
            ("/spending/2023-24/september/", "September 2023"),
            ("/spending/2023-24/other/", "June to August 2023"),
        ],
    )
    r["/spending/2023-24/april/"] = page(
        "April 2023",
        [
            ("/files/2023-04.csv", "April 2023 spend (CSV)"),
            ("/mirror/april-copy.csv", "April 2023 (copy)"),
            ("/spending/2023-24/april/details/", "April 2023 spend details"),
        ],
    )
    # One hop deeper than SPENDING_DEPTH=3 allows: the page is crawled, its file is not fetched.
    r["/spending/2023-24/april/details/"] = page("Details", [("/files/too-deep.csv", "April 2023 detail")])
    r["/files/too-deep.csv"] = static(csv_bytes("04/2023", 1, "deep"))
    r["/spending/2023-24/may/"] = page("May 2023", [("/download?id=5", "Download")])
    # WordPress Download Manager: the name is only in Content-Disposition.
    r["/spending/2023-24/september/"] = page(
        "September 2023", [("/?wpdmdl=44201&refresh=abc123", "Download")]
    )
    r["/spending/2023-24/other/"] = page(
        "June-August 2023",
        [
            ("/files/flaky.csv", "June 2023"),
            ("/files/missing.csv", "July 2023"),
            ("/files/slow.csv", "August 2023"),
            ("/files/error.csv", "August 2023 (corrected)"),
            ("/files/empty.csv", "August 2023 card spend"),
            ("/files/huge.csv", "August 2023 all payments"),
        ],
    )
    # Pagination.
    r["/spending/2024-25/"] = page(
        "2024 to 2025",
        [
            ("/files/2024-01.csv", "January 2024"),
            ("/spending/2024-25/?page=2", "Next"),
        ],
    )
    r["/spending/2024-25/?page=2"] = page(
        "2024 to 2025, page 2",
        [
            ("/files/2024-02.csv", "February 2024"),
            ("/old/2024-03.csv", "March 2024"),
            ("/files/2024-q1.zip", "Quarter 1 2024 (ZIP)"),
            ("/spending/2024-25/?page=3", "Next"),
        ],
    )
    # A long listing: "next page" links do not count as hops, so page 5's file is still fetched.
    for n in (3, 4, 5):
        links = [(f"/files/2024-25-p{n}.csv", f"Spend page {n}")]
        if n < 5:
            links.append((f"/spending/2024-25/?page={n + 1}", "Next"))
        r[f"/spending/2024-25/?page={n}"] = page(f"2024 to 2025, page {n}", links)
        r[f"/files/2024-25-p{n}.csv"] = static(csv_bytes("12/2024", 1, f"p{n}"))
    r["/files/2023-04.csv"] = static(APRIL)
    r["/mirror/april-copy.csv"] = static(APRIL)
    r["/download"] = static(
        MAY_XLSX, "application/octet-stream", {"Content-Disposition": 'attachment; filename="May 2023.xlsx"'}
    )
    r["/"] = static(
        SEPT, "application/octet-stream", {"Content-Disposition": 'attachment; filename="September-23.csv"'}
    )
    r["/files/2024-01.csv"] = static(P1_FILE)
    r["/files/2024-02.csv"] = static(P2_FILE)
    r["/old/2024-03.csv"] = redirect("/moved/2024-03.csv", 301)
    r["/moved/2024-03.csv"] = redirect("/files/2024-03.csv", 302)
    r["/files/2024-03.csv"] = static(MARCH)
    r["/files/2024-q1.zip"] = static(ZIP, "application/zip")
    r["/files/flaky.csv"] = flaky(static(FLAKY), failures=1)
    r["/files/slow.csv"] = slow(static(csv_bytes("08/2023")), seconds=4)
    r["/files/error.csv"] = static(
        b"<!DOCTYPE html><html><body>Sorry, page not found</body></html>", "text/csv"
    )
    r["/files/empty.csv"] = static(b"")
    r["/files/huge.csv"] = static(HUGE)
    r["/files/report.pdf"] = static(b"%PDF-1.4\n% fake pdf\n", "application/pdf")
    r["/private/secret-spend.csv"] = static(csv_bytes("01/2020"))


def ckan_packages(site: Site) -> dict[str, list[dict]]:
    def res(name: str, path: str, fmt: str) -> dict:
        return {"name": name, "url": site.url(path), "format": fmt}

    return {
        "fixture-council": [
            {
                "name": "spend-over-500-2023",
                "title": "Spend over £500 2023",
                "tags": [{"name": "spending"}],
                "resources": [
                    res("May 2023", "/ckan/files/2023-05.csv", "CSV"),
                    res("Notes", "/ckan/files/notes.pdf", "PDF"),
                ],
            },
            {
                "name": "planning-applications",
                "title": "Planning applications",
                "notes": "Weekly list",
                "resources": [res("Planning", "/ckan/files/planning.csv", "CSV")],
            },
            {
                "name": "expenditure-2024",
                "title": "Expenditure 2024",
                "notes": "Payments to suppliers",
                "resources": [res("May 2024", "/ckan/files/2024-05", "csv")],
            },
        ]
    }


def build_ckan(site: Site) -> None:
    site.routes["/api/3/action/package_search"] = ckan_search(ckan_packages(site))
    site.routes["/ckan/files/2023-05.csv"] = static(CKAN_2023)
    site.routes["/ckan/files/2024-05"] = static(CKAN_2024, "text/csv")
    site.routes["/ckan/files/planning.csv"] = static(csv_bytes("01/2024", 2, "p"))
    site.routes["/ckan/files/notes.pdf"] = static(b"%PDF-1.4", "application/pdf")


# --------------------------------------------------------------------------- council websites for discovery

NAV = [("/news/", "News"), ("/bins/", "Bins and recycling"), ("/events/", "What's on")]
SHAPES = ("deep", "hub", "sitemap", "javascript", "robots")


def _home(title: str, links: list[tuple[str, str]]) -> Route:
    return page(f"{title} – home", [*NAV, *links])


def _files(site: Site, shape: str, months: list[str]) -> list[str]:
    """Monthly CSVs under /files/<shape>/; returns their paths."""
    paths = []
    for month in months:
        path = f"/files/{shape}/{month.replace('/', '-')}.csv"
        site.routes[path] = static(csv_bytes(month, 2, shape))
        paths.append(path)
    return paths


def build_discovery_site(site: Site, shape: str, name: str = "Anytown") -> list[str]:
    """A council website of one real-world shape, its spending files reachable as a person would
    reach them. Returns the paths of the files a crawler should find ([] for ``robots``)."""
    r = site.routes
    r["/robots.txt"] = static(b"User-agent: *\nDisallow: /search\n", "text/plain")
    months = ["01/2024", "02/2024", "03/2024"]
    if shape == "deep":  # home → Your council → Budgets and finance → Payments over £500 → files
        r["/"] = _home(name, [("/your-council/", "Your council")])
        r["/your-council/"] = page(
            "Your council",
            [("/your-council/elections/", "Elections"), ("/your-council/finance/", "Budgets and finance")],
        )
        r["/your-council/finance/"] = page(
            "Budgets and finance",
            [
                ("/your-council/finance/statement/", "Statement of accounts"),
                ("/your-council/finance/payments/", "Payments over £500"),
            ],
        )
        files = _files(site, shape, months)
        r["/your-council/finance/payments/"] = page("Payments over £500", [(p, f"{p[-11:]}") for p in files])
        return files
    if shape == "hub":  # home → Transparency hub → Spending over £500 → year page → files
        r["/"] = _home(name, [("/council/transparency/", "Transparency")])
        r["/council/transparency/"] = page(
            "Transparency",
            [
                ("/council/transparency/pay/", "Pay policy"),
                ("/council/transparency/spend/", "Spending over £500"),
            ],
        )
        r["/council/transparency/spend/"] = page(
            "Spending over £500", [("/council/transparency/spend/2024/", "2024")]
        )
        files = _files(site, shape, months)
        r["/council/transparency/spend/2024/"] = page("2024", [(p, "CSV") for p in files])
        return files
    if shape == "sitemap":  # no link from the pages; the sitemap names the page
        r["/"] = _home(name, [("/contact/", "Contact us")])
        files = _files(site, shape, months)
        r["/data/expenditure-over-500/"] = page("Data", [(p, "download") for p in files])
        locs = "".join(
            f"<url><loc>{site.url(p)}</loc></url>" for p in ("/", "/contact/", "/data/expenditure-over-500/")
        )
        r["/sitemap.xml"] = static(
            f'<?xml version="1.0"?><urlset>{locs}</urlset>'.encode(), "application/xml"
        )
        return files
    if shape == "javascript":  # the page is an empty shell; its script loads a JSON file list
        r["/"] = _home(name, [("/open-data/", "Open data")])
        r["/open-data/"] = page("Open data", [("/open-data/spending-data/", "Spending data")])
        r["/open-data/spending-data/"] = html(
            "<!doctype html><html><head><title>Spending data</title></head><body><div id='app'>Loading…</div>"
            "<script>fetch('/api/spending/files?format=json').then(r => r.json()).then(render)</script>"
            "</body></html>"
        )
        files = _files(site, shape, months)
        listing = {"data": [{"title": p, "links": {"csv": p}} for p in files]}
        r["/api/spending/files"] = static(json.dumps(listing).encode(), "application/json")
        return files
    if shape == "robots":  # the page is there, but robots.txt forbids it
        r["/robots.txt"] = static(b"User-agent: *\nDisallow: /finance/\n", "text/plain")
        r["/"] = _home(name, [("/finance/spending-over-500/", "Spending over £500")])
        files = _files(site, shape, months)
        r["/finance/spending-over-500/"] = page("Spending over £500", [(p, "CSV") for p in files])
        return []
    raise ValueError(f"unknown shape {shape!r}; one of {', '.join(SHAPES)}")


def organization_autocomplete(orgs: list[dict]) -> Route:
    """CKAN ``organization_autocomplete?q=``: organizations whose title contains the query."""

    def route(req: RecordedRequest) -> Reply:
        q = req.query.get("q", [""])[0].casefold()
        hits = [o for o in orgs if q and q in o["title"].casefold()]
        body = {"success": True, "result": hits}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    return route
