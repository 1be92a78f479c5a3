"""Generate the demo: fictional councils' websites, their Revenue Outturn figures, the truth.

``generate(out_dir)`` writes::

    out_dir/www/...          page and file bodies, by URL path
    out_dir/routes.json      URL -> body, Content-Type, Last-Modified, ETag, download file name
    out_dir/ckan.json        the CKAN packages the fake data.gov.uk API serves
    out_dir/outturn/RSX_<fy>_data_by_LA.csv   one real-shaped RSX file per financial year
    out_dir/truth.json       the ground truth (see truth.py)

Same seed -> byte-identical output. ``server.DemoServer(out_dir)`` serves it; ``registry(base_url)``
describes the councils in the crawler's registry format.
"""

from __future__ import annotations

import json
import random
import shutil
from collections import defaultdict
from pathlib import Path

from demo import outturn as rsx
from demo.ledger import FINANCIAL_YEARS, generate_payments, load_councils, load_vocabulary
from demo.sites import build_sites, spending_path, write_site
from demo.truth import build_truth, is_external_delivery

GENERATED = ("www", "routes.json", "ckan.json", "outturn", "truth.json")


def generate(out_dir: Path, *, seed: int = 2024, rows_per_month: int = 40) -> dict:
    """Write the demo sites into ``out_dir`` (replacing an earlier demo there) and return the truth."""
    if rows_per_month < 1:
        raise ValueError(f"rows_per_month must be at least 1, not {rows_per_month}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in GENERATED:
        target = out_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()

    councils = load_councils()
    payments = generate_payments(seed, rows_per_month)
    site, _ = build_sites(councils, payments)
    write_site(site, out_dir)

    vocab = load_vocabulary()
    rng = random.Random(f"{seed}-outturn")
    c3: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    outturn_files = []
    for fy in FINANCIAL_YEARS:
        for council in councils:
            external: dict[str, int] = defaultdict(int)
            for p in payments:
                if p.council_id == council.id and p.financial_year == fy and is_external_delivery(p):
                    external[p.division] += p.pence
            c3[council.id][fy] = rsx.division_expenditure(
                rng, vocab.divisions_by_type[council.type], external
            )
        path = out_dir / "outturn" / f"RSX_{fy}_data_by_LA.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rsx.rsx_csv(fy, list(councils), {c.id: c3[c.id][fy] for c in councils}))
        outturn_files.append(path.relative_to(out_dir).as_posix())

    truth = build_truth(seed, rows_per_month, councils, payments, site.files, dict(c3), outturn_files)
    (out_dir / "truth.json").write_text(
        json.dumps(truth, indent=1, ensure_ascii=False, sort_keys=True), encoding="utf-8"
    )
    return truth


def registry(base_url: str) -> list[dict]:
    """The demo councils in the crawler's registry format, pointing at a running DemoServer."""
    base = base_url.rstrip("/")
    out = []
    for c in load_councils():
        entry = {
            "id": c.id,
            "name": c.name,
            "type": c.type,
            "website": f"{base}/{c.slug}/",
            "spending_pages": [f"{base}{spending_path(c)}"],
            "threshold": c.threshold,
            "wdtk_id": c.wdtk_id,
        }
        if c.dgu_publisher:
            entry["dgu_publisher"] = c.dgu_publisher
            entry["ckan_api"] = f"{base}/api/3/action/"
        out.append(entry)
    return out
