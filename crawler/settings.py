"""Scrapy settings for councilspend's crawler: polite by default, incremental via the HTTP cache.

Why these values (see docs/crawler.md): councils' sites are small and often fragile, so we crawl
slowly (AutoThrottle, at most 2 requests per host at once), say who we are in the User-Agent,
obey robots.txt, and revalidate every cached URL with a conditional GET (``Cache-Control:
max-age=0`` + ``RFC2616Policy``) so an unchanged file costs a 304, not a download.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BOT_NAME = "councilspend"
VERSION = "0.1"
DEFAULT_CONTACT = "https://github.com/councilspend/councilspend"


def user_agent() -> str:
    """``COUNCILSPEND_USER_AGENT`` wins; else name the project and ``COUNCILSPEND_CONTACT``."""
    if ua := os.environ.get("COUNCILSPEND_USER_AGENT"):
        return ua
    contact = os.environ.get("COUNCILSPEND_CONTACT", DEFAULT_CONTACT)
    return f"councilspend/{VERSION} (+{contact}; transparency spending files)"


# Settings that hold for every crawl; ``make_settings`` adds the per-crawl paths.
DEFAULTS: dict[str, Any] = {
    "BOT_NAME": BOT_NAME,
    "ROBOTSTXT_OBEY": True,
    "AUTOTHROTTLE_ENABLED": True,
    "AUTOTHROTTLE_START_DELAY": 1.0,
    "AUTOTHROTTLE_MAX_DELAY": 30.0,
    "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
    "CONCURRENT_REQUESTS": 16,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
    "DOWNLOAD_DELAY": 0.5,
    "DOWNLOAD_TIMEOUT": 60,
    "DOWNLOAD_MAXSIZE": 200 * 1024 * 1024,
    "DOWNLOAD_WARNSIZE": 50 * 1024 * 1024,
    "RETRY_ENABLED": True,
    "RETRY_TIMES": 3,
    # Exponential backoff between retries (our middleware): base * 2**(attempt-1), capped.
    "RETRY_BACKOFF_BASE": 2.0,
    "RETRY_BACKOFF_MAX": 60.0,
    # Link hops from a spending page (pagination excluded), enforced by the transparency spider;
    # DEPTH_LIMIT is only a hard stop against endless "next page" chains.
    "SPENDING_DEPTH": 4,
    "DEPTH_LIMIT": 30,
    # A chain of calendar-like URLs (rules.yml: calendar) is cut after this many steps.
    "CALENDAR_DEPTH": 3,
    # Discovery from a council's home page: requests (pages, sitemap, JSON) and link depth.
    "DISCOVERY_BUDGET": 25,
    "DISCOVERY_DEPTH": 4,
    # Per council per day (across crawls, kept in .crawl/budget-DATE.json): requests and bytes.
    "COUNCIL_DAILY_REQUESTS": 2000,
    "COUNCIL_DAILY_BYTES": 2 * 1024**3,
    "HTTPCACHE_ENABLED": True,
    "HTTPCACHE_POLICY": "scrapy.extensions.httpcache.RFC2616Policy",
    "HTTPCACHE_STORAGE": "crawler.httpcache.FilesystemCacheStorage",
    "HTTPCACHE_GZIP": True,
    # Force a conditional GET for every cached URL. NOT "no-cache": RFC2616Policy then skips validators.
    "DEFAULT_REQUEST_HEADERS": {
        "Accept": "text/html,application/xhtml+xml,text/csv,application/vnd.ms-excel,"
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,*/*;q=0.8",
        "Accept-Language": "en-GB,en;q=0.8",
        "Cache-Control": "max-age=0",
    },
    "DOWNLOADER_MIDDLEWARES": {
        "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
        "crawler.middlewares.BackoffRetryMiddleware": 550,
        # After the cache (900) on the way out, before it and the redirects on the way back.
        "crawler.budget.CouncilBudgetMiddleware": 950,
    },
    "ITEM_PIPELINES": {"crawler.pipelines.StorePipeline": 300},
    # Keep download errors for our errbacks (404 etc. become `failed` rows, not silent drops).
    "HTTPERROR_ALLOW_ALL": False,
    "TELNETCONSOLE_ENABLED": False,
    "LOG_LEVEL": "INFO",
    # Rows asked of a CKAN ``package_search`` per page (CKAN caps at 1000).
    "CKAN_ROWS": 100,
}


def make_settings(out_dir: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Settings for one crawl writing into ``out_dir`` (absolute paths: Scrapy would otherwise
    put a relative HTTPCACHE_DIR under ``.scrapy/``)."""
    out_dir = Path(out_dir).resolve()
    settings = dict(DEFAULTS)
    settings["USER_AGENT"] = user_agent()
    settings["HTTPCACHE_DIR"] = str(out_dir / "httpcache")
    settings["COUNCILSPEND_OUT_DIR"] = str(out_dir)
    settings["LOG_FILE"] = str(out_dir / ".crawl" / "scrapy.log")
    for key, value in (overrides or {}).items():
        if key == "DEFAULT_REQUEST_HEADERS":
            value = {**settings["DEFAULT_REQUEST_HEADERS"], **value}
        settings[key] = value
    return settings
