"""What the spiders yield. Spiders only find and fetch; ``pipelines.StorePipeline`` stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

FETCHED_AT_FORMAT = "%Y-%m-%dT%H:%M:%S%z"  # as in manifest.schema.yaml


def now() -> str:
    return datetime.now(UTC).strftime(FETCHED_AT_FORMAT)


@dataclass
class FileFound:
    """A file link that was fetched (``status='fetched'``) or could not be (``rejected``/``failed``)."""

    council_id: str
    url: str
    source: str  # "page" or "ckan"
    status: str = "fetched"
    final_url: str = ""
    link_text: str = ""
    referer: str = ""
    body: bytes | None = field(default=None, repr=False)
    content_type: str = ""
    content_disposition: str = ""
    etag: str = ""
    last_modified: str = ""
    from_cache: bool = False
    error: str = ""
    fetched_at: str = field(default_factory=now)


@dataclass
class PageVisited:
    """A crawled HTML page (or a catalogue API page); ``error`` set when it could not be fetched."""

    council_id: str
    url: str
    source: str
    error: str = ""
    start: bool = False  # one of the council's own spending pages / catalogue queries


@dataclass
class DiscoveryResult:
    """Where a council's spending page (``kind='page'``) or catalogue publisher (``kind='ckan'``) was
    found, or why it was not: stored in ``discovery.csv`` so the next crawl starts from it."""

    council_id: str
    kind: str  # "page" or "ckan"
    status: str  # "found" or "failed"
    url: str = ""  # the spending page, or the CKAN organization's name
    found_by: str = ""  # how: 'link "Spending over £500" on https://…', 'sitemap', 'JSON endpoint …'
    reason: str = ""  # why not found
    requests: int = 0  # discovery requests spent on this council
    checked_at: str = field(default_factory=now)
