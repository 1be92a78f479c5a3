"""``councilspend add``: files you already have (files, folders, ZIPs) into the raw store and manifest.

The crawler is one way into ``DATA/raw``; this is the other. Each file is stored exactly as the
crawler stores a download (``raw/files/<sha256>.<ext>``) and gets a manifest row under the same
contract (source ``local``, a ``file:`` URL, ``source_path``, ``added_at``), so ``publish`` treats
both alike. It lives in ``normalise/`` because the council is read from the file itself (a council
column, the preamble, the file or folder name): the normaliser's reading is what tells it.

Everything is decided before anything is written: a file whose council cannot be told, or that is
not a spreadsheet, stops the whole command with a message naming it, and the store and manifest are
left as they were. Bytes already in the manifest are skipped, so adding twice changes nothing.
"""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from councilspend.paths import DataDir
from councilspend.sniff import SniffError, check_zip_safe, sniff
from crawler.filetypes import SPREADSHEET_IN_ZIP, extension, name_extension, rejection
from crawler.items import FETCHED_AT_FORMAT
from crawler.manifest import merge, read_manifest, write_manifest
from crawler.pipelines import store_bytes
from normalise import council as council_mod
from normalise.pipeline import normalise_file

SPREADSHEET = SPREADSHEET_IN_ZIP | {"zip"}


class AddError(ValueError):
    """A file cannot be added; the message names it and says what to do. Nothing was written."""


@dataclass
class Found:
    """One file to add: where its bytes are now, and the path the user knows it by."""

    path: Path
    source_path: str
    url: str
    sha256: str = ""
    council_id: str = ""
    evidence: str = ""
    note: str = ""  # a warning to show (the file names another council than --council)


@dataclass
class Outcome:
    added: list[Found]
    already: list[Found]
    skipped: list[str]  # files in folders that are not spreadsheets (README.md, descriptors)
    note: str = ""  # a warning about --council (a well-formed code no list knows)


def _is_spreadsheet_name(path: Path) -> bool:
    return name_extension(path.name) in SPREADSHEET


def _files(given: Path) -> tuple[list[Path], list[str]]:
    """A path the user gave -> (files to add, folder files skipped as not spreadsheets)."""
    if not given.exists():
        raise AddError(f"{given} does not exist")
    if not given.is_dir():
        return [given], []
    inside = sorted(p for p in given.rglob("*") if p.is_file())
    inside = [p for p in inside if not any(part.startswith(".") for part in p.relative_to(given).parts)]
    return [p for p in inside if _is_spreadsheet_name(p)], [
        str(p) for p in inside if not _is_spreadsheet_name(p)
    ]


@contextmanager
def gather(paths: list[Path]) -> Iterator[tuple[list[Found], list[str]]]:
    """Expand files, folders (recursively; hidden files left out) and ZIPs (one level, members
    extracted to a temporary folder that lives as long as the context) into files to add."""
    found: list[Found] = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="councilspend-add-") as tmp:
        for given in paths:
            files, rest = _files(given)
            skipped.extend(rest)
            for f in files:
                with f.open("rb") as fh:
                    head = fh.read(4)
                if head.startswith(b"PK") and sniff(f.read_bytes()) == "zip":
                    found.extend(_members(f, Path(tmp) / str(len(found))))
                else:
                    found.append(Found(f, str(f), f.resolve().as_uri()))
        yield found, skipped


