"""`registers fetch`: download from a server on 127.0.0.1 serving the real sample files in each publisher's
format, resume after a dropped connection (HTTP Range), reject truncated or wrong files, fail clearly offline."""

from __future__ import annotations

import csv
import http.server
import sqlite3
import threading
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from councilspend.cli import main
from normalise.suppliers.fetch import FetchError, fetch

REG = Path("data/registers")


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` with Range support; ``cut`` drops the first full request after that many bytes."""

    files: dict[str, bytes] = {}
    cut: dict[str, int] = {}
    ranges: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        rng = self.headers.get("Range")
        self.ranges.append(rng or "")
        if rng:
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        stop = self.cut.pop(self.path, None) if not rng else None
        self.wfile.write(body[start:stop] if stop else body[start:])

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def zipped(member: str, data: bytes) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member, data)
    return buf.getvalue()


@pytest.fixture(scope="module")
def published(shared: Path, tmp_path_factory) -> dict[str, tuple[str, bytes]]:
    """The samples in ../shared/data/registers, packed the way each publisher publishes them."""
    reg = shared / REG
    mpr = list(csv.DictReader(open(reg / "mpr_mutual-companies.csv", encoding="utf-8")))[:50]
    society = [
        "Society Number,Society Name,Registered As,Registration Date,Society Address,Society Status,"
        "Registration Act"
    ]
    society += [
        f'{r["org_id_a"].removeprefix("GB-MPR-")},"{r["org_name"]}",Co-operative Society,01/01/2000,'
        f'"1 High St",Registered,Co-operative and Community Benefit Societies Act 2014'
        for r in mpr
    ]
    gias = [
        "URN,EstablishmentName,TypeOfEstablishment (name),EstablishmentStatus (name)",
        "100000,Anytown Primary School,Community school,Open",
        "100001,Anytown Grammar,Other independent school,Open",
    ]
    return {
        "companies_house": (
            "/BasicCompanyDataAsOneFile-2026-01-01.zip",
            zipped(
                "BasicCompanyDataAsOneFile-2026-01-01.csv",
                (reg / "ch_BasicCompanyData-2020-06-01-sample.csv").read_bytes(),
            ),
        ),
        "charity_commission": (
            "/publicextract.charity.zip",
            zipped("publicextract.charity.txt", (reg / "ccew_publicextract.charity.sample.txt").read_bytes()),
        ),
        "fca_mutuals": ("/SocietyList.csv", "\n".join(society).encode()),
        "rsh": ("/rps.csv", (reg / "full" / "rsh_registered_providers_2023.derived.csv").read_bytes()),
        "nhs_ods": ("/etr.zip", zipped("etr.csv", (reg / "nhs_ods_etr_2021.csv").read_bytes())),
        "gias": ("/edubasealldata20260101.csv", "\n".join(gias).encode()),
    }


def count(db: Path, register: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM organisations WHERE register = ?", (register,)).fetchone()[
            0
        ]


@pytest.mark.parametrize(
    "kind,register",
    [
        ("companies_house", "companies_house"),
        ("charity_commission", "charity_commission"),
        ("fca_mutuals", "fca_mutuals"),
        ("rsh", "social_housing"),
        ("nhs_ods", "nhs_ods"),
        ("gias", "gias"),
    ],
)
def test_each_register_downloads_checks_and_loads(kind, register, server, published, tmp_path) -> None:
    path, body = published[kind]
    Handler.files[path] = body
    got = fetch(kind, tmp_path / "r.db", url=server + path, dest_dir=tmp_path)
    assert got.size == len(body) and got.path.read_bytes() == body and got.rows > 0
    assert count(tmp_path / "r.db", register) > 0
    assert not list(tmp_path.glob("*.part"))


def test_a_dropped_download_resumes_with_a_range_request(server, published, tmp_path) -> None:
    path, body = published["companies_house"]
    Handler.files[path], Handler.cut[path] = body, len(body) // 3
    Handler.ranges.clear()
    with pytest.raises(FetchError, match="run again to resume"):
        fetch("companies_house", tmp_path / "r.db", url=server + path, dest_dir=tmp_path)
    part = tmp_path / (Path(path).name + ".part")
    assert part.stat().st_size == len(body) // 3
    got = fetch("companies_house", tmp_path / "r.db", url=server + path, dest_dir=tmp_path)
    assert Handler.ranges[-1] == f"bytes={len(body) // 3}-"
    assert got.resumed_from == len(body) // 3 and got.path.read_bytes() == body


def test_wrong_content_is_rejected_before_loading(server, tmp_path) -> None:
    Handler.files["/etr.zip"] = b"<html>Service unavailable</html>"
    with pytest.raises(FetchError, match="not a zip"):
        fetch("nhs_ods", tmp_path / "r.db", url=server + "/etr.zip", dest_dir=tmp_path)
    Handler.files["/SocietyList.csv"] = b"Name,Address\nAcme,1 High St\n"
    with pytest.raises(FetchError, match="Society Number"):
        fetch("fca_mutuals", tmp_path / "r.db", url=server + "/SocietyList.csv", dest_dir=tmp_path)
    assert not (tmp_path / "r.db").exists()


def test_missing_file_and_offline_give_clear_errors(server, tmp_path) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch("gias", tmp_path / "r.db", url=server + "/nothing.csv", dest_dir=tmp_path)
    with pytest.raises(FetchError, match="offline"):
        fetch("gias", tmp_path / "r.db", url="http://127.0.0.1:9/edubasealldata.csv", dest_dir=tmp_path)
    with pytest.raises(FetchError, match="--url"):
        fetch("rsh", tmp_path / "r.db", dest_dir=tmp_path)


def test_cli_fetch(server, published, tmp_path) -> None:
    path, body = published["nhs_ods"]
    Handler.files[path] = body
    db = tmp_path / "r.db"
    result = CliRunner().invoke(
        main,
        ["registers", "fetch", "nhs_ods", "--db", str(db), "--url", server + path, "--dir", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    assert f"{len(body):,} bytes" in result.output and count(db, "nhs_ods") > 0
    offline = CliRunner().invoke(
        main,
        [
            "registers",
            "fetch",
            "gias",
            "--db",
            str(db),
            "--url",
            "http://127.0.0.1:9/x.csv",
            "--dir",
            str(tmp_path),
        ],
    )
    assert offline.exit_code == 1 and "offline" in offline.output
