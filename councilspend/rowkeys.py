"""Join keys of canonical rows as Arrow strings: what pass 1 classifies and pass 2 joins back.

Both passes build their keys with these functions, so a row always finds the classification of
its own key. A key is its parts joined by an ASCII unit separator; looking it up is one C++ hash
probe (``pyarrow.compute.index_in``), where a pandas merge on six text columns cost ~10 µs a row,
most of a national build.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from councilspend.council_rows import CouncilRows

#: The canonical columns whose first filled value is classified as the expense type / the service, in
#: order of preference (``normalise.categories.row_values`` reads the same lists).
EXPENSE_COLUMNS = ("expense_type", "procurement_category", "description")
SERVICE_COLUMNS = ("service_area", "directorate", "cost_centre")

#: Distinct context texts -> their cues (same length, same order).
CueFunction = Callable[[list[str]], list[str]]

SEP = "\x1f"
#: Payee key parts, named as ``normalise.suppliers.classify_suppliers`` reads them.
SUPPLIER_KEY = [
    "council",
    "supplier_name",
    "supplier_company_number",
    "supplier_charity_number",
    "supplier_vat_number",
    "is_redacted",
]
#: What an expense answer depends on besides its words: the row's capital/revenue flag, its payee's
#: sector and the payee-name words the rules read (``payee_cue``), and its service's division when a
#: service prior reads it plus the service words the transfer rules read (``service_cue``). Each is
#: a handful of values, so expense keys stay few (a payee's name or a description would not).
#: ``context`` is the cue of the row's description or cost centre (``text_cue``: the words a rule
#: read in it), only where the account says nothing or little: a file with no expense column.
EXPENSE_CONTEXT = [
    "capital_revenue",
    "payee_sector",
    "payee_cue",
    "service_division",
    "service_cue",
    "context",
]
#: The columns whose first filled value, other than the expense value itself, is the row's context
#: text (the same ladder as ``normalise.categories.row_values.category_input``).
CONTEXT_LADDER = ("description", "cost_centre", "service_area", "directorate")
CATEGORY_KEY = ["kind", "value", "council", "code", *EXPENSE_CONTEXT]
#: Payee sectors for which a confident account's answer can still change (transfers needing a public
#: payee, service words with a public payee, a transfer payee): ``public_sectors`` of
#: normalise/categories/rules/transfers.yml (a test keeps them equal).
PUBLIC_SECTORS = ("public", "transfer")
#: The expense key's parts in a row (CATEGORY_KEY less ``kind``) and the service key's.
EXPENSE_KEY = ["value", "council", "code", *EXPENSE_CONTEXT]
SERVICE_KEY = ["value", "council"]
#: Canonical columns the keys are made from (what pass 1 reads).
SOURCE_COLUMNS = [
    "council_id",
    "supplier_name",
    "supplier_company_number",
    "supplier_charity_number",
    "supplier_vat_number",
    "is_redacted",
    "expense_code",
    "capital_revenue",
    *EXPENSE_COLUMNS,
    *SERVICE_COLUMNS,
]  # CONTEXT_LADDER is within these


def column(table: pa.Table, name: str) -> pa.ChunkedArray:
    """A column as large strings, nulls kept; an absent column is all null."""
    if name not in table.column_names:
        return pa.chunked_array([pa.nulls(table.num_rows, pa.large_string())])
    col = table[name]
    return col if col.type == pa.large_string() else col.cast(pa.large_string())


def text(table: pa.Table, name: str) -> pa.ChunkedArray:
    """A column as large strings with missing values as "" (so that it can be part of a key)."""
    return pc.fill_null(column(table, name), "")


def flag(table: pa.Table, name: str) -> pa.ChunkedArray:
    """A boolean column with missing values as False."""
    if name not in table.column_names:
        return pa.chunked_array([pa.array([False] * table.num_rows, pa.bool_())])
    col = table[name]
    if col.type != pa.bool_():
        col = col.cast(pa.bool_())
    return pc.fill_null(col, False)


def first_filled(table: pa.Table, names: tuple[str, ...]) -> pa.ChunkedArray:
    """Per row, the first of ``names`` that is not blank, trimmed ("" if none).

    The same rule as ``normalise.categories.row_values.first_filled``: files without an expense
    type still say what was bought in their procurement category or description.
    """
    out = None
    for name in reversed(names):
        if name not in table.column_names:
            continue
        value = pc.utf8_trim_whitespace(text(table, name))
        out = value if out is None else pc.if_else(pc.equal(value, ""), out, value)
    if out is None:
        return pa.chunked_array([pa.array([""] * table.num_rows, pa.large_string())])
    return out


def supplier_parts(table: pa.Table) -> pa.Table:
    """The payee key parts of every row (columns :data:`SUPPLIER_KEY`)."""
    redacted = pc.if_else(flag(table, "is_redacted"), "true", "false").cast(pa.large_string())
    return pa.table(
        {
            "council": text(table, "council_id"),
            "supplier_name": text(table, "supplier_name"),
            "supplier_company_number": text(table, "supplier_company_number"),
            "supplier_charity_number": text(table, "supplier_charity_number"),
            "supplier_vat_number": text(table, "supplier_vat_number"),
            "is_redacted": redacted,
        }
    )


def service_parts(table: pa.Table) -> pa.Table:
    """The service key parts of every row (columns :data:`SERVICE_KEY`)."""
    return pa.table({"value": first_filled(table, SERVICE_COLUMNS), "council": text(table, "council_id")})


def base_parts(table: pa.Table) -> pa.Table:
    """The words of an expense (value, council, code): what its value-only answer depends on."""
    return pa.table(
        {
            "value": first_filled(table, EXPENSE_COLUMNS),
            "council": text(table, "council_id"),
            "code": text(table, "expense_code"),
        }
    )


def expense_parts(
    table: pa.Table, context: dict[str, pa.ChunkedArray | pa.Array], cue_of: CueFunction
) -> pa.Table:
    """The expense key parts of every row (columns :data:`EXPENSE_KEY`); ``context`` holds the
    looked-up ``payee_sector``, ``payee_cue``, ``payee_transfer_cue``, ``service_division``,
    ``service_cue`` and ``needs_context`` of each row (:meth:`ContextLookup.context`).

    Only what can change the answer is kept, so keys stay few: when the account alone answers with
    confidence (``needs_context`` false) only a transfer or the capital flag can change it, so the
    payee's sector is kept only when public or a transfer payee, its name only for transfer words,
    the service's words only with such a payee, and the service division not at all.
    """
    return expense_parts_with_sector(
        expense_parts_before_sector(table, context, cue_of), _text_of(context["payee_sector"])
    )


def expense_parts_before_sector(
    table: pa.Table, context: dict[str, pa.ChunkedArray | pa.Array], cue_of: CueFunction
) -> pa.Table:
    """What :func:`expense_parts` makes of the rows before it reads the payee's sector: the parts
    that do not depend on it, ``needs_context``, and the service cue not yet kept or dropped.

    Why separate: the classify step makes these while the suppliers classifier is still deciding the
    sectors (``normalise/expense_pass.py``)."""
    base = base_parts(table)
    need = context["needs_context"]
    empty = pa.scalar("", pa.large_string())
    return pa.table(
        {
            "value": base["value"],
            "council": base["council"],
            "code": base["code"],
            "capital_revenue": pc.utf8_lower(pc.utf8_trim_whitespace(text(table, "capital_revenue"))),
            "payee_cue": pc.if_else(
                need, _text_of(context["payee_cue"]), _text_of(context["payee_transfer_cue"])
            ),
            "service_division": pc.if_else(need, _text_of(context["service_division"]), empty),
            "any_service_cue": _text_of(context["service_cue"]),
            "context": context_cues(table, base["value"], need, cue_of),
            "needs_context": need,
        }
    )


def expense_parts_with_sector(before: pa.Table, sector: pa.ChunkedArray | pa.Array) -> pa.Table:
    """The expense key parts (:data:`EXPENSE_KEY`) from :func:`expense_parts_before_sector`'s table
    and each row's payee sector ("" for none)."""
    need = before["needs_context"]
    public = pc.is_in(sector, value_set=pa.array(PUBLIC_SECTORS, pa.large_string()))
    keep = pc.or_(need, public)
    empty = pa.scalar("", pa.large_string())
    cols = {name: before[name] for name in ("value", "council", "code", "capital_revenue")}
    cols["payee_sector"] = pc.if_else(keep, sector, empty)
    cols["payee_cue"] = before["payee_cue"]
    cols["service_division"] = before["service_division"]
    cols["service_cue"] = pc.if_else(keep, before["any_service_cue"], empty)
    cols["context"] = before["context"]
    return pa.table(cols)


