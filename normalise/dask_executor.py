"""Normalise a crawl on a Dask cluster: the same per-file function, as dask.distributed tasks.

Why this is small: ``normalise_one(entry, out_dir)`` is a pure function of (file, registry,
rules) that writes ``rows/<sha256>.parquet`` and ``reports/<sha256>.json``, so it runs unchanged
on any worker that sees the same files and output directory (a shared disk, or an object store
mounted at the same path). The cross-file step (superseded and overlapping files, ``files.csv``)
is cheap and stays on the client: after the tasks finish, ``normalise_manifest`` runs locally and,
because it is incremental, only reads the reports the workers wrote.

Dask is an optional extra (``pip install councilspend[dask]``) and is imported only here, lazily.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def _entries(manifest: Path, out_dir: Path) -> list[dict]:
    """The manifest rows ``normalise_manifest`` would normalise (one per stored sha256), checked
    against the contract (and their bytes against their hashes) before any task is sent."""
    from normalise.manifest import is_current
    from normalise.manifest_check import PROCESS_STATUSES, read_entries, verify_hashes

    todo: dict[str, dict] = {}
    for e in read_entries(manifest):
        sha = e.get("sha256", "")
        if sha and e.get("path") and e.get("status", "") in PROCESS_STATUSES:
            todo.setdefault(sha, e)
    verify_hashes(manifest, [e for e in todo.values() if not is_current(e["sha256"], out_dir)])
    return list(todo.values())


def run(manifest: Path, out_dir: Path, scheduler: str | None = None, *, n_workers: int = 2) -> list[dict]:
    """Normalise every file of ``manifest`` as Dask tasks; return the ``files.csv`` rows.

    ``scheduler`` is a dask.distributed address (``tcp://host:8786``); without one a
    ``LocalCluster`` of ``n_workers`` single-threaded processes is started on 127.0.0.1 and shut
    down afterwards. Output is identical to ``normalise_manifest(manifest, out_dir)``.
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise RuntimeError(
            "the Dask executor needs the optional extra: pip install 'councilspend[dask]'"
        ) from exc

    from normalise.manifest import normalise_manifest, normalise_one

    manifest, out_dir = Path(manifest).resolve(), Path(out_dir).resolve()
    entries = _entries(manifest, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
    try:
        with Client(cluster or scheduler) as client:
            keys = [f"normalise-{e['sha256']}" for e in entries]
            futures = client.map(normalise_one, entries, out_dir=out_dir, key=keys)
            # A task that died (a worker lost, not a bad file: normalise_one never raises on
            # those) leaves no output; the local step below normalises that file again.
            done = client.gather(futures, errors="skip")
    finally:
        if cluster is not None:
            cluster.close()
    log.info("normalised %d files as Dask tasks, %d failed", len(done), len(entries) - len(done))
    # The cross-file step, locally: the workers' outputs exist, so this only reads their reports.
    files = normalise_manifest(manifest, out_dir, workers=1, progress=False)
    return files
