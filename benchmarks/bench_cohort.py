# ruff: noqa: E501 - the cycle card template reads better unwrapped
"""Benchmark: a whole cohort through every phase, the HTML and the index (issue 7).

A generated cohort of 20 organizations (``--orgs N``) with small seeded exports
(``cyclebook.demo.generate_demo``; the kinds of sources rotate over the demo's, and three
of them are affiliates of a network) runs through sync, share, reflect, improve and the
cohort summary of its latest cycle. Measured, each as its own process:

* **full**: ``cyclebook run COHORT`` on the fresh cohort (every report executed);
* **incremental**: ``cyclebook run COHORT`` again, nothing changed (every report cached);
* **floor**: the same jobs through the same runner, each phase notebook replaced by a
  one-cell notebook (just its parameters): what the runner costs around the content;
* **cells alone** (context): every job's code cells run one after another in one warm
  IPython shell, no kernels and no HTML: the content no runner can go below;
* **naive**: the loop a user would write, on a fresh copy of the same exports, for every
  job of the plan in order: ``papermill IN OUT -p ... -k python3`` then
  ``jupyter nbconvert --to html OUT``, each a subprocess.

Prints each time, then ``RESULT cohort speedup=<naive/full> floor_ratio=<full/floor>``
and, last, ``RESULT incremental ratio=<incremental/full>``. Targets: speedup >= 8,
floor_ratio <= 1.5, incremental ratio < 0.05.

    python benchmarks/bench_cohort.py                 # 20 organizations
    python benchmarks/bench_cohort.py --orgs 3        # a quick look
    python benchmarks/bench_cohort.py --naive-orgs 5  # time the naive loop on 5, scale up
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

SOURCE_SETS = [
    "      - {kind: action_network_csv, path: action_network}\n"
    "      - {kind: mobilize, path: mobilize}\n",
    "      - {kind: van, path: van}\n      - {kind: spoke, path: spoke}\n",
    "      - {kind: action_network_api, path: action_network_api}\n"
    "      - {kind: mobilize, path: mobilize}\n",
    "      - {kind: action_network_csv, path: action_network}\n"
    "      - {kind: action_builder, path: action_builder}\n",
    "      - kind: generic_csv\n        path: roster.csv\n        activity_type: attendance\n"
    "        columns: {person_id: Member ID, first_name: First, last_name: Last, "
    "email: Email, phone: Cell, zip: ZIP, occurred_at: Meeting Date, event: Meeting}\n",
]

CARD = """\
id: {id}
title: {title}
{previous}how_might_we:
  - How might we move more first-time attendees to a second action?
hypothesis: If groups follow up with every new person within two weeks, then absorption rises.
design: Same four phases for every group; follow-up lists go to each group's folder.
metrics:
  - {{goal: New people stay with the group, measure: absorption, target: 0.45, failure: Absorption does not rise}}
  - {{goal: More leaders, measure: leaders, failure: Fewer leaders than last cycle}}
