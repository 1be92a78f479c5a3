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


#: glibc's ``mallopt`` parameter number, and the size above which a buffer is mapped on its own (and
#: unmapped when freed).
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 20


def fix_mmap_threshold() -> None:
    """Keep glibc's mmap threshold fixed (1 MB), so big buffers are always mapped and returned when freed.

    Why: glibc raises the threshold each time a mapped buffer is freed (up to 32 MB), and buffers below it
    then come from the heap, where freed ones stay in RSS, fragmented. Classification frees many such
    buffers, so the build that followed it in the same process ran 0.2-0.4 GB higher than alone (10M:
    1.56 GB against 1.36 GB); with the threshold fixed, 1.35 GB (docs/scaling.md, fifth pass). Setting it
    is process-wide and harmless to call again.
    """
    try:
        ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    except (OSError, AttributeError):  # not glibc
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
