"""Tell what a file is from its bytes, never its extension (Manchester's ``.xls`` is CSV text).

Also the guard against ZIP bombs: a ZIP is refused before anything is inflated when its declared
uncompressed size is too large in total or too large relative to its compressed size; members are
inflated in chunks that stop at a cap whatever the header claims (:func:`inflate`); and an XLSX's
declared dimensions, cell references and shared-string counts, and an ODS's repeated cells, are checked
against its size before a spreadsheet library allocates for them (:func:`check_xlsx_safe`,
:func:`check_ods_safe`).
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
from collections.abc import Iterator
from xml.etree import ElementTree

import numpy as np

MAX_UNCOMPRESSED = 512 * 1024 * 1024  # bytes: larger than any council file seen by far
MAX_RATIO = 200  # uncompressed / compressed; CSV compresses ~10-20x, bombs ~1000x

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CONTROL_BYTES = bytes([*range(0, 9), *range(14, 32), 127])
INFLATE_CHUNK = 1024 * 1024


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
    if utf16_codec(head):
        return "csv"  # UTF-16 text, whose every ASCII character carries a NUL byte
    # Text has almost no control bytes other than tab/CR/LF; binary garbage has many.
    # A few NUL bytes in text are stripped by the reader (with a warning); many are binary.
    sample = data[:65536]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if controls > len(sample) * 0.01:
        return "binary"
    return "csv"


UTF16_SNIFF = 1024  # bytes looked at for UTF-16 without a byte-order mark
_UTF16_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def utf16_codec(data: bytes) -> str | None:
    """The codec of UTF-16 text, else None. "utf-16" when a byte-order mark says so (Excel's "Unicode
    Text"); without one, "utf-16-le"/"-be" only when the first KB is plainly text: at least 90% of
    its high bytes NUL (Latin text), and it decodes with no NUL or control character but tab, CR, LF.
    Binary data almost never passes that, and when it did it was refused as binary before, not read."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    head = data[:UTF16_SNIFF]
    head = head[: len(head) - len(head) % 2]
    if len(head) < 4:
        return None
    for codec, high in (("utf-16-le", head[1::2]), ("utf-16-be", head[0::2])):
        if high.count(0) < 0.9 * len(high):
            continue
        try:
            text = codecs.getincrementaldecoder(codec)().decode(head, final=False)
        except UnicodeDecodeError:
            return None
        return None if _UTF16_CONTROLS.search(text) else codec
    return None


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile:
        # Truncated or corrupt: say what it was meant to be (the first member's name is at byte 30).
        head = data[:4096]
        if b"[Content_Types].xml" in head or b"xl/" in head:
            return "xlsx"
        return "ods" if b"mimetypeapplication/vnd.oasis" in head else "zip"
    if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
        return "xlsx"
    if "mimetype" in names and "content.xml" in names:
        return "ods"
    return "zip"


def check_zip_safe(data: bytes, kind: str = "zip") -> None:
    """Refuse a ZIP (or XLSX/ODS) whose members would inflate to too much, before inflating it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except zipfile.BadZipFile as exc:
        what = "ZIP container" if kind == "zip" else f"spreadsheet ({kind.upper()})"
        raise SniffError(f"the {what} is truncated or corrupt: {exc}") from exc
    total = sum(i.file_size for i in infos)
    compressed = max(1, sum(i.compress_size for i in infos))
    if total > MAX_UNCOMPRESSED:
        raise SniffError(f"refused: ZIP would inflate to {total:,} bytes (limit {MAX_UNCOMPRESSED:,})")
    if total > 10 * 1024 * 1024 and total / compressed > MAX_RATIO:
        raise SniffError(
            f"refused: ZIP compression ratio {total / compressed:.0f}:1 looks like a ZIP bomb "
            f"(limit {MAX_RATIO}:1)"
        )


def inflate(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int = MAX_UNCOMPRESSED) -> Iterator[bytes]:
    """A member's bytes in chunks of at most INFLATE_CHUNK, stopping past ``cap`` bytes whatever the
    header says (``ZipFile.read`` asks zlib for up to 2 GB at once: a member lying about its size
    inflated 2.9 MB into 2.2 GB). A wrong size or checksum is a SniffError naming the member."""
    total = 0
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(INFLATE_CHUNK):
                total += len(chunk)
                if total > cap:
                    raise SniffError(f"{info.filename}: inflates to more than {cap:,} bytes: refused")
                yield chunk
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as exc:
        raise SniffError(f"{info.filename}: corrupt member ({exc})") from exc


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int = MAX_UNCOMPRESSED) -> bytes:
    return b"".join(inflate(zf, info, cap))


MAX_CELLS = 20_000_000  # a spreadsheet library allocates for every cell of the used range
SPARSE_CELLS = 1_000_000  # above this, the range must also be justified by the sheet's size
CELLS_PER_XML_BYTE = 50
_DIMENSION = re.compile(
    rb"<(?:\w{1,10}:)?dimension\s[^>]{0,200}?ref=\"([A-Z]{0,3})(\d{0,7})(?::([A-Z]{0,3})(\d{0,7}))?"
)
_WIDE_CELL = re.compile(rb"\sr=\"([A-Z]{2,3})\d")  # columns AA and beyond: rare in spending sheets
_ROW = re.compile(rb"<(?:\w{1,10}:)?row\s[^>]{0,200}?r=\"(\d{1,7})\"")
_PLAIN_ROW = re.compile(rb"<row\s[^>]{0,200}?r=\"(\d{1,7})\"")  # _ROW where no element has a prefix
_SST = re.compile(rb"<(?:\w{1,10}:)?sst\s[^>]{0,2000}")
_SST_COUNT = re.compile(rb"\b(count|uniqueCount)=\"(\d{1,20})\"")


def _column(letters: bytes) -> int:
    n = 0
    for c in letters:
        n = n * 26 + c - 64
    return n


def check_xlsx_safe(data: bytes) -> None:
    """Inflate every member of an XLSX in capped chunks and refuse it, before a spreadsheet library
    reads it, when a sheet's used range (declared, or spanned by its cells: A1 and AMJ1048576 in a
    1.5 KB file) is too large in cells or for its size, or a shared-string count is more than the
    strings could hold. Those made the reader allocate 34-96 GB."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        declared_total = sum(i.file_size for i in infos)
        for info in infos:
            name = info.filename
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                _check_sheet(name, inflate(zf, info))
            elif name == "xl/sharedStrings.xml":
                _check_strings(name, inflate(zf, info), declared_total)
            else:
                for _ in inflate(zf, info):  # sizes and checksums of the other members
                    pass


