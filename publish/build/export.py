"""The downloads: every published table as CSV and as Parquet, both listed in a Frictionless ``datapackage.json``.

Tables with a schema in ``councilspend/schemas/published`` use it (so ``frictionless validate``
checks types, keys and foreign keys against the contract); any other table gets a schema derived
from its SQLite column types. The Parquet files keep the contract's types (dates as DATE, pence as
integers, flags as booleans) and carry each column's description as field metadata, so a file read on
its own (DuckDB, pandas) still means what the site means. Rows stream from SQLite in batches, so
memory stays flat on 10M rows. Written to a temporary folder and swapped in, like the database.

The database and the downloads are two swaps, and a kill between them once left ``/downloads`` a build
behind the database. So ``datapackage.json`` is labelled with the database's content hash
(:data:`DATABASE_LABEL`, the ``hash`` of the inspect data); the site compares it with the database it
serves and says so when they disagree (``publish/site/downloads_label.py``), and a publish whose inputs
are unchanged still rebuilds when the label does not match (:func:`downloads_agree`).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from councilspend.schemas import descriptor
from publish.build.tables import published_tables

BATCH = 100_000
DATABASE_LABEL = "database_sha256"  # datapackage.json: sha256 of the database these files were written from
ARROW = {"integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_(), "date": pa.date32()}
SKIP_SUFFIXES = ("_fts", "_fts_data", "_fts_idx", "_fts_docsize", "_fts_config")
LICENCES = [
    {
        "name": "OGL-UK-3.0",
        "title": "Open Government Licence v3.0 (council spending data)",
        "path": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
    },
    {
        "name": "CC-BY-4.0",
        "title": "mySociety UK local authorities register",
        "path": "https://creativecommons.org/licenses/by/4.0/",
    },
    {
        "name": "ODbL-1.0",
        "title": "Open registers used to classify suppliers",
        "path": "https://opendatacommons.org/licenses/odbl/1-0/",
    },
]


# A cell a spreadsheet would run as a formula: ``=``, ``@`` (and tab/CR, which Excel strips first), or
# ``+``/``-`` followed by anything but a plain number (``-438.80`` stays a number).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SIGNED_NUMBER = re.compile(r"[+-](?:\d[\d,]*)?(?:\.\d+)?(?:[eE][+-]?\d+)?%?")


def spreadsheet_safe(value: str) -> str:
    """``value`` with a ``'`` in front when a spreadsheet would read it as a formula (CSV injection:
    ``=HYPERLINK(...)``, ``+cmd|...``, ``@SUM(...)`` in a payee name). The database keeps the raw value;
    only CSVs meant for spreadsheets get the prefix."""
    if len(value) < 2 or value[0] not in FORMULA_START:
        return value
    if value[0] in "+-" and _SIGNED_NUMBER.fullmatch(value) and any(c.isdigit() for c in value):
        return value
    return "'" + value


def _csv_safe_rows(rows: list[tuple], string_columns: list[tuple[int, pa.Array]]) -> list:
    """``rows`` with formula-leading text cells prefixed; RE2 finds the few candidate cells."""
    patched: dict[int, list] = {}
    for j, arr in string_columns:
        hits = pc.match_substring_regex(arr, "^[=+\\-@\\t\\r]")
        for i in pc.indices_nonzero(pc.fill_null(hits, False)).to_pylist():
            value = rows[i][j]
            safe = spreadsheet_safe(value) if isinstance(value, str) else value
            if safe is not value:
                patched.setdefault(i, list(rows[i]))[j] = safe
    if not patched:
        return rows
    return [patched.get(i, row) for i, row in enumerate(rows)]


def exportable_tables(conn: sqlite3.Connection) -> list[str]:
    names = [r[0] for r in conn.execute("select name from sqlite_master where type='table' order by name")]
    return [n for n in names if not n.startswith("sqlite_") and not n.endswith(SKIP_SUFFIXES)]


def table_schema(conn: sqlite3.Connection, table: str) -> dict:
    """The table's Frictionless schema: the published contract when there is one, else from SQLite types."""
    if table in published_tables():
        d = dict(descriptor(f"published/{table}"))
        for key in ("name", "title", "description"):
            d.pop(key, None)
        return d
    fields = []
    for _, name, decl, *_ in conn.execute(f'pragma table_info("{table}")'):
        decl = (decl or "").upper()
        typ = "integer" if "INT" in decl else "number" if ("REAL" in decl or "FLOA" in decl) else "string"
        fields.append({"name": name, "type": typ})
    return {"fields": fields, "missingValues": [""]}


