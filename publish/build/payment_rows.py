"""Canonical rows (Arrow) → rows of the published ``payments`` table (Arrow), a batch at a time.

Money becomes integer pence (sums of REAL pounds drift: 102444517.64000027), the April–March
financial year is derived once here, classifications are joined on by key (``councilspend/rowkeys.py``),
and individuals' names are replaced before anything is written. Whole columns at a time in
Arrow/numpy: a national build shapes 10 million rows, and per-row Python costs minutes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from councilspend import rowkeys as keys
from councilspend.council_rows import CouncilRows
from publish.build.enrich import WITHHELD_ID, WITHHELD_NAME
from publish.build.tables import columns

PAYMENT_COLUMNS = columns("payments")
#: An answer below this confidence (payee sector or expense group) is "low confidence": the pages
#: say how much of the external £ rests on such answers (docs/methodology.md).
LOW_CONFIDENCE = 0.6
#: Transfer kinds whose payees are mostly people (private landlords, claimants). A payee paid such a
#: transfer whose sector rests only on the classifier's default ("a trading name with no other cue")
#: is withheld like an individual: a landlord's name must not be published because no rule knew it.
PAID_TO_PEOPLE = pa.array(["housing_benefit"], pa.large_string())
DEFAULT_SECTOR_CONFIDENCE = 0.35
PASS_THROUGH = (
    "date_precision",
    "redaction_reason",
    "expense_type",
    "service_area",
    "directorate",
    "transaction_ref",
    "capital_revenue",
)


@dataclass
class Lookups:
    """Classifications by key, built once from the classify step's answers (``normalise/classes.py``)."""

    context: keys.ContextLookup  # each row's payee (sector, cue, id, ...) and service (division, cue)
    cues: keys.CueBook  # each context text's cue, as the classify step recorded it
    expense_keys: pa.Array
    expense_label: pa.Array
    expense_transfer: pa.Array
    expense_confidence: pa.Array

    @classmethod
    def build(cls, payees: CouncilRows, categories: pd.DataFrame, cues: keys.CueBook) -> Lookups:
        """``payees``: ``publish.build.enrich.read_classes``'s per-key rows (read a few councils at a
        time: tens of millions of keys at national scale); ``categories``/``cues``: ``read_classes``'s
        (key columns as text; ``cues`` the classify step's record of each context text's cue)."""
        svc = categories[categories["kind"] == "service_area"]
        exp = categories[categories["kind"] == "expense_type"]
        bases = exp[["value", "council", "code"]].assign(
            needs_context=exp["needs_context"] if "needs_context" in exp.columns else True
        )
        e = pa.Table.from_pandas(exp[keys.EXPENSE_KEY].astype(str), preserve_index=False)
        transfer = (
            exp["transfer_kind"] if "transfer_kind" in exp.columns else pd.Series(None, index=exp.index)
        )
        return cls(
            context=keys.ContextLookup(payees, svc, bases),
            cues=cues,
            expense_keys=_large(keys.joined(e)),
            expense_label=_strings(exp["label"]),
            expense_transfer=_strings(transfer.where(transfer.notna() & (transfer.astype(str) != ""), None)),
            expense_confidence=_floats(exp["confidence"]),
        )


def _large(a: pa.ChunkedArray) -> pa.Array:
    return a.combine_chunks().cast(pa.large_string())


def _floats(s: pd.Series) -> pa.Array:
    values = pd.to_numeric(s, errors="coerce").astype("float64")
    return pa.array(values.to_numpy(), pa.float64(), mask=values.isna().to_numpy())


def _strings(s: pd.Series) -> pa.Array:
    return pa.array(s.astype(object).where(s.notna(), None).tolist(), pa.large_string())


@dataclass
class Shaped:
    """A batch of published payments plus the per-row facts the summaries need but the table hides."""

    table: pa.Table  # exactly the ``payments`` columns, in order
    is_individual: np.ndarray  # bool per row
    month: pa.ChunkedArray  # "YYYY-MM" the row is dated in (a day or a month), null otherwise
    low_confidence: np.ndarray  # bool: payee sector or expense group decided with confidence < 0.6
    expense: pa.Table  # the expense key parts (rowkeys.EXPENSE_KEY)
    service: pa.Table  # the service key parts (rowkeys.SERVICE_KEY)


