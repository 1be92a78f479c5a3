"""The ``councilspend`` command. Each stage owns its commands; this module only wires them up.

Commands are imported lazily so ``councilspend --help`` stays fast (Scrapy and pandas are slow
to import).
"""

from __future__ import annotations

import importlib

import click

# command name -> "module:attribute" of a click command or group
COMMANDS: dict[str, str] = {
    "demo": "demo.cli:demo",
    "councils": "crawler.cli:councils",
    "crawl": "crawler.cli:crawl",
    "normalise": "normalise.cli:normalise",
    "check": "normalise.cli:check",
    "classify": "councilspend.cli:classify",
    "registers": "normalise.suppliers.cli:registers",
    "outturn": "normalise.categories.cli:outturn",
    "accuracy": "councilspend.cli:accuracy",
    "publish": "publish.cli:publish",
    "serve": "publish.cli:serve",
    "bench": "benchmarks.cli:bench",
}


class LazyGroup(click.Group):
    def __init__(self, *args, lazy: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.lazy:
            return super().get_command(ctx, name)
        module, attr = self.lazy[name].split(":")
        try:
            command = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            # One broken stage must not take the whole CLI (and its --help) down with it.
            return _unavailable(name, f"{module}:{attr}", exc)
        command.name = name  # the name users type, whatever the function is called
        return command


def _unavailable(name: str, target: str, exc: Exception) -> click.Command:
    def fail() -> None:
        raise click.ClickException(f"command {name!r} is unavailable ({target}): {exc}")

    return click.Command(name, callback=fail, help=f"(unavailable: {exc})")


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="councilspend")
def main() -> None:
    """Crawl, normalise and publish English councils' spending over £500.

    \b
    The whole pipeline on the bundled fictional councils:
        councilspend demo
    Step by step on real councils:
        councilspend crawl --council E08000035 --out data/raw
        councilspend normalise --manifest data/raw/manifest.csv --out-dir data/normalised
        councilspend publish --data data
        councilspend serve --data data
    Check one file before you publish it:
        councilspend check my-spending-march.csv
    """


@click.group(
    cls=LazyGroup,
    lazy={
        "suppliers": "normalise.suppliers.cli:classify_suppliers",
        "categories": "normalise.categories.cli:classify_categories",
    },
)
def classify() -> None:
    """Classify payees (sector) or expense types and service areas (SeRCOP)."""


@click.group(
    cls=LazyGroup,
    lazy={
        "suppliers": "normalise.suppliers.cli:accuracy_suppliers",
        "categories": "normalise.categories.cli:accuracy_categories",
    },
)
def accuracy() -> None:
    """Measure the classifiers against hand-checked gold labels."""
