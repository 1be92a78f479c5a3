"""What a demo council's website is made of: pages and published files by URL (``sites.py`` builds them)."""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from demo.ledger import Council, Payment

PAGE_DATE = datetime(2026, 4, 20, 9, 0, tzinfo=UTC)
CSV_TYPE = "text/csv; charset=utf-8"
TYPES = {
    "csv": CSV_TYPE,
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "zip": "application/zip",
    "html": "text/html; charset=utf-8",
}


@dataclass
class PublishedFile:
    """One file a council links to. ``rows`` are the payments whose lines it holds."""

    council_id: str
    url: str
    file_name: str
    data: bytes
    kind: str  # payments | card | supplier_totals | html_error | robots_disallowed
    financial_year: str
    published: datetime
    rows: list[Payment] = field(default_factory=list)
    content_type: str = ""
    also_at: list[str] = field(default_factory=list)

    @property
    def counted(self) -> bool:
        """Whether the file's rows belong in the published totals (see docs/demo.md)."""
        return self.kind in ("payments", "card")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Route:
    body: bytes
    content_type: str
    last_modified: datetime
    file_name: str = ""  # set -> Content-Disposition: attachment


@dataclass
class Site:
    routes: dict[str, Route] = field(default_factory=dict)
    files: list[PublishedFile] = field(default_factory=list)
    ckan_packages: list[dict] = field(default_factory=list)
    robots_disallow: list[str] = field(default_factory=list)

    def add_page(self, url: str, title: str, body: str, council: Council | None = None) -> None:
        self.routes[url] = Route(page_html(title, body, council), TYPES["html"], PAGE_DATE)

    def add_file(self, f: PublishedFile, *, disposition: bool = False) -> PublishedFile:
        ext = f.file_name.rsplit(".", 1)[-1].lower()
        f.content_type = f.content_type or TYPES[ext]
        self.files.append(f)
        for url in [f.url, *f.also_at]:
            self.routes[url] = Route(f.data, f.content_type, f.published, f.file_name if disposition else "")
        return f


def page_html(title: str, body: str, council: Council | None) -> bytes:
    home = (
        f'<a href="/{council.slug}/">{html.escape(council.name)}</a>'
        if council
        else "Demo councils (fictional)"
    )
    nav = ""
    if council:
        nav = (
            f'<nav><a href="/{council.slug}/">Home</a> | <a href="/{council.slug}/council-tax/">Council tax</a>'
            f' | <a href="/{council.slug}/contact-us/">Contact us</a></nav>'
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n<header>{home}</header>\n{nav}\n"
        f"<main>\n<h1>{html.escape(title)}</h1>\n{body}\n</main>\n"
        "<footer><p>This is a fictional council generated for the councilspend demo.</p></footer>\n"
        "</body></html>\n"
    ).encode()


def link_item(url: str, text: str) -> str:
    return f'<li><a href="{html.escape(url)}">{html.escape(text)}</a></li>'


def size_text(data: bytes) -> str:
    return f"{max(1, round(len(data) / 1024))} KB"


def published_on(last_day: date) -> datetime:
    """Councils publish a month's data some days after it ends."""
    return datetime.combine(last_day + timedelta(days=12), datetime.min.time(), tzinfo=UTC)