def context_cues(
    table: pa.Table, value: pa.ChunkedArray, need: pa.ChunkedArray, cue_of: CueFunction
) -> pa.ChunkedArray:
    """Each row's context cue (``cue_of`` of the first of :data:`CONTEXT_LADDER` that is filled and
    differs from the expense value), "" where the account alone answers (``need`` false).

    ``cue_of`` maps distinct texts to their cues: the classify step passes the categories' own
    ``text_cues`` (and records what it saw); the build passes that record, so both make the same key
    without the build calling a classifier. Worked once per distinct text of the batch."""
    empty = pa.scalar("", pa.large_string())
    out = pa.chunked_array([pa.array([""] * table.num_rows, pa.large_string())])
    for name in reversed(CONTEXT_LADDER):
        if name in table.column_names:
            t = pc.utf8_trim_whitespace(text(table, name))
            out = pc.if_else(pc.and_(pc.not_equal(t, ""), pc.not_equal(t, value)), t, out)
    out = pc.if_else(need, out, empty).combine_chunks()
    encoded = pc.dictionary_encode(out)
    cues = pa.array(cue_of(encoded.dictionary.to_pylist()), pa.large_string())
    return pa.chunked_array([pc.take(cues, encoded.indices)])


class CueBook:
    """A cue function that remembers every text it answered (the classify step writes the record to
    ``classes/context_cues.parquet``), or, built :meth:`from_record`, answers from such a record."""

    def __init__(self, cue_of: CueFunction | None = None, seen: dict[str, str] | None = None) -> None:
        self._cue_of = cue_of
        self.seen: dict[str, str] = dict(seen or {})

    @classmethod
    def from_record(cls, texts: list[str], cues: list[str]) -> CueBook:
        return cls(None, dict(zip(texts, cues, strict=True)))

    def __call__(self, texts: list[str]) -> list[str]:
        new = [t for t in texts if t not in self.seen]
        if new and self._cue_of is not None:
            self.seen.update(zip(new, self._cue_of(new), strict=True))
        return [self.seen.get(t, "") for t in texts]


