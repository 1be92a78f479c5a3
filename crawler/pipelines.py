"""Store fetched files by content hash and journal one record per file or page.

The journal (``<out>/.crawl/journal-<spider>.jsonl``) is appended and flushed as items arrive, so
a crawl that dies half-way still leaves a usable record; ``crawler.manifest.finalise`` merges it
into ``manifest.csv`` when the crawl ends.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

from crawler.filetypes import extension, file_name, rejection
from crawler.items import DiscoveryResult, FileFound, PageVisited

JOURNAL_DIR = ".crawl"


def store_bytes(out_dir: Path, body: bytes, ext: str) -> tuple[str, str]:
    """Write ``body`` to ``files/<sha256>.<ext>`` once (atomically); return (sha256, relative path)."""
    sha = hashlib.sha256(body).hexdigest()
    rel = f"files/{sha}.{ext}" if ext else f"files/{sha}"
    dest = out_dir / rel
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        tmp.write_bytes(body)
        tmp.replace(dest)
    return sha, rel


def file_record(item: FileFound, out_dir: Path) -> dict:
    """The manifest row for a fetched file (``status`` is settled later against the old manifest)."""
    row = {
        "url": item.url,
        "final_url": item.final_url,
        "council_id": item.council_id,
        "sha256": "",
        "bytes": "",
        "content_type": item.content_type,
        "etag": item.etag,
        "last_modified": item.last_modified,
        "fetched_at": item.fetched_at,
        "link_text": item.link_text,
        "referer": item.referer,
        "status": item.status,
        "error": item.error,
        "path": "",
        "file_name": "",
        "source": item.source,
        "superseded_by": "",
    }
    if item.status != "fetched" or item.body is None:
        return row
    body = item.body
    name = file_name(item.final_url or item.url, item.content_disposition)
    ext = extension(name, item.content_type, body)
    row["file_name"] = name
    row["bytes"] = len(body)
    if reason := rejection(body, ext, item.content_type):
        row["status"] = "rejected"
        row["error"] = reason
        return row
    row["sha256"], row["path"] = store_bytes(out_dir, body, ext)
    return row


class StorePipeline:
    """Turns spider items into stored files and journal lines."""

    def __init__(self, out_dir: Path, spider_name: str):
        self.out_dir = out_dir
        journal_dir = out_dir / JOURNAL_DIR
        journal_dir.mkdir(parents=True, exist_ok=True)
        self.journal = (journal_dir / f"journal-{spider_name}.jsonl").open("a", encoding="utf-8")
        self.discoveries = (journal_dir / f"discovery-{spider_name}.jsonl").open("a", encoding="utf-8")

    @classmethod
    def from_crawler(cls, crawler):
        out_dir = crawler.settings.get("COUNCILSPEND_OUT_DIR")
        if not out_dir:
            raise ValueError(
                "COUNCILSPEND_OUT_DIR is not set: build settings with crawler.settings.make_settings"
            )
        return cls(Path(out_dir), crawler.spidercls.name)

    def process_item(self, item, spider=None):
        if isinstance(item, DiscoveryResult):  # its own journal: the manifest merge never sees it
            self.discoveries.write(json.dumps(asdict(item), ensure_ascii=False) + "\n")
            self.discoveries.flush()
            return item
        if isinstance(item, PageVisited):
            record = {"kind": "page", **asdict(item)}
        elif isinstance(item, FileFound):
            try:
                record = {"kind": "file", **file_record(item, self.out_dir)}
            except OSError as exc:  # disk full, permissions: record, keep crawling
                record = {
                    "kind": "file",
                    **file_record(
                        FileFound(
                            item.council_id,
                            item.url,
                            item.source,
                            status="failed",
                            link_text=item.link_text,
                            referer=item.referer,
                            error=f"could not store: {exc}",
                        ),
                        self.out_dir,
                    ),
                }
        else:
            return item
        if isinstance(item, FileFound):
            item.body = None  # stored; do not keep 200 MB alive in the item
        self.journal.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.journal.flush()
        return item

    def close_spider(self, spider=None):
        self.journal.close()
        self.discoveries.close()
