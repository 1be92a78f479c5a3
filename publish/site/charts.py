"""Server-side SVG charts: they render offline, without JavaScript, and print well.

Every label is escaped here (a payee called ``<script>`` is drawn as text). Colours are fixed per
sector so a reader learns them once across pages.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

SECTOR_COLOURS = {
    "private": "#1d70b8",
    "third_sector": "#00703c",
    "mutual": "#28a197",
    "public": "#6f72af",
    "council_company": "#912b88",
    "individual": "#f47738",
    "redacted": "#b1b4b6",
    "transfer": "#85994b",
    "unknown": "#d4d5d6",
}
PALETTE = [
    "#1d70b8",
    "#00703c",
    "#f47738",
    "#912b88",
    "#28a197",
    "#6f72af",
    "#d4351c",
    "#85994b",
    "#b58840",
    "#5694ca",
    "#b1b4b6",
]
FONT = "font-family='system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif'"


def colour(key: str, i: int = 0) -> str:
    return SECTOR_COLOURS.get(key, PALETTE[i % len(PALETTE)])


def money(pence: float | int | None) -> str:
    """£ with a sensible unit: £1.2bn, £3.4m, £56k, £780."""
    if pence is None:
        return "–"
    gbp = pence / 100
    sign = "-" if gbp < 0 else ""
    gbp = abs(gbp)
    if gbp >= 1e9:
        return f"{sign}£{gbp / 1e9:.1f}bn"
    if gbp >= 1e6:
        return f"{sign}£{gbp / 1e6:.1f}m"
    if gbp >= 1e4:
        return f"{sign}£{gbp / 1e3:.0f}k"
    return f"{sign}£{gbp:,.0f}"


def hbar(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    fmt=money,
    width: int = 640,
    colours: Sequence[str] | None = None,
    max_value: float | None = None,
) -> Markup:
    """Horizontal bars, one per ``(label, value)``; negative values draw as zero-length bars."""
    row_h, label_w, value_w, top = 26, 230, 80, 8
    height = top + row_h * max(len(items), 1) + 4
    bar_w = width - label_w - value_w
    vmax = max_value or max((v for _, v in items if v and v > 0), default=1) or 1
    parts = [_open(width, height, title)]
    for i, (label, value) in enumerate(items):
        y = top + i * row_h
        w = max(0.0, (value or 0) / vmax * bar_w)
        fill = colours[i] if colours else PALETTE[0]
        parts.append(
            f"<text x='{label_w - 8}' y='{y + 17}' text-anchor='end' font-size='13' fill='#0b0c0c'>"
            f"{escape(_clip(label, 30))}</text>"
            f"<rect x='{label_w}' y='{y + 4}' width='{w:.1f}' height='{row_h - 8}' fill='{fill}' rx='2'>"
            f"<title>{escape(label)}: {escape(fmt(value))}</title></rect>"
            f"<text x='{label_w + w + 6:.1f}' y='{y + 17}' font-size='12' fill='#505a5f'>{escape(fmt(value))}</text>"
        )
    if not items:
        parts.append("<text x='8' y='20' font-size='13' fill='#505a5f'>No data</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_share(
    rows: Sequence[tuple[str, dict[str, float]]],
    *,
    title: str,
    width: int = 640,
    order: Sequence[str] | None = None,
    notes: dict[str, str] | None = None,
    muted: dict[str, str] | None = None,
) -> Markup:
    """One 100% bar per row label (e.g. a financial year), split by key (e.g. sector), with a legend.

    ``notes``: a caption right of a row's bar (what the bar covers: "3 councils · £125m"). ``muted``: rows
    drawn as a grey bar with this text instead of shares (too little data to mean anything, or no data:
    a gap stays visible rather than closing up).
    """
    notes, muted = notes or {}, muted or {}
    keys = list(order or [])
    for label, parts_ in rows:
        if label not in muted:
            keys += [k for k in parts_ if k not in keys]
    keys = [k for k in keys if any(p.get(k, 0) > 0 for label, p in rows if label not in muted)]
    row_h, label_w, top = 30, 80, 8
    note_w = 170 if notes else 0
    legend_rows = (len(keys) + 3) // 4
    height = top + row_h * max(len(rows), 1) + 10 + legend_rows * 20
    bar_w = width - label_w - 10 - note_w
    out = [_open(width, height, title)]
    for i, (label, parts_) in enumerate(rows):
        y = top + i * row_h
        out.append(
            f"<text x='{label_w - 8}' y='{y + 19}' text-anchor='end' font-size='13'>{escape(label)}</text>"
        )
        if label in notes:
            out.append(
                f"<text x='{label_w + bar_w + 8}' y='{y + 19}' font-size='11' fill='#505a5f'>"
                f"{escape(notes[label])}</text>"
            )
        if label in muted:
            out.append(
                f"<rect x='{label_w}' y='{y + 4}' width='{bar_w}' height='{row_h - 8}' fill='#f3f2f1' "
                f"stroke='#b1b4b6' stroke-dasharray='4 3'><title>{escape(label)}: {escape(muted[label])}"
                f"</title></rect><text x='{label_w + 8}' y='{y + 19}' font-size='11' fill='#505a5f'>"
                f"{escape(muted[label])}</text>"
            )
            continue
        out += _stack(label, parts_, keys, label_w, y, row_h, bar_w)
    ly = top + row_h * max(len(rows), 1) + 10
    for j, k in enumerate(keys):
        lx = label_w + (j % 4) * ((width - label_w - 10) / 4)
        yy = ly + (j // 4) * 20
        out.append(
            f"<rect x='{lx:.1f}' y='{yy}' width='12' height='12' fill='{colour(k, j)}'/>"
            f"<text x='{lx + 17:.1f}' y='{yy + 11}' font-size='12'>{escape(k.replace('_', ' '))}</text>"
        )
    out.append("</svg>")
    return Markup("".join(out))


def _stack(
    label: str, parts_: dict[str, float], keys: list[str], x0: int, y: int, row_h: int, bar_w: float
) -> list[str]:
    """One 100% bar's segments, each with its share as a tooltip (and a label where it fits)."""
    total = sum(max(v, 0) for v in parts_.values()) or 1
    x, out = float(x0), []
    for j, k in enumerate(keys):
        v = max(parts_.get(k, 0), 0)
        w = v / total * bar_w
        if w <= 0:
            continue
        out.append(
            f"<rect x='{x:.1f}' y='{y + 4}' width='{w:.1f}' height='{row_h - 8}' fill='{colour(k, j)}'>"
            f"<title>{escape(label)} · {escape(k)}: {100 * v / total:.1f}%</title></rect>"
        )
        if w > 34:
            out.append(
                f"<text x='{x + w / 2:.1f}' y='{y + 19}' text-anchor='middle' font-size='11' "
                f"fill='#fff'>{100 * v / total:.0f}%</text>"
            )
        x += w
    return out


