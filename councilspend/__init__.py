"""councilspend: English councils' transparency spending, crawled, normalised and published."""

__version__ = "0.1.0"
