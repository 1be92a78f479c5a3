"""The demo generator: deterministic, every real file shape present, files agree with the truth.

The files are re-read here with small independent readers (csv/openpyxl/pandas), so a rendering
bug that the pipeline might share with the generator still shows up as a mismatch.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import yaml
from openpyxl import load_workbook

from demo import generator
from demo.generator import generate, registry
from demo.ledger import HERE, load_council_companies, load_councils

ROWS = 8


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo")
    return out, generate(out, rows_per_month=ROWS)


def _body(out: Path, url: str) -> bytes:
    routes = json.loads((out / "routes.json").read_text(encoding="utf-8"))
    return (out / routes[url]["body"]).read_bytes()


def _files(truth: dict, **where) -> list[dict]:
    return [f for f in truth["files"] if all(f[k] == v for k, v in where.items())]


def _pence(text: str) -> int:
    """An independent amount parser: £, commas, spaces, -x and (x)."""
    s = text.strip().replace("£", "").replace(",", "")
    neg = s.startswith("(") and s.endswith(")") or s.startswith("-")
    s = s.strip("()-")
    value = int(Decimal(s) * 100)
    return -value if neg else value


def _read_csv_rows(data: bytes, encoding: str, skip: int = 0) -> list[dict]:
    text = data.decode(encoding)
    lines = text.splitlines()[skip:]
    rows = list(csv.DictReader(lines))
    return [r for r in rows if any((v or "").strip() for v in r.values())]


def _rows_and_pence(f: dict, data: bytes) -> tuple[int, int]:
    """Re-read one counted file by its shape; return (rows, pence)."""
    name = f["file_name"]
    if name.endswith(".xlsx"):
        wb = load_workbook(io.BytesIO(data), read_only=True)
        n = p = 0
        for ws in wb.worksheets:
            rows = list(ws.iter_rows(values_only=True))
            col = rows[0].index("Total Invoice Amount")
            for r in rows[1:]:
                n += 1
                p += round(r[col] * 100)
        return n, p
    if name.endswith(".ods"):
        frame = pd.read_excel(io.BytesIO(data), engine="odf")
        return len(frame), int(sum(round(v * 100) for v in frame["Net Amount"]))
    if name.endswith(".zip"):
        n = p = 0
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for member in zf.namelist():
                rows = _read_csv_rows(zf.read(member), "utf-8")
                n += len(rows)
                p += sum(_pence(r["Amount"]) for r in rows)
        return n, p
    if data.startswith(b"\xef\xbb\xbf"):
        rows = _read_csv_rows(data, "utf-8-sig")
        key = "Amount" if "Amount" in rows[0] else " Amount "
        return len(rows), sum(_pence(r[key]) for r in rows)
    if f["kind"] == "card":
        rows = _read_csv_rows(data, "utf-8")
        return len(rows), sum(_pence(r["Net Amount"]) for r in rows)
    if data.startswith(b"Service Cost Centre"):
        rows = _read_csv_rows(data, "cp1252")
        return len(rows), sum(_pence(r["Net Amount(£)"]) for r in rows)
    rows = _read_csv_rows(data, "cp1252", skip=4)
    return len(rows), sum(_pence(r["Net Amount"]) for r in rows)


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    generate(a, rows_per_month=ROWS)
    generate(b, rows_per_month=ROWS)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) > 100
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    generate(b, seed=7, rows_per_month=ROWS)
    assert (a / "truth.json").read_bytes() != (b / "truth.json").read_bytes()


def test_rejects_nonsense_rows_per_month(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rows_per_month"):
        generate(tmp_path, rows_per_month=0)


def test_six_fictional_councils_two_years(demo) -> None:
    _, truth = demo
    assert len(truth["councils"]) >= 6
    assert truth["financial_years"] == ["2024-25", "2025-26"]
    for cid, council in truth["councils"].items():
        assert cid.startswith("E999999")
        assert set(council["years"]) == {"2024-25", "2025-26"}
        for fy, year in council["years"].items():
            assert len(year["months"]) == 12, (cid, fy)
            assert year["rows"] >= 12 * ROWS


def test_counted_files_hold_exactly_the_truth(demo) -> None:
    """Every counted file, re-read independently, sums to its truth entry; per council and year the
    counted files add up to the council's truth (nothing double-listed, nothing missing)."""
    out, truth = demo
    per_year: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for f in _files(truth, counted=True):
        n, p = _rows_and_pence(f, _body(out, f["url"]))
        assert (n, p) == (f["rows"], f["pence"]), f["url"]
        per_year[(f["council_id"], f["financial_year"])][0] += n
        per_year[(f["council_id"], f["financial_year"])][1] += p
    for cid, council in truth["councils"].items():
        for fy, year in council["years"].items():
            assert per_year[(cid, fy)] == [year["rows"], year["pence"]], (cid, fy)


