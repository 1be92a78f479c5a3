"""Turn a file's bytes into raw tables of text cells, whatever the format.

Every reader returns :class:`RawTable` objects: all cells as ``str`` (``""`` when empty) with the
1-based source line (CSV) or row (sheet) of every record, so that later errors and repairs can name
the row a council officer would look at. Nothing is interpreted here beyond decoding.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import AnyStr

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from councilspend.sniff import (
    SniffError,
    check_ods_safe,
    check_xlsx_safe,
    check_zip_safe,
    read_member,
    sniff,
    utf16_codec,
)
from normalise.rows import mask_unique

MAX_COLUMNS = 1000  # a spending table has tens of columns; thousands means this is not a table
MAX_ZIP_DEPTH = 1
MAX_SCAN_LINES = 30  # lines looked at to choose the delimiter


class ReadError(ValueError):
    """The file could not be read as a table; the message names the problem."""


@dataclass
class RawTable:
    cells: pd.DataFrame  # columns 0..n-1, every cell a str
    line_numbers: np.ndarray  # 1-based source line/row of each record
    sheet: str | None = None
    encoding: str | None = None
    repairs: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ascii: bool = False  # every cell is known to be ASCII (then none holds a non-breaking space)


# ---------------------------------------------------------------- text decoding and repair

_CP1252_CONT = "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(0x80, 0xC0))
_MOJIBAKE = re.compile("[\u00c2-\u00f4][" + re.escape(_CP1252_CONT) + "]{1,3}")
_C1 = re.compile("[\u0080-\u009f]")


def _cp1252_or_latin1(err: UnicodeDecodeError) -> tuple[str, int]:
    """Bytes that cp1252 leaves undefined (0x81, 0x8D, ...) decode as latin-1, not as an error."""
    return err.object[err.start : err.end].decode("latin-1"), err.end


codecs.register_error("cp1252_latin1", _cp1252_or_latin1)


def decode(data: bytes) -> tuple[str, str]:
    """Bytes -> (text, encoding). BOM first (or plain UTF-16 without one, see :func:`utf16_codec`),
    then strict UTF-8, then cp1252 (never a guesser: detectors turn `£` into `Ł` on small UK files).
    A truncated last character is replaced, as after a UTF-8 BOM, not an error."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    utf16 = utf16_codec(data)
    if utf16:
        return data.decode(utf16, errors="replace"), utf16
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="cp1252_latin1"), "cp1252"


_REPAIRS: list[tuple[re.Pattern, str]] = [
    (_MOJIBAKE, "UTF-8 text that had been decoded as cp1252 (e.g. Â£ -> £, ï»¿ -> byte-order mark)"),
    (_C1, "control characters from double-decoded cp1252 (e.g. \\x96 -> –)"),
    (re.compile("\u2020+"), "† (Mac Roman non-breaking space) -> space"),
]
# One RE2 pattern (pyarrow) that finds the cells worth a closer look: any non-ASCII C1, lead byte or †.
_SUSPECT = "[\\x{80}-\\x{9f}\\x{c2}-\\x{f4}\\x{2020}]"


def _fix_cell(text: str) -> tuple[str, list[int]]:
    """Repair one cell; return the new text and the indexes of the _REPAIRS that changed it."""
    used = []

    def utf8_as_cp1252(m: re.Match) -> str:
        try:
            return m.group(0).encode("cp1252").decode("utf-8")
        except UnicodeError:
            return m.group(0)

    def c1(m: re.Match) -> str:
        try:
            return bytes([ord(m.group(0))]).decode("cp1252")
        except UnicodeDecodeError:
            return m.group(0)

    for i, (pattern, func) in enumerate(
        zip((r[0] for r in _REPAIRS), (utf8_as_cp1252, c1, lambda m: " "), strict=True)
    ):
        new = pattern.sub(func, text)
        if new != text:
            used.append(i)
            text = new
    return text.replace("\ufeff", ""), used


