"""Load MHCLG Revenue Outturn service-expenditure summaries (RSX) into ``registers.db``.

The RSX is the denominator of M3 (externally delivered share of total service expenditure).
Each file is one financial year; the header row moves between years (row 10 up to 2023-24, row 6
in 2024-25), so the loader finds it by looking for the ``ONS Code`` cell and matches columns by
their ``<Service> - <Measure>`` heading, never by position. Rows are keyed by GSS (ONS) code:
authority names change between releases ("Devon" -> "Devon CC").

Money is published in £ thousand; it is stored as integer pence. Two releases of one year can
both be loaded; :func:`read_outturn` then returns the later one (by its "Last updated" date).
RO detail forms (RO1-RO6) have no "Total Service Expenditure" column and are skipped with a
message: the RSX already carries each division's total.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd

from normalise.categories.rules import code_lists

log = logging.getLogger(__name__)

DEFAULT_DB = Path("data/registers.db")
SUFFIXES = {".csv", ".ods", ".xlsx", ".xls"}
GSS = re.compile(r"[EWSNK]\d{8}")
YEAR = re.compile(r"(20\d\d)\s*[-_/]?\s*(\d\d)(?!\d)")
UPDATED = re.compile(r"last updated:?\s*(\d{1,2} \w+ \d{4})", re.I)
MEASURES = {  # heading text after "<Service> -" -> column
    "employees": "employees_pence",
    "running expenses": "running_expenses_pence",
    "total expenditure": "total_service_expenditure_pence",
    "total income": "income_pence",
    "net current expenditure": "net_current_expenditure_pence",
}
MONEY = list(dict.fromkeys(MEASURES.values()))
COLUMNS = [
    "gss",
    "financial_year",
    "division",
    *MONEY,
    "authority",
    "la_class",
    "status",
    "release",
    "release_date",
]
SCHEMA = """
CREATE TABLE IF NOT EXISTS outturn (
    gss TEXT NOT NULL,
    financial_year TEXT NOT NULL,
    division TEXT NOT NULL,
    total_service_expenditure_pence INTEGER,
    employees_pence INTEGER,
    running_expenses_pence INTEGER,
    income_pence INTEGER,
    net_current_expenditure_pence INTEGER,
    authority TEXT,
    la_class TEXT,
    status TEXT,
    release TEXT NOT NULL,
    release_date TEXT,
    PRIMARY KEY (gss, financial_year, division, release)
)
"""


class OutturnFileError(ValueError):
    """A file that looks like an outturn release but cannot be read; names the file and what is wrong."""


@dataclass
class _Sheet:
    name: str
    frame: pd.DataFrame


def _sheets(path: Path) -> list[_Sheet]:
    if path.suffix.lower() == ".csv":
        for enc in ("utf-8-sig", "cp1252"):
            try:
                df = pd.read_csv(path, header=None, dtype=str, encoding=enc, keep_default_na=False)
                return [_Sheet("csv", df)]
            except UnicodeDecodeError:
                continue
        raise OutturnFileError(f"{path}: not UTF-8 or cp1252 text")
    book = pd.read_excel(path, sheet_name=None, header=None, dtype=str, engine="calamine")
    return [_Sheet(name, df.fillna("")) for name, df in book.items()]


def _header_row(df: pd.DataFrame) -> int | None:
    for i in range(min(40, len(df))):
        if any(str(v).strip().lower() == "ons code" for v in df.iloc[i]):
            return i
    return None


def _column_map(header: list[str]) -> dict[int, tuple[str, str]]:
    """Column index -> (division, money column) for every RSX measure we keep."""
    services = [(re.compile(e["pattern"]), e["division"]) for e in code_lists()["rsx_service_headings"]]
    out: dict[int, tuple[str, str]] = {}
    for i, raw in enumerate(header):
        text = re.sub(r"\s+", " ", raw).strip().lower()
        m = re.match(
            r"(.+?)\s*-\s*(employees|running expenses|total expenditure|total income|net current expenditure)\b",
            text,
        )
        if not m:
            continue
        division = next((d for rx, d in services if rx.search(m.group(1))), None)
        if division:
            out[i] = (division, MEASURES[m.group(2)])
    return out


def _pence(cell: str) -> int | None:
    """£ thousand as published ("1,888,488", "16799.22") -> integer pence; markers -> None."""
    text = str(cell).replace(",", "").replace("£", "").strip()
    if not text or text.startswith("["):
        return None
    try:
        return int((Decimal(text) * 100_000).to_integral_value())
    except InvalidOperation:
        return None


def _financial_year(path: Path, preamble: str, sheet: str) -> str:
    for text in (preamble, path.name, sheet):
        m = YEAR.search(text)
        if m and int(m.group(2)) == (int(m.group(1)) + 1) % 100:
            return f"{m.group(1)}-{m.group(2)}"
    raise OutturnFileError(
        f"{path}: cannot tell the financial year (no 'YYYY-YY' in title, file or sheet name)"
    )


def _division_rows(
    data: pd.DataFrame, cols: dict[int, tuple[str, str]], ons: int, name: int | None, klass: int | None
) -> pd.DataFrame:
    """One row per (authority row of ``data``, division of ``cols``), divisions in order of first
    column, with their money columns and status. Built as one frame: a frame per division cost
    most of reading a release, and the bundled releases are read on every classify run."""
    divisions = list(dict.fromkeys(d for d, _ in cols.values()))
    n = len(data)

    seen: dict[int, list[str]] = {}

    def stripped(c: int) -> list[str]:
        if c not in seen:
            seen[c] = [v.strip() if isinstance(v, str) else v for v in data.iloc[:, c].tolist()]
        return seen[c]

    columns: dict[str, list] = {
        "gss": stripped(ons) * len(divisions),
        "division": [d for d in divisions for _ in range(n)],
    }
    money_of = [m for m in MONEY if any(money == m for _, money in cols.values())]
    for m in money_of:
        columns[m] = []
    marker: list[bool] = []
    pence: dict[str, int | None] = {}  # one parse per distinct cell: "0" and "[x]" recur
    for division in divisions:
        mine = {money: c for c, (div, money) in cols.items() if div == division}  # last column wins
        missing = [False] * n
        for m in money_of:
            if m not in mine:
                columns[m] += [None] * n
                continue
            cells = stripped(mine[m])
            columns[m] += [pence[v] if v in pence else pence.setdefault(v, _pence(v)) for v in cells]
        for c, (div, _) in cols.items():
            if div == division:
                missing = [a or v == "[x]" for a, v in zip(missing, stripped(c), strict=True)]
        marker += missing
    out = pd.DataFrame(columns)
    out["authority"] = (stripped(name) if name is not None else [""] * n) * len(divisions)
    out["la_class"] = (stripped(klass) if klass is not None else [""] * n) * len(divisions)
    total = "total_service_expenditure_pence"
    has = out[total].notna() if total in out else pd.Series(False, index=out.index)
    out["status"] = "not_relevant"
    out.loc[has, "status"] = "ok"
    out.loc[pd.Series(marker, index=out.index, dtype=bool), "status"] = "not_received"
    return out


def parse_rsx(path: Path) -> pd.DataFrame:
    """One RSX file -> rows of :data:`COLUMNS` (empty frame if the file is not an RSX summary)."""
    path = Path(path)
    for sheet in _sheets(path):
        df = sheet.frame.astype(str)
        h = _header_row(df)
        if h is None:
            continue
        header = [str(v) for v in df.iloc[h]]
        cols = _column_map(header)
        if not any(div == "total" for div, _ in cols.values()):
            continue
        lower = [re.sub(r"\s+", " ", c).strip().lower() for c in header]
        ons, name = (
            lower.index("ons code"),
            lower.index("local authority") if "local authority" in lower else None,
        )
        klass = lower.index("class") if "class" in lower else None
        preamble = " ".join(" ".join(df.iloc[i]) for i in range(h))
        year = _financial_year(path, preamble, sheet.name)
        updated = UPDATED.search(preamble)
        release_date = ""
        if updated:
            try:
                release_date = datetime.strptime(updated.group(1), "%d %B %Y").date().isoformat()
            except ValueError:
                release_date = ""
        data = df.iloc[h + 1 :]
        data = data[data.iloc[:, ons].str.strip().str.fullmatch(GSS.pattern)]
        out = _division_rows(data, cols, ons, name, klass)
        if out.empty:
            raise OutturnFileError(
                f"{path}: sheet {sheet.name!r} has an ONS Code header but no authority rows"
            )
        out["financial_year"] = year
        out["release"], out["release_date"] = path.name, release_date
        for col in COLUMNS:
            if col not in out.columns:
                out[col] = None
        for col in MONEY:
            out[col] = out[col].astype("Int64")
        # The GLA appears twice in some releases (as an authority and again in a summary block):
        # keep the first row for each GSS code.
        return out[COLUMNS].drop_duplicates(["gss", "division"], keep="first", ignore_index=True)
    return pd.DataFrame(columns=COLUMNS)


def _files(path: Path) -> list[Path]:
    path = Path(path)
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not path.exists():
        raise FileNotFoundError(f"outturn file or folder not found: {path}")
    return [path]


def load_outturn(path: Path, db: Path = DEFAULT_DB) -> int:
    """Load one RSX file, or every RSX file under a folder, into table ``outturn`` of ``db``.

    Returns the number of rows written. Re-loading a release (same file name) replaces its rows.
    Files that are not RSX summaries (RO detail forms, notes) are skipped with a log message.
    """
    db = Path(db)
    db.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    frames: list[pd.DataFrame] = []
    for file in _files(path):
        frame = parse_rsx(file)
        if frame.empty:
            log.info("%s: not an RSX service-expenditure summary; skipped", file)
            continue
        frames.append(frame)
    with sqlite3.connect(db) as conn:
        conn.execute(SCHEMA)
        for frame in frames:
            release = frame["release"].iloc[0]
            conn.execute("DELETE FROM outturn WHERE release = ?", (release,))
            rows = [
                tuple(
                    None if pd.isna(v) else (int(v) if c in MONEY else v)
                    for c, v in zip(COLUMNS, rec, strict=True)
                )
                for rec in frame[COLUMNS].itertuples(index=False, name=None)
            ]
            conn.executemany(
                f"INSERT INTO outturn ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", rows
            )
            written += len(rows)
    return written


def read_outturn(db: Path = DEFAULT_DB, all_releases: bool = False) -> pd.DataFrame:
    """The outturn table, one row per (gss, financial_year, division): the latest release that has a figure.

    Columns: gss, financial_year, division, total_service_expenditure_pence (Int64, pence),
    employees_pence, running_expenses_pence, income_pence, net_current_expenditure_pence,
    authority, la_class, status, release, release_date. ``all_releases=True`` returns every release.
    """
    db = Path(db)
    if not db.exists():
        return pd.DataFrame(columns=COLUMNS)
    with sqlite3.connect(db) as conn:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'outturn'").fetchone():
            return pd.DataFrame(columns=COLUMNS)
        df = pd.read_sql_query(f"SELECT {', '.join(COLUMNS)} FROM outturn", conn)
    for col in MONEY:
        df[col] = df[col].astype("Int64")
    if all_releases or df.empty:
        return df
    df["_has"] = df["total_service_expenditure_pence"].notna()
    df = df.sort_values(["_has", "release_date", "release"], ascending=[False, False, False], kind="stable")
    df = df.drop_duplicates(["gss", "financial_year", "division"]).drop(columns="_has")
    return df.sort_values(["gss", "financial_year", "division"], ignore_index=True)