def _check_sheet(name: str, chunks: Iterator[bytes]) -> None:
    rows = cols = size = 0
    tail = b""
    for chunk in chunks:
        text = tail + chunk
        size += len(chunk)
        if b"dimension" in text:  # a substring search first: the regex alone scans at every "<"
            for m in _DIMENSION.finditer(text):
                for letters, digits in ((m.group(1), m.group(2)), (m.group(3) or b"", m.group(4) or b"")):
                    cols, rows = max(cols, _column(letters)), max(rows, int(digits or 0))
        narrow, wide = _cell_refs(text)
        if wide:  # the regex scan only where a column past Z can be
            cols = max([cols, *(_column(c) for c in set(_WIDE_CELL.findall(text)))])
        # "<row" with no namespace prefix is found by a literal search, four times as fast
        found = (_ROW if b":row" in text else _PLAIN_ROW).findall(text)
        cols, rows = max(cols, narrow), max([rows, *map(int, found)])
        tail = text[-300:]
    cells = max(rows, 1) * max(cols, 1)
    if cells > MAX_CELLS or (cells > SPARSE_CELLS and cells > CELLS_PER_XML_BYTE * size):
        raise SniffError(
            f"{name}: the sheet spans {rows:,} rows x {cols:,} columns ({cells:,} cells) in {size:,} bytes "
            f"of XML: refused (limit {MAX_CELLS:,} cells, or {CELLS_PER_XML_BYTE} per byte)"
        )


_WHITESPACE = np.frombuffer(b" \t\n\r\f\v", dtype=np.uint8)  # what \s matches in a bytes regex


