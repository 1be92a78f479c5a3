"""Load the normaliser's YAML rule files (synonyms, kinds, redaction, Code fields, authorities).

libyaml's C loader when present: the authorities list takes ~1 s with the pure-Python loader, and
every worker process loads it once.
"""

from __future__ import annotations

from pathlib import Path

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(stream: object) -> object:
    """``yaml.safe_load(stream)`` (text or an open file), parsed in C where libyaml is available."""
    return yaml.load(stream, Loader=_Loader)  # noqa: S506 (safe loader)


def load_yaml(path: Path) -> dict:
    return parse_yaml(Path(path).read_text(encoding="utf-8"))
