"""Run a crawl: ``crawl(councils, out_dir)`` from Python, ``python -m crawler.run JOB.json`` underneath.

Scrapy's Twisted reactor cannot be restarted in one process, so every crawl runs in a fresh
subprocess; the caller (CLI, demo, tests) can crawl as often as it likes. The subprocess runs both
spiders side by side, then merges their journals into ``manifest.csv`` and writes a summary.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from crawler.discovery import apply_discovery, merge_discovery
from crawler.manifest import finalise

REPO_ROOT = Path(__file__).resolve().parents[1]


class CrawlError(RuntimeError):
    """The crawl subprocess died; whatever it had fetched is already merged into the manifest."""


@contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    """One crawl per output directory at a time (two would interleave their journals)."""
    lock_path = out_dir / ".crawl" / "lock"
    with lock_path.open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CrawlError(f"another crawl is writing to {out_dir} (lock {lock_path})") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _journal_counts(journal_dir: Path) -> tuple[int, int, int]:
    """(pages, files, problems) seen so far, from the spiders' journals (for the progress display)."""
    pages = files = problems = 0
    for path in journal_dir.glob("journal-*"):  # .jsonl while crawling, .merged once merged
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            if '"kind": "page"' in line:
                pages += 1
            elif '"kind": "file"' in line:
                files += 1
                problems += '"status": "rejected"' in line or '"status": "failed"' in line
    return pages, files, problems


def _discovery_counts(journal_dir: Path) -> tuple[int, int]:
    """(found, failed) discovery outcomes so far: the councils done, for the progress display."""
    found = failed = 0
    for path in journal_dir.glob("discovery-*.jsonl"):
        text = path.read_text(encoding="utf-8", errors="replace")
        found += text.count('"status": "found"')
        failed += text.count('"status": "failed"')
    return found, failed


def crawl(
    councils: list[dict],
    out_dir: Path,
    *,
    settings: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, dict]:
    """Crawl ``councils`` (registry entries) into ``out_dir``; return a summary per council id:
    ``{"name", "pages", "pages_failed", "new", "changed", "unchanged", "rejected", "failed",
    "blocked", "errors"}``. ``settings`` overrides Scrapy settings (JSON-serialisable values)."""
    from crawler.registry import validate_council

    councils = [
        validate_council(c, f"crawl(): council #{i}", strict_id=False) for i, c in enumerate(councils, 1)
    ]
    out_dir = Path(out_dir).resolve()
    councils = apply_discovery(councils, out_dir)  # start where earlier crawls found the pages
    journal_dir = out_dir / ".crawl"
    journal_dir.mkdir(parents=True, exist_ok=True)
    job_path = journal_dir / "job.json"
    summary_path = journal_dir / "summary.json"
    stderr_path = journal_dir / "stderr.log"
    with _locked(out_dir):
        if any(journal_dir.glob("journal-*.jsonl")):  # left by a crawl that was killed: keep its work
            finalise(out_dir, [])
        merge_discovery(out_dir)
        summary_path.unlink(missing_ok=True)
        for old in journal_dir.glob("journal-*.merged"):
            old.unlink()
        job_path.write_text(
            json.dumps(
                {"councils": councils, "out_dir": str(out_dir), "settings": settings or {}}, default=str
            ),
            encoding="utf-8",
        )
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        with stderr_path.open("w", encoding="utf-8") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "crawler.run", str(job_path)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=env,
                cwd=str(out_dir),
            )
            try:
                _wait(proc, journal_dir, len(councils), progress)
            except BaseException:
                proc.terminate()
                proc.wait(timeout=30)
                raise
        if proc.returncode != 0 or not summary_path.exists():
            finalise(out_dir, councils)
            tail = stderr_path.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise CrawlError(
                f"crawl subprocess exited with {proc.returncode}; fetched files are in "
                f"{out_dir / 'manifest.csv'}. Log: {journal_dir / 'scrapy.log'}\n{tail}"
            )
        return json.loads(summary_path.read_text(encoding="utf-8"))


