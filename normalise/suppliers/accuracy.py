"""Score the classifier against hand-checked gold labels (``shared/data/labels/suppliers_gold.csv``).

Accuracy is reported per gold sector, overall by count and weighted by £ (absolute totals), on the
high-confidence labels and on all labels, with the share of £ the classifier left ``unknown``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pandas as pd
from rich.table import Table

from normalise.suppliers.classify import classify_suppliers
from normalise.suppliers.decision import SECTORS

GOLD_COLUMNS = ("council", "supplier_name_raw", "total_gbp", "sector", "confidence")
# The gold file hides personal names as "<individual name>". Any stand-in we chose would be a name
# our own rules already know, so those rows are left out of the score and counted instead.
PLACEHOLDER = "<individual name>"


def read_gold(path: Path) -> pd.DataFrame:
    gold = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in GOLD_COLUMNS if c not in gold.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    bad = gold.index[~gold["sector"].isin(SECTORS)].tolist()
    if bad:
        row = bad[0]
        raise ValueError(f"{path}: row {row + 2}: sector {gold['sector'][row]!r} is not one of {SECTORS}")
    gold["total_gbp"] = pd.to_numeric(gold["total_gbp"], errors="coerce").fillna(0.0)
    gold["supplier_name"] = gold["supplier_name_raw"]
    withheld = gold["supplier_name_raw"].str.strip() == PLACEHOLDER
    if withheld.any():
        names = [withheld_name(e, path) for e in gold.loc[withheld, "evidence"]]
        gold.loc[withheld, "supplier_name"] = [n or PLACEHOLDER for n in names]
        withheld = gold["supplier_name"] == PLACEHOLDER
    gold = gold[~withheld].reset_index(drop=True)
    gold.attrs["withheld_names_excluded"] = int(withheld.sum())
    return gold


_SOURCE = re.compile(r"source (shared/data/real/\S.*?) record (\d+)")


def withheld_name(evidence: str, gold_path: Path) -> str | None:
    """The payee name a gold row withholds, read back from the file and record its evidence cites.

    Why: individuals missed can only be counted on real names. The name is used to score and never
    printed; None when the file is not at hand or the record is not a payment line.
    """
    m = _SOURCE.search(evidence)
    if not m:
        return None
    path = gold_path.resolve().parents[3] / m.group(1)
    if not path.exists():
        return None
    rows = _normalised_rows(path)
    hit = rows.loc[pd.to_numeric(rows["source_row"], errors="coerce") == int(m.group(2)), "supplier_name"]
    return str(hit.iloc[0]) if len(hit) and str(hit.iloc[0]).strip() else None


def batch_payees(gold_path: Path, gold: pd.DataFrame) -> pd.DataFrame:
    """Distinct ``council, supplier_name`` of the labelled councils' own files, when at hand.

    Why: in a build the classifier runs once over every council's distinct payees, and some answers
    depend on that batch (a person-shaped "T Smith" is a business when "T Smith Ltd" is paid too).
    Scoring the gold rows inside the same batch measures what a build publishes. The files are looked
    for in ``<labels>/../real/<council>/``; none at hand, an empty batch.
    """
    real = gold_path.resolve().parent.parent / "real"
    frames = []
    for council in sorted(set(gold["council"])):
        for f in sorted((real / council).glob("*")) if (real / council).is_dir() else []:
            rows = _normalised_rows(f)
            if "supplier_name" in rows.columns and len(rows):
                names = rows["supplier_name"].dropna().astype(str).unique()
                frames.append(pd.DataFrame({"council": council, "supplier_name": names}))
    if not frames:
        return pd.DataFrame({"council": [], "supplier_name": []}, dtype=object)
    return pd.concat(frames, ignore_index=True).drop_duplicates(ignore_index=True)


@lru_cache(maxsize=64)
def _normalised_rows(path: Path) -> pd.DataFrame:
    from normalise.pipeline import normalise_file  # the normaliser, only when a name must be read back

    return normalise_file(path).rows


def score_gold(path: Path, registers_db: Path | None, use_overrides: bool = True) -> pd.DataFrame:
    """Gold rows with the classifier's ``sector``, ``confidence``, ``evidence`` and ``correct``."""
    gold = read_gold(path)
    batch = pd.concat([gold[["council", "supplier_name"]], batch_payees(path, gold)], ignore_index=True)
    out = classify_suppliers(batch, registers_db, use_overrides=use_overrides).iloc[: len(gold)]
    scored = gold.rename(columns={"sector": "gold", "confidence": "gold_confidence"})
    for c in ("sector", "subsector", "confidence", "evidence", "supplier_id"):
        scored[c] = out[c].values
    scored["correct"] = scored["sector"] == scored["gold"]
    scored["gbp"] = scored["total_gbp"].abs()
    scored.attrs.update(gold.attrs)
    return scored