def _members(archive: Path, into: Path) -> list[Found]:
    """A ZIP's spreadsheet members, extracted (after the ZIP-bomb check) under their own folders, so
    a folder inside the ZIP still names the council."""
    data = archive.read_bytes()
    try:
        check_zip_safe(data)
        with zipfile.ZipFile(archive) as zf:
            out = []
            for info in zf.infolist():
                member = PurePosixPath(info.filename)
                if (
                    info.is_dir()
                    or ".." in member.parts
                    or name_extension(member.name) not in SPREADSHEET_IN_ZIP
                ):
                    continue
                dest = into.joinpath(*member.parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(zf.read(info))
                out.append(Found(dest, f"{archive}/{member}", f"{archive.resolve().as_uri()}#{member}"))
    except (SniffError, zipfile.BadZipFile, OSError) as exc:
        raise AddError(f"{archive}: cannot open the ZIP: {exc}") from exc
    if not out:
        raise AddError(f"{archive}: the ZIP holds no CSV, TSV, XLS, XLSX or ODS file")
    return out


def resolve_council(value: str) -> tuple[str, str]:
    """``--council`` (GSS code, SNAC code or name) -> (GSS, name); an AddError says what is near."""
    from crawler.registry import RegistryError, load_registry, resolve

    try:
        registry = load_registry()
    except RegistryError:
        registry = []
    gss, name = council_mod.resolve_given(value, registry)
    if gss is None and (hit := resolve(value, registry=registry)):
        gss, name = hit["id"], hit.get("name", "")
    if gss:
        return gss, name
    near = council_mod.suggestions(value)
    hint = "; did you mean " + " or ".join(f"{n!r} ({g})" for n, g in near) + "?" if near else ""
    raise AddError(f"--council {value!r} is not a council name or code we know{hint}")


def identify(found: Found, given: str | None) -> None:
    """Check the file is a spreadsheet and settle its council (``given`` wins; the file's own
    content is the cross-check)."""
    data = found.path.read_bytes()
    ext = extension(found.path.name, None, data)
    if reason := rejection(data, ext, None):
        raise AddError(f"{found.source_path}: not a spending file ({reason})")
    report = normalise_file(found.path, sha256=found.sha256).report
    content, evidence = report.get("council_from_content"), report.get("council_evidence", "")
    if given:
        found.council_id, found.evidence = given, "--council"
        if content and content != given:
            found.note = (
                f"the file itself names {council_mod.council_name(content) or content} ({content}: "
                f"{evidence}); added as {given} as you asked"
            )
        return
    if not content:
        raise AddError(
            f"{found.source_path}: cannot tell which council published it (no council column, and "
            f"neither its preamble, its file name nor its folder names one). Add it on its own with "
            f"--council NAME_OR_CODE, e.g. --council 'Newcastle upon Tyne' or --council E08000021"
        )
    found.council_id, found.evidence = content, evidence


def add_files(paths: list[Path], data_dir: Path, council: str | None = None) -> Outcome:
    """Add ``paths`` to ``data_dir``'s raw store and manifest; see the module docstring."""
    data = DataDir(Path(data_dir))
    given, given_name = resolve_council(council) if council else (None, "")
    try:
        previous = read_manifest(data.manifest)
    except ValueError as exc:
        raise AddError(f"{exc}; move it aside or fix it before adding files") from exc
    known = {r["sha256"]: r for r in previous if r["sha256"]}
    with gather(paths) as (found, skipped):
        if not found:
            raise AddError(
                f"no spreadsheet files in {', '.join(map(str, paths))} (looked for "
                f"{', '.join(sorted(SPREADSHEET))})"
            )
        new, already, seen = [], [], set()
        for f in found:
            f.sha256 = hashlib.sha256(f.path.read_bytes()).hexdigest()
            if f.sha256 in known or f.sha256 in seen:
                already.append(f)
                continue
            seen.add(f.sha256)
            identify(f, given)
            new.append(f)
        if new:
            _write(data, previous, new)
    note = (
        f"{given} is in no list of councils (authorities.yml, crawler/councils.yml); added as given"
        if (given and not given_name)
        else ""
    )
    return Outcome(new, already, skipped, note)


def _write(data: DataDir, previous: list[dict], new: list[Found]) -> None:
    """Store each file's bytes by hash, then the manifest in one atomic replace."""
    now = datetime.now(UTC).strftime(FETCHED_AT_FORMAT)
    records = []
    for f in new:
        body = f.path.read_bytes()
        name = PurePosixPath(f.source_path).name
        sha, rel = store_bytes(data.raw, body, extension(name, None, body))
        records.append(
            {
                "url": f.url,
                "council_id": f.council_id,
                "sha256": sha,
                "bytes": len(body),
                "fetched_at": now,
                "status": "fetched",
                "path": rel,
                "file_name": name,
                "source": "local",
                "source_path": f.source_path,
                "added_at": now,
            }
        )
    rows, _ = merge(previous, records)
    write_manifest(data.manifest, rows)
