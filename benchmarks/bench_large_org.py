"""Benchmark: one organization of 1,000,000 people through every phase, as a user runs it.

The other benchmarks time one part (the sync, the metrics, the guard) or many small
organizations (bench_cohort.py); this one runs ``cyclebook run`` on a cohort of one large
organization -- the VAN exports of bench_sync.py (generated first, not timed) and the
two cycle cards of bench_cohort.py -- and reports where the time of each report went
(kernel, cells, HTML, the personal-data guard). It is what found the guard taking 50 s
of every report's 52 s.

Prints each report's stages, then ``RESULT large_org seconds=<s> reports=<n>
guard_share=<fraction of job time in the guard>``.

    .venv/bin/python benchmarks/bench_large_org.py              # 1,000,000 people
    .venv/bin/python benchmarks/bench_large_org.py --people 20000 --activities 200000
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_cohort import write_cards  # noqa: E402 - the cohort benchmark's cycle cards
from bench_sync import generate  # noqa: E402 - the same exports as the sync benchmark


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--activities", type=int, default=10_000_000)
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the cohort")
    parser.add_argument("--keep", action="store_true", help="keep the generated cohort")
    args = parser.parse_args(argv)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="cyclebook-large-"))
    try:
        started = time.perf_counter()
        generate(root, args.people, args.activities)
        write_cards(root)
        print(
            f"generated {args.people:,} people and {args.activities:,} activities in "
            f"{time.perf_counter() - started:.1f} s (not timed)",
            flush=True,
        )
        command = [str(Path(sys.executable).parent / "cyclebook"), "run", str(root)]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        summary = [line for line in done.stdout.splitlines() if line.startswith("cyclebook:")]
        print(f"cyclebook run: {seconds:.1f} s  {summary[-1] if summary else done.stderr[-2000:]}")
        manifest = json.loads(next(root.glob("*/output/manifest.json")).read_text())
        stages = ["kernel_and_papermill", "cells", "render", "guard"]
        print(f"  {'report':<22} {'total':>7} " + " ".join(f"{s:>20}" for s in stages))
        job_seconds = guard_seconds = 0.0
        for job in manifest["jobs"]:
            timings = job.get("timings") or {}
            name = job["phase"] + (
                "" if job["audience"] == "organization" else f".{job['audience']}"
            )
            job_seconds += job.get("run_seconds") or 0
            guard_seconds += timings.get("guard", 0)
            print(
                f"  {name:<22} {job.get('run_seconds') or 0:7.2f} "
                + " ".join(f"{timings.get(s, 0):20.2f}" for s in stages)
            )
        failed = [job for job in manifest["jobs"] if job.get("status") != "ok"]
        share = guard_seconds / job_seconds if job_seconds else 0.0
        print(
            f"RESULT large_org seconds={seconds:.1f} reports={len(manifest['jobs'])} "
            f"guard_share={share:.3f}"
        )
        return 1 if failed or done.returncode else 0
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
