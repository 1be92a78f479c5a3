"""Attach supplier entities and SeRCOP categories to payment rows, and mask individuals.

Classifiers run once per DISTINCT key (a council publishes the same payee thousands of times),
and the result is joined back onto every row. The classifiers belong to other stages
(``normalise.suppliers``, ``normalise.categories``); this module only calls them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

WITHHELD_NAME = "Individual (name withheld)"
WITHHELD_ID = "individual-withheld"
SUPPLIER_KEY = ["council", "supplier_name", "supplier_company_number", "supplier_charity_number",
                "supplier_vat_number", "is_redacted"]
SUPPLIER_OUT = ["supplier_id", "canonical_name", "sector", "subsector", "confidence", "evidence"]
CATEGORY_KEY = ["kind", "value", "council", "code"]


def _norm(s: pd.Series) -> pd.Series:
    """Strings with missing values as "" so that they can be join keys."""
    return s.astype("string").fillna("")


def supplier_keys(rows: pd.DataFrame) -> pd.DataFrame:
    """Distinct supplier keys of a batch of canonical rows (column ``council`` = council_id)."""
    return supplier_keys_for_rows(rows).drop_duplicates(ignore_index=True)


def _category_values(rows: pd.DataFrame) -> pd.DataFrame:
    """Per row, what to classify: the first filled of the columns the categories stage prefers.

    Files without an expense type (Calderdale, Hyndburn) still say what was bought in their
    procurement category or description; files without a service area name a directorate.
    """
    from normalise.categories.row_values import expense_value, service_value

    return pd.DataFrame({
        "expense": _norm(expense_value(rows)).to_numpy(),
        "code": _norm(rows["expense_code"]).to_numpy(),
        "service": _norm(service_value(rows)).to_numpy(),
        "council": _norm(rows["council_id"]).to_numpy(),
    })


def category_keys(rows: pd.DataFrame) -> pd.DataFrame:
    """Distinct (kind, value, council, code) keys to classify."""
    v = _category_values(rows)
    expense = pd.DataFrame({"kind": "expense_type", "value": v["expense"], "council": v["council"],
                            "code": v["code"]})
    services = pd.DataFrame({"kind": "service_area", "value": v["service"], "council": v["council"], "code": ""})
    return pd.concat([expense, services], ignore_index=True).drop_duplicates(ignore_index=True)


def category_counts(rows: pd.DataFrame, pence: pd.Series, values: pd.DataFrame | None = None) -> pd.DataFrame:
    """Payments and pence per category key, for the categories table (``values``: the batch's
    :func:`category_values`, when the caller already has them)."""
    v = category_values(rows) if values is None else values
    p = pence.fillna(0).astype("int64").to_numpy()
    frames = [
        pd.DataFrame({"kind": "expense_type", "value": v["expense"], "council": v["council"],
                      "code": v["code"], "payments": 1, "total_pence": p}),
        pd.DataFrame({"kind": "service_area", "value": v["service"], "council": v["council"], "code": "",
                      "payments": 1, "total_pence": p}),
    ]
    return pd.concat(frames, ignore_index=True).groupby(CATEGORY_KEY, as_index=False).sum()


def classify_suppliers(keys: pd.DataFrame, registers_db: Path | None) -> pd.DataFrame:
    """Run the suppliers stage on distinct keys; individuals come back masked."""
    # No fallback: without the classifier we cannot tell which payees are private individuals,
    # and their names must never be published.
    from normalise.suppliers import classify_suppliers as classify

    out = classify(keys.copy(), registers_db=registers_db)
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


def classify_categories(keys: pd.DataFrame) -> pd.DataFrame:
    """Run the categories stage on distinct expense types / service areas."""
    from normalise.categories import classify_categories as classify

    out = classify(keys.copy())
    for col in ("label", "confidence", "rule"):
        if col not in out.columns:
            raise RuntimeError(f"normalise.categories.classify_categories returned no {col}")
    out = out[CATEGORY_KEY + ["label", "confidence", "rule"]].copy()
    for col in CATEGORY_KEY:
        out[col] = _norm(out[col])
    out["label"] = _norm(out["label"]).replace("", "unknown")
    return out


def category_values(rows: pd.DataFrame) -> pd.DataFrame:
    """What each row's categories are classified from; computed once per batch and passed to
    :func:`attach` and :func:`category_counts` (seconds per million rows)."""
    return _category_values(rows)


def attach(rows: pd.DataFrame, suppliers: pd.DataFrame, categories: pd.DataFrame,
           values: pd.DataFrame | None = None) -> pd.DataFrame:
    """Join classifications onto canonical rows (same length and order as ``rows``)."""
    keys = supplier_keys_for_rows(rows)
    sup = keys.merge(suppliers, on=SUPPLIER_KEY, how="left", validate="many_to_one")
    out = rows.copy()
    for col in ("supplier_id", "canonical_name", "sector", "subsector", "is_individual"):
        out[col] = sup[col].to_numpy()
    out["sector"] = out["sector"].fillna("unknown")
    out["is_individual"] = out["is_individual"].fillna(False).astype(bool)
    exp = categories[categories["kind"] == "expense_type"]
    svc = categories[categories["kind"] == "service_area"]
    v = category_values(rows) if values is None else values
    e = pd.DataFrame({"value": v["expense"], "council": v["council"], "code": v["code"]}).merge(
        exp[["value", "council", "code", "label"]], on=["value", "council", "code"], how="left")
    s = pd.DataFrame({"value": v["service"], "council": v["council"]}).merge(
        svc[["value", "council", "label"]].drop_duplicates(["value", "council"]),
        on=["value", "council"], how="left")
    out["sercop_group"] = e["label"].fillna("unknown").to_numpy()
    out["sercop_division"] = s["label"].fillna("unknown").to_numpy()
    return out


def supplier_keys_for_rows(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "council": _norm(rows["council_id"]),
        "supplier_name": _norm(rows["supplier_name"]),
        "supplier_company_number": _norm(rows["supplier_company_number"]),
        "supplier_charity_number": _norm(rows["supplier_charity_number"]),
        "supplier_vat_number": _norm(rows["supplier_vat_number"]),
        "is_redacted": rows["is_redacted"].astype("boolean").fillna(False).map({True: "true", False: "false"})
                       .astype("string"),
    })
