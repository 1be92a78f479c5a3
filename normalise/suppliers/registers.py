"""Stream the free bulk registers into one SQLite "registers" database.

Every register becomes rows of two tables, so the classifier asks one question whatever was loaded:

* ``organisations(register, org_id, name, category, status, company_number, charity_number, code)``:
  one row per organisation per register, ``category`` kept as the register writes it (mapped to a
  sector later, in ``classify.py``, so a policy change needs no reload).
* ``names(key, org_id, register, name_type)``: every name and alias under its match key
  (``keys.match_key``; ``keys.council_key`` for local authorities).

Loading streams in chunks of ``CHUNK`` rows with ``executemany`` (bounded memory: the 5 million-row
Companies House file never sits in memory) and builds the indexes once at the end. Reloading a
kind replaces that register's rows.
"""

from __future__ import annotations

import csv
import re
import sqlite3
import sys
from collections.abc import Callable
from itertools import islice
from pathlib import Path

from normalise.suppliers import registers_full
from normalise.suppliers.register_files import _header, _open_text
from normalise.suppliers.register_kinds import (
    Rows,
    academy_trusts,
    ccni,
    charity_commission,
    charity_company_numbers,
    companies_house,
    fca_mutuals,
    full_list,
    local_authorities,
    nhs_ods,
    social_housing,
)

CHUNK = 50_000
csv.field_size_limit(sys.maxsize)

OrgRow = tuple[str, str, str, str, str, str | None, str | None, str | None]
NameRow = tuple[str, str, str, str]

SCHEMA = """
CREATE TABLE IF NOT EXISTS organisations (
    register TEXT NOT NULL, org_id TEXT NOT NULL, name TEXT, category TEXT, status TEXT,
    company_number TEXT, charity_number TEXT, code TEXT
);
CREATE TABLE IF NOT EXISTS names (key TEXT NOT NULL, org_id TEXT NOT NULL, register TEXT NOT NULL, name_type TEXT);
CREATE TABLE IF NOT EXISTS loads (register TEXT PRIMARY KEY, path TEXT, rows INTEGER, loaded_at TEXT);
"""
INDEXES = """
CREATE INDEX IF NOT EXISTS organisations_org_id ON organisations(org_id);
CREATE INDEX IF NOT EXISTS organisations_company_number ON organisations(company_number);
CREATE INDEX IF NOT EXISTS organisations_charity_number ON organisations(charity_number);
CREATE INDEX IF NOT EXISTS organisations_code ON organisations(code);
CREATE INDEX IF NOT EXISTS names_key ON names(key);
"""


KINDS: dict[str, Callable[..., Rows]] = {
    "companies_house": companies_house,
    "charity_commission": charity_commission,
    "ccni": ccni,
    "fca_mutuals": fca_mutuals,
    "nhs_ods": nhs_ods,
    "local_authorities": local_authorities,
    "academy_trusts": academy_trusts,
    "social_housing": social_housing,
    "charity_company_numbers": charity_company_numbers,
    "public_bodies": full_list(
        lambda rows, header: registers_full.public_bodies(Path(), rows, header), (), True
    ),
    "nhs_icb": full_list(registers_full.nhs_icbs, ("ICB24CDH", "ICB24NM"), False),
    "charities": full_list(registers_full.charities, (), True),
    "cics": full_list(registers_full.cics, ("org_id",), False),
    "gias": full_list(registers_full.gias, registers_full.GIAS_COLUMNS, False),
}
# The register a kind's rows are stored under, where it is not the kind itself.
KIND_REGISTER = {"nhs_icb": "nhs_ods"}


# --- writing ------------------------------------------------------------------------------------


def connect(db: Path) -> sqlite3.Connection:
    """Open (creating if needed) a registers database with the schema in place."""
    db = Path(db)
    db.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db)
    conn.executescript(SCHEMA)
    return conn


