"""Serve a generated demo (``generator.generate``) on 127.0.0.1 for the crawler and the tests.

Behaves like the real servers the crawler meets: ETag and Last-Modified on every response and
304 for conditional requests (so incremental re-crawls can be tested), Content-Disposition on
``?id=`` downloads, a robots.txt, and a CKAN ``package_search`` endpoint with ``fq``/``rows``/
``start``. Every requested path is recorded in ``.requests`` (tests check that the
robots.txt-disallowed file was never fetched).
"""

from __future__ import annotations

import json
import sys
import threading
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

CKAN_PATH = "/api/3/action/package_search"


class _Handler(BaseHTTPRequestHandler):
    server: _DemoHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "DemoCouncilCMS/1.0"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature from the base class
        """Quiet: the crawler's own log says what was fetched."""

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def do_GET(self) -> None:
        self._respond(head=False)

    def _respond(self, *, head: bool) -> None:
        demo = self.server.demo
        demo.record(self.path)
        parts = urlsplit(self.path)
        if parts.path == CKAN_PATH:
            return self._send(
                HTTPStatus.OK,
                demo.ckan(parts.query, self._base_url()),
                {"Content-Type": "application/json; charset=utf-8"},
                head,
            )
        route = demo.routes.get(self.path) or demo.routes.get(parts.path)
        if route is None and not parts.path.endswith("/") and parts.path + "/" in demo.routes:
            return self._send(HTTPStatus.MOVED_PERMANENTLY, b"", {"Location": parts.path + "/"}, head)
        if route is None:
            body = b"<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>"
            return self._send(HTTPStatus.NOT_FOUND, body, {"Content-Type": "text/html; charset=utf-8"}, head)
        headers = {
            "Content-Type": route["content_type"],
            "ETag": route["etag"],
            "Last-Modified": route["last_modified"],
            "Cache-Control": "no-cache",
        }
        if route["file_name"]:
            headers["Content-Disposition"] = f'attachment; filename="{route["file_name"]}"'
        if self._not_modified(route):
            return self._send(HTTPStatus.NOT_MODIFIED, b"", headers, head=True)
        return self._send(HTTPStatus.OK, demo.body(route), headers, head)

    def _not_modified(self, route: dict) -> bool:
        """RFC 9110: If-None-Match wins over If-Modified-Since."""
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
            return "*" in tags or route["etag"] in tags
        ims = self.headers.get("If-Modified-Since")
        if ims:
            try:
                return parsedate_to_datetime(route["last_modified"]) <= parsedate_to_datetime(ims)
            except (TypeError, ValueError):
                return False
        return False

    def _base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def _send(self, status: HTTPStatus, body: bytes, headers: dict[str, str], head: bool) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if status != HTTPStatus.NOT_MODIFIED:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and status != HTTPStatus.NOT_MODIFIED:
            self.wfile.write(body)


class _DemoHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    demo: DemoServer

    def handle_error(self, request, client_address) -> None:
        """A crawler hanging up mid-download (size limit, timeout) is normal: no traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class DemoServer:
    """Context manager: ``with DemoServer(out_dir) as s: crawl(registry(s.base_url), ...)``.

    ``site_dir`` is the directory ``generator.generate`` wrote (it holds ``routes.json``).
    """

    def __init__(self, site_dir: Path, host: str = "127.0.0.1", port: int = 0):
        self.site_dir = Path(site_dir)
        routes_file = self.site_dir / "routes.json"
        if not routes_file.exists():
            raise FileNotFoundError(f"{routes_file} not found: run demo.generator.generate first")
        self.routes: dict[str, dict] = json.loads(routes_file.read_text(encoding="utf-8"))
        self.packages: list[dict] = json.loads((self.site_dir / "ckan.json").read_text(encoding="utf-8"))
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._host, self._port = host, port
        self._httpd: _DemoHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle
    def start(self) -> DemoServer:
        self._httpd = _DemoHTTPServer((self._host, self._port), _Handler)
        self._httpd.demo = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="demo-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("DemoServer is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # --- used by the handler
    def record(self, path: str) -> None:
        with self._lock:
            self.requests.append(path)

    def body(self, route: dict) -> bytes:
        return (self.site_dir / route["body"]).read_bytes()

    def ckan(self, query: str, base_url: str) -> bytes:
        """CKAN ``package_search``: ``fq=organization:<slug>``, ``rows`` (max 1000), ``start``."""
        params = parse_qs(query)
        fq = params.get("fq", [""])[0]
        org = fq.removeprefix("organization:").strip('"') if fq.startswith("organization:") else ""
        try:
            rows = min(1000, max(0, int(params.get("rows", ["10"])[0])))
            start = max(0, int(params.get("start", ["0"])[0]))
        except ValueError:
            err = {
                "success": False,
                "error": {"__type": "Validation Error", "message": "rows/start must be integers"},
            }
            return json.dumps(err).encode()
        matches = [p for p in self.packages if not org or p["organization"]["name"] == org]
        results = []
        for pkg in matches[start : start + rows]:
            pkg = json.loads(json.dumps(pkg))
            for res in pkg["resources"]:
                res["url"] = base_url + res["url"]
            results.append(pkg)
        payload = {
            "help": f"{base_url}{CKAN_PATH}",
            "success": True,
            "result": {"count": len(matches), "results": results, "sort": "score desc"},
        }
        return json.dumps(payload, ensure_ascii=False).encode("utf-8")