accountable: [Benchmark Facilitator]
start: {start}
end: {end}
"""


def write_cohort(root: Path, orgs: int, scale: float) -> None:
    """cohort.yml of ``orgs`` organizations, two cycle cards, and the generated exports."""
    from cyclebook.demo import generate_demo

    lines = ["id: bench", "name: Benchmark Cohort", "organizations:"]
    for i in range(1, orgs + 1):
        org_id = f"org-{i:02d}"
        lines.append(f"  - id: {org_id}\n    name: Benchmark Organization {i:02d}")
        if orgs >= 6 and 2 <= i <= 4:
            lines.append("    parent: org-01")
        lines.append("    sources:\n" + SOURCE_SETS[(i - 1) % len(SOURCE_SETS)].rstrip("\n"))
        lines.append(
            "    consent:\n      cohort: [active_base, new_people, absorption]\n"
            "      funder: [active_base]"
        )
    root.mkdir(parents=True)
    (root / "cohort.yml").write_text("\n".join(lines) + "\n")
    write_cards(root)
    generate_demo(root, scale=scale, seed=2026)


def write_cards(root: Path) -> None:
    """The two cycle cards (2026-c1, then 2026-c2 after it) under ``root``."""
    for cycle, title, previous, start, end in [
        ("2026-c1", "First cycle", "", "2026-08-03", "2026-09-14"),
        ("2026-c2", "Second cycle", "previous: 2026-c1\n", "2026-09-14", "2026-10-26"),
    ]:
        (root / cycle).mkdir(exist_ok=True)
        (root / cycle / "cycle.yml").write_text(
            CARD.format(id=cycle, title=title, previous=previous, start=start, end=end)
        )


ENV = dict(os.environ)


def snapshot(base: Path) -> None:
    """Run a copy of the sources as they are now (others may be editing the tree, and an
    edited source file rightly makes every report run again)."""
    snap = base / "snapshot"
    for name in ("src", "notebooks", "templates"):
        shutil.copytree(
            ROOT / name, snap / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
        )
    # compiled, as `make install` compiles the checkout (where PYTHONDONTWRITEBYTECODE is
    # set, nothing else would: every process would compile the copy from source)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(snap / "src")], check=True)
    ENV["PYTHONPATH"] = str(snap / "src")
    sys.path.insert(0, str(snap / "src"))


def timed(cmd: list[str], **kwargs) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=ENV, **kwargs)
    return time.perf_counter() - started, done


def summary_line(done: subprocess.CompletedProcess) -> str:
    lines = [line for line in done.stdout.splitlines() if line.startswith("cyclebook:")]
    return lines[-1] if lines else (done.stdout + done.stderr)[-2000:]


FLOOR_DRIVER = textwrap.dedent(
    """\
    import sys
    from pathlib import Path

    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from cyclebook import runner
    from cyclebook.params import declared_parameters

    def main():
        cohort, folder = Path(sys.argv[1]), Path(sys.argv[2])
        folder.mkdir(exist_ok=True)
        for phase, name in runner.NOTEBOOKS.items():
            real = runner.notebooks_dir() / name
            lines = [
                f"{p.name}: {p.type_name} = {p.default!r}  # {p.help}"
                for p in declared_parameters(real).values()
            ]
            cell = new_code_cell("\\n".join(lines))
            cell.metadata["tags"] = ["parameters"]
            nb = new_notebook(cells=[cell])
            nb.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                         "display_name": "Python 3"}
            nbformat.write(nb, folder / name)
        runner.notebooks_dir = lambda: folder
        summary = runner.run(cohort, force=True, progress=None)
        for line in summary.lines():
            print(line)

    if __name__ == "__main__":
        main()
    """
)


# The cells alone: every job's code cells, in plan order, in one IPython shell in this
# process (imports done first, untimed): no kernels, no Papermill, no HTML, no guard.
# What no runner can go below on one core; the full run spreads it over the workers.
CONTENT_DRIVER = textwrap.dedent(
    """\
    import contextlib, io, json, sys, time
    from pathlib import Path

    import nbformat
    from IPython.core.interactiveshell import InteractiveShell

    from cyclebook import runner, zygote
    from cyclebook.params import declared_parameters

    def main():
        cohort = Path(sys.argv[1])
        _, _, chains = runner.plan(cohort)
        jobs = [job for chain in chains for job in chain]
        shell = InteractiveShell.instance()
        for name in zygote.notebook_imports(sorted({job.notebook for job in jobs})):
            shell.run_cell(f"import {name}")
        cells = {}
        for job in jobs:
            if job.notebook not in cells:
                nb = nbformat.read(job.notebook, as_version=4)
                cells[job.notebook] = [
                    c.source for c in nb.cells
                    if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])
                ]
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            for job in jobs:
                declared = declared_parameters(job.notebook).values()
                shell.user_ns.update({p.name: p.default for p in declared}, **job.parameters)
                for source in cells[job.notebook]:
                    result = shell.run_cell(source)
                    if not result.success:
                        raise SystemExit(f"{job.key}: {result.error_in_exec!r}")
        print(json.dumps({"seconds": time.perf_counter() - started, "jobs": len(jobs)}))

    if __name__ == "__main__":
        main()
    """
)


def print_stages(manifest: dict) -> None:
    """Mean seconds per job of each phase, by stage (as recorded by the workers)."""
    by_phase: dict[str, list[dict]] = {}
    for job in manifest["jobs"]:
        by_phase.setdefault(job["phase"], []).append(job)
    stages = ["kernel_and_papermill", "cells", "render", "guard"]
    print(f"  {'phase':<8} jobs  {'total':>6} " + " ".join(f"{s:>20}" for s in stages))
    for phase, entries in by_phase.items():
        mean = sum(e.get("run_seconds") or 0 for e in entries) / len(entries)
        parts = [
            sum((e.get("timings") or {}).get(stage, 0) for e in entries) / len(entries)
            for stage in stages
        ]
        print(
            f"  {phase:<8} {len(entries):4d}  {mean:6.2f} "
            + " ".join(f"{part:20.2f}" for part in parts)
        )


def cells_budget(manifest: dict, full: float, floor: float, workers: int) -> str:
    """What the 1.5x target leaves for the notebooks' cells: the full run less its cells
    (spread over the workers) is what the runner and the reports' size cost; at 1.5x the
    floor, the cells may take what remains, times the workers."""
    cells = sum((job.get("timings") or {}).get("cells", 0) for job in manifest["jobs"])
    without_cells = full - cells / workers
    allowed = max(0.0, (1.5 * floor - without_cells) * workers)
    return (
        f"(context) the cells took {cells:.1f} job-seconds in the kernels; the full run "
        f"without them would take {without_cells:.1f} s ({without_cells / floor:.2f}x the "
        f"floor), so 1.5x the floor leaves them {allowed:.1f} job-seconds "
        f"({allowed / max(len(manifest['jobs']), 1) * 1000:.0f} ms a report)"
    )


def naive_loop(cohort: Path, org_ids: list[str] | None) -> tuple[float, int, int]:
    """papermill then nbconvert, as subprocesses, for every job of the plan, in order."""
    from cyclebook import runner

    _, _, chains = runner.plan(cohort, orgs=org_ids)
    jobs = [job for chain in chains for job in chain]
    out = cohort / "naive"
    out.mkdir(exist_ok=True)
    failures = 0
    started = time.perf_counter()
    for n, job in enumerate(jobs):
        target = out / f"{n:03d}-{job.org_id or 'cohort'}-{job.phase}-{job.audience}.ipynb"
        cmd = [str(BIN / "papermill"), job.notebook, str(target), "-k", "python3"]
        for name, value in job.parameters.items():
            cmd += ["-p", name, str(value)]
        pm = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
        html = subprocess.run(
            [str(BIN / "jupyter"), "nbconvert", "--to", "html", str(target)],
            capture_output=True,
            text=True,
            env=ENV,
        )
        failures += pm.returncode != 0 or html.returncode != 0
    return time.perf_counter() - started, len(jobs), failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orgs", type=int, default=20, help="organizations (default 20)")
    parser.add_argument("--scale", type=float, default=0.05, help="export size factor")
    parser.add_argument("--workers", type=int, default=None, help="runner worker processes")
    parser.add_argument(
        "--naive-orgs",
        type=int,
        default=None,
        help="run the naive loop on this many organizations (plus the cohort summary) and "
        "scale its time per job up to the whole plan (default: every organization)",
    )
    parser.add_argument(
        "--no-naive", action="store_true", help="skip the naive loop (no speedup printed)"
    )
    parser.add_argument(
        "--live", action="store_true", help="run the working tree's sources, not a copy"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)

    base = Path(tempfile.mkdtemp(prefix="cyclebook-bench-"))
    cohort = base / "cohort"
    try:
        if not args.live:
            snapshot(base)
        write_cohort(cohort, args.orgs, args.scale)
        pristine = base / "pristine"
        shutil.copytree(cohort, pristine)
        run = [str(BIN / "cyclebook"), "run", str(cohort)]
        if args.workers:
            run += ["--workers", str(args.workers)]

        full, done = timed(run)
        print(f"full run:        {full:7.1f} s   {summary_line(done)}", flush=True)
        incremental, again = timed(run)
        print(f"unchanged rerun: {incremental:7.1f} s   {summary_line(again)}", flush=True)
        manifest = json.loads(next(cohort.glob("*/output/manifest.json")).read_text())
        jobs = len(manifest["jobs"])
        print_stages(manifest)

        floor_cohort = base / "floor"
        shutil.copytree(cohort, floor_cohort, ignore=shutil.ignore_patterns("output"))
        driver = base / "floor_driver.py"
        driver.write_text(FLOOR_DRIVER)
        floor_cmd = [sys.executable, str(driver), str(floor_cohort), str(base / "floor_nb")]
        floor, floor_done = timed(floor_cmd)
        print(f"floor:           {floor:7.1f} s   {summary_line(floor_done)}", flush=True)
        # the same stages around one-cell notebooks: what the full run adds is the cells
        print_stages(json.loads(next(floor_cohort.glob("*/output/manifest.json")).read_text()))

        print(cells_budget(manifest, full, floor, args.workers or os.cpu_count() or 1))

        content_cohort = base / "content"
        shutil.copytree(pristine, content_cohort)
        driver = base / "content_driver.py"
        driver.write_text(CONTENT_DRIVER)
        _, content_done = timed([sys.executable, str(driver), str(content_cohort)])
        if content_done.returncode == 0:
            content = json.loads(content_done.stdout.strip().splitlines()[-1])["seconds"]
            print(
                f"(context) the cells alone, one after another in one warm process: "
                f"{content:.1f} s, half of it {content / 2:.1f} s on {os.cpu_count()} cores; "
                f"floor + that half = {(floor + content / 2) / floor:.2f}x the floor"
            )
        else:
            print(f"(context) the cells alone: failed\n{content_done.stderr[-2000:]}")

        if args.no_naive:
            print(f"RESULT cohort speedup=n/a floor_ratio={full / floor:.2f}")
            print(f"RESULT incremental ratio={incremental / full:.4f}")
            return 0
        naive_orgs = None
        if args.naive_orgs and args.naive_orgs < args.orgs:
            naive_orgs = [f"org-{i:02d}" for i in range(1, args.naive_orgs + 1)]
        naive, naive_jobs, naive_failed = naive_loop(pristine, naive_orgs)
        if naive_orgs is not None:
            # the cohort summary is not planned for a subset: add it at the same rate
            naive = naive / naive_jobs * jobs
            print(f"naive loop:      {naive:7.1f} s   (scaled from {naive_jobs} jobs)")
        else:
            print(f"naive loop:      {naive:7.1f} s   ({naive_jobs} jobs, {naive_failed} failed)")
        print(
            f"per job: full {full / jobs:.2f} s, floor {floor / jobs:.2f} s, "
            f"naive {naive / jobs:.2f} s ({jobs} jobs, {os.cpu_count()} cores)"
        )
        print(f"RESULT cohort speedup={naive / full:.2f} floor_ratio={full / floor:.2f}")
        print(f"RESULT incremental ratio={incremental / full:.4f}")
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
