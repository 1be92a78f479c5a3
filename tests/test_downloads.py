"""The downloads keep their meaning: typed Parquet with descriptions, every file in the Data Package."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from councilspend.schemas import descriptor
from demo.sample_site import build_sample_site
from publish.build.tables import published_tables


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> Path:
    return build_sample_site(tmp_path_factory.mktemp("dl")).parent / "downloads"


def test_every_csv_and_parquet_is_a_described_resource(downloads: Path) -> None:
    package = json.loads((downloads / "datapackage.json").read_text(encoding="utf-8"))
    paths = {r["path"] for r in package["resources"]}
    on_disk = {f"{p.parent.name}/{p.name}" for p in downloads.glob("*/*") if p.suffix in (".csv", ".parquet")}
    assert paths == on_disk and any(p.endswith(".parquet") for p in paths)
    for resource in package["resources"]:
        table = resource["path"].split("/")[1].split(".")[0]
        assert table in published_tables() and resource.get("title"), resource["name"]
        undescribed = [f["name"] for f in resource["schema"]["fields"] if not f.get("description")]
        assert not undescribed, (resource["name"], undescribed)


def test_data_package_including_parquet_validates(downloads: Path) -> None:
    from frictionless import validate

    report = validate(downloads / "datapackage.json")
    assert report.valid, report.flatten(["taskName", "rowNumber", "fieldName", "note"])[:10]


def test_parquet_keeps_the_contract_types_and_descriptions(downloads: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    path = str(downloads / "parquet" / "payments.parquet")
    con = duckdb.connect()
    types = {
        row[0]: row[1] for row in con.execute(f"describe select * from read_parquet('{path}')").fetchall()
    }
    assert types["payment_date"] == "DATE" and types["amount_pence"] == "BIGINT"
    assert types["is_card"] == "BOOLEAN" and types["is_redacted"] == "BOOLEAN" and types["id"] == "BIGINT"
    (pence,) = con.execute(f"select sum(amount_pence) from read_parquet('{path}')").fetchone()
    assert isinstance(pence, int)
    (blank,) = con.execute(f"select count(*) from read_parquet('{path}') where directorate = ''").fetchone()
    assert blank == 0  # missing is NULL, never ""
    schema = pq.read_schema(path)
    for f in descriptor("published/payments")["fields"]:
        assert schema.field(f["name"]).metadata[b"description"].decode() == f["description"]


def test_site_column_descriptions_come_from_the_contracts() -> None:
    from publish.site.serve import load_metadata

    tables = load_metadata()["databases"]["councilspend"]["tables"]
    for table in published_tables():
        for f in descriptor(f"published/{table}")["fields"]:
            assert tables[table]["columns"][f["name"]] == f["description"], (table, f["name"])
