"""Build ``crawler/england.csv``: every English council, current and abolished, from two registers.

Re-run when a register changes (a reorganisation, a new combined authority)::

    python -m crawler.registry_build --shared ../shared

* mySociety's register (``uk_local_authorities_current.csv``) says which bodies exist, their GSS
  code, type, start/end dates, successors (``replaced-by``) and whether they are current;
* digital-land's organisation register (``digital_land_organisation_2023-11.csv``) gives each one's
  official website (by GSS code).

Hand-known facts (spending pages, thresholds, websites missing from both registers) stay in
``crawler/councils.yml`` and are laid on top by ``crawler.registry.load_registry``. The output is
committed with the package because a user has no ``../shared``.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

from crawler.registry import SOURCE_COLUMNS

NATIONAL_REGISTRY = Path(__file__).with_name("england.csv")
MYSOCIETY = Path("data/reference/uk_local_authorities_current.csv")
DIGITAL_LAND = Path("data/registers/full/digital_land_organisation_2023-11.csv")

# mySociety ``local-authority-type`` → our ``type``.
TYPES = {
    "CTY": "county",
    "NMD": "district",
    "UA": "unitary",
    "MD": "metropolitan",
    "LBO": "london_borough",
    "COMB": "combined_authority",
    "SRA": "strategic_authority",
    "CC": "city_corporation",
}
COLUMNS = [
    "id",
    "name",
    "nice_name",
    "type",
    "register_code",
    "website",
    "website_source",
    "region",
    "start_date",
    "end_date",
    "current",
    "replaced_by",
    "former_gss_codes",
    "alt_names",
    "gov_uk_slug",
    "wdtk_number",
]
MYSOCIETY_COLUMNS = [
    *SOURCE_COLUMNS,
    "current-authority",
]  # the register import's columns and whether current
DIGITAL_LAND_COLUMNS = ["statistical-geography", "website", "name"]


class RegisterError(ValueError):
    """A source register is missing or is not the file we expect; the message names it."""


def _read(path: Path, required: list[str]) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise RegisterError(f"{path}: cannot read: {exc}") from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise RegisterError(f"{path}: missing columns {', '.join(missing)}")
    return list(reader)


def _number(value: str) -> str:
    """mySociety writes some ids as floats ('82.0')."""
    return value[:-2] if value.endswith(".0") else value


def build_rows(mysociety: Path, digital_land: Path) -> list[dict]:
    """One row per English body in mySociety's register (current and abolished), with its website."""
    source = [r for r in _read(mysociety, MYSOCIETY_COLUMNS) if r["nation"] == "England"]
    websites = {
        r["statistical-geography"]: r["website"].strip()
        for r in _read(digital_land, DIGITAL_LAND_COLUMNS)
        if r["statistical-geography"] and r["website"].strip()
    }
    gss_by_code = {r["local-authority-code"]: r["gss-code"] for r in source}
    rows = []
    for r in source:
        gss = r["gss-code"].strip()
        if not gss:
            raise RegisterError(f"{mysociety}: {r['official-name']!r} has no gss-code")
        replaced = [gss_by_code.get(c.strip(), "") for c in r["replaced-by"].split(",") if c.strip()]
        website = websites.get(gss, "")
        rows.append(
            {
                "id": gss,
                "name": r["official-name"].strip(),
                "nice_name": r["nice-name"].strip(),
                "type": TYPES.get(r["local-authority-type"], "other"),
                "register_code": r["local-authority-code"],
                "website": website,
                "website_source": "digital-land" if website else "",
                "region": r.get("region", ""),
                "start_date": r["start-date"],
                "end_date": r["end-date"],
                "current": "true" if r["current-authority"] == "True" else "false",
                "replaced_by": ";".join(c for c in replaced if c),
                "former_gss_codes": r.get("former-gss-codes", "").replace(",", ";"),
                "alt_names": r.get("alt-names", "").replace(",", ";"),
                "gov_uk_slug": r.get("gov-uk-slug", ""),
                "wdtk_number": _number(r.get("wdtk-id", "")),
            }
        )
    return sorted(rows, key=lambda row: row["id"])


def write_rows(rows: list[dict], out: Path) -> None:
    """Write atomically, so an interrupted run never leaves half a registry in the package."""
    tmp = out.with_name(f".{out.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(out)


def build(shared: Path, out: Path = NATIONAL_REGISTRY) -> list[dict]:
    """Read both registers under ``shared`` and write ``out``; return the rows."""
    rows = build_rows(shared / MYSOCIETY, shared / DIGITAL_LAND)
    write_rows(rows, out)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Rebuild crawler/england.csv from mySociety's and digital-land's registers.",
        epilog="example: python -m crawler.registry_build --shared ../shared",
    )
    parser.add_argument(
        "--shared",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "shared",
        help="folder holding data/reference/ and data/registers/full/ (default: ../shared)",
    )
    parser.add_argument(
        "--out", type=Path, default=NATIONAL_REGISTRY, help="where to write (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    try:
        rows = build(args.shared, args.out)
    except RegisterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    current = [r for r in rows if r["current"] == "true"]
    print(
        f"wrote {len(rows)} English bodies ({len(current)} current, "
        f"{sum(not r['website'] for r in current)} current without a website in the registers) to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
