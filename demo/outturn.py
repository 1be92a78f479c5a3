"""Revenue Outturn figures for the demo councils, written in the shape of MHCLG's RSX CSV.

Real RSX files (../shared/data/reference/outturn/README.md) hold one financial year each: six
title lines, four hidden code rows, the header on row 10, £ thousand as strings with thousands
commas, 14 services x 7 measures, an England total row and trailing all-comma rows. We write one
such file per financial year so the project's real loader reads them unchanged.

Each division's gross expenditure (C3) is set so that the council's externally delivered payments
are a plausible share of it; the total is the sum of the divisions, as in the real files.
"""

from __future__ import annotations

import csv
import io
import math
import random

from demo.ledger import Council

SERVICES = [
    ("edu", "Education services", "education"),
    ("trans", "Highways and transport services", "highways_transport"),
    ("csc", "Children Social Care", "childrens_social_care"),
    ("asc", "Adult Social Care", "adult_social_care"),
    ("phs", "Public Health", "public_health"),
    ("hous", "Housing services (GFRA only)", "housing"),
    ("cul", "Cultural and related services", "cultural"),
    ("env", "Environmental and regulatory services", "environmental_regulatory"),
    ("plan", "Planning and development services", "planning_development"),
    ("pol", "Police services", "police"),
    ("frs", "Fire and rescue services", "fire"),
    ("cen", "Central services", "central_services"),
    ("oth", "Other services", "other"),
]
TOTAL = ("totsx", "Total Service Expenditure")
MEASURES = [
    ("empl", "Employees\n (C1)"),
    ("run-exp", "Running Expenses\n (C2)"),
    ("tot-exp", "Total Expenditure\n (C3 = C1 + C2)"),
    ("sfc", "Sales, Fees and Charges\n (C4)"),
    ("oth-inc", "Other Income\n (C5)"),
    ("tot-inc", "Total Income\n (C6 = C4 + C5)"),
    ("net-cur-exp", "Net Current Expenditure\n (C7 = C3 - C6)"),
]
ID_COLUMNS = ["E-code", "ONS Code", "Local authority", "Notes", "Class", "Detailed Class", "Certified"]


def division_expenditure(
    rng: random.Random, provided: list[str], external_pence: dict[str, int]
) -> dict[str, int]:
    """Gross expenditure (C3, £ thousand) per division: external delivery over a 20-45% share,
    plus in-house spend; 0 for services the council does not provide."""
    share = rng.uniform(0.20, 0.45)
    out = {}
    for _, _, division in SERVICES:
        if division not in provided:
            out[division] = 0
            continue
        external_k = max(0, external_pence.get(division, 0)) / 100_000
        out[division] = math.ceil(external_k / share) + rng.randint(150, 1500)
    return out


def _measures(c3: int) -> list[int]:
    """Split C3 into the seven RSX measures so every identity in the headers holds."""
    c1 = round(c3 * 0.38)
    c4 = round(c3 * 0.09)
    c5 = round(c3 * 0.06)
    return [c1, c3 - c1, c3, c4, c5, c4 + c5, c3 - c4 - c5]


def _cell(value: int) -> str:
    return f"{value:,}"


def rsx_csv(fy: str, councils: list[Council], c3_by_council: dict[str, dict[str, int]]) -> bytes:
    """One RSX CSV (UTF-8 with BOM, like the real one) for one financial year."""
    columns = [(code, name, m_code, m_name) for code, name, _ in SERVICES for m_code, m_name in MEASURES]
    columns += [(TOTAL[0], TOTAL[1], m_code, m_name) for m_code, m_name in MEASURES]
    width = len(ID_COLUMNS) + len(columns)
    pad = [""] * (width - 1)
    rows = [
        [f"Worksheet 2: Revenue Outturn (RO) {fy}: Service Expenditure Summary (RSX) data", *pad],
        [
            "This worksheet contains 2 tables. Some cells refer to notes which can be found on the notes "
            "worksheet. Data is reported in £ thousand. ",
            *pad,
        ],
        ['Produced on a non-IAS19 and PFI "Off Balance Sheet" basis unless stated otherwise.', *pad],
        [
            f"Source: Ministry of Housing, Communities & Local Government Revenue Outturn (RO) returns {fy} "
            "(FICTIONAL DEMO FIGURES)",
            *pad,
        ],
        ["Last updated: 2 November 2026", *pad],
        [
            "Rows 7-10 are hidden. These rows contain reference data required for this table to populate. ",
            *pad,
        ],
        [""] * 7 + [f"RSX-{code}-{m}" for code, _, m, _ in columns],
        [""] * 7 + [f"C{j % 7 + 1}R{190 + 10 * (j // 7)}" for j in range(len(columns))],
        ["", "", "", "", "", "Row_no", ""] + [str(190 + 10 * (j // 7)) for j in range(len(columns))],
        ["", "", "", "", "", "Col_no", ""] + [str(j % 7 + 1) for j in range(len(columns))],
        ID_COLUMNS + [f"{name} - {m_name}" for _, name, _, m_name in columns],
    ]
    england = [0] * len(columns)
    for n, council in enumerate(councils):
        c3 = c3_by_council[council.id]
        values: list[int] = []
        for _, _, division in SERVICES:
            values += _measures(c3[division])
        total = [sum(values[i::7]) for i in range(7)]
        values += total
        england = [a + b for a, b in zip(england, values, strict=True)]
        rows.append(
            [f"E99{n:02d}", council.id, council.name, "", council.rsx_class, council.rsx_class, "Y"]
            + [_cell(v) for v in values]
        )
    rows.append(
        ["Eng", "E92000001", "ENGLAND (demo councils only)", "", "Eng", "Eng", "[Y]"]
        + [_cell(v) for v in england]
    )
    rows += [[""] * width for _ in range(5)]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