def line(
    series: dict[str, Sequence[tuple[str, float]]],
    *,
    title: str,
    width: int = 640,
    height: int = 240,
    fmt=lambda v: f"{v:.0f}%",
    max_value: float | None = 100,
) -> Markup:
    """Lines over shared x labels (e.g. share by year); points carry tooltips and value labels.

    Percentages use a fixed 0-100 axis so two councils' charts compare at a glance.
    """
    xs: list[str] = []
    for pts in series.values():
        xs += [x for x, _ in pts if x not in xs]
    xs.sort()
    left, right, top, bottom = 50, 50, 10, 30 + 18 * len(series)
    vmax = max_value or max((v for pts in series.values() for _, v in pts if v is not None), default=1) or 1
    pw, ph = width - left - right, height - top - bottom
    out = [_open(width, height, title)]
    for t in range(5):
        v = vmax * t / 4
        y = top + ph - ph * t / 4
        out.append(
            f"<line x1='{left}' x2='{width - right}' y1='{y:.1f}' y2='{y:.1f}' stroke='#e5e6e7'/>"
            f"<text x='{left - 6}' y='{y + 4:.1f}' text-anchor='end' font-size='11' fill='#505a5f'>"
            f"{escape(fmt(v))}</text>"
        )

    inset = 30  # keep end points and their labels clear of the axis labels

    def px(i: int) -> float:
        return left + inset + ((pw - 2 * inset) * i / (len(xs) - 1) if len(xs) > 1 else (pw - 2 * inset) / 2)

    for i, x in enumerate(xs):
        out.append(
            f"<text x='{px(i):.1f}' y='{top + ph + 18}' text-anchor='middle' font-size='12'>"
            f"{escape(x)}</text>"
        )
    for j, (name, pts) in enumerate(series.items()):
        c = PALETTE[j % len(PALETTE)]
        coords = [(px(xs.index(x)), top + ph - ph * (v / vmax)) for x, v in pts if v is not None]
        if len(coords) > 1:
            d = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            out.append(f"<polyline points='{d}' fill='none' stroke='{c}' stroke-width='2'/>")
        for (x, y), (xl, v) in zip(coords, [p for p in pts if p[1] is not None], strict=True):
            out.append(
                f"<circle cx='{x:.1f}' cy='{y:.1f}' r='4' fill='{c}'><title>{escape(name)} {escape(xl)}: "
                f"{escape(fmt(v))}</title></circle>"
                f"<text x='{x:.1f}' y='{y - 8:.1f}' text-anchor='middle' font-size='11' fill='{c}'>"
                f"{escape(fmt(v))}</text>"
            )
        ly = height - 14 - 18 * (len(series) - 1 - j)
        out.append(
            f"<rect x='{left}' y='{ly - 9}' width='12' height='3' fill='{c}'/>"
            f"<text x='{left + 18}' y='{ly - 4}' font-size='12'>{escape(name)}</text>"
        )
    out.append("</svg>")
    return Markup("".join(out))


def _open(width: int, height: int, title: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' class='chart' role='img' viewBox='0 0 {width} {height}' "
        f"width='100%' style='max-width:{width}px' {FONT}><title>{escape(title)}</title>"
    )


def _clip(text: str, n: int) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"
