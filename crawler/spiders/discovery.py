"""Find a council's spending page from its home page, as a person would, within a small budget.

Best first: the home page and ``/sitemap.xml`` are fetched, every link on the council's site is
scored by its text and URL words (``rules.yml: discovery``: 3 = the spending page, 2 = a
transparency / finance hub, 1 = "your council" navigation) and the best are fetched first (Scrapy
priority), up to ``DISCOVERY_DEPTH`` links deep and ``DISCOVERY_BUDGET`` requests per council.
A page reached by a score-3 link, URL or title is the spending page: from there the transparency
spider's own rules fetch the files. A page whose scripts name a JSON endpoint (a JavaScript page)
gets that endpoint read for file URLs. Each council ends with one ``DiscoveryResult``: found
(page, how) or failed (reason: robots.txt, budget, unreachable, nothing linked).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any
from urllib.parse import urljoin

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from crawler.items import DiscoveryResult, PageVisited
from crawler.links import LinkKind, host_allowed, url_extension
from crawler.spiders.base import describe_failure
from crawler.spiders.transparency import TransparencySpider

_LOC = re.compile(r"<loc>\s*([^<\s]+)\s*</loc>", re.IGNORECASE)
_TITLE = re.compile(r"<(title|h1)[^>]*>(.*?)</\1>", re.IGNORECASE | re.DOTALL)


class DiscoverySpider(TransparencySpider):
    name = "discovery"
    source = "page"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.by_id = {c["id"]: c for c in self.councils}
        self.spent: Counter[str] = Counter()  # discovery requests per council
        self.pending: Counter[str] = Counter()  # discovery requests not yet answered
        self.seen: dict[str, set[str]] = {c["id"]: set() for c in self.councils}
        self.done: set[str] = set()
        self.blocked: dict[str, list[str]] = {c["id"]: [] for c in self.councils}
        self.errors: dict[str, str] = {}

    @property
    def budget(self) -> int:
        return self.settings.getint("DISCOVERY_BUDGET", 25)

    async def start(self):
        for council in self.councils:
            home = council["website"]
            for request in (
                self.discover(council["id"], home, "home page", 0, 0),
                self.discover(council["id"], urljoin(home, "/sitemap.xml"), "sitemap", 0, 0),
            ):
                if request is not None:
                    yield request

    def discover(self, council_id: str, url: str, how: str, score: int, depth: int) -> scrapy.Request | None:
        """A discovery request, or None when already asked or over the council's budget."""
        if council_id in self.done or url in self.seen[council_id] or self.spent[council_id] >= self.budget:
            return None
        self.seen[council_id].add(url)
        self.spent[council_id] += 1
        self.pending[council_id] += 1
        meta = {"council_id": council_id, "how": how, "depth": depth, "discovering": True}
        return scrapy.Request(
            url,
            callback=self.parse_discovery,
            errback=self.discovery_error,
            meta=meta,
            priority=score * 10 - depth,
            dont_filter=True,
        )

    def parse_discovery(self, response: Response):
        meta = response.meta
        council_id = meta["council_id"]
        self.pending[council_id] -= 1
        if council_id in self.done:
            return
        if not isinstance(response, TextResponse):
            yield from self._maybe_fail(council_id)
            return
        if response.url.endswith(".xml") or meta["how"] == "sitemap":
            yield from self._sitemap(response, council_id)
        elif "json" in response.headers.get("Content-Type", b"").decode("latin-1").lower():
            yield from self._json_files(response, council_id)
        else:
            yield from self._page(response, council_id)
        yield from self._maybe_fail(council_id)

    def _page(self, response: Response, council_id: str):
        meta = response.meta
        yield PageVisited(council_id=council_id, url=response.url, source=self.source)
        titles = " ".join(m.group(2) for m in _TITLE.finditer(response.text[:20000]))
        if meta.get("score") == 3 or self.rules.discovery_score(response.url, titles) == 3:
            yield from self._found(response, council_id, meta["how"])
            return
        scope = self.scopes[council_id]
        for link in self.link_extractor.extract_links(response):
            text = " ".join((link.text or "").split())
            score = self.rules.discovery_score(link.url, text)
            if (
                score
                and meta["depth"] < self.settings.getint("DISCOVERY_DEPTH", 4)
                and scope.allows(link.url, LinkKind.PAGE)
            ):
                how = f'link "{text[:80]}" on {response.url}'
                request = self.discover(council_id, link.url, how, score, meta["depth"] + 1)
                if request is not None:
                    request.meta["score"] = score
                    yield request

    def _found(self, response: Response, council_id: str, how: str):
        """The spending page: record it, then crawl it as the transparency spider would."""
        endpoints = [
            urljoin(response.url, m.group(1)) for m in self.rules.json_endpoint.finditer(response.text)
        ]
        has_files = any(
            self.rules.classify(link.url, link.text or "") in (LinkKind.FILE, LinkKind.DOWNLOAD)
            for link in self.link_extractor.extract_links(response)
        )
        if endpoints and not has_files:  # a JavaScript page: its file list comes from a JSON endpoint
            for url in endpoints[:3]:
                request = self.discover(
                    council_id,
                    url,
                    f"JSON endpoint {url} on {response.url} ({how})",
                    3,
                    response.meta["depth"] + 1,
                )
                if request is not None:
                    request.meta["page"] = response.url
                    yield request
            return
        self.done.add(council_id)
        yield self._result(council_id, "found", url=response.url, found_by=how)
        response.meta.update(start=True, hops=0, calendar=0)
        yield from self.follow_links(response, council_id)

    def _json_files(self, response: Response, council_id: str):
        try:
            data = json.loads(response.text)
        except ValueError:
            return
        urls = [
            urljoin(response.url, s) for s in _strings(data) if url_extension(s) in self.rules.file_extensions
        ]
        if not urls:
            return
        self.done.add(council_id)
        page = response.meta.get("page", response.url)
        yield self._result(council_id, "found", url=page, found_by=response.meta["how"])
        for url in urls:
            if host_allowed(url, self.scopes[council_id].hosts):
                yield self.follow(url, council_id, LinkKind.FILE, link_text="", referer=page, hops=1)

    def _sitemap(self, response: Response, council_id: str):
        """Sitemap URLs whose words say spending (or a hub) are fetched, best first."""
        scored = [(self.rules.discovery_score(u, ""), u) for u in _LOC.findall(response.text)]
        for score, url in sorted((s, u) for s, u in scored if s >= 2)[::-1][:5]:
            request = self.discover(council_id, url, f"sitemap {response.url}", score, 1)
            if request is not None:
                request.meta["score"] = score
                yield request

    def discovery_error(self, failure: Failure):
        meta = failure.request.meta
        council_id = meta["council_id"]
        self.pending[council_id] -= 1
        error, _ = describe_failure(failure, self.settings)
        if error is None:
            self.blocked[council_id].append(failure.request.url)
        elif meta["how"] == "home page":
            self.errors[council_id] = f"website {failure.request.url} unreachable: {error}"
        yield from self._maybe_fail(council_id)

    def _maybe_fail(self, council_id: str):
        """Once nothing is in flight for a council that was not found, say why."""
        if council_id in self.done or self.pending[council_id] > 0:
            return
        self.done.add(council_id)
        blocked = [u for u in self.blocked[council_id] if not u.endswith("sitemap.xml")]
        if blocked:
            reason = f"robots.txt forbids {blocked[0]}"
        elif council_id in self.errors:
            reason = self.errors[council_id]
        elif self.spent[council_id] >= self.budget:
            reason = f"no spending page within the budget of {self.budget} requests"
        else:
            reason = f"no link to a spending page on {self.spent[council_id]} pages of its website"
        yield self._result(council_id, "failed", reason=reason)

    def _result(self, council_id: str, status: str, **fields: Any) -> DiscoveryResult:
        return DiscoveryResult(
            council_id=council_id, kind="page", status=status, requests=self.spent[council_id], **fields
        )


def _strings(data: Any):
    """Every string in a JSON document (file lists nest them in all sorts of shapes)."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from _strings(value)
