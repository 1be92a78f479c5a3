"""One reader per register kind: each yields (organisation rows, name rows) per source row.

``registers.py`` streams what these yield into the registers database; a reader only knows its
publisher's file layout and which of its columns are names, numbers and categories.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from normalise.suppliers import registers_full
from normalise.suppliers.keys import (
    charity_number,
    charity_org_id,
    company_number,
    council_key,
    display_name,
    match_key,
)
from normalise.suppliers.register_files import RegisterFormatError, _dict_rows, _header, _open_text

OrgRow = tuple[str, str, str, str, str, str | None, str | None, str | None]
NameRow = tuple[str, str, str, str]

Rows = Iterator[tuple[list[OrgRow], list[NameRow]]]


def _names(org_id: str, register: str, pairs: Iterable[tuple[str, str]], keyer=match_key) -> list[NameRow]:
    out: list[NameRow] = []
    seen: set[str] = set()
    for name, name_type in pairs:
        key = keyer(name) if name else ""
        if key and key not in seen:
            seen.add(key)
            out.append((key, org_id, register, name_type))
    return out


def companies_house(path: Path) -> Rows:
    """BasicCompanyData: read by column position (the file has 5 million rows and 55 columns)."""
    with _open_text(path) as fh:
        reader = csv.reader(fh)
        header = [h.strip().lstrip("\ufeff") for h in next(reader, [])]
        missing = [c for c in ("CompanyName", "CompanyNumber", "CompanyCategory") if c not in header]
        if missing:
            raise RegisterFormatError(
                f"{path}: missing column(s) {', '.join(missing)}; header is {header[:12]}"
            )
        pos = {h: i for i, h in enumerate(header)}
        i_name, i_number, i_cat = pos["CompanyName"], pos["CompanyNumber"], pos["CompanyCategory"]
        i_status, i_sic = pos.get("CompanyStatus"), pos.get("SICCode.SicText_1")
        i_prev = [pos[c] for c in (f"PreviousName_{n}.CompanyName" for n in range(1, 11)) if c in pos]
        width = len(header)
        for row in reader:
            if len(row) < width:
                if not row:
                    continue
                row = row + [""] * (width - len(row))
            number = company_number(row[i_number])
            if not number:
                continue
            org_id = f"GB-COH-{number}"
            name = display_name(row[i_name])
            sic = row[i_sic][:5] if i_sic is not None else ""
            org = (
                "companies_house",
                org_id,
                name,
                row[i_cat].strip(),
                row[i_status] if i_status is not None else "",
                number,
                None,
                sic or None,
            )
            pairs = [(name, "name")] + [(row[i], "previous") for i in i_prev if row[i]]
            yield [org], _names(org_id, "companies_house", pairs)


def charity_commission(path: Path) -> Rows:
    header = _header(path, "\t")
    with _open_text(path) as fh:
        if "charity_name_type" in header:  # publicextract.charity_other_names
            for r in _dict_rows(fh, path, ["registered_charity_number", "charity_name"], "\t"):
                number = charity_number(r["registered_charity_number"])
                if number:
                    name_type = (r.get("charity_name_type") or "other").lower()
                    yield (
                        [],
                        _names(f"GB-CHC-{number}", "charity_commission", [(r["charity_name"], name_type)]),
                    )
            return
        required = [
            "registered_charity_number",
            "linked_charity_number",
            "charity_name",
            "charity_registration_status",
        ]
        for r in _dict_rows(fh, path, required, "\t"):
            number = charity_number(r["registered_charity_number"])
            if not number:
                continue
            org_id = f"GB-CHC-{number}"
            names = _names(org_id, "charity_commission", [(r["charity_name"], "name")])
            orgs: list[OrgRow] = []
            if r["linked_charity_number"].strip() in ("", "0"):
                orgs.append(
                    (
                        "charity_commission",
                        org_id,
                        display_name(r["charity_name"]),
                        r.get("charity_type") or "Charity",
                        r["charity_registration_status"],
                        company_number(r.get("charity_company_registration_number")),
                        number,
                        None,
                    )
                )
            yield orgs, names


def ccni(path: Path) -> Rows:
    with _open_text(path) as fh:
        for r in _dict_rows(fh, path, ["Reg charity number", "Charity name", "Status"]):
            digits = re.sub(r"\D", "", r["Reg charity number"])
            if not digits:
                continue
            org_id = f"GB-NIC-{digits}"
            org = (
                "ccni",
                org_id,
                display_name(r["Charity name"]),
                r.get("Type of governing document", ""),
                r["Status"],
                company_number(r.get("Company number")),
                f"NI{digits}",
                None,
            )
            names = _names(org_id, "ccni", [(r["Charity name"], "name"), (r.get("Other name", ""), "other")])
            yield [org], names


MUTUAL_SUFFIX = re.compile(r"^(\d+)([A-Z]*)$")


def fca_mutuals(path: Path) -> Rows:
    header = _header(path)
    with _open_text(path) as fh:
        if "Society Number" in header:  # the FCA's own SocietyList.csv
            for r in _dict_rows(fh, path, ["Society Number", "Society Name", "Registered As"]):
                number = r["Society Number"].strip().upper().replace(" ", "")
                if not number:
                    continue
                org_id = f"GB-MPR-{number}"
                org = (
                    "fca_mutuals",
                    org_id,
                    display_name(r["Society Name"]),
                    r["Registered As"].strip(),
                    r.get("Society Status", ""),
                    None,
                    None,
                    number,
                )
                yield [org], _names(org_id, "fca_mutuals", [(r["Society Name"], "name")])
            return
        # charity-lookups "mutual-companies": org_id_a = GB-MPR-…, org_id_b = GB-COH-…
        for r in _dict_rows(fh, path, ["org_id_a", "org_id_b", "org_name"]):
            org_id = r["org_id_a"].strip()
            if not org_id.startswith("GB-MPR-"):
                continue
            number = org_id.removeprefix("GB-MPR-")
            m = MUTUAL_SUFFIX.match(number)
            category = f"suffix:{m.group(2)}" if m and m.group(2) else "suffix:"
            coh = r["org_id_b"].strip().removeprefix("GB-COH-") or None
            org = (
                "fca_mutuals",
                org_id,
                display_name(r["org_name"]),
                category,
                "Registered",
                company_number(coh) if coh else None,
                None,
                number,
            )
            yield [org], _names(org_id, "fca_mutuals", [(r["org_name"], "name")])


NHS_NOISE = re.compile(r"\b(?:nhs|foundation)\b")


def nhs_ods(path: Path) -> Rows:
    """ODS files have no header: column 0 is the code, 1 the name, 11 the close date."""
    with _open_text(path) as fh:
        for lineno, row in enumerate(csv.reader(fh), start=1):
            if len(row) < 2:
                continue
            code, name = row[0].strip(), display_name(row[1])
            if not re.fullmatch(r"[A-Z0-9]{3,6}", code):
                raise RegisterFormatError(f"{path}: row {lineno}: first column {code!r} is not an ODS code")
            org_id = f"GB-NHS-{code}"
            closed = row[11].strip() if len(row) > 11 else ""
            org = ("nhs_ods", org_id, name, "NHS trust", "Closed" if closed else "Open", None, None, code)
            key = match_key(name)
            # Councils often drop "NHS" or "Foundation": index those variants too.
            short = re.sub(r"\s+", " ", NHS_NOISE.sub(" ", key)).strip()
            names = _names(org_id, "nhs_ods", [(name, "name")])
            if short and short != key:
                names.append((short, org_id, "nhs_ods", "variant"))
            yield [org], names


NATION_SCHEME = {"England": "GB-LAE", "Scotland": "GB-LAS", "Wales": "GB-PLA", "Northern Ireland": "GB-LANI"}


def _acronyms(name: str) -> set[str]:
    words = re.findall(r"[A-Za-z]+", name)
    full = "".join(w[0] for w in words).upper()
    caps = "".join(w[0] for w in words if w[0].isupper()).upper()
    return {a for a in (full, caps) if len(a) >= 4}


def local_authorities(path: Path, existing: dict[str, str]) -> Rows:
    header = _header(path)
    with _open_text(path) as fh:
        if "official-name" in header:
            required = ["local-authority-code", "official-name", "nice-name", "gss-code", "nation"]
            for r in _dict_rows(fh, path, required):
                code = r["local-authority-code"].strip()
                if not code:
                    continue
                org_id = f"{NATION_SCHEME.get(r['nation'].strip(), 'GB-LAE')}-{code}"
                existing[code] = org_id
                status = "Closed" if r.get("end-date", "").strip() else "Open"
                org = (
                    "local_authorities",
                    org_id,
                    r["official-name"].strip(),
                    r.get("local-authority-type-name", ""),
                    status,
                    None,
                    None,
                    r["gss-code"].strip() or code,
                )
                pairs = [(r["official-name"], "name"), (r["nice-name"], "nice")]
                pairs += [(alt, "alt") for alt in r.get("alt-names", "").split(",")]
                if r.get("local-authority-type", "") in ("COMB", "SRA"):  # "GMCA", "NOTCA", "GLA"
                    pairs += [(a, "acronym") for a in _acronyms(r["official-name"]) | {code}]
                yield [org], _names(org_id, "local_authorities", pairs, keyer=council_key)
            return
        if "la-name" in header:  # mySociety lookup_name_to_registry.csv
            for r in _dict_rows(fh, path, ["la-name", "local-authority-code"]):
                code = r["local-authority-code"].strip()
                org_id = existing.get(code, f"GB-LAE-{code}")
                yield [], _names(org_id, "local_authorities", [(r["la-name"], "alt")], keyer=council_key)
            return
        if "gss-code" in header:  # lookup_gss_to_registry.csv: GSS codes of councils
            for r in _dict_rows(fh, path, ["gss-code", "local-authority-code"]):
                code = r["local-authority-code"].strip()
                org_id = existing.get(code, f"GB-LAE-{code}")
                yield (
                    [
                        (
                            "local_authorities_gss",
                            org_id,
                            None,
                            "GSS code",
                            "",
                            None,
                            None,
                            r["gss-code"].strip(),
                        )
                    ],
                    [],
                )
            return
    raise RegisterFormatError(f"{path}: not a mySociety local-authority file (header {header[:8]})")


def academy_trusts(path: Path) -> Rows:
    header = _header(path)
    name_col = "Entity" if "Entity" in header else "Group Name"
    number_col = "Company Number" if "Company Number" in header else "Companies House Number"
    with _open_text(path) as fh:
        for r in _dict_rows(fh, path, [name_col, number_col]):
            number = company_number(r[number_col])
            if not number:
                continue
            org_id = f"GB-COH-{number}"
            org = (
                "academy_trusts",
                org_id,
                display_name(r[name_col]),
                r.get("Type", "Academy Trust") or "Academy Trust",
                "Open",
                number,
                None,
                None,
            )
            yield [org], _names(org_id, "academy_trusts", [(r[name_col], "name")])


def social_housing(path: Path) -> Rows:
    delimiter = "\t" if path.suffix == ".tsv" else ","
    header = _header(path, delimiter)
    for name_col, code_col in (
        ("organisation_name", "registration_number"),
        ("Registered Provider Name", "RP Code"),
    ):
        if name_col in header:  # RSH 2023 list as CSV, HCA 2017 list as TSV
            with _open_text(path) as fh:
                yield from registers_full.rsh_providers(
                    _dict_rows(fh, path, [name_col, code_col], delimiter), name_col, code_col
                )
            return
    with _open_text(path) as fh:
        if "Registration number" in header:  # the RSH list itself
            for r in _dict_rows(fh, path, ["Organisation name", "Registration number"]):
                code = r["Registration number"].strip()
                if not code:
                    continue
                org_id = f"GB-SHPE-{code}"
                category = r.get("Designation", "") or "Registered provider"
                org = (
                    "social_housing",
                    org_id,
                    display_name(r["Organisation name"]),
                    category,
                    "Registered",
                    None,
                    None,
                    code,
                )
                yield [org], _names(org_id, "social_housing", [(r["Organisation name"], "name")])
            return
        # charity-lookups "rsp-charity-number": ids only, no names
        for r in _dict_rows(fh, path, ["org_id_a", "company_number", "charity_number"]):
            org_id = r["org_id_a"].strip()
            if not org_id.startswith("GB-SHPE-"):
                continue
            charity = charity_number(r["charity_number"])
            org = (
                "social_housing",
                org_id,
                None,
                "Registered provider",
                "Registered",
                company_number(r["company_number"]),
                charity,
                org_id.removeprefix("GB-SHPE-"),
            )
            yield [org], []


def charity_company_numbers(path: Path) -> Rows:
    with _open_text(path) as fh:
        for r in _dict_rows(fh, path, ["org_id_a", "org_id_b", "org_name"]):
            a, b = r["org_id_a"].strip(), r["org_id_b"].strip()
            m = re.match(r"GB-(CHC|SC|NIC)-(\w+)$", a)
            if not m or not b.startswith("GB-COH-"):
                continue
            number = charity_number(("NI" if m.group(1) == "NIC" else "") + m.group(2))
            if not number:
                continue
            org_id = charity_org_id(number)
            org = (
                "charity_company_numbers",
                org_id,
                display_name(r["org_name"]),
                "Charity",
                "Registered",
                company_number(b.removeprefix("GB-COH-")),
                number,
                None,
            )
            yield [org], _names(org_id, "charity_company_numbers", [(r["org_name"], "name")])


def full_list(
    reader: Callable[..., Rows], required: tuple[str, ...], with_header: bool
) -> Callable[[Path], Rows]:
    """A loader for one of the registers_full readers: opens the file, checks ``required`` columns."""

    def load(path: Path) -> Rows:
        delimiter = "\t" if Path(path).suffix == ".tsv" else ","
        header = _header(path, delimiter)
        with _open_text(path) as fh:
            rows = _dict_rows(fh, path, required, delimiter)
            yield from (reader(rows, header) if with_header else reader(rows))

    return load
