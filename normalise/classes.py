"""Classify a crawl's payees and categories once, after its files are normalised (stage 3).

The classifiers (``normalise.suppliers``, ``normalise.categories``) run once per DISTINCT key over
every counted file: a council publishes the same payee thousands of times. What they decide is
written under contracts for the build to join back by key (``councilspend/rowkeys.py``), so the
build reads files and never calls a classifier:

- ``normalised/classes/suppliers.parquet``  (contract ``classes/suppliers``)
- ``normalised/classes/categories.parquet`` (contract ``classes/categories``)
- ``normalised/classes/outturn.parquet``    (contract ``classes/outturn``: Revenue Outturn, M3's denominator)
- ``normalised/classes/stamp.json``         (what they were computed from)

Nothing is recomputed when the rows, the registers database and the classifiers' code and rules are
unchanged since the last run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from councilspend import rowkeys as keys
from councilspend.normalised import NormalisedDir, open_normalised

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
#: Code and rules whose change changes a classification.
CODE_DIRS = [HERE / "suppliers", HERE / "categories"]
CODE_SUFFIXES = {".py", ".yml", ".yaml", ".csv", ".txt"}
SUPPLIER_OUT = ["supplier_id", "canonical_name", "sector", "subsector", "confidence", "evidence"]
CATEGORY_OUT = ["label", "confidence", "rule"]
Progress = Callable[[str, int, int], None]


def classes_dir(normalised: Path) -> Path:
    return Path(normalised) / "classes"


def classify_crawl(normalised: Path, registers_db: Path | None = None, *, force: bool = False,
                   council_companies: Iterable[Path] = (), progress: Progress | None = None) -> Path:
    """Write ``normalised/classes/`` for the counted files of ``normalised``; return that folder.

    ``registers_db`` (supplier registers and Revenue Outturn) is optional: without it the classifiers
    use their bundled registers and rules, and M3 has no denominator. ``council_companies``: the
    user's own lists of council-owned companies (CSV ``name,council_id[,company_number]``).
    """
    normalised = Path(normalised)
    out = classes_dir(normalised)
    companies = [Path(p) for p in council_companies]
    stamp = inputs_stamp(normalised, registers_db, companies)
    if not force and is_current(normalised, stamp):
        log.info("classes in %s are current; kept them", out)
        return out
    nd = open_normalised(normalised)
    sup_keys, cat_keys = distinct_keys(nd, progress)
    suppliers = classify_suppliers(sup_keys, registers_db, companies)
    categories = classify_categories(cat_keys)
    outturn = read_outturn(registers_db)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in (("suppliers", suppliers), ("categories", categories), ("outturn", outturn)):
        tmp = out / f".{name}.parquet.{os.getpid()}"
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, out / f"{name}.parquet")
    (out / "stamp.json").write_text(json.dumps(stamp, indent=1), encoding="utf-8")
    return out


def is_current(normalised: Path, stamp: dict) -> bool:
    path = classes_dir(normalised) / "stamp.json"
    names = ("suppliers.parquet", "categories.parquet", "outturn.parquet")
    if not path.exists() or not all((path.parent / n).exists() for n in names):
        return False
    try:
        return json.loads(path.read_text(encoding="utf-8")) == stamp
    except (OSError, ValueError):
        return False


def inputs_stamp(normalised: Path, registers_db: Path | None, council_companies: list[Path] = ()) -> dict:
    """The rows files, registers database and classifier code a set of classes was computed from."""
    normalised = Path(normalised)
    files_csv = normalised / "files.csv"
    rows = sorted((normalised / "rows").glob("*.parquet")) if (normalised / "rows").exists() else []
    registers = Path(registers_db) if registers_db else None
    return {
        "files_csv": hashlib.sha256(files_csv.read_bytes()).hexdigest() if files_csv.exists() else None,
        "rows": [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in rows],
        "registers": ([str(registers), registers.stat().st_size, registers.stat().st_mtime_ns]
                      if registers and registers.exists() else None),
        "council_companies": [[str(p), hashlib.sha256(p.read_bytes()).hexdigest()] for p in council_companies],
        "code": code_digest(),
    }


def code_digest() -> str:
    h = hashlib.sha256()
    for root in CODE_DIRS:
        for p in sorted(root.rglob("*")):
            if p.suffix in CODE_SUFFIXES and "__pycache__" not in p.parts:
                h.update(p.relative_to(root.parent).as_posix().encode())
                h.update(p.read_bytes())
    return h.hexdigest()


def distinct_keys(nd: NormalisedDir, progress: Progress | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Distinct payee keys and category keys over every counted file (Arrow, batch by batch)."""
    sup, exp, svc = [], [], []
    done, total = 0, len(nd.counted)
    for rows in nd.iter_tables(keys.SOURCE_COLUMNS + ["source_sha256"]):
        sup.append(keys.distinct(keys.supplier_parts(rows)))
        e, s = keys.category_parts(rows)
        exp.append(keys.distinct(e))
        svc.append(keys.distinct(s))
        done += pc.count_distinct(rows["source_sha256"]).as_py()
        if progress:
            progress("Reading payees and categories", done, total)
    empty = pa.table({c: pa.array([], pa.large_string()) for c in keys.SUPPLIER_KEY})
    sup_keys = keys.distinct(pa.concat_tables(sup) if sup else empty).to_pandas()
    e_empty = pa.table({c: pa.array([], pa.large_string()) for c in ("value", "council", "code")})
    e_keys = keys.distinct(pa.concat_tables(exp) if exp else e_empty).to_pandas()
    s_keys = keys.distinct(pa.concat_tables(svc) if svc else e_empty.drop(["code"])).to_pandas()
    cat_keys = pd.concat([e_keys.assign(kind="expense_type"), s_keys.assign(kind="service_area", code="")],
                         ignore_index=True)[keys.CATEGORY_KEY]
    return sup_keys, cat_keys


