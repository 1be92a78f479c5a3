"""Ground truth of the demo: what a perfect crawl -> normalise -> publish must report.

Computed from the ledger rows and the outturn figures, never from the rendered files. All money
is integer pence. The measures follow docs/methodology.md exactly (M2/M3 are also in docs/demo.md):

* counted rows = payment lines + purchase-card lines (not supplier totals, not the HTML error
  page, not the robots.txt-disallowed draft);
* spend = all counted rows; transfer = rows whose payee sector is ``transfer`` or whose expense type
  is a transfer whoever is paid (``transfer_kinds`` in categories.yml: housing benefit, loan
  interest, employer's NI and pension contributions);
* a blank expense line's group is what its payee and service say (``blank_line`` in categories.yml);
* unknown = rows, not transfer, whose sector or subjective group is unknown;
* external_delivery = group ``third_party_payments`` and sector in EXTERNAL;
* M2 = external_delivery / (spend - transfer - unknown); M3 = external_delivery / outturn total
  service expenditure (C3, £ thousand x 100,000 pence).
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import cache
from pathlib import Path

import yaml

from councilspend.schemas import enum
from demo.ledger import FINANCIAL_YEARS, Council, Payment
from demo.site_model import PublishedFile

EXTERNAL = ("private", "third_sector", "mutual", "public", "council_company")
SECTORS = enum("published/suppliers", "sector")  # the contract's vocabulary, in its order
PENCE_PER_THOUSAND = 100_000


@cache
def _rules() -> dict:
    return yaml.safe_load((Path(__file__).parent / "categories.yml").read_text(encoding="utf-8"))


def group_of(p: Payment) -> str:
    """The payment's subjective group; a blank expense line's from its payee and service."""
    if p.expense_type:
        return p.group
    rules = _rules()["blank_line"]
    name = re.sub(r"[^a-z0-9]+", " ", p.payee.lower().replace("'", ""))
    if any(re.search(rf"\b{re.escape(w)}\b", name) for w in rules["care_words"]):
        return "third_party_payments"
    if p.sector in rules["third_party_sectors"]:
        return "third_party_payments"
    if p.sector in rules["transfer_payment_sectors"]:
        return "transfer_payments"
    if p.division in rules["third_party_divisions"]:
        return "third_party_payments"
    return "unknown"


def is_transfer(p: Payment) -> bool:
    return p.sector == "transfer" or p.expense_type in _rules()["transfer_kinds"]


def is_external_delivery(p: Payment) -> bool:
    return group_of(p) == "third_party_payments" and p.sector in EXTERNAL and not is_transfer(p)


def is_unknown(p: Payment) -> bool:
    return not is_transfer(p) and (p.sector == "unknown" or group_of(p) == "unknown")


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 6) if den else None


def council_year(rows: list[Payment], outturn_c3: dict[str, int]) -> dict:
    """Truth for one council and financial year."""
    spend = sum(p.pence for p in rows)
    transfer = sum(p.pence for p in rows if is_transfer(p))
    unknown = sum(p.pence for p in rows if is_unknown(p))
    external = [p for p in rows if is_external_delivery(p)]
    external_pence = sum(p.pence for p in external)
    tse_pence = sum(outturn_c3.values()) * PENCE_PER_THOUSAND
    sector = {s: 0 for s in SECTORS}
    group: dict[str, int] = defaultdict(int)
    division: dict[str, int] = defaultdict(int)
    ext_division: dict[str, int] = defaultdict(int)
    ext_sector: dict[str, int] = defaultdict(int)
    for p in rows:
        sector[p.sector] += p.pence
        group[group_of(p)] += p.pence
        division[p.division] += p.pence
    for p in external:
        ext_division[p.division] += p.pence
        ext_sector[p.sector] += p.pence
    card = [p for p in rows if p.is_card]
    denominator = spend - transfer - unknown
    return {
        "rows": len(rows),
        "pence": spend,
        "card_rows": len(card),
        "card_pence": sum(p.pence for p in card),
        "redacted_rows": sum(1 for p in rows if p.sector == "redacted"),
        "credit_rows": sum(1 for p in rows if p.pence < 0),
        "months": sorted({p.paid_on.strftime("%Y-%m") for p in rows}),
        "sector_pence": sector,
        "group_pence": dict(sorted(group.items())),
        "division_pence": dict(sorted(division.items())),
        "m2": {
            "spend_pence": spend,
            "transfer_pence": transfer,
            "unknown_pence": unknown,
            "external_delivery_pence": external_pence,
            "denominator_pence": denominator,
            "value": _ratio(external_pence, denominator),
            "external_delivery_by_sector": dict(sorted(ext_sector.items())),
            "external_delivery_by_division": dict(sorted(ext_division.items())),
        },
        "m3": {
            "external_delivery_pence": external_pence,
            "outturn_tse_pence": tse_pence,
            "value": _ratio(external_pence, tse_pence),
            "by_division": {
                d: {
                    "external_delivery_pence": ext_division.get(d, 0),
                    "outturn_pence": c3 * PENCE_PER_THOUSAND,
                    "value": _ratio(ext_division.get(d, 0), c3 * PENCE_PER_THOUSAND),
                }
                for d, c3 in sorted(outturn_c3.items())
                if c3
            },
        },
    }


def payee_totals(rows: list[Payment]) -> dict[str, dict]:
    """Per payee as published: sector, rows, pence."""
    out: dict[str, dict] = {}
    for p in rows:
        entry = out.setdefault(p.payee, {"sector": p.sector, "rows": 0, "pence": 0})
        entry["rows"] += 1
        entry["pence"] += p.pence
    return dict(sorted(out.items()))


def file_entry(f: PublishedFile) -> dict:
    rows = f.rows if f.counted else []
    return {
        "council_id": f.council_id,
        "url": f.url,
        "also_at": f.also_at,
        "file_name": f.file_name,
        "kind": f.kind,
        "counted": f.counted,
        "financial_year": f.financial_year,
        "sha256": f.sha256,
        "bytes": len(f.data),
        "content_type": f.content_type,
        "rows": len(rows),
        "pence": sum(p.pence for p in rows),
    }


def build_truth(
    seed: int,
    rows_per_month: int,
    councils: tuple[Council, ...],
    payments: list[Payment],
    files: list[PublishedFile],
    outturn_c3: dict[str, dict[str, dict[str, int]]],
    outturn_files: list[str],
) -> dict:
    """The whole ground truth as a JSON-ready dict (see the module docstring for definitions)."""
    by_key: dict[tuple[str, str], list[Payment]] = defaultdict(list)
    for p in payments:
        by_key[(p.council_id, p.financial_year)].append(p)
    result = {
        "seed": seed,
        "rows_per_month": rows_per_month,
        "financial_years": list(FINANCIAL_YEARS),
        "definitions": __doc__.strip(),
        "outturn_files": outturn_files,
        "councils": {},
        "files": [file_entry(f) for f in sorted(files, key=lambda f: f.url)],
    }
    for c in councils:
        years = {}
        payees = {}
        for fy in FINANCIAL_YEARS:
            rows = by_key[(c.id, fy)]
            years[fy] = council_year(rows, outturn_c3[c.id][fy])
            years[fy]["outturn_c3_thousands"] = outturn_c3[c.id][fy]
            payees[fy] = payee_totals(rows)
        result["councils"][c.id] = {
            "name": c.name,
            "slug": c.slug,
            "type": c.type,
            "site": c.site,
            "shape": c.shape,
            "years": years,
            "payees": payees,
        }
    return result
