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
