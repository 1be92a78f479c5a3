"""Decide which links a council's spending pages lead to: a file, a page worth crawling, or neither.

The patterns live in ``rules.yml`` so they can grow with each council's quirks without code changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import cache
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urldefrag, urlsplit

import yaml

RULES_PATH = Path(__file__).with_name("rules.yml")


class LinkKind(Enum):
    FILE = "file"  # path ends in a spreadsheet / zip extension: download
    DOWNLOAD = "download"  # a download URL without extension: fetch, type from headers
    DOCUMENT = "document"  # a PDF/Word link that looks like spending: fetch to record a rejection
    PAGE = "page"  # a spending / year / month page: crawl
    PAGINATION = "pagination"  # next page of the same listing: crawl, does not count as a hop
    SKIP = "skip"


def _compile(patterns: list[str]) -> re.Pattern:
    bad = [p for p in patterns if not isinstance(p, str)]
    if bad:  # e.g. an unquoted YAML value ending in ':' becomes a mapping
        raise ValueError(f"patterns must be strings (quote them in YAML): {bad!r}")
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


@dataclass(frozen=True)
class LinkRules:
    file_extensions: frozenset[str]
    document_extensions: frozenset[str]
    spending: re.Pattern
    period: re.Pattern
    pagination_text: re.Pattern
    pagination_url: re.Pattern
    download_url: re.Pattern
    download_text: re.Pattern
    deny: re.Pattern
    rewrite: tuple[tuple[re.Pattern, str], ...]
    ckan_spend: re.Pattern
    ckan_formats: frozenset[str]
    spending_page: re.Pattern  # discovery: the spending page itself
    hub: re.Pattern  # discovery: a transparency / finance hub on the way
    nav: re.Pattern  # discovery: "about the council" navigation
    json_endpoint: re.Pattern  # discovery: a JSON file list named in a page's scripts
    calendar: re.Pattern  # calendar-like URLs, cut after CALENDAR_DEPTH steps

    @classmethod
    def from_yaml(cls, path: Path = RULES_PATH) -> LinkRules:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        try:
            return cls(
                file_extensions=frozenset(e.lower() for e in raw["file_extensions"]),
                document_extensions=frozenset(e.lower() for e in raw["document_extensions"]),
                spending=_compile(raw["spending"]),
                period=_compile(raw["period"]),
                pagination_text=_compile(raw["pagination_text"]),
                pagination_url=_compile(raw["pagination_url"]),
                download_url=_compile(raw["download_url"]),
                download_text=_compile(raw["download_text"]),
                deny=_compile(raw["deny"]),
                rewrite=tuple((re.compile(p, re.IGNORECASE), r) for p, r in raw.get("rewrite", [])),
                ckan_spend=_compile(raw["ckan_spend"]),
                ckan_formats=frozenset(f.lower() for f in raw["ckan_formats"]),
                spending_page=_compile(raw["discovery"]["spending_page"]),
                hub=_compile(raw["discovery"]["hub"]),
                nav=_compile(raw["discovery"]["nav"]),
                json_endpoint=_compile(raw["discovery"]["json_endpoint"]),
                calendar=_compile(raw["calendar"]),
            )
        except (KeyError, TypeError, ValueError, re.error) as exc:
            raise ValueError(f"{path}: bad link rules: {exc}") from exc

    def rewrite_url(self, url: str) -> str:
        url = urldefrag(url)[0]
        for pattern, replacement in self.rewrite:
            url = pattern.sub(replacement, url)
        return url

    def classify(self, url: str, text: str) -> LinkKind:
        """What to do with a link (already known to be on one of the council's hosts)."""
        if self.deny.search(url):
            return LinkKind.SKIP
        path = unquote(urlsplit(url).path)
        ext = url_extension(url)
        if ext in self.file_extensions:
            return LinkKind.FILE
        haystack = f"{text} {path}"
        if ext in self.document_extensions:
            return LinkKind.DOCUMENT if self.spending.search(haystack) else LinkKind.SKIP
        if self.download_url.search(url) or self.download_text.search(text):
            return LinkKind.DOWNLOAD
        if self.pagination_text.search(text) or self.pagination_url.search(url):
            return LinkKind.PAGINATION
        if self.spending.search(haystack) or self.period.search(text):
            return LinkKind.PAGE
        return LinkKind.SKIP

    def discovery_score(self, url: str, text: str) -> int:
        """3 = looks like the spending page, 2 = a hub on the way, 1 = navigation, 0 = not worth it."""
        if self.deny.search(url):
            return 0
        haystack = f"{text} {unquote(urlsplit(url).path)}"
        for score, pattern in ((3, self.spending_page), (2, self.hub), (1, self.nav)):
            if pattern.search(haystack):
                return score
        return 0


def url_extension(url: str) -> str:
    """Lower-case extension of the URL's last path segment ('' if none)."""
    suffix = PurePosixPath(unquote(urlsplit(url).path)).suffix
    return suffix[1:].lower() if suffix else ""


def host_allowed(url: str, hosts: frozenset[str]) -> bool:
    """True if the URL's host is one of ``hosts`` or a subdomain of one (``www.`` ignored)."""
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
    return any(host == h or host.endswith("." + h) for h in hosts)


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().removeprefix("www.")


@dataclass(frozen=True)
class CouncilScope:
    """Where one council's crawl may go.

    Files may be fetched from any of the council's hosts. Pages may be crawled anywhere on the
    council's own site (``website``, ``domains``), but on a host that only appears in
    ``spending_pages`` (a shared portal such as Data Mill North or GitHub) only under that page's
    path: otherwise Leeds' crawl would wander into Sheffield's datasets on the same portal.
    """

    hosts: frozenset[str]
    own_hosts: frozenset[str]
    shared_prefixes: tuple[tuple[str, str], ...]

    def allows(self, url: str, kind: LinkKind) -> bool:
        if not host_allowed(url, self.hosts):
            return False
        if kind not in (LinkKind.PAGE, LinkKind.PAGINATION) or host_allowed(url, self.own_hosts):
            return True
        host, path = _host(url), unquote(urlsplit(url).path)
        return any(host == h and path.startswith(prefix) for h, prefix in self.shared_prefixes)


def council_scope(council: dict) -> CouncilScope:
    own = {_host(council.get("website") or "")} | {
        d.lower().removeprefix("www.") for d in council.get("domains") or []
    }
    own.discard("")
    own_hosts = frozenset(own)
    prefixes = tuple(
        (_host(u), unquote(urlsplit(u).path).rstrip("/") or "/")
        for u in council.get("spending_pages") or []
        if not host_allowed(u, own_hosts)
    )
    return CouncilScope(council_hosts(council), own_hosts, prefixes)


def council_hosts(council: dict) -> frozenset[str]:
    """The hosts a council's crawl may visit: website, spending pages and ``domains``."""
    urls = [council.get("website") or "", *(council.get("spending_pages") or [])]
    hosts = {(urlsplit(u).hostname or "").lower().removeprefix("www.") for u in urls if u}
    hosts |= {d.lower().removeprefix("www.") for d in council.get("domains") or []}
    hosts.discard("")
    return frozenset(hosts)


@cache
def default_rules() -> LinkRules:
    return LinkRules.from_yaml()