def _text(s: pd.Series) -> pd.Series:
    """Strings with missing values as "" so that they can be join keys."""
    return s.astype("string").fillna("")


def classify_suppliers(distinct: pd.DataFrame, registers_db: Path | None,
                       council_companies: list[Path] = ()) -> pd.DataFrame:
    """The suppliers classifier on distinct payee keys; every row gets a supplier id and a sector."""
    from normalise.suppliers import classify_suppliers as classify

    out = classify(distinct.copy(), registers_db=registers_db, council_companies=council_companies)
    missing = [c for c in SUPPLIER_OUT if c not in out.columns]
    if missing:
        raise RuntimeError(f"normalise.suppliers.classify_suppliers returned no {', '.join(missing)}")
    out = out[keys.SUPPLIER_KEY + SUPPLIER_OUT].copy()
    for col in [*keys.SUPPLIER_KEY, "supplier_id", "canonical_name", "subsector", "evidence"]:
        out[col] = _text(out[col])
    out["sector"] = _text(out["sector"]).replace("", "unknown")
    blank_id = out["supplier_id"] == ""
    out.loc[blank_id, "supplier_id"] = [local_id(n) for n in out.loc[blank_id, "supplier_name"]]
    out["canonical_name"] = out["canonical_name"].where(out["canonical_name"] != "", out["supplier_name"])
    out["confidence"] = pd.to_numeric(out["confidence"], errors="coerce").astype("float64")
    return out


def local_id(name: str) -> str:
    """An id for a payee no register knows: stable across runs and councils for the same name."""
    return "local-" + hashlib.sha1(name.casefold().encode()).hexdigest()[:12]


def classify_categories(distinct: pd.DataFrame) -> pd.DataFrame:
    """The categories classifier on distinct expense type / service area keys."""
    from normalise.categories import classify_categories as classify

    out = classify(distinct.copy())
    for col in CATEGORY_OUT:
        if col not in out.columns:
            raise RuntimeError(f"normalise.categories.classify_categories returned no {col}")
    out = out[keys.CATEGORY_KEY + CATEGORY_OUT].copy()
    for col in [*keys.CATEGORY_KEY, "rule"]:
        out[col] = _text(out[col])
    out["label"] = _text(out["label"]).replace("", "unknown")
    out["confidence"] = pd.to_numeric(out["confidence"], errors="coerce").astype("float64")
    return out


def read_outturn(registers_db: Path | None) -> pd.DataFrame:
    """Revenue Outturn by (gss, financial_year, division), latest release: what ``registers_db`` holds,
    and for the councils and years it lacks, the bundled releases (``normalise/reference/outturn``)."""
    from normalise.categories.outturn import COLUMNS
    from normalise.categories.outturn import read_outturn as read
    from normalise.reference import bundled_outturn  # shipped RSX 2021-22 to 2023-24 (OGL v3)

    loaded = read(Path(registers_db)) if registers_db is not None and Path(registers_db).exists() else None
    bundled = bundled_outturn()
    if loaded is not None and not loaded.empty:
        have = pd.MultiIndex.from_frame(loaded[["gss", "financial_year"]].astype(str))
        extra = bundled[~pd.MultiIndex.from_frame(bundled[["gss", "financial_year"]].astype(str)).isin(have)]
        return pd.concat([loaded, extra], ignore_index=True) if len(extra) else loaded
    return bundled if not bundled.empty else pd.DataFrame({c: pd.Series(dtype="object") for c in COLUMNS})
