"""Classifying payee keys a slice at a time (national scale) gives exactly the whole-batch answers."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from councilspend import rowkeys as keys
from normalise.suppliers.classify import classify_in_slices, classify_suppliers

# Fictional payees: spellings of one firm spread over councils (the display name is the spelling most
# keys use, so the weights of the distinct names matter), a person, a council paying itself.
PAYEES = [
    ("E06000001", "ACME WIDGETS LIMITED"),
    ("E06000002", "Acme Widgets Ltd"),
    ("E06000003", "Acme Widgets Ltd"),
    ("E06000004", "Acme Widgets Ltd"),
    ("E06000001", "Mr J Bloggs"),
    ("E06000002", "Mr J Bloggs"),
    ("E06000001", "Hartlepool Borough Council"),
    ("E06000002", "Hartlepool Borough Council"),
    ("E06000003", "Zephyr Care Homes Ltd"),
    ("E06000004", "ZEPHYR CARE HOMES LTD"),
    ("E06000004", "Zephyr Care Homes Ltd"),
    ("E06000001", "Redacted"),
]


def _keys() -> pd.DataFrame:
    frame = pd.DataFrame(PAYEES, columns=["council", "supplier_name"])
    for column in keys.SUPPLIER_KEY[2:-1]:
        frame[column] = ""
    frame["is_redacted"] = ["true" if n == "Redacted" else "false" for _, n in PAYEES]
    return frame[keys.SUPPLIER_KEY]


def test_slices_equal_the_whole_batch(tmp_path) -> None:
    frame = _keys()
    path = tmp_path / "keys.arrow"
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as ipc:
        ipc.write_table(table)

    whole = classify_suppliers(frame.copy())
    parts = list(classify_in_slices(path, slice_rows=5))

    assert [len(p) for p in parts] == [5, 5, 2]
    sliced = pd.concat(parts, ignore_index=True)
    pd.testing.assert_frame_equal(sliced, whole, check_dtype=False)
    # one entity across councils, shown by the spelling most keys use
    acme = sliced[sliced["supplier_name"].str.lower().str.startswith("acme")]
    assert acme["supplier_id"].nunique() == 1
    assert set(acme["canonical_name"]) == {"Acme Widgets Ltd"}  # not the longer, rarer spelling


def test_no_keys_yields_nothing(tmp_path) -> None:
    path = tmp_path / "keys.arrow"
    table = pa.Table.from_pandas(_keys().iloc[:0], preserve_index=False)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as ipc:
        ipc.write_table(table)
    assert list(classify_in_slices(path)) == []
