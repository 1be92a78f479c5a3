"""The Dask executor gives exactly the local result: same Parquet contents, same files rows."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest

from benchmarks.generate import generate

# dask is an optional extra for users; `make test` installs it, so this test always runs there.
pytest.importorskip("dask.distributed", reason="the optional extra councilspend[dask] is not installed")


def test_dask_run_matches_local_run(tmp_path, caplog):
    from normalise.dask_executor import run
    from normalise.manifest import normalise_manifest

    gen = generate(tmp_path / "data", rows=1500, months=1, seed=5)
    local = normalise_manifest(gen.manifest, tmp_path / "local", workers=1, progress=False)
    with caplog.at_level(logging.INFO, logger="normalise.dask_executor"):
        distributed = run(gen.manifest, tmp_path / "dask", n_workers=2)
    # the workers did the work (the local cross-file step only read their reports)
    assert f"normalised {gen.files} files as Dask tasks, 0 failed" in caplog.text

    assert distributed == local
    assert len(local) == gen.files and all(f["status"] == "counted" for f in local)
    # byte for byte: every rows file, report and files.csv (a worker's first file and its later ones
    # take different conversion paths, so this also pins that the path does not show in the bytes)
    outputs = sorted(
        p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("*") if p.is_file()
    )
    assert outputs == sorted(
        p.relative_to(tmp_path / "dask") for p in (tmp_path / "dask").rglob("*") if p.is_file()
    )
    assert len(outputs) == 2 * gen.files + 1
    differ = [
        str(p)
        for p in outputs
        if (tmp_path / "local" / p).read_bytes() != (tmp_path / "dask" / p).read_bytes()
    ]
    assert differ == []
    for f in local:
        name = f"{f['sha256']}.parquet"
        a = pd.read_parquet(tmp_path / "local" / "rows" / name)
        b = pd.read_parquet(tmp_path / "dask" / "rows" / name)
        pd.testing.assert_frame_equal(a, b)
        ra = json.loads((tmp_path / "local" / "reports" / f"{f['sha256']}.json").read_text(encoding="utf-8"))
        rb = json.loads((tmp_path / "dask" / "reports" / f"{f['sha256']}.json").read_text(encoding="utf-8"))
        assert ra == rb
    assert sum(f["rows_kept"] for f in distributed) == 1500
