"""Crawl each council's spending pages and fetch the files they link to.

From every spending page we follow links that look like spending (words in ``rules.yml``), year,
month and pagination links, on the council's own hosts, up to ``SPENDING_DEPTH`` link hops from the
spending page (a "next page" link is not a hop: a listing may run to dozens of pages; Scrapy's
``DEPTH_LIMIT`` stays as a hard stop); and we fetch links
to spreadsheets (by extension) and download URLs (``?download=``, ``?wpdmdl=``), whose type then
comes from Content-Type / Content-Disposition.
"""

from __future__ import annotations

from typing import Any

import scrapy
from scrapy.http import HtmlResponse, Response
from scrapy.linkextractors import LinkExtractor

from crawler.items import PageVisited
from crawler.links import LinkKind, council_scope, default_rules
from crawler.spiders.base import CouncilSpider


class TransparencySpider(CouncilSpider):
    name = "transparency"
    source = "page"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rules = default_rules()
        # deny_extensions=[]: the default drops .xls/.xlsx/.ods/.zip links, i.e. the files we want.
        self.link_extractor = LinkExtractor(deny_extensions=[], unique=True)
        self.scopes = {c["id"]: council_scope(c) for c in self.councils}

    @property
    def max_hops(self) -> int:
        return self.settings.getint("SPENDING_DEPTH", 4)

    async def start(self):
        for council in self.councils:
            for url in council.get("spending_pages") or []:
                yield self.follow(url, council["id"], LinkKind.PAGE, link_text="", referer="", start=True)

    def follow(
        self,
        url: str,
        council_id: str,
        kind: LinkKind,
        *,
        link_text: str,
        referer: str,
        start: bool = False,
        hops: int = 0,
        calendar: int = 0,
    ) -> scrapy.Request:
        meta: dict[str, Any] = {
            "council_id": council_id,
            "link_url": url,
            "link_text": link_text,
            "referer": referer,
            "expect_file": kind in (LinkKind.FILE, LinkKind.DOCUMENT),
            "file_like": kind in (LinkKind.FILE, LinkKind.DOCUMENT, LinkKind.DOWNLOAD),
            "start": start,
            "hops": hops,
            "calendar": calendar,
        }
        headers = {"Referer": referer} if referer else None
        return scrapy.Request(url, callback=self.parse, errback=self.on_error, meta=meta, headers=headers)

    def parse(self, response: Response):
        meta = response.meta
        council_id = meta["council_id"]
        if meta.get("expect_file") or not self._is_page(response):
            yield self.file_item(response, meta)
            return
        yield PageVisited(
            council_id=council_id, url=response.url, source=self.source, start=meta.get("start")
        )
        yield from self.follow_links(response, council_id)

    def follow_links(self, response: Response, council_id: str):
        """Requests for the spending links on a page. A chain of calendar-like URLs (``?month=…``)
        is cut after ``CALENDAR_DEPTH`` steps: an endless "next month" once cost 14,777 requests."""
        meta = response.meta
        scope = self.scopes[council_id]
        hops = meta.get("hops", 0)
        max_calendar = self.settings.getint("CALENDAR_DEPTH", 3)
        for link in self.link_extractor.extract_links(response):
            url = self.rules.rewrite_url(link.url)
            text = " ".join((link.text or "").split())
            kind = self.rules.classify(url, text)
            next_hops = hops if kind is LinkKind.PAGINATION else hops + 1
            if kind is LinkKind.SKIP or next_hops > self.max_hops or not scope.allows(url, kind):
                continue
            calendar = meta.get("calendar", 0) + 1 if self.rules.calendar.search(url) else 0
            if calendar > max_calendar and kind in (LinkKind.PAGE, LinkKind.PAGINATION):
                self.crawler.stats.inc_value(f"councilspend/calendar_cut/{council_id}")
                continue
            yield self.follow(
                url, council_id, kind, link_text=text, referer=response.url, hops=next_hops, calendar=calendar
            )

    @staticmethod
    def _is_page(response: Response) -> bool:
        disposition = (response.headers.get("Content-Disposition") or b"").lower()
        return isinstance(response, HtmlResponse) and not disposition.startswith(b"attachment")
