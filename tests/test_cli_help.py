"""Every command teaches: its --help has an example, and the README's command table is the CLI's."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from councilspend.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def leaf_commands(group: click.Group = main, prefix: tuple[str, ...] = ()) -> dict[str, click.Command]:
    """``"registers load"`` → its command, for every command a user can run."""
    ctx = click.Context(group)
    out = {}
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if isinstance(cmd, click.Group):
            out.update(leaf_commands(cmd, (*prefix, name)))
        else:
            out[" ".join((*prefix, name))] = cmd
    return out


def readme_commands() -> dict[str, list[str]]:
    """Command → the options its README row names, from the table under "## Commands"."""
    section = README.read_text(encoding="utf-8").split("## Commands", 1)[1].split("\n## ", 1)[0]
    out: dict[str, list[str]] = {}
    for line in section.splitlines():
        if not line.startswith("| `councilspend "):
            continue
        first_cell = line.split(" | ")[0]
        for usage in re.findall(r"`councilspend ([^`]+)`", first_cell):
            words = usage.split()
            # "registers load KIND PATH" → "registers load"; "normalise FILE..." → "normalise"
            name = " ".join(words[:2]) if len(words) > 1 and re.fullmatch(r"[a-z]+", words[1]) else words[0]
            out.setdefault(name, []).extend(re.findall(r"--[a-z][a-z-]*", usage))
    return out


def test_the_readme_table_lists_exactly_the_cli_commands() -> None:
    assert sorted(readme_commands()) == sorted(leaf_commands())


@pytest.mark.parametrize("name", sorted(readme_commands()))
def test_every_option_the_readme_names_exists(name: str) -> None:
    command = leaf_commands().get(name)
    assert command is not None, f"README names `councilspend {name}`, which the CLI does not have"
    known = {opt for param in command.params for opt in [*param.opts, *param.secondary_opts]}
    missing = [opt for opt in readme_commands()[name] if opt not in known]
    assert not missing, f"`councilspend {name}` has no {', '.join(missing)}"


@pytest.mark.parametrize("name", sorted(leaf_commands()))
def test_every_command_help_has_an_example(name: str) -> None:
    help_text = leaf_commands()[name].help or ""
    assert f"councilspend {name}" in help_text, f"`councilspend {name} --help` shows no example of itself"
