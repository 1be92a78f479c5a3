"""Limits per council, as a downloader middleware: what a national crawl must never do to one site.

* a daily budget of requests and bytes per council, kept across crawls in
  ``.crawl/budget-<date>.json`` (an interrupted and re-run crawl does not start the day afresh);
* a redirect loop (A → B → A) is stopped at the first repeat and becomes an error naming the chain
  (Scrapy's duplicate filter used to drop it silently: no manifest row);
* a URL rejected before (HTML as .csv, too big, …) is asked for with its validators; a 304 keeps
  it rejected without downloading it again.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path
from urllib.parse import urljoin

from scrapy import Request, signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from crawler.manifest import read_manifest

REDIRECTS = (301, 302, 303, 307, 308)
STILL_REJECTED = "not modified since it was rejected"


class CouncilBudgetMiddleware:
    def __init__(self, out_dir: Path, max_requests: int, max_bytes: int):
        self.path = out_dir / ".crawl" / f"budget-{date.today().isoformat()}.json"
        saved = json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}
        self.requests: Counter[str] = Counter(saved.get("requests", {}))
        self.bytes: Counter[str] = Counter(saved.get("bytes", {}))
        self.max_requests, self.max_bytes = max_requests, max_bytes
        manifest = out_dir / "manifest.csv"
        self.rejected = {
            (r["council_id"], r["url"]): r
            for r in read_manifest(manifest)
            if r["status"] == "rejected" and (r["etag"] or r["last_modified"])
        }

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        mw = cls(
            Path(s["COUNCILSPEND_OUT_DIR"]),
            s.getint("COUNCIL_DAILY_REQUESTS"),
            s.getint("COUNCIL_DAILY_BYTES"),
        )
        crawler.signals.connect(mw.save, signal=signals.spider_closed)
        return mw

    def process_request(self, request: Request, spider=None) -> None:
        council = request.meta.get("council_id")
        if not council:
            return None
        if self.requests[council] >= self.max_requests or self.bytes[council] >= self.max_bytes:
            raise IgnoreRequest(
                f"daily budget spent for {council} ({self.requests[council]} requests, "
                f"{self.bytes[council]} bytes today)"
            )
        self.requests[council] += 1
        old = self.rejected.get((council, request.meta.get("link_url") or request.url))
        if old and not (request.headers.get("If-None-Match") or request.headers.get("If-Modified-Since")):
            if old["etag"]:
                request.headers["If-None-Match"] = old["etag"]
            if old["last_modified"]:
                request.headers["If-Modified-Since"] = old["last_modified"]
            request.meta["councilspend_rejected"] = old["error"]
        return None

    def process_response(self, request: Request, response: Response, spider=None) -> Response:
        council = request.meta.get("council_id")
        if council:
            self.bytes[council] += len(response.body)
        if response.status in REDIRECTS and response.headers.get("Location"):
            target = urljoin(request.url, response.headers["Location"].decode("latin-1"))
            chain = [*request.meta.get("redirect_urls", []), request.url]
            if target in chain:
                raise IgnoreRequest(f"redirect loop: {' → '.join([*chain, target])}")
        if response.status == 304 and "councilspend_rejected" in request.meta:
            raise IgnoreRequest(f"{STILL_REJECTED}: {request.meta['councilspend_rejected']}")
        return response

    def save(self, spider=None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"requests": self.requests, "bytes": self.bytes}), encoding="utf-8")
        tmp.replace(self.path)
