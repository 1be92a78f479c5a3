"""`add` then `publish` on every real file in ../shared/data/real: each file's rows and total exactly as
EXPECTED.csv says, every council told from the file itself, and a site page per council."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from councilspend.cli import main

pytestmark = pytest.mark.slow
PCC = "lancashire-pcc"  # a police and crime commissioner: no council name anywhere in or around the file
PCC_CODE = "E23000003"  # Lancashire's police force area


@pytest.fixture(scope="module")
def published(shared: Path, tmp_path_factory) -> tuple[Path, list[dict]]:
    real = shared / "data" / "real"
    expected = list(csv.DictReader((real / "EXPECTED.csv").open(encoding="utf-8", newline="")))
    data = tmp_path_factory.mktemp("real") / "data"
    folders = sorted({row["path"].split("/")[0] for row in expected})
    runner = CliRunner()
    refused = runner.invoke(main, ["add", *(str(real / f) for f in folders), "--data", str(data)])
    assert refused.exit_code == 1 and f"{PCC}/pcc-2018-19.xlsx: cannot tell which council" in refused.output
    assert not data.exists()
    added = runner.invoke(main, ["add", *(str(real / f) for f in folders if f != PCC), "--data", str(data)])
    assert added.exit_code == 0, added.output
    pcc = runner.invoke(main, ["add", str(real / PCC), "--council", PCC_CODE, "--data", str(data)])
    assert pcc.exit_code == 0 and "is in no list of councils" in pcc.output, pcc.output
    done = runner.invoke(main, ["publish", "--data", str(data), "--quiet", "--no-downloads"])
    assert done.exit_code == 0, done.output
    return data, expected


def test_every_file_exact_to_expected(published) -> None:
    data, expected = published
    by_path = {}
    with (data / "raw" / "manifest.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            by_path[row["source_path"].split("/data/real/", 1)[1]] = row
    assert set(by_path) == {row["path"] for row in expected}
    for row in expected:
        entry = by_path[row["path"]]
        report = json.loads((data / "normalised" / "reports" / f"{entry['sha256']}.json").read_text())
        assert report["kind"] == row["kind"], row["path"]
        assert report["data_rows"] == int(row["data_rows"]), row["path"]
        assert Decimal(report["total_pence"]) / 100 == Decimal(row["total_amount"]), row["path"]
        if row["kind"] in ("payments", "card"):
            rows = pd.read_parquet(data / "normalised" / "rows" / f"{entry['sha256']}.parquet")
            assert len(rows) == int(row["data_rows"]), row["path"]
            assert set(rows["council_id"]) == {entry["council_id"]}


def test_every_council_told_and_each_has_a_page(published) -> None:
    from publish.site.serve import make_app

    data, expected = published
    files = pd.read_csv(data / "normalised" / "files.csv", dtype=str)
    councils = sorted(set(files["council_id"]))
    folders = {row["path"].split("/")[0] for row in expected}
    assert "unknown" not in councils and len(councils) == len(folders)  # one body per folder
    ds = make_app(data / "councilspend.db")

    async def pages() -> dict[str, int]:
        return {c: (await ds.client.get(f"/council/{c}")).status_code for c in councils}

    import asyncio

    assert asyncio.run(pages()) == dict.fromkeys(councils, 200)
