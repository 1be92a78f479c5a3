"""Generate realistic council spending files at any scale, plus a crawl manifest.

Why generated: the benchmark needs millions of rows in the shapes real councils publish
(``shapes.yml``, modelled on ../shared/docs/data-quirks.md) with a realistic supplier
distribution (``vocabulary.yml``: Zipf-like popularity, several spellings per supplier,
individuals, redactions), and must not depend on ../shared.

Output, under ``out_dir`` (laid out like a data directory, see ``councilspend.paths.DataDir``):
    raw/files/<sha256>.<ext>   the files, as a crawler would store them
    raw/manifest.csv           one row per file, in the manifest contract (status ``new``)
    councils.yml               the fictional councils (id, name, url)
    plain.csv                  the same payment rows as one flat UTF-8 CSV (ISO dates, plain
                               amounts): what the baselines (sqlite-utils, pandas) load

Every file is written row-batch by row-batch, so memory stays bounded at any ``rows``. Each
file's content depends only on (seed, council, month): the same seed gives the same bytes.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import hashlib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import yaml

from benchmarks.xlsx_stream import write_xlsx

HERE = Path(__file__).parent
PLAIN_COLUMNS = [
    "council_id",
    "payment_date",
    "transaction_ref",
    "amount",
    "supplier_name",
    "supplier_ref",
    "expense_type",
    "expense_code",
    "service_area",
    "directorate",
    "description",
    "capital_revenue",
]
FIRST_MONTH = dt.date(2024, 4, 1)
ROWS_PER_FILE = 2500  # a mid-sized council's month (real files: 170 to 16,000 rows)
FETCHED_AT = "2026-01-01T00:00:00+0000"


@cache
def shapes() -> dict[str, dict]:
    """The file shapes (``shapes.yml``), keyed by name."""
    return yaml.safe_load((HERE / "shapes.yml").read_text(encoding="utf-8"))


@cache
def vocabulary() -> dict:
    return yaml.safe_load((HERE / "vocabulary.yml").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Council:
    index: int
    council_id: str
    name: str
    shape: str
    publishes_names: bool
    council_type: str

    @property
    def slug(self) -> str:
        return self.name.lower().replace(" ", "-").replace("'", "")


@dataclass
class Generated:
    """What ``generate`` wrote; paths are absolute."""

    root: Path
    manifest: Path
    plain_csv: Path
    councils_yml: Path
    rows: int
    files: int
    bytes: int
    councils: list[Council] = field(default_factory=list)
    rows_by_shape: dict[str, int] = field(default_factory=dict)


def default_layout(rows: int, months: int = 12) -> tuple[int, int]:
    """(councils, months) for ``rows``: ~2,500-row monthly files, at least one council per shape,
    at most 320 councils (England); beyond that files grow, as a national run's would."""
    councils = math.ceil(rows / (months * ROWS_PER_FILE))
    return max(len(shapes()), min(320, councils)), months


