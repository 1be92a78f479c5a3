"""The package as a stranger gets it: build the wheel, install it into a fresh venv, and run the demo,
``publish`` and ``serve`` from a folder outside the checkout (issue 21).

The fresh venv gets the project's dependencies from this test's own interpreter (a ``.pth`` line naming
its site-packages, which does not run the checkout's editable-install hook), so the test needs no package
registry and installs only the wheel: whatever the wheel leaves out (``metadata.yml``, the methodology,
templates, reference data) fails here.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _source_copy(dest: Path) -> Path:
    """The files git would ship (tracked and new, not ignored), symlinks kept: no stale ``build/``."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.splitlines()
    for name in listed:
        src = REPO / name
        if name.startswith(("tests/", "benchmarks/results/")) or not (src.is_file() or src.is_symlink()):
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dest / name)
        else:
            shutil.copy2(src, dest / name)
    return dest


def _run(args: list[str], cwd: Path, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A venv with only the built wheel installed into it; returns its ``bin`` folder."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = _source_copy(tmp / "src")
    built = _run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(tmp / "dist")], tmp
    )
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((tmp / "dist").glob("councilspend-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = Path(
        _run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            tmp,
        ).stdout.strip()
    )
    (purelib / "_councilspend_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    done = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        tmp,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return venv / "bin"


def test_wheel_ships_what_the_site_needs(installed: Path, tmp_path: Path) -> None:
    code = (
        "import publish, publish.site.pages as p, publish.site.serve as s; from publish.build import summaries;"
        "print(publish.__file__); print(p.METHODOLOGY.read_text()[:40]); print(s.METADATA.stat().st_size);"
        "print(sorted(summaries.facet_columns()))"
    )
    r = _run([str(installed / "python"), "-c", code], tmp_path)
    assert r.returncode == 0, r.stderr
    where, title, size, facets = r.stdout.splitlines()[:4]
    assert str(installed.parent) in where and str(REPO) not in where  # the wheel's copy, not the checkout
    assert title.startswith("# How we measure") and int(size) > 1000 and "payments" in facets


def test_demo_publish_serve_from_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    cli = str(installed / "councilspend")
    data = tmp_path / "demo"
    demo = _run([cli, "demo", "--no-serve", "--data", str(data), "--rows-per-month", "8"], tmp_path)
    assert demo.returncode == 0, demo.stdout[-1500:] + demo.stderr[-3000:]
    assert (data / "councilspend.db").exists() and (data / "downloads" / "datapackage.json").exists()
    again = _run([cli, "publish", "--data", str(data), "--force"], tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    empty = _run([cli, "publish", "--data", str(tmp_path / "nothing-here")], tmp_path)
    assert empty.returncode != 0 and "Traceback" not in empty.stderr and "Error:" in empty.stderr, (
        empty.stderr
    )

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    server = subprocess.Popen(
        [cli, "serve", "--data", str(data), "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        pages = {}
        deadline = time.monotonic() + 60
        while not pages and time.monotonic() < deadline:
            try:
                for path in ("/", "/methodology", "/-/static-plugins/councilspend/site.css", "/quality"):
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
                        pages[path] = (resp.status, resp.read().decode("utf-8"))
            except OSError:
                pages = {}
                assert server.poll() is None, server.communicate()[1][-3000:]
                time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert all(status == 200 for status, _ in pages.values()), pages.keys()
    assert "league" in pages["/"][1].lower() and "How we measure" in pages["/methodology"][1]
    assert (
        "static-plugins/councilspend/site.css" in pages["/"][1]
        and "{" in pages["/-/static-plugins/councilspend/site.css"][1]
    )
