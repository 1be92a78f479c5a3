"""The benchmark generator writes the real shapes, a valid manifest, and the same bytes per seed."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.generate import PLAIN_COLUMNS, default_layout, generate, shapes


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("gen") / "data", rows=3000, months=2, seed=7)


def _manifest(gen) -> list[dict]:
    with gen.manifest.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_every_shape_written_and_rows_add_up(gen):
    assert set(gen.rows_by_shape) == set(shapes())
    assert sum(gen.rows_by_shape.values()) == 3000
    plain = pd.read_csv(gen.plain_csv, dtype=str, keep_default_na=False)
    assert list(plain.columns) == PLAIN_COLUMNS
    assert len(plain) == 3000
    assert gen.files == len(gen.councils) * 2 == len(_manifest(gen))


def test_manifest_follows_the_crawler_contract(gen):
    from frictionless import Resource, system

    from councilspend.schemas import frictionless_schema

    with system.use_context(trusted=True):
        report = Resource(path=str(gen.manifest), schema=frictionless_schema("manifest")).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:5]
    for entry in _manifest(gen):
        stored = gen.manifest.parent / entry["path"]
        assert stored.exists() and stored.stat().st_size == int(entry["bytes"])
        assert stored.name.startswith(entry["sha256"])


def _file_of(gen, shape: str) -> Path:
    council = next(c for c in gen.councils if c.shape == shape)
    entry = next(e for e in _manifest(gen) if e["council_id"] == council.council_id)
    return gen.manifest.parent / entry["path"]


def test_real_quirks_are_present(gen):
    cp1252 = _file_of(gen, "hyndburn_cp1252").read_bytes()
    assert b"Net Amount(\xa3)" in cp1252 and b'"\xa31,' in cp1252  # cp1252 £ in header and values
    with pytest.raises(UnicodeDecodeError):
        cp1252.decode("utf-8")
    assert cp1252.rstrip().endswith(b",,,,,,")  # trailing all-comma rows
    assert cp1252.index(b"Service Cost Centre") > 0  # preamble before the header
    assert _file_of(gen, "devon_bom").read_bytes().startswith(b"\xef\xbb\xbfBody,")
    assert _file_of(gen, "manchester_mojibake").read_bytes().startswith("ï»¿Body Name".encode())
    ragged = _file_of(gen, "leeds_ragged").read_text(encoding="utf-8").splitlines()
    widths = {len(next(csv.reader([line]))) for line in ragged}
    assert len(widths) == 2 and any(line.endswith(",#N/A") for line in ragged)


def test_xlsx_has_native_dates(gen):
    df = pd.read_excel(_file_of(gen, "pcc_xlsx"), engine="calamine")
    assert list(df.columns)[:3] == ["Expenditure Category", "Service Area", "Date"]
    assert str(df["Date"].dtype).startswith("datetime64")
    assert pd.api.types.is_float_dtype(df["Total Invoice Amount"])


def test_suppliers_are_zipf_like_with_variants_and_redactions(tmp_path):
    g = generate(tmp_path / "d", rows=20000, months=1, seed=1)
    names = pd.read_csv(g.plain_csv, dtype=str, keep_default_na=False)["supplier_name"]
    counts = names.value_counts()
    # A few payees take a large share; most appear rarely (long tail).
    assert counts.iloc[:10].sum() > 0.2 * len(names)
    assert (counts == 1).sum() > 50
    assert {"VEOLIA ES (UK) LTD", "Veolia Environmental Services Ltd"} <= set(names)
    assert names.str.contains("REDACTED|Redacted").mean() > 0.01
    assert "REDACTIVE PUBLISHING LTD" in set(names)  # a real company, not a redaction
    assert (pd.to_numeric(pd.read_csv(g.plain_csv)["amount"]) < 0).any()


def test_same_seed_same_bytes(tmp_path):
    a = generate(tmp_path / "a", rows=1200, months=1, seed=3)
    b = generate(tmp_path / "b", rows=1200, months=1, seed=3)
    c = generate(tmp_path / "c", rows=1200, months=1, seed=4)
    assert a.manifest.read_bytes() == b.manifest.read_bytes()
    assert a.plain_csv.read_bytes() == b.plain_csv.read_bytes()
    assert a.manifest.read_bytes() != c.manifest.read_bytes()


def test_layout_scales_to_national():
    assert default_layout(10_000_000) == (320, 12)
    councils, months = default_layout(1_000_000)
    assert months == 12 and 20 < councils < 60
    assert default_layout(100)[0] == len(shapes())


def test_normaliser_reads_every_shape_to_the_penny(gen):
    """The generated files are only a fair benchmark if the normaliser really reads them."""
    from normalise.pipeline import normalise_file

    plain = pd.read_csv(gen.plain_csv, dtype=str, keep_default_na=False)
    plain["pence"] = (pd.to_numeric(plain["amount"]) * 100).round().astype(int)
    by_council = {c.council_id: c for c in gen.councils}
    seen = set()
    for entry in _manifest(gen):
        shape = by_council[entry["council_id"]].shape
        if shape in seen:
            continue
        seen.add(shape)
        result = normalise_file(
            gen.manifest.parent / entry["path"], council_id=entry["council_id"], sha256=entry["sha256"]
        )
        month = entry["file_name"].removeprefix("spending-")[:7]
        expected = plain[
            (plain["council_id"] == entry["council_id"]) & plain["payment_date"].str.startswith(month)
        ]
        assert result.kind == "payments", (shape, result.report.get("error"))
        assert len(result.rows) == len(expected), shape
        assert result.total_pence == expected["pence"].sum(), shape
    assert seen == set(shapes())
