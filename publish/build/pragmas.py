"""How every SQLite connection of a build is set up (the main writer, the ADBC inserter, the index
sorter and the side FTS writers share one definition)."""

from __future__ import annotations

#: Helper threads for SQLite's sorter (``PRAGMA threads``): a 10M-row index sorts in half the time.
SORT_THREADS = 2


def build_pragmas(cache_mb: int = 200, sort_threads: int = SORT_THREADS) -> list[str]:
    """How every connection of a build writes: no journal and no fsync (the file is temporary until
    it is swapped in, and a failed build is thrown away), ``cache_mb`` of page cache, helper sort threads."""
    return [
        "PRAGMA journal_mode=OFF",
        "PRAGMA synchronous=OFF",
        f"PRAGMA cache_size=-{cache_mb * 1000}",
        f"PRAGMA threads={sort_threads}",
    ]