def test_truth_is_internally_consistent(demo) -> None:
    _, truth = demo
    for cid, council in truth["councils"].items():
        for fy, y in council["years"].items():
            assert sum(y["sector_pence"].values()) == y["pence"]
            assert sum(y["group_pence"].values()) == y["pence"]
            assert sum(y["division_pence"].values()) == y["pence"]
            payees = council["payees"][fy]
            assert sum(p["rows"] for p in payees.values()) == y["rows"]
            assert sum(p["pence"] for p in payees.values()) == y["pence"]
            for sector in y["sector_pence"]:
                assert y["sector_pence"][sector] == sum(
                    p["pence"] for p in payees.values() if p["sector"] == sector
                )
            m2, m3 = y["m2"], y["m3"]
            # transfers: every transfer payee, plus transfer expense types paid to anyone else
            assert m2["transfer_pence"] >= y["sector_pence"]["transfer"]
            assert m2["denominator_pence"] == y["pence"] - m2["transfer_pence"] - m2["unknown_pence"]
            assert 0 < m2["external_delivery_pence"] <= m2["denominator_pence"]
            assert m2["value"] == round(m2["external_delivery_pence"] / m2["denominator_pence"], 6)
            assert sum(m2["external_delivery_by_sector"].values()) == m2["external_delivery_pence"]
            assert sum(m2["external_delivery_by_division"].values()) == m2["external_delivery_pence"]
            assert set(m2["external_delivery_by_sector"]) <= {
                "private",
                "third_sector",
                "mutual",
                "public",
                "council_company",
            }
            assert m3["outturn_tse_pence"] == sum(y["outturn_c3_thousands"].values()) * 100_000
            assert 0 < m3["value"] < 1
            assert y["card_rows"] == (16 if cid == "E99999901" else 0)


def test_every_real_shape_is_present(demo) -> None:
    out, truth = demo
    kinds = {f["kind"] for f in truth["files"]}
    assert kinds == {"payments", "card", "supplier_totals", "html_error", "robots_disallowed"}
    bodies = {f["url"]: _body(out, f["url"]) for f in truth["files"]}
    payments = _files(truth, kind="payments")

    cp1252 = [b for f in payments if (b := bodies[f["url"]]).startswith(b"Demoshire County Council")]
    assert cp1252 and all(b"\xa3" in b and b"\r\n" in b for b in cp1252)  # cp1252 £, CRLF
    with pytest.raises(UnicodeDecodeError):
        cp1252[0].decode("utf-8")
    lines = cp1252[0].decode("cp1252").splitlines()
    assert lines[1].startswith("Payments to suppliers over £500") and lines[4].startswith("Body Name,")
    assert any(
        '"£' in b.decode("cp1252") and ',"-£' in b.decode("cp1252") or '"£1,' in b.decode("cp1252")
        for b in cp1252
    )

    assert any(bodies[f["url"]].startswith(b"\xef\xbb\xbfBody,") for f in payments)  # UTF-8 BOM

    xlsx = [f for f in payments if f["file_name"].endswith(".xlsx")]
    wb = load_workbook(io.BytesIO(bodies[xlsx[0]["url"]]), read_only=True)
    assert wb.sheetnames == [
        "Apr 24",
        "May 24",
        "Jun 24",
        "Jul 24",
        "Aug 24",
        "Sep 24",
        "Oct 24",
        "Nov 24",
        "Dec 24",
        "Jan 25",
        "Feb 25",
        "Mar 25",
    ]

    ods = [f for f in payments if f["file_name"].endswith(".ods")]
    with zipfile.ZipFile(io.BytesIO(bodies[ods[0]["url"]])) as zf:
        assert zf.read("mimetype") == b"application/vnd.oasis.opendocument.spreadsheet"

    zips = [f for f in payments if f["file_name"].endswith(".zip")]
    with zipfile.ZipFile(io.BytesIO(bodies[zips[0]["url"]])) as zf:
        assert len([n for n in zf.namelist() if n.endswith(".csv")]) == 12

    (totals,) = _files(truth, kind="supplier_totals", financial_year="2024-25")
    assert bodies[totals["url"]].startswith(b"Supplier Name,Sum of Invoice Nett Amount")
    council = truth["councils"][totals["council_id"]]["years"]["2024-25"]
    rows = _read_csv_rows(bodies[totals["url"]], "utf-8")
    assert (
        sum(_pence(r["Sum of Invoice Nett Amount"]) for r in rows) == council["pence"]
    )  # would double count

    card = _files(truth, kind="card")
    assert len(card) == 8 and b"Merchant Category" in bodies[card[0]["url"]].splitlines()[0]

    (html,) = _files(truth, kind="html_error")
    assert html["url"].endswith(".csv") and html["content_type"].startswith("text/html")
    assert bodies[html["url"]].startswith(b"<!DOCTYPE html>") and not html["counted"]

    (draft,) = _files(truth, kind="robots_disallowed")
    robots = _body(out, "/robots.txt").decode()
    assert any(
        draft["url"].startswith(line.split(": ", 1)[1])
        for line in robots.splitlines()
        if line.startswith("Disallow: ")
    )
    assert not draft["counted"] and draft["rows"] == 0

    (copy,) = [f for f in payments if f["also_at"]]  # same bytes at two URLs: one truth entry
    assert _body(out, copy["also_at"][0]) == bodies[copy["url"]]