def repair_cells(df: pd.DataFrame, line_numbers: np.ndarray) -> tuple[pd.DataFrame, list[dict]]:
    """Undo mojibake seen in real files, cell by cell, and report what changed on which rows:

    - UTF-8 decoded as cp1252 (``Â£`` -> ``£``, ``ï»¿`` -> BOM, then dropped);
    - C1 control characters from double-decoded cp1252 (``\\x96`` -> ``–``);
    - ``†`` (Mac Roman reading of a non-breaking space) -> space.

    A fast RE2 scan (pyarrow) picks the few suspect cells; only those are touched in Python.
    """
    rows_by_repair: dict[int, list[int]] = {}
    counts: dict[int, int] = {}
    for col in df.columns:
        s = df[col]
        if pc.all(pc.string_is_ascii(s.array._pa_array)).as_py() if hasattr(s.array, "_pa_array") else False:
            continue
        suspect = mask_unique(
            s, lambda a: pc.and_(pc.invert(pc.string_is_ascii(a)), pc.match_substring_regex(a, _SUSPECT))
        )
        idx = np.flatnonzero(suspect)
        if not len(idx):
            continue
        values = s.to_numpy(dtype=object)
        changed = False
        for i in idx:
            new, used = _fix_cell(values[i])
            if used:
                values[i] = new
                changed = True
                for u in used:
                    counts[u] = counts.get(u, 0) + 1
                    rows_by_repair.setdefault(u, []).append(int(line_numbers[i]))
        if changed:
            df[col] = pd.array(values, dtype="str")
    repairs = [
        {"repair": _REPAIRS[u][1], "count": counts[u], "rows": sorted(set(rows_by_repair[u]))[:20]}
        for u in sorted(counts)
    ]
    return df, repairs


# ---------------------------------------------------------------- CSV


def _delimiter(lines: list[str]) -> str:
    """Pick the separator that splits the first lines most consistently (comma wins ties)."""
    sample = [ln for ln in lines[:MAX_SCAN_LINES] if ln.strip()]
    best, best_score = ",", 0.0
    for sep in (",", "\t", ";", "|"):
        counts = [ln.count(sep) for ln in sample]
        if not counts or max(counts) == 0:
            continue
        common = max(set(counts), key=counts.count)
        score = common * counts.count(common) / len(counts)
        if score > best_score * 1.5 or (sep == "," and score >= best_score):
            best, best_score = sep, score
    return best


def _strip_nul(data: AnyStr) -> tuple[AnyStr, list[str]]:
    """NUL bytes (or characters) removed, with a warning naming where they were (they end C strings
    and cells early)."""
    nul, newline, what = ("\x00", "\n", "characters") if isinstance(data, str) else (b"\x00", b"\n", "bytes")
    first = data.find(nul)
    if first < 0:
        return data, []
    count = data.count(nul)
    line = data.count(newline, 0, first) + 1
    return data.replace(nul, nul[:0]), [f"{count:,} NUL {what} removed (the first on line {line})"]


def _decode_without_nul(data: bytes) -> tuple[str, str, list[str]]:
    """(text, encoding, NUL warnings). In UTF-8 and cp1252 a NUL byte is a NUL character and is
    removed before decoding; UTF-16 is decoded first, as every ASCII character in it has a NUL byte."""
    if utf16_codec(data):
        text, encoding = decode(data)
        text, warnings = _strip_nul(text)
        return text, encoding, warnings
    data, warnings = _strip_nul(data)
    text, encoding = decode(data)
    return text, encoding, warnings