def summarise(scored: pd.DataFrame) -> dict:
    """Headline figures: overall/high accuracy by count and £, per-sector accuracy, unknown £ share."""

    def acc(frame: pd.DataFrame) -> tuple[float, float, int]:
        if frame.empty:
            return (float("nan"), float("nan"), 0)
        by_gbp = (
            frame.loc[frame["correct"], "gbp"].sum() / frame["gbp"].sum()
            if frame["gbp"].sum()
            else float("nan")
        )
        return (float(frame["correct"].mean()), float(by_gbp), len(frame))

    high = scored[scored["gold_confidence"] == "high"]
    confused = scored[
        (scored["gold_confidence"] == "high")
        & (
            ((scored["gold"] == "public") & (scored["sector"] == "private"))
            | ((scored["gold"] == "private") & (scored["sector"] == "public"))
        )
    ]
    wrongly_masked = scored[(scored["sector"] == "individual") & (scored["gold"] != "individual")]
    people = scored[scored["gold"] == "individual"]
    missed = people[people["sector"] != "individual"]
    return {
        "organisations_as_individuals": (len(wrongly_masked), float(wrongly_masked["gbp"].sum())),
        "individuals_missed": (len(missed), len(people), float(missed["gbp"].sum())),
        "all": acc(scored),
        "high": acc(high),
        "per_sector": {
            s: acc(scored[scored["gold"] == s]) + acc(high[high["gold"] == s])
            for s in SECTORS
            if (scored["gold"] == s).any()
        },
        "unknown_gbp_share": float(
            scored.loc[scored["sector"] == "unknown", "gbp"].sum() / scored["gbp"].sum()
        ),
        "default_gbp_share": float(
            scored.loc[scored["evidence"].str.startswith("default"), "gbp"].sum() / scored["gbp"].sum()
        ),
        "default_right": acc(scored[scored["evidence"].str.startswith("default")])[:2],
        "withheld_names_excluded": scored.attrs.get("withheld_names_excluded", 0),
        "public_private_confusions": confused[["council", "supplier_name", "gold", "sector"]].values.tolist(),
    }


def accuracy_table(scored: pd.DataFrame) -> Table:
    s = summarise(scored)
    table = Table(title="Supplier sector accuracy against gold labels")
    for col in ("gold sector", "n", "by count", "by £", "n high", "high by count", "high by £"):
        table.add_column(col, justify="left" if col == "gold sector" else "right")
    for sector, (c, g, n, hc, hg, hn) in s["per_sector"].items():
        table.add_row(sector, str(n), _pct(c), _pct(g), str(hn), _pct(hc), _pct(hg))
    (c, g, n), (hc, hg, hn) = s["all"], s["high"]
    table.add_row("ALL", str(n), _pct(c), _pct(g), str(hn), _pct(hc), _pct(hg), style="bold")
    table.caption = (
        f"unknown share of £: {_pct(s['unknown_gbp_share'])}; " + _default_line(s) + "; "
        f"public<->private confusions on high-confidence labels: {len(s['public_private_confusions'])}; "
        f"gold rows with withheld names, not scored: {s['withheld_names_excluded']}; " + _individual_line(s)
    )
    return table


