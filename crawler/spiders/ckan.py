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

from crawler.items import DiscoveryResult, PageVisited
from crawler.links import default_rules, url_extension
from crawler.spiders.base import CouncilSpider

DEFAULT_CKAN_API = "https://data.gov.uk/api/3/action/"


def _norm(name: str) -> str:
    from crawler.registry import _norm as norm  # one notion of "the same council name"

    return norm(name)


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
            elif council.get("ckan_lookup"):
                yield self.lookup(council)

    def lookup(self, council: dict) -> scrapy.Request:
        """Find the council's publisher by name (``organization_autocomplete``), not a typed slug."""
        api = council.get("ckan_api") or DEFAULT_CKAN_API
        query = council.get("nice_name") or council["name"]
        url = f"{api}organization_autocomplete?{urlencode({'q': query, 'limit': 20})}"
        meta = {"council_id": council["id"], "council": council, "query": query}
        return scrapy.Request(
            url,
            callback=self.parse_lookup,
            errback=self.lookup_error,
            meta=meta,
            headers={"Accept": "application/json"},
        )

    def parse_lookup(self, response: Response):
        council, query = response.meta["council"], response.meta["query"]
        try:
            orgs = json.loads(response.text)["result"]
            choices = [(o["name"], o.get("title") or o["name"]) for o in orgs]
        except (ValueError, KeyError, TypeError) as exc:
            yield DiscoveryResult(
                council["id"],
                "ckan",
                "failed",
                requests=1,
                reason=f"not a CKAN organization_autocomplete answer: {exc}",
            )
            return
        wanted = {_norm(n) for n in (council["name"], council.get("nice_name") or "") if n}
        match = next(
            (c for c in choices if _norm(c[1]) in wanted or _norm(c[0].replace("-", " ")) in wanted), None
        )
        if match is None:
            seen = ", ".join(t for _, t in choices[:5]) or "nothing"
            yield DiscoveryResult(
                council["id"],
                "ckan",
                "failed",
                requests=1,
                reason=f"no organization named like {query!r} (catalogue offered: {seen})",
            )
            return
        yield DiscoveryResult(
            council["id"],
            "ckan",
            "found",
            url=match[0],
            requests=1,
            found_by=f"organization_autocomplete {query!r} → {match[1]!r}",
        )
        yield self.search({**council, "dgu_publisher": match[0]}, 0)

    def lookup_error(self, failure):
        from crawler.spiders.base import describe_failure

        error, _ = describe_failure(failure, self.settings)
        yield DiscoveryResult(
            failure.request.meta["council_id"],
            "ckan",
            "failed",
            requests=1,
            reason=f"catalogue lookup failed: {error or 'robots.txt forbids it'}",
        )

    def search(self, council: dict, start: int) -> scrapy.Request:
        api = council.get("ckan_api") or DEFAULT_CKAN_API
        rows = self.settings.getint("CKAN_ROWS", 100)
        url = search_url(api, council["dgu_publisher"], rows, start)
        meta = {
            "council_id": council["id"],
            "council": council,
            "start_index": start,
            "rows": rows,
            "start": start == 0,
        }
        return scrapy.Request(
            url,
            callback=self.parse_search,
            errback=self.on_error,
            meta=meta,
            headers={"Accept": "application/json"},
        )

    def parse_search(self, response: Response):
        meta = response.meta
        council = meta["council"]
        try:
            result = json.loads(response.text)["result"]
            packages = result["results"]
            count = int(result["count"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            yield PageVisited(
                council["id"],
                response.url,
                self.source,
                error=f"not a CKAN package_search answer: {exc}",
                start=meta.get("start"),
            )
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
                    meta={
                        "council_id": council["id"],
                        "link_url": url,
                        "link_text": " ".join(text.split()),
                        "referer": page,
                        "file_like": True,
                        "expect_file": True,
                    },
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
