"""Find the header row among preamble lines (titles, report dates, parameters).

The preamble is kept: it often states the period and the publication threshold.
"""

from __future__ import annotations

import re

import pandas as pd

from normalise.columns import header_score, load_synonyms

MAX_SCAN = 30
MIN_KNOWN_LABELS = 2
_THRESHOLD = re.compile(
    r"(?:over|above|exceeding|greater than(?: or equal to)?|threshold[^0-9£]*|>=?)[\s\-_:]*£?\s*(\d[\d,]*)",
    re.I,
)


class HeaderError(ValueError):
    """No row looks like a header of a spending table."""


def find_header(cells: pd.DataFrame) -> int:
    """Index (0-based) of the row with the most known labels among the first MAX_SCAN rows.

    Ties go to the earlier row. Fewer than MIN_KNOWN_LABELS known labels anywhere -> HeaderError.
    """
    syn = load_synonyms()
    best, best_score = -1, 0
    head = cells.head(MAX_SCAN).to_numpy(dtype=object)
    for i, values in enumerate(head):
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
    for i in range(header_index):
        parts = [" ".join(str(c).split()) for c in cells.iloc[i].tolist() if str(c).strip()]
        if parts:
            lines.append(" ".join(parts))
    return lines


def threshold_from(texts: list[str]) -> int | None:
    """A publication threshold in pounds stated in the preamble or file name (500, 250), if any."""
    for text in texts:
        if m := _THRESHOLD.search(text.replace("\xa0", " ")):
            try:
                value = int(m.group(1).replace(",", ""))
            except ValueError:
                continue
            if 0 < value <= 100000:
                return value
    return None
