"""The demo command refuses to wipe a real crawl, and prints its checks against the truth."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from councilspend.paths import DataDir
from demo.cli import _guard_real_crawl, run_demo

HEADER = "url,council_id,status\n"


def test_refuses_a_directory_holding_a_real_crawl(tmp_path: Path) -> None:
    data = DataDir(tmp_path)
    data.raw.mkdir()
    data.manifest.write_text(
        HEADER + "http://127.0.0.1:4321/a.csv,E99999901,new\n"
        "https://www.leeds.gov.uk/spend.csv,E08000035,new\n"
    )
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


def test_truth_table_marks_differences(tmp_path: Path) -> None:
    import sqlite3

    from rich.console import Console

    from demo.cli import DemoResult, truth_table

    db = tmp_path / "db.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("create table payments (council_id, financial_year, amount_pence)")
    conn.executemany(
        "insert into payments values (?, ?, ?)",
        [("E99999901", "2024-25", 150), ("E99999901", "2024-25", 250), ("E99999901", "2025-26", 99)],
    )
    conn.commit()
    conn.close()
    truth = {
        "councils": {
            "E99999901": {
                "name": "Demoshire County Council",
                "years": {"2024-25": {"rows": 2, "pence": 400}, "2025-26": {"rows": 1, "pence": 100}},
            }
        }
    }
    console = Console(record=True, width=150)
    console.print(truth_table(DemoResult(tmp_path, tmp_path, db, "", truth, {})))
    text = console.export_text()
    lines = [line for line in text.splitlines() if "Demoshire" in line]
    assert "= truth" in lines[0] and "4.00" in lines[0]
    assert "differs" in lines[1] and "0.99 (truth 1.00)" in lines[1]
