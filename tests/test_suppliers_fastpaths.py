"""The vectorised fast paths give exactly what the simple per-name code gives.

Speed work on supplier classification (rule_scan.py, the upper-triangle fuzzy scan, per-distinct
caches) must never change a single output value; each test here compares a fast path with the
plain definition it replaces, on inputs chosen to hit the edge cases (non-ASCII text, vetoes,
patterns RE2 cannot run, large fuzzy blocks, values that are equal as dict keys but not as names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from rapidfuzz import fuzz, process

from benchmarks.suppliers import generate_names, run
from normalise.suppliers import classify_suppliers
from normalise.suppliers.distinct import match_keys as _match_keys
from normalise.suppliers.distinct import plain_texts as _plain_texts
from normalise.suppliers.keys import display_name, match_key, plain_text
from normalise.suppliers.resolve import FUZZY_CUTOFF, SMALL_BLOCK, _blocks, fuzzy_pairs, tokens_compatible
from normalise.suppliers.rule_scan import best_rules, regex_mask
from normalise.suppliers.rulebook import best_rule, load_rules
from normalise.suppliers.rulebook import rule_groups as _rule_groups

AWKWARD = [
    "Acme Ltd",
    "ACME LIMITED T/A Widgets",
    "Smith & Sons (123456)",
    "Foo#Internal Invoices",
    "#N/A",
    "Café Nero",
    "HM Revenue & Customs",
    "Pension Fund Consultants Ltd",
    "Mr J Smith",
    "Tower Hamlets Council",
    "<script>x</script>",
    '=HYPERLINK("x")',
    "Age UK Camden",
    "",
    "Zoë’s Childcare",
    "KELVIN \u212a LTD",
    "Town\u2003Council",
    "The Foo Bar & Baz (South) Ltd",
]


def test_best_rules_matches_the_per_name_cascade() -> None:
    rules = load_rules()["rules"]
    texts = [plain_text(n) for n in AWKWARD + generate_names(3000, seed=5)]
    groups = _rule_groups(tuple(rules))
    expected = [best_rule(t, groups) for t in texts]
    got = best_rules(texts, rules)
    assert [(r.id if r else None) for r in got] == [(d.evidence[5:] if d else None) for d in expected]
    assert sum(r is not None for r in got) > 1000  # the sample really exercises the rules


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern
    unless: re.Pattern | None
    confidence: float


def test_best_rules_runs_python_only_patterns_and_vetoes() -> None:
    rules = [
        _Rule(re.compile(r"\bcare\b(?! home)"), re.compile(r"\bltd\b"), 0.9),  # look-ahead: not RE2
        _Rule(re.compile(r"\bcare\b"), None, 0.5),
    ]
    got = best_rules(["acme care", "acme care home", "acme care ltd", "nothing"], rules)
    assert got == [rules[0], rules[1], rules[1], None]


def test_regex_mask_agrees_with_python_on_non_ascii() -> None:
    values = ["Town\u2003Council", "kelvin \u212a", "plain k", None, "<\u00a0b>"]
    for pattern in (
        re.compile(r"town\scouncil", re.IGNORECASE),
        re.compile(r"\bk\b", re.IGNORECASE),
        re.compile(r"<\s*/?\s*[a-z!][^>]*>", re.IGNORECASE),
    ):
        expected = [v is not None and pattern.search(v) is not None for v in values]
        assert regex_mask(pa.array(values, pa.string()), pattern).tolist() == expected


def test_plain_texts_equal_plain_text() -> None:
    names = [display_name(n) for n in AWKWARD + ["A\x00B", "x\u2019s", "R&D+Co", " ", "a\tb"]]
    names += generate_names(2000, seed=4)
    assert _plain_texts(names, pa.array(names, pa.string())) == [plain_text(n) for n in names]


def test_match_keys_shortcut_equals_match_key() -> None:
    names = AWKWARD + generate_names(2000, seed=9)
    texts = [plain_text(n) for n in names]
    assert _match_keys(names, pa.array(names, pa.string()), texts) == [match_key(n) for n in names]


def _reference_pairs(keys: list[str]) -> list[tuple[int, int, int]]:
    """The full block x block scan the fast fuzzy scan must reproduce, pair for pair and in order."""
    out, seen = [], set()
    for ids in _blocks(keys):
        block = [keys[i] for i in ids]
        large = len(block) > SMALL_BLOCK
        if large:  # scored with cdist, whose uint8 scores are rounded (fuzz.ratio's are truncated by int())
            order = sorted(range(len(block)), key=lambda x: len(block[x]))
            block, ids = [block[x] for x in order], [ids[x] for x in order]
            matrix = process.cdist(block, block, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, dtype=np.uint8)
        for x in range(len(block)):
            for y in range(len(block)):
                if not large and y <= x:
                    continue
                score = matrix[x, y] if large else fuzz.ratio(block[x], block[y], score_cutoff=FUZZY_CUTOFF)
                i, j = (ids[x], ids[y]) if large else tuple(sorted((ids[x], ids[y])))
                if score and i < j and (i, j) not in seen:
                    seen.add((i, j))
                    out.append((i, j, int(score)))
    return out


def test_fuzzy_pairs_equal_a_full_scan_in_the_same_order() -> None:
    keys = list(dict.fromkeys(match_key(n) for n in generate_names(1500, seed=3)))
    assert max(len(b) for b in _blocks(keys)) > SMALL_BLOCK  # the large-block path is exercised
    expected = _reference_pairs(keys)
    assert len(expected) > 20
    assert fuzzy_pairs(keys) == expected


def test_equal_dict_keys_that_are_different_names_stay_different() -> None:
    # 1, 1.0 and True are one dict key; as payee names they must stay "1", "1.0" and "True".
    df = pd.DataFrame({"supplier_name": pd.Series([1, 1.0, True, "Acme Ltd", np.nan, 1], dtype=object)})
    out = classify_suppliers(df)
    assert out["canonical_name"].tolist()[:3] == ["1", "1.0", "True"]
    assert out["supplier_id"].iloc[0] == out["supplier_id"].iloc[5]
    assert out["sector"].iloc[3] == "private"


def test_benchmark_script_runs_every_stage() -> None:
    names = generate_names(400, seed=2)
    assert len(names) == len(set(names)) == 400
    results = run(300, seed=1, registers=None)
    assert set(results["stages"]) == {"match_keys", "resolution", "classification"}
    assert all(s["names_per_s"] > 0 and s["peak_rss_mb"] > 0 for s in results["stages"].values())


def test_compatible_only_keeps_every_pair_the_guard_accepts_in_order(monkeypatch) -> None:
    from normalise.suppliers import resolve as resolve_module

    monkeypatch.setattr(resolve_module, "HUGE_BLOCK", SMALL_BLOCK + 1)  # split every large block
    keys = list(dict.fromkeys(match_key(n) for n in generate_names(3000, seed=8)))
    accepted = [p for p in fuzzy_pairs(keys) if tokens_compatible(keys[p[0]], keys[p[1]])]
    pruned = fuzzy_pairs(keys, compatible_only=True)
    assert len(accepted) > 20
    assert [p for p in pruned if tokens_compatible(keys[p[0]], keys[p[1]])] == accepted
    assert any(
        resolve_module._shared_position_groups(sorted((keys[i] for i in b), key=len)) is not None
        for b in _blocks(keys)
        if len(b) > SMALL_BLOCK
    )  # the split path really ran


def test_council_context_screen_equals_the_per_row_loop(monkeypatch) -> None:
    """``_in_contexts`` decides only the rows its numpy screen lets through; every row must come out as
    the plain per-row loop (``_in_context`` then ``_by_expense_type`` on each row) has it."""
    from normalise.suppliers import classify as cls
    from normalise.suppliers import payer as payer_context

    def per_row(decisions, keys, texts, codes, council, expense, payer, cfg, overrides):
        final, final_code, take = [], [], []
        for code, c, e in zip(codes.tolist(), council[0].tolist(), expense[0].tolist(), strict=True):
            c, e = council[1][c], expense[1][e]
            dec = payer_context.in_context(
                decisions[code], keys[code], texts[code], c, payer.get(c), cfg, overrides
            )
            take.append(len(final))
            final.append(payer_context.by_expense_type(dec, e, cfg))
            final_code.append(code)
        return final, final_code, np.asarray(take, dtype=np.int64)

    names = [
        "Barnet Homes Ltd",
        "Camden Council",
        "London Borough of Camden",
        "Leeds City Council",
        "Transport for London",
        "Anyshire Fire and Rescue Service",
        "Barnet Cares Ltd",
        "Mr J Bloggs",
        "Redacted",
        "Environment Agency",
        "Camden Homes",
        "Leeds Living Ltd",
        None,
        "Acme Ltd",
    ]
    councils = ["barnet", "camden", "E08000035", "leeds", "", None, "E09000007", "tower-hamlets"]
    expenses = ["", "Transport Levy", "Consultancy", "Pension Contributions", None, "Precept"]
    rows = [
        (n, c, e)
        for i, n in enumerate(names)
        for j, c in enumerate(councils)
        for e in expenses[(i + j) % 3 :: 2]
    ]
    df = pd.DataFrame(rows, columns=["supplier_name", "council", "expense_type"], dtype=object)
    fast = classify_suppliers(df)
    monkeypatch.setattr(cls, "in_contexts", per_row)
    pd.testing.assert_frame_equal(fast, classify_suppliers(df))
    assert {"transfer", "council_company", "public"} <= set(fast["sector"])


def test_names_decided_once_per_case_fold_equal_each_decided_alone() -> None:
    """``intrinsic_decisions`` decides "ACME LTD" and "Acme Ltd" once; every name's decision is what
    deciding each name on its own gives, and a trading name is shown as that name writes it."""
    from dataclasses import replace

    from normalise.suppliers.candidates import TradingNames, _decide, intrinsic_decisions
    from normalise.suppliers.classify import rulebook
    from normalise.suppliers.lookup import Registers
    from normalise.suppliers.persons import trading_name_of_person

    extra = ["Mr J Smith T/A Smith Builders", "Foster Carers", "J Smith", "J Smith Ltd", "Camden Council"]
    names = [display_name(n) for n in AWKWARD + extra]
    names += [n.upper() for n in names] + [n.lower() for n in names]
    names = list(dict.fromkeys(names))
    n = len(names)
    cns = [None] * (n - 1) + ["01234567"]
    frame = pd.DataFrame({"name": names, "cn": cns, "ch": [None] * n, "red": [False] * n}, dtype=object)
    arr = pa.array(names, pa.string())
    texts = _plain_texts(names, arr)
    keys = _match_keys(names, arr, texts)
    book, regs = rulebook(), Registers(None, True)
    got = intrinsic_decisions(frame, arr, texts, keys, regs, book)
    cfg = book.rules["individuals"]
    alone, trading = _decide(
        names, cns, [None] * n, [False] * n, arr, texts, keys, regs, book, TradingNames(texts, cfg)
    )
    for i, (d, t) in enumerate(zip(alone, trading, strict=True)):
        shown = (
            trading_name_of_person(names[i], cfg)
            if t and d.sector != "individual" and not d.canonical
            else None
        )
        assert got[i] == (replace(d, canonical=shown) if shown else d), names[i]
    assert got[names.index("Mr J Smith T/A Smith Builders")].canonical == "Smith Builders"
    assert got[names.index("MR J SMITH T/A SMITH BUILDERS")].canonical == "SMITH BUILDERS"
