"""A small, deterministic normaliser output directory for tests and benchmarks of the publish stage.

Publish must be testable without running the crawler and normaliser, and without ``../shared``.
This writes exactly what the normaliser writes (``rows/<sha>.parquet``, ``reports/<sha>.json``,
``files.csv``) for three fictional councils, with the awkward cases the site must handle: an
individual payee (whose name must never be published), a redaction, a credit note, a supplier named
like an XSS payload, a superseded file and a rejected file.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from councilspend.schemas import field_names

SCRIPT_SUPPLIER = "<script>alert(1)</script>"
INDIVIDUAL_NAME = "Mr Joseph Example-Person"

# The columns of the normaliser's files.csv (published/files.schema.yaml adds publish-only ones).
FILES_COLUMNS = [
    "sha256",
    "council_id",
    "url",
    "file_name",
    "kind",
    "status",
    "reason",
    "rows_read",
    "rows_kept",
    "rows_rejected",
    "total_pence",
    "period_start",
    "period_end",
    "quality_score",
    "problems",
    "fetched_at",
]

COUNCILS: list[dict] = [
    {
        "id": "E99000001",
        "name": "Sampleshire County Council",
        "type": "county",
        "website": "https://sampleshire.example",
        "spending_pages": ["https://sampleshire.example/spend"],
        "threshold": 500,
        "wdtk_id": "sampleshire_county_council",
    },
    {
        "id": "E99000002",
        "name": "Exampleton Borough Council",
        "type": "district",
        "website": "https://exampleton.example",
        "spending_pages": ["https://exampleton.example/spend"],
        "threshold": 500,
        "wdtk_id": "exampleton_borough_council",
    },
    {
        "id": "E99000003",
        "name": "Testford City Council",
        "type": "unitary",
        "website": "https://testford.example",
        "spending_pages": ["https://testford.example/spend"],
        "threshold": 250,
        "wdtk_id": "",
    },
]

# (supplier_name, company_number, expense_type, service_area, base amount £)
PAYEES: list[tuple[str, str, str, str, float]] = [
    ("Acme Care Services Ltd", "01234567", "Residential Care Placements", "Adult Social Care", 12500.00),
    (
        "Brightside Fostering Limited",
        "07654321",
        "Independent Fostering Agency",
        "Children's Services",
        8200.50,
    ),
    ("Riverside Homes Trust", "", "Supported Housing Contract", "Housing Services", 4300.00),
    ("Greenway Waste Co-operative Ltd", "", "Refuse Collection Contract", "Waste Management", 22000.00),
    ("Sampleshire Trading Company Ltd", "09999999", "Facilities Management", "Corporate Services", 6100.00),
    ("Exampleton Borough Council", "", "Shared Service Recharge", "Revenues and Benefits", 15000.00),
    ("HM Revenue & Customs", "", "Tax Payments", "Finance", 3000.00),
    ("Office Supplies Direct Ltd", "05555555", "Stationery", "Corporate Services", 750.25),
    (SCRIPT_SUPPLIER, "", "Consultancy Fees", "Planning", 999.99),
    (INDIVIDUAL_NAME, "", "Direct Payments", "Adult Social Care", 1250.00),
    ("REDACTED PERSONAL DATA", "", "Residential Care Placements", "Adult Social Care", 2100.00),
]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _rows_for(
    council: dict,
    year: int,
    month: int,
    sha: str,
    n_repeats: int,
    payees: list[tuple[str, str, str, str, float]] | None = None,
) -> pd.DataFrame:
    """One month of payments for one council: every payee, ``n_repeats`` times, amounts varied."""
    first = date(year, month, 1)
    records = []
    line = 2
    for rep in range(n_repeats):
        for i, (name, company, expense, service, base) in enumerate(payees or PAYEES):
            amount = round(base * (1 + 0.01 * ((rep + i + month) % 7)), 2)
            redacted = name.startswith("REDACTED")
            records.append(
                {
                    "council_id": council["id"],
                    "payment_date": first + timedelta(days=(i * 2 + rep) % 27),
                    "date_precision": "day",
                    "period_start": None,
                    "period_end": None,
                    "transaction_ref": f"T{year}{month:02d}{line:05d}",
                    "amount": amount,
                    "amount_basis": "net",
                    "irrecoverable_vat": None,
                    "supplier_name": name,
                    "supplier_ref": f"S{i:04d}",
                    "supplier_company_number": company or None,
                    "supplier_charity_number": None,
                    "supplier_vat_number": None,
                    "is_redacted": redacted,
                    "redaction_reason": "personal" if redacted else None,
                    "expense_type": expense,
                    "expense_code": None,
                    "service_area": service,
                    "directorate": None,
                    "cost_centre": None,
                    "description": (
                        f"{expense} to {name}"
                        if name == INDIVIDUAL_NAME
                        else f"{expense} for {service.lower()}"
                    ),
                    "procurement_category": None,
                    "capital_revenue": "revenue",
                    "is_card": False,
                    "source_sha256": sha,
                    "source_sheet": None,
                    "source_row": line,
                }
            )
            line += 1
    # A credit note: negative amounts are in scope and must survive to the penny.
    records.append(
        {
            **records[0],
            "amount": -125.40,
            "transaction_ref": f"C{year}{month:02d}",
            "source_row": line,
            "description": "Credit note",
        }
    )
    return pd.DataFrame.from_records(records, columns=field_names("payment"))


def write_sample_normalised(
    out_dir: Path,
    *,
    months: int = 3,
    n_repeats: int = 2,
    payees: list[tuple[str, str, str, str, float]] | None = None,
) -> Path:
    """Write a normaliser output directory under ``out_dir`` and return it.

    Each council gets ``months`` monthly files spread over two financial years (2023-24 and
    2024-25), plus one superseded and one rejected file that must contribute no payments. ``payees``
    replaces :data:`PAYEES` (a test of one path through the classifiers brings its own).
    """
    out_dir = Path(out_dir)
    (out_dir / "rows").mkdir(parents=True, exist_ok=True)
    (out_dir / "reports").mkdir(parents=True, exist_ok=True)
    file_rows = []
    # March and April straddle the financial-year boundary on purpose.
    periods = [(2024, 3), (2024, 4), (2024, 5), (2024, 6), (2024, 7), (2024, 8)][:months]
    for council in COUNCILS:
        for year, month in periods:
            file_rows.append(_monthly_file(out_dir, council, year, month, n_repeats, payees))
        # Superseded: same URL as the first month, older bytes. Its rows exist but must not count.
        sha_old = _sha(f"{council['id']}-old")
        df_old = _rows_for(council, *periods[0], sha_old, 1, payees)
        df_old.to_parquet(out_dir / "rows" / f"{sha_old}.parquet", index=False)
        file_rows.append(
            {
                **file_rows[-len(periods)],
                "sha256": sha_old,
                "status": "superseded",
                "reason": "replaced by a newer version of the same URL",
                "rows_read": len(df_old),
                "rows_kept": len(df_old),
                "total_pence": int(round(df_old["amount"].sum() * 100)),
            }
        )
        file_rows.append(_rejected_file(council))
    pd.DataFrame(file_rows, columns=FILES_COLUMNS).to_csv(out_dir / "files.csv", index=False)
    return out_dir


def _monthly_file(out_dir: Path, council: dict, year: int, month: int, n_repeats: int, payees) -> dict:
    """One month's rows file and report; returns its ``files.csv`` row. The third council's files lack
    two Code fields, so the quality page has something to say."""
    sha = _sha(f"{council['id']}-{year}-{month}")
    df = _rows_for(council, year, month, sha, n_repeats, payees)
    df.to_parquet(out_dir / "rows" / f"{sha}.parquet", index=False)
    end = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
    partial = council["id"] == "E99000003"
    problems = (
        [
            {
                "severity": "warning",
                "rule": "Code 2015 Part 2, item 6",
                "message": "no column for the irrecoverable VAT",
            },
            {
                "severity": "warning",
                "rule": "Code 2015 Part 2, item 7",
                "message": "no column for the merchant category",
            },
        ]
        if partial
        else []
    )
    code_2015 = {field: True for field in ("date", "department", "beneficiary", "purpose", "amount")}
    code_2015.update(irrecoverable_vat=not partial, merchant_category=not partial)
    report = {
        "sha256": sha,
        "council_id": council["id"],
        "kind": "payments",
        "rows_read": len(df),
        "rows_kept": len(df),
        "rows_rejected": 0,
        "code_2015": code_2015,
        "problems": problems,
    }
    (out_dir / "reports" / f"{sha}.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    return {
        "sha256": sha,
        "council_id": council["id"],
        "url": f"{council['website']}/files/spend-{year}-{month:02d}.csv",
        "file_name": f"spend-{year}-{month:02d}.csv",
        "kind": "payments",
        "status": "counted",
        "reason": "",
        "rows_read": len(df),
        "rows_kept": len(df),
        "rows_rejected": 0,
        "total_pence": int(round(df["amount"].sum() * 100)),
        "period_start": f"{year}-{month:02d}-01",
        "period_end": end.isoformat(),
        "quality_score": 100 - 15 * len(problems),
        "problems": json.dumps(problems),
        "fetched_at": "2025-01-10T09:00:00+00:00",
    }


def _rejected_file(council: dict) -> dict:
    """A file the normaliser rejected (an HTML page served as .csv): listed, never summed."""
    problem = {"severity": "error", "rule": "readable", "message": "an HTML page, not a spreadsheet"}
    return {
        "sha256": _sha(f"{council['id']}-rejected"),
        "council_id": council["id"],
        "url": f"{council['website']}/files/error.csv",
        "file_name": "error.csv",
        "kind": "rejected",
        "status": "rejected",
        "reason": "HTML page served as .csv",
        "rows_read": 0,
        "rows_kept": 0,
        "rows_rejected": 0,
        "total_pence": 0,
        "period_start": "",
        "period_end": "",
        "quality_score": 0,
        "problems": json.dumps([problem]),
        "fetched_at": "2025-01-10T09:00:00+00:00",
    }


def build_sample_site(root: Path, **kwargs) -> Path:
    """Write the sample normalised dir under ``root`` and build ``root/councilspend.db`` from it."""
    from publish.build.build import build_database

    write_sample_normalised(Path(root) / "normalised", **kwargs)
    classify_sample(Path(root) / "normalised")
    return build_database(Path(root), Path(root) / "councilspend.db", registry=COUNCILS, progress=False)


def classify_sample(normalised: Path) -> Path:
    """What ``normalise --manifest`` does after the files: classify their payees and categories."""
    from normalise.classes import classify_crawl

    return classify_crawl(Path(normalised))
