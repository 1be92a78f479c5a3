"""Click options every command spells the same way (``--data``, ``--registers-db``, ``--progress``, ``--json``).

A stage's command takes them from here, so ``--data`` means the same folder everywhere and the
registers database has one name (older spellings stay as aliases).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click


def data_option(help: str = "Data directory (raw/, normalised/, registers.db, councilspend.db).") -> Callable:
    return click.option(
        "--data",
        "data_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("data"),
        show_default=True,
        help=help,
    )


def registers_option(
    help: str = "Registers database (supplier registers, Revenue Outturn) "
    "[default: DATA/registers.db when it exists].",
) -> Callable:
    return click.option(
        "--registers-db",
        "--registers",
        "registers_db",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help=help,
    )


def progress_option() -> Callable:
    """``--progress/--quiet`` (``--no-progress`` kept as a synonym of ``--quiet``)."""
    return click.option(
        "--progress/--quiet",
        " /--no-progress",
        "progress",
        default=True,
        show_default=True,
        help="Show progress bars (--quiet for logs and scripts).",
    )


def registers_db_option(default: Path | None = None, help: str = "Registers database.") -> Callable:
    """``--registers-db`` for commands that write the registers database (``--db`` kept as an alias)."""
    return click.option(
        "--registers-db",
        "--db",
        "db",
        type=click.Path(dir_okay=False, path_type=Path),
        default=default,
        show_default=default is not None,
        help=help,
    )


def json_option(help: str = "Print the result as JSON instead of text.") -> Callable:
    return click.option("--json", "as_json", is_flag=True, help=help)
