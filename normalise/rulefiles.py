"""Load the normaliser's YAML rule files (synonyms, kinds, redaction, Code fields, authorities).

libyaml's C loader when present: the authorities list takes ~1 s with the pure-Python loader, and
every worker process loads it once.
"""

from __future__ import annotations

from pathlib import Path

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> dict:
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (safe loader)
