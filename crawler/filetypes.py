"""Name a downloaded file and decide whether it is a spending data file at all.

Councils serve files under misleading names (an HTML error page as ``march.csv``, a CSV as
``.xls``) or none (``?download=123``), so the name comes from Content-Disposition, then the URL,
then the Content-Type, and the bytes are sniffed (``councilspend.sniff``, the same test the normaliser
applies) before anything is stored.
"""

from __future__ import annotations

import io
import re
import zipfile
from email.message import Message
from pathlib import PurePosixPath
from urllib.parse import parse_qs, unquote, urlsplit

from councilspend.sniff import sniff  # one notion of 'what these bytes are', shared with the normaliser
from crawler.links import default_rules

CONTENT_TYPE_EXT = {
    "text/csv": "csv",
    "application/csv": "csv",
    "text/comma-separated-values": "csv",
    "text/tab-separated-values": "tsv",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.ms-excel.sheet.macroenabled.12": "xlsm",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/zip": "zip",
    "application/x-zip-compressed": "zip",
    "application/pdf": "pdf",
    "text/html": "html",
}
SPREADSHEET_IN_ZIP = {"csv", "tsv", "xls", "xlsx", "xlsm", "ods"}


def name_extension(name: str) -> str:
    """Lower-case extension of a file name, no dot ('' if none)."""
    suffix = PurePosixPath(name).suffix
    return suffix[1:].lower() if suffix else ""


def content_disposition_filename(header: str | None) -> str | None:
    """``filename*=`` (RFC 5987) or ``filename=`` from a Content-Disposition header."""
    if not header:
        return None
    msg = Message()
    msg["content-disposition"] = header
    name = msg.get_filename()
    if name:
        return PurePosixPath(name.replace("\\", "/")).name.strip() or None
    return None


def file_name(url: str, content_disposition: str | None = None) -> str:
    """The file's own name: Content-Disposition, else a ``filename=`` query parameter (WordPress
    download managers), else the URL's last path segment."""
    if name := content_disposition_filename(content_disposition):
        return name
    query = parse_qs(urlsplit(url).query)
    for key in ("filename", "file", "name"):
        if query.get(key) and "." in query[key][0]:
            return PurePosixPath(query[key][0]).name
    return PurePosixPath(unquote(urlsplit(url).path)).name


def extension(name: str, content_type: str | None, body: bytes) -> str:
    """Extension to store the file under (lower case, no dot); '' when unknown."""
    rules = default_rules()
    ext = name_extension(name) if name else ""
    if ext in rules.file_extensions or ext in rules.document_extensions:
        return ext
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime in CONTENT_TYPE_EXT and CONTENT_TYPE_EXT[mime] != "html":
        return CONTENT_TYPE_EXT[mime]
    kind = sniff(body)
    if kind in ("xls", "xlsx", "ods", "zip", "pdf"):
        return kind
    if kind == "csv" and re.search(rb"[,\t;|]", body[:4096].split(b"\n", 1)[0]):
        return "tsv" if b"\t" in body[:4096].split(b"\n", 1)[0] else "csv"
    return ext


def rejection(body: bytes, ext: str, content_type: str | None) -> str | None:
    """Why these bytes are not a spending data file, or None if they may be one."""
    if not body:
        return "empty file (0 bytes)"
    kind = sniff(body)
    if kind == "empty":
        return "empty file (only white space)"
    shown = f".{ext}" if ext else "a file"
    if kind == "pdf" or ext == "pdf":
        return "PDF, not a spreadsheet"
    if kind == "html":
        return f"HTML page served as {shown} (content type {content_type or 'unknown'})"
    rules = default_rules()
    if ext not in rules.file_extensions:
        return f"not a spreadsheet file ({shown}, content type {content_type or 'unknown'})"
    if ext == "zip":
        try:
            with zipfile.ZipFile(io.BytesIO(body)) as zf:
                members = [i.filename for i in zf.infolist() if not i.is_dir()]
        except (zipfile.BadZipFile, OSError) as exc:
            return f"corrupt ZIP: {exc}"
        if not any(name_extension(m) in SPREADSHEET_IN_ZIP for m in members):
            return f"ZIP holds no CSV/TSV/XLS/XLSX/ODS (members: {', '.join(members[:5]) or 'none'})"
    return None
