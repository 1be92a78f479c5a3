"""Ask a CKAN catalogue (data.gov.uk by default) for a council's spending datasets and fetch them.

``{ckan_api}package_search?fq=organization:{dgu_publisher}&rows=N&start=K``, paginated on
``result.count``; datasets are kept when their title, name, notes or tags look like spending
(``rules.yml: ckan_spend``) and their resources are downloaded when the format or URL is a
spreadsheet or ZIP.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import scrapy
from scrapy.http import Response

from crawler.items import PageVisited
from crawler.links import default_rules, url_extension
from crawler.spiders.base import CouncilSpider

DEFAULT_CKAN_API = "https://data.gov.uk/api/3/action/"


def search_url(api: str, publisher: str, rows: int, start: int) -> str:
    query = urlencode({"fq": f"organization:{publisher}", "rows": rows, "start": start}, safe=":")
    return f"{api}package_search?{query}"


def dataset_page(api: str, name: str) -> str:
    """Human page of a dataset: the site root of the API plus ``dataset/<name>``."""
    root = api.split("/api/", 1)[0].rstrip("/")
    return f"{root}/dataset/{name}"


class CkanSpider(CouncilSpider):
    name = "ckan"
    source = "ckan"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rules = default_rules()

    async def start(self):
        for council in self.councils:
            if council.get("dgu_publisher"):
                yield self.search(council, 0)

    def search(self, council: dict, start: int) -> scrapy.Request:
        api = council.get("ckan_api") or DEFAULT_CKAN_API
        rows = self.settings.getint("CKAN_ROWS", 100)
        url = search_url(api, council["dgu_publisher"], rows, start)
        meta = {"council_id": council["id"], "council": council, "start_index": start, "rows": rows,
                "start": start == 0}
        return scrapy.Request(url, callback=self.parse_search, errback=self.on_error, meta=meta,
                              headers={"Accept": "application/json"})

    def parse_search(self, response: Response):
        meta = response.meta
        council = meta["council"]
        try:
            result = json.loads(response.text)["result"]
            packages = result["results"]
            count = int(result["count"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            yield PageVisited(council["id"], response.url, self.source,
                              error=f"not a CKAN package_search answer: {exc}", start=meta.get("start"))
            return
        yield PageVisited(council["id"], response.url, self.source, start=meta.get("start"))
        api = council.get("ckan_api") or DEFAULT_CKAN_API
        for package in packages:
            if not self.is_spend(package):
                continue
            page = dataset_page(api, package.get("name") or package.get("id") or "")
            for resource in package.get("resources") or []:
                url = (resource.get("url") or "").strip()
                fmt = (resource.get("format") or "").strip().lower().lstrip(".")
                if not url.startswith(("http://", "https://")):
                    continue
                if fmt not in self.rules.ckan_formats and url_extension(url) not in self.rules.ckan_formats:
                    continue
                text = resource.get("name") or resource.get("description") or package.get("title") or ""
                yield scrapy.Request(
                    self.rules.rewrite_url(url),
                    callback=self.parse_file,
                    errback=self.on_error,
                    meta={"council_id": council["id"], "link_url": url, "link_text": " ".join(text.split()),
                          "referer": page, "file_like": True, "expect_file": True},
                )
        next_start = meta["start_index"] + meta["rows"]
        if packages and next_start < count:
            yield self.search(council, next_start)

    def parse_file(self, response: Response):
        yield self.file_item(response, response.meta)

    def is_spend(self, package: dict) -> bool:
        tags = " ".join(t.get("name", "") for t in package.get("tags") or [] if isinstance(t, dict))
        text = " ".join(str(package.get(k) or "") for k in ("title", "name", "notes"))
        return bool(self.rules.ckan_spend.search(f"{text} {tags}"))

