"""Compile the bundled reference register from the shared register files (re-runnable).

    python -m normalise.suppliers.reference.build [--registers ../shared/data/registers]

Loads each listed file with the ordinary loaders (``registers.load_register``) into a temporary
database, then writes its two tables as sorted CSVs next to this file, so a rebuild from the same
inputs gives the same bytes. Public bodies' short name forms (``name_forms.yml``, ``forms.py``) are
added before writing.
"""

from __future__ import annotations

import argparse
import csv
import sqlite3
import tempfile
from pathlib import Path

from normalise.suppliers.reference import NAME_COLUMNS, NAMES_FILE, ORGANISATION_COLUMNS, ORGANISATIONS_FILE
from normalise.suppliers.reference.forms import add_name_forms
from normalise.suppliers.registers import detect_kind, load_register

DEFAULT_REGISTERS = Path(__file__).resolve().parents[4] / "shared" / "data" / "registers"
# (path under the registers directory): local authorities first (later lookups refer to them)
SOURCES = (
    "uk_local_authorities_future.csv",
    "la_lookup_name_to_registry.csv",
    "la_lookup_gss_to_registry.csv",
    "academy-trusts-company-number.csv",
    "nhs_ods_etr_2021.csv",
    "full/nhs_ods_etr_2025.csv",
    "full/nhs_ods_eccg_2025.csv",
    "full/ons_icb_names_codes_dec_2024.csv",
    "full/ons_pscg_2017-06_local_government.derived.csv",
    "full/ons_pscg_2017-06_central_government.derived.csv",
    "full/ons_pscg_2017-06_public_nonfinancial_corporations.derived.csv",
    "full/govuk_government_organisation_register_2020-09.csv",
    "full/cabinet_office_public_bodies_directory_2023_24.data.derived.csv",
    "full/dluhc_odc_localgov.csv",
    "full/digital_land_organisation_2023-11.csv",
    "full/police_forces_2018.tsv",
    "full/rsh_registered_providers_2023.derived.csv",
    "full/rsh_registered_providers_2017-05-08.tsv",
    "full/ukcat_charities_top2000.csv",
)


def build(registers_dir: Path) -> dict[str, int]:
    """Load every source into a scratch database and write the reference CSVs; rows loaded per file."""
    loaded: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "reference.db"
        for name in SOURCES:
            path = registers_dir / name
            kind = detect_kind(path)
            if kind is None:
                raise ValueError(f"{path}: cannot tell which register this is")
            loaded[name] = load_register(kind, path, db)
        conn = sqlite3.connect(db)
        loaded["name_forms.yml (short names)"] = add_name_forms(conn)
        _dump(conn, "organisations", ORGANISATION_COLUMNS, ORGANISATIONS_FILE)
        _dump(conn, "names", NAME_COLUMNS, NAMES_FILE)
        conn.close()
    return loaded


def _dump(conn: sqlite3.Connection, table: str, columns: tuple[str, ...], path: Path) -> None:
    rows = conn.execute(f"SELECT DISTINCT {', '.join(columns)} FROM {table} ORDER BY {', '.join(columns)}")
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(["" if v is None else v for v in r] for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registers", type=Path, default=DEFAULT_REGISTERS)
    args = parser.parse_args()
    for name, n in build(args.registers).items():
        print(f"{n:>7,}  {name}")
    print(
        f"-> {ORGANISATIONS_FILE} ({ORGANISATIONS_FILE.stat().st_size:,} bytes), "
        f"{NAMES_FILE} ({NAMES_FILE.stat().st_size:,} bytes)"
    )


if __name__ == "__main__":
    main()
