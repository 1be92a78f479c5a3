"""Honest measures of the category classifier: per council, split-half, and on whole real files.

Why: a rule set scored on the labels it was written against overstates how well it does on a
council it has never seen. Three views keep that visible:

* per council (gold labels, high-confidence rows): accuracy by count and by £;
* split-half: councils are split into two fixed halves by a hash of their name (``A`` is the half
  rules may be written from, ``B`` is held out); a rule that only fits the words of ``A`` shows up
  as a gap between the halves;
* real files: every payments/card file in ``../shared/data/real`` normalised and classified with
  its row context, giving the £ share per council left with an unknown expense group and the £
  share treated as a transfer (the share the publish build leaves out of the denominator).
"""

from __future__ import annotations

import csv
import hashlib
from functools import cache
from pathlib import Path

import pandas as pd

from normalise.categories.accuracy import GOLD_FILES, score_gold

REAL_KINDS = ("payments", "card")


def half_of(council: str) -> str:
    """``A`` or ``B``: a fixed split that does not depend on which councils are present."""
    return "A" if hashlib.sha256(council.strip().lower().encode()).digest()[0] % 2 == 0 else "B"


def _rates(df: pd.DataFrame) -> dict[str, float]:
    gbp = df["total_gbp"].abs()
    total = gbp.sum()
    return {
        "n": len(df),
        "accuracy": round(float(df["correct"].mean()), 4) if len(df) else float("nan"),
        "accuracy_gbp": round(float(gbp[df["correct"]].sum() / total), 4) if total else float("nan"),
        "unknown": round(float((df["predicted"] == "unknown").mean()), 4) if len(df) else float("nan"),
    }


def gold_by_council(gold_dir: Path) -> pd.DataFrame:
    """One row per (kind, council) on high-confidence gold rows: n, accuracy by count and £, share unknown."""
    rows = []
    for kind in GOLD_FILES:
        scored = score_gold(gold_dir, kind)
        high = scored[scored["confidence"] == "high"]
        for council, part in high.groupby("council"):
            rows.append({"kind": kind, "council": council, "half": half_of(council), **_rates(part)})
    return pd.DataFrame(rows)


def gold_split_half(gold_dir: Path) -> pd.DataFrame:
    """One row per (kind, half) and (kind, ALL) on high-confidence gold rows."""
    rows = []
    for kind in GOLD_FILES:
        scored = score_gold(gold_dir, kind)
        high = scored[scored["confidence"] == "high"].copy()
        high["half"] = high["council"].map(half_of)
        for half in ("A", "B"):
            rows.append({"kind": kind, "half": half, **_rates(high[high["half"] == half])})
        rows.append({"kind": kind, "half": "ALL", **_rates(high)})
    return pd.DataFrame(rows)


@cache
def real_rows(real_dir: Path) -> pd.DataFrame:
    """Canonical payment rows of every payments/card file listed in ``EXPECTED.csv``, with ``council``
    (the folder name). Cached per process: normalising all shared files takes a few seconds."""
    from normalise.pipeline import normalise_file

    listing = real_dir / "EXPECTED.csv"
    if not listing.exists():
        raise FileNotFoundError(f"no EXPECTED.csv in {real_dir}")
    frames = []
    with listing.open(encoding="utf-8", newline="") as fh:
        for entry in csv.DictReader(fh):
            if entry["kind"] not in REAL_KINDS:
                continue
            result = normalise_file(real_dir / entry["path"])
            if result.rows is None or result.rows.empty:
                continue
            frames.append(result.rows.assign(council=entry["path"].split("/")[0], source=entry["path"]))
    return pd.concat(frames, ignore_index=True)


def real_shares(real_dir: Path, with_sectors: bool = True) -> pd.DataFrame:
    """Per council (and ``ALL``): £ paid, share of £ with an unknown expense group, share treated as
    transfer, share of £ whose group came only from row context. Shares are of absolute £."""
    from normalise.categories.classify import classify_categories
    from normalise.categories.row_values import category_input

    rows = real_rows(Path(real_dir))
    sectors = _sectors(rows) if with_sectors else None
    res = classify_categories(category_input(rows, "expense_type", payee_sector=sectors))
    gbp = rows["amount"].astype(float).abs().to_numpy()
    frame = pd.DataFrame(
        {
            "council": rows["council"].to_numpy(),
            "gbp": gbp,
            "unknown_gbp": gbp * (res["label"] == "unknown").to_numpy(),
            "transfer_gbp": gbp * res["transfer_kind"].notna().to_numpy(),
            "context_gbp": gbp * res["rule"].str.startswith("context").to_numpy(),
        }
    )
    per = frame.groupby("council").sum()
    per.loc["ALL"] = per.sum()
    for col in ("unknown", "transfer", "context"):
        per[f"{col}_share"] = (per[f"{col}_gbp"] / per["gbp"]).round(4)
    return per.reset_index()[["council", "gbp", "unknown_share", "transfer_share", "context_share"]]


def _sectors(rows: pd.DataFrame) -> pd.Series | None:
    """Payee sector from the supplier classifier, or None when it cannot run (the measure then
    shows what the expense columns alone achieve)."""
    try:
        from normalise.suppliers.classify import classify_suppliers

        cols = [c for c in ("supplier_name", "council", "is_redacted") if c in rows.columns]
        return classify_suppliers(rows[cols].copy())["sector"].astype("object")
    except Exception:  # noqa: BLE001 - another stage's failure must not hide this measure
        return None
