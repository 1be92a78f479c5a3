"""The web "check your file" page's engine: the same report ``councilspend check`` prints.

The upload is written to a private temporary directory, read by the normaliser's hardened readers in a
child process with memory and time limits, and deleted before the page is rendered: nothing is stored.
Possible personal names (``normalise.check.possible_individuals``) are shown only to the uploader.
"""

from __future__ import annotations

import asyncio
import json
import re
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from publish.site.upload import UploadRefused, receive_upload

MAX_LISTED_ROWS = 100
_CLI_HINT = re.compile(r",? or give the council \(--council [A-Z_]+\)")


#: The checker runs as its own process (the site never imports the normaliser): a hostile upload can
#: exhaust that process's memory or CPU, never the web server's.
_CHECKER = (
    "import json, sys\n"
    "from normalise.check import check_file, render\n"
    "_, report = check_file(__import__('pathlib').Path(sys.argv[1]))\n"
    "report = dict(report); report['_text'] = render(report)\n"
    "sys.stdout.write(json.dumps(report, default=str))\n"
)
MEMORY_LIMIT = 1536 * 1024 * 1024  # bytes of address space for one check
CPU_SECONDS = 60
WALL_SECONDS = 90


def _limits() -> None:  # pragma: no cover - runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))


def _run_check(path: Path) -> dict:
    """``councilspend check``'s report (what the command prints), plus names to redact, from a child
    process with memory, CPU and wall-clock limits."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHECKER, str(path)],
            capture_output=True,
            text=True,
            timeout=WALL_SECONDS,
            preexec_fn=_limits,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return _failed(f"checking the file took longer than {WALL_SECONDS} seconds")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        if "MemoryError" in done.stderr or done.returncode < 0:
            last = "the file needs more memory or time to read than one check may use"
        return _failed(f"the file could not be read: {last}")
    return json.loads(done.stdout)


def _failed(message: str) -> dict:
    return {"problems": [{"severity": "error", "rule": "readable", "message": message}]}


async def check_request(request, *, limit: int, slots: asyncio.Semaphore) -> dict:
    """Receive the upload (``publish.site.upload``: streamed to disk, capped, with deadlines), check it
    in a limited child process when a checker slot is free, and delete it whatever happens. Raises
    ``UploadRefused`` (status and message for the page) when it cannot be checked."""
    with tempfile.TemporaryDirectory(prefix="councilspend-check-") as tmp:
        name, path = await receive_upload(request, Path(tmp), limit)
        if slots.locked():  # receiving held no slot; checking does, and a busy server says so
            raise UploadRefused(503, "The checker is busy with other files. Please try again in a minute.")
        async with slots:
            return await check_path(name, path)


async def check_path(name: str, path: Path) -> dict:
    """Check an uploaded file; return what the template shows."""
    safe = Path(name or "upload").name[:120] or "upload"
    try:
        report = await asyncio.to_thread(_run_check, path)
    except Exception as exc:  # noqa: BLE001 - a broken upload must give a message, not a 500
        report = _failed(f"the file could not be read: {type(exc).__name__}: {exc}")
    for_web = _web_wording(path, safe)
    if report.get("_text"):
        report["_text"] = for_web(report["_text"])
    for item in report.get("problems", []):
        if isinstance(item.get("message"), str):
            item["message"] = for_web(item["message"])
    for item in report.get("errors", []):
        for key in ("error", "message"):
            if isinstance(item.get(key), str):
                item[key] = for_web(item[key])
    return for_page(safe, report)


def _web_wording(path: Path, safe: str):
    """The report's words for the page: the uploader's own file name, not the stored copy
    ("upload.csv") or the private temp folder, and no command-line options (``--council``)."""

    def for_web(text: str) -> str:
        text = text.replace(str(path), safe).replace(path.name, safe)
        text = text.replace(" nor the folder " + repr(path.parent.name), "")
        text = text.replace(str(path.parent), "").replace(path.parent.name, "")
        text = text.replace("neither the preamble, the file name", "neither the preamble nor the file name")
        return _CLI_HINT.sub("", text)

    return for_web


def for_page(file_name: str, report: dict) -> dict:
    """Plain-words view of a normaliser report: verdict, facts, problems worst first, rows, names."""
    problems = [
        {"severity": p.get("severity", "warning"), "message": p.get("message", ""), "rule": p.get("rule", "")}
        for p in report.get("problems", [])
    ]
    individuals = report.get("possible_individuals", [])
    publishable = report.get("publishable", True) and not any(p["severity"] == "error" for p in problems)
    facts = []
    for label, key in (
        ("Kind of file", "kind"),
        ("Format", "format"),
        ("Encoding", "encoding"),
        ("Rows read", "rows_read"),
        ("Payment rows kept", "rows_kept"),
        ("Rows rejected", "rows_rejected"),
        ("Distinct suppliers", "distinct_suppliers"),
        ("Redacted rows", "redacted_rows"),
        ("Period from", "period_start"),
        ("Period to", "period_end"),
    ):
        if report.get(key) not in (None, ""):
            facts.append((label, report[key]))
    if report.get("total_pence") is not None:
        facts.append(("Total", f"£{report['total_pence'] / 100:,.2f}"))
    present = report.get("code_2015") or {}
    if present:
        facts.append(
            (
                "Transparency Code fields present",
                ", ".join(k.replace("_", " ") for k, v in present.items() if v) or "none",
            )
        )
    rows = [
        {
            "row": e.get("row"),
            "field": e.get("field", ""),
            "error": e.get("error") or e.get("message", ""),
            "value": e.get("value", ""),
        }
        for e in report.get("errors", [])[:MAX_LISTED_ROWS]
    ]
    summary = (
        "This file would meet the Transparency Code's requirements for spending over £500."
        if publishable
        else "This file has problems that mean it would not meet the Transparency Code."
    )
    return {
        "file_name": file_name,
        "publishable": publishable,
        "summary": summary,
        "facts": facts,
        "problems": problems,
        "rows": rows,
        "individuals": individuals,
        "text": report.get("_text", ""),
    }
