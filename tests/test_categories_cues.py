"""Files without an expense column: the description or cost centre decides at publish through its
cue (``context.text_cue``), and the cue decides what the whole text decides with few keys."""

from __future__ import annotations

import pyarrow as pa

from councilspend import rowkeys
from normalise.categories.context import _from_text, text_cue
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


def test_cue_decides_what_the_whole_text_decides() -> None:
    for text in TEXTS:
        whole = _from_text("expense_type", normalise_value(text), "context", 1.0, 1.0, 0.5)
        cue = text_cue(text)
        if whole is None:
            assert cue == ""
        else:
            assert _from_text("expense_type", cue, "context", 1.0, 1.0, 0.5)[0] == whole[0]


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
    cues = rowkeys.context_cues(table, base["value"], need).to_pylist()
    assert cues == [text_cue("Postages North"), "", ""]
    assert cues[0] and cues[0] != normalise_value("Postages North")
