"""The slice path reads its keys file a column and a slice at a time: same answers, whatever the file's
record batches (pass 1 writes the keys a council at a time)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from councilspend import rowkeys as keys
from normalise.suppliers.classify import _identities, classify_in_slices, classify_suppliers

PAYEES = [
    ("E06000001", "ACME WIDGETS LIMITED", "GB123456789"),
    ("E06000001", "Mr J Bloggs", ""),
    ("E06000001", "Hartlepool Borough Council", ""),
    ("E06000002", "Acme Widgets Ltd", ""),
    ("E06000002", "Acme Widgets Ltd", "GB123456789"),
    ("E06000002", "Mr J Bloggs", ""),
    ("E06000003", "Zephyr Care Homes Ltd", ""),
    ("E06000003", "ACME WIDGETS LIMITED", "GB123456789"),
    ("E06000004", "ZEPHYR CARE HOMES LTD", ""),
    ("E06000004", "Acme Widgets Ltd", ""),
    ("E06000004", "Redacted", ""),
]


def _keys() -> pd.DataFrame:
    frame = pd.DataFrame(PAYEES, columns=["council", "supplier_name", "supplier_vat_number"])
    frame["supplier_company_number"] = ""
    frame["supplier_charity_number"] = ""
    frame["is_redacted"] = ["true" if n == "Redacted" else "false" for _, n, _ in PAYEES]
    return frame[keys.SUPPLIER_KEY]


def _write_by_council(frame: pd.DataFrame, path) -> None:
    """One record batch per council, and an empty one, as a file written council by council may have."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    schema = pa.schema([(c, pa.large_string()) for c in table.column_names])
    table = table.cast(schema)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema) as ipc:
        ipc.write_batch(pa.RecordBatch.from_pylist([], schema=schema))
        for council in dict.fromkeys(frame["council"]):
            ipc.write_table(table.filter(pc.equal(table["council"], council)))


def test_slices_across_record_batches_equal_the_whole_batch(tmp_path) -> None:
    frame = _keys()
    path = tmp_path / "keys.arrow"
    _write_by_council(frame, path)

    whole = classify_suppliers(frame.copy())
    sliced = pd.concat(list(classify_in_slices(path, slice_rows=4)), ignore_index=True)

    pd.testing.assert_frame_equal(sliced, whole, check_dtype=False)


def test_identities_are_numbered_by_first_appearance(tmp_path) -> None:
    frame = _keys()
    path = tmp_path / "keys.arrow"
    _write_by_council(frame, path)

    row_identity, weights, identities = _identities(path)

    key = frame.drop(columns="council").astype(str).agg("\x1f".join, axis=1)
    expected, uniques = pd.factorize(key)
    np.testing.assert_array_equal(row_identity, expected)
    np.testing.assert_array_equal(weights, np.bincount(expected))
    assert identities["supplier_name"].tolist() == [u.split("\x1f")[0] for u in uniques]