def _wait(proc: subprocess.Popen, journal_dir: Path, n_councils: int, progress: bool) -> None:
    if not progress:
        proc.wait()
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(f"crawling {n_councils} council(s)")
        while proc.poll() is None:
            pages, files, problems = _journal_counts(journal_dir)
            found, failed = _discovery_counts(journal_dir)
            bar.update(
                task,
                description=f"crawling {n_councils} council(s): {pages} pages, "
                f"{files} files ({problems} rejected/failed); discovery: {found} found, {failed} not found",
            )
            time.sleep(0.5)
        pages, files, problems = _journal_counts(journal_dir)
        bar.update(task, description=f"crawled {n_councils} council(s): {pages} pages, {files} files")


def run_job(job: dict) -> dict[str, dict]:
    """Inside the subprocess: run both spiders, then merge and summarise."""
    from scrapy.crawler import CrawlerProcess

    from crawler.settings import make_settings
    from crawler.spiders.ckan import CkanSpider
    from crawler.spiders.discovery import DiscoverySpider
    from crawler.spiders.transparency import TransparencySpider

    out_dir = Path(job["out_dir"])
    councils = job["councils"]
    process = CrawlerProcess(make_settings(out_dir, job.get("settings")))
    crawlers = []
    failures: list[str] = []  # a spider that cannot start must not look like an empty crawl
    for spider, wanted in (
        (TransparencySpider, _has_pages),
        (CkanSpider, _for_catalogue),
        (DiscoverySpider, _to_discover),
    ):
        selected = [c for c in councils if wanted(c)]
        if selected:
            crawler = process.create_crawler(spider)
            crawlers.append(crawler)
            deferred = process.crawl(crawler, councils=selected)
            deferred.addErrback(lambda f, name=spider.name: failures.append(f"{name}: {f.getTraceback()}"))
    if crawlers:
        process.start()
    summary = finalise(out_dir, councils)
    discovered = {(r["council_id"], r["kind"]): r for r in merge_discovery(out_dir)}
    if failures:
        raise RuntimeError("spider failed:\n" + "\n".join(failures))
    for s in summary.values():
        s["blocked"] = 0
    for council in councils:
        if not (_has_pages(council) or _for_catalogue(council) or _to_discover(council)):
            summary[council["id"]]["errors"].append(
                "nothing to crawl: no spending_pages and no dgu_publisher"
            )
        for kind in ("page", "ckan"):
            found = discovered.get((council["id"], kind))
            if found and (_to_discover(council) if kind == "page" else not council.get("dgu_publisher")):
                summary[council["id"]][f"discovery_{kind}"] = found
                if found["status"] == "failed":
                    summary[council["id"]]["errors"].append(f"not found ({kind}): {found['reason']}")
    for crawler in crawlers:
        for key, value in (crawler.stats.get_stats() or {}).items():
            if key.startswith("councilspend/blocked/"):
                council_id = key.rsplit("/", 1)[1]
                if council_id in summary:
                    summary[council_id]["blocked"] += value
    return summary


def _has_pages(council: dict) -> bool:
    return bool(council.get("spending_pages"))


def _for_catalogue(council: dict) -> bool:
    return bool(council.get("dgu_publisher") or council.get("ckan_lookup"))


def _to_discover(council: dict) -> bool:
    """A council with no spending page yet, a website, and ``discover`` set (the national registry
    sets it for current councils; a hand-made registry opts in)."""
    return bool(council.get("discover") and council.get("website") and not council.get("spending_pages"))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m crawler.run JOB.json  (use `councilspend crawl` instead)", file=sys.stderr)
        return 2
    job_path = Path(argv[0])
    job = json.loads(job_path.read_text(encoding="utf-8"))
    summary = run_job(job)
    out = job_path.with_name("summary.json")
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary, indent=1), encoding="utf-8")
    tmp.replace(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