def make_councils(n: int, seed: int) -> list[Council]:
    voc = vocabulary()
    rng = np.random.default_rng([seed, 1])
    shape_names = list(shapes())
    councils = []
    places, kinds = voc["council_places"], voc["council_kinds"]
    for i in range(n):
        place = places[i % len(places)]
        kind, prefix, council_type = kinds[(i // len(places) + i) % len(kinds)]
        round_ = i // (len(places) * len(kinds))
        name = f"{place} {kind}" + (f" {round_ + 1}" if round_ else "")
        councils.append(
            Council(
                index=i,
                council_id=f"{prefix}9{i + 1:05d}",
                name=name,
                shape=shape_names[i % len(shape_names)],
                publishes_names=bool(rng.random() < voc["named_individual_share"]),
                council_type=council_type,
            )
        )
    return councils


class SupplierPool:
    """Supplier entities with Zipf-like popularity and several spellings each."""

    def __init__(self, size: int, seed: int, exponent: float = 1.07):
        voc = vocabulary()
        rng = np.random.default_rng([seed, 2])
        self.variants: list[list[str]] = [list(v) for v in voc["national_suppliers"]]
        self.is_company: list[bool] = [True] * len(self.variants)
        seen = {v[0] for v in self.variants}
        places, trades, forms = voc["places"], voc["trades"], voc["legal_forms"]
        attempts = 0
        while len(self.variants) < size and attempts < size * 20:
            attempts += 1
            place = places[rng.integers(len(places))]
            trade = trades[rng.integers(len(trades))]
            form = forms[min(int(rng.exponential(1.2)), len(forms) - 1)]
            base = f"{place} {trade}"
            if base in seen:
                base = f"{base} ({['North', 'South', 'East', 'West', 'UK', 'Midlands'][rng.integers(6)]})"
                if base in seen:
                    base = f"{base} {rng.integers(2, 99)}"
            if base in seen:
                continue
            seen.add(base)
            spellings = [f"{base} {suffix}" for suffix in form]
            spellings.append(spellings[0].upper())
            self.variants.append(list(dict.fromkeys(spellings)))
            self.is_company.append(form[0] in ("LTD", "PLC", "LLP", "CIC"))
        weights = 1.0 / np.arange(1, len(self.variants) + 1) ** exponent
        self.cum = np.cumsum(weights / weights.sum())
        self.n_variants = np.array([len(v) for v in self.variants])

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.minimum(np.searchsorted(self.cum, rng.random(n)), len(self.variants) - 1)

    def spelling(self, entity: int, council: int, rng_value: float) -> str:
        """A council mostly sticks to one spelling of a supplier, but not always."""
        variants = self.variants[entity]
        k = (entity * 7919 + council * 104729) % len(variants)
        if rng_value < 0.1:
            k = int(rng_value * 100) % len(variants)
        return variants[k]


def _money(value: float, style: str, negative: str) -> str:
    a = abs(value)
    text = f"{a:,.2f}" if style in ("padded", "pound") else f"{a:.2f}"
    if style == "pound":
        text = "£" + text
    if value < 0:
        text = f"({text})" if negative == "parens" else "-" + text
    if style == "padded":
        text = f" {text} "
    return text


def file_rows(council: Council, month: dt.date, n: int, pool: SupplierPool, seed: int) -> dict[str, list]:
    """The logical fields of one file's ``n`` rows, as columns (lists)."""
    voc = vocabulary()
    shape = shapes()[council.shape]
    rng = np.random.default_rng([seed, 3, council.index, month.year, month.month])
    days = calendar.monthrange(month.year, month.month)[1]
    day = rng.integers(1, days + 1, n)
    entity = pool.sample(rng, n)
    spelling_draw = rng.random(n)
    who = rng.random(n)
    individual = who < voc["individual_share"]
    commercial = (~individual) & (who > 1 - voc["commercial_redaction_share"])
    amount = np.round(np.exp(rng.normal(math.log(1400), 1.25, n)), 2).clip(0.01, 5_000_000)
    amount = np.where(rng.random(n) < 0.03, -np.round(amount / 3, 2), amount)
    expense = np.minimum(rng.zipf(1.6, n) - 1, len(voc["expense_types"]) - 1)
    directorate = rng.integers(0, len(voc["directorates"]), n)
    service_pick = rng.integers(0, 1000, n)
    description = rng.integers(0, len(voc["descriptions"]), n)
    split_line = rng.random(n) < 0.05
    card = rng.random(n) < 0.02
    title = rng.integers(0, len(voc["titles"]), n)
    initial = rng.integers(0, len(voc["initials"]), n)
    surname = rng.integers(0, len(voc["surnames"]), n)

    supplier_name, supplier_ref, vat, creditor, invoice = [], [], [], [], []
    redaction = shape["redaction"]
    for i in range(n):
        e = int(entity[i])
        if individual[i]:
            person = f"{voc['titles'][title[i]]} {voc['initials'][initial[i]]} {voc['surnames'][surname[i]]}"
            supplier_name.append(person if council.publishes_names else redaction)
            supplier_ref.append(f"P{council.index:03d}{int(surname[i]):02d}{int(initial[i]):02d}")
            vat.append("")
            creditor.append("Individual")
            invoice.append(redaction if council.shape == "devon_bom" else f"INV{i:06d}")
        elif commercial[i]:
            supplier_name.append(voc["commercial_redaction"])
            supplier_ref.append("")
            vat.append("")
            creditor.append("Company")
            invoice.append(f"INV{i:06d}")
        else:
            supplier_name.append(pool.spelling(e, council.index, float(spelling_draw[i])))
            supplier_ref.append(f"S{e:06d}")
            vat.append(f"GB{(e * 7_654_321) % 900_000_000 + 100_000_000}" if pool.is_company[e] else "")
            creditor.append("Company" if pool.is_company[e] else "Other")
            invoice.append(f"INV{i:06d}")
    refs = []
    ref = 0
    for i in range(n):
        if not (split_line[i] and i):
            ref += 1
        refs.append(f"{council.index + 1:03d}{month.month:02d}{ref:06d}")
    dates = [month.replace(day=int(d)) for d in day]
    services = []
    for d, s in zip(directorate, service_pick, strict=True):
        areas = voc["directorates"][d][1]
        services.append(areas[s % len(areas)])
    expense_types = [voc["expense_types"][k] for k in expense]
    return {
        "payment_date": dates,
        "transaction_ref": refs,
        "invoice_ref": invoice,
        "amount": amount.tolist(),
        "supplier_name": supplier_name,
        "supplier_ref": supplier_ref,
        "vat_number": vat,
        "creditor_type": creditor,
        "expense_type": [t for t, _ in expense_types],
        "expense_code": [c for _, c in expense_types],
        "directorate": [voc["directorates"][d][0] for d in directorate],
        "service_area": services,
        "description": [voc["descriptions"][k] for k in description],
        "capital_revenue": ["C" if t == "Capital Works" else "R" for t, _ in expense_types],
        "card_flag": ["Yes" if c else "No" for c in card],
        "irrecoverable_vat": ["0.00" if k % 3 else "N/A" for k in range(n)],
    }


def _constant(council: Council, name: str) -> str | None:
    if name == "council_name":
        return council.name
    if name == "body_code":
        return str(council.index + 10)
    if name == "body_uri":
        return f"http://opendatacommunities.org/id/council/{council.slug}"
    if name == "empty":
        return ""
    return None


def render_columns(council: Council, cols: dict[str, list], n: int) -> tuple[list[str], list[list]]:
    """Header and cell columns of a file in its council's shape."""
    shape = shapes()[council.shape]
    header, out = [], []
    for label, logical in shape["columns"].items():
        header.append(label)
        const = _constant(council, logical)
        if const is not None:
            out.append([const] * n)
        elif logical == "payment_date":
            fmt = shape["date"]
            out.append(
                cols["payment_date"] if fmt == "excel" else [d.strftime(fmt) for d in cols["payment_date"]]
            )
        elif logical == "amount":
            if shape["amount"] == "excel":
                out.append(cols["amount"])
            else:
                out.append([_money(a, shape["amount"], shape["negative"]) for a in cols["amount"]])
        else:
            out.append(cols[logical])
    return header, out


def write_file(path: Path, council: Council, month: dt.date, header: list[str], columns: list[list]) -> None:
    shape = shapes()[council.shape]
    n = len(columns[0]) if columns else 0
    if shape["format"] == "xlsx":
        write_xlsx(path, month.strftime("%b %y"), header, zip(*columns, strict=True))
        return
    context = {"council_name": council.name, "month_name": month.strftime("%B %Y")}
    ragged = shape.get("ragged_share", 0)
    rng = np.random.default_rng([council.index, month.toordinal()])
    extra = rng.random(n) < ragged if ragged else None
    with path.open("w", encoding=shape["encoding"], newline="") as fh:
        writer = csv.writer(fh, lineterminator=shape["newline"])
        for line in shape.get("preamble", []):
            writer.writerow([line.format(**context)] if line else [])
        writer.writerow(header)
        rows = zip(*columns, strict=True)
        if extra is None:
            writer.writerows(rows)
        else:
            writer.writerows([*row, "#N/A"] if x else row for row, x in zip(rows, extra, strict=True))
        for _ in range(shape.get("trailing_blank_rows", 0)):
            writer.writerow([""] * len(header))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def generate(
    out_dir: Path,
    rows: int,
    councils: int | None = None,
    months: int | None = None,
    seed: int = 0,
    on_file: Callable[[int], None] | None = None,
) -> Generated:
    """Write ``rows`` payment rows as ``councils`` × ``months`` files under ``out_dir``.

    ``on_file(rows_written)`` is called after each file (for a progress bar).
    """
    if rows < 1:
        raise ValueError("rows must be at least 1")
    default_councils, default_months = default_layout(rows, months or 12)
    n_councils = councils or default_councils
    n_months = months or default_months
    out_dir = Path(out_dir).resolve()
    files_dir = out_dir / "raw" / "files"
    files_dir.mkdir(parents=True, exist_ok=True)
    council_list = make_councils(n_councils, seed)
    pool = SupplierPool(size=max(300, min(200_000, rows // 25)), seed=seed)
    rng = np.random.default_rng([seed, 4])
    n_files = n_councils * n_months
    weights = rng.uniform(0.6, 1.4, n_files)
    per_file = rng.multinomial(rows, weights / weights.sum())

    manifest_path = out_dir / "raw" / "manifest.csv"
    plain_path = out_dir / "plain.csv"
    from councilspend.schemas import field_names

    manifest_fields = field_names("manifest")
    total_bytes = 0
    rows_by_shape: dict[str, int] = {}
    with (
        manifest_path.open("w", encoding="utf-8", newline="") as mf,
        plain_path.open("w", encoding="utf-8", newline="") as pf,
    ):
        manifest = csv.DictWriter(mf, fieldnames=manifest_fields, lineterminator="\n")
        manifest.writeheader()
        plain = csv.writer(pf, lineterminator="\n")
        plain.writerow(PLAIN_COLUMNS)
        for f, n in enumerate(per_file.tolist()):
            council = council_list[f // n_months]
            month = _add_months(FIRST_MONTH, f % n_months)
            shape = shapes()[council.shape]
            ext = "xlsx" if shape["format"] == "xlsx" else "csv"
            cols = file_rows(council, month, n, pool, seed)
            header, cells = render_columns(council, cols, n)
            tmp = files_dir / f".tmp-{os.getpid()}-{f}.{ext}"
            write_file(tmp, council, month, header, cells)
            digest = _sha256(tmp)
            final = files_dir / f"{digest}.{ext}"
            tmp.replace(final)
            size = final.stat().st_size
            total_bytes += size
            rows_by_shape[council.shape] = rows_by_shape.get(council.shape, 0) + n
            manifest.writerow(_manifest_row(council, month, ext, digest, size))
            plain.writerows(_plain_rows(council, cols, n))
            if on_file:
                on_file(n)

    councils_yml = _write_councils_yml(out_dir, council_list)
    return Generated(
        root=out_dir,
        manifest=manifest_path,
        plain_csv=plain_path,
        councils_yml=councils_yml,
        rows=rows,
        files=n_files,
        bytes=total_bytes,
        councils=council_list,
        rows_by_shape=rows_by_shape,
    )


def _manifest_row(council, month: dt.date, ext: str, digest: str, size: int) -> dict:
    """The crawler's manifest row for one generated file (as if fetched from a council's page)."""
    file_name = f"spending-{month:%Y-%m}.{ext}"
    url = f"http://bench.invalid/{council.slug}/{file_name}"
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return {
        "url": url,
        "final_url": url,
        "council_id": council.council_id,
        "sha256": digest,
        "bytes": size,
        "content_type": "text/csv" if ext == "csv" else xlsx,
        "fetched_at": FETCHED_AT,
        "link_text": f"Spending over £500 {month:%B %Y}",
        "referer": f"http://bench.invalid/{council.slug}/spending",
        "status": "new",
        "path": f"files/{digest}.{ext}",
        "file_name": file_name,
        "source": "page",
    }


def _plain_rows(council, cols: dict, n: int):
    """The same rows as one flat CSV (what the sqlite-utils and pandas baselines load)."""
    return zip(
        [council.council_id] * n,
        [d.isoformat() for d in cols["payment_date"]],
        cols["transaction_ref"],
        [f"{a:.2f}" for a in cols["amount"]],
        cols["supplier_name"],
        cols["supplier_ref"],
        cols["expense_type"],
        cols["expense_code"],
        cols["service_area"],
        cols["directorate"],
        cols["description"],
        cols["capital_revenue"],
        strict=True,
    )


def _write_councils_yml(out_dir: Path, council_list: list) -> Path:
    """The generated councils as a crawl registry (``--registry``)."""
    path = out_dir / "councils.yml"
    entries = [
        {
            "id": c.council_id,
            "slug": c.slug,
            "name": c.name,
            "type": c.council_type,
            "threshold": 500,
            "spending_page": f"http://bench.invalid/{c.slug}/spending",
            "shape": c.shape,
        }
        for c in council_list
    ]
    path.write_text(yaml.safe_dump(entries, sort_keys=False), encoding="utf-8")
    return path


def _add_months(d: dt.date, k: int) -> dt.date:
    y, m = divmod(d.month - 1 + k, 12)
    return dt.date(d.year + y, m + 1, 1)
