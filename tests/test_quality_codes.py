"""Problem codes are defined once (councilspend/problem_codes.yml), every code the normaliser, the
checker and the build's quality step emits is in it, and repeated problems are grouped with plurals."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from councilspend.cli import main
from councilspend.problems import group_problems, names_line, plural, problem_codes
from publish.build.quality import problems_list

REPO = Path(__file__).resolve().parents[1]
EMITTERS = ["normalise/report.py", "normalise/check.py", "normalise/pipeline.py", "publish/build/quality.py"]


def _literal_codes(path: Path) -> set[str]:
    """Codes written as literals: {"code": "x"} dicts, and report.py's add(severity, rule, message, code)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values, strict=True):
                if isinstance(k, ast.Constant) and k.value == "code" and isinstance(v, ast.Constant):
                    found.add(v.value)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "add" and len(node.args) >= 4:
            if isinstance(node.args[3], ast.Constant):
                found.add(node.args[3].value)
    return found


def test_codes_defined_once_with_a_meaning() -> None:
    entries = yaml.safe_load((REPO / "councilspend/problem_codes.yml").read_text())["codes"]
    codes = [e["code"] for e in entries]
    assert len(codes) == len(set(codes))
    for e in entries:
        assert set(e) == {"code", "severity", "meaning"}, e  # an unquoted comma in a flow mapping splits it
        assert e["severity"] in ("error", "warning", "info"), e
        assert e["meaning"] and "\n" not in e["meaning"], e


def test_every_emitted_code_is_defined() -> None:
    emitted = set().union(*(_literal_codes(REPO / p) for p in EMITTERS))
    fields = yaml.safe_load((REPO / "normalise/code2015.yml").read_text())["fields"]
    emitted |= {f"missing_{f['key']}" for f in fields}  # report.py's f"missing_{item['key']}"
    assert len(emitted) > 15
    assert emitted <= set(problem_codes()), emitted - set(problem_codes())


def test_documented_in_normalise_md() -> None:
    doc = (REPO / "docs/normalise.md").read_text()
    missing = [c for c in problem_codes() if f"`{c}`" not in doc]
    assert not missing, missing


def test_checked_files_carry_known_codes_and_singulars(tmp_path: Path) -> None:
    p = tmp_path / "one.csv"
    p.write_text(
        "Supplier Name,Net Amount,Payment Date\nACME LTD,12.00,01/02/2026\nBETA LTD,n/a,01/02/2026\n"
    )
    result = CliRunner().invoke(main, ["check", "--json", str(p)])
    report = json.loads(result.output)
    assert report["problems"] and all(x["code"] in problem_codes() for x in report["problems"])
    messages = " ".join(x["message"] for x in report["problems"])
    assert "1 row has no readable amount" in messages
    assert "1 rows" not in messages and "1 lines" not in messages
    text = CliRunner().invoke(main, ["check", str(p)]).output
    assert "code: amount_unreadable" in text and "code: missing_department" in text


def test_plurals_and_file_lists() -> None:
    assert (plural(1, "row"), plural(2, "row"), plural(1234, "file")) == ("1 row", "2 rows", "1,234 files")
    assert names_line(["a", "b", "c", "d"]) == "a, b, c, d"
    assert names_line([f"f{i}.csv" for i in range(12)]) == "f0.csv, f1.csv, f2.csv and 9 more"


def test_repeated_problems_group_into_one_line_per_code() -> None:
    vat = {"severity": "warning", "code": "missing_irrecoverable_vat", "message": "no column for VAT (...)"}
    items = [(f"{m}.csv", vat) for m in "abcdefghijkl"]
    items += [
        ("a.csv", {"severity": "error", "code": "amount_unreadable", "message": "2 rows ...", "rows": 2})
    ]
    items += [
        ("b.csv", {"severity": "error", "code": "amount_unreadable", "message": "1 row ...", "rows": 1})
    ]
    groups = group_problems(items)
    assert [g["code"] for g in groups] == ["amount_unreadable", "missing_irrecoverable_vat"]  # errors first
    assert groups[0]["line"] == "rows with no readable amount — 3 rows in 2 files: a.csv, b.csv"
    assert groups[1]["line"] == (
        "no column for the irrecoverable VAT — 12 files: a.csv, b.csv, c.csv and 9 more"
    )


def test_quality_step_gives_every_problem_a_code() -> None:
    legacy = problems_list(json.dumps(["no column for the merchant category"]), individual_rows=1)
    assert [p["code"] for p in legacy] == ["other", "individuals_named"]
    assert legacy[1]["message"].startswith("1 row names a private individual")
    assert problems_list("", 0) == []