def _cell_refs(text: bytes) -> tuple[int, bool]:
    """(:func:`_narrow_columns`, whether _WIDE_CELL can match anywhere in ``text``), from one numpy
    pass over the ``r="`` attributes instead of 26 substring searches and a regex scan."""
    a = np.frombuffer(text, dtype=np.uint8)
    if len(a) < 5:
        return _narrow_columns(text), _WIDE_CELL.search(text) is not None
    at = np.flatnonzero((a[1:-3] == 0x72) & (a[2:-2] == 0x3D) & (a[3:-1] == 0x22)) + 1  # r=" at [at]
    before, letter = a[at - 1], a[at + 3]
    upper = (letter >= 0x41) & (letter <= 0x5A)
    narrow = letter[upper & (before == 0x20)]
    last = int(narrow.max()) - 0x40 if len(narrow) else 0
    two = upper & np.isin(before, _WHITESPACE) & (at + 4 < len(a))
    second = a[np.minimum(at + 4, len(a) - 1)]
    wide = bool((two & (second >= 0x41) & (second <= 0x5A)).any())
    return last, wide


def _narrow_columns(text: bytes) -> int:
    """The last of columns A-Z that a cell reference in ``text`` names (26 substring searches)."""
    for n in range(26, 0, -1):
        if b' r="' + bytes([64 + n]) in text:
            return n
    return 0


def _check_strings(name: str, chunks: Iterator[bytes], declared_total: int) -> None:
    head, size = b"", 0
    for chunk in chunks:
        if len(head) < 4096:
            head += chunk[:4096]
        size += len(chunk)
    sst = _SST.search(head)
    for key, value in _SST_COUNT.findall(sst.group(0) if sst else b""):
        limit = (size if key == b"uniqueCount" else declared_total) // 8 + 1000
        if int(value) > limit:
            raise SniffError(
                f"{name}: declares {int(value):,} shared strings ({key.decode()}) in {size:,} bytes: refused"
            )


_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_CELLS = (f"{_TABLE}table-cell", f"{_TABLE}covered-table-cell")


def check_ods_safe(data: bytes) -> None:
    """Refuse an ODS whose repeated cells with content would make the spreadsheet library allocate
    gigabytes: ``number-rows-repeated="100000"`` around ``number-columns-repeated="100"`` is 10M cells
    in 1.5 KB, and aborted the process (not an exception) under a 1.5 GB limit. Repeated *empty* cells
    (how LibreOffice writes the unused area) cost nothing and are not counted."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            if info.filename == "content.xml":
                _check_ods_content(info.filename, inflate(zf, info))


def _check_ods_content(name: str, chunks: Iterator[bytes]) -> None:
    parser = ElementTree.XMLPullParser(events=("start", "end"))
    open_elements: list[ElementTree.Element] = []
    cells = row_cells = size = 0
    try:
        for chunk in chunks:
            size += len(chunk)
            parser.feed(chunk)
            for event, elem in parser.read_events():
                if event == "start":
                    open_elements.append(elem)
                    continue
                open_elements.pop()
                if elem.tag in _CELLS:
                    if elem.get(f"{_OFFICE}value-type") or len(elem) or (elem.text or "").strip():
                        row_cells += _repeats(elem.get(f"{_TABLE}number-columns-repeated"))
                elif elem.tag == f"{_TABLE}table-row":
                    cells += row_cells * _repeats(elem.get(f"{_TABLE}number-rows-repeated"))
                    row_cells = 0
                    if cells > MAX_CELLS:
                        break
                else:
                    continue
                if open_elements:  # done with it: the document is never held whole
                    open_elements[-1].remove(elem)
            if cells > MAX_CELLS:
                break
    except ElementTree.ParseError as exc:
        raise SniffError(f"{name}: not well-formed XML ({exc})") from exc
    if cells > MAX_CELLS or (cells > SPARSE_CELLS and cells > CELLS_PER_XML_BYTE * size):
        raise SniffError(
            f"{name}: its repeated cells hold {cells:,} filled cells in {size:,} bytes of XML: refused "
            f"(limit {MAX_CELLS:,} cells, or {CELLS_PER_XML_BYTE} per byte)"
        )


def _repeats(value: str | None) -> int:
    """A repeat count attribute; absurd or malformed counts count as more than any limit."""
    if value is None:
        return 1
    return int(value) if value.isdigit() and len(value) <= 9 else MAX_CELLS + 1
