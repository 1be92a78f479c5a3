"""Download the official bulk registers into the registers database (``registers fetch KIND``).

Why its own module: the files are large (Companies House is ~450 MB zipped) and the links are
flaky, so a download resumes where it stopped (HTTP Range on a ``.part`` file), is checked for size
(``Content-Length``/``Content-Range`` and a floor per source) and content (zip members, CSV header)
before anything is loaded, and fails with a message that names the URL when the network is down.
Sources are data: ``fetch_sources.yml``.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from normalise.suppliers.register_files import _header
from normalise.suppliers.registers import delete_register, load_register

SOURCES_FILE = Path(__file__).resolve().parent / "fetch_sources.yml"
CHUNK = 1 << 20
_RANGE_TOTAL = re.compile(r"/(\d+)\s*$")


class FetchError(Exception):
    """A download that cannot be completed or whose file is not the register it claims to be."""


@dataclass(frozen=True)
class Fetched:
    kind: str
    url: str
    path: Path
    size: int
    resumed_from: int
    rows: int


@lru_cache(maxsize=1)
def sources() -> dict[str, dict]:
    with open(SOURCES_FILE, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def default_url(kind: str, today: dt.date | None = None) -> str:
    """The publisher's URL for ``kind`` this month, or a FetchError saying where to find one."""
    src = _source(kind)
    if not src.get("url"):
        raise FetchError(
            f"{kind}: the publisher's file name changes with each release; pass --url "
            f"with the current link from {src['page']}"
        )
    today = today or dt.date.today()
    return src["url"].format(month=today.replace(day=1).isoformat(), today=today.strftime("%Y%m%d"))


def fetch(
    kind: str,
    db: Path,
    *,
    url: str | None = None,
    dest_dir: Path = Path("data/registers"),
    progress: Callable[[int, int | None], None] | None = None,
    replace: bool = True,
    timeout: float = 60.0,
) -> Fetched:
    """Download ``kind`` (resuming a partial file), check it, and load it into ``db``."""
    src = _source(kind)
    url = url or default_url(kind)
    dest_dir.mkdir(parents=True, exist_ok=True)
    name = (
        Path(urllib.request.url2pathname(url.split("?", 1)[0].rsplit("/", 1)[-1])).name or f"{kind}.download"
    )
    path = dest_dir / name
    part = path.with_name(path.name + ".part")
    start = part.stat().st_size if part.exists() else 0
    size = _download(url, part, start, progress, timeout)
    if url == default_url_or_none(kind) and size < int(src.get("min_bytes") or 0):
        raise FetchError(
            f"{url}: {size:,} bytes, expected at least {src['min_bytes']:,} (truncated or an error page)"
        )
    _check_content(kind, src, part, url)
    part.replace(path)
    if replace:
        delete_register(src["load"], db)
    rows = load_register(src["load"], path, db)
    return Fetched(kind, url, path, size, start, rows)


def default_url_or_none(kind: str) -> str | None:
    try:
        return default_url(kind)
    except FetchError:
        return None


def _source(kind: str) -> dict:
    if kind not in sources():
        raise FetchError(f"unknown register {kind!r}; choose one of {', '.join(sources())}")
    return sources()[kind]


def _download(url: str, part: Path, start: int, progress, timeout: float) -> int:
    """Stream ``url`` into ``part`` from byte ``start``; returns the final size, checked against the server's."""
    request = urllib.request.Request(url, headers={"User-Agent": "councilspend registers fetch"})
    if start:
        request.add_header("Range", f"bytes={start}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start:  # nothing left to fetch: the part file is complete
            return start
        raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(
            f"{url}: cannot connect ({reason}); are you offline? Download the file by other "
            f"means and run `councilspend registers load`, or pass --url"
        ) from exc
    with response:
        if response.status == 206:
            m = _RANGE_TOTAL.search(response.headers.get("Content-Range", ""))
            total = int(m.group(1)) if m else None
            mode = "ab"
        else:  # the server ignored the range: start again
            start, mode = 0, "wb"
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        done = start
        try:
            with open(part, mode) as out:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
        except OSError as exc:
            raise FetchError(
                f"{url}: connection lost after {done:,} bytes ({exc}); run again to resume"
            ) from exc
    if total is not None and done != total:
        raise FetchError(f"{url}: got {done:,} of {total:,} bytes; run again to resume")
    if done == 0:
        raise FetchError(f"{url}: empty file")
    return done


def _check_content(kind: str, src: dict, part: Path, url: str) -> None:
    """The download is the register it claims to be: a zip with the expected member, or a CSV whose
    header has the expected columns (an HTML error page fails both)."""
    if src.get("zip"):
        if not zipfile.is_zipfile(part):
            raise FetchError(f"{url}: not a zip archive (an error page?); {kind} is published as a zip")
        with zipfile.ZipFile(part) as zf:
            members = zf.namelist()
            bad = zf.testzip()
        if bad:
            raise FetchError(f"{url}: zip member {bad} is corrupt")
        wanted = src.get("members") or []
        if not any(w.lower() in m.lower() for w in wanted for m in members):
            raise FetchError(f"{url}: zip holds {members[:5]}, expected a member named like {wanted}")
        return
    delimiter = "\t" if part.name.endswith((".txt.part", ".tsv.part")) else ","
    try:
        header = {_column(h) for h in _header(part, delimiter)}
    except (ValueError, UnicodeDecodeError) as exc:
        raise FetchError(f"{url}: {exc}") from exc
    missing = [c for c in src.get("columns") or [] if _column(c) not in header]
    if missing:
        raise FetchError(f"{url}: header has no {', '.join(missing)} column; not the {kind} register")


def _column(name: str) -> str:
    """ "Registration number" = "registration_number": publishers' CSV and derived copies differ in style."""
    return re.sub(r"[\s_]+", " ", name.strip().lower())
