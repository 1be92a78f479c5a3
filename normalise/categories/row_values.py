"""Which canonical payment columns feed the classifier, in order of preference.

Councils put the "what was bought" heading in different columns: Calderdale has no expense type
but a SeRCOP-style procurement category; Hyndburn has only a free-text description. Likewise the
"which service" heading may be a service area, a directorate or only a cost centre. Taking the
first non-blank column per row keeps every file classifiable; the publish stage should use these
rather than ``expense_type``/``service_area`` alone.
"""

from __future__ import annotations

import pandas as pd

EXPENSE_COLUMNS = ("expense_type", "procurement_category", "description")
SERVICE_COLUMNS = ("service_area", "directorate", "cost_centre")


def first_filled(rows: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    """Per row, the first of ``columns`` that is present and not blank ("" if none)."""
    out = pd.Series("", index=rows.index, dtype="object")
    for col in reversed(columns):
        if col in rows.columns:
            value = rows[col].astype("object").where(rows[col].notna(), "").astype(str).str.strip()
            out = value.where(value != "", out)
    return out


def expense_value(rows: pd.DataFrame) -> pd.Series:
    """The value to classify as ``expense_type`` for each canonical payment row."""
    return first_filled(rows, EXPENSE_COLUMNS)


def service_value(rows: pd.DataFrame) -> pd.Series:
    """The value to classify as ``service_area`` for each canonical payment row."""
    return first_filled(rows, SERVICE_COLUMNS)


def _text(rows: pd.DataFrame, col: str) -> pd.Series:
    if col not in rows.columns:
        return pd.Series("", index=rows.index, dtype="object")
    return rows[col].astype("object").where(rows[col].notna(), "").astype(str).str.strip()


def category_input(rows: pd.DataFrame, kind: str, payee_sector: pd.Series | None = None) -> pd.DataFrame:
    """The ``classify_categories`` input for canonical payment rows, with every context column.

    Why one function: the publish build and the accuracy measure must feed the classifier the same
    way. ``value`` is the first filled expense (or service) column; ``context`` is the next one
    that differs (a description or cost centre says something when the account does not);
    ``payee_sector`` is the supplier classifier's sector when the caller has it.
    """
    if kind == "expense_type":
        value, ladder = expense_value(rows), ("description", "cost_centre", "service_area", "directorate")
        code = _text(rows, "expense_code")
    else:
        value, ladder = service_value(rows), ("cost_centre", "directorate", "service_area")
        code = pd.Series("", index=rows.index, dtype="object")
    context = pd.Series("", index=rows.index, dtype="object")
    for col in reversed(ladder):
        text = _text(rows, col)
        context = text.where((text != "") & (text != value), context)
    group = _text(rows, "expense_group") if "expense_group" in rows.columns else _text(rows, "group")
    return pd.DataFrame(
        {
            "kind": kind,
            "value": value,
            "council": _text(rows, "council_id") if "council_id" in rows.columns else _text(rows, "council"),
            "code": code,
            "group": group,
            "capital_revenue": _text(rows, "capital_revenue"),
            "context": context,
            "service": service_value(rows),
            "payee_name": _text(rows, "supplier_name"),
            "payee_sector": payee_sector if payee_sector is not None else _text(rows, "payee_sector"),
        },
        index=rows.index,
    )
