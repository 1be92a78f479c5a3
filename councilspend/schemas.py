"""Load the Frictionless contracts between stages (YAML files in ``schemas/``).

Every stage reads its contract from here, so a changed field shows up in every test that
validates that stage's output.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

SCHEMA_DIR = Path(__file__).parent / "schemas"


@cache
def descriptor(name: str) -> dict:
    """Return the schema descriptor named ``name`` (``manifest``, ``payment``, ``published/payments``)."""
    path = SCHEMA_DIR / f"{name}.schema.yaml"
    if not path.exists():
        known = sorted(p.name.removesuffix(".schema.yaml") for p in SCHEMA_DIR.rglob("*.schema.yaml"))
        raise KeyError(f"no schema {name!r}; known: {', '.join(known)}")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def field_names(name: str) -> list[str]:
    """Field names of a schema, in order: the column order of the stage's output."""
    return [f["name"] for f in descriptor(name)["fields"]]


def frictionless_schema(name: str):
    """The schema as a ``frictionless.Schema`` (imported lazily: frictionless is slow to import)."""
    from frictionless import Schema

    d = dict(descriptor(name))
    for key in ("name", "title", "description"):
        d.pop(key, None)
    return Schema.from_descriptor(d)


def enum(name: str, field: str) -> tuple[str, ...]:
    """The ``enum`` constraint of ``field`` in schema ``name``: a vocabulary defined once, in the contract
    (``enum("published/suppliers", "sector")`` is the sector list every stage uses)."""
    for f in descriptor(name)["fields"]:
        if f["name"] == field:
            return tuple(f["constraints"]["enum"])
    raise KeyError(f"schema {name!r} has no field {field!r}")
