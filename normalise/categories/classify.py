"""Map expense types to SeRCOP subjective groups and service areas to SeRCOP service divisions.

Order of evidence, strongest first: a code from a published scheme (ProClass, RO division codes);
the ordered keyword rules (``rules/*.yml``) on the value as written; the same rules on the value
with abbreviations and truncations expanded (``rules/vocabulary.yml``), at lower confidence; then,
only where the value says nothing or little, the row's context (``context.py``: a group or
capital/revenue column, a description or cost centre, the payee); per-council overrides
(``overrides.csv``) win because a person checked them. Every row says which rule decided and why.

Work is done once per distinct key: publish calls this on a national dataset, and the same few
thousand headings repeat across millions of rows.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from normalise.categories.decide import (  # noqa: F401 - decide_text, WEAK... are this module's API too
    _HAS_LETTERS,
    _PROCLASS,
    EXPANDED_FACTOR,
    WEAK,
    Decision,
    classify_value,
    decide_text,
    decide_value,
)
from normalise.categories.rules import load_overrides, normalise_value
from normalise.categories.taxonomy import LABELS


def _clean(series: pd.Series) -> pd.Series:
    return series.astype("object").where(series.notna(), "").astype(str).str.strip()


def _apply_overrides(keys: pd.DataFrame, overrides: Path | None) -> None:
    table = load_overrides(overrides)
    if not table:
        return
    for i, (council, kind, value) in enumerate(
        zip(keys["council"], keys["kind"], keys["value"], strict=True)
    ):
        norm = normalise_value(value)
        for who in (council.lower(), "*"):
            hit = table.get((who, kind, norm))
            if hit:
                who_name = council if who != "*" else "*"
                keys.loc[i, ["label", "confidence", "rule", "evidence"]] = [
                    hit[0],
                    1.0,
                    f"override:{who_name}",
                    f"override ({hit[1] or 'checked by hand'})",
                ]
                break


def classify_categories(df: pd.DataFrame, overrides: Path | None = None) -> pd.DataFrame:
    """Return ``df`` plus ``label``, ``confidence`` (0-1), ``rule``, ``evidence`` and ``transfer_kind``.

    ``df`` needs ``kind`` (``expense_type``/``service_area``) and ``value``; ``council`` and
    ``code`` are optional, and so are the context columns of :data:`context.CONTEXT_COLUMNS`
    (``group``, ``capital_revenue``, ``context``, ``service``, ``payee_name``, ``payee_sector``),
    used only when present. ``overrides`` defaults to ``normalise/categories/overrides.csv``.
    """
    from normalise.categories.context import CONTEXT_COLUMNS, apply_context

    missing = [c for c in ("kind", "value") if c not in df.columns]
    if missing:
        raise ValueError(f"classify_categories: input lacks column(s) {', '.join(missing)}")
    work = pd.DataFrame(
        {
            "kind": _clean(df["kind"]),
            "value": _clean(df["value"]),
            "council": _clean(df["council"]) if "council" in df.columns else "",
            "code": _clean(df["code"]) if "code" in df.columns else "",
        },
        index=df.index,
    )
    bad = ~work["kind"].isin(list(LABELS))
    if bad.any():
        first = work.index[bad][0]
        raise ValueError(
            f"classify_categories: row {first}: kind {work.at[first, 'kind']!r} must be "
            f"'expense_type' or 'service_area' ({int(bad.sum())} such rows)"
        )
    keys = work.drop_duplicates(ignore_index=True)
    decided = [
        decide_value(k, v, c) for k, v, c in zip(keys["kind"], keys["value"], keys["code"], strict=True)
    ]
    for i, col in enumerate(("label", "confidence", "rule", "evidence")):
        keys[col] = [d[i] for d in decided]
    _apply_overrides(keys, overrides)
    merged = work.reset_index(drop=True).merge(keys, on=["kind", "value", "council", "code"], how="left")
    merged.index = df.index
    context = {c: _clean(df[c]) for c in CONTEXT_COLUMNS if c in df.columns}
    merged = apply_context(merged, context)
    out = df.copy()
    out["label"] = merged["label"].to_numpy()
    out["confidence"] = merged["confidence"].astype(float).to_numpy()
    out["rule"] = merged["rule"].to_numpy()
    out["evidence"] = merged["evidence"].to_numpy()
    out["transfer_kind"] = merged["transfer_kind"].to_numpy()
    return out
