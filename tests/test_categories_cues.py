"""Files without an expense column: the description or cost centre decides at publish through its
cue (``context.text_cue``), and the cue decides what the whole text decides with few keys."""

from __future__ import annotations

import pyarrow as pa
import pytest

from councilspend import rowkeys
from normalise.categories.context import contextual, text_cue, text_cues
from normalise.categories.rules import normalise_value

TEXTS = [
    "Residential Care OP",
    "Minor Works Contracts",
    "In-House Foster Carer Costs",
    "Spot Hires",
    "Responsive Maintenance",
    "Postages and Stationery",
    "Agency Staff Costs",
    "Nothing Here",
]


def _decide(context: str) -> str:
    return contextual("expense_type", "", ("unknown", 1.0, "empty", "no value"), context=context)[0][0]


def test_cue_decides_what_the_whole_text_decides() -> None:
    for text in TEXTS:
        cue = text_cue(text)
        assert _decide(cue) == _decide(text), text
        assert (cue == "") == (_decide(text) == "unknown"), text


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Admin and Other Buildings", "premises"),
        ("Minor Works Contracts", "premises"),
        ("Spot Hires", "transport"),
        ("SITA Landfill Contract", "third_party_payments"),
        ("Municipal Elections", "supplies_services"),
    ],
)
def test_context_words_read_a_cost_centre_at_low_confidence(text: str, label: str) -> None:
    decided = contextual("expense_type", "", ("unknown", 1.0, "empty", "no value"), context=text)[0]
    assert decided[0] == label
    assert decided[1] <= 0.5
    assert decided[2].startswith("context:")


def test_context_words_never_replace_a_confident_account() -> None:
    sure = ("supplies_services", 0.8, "keyword:supplies_items", "'postage'")
    assert contextual("expense_type", "Postage", sure, context="Minor Works")[0] == sure


def test_cues_are_fewer_than_texts() -> None:
    texts = [
        f"{w} {n}" for w in ("Postage", "Agency Staff", "Vehicle Hire") for n in ("North", "South", "Depot")
    ]
    assert len({text_cue(t) for t in texts}) == 3


def test_publish_key_carries_the_cue_only_where_the_account_says_little() -> None:
    table = pa.table(
        {
            "council_id": ["x", "x", "x"],
            "expense_type": ["", "Electricity", ""],
            "cost_centre": ["Postages North", "Postages North", "Unreadable"],
        }
    )
    need = pa.chunked_array([pa.array([True, False, True])])
    base = rowkeys.base_parts(table)
    book = rowkeys.CueBook(text_cues)
    cues = rowkeys.context_cues(table, base["value"], need, book).to_pylist()
    assert cues == [text_cue("Postages North"), "", ""]
    assert cues[0] and cues[0] != normalise_value("Postages North")
    # The build answers from the classify step's record alone, and gets the same cues.
    record = rowkeys.CueBook.from_record(list(book.seen), list(book.seen.values()))
    assert rowkeys.context_cues(table, base["value"], need, record).to_pylist() == cues
