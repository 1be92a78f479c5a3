"""Supplier classification benchmark: names/s and peak memory for match keys, resolution, classification.

    python -m benchmarks.suppliers --names 500000 [--seed 7] [--registers DB] [--json OUT.json]

Why a separate script: supplier classification was the slowest step of the publish build and its cost
grows with the number of *distinct* payees, not payment rows, so it is measured on distinct names.
Names are generated from benchmarks/vocabulary.yml (places, trades, legal forms, surnames) plus made-up
brand words, public bodies, charities and people, in the spellings councils use, so the name rules,
the personal-name test and the fuzzy resolution all see a realistic mix.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.generate import vocabulary

SYLLABLES = (
    "ab",
    "ar",
    "bel",
    "bro",
    "cal",
    "dor",
    "el",
    "fen",
    "gra",
    "hal",
    "ing",
    "ka",
    "lor",
    "mar",
    "nor",
    "ol",
    "pen",
    "quin",
    "ros",
    "sal",
    "tor",
    "ul",
    "ven",
    "wes",
    "xen",
    "yor",
    "zen",
)
PUBLIC_KINDS = (
    "Borough Council",
    "District Council",
    "Town Council",
    "Parish Council",
    "County Council",
    "Primary School",
    "Academy",
    "NHS Foundation Trust",
    "Clinical Commissioning Group",
    "Fire and Rescue Service",
    "Constabulary",
    "University",
    "College",
)
THIRD_KINDS = (
    "Community Trust",
    "Age Concern",
    "Citizens Advice",
    "Housing Association",
    "Mind",
    "Carers Centre",
    "Scout Group",
    "Youth Club",
    "Community Association",
    "Foodbank",
    "Credit Union",
    "Co-operative Ltd",
    "Homes CIC",
    "Leisure Trust",
)
OTHER = (
    "REFUND",
    "Council Tax Refund",
    "Pension Fund",
    "Petty Cash",
    "Foster Carer",
    "REDACTED",
    "Direct Payment",
    "Precept",
    "Bank Charges",
)
FORENAMES = ("John", "Sarah", "David", "Emma", "Peter", "Helen", "Mohammed", "Aisha", "James", "Claire")


def _brand(rng: np.random.Generator) -> str:
    n = int(rng.integers(2, 4))
    return "".join(SYLLABLES[int(i)] for i in rng.integers(0, len(SYLLABLES), n)).capitalize()


def generate_names(n: int, seed: int = 7) -> list[str]:
    """``n`` distinct payee names with a realistic mix of firms, public bodies, charities and people."""
    voc = vocabulary()
    places, trades, forms = voc["places"], voc["trades"], voc["legal_forms"]
    titles, initials, surnames = voc["titles"], voc["initials"], voc["surnames"]
    rng = np.random.default_rng([seed, 11])
    seen: dict[str, None] = {}
    while len(seen) < n:
        kind = rng.random()
        pick = lambda xs: xs[int(rng.integers(len(xs)))]  # noqa: E731
        if kind < 0.55:  # a firm: "<brand|place|surname> <trade> <legal form>"
            lead = pick([_brand(rng), pick(places), pick(surnames), f"{pick(surnames)} & {pick(surnames)}"])
            form = pick(forms[min(int(rng.exponential(1.2)), len(forms) - 1)])
            name = f"{lead} {pick(trades)} {form}"
        elif kind < 0.65:
            name = f"{pick([_brand(rng), pick(places)])} {pick(PUBLIC_KINDS)}"
        elif kind < 0.77:
            name = f"{pick([_brand(rng), pick(places)])} {pick(THIRD_KINDS)}"
        elif kind < 0.93:  # a person, in the ways councils write them
            style = int(rng.integers(4))
            surname = pick(surnames) if rng.random() < 0.5 else _brand(rng)
            name = [
                f"{pick(titles)} {pick(initials)} {surname}",
                f"{pick(FORENAMES)} {surname}",
                f"{pick(initials)} {pick(initials)} {surname}",
                f"{surname} {pick(initials)}",
            ][style]
        else:
            name = f"{pick(OTHER)} {_brand(rng)}" if rng.random() < 0.5 else f"{_brand(rng)} {pick(OTHER)}"
        if rng.random() < 0.3:
            name = name.upper()
        seen.setdefault(name)
    return list(seen)


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(names: int, seed: int, registers: Path | None) -> dict:
    from normalise.suppliers.classify import classify_suppliers
    from normalise.suppliers.keys import match_key
    from normalise.suppliers.resolve import resolve

    t = time.perf_counter()
    data = generate_names(names, seed)
    results: dict = {"names": len(data), "generate_s": round(time.perf_counter() - t, 2), "stages": {}}

    def stage(label: str, fn):
        start = time.perf_counter()
        value = fn()
        secs = time.perf_counter() - start
        results["stages"][label] = {
            "seconds": round(secs, 2),
            "names_per_s": round(len(data) / secs),
            "peak_rss_mb": round(_peak_rss_mb()),
        }
        return value

    keys = stage("match_keys", lambda: [match_key(x) for x in data])
    stage("resolution", lambda: resolve(keys))
    frame = pd.DataFrame({"supplier_name": data})
    stage("classification", lambda: classify_suppliers(frame, registers))
    results["machine"] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "pandas": pd.__version__,
    }
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--names", type=int, default=100_000, help="distinct payee names to generate")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (same seed, same names)")
    parser.add_argument(
        "--registers",
        type=Path,
        default=None,
        help="registers database to classify with (default: name rules only)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    results = run(args.names, args.seed, args.registers)
    print(f"{results['names']:,} distinct names (generated in {results['generate_s']} s)")
    print(f"{'stage':<16}{'seconds':>10}{'names/s':>12}{'peak RSS MB':>14}")
    for label, s in results["stages"].items():
        print(f"{label:<16}{s['seconds']:>10}{s['names_per_s']:>12,}{s['peak_rss_mb']:>14,}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
