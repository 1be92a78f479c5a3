"""The vectorised schema check and frictionless agree; normalise output is valid for frictionless."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from frictionless import Resource, system

from councilspend.schemas import field_names, frictionless_schema
from normalise.pipeline import normalise_file
from normalise.validate import check_frame, to_text_frame, validate_rows

# file -> the GSS code the crawl would supply (the council whose site listed it)
SAMPLES = {
    "craven/payments.csv": "E07000163",
    "hyndburn/September-24.csv": "E07000120",
    "lambeth/2012-06-payments.csv": "E09000022",
    "lancashire-pcc/pcc-2018-19.xlsx": "E23000003",  # Lancashire police force area
    "windsor-and-maidenhead/file_with_extra_lines_at_top.csv": "E06000040",
    "oxford/expenditure-over-500-apr-jun-2014.csv": "E07000178",
}


def _frictionless(path: Path) -> list[tuple]:
    with system.use_context(trusted=True):
        report = Resource(path=str(path), schema=frictionless_schema("payment")).validate(limit_errors=10000)
    return sorted((r, f, t) for r, f, t in report.flatten(["rowNumber", "fieldName", "type"]))


def _ours(text: pd.DataFrame) -> list[tuple]:
    return sorted((e["rowNumber"], e["fieldName"], e["type"]) for e in check_frame(text))


@pytest.mark.parametrize("rel", SAMPLES)
def test_normalise_output_is_valid_for_frictionless(shared: Path, tmp_path: Path, rel: str) -> None:
    result = normalise_file(shared / "data" / "real" / rel, council_id=SAMPLES[rel])
    text = to_text_frame(result.rows)
    assert list(text.columns) == field_names("payment")
    out = tmp_path / "rows.csv"
    text.to_csv(out, index=False)
    assert _frictionless(out) == []
    assert validate_rows(result.rows) == []


@pytest.mark.parametrize("rel", list(SAMPLES)[:3])
def test_same_errors_as_frictionless_on_broken_rows(shared: Path, tmp_path: Path, rel: str) -> None:
    text = to_text_frame(normalise_file(shared / "data" / "real" / rel, council_id=SAMPLES[rel]).rows)
    breakages = {
        "amount": ["abc", "2000000000", "1,000"],
        "payment_date": ["2020-13-01", "31/01/2020"],
        "date_precision": ["", "week"],
        "is_card": ["yes"],
        "is_redacted": [""],
        "source_row": ["0", "1.5", ""],
        "source_sha256": ["xyz"],
        "capital_revenue": ["other"],
        "redaction_reason": ["because"],
        "council_id": ["", "unknown"],
        "irrecoverable_vat": ["n/a"],
        "period_end": ["2020-02-30"],
    }
    row = 0
    for field, values in breakages.items():
        for v in values:
            text.iloc[row * 7 % len(text), text.columns.get_loc(field)] = v
            row += 1
    out = tmp_path / "broken.csv"
    text.to_csv(out, index=False)
    ours = _ours(text)
    assert len(ours) >= 15
    assert ours == _frictionless(out)


def test_unidentified_council_is_a_schema_misfit_and_a_warning(shared: Path, tmp_path: Path) -> None:
    """Without --council and with no council in the content, the preamble, the file or the folder name,
    rows break the GSS pattern: said, with what was looked at, not hidden."""
    copy = tmp_path / "downloads" / "September-24.csv"
    copy.parent.mkdir()
    copy.write_bytes((shared / "data" / "real" / "hyndburn" / "September-24.csv").read_bytes())
    result = normalise_file(copy)
    assert {e["fieldName"] for e in result.report["schema_errors"]} == {"council_id"}
    first = result.report["problems"][0]
    assert first["severity"] == "warning" and first["code"] == "council_unknown"
    assert "--council" in first["message"] and "Body Name" in first["message"]
    assert "'September-24.csv'" in first["message"] and "'downloads'" in first["message"]


def test_council_from_the_folder_name(shared: Path) -> None:
    """The shared Hyndburn files have no council column; their folder names the council."""
    result = normalise_file(shared / "data" / "real" / "hyndburn" / "September-24.csv")
    assert result.report["council_id"] == "E07000120" and not result.report["schema_errors"]
    assert "folder" in result.report["council_evidence"]


def test_typed_rows_errors_found_as_on_their_csv(shared: Path) -> None:
    """The typed rows (as normalise_file returns them) are checked value by value on their distinct
    texts; every broken value is still found, on the same rows as when the CSV text is checked, and
    a value seen in an earlier file is judged the same way again."""
    rows = normalise_file(shared / "data" / "real" / "craven" / "payments.csv", council_id="E07000163").rows
    assert validate_rows(rows) == []
    broken = rows.copy()
    texts = {
        "payment_date": "2020-02-30",
        "period_end": "31/01/2020",
        "date_precision": "week",
        "amount_basis": "",
        "council_id": "unknown",
        "source_sha256": "xyz",
        "capital_revenue": "other",
        "redaction_reason": "because",
    }
    for i, (name, value) in enumerate(texts.items()):
        broken.iloc[3 * i + 1, broken.columns.get_loc(name)] = value
    broken.loc[2, "amount"] = float("nan")
    broken.loc[5, "amount"] = 2e9
    broken.loc[8, "source_row"] = 0
    for _ in range(2):  # the second pass answers from what the first learnt
        errors = check_frame(broken)
        assert {e["fieldName"] for e in errors} == {*texts, "amount", "source_row"}
        assert errors == check_frame(to_text_frame(broken))


def test_simple_patterns_match_as_pandas_matches_them() -> None:
    """The contracts' plain patterns are matched with Python's re, not a pandas call per file: the
    answers are pandas' own, newlines, other scripts' digits and spaces included."""
    from normalise.validate import _SIMPLE_PATTERN, _fullmatch

    values = ["E12345678", "E1234567", "e12345678", "E12345678\n", "", "E١٢٣٤٥٦٧٨", " E12345678", "a" * 64]
    for pattern in ("[A-Z][0-9]{8}", "[0-9a-f]{64}"):
        assert _SIMPLE_PATTERN.fullmatch(pattern)
        expected = pd.Series(values, dtype="str").str.fullmatch(pattern).tolist()
        assert _fullmatch(values, pattern).tolist() == expected
    assert not _SIMPLE_PATTERN.fullmatch("a|b") and not _SIMPLE_PATTERN.fullmatch(r"\d+")


def test_per_value_answers_survive_the_cache_being_emptied(monkeypatch):
    """A full cache is emptied before new answers go in: texts answered earlier in the same call are
    still answered (they used to be looked up again after the clear: KeyError)."""
    from normalise import validate

    monkeypatch.setattr(validate, "_KNOWN_LIMIT", 1)
    monkeypatch.setattr(validate, "_known", {})
    digits = lambda texts: [t.isdigit() for t in texts]  # noqa: E731
    assert validate._per_value("t", "r", ["1", "a"], digits).tolist() == [True, False]
    assert validate._per_value("t", "r", ["1", "a", "2", "b"], digits).tolist() == [True, False, True, False]
    assert len(validate._known) <= 4