def _text_of(col: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    return pc.fill_null(col if col.type == pa.large_string() else col.cast(pa.large_string()), "")


def _large_text(col: pa.ChunkedArray) -> pa.Array:
    """A text column as one large_string array, nulls kept."""
    return one_array(col if col.type == pa.large_string() else col.cast(pa.large_string()))


def one_array(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """``col`` as one contiguous array; a single chunk as it is (``combine_chunks`` copies even one
    chunk: at 50M rows the per-key lookups held every column twice, over a GB)."""
    if isinstance(col, pa.Array):
        return col
    return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()


def _strings(values) -> pa.Array:  # noqa: ANN001 - a pandas Series or a list
    items = values.astype(object).where(values.notna(), None).tolist() if hasattr(values, "notna") else values
    return pa.array(items, pa.large_string())


class PayeeWindow:
    """The payee keys of a few councils (those of one batch of rows) and their columns.

    Positions (:meth:`positions`) index this window's arrays only.
    """

    def __init__(self, councils: tuple[str, ...], rows: pa.Table) -> None:
        self.councils = councils
        self.rows = rows
        self.keys = one_array(joined(pa.table({c: _text_of(rows[c]) for c in SUPPLIER_KEY}))).cast(
            pa.large_string()
        )
        self.sector = self.text("sector", keep_null=True)
        self.payee_cue = self.text("payee_cue")
        self.payee_transfer_cue = self.text("payee_transfer_cue")

    def positions(self, parts: pa.Table) -> pa.ChunkedArray:
        """Each row's position (``supplier_parts`` of the rows) in this window; null when its key
        was never classified."""
        return pc.index_in(joined(parts), value_set=self.keys)

    def text(self, name: str, keep_null: bool = False) -> pa.Array:
        """Column ``name`` as one large_string array ("" for missing values unless ``keep_null``;
        all "" when the column is absent)."""
        if name not in self.rows.column_names:
            return pa.repeat(pa.scalar("", pa.large_string()), self.rows.num_rows)
        return _large_text(self.rows[name]) if keep_null else one_array(_text_of(self.rows[name]))

    def column(self, name: str) -> pa.Array:
        return one_array(self.rows[name])


class ContextLookup:
    """Each row's payee sector, payee cue, service division and service cue, looked up by its payee
    and service keys in what the classify step decided.

    The classify step (``normalise/classes.py``, its second pass) and the build
    (``publish/build/payment_rows.py``) both make a row's expense key with this, so a row always
    finds the expense answer of its own key.
    """

    def __init__(self, suppliers, services, bases) -> None:  # noqa: ANN001 - frames, tables or CouncilRows
        """``suppliers``: :data:`SUPPLIER_KEY` + ``sector`` + ``payee_cue`` + ``payee_transfer_cue``
        (other columns are carried along into each :class:`PayeeWindow`), as
        :class:`~councilspend.council_rows.CouncilRows` (read a few councils at a time: at national
        scale these are tens of millions of keys), an Arrow table or a pandas frame; ``services``:
        ``value``, ``council``, ``label``, ``context_division``, ``context_cue``; ``bases``: ``value``,
        ``council``, ``code``, ``needs_context`` (whether the account alone is unknown, weak or vague)."""
        if not isinstance(suppliers, CouncilRows):
            if not isinstance(suppliers, pa.Table):
                suppliers = pa.Table.from_pandas(suppliers, preserve_index=False)
            suppliers = CouncilRows.of_table(suppliers)
        self.suppliers = suppliers
        self._window: PayeeWindow | None = None
        bases = bases.drop_duplicates(["value", "council", "code"])
        b = pa.Table.from_pandas(bases[["value", "council", "code"]].astype(str), preserve_index=False)
        self.base_keys = joined(b).combine_chunks().cast(pa.large_string())
        self.base_needs = pa.array(bases["needs_context"].fillna(True).astype(bool).to_numpy())
        services = services.drop_duplicates(SERVICE_KEY)
        v = pa.Table.from_pandas(services[SERVICE_KEY].astype(str), preserve_index=False)
        self.service_keys = joined(v).combine_chunks().cast(pa.large_string())
        self.service_label = _strings(services["label"])
        self.service_division = _strings(services["context_division"].fillna(""))
        self.service_cue = _strings(services["context_cue"].fillna(""))

    def window(self, table: pa.Table) -> PayeeWindow:
        """The payee keys of the councils of ``table``'s rows (the last window again when they are
        the same councils)."""
        councils = tuple(sorted(pc.unique(text(table, "council_id")).to_pylist()))
        if self._window is None or self._window.councils != councils:
            self._window = None  # the last window's memory is free before the next is read
            self._window = PayeeWindow(councils, self.suppliers.rows(councils))
        return self._window

    def context(
        self,
        table: pa.Table,
        at: pa.ChunkedArray | None = None,
        svc_at: pa.ChunkedArray | None = None,
        payees: PayeeWindow | None = None,
    ) -> dict[str, pa.ChunkedArray]:
        """``payee_sector`` (unknown when the payee was never classified), ``payee_cue``,
        ``service_division``, ``service_cue`` and ``service_label`` of every row. ``at``: the rows'
        positions in ``payees`` (both or neither)."""
        if payees is None:
            payees = self.window(table)
            at = payees.positions(supplier_parts(table))
        svc_at = self.service_positions(table) if svc_at is None else svc_at
        base_at = pc.index_in(joined(base_parts(table)), value_set=self.base_keys)
        return {
            "needs_context": pc.fill_null(pc.take(self.base_needs, base_at), True),
            "payee_sector": pc.fill_null(pc.take(payees.sector, at), "unknown"),
            "payee_cue": pc.fill_null(pc.take(payees.payee_cue, at), ""),
            "payee_transfer_cue": pc.fill_null(pc.take(payees.payee_transfer_cue, at), ""),
            "service_division": pc.fill_null(pc.take(self.service_division, svc_at), ""),
            "service_cue": pc.fill_null(pc.take(self.service_cue, svc_at), ""),
            "service_label": pc.fill_null(pc.take(self.service_label, svc_at), "unknown"),
        }

    def service_positions(self, table: pa.Table) -> pa.ChunkedArray:
        return pc.index_in(joined(service_parts(table)), value_set=self.service_keys)


def joined(parts: pa.Table) -> pa.ChunkedArray:
    """One key string per row from its parts."""
    cols = [
        parts[c] if parts[c].type == pa.large_string() else parts[c].cast(pa.large_string())
        for c in parts.column_names
    ]
    return pc.binary_join_element_wise(*cols, pa.scalar(SEP, pa.large_string()))


def concat_distinct(parts: list[pa.Table], columns: list[str]) -> pa.Table:
    """The distinct rows of several parts together, in first-seen order (no parts: an empty table of
    text ``columns``)."""
    empty = pa.table({c: pa.array([], pa.large_string()) for c in columns})
    return distinct(pa.concat_tables(parts) if parts else empty)


def distinct(parts: pa.Table) -> pa.Table:
    """The distinct rows of ``parts`` in first-seen order.

    Hashing the one joined key string is 1.6× faster than Arrow's group-by on six text columns
    (pass 1 did this on 10M rows and on the 3M keys collected). Parts with nulls go to the group-by,
    which tells a null from "".
    """
    if parts.num_rows == 0 or any(parts[c].null_count for c in parts.column_names):
        return parts.group_by(parts.column_names, use_threads=False).aggregate([])
    codes = pc.dictionary_encode(joined(parts).combine_chunks()).indices.to_numpy()
    # Codes are numbered in first-seen order, so a row is a key's first exactly where the running
    # maximum of the codes rises: one linear pass instead of sorting the codes.
    rises = np.maximum.accumulate(codes)
    first = np.flatnonzero(np.concatenate(([True], rises[1:] > rises[:-1])))
    return parts.take(pa.array(first))
