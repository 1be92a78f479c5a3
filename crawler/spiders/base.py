"""Shared plumbing of both spiders: council arguments, turning responses and failures into items."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import defer
from twisted.internet.error import (
    ConnectionRefusedError,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
)
from twisted.python.failure import Failure

from crawler.items import FileFound, PageVisited

try:  # Scrapy >= 2.14 wraps network errors in its own exceptions
    from scrapy.exceptions import (
        CannotResolveHostError,
        DownloadCancelledError,
        DownloadConnectionRefusedError,
        DownloadTimeoutError,
    )
except ImportError:  # pragma: no cover - older Scrapy: the Twisted errors below still apply
    CannotResolveHostError = DNSLookupError  # type: ignore[misc,assignment]
    DownloadCancelledError = defer.CancelledError  # type: ignore[misc,assignment]
    DownloadConnectionRefusedError = ConnectionRefusedError  # type: ignore[misc,assignment]
    DownloadTimeoutError = TimeoutError  # type: ignore[misc,assignment]


def _header(response: Response, name: str) -> str:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else ""


class CouncilSpider(scrapy.Spider):
    """Base class. ``councils`` is a list of registry entries (see ``crawler/councils.yml``)."""

    source = "page"

    def __init__(self, councils: Iterable[dict[str, Any]] = (), *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.councils = list(councils)

    def file_item(self, response: Response, meta: dict[str, Any]) -> FileFound:
        return FileFound(
            council_id=meta["council_id"],
            url=meta.get("link_url") or response.request.url,
            source=self.source,
            final_url=response.url,
            link_text=meta.get("link_text", ""),
            referer=meta.get("referer", ""),
            body=response.body,
            content_type=_header(response, "Content-Type"),
            content_disposition=_header(response, "Content-Disposition"),
            etag=_header(response, "ETag"),
            last_modified=_header(response, "Last-Modified"),
            from_cache="cached" in response.flags,
        )

    def on_error(self, failure: Failure):
        """Errback: a failed file becomes a ``failed``/``rejected`` row, a failed page a PageVisited."""
        request = failure.request
        meta = request.meta
        error, status = describe_failure(failure, self.settings)
        if error is None:  # robots.txt: not fetched on purpose, nothing to record as a row
            self.crawler.stats.inc_value(f"councilspend/blocked/{meta['council_id']}")
            return
        if meta.get("file_like"):
            yield FileFound(
                council_id=meta["council_id"],
                url=meta.get("link_url") or request.url,
                source=self.source,
                status=status,
                link_text=meta.get("link_text", ""),
                referer=meta.get("referer", ""),
                error=error,
            )
        else:
            yield PageVisited(
                council_id=meta["council_id"],
                url=request.url,
                source=self.source,
                error=error,
                start=bool(meta.get("start")),
            )


def describe_failure(failure: Failure, settings) -> tuple[str | None, str]:
    """(error text, manifest status) for a failed request; (None, "") if robots.txt forbade it."""
    exc = failure.value
    if isinstance(exc, HttpError):
        response = exc.response
        return f"HTTP {response.status}", "failed"
    if isinstance(exc, IgnoreRequest):
        if "robots.txt" in str(exc):
            return None, ""
        if str(exc).startswith("not modified since it was rejected"):
            return str(exc), "rejected"
        return str(exc) or "ignored", "failed"
    if isinstance(exc, DownloadCancelledError | defer.CancelledError):
        limit = settings.getint("DOWNLOAD_MAXSIZE")
        message = str(exc)
        if "max size" in message or not message:
            return f"larger than the download size limit ({limit} bytes)", "rejected"
        return f"download cancelled: {message}", "failed"
    if isinstance(exc, DownloadTimeoutError | TimeoutError | TCPTimedOutError):
        return f"timed out after {settings.getfloat('DOWNLOAD_TIMEOUT'):g} s", "failed"
    if isinstance(exc, CannotResolveHostError | DNSLookupError):
        return "DNS lookup failed", "failed"
    if isinstance(exc, DownloadConnectionRefusedError | ConnectionRefusedError):
        return "connection refused", "failed"
    return f"{type(exc).__name__}: {exc}".strip(": "), "failed"
