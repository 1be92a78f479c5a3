"""Reading register files: a .zip's first member or a plain file, UTF-8 (BOM ok) or cp1252, rows as dicts.

Why separate: every loader (``registers.py``, ``registers_full.py``) reads files the same way.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


class RegisterFormatError(ValueError):
    """The file is not in the format its kind expects (names the file and the missing column)."""


# --- reading ------------------------------------------------------------------------------------


@contextmanager
def _open_text(path: Path) -> Iterator[io.TextIOBase]:
    """Open a register file as text: a .zip's first member, UTF-8 (BOM ok) or else cp1252."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such register file")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            member = next(n for n in zf.namelist() if not n.endswith("/"))
            head = zf.open(member).read(4_000_000)
            encoding = _sniff_encoding(head)
            with zf.open(member) as raw:
                yield io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
        return
    with open(path, "rb") as fh:
        head = fh.read(4_000_000)
    with open(path, encoding=_sniff_encoding(head), errors="replace", newline="") as fh:
        yield fh


def _sniff_encoding(head: bytes) -> str:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            return "cp1252"
    return "utf-8-sig"


def _dict_rows(
    fh: io.TextIOBase, path: Path, required: Iterable[str], delimiter: str = ","
) -> Iterator[dict]:
    reader = csv.reader(fh, delimiter=delimiter)
    header = [h.strip().lstrip("\ufeff") for h in next(reader, [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise RegisterFormatError(f"{path}: missing column(s) {', '.join(missing)}; header is {header[:12]}")
    width = len(header)
    for row in reader:
        if not row:
            continue
        if len(row) < width:
            row = row + [""] * (width - len(row))
        yield dict(zip(header, row, strict=False))


def _header(path: Path, delimiter: str = ",") -> list[str]:
    with _open_text(path) as fh:
        first = fh.readline()
    return [h.strip().lstrip("\ufeff") for h in next(csv.reader([first], delimiter=delimiter), [])]
