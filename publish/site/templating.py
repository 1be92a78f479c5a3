"""Where the site's templates and stylesheet live, and the formatting filters every template uses."""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"
TEMPLATES = Path(__file__).parent / "templates"


def add_filters(env) -> None:
    """The site's formatting filters (also used by the synchronous environment in ``publish.site.pages``)."""
    from publish.site.charts import money

    env.filters["money"] = money
    env.filters["gbp"] = lambda v: "–" if v is None else (f"-£{-v:,.2f}" if v < 0 else f"£{v:,.2f}")
    env.filters["pct"] = lambda v: "–" if v is None else f"{float(v):.1f}%"
    env.filters["size"] = file_size
    env.filters["plural"] = plural


def file_size(n: int | None) -> str:
    """Bytes in the unit that shows them: "840 bytes", "12 KB", "3.4 MB" (most downloads are under 1 MB,
    and "0.0 MB" told nobody anything)."""
    if n is None:
        return "–"
    if n < 1024:
        return f"{n:,} byte{'' if n == 1 else 's'}"
    if n < 1024 * 1024:
        return f"{n / 1024:,.0f} KB"
    if n < 1024**3:
        return f"{n / 1024**2:,.1f} MB"
    return f"{n / 1024**3:,.1f} GB"


def plural(n: int | None, one: str, many: str | None = None) -> str:
    """``n`` and the word agreeing with it: "1 row", "2 rows", "1,234 payments"."""
    n = n or 0
    return f"{n:,} {one if n == 1 else (many or one + 's')}"
