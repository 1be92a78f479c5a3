"""Every failure a user can cause is one paragraph naming the thing and what to do next: exit ≠ 0,
never a traceback (a traceback reads as a bug in councilspend)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from councilspend.cli import main

CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens, so the connection is refused


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.yml").write_text("not: [valid\n")
    (tmp_path / "notlist.yml").write_text('{"x": 1}\n')
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    (tmp_path / "cat.csv").write_text("kind,value\n")
    (tmp_path / "bad.db").write_bytes(b"garbage\x00\x01 not sqlite")
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04junk")
    (tmp_path / "bad.xlsx").write_bytes(b"PK\x03\x04junk")
    (tmp_path / "closed.yml").write_text(
        f"councils:\n  - id: E08000035\n    name: Leeds City Council\n    website: {CLOSED}/\n"
        f"    spending_pages: [{CLOSED}/spending]\n"
    )
    (tmp_path / "d1" / "raw").mkdir(parents=True)
    (tmp_path / "d1" / "raw" / "manifest.csv").write_text("sha256,url\nabc,def\n")
    return tmp_path


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


# (args with {t} = the temp folder and {port} = a port in use, text the message must name)
CASES = {
    "publish-empty-folder": (["publish", "--data", "{t}/empty", "--quiet"], "files.csv does not exist"),
    "publish-missing-folder": (["publish", "--data", "{t}/nope", "--quiet"], "councilspend add"),
    "publish-bad-manifest": (["publish", "--data", "{t}/d1", "--quiet"], "manifest"),
    "serve-no-database": (["serve", "--data", "{t}/empty"], "councilspend publish"),
    "serve-not-a-database": (["serve", "--db", "{t}/bad.db"], "bad.db"),
    "serve-port-in-use": (["serve", "--db", "{t}/ok.db", "--port", "{port}"], "--port"),
    "normalise-bad-manifest": (["normalise", "--manifest", "{t}/bad.csv", "--out-dir", "{t}/o"], "manifest"),
    "normalise-out-nowhere": (["normalise", "{t}/bad.csv", "--out", "{t}/nodir/x.csv"], "--out"),
    "add-missing-path": (["add", "{t}/nope", "--data", "{t}/dd"], "does not exist"),
    "add-empty-folder": (["add", "{t}/empty", "--data", "{t}/dd"], "no spreadsheet files"),
    "add-unknown-council": (["add", "{t}/bad.csv", "--council", "Nowhere", "--data", "{t}/dd"], "Nowhere"),
    "crawl-malformed-registry": (
        ["crawl", "--registry", "{t}/bad.yml", "--out", "{t}/c", "--quiet"],
        "bad.yml",
    ),
    "crawl-offline": (["crawl", "--registry", "{t}/closed.yml", "--out", "{t}/c", "--quiet"], "offline"),
    "councils-list-malformed": (["councils", "list", "--registry", "{t}/notlist.yml"], "councils:"),
    "councils-import-offline": (["councils", "import", CLOSED + "/x.csv", "--out", "{t}/r.csv"], "offline"),
    "councils-import-wrong-file": (["councils", "import", "{t}/bad.csv", "--out", "{t}/r.csv"], "bad.csv"),
    "registers-load-wrong-file": (
        ["registers", "load", "companies_house", "{t}/bad.csv", "--db", "{t}/r.db"],
        "missing column",
    ),
    "registers-load-not-a-database": (
        ["registers", "load", "companies_house", "{t}/bad.csv", "--db", "{t}/bad.db"],
        "bad.db",
    ),
    "registers-unknown-kind": (["registers", "load", "nokind", "{t}/bad.csv"], "nokind"),
    "registers-fetch-offline": (
        [
            "registers",
            "fetch",
            "companies_house",
            "--url",
            CLOSED + "/x.zip",
            "--db",
            "{t}/r.db",
            "--dir",
            "{t}/rd",
        ],
        "offline",
    ),
    "outturn-not-rsx": (["outturn", "load", "{t}/bad.csv", "--db", "{t}/r.db"], "RSX"),
    "outturn-broken-spreadsheet": (["outturn", "load", "{t}/bad.xlsx", "--db", "{t}/r.db"], "bad.xlsx"),
    "outturn-empty-folder": (["outturn", "load", "{t}/empty", "--db", "{t}/r.db"], "no CSV or ODS"),
    "classify-suppliers-broken-zip": (
        ["classify", "suppliers", "--in", "{t}/bad.zip", "--out", "{t}/o.csv"],
        "bad.zip",
    ),
    "classify-categories-out-nowhere": (
        ["classify", "categories", "--in", "{t}/cat.csv", "--out", "{t}/nodir/o.csv"],
        "--out",
    ),
    "accuracy-categories-no-gold": (["accuracy", "categories", "--gold-dir", "{t}/empty"], "--gold-dir"),
    "accuracy-suppliers-wrong-gold": (["accuracy", "suppliers", "--gold", "{t}/bad.csv"], "--gold"),
    "check-a-folder": (["check", "{t}/empty"], "is a directory"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_user_failure_is_one_sentence(name: str, files: Path, busy_port: int) -> None:
    import sqlite3

    sqlite3.connect(files / "ok.db").execute("create table t(x)").connection.close()
    args, named = CASES[name]
    args = [a.format(t=files, port=busy_port) for a in args]
    result = CliRunner().invoke(main, args)
    out = result.output
    assert result.exit_code != 0, out
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in out
    error = out[out.index("Error:") :].strip()
    assert "\n\n" not in error, error  # one paragraph
    assert named in error, error
