"""The ``councils`` table: the registry's councils, and any council found only in the data."""

from __future__ import annotations

import sqlite3

import pandas as pd

from publish.build.tables import insert_rows


def write_councils(conn: sqlite3.Connection, registry: list[dict], files: pd.DataFrame) -> None:
    """The registry's councils, plus any council that appears only in the data (named by its code)."""
    rows, seen = [], set()
    for r in registry:
        cid = r.get("id") or r.get("council_id")
        if not cid or cid in seen:
            continue
        seen.add(cid)
        pages = r.get("spending_pages") or r.get("spending_page") or ""
        rows.append(
            (
                cid,
                _str_or_none(r.get("name")) or cid,
                _str_or_none(r.get("type") or r.get("council_type")),
                _str_or_none(r.get("website")),
                _str_or_none(pages),
                _int_or_none(r.get("threshold") or r.get("threshold_gbp")),
                _str_or_none(r.get("start_date")),
                _str_or_none(r.get("end_date")),
                _str_or_none(r.get("replaced_by")),
                _str_or_none(r.get("wdtk_id")),
            )
        )
    for cid in sorted(set(files["council_id"]) - seen):
        rows.append((cid, cid, None, None, None, None, None, None, None, None))
    insert_rows(conn, "councils", rows)


def _int_or_none(v: object) -> int | None:
    try:
        return int(v) if v not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _str_or_none(v: object) -> str | None:
    """Registry values as text: lists give their first item (e.g. several replacing councils)."""
    if isinstance(v, list | tuple):
        v = v[0] if v else None
    return None if v in (None, "") else str(v)