def read_csv_bytes(data: bytes, sheet: str | None = None) -> RawTable:
    text, encoding, nul_warnings = _decode_without_nul(data)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    sep = _delimiter(text.split("\n", MAX_SCAN_LINES)[:MAX_SCAN_LINES])
    try:
        encoded: bytes | None = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: counted below, parsed from the str
        encoded = None
    n_lines, per_line = _separators_per_line(encoded or text.encode("utf-8", "surrogatepass"), sep)
    ncols = int(per_line.max()) + 1
    if ncols > MAX_COLUMNS:
        worst = int(np.argmax(per_line)) + 1
        raise ReadError(f"line {worst} has {ncols:,} cells: this is not a spending table")
    del per_line
    warnings: list[str] = nul_warnings
    try:
        df = _read_text(text, encoded, sep, ncols, csv.QUOTE_MINIMAL)
    except (pd.errors.ParserError, ValueError) as exc:
        # An unbalanced quote swallows the rest of the file; read quotes as plain text instead,
        # so no row is lost, and say so.
        try:
            df = _read_text(text, encoded, sep, ncols, csv.QUOTE_NONE)
        except (pd.errors.ParserError, ValueError):
            raise ReadError(f"CSV could not be split into cells: {exc}") from exc
        warnings.append(f"unbalanced quotes ({exc}); quotes were read as plain text")
        df = df.apply(lambda c: c.str.strip('"'))
    df.columns = range(df.shape[1])
    # Line numbers: one record per line, except where a quoted cell holds line breaks.
    extra = np.zeros(len(df), dtype=np.int64)
    if n_lines != len(df) and '"' in text:
        for col in df.columns:
            s = df[col]
            has = s.str.contains("\n", regex=False)
            if has.any():
                extra += s.str.count("\n").to_numpy(dtype=np.int64)
    line_numbers = np.arange(1, len(df) + 1, dtype=np.int64) + np.concatenate(([0], np.cumsum(extra)[:-1]))
    repairs: list[dict] = []
    ascii_text = text.isascii()
    if not ascii_text:
        df, repairs = repair_cells(df, line_numbers)
    return RawTable(
        df, line_numbers, sheet=sheet, encoding=encoding, repairs=repairs, warnings=warnings, ascii=ascii_text
    )


def _separators_per_line(encoded: bytes, sep: str) -> tuple[int, np.ndarray]:
    """(number of lines, separators on each line), counted with numpy on the UTF-8 bytes: splitting
    a 100k-line text into Python strings to count them cost more than parsing it. Newline and the
    separators are ASCII, so they never occur inside a multi-byte character."""
    raw = np.frombuffer(encoded, dtype=np.uint8)
    newlines = np.flatnonzero(raw == 10)
    n_lines = len(newlines) + 1
    if n_lines > 1 and encoded.endswith(b"\n"):
        n_lines -= 1  # a final line break does not start another line
    line_of_sep = np.searchsorted(newlines, np.flatnonzero(raw == ord(sep)))
    return n_lines, np.bincount(line_of_sep, minlength=n_lines)


def _read_text(text: str, encoded: bytes | None, sep: str, ncols: int, quoting: int) -> pd.DataFrame:
    # UTF-8 bytes let the C parser read the buffer directly (~20% faster than a StringIO, which it
    # pulls through Python in chunks). Text that cannot be encoded (lone surrogates) goes as str.
    source: io.IOBase = io.BytesIO(encoded) if encoded is not None else io.StringIO(text)
    return pd.read_csv(
        source,
        encoding="utf-8",
        sep=sep,
        header=None,
        names=range(ncols),
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        skip_blank_lines=False,
        engine="c",
        quoting=quoting,
    )


# ---------------------------------------------------------------- spreadsheets


def _cell_text(v: object) -> str:
    """Typed spreadsheet cell -> text. Numbers keep their shortest repr (exact pence later)."""
    if type(v) is str:  # most cells: skip the checks below
        return v
    if v is None or v == "":
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, dt.time):
        return v.strftime("%H:%M:%S")
    if isinstance(v, dt.timedelta):
        return str(v)
    return str(v)


def _float_text(v: float) -> str:
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)


def _column_text(column: tuple) -> list:
    """A sheet column's cells as text, as :func:`_cell_text` gives each: text cells pass through,
    numbers are converted inline, and a date-time's text is made once per distinct value (a column
    of payment dates holds a few dozen)."""
    stamps: dict[dt.datetime, str] = {}

    def stamp(v: dt.datetime) -> str:
        if v.tzinfo is not None:  # equal instants in other zones print differently: no sharing
            return _cell_text(v)
        text = stamps.get(v)
        if text is None:
            text = stamps[v] = _cell_text(v)
        return text

    return [
        v
        if type(v) is str
        else _float_text(v)
        if type(v) is float
        else stamp(v)
        if type(v) is dt.datetime
        else _cell_text(v)
        for v in column
    ]


