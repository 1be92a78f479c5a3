"""Attach supplier entities and SeRCOP categories to payment rows, and mask individuals.

Classifiers run once per DISTINCT key (a council publishes the same payee thousands of times);
``publish/build/payment_rows.py`` joins the result back onto every row by key (``publish/build/keys.py``).
The classifiers belong to other stages (``normalise.suppliers``, ``normalise.categories``); this
module only calls them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from publish.build import keys

WITHHELD_NAME = "Individual (name withheld)"
WITHHELD_ID = "individual-withheld"
SUPPLIER_KEY = keys.SUPPLIER_KEY
SUPPLIER_OUT = ["supplier_id", "canonical_name", "sector", "subsector", "confidence", "evidence"]
CATEGORY_KEY = keys.CATEGORY_KEY


def _norm(s: pd.Series) -> pd.Series:
    """Strings with missing values as "" so that they can be join keys."""
    return s.astype("string").fillna("")


def classify_suppliers(distinct: pd.DataFrame, registers_db: Path | None) -> pd.DataFrame:
    """Run the suppliers stage on distinct keys; individuals come back masked."""
    # No fallback: without the classifier we cannot tell which payees are private individuals,
    # and their names must never be published.
    from normalise.suppliers import classify_suppliers as classify

    out = classify(distinct.copy(), registers_db=registers_db)
    missing = [c for c in SUPPLIER_OUT if c not in out.columns]
    if missing:
        raise RuntimeError(f"normalise.suppliers.classify_suppliers returned no {', '.join(missing)}")
    out = out[SUPPLIER_KEY + SUPPLIER_OUT].copy()
    for col in SUPPLIER_KEY:
        out[col] = _norm(out[col])
    out["sector"] = _norm(out["sector"]).replace("", "unknown")
    blank_id = _norm(out["supplier_id"]) == ""
    out.loc[blank_id, "supplier_id"] = [_local_id(n) for n in out.loc[blank_id, "supplier_name"]]
    out["canonical_name"] = _norm(out["canonical_name"]).where(_norm(out["canonical_name"]) != "",
                                                               out["supplier_name"])
    return mask_individuals(out)


def _local_id(name: str) -> str:
    return "local-" + hashlib.sha1(name.casefold().encode()).hexdigest()[:12]


def mask_individuals(classified: pd.DataFrame) -> pd.DataFrame:
    """Replace every trace of an individual's name: id, canonical name, evidence.

    The raw ``supplier_name`` stays in this frame (it is the join key) but
    :func:`published_supplier_name` never lets it through.
    """
    out = classified.copy()
    ind = out["sector"] == "individual"
    out.loc[ind, "supplier_id"] = WITHHELD_ID
    out.loc[ind, "canonical_name"] = WITHHELD_NAME
    out.loc[ind, "evidence"] = "classified as a private individual; name withheld"
    out["is_individual"] = ind
    return out


def classify_categories(distinct: pd.DataFrame) -> pd.DataFrame:
    """Run the categories stage on distinct expense types / service areas."""
    from normalise.categories import classify_categories as classify

    out = classify(distinct.copy())
    for col in ("label", "confidence", "rule"):
        if col not in out.columns:
            raise RuntimeError(f"normalise.categories.classify_categories returned no {col}")
    out = out[CATEGORY_KEY + ["label", "confidence", "rule"]].copy()
    for col in CATEGORY_KEY:
        out[col] = _norm(out[col])
    out["label"] = _norm(out["label"]).replace("", "unknown")
    return out


