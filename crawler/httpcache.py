"""Scrapy's filesystem HTTP cache, minus a costly encoding guess on every stored file.

``FilesystemCacheStorage.store_response`` calls ``response.to_dict()``, which for a text response
(a CSV) with no declared charset runs charset detection over the whole body: about 70 ms for a
100 kB CSV, more CPU than everything else in the crawl together (profiled). The encoding is only
needed to decode HTML pages, and Scrapy re-derives it lazily when a cached response is read, so we
store it only when the server declared it.
"""

from __future__ import annotations

from typing import Any

from scrapy.extensions.httpcache import FilesystemCacheStorage as ScrapyFilesystemCacheStorage
from scrapy.http import HtmlResponse, Response, TextResponse


class _WithoutGuessedEncoding:
    """Read-only view of a response whose ``to_dict`` leaves out a guessed encoding."""

    def __init__(self, response: TextResponse):
        self._response = response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._response, name)

    def to_dict(self) -> dict[str, Any]:
        r = self._response
        d: dict[str, Any] = {"headers": dict(r.headers)}
        for attr in r.attributes:
            if attr not in {"request", "certificate", "encoding"}:
                d.setdefault(attr, getattr(r, attr))
        declared = getattr(r, "_declared_encoding", lambda: None)()
        if declared:
            d["encoding"] = declared
        d["_class"] = f"{type(r).__module__}.{type(r).__name__}"
        return d


class FilesystemCacheStorage(ScrapyFilesystemCacheStorage):
    def store_response(self, spider, request, response: Response) -> None:
        if isinstance(response, TextResponse) and not isinstance(response, HtmlResponse):
            response = _WithoutGuessedEncoding(response)  # type: ignore[assignment]
        super().store_response(spider, request, response)
