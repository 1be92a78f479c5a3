"""The demo councils' payment ledgers: every payment they make, with its TRUE classification.

The files on the demo websites are renderings of these rows in real councils' shapes, so the
ground truth (``truth.py``) is computed from the rows, never from the files. All randomness comes
from one ``random.Random(seed)`` consumed in a fixed order, so a seed always gives the same rows.
"""

from __future__ import annotations

import csv
import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import yaml

HERE = Path(__file__).parent
FINANCIAL_YEARS = ("2024-25", "2025-26")
CREDIT_CHANCE = 0.04
BLANK_EXPENSE_CHANCE = 0.02


@dataclass(frozen=True)
class Council:
    id: str
    slug: str
    name: str
    place: str
    type: str
    rsx_class: str
    threshold: int
    site: str
    shape: str
    redaction: str
    neighbour: str
    wdtk_id: str
    dgu_publisher: str = ""
    card_file: bool = False
    totals_file: bool = False
    html_error_file: bool = False
    robots_disallowed_file: bool = False


@dataclass(frozen=True)
class Payment:
    """One line a council paid. ``group``/``division``/``sector`` are the truth, never published."""

    council_id: str
    paid_on: date
    payee: str
    sector: str
    expense_type: str
    group: str
    service_area: str
    division: str
    directorate: str
    pence: int
    ref: str
    supplier_ref: str = ""
    company_number: str = ""
    charity_number: str = ""
    is_card: bool = False
    merchant_category: str = ""

    @property
    def financial_year(self) -> str:
        return financial_year(self.paid_on)


@dataclass
class Vocabulary:
    expense_groups: dict[str, str]
    service_areas: dict[str, tuple[str, str]]  # label -> (division, directorate)
    divisions_by_type: dict[str, list[str]]
    payees: list[dict] = field(default_factory=list)
    script_payee: dict = field(default_factory=dict)
    card_merchants: list[dict] = field(default_factory=list)


def financial_year(day: date) -> str:
    """April-March year label, e.g. 2024-04-01 -> ``2024-25``."""
    start = day.year if day.month >= 4 else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def months_of(fy: str) -> list[date]:
    """First day of each month of a financial year, April first."""
    start = int(fy[:4])
    return [date(start + (m < 4), m, 1) for m in (4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3)]


def month_end(first: date) -> date:
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


@cache
def load_councils() -> tuple[Council, ...]:
    rows = yaml.safe_load((HERE / "councils.yml").read_text(encoding="utf-8"))
    return tuple(Council(**row) for row in rows)


@cache
def load_vocabulary() -> Vocabulary:
    cats = yaml.safe_load((HERE / "categories.yml").read_text(encoding="utf-8"))
    payees = yaml.safe_load((HERE / "payees.yml").read_text(encoding="utf-8"))
    return Vocabulary(
        expense_groups={str(k): v for k, v in cats["expense_types"].items()},
        service_areas={k: (v[0], v[1]) for k, v in cats["service_areas"].items()},
        divisions_by_type=cats["divisions_by_type"],
        payees=payees["payees"],
        script_payee=payees["script_payee"],
        card_merchants=payees["card_merchants"],
    )


