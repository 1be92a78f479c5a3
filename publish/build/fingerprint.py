"""Skip a build whose inputs have not changed since the database was last built.

A monthly re-run usually finds nothing new; rebuilding 10M rows to get the same bytes costs minutes.
The fingerprint covers everything the database is made from: the normaliser's output (``files.csv``
and each rows file's name, size and mtime), the registry, the classify step's stamp, and the code and
rule files of this package and the published contracts.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

from councilspend import schemas

_REPO_PACKAGES = Path(__file__).resolve().parents[2]
CODE_DIRS = [Path(__file__).resolve().parent, schemas.SCHEMA_DIR / "published"]
CODE_SUFFIXES = {".py", ".yml", ".yaml", ".csv", ".txt", ".html"}


@cache
def code_digest() -> str:
    h = hashlib.sha256()
    for root in CODE_DIRS:
        for p in sorted(root.rglob("*")):
            if p.suffix in CODE_SUFFIXES and "__pycache__" not in p.parts:
                h.update(p.relative_to(root.parent).as_posix().encode())
                h.update(p.read_bytes())
    return h.hexdigest()


def _stat(p: Path) -> list:
    st = p.stat()
    return [p.name, st.st_size, st.st_mtime_ns]


def inputs_fingerprint(normalised: Path, registry: list[dict], downloads: bool) -> str:
    h = hashlib.sha256()
    files_csv = normalised / "files.csv"
    h.update(files_csv.read_bytes() if files_csv.exists() else b"")
    rows_dir = normalised / "rows"
    stats = [_stat(p) for p in sorted(rows_dir.glob("*.parquet"))] if rows_dir.exists() else []
    h.update(json.dumps(stats).encode())
    h.update(json.dumps(registry, sort_keys=True, default=str).encode())
    classes = normalised / "classes" / "stamp.json"  # what the classify step decided, and from what
    h.update(classes.read_bytes() if classes.exists() else b"")
    h.update(json.dumps({"downloads": downloads, "code": code_digest()}).encode())
    return h.hexdigest()


def stamp_path(db_path: Path) -> Path:
    return db_path.with_name(f"{db_path.stem}-build.json")


def unchanged(db_path: Path, fingerprint: str, required: list[Path]) -> bool:
    """True when ``db_path`` (and every ``required`` companion file) was built from these very inputs."""
    stamp = stamp_path(db_path)
    if not (db_path.exists() and stamp.exists() and all(p.exists() for p in required)):
        return False
    try:
        return json.loads(stamp.read_text(encoding="utf-8")).get("inputs") == fingerprint
    except (OSError, ValueError):
        return False


def write_stamp(db_path: Path, fingerprint: str) -> None:
    stamp = stamp_path(db_path)
    tmp = stamp.with_name(f".{stamp.name}.tmp")
    tmp.write_text(json.dumps({"inputs": fingerprint}), encoding="utf-8")
    tmp.replace(stamp)