def format_summary(scored: pd.DataFrame) -> str:
    """Plain-text version of the table (test output)."""
    s = summarise(scored)
    lines = [f"{'gold sector':16} {'n':>4} {'count':>7} {'£':>7} {'n_hi':>5} {'hi cnt':>7} {'hi £':>7}"]
    for sector, (c, g, n, hc, hg, hn) in s["per_sector"].items():
        lines.append(f"{sector:16} {n:4d} {_pct(c):>7} {_pct(g):>7} {hn:5d} {_pct(hc):>7} {_pct(hg):>7}")
    (c, g, n), (hc, hg, hn) = s["all"], s["high"]
    lines.append(f"{'ALL':16} {n:4d} {_pct(c):>7} {_pct(g):>7} {hn:5d} {_pct(hc):>7} {_pct(hg):>7}")
    lines.append(
        f"unknown share of £: {_pct(s['unknown_gbp_share'])}; public<->private confusions (high): "
        f"{len(s['public_private_confusions'])}; withheld names not scored: {s['withheld_names_excluded']}"
    )
    lines.append(_individual_line(s))
    return "\n".join(lines)


# An answer the classifier marks "high confidence" (the calibration target: >= 97% of them right).
HIGH_CONFIDENCE = 0.8


def split_halves(councils: list[str]) -> dict[str, str]:
    """{council: "A" or "B"}: councils sorted, alternately assigned, so a rule derived on one half is
    checked on the other (the project is judged on councils whose files we do not have)."""
    return {c: "AB"[i % 2] for i, c in enumerate(sorted(set(councils)))}


def by_group(scored: pd.DataFrame, column: str) -> pd.DataFrame:
    """Accuracy per value of ``column`` (council, half): count and £, all and high-confidence labels,
    how many answers the classifier marked high confidence and how many of those are right."""
    rows = []
    for value, frame in scored.groupby(column, sort=True):
        high = frame[frame["gold_confidence"] == "high"]
        sure = frame[frame["confidence"] >= HIGH_CONFIDENCE]
        rows.append(
            {
                column: value,
                "n": len(frame),
                "count": frame["correct"].mean(),
                "gbp": _gbp_share(frame),
                "n_high": len(high),
                "high_count": high["correct"].mean() if len(high) else float("nan"),
                "high_gbp": _gbp_share(high),
                "n_sure": len(sure),
                "sure_right": sure["correct"].mean() if len(sure) else float("nan"),
                "unknown_gbp": frame.loc[frame["sector"] == "unknown", "gbp"].sum() / frame["gbp"].sum()
                if frame["gbp"].sum()
                else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def group_table(scored: pd.DataFrame, column: str, title: str) -> Table:
    table = Table(title=title)
    frame = by_group(scored, column)
    heads = (
        column,
        "n",
        "by count",
        "by £",
        "n high",
        "high by count",
        "high by £",
        "n sure",
        "sure right",
        "unknown £",
    )
    for col in heads:
        table.add_column(col, justify="left" if col == column else "right")
    for r in frame.itertuples(index=False):
        table.add_row(
            str(getattr(r, column)),
            str(r.n),
            _pct(r.count),
            _pct(r.gbp),
            str(r.n_high),
            _pct(r.high_count),
            _pct(r.high_gbp),
            str(r.n_sure),
            _pct(r.sure_right),
            _pct(r.unknown_gbp),
        )
    table.caption = f"sure = the classifier's confidence >= {HIGH_CONFIDENCE}; sure right is its calibration"
    return table


def with_halves(scored: pd.DataFrame) -> pd.DataFrame:
    out = scored.copy()
    out["half"] = out["council"].map(split_halves(out["council"].tolist()))
    return out


def _gbp_share(frame: pd.DataFrame) -> float:
    total = frame["gbp"].sum()
    return float(frame.loc[frame["correct"], "gbp"].sum() / total) if total else float("nan")


def _pct(x: float) -> str:
    return "-" if x != x else f"{100 * x:.1f}%"


def _default_line(s: dict) -> str:
    """How much rests on the no-cue default (a guess: confidence 0.35), and how often it is right."""
    right_count, right_gbp = s["default_right"]
    return (
        f"share of £ on the no-cue default: {_pct(s['default_gbp_share'])} "
        f"(right {_pct(right_count)} by count, {_pct(right_gbp)} by £)"
    )


def _individual_line(s: dict) -> str:
    (n_org, gbp_org), (n_missed, n_people, gbp_missed) = (
        s["organisations_as_individuals"],
        s["individuals_missed"],
    )
    return (
        f"organisations labelled individual: {n_org} (£{gbp_org:,.0f}); individuals missed: "
        f"{n_missed} of {n_people} (£{gbp_missed:,.0f})"
    )