def read_workbook(data: bytes) -> list[RawTable]:
    """XLS, XLSX or ODS via python-calamine: one RawTable per non-empty sheet."""
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises several unrelated types for corrupt input
        raise ReadError(f"spreadsheet could not be opened (corrupt or truncated?): {exc}") from exc
    tables = []
    for index, name in enumerate(wb.sheet_names):
        try:
            rows = wb.get_sheet_by_index(index).to_python(skip_empty_area=False)
        except Exception as exc:
            raise ReadError(f"sheet {name!r} could not be read: {exc}") from exc
        if not rows:
            continue
        width = max(len(r) for r in rows)
        if width > MAX_COLUMNS:
            raise ReadError(f"sheet {name!r} has {width:,} columns: this is not a spending table")
        # column by column (text cells pass through untouched): a third of the cost of a frame of lists
        padded = [r if len(r) == width else [*r, *([""] * (width - len(r)))] for r in rows]
        df = pd.DataFrame(
            {
                j: pd.array(_column_text(column), dtype="str")
                for j, column in enumerate(zip(*padded, strict=True))
            }
        )
        lines = np.arange(1, len(df) + 1, dtype=np.int64)
        df, repairs = repair_cells(df, lines)
        tables.append(RawTable(df, lines, sheet=name, repairs=repairs, warnings=_strip_nul_cells(df)))
    return tables


def _strip_nul_cells(df: pd.DataFrame) -> list[str]:
    """NUL characters removed from a sheet's cells in place; a warning when there were any."""
    count = 0
    for col in df.columns:
        has = df[col].str.contains("\x00", regex=False)
        if has.any():
            count += int(has.sum())
            df[col] = df[col].str.replace("\x00", "", regex=False)
    return [f"NUL characters removed from {count:,} cells"] if count else []


# ---------------------------------------------------------------- dispatch


def read_tables(data: bytes, depth: int = 0) -> tuple[str, list[RawTable]]:
    """Sniff and read. Returns (format, tables). Raises ReadError/SniffError with a plain reason."""
    fmt = sniff(data)
    if fmt == "empty":
        raise SniffError("the file is empty (0 bytes or only whitespace)")
    if fmt == "html":
        raise SniffError("the file is an HTML page (a soft 404 or login page?), not a spending table")
    if fmt == "pdf":
        raise SniffError("the file is a PDF: spending data must be published as CSV or a spreadsheet")
    if fmt == "json":
        raise SniffError("the file is JSON (a data package descriptor?), not a spending table")
    if fmt == "binary":
        raise SniffError("the file is binary data that is neither a spreadsheet nor text")
    if fmt in ("xlsx", "ods", "zip"):
        check_zip_safe(data, fmt)
    if fmt == "xlsx":
        check_xlsx_safe(data)
    if fmt == "ods":
        check_ods_safe(data)
    if fmt == "csv":
        return fmt, [read_csv_bytes(data)]
    if fmt in ("xls", "xlsx", "ods"):
        return fmt, read_workbook(data)
    if depth >= MAX_ZIP_DEPTH:
        raise SniffError("a ZIP inside a ZIP: refused")
    return "zip", _read_zip(data, depth)


def _read_zip(data: bytes, depth: int) -> list[RawTable]:
    """The tables of a ZIP of data files. Each member is inflated in capped chunks and read on its
    own: a member that lies about its size or cannot be read is named in a warning, the rest are kept."""
    tables: list[RawTable] = []
    failed: list[str] = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = [
            i
            for i in zf.infolist()
            if not i.is_dir() and not i.filename.startswith("__MACOSX/") and not i.filename.endswith(".json")
        ]
        for info in members:
            try:
                _, member_tables = read_tables(read_member(zf, info), depth + 1)
            except (SniffError, ReadError) as exc:
                failed.append(f"{info.filename}: {exc}")
                continue
            for t in member_tables:
                t.sheet = info.filename if t.sheet is None else f"{info.filename}/{t.sheet}"
            tables.extend(member_tables)
    if not tables:
        reasons = "; ".join(failed[:5])
        raise SniffError("the ZIP holds no readable data files" + (f" ({reasons})" if reasons else ""))
    if failed:
        tables[0].warnings.extend(f"ZIP member skipped: {reason}" for reason in failed)
    return tables