def load_council_companies() -> list[dict[str, str]]:
    """``council_companies.csv``: the evidence a supplier classifier may use for council companies."""
    with open(HERE / "council_companies.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _stable_number(text: str, digits: int) -> str:
    """A number derived from text (not ``hash()``, which changes between runs)."""
    value = int(hashlib.sha256(text.encode()).hexdigest(), 16) % (10**digits)
    return f"{value:0{digits}d}"


def _resolve_payee(spec: dict, council: Council, by_id: dict[str, Council]) -> dict:
    """Fill a payee's placeholders for one paying council."""
    name = spec["name"].format(
        place=council.place, neighbour=by_id[council.neighbour].name, redaction=council.redaction
    )
    company = str(spec.get("company_number", "") or "")
    charity = str(spec.get("charity_number", "") or "")
    if company == "auto":
        company = "1" + _stable_number("company " + name, 7)
    if charity == "auto":
        charity = "11" + _stable_number("charity " + name, 5)
    return {**spec, "name": name, "company_number": company, "charity_number": charity}


def _eligible_payees(council: Council, vocab: Vocabulary, by_id: dict[str, Council]) -> list[dict]:
    """Payees this council would pay: a district pays no care homes, only its own company, ..."""
    provided = vocab.divisions_by_type[council.type]
    out = []
    for spec in vocab.payees:
        if "types" in spec and council.type not in spec["types"]:
            continue
        if spec["divisions"] != ["any"] and not set(spec["divisions"]) & set(provided):
            continue
        if "council" in spec and spec["council"] != council.id:
            continue
        out.append(_resolve_payee(spec, council, by_id))
    return out


def _pick_division(rng: random.Random, wanted: list[str], provided: list[str]) -> str:
    choices = provided if wanted == ["any"] else [d for d in wanted if d in provided]
    return rng.choice(choices or ["central_services"])


def _areas_by_division(vocab: Vocabulary) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for label, (division, _) in vocab.service_areas.items():
        out.setdefault(division, []).append(label)
    return out


def _amount(rng: random.Random, low: float, high: float) -> int:
    """Pence, log-uniform between two pound figures (many small bills, a few big ones)."""
    return int(round(math.exp(rng.uniform(math.log(low), math.log(high))) * 100))


def _weekday_in_month(rng: random.Random, first: date) -> date:
    last = month_end(first)
    while True:
        day = first + timedelta(days=rng.randrange((last - first).days + 1))
        if day.weekday() < 5:
            return day


def _payment(council, rng, vocab, areas, provided, payee, expense, day, pence, ref, **extra) -> Payment:
    division = _pick_division(rng, payee.get("divisions", ["any"]), provided)
    area = rng.choice(areas[division])
    return Payment(
        council_id=council.id,
        paid_on=day,
        payee=payee["name"],
        sector=payee["sector"],
        expense_type=expense,
        group=vocab.expense_groups[expense],
        service_area=area,
        division=division,
        directorate=vocab.service_areas[area][1],
        pence=pence,
        ref=ref,
        supplier_ref="S" + _stable_number(payee["name"], 5),
        company_number=payee.get("company_number", ""),
        charity_number=payee.get("charity_number", ""),
        **extra,
    )


def generate_payments(seed: int, rows_per_month: int) -> list[Payment]:
    """Every demo council's payments (payment lines and card lines) for both financial years."""
    rng = random.Random(seed)
    vocab = load_vocabulary()
    councils = load_councils()
    by_id = {c.id: c for c in councils}
    areas = _areas_by_division(vocab)
    payments: list[Payment] = []
    for council in councils:
        provided = vocab.divisions_by_type[council.type]
        payees = _eligible_payees(council, vocab, by_id)
        weights = [p["weight"] for p in payees]
        prefix = "".join(w[0] for w in council.name.split()[:-1]).upper()
        serial = 100000
        for fy in FINANCIAL_YEARS:
            for first in months_of(fy):
                month_rows = []
                for _ in range(rows_per_month):
                    payee = rng.choices(payees, weights)[0]
                    expense = rng.choice(payee["expense"])
                    if rng.random() < BLANK_EXPENSE_CHANCE:
                        expense = ""
                    pence = _amount(rng, *payee["pounds"])
                    if rng.random() < CREDIT_CHANCE:
                        pence = -max(100, int(pence * rng.uniform(0.05, 0.5)))
                    day = _weekday_in_month(rng, first)
                    serial += 1
                    month_rows.append(
                        _payment(
                            council,
                            rng,
                            vocab,
                            areas,
                            provided,
                            payee,
                            expense,
                            day,
                            pence,
                            f"{prefix}{serial}",
                        )
                    )
                script = vocab.script_payee
                if script["council"] == council.id and first.month in (6, 11):
                    serial += 1
                    spec = {
                        "name": script["name"],
                        "sector": script["sector"],
                        "divisions": ["central_services"],
                    }
                    month_rows.append(
                        _payment(
                            council,
                            rng,
                            vocab,
                            areas,
                            provided,
                            spec,
                            script["expense"],
                            _weekday_in_month(rng, first),
                            _amount(rng, *script["pounds"]),
                            f"{prefix}{serial}",
                        )
                    )
                month_rows.sort(key=lambda p: (p.paid_on, p.ref))
                payments.extend(month_rows)
            if council.card_file:
                payments.extend(_card_payments(council, rng, vocab, areas, provided, fy, rows_per_month))
    return payments


def _card_payments(council, rng, vocab, areas, provided, fy, rows_per_month) -> list[Payment]:
    """Purchase-card lines: small sums, merchants rather than suppliers, one file per quarter."""
    out = []
    months = months_of(fy)
    for q in range(4):
        for i in range(max(4, rows_per_month // 4)):
            merchant = rng.choice(vocab.card_merchants)
            first = months[q * 3 + rng.randrange(3)]
            payee = {"name": merchant["name"], "sector": merchant["sector"], "divisions": ["any"]}
            out.append(
                _payment(
                    council,
                    rng,
                    vocab,
                    areas,
                    provided,
                    payee,
                    merchant["expense"],
                    _weekday_in_month(rng, first),
                    _amount(rng, 3, 450),
                    f"PC{fy[:4]}{q + 1}{i:04d}",
                    is_card=True,
                    merchant_category=merchant["merchant_category"],
                )
            )
    out.sort(key=lambda p: (p.paid_on, p.ref))
    return out
