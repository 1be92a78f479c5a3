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
