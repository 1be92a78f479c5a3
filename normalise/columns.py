"""Map a file's header labels onto canonical fields, using the synonyms table in ``synonyms.yml``.

Why not frictionless ``schema_sync``: it matches labels exactly and silently drops missing fields.
Here every label is normalised (BOM, CamelCase, ``£``, punctuation, case) and looked up in a table
of variants seen in real files; every column ends up mapped, ignored or reported as unmapped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

from normalise.rulefiles import load_yaml

SYNONYMS_PATH = Path(__file__).with_name("synonyms.yml")

_POUND = re.compile(r"\(\s*£\s*\)|£")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def normalise_label(label: object) -> str:
    """``'ï»¿NetAmount(£) '`` -> ``'netamount'``: the key used to look labels up.

    Lower case with everything but letters and digits removed, so spacing and CamelCase do not
    matter: ``Net Amount``, ``NetAmount``, ``Net  amount`` and ``ProClass``/``Proclass`` meet.
    Cached: the header search asks about the same preamble and header cells in every file."""
    return _normalise_text(label if isinstance(label, str) else ("" if label is None else str(label)))


@lru_cache(maxsize=65536)
def _normalise_text(text: str) -> str:
    text = text.replace("\ufeff", "").replace("ï»¿", "")
    text = _POUND.sub("", text).lower()
    return _NOT_ALNUM.sub("", text)


@dataclass(frozen=True)
class Synonyms:
    """The synonyms table, compiled: normalised label -> [(field, rank)]."""

    variants: dict[str, list[tuple[str, int]]]
    repeated: dict[str, list[str]]
    ignore: frozenset[str]
    councils: dict[str, dict[str, str]]
    fields: tuple[str, ...]


@cache
def load_synonyms(path: Path = SYNONYMS_PATH) -> Synonyms:
    data = load_yaml(path)
    variants: dict[str, list[tuple[str, int]]] = {}
    for fld, labels in data["fields"].items():
        for rank, label in enumerate(labels):
            variants.setdefault(normalise_label(label), []).append((fld, rank))
    repeated = {normalise_label(k): list(v) for k, v in (data.get("repeated") or {}).items()}
    ignore = frozenset(normalise_label(x) for x in data.get("ignore") or [])
    councils = {
        gss: {normalise_label(k): v for k, v in (over or {}).items()}
        for gss, over in (data.get("councils") or {}).items()
    }
    return Synonyms(variants, repeated, ignore, councils, tuple(data["fields"]))


@dataclass
class ColumnMap:
    """Result of mapping one header: which column index feeds which field."""

    labels: list[str]
    field_to_col: dict[str, int] = field(default_factory=dict)
    unused: list[dict] = field(default_factory=list)  # mapped label that lost to a better column
    ignored: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)

    def label_of(self, fld: str) -> str | None:
        col = self.field_to_col.get(fld)
        return None if col is None else self.labels[col]

    def as_report(self) -> dict:
        return {
            "mapped": {f: self.labels[c] for f, c in self.field_to_col.items()},
            "unused": self.unused,
            "ignored": self.ignored,
            "unmapped": self.unmapped,
        }


@cache
def example_labels(fld: str, n: int = 2) -> tuple[str, ...]:
    """The first header spellings of a field, for messages to people ("Payment Date")."""
    return tuple((load_yaml(SYNONYMS_PATH)["fields"].get(fld) or [])[:n])


def header_score(cells: list[str], syn: Synonyms | None = None) -> int:
    """How many cells of a candidate header row are known labels (used to find the header)."""
    syn = syn or load_synonyms()
    seen = set()
    for cell in cells:
        key = normalise_label(cell)
        if key in syn.variants:
            seen.add(key)
    return len(seen)


def map_columns(labels: list[str], council_id: str | None = None, syn: Synonyms | None = None) -> ColumnMap:
    """Assign each field at most one column and each column at most one field.

    Candidates are ranked by their position in the field's variant list; the best-ranked pair is
    assigned first. Repeated labels (code/description pairs) are resolved by position using the
    ``repeated`` table. Empty labels are not reported (trailing empty header cells are common).
    """
    syn = syn or load_synonyms()
    override = syn.councils.get(council_id or "", {})
    cmap = ColumnMap(labels=list(labels))
    candidates: list[tuple[int, int, str, int]] = []  # (override first, rank, field, col)
    occurrences: dict[str, int] = {}
    for col, label in enumerate(labels):
        key = normalise_label(label)
        if not key:
            continue
        nth = occurrences.get(key, 0)
        occurrences[key] = nth + 1
        if key in override:
            candidates.append((0, 0, override[key], col))
            continue
        if nth > 0 or (key in syn.repeated and labels_count(labels, key) > 1):
            targets = syn.repeated.get(key)
            if targets and nth < len(targets):
                if targets[nth] == "ignore":
                    cmap.ignored.append(label)
                else:
                    candidates.append((0, 0, targets[nth], col))
                continue
            if nth > 0:
                cmap.unused.append({"label": label, "column": col + 1, "reason": "repeated header"})
                continue
        if key in syn.ignore:
            cmap.ignored.append(label)
            continue
        if key not in syn.variants:
            cmap.unmapped.append(label)
            continue
        for fld, rank in syn.variants[key]:
            candidates.append((1, rank, fld, col))
    # Fields in table order (payment_date, amount, supplier..., expense_type before description), each
    # taking its best-ranked free column: a column listed under two fields goes to the earlier field
    # unless that field already has a better column.
    order = {f: i for i, f in enumerate(syn.fields)}
    taken_cols: set[int] = set()
    for _, _, fld, col in sorted(candidates, key=lambda c: (c[0], order.get(c[2], len(order)), c[1], c[3])):
        if fld in cmap.field_to_col or col in taken_cols:
            continue
        cmap.field_to_col[fld] = col
        taken_cols.add(col)
    for _, _, fld, col in sorted(candidates, key=lambda c: c[3]):
        if col not in taken_cols:
            taken_cols.add(col)
            winner = cmap.label_of(fld)
            cmap.unused.append(
                {"label": labels[col], "column": col + 1, "reason": f"{fld} already taken by {winner!r}"}
            )
    return cmap


def labels_count(labels: list[str], key: str) -> int:
    return sum(1 for lab in labels if normalise_label(lab) == key)
