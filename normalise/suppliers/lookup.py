"""Register look-ups: what the loaded registers say about an organisation, and the sector it implies."""

from __future__ import annotations

import logging
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from normalise.suppliers.decision import Decision
from normalise.suppliers.reference import reference_connection
from normalise.suppliers.rulebook import load_rules

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrgFact:
    register: str
    org_id: str
    name: str | None
    category: str | None
    status: str | None
    company_number: str | None
    charity_number: str | None
    code: str | None


class Registers:
    """Read-only access to a registers database built by ``registers.load_register``."""

    def __init__(self, db: Path | None, use_reference: bool = True):
        self.conns: list[sqlite3.Connection] = []
        if db is not None and Path(db).exists():
            conn = sqlite3.connect(f"file:{Path(db).resolve()}?mode=ro", uri=True)
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name='names'").fetchone():
                self.conns.append(conn)
            else:
                log.warning("%s has no supplier registers loaded", db)
                conn.close()
        elif db is not None:
            log.warning("registers database %s not found", db)
        if use_reference:  # the bundled public-sector and housing layer, always consulted
            self.conns.append(reference_connection())
        self.rules = load_rules()

    @property
    def active(self) -> bool:
        """Whether any register is loaded (without one, look-ups are skipped altogether)."""
        return bool(self.conns)

    def close(self) -> None:
        for conn in self.conns:
            conn.close()

    def _facts(self, where: str, values: list[str]) -> dict[str, list[OrgFact]]:
        """{value: [OrgFact]} for organisations whose column in ``where`` equals a value (every database)."""
        out: dict[str, list[OrgFact]] = defaultdict(list)
        for conn in self.conns:
            for start in range(0, len(values), 900):
                chunk = values[start : start + 900]
                marks = ",".join("?" * len(chunk))
                sql = (
                    f"SELECT {where}, register, org_id, name, category, status, company_number, charity_number, "
                    f"code FROM organisations WHERE {where} IN ({marks})"
                )
                for row in conn.execute(sql, chunk):
                    fact = OrgFact(*row[1:])
                    if fact not in out[row[0]]:
                        out[row[0]].append(fact)
        return out

    def names(self, keys: list[str], registers: tuple[str, ...] | None = None) -> dict[str, set[str]]:
        """{key: {org_id}} from the names index of every database."""
        out: dict[str, set[str]] = defaultdict(set)
        if not keys:
            return out
        for conn in self.conns:
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS q(key TEXT PRIMARY KEY)")
            conn.execute("DELETE FROM q")
            conn.executemany("INSERT OR IGNORE INTO q VALUES (?)", ((k,) for k in keys))
            sql = "SELECT n.key, n.org_id, n.register FROM q JOIN names n ON n.key = q.key"
            for key, org_id, register in conn.execute(sql):
                if registers is None or register in registers:
                    out[key].add(org_id)
        return out

    def facts_for(self, org_ids: Iterable[str]) -> dict[str, list[OrgFact]]:
        """Everything every register says about these org-ids, widened through shared company numbers."""
        org_ids = sorted(set(org_ids))
        direct = self._facts("org_id", org_ids)
        numbers = sorted(
            {f.company_number for fs in direct.values() for f in fs if f.company_number}
            | {o.removeprefix("GB-COH-") for o in org_ids if o.startswith("GB-COH-")}
        )
        by_number = self._facts("company_number", numbers)
        out: dict[str, list[OrgFact]] = {}
        for o in org_ids:
            facts = list(direct.get(o, []))
            nums = {f.company_number for f in facts if f.company_number}
            if o.startswith("GB-COH-"):
                nums.add(o.removeprefix("GB-COH-"))
            for num in nums:
                facts += [f for f in by_number.get(num, []) if f not in facts]
            out[o] = facts
        return out

    def decide(self, facts: list[OrgFact], how: str, name_text: str = "") -> Decision | None:
        """One decision from everything the registers say about one organisation."""
        if not facts:
            return None
        cats = self.rules["register_categories"]
        order = self.rules["register_precedence"]
        facts = sorted(facts, key=lambda f: order.index(f.register) if f.register in order else len(order))
        registers = {f.register for f in facts}
        top = facts[0]
        mapping = cats.get(top.register, {})
        key = top.status if top.register == "charity_commission" else top.category
        sector, subsector, conf = mapping.get(key) or mapping.get("*") or ["unknown", "", 0.3]
        if (
            top.register == "social_housing"
            and ("fca_mutuals" in registers or top.status == "Registered society")
            and not re.search(r"\b(homes?|housing|dwellings?|tenants?|estates?)\b", name_text)
        ):
            # A registered society that also provides some social housing (care providers often do):
            # it is a mutual first; the RSH registration is noted.
            mutual = next((f for f in facts if f.register == "fca_mutuals"), None)
            fca = cats["fca_mutuals"]
            sector, subsector, conf = (fca.get(mutual.category) if mutual else None) or fca["*"]
            subsector += "; registered_housing_provider"
        if (
            top.register == "companies_house"
            and top.category == "Royal Charter Company"
            and re.search(r"\b(university|college)\b", name_text)
        ):
            sector, subsector = "public", "higher_education"
        org_id = preferred_org_id(facts)
        name = next((f.name for f in facts if f.name), None)
        evidence = f"register {top.register} ({how}): {top.org_id} {top.category or ''}".strip()
        return Decision(
            sector,
            subsector,
            float(conf),
            evidence,
            "register" if how == "name" else "identifier",
            org_id,
            name,
        )


SCHEME_PREFERENCE = (
    "GB-LAE",
    "GB-LAS",
    "GB-PLA",
    "GB-LANI",
    "GB-NHS",
    "GB-CHC",
    "GB-SC",
    "GB-NIC",
    "GB-COH",
    "GB-MPR",
    "GB-SHPE",
)


def preferred_org_id(facts: list[OrgFact]) -> str:
    ids = [f.org_id for f in facts if f.register != "local_authorities_gss"] or [facts[0].org_id]
    for prefix in SCHEME_PREFERENCE:
        for i in ids:
            if i.startswith(prefix + "-"):
                return i
    return ids[0]
