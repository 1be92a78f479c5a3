"""Hostile files (issue 17): each is a few KB made here, and each must end with its good rows or an error
naming the problem, without allocating gigabytes or backtracking for minutes.

The allocation bombs run in a child process with a 1.5 GB address-space limit, so a regression fails
the test instead of taking the test run down.
"""

from __future__ import annotations

import io
import json
import resource
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from councilspend.sniff import SniffError, check_ods_safe, check_xlsx_safe, read_member, sniff
from normalise.amounts import AMBIGUOUS, parse_pence
from normalise.header import threshold_from
from normalise.readers import ReadError, read_tables

GOOD = (
    b"Date,Supplier,Amount,Expense Type\n01/04/2024,Acme Ltd,1200.00,Fees\n02/04/2024,Beta Ltd,900.00,Fees\n"
)
MEMORY_LIMIT = 1536 * 1024 * 1024


def _xlsx(cells: dict[str, str]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    for ref, value in cells.items():
        wb.active[ref] = value
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _patched(data: bytes, member: str, patch) -> bytes:
    """A copy of a ZIP with one member's XML text changed by ``patch``."""
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            dst.writestr(info.filename, patch(body) if info.filename == member else body)
    return out.getvalue()


def sparse_xlsx() -> bytes:
    return _xlsx({"A1": "Supplier", "AMJ1048576": "x"})


def huge_string_count_xlsx() -> bytes:
    """A workbook with shared strings (openpyxl writes none), whose count is 4 billion."""
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    members = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName='
        '"/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.'
        'main+xml"/></Types>',
        "_rels/.rels": f'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'relationships"><Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
        f"</Relationships>",
        "xl/workbook.xml": f'<?xml version="1.0"?><workbook {ns} xmlns:r="{rel}"><sheets><sheet name="S" '
        f'sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.'
        f'org/package/2006/relationships"><Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/'
        f'sheet1.xml"/><Relationship Id="rId2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
        f"</Relationships>",
        "xl/worksheets/sheet1.xml": f'<?xml version="1.0"?><worksheet {ns}><sheetData><row r="1"><c r="A1" '
        f't="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row></sheetData></worksheet>',
        "xl/sharedStrings.xml": f'<?xml version="1.0"?><sst {ns} count="4000000000" uniqueCount="4000000000">'
        f"<si><t>Supplier</t></si><si><t>Amount</t></si></sst>",
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return out.getvalue()


def lying_zip() -> bytes:
    """Two CSVs: a good one, and one whose headers claim 1 KB while it inflates to 40 MB."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("good.csv", GOOD)
        zf.writestr("liar.csv", b"a" * (40 * 1024 * 1024))
    data = bytearray(out.getvalue())
    for sig, size_at, name_len_at, head in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        at = 0
        while (at := data.find(sig, at)) >= 0:
            (name_len,) = struct.unpack_from("<H", data, at + name_len_at)
            if data[at + head : at + head + name_len] == b"liar.csv":
                struct.pack_into("<I", data, at + size_at, 1024)
            at += 4
    return bytes(data)


def _ods(rows: str) -> bytes:
    """A minimal ODS whose first row is a header and then ``rows`` (content.xml table rows)."""
    office = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
    table = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
    text = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="{office}" '
        f'xmlns:table="{table}" xmlns:text="{text}" office:version="1.2"><office:body><office:spreadsheet>'
        '<table:table table:name="S"><table:table-row>'
        '<table:table-cell office:value-type="string"><text:p>Supplier</text:p></table:table-cell>'
        '<table:table-cell office:value-type="string"><text:p>Amount</text:p></table:table-cell>'
        f"</table:table-row>{rows}</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:'
        'opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry '
        'manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("META-INF/manifest.xml", manifest)
        zf.writestr("content.xml", content)
    return out.getvalue()


def repeated_cells_ods() -> bytes:
    """10 million filled cells in 1.5 KB: the spreadsheet library aborted the process (not an exception)."""
    return _ods(
        '<table:table-row table:number-rows-repeated="100000"><table:table-cell '
        'table:number-columns-repeated="100" office:value-type="string"><text:p>x</text:p></table:table-cell>'
        "</table:table-row>"
    )


def test_ods_with_millions_of_repeated_filled_cells_is_refused() -> None:
    with pytest.raises(SniffError, match="10,000,002 filled cells"):
        check_ods_safe(repeated_cells_ods())


def test_ods_with_a_repeated_empty_area_is_read() -> None:
    """How LibreOffice writes the unused rows and columns: repeated empty cells cost nothing."""
    data = _ods(
        '<table:table-row><table:table-cell office:value-type="string"><text:p>Acme Ltd</text:p>'
        '</table:table-cell><table:table-cell office:value-type="float" office:value="12.5"><text:p>12.5'
        "</text:p></table:table-cell></table:table-row>"
        '<table:table-row table:number-rows-repeated="1048574"><table:table-cell '
        'table:number-columns-repeated="1024"/></table:table-row>'
    )
    check_ods_safe(data)
    fmt, tables = read_tables(data)
    assert fmt == "ods" and tables[0].cells.iloc[1].tolist()[:2] == ["Acme Ltd", "12.5"]


def test_sparse_xlsx_is_refused_before_reading() -> None:
    data = sparse_xlsx()
    assert len(data) < 10_000
    with pytest.raises(SniffError, match="1,048,576 rows x 1,024 columns"):
        check_xlsx_safe(data)


def test_huge_declared_string_count_is_refused() -> None:
    with pytest.raises(SniffError, match="shared strings"):
        check_xlsx_safe(huge_string_count_xlsx())


def test_ordinary_xlsx_passes_the_checks() -> None:
    check_xlsx_safe(_xlsx({f"{c}{r}": "x" for c in "ABCDEF" for r in range(1, 200)}))


def test_cell_references_are_found_as_the_substring_searches_and_regex_find_them() -> None:
    """The one numpy pass over a sheet's ``r="`` attributes finds the same last narrow column as the
    26 substring searches, and never misses a wide (AA+) reference the regex would find."""
    import random

    from councilspend.sniff import _WIDE_CELL, _cell_refs

    def narrow(text: bytes) -> int:
        return next((n for n in range(26, 0, -1) if b' r="' + bytes([64 + n]) in text), 0)

    rng = random.Random(7)
    alphabet = [
        b" ",
        b"\t",
        b"\n",
        b"r",
        b"=",
        b'"',
        b"A",
        b"B",
        b"Q",
        b"Z",
        b"a",
        b"1",
        b"<",
        b'r="',
        b' r="',
    ]
    texts = [b"".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40))) for _ in range(20000)]
    texts += [b' r="Z', b'\tr="AB1', b' r="AB', b'r="A', b' r="', b"", b'<c r="C3" s="1"><v>1</v></c>']
    for text in texts:
        last, wide = _cell_refs(text)
        assert last == narrow(text), text
        assert wide or not _WIDE_CELL.search(text), text


def test_zip_member_lying_about_its_size_is_skipped_and_the_rest_kept() -> None:
    data = lying_zip()
    zf = zipfile.ZipFile(io.BytesIO(data))
    with pytest.raises(SniffError, match="liar.csv"):
        read_member(zf, zf.getinfo("liar.csv"))
    fmt, tables = read_tables(data)
    assert fmt == "zip" and [t.sheet for t in tables] == ["good.csv"]
    assert any("liar.csv" in w for w in tables[0].warnings)


def test_truncated_xlsx_is_named_as_a_truncated_spreadsheet() -> None:
    data = _xlsx({"A1": "Supplier", "B1": "Amount"})
    cut = data[: len(data) // 2]
    assert sniff(cut) == "xlsx"
    with pytest.raises(SniffError, match=r"spreadsheet \(XLSX\) is truncated or corrupt"):
        read_tables(cut)


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_nul_bytes_are_stripped_with_a_warning_wherever_they_are(where: str) -> None:
    at = {"start": 3, "middle": GOOD.index(b"Acme") + 2, "end": len(GOOD) - 3}[where]
    _, (table,) = read_tables(GOOD[:at] + b"\x00" + GOOD[at:])
    assert not table.cells.apply(lambda c: c.str.contains("\x00")).any().any()
    assert any("NUL" in w for w in table.warnings)
    assert "Acme Ltd" in table.cells.to_numpy().tolist()[1]


def test_nul_in_a_workbook_cell_is_stripped() -> None:
    # openpyxl refuses to write NUL, so the sheet's shared string is edited in the file
    data = _patched(
        _xlsx({"A1": "Supplier", "B1": "Amount", "A2": "AcmeQQ", "B2": "100"}),
        "xl/sharedStrings.xml",
        lambda b: b.replace(b"AcmeQQ", b"Acme&#0;"),
    )
    try:
        _, (table,) = read_tables(data)
    except ReadError:
        pytest.skip("the spreadsheet library rejects an XML NUL reference itself")
    assert "\x00" not in "".join(table.cells.to_numpy().ravel().tolist())


def test_ambiguous_decimal_separators_are_rejected_not_guessed() -> None:
    pence, ok = parse_pence(
        pd.Series(["1.234,50", "12,34", "12,3456", "1,234.56", "1,234", "-438.80"], dtype="str")
    )
    assert ok.tolist() == [False, False, False, True, True, True]
    assert pence.tolist()[3:] == [123456, 123400, -43880]


@pytest.mark.parametrize(
    "line",
    [
        "Spending over the threshold" + "-" * 1_000_000,
        "threshold" + " -_:" * 250_000,
        "over " * 200_000,
        "£" + "9" * 1_000_000,
        "01/" * 330_000,
    ],
)
def test_regexes_over_file_text_are_linear_on_1mb_lines(line: str, tmp_path: Path) -> None:
    """A 1 MB preamble line above a good table: the file is read (quadratic regexes took hours)."""
    from normalise.check import check_file

    threshold_from([line])
    path = tmp_path / "long.csv"
    path.write_bytes(line.encode() + b"\n" + GOOD)
    _, report = check_file(path)
    assert report["rows_kept"] == 2


CHILD = """
import json, sys
from pathlib import Path
from normalise.check import check_file
_, report = check_file(Path(sys.argv[1]))
print(json.dumps({"rows_kept": report.get("rows_kept"), "problems": [p["message"] for p in report["problems"]]}))
"""


def _limits() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.mark.parametrize(
    "name,make,rows",
    [
        ("sparse.xlsx", sparse_xlsx, None),
        ("strings.xlsx", huge_string_count_xlsx, None),
        ("repeated.ods", repeated_cells_ods, None),
        ("lying.zip", lying_zip, 2),
        ("preamble.csv", lambda: b"Payments over threshold" + b"-" * 50_000 + b"\n" + GOOD, 2),
        ("nul.csv", lambda: b"\x00" + GOOD, 2),
    ],
)
def test_hostile_file_ends_under_the_memory_limit(name: str, make, rows, tmp_path: Path) -> None:
    """As ``councilspend check`` runs it, under 1.5 GB of address space: good rows, or a named error."""
    path = tmp_path / name
    path.write_bytes(make())
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limits,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    if rows is None:
        assert not report["rows_kept"]
        assert any("refused" in m for m in report["problems"]), report["problems"]
    else:
        assert report["rows_kept"] == rows, report


def test_ambiguous_message_is_the_rows_error() -> None:
    assert "1.234,50" in AMBIGUOUS