def shape(rows: pa.Table, lookups: Lookups) -> Shaped:
    """Published ``payments`` rows for a batch of canonical rows (ids from :func:`payment_ids`), in
    ascending ``id`` order.

    The id is the table's rowid and a hash, so rows in file order land at random places of the B-tree
    and FTS5 flushes its pending terms at every rowid lower than the last: sorted, the insert costs a
    third of the CPU and the side FTS5 index a quarter (1M rows). The rows are the same either way.
    """
    rows, ids = _in_id_order(rows)
    payees = lookups.context.window(rows)  # the payee keys of this batch's councils
    at = payees.positions(keys.supplier_parts(rows))
    individual = pc.fill_null(pc.take(payees.column("is_individual"), at), False)
    context = lookups.context.context(rows, at, payees=payees)
    expense, service = keys.expense_parts(rows, context, lookups.cues), keys.service_parts(rows)
    found = pc.index_in(keys.joined(expense), value_set=lookups.expense_keys)
    sector = context["payee_sector"]
    # A transfer by its expense (a levy to a transport body) or by its payee (HMRC): the classify
    # step gave every transfer a kind; a payee classed as a transfer whose key went missing still is one.
    transfer = pc.take(lookups.expense_transfer, found)
    transfer = pc.if_else(
        pc.and_(pc.is_null(transfer), pc.equal(sector, "transfer")),
        pa.scalar("other_transfer", pa.large_string()),
        transfer,
    )
    supplier_confidence = pc.take(payees.column("confidence").cast(pa.float64()), at)
    people = pc.fill_null(
        pc.and_(
            pc.is_in(transfer, value_set=PAID_TO_PEOPLE),
            pc.less_equal(supplier_confidence, DEFAULT_SECTOR_CONFIDENCE),
        ),
        False,
    )
    individual = pc.or_(individual, people)
    sector = pc.if_else(people, pa.scalar("individual", sector.type), sector)
    date = _dates(keys.column(rows, "payment_date"))
    period = _dates(keys.column(rows, "period_start"))
    when = pc.coalesce(date, period)
    pence = _pence(rows)
    raw_name = keys.column(rows, "supplier_name")
    shown = pc.take(payees.text("published_name", True), at)  # withheld / trading name, else null
    cols: dict[str, pa.ChunkedArray | pa.Array] = {
        "id": ids,
        "council_id": keys.column(rows, "council_id"),
        "payment_date": date.cast(pa.large_string()),
        "financial_year": financial_years(when),
        "amount_pence": pence,
        "amount_gbp": pa.array(
            np.round(pence.to_numpy(zero_copy_only=False) / 100, 2),
            pa.float64(),
            mask=pence.is_null().to_numpy(zero_copy_only=False),
        ),
        "supplier_id": pc.if_else(people, WITHHELD_ID, pc.take(payees.text("supplier_id", True), at)),
        "supplier_name": pc.if_else(individual, WITHHELD_NAME, pc.coalesce(shown, raw_name)),
        "sector": sector,
        "is_redacted": keys.flag(rows, "is_redacted").cast(pa.int64()),
        "sercop_group": pc.fill_null(pc.take(lookups.expense_label, found), "unknown"),
        "sercop_division": context["service_label"],
        "transfer_kind": transfer,
        # A person's name is scrubbed from descriptions wherever the published name replaced it.
        "description": _scrubbed(
            keys.column(rows, "description"), raw_name, pc.or_(individual, pc.is_valid(shown))
        ),
        "is_card": keys.flag(rows, "is_card").cast(pa.int64()),
        "source_sha256": keys.column(rows, "source_sha256"),
        "source_row": rows["source_row"],  # int64: councilspend.normalised casts every file to the contract
    }
    for name in PASS_THROUGH:
        cols[name] = keys.column(rows, name)
    table = pa.table({name: _blank_as_null(cols[name]) for name in PAYMENT_COLUMNS})
    confidence = pc.min_element_wise(supplier_confidence, pc.take(lookups.expense_confidence, found))
    low = pc.fill_null(pc.less(confidence, LOW_CONFIDENCE), True)
    return Shaped(
        table=table,
        is_individual=individual.to_numpy(zero_copy_only=False).astype(bool),
        low_confidence=low.to_numpy(zero_copy_only=False).astype(bool),
        month=dated_months(date, period, keys.column(rows, "date_precision")),
        expense=expense,
        service=service,
    )


def _in_id_order(rows: pa.Table) -> tuple[pa.Table, pa.Array]:
    """``rows`` sorted by their payment ids (:func:`payment_ids`), and the ids."""
    ids = payment_ids(
        keys.column(rows, "source_sha256"), rows["source_row"], keys.column(rows, "source_sheet")
    )
    order = pc.sort_indices(ids)
    return rows.take(order), pc.take(ids, order)


