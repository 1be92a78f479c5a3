"""Run one command in a fresh wrapper process and record its wall time and peak memory.

Why a wrapper: ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is the largest peak of *any* child a
process has ever waited for, so measuring several runs from the bench process would report the
biggest so far, not each run's own. A fresh wrapper per run has exactly one child (plus that
child's own workers). The wrapper also samples the RSS of the whole process tree with psutil,
because parallel workers are alive at the same time and their memory adds up.

Usage (internal): ``python -m benchmarks.measure RESULT.json -- CMD ARG...``
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

RESULT_MARKER = "BENCH-RESULT "


@dataclass
class Measured:
    seconds: float
    peak_rss_bytes: int  # largest single process (the child or one of its workers)
    peak_tree_rss_bytes: int  # sampled sum over the child and its workers
    returncode: int
    result: dict | None  # what the stage printed after RESULT_MARKER, if anything
    stderr_tail: str

    def ok(self) -> bool:
        return self.returncode == 0


class MeasureError(RuntimeError):
    """A measured command failed; the message carries the end of its stderr."""


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def _wrapper_main(result_path: Path, cmd: list[str]) -> int:
    stdout_path = result_path.with_suffix(".stdout")
    stderr_path = result_path.with_suffix(".stderr")
    peak_tree = 0
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        start = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=out, stderr=err)
        ps = psutil.Process(child.pid)
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak_tree
            while not stop.is_set():
                peak_tree = max(peak_tree, _tree_rss(ps))
                stop.wait(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        returncode = child.wait()
        seconds = time.perf_counter() - start
        stop.set()
        sampler.join()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    # Linux reports ru_maxrss in KiB.
    peak = usage.ru_maxrss * 1024
    result_path.write_text(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss_bytes": peak,
                "peak_tree_rss_bytes": max(peak_tree, peak),
                "returncode": returncode,
            }
        ),
        encoding="utf-8",
    )
    return 0


def run_measured(cmd: list[str], work_dir: Path, name: str, env: dict[str, str] | None = None) -> Measured:
    """Run ``cmd`` under a fresh wrapper; raise ``MeasureError`` when it exits non-zero."""
    work_dir.mkdir(parents=True, exist_ok=True)
    result_path = work_dir / f"{name}.measure.json"
    full_env = {**os.environ, **(env or {})}
    subprocess.run(
        [sys.executable, "-m", "benchmarks.measure", str(result_path), "--", *cmd],
        check=True,
        env=full_env,
    )
    data = json.loads(result_path.read_text(encoding="utf-8"))
    stdout = result_path.with_suffix(".stdout").read_text(encoding="utf-8", errors="replace")
    stderr = result_path.with_suffix(".stderr").read_text(encoding="utf-8", errors="replace")
    result = None
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            result = json.loads(line[len(RESULT_MARKER) :])
    measured = Measured(
        seconds=data["seconds"],
        peak_rss_bytes=data["peak_rss_bytes"],
        peak_tree_rss_bytes=data["peak_tree_rss_bytes"],
        returncode=data["returncode"],
        result=result,
        stderr_tail=stderr[-3000:],
    )
    if not measured.ok():
        raise MeasureError(
            f"{name}: {' '.join(cmd[:6])} exited {measured.returncode}\n{measured.stderr_tail}"
        )
    return measured


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) < 3 or args[1] != "--":
        sys.exit("usage: python -m benchmarks.measure RESULT.json -- CMD ARG...")
    sys.exit(_wrapper_main(Path(args[0]), args[2:]))
