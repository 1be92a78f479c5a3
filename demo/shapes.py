"""Render payment rows as the file shapes real councils publish (see ../shared/docs/data-quirks.md).

Each function returns the file's bytes. Zip-based formats (XLSX, ODS, ZIP) are re-packed with a
fixed timestamp, because openpyxl, odfpy and ``zipfile`` stamp the current time into every entry
and the demo must be byte-for-byte reproducible.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from xml.sax.saxutils import escape

from demo.ledger import Council, Payment

FIXED_ZIP_TIME = (2026, 4, 1, 0, 0, 0)
MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# ---------------------------------------------------------------------------- formatting helpers
def pounds(pence: int, *, sign: str = "-", pound_sign: bool = False, commas: bool = False) -> str:
    """Format pence the way councils do: ``1234.56``, ``£1,234.56``, ``-£12.00``, ``(12.00)``."""
    whole, frac = divmod(abs(pence), 100)
    body = f"{whole:,}" if commas else str(whole)
    body = f"{'£' if pound_sign else ''}{body}.{frac:02d}"
    if pence >= 0:
        return body
    return f"({body})" if sign == "()" else f"-{body}"


def dd_mon_yy(day: date) -> str:
    return f"{day.day:02d}-{MONTH_ABBR[day.month - 1]}-{day.year % 100:02d}"


def _csv_text(rows: Iterable[list[str]], *, line_end: str = "\r\n") -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=line_end)
    writer.writerows(rows)
    return buf.getvalue()


def rezip(data: bytes) -> bytes:
    """Re-pack a zip with fixed timestamps, keeping entry order and compression (ODS needs
    ``mimetype`` first and stored). openpyxl also stamps "modified" into docProps/core.xml."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            fixed.compress_type = info.compress_type
            fixed.external_attr = 0o644 << 16
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2026-04-01T00:00:00Z", body)
            dst.writestr(fixed, body)
    return out.getvalue()


def _creditor_type(p: Payment) -> str:
    return {
        "third_sector": "Charity",
        "mutual": "Company",
        "private": "Company",
        "council_company": "Company",
        "public": "Public Body",
        "individual": "Individual",
        "redacted": "Individual",
    }.get(p.sector, "Other")


# ---------------------------------------------------------------------------- the shapes
def cp1252_preamble_csv(council: Council, month: date, rows: list[Payment]) -> bytes:
    """Manchester/Lambeth style: cp1252, CRLF, a report preamble, ``"£1,234.56"``, DD.MM.YYYY."""
    width = 7
    pad = [""] * (width - 1)
    lines = [
        [council.name, *pad],
        [f"Payments to suppliers over £{council.threshold} - {month:%B %Y}", *pad],
        [
            f"Report run: {date(month.year + (month.month == 12), month.month % 12 + 1, 6):%d/%m/%Y} 09:14",
            *pad,
        ],
        [""] * width,
        [
            "Body Name",
            "Service Area",
            "Expenses Type",
            "Invoice Payment Date",
            "Transaction Number",
            "Net Amount",
            "Supplier Name",
        ],
    ]
    for p in rows:
        lines.append(
            [
                council.name,
                p.service_area,
                p.expense_type,
                f"{p.paid_on:%d.%m.%Y}",
                p.ref,
                pounds(p.pence, pound_sign=True, commas=True),
                p.payee,
            ]
        )
    return _csv_text(lines).encode("cp1252")


def card_csv(council: Council, rows: list[Payment]) -> bytes:
    """Wakefield style purchase-card file: merchant category and card transaction columns."""
    lines = [
        [
            "Organisation Name",
            "Directorate",
            "Service Area",
            "Supplier Name",
            "Purpose Of Spend",
            "Transaction Date",
            "Net Amount",
            "Irrecoverable VAT",
            "Merchant Category",
            "P-Card Tran",
        ]
    ]
    for p in rows:
        lines.append(
            [
                council.name,
                p.directorate,
                p.service_area,
                p.payee,
                p.expense_type,
                f"{p.paid_on:%Y-%m-%d}",
                pounds(p.pence),
                "Nil",
                p.merchant_category,
                p.ref,
            ]
        )
    return _csv_text(lines, line_end="\n").encode("utf-8")


