"""Retry with exponential backoff.

Scrapy's RetryMiddleware re-queues a failed request at once; a council server that answered 503
because it is overloaded deserves a pause first. We tag the retry with a delay and sleep in
``process_request`` (which runs before the request takes a download slot).
"""

from __future__ import annotations

import asyncio

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.settings import BaseSettings

RETRY_DELAY_KEY = "councilspend_retry_delay"


class BackoffRetryMiddleware(RetryMiddleware):
    """RetryMiddleware whose n-th retry waits ``RETRY_BACKOFF_BASE * 2**(n-1)`` seconds (capped)."""

    def __init__(self, settings: BaseSettings):
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE", 2.0)
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX", 60.0)

    async def process_request(self, request: Request, spider=None) -> None:
        delay = request.meta.pop(RETRY_DELAY_KEY, 0)
        if delay:
            await asyncio.sleep(delay)
        return None

    def _retry(self, request: Request, reason) -> Request | None:
        new_request = super()._retry(request, reason)
        if new_request is not None:
            attempt = new_request.meta.get("retry_times", 1)
            new_request.meta[RETRY_DELAY_KEY] = min(self.backoff_base * 2 ** (attempt - 1), self.backoff_max)
        return new_request
