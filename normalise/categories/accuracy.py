"""Score the classifier against hand-checked gold labels, by count and by £.

Gold files (``expense_types_gold.csv``, ``service_areas_gold.csv``) carry ``council``,
``value_raw``, ``total_gbp``, ``label`` and ``confidence`` (high/medium/low). They are used to
measure, never to write rules from.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from normalise.categories.classify import classify_categories

GOLD_FILES = {"expense_type": "expense_types_gold.csv", "service_area": "service_areas_gold.csv"}


def score_gold(gold_dir: Path, kind: str) -> pd.DataFrame:
    """Gold rows of ``kind`` with the classifier's ``predicted``, ``pred_confidence``, ``rule``, ``correct``."""
    path = Path(gold_dir) / GOLD_FILES[kind]
    if not path.exists():
        raise FileNotFoundError(f"gold file not found: {path}")
    gold = pd.read_csv(path, dtype={"value_raw": str, "council": str}, keep_default_na=False)
    for col in ("council", "value_raw", "total_gbp", "label", "confidence"):
        if col not in gold.columns:
            raise ValueError(f"{path}: missing column {col!r}")
    gold["total_gbp"] = pd.to_numeric(gold["total_gbp"], errors="coerce").fillna(0.0)
    res = classify_categories(
        pd.DataFrame({"kind": kind, "value": gold["value_raw"], "council": gold["council"]})
    )
    gold["predicted"] = res["label"].to_numpy()
    gold["pred_confidence"] = res["confidence"].to_numpy()
    gold["rule"] = res["rule"].to_numpy()
    gold["correct"] = gold["predicted"] == gold["label"]
    return gold


def accuracy_table(scored: pd.DataFrame) -> pd.DataFrame:
    """Per gold label and overall: n, correct, accuracy by count, accuracy by absolute £."""
    s = scored.assign(abs_gbp=scored["total_gbp"].abs())
    s["correct_gbp"] = s["abs_gbp"].where(s["correct"], 0.0)
    per = s.groupby("label").agg(
        n=("correct", "size"),
        correct=("correct", "sum"),
        gbp=("abs_gbp", "sum"),
        correct_gbp=("correct_gbp", "sum"),
    )
    per.loc["ALL"] = [len(s), int(s["correct"].sum()), s["abs_gbp"].sum(), s["correct_gbp"].sum()]
    per["accuracy"] = (per["correct"] / per["n"]).round(4)
    per["accuracy_gbp"] = (per["correct_gbp"] / per["gbp"].where(per["gbp"] > 0)).round(4)
    return per.reset_index()[["label", "n", "correct", "accuracy", "accuracy_gbp"]]


def accuracy_report(gold_dir: Path) -> dict[str, dict[str, pd.DataFrame]]:
    """{kind: {"all": table, "high": table on gold rows marked high confidence}}."""
    out: dict[str, dict[str, pd.DataFrame]] = {}
    for kind in GOLD_FILES:
        scored = score_gold(gold_dir, kind)
        out[kind] = {
            "all": accuracy_table(scored),
            "high": accuracy_table(scored[scored["confidence"] == "high"]),
            "errors": scored[~scored["correct"]][
                ["council", "value_raw", "label", "predicted", "confidence", "rule"]
            ],
        }
    return out
