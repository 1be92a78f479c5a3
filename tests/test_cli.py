"""Every command the CLI advertises imports and explains itself."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from councilspend.cli import COMMANDS, main

SUBCOMMANDS = [
    ["classify", "suppliers"],
    ["classify", "categories"],
    ["accuracy", "suppliers"],
    ["accuracy", "categories"],
    ["councils", "import"],
    ["registers", "load"],
    ["outturn", "load"],
]


@pytest.mark.parametrize("args", [[name] for name in COMMANDS] + SUBCOMMANDS, ids=" ".join)
def test_help(args: list[str]) -> None:
    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "unavailable" not in result.output
    assert "Usage: " in result.output and " ".join(args) in result.output


def test_top_level_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output
