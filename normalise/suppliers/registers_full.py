"""Loaders for the fuller public-sector, housing and charity lists (``../shared/data/registers/full``).

Each yields ``(organisation rows, name rows)`` like the loaders in ``registers.py``. Categories are a
small fixed vocabulary (``PUBLIC_CATEGORIES`` and the RSH designations), mapped to sectors by
``register_categories`` in rules.yml, so a policy change needs no reload. Lists with no register id
(the ONS Public Sector Classification Guide, police forces) get ``GB-PSCG-<hash of the match key>``: a
stable councilspend id, not an org-id.guide scheme.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

from normalise.suppliers.keys import charity_number, charity_org_id, company_number, display_name, match_key

OrgRow = tuple[str, str, str, str, str, str | None, str | None, str | None]
NameRow = tuple[str, str, str, str]
Rows = Iterator[tuple[list[OrgRow], list[NameRow]]]

# digital-land / opendatacommunities organisation types → our public-body categories
TYPE_CATEGORY = {
    "police": "police",
    "fire": "fire",
    "national-park": "national park",
    "nationalpark": "national park",
    "passenger-transport": "transport authority",
    "transport": "transport authority",
    "waste": "waste authority",
    "regional-park": "regional park",
    "regionalpark": "regional park",
    "development-corporation": "development corporation",
    "combined-authority": "combined authority",
    "government-organisation": "central government",
}
PUBLIC_CATEGORIES = (
    "central government",
    "public corporation",
    "council company",
    "local government",
    "police",
    "fire",
    "national park",
    "transport authority",
    "waste authority",
    "regional park",
    "development corporation",
    "combined authority",
    "nhs",
)
# A body's own name says what it is more reliably than the sheet it sits on.
NAME_CATEGORY = (
    (re.compile(r"\b(police|constabulary|crime commissioner)\b"), "police"),
    (re.compile(r"\bfire\b"), "fire"),
    (re.compile(r"\bnational park\b"), "national park"),
    (re.compile(r"\bcombined authority\b"), "combined authority"),
    (
        re.compile(r"\b(passenger transport|transport executive|integrated transport)\b"),
        "transport authority",
    ),
    (re.compile(r"\bnhs\b|\bhealth board\b|\bintegrated care board\b"), "nhs"),
)
REGISTER = "public_bodies"


def pscg_id(name: str) -> str:
    """A stable id for a public body with no register id: ``GB-PSCG-`` + 10 hex digits of its match key."""
    return "GB-PSCG-" + hashlib.sha1(match_key(name).encode("utf-8")).hexdigest()[:10].upper()


def _category(name: str, default: str) -> str:
    text = match_key(name)
    return next((cat for pattern, cat in NAME_CATEGORY if pattern.search(text)), default)


def _body(
    name: str,
    category: str,
    org_id: str | None = None,
    code: str | None = None,
    aliases: tuple[str, ...] = (),
) -> tuple[list[OrgRow], list[NameRow]]:
    name = display_name(name)
    org_id = org_id or pscg_id(name)
    org = (REGISTER, org_id, name, _category(name, category), "Open", None, None, code)
    keys = {match_key(n) for n in (name, *aliases) if n}
    return [org], [(k, org_id, REGISTER, "name") for k in sorted(keys) if k]


def public_bodies(path: Path, rows: Iterator[dict], header: list[str]) -> Rows:
    """Any of the public-body lists, told apart by header: PSCG sheets, GOV.UK organisation register,
    Cabinet Office public bodies directory, DLUHC opendatacommunities, digital-land, police forces."""
    cols = set(header)
    for r in rows:
        if "Organisation" in cols:  # PSCG derived sheets
            name = r["Organisation"].strip()
            sponsor = (
                r.get("Sponsoring Department") or r.get("Sponsoring Body") or r.get("Sponsoring Entity") or ""
            ).strip()
            if not name or "en bloc" in name.lower():
                continue
            if "Sponsoring Department" in cols:  # public non-financial corporations
                if sponsor == "DCLG" and "registered providers" in (r.get("Notes") or "").lower():
                    continue  # housing associations: the RSH list decides (non-profit or not)
                yield _body(name, "council company" if sponsor == "LA" else "public corporation")
            else:
                yield _body(name, "local government" if "Sponsoring Body" in cols else "central government")
        elif "organisation" in cols and "local-authority-type" in cols:  # digital-land organisations
            kind = r["organisation"].split(":", 1)[0]
            category = TYPE_CATEGORY.get(kind) or next(
                (c for t, c in TYPE_CATEGORY.items() if kind.startswith(t)), None
            )
            if category and not r.get("end-date", "").strip():
                yield _body(r["name"], category, code=r.get("statistical-geography") or None)
        elif "government-organisation" in cols:  # GOV.UK register (2020)
            if r.get("end-date", "").strip():
                continue
            key = r["key"].strip()
            yield _body(
                r["name"],
                "public corporation" if key.startswith("PC") else "central government",
                f"GB-GOR-{key}",
                key,
            )
        elif "overall_alb_name" in cols:  # Cabinet Office public bodies directory
            short = r.get("overall_alb_short_name", "").strip()
            aliases = (short,) if len(short) >= 4 and short.upper() != short.lower() else ()
            yield _body(r["overall_alb_name"], "central government", aliases=aliases)
        elif "opendatacommunities-type" in cols:  # DLUHC local-government bodies
            kind = r["opendatacommunities-type"].rsplit("/", 1)[-1]
            category = next(
                (c for t, c in TYPE_CATEGORY.items() if kind.lower().startswith(t.replace("-", ""))), None
            )
            if category and not r.get("end-date", "").strip():  # councils come from the LA register
                yield _body(
                    r.get("official-name") or r["name"],
                    category,
                    code=r.get("billing-authority") or None,
                    aliases=(r["name"],),
                )
        elif "police-force" in cols:
            yield _body(r["name"], "police", code=r["police-force"].strip())


def nhs_icbs(rows: Iterator[dict]) -> Rows:
    """ONS ICB names and codes: the 42 integrated care boards under their ODS code."""
    for r in rows:
        code = r["ICB24CDH"].strip()
        org_id = f"GB-NHS-{code}"
        name = display_name(r["ICB24NM"])
        short = re.sub(r"\s*Integrated Care Board$", " ICB", name)
        keys = sorted({match_key(name), match_key(short)} - {""})
        yield (
            [("nhs_ods", org_id, name, "Integrated care board", "Open", None, None, code)],
            [(k, org_id, "nhs_ods", "name") for k in keys],
        )


DESIGNATIONS = {"non-profit": "Non-profit", "profit": "Profit", "local authority": "Local authority"}


def rsh_providers(rows: Iterator[dict], name_col: str, code_col: str) -> Rows:
    """RSH list of registered providers (2023 CSV or the 2017 HCA TSV): designation is the category, the
    corporate form (a registered society or not) the status."""
    for r in rows:
        code = r[code_col].strip()
        if not code:
            continue
        org_id = f"GB-SHPE-{code}"
        name = display_name(r[name_col])
        designation = DESIGNATIONS.get(
            (r.get("designation") or r.get("Designation") or "").strip().lower(), "Registered provider"
        )
        key = match_key(name)
        form = (r.get("corporate_form") or r.get("Legal Entity") or "").strip()
        status = (
            "Registered society" if form.startswith(("FCA", "Registered society")) else form or "Registered"
        )
        yield (
            [("social_housing", org_id, name, designation, status, None, None, code)],
            [(key, org_id, "social_housing", "name")] if key else [],
        )


def charities(rows: Iterator[dict], header: list[str]) -> Rows:
    """Charity names with numbers: UK-CAT samples (CCEW/OSCR/CCNI), mergers, federated charities."""
    cols = set(header)
    for r in rows:
        if "reg_number" in cols:  # ukcat sample / top2000
            pairs = [(r["org_id"].strip(), r["name"], company_number(r.get("company_number")))]
        elif "transferee_name" in cols:  # register of mergers: both sides are (or were) charities
            pairs = [
                (f"GB-CHC-{r[f'{side}_regno'].strip()}", r[f"{side}_name"], None)
                for side in ("transferee", "transferor")
                if r[f"{side}_subno"].strip() in ("", "0")
            ]
        else:  # federations: org_id_a / org_id_b with their names
            pairs = [(r[f"org_id_{s}"].strip(), r[f"org_name_{s}"], None) for s in ("a", "b")]
        for org_id, name, cn in pairs:
            m = re.match(r"GB-(CHC|SC|NIC)-(\w+)$", org_id)
            number = charity_number(("NI" if m and m.group(1) == "NIC" else "") + m.group(2)) if m else None
            key = match_key(name)
            if not number or not key or len(key) < 4:
                continue
            org_id = charity_org_id(number)
            yield (
                [("charities", org_id, display_name(name), "Charity", "Registered", cn, number, None)],
                [(key, org_id, "charities", "name")],
            )


def cics(rows: Iterator[dict]) -> Rows:
    """UK-CAT's CIC list: company numbers only (no names), so it helps when a file gives the number."""
    for r in rows:
        number = company_number(r["org_id"].removeprefix("GB-COH-"))
        if number:
            yield (
                [
                    (
                        "cics",
                        f"GB-COH-{number}",
                        None,
                        "Community Interest Company",
                        "Open",
                        number,
                        None,
                        None,
                    )
                ],
                [],
            )


GIAS_COLUMNS = ("URN", "EstablishmentName", "TypeOfEstablishment (name)", "EstablishmentStatus (name)")


def gias(rows: Iterator[dict]) -> Rows:
    """GIAS "Get Information about Schools" (edubasealldata): every school under ``GB-EDU-<URN>``; the type
    of establishment is the category (independent schools map apart from state schools in rules.yml)."""
    for r in rows:
        urn = r["URN"].strip()
        name = display_name(r["EstablishmentName"])
        if not urn or not name:
            continue
        org_id = f"GB-EDU-{urn}"
        category = display_name(r["TypeOfEstablishment (name)"]) or "School"
        status = display_name(r["EstablishmentStatus (name)"])
        key = match_key(name)
        yield (
            [("gias", org_id, name, category, status, None, None, urn)],
            [(key, org_id, "gias", "name")] if key else [],
        )
