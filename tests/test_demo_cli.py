"""The demo command refuses to wipe a real crawl, and prints its checks against the truth."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from councilspend.demo.cli import _guard_real_crawl, run_demo
from councilspend.paths import DataDir

HEADER = "url,council_id,status\n"


def test_refuses_a_directory_holding_a_real_crawl(tmp_path: Path) -> None:
    data = DataDir(tmp_path)
    data.raw.mkdir()
    data.manifest.write_text(HEADER + "http://127.0.0.1:4321/a.csv,E99999901,new\n"
                             "https://www.leeds.gov.uk/spend.csv,E08000035,new\n")
    with pytest.raises(click.ClickException, match="real crawl"):
        _guard_real_crawl(data)
    with pytest.raises(click.ClickException, match="--data demo-data"):
        run_demo(tmp_path, progress=False)
    assert data.manifest.exists()  # nothing was deleted


def test_accepts_an_earlier_demo(tmp_path: Path) -> None:
    data = DataDir(tmp_path)
    data.raw.mkdir()
    data.manifest.write_text(HEADER + "http://127.0.0.1:4321/a.csv,E99999901,new\n")
    _guard_real_crawl(data)  # no exception
    _guard_real_crawl(DataDir(tmp_path / "empty"))
