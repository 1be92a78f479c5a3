"""Find the header row among preamble lines (titles, report dates, parameters).

The preamble is kept: it often states the period and the publication threshold.
"""

from __future__ import annotations

import re

import pandas as pd

from normalise.columns import header_score, load_synonyms

MAX_SCAN = 30
MIN_KNOWN_LABELS = 2
# Bounded gaps (never ``[^0-9£]*`` next to ``[\s\-_:]*``: on "threshold" and a long run of dashes that
# pair backtracked quadratically, 37 s for a 50 KB line). Each match attempt now costs at most ~100
# steps, and a preamble line is cut at MAX_LINE_CHARS first.
_THRESHOLD = re.compile(
    r"(?:over|above|exceeding|greater than(?: or equal to)?|threshold[^0-9£]{0,40}?|>=?)"
    r"[\s\-_:]{0,10}£?\s{0,3}(\d[\d,]{0,12})",
    re.I,
)
MAX_LINE_CHARS = 2000  # a preamble line stating a threshold is a sentence, not a page


class HeaderError(ValueError):
    """No row looks like a header of a spending table."""


def find_header(cells: pd.DataFrame) -> int:
    """Index (0-based) of the row with the most known labels among the first MAX_SCAN rows.

    Ties go to the earlier row. Fewer than MIN_KNOWN_LABELS known labels anywhere -> HeaderError.
    """
    syn = load_synonyms()
    best, best_score = -1, 0
    for i, values in enumerate(rows_of(cells, 0, MAX_SCAN)):
        row = [c for c in values if isinstance(c, str) and c.strip()]
        if not row or max(len(c) for c in row) > 200:
            continue
        score = header_score(row, syn)
        if score > best_score:
            best, best_score = i, score
    if best_score < MIN_KNOWN_LABELS:
        raise HeaderError(
            f"no header row found in the first {MAX_SCAN} rows (need at least {MIN_KNOWN_LABELS} "
            "recognised column names such as Supplier Name, Amount, Payment Date)"
        )
    return best


def preamble_lines(cells: pd.DataFrame, header_index: int) -> list[str]:
    """The non-empty text above the header, one string per row."""
    lines = []
    for row in rows_of(cells, 0, header_index):
        parts = [" ".join(str(c).split()) for c in row if str(c).strip()]
        if parts:
            lines.append(" ".join(parts))
    return lines


def rows_of(cells: pd.DataFrame, start: int, stop: int) -> list[list]:
    """Rows ``start`` to ``stop - 1`` (as many as there are), each as ``cells.iloc[i].tolist()`` gives
    it, read from the columns' Arrow arrays: pandas builds a row of Arrow columns cell type by cell
    type, ~0.2 ms a row."""
    stop = min(stop, len(cells))
    arrays = [getattr(s.array, "_pa_array", None) for _, s in cells.items()]
    if not arrays or any(a is None or a.null_count for a in arrays) or stop <= start:
        return [cells.iloc[i].tolist() for i in range(start, stop)]
    return [
        list(row) for row in zip(*(a.slice(start, stop - start).to_pylist() for a in arrays), strict=True)
    ]


def threshold_from(texts: list[str]) -> int | None:
    """A publication threshold in pounds stated in the preamble or file name (500, 250), if any."""
    for text in texts:
        if m := _THRESHOLD.search(text[:MAX_LINE_CHARS].replace("\xa0", " ")):
            try:
                value = int(m.group(1).replace(",", ""))
            except ValueError:
                continue
            if 0 < value <= 100000:
                return value
    return None


def merge_two_line_header(cells: pd.DataFrame, h: int) -> tuple[list[str], int, int]:
    """The header labels and its first and last rows, merging a two-line header.

    A group label over sub-labels (``Amount,,`` over ``Gross,VAT,Net``) gives ``Amount Gross``,
    ``Amount VAT``, ``Amount Net``: the group spans the empty cells to its right that have a
    sub-label. The found row is paired with the row below it, else the row above; a pair is kept
    only when the merged labels are at least as well known as the found row's alone, so a data row or a
    title line above is never merged in.
    """
    syn = load_synonyms()
    first = max(h - 1, 0)
    near = {first + i: [str(x) for x in row] for i, row in enumerate(rows_of(cells, first, h + 2))}
    single = near[h]
    best, best_score = (single, h, h), header_score(single, syn)
    for top, bottom in ((h, h + 1), (h - 1, h)):
        if top < 0 or bottom >= len(cells):
            continue
        merged = _merge(near[top], near[bottom])
        if merged is not None and (score := header_score(merged, syn)) >= best_score:
            best, best_score = (merged, top, bottom), score
    return best


def _merge(top: list[str], bottom: list[str]) -> list[str] | None:
    """Column labels of a group row over a sub-label row; None when no group spans two columns."""
    out: list[str] = []
    group, spans = "", False
    for t, b in zip(top, bottom, strict=False):
        t, b = " ".join(t.split()), " ".join(b.split())
        if t:
            group = t if b else ""  # a group spans on only while its columns have sub-labels
        elif b and group:
            spans = True
        else:
            group = ""
        parent = t or (group if b else "")
        out.append(" ".join(x for x in (parent, b) if x))
    return out if spans else None