def load_register(kind: str, path: Path, db: Path, progress: Callable[[int], None] | None = None) -> int:
    """Stream one register file of ``kind`` into ``db``; returns the number of source rows loaded.

    Rows of the same register file type previously loaded are kept (the CCEW extract comes as
    several files of one kind); load the same file twice and you get duplicates, so the CLI
    deletes a kind's rows with ``--replace``.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown register kind {kind!r}; choose one of {', '.join(sorted(KINDS))}")
    path = Path(path)
    conn = connect(db)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        if kind == "local_authorities":
            existing = dict(
                (code, org_id)
                for code, org_id in conn.execute(
                    "SELECT code, org_id FROM organisations WHERE register='local_authorities'"
                )
            )
            existing.update(
                {
                    org_id.rsplit("-", 1)[1]: org_id
                    for (org_id,) in conn.execute(
                        "SELECT org_id FROM organisations WHERE register='local_authorities'"
                    )
                }
            )
            source = local_authorities(path, existing)
        else:
            source = KINDS[kind](path)
        count = 0
        while True:
            batch = list(islice(source, CHUNK))
            if not batch:
                break
            orgs = [o for os_, _ in batch for o in os_]
            names = [n for _, ns in batch for n in ns]
            with conn:
                conn.executemany("INSERT INTO organisations VALUES (?,?,?,?,?,?,?,?)", orgs)
                conn.executemany("INSERT INTO names VALUES (?,?,?,?)", names)
            count += len(batch)
            if progress:
                progress(count)
        with conn:
            conn.executescript(INDEXES)
            conn.execute(
                "INSERT OR REPLACE INTO loads VALUES (?, ?, ?, datetime('now'))", (kind, str(path), count)
            )
        return count
    finally:
        conn.close()


def delete_register(kind: str, db: Path) -> None:
    """Remove every row a kind loaded (used before a fresh load of the same kind)."""
    conn = connect(db)
    with conn:
        registers = (
            [kind, "local_authorities_gss"]
            if kind == "local_authorities"
            else [KIND_REGISTER.get(kind, kind)]
        )
        for reg in registers:
            conn.execute("DELETE FROM organisations WHERE register = ?", (reg,))
            conn.execute("DELETE FROM names WHERE register = ?", (reg,))
    conn.close()


def detect_kind(path: Path) -> str | None:
    """Guess a register kind from a sample file's header (used by tests and ``load --kind auto``)."""
    name = Path(path).name.lower()
    if name.startswith("nhs") or re.match(r"^e?(tr|ct|ccg|praccur)\b", name):
        return "nhs_ods"
    header = set(_header(Path(path), "\t" if name.endswith((".txt", ".tsv")) else ","))
    rules = [
        ({"ICB24CDH", "ICB24NM"}, "nhs_icb"),
        ({"organisation_name", "registration_number"}, "social_housing"),
        ({"Registered Provider Name", "RP Code"}, "social_housing"),
        ({"Organisation"}, "public_bodies"),
        ({"government-organisation", "name"}, "public_bodies"),
        ({"overall_alb_name"}, "public_bodies"),
        ({"opendatacommunities-type", "name"}, "public_bodies"),
        ({"organisation", "local-authority-type", "name"}, "public_bodies"),
        ({"police-force", "name"}, "public_bodies"),
        ({"org_id", "reg_number", "name"}, "charities"),
        ({"transferee_name", "transferee_regno"}, "charities"),
        ({"org_id_a", "org_id_b", "org_name_a", "org_name_b"}, "charities"),
        ({"org_id", "icnptso_code"}, "cics"),
        ({"CompanyName", "CompanyCategory"}, "companies_house"),
        ({"registered_charity_number"}, "charity_commission"),
        ({"Reg charity number"}, "ccni"),
        ({"Society Number"}, "fca_mutuals"),
        ({"URN", "EstablishmentName"}, "gias"),
        ({"local-authority-code"}, "local_authorities"),
        ({"Company Number", "Entity"}, "academy_trusts"),
        ({"Registration number", "Organisation name"}, "social_housing"),
    ]
    for cols, kind in rules:
        if cols <= header:
            return kind
    if {"org_id_a", "org_id_b"} <= header:
        with _open_text(Path(path)) as fh:
            fh.readline()
            first = fh.readline()
        if first.startswith("GB-MPR-"):
            return "fca_mutuals"
        if first.startswith("GB-SHPE-"):
            return "social_housing"
        if re.match(r"GB-(CHC|SC|NIC)-", first):
            return "charity_company_numbers"
    return None
