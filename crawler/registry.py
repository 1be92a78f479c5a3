"""The council registry (which councils to crawl, from where) and the national register of councils.

* ``crawler/councils.yml`` — the crawl list: GSS code, name, type, website, spending pages,
  threshold, optional CKAN publisher. ``load_registry`` validates it and names the bad entry.
* ``import_register`` — mySociety's register of UK local authorities (names, GSS codes, types,
  start/end dates, replaced-by), stored as a CSV, so abolished councils (Craven, Harrogate) stay
  resolvable: a 2019 file from Harrogate still belongs to someone.
* ``resolve`` — a name, GSS code or register code → one council, from both sources.
"""

from __future__ import annotations

import csv
import io
import os
import re
import urllib.request
from pathlib import Path
from typing import Any

import yaml

BUNDLED_REGISTRY = Path(__file__).with_name("councils.yml")
DEFAULT_REGISTER = Path("data") / "council_register.csv"
COUNCIL_TYPES = ("county", "district", "unitary", "metropolitan", "london_borough", "other")
GSS_RE = re.compile(r"^[EWSNK]\d{8}$")
URL_RE = re.compile(r"^https?://[^/\s]+", re.IGNORECASE)

# mySociety ``local-authority-type`` → our ``type``.
REGISTER_TYPES = {"CTY": "county", "NMD": "district", "UA": "unitary", "MD": "metropolitan",
                  "LBO": "london_borough"}
REGISTER_COLUMNS = ["council_id", "register_code", "name", "nice_name", "type", "type_code", "nation",
                    "region", "start_date", "end_date", "replaced_by", "replaced_by_ids", "current",
                    "alt_names", "former_gss_codes", "gov_uk_slug", "wdtk_id"]
SOURCE_COLUMNS = ["local-authority-code", "official-name", "nice-name", "gss-code", "start-date",
                  "end-date", "replaced-by", "nation", "local-authority-type"]


class RegistryError(ValueError):
    """A registry or register file is malformed; the message names the file, entry and field."""


# --------------------------------------------------------------------------- crawl registry


def validate_council(council: Any, where: str, *, strict_id: bool = True) -> dict:
    """Check one registry entry; return it with defaults filled. ``where`` prefixes error messages."""
    if not isinstance(council, dict):
        raise RegistryError(f"{where}: expected a mapping, got {type(council).__name__}")

    def fail(field: str, problem: str) -> None:
        raise RegistryError(f"{where} ({council.get('id', '?')}), field {field!r}: {problem}")

    cid = council.get("id")
    if not isinstance(cid, str) or not cid:
        fail("id", "required (the council's GSS code, e.g. E08000035)")
    if strict_id and not GSS_RE.match(cid):
        fail("id", f"{cid!r} is not a GSS code (a letter E/W/S/N/K and 8 digits)")
    if not isinstance(council.get("name"), str) or not council["name"].strip():
        fail("name", "required")
    if council.get("type", "other") not in COUNCIL_TYPES:
        fail("type", f"{council.get('type')!r} is not one of {', '.join(COUNCIL_TYPES)}")
    website = council.get("website") or ""
    if website and not URL_RE.match(website):
        fail("website", f"{website!r} is not an http(s) URL")
    pages = council.get("spending_pages") or []
    if not isinstance(pages, list):
        fail("spending_pages", "must be a list of URLs")
    for url in pages:
        if not isinstance(url, str) or not URL_RE.match(url):
            fail("spending_pages", f"{url!r} is not an http(s) URL")
    threshold = council.get("threshold")
    if threshold is not None and (not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 0):
        fail("threshold", f"{threshold!r} must be a whole number of pounds or null")
    for key in ("dgu_publisher", "wdtk_id"):
        if council.get(key) is not None and not isinstance(council[key], str | int):
            fail(key, "must be a string")
    api = council.get("ckan_api")
    if api is not None and (not isinstance(api, str) or not URL_RE.match(api) or not api.endswith("/")):
        fail("ckan_api", f"{api!r} must be a URL ending in '/api/3/action/'")
    domains = council.get("domains") or []
    if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
        fail("domains", "must be a list of host names")
    out = dict(council)
    out.setdefault("type", "other")
    out["spending_pages"] = list(pages)
    out["domains"] = list(domains)
    out.setdefault("threshold", None)
    if out.get("wdtk_id") is not None:
        out["wdtk_id"] = str(out["wdtk_id"])
    return out


def load_registry(path: Path | None = None) -> list[dict]:
    """Councils from a registry YAML file (``None`` → the bundled ``crawler/councils.yml``)."""
    path = Path(path) if path is not None else BUNDLED_REGISTRY
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read registry: {exc}") from exc
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("councils"), list):
        raise RegistryError(f"{path}: expected a top-level 'councils:' list")
    councils: list[dict] = []
    seen: set[str] = set()
    for i, entry in enumerate(data["councils"], start=1):
        council = validate_council(entry, f"{path}: council #{i}")
        if council["id"] in seen:
            raise RegistryError(f"{path}: council #{i}: duplicate id {council['id']}")
        seen.add(council["id"])
        councils.append(council)
    return councils


# --------------------------------------------------------------------------- national register


def _read_source(source: str) -> str:
    if URL_RE.match(source):
        from crawler.settings import user_agent

        request = urllib.request.Request(source, headers={"User-Agent": user_agent()})
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (http(s) only)
            return response.read().decode("utf-8-sig")
    try:
        return Path(source).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise RegistryError(f"{source}: cannot read: {exc}") from exc


