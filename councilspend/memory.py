"""Hand freed memory back to the system between the big phases of one process.

glibc's allocator and Arrow's memory pool keep freed pages for reuse. When classification (millions of
distinct payee keys) and the build run in one process, the build would otherwise start on top of
classification's high-water mark, and the process's peak RSS is the sum of both phases, not the larger.
"""

from __future__ import annotations

import ctypes
import gc

import pyarrow as pa


def release_memory() -> None:
    """Collect garbage, then return free pages of Arrow's pool and of glibc's heap to the system."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass
