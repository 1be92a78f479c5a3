"""Formula-leading cells made inert in Datasette's CSV export, as it streams.

Datasette writes ``.csv`` (and ``?_format=csv``) responses itself, in chunks, with no hook on the
cells, so this rewrites the stream: chunks are cut at record boundaries (a line break outside quotes),
and only the records that hold a cell starting with ``= + - @`` are re-written, with the same rule as
the ``/downloads`` CSVs (``publish.build.export.spreadsheet_safe``). The database keeps raw values.
"""

from __future__ import annotations

import codecs
import csv
import io
import re

from publish.build.export import spreadsheet_safe

#: Past this much text without a record boundary (an unbalanced quote), the text is passed on as it is
#: rather than buffered without bound.
MAX_PENDING_CHARS = 4 * 1024 * 1024
_QUOTE_OR_NEWLINE = re.compile(r'["\n]')
_CANDIDATE = re.compile(r'(?:^|[,\n])"?[=+\-@\t\r]')


class CsvFormulaFilter:
    """Feed it a CSV body's chunks; it returns the same CSV with formula-leading cells prefixed."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._pending = ""
        self._in_quotes = False  # quote parity at the end of what was already passed on

    def feed(self, data: bytes, final: bool = False) -> bytes:
        text = self._pending + self._decoder.decode(data, final)
        cut = len(text) if final else self._boundary(text)
        if cut == 0 and len(text) > MAX_PENDING_CHARS:
            cut = len(text)
        ready, self._pending = text[:cut], text[cut:]
        return _rewrite(ready).encode("utf-8")

    def _boundary(self, text: str) -> int:
        """Index just after the last line break that ends a record (outside quotes), else 0."""
        in_quotes, last = self._in_quotes, 0
        for m in _QUOTE_OR_NEWLINE.finditer(text):
            if m.group() == '"':
                in_quotes = not in_quotes
            elif not in_quotes:
                last = m.end()
        if last:
            self._in_quotes = False  # a record boundary is always outside quotes
        return last


def _rewrite(text: str) -> str:
    """Complete CSV records with formula-leading cells prefixed; untouched records stay byte-identical."""
    if not text or not _CANDIDATE.search(text):
        return text
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for line in _records(text):
        cells = next(csv.reader([line]), [])
        safe = [spreadsheet_safe(c) for c in cells]
        if safe == cells:
            out.write(line)
        else:
            writer.writerow(safe)
    return out.getvalue()


def _records(text: str):
    """Split complete CSV text into records, each with its own line ending."""
    start, in_quotes = 0, False
    for m in _QUOTE_OR_NEWLINE.finditer(text):
        if m.group() == '"':
            in_quotes = not in_quotes
        elif not in_quotes:
            yield text[start : m.end()]
            start = m.end()
    if start < len(text):
        yield text[start:]