def test_day_first_dates_credits_and_redactions(demo) -> None:
    out, truth = demo
    text = {
        f["url"]: _body(out, f["url"]) for f in _files(truth, counted=True) if f["file_name"].endswith(".csv")
    }
    joined = b"\n".join(text.values()).decode("cp1252", errors="replace")
    assert "/2024," in joined  # DD/MM/YYYY
    assert ".04.2024," in joined  # DD.MM.YYYY
    assert "/04/24," in joined  # DD/MM/YY
    zips = [f for f in _files(truth, kind="payments") if f["file_name"].endswith(".zip")]
    with zipfile.ZipFile(io.BytesIO(_body(out, zips[0]["url"]))) as zf:
        member = zf.read(zf.namelist()[0]).decode()
    assert "-Apr-24," in member  # DD-Mon-YY
    credits = sum(y["credit_rows"] for c in truth["councils"].values() for y in c["years"].values())
    assert credits > 0
    redactions = {"REDACTED PERSONAL DATA", "REDACTED UNDER DP ACT", "Redacted Personal Information"}
    seen = {name for c in truth["councils"].values() for p in c["payees"].values() for name in p}
    assert redactions <= seen


def test_payee_mix_and_script_supplier(demo) -> None:
    _, truth = demo
    sectors = defaultdict(set)
    for c in truth["councils"].values():
        for payees in c["payees"].values():
            for name, p in payees.items():
                sectors[p["sector"]].add(name)
    assert {
        "private",
        "third_sector",
        "mutual",
        "public",
        "council_company",
        "redacted",
        "transfer",
        "unknown",
        "individual",
    } <= set(sectors)
    assert "HM Revenue & Customs" in sectors["transfer"]
    assert any("CIC" in n for n in sectors["mutual"]) and any("Co-operative" in n for n in sectors["mutual"])
    assert any("NHS" in n for n in sectors["public"]) and "Demoshire County Council" in sectors["public"]
    assert "Demoshire Trading Ltd" in sectors["council_company"]
    assert "<script>alert(1)</script>" in sectors["unknown"]


def test_council_companies_csv_matches_payees() -> None:
    spec = yaml.safe_load((HERE / "payees.yml").read_text(encoding="utf-8"))
    in_yaml = {(p["name"], p["council"]) for p in spec["payees"] if p["sector"] == "council_company"}
    in_csv = {(r["name"], r["council_id"]) for r in load_council_companies()}
    assert in_yaml == in_csv
    ids = {c.id for c in load_councils()}
    assert all(cid in ids for _, cid in in_csv)
    assert all(len(r["company_number"]) == 8 for r in load_council_companies())


def test_outturn_is_real_rsx_shape(demo) -> None:
    out, truth = demo
    assert truth["outturn_files"] == [
        "outturn/RSX_2024-25_data_by_LA.csv",
        "outturn/RSX_2025-26_data_by_LA.csv",
    ]
    for rel in truth["outturn_files"]:
        data = (out / rel).read_bytes()
        assert data.startswith(b"\xef\xbb\xbfWorksheet 2: Revenue Outturn (RO) 20")
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        header = rows[10]
        assert header[:3] == ["E-code", "ONS Code", "Local authority"] and len(header) == 105
        tse = header.index("Total Service Expenditure - Total Expenditure\n (C3 = C1 + C2)")
        fy = rel.split("_")[1]
        for row in rows[11:]:
            if row[1] in truth["councils"]:
                year = truth["councils"][row[1]]["years"][fy]
                assert int(row[tse].replace(",", "")) * 100_000 == year["m3"]["outturn_tse_pence"]
                c3 = [int(row[i].replace(",", "")) for i, h in enumerate(header) if "(C3" in h]
                assert sum(c3[:-1]) == c3[-1]


def test_registry_has_crawler_format() -> None:
    entries = registry("http://127.0.0.1:9999")
    assert len(entries) == len(load_councils())
    for e in entries:
        assert e["spending_pages"][0].startswith("http://127.0.0.1:9999/")
        assert e["type"] in {"county", "district", "unitary", "metropolitan", "london_borough"}
    ckan = [e for e in entries if "ckan_api" in e]
    assert ckan and all(
        e["ckan_api"] == "http://127.0.0.1:9999/api/3/action/" and e["dgu_publisher"] for e in ckan
    )
    from crawler.registry import validate_council as validate

    for e in entries:
        validate(e, "demo registry")


def test_generate_replaces_an_older_demo(tmp_path: Path) -> None:
    generate(tmp_path, rows_per_month=ROWS)
    (tmp_path / "www" / "stale.html").write_text("old")
    generate(tmp_path, rows_per_month=ROWS)
    assert not (tmp_path / "www" / "stale.html").exists()
    assert set(generator.GENERATED) <= {p.name for p in tmp_path.iterdir()}