def _clean_number(value: str) -> str:
    """mySociety's CSV writes some ids as floats ('82.0')."""
    return value[:-2] if value.endswith(".0") else value


def import_register(source: str, out: Path) -> int:
    """Load mySociety's ``uk_local_authorities_current.csv`` (path or URL) and write our register
    CSV to ``out``; return the number of councils written."""
    text = _read_source(source)
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in SOURCE_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise RegistryError(f"{source}: not mySociety's local authority register (missing columns: "
                            f"{', '.join(missing)})")
    source_rows = list(reader)
    gss_by_code = {r["local-authority-code"]: r["gss-code"] for r in source_rows}
    rows = []
    for line, r in enumerate(source_rows, start=2):
        code = r["local-authority-code"].strip()
        if not code or not r["official-name"].strip():
            raise RegistryError(f"{source}: row {line}: missing local-authority-code or official-name")
        replaced = [c.strip() for c in r["replaced-by"].split(",") if c.strip()]
        rows.append({
            "council_id": r["gss-code"].strip(),
            "register_code": code,
            "name": r["official-name"].strip(),
            "nice_name": r["nice-name"].strip(),
            "type": REGISTER_TYPES.get(r["local-authority-type"], "other"),
            "type_code": r["local-authority-type"],
            "nation": r["nation"],
            "region": r.get("region", ""),
            "start_date": r["start-date"],
            "end_date": r["end-date"],
            "replaced_by": ",".join(replaced),
            "replaced_by_ids": ",".join(gss_by_code.get(c, "") for c in replaced),
            "current": "false" if r["end-date"] else "true",
            "alt_names": r.get("alt-names", ""),
            "former_gss_codes": r.get("former-gss-codes", ""),
            "gov_uk_slug": r.get("gov-uk-slug", ""),
            "wdtk_id": _clean_number(r.get("wdtk-id", "")),
        })
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=REGISTER_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(out)
    return len(rows)


def register_path() -> Path:
    """Where ``councils import`` stores the register by default (``COUNCILSPEND_COUNCIL_REGISTER``)."""
    return Path(os.environ.get("COUNCILSPEND_COUNCIL_REGISTER") or DEFAULT_REGISTER)


def load_register(path: Path | None = None) -> list[dict]:
    """Rows of an imported register CSV; [] when none has been imported yet."""
    path = Path(path) if path is not None else register_path()
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------- resolve

_DROP_WORDS = re.compile(
    r"\b(the|council|borough|district|county|city|metropolitan|london borough of|royal borough of|"
    r"city of|of|corporation|unitary|authority)\b"
)


def _norm(name: str) -> str:
    name = name.casefold().replace("&", " and ").replace("-", " ")
    name = re.sub(r"[^\w\s]", " ", name)
    return " ".join(_DROP_WORDS.sub(" ", name).split())


def _register_entry(row: dict) -> dict:
    return {
        "id": row["council_id"],
        "name": row["name"],
        "type": row["type"],
        "register_code": row["register_code"],
        "nation": row["nation"],
        "start_date": row["start_date"],
        "end_date": row["end_date"],
        "replaced_by": [c for c in row["replaced_by_ids"].split(",") if c],
        "replaced_by_codes": [c for c in row["replaced_by"].split(",") if c],
        "wdtk_id": row["wdtk_id"],
        "gov_uk_slug": row["gov_uk_slug"],
    }


def resolve(name_or_code: str, *, register: Path | None = None, registry: list[dict] | None = None) -> dict | None:
    """Find one council by GSS code, register code (``HAG``) or name, in the crawl registry and the
    imported register (``councils import``). Abolished councils resolve too, with ``end_date`` and
    ``replaced_by`` (GSS codes). Ambiguous names prefer the current council. None if not found."""
    query = (name_or_code or "").strip()
    if not query:
        return None
    registry = load_registry() if registry is None else registry
    register_rows = load_register(register)

    def pick(rows: list[dict]) -> dict | None:
        if not rows:
            return None
        return sorted(rows, key=lambda r: (r.get("end_date") or "9999", r.get("start_date") or ""))[-1]

    def from_register(match) -> dict | None:
        return pick([r for r in register_rows if match(r)])

    def from_registry(match) -> dict | None:
        return next((c for c in registry if match(c)), None)

    folded, normed = query.casefold(), _norm(query)
    reg_names = lambda r: [r["name"], r["nice_name"], *r["alt_names"].split(",")]  # noqa: E731
    attempts = [
        (lambda c: c["id"].upper() == query.upper(),
         lambda r: r["council_id"].upper() == query.upper()
         or query.upper() in r["former_gss_codes"].upper().split(",")),
        (lambda c: False, lambda r: r["register_code"] == query.upper() and len(query) <= 4),
        (lambda c: c["name"].casefold() == folded,
         lambda r: folded in [n.strip().casefold() for n in reg_names(r)]),
        (lambda c: _norm(c["name"]) == normed,
         lambda r: normed in [_norm(n) for n in reg_names(r) if n.strip()]),
    ]
    for registry_match, register_match in attempts:
        crawl_entry = from_registry(registry_match)
        reg_row = from_register(register_match)
        if crawl_entry is None and reg_row is None:
            continue
        if reg_row is None and crawl_entry is not None:
            reg_row = pick([r for r in register_rows if r["council_id"] == crawl_entry["id"]])
        if crawl_entry is None and reg_row is not None:
            crawl_entry = from_registry(lambda c, gss=reg_row["council_id"]: c["id"] == gss)
        result: dict = _register_entry(reg_row) if reg_row else {}
        result.update(crawl_entry or {})
        return result
    return None
