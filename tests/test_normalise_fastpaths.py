"""The normaliser's fast paths give exactly what the plain (slower) pandas way gives.

Each shortcut taken for speed (docs/normalise.md, "Performance") is checked here against the
straightforward computation it replaced, so a later change cannot trade correctness for speed.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from python_calamine import CalamineWorkbook

from normalise import manifest as manifest_mod
from normalise.dates import RESULT_COLUMNS, parse_dates, parse_one
from normalise.pipeline import empty_rows, normalise_file
from normalise.readers import _cell_text, _separators_per_line, read_workbook
from normalise.report import duplicate_rows
from normalise.rows import const_text, filled, text_array


def _frame(records: list[tuple]) -> pd.DataFrame:
    """Canonical rows with the varied fields given (amount, supplier, ref, description)."""
    rows = empty_rows()
    data = {name: [""] * len(records) for name in rows.columns}
    data.update(
        amount=[r[0] for r in records],
        irrecoverable_vat=[np.nan] * len(records),
        supplier_name=[r[1] for r in records],
        transaction_ref=[r[2] for r in records],
        description=[r[3] for r in records],
        is_redacted=[False] * len(records),
        is_card=[False] * len(records),
        source_row=list(range(2, len(records) + 2)),
    )
    return pd.DataFrame(data).astype(rows.dtypes.to_dict())


def test_duplicate_rows_matches_pandas_duplicated() -> None:
    rows = _frame(
        [
            (10.0, "A LTD", "1", "x"),
            (10.0, "A LTD", "1", "x"),  # whole duplicate (another source row)
            (10.0, "A LTD", "1", "y"),  # same key, other description: not a duplicate
            (10.0, "A LTD", "1", "x"),  # a third copy
            (20.0, "B LTD", "2", "x"),
            (10.0, "B LTD", "1", "x"),
        ]
    )
    expected = int(rows.drop(columns=["source_row"]).duplicated().sum())
    assert expected == 2
    assert duplicate_rows(rows) == expected
    assert duplicate_rows(rows.iloc[[0, 2, 4]]) == 0
    assert duplicate_rows(empty_rows()) == 0


def test_const_text_is_an_ordinary_text_column() -> None:
    s = const_text("£ Café", 3)
    assert s.tolist() == ["£ Café"] * 3
    assert s.dtype == pd.Series(["x"]).dtype
    assert const_text("", 2).tolist() == ["", ""]
    assert len(const_text("abc", 0)) == 0


def test_filled_marks_non_empty_cells() -> None:
    df = pd.DataFrame({0: pd.array(["a", "", "b"], dtype="str"), 1: pd.array(["", "", "c"], dtype="str")})
    assert filled(df).tolist() == [[True, False], [False, False], [True, True]]


def test_workbook_cells_read_column_by_column_keep_every_value() -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    rows = [
        ["Payment Date", "Amount", "Supplier", "Paid"],
        [dt.datetime(2024, 5, 1), 1234.5, "ACME LTD", True],
        [dt.date(2024, 5, 2), 2016.2199999999998, None],  # ragged: shorter row
        ["03/05/2024", 500, "HYPERLINK x", "no"],
    ]
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    (table,) = read_workbook(buf.getvalue())
    # the plain way: every typed cell through _cell_text, short rows padded
    raw = CalamineWorkbook.from_filelike(io.BytesIO(buf.getvalue())).get_sheet_by_index(0)
    raw_rows = raw.to_python(skip_empty_area=False)
    width = max(len(r) for r in raw_rows)
    expected = [[_cell_text(v) for v in r] + [""] * (width - len(r)) for r in raw_rows]
    got = table.cells.values.tolist()
    assert got == expected
    assert got[0] == ["Payment Date", "Amount", "Supplier", "Paid"]
    assert got[1][1:] == ["1234.5", "ACME LTD", "true"]
    assert got[2][1:] == ["2016.22", "", ""]
    assert got[3] == ["03/05/2024", "500", "HYPERLINK x", "no"]
    assert table.cells.dtypes.unique().tolist() == [pd.Series(["x"]).dtype]


def test_rows_parquet_reads_back_like_pandas_own_writer(tmp_path: Path) -> None:
    csv = tmp_path / "pay.csv"
    csv.write_text(
        "Payment Date,Supplier Name,Amount,Expense Type,Transaction Number\n"
        '01/04/2024,ACME LTD,"1,234.50",Stationery,T1\n'
        "02/04/2024,REDACTED,99.99,Care,T2\n",
        encoding="utf-8",
    )
    first = normalise_file(csv).rows
    csv.write_text("Payment Date,Supplier Name,Amount\n03/04/2024,Other Ltd,-5\n", encoding="utf-8")
    second = normalise_file(csv).rows
    # the second write of the same dtypes takes the cached-schema path
    for rows in (first, second, empty_rows()):
        ours, theirs = tmp_path / "ours.parquet", tmp_path / "theirs.parquet"
        manifest_mod.write_rows(rows, ours)
        rows.to_parquet(theirs, index=False)
        a, b = pd.read_parquet(ours), pd.read_parquet(theirs)
        pd.testing.assert_frame_equal(a, b)
        pd.testing.assert_frame_equal(a, rows)
        assert pq.read_schema(ours).equals(pq.read_schema(theirs), check_metadata=True)
        # in Arrow too: a missing number is null on either path, never a NaN value (pandas reads both as
        # NaN; the classify step and the build read Arrow, and the Dask run must give the same bytes)
        assert pq.read_table(ours).equals(pq.read_table(theirs))


def test_rows_parquet_bytes_do_not_depend_on_what_was_written_before(tmp_path: Path) -> None:
    """The first file a process writes converts its frame with pandas; later ones reuse its schema. Both
    give the same bytes, so a file normalised on any worker, in any order, is the same file."""
    csv = tmp_path / "pay.csv"
    csv.write_text("Payment Date,Supplier Name,Amount\n03/04/2024,Other Ltd,-5\n", encoding="utf-8")
    rows = normalise_file(csv).rows  # no VAT column: irrecoverable_vat is all missing
    assert rows["irrecoverable_vat"].isna().all()
    manifest_mod._SCHEMAS.clear()
    manifest_mod.write_rows(rows, tmp_path / "first.parquet")
    manifest_mod.write_rows(rows, tmp_path / "cached.parquet")
    assert (tmp_path / "first.parquet").read_bytes() == (tmp_path / "cached.parquet").read_bytes()
    assert pq.read_table(tmp_path / "cached.parquet")["irrecoverable_vat"].null_count == len(rows)


def test_overlap_check_reads_only_files_whose_periods_meet(tmp_path: Path, monkeypatch) -> None:
    """Month files of one council do not meet: their fingerprints are never loaded."""
    read: list[str] = []
    real = manifest_mod._row_keys

    def counting(path: Path) -> np.ndarray:
        read.append(path.stem)
        return real(path)

    monkeypatch.setattr(manifest_mod, "_row_keys", counting)
    (tmp_path / "rows").mkdir()
    same = _frame([(10.0, "A LTD", "1", "x"), (20.0, "B LTD", "2", "y")])
    files = []
    for sha, start, end in [("jan", "2024-01-01", "2024-01-31"), ("feb", "2024-02-01", "2024-02-29")]:
        manifest_mod.write_rows(same, tmp_path / "rows" / f"{sha}.parquet")
        files.append(
            {
                "sha256": sha,
                "council_id": "E1",
                "status": "counted",
                "rows_kept": 2,
                "file_name": sha,
                "period_start": start,
                "period_end": end,
                "fetched_at": "",
            }
        )
    manifest_mod.mark_overlaps(files, tmp_path)
    assert read == []
    assert [f["status"] for f in files] == ["counted", "counted"]
    # a quarter file that meets both: now the rows are compared, and the months are contained
    manifest_mod.write_rows(same, tmp_path / "rows" / "q1.parquet")
    files.append(
        {
            "sha256": "q1",
            "council_id": "E1",
            "status": "counted",
            "rows_kept": 6,
            "file_name": "q1",
            "period_start": "2024-01-01",
            "period_end": "2024-03-31",
            "fetched_at": "",
        }
    )
    manifest_mod.mark_overlaps(files, tmp_path)
    assert sorted(set(read)) == ["feb", "jan", "q1"]
    by_sha = {f["sha256"]: f["status"] for f in files}
    assert by_sha == {"q1": "counted", "jan": "overlap", "feb": "overlap"}


def test_text_array_equals_pandas_conversion() -> None:
    for arr in (
        pa.array(["a", None, "£"], type=pa.large_string()),
        pa.array(["a", None, "£"], type=pa.string()),
    ):
        ours, theirs = pd.Series(text_array(arr)), pd.Series(pd.array(arr, dtype="str"))
        pd.testing.assert_series_equal(ours, theirs)
        assert ours.dtype == pd.Series(["x"]).dtype


def test_parse_dates_gives_each_row_its_own_parse() -> None:
    values = ["01/02/2024", "", "Sep 2014", "not a date", "01/02/2024", "44000", "00:00:00", "2024-01-02"]
    out = parse_dates(pd.Series(values, dtype="str", index=range(10, 18)))
    assert out.index.tolist() == list(range(10, 18))
    for i, v in enumerate(values):
        assert tuple(out.iloc[i]) == parse_one(v)
    empty = parse_dates(pd.Series([], dtype="str"))
    assert list(empty.columns) == RESULT_COLUMNS
    assert empty["date_precision"].dtype == empty["date_status"].dtype == pd.Series(["x"]).dtype


def test_separators_counted_per_line_like_splitting_the_text() -> None:
    texts = [
        "a,b,c\n£1,234,é\n\n,,,,\n",
        "a;b\nc;d;e",
        "only one line",
        "x\ty\n\n\nz\t\t\tq\n",
        "Σ,€,\u2020\n" * 3,
    ]
    for text in texts:
        sep = ";" if ";" in text else ("\t" if "\t" in text else ",")
        lines = text.split("\n")
        if len(lines) > 1 and lines[-1] == "":
            lines.pop()
        n_lines, per_line = _separators_per_line(text.encode("utf-8"), sep)
        assert n_lines == len(lines)
        assert per_line.tolist() == [ln.count(sep) for ln in lines]


def test_plain_amounts_read_by_the_short_regex_as_by_the_full_parse() -> None:
    """Plain decimals (with a £ and thousands commas at most) skip the full clean-up and parse; the
    pence and the verdicts are the full parse's, cell for cell, in a column mixing both kinds."""
    import random

    from normalise.amounts import _parse_full, parse_pence

    rng = random.Random(5)
    parts = [
        "-",
        "+",
        "1",
        "0",
        "9",
        "12",
        ".",
        ",",
        "£",
        " ",
        "(",
        ")",
        "CR",
        "\u2212",
        "5",
        "00",
        "1234567890123",
    ]
    values = ["".join(rng.choice(parts) for _ in range(rng.randrange(0, 7))) for _ in range(20000)]
    values += ["1", "-1", "1.", "0.005", "-0.005", "2016.2199999999998", "1234567890123", "12345678901234"]
    values += ["N/A", "", "£", "nil", "NaN", "Infinity", "١٢", "١٢.٥", "x9", "ÿ"]
    values += [
        "£1,234.56",
        "-£1,234",
        "1,234,567,890.5",
        "1,234,567,890,123",
        "12,34",
        "1,2345",
        "-0",
        "007.50",
    ]
    pence, ok = parse_pence(pd.Series(values, dtype="str"))
    full_pence, full_ok = _parse_full(pa.array(values, type=pa.large_string()))
    assert ok.tolist() == full_ok.tolist() and pence.tolist() == full_pence.tolist()
    assert ok.sum() > 1000


def test_odd_date_cells_found_as_pandas_str_match_finds_them() -> None:
    """The fused-cell pre-filter tests each distinct date text with Python's re: the same answers
    as pandas' ``str.match`` over the column, for ASCII text, other scripts' digits and newlines."""
    from normalise.table import _odd_dates

    texts = ["01/02/2020", "2020-01-02", "", "abc", "12/01/2020\n", "١٢/٠١/٢٠٢٠", "01/02/2020 12:00:00 AM"]
    texts += ["x" * 25, "Jan-20", "£12", "12/01/2020\n\n"]
    for values in (texts, [t for t in texts if t.isascii() and "\n" not in t]):
        s = pd.Series(values * 3, dtype="str")
        odd = ~s.str.match(r"^[\d/\-. :A-Za-z]*$") | (s.str.len() > 19)
        got_odd, got_empty = _odd_dates(s)
        assert got_odd.tolist() == odd.tolist() and got_empty.tolist() == (s == "").tolist()