def bom_csv(council: Council, month: date, rows: list[Payment], *, fy: str) -> bytes:
    """Devon style: UTF-8 with BOM, CRLF. The header drifts between years (2018 -> 2026 Devon)."""
    if fy == "2024-25":
        lines = [
            [
                "Body",
                "Name of Body",
                "Date",
                "Transaction Number",
                "Invoice Number",
                "Amount",
                "Supplier Name",
                "Supplier ID",
                "Vat Reg No",
                "Expense Area",
                "Expense Type",
                "Expense Code",
                "Creditor Type",
            ]
        ]
        for p in rows:
            invoice = council.redaction if p.sector == "redacted" else f"INV-{p.ref[-5:]}"
            lines.append(
                [
                    council.id,
                    council.name,
                    f"{p.paid_on:%d/%m/%Y}",
                    p.ref,
                    invoice,
                    pounds(p.pence),
                    p.payee,
                    p.supplier_ref,
                    "",
                    p.service_area,
                    p.expense_type,
                    _expense_code(p.expense_type),
                    _creditor_type(p),
                ]
            )
    else:
        lines = [
            [
                "Body",
                "Name of Body",
                "Date",
                "Transaction number",
                " Amount ",
                "Supplier name",
                "Supplier ID",
                "VAT reg no",
                "Expense area",
                "Expense type",
                "Expense code",
                "Creditor type",
            ]
        ]
        for p in rows:
            lines.append(
                [
                    council.id,
                    council.name,
                    f"{p.paid_on:%d/%m/%Y}",
                    p.ref,
                    f" {pounds(p.pence, commas=True)} ",
                    p.payee,
                    p.supplier_ref,
                    "",
                    p.service_area,
                    p.expense_type,
                    _expense_code(p.expense_type),
                    _creditor_type(p),
                ]
            )
    return ("\ufeff" + _csv_text(lines)).encode("utf-8")


def _expense_code(label: str) -> str:
    """A council's own ledger code: stable per label, meaningless outside the council."""
    return "" if not label else str(40000 + int(hashlib.sha256(label.encode()).hexdigest(), 16) % 10000)


def xlsx_month_sheets(
    council: Council, fy: str, months: list[date], by_month: dict[date, list[Payment]]
) -> bytes:
    """Lancashire style: one workbook per year, a sheet per month (``Apr 24``), native date cells,
    numeric amounts, an empty Excel-table ``Column1``, and a charity number column."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    stamp = datetime(2026, 4, 1)
    wb.properties.created = stamp
    wb.properties.modified = stamp
    wb.properties.creator = council.name
    for month in months:
        ws = wb.create_sheet(f"{MONTH_ABBR[month.month - 1]} {month.year % 100:02d}")
        ws.append(
            [
                "Directorate",
                "Service Area",
                "Expenditure Category",
                "Date",
                "Total Invoice Amount",
                "SUPPLIER",
                "Supplier Registered Charity Number",
                "Transaction Number",
                "Column1",
            ]
        )
        for p in by_month.get(month, []):
            ws.append(
                [
                    p.directorate,
                    p.service_area,
                    p.expense_type,
                    datetime(p.paid_on.year, p.paid_on.month, p.paid_on.day),
                    p.pence / 100,
                    p.payee,
                    p.charity_number or None,
                    p.ref,
                    None,
                ]
            )
            ws.cell(ws.max_row, 4).number_format = "DD/MM/YYYY"
            ws.cell(ws.max_row, 5).number_format = "#,##0.00"
    buf = io.BytesIO()
    wb.save(buf)
    return rezip(buf.getvalue())


def supplier_totals_csv(rows: list[Payment]) -> bytes:
    """Lambeth 2011 style per-supplier totals: no dates, no transactions; not payment lines."""
    totals: dict[str, int] = defaultdict(int)
    for p in rows:
        totals[p.payee] += p.pence
    lines = [["Supplier Name", "Sum of Invoice Nett Amount"]]
    for name, pence in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append([name, pounds(pence)])
    return _csv_text(lines, line_end="\n").encode("utf-8")


ODS_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>
"""
ODS_CONTENT_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content '
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
    "<office:body><office:spreadsheet>"
)


