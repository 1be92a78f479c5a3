"""Create SQLite tables from the published Frictionless schemas, so the YAML contract is the one
source of column names, types, primary keys and foreign keys (Datasette links rows through them)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pyarrow as pa

from councilspend.schemas import SCHEMA_DIR, descriptor

SQL_TYPES = {"integer": "INTEGER", "number": "REAL", "boolean": "INTEGER"}  # everything else TEXT


def published_tables() -> list[str]:
    """Names of every table with a published schema (``councilspend/schemas/published``)."""
    return sorted(
        p.name.removesuffix(".schema.yaml") for p in (SCHEMA_DIR / "published").glob("*.schema.yaml")
    )


def columns(table: str) -> list[str]:
    return [f["name"] for f in descriptor(f"published/{table}")["fields"]]


def create_sql(table: str) -> str:
    """``CREATE TABLE`` for a published table, foreign keys included."""
    d = descriptor(f"published/{table}")
    parts = []
    for f in d["fields"]:
        typ = SQL_TYPES.get(f.get("type", "string"), "TEXT")
        parts.append(f'"{f["name"]}" {typ}')
    pk = d.get("primaryKey")
    if pk:
        parts.append("PRIMARY KEY (" + ", ".join(f'"{c}"' for c in pk) + ")")
    for fk in d.get("foreignKeys", []):
        ref = fk["reference"]
        parts.append(
            "FOREIGN KEY ("
            + ", ".join(f'"{c}"' for c in fk["fields"])
            + f') REFERENCES "{ref["resource"]}" ('
            + ", ".join(f'"{c}"' for c in ref["fields"])
            + ")"
        )
    return f'CREATE TABLE "{table}" (\n  ' + ",\n  ".join(parts) + "\n)"


def create(conn: sqlite3.Connection, table: str) -> None:
    conn.execute(create_sql(table))


def insert_rows(conn: sqlite3.Connection, table: str, rows, cols: list[str] | None = None) -> None:
    """Fast bulk insert of tuples in ``cols`` order (default: the schema's column order)."""
    cols = cols or columns(table)
    sql = (
        f'INSERT INTO "{table}" ('
        + ", ".join(f'"{c}"' for c in cols)
        + ") VALUES ("
        + ", ".join("?" for _ in cols)
        + ")"
    )
    conn.executemany(sql, rows)


def insert_frame(
    conn: sqlite3.Connection, table: str, df: pd.DataFrame, cols: list[str] | None = None
) -> None:
    """Bulk insert a DataFrame in ``cols`` order through ADBC (``publish/build/ingest.py``).

    Summary tables at national scale have millions of rows (every spelling of every payee per
    council); binding them from Arrow is several times faster than ``executemany``. ``conn`` is
    committed first: SQLite has one writer. A frame Arrow cannot type (mixed objects in a column)
    goes through ``executemany``.
    """
    from publish.build.payments_table import as_tuples

    cols = cols or columns(table)
    frame = df[cols]
    try:
        arrow = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        insert_rows(conn, table, as_tuples(frame), cols)
        return
    insert_arrow(conn, table, arrow)


def insert_arrow(conn: sqlite3.Connection, table: str, arrow: pa.Table) -> None:
    """Append ``arrow`` (columns named as the table's) through ADBC; ``conn`` is committed first."""
    from publish.build.ingest import ArrowWriter

    arrow = pa.table({name: _bindable(arrow[name]) for name in arrow.column_names})
    conn.commit()
    path = conn.execute("PRAGMA database_list").fetchone()[2]
    with ArrowWriter(Path(path)) as writer:
        writer.append(table, arrow)


def _bindable(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Types the ADBC SQLite driver binds: categoricals and all-null columns as text, booleans as 0/1."""
    if pa.types.is_dictionary(col.type):
        return col.cast(col.type.value_type)
    if pa.types.is_null(col.type):
        return col.cast(pa.large_string())
    if pa.types.is_boolean(col.type):
        return col.cast(pa.int64())
    return col
