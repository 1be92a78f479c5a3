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


def use_jemalloc() -> str:
    """Make Arrow allocate from its jemalloc pool where this pyarrow has one; return the pool's name.

    Why: the default pool (mimalloc) kept about 0.6 GB of freed batches mapped after classification's
    first pass over 10M rows (RSS 1.10 GB for 0.30 GB of live Arrow data), and ``release_unused`` did
    not return it; jemalloc returned it (0.54 GB) and its peak was 0.3 GB lower (docs/scaling.md).
    The heavy phases call this first; arrays made before keep their own pool.
    """
    try:
        pool = pa.jemalloc_memory_pool()
    except (NotImplementedError, AttributeError):  # a pyarrow built without jemalloc
        return pa.default_memory_pool().backend_name
    pa.set_memory_pool(pool)
    return pool.backend_name
