"""Date text -> (payment_date, date_precision, period_start, period_end), always day-first.

Never ``pd.to_datetime(format="mixed", dayfirst=True)``: it reads ISO ``2018-01-02`` as 1 February.
Each value is matched against explicit patterns (ISO first), and only the distinct values of a
column are parsed, then mapped back (a month's file has ~30 distinct dates in 10k rows).
Period text (``July 2010-September 2010``, ``Sep 2014``, ``Dec-2011``, ``201009``, ``2011-12``) gives a
period at month (quarter, year) precision, not a day and not a date error.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[AaPp][Mm]|Z|[+-]\d{2}:?\d{2})?)?$"
# (regex on the value, strptime format of its date part); tried in order
DAY_FORMATS: list[tuple[re.Pattern, str]] = [
    (re.compile(r"^(\d{4}-\d{2}-\d{2})" + _TIME), "%Y-%m-%d"),
    (re.compile(r"^(\d{4}/\d{2}/\d{2})" + _TIME), "%Y/%m/%d"),
    (re.compile(r"^(\d{1,2}/\d{1,2}/\d{4})" + _TIME), "%d/%m/%Y"),
    (re.compile(r"^(\d{1,2}/\d{1,2}/\d{2})" + _TIME), "%d/%m/%y"),
    (re.compile(r"^(\d{1,2}-\d{1,2}-\d{4})" + _TIME), "%d-%m-%Y"),
    (re.compile(r"^(\d{1,2}-\d{1,2}-\d{2})" + _TIME), "%d-%m-%y"),
    (re.compile(r"^(\d{1,2}\.\d{1,2}\.\d{4})" + _TIME), "%d.%m.%Y"),
    (re.compile(r"^(\d{1,2}\.\d{1,2}\.\d{2})" + _TIME), "%d.%m.%y"),
    (re.compile(r"^(\d{1,2}-[A-Za-z]{3}-\d{2})" + _TIME), "%d-%b-%y"),
    (re.compile(r"^(\d{1,2}-[A-Za-z]{3}-\d{4})" + _TIME), "%d-%b-%Y"),
    (re.compile(r"^(\d{1,2} [A-Za-z]{3} \d{4})" + _TIME), "%d %b %Y"),
    (re.compile(r"^(\d{1,2} [A-Za-z]{4,9} \d{4})" + _TIME), "%d %B %Y"),
    (re.compile(r"^(\d{1,2} [A-Za-z]{3} \d{2})" + _TIME), "%d %b %y"),
    (re.compile(r"^(\d{8})$"), "%Y%m%d"),
]
_SERIAL = re.compile(r"^(\d{5})(?:\.\d+)?$")  # Excel day number (1954..2173)
_TIME_ONLY = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")
_MONTHS = (
    {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
    | {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
    | {"sept": 9}
)
_MONTH_RE = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_MONTH_YEAR = re.compile(rf"^{_MONTH_RE}[\s\-/']*(\d{{4}}|\d{{2}})$", re.I)
_MONTH_RANGE = re.compile(
    rf"^{_MONTH_RE}[\s\-/]*(\d{{4}}|\d{{2}})?\s*(?:-|–|to)\s*{_MONTH_RE}[\s\-/]*(\d{{4}}|\d{{2}})$", re.I
)
_YYYYMM = re.compile(r"^(\d{4})[-/.]?(0?[1-9]|1[0-2])$")  # 201112, 2011-12, 2011/12
_MMYYYY = re.compile(r"^(0?[1-9]|1[0-2])[-/.](\d{4})$")  # 12/2011, 12-2011
_QUARTER = re.compile(r"^(?:q([1-4])\s*(\d{4})|(\d{4})\s*q([1-4]))$", re.I)

RESULT_COLUMNS = ["payment_date", "date_precision", "period_start", "period_end", "date_status"]


def _year(text: str) -> int:
    y = int(text)
    return y + 2000 if y < 70 else (y + 1900 if y < 100 else y)


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _precision(start: dt.date, end: dt.date) -> str:
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    return "month" if months <= 1 else ("quarter" if months <= 3 else "year")


def parse_period(text: str) -> tuple[str, dt.date, dt.date] | None:
    """``July 2010-September 2010`` -> ("quarter", 2010-07-01, 2010-09-30); None if not a period."""
    t = " ".join(text.split())
    if m := _MONTH_YEAR.match(t):
        y, mo = _year(m.group(2)), _MONTHS[m.group(1).lower()]
        return "month", dt.date(y, mo, 1), _month_end(y, mo)
    if m := _MONTH_RANGE.match(t):
        y2 = _year(m.group(4))
        y1 = _year(m.group(2)) if m.group(2) else y2
        m1, m2 = _MONTHS[m.group(1).lower()], _MONTHS[m.group(3).lower()]
        if (y1, m1) > (y2, m2):
            if m.group(2):
                return None
            y1 -= 1
        start, end = dt.date(y1, m1, 1), _month_end(y2, m2)
        return _precision(start, end), start, end
    if (m := _YYYYMM.match(t)) and (len(t) != 5 or not t[4].isdigit()):  # 20111 is not a month
        y, mo = int(m.group(1)), int(m.group(2))
        return "month", dt.date(y, mo, 1), _month_end(y, mo)
    if m := _MMYYYY.match(t):
        y, mo = int(m.group(2)), int(m.group(1))
        return "month", dt.date(y, mo, 1), _month_end(y, mo)
    if m := _QUARTER.match(t):
        q, y = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        start = dt.date(int(y), 3 * int(q) - 2, 1)
        return "quarter", start, _month_end(int(y), 3 * int(q))
    return None


def parse_one(text: str) -> tuple:
    """One distinct value -> (date|None, precision, period_start|None, period_end|None, status).

    status: ok, empty, period, time_only (the date was lost in an export), invalid.
    """
    t = text.strip()
    if not t:
        return None, "none", None, None, "empty"
    for pattern, fmt in DAY_FORMATS:
        if m := pattern.match(t):
            try:
                return dt.datetime.strptime(m.group(1), fmt).date(), "day", None, None, "ok"
            except ValueError:
                return None, "none", None, None, "invalid"
    if m := _SERIAL.match(t):
        n = int(m.group(1))
        if 20000 <= n <= 80000:
            return dt.date(1899, 12, 30) + dt.timedelta(days=n), "day", None, None, "ok"
    if _TIME_ONLY.match(t):
        return None, "none", None, None, "time_only"
    if p := parse_period(t):
        return None, p[0], p[1], p[2], "period"
    return None, "none", None, None, "invalid"


# a crawl's files share their dates: each distinct text is parsed once per process (the result is a
# tuple of immutable values, safe to share)
_parse_known = lru_cache(maxsize=100_000)(parse_one)


def parse_dates(values: pd.Series) -> pd.DataFrame:
    """Parse a column of date text; one output row per input row, columns RESULT_COLUMNS."""
    dates = parse_date_codes(values)
    out = dates.table.iloc[dates.codes].reset_index(drop=True)
    out.index = values.index
    return out


@dataclass
class Dates:
    """Each row's dates as a code into one parsed row per distinct date text (RESULT_COLUMNS): a
    table of a few hundred rows, not five columns of a million Python objects."""

    codes: np.ndarray
    table: pd.DataFrame

    def rows_where(self, column: str, value: str) -> np.ndarray:
        """Row mask: the rows whose ``column`` is ``value``."""
        return (self.table[column].to_numpy(dtype=object) == value)[self.codes]


def parse_date_codes(values: pd.Series) -> Dates:
    """(a code per row, one parsed row per distinct text): :func:`parse_dates` before it is spread
    to the rows, which is all that later steps need (every row's dates are its text's)."""
    codes, uniques = pd.factorize(values if values.dtype == "str" else values.astype(str), sort=False)
    parsed = pd.DataFrame(
        [_parse_known(u) for u in np.asarray(uniques, dtype=object).tolist()], columns=RESULT_COLUMNS
    )
    if len(parsed) == 0:
        parsed = pd.DataFrame([parse_one("")], columns=RESULT_COLUMNS)
        codes = codes.clip(min=0)
    if (codes < 0).any():  # a missing value is an empty cell, never another row's date
        parsed = pd.concat([parsed, pd.DataFrame([parse_one("")], columns=RESULT_COLUMNS)], ignore_index=True)
        codes = np.where(codes < 0, len(parsed) - 1, codes)
    return Dates(codes, parsed)


def find_period(text: str) -> tuple[str, dt.date, dt.date] | None:
    """Find a period mentioned inside free text (a preamble line, a file name): the first match of
    ``<month> <year> - <month> <year>``, ``<month>-<month>-<year>`` or ``<month> <year>``."""
    t = re.sub(r"[_\s]+", " ", text)
    month_range = rf"\b{_MONTH_RE}[\s\-]*(\d{{4}})?\s*(?:-|–|to)\s*{_MONTH_RE}[\s\-]*(\d{{4}})\b"
    rng = re.search(month_range, t, re.I)
    if rng and (p := parse_period(rng.group(0))):
        return p
    day_range = re.search(
        rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH_RE}\s+(\d{{4}})\s*(?:-|–|to)\s*"
        rf"\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH_RE}\s+(\d{{4}})\b",
        t,
        re.I,
    )
    if day_range:
        m1, y1 = _MONTHS[day_range.group(1).lower()], int(day_range.group(2))
        m2, y2 = _MONTHS[day_range.group(3).lower()], int(day_range.group(4))
        start, end = dt.date(y1, m1, 1), _month_end(y2, m2)
        if start <= end:
            return _precision(start, end), start, end
    single = re.search(rf"\b{_MONTH_RE}[\s\-]*(\d{{4}})\b", t, re.I)
    if single and (p := parse_period(single.group(0))):
        return p
    return None
