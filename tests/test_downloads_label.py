"""Downloads and database agree, or the site says so (issue 17): a kill between the downloads swap and the
database swap once left ``/downloads`` a build away from the pages, served silently."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from demo.sample_site import COUNCILS, build_sample_site
from publish.build.build import build_database, inspect_path_for
from publish.build.export import DATABASE_LABEL, downloads_label, write_downloads
from publish.site.serve import make_app


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    return build_sample_site(tmp_path / "site")


def _served_hash(db: Path) -> str:
    return json.loads(inspect_path_for(db).read_text(encoding="utf-8"))[db.stem]["hash"]


def _kill_between_swaps(db: Path, tmp: Path) -> None:
    """What a kill after ``write_downloads`` and before the database's ``os.replace`` leaves: the
    downloads of the next build (one payment fewer) beside the database and inspect file of this one."""
    next_build = tmp / "next.db"
    shutil.copy(db, next_build)
    with sqlite3.connect(next_build) as conn:
        conn.execute("delete from payments where rowid = (select max(rowid) from payments)")
    write_downloads(next_build, db.parent / "downloads")


async def test_a_build_labels_its_downloads_and_the_site_serves_them(site: Path) -> None:
    assert downloads_label(site.parent / "downloads") == _served_hash(site)
    ds = make_app(site)
    page = await ds.client.get("/downloads")
    assert page.status_code == 200 and 'href="/downloads/csv/payments.csv"' in page.text
    assert "another build" not in page.text
    package = await ds.client.get("/downloads/datapackage.json")
    assert package.status_code == 200 and package.json()[DATABASE_LABEL] == _served_hash(site)


async def test_downloads_of_another_build_are_named_as_such_not_served(site: Path, tmp_path: Path) -> None:
    _kill_between_swaps(site, tmp_path)
    assert downloads_label(site.parent / "downloads") != _served_hash(site)
    ds = make_app(site)
    page = await ds.client.get("/downloads")
    assert page.status_code == 200
    assert "another build of the database" in page.text and "councilspend publish" in page.text
    assert 'href="/downloads/csv/payments.csv"' not in page.text  # no link to the other build's files
    for path in (
        "/downloads/csv/payments.csv",
        "/downloads/parquet/payments.parquet",
        "/downloads/datapackage.json",
    ):
        r = await ds.client.get(path)
        assert r.status_code == 503 and "another build of the database" in r.text, path
    assert (await ds.client.get(f"/council/{COUNCILS[0]['id']}")).status_code == 200  # pages unaffected


async def test_unlabelled_downloads_are_not_vouched_for(site: Path) -> None:
    package = site.parent / "downloads" / "datapackage.json"
    data = json.loads(package.read_text(encoding="utf-8"))
    del data[DATABASE_LABEL]
    package.write_text(json.dumps(data), encoding="utf-8")
    ds = make_app(site)
    assert "carry no label" in (await ds.client.get("/downloads")).text
    assert (await ds.client.get("/downloads/csv/payments.csv")).status_code == 503


def test_the_next_publish_mends_a_kill_between_the_swaps(site: Path, tmp_path: Path) -> None:
    """Inputs unchanged, but the downloads belong to another build: publish writes both again."""
    _kill_between_swaps(site, tmp_path)
    build_database(site.parent, site, registry=COUNCILS, progress=False)
    assert downloads_label(site.parent / "downloads") == _served_hash(site)
    with sqlite3.connect(site) as conn:
        payments = conn.execute("select count(*) from payments").fetchone()[0]
    rows = (site.parent / "downloads" / "csv" / "payments.csv").read_text(encoding="utf-8").count("\n") - 1
    assert rows == payments
