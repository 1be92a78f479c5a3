"""Read the normaliser's output directory: ``files.csv``, ``rows/<sha>.parquet``, ``reports/<sha>.json``.

Only files whose status is ``counted`` contribute payment rows (superseded and overlapping files
are listed on the site, never summed twice). A file whose Parquet cannot be read is reported and
skipped; it never stops the other files from being published.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from councilspend.schemas import descriptor, field_names

log = logging.getLogger(__name__)
#: Threads reading files, and files read ahead of the one being worked on (a few thousand rows each).
READERS = 2
READ_AHEAD = READERS + 2

PAYMENT_COLUMNS = field_names("payment")
REQUIRED = ["council_id", "amount", "source_sha256", "source_row"]
_ARROW = {"number": pa.float64(), "integer": pa.int64(), "boolean": pa.bool_()}
#: Each payment column's Arrow type, from the contract (text and dates are strings in the Parquet).
_CONTRACT = {f["name"]: f.get("type", "string") for f in descriptor("payment")["fields"]}
ARROW_TYPES = {name: _ARROW.get(kind, pa.large_string()) for name, kind in _CONTRACT.items()}


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

    @property
    def counted_rows(self) -> int:
        """The rows of the counted files, as ``files.csv`` gives them (0 where it does not say)."""
        if "rows_kept" not in self.files.columns:
            return 0
        kept = self.files.loc[self.files["status"] == "counted", "rows_kept"]
        return int(pd.to_numeric(kept, errors="coerce").fillna(0).sum())

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

    def read_table(self, sha: str, columns: list[str] | None = None) -> pa.Table:
        """Canonical rows of one counted file as an Arrow table with every requested column present.

        Arrow, not pandas, per file: pandas' per-call overhead (~15 ms) times 10,000 monthly files was
        most of a national build; batches are converted to pandas once (:meth:`iter_batches`).
        """
        path = self.rows_path(sha)
        wanted = columns or PAYMENT_COLUMNS
        try:
            pf = pq.ParquetFile(path)
            names = set(pf.schema_arrow.names)
            # One small file at a time: a thread pool per file costs more than it saves.
            table = pf.read(columns=[c for c in wanted if c in names], use_threads=False)
        except Exception as exc:  # noqa: BLE001 - any reader failure is reported per file
            raise InputError(f"{path}: cannot read rows ({type(exc).__name__}: {exc})") from exc
        missing = [c for c in REQUIRED if c in wanted and c not in table.column_names]
        if missing:
            raise InputError(f"{path}: missing required column(s) {', '.join(missing)}")
        table = _conform(table, path)
        for col in wanted:
            if col not in table.column_names:
                table = table.append_column(
                    col, pa.nulls(table.num_rows, ARROW_TYPES.get(col, pa.large_string()))
                )
        return table.select(wanted)

    def read_rows(self, sha: str, columns: list[str] | None = None) -> pd.DataFrame:
        """Canonical rows of one counted file, with every payment-schema column present."""
        return _to_pandas([self.read_table(sha, columns)])

    def iter_rows(self, columns: list[str] | None = None) -> Iterator[tuple[str, pd.DataFrame]]:
        """Yield ``(sha256, rows)`` for every counted file; unreadable files are recorded and skipped."""
        for sha, table in self._iter_tables(columns):
            yield sha, _to_pandas([table])

    def _iter_tables(self, columns: list[str] | None) -> Iterator[tuple[str, pa.Table]]:
        """Every counted file's table in order, read ahead on worker threads (Parquet decodes
        without the GIL) while the caller works on the last one."""
        counted = self.counted
        pool = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="read-ahead")
        try:
            ahead: deque[tuple[str, Future]] = deque()
            for i in range(len(counted) + READ_AHEAD):
                if i < len(counted):
                    ahead.append((counted[i], pool.submit(self.read_table, counted[i], columns)))
                if i < READ_AHEAD - 1 or not ahead:
                    continue
                sha, future = ahead.popleft()
                try:
                    table = future.result()
                except InputError as exc:
                    log.error("%s", exc)
                    self.unreadable[sha] = str(exc)
                    continue
                yield sha, table
        finally:  # the caller stopped early or failed: do not read the files queued for it
            pool.shutdown(wait=True, cancel_futures=True)

    def iter_batches(
        self, columns: list[str] | None = None, min_rows: int = 250_000
    ) -> Iterator[pd.DataFrame]:
        """Counted rows in batches of at least ``min_rows`` (whole files): pandas' per-call overhead
        is paid per batch, not per file, so a thousand small monthly files cost what one big one does."""
        for parts in self._grouped(columns, min_rows):
            yield _to_pandas(parts)

    def iter_tables(self, columns: list[str] | None = None, min_rows: int = 250_000) -> Iterator[pa.Table]:
        """Like :meth:`iter_batches`, as Arrow tables (what the build shapes and inserts)."""
        for parts in self._grouped(columns, min_rows):
            yield _concat(parts)

    def _grouped(self, columns: list[str] | None, min_rows: int) -> Iterator[list[pa.Table]]:
        """Per-file tables grouped until a group holds at least ``min_rows`` rows."""
        parts, n = [], 0
        for _sha, table in self._iter_tables(columns):
            parts.append(table)
            n += table.num_rows
            if n >= min_rows:
                yield parts
                parts, n = [], 0
        if parts:
            yield parts


def _conform(table: pa.Table, path: Path) -> pa.Table:
    """Cast each column to its contract type; a value that is not of it is an error naming the file,
    the source row and the field (the caller records the file as unreadable and goes on)."""
    for i, name in enumerate(table.column_names):
        want = ARROW_TYPES.get(name)
        col = table.column(i)
        if want is not None and col.type != want:
            try:
                table = table.set_column(i, name, col.cast(want))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
                raise InputError(_bad_value(table, path, name, want, exc)) from exc
    if "amount" in table.column_names and table["amount"].null_count:
        row = _source_row(table, pc.index(pc.is_null(table["amount"]), True).as_py())
        raise InputError(f"{path}: row {row}: field 'amount' is empty (the contract requires it)")
    return table


def _bad_value(table: pa.Table, path: Path, name: str, want: pa.DataType, exc: Exception) -> str:
    """Which row's value failed the cast (the error path only, so a Python loop is fine)."""
    for i, value in enumerate(table[name].to_pylist()):
        try:
            pa.array([value]).cast(want)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return (
                f"{path}: row {_source_row(table, i)}: field {name!r}: {value!r} is not a {_CONTRACT[name]}"
            )
    return f"{path}: field {name!r} is not a {_CONTRACT[name]} ({exc})"


def _source_row(table: pa.Table, i: int) -> object:
    return table["source_row"][i].as_py() if "source_row" in table.column_names else i + 1


def _concat(tables: list[pa.Table]) -> pa.Table:
    """One table from per-file tables whose column types may differ (an all-empty column read as
    null, integers in one file and floats in another)."""
    plain = [t.replace_schema_metadata(None) for t in tables]
    try:
        return pa.concat_tables(plain, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pa.Table.from_pandas(_to_pandas(tables), preserve_index=False)


def _to_pandas(tables: list[pa.Table]) -> pd.DataFrame:
    """One DataFrame from per-file tables; files whose column types differ (an all-empty column read
    as null, integers in one file and floats in another) are converted one by one and concatenated."""
    # The normaliser writes pandas metadata (nullable Int64/boolean dtypes): keep the first file's.
    meta = tables[0].schema.metadata
    try:
        table = pa.concat_tables(
            [t.replace_schema_metadata(None) for t in tables], promote_options="permissive"
        )
        return table.replace_schema_metadata(meta).to_pandas()
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pd.concat([t.to_pandas() for t in tables], ignore_index=True)


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
