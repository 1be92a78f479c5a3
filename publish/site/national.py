"""The home page's "All councils: who gets the money (M1), by financial year" chart, made honest.

Each year's bar covers only the councils whose files reach that year, so every bar says how many
councils and how much money it covers; a year too thin to mean anything is drawn grey and labelled
(rule in docs/methodology.md, "The all-councils chart"); a year with no files keeps its row, so a gap
shows; undated money is a plain line under the chart, never a bar.
"""

from __future__ import annotations

from markupsafe import Markup

from publish.site import charts
from publish.site.site_measures import is_dated, undated_line

#: A year with fewer payments than this (about one month of a mid-sized council's payments over £500)
#: is too thin to draw a sector split: one council's stray lines read as "98% private".
MIN_YEAR_PAYMENTS = 1000


def _fy(start: int) -> str:
    return f"{start}-{(start + 1) % 100:02d}"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


async def national_chart(db, order: list[str]) -> dict:
    """The chart (``chart``) and the undated line (``undated``) from ``council_year_sector``."""
    by_year = [
        dict(r)
        for r in (
            await db.execute(
                "select financial_year, sector, sum(total_pence) pence from council_year_sector group by 1, 2"
            )
        ).rows
    ]
    per_year = {
        r["financial_year"]: dict(r)
        for r in (
            await db.execute(
                "select financial_year, count(distinct council_id) councils, sum(payments) payments, "
                "sum(total_pence) pence from council_year_sector group by 1"
            )
        ).rows
    }
    years = set(per_year)
    dated = sorted(y for y in years if is_dated(y) and y[:4].isdigit())
    labels = [_fy(s) for s in range(int(dated[0][:4]), int(dated[-1][:4]) + 1)] if dated else []
    labels += [y for y in dated if y not in labels]  # a malformed label is still shown, never lost
    notes, muted, rows = {}, {}, []
    for y in labels:
        info = per_year.get(y)
        if info is None:
            muted[y] = "no files for this year"
        else:
            notes[y] = f"{_plural(info['councils'], 'council')} · {charts.money(info['pence'])}"
            if info["payments"] < MIN_YEAR_PAYMENTS:
                muted[y] = f"too little data to show: {_plural(info['payments'], 'payment')}"
        rows.append((y, {r["sector"]: r["pence"] for r in by_year if r["financial_year"] == y}))
    chart = charts.stacked_share(
        rows,
        title="Published spend by payee sector, all councils, by financial year",
        order=order,
        notes=notes,
        muted=muted,
        width=720,
    )
    undated = [y for y in years if not is_dated(y)]
    line = None
    if undated:
        info = per_year[undated[0]]
        line = undated_line(info["pence"], info["payments"])
        line = line and line.replace(
            " has no usable date", f" ({_plural(info['councils'], 'council')}) has no usable date", 1
        )
    return {
        "chart": Markup(chart),
        "undated": line,
        "thin": sorted(y for y in muted if y in per_year),
        "gaps": sorted(y for y in muted if y not in per_year),
    }
