"""Reference data shipped with the package, so a first ``publish`` works without downloads.

``outturn/``: MHCLG Revenue Outturn service-expenditure summaries (RSX) for 2021-22, 2022-23 and
2023-24, the denominator of M3, byte for byte as published (licence and source in
``outturn/README.md``). A Revenue Outturn loaded into ``registers.db`` (``councilspend outturn
load``) is used instead whenever there is one.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

OUTTURN_DIR = Path(__file__).parent / "outturn"


def bundled_outturn() -> pd.DataFrame:
    """The bundled RSX releases as ``normalise.categories.outturn.read_outturn`` returns a database's:
    one row per (gss, financial_year, division); one release per year, so nothing to choose between."""
    from normalise.categories.outturn import COLUMNS, parse_rsx

    frames = [parse_rsx(p) for p in sorted(OUTTURN_DIR.glob("RSX_*.csv"))]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["gss", "financial_year", "division"], ignore_index=True)[COLUMNS]


def outturn_for(registers_db: Path | None) -> pd.DataFrame:
    """Revenue Outturn by (gss, financial_year, division), latest release: what ``registers_db`` holds,
    and for the councils and years it lacks, the bundled releases (``normalise/reference/outturn``)."""
    from normalise.categories.outturn import COLUMNS
    from normalise.categories.outturn import read_outturn as read

    loaded = read(Path(registers_db)) if registers_db is not None and Path(registers_db).exists() else None
    bundled = bundled_outturn()
    if loaded is not None and not loaded.empty:
        have = pd.MultiIndex.from_frame(loaded[["gss", "financial_year"]].astype(str))
        extra = bundled[~pd.MultiIndex.from_frame(bundled[["gss", "financial_year"]].astype(str)).isin(have)]
        return pd.concat([loaded, extra], ignore_index=True) if len(extra) else loaded
    return bundled if not bundled.empty else pd.DataFrame({c: pd.Series(dtype="object") for c in COLUMNS})
