"""Tell what a file is from its bytes, never its extension (Manchester's ``.xls`` is CSV text).

Also the guard against ZIP bombs: a ZIP is refused before anything is inflated when its declared
uncompressed size is too large in total or too large relative to its compressed size.
"""

from __future__ import annotations

import io
import zipfile

MAX_UNCOMPRESSED = 512 * 1024 * 1024  # bytes: larger than any council file seen by far
MAX_RATIO = 200  # uncompressed / compressed; CSV compresses ~10-20x, bombs ~1000x

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CONTROL_BYTES = bytes([*range(0, 9), *range(14, 32), 127])


class SniffError(ValueError):
    """The file cannot be read as spending data; the message says why in plain words."""


def sniff(data: bytes) -> str:
    """Return one of csv, xls, xlsx, ods, zip, html, pdf, json, empty, binary."""
    if not data.strip():
        return "empty"
    head = data[:4096]
    if head.startswith(OLE2):
        return "xls"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_kind(data)
    if head.startswith(b"%PDF"):
        return "pdf"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or (
        text.startswith(b"<") and b"<html" in text
    ):
        return "html"
    if text.startswith((b"{", b"[")):
        return "json"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "csv"  # UTF-16 text with a BOM
    # Text has almost no control bytes other than tab/CR/LF; binary garbage has many.
    sample = data[:65536]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if b"\x00" in sample or controls > len(sample) * 0.01:
        return "binary"
    return "csv"


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile:
        return "binary"
    if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
        return "xlsx"
    if "mimetype" in names and "content.xml" in names:
        return "ods"
    return "zip"


def check_zip_safe(data: bytes) -> None:
    """Refuse a ZIP (or XLSX/ODS) whose members would inflate to too much, before inflating it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except zipfile.BadZipFile as exc:
        raise SniffError(f"corrupt or truncated ZIP container: {exc}") from exc
    total = sum(i.file_size for i in infos)
    compressed = max(1, sum(i.compress_size for i in infos))
    if total > MAX_UNCOMPRESSED:
        raise SniffError(f"refused: ZIP would inflate to {total:,} bytes (limit {MAX_UNCOMPRESSED:,})")
    if total > 10 * 1024 * 1024 and total / compressed > MAX_RATIO:
        raise SniffError(
            f"refused: ZIP compression ratio {total / compressed:.0f}:1 looks like a ZIP bomb "
            f"(limit {MAX_RATIO}:1)"
        )
