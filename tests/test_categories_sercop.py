"""Held-out check of the vocabulary: SeRCOP's standard subjective lines, as written and abbreviated
mechanically, still map to their group (``normalise/categories/rules/sercop_lines.yml``).

Why: the rules are judged on councils whose ledgers we have not seen. A council's ledger writes the
same SeRCOP lines with dropped vowels, cut words and "&"; if a change to the vocabulary or the
rules stops reading them, these shares fall and the test says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

import pytest
import yaml

from normalise.categories.decide import decide_value
from normalise.categories.rules import normalise_value
from normalise.categories.taxonomy import LABELS
from normalise.categories.tokens import VOCABULARY, expand_token, vocabulary

LINES = VOCABULARY.parent / "sercop_lines.yml"
_VOWELS = set("aeiou")


@cache
def sercop_lines() -> list[tuple[str, str]]:
    data = yaml.safe_load(LINES.read_text(encoding="utf-8"))
    return [(line, group) for group, lines in data.items() for line in lines]


def _drop_vowels(word: str) -> str:
    return word[0] + "".join(c for c in word[1:] if c.lower() not in _VOWELS) if len(word) >= 5 else word


def _cut(n: int) -> Callable[[str], str]:
    return lambda word: word[:n] if len(word) > n + 1 else word


def _words(fn: Callable[[str], str], joins: bool = False) -> Callable[[str], str]:
    def form(line: str) -> str:
        text = re.sub(r"\band\b", "&", line) if joins else line
        return " ".join(fn(w) for w in text.split())

    return form


#: Abbreviation -> the share of lines that must still map to their group (measured, less a margin).
FORMS: dict[str, tuple[Callable[[str], str], float]] = {
    "as written": (lambda line: line, 0.94),
    "vowels dropped": (_words(_drop_vowels), 0.80),
    "cut to 4": (_words(_cut(4)), 0.60),
    "cut to 5": (_words(_cut(5)), 0.68),
    "cut to 6, & joins": (_words(_cut(6), joins=True), 0.80),
}


def test_lines_are_subjective_groups() -> None:
    groups = {group for _, group in sercop_lines()}
    assert groups <= set(LABELS["expense_type"]) - {"unknown"}
    assert len(sercop_lines()) >= 90


def test_every_word_of_a_line_is_in_the_vocabulary() -> None:
    vocab = vocabulary()
    missing = {
        t
        for line, _ in sercop_lines()
        for t in normalise_value(line).split()
        if t not in vocab["known"] and t not in vocab["short_forms"]
    }
    assert not missing, f"add to rules/vocabulary.yml: {sorted(missing)}"


@pytest.mark.parametrize("form", list(FORMS))
def test_abbreviated_lines_keep_their_group(form: str) -> None:
    fn, floor = FORMS[form]
    lines = sercop_lines()
    wrong = [(fn(line), group) for line, group in lines if decide_value("expense_type", fn(line))[0] != group]
    share = 1 - len(wrong) / len(lines)
    assert share >= floor, f"{form}: {share:.1%} right; wrong: {wrong[:15]}"


def test_abbreviated_lines_are_never_confidently_wrong_as_written() -> None:
    """A standard line as written that maps elsewhere must not do so with high confidence."""
    sure_wrong = [
        (line, group, decided)
        for line, group in sercop_lines()
        if (decided := decide_value("expense_type", line))[0] not in (group, "unknown") and decided[1] >= 0.9
    ]
    assert not sure_wrong


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("highmaint", "highways maintenance"),
        ("repairsmaint", "repairs maintenance"),
        ("agencystaff", "agency staff"),
        ("supplyserv", "supply services"),
    ],
)
def test_fused_tokens_split_into_two_vocabulary_words(token: str, expected: str) -> None:
    assert expand_token(token) == (expected, "fused")


@pytest.mark.parametrize("token", ["stationary", "maintenance", "zzzzyyyy", "abcdefgh", "contmaint"])
def test_words_and_unreadable_tokens_are_not_split(token: str) -> None:
    assert expand_token(token)[1] != "fused"


def test_fused_group_heading_reads() -> None:
    assert decide_value("expense_type", "AGENCYSTAFF")[0] == "employees"