def payment_ids(
    sha256: pa.ChunkedArray, source_row: pa.ChunkedArray, sheet: pa.ChunkedArray | None = None
) -> pa.Array:
    """Each payment's id, from what it is rather than when it was built: splitmix64 of the source
    file's place (the first 64 bits of its sha256; of ``sha256("<sha256>/<sheet>")`` for a row from a named
    sheet or ZIP member, whose rows are numbered from 1 again) mixed with the row's line number there,
    keeping 63 bits.

    The same file and line give the same id in every build, so ``/councilspend/payments/<id>`` survives
    re-crawls that add files and re-publishes; a positive 64-bit integer stays the SQLite rowid that the
    FTS5 index points at. Two of 10 million payments share an id with probability ~5e-6 (the primary key
    would then refuse the build rather than merge them).
    """
    place = pc.binary_join_element_wise(
        pc.cast(sha256, pa.large_string()),
        pc.fill_null(pc.cast(sheet, pa.large_string()), "")
        if sheet is not None
        else pa.scalar("", pa.large_string()),
        pa.scalar("/", pa.large_string()),
    )
    place = place.combine_chunks() if isinstance(place, pa.ChunkedArray) else place
    places = pc.unique(place)
    bases = np.array([_place_base(p) for p in places.to_pylist()], dtype=np.uint64)
    which = pc.index_in(place, value_set=places).to_numpy(zero_copy_only=False)
    rows = pc.fill_null(source_row, 0).to_numpy(zero_copy_only=False).astype(np.uint64)
    with np.errstate(over="ignore"):
        z = bases[which] ^ (rows * np.uint64(0x9E3779B97F4A7C15))
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return pa.array((z >> np.uint64(1)).astype(np.int64))


def _place_base(place: str) -> int:
    """64 bits for "<sha256>/" (the file itself) or "<sha256>/<sheet>"."""
    sha, _, sheet = place.partition("/")
    digest = sha if not sheet else hashlib.sha256(place.encode("utf-8")).hexdigest()
    return int(digest[:16], 16)


def _blank_as_null(col: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Text that is empty or only spaces becomes null: a missing value is NULL in the database, the API
    and the downloads, never ``""`` (so ``directorate is null`` finds every row without one)."""
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return col
    # empty, or only (Unicode) spaces: tested in place, not on a trimmed copy of every text column
    blank = pc.or_(pc.equal(pc.binary_length(col), 0), pc.utf8_is_space(col))
    if not pc.any(blank).as_py():
        return col
    return pc.if_else(blank, pa.scalar(None, col.type), col)


def dated_months(
    date: pa.ChunkedArray, period_start: pa.ChunkedArray, precision: pa.ChunkedArray
) -> pa.ChunkedArray:
    """ "YYYY-MM" of each row dated to a day or to a month, null otherwise: the months a council-year
    covers are counted from its dated rows, never from file names or a quarter's span."""
    by_month = pc.and_(pc.is_null(date), pc.equal(pc.fill_null(precision, ""), "month"))
    when = pc.if_else(by_month, period_start, date)
    return pc.utf8_slice_codeunits(when.cast(pa.large_string()), 0, 7)


def _dates(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """ISO dates (the normaliser writes ``YYYY-MM-DD``; a time part is ignored), null when unparsable."""
    day = pc.utf8_slice_codeunits(col, 0, 10)
    return pc.strptime(day, format="%Y-%m-%d", unit="s", error_is_null=True).cast(pa.date32())


def financial_years(dates: pa.ChunkedArray) -> pa.ChunkedArray:
    """``2024-25`` for any date from 1 April 2024 to 31 March 2025; null when the date is unknown."""
    year = pc.year(dates).to_numpy(zero_copy_only=False)
    month = pc.month(dates).to_numpy(zero_copy_only=False)
    missing = np.isnan(year) if year.dtype.kind == "f" else np.zeros(len(year), dtype=bool)
    start = np.where(missing, 0, year).astype(np.int64) - (np.where(missing, 12, month) < 4)
    uniques, inverse = np.unique(start, return_inverse=True)
    labels = pa.array([f"{y}-{(y + 1) % 100:02d}" for y in uniques], pa.large_string())
    return pa.chunked_array([pc.take(labels, pa.array(inverse.astype(np.int32), mask=missing))])


def _pence(rows: pa.Table) -> pa.ChunkedArray:
    amount = (
        pc.cast(rows["amount"], pa.float64())
        if "amount" in rows.column_names
        else pa.chunked_array([pa.nulls(rows.num_rows, pa.float64())])
    )
    values = amount.to_numpy(zero_copy_only=False)
    missing = np.isnan(values)
    pence = np.round(np.where(missing, 0, values) * 100).astype(np.int64)
    return pa.chunked_array([pa.array(pence, pa.int64(), mask=missing)])


def _scrubbed(
    description: pa.ChunkedArray, name: pa.ChunkedArray, individual: pa.ChunkedArray
) -> pa.ChunkedArray:
    """Descriptions with an individual payee's name removed (case-insensitive); other rows as they are."""
    mask = individual.combine_chunks()
    if not pc.any(mask).as_py():
        return description
    where = pc.indices_nonzero(mask)
    scrubbed = [
        _scrub(d, n)
        for d, n in zip(
            pc.take(description, where).to_pylist(), pc.take(name, where).to_pylist(), strict=True
        )
    ]
    return pc.replace_with_mask(description.combine_chunks(), mask, pa.array(scrubbed, pa.large_string()))


def _scrub(description: object, name: object) -> object:
    if not isinstance(description, str) or not isinstance(name, str) or not name.strip():
        return description
    if name.strip().casefold() not in description.casefold():  # most don't: skip compiling a regex
        return description
    return re.sub(re.escape(name.strip()), "[name withheld]", description, flags=re.IGNORECASE)
