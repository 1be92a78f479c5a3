"""Every table of the database but the payments: computed from the payments pass's running sums while
the payments are written, then written with their indexes and search into the side database
(``side_tables.py``) while the payments' indexes sort."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from councilspend.normalised import NormalisedDir
from publish.build import quality, summaries
from publish.build.aggregates import Totals
from publish.build.councils_table import write_councils
from publish.build.coverage import write_coverage
from publish.build.payments_table import as_tuples
from publish.build.stages import stage
from publish.build.supplier_tables import SupplierTables, supplier_tables
from publish.build.tables import columns, create, insert_frame, insert_rows


@dataclass
class OtherTables:
    """What the tables other than the payments are made of."""

    grain: pd.DataFrame  # payments summed by council, year, month and class (``Totals.result("measures")``)
    frames: dict[str, pd.DataFrame]  # council × year × sector and × division (``summaries.summary_frames``)
    by_supplier: SupplierTables
    categories: pd.DataFrame  # the classify step's category mappings
    category_totals: pd.DataFrame
    transfers: pd.DataFrame
    file_rows: list[tuple]
    outturn: pd.DataFrame | None


def compute(
    totals: Totals,
    nd: NormalisedDir,
    tmp: Path,
    classes: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None],
) -> OtherTables:
    """``classes``: the classify step's entities, categories and outturn (``enrich.read_classes``);
    ``tmp``: the temporary database, beside which the supplier tables are spooled."""
    entities, categories, outturn = classes
    with stage("summaries computed"):
        grain = totals.result("measures")
        return OtherTables(
            grain=grain,
            frames=summaries.summary_frames(grain),
            by_supplier=supplier_tables(totals, entities, tmp),
            categories=categories,
            category_totals=totals.result("categories"),
            transfers=totals.result("transfers"),
            file_rows=_file_rows(nd, totals.result("files")),
            outturn=outturn,
        )


def write(conn: sqlite3.Connection, registry: list[dict], nd: NormalisedDir, t: OtherTables) -> None:
    """Every table but the payments, with its indexes and search, into ``conn`` (the side database)."""
    with stage("summaries written (side)"):
        _write_tables(conn, registry, nd, t)
        conn.commit()
    with stage("measures (side)"):
        # Months covered come from the dated rows (publish/build/payment_rows.dated_months), not file names.
        summaries.write_measures(conn, t.grain.rename(columns={"total_pence": "amount_pence"}), t.outturn)
    conn.commit()
    with stage("other indexes and search (side)"):
        summaries.add_indexes_and_search(conn, searched_elsewhere=("payments", "supplier_aliases"))
    conn.commit()


def _write_tables(conn: sqlite3.Connection, registry: list[dict], nd: NormalisedDir, t: OtherTables) -> None:
    """Every table but the payments and the measures."""
    by_supplier = t.by_supplier
    write_councils(conn, registry, nd.files)
    insert_rows(conn, "files", t.file_rows)
    insert_frame(conn, "suppliers", by_supplier.suppliers, list(by_supplier.suppliers.columns))
    for table in (
        "supplier_aliases",
        "categories",
        "council_year_sector",
        "council_year_division",
        "supplier_council_year",
    ):
        create(conn, table)
    by_supplier.write_aliases(conn)
    summaries.write_categories(conn, t.categories, t.category_totals)
    summaries.write_transfers(conn, t.transfers)
    for name, frame in t.frames.items():
        insert_frame(conn, name, frame)
    by_supplier.write_years(conn)
    _write_quality(conn, t.grain)
    write_coverage(conn, registry, nd.root.parent / "raw")


def _file_rows(nd: NormalisedDir, stats: pd.DataFrame) -> list[tuple]:
    """The files table's rows. ``stats``: individual and redacted rows per published file
    (``Totals.result("files")``)."""
    files = nd.files.copy()
    cols = columns("files")
    for col in cols:
        if col not in files.columns:
            files[col] = ""
    for sha, why in nd.unreadable.items():
        files.loc[files["sha256"] == sha, ["status", "reason"]] = ["unreadable", why]
    by_sha = stats.set_index("source_sha256")
    files["individual_rows"] = files["sha256"].map(by_sha["is_individual"]).astype("Int64")
    files["redacted_rows"] = files["sha256"].map(by_sha["is_redacted"]).astype("Int64")
    present = [quality.code_fields_present(nd.report(s)) for s in files["sha256"]]
    files["code_fields_present"] = [None if p is None else sum(p.values()) for p in present]
    files["code_fields_missing"] = [
        None if p is None else ", ".join(f for f, ok in p.items() if not ok) for p in present
    ]
    files = files[cols].replace("", None)
    # A file added from this computer (`councilspend add`) has a file: URL: publish its name only, never
    # the user's folders.
    local = files["url"].fillna("").astype(str).str.startswith("file:")
    files.loc[local, "url"] = None
    files["file_name"] = [
        n.replace("\\", "/").rsplit("/", 1)[-1] if isinstance(n, str) else n for n in files["file_name"]
    ]
    for col in (
        "rows_read",
        "rows_kept",
        "rows_rejected",
        "total_pence",
        "quality_score",
        "code_fields_present",
    ):
        files[col] = pd.to_numeric(files[col], errors="coerce").astype("Int64")
    return as_tuples(files)


def _write_quality(conn: sqlite3.Connection, grain: pd.DataFrame) -> None:
    """``grain``: payments summed by council, year and month (``Totals.result("measures")``)."""
    files = pd.read_sql("select * from files", conn)
    dated = grain[grain["month"].notna()]
    months = dated[["council_id", "financial_year", "month"]].drop_duplicates().astype(object)
    red = grain["is_redacted"].astype(bool)
    pays = (
        pd.DataFrame(
            {
                "council_id": grain["council_id"].astype(object),
                "payments": grain["payments"],
                "redacted_rows": grain["payments"].where(red, 0),
                "redacted_pence": grain["total_pence"].where(red, 0).astype("int64"),
            }
        )
        .groupby("council_id", as_index=False)
        .sum()
    )
    table = quality.council_quality(files, months, pays)
    create(conn, "council_quality")
    if not table.empty:
        insert_rows(conn, "council_quality", as_tuples(table[columns("council_quality")]))