def write_downloads(db_path: Path, out_dir: Path, *, database_hash: str | None = None) -> Path:
    """Write ``out_dir/datapackage.json``, ``out_dir/csv/*.csv`` and ``out_dir/parquet/*.parquet``.

    ``database_hash`` (the inspect data's ``hash`` of ``db_path``; computed when not given) labels the
    package with the build it belongs to."""
    import psutil
    from datasette.inspect import inspect_hash

    database_hash = database_hash or inspect_hash(Path(db_path))

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.parent.glob(f".{out_dir.name}.*-*"):  # left by killed builds
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    tmp = out_dir.with_name(f".{out_dir.name}.building-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "csv").mkdir(parents=True)
    (tmp / "parquet").mkdir()
    conn = sqlite3.connect(db_path)
    try:
        resources = []
        for table in exportable_tables(conn):
            schema = table_schema(conn, table)
            _write_table(conn, table, schema, tmp)
            resources.extend(_resources(table, schema))
        package = {
            "profile": "tabular-data-package",
            "name": "councilspend",
            "title": "English council spending over £500",
            "description": "Payments over £500 published by English councils under the Transparency Code 2015, "
            "with payee sectors, SeRCOP categories and the M1/M2/M3 measures. Parquet copies of "
            "every table are in parquet/.",
            "licenses": LICENCES,
            "sources": [
                {
                    "title": "Local Government Transparency Code 2015",
                    "path": "https://www.gov.uk/government/publications/local-government-transparency-code-2015",
                }
            ],
            "resources": resources,
            DATABASE_LABEL: database_hash,
        }
        (tmp / "datapackage.json").write_text(
            json.dumps(package, indent=1, ensure_ascii=False), encoding="utf-8"
        )
    finally:
        conn.close()
    old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
    if out_dir.exists():
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    shutil.rmtree(old, ignore_errors=True)
    return out_dir


def downloads_label(folder: Path) -> str | None:
    """The database hash ``folder/datapackage.json`` was labelled with; None when absent or unreadable."""
    try:
        label = json.loads((Path(folder) / "datapackage.json").read_text(encoding="utf-8")).get(
            DATABASE_LABEL
        )
    except (OSError, ValueError, AttributeError):
        return None
    return label if isinstance(label, str) else None


def downloads_agree(folder: Path, inspect_path: Path, db_stem: str) -> bool:
    """Whether the downloads in ``folder`` were written from the database the inspect file describes."""
    try:
        database_hash = json.loads(Path(inspect_path).read_text(encoding="utf-8"))[db_stem]["hash"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return downloads_label(folder) == database_hash


def _resources(table: str, schema: dict) -> list[dict]:
    """The table's two resources (CSV, Parquet), titled and described from its contract."""
    about = {}
    if table in published_tables():
        d = descriptor(f"published/{table}")
        about = {k: d[k] for k in ("title", "description") if d.get(k)}
    csv_resource = {
        "name": table,
        **about,
        "path": f"csv/{table}.csv",
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "profile": "tabular-data-resource",
        "schema": schema,
    }
    parquet = {
        "name": f"{table}-parquet",
        **about,
        "path": f"parquet/{table}.parquet",
        "format": "parquet",
        "mediatype": "application/vnd.apache.parquet",
        "profile": "tabular-data-resource",
        "schema": schema,
    }
    return [csv_resource, parquet]


def arrow_schema(schema: dict, table: str = "") -> pa.Schema:
    """The Parquet schema of a Frictionless schema: the contract's types, descriptions as field metadata."""
    fields = [
        pa.field(
            f["name"],
            ARROW.get(f.get("type", "string"), pa.string()),
            metadata={"description": f["description"]} if f.get("description") else None,
        )
        for f in schema["fields"]
    ]
    return pa.schema(fields, metadata={"table": table, "pandas": _pandas_metadata(fields)})


#: How pandas should read each type back: nullable integers and booleans stay integers and booleans
#: (without this, a column with a null becomes float and ``frictionless validate`` rejects "nan").
_PANDAS_TYPES = {
    pa.int64(): ("int64", "Int64"),
    pa.bool_(): ("bool", "boolean"),
    pa.float64(): ("float64", "Float64"),
    pa.date32(): ("date", "object"),
    pa.string(): ("unicode", "object"),
}


def _pandas_metadata(fields: list[pa.Field]) -> str:
    columns = [
        {
            "name": f.name,
            "field_name": f.name,
            "pandas_type": _PANDAS_TYPES[f.type][0],
            "numpy_type": _PANDAS_TYPES[f.type][1],
            "metadata": None,
        }
        for f in fields
    ]
    return json.dumps(
        {"index_columns": [], "column_indexes": [], "columns": columns, "pandas_version": "2.2"}
    )


def _typed(values: tuple, t: pa.DataType, table: str, column: str) -> pa.Array:
    """One column of a batch as Arrow: SQLite's 0/1 as booleans, ISO text as dates."""
    if t == pa.string():
        return pa.array([None if v is None else str(v) for v in values], t)
    try:
        if t == pa.bool_():
            return pa.array(values, pa.int64()).cast(t)
        if t == pa.date32():
            return pa.array(values, pa.string()).cast(t)
        return pa.array(values, t)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(f"{table}.{column}: a value does not fit the contract's type {t}: {exc}") from exc


def _write_table(conn: sqlite3.Connection, table: str, schema: dict, folder: Path) -> None:
    names = [f["name"] for f in schema["fields"]]
    target = arrow_schema(schema, table)
    types = [f.type for f in target]
    cur = conn.execute("select " + ", ".join(f'"{n}"' for n in names) + f' from "{table}"')
    with (
        open(folder / "csv" / f"{table}.csv", "w", newline="", encoding="utf-8") as fh,
        pq.ParquetWriter(folder / "parquet" / f"{table}.parquet", target) as pw,
    ):
        writer = csv.writer(fh)
        writer.writerow(names)
        while rows := cur.fetchmany(BATCH):
            cols = list(zip(*rows, strict=True))
            arrays = [_typed(c, t, table, n) for c, t, n in zip(cols, types, names, strict=True)]
            strings = [(j, a) for j, (a, t) in enumerate(zip(arrays, types, strict=True)) if t == pa.string()]
            writer.writerows(_csv_safe_rows(rows, strings))
            pw.write_table(pa.Table.from_arrays(arrays, schema=target))
