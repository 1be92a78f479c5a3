"""The bundled reference register: the public-sector, housing and large-charity layer compiled from
``../shared/data/registers`` by ``python -m normalise.suppliers.reference.build`` (sources and
licences in README.md here). Used on every run, with or without a registers database, so that
classifying without downloads already gets councils, NHS, police, fire, government bodies, public
corporations, council-sponsored corporations and registered housing providers right.
"""

from __future__ import annotations

import csv
import sqlite3
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORGANISATIONS_FILE = HERE / "organisations.csv"
NAMES_FILE = HERE / "names.csv"
ORGANISATION_COLUMNS = (
    "register",
    "org_id",
    "name",
    "category",
    "status",
    "company_number",
    "charity_number",
    "code",
)
NAME_COLUMNS = ("key", "org_id", "register", "name_type")


@lru_cache(maxsize=1)
def _reference_image() -> bytes:
    """The reference register as a serialised SQLite database (built once per process from the CSVs)."""
    from normalise.suppliers.registers import INDEXES, SCHEMA

    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)
    for path, table, width in ((ORGANISATIONS_FILE, "organisations", 8), (NAMES_FILE, "names", 4)):
        if not path.exists():
            continue
        with open(path, encoding="utf-8", newline="") as fh:
            rows = csv.reader(fh)
            next(rows, None)
            conn.executemany(
                f"INSERT INTO {table} VALUES ({','.join('?' * width)})",
                ([v or None for v in r] for r in rows),
            )
    conn.executescript(INDEXES)
    conn.commit()
    image = conn.serialize()
    conn.close()
    return image


def reference_connection() -> sqlite3.Connection:
    """A private in-memory copy of the reference register (callers may create temp tables in it)."""
    conn = sqlite3.connect(":memory:")
    conn.deserialize(_reference_image())
    return conn
