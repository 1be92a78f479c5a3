"""Read the normaliser's output directory: ``files.csv``, ``rows/<sha>.parquet``, ``reports/<sha>.json``.

Only files whose status is ``counted`` contribute payment rows (superseded and overlapping files
are listed on the site, never summed twice). A file whose Parquet cannot be read is reported and
skipped; it never stops the other files from being published.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from councilspend.schemas import field_names

log = logging.getLogger(__name__)

PAYMENT_COLUMNS = field_names("payment")
REQUIRED = ["council_id", "amount", "source_sha256", "source_row"]


class InputError(Exception):
    """The normalised directory is missing or malformed (the message names the file)."""


@dataclass
class NormalisedDir:
    root: Path
    files: pd.DataFrame
    unreadable: dict[str, str] = field(default_factory=dict)  # sha256 -> why

    @property
    def counted(self) -> list[str]:
        rows = self.files[self.files["status"] == "counted"]
        return [s for s in rows["sha256"] if s not in self.unreadable]

    def rows_path(self, sha: str) -> Path:
        return self.root / "rows" / f"{sha}.parquet"

    def report(self, sha: str) -> dict:
        """The per-file report, or ``{}`` when the normaliser wrote none or it is unreadable."""
        path = self.root / "reports" / f"{sha}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable report (%s)", path, exc)
            return {}

    def read_rows(self, sha: str, columns: list[str] | None = None) -> pd.DataFrame:
        """Canonical rows of one counted file, with every payment-schema column present."""
        path = self.rows_path(sha)
        try:
            df = pd.read_parquet(path, columns=None if columns is None else _present(path, columns))
        except Exception as exc:  # noqa: BLE001 - any reader failure is reported per file
            raise InputError(f"{path}: cannot read rows ({type(exc).__name__}: {exc})") from exc
        missing = [c for c in REQUIRED if (columns is None or c in columns) and c not in df.columns]
        if missing:
            raise InputError(f"{path}: missing required column(s) {', '.join(missing)}")
        for col in columns or PAYMENT_COLUMNS:
            if col not in df.columns:
                df[col] = pd.NA
        return df[columns or PAYMENT_COLUMNS]

    def iter_rows(self, columns: list[str] | None = None) -> Iterator[tuple[str, pd.DataFrame]]:
        """Yield ``(sha256, rows)`` for every counted file; unreadable files are recorded and skipped."""
        for sha in self.counted:
            try:
                yield sha, self.read_rows(sha, columns)
            except InputError as exc:
                log.error("%s", exc)
                self.unreadable[sha] = str(exc)


    def iter_batches(self, columns: list[str] | None = None, min_rows: int = 250_000
                     ) -> Iterator[pd.DataFrame]:
        """Counted rows in batches of at least ``min_rows`` (whole files): pandas' per-call overhead
        is paid per batch, not per file, so a thousand small monthly files cost what one big one does."""
        parts, n = [], 0
        for _sha, rows in self.iter_rows(columns):
            parts.append(rows)
            n += len(rows)
            if n >= min_rows:
                yield pd.concat(parts, ignore_index=True)
                parts, n = [], 0
        if parts:
            yield pd.concat(parts, ignore_index=True)


def _present(path: Path, columns: list[str]) -> list[str]:
    import pyarrow.parquet as pq

    names = set(pq.read_schema(path).names)
    return [c for c in columns if c in names]


def open_normalised(root: Path) -> NormalisedDir:
    """Open ``root`` (the ``normalised`` directory) and read its ``files.csv``."""
    root = Path(root)
    files_csv = root / "files.csv"
    if not files_csv.exists():
        raise InputError(f"{files_csv}: not found; run `councilspend normalise` first")
    files = pd.read_csv(files_csv, dtype=str, keep_default_na=False)
    for col in ("sha256", "council_id", "status"):
        if col not in files.columns:
            raise InputError(f"{files_csv}: missing column {col!r}")
    dupes = files["sha256"][files["sha256"].duplicated()]
    if len(dupes):
        log.warning("%s: %d duplicate sha256 rows; keeping the first of each", files_csv, len(dupes))
        files = files.drop_duplicates("sha256")
    nd = NormalisedDir(root=root, files=files.reset_index(drop=True))
    for sha in nd.counted:
        if not nd.rows_path(sha).exists():
            nd.unreadable[sha] = f"{nd.rows_path(sha)}: rows file missing"
            log.error("%s", nd.unreadable[sha])
    return nd
