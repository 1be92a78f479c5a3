"""Attach supplier entities and SeRCOP categories to payment rows, and mask individuals.

The classify step (``normalise/classes.py``) decided each DISTINCT key once and wrote its answers to
``normalised/classes/``; ``publish/build/payment_rows.py`` joins them back onto every row by key
(``councilspend/rowkeys.py``). This module reads them and masks individuals: the build never calls
a classifier.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from councilspend import rowkeys as keys
from councilspend.normalised import InputError

WITHHELD_NAME = "Individual (name withheld)"
WITHHELD_ID = "individual-withheld"
SUPPLIER_KEY = keys.SUPPLIER_KEY
CATEGORY_KEY = keys.CATEGORY_KEY
#: "Mr J Smith t/a Smith Builders": the classifier names such a payee by its trading name only.
_TRADING_AS = re.compile(r"\b(?:t/a|t/as|trading as)\b", re.IGNORECASE)


def read_classes(normalised: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, keys.CueBook]:
    """(suppliers with individuals masked, categories, outturn, the context cues) as the classify step
    wrote them.

    Raises :class:`~councilspend.normalised.InputError` naming the folder when they are missing.
    """
    folder = Path(normalised) / "classes"
    frames = []
    for name in ("suppliers", "categories", "outturn", "context_cues"):
        path = folder / f"{name}.parquet"
        if not path.exists():
            raise InputError(
                f"{path} is missing: classify the normalised files first "
                "(`councilspend publish` does it, or `councilspend normalise --manifest`)"
            )
        frames.append(pd.read_parquet(path))
    suppliers, categories, outturn, cues = frames
    for col in SUPPLIER_KEY:
        suppliers[col] = suppliers[col].astype("string").fillna("")
    for col in CATEGORY_KEY:
        categories[col] = categories[col].astype("string").fillna("")
    record = keys.CueBook.from_record(cues["text"].astype(str).tolist(), cues["cue"].astype(str).tolist())
    return mask_individuals(suppliers), categories, outturn, record


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
    out["published_name"] = published_supplier_name(out)
    return out


def published_supplier_name(classified: pd.DataFrame) -> pd.Series:
    """The name a payment shows, per payee key: the withheld label for individuals, the canonical
    (trading) name for a person trading under a business name ("Mr X t/a Y Builders" → "Y Builders"),
    else the name as the council published it. Null means "as published" (the row's own spelling)."""
    raw = classified["supplier_name"].astype("string").fillna("")
    canonical = classified["canonical_name"].astype("string").fillna("")
    trading = raw.str.contains(_TRADING_AS) & (canonical.str.strip() != "") & (canonical != raw)
    shown = pd.Series(pd.NA, index=classified.index, dtype="string")
    shown[trading] = canonical[trading]
    shown[classified["sector"] == "individual"] = WITHHELD_NAME
    return shown
