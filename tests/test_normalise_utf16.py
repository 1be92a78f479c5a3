"""UTF-16 text (Excel's "Unicode Text" export, some finance systems) reads as the same content in UTF-8.

Every ASCII character in UTF-16 has a NUL byte, so NULs must be handled after decoding, not before.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from councilspend.cli import main
from councilspend.sniff import sniff, utf16_codec
from normalise.pipeline import normalise_file
from normalise.readers import read_csv_bytes

ROWS = [
    ["Payment Date", "Supplier Name", "Amount", "Expense Type", "Service Area"],
    ["01/04/2023", "Acme Ltd", "£1,234.56", "Stationery", "Highways"],
    ["02/04/2023", "Café Rouge – Leeds", "-12.30", "Catering", "Parks"],
    ["15/05/2023", "Sainsbury’s €", "99.99", "IT", "Libraries"],
    ["31/05/2023", "Zeta plc", "0.01", "Repairs", "Highways"],
]


def _text(sep: str) -> str:
    """The table as Excel writes it: CRLF line ends, a cell holding the separator quoted."""
    return "".join(sep.join(f'"{c}"' if sep in c else c for c in row) + "\r\n" for row in ROWS)


def _same_rows(tmp_path: Path, name: str, data: bytes, sep: str) -> pd.DataFrame:
    """Normalise ``data`` and the same text in UTF-8; assert the rows match, return them."""
    utf8 = tmp_path / f"utf8-{name}"
    utf8.write_bytes(_text(sep).encode("utf-8"))
    other = tmp_path / name
    other.write_bytes(data)
    want, got = normalise_file(utf8), normalise_file(other)
    assert got.kind == want.kind == "payments", got.report.get("error")
    assert got.report["warnings"] == want.report["warnings"]
    cols = [c for c in want.rows.columns if c != "source_sha256"]
    pd.testing.assert_frame_equal(got.rows[cols], want.rows[cols])
    return got.rows


def test_utf16_le_bom_tsv_gives_the_rows_of_utf8(tmp_path: Path) -> None:
    rows = _same_rows(tmp_path, "spend.txt", b"\xff\xfe" + _text("\t").encode("utf-16-le"), "\t")
    assert rows["amount"].tolist() == [1234.56, -12.30, 99.99, 0.01]
    assert rows["supplier_name"].tolist()[1:3] == ["Café Rouge – Leeds", "Sainsbury’s €"]
    assert rows["payment_date"].astype(str).tolist()[0] == "2023-04-01"


def test_utf16_be_bom_csv_gives_the_rows_of_utf8(tmp_path: Path) -> None:
    rows = _same_rows(tmp_path, "spend.csv", b"\xfe\xff" + _text(",").encode("utf-16-be"), ",")
    assert rows["amount"].tolist() == [1234.56, -12.30, 99.99, 0.01]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_read_when_plainly_text(codec: str, tmp_path: Path) -> None:
    data = _text("\t").encode(codec)
    assert sniff(data) == "csv" and utf16_codec(data) == codec
    _same_rows(tmp_path, "spend.tsv", data, "\t")


def test_nul_characters_in_utf16_are_removed_with_a_warning() -> None:
    text = _text(",").replace("Zeta", "Ze\x00ta")
    table = read_csv_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    assert "Zeta plc" in table.cells[1].tolist()
    assert table.warnings == ["1 NUL characters removed (the first on line 5)"]


def test_truncated_utf16_does_not_crash() -> None:
    data = b"\xff\xfe" + _text(",").encode("utf-16-le") + b"A"  # an odd last byte
    table = read_csv_bytes(data)
    assert table.cells.shape[0] == len(ROWS) + 1 and table.encoding == "utf-16"


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 64,
        b"\x00\x01" * 2048,  # NUL every other byte, but control characters
        b"A\x00\x00\x00" * 1024,  # NUL characters
        b"\x00" * 4096 + b"a,b\n",
    ],
)
def test_binary_is_still_refused(data: bytes) -> None:
    assert utf16_codec(data) is None
    assert sniff(data) == "binary"


def test_check_reads_a_utf16_export(tmp_path: Path) -> None:
    p = tmp_path / "spend.txt"
    p.write_bytes(b"\xff\xfe" + _text("\t").encode("utf-16-le"))
    result = CliRunner().invoke(main, ["check", "--json", str(p)])
    assert "internal error" not in result.output and "UnicodeDecodeError" not in result.output
    assert '"rows_kept": 4' in result.output, result.output
