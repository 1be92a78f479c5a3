"""Sector of each payee, with the evidence and confidence that decided it.

Cascade (docs/suppliers.md): manual overrides → redaction → council-company list → identifiers in the
file → register look-ups → name rules (rules.yml) → a weak default. Every step that has an opinion
proposes a candidate; the most confident wins (ties go to the earlier step), and its evidence is kept.
Work is done once per distinct name (and once per distinct council context), never per payment row.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import pairwise
from operator import attrgetter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from councilspend.memory import release_memory
from normalise.suppliers.candidates import intrinsic_decisions
from normalise.suppliers.decision import Decision
from normalise.suppliers.distinct import (
    COPY_ON_WRITE,
    EACH,
    clean,
    cleaner,
    col,
    column_codes,
    first_seen_codes,
    is_true,
    match_keys,
    per_distinct,
    plain_texts,
    redacted_flag,
    rounded_confidences,
    same,
    string_column,
    value_codes,
)
from normalise.suppliers.keys import charity_number, company_number, display_name, vat_number
from normalise.suppliers.lookup import Registers
from normalise.suppliers.payer import in_contexts, payer_lookup
from normalise.suppliers.resolve import CONFIDENT, resolve
from normalise.suppliers.rulebook import (
    COUNCIL_COMPANIES_FILE,
    Rulebook,
    load_council_companies,
    load_overrides,
    load_rules,
)

OUTPUT_COLUMNS = ("supplier_id", "canonical_name", "sector", "subsector", "confidence", "evidence")
ID_COLUMNS = ("supplier_company_number", "supplier_charity_number", "supplier_vat_number")
INDIVIDUAL_LABEL = "Individual (name withheld)"


def classify_suppliers(
    df: pd.DataFrame,
    registers_db: Path | None = None,
    *,
    use_overrides: bool = True,
    council_companies: Iterable[Path] = (),
    use_reference: bool = True,
) -> pd.DataFrame:
    """Add ``supplier_id, canonical_name, sector, subsector, confidence, evidence`` to every row.

    ``df`` needs ``supplier_name``; ``council`` (or ``council_id``), ``supplier_company_number``,
    ``supplier_charity_number``, ``supplier_vat_number``, ``expense_type`` and ``is_redacted`` are
    used when present. One output row per input row, same order, input columns kept.
    ``use_overrides=False`` ignores overrides.csv (to measure what the general rules alone get right);
    ``council_companies``: extra CSVs (``name,council_id[,company_number]``) added to the bundled list,
    e.g. a demo's own companies. ``use_reference=False`` skips the bundled reference register
    (``reference/``), leaving only ``registers_db``.
    """
    if "supplier_name" not in df.columns:
        raise ValueError(
            f"classify_suppliers: input has no 'supplier_name' column (columns: {list(df.columns)})"
        )
    if df.empty:
        out = df.copy()
        for c in OUTPUT_COLUMNS:
            out[c] = pd.Series(dtype="float64" if c == "confidence" else "string")
        return out
    book = rulebook(use_overrides, council_companies)
    regs = Registers(registers_db, use_reference)
    try:
        with collector_paused():
            resolved = resolve_names(df, regs, book)
        return in_councils(resolved, df, resolved.codes, regs, book)
    finally:
        regs.close()


def classify_in_slices(
    keys_file: Path,
    registers_db: Path | None = None,
    *,
    council_companies: Iterable[Path] = (),
    slice_rows: int = 250_000,
) -> Iterator[pd.DataFrame]:
    """``classify_suppliers`` of the payee keys in the Arrow IPC file ``keys_file`` (string columns, no
    nulls, one row per council × payee), yielded ``slice_rows`` rows at a time in input order, with the
    same answers.

    Why: at national scale there are millions of keys but a fifth as many distinct names. Entity
    resolution runs once over the distinct (name, identifiers), each weighted by its number of keys;
    the council context runs a slice at a time. The keys stay in the file (memory-mapped, read twice),
    so they are not in memory while the names are resolved.
    """
    row_identity, weights, identities = _identities(keys_file)
    if not len(row_identity):
        return
    book = rulebook(True, council_companies)
    regs = Registers(registers_db, True)
    try:
        frame = [identities]
        del identities
        with collector_paused():
            # the popped frame's only reference is resolve_names', which drops it once it has read it
            resolved = resolve_names(frame.pop(), regs, book, weights=weights)
        # resolving freed far more than the slices use: hand it back before they run (10M keys: 0.09 GB)
        release_memory()
        for start, part in _slices(keys_file, slice_rows):
            codes = resolved.codes[row_identity[start : start + len(part)]]
            yield in_councils(resolved, part, codes, regs, book)
    finally:
        regs.close()


def _identities(keys_file: Path) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """(each key's distinct identity, keys per identity, the identities): a key less its council.

    Identities are numbered in order of first appearance, as ``classify_suppliers`` numbers rows.
    Why a column at a time, each in a mapping of its own: the file holds the country's payee keys,
    and the pages of a memory-mapped file that were read count in the process's RSS until it is
    unmapped; a column's codes take a fraction of its text's memory (joining the columns' texts to
    hash them took all of it twice).
    """
    with pa.memory_map(str(keys_file)) as source:
        names = pa.ipc.open_file(source).schema.names
    identity = [c for c in names if c not in ("council", "council_id", "expense_type")]
    encoded = [_dictionary_codes(keys_file, c) for c in identity]
    row_identity = first_seen_codes([codes for codes, _ in encoded])
    # a row starts an identity when its code beats the running max
    first = np.flatnonzero(row_identity > np.maximum.accumulate(np.r_[-1, row_identity[:-1]]))
    identities = pa.table(
        {c: values.take(pa.array(codes[first])) for c, (codes, values) in zip(identity, encoded, strict=True)}
    )
    del encoded
    if len(row_identity) < 2**31:
        row_identity = row_identity.astype(np.int32)  # kept while every slice is classified
    return row_identity, np.bincount(row_identity, minlength=len(first)), identities.to_pandas()


def _dictionary_codes(keys_file: Path, column: str) -> tuple[np.ndarray, pa.Array]:
    """(each row's code, the distinct values) of one column of ``keys_file``, codes in order of first
    appearance."""
    with pa.memory_map(str(keys_file)) as source:
        encoded = pc.dictionary_encode(pa.ipc.open_file(source).read_all().column(column))
    if not encoded.num_chunks:
        return np.zeros(0, dtype=np.int64), pa.array([], encoded.type.value_type)
    codes = np.concatenate([chunk.indices.to_numpy() for chunk in encoded.chunks])
    return codes, encoded.chunk(encoded.num_chunks - 1).dictionary  # every chunk has the whole dictionary


def _slices(keys_file: Path, slice_rows: int) -> Iterator[tuple[int, pd.DataFrame]]:
    """(first row, rows) of ``keys_file`` ``slice_rows`` rows at a time, as pandas.

    Each slice maps the file anew: one mapping for all of them would keep every page read so far in
    the process's RSS (the whole file by the last slice).
    """
    with pa.memory_map(str(keys_file)) as source:
        rows = pa.ipc.open_file(source).read_all().num_rows
    for start in range(0, rows, slice_rows):
        with pa.memory_map(str(keys_file)) as source:
            part = pa.ipc.open_file(source).read_all().slice(start, slice_rows).to_pandas()
        yield start, part


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a block (as it was, after).

    Why: resolving names makes hundreds of thousands of objects (decisions, lists, dicts) and no
    reference cycles; each full collection the allocator triggers walks all of them again, which cost
    about a seventh of the step. Whatever becomes garbage is freed by reference counting as before;
    a cycle, if any, is collected once the block ends.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def rulebook(use_overrides: bool = True, council_companies: Iterable[Path] = ()) -> Rulebook:
    """rules.yml, overrides.csv (unless ``use_overrides`` is false) and the council-company lists."""
    return Rulebook(
        load_rules(),
        load_overrides() if use_overrides else {},
        load_council_companies(COUNCIL_COMPANIES_FILE, *(Path(p) for p in council_companies)),
    )


@dataclass(frozen=True)
class ResolvedNames:
    """What the whole batch says of each distinct (name, identifiers), before any council context.

    Why apart: this part needs every name at once (entity resolution may join any name to any other),
    but works on distinct names; the council context works row by row and can run on a slice of the
    rows at a time (:func:`classify_in_slices`), so millions of council × payee keys never
    have to be in memory together.
    """

    codes: np.ndarray  # input row -> distinct name
    keys: list[str]
    texts: list[str]
    decisions: list[Decision]  # after resolution: one decision per entity, shared by its members
    entity_ids: list[str]
    canonical: list[str]
    #: per output column, whether every value the names' own decisions give it is a string
    #: (``string_column``), worked out once for all slices
    all_text: dict[str, bool]


def resolve_names(
    df: pd.DataFrame, regs: Registers, book: Rulebook, weights: np.ndarray | None = None
) -> ResolvedNames:
    """Intrinsic decisions and entity resolution over the distinct (name, identifiers) of ``df``.

    ``weights``: how many input rows each row of ``df`` stands for (an entity's display name is its
    most frequent spelling), when ``df`` holds distinct rows of a larger input.
    """
    columns = _column_codes(df)
    del df  # freed here when the caller passed its only reference (classify_in_slices: millions of rows)

    # ---- intrinsic decision per distinct (name, identifiers): row -> code -> distinct ----
    codes = first_seen_codes([value_codes(c, r) for c, r in columns.values()])
    # codes are numbered by first appearance: a row starts a new code exactly when it beats the running max
    first = np.flatnonzero(np.concatenate(([True], codes[1:] > np.maximum.accumulate(codes)[:-1])))
    distinct = pd.DataFrame(
        {col: [r[k] for k in c[first].tolist()] for col, (c, r) in columns.items()}, dtype=object
    )
    del columns
    rows_per_name = np.bincount(codes, weights=weights, minlength=len(first)).astype(np.int64).tolist()
    del first
    d_names = distinct["name"].tolist()
    name_arr = pa.array(d_names, type=pa.string())
    texts = plain_texts(d_names, name_arr)
    keys = match_keys(d_names, name_arr, texts)
    decisions = intrinsic_decisions(distinct, name_arr, texts, keys, regs, book)
    del name_arr

    # ---- entity resolution across the distinct names ----
    org_ids = [d.org_id for d in decisions]
    id_keys = [(f"VAT:{v}",) if v else () for v in distinct["vat"]]  # one shared () for the many without
    sectors = [
        d.sector if d.confidence >= CONFIDENT and d.sector not in ("unknown",) else None for d in decisions
    ]
    del distinct  # at national scale each list of the distinct names counts: none is kept longer than needed
    entity_ids, methods = resolve(keys, org_ids, id_keys, sectors)
    del org_ids, id_keys, sectors
    decisions, canonical = _unify(d_names, decisions, entity_ids, methods, rows_per_name)
    all_text = _all_text(decisions, entity_ids, canonical, range(len(decisions)))
    return ResolvedNames(codes, keys, texts, decisions, entity_ids, canonical, all_text)


def _column_codes(df: pd.DataFrame) -> dict[str, tuple[np.ndarray, list]]:
    """Each input column of ``resolve_names`` reduced to codes into its distinct cleaned values."""
    names = column_codes(
        df,
        "supplier_name",
        display_name,
        EACH,
        lambda: per_distinct(df["supplier_name"].tolist(), display_name),
    )
    cns = column_codes(
        df,
        "supplier_company_number",
        cleaner(company_number),
        None,
        lambda: clean(df, "supplier_company_number", company_number),
    )
    chs = column_codes(
        df,
        "supplier_charity_number",
        cleaner(charity_number),
        None,
        lambda: clean(df, "supplier_charity_number", charity_number),
    )
    vats = column_codes(
        df,
        "supplier_vat_number",
        cleaner(vat_number),
        None,
        lambda: clean(df, "supplier_vat_number", vat_number),
    )
    reds = column_codes(df, "is_redacted", is_true, False, lambda: redacted_flag(df).tolist())
    return {"name": names, "cn": cns, "ch": chs, "vat": vats, "red": reds}


def in_councils(
    resolved: ResolvedNames, df: pd.DataFrame, codes: np.ndarray, regs: Registers, book: Rulebook
) -> pd.DataFrame:
    """``df`` with the output columns: each row's decision in its council and expense-type context
    (overrides, the payer itself, the payer's own companies). ``codes``: each row's distinct name in
    ``resolved``; ``df`` may be any slice of the rows ``resolved`` was made from."""
    decisions, keys, texts = resolved.decisions, resolved.keys, resolved.texts
    council_col = "council" if "council" in df.columns else "council_id"
    council = column_codes(df, council_col, same, "", lambda: col(df, council_col).tolist())
    expense = column_codes(df, "expense_type", same, "", lambda: col(df, "expense_type").tolist())
    payer = payer_lookup(sorted(set(council[1]) - {""}), regs)
    final, final_code, take = in_contexts(
        decisions, keys, texts, codes, council, expense, payer, book.rules, book.overrides
    )

    return _output(df, resolved, codes, final, final_code, take)


def _output(
    df: pd.DataFrame,
    resolved: ResolvedNames,
    codes: np.ndarray,
    final: list[Decision],
    final_code: list[int],
    take: np.ndarray,
) -> pd.DataFrame:
    """The input plus the output columns: entity columns via ``codes``, decision columns via ``take``.

    Only the names and decisions the rows use are read: a slice of the keys uses a fraction of the
    names at national scale, and this runs once per slice.
    """
    out = df.copy(deep=not COPY_ON_WRITE)
    n = len(resolved.decisions)  # ``final`` is the names' own decisions, then this slice's contextual ones
    text = _all_text(final[n:], [], resolved.canonical, final_code[n:])
    text = {c: text[c] and resolved.all_text[c] for c in text}
    ids, at = np.unique(codes, return_inverse=True)
    out["supplier_id"] = string_column(
        [resolved.entity_ids[k] for k in ids.tolist()], at, resolved.all_text["supplier_id"]
    )
    used, at = np.unique(take, return_inverse=True)
    used_list = used.tolist()
    chosen = [final[j] for j in used_list]
    # never repeat a private person's name in a column meant for display
    out["canonical_name"] = string_column(
        _shown_names(chosen, resolved.canonical, [final_code[j] for j in used_list]),
        at,
        text["canonical_name"],
    )
    out["sector"] = string_column([d.sector for d in chosen], at, text["sector"])
    out["subsector"] = string_column([d.subsector for d in chosen], at, text["subsector"])
    out["confidence"] = rounded_confidences(chosen)[at]
    out["evidence"] = string_column([d.evidence for d in chosen], at, text["evidence"])
    return out


def _shown_names(decisions: list[Decision], canonical: list[str], name_codes: Iterable[int]) -> list[str]:
    return [
        INDIVIDUAL_LABEL if d.sector == "individual" else canonical[k]
        for d, k in zip(decisions, name_codes, strict=True)
    ]


def _all_text(
    decisions: list[Decision], entity_ids: list[str], canonical: list[str], name_codes: Sequence[int]
) -> dict[str, bool]:
    """Whether each output column's values for ``decisions`` (of the names ``name_codes``) are strings."""

    def strings(values: Iterable) -> bool:
        return set(map(type, values)) <= {str}  # in C: millions of names

    return {
        "supplier_id": strings(entity_ids),
        "canonical_name": strings(_shown_names(decisions, canonical, name_codes)),
        **{c: strings(map(attrgetter(c), decisions)) for c in ("sector", "subsector", "evidence")},
    }


def _unify(
    names: list[str],
    decisions: list[Decision],
    entity_ids: list[str],
    methods: list[str],
    rows_per_name: Sequence[int],
) -> tuple[list[Decision], list[str]]:
    """One decision and one display name per entity: the most confident member's decision."""
    out = list(decisions)
    # most entities have one member: its own decision, its register name or its own spelling
    canonical = [d.canonical or n for d, n in zip(decisions, names, strict=True)]
    # members of the larger entities, grouped by entity (in order of first member), ascending within each
    group, _ = pd.factorize(np.asarray(entity_ids, dtype=object))
    shared = np.flatnonzero(np.bincount(group)[group] > 1)
    shared = shared[np.argsort(group[shared], kind="stable")]
    starts = np.flatnonzero(np.diff(group[shared], prepend=-1)).tolist()
    shared_list = shared.tolist()
    ranks = dict(zip(shared_list, [decisions[i].rank() for i in shared_list], strict=True))  # members only
    for start, end in pairwise([*starts, len(shared_list)]):
        members = shared_list[start:end]
        best_i = max(members, key=ranks.__getitem__)
        best = decisions[best_i]
        register_name = next((decisions[i].canonical for i in members if decisions[i].canonical), None)
        counts = Counter()
        for i in members:
            counts[names[i]] += rows_per_name[i]
        popular = max(counts.items(), key=lambda kv: (kv[1], len(kv[0]), kv[0]))[0] if counts else ""
        name = register_name or popular
        via: dict[str, Decision] = {}  # by how a member joined: members that joined alike share one
        for i in members:
            canonical[i] = name
            if i != best_i and ranks[i] < ranks[best_i] and decisions[i].step not in ("redaction",):
                how = methods[i] if methods[i] != "single" else "same entity"
                if how not in via:
                    alias = "another spelling" if best.sector == "individual" else repr(names[best_i])
                    via[how] = replace(best, evidence=f"{best.evidence} [via alias {alias}, {how}]")
                out[i] = via[how]
    return out, canonical
