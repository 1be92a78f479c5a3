"""The build's stage log: one INFO line per stage on the ``publish.build.build`` logger, whichever module
or thread runs the stage (the bench collects these lines, ``benchmarks/stages.py``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psutil

log = logging.getLogger("publish.build.build")


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Log how long a build stage took, the CPU it used on all threads, and the memory held after it
    (``logging`` INFO): where the time goes on 10M rows, and how many cores each stage kept busy."""
    start, cpu = time.perf_counter(), time.process_time()
    yield
    rss = psutil.Process().memory_info().rss / 2**20
    log.info(
        "build stage %s: %.1f s, CPU %.1f s (RSS now %.0f MB)",
        name,
        time.perf_counter() - start,
        time.process_time() - cpu,
        rss,
    )