def _ods_cell(value: object) -> str:
    if value is None or value == "":
        return "<table:table-cell/>"
    if isinstance(value, date):
        return (
            f'<table:table-cell office:value-type="date" office:date-value="{value.isoformat()}">'
            f"<text:p>{value:%d/%m/%Y}</text:p></table:table-cell>"
        )
    if isinstance(value, int | float):
        return (
            f'<table:table-cell office:value-type="float" office:value="{value}">'
            f"<text:p>{value:,.2f}</text:p></table:table-cell>"
        )
    return f'<table:table-cell office:value-type="string"><text:p>{escape(str(value))}</text:p></table:table-cell>'


def ods_quarter(council: Council, sheet: str, rows: list[Payment]) -> bytes:
    """ODS, one sheet, native date and float cells. Written by hand (a few lines of XML): odfpy
    declares different namespaces depending on what the process wrote before, so its bytes are
    not reproducible."""
    table = [
        [
            "Directorate",
            "Service Area",
            "Expense Type",
            "Date Paid",
            "Transaction Number",
            "Beneficiary",
            "Company Number",
            "Net Amount",
        ]
    ]
    for p in rows:
        table.append(
            [
                p.directorate,
                p.service_area,
                p.expense_type,
                p.paid_on,
                p.ref,
                p.payee,
                p.company_number,
                p.pence / 100,
            ]
        )
    body = "".join(
        "<table:table-row>" + "".join(_ods_cell(v) for v in r) + "</table:table-row>" for r in table
    )
    content = (
        ODS_CONTENT_HEAD + f'<table:table table:name="{escape(sheet)}">{body}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data, method in (
            ("mimetype", b"application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED),
            ("META-INF/manifest.xml", ODS_MANIFEST.encode(), zipfile.ZIP_DEFLATED),
            ("content.xml", content.encode(), zipfile.ZIP_DEFLATED),
        ):
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def lga_csv(council: Council, month: date, rows: list[Payment], effective: date) -> bytes:
    """Leeds 2020 / Wakefield style: GSS code as Organisation Code, DD-Mon-YY dates, ``(x)`` credits."""
    lines = [
        [
            "Organisation Code",
            "Organisation Label",
            "Effective Date",
            "Organisational Unit",
            "Service Division Label",
            "Expenditure Category",
            "Payment Date",
            "Transaction Number",
            "Irrecoverable VAT Amount",
            "Amount",
            "Capital Or Revenue",
            "Beneficiary Name",
            "Procurement Card",
        ]
    ]
    for p in rows:
        lines.append(
            [
                council.id,
                council.name,
                f"{effective:%d/%m/%Y}",
                p.service_area,
                p.directorate,
                p.expense_type,
                dd_mon_yy(p.paid_on),
                p.ref,
                "0.00",
                pounds(p.pence, sign="()"),
                "Capital" if p.group == "capital" else "Revenue",
                p.payee,
                "N",
            ]
        )
    return _csv_text(lines, line_end="\n").encode("utf-8")


def zip_of(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def cp1252_hyndburn_csv(council: Council, rows: list[Payment], *, blank_rows: int = 5) -> bytes:
    """Hyndburn style: cp1252 ``Net Amount(£)`` header, DD/MM/YY, quoted ``"1,234.56"``, trailing
    all-comma rows left by a spreadsheet export."""
    lines = [
        [
            "Service Cost Centre",
            "Account Detail",
            "Description",
            "SVDC ref no",
            "Name",
            "Payment date",
            "Net Amount(£)",
        ]
    ]
    for p in rows:
        lines.append(
            [
                p.service_area,
                p.expense_type,
                f"{p.directorate} - {p.expense_type or 'payment'}",
                p.ref,
                p.payee,
                f"{p.paid_on:%d/%m/%y}",
                pounds(p.pence, commas=True),
            ]
        )
    lines.extend([[""] * 7 for _ in range(blank_rows)])
    return _csv_text(lines).encode("cp1252")


def html_error_page(council: Council) -> bytes:
    """What a CMS returns at a moved file's old URL: a 200 HTML page, not the CSV the link promised."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Page not found | {council.name}</title></head>\n<body>\n"
        f'<header><a href="/{council.slug}/">{council.name}</a></header>\n'
        "<main><h1>Sorry, we can't find that page</h1>\n"
        "<p>The page or document you asked for may have moved. Try our search.</p></main>\n"
        "</body></html>\n"
    ).encode()
