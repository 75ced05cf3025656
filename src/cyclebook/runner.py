"""Run phase notebooks for a cohort: Papermill per organization and phase, in worker
processes, rendered to HTML inside the workers; keep going on failure, then report.

The parent plans every job, checks every job's parameters against its notebook before
any kernel starts, and schedules jobs so an organization's phases run in order
(sync -> share -> reflect -> improve) while organizations run in parallel. The cohort
summary of a cycle runs once every organization of that cycle is done. Each run writes
a manifest (versions, parameters, input hashes, timings, status) and an index page.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import json
import multiprocessing
import os
import platform
import signal
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import cyclebook
from cyclebook.config import (
    AUDIENCES,
    PHASE_AUDIENCES,
    Cohort,
    CycleCard,
    check_previous,
    cycle_folders,
    list_cycles,
    load_cohort,
    load_cycle,
    team_warnings,
    unread_reflections,
)
from cyclebook.errors import CyclebookError, ParameterError, RunLockedError, own_error_names
from cyclebook.filehash import cohort_cache, sha256_file
from cyclebook.incremental import (
    CACHEABLE,
    RUNNING,
    Fingerprints,
    journal,
    read_journal,
)
from cyclebook.params import declared_parameters, validate_parameters
from cyclebook.paths import NOTEBOOKS, PHASES, CohortPaths, notebooks_dir
from cyclebook.yamlio import write_text_atomic

ALL_PHASES: tuple[str, ...] = (*PHASES, "cohort")
# Which audiences each phase is rendered for when no --audience is given (the config's
# PHASE_AUDIENCES: those it may have). The share report is what a funder or the cohort
# may see of one organization; the cohort summary is never for one organization's staff.
DEFAULT_AUDIENCES: dict[str, tuple[str, ...]] = {
    "sync": ("organization",),
    "share": ("organization", "cohort", "funder"),
    "reflect": ("organization",),
    "improve": ("organization",),
    "cohort": ("cohort", "funder"),
}
PHASE_TITLES = {
    "sync": "Sync",
    "share": "Share",
    "reflect": "Reflect",
    "improve": "Improve",
    "cohort": "Cohort summary",
}


@dataclass(frozen=True)
class Job:
    cycle: str
    org_id: str | None  # None: the cohort-level notebook
    phase: str
    audience: str
    notebook: str
    parameters: dict[str, Any]
    output_ipynb: str
    output_html: str
    report_meta: dict[str, Any]
    store_path: str

    @property
    def key(self) -> str:
        return f"{self.cycle}/{self.org_id or '(cohort)'}/{self.phase}/{self.audience}"


@dataclass
class JobResult:
    key: str
    cycle: str
    org_id: str | None
    phase: str
    audience: str
    status: str  # ok | cached | failed | skipped | withheld
    seconds: float = 0.0
    error: str | None = None
    output_ipynb: str | None = None
    output_html: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] | None = None  # seconds by stage (see execute_job)
    # filled by the parent: the job's input fingerprint and its parts (see incremental.py)
    fingerprint: str | None = None
    inputs: dict[str, str] | None = None
    # what the privacy guard checked the report against (see Fingerprints.guard_state)
    guarded: str | None = None


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C: the reports it finished (kept, and reused by the next
    run) out of every report it planned. A stopped run said only "interrupted"."""

    def __init__(self, finished: list[JobResult], total: int) -> None:
        super().__init__(f"{len(finished)} of {total} report(s) finished")
        self.finished = finished
        self.total = total

    def describe(self) -> str:
        """What finished and what did not, in one sentence."""
        by_phase = Counter(result.phase for result in self.finished)
        which = ", ".join(f"{PHASE_TITLES[phase].lower()} {n}" for phase, n in by_phase.items())
        left = self.total - len(self.finished)
        return (
            f"{len(self.finished)} of {self.total} report(s) finished and are kept"
            + (f" ({which})" if which else "")
            + f"; {left} did not run or were stopped, and none is left half-written"
        )


@dataclass
class RunSummary:
    cohort_dir: Path
    results: list[JobResult]
    seconds: float
    manifests: list[Path]
    indexes: list[Path]
    # input the run found and no report reads (see cyclebook.config.unread_reflections)
    warnings: list[str] = field(default_factory=list)
    # what the run could not record (a manifest or an index it could not write)
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.results if r.status in {"failed", "withheld"}]

    @property
    def skipped(self) -> list[JobResult]:
        return [r for r in self.results if r.status == "skipped"]

    @property
    def cached(self) -> list[JobResult]:
        return [r for r in self.results if r.status == "cached"]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped and not self.errors

    def lines(self) -> list[str]:
        counts: dict[str, int] = {}
        for result in self.results:
            counts[result.status] = counts.get(result.status, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        out = [f"cyclebook: {len(self.results)} report(s) in {self.seconds:.1f} s: {summary}"]
        # A failed sync skips its organization's later reports. Each was a line of its
        # own repeating the failure: five lines an organization, two hundred for a
        # network of forty. They are now named once, under the failure that skipped them.
        skipped = list(self.skipped)
        for result in self.failed:
            first = (result.error or "").strip().splitlines()
            out.append(f"  FAILED  {result.key}: {first[0] if first else 'unknown error'}")
            # the fix cyclebook gave with its own error: it was left out here, and printed
            # instead under each report the failure skipped
            fix = next((line.strip() for line in first[1:] if line.strip().startswith("Fix:")), "")
            if fix:
                out.append(f"          {fix}")
            if result.output_html:
                out.append(f"          report: {result.output_html}")
            if result.phase == "sync":
                because = [
                    r for r in skipped if (r.cycle, r.org_id) == (result.cycle, result.org_id)
                ]
                if because:
                    skipped = [r for r in skipped if all(r is not b for b in because)]
                    names = ", ".join(f"{r.phase}/{r.audience}" for r in because)
                    out.append(f"          not run because of it: {names}")
        for result in skipped:
            # its reason's first line: the fix is under the FAILED line it names
            reason = (result.error or "").strip().splitlines()
            out.append(f"  SKIPPED {result.key}: {reason[0] if reason else 'skipped'}")
        for error in self.errors:
            out.append(f"  ERROR   {error}")
        for warning in self.warnings:
            out.append(f"  WARNING {warning}")
        for index in self.indexes:
            out.append(f"  index: {index}")
        return out


# --------------------------------------------------------------------------- planning


def _org_title(cohort: Cohort, org_id: str | None) -> str:
    return cohort.org(org_id).name if org_id else "Whole cohort"


def plan(
    cohort_dir: str | Path,
    *,
    cycles: Sequence[str] | None = None,
    phases: Sequence[str] | None = None,
    orgs: Sequence[str] | None = None,
    audiences: Sequence[str] | None = None,
    extra_parameters: dict[str, Any] | None = None,
) -> tuple[Cohort, dict[str, CycleCard], list[list[Job]]]:
    """Every job of the run as chains (one chain per cycle and organization, in phase
    order; each audience of the cohort notebook is a chain of its own). Parameters are
    validated here, before anything runs. ``phases`` None: every phase, each for those
    of ``audiences`` it renders for; phases named are refused when they render for none
    of them."""
    chosen = list(phases) if phases is not None else None
    phases = chosen or list(ALL_PHASES)
    paths = CohortPaths.of(cohort_dir)
    cohort = load_cohort(paths.root)
    cycle_ids = list(cycles) if cycles else list_cycles(paths.root)[-1:]
    if not cycle_ids:
        raise CyclebookError(
            f"{paths.root}: no cycle folders with a cycle.yml",
            fix="create cycles/<cohort>/<cycle>/cycle.yml (see README).",
        )
    known = cycle_folders(paths.root)
    missing = [c for c in cycle_ids if c not in known]
    if missing:
        raise CyclebookError(
            f"{paths.root}: no cycle {', '.join(repr(c) for c in missing)} "
            f"(no {missing[0]}/cycle.yml there)",
            fix=f"use one of {', '.join(known) or '(none yet)'}, or 'all'; to start a new "
            "cycle, run `cyclebook next-cycle` or create its cycle.yml (see README).",
        )
    cards = {cycle: load_cycle(paths.root, cycle) for cycle in cycle_ids}
    for card in cards.values():
        check_previous(paths.root, card)
    unknown = [p for p in phases if p not in ALL_PHASES]
    if unknown:
        raise CyclebookError(
            f"unknown phase(s) {unknown}", fix=f"choose from {', '.join(ALL_PHASES)}."
        )
    org_ids = list(orgs) if orgs else [org.id for org in cohort.organizations]
    for org_id in org_ids:
        cohort.org(org_id)  # raises with the list of valid ids
    extra = dict(extra_parameters or {})
    _check_extra_names(extra, phases)
    _check_audiences(audiences, chosen, orgs)
    chains: list[list[Job]] = []
    for card in cards.values():
        org_phases = [p for p in PHASES if p in phases]
        for org_id in org_ids:
            chain = [
                _job(paths, cohort, card, org_id, phase, audience, extra)
                for phase in org_phases
                for audience in (audiences or DEFAULT_AUDIENCES[phase])
                if audience in PHASE_AUDIENCES[phase]
            ]
            if chain:
                chains.append(chain)
        if "cohort" in phases and not orgs:
            # one chain per audience: each reads the finished cycle and writes nothing to
            # the store, so the cohort's and the funders' summaries run side by side
            chains.extend(
                [_job(paths, cohort, card, None, "cohort", audience, extra)]
                for audience in (audiences or DEFAULT_AUDIENCES["cohort"])
                if audience != "organization"
            )
    return cohort, cards, [chain for chain in chains if chain]


# The parameters the plan sets for each report, and the option that chooses them: set
# with -p, a report was computed for one audience (or cycle, or organization) and filed
# under another, e.g. the organization's exact counts in the funder's report.
PLANNED = {
    "cohort_dir": "the COHORT_DIR argument",
    "cycle": "--cycle",
    "org_id": "--org",
    "audience": "--audience",
}


def _check_audiences(
    audiences: Sequence[str] | None, chosen: Sequence[str] | None, orgs: Sequence[str] | None
) -> None:
    """Refuse what would be left out without a word: a phase asked for with none of
    its audiences, or the cohort summary for chosen organizations only."""
    problems, fixes = [], []
    for phase in chosen or ():
        allowed = PHASE_AUDIENCES[phase]
        if audiences and not set(audiences) & set(allowed):
            problems.append(
                f"the {phase} phase has no report for {' or '.join(audiences)}: it is rendered "
                f"for {' and '.join(allowed)} only"
            )
            fixes.append(f"for {phase}, ask for --audience {allowed[0]} or drop --audience")
    if chosen and "cohort" in chosen and orgs:
        problems.append("the cohort summary is of the whole cohort, not of the --org chosen")
        fixes.append("run --phase cohort without --org")
    if problems:
        raise CyclebookError("; ".join(problems), fix="; ".join(fixes) + ".")


def _check_extra_names(extra: dict[str, Any], phases: Sequence[str]) -> None:
    planned = [name for name in extra if name in PLANNED]
    if planned:
        raise ParameterError(
            ", ".join(NOTEBOOKS[p] for p in phases),
            [
                f"-p {name}=...: the run sets {name} for each report; choose it with "
                f"{PLANNED[name]} instead"
                for name in planned
            ],
            fix=" ".join(f"use {PLANNED[name]} for {name};" for name in planned)
            + " -p is for the other parameters a notebook declares.",
        )
    if not extra:
        return  # (reading the notebooks' declarations imported Papermill: 0.5 s a run)
    known: set[str] = set()
    for phase in phases:
        known |= set(declared_parameters(notebooks_dir() / NOTEBOOKS[phase]))
    unknown = sorted(set(extra) - known)
    if unknown:
        raise ParameterError(
            ", ".join(NOTEBOOKS[p] for p in phases),
            [
                f"unknown parameter {name!r}; the selected notebooks declare: "
                f"{', '.join(sorted(known))}"
                for name in unknown
            ],
        )


def _job(
    paths: CohortPaths,
    cohort: Cohort,
    card: CycleCard,
    org_id: str | None,
    phase: str,
    audience: str,
    extra: dict[str, Any],
) -> Job:
    notebook = notebooks_dir() / NOTEBOOKS[phase]
    parameters: dict[str, Any] = {"cohort_dir": str(paths.root), "cycle": card.id}
    if org_id is not None:
        parameters["org_id"] = org_id
    parameters["audience"] = audience
    # An extra parameter goes to the notebooks that declare it (checked by
    # _check_extra_names to be declared by at least one selected phase).
    declared = declared_parameters(notebook)
    parameters.update({name: value for name, value in extra.items() if name in declared})
    parameters = validate_parameters(notebook, parameters)
    name = org_id or "_cohort"
    suffix = "" if audience == "organization" else f".{audience}"
    output_ipynb = paths.output(card.id) / "notebooks" / name / f"{phase}{suffix}.ipynb"
    output_html = paths.output(card.id) / "reports" / name / f"{phase}{suffix}.html"
    org_name = _org_title(cohort, org_id)
    meta = {
        # the page's title and heading name its audience: the cohort's and the funders'
        # summaries were both "Cohort summary: Whole cohort", in a browser tab and a
        # saved file's name alike
        "title": f"{PHASE_TITLES[phase]}: {org_name}"
        + ("" if audience == "organization" else f" (for the {audience})"),
        "cohort_name": cohort.name,
        "org_id": org_id or "",
        "org_name": org_name,
        "cycle": card.id,
        "cycle_title": card.title,
        "phase": PHASE_TITLES[phase],
        "start": card.start.isoformat(),
        "end": card.end.isoformat(),
        "audience": audience,
        "version": cyclebook.__version__,
    }
    return Job(
        cycle=card.id,
        org_id=org_id,
        phase=phase,
        audience=audience,
        notebook=str(notebook),
        parameters=parameters,
        output_ipynb=str(output_ipynb),
        output_html=str(output_html),
        report_meta=meta,
        store_path=str(paths.store),
    )


# --------------------------------------------------------------------------- executing


def execute_job(job: Job, duckdb_threads: int | None = None) -> JobResult:
    """Run one notebook with Papermill and render it; never raises for notebook errors.
    ``duckdb_threads``: the threads the report's DuckDB may use (see :func:`duckdb_threads`;
    None: as the environment says)."""
    started = time.perf_counter()
    if duckdb_threads is not None:
        from cyclebook.settings import DUCKDB_THREADS

        # the kernel gets the worker's environment (a worker runs one job at a time)
        os.environ[DUCKDB_THREADS] = str(duckdb_threads)
    Path(job.output_ipynb).parent.mkdir(parents=True, exist_ok=True)
    mark = _started_mark(job)
    mark.touch()
    try:
        return _execute(job, started)
    finally:
        mark.unlink(missing_ok=True)


def _started_mark(job: Job) -> Path:
    """A file that exists while a worker executes the job: when a worker dies, the jobs
    of its pool that had not started are told from the one that was running."""
    out = Path(job.output_ipynb)
    return out.with_name(f".{out.stem}.started")


def _execute(job: Job, started: float) -> JobResult:
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from cyclebook.render import render_notebook

    out = Path(job.output_ipynb)
    partial = out.with_name(out.stem + ".partial.ipynb")
    status, error = "ok", None
    try:
        papermill.execute_notebook(
            job.notebook,
            str(partial),
            parameters=job.parameters,
            kernel_name="python3",
            progress_bar=False,
            request_save_on_cell_execute=False,
            shutdown_kernel="immediate",
            kernel_manager_class="cyclebook.kernel.IPCKernelManager",
        )
    except PapermillExecutionError as exc:
        # cyclebook's own error is its message (what to fix), without its class name
        ours = exc.ename in own_error_names()
        status, error = "failed", exc.evalue if ours else f"{exc.ename}: {exc.evalue}"
    except Exception as exc:  # kernel died, timeout, unreadable notebook: still report it
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        if not partial.exists():
            nb = nbformat.read(job.notebook, as_version=4)
            nb.cells.insert(
                0,
                nbformat.v4.new_markdown_cell(
                    "**This notebook could not be executed.**\n\n```\n"
                    + traceback.format_exc()[-4000:]
                    + "\n```"
                ),
            )
            nbformat.write(nb, str(partial))
    os.replace(partial, out)  # the executed notebook appears whole or not at all
    executed = time.perf_counter()

    nb = nbformat.read(str(out), as_version=4)
    cells = sum(
        float(cell.get("metadata", {}).get("papermill", {}).get("duration") or 0.0)
        for cell in nb.cells
    )
    meta = {**job.report_meta, "status": status, "error": error or ""}
    html_text = render_notebook(nb, meta)
    rendered = time.perf_counter()
    html_path = Path(job.output_html)
    leak = _privacy_check(html_text, job)
    if leak is not None:
        # a notebook that failed stays failed (its chain stops); one that ran is withheld
        status, error = ("withheld", leak) if status == "ok" else (status, f"{error}; {leak}")
        html_text = _withheld_page(job, leak)
        _strip_outputs(out, nb, leak)
    write_text_atomic(html_path, html_text)
    done = time.perf_counter()
    # Where the time went: the kernel (start, connect, shut down) and Papermill around
    # the cells, the cells themselves, the HTML export, and the privacy guard.
    timings = {
        "kernel_and_papermill": round(executed - started - cells, 3),
        "cells": round(cells, 3),
        "render": round(rendered - executed, 3),
        "guard": round(done - rendered, 3),
    }
    return JobResult(
        key=job.key,
        cycle=job.cycle,
        org_id=job.org_id,
        phase=job.phase,
        audience=job.audience,
        status=status,
        seconds=round(time.perf_counter() - started, 3),
        error=error,
        output_ipynb=str(out),
        output_html=str(html_path),
        parameters=job.parameters,
        timings=timings,
    )


def check_again(
    results: list[JobResult], fingerprints: Fingerprints, chains: list[list[Job]]
) -> None:
    """Check again the reports of a cycle that the privacy guard checked against members
    and allowed text that have changed since: a report kept from an earlier run (or one
    that ran beside another organization's sync) showing a name that is now a member's
    of another group, say a reflection's story, stayed on the index, where a new run
    withheld it. Such a report is withheld now, as the run's own guard would have done.

    Every report to check is scanned at once, for the facilitators' text alone (the
    fewest allowed words): only when that finds something is each scanned with its own
    allowance, as :func:`_privacy_check` does when it is made."""
    final = fingerprints.guard_state()
    stale = [
        result
        for result in results
        if result.status in CACHEABLE
        and result.output_html
        and Path(result.output_html).is_file()
        and result.guarded != final
    ]
    if not stale or not fingerprints.paths.store.exists():
        for result in stale:
            result.guarded = fingerprints.guarded[result.key] = final
        return
    from cyclebook.privacy import report_allowance, scan_html

    _guard_allow.cache_clear()  # this process's may be an earlier run's
    jobs = {job.key: job for chain in chains for job in chain}
    texts = {result.key: Path(result.output_html).read_text(encoding="utf-8") for result in stale}
    allow = report_allowance(_guard_allow(str(fingerprints.paths.store)), None, "cohort")
    found = scan_html("\n".join(texts.values()), fingerprints.paths.store, None, allow=allow)
    for result in stale:
        job = jobs[result.key]
        leak = _privacy_check(texts[result.key], job) if found else None
        if leak is None:
            result.guarded = fingerprints.guarded[result.key] = final
            continue
        write_text_atomic(Path(job.output_html), _withheld_page(job, leak))
        with contextlib.suppress(OSError, ValueError):
            import nbformat

            out = Path(job.output_ipynb)
            _strip_outputs(out, nbformat.read(str(out), as_version=4), leak)
        result.status, result.error = "withheld", leak
        journal(fingerprints.paths, result.cycle, _manifest_entry(result, {}))


def _privacy_check(html_text: str, job: Job) -> str | None:
    """Scan the rendered HTML for the personal values held in the store: every
    organization's members, not only the report's own (a group's reflection, a sheet's
    column header or a file name can name a member of another group)."""
    leak = find_personal_data(html_text, job)
    if leak is None:
        return None
    return f"personal data found in the rendered report ({leak}); the report was withheld"


def find_personal_data(html_text: str, job: Job) -> str | None:
    """The privacy guard's first finding in a report of ``job`` (what it found, where,
    and the file it is written in when the report quotes one), or None. What the run
    checks each report with as it is written, and ``cyclebook publish`` each report it
    hands out."""
    from cyclebook.privacy import report_allowance, scan_html

    if not Path(job.store_path).exists():
        return None  # no store, no personal values to leak (the sync has not run yet)
    allow = report_allowance(_guard_allow(job.store_path), job.org_id, job.audience)
    leaks = scan_html(html_text, job.store_path, None, allow=allow)
    if not leaks:
        return None
    # found: say which file the value is written in, when it is one the report quotes
    leaks = scan_html(html_text, job.store_path, None, allow=allow, sources=_quoted_files(job))
    return str(leaks[0])


def _quoted_files(job: Job) -> dict[str, str]:
    """The files whose words reports show: cohort.yml, the cycle card and the cycle's
    reflections, by their path in the cohort folder."""
    cohort = CohortPaths.of(Path(job.store_path).parent)
    paths = [cohort.cohort_file, cohort.cycle_file(job.cycle)]
    paths += sorted(cohort.reflections(job.cycle).glob("*.y*ml"))
    files = {}
    for path in paths:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            files[path.relative_to(cohort.root).as_posix()] = path.read_text(encoding="utf-8")
    return files


@functools.lru_cache(maxsize=4)
def _guard_allow(store_path: str) -> tuple[list[str], dict[str, list[str]]]:
    """What the guard allows: staff and facilitator names written in cohort.yml and the
    cycle cards, and each organization's reflection people (see
    :func:`cyclebook.privacy.reflection_people`). Read once per worker and run, not once
    per report (the configuration does not change during a run)."""
    from cyclebook import privacy

    return privacy.guard_allowances(Path(store_path))


def _strip_outputs(path: Path, nb: Any, reason: str) -> None:
    """A withheld report's executed notebook holds the same leaking outputs: keep the
    code (to find what displayed them) and drop every output."""
    import nbformat

    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    nb.cells.insert(
        0,
        nbformat.v4.new_markdown_cell(
            f"**Outputs removed.** {reason}. Fix what displayed personal data, then run again."
        ),
    )
    write_text_atomic(path, nbformat.writes(nb))


def _withheld_page(job: Job, reason: str) -> str:
    import html

    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Withheld: {html.escape(job.report_meta['title'])}</title></head><body>"
        f"<h1>Report withheld</h1><p>{html.escape(job.report_meta['title'])}, "
        f"{html.escape(job.cycle)}, audience {html.escape(job.audience)}.</p>"
        f"<p>{html.escape(reason)}.</p><p>Fix the notebook or the data that put personal "
        "values into the report, then run again.</p></body></html>"
    )


def _not_run(job: Job, status: str, error: str) -> JobResult:
    """The result of a job that produced no report: skipped, or lost with its worker."""
    return JobResult(
        key=job.key,
        cycle=job.cycle,
        org_id=job.org_id,
        phase=job.phase,
        audience=job.audience,
        status=status,
        error=error,
        parameters=job.parameters,
    )


def _skipped(job: Job, reason: str) -> JobResult:
    return _not_run(job, "skipped", reason)


def _worker_init(zygote_address: str | None = None, runner_pid: int | None = None) -> None:
    # Workers must not inherit a terminal's Ctrl-C handling mid-write; the parent stops them.
    import gc
    import signal

    from cyclebook import zygote

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # the fork server was started with Ctrl-C blocked (see _start_fork_server): a
    # kernel a worker starts must not inherit a blocked SIGINT (its interrupts)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    zygote.use(zygote_address)
    if runner_pid:
        _watch_runner(runner_pid)
    # The preloaded modules (papermill, nbconvert, the compiled template) live as long as
    # the worker: out of the garbage collector's sight, so its full collections walk only
    # what the jobs allocate (workers end with os._exit, no finalization to disturb).
    gc.collect()
    gc.freeze()


def _watch_runner(runner_pid: int, every: float = 1.0) -> None:
    """End this worker when the runner is gone (killed outright: SIGKILL, a closed
    terminal). A worker's parent is the fork server, not the runner: the workers, the fork
    server and the resource tracker (some 550 MB) stayed behind, waiting for work."""
    import threading

    def watch() -> None:
        while True:
            time.sleep(every)
            try:
                os.kill(runner_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass  # alive (another user's process would be a reused pid: keep going)

    threading.Thread(target=watch, name="cyclebook-runner-watch", daemon=True).start()


WORKER_PRELOAD = [
    "cyclebook.runner",
    "cyclebook.render",
    "cyclebook.kernel",
    "cyclebook.privacy",
    "papermill",
    "nbconvert",
    "cyclebook.warm",  # last: renders once, so workers fork with compiled templates
]


@contextlib.contextmanager
def _interrupt_deferred() -> Iterator[None]:
    """A Ctrl-C while the block runs is raised when it ends. Starting a worker waits for
    the fork server (seconds, while it imports the preloaded modules): a Ctrl-C there
    left a worker the pool did not know of yet, never stopped, holding the run's output
    pipes open (a terminal's command never ended) or, once the runner had exited,
    failing on the pool's removed semaphores with a traceback. (Signal handlers belong
    to the main thread: elsewhere the block runs as it is.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def _start_fork_server() -> None:
    """Start the fork server (and multiprocessing's resource tracker) with Ctrl-C
    blocked. A terminal's Ctrl-C goes to the run's whole process group: the fork server,
    still importing its preloaded modules, died of it with a KeyboardInterrupt traceback,
    and a worker it forked had Ctrl-C's default handling until its initializer ran. A
    blocked signal stays blocked across fork and exec: the fork server never takes it
    (it ignores it once its imports are done), and its workers unblock it only once
    they ignore it (:func:`_worker_init`); the runner alone handles Ctrl-C, and stops
    them.

    In the runner, the Ctrl-C that came meanwhile is kept pending and raised when it is
    unblocked. (Ignored instead, it was lost: a Ctrl-C in the instant the fork server
    started went nowhere, and the run went on to the end with exit code 0. The resource
    tracker is started first because its start unblocks Ctrl-C by itself.)"""
    import multiprocessing.forkserver
    import multiprocessing.resource_tracker

    if threading.current_thread() is not threading.main_thread():
        multiprocessing.forkserver.ensure_running()
        return
    multiprocessing.resource_tracker.ensure_running()  # blocks Ctrl-C while it spawns
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _pool(workers: int, zygote_address: str | None = None) -> ProcessPoolExecutor:
    # forkserver: safe with threads in the parent, and the preloaded modules make each
    # worker start warm (papermill, nbconvert and the template are imported once).
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(WORKER_PRELOAD)
    _start_fork_server()
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_worker_init,
        initargs=(zygote_address, os.getpid()),
    )


class _Workers:
    """The run's worker pool and kernel zygote, started on the first job that must
    execute (a run where every report is cached starts no process) and shared by every
    cycle of the run."""

    def __init__(self, workers: int, notebooks: Sequence[str] = ()) -> None:
        self.workers = max(1, workers)
        self.notebooks = sorted(set(notebooks))
        self._pool: ProcessPoolExecutor | None = None
        self._zygote: Any = None

    def submit(self, job: Job, duckdb_threads: int | None = None) -> Future:
        with _interrupt_deferred():  # the pool knows every worker it starts
            return self._submit(job, duckdb_threads)

    def _submit(self, job: Job, duckdb_threads: int | None = None) -> Future:
        if self._pool is None:
            from cyclebook import zygote

            if zygote.enabled():
                notebooks = self.notebooks or [job.notebook]
                self._zygote = zygote.Zygote(zygote.notebook_imports(notebooks))
            address = self._zygote.address if self._zygote is not None else None
            self._pool = _pool(self.workers, address)
        try:
            return self._pool.submit(execute_job, job, duckdb_threads)
        except BrokenProcessPool:
            # A worker process died (its jobs are reported as crashed): the rest of the
            # run goes on in a fresh pool instead of stopping every organization.
            self._pool.shutdown(wait=False, cancel_futures=True)
            address = self._zygote.address if self._zygote is not None else None
            self._pool = _pool(self.workers, address)
            return self._pool.submit(execute_job, job, duckdb_threads)

    def close(self, cancel: bool = False) -> None:
        """Wait for the workers to finish, or with ``cancel`` (Ctrl-C) drop the jobs not
        started and stop the running ones: a Ctrl-C ran every queued job to its end (all
        43 syncs of a network), and a second one hung in the pool's shutdown."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            if cancel:
                # the workers' processes: the executor has no public way to stop them
                processes = list((getattr(pool, "_processes", None) or {}).values())
                pool.shutdown(wait=False, cancel_futures=True)
                for process in processes:
                    with contextlib.suppress(OSError, ValueError, AttributeError):
                        process.terminate()  # its kernel sees its parent go and exits
                for process in processes:
                    with contextlib.suppress(OSError, ValueError, AttributeError):
                        process.join(timeout=5)
            else:
                pool.shutdown(wait=True)
        if self._zygote is not None:
            self._zygote.close()
            self._zygote = None


def cores() -> int:
    """The cores this process may run on (a container's or CI's limit, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def duckdb_threads(concurrent: int, available: int | None = None) -> int:
    """DuckDB threads for a report that runs beside others: its share of the cores.

    DuckDB takes one thread per core by default, so two reports on two cores run four
    threads that only take turns (and wait for each other's locks). Measured on the
    benchmark cohort at 2 workers on 2 cores: the cells took 25.0 / 26.6 job-seconds
    with DuckDB's default, 23.2 / 23.0 with one thread each. A report that runs alone
    (a large organization, the end of a run) still gets every core."""
    available = available or cores()
    return max(1, available // max(1, concurrent))


def _crashed(job: Job, exc: BaseException) -> JobResult:
    return _not_run(job, "failed", f"worker crashed: {type(exc).__name__}: {exc}")


def _cached(job: Job, previous: dict[str, Any]) -> JobResult:
    return JobResult(
        key=job.key,
        cycle=job.cycle,
        org_id=job.org_id,
        phase=job.phase,
        audience=job.audience,
        status="cached",
        seconds=0.0,
        output_ipynb=job.output_ipynb,
        output_html=job.output_html,
        parameters=job.parameters,
    )


def _run_chains(
    chains: list[list[Job]],
    workers: int,
    progress: Callable[[JobResult, int, int], None],
    fingerprints: Fingerprints | None = None,
    pool: _Workers | None = None,
) -> list[JobResult]:
    """Run the chains (each in order, chains in parallel). With ``fingerprints``, a job
    whose inputs are unchanged since its last successful run is not executed."""
    total = sum(len(chain) for chain in chains)
    results: list[JobResult] = []
    if not chains:
        return results
    own_pool = pool is None
    pool = pool or _Workers(
        min(workers, len(chains)), [job.notebook for chain in chains for job in chain]
    )
    running: dict[Future, tuple[list[Job], int, str | None, dict[str, str] | None]] = {}

    def finish(result: JobResult, fingerprint: str | None, parts: dict[str, str] | None) -> None:
        if fingerprints is not None and fingerprint is not None and parts is not None:
            job_fingerprint = fingerprints.record(
                chain_job[result.key], fingerprint, parts, result.status
            )
            result.fingerprint, result.inputs = job_fingerprint, parts
            result.guarded = fingerprints.guarded.get(result.key)
        if fingerprints is not None and result.status != "cached":
            journal(fingerprints.paths, result.cycle, _manifest_entry(result, {}))
        results.append(result)
        progress(result, len(results), total)

    chain_job = {job.key: job for chain in chains for job in chain}
    retried: set[str] = set()  # jobs run again after their worker's pool broke
    # chains with a job still to run: how many reports run side by side (at most one per
    # worker), to give each its share of the cores; unless the user chose the threads
    open_chains = [len(chains)]
    from cyclebook import settings

    chosen = settings.threads()  # passed on: workers have the environment of their start

    # A report's phases after sync wait until every sync of this run is done: a
    # network's improve report counts its affiliates (and so reads, and fingerprints,
    # their data as it will stay), and every report is checked by the privacy guard for
    # every organization's members. A report checked while another group's sync was
    # still bringing members was checked again at the end of the cycle (check_again:
    # 16 of the demo's 50 reports, 1.7 s of a full run); the syncs run first instead,
    # side by side, and nothing waits for long.
    syncs_left = [sum(job.phase == "sync" for chain in chains for job in chain if job.org_id)]
    waiting: list[tuple[list[Job], int]] = []

    def inputs_synced(job: Job) -> bool:
        return job.phase == "sync" or fingerprints is None or not syncs_left[0]

    def synced(job: Job) -> None:
        if job.phase != "sync" or job.org_id is None:
            return
        syncs_left[0] -= 1
        if not syncs_left[0]:  # the last one: every report waiting may start
            ready, waiting[:] = list(waiting), []
            for chain, position in ready:
                advance(chain, position)

    def submit(
        chain: list[Job], position: int, fingerprint: str | None, parts: dict[str, str] | None
    ) -> None:
        threads = chosen or duckdb_threads(min(pool.workers, open_chains[0]))
        running[pool.submit(chain[position], threads)] = (chain, position, fingerprint, parts)

    def advance(chain: list[Job], position: int) -> None:
        """Skip cached jobs of the chain from ``position``; submit the first to execute."""
        while position < len(chain):
            job = chain[position]
            if not inputs_synced(job):
                waiting.append((chain, position))
                return
            fingerprint = parts = previous = None
            if fingerprints is not None:
                fingerprint, parts, previous = fingerprints.check(job)
            if previous is None:
                if fingerprints is not None:
                    journal(fingerprints.paths, job.cycle, {"key": job.key, "status": RUNNING})
                submit(chain, position, fingerprint, parts)
                return
            finish(_cached(job, previous), fingerprint, parts)
            synced(job)
            position += 1
        open_chains[0] -= 1

    try:
        for chain in chains:
            advance(chain, 0)
        while running or waiting:
            if not running:  # nothing left could finish a sync: release what waits
                syncs_left[0] = 0
                ready, waiting[:] = list(waiting), []
                for chain, position in ready:
                    advance(chain, position)
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                chain, position, fingerprint, parts = running.pop(future)
                job = chain[position]
                try:
                    result = future.result()
                except BrokenProcessPool as exc:
                    # A worker died (killed, out of memory): every job of its pool fails
                    # with it, those merely waiting their turn too, other organizations'
                    # included. A job that had not started (see _started_mark) runs in a
                    # fresh pool; one that was running, once more: the one that killed
                    # its worker is likely to do so again, and is then reported.
                    mark = _started_mark(job)
                    was_running = mark.exists()
                    if not was_running or job.key not in retried:
                        if was_running:
                            retried.add(job.key)
                            mark.unlink(missing_ok=True)
                        submit(chain, position, fingerprint, parts)
                        continue
                    result = _crashed(job, exc)
                except Exception as exc:  # the worker could not run it at all
                    result = _crashed(job, exc)
                finish(result, fingerprint, parts)
                synced(job)
                rest = chain[position + 1 :]
                if not rest:
                    open_chains[0] -= 1
                    continue
                if result.phase == "sync" and result.status not in {*CACHEABLE, "withheld"}:
                    # Later phases would read the store the failed sync left unchanged;
                    # showing them as fresh would mislead the group. (A withheld sync
                    # report is one that ran: its data is in the store, only its page
                    # showed a member's details, as the card's text may have.)
                    for later in rest:
                        skipped = _skipped(later, f"skipped because sync failed: {result.error}")
                        finish(skipped, None, None)
                    open_chains[0] -= 1
                    continue
                advance(chain, position + 1)
    except BaseException:
        if own_pool:
            pool.close(cancel=True)
        raise
    finally:
        if own_pool:
            pool.close()
    return results


# --------------------------------------------------------------------------- run lock


@contextlib.contextmanager
def run_lock(paths: CohortPaths) -> Iterator[None]:
    """One run per cohort at a time; a second run is refused with a clear message."""
    paths.root.mkdir(parents=True, exist_ok=True)
    handle = open(paths.lock, "a+")  # noqa: SIM115 - held for the whole run
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise RunLockedError(
            f"{paths.root}: another cyclebook run is using this cohort",
            fix="wait for it to finish (or stop it), then run again.",
        ) from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {dt.datetime.now(dt.UTC).isoformat()}\n")
        handle.flush()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _clean_partials(paths: CohortPaths, cycles: Sequence[str]) -> None:
    """Remove what an interrupted run left half-written (never a finished report)."""
    for cycle in cycles:
        output = paths.output(cycle)
        if not output.exists():
            continue
        for stale in output.rglob("*.partial.ipynb"):
            stale.unlink(missing_ok=True)
        for stale in output.rglob(".*.tmp"):
            stale.unlink(missing_ok=True)
        for stale in output.rglob(".*.started"):
            stale.unlink(missing_ok=True)


# --------------------------------------------------------------------------- manifest


def input_hashes(paths: CohortPaths, org_id: str) -> dict[str, str]:
    exports = paths.exports(org_id)
    if not exports.exists():
        return {}
    hashes = cohort_cache(paths.root)
    found = hashes.tree(exports)
    hashes.save()
    return found


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    names = [
        "cyclebook",
        "papermill",
        "nbconvert",
        "nbformat",
        "nbclient",
        "ipykernel",
        "pandas",
        "duckdb",
        "ibis-framework",
        "matplotlib",
        "pydantic",
        # what renders the HTML, and what the figures pass through: an upgrade of any of
        # them can change a report, which stayed cached
        "jinja2",
        "mistune",
        "jupyterlab_pygments",
        "pygments",
        "pyarrow",
        "numpy",
        "sqlglot",
        "tzdata",
        "pyyaml",
    ]
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    found["python"] = platform.python_version()
    return found


def write_manifest(
    paths: CohortPaths,
    cohort: Cohort,
    card: CycleCard,
    results: list[JobResult],
    seconds: float,
    fingerprints: Fingerprints | None = None,
    versions: dict[str, str] | None = None,
) -> Path:
    manifest_path = paths.manifest(card.id)
    previous: dict[str, Any] = {}
    if manifest_path.exists():
        with contextlib.suppress(ValueError, OSError):
            previous = json.loads(manifest_path.read_text())
    jobs = {job["key"]: job for job in previous.get("jobs", [])}
    # what the journal holds: an interrupted run's finished jobs (this run's "before"),
    # and this run's own, recorded as each finished (its notebook hashed then)
    journaled = {
        key: entry
        for key, entry in read_journal(paths, card.id).items()
        if entry.get("status") != RUNNING
    }
    jobs.update(journaled)
    for result in results:
        entry = journaled.get(result.key)
        this_run = (
            entry is not None
            and result.status != "cached"
            and all(
                entry.get(name) == getattr(result, name)
                for name in ("fingerprint", "status", "seconds")
            )
        )
        if this_run:
            entry = {**entry, "guarded": result.guarded}  # checked again since (check_again)
        jobs[result.key] = entry if this_run else _manifest_entry(result, jobs.get(result.key, {}))
    org_ids = sorted({r.org_id for r in results if r.org_id})
    exports = fingerprints.exports if fingerprints is not None else None
    versions = versions or package_versions()
    # The versions that made each report, by its code fingerprint (inputs.code): a report
    # kept from an earlier run (a run of one organization after an upgrade) was made by
    # that run's versions, not by this run's ``versions``.
    code_versions = dict(previous.get("code_versions") or {})
    if fingerprints is not None:
        code_versions[fingerprints.code] = versions
    used = {(job.get("inputs") or {}).get("code") for job in jobs.values()}
    manifest = {
        "cyclebook_version": cyclebook.__version__,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "command": " ".join(sys.argv),
        "versions": versions,
        "code_versions": {code: found for code, found in code_versions.items() if code in used},
        "cohort": {
            "id": cohort.id,
            "dir": str(paths.root),
            # the bytes the run read (plan): the file may have been edited since
            "cohort_yml_sha256": cohort.source_sha256 or sha256_file(paths.cohort_file),
        },
        "cycle": {
            "id": card.id,
            "cycle_yml_sha256": card.source_sha256 or sha256_file(paths.cycle_file(card.id)),
            "start": card.start.isoformat(),
            "end": card.end.isoformat(),
        },
        # every organization's, not only this run's (a run of one group kept one)
        "inputs": {
            **{
                org_id: found
                for org_id, found in previous.get("inputs", {}).items()
                if org_id in {org.id for org in cohort.organizations}
            },
            **{
                org_id: exports(org_id) if exports else input_hashes(paths, org_id)
                for org_id in org_ids
            },
        },
        "seconds": round(seconds, 3),
        "jobs": sorted(jobs.values(), key=lambda job: job["key"]),
    }
    write_text_atomic(manifest_path, json.dumps(manifest, indent=2, default=str) + "\n")
    paths.journal(card.id).unlink(missing_ok=True)  # all of it is in the manifest now
    return manifest_path


def _manifest_entry(result: JobResult, before: dict[str, Any]) -> dict[str, Any]:
    """A job's record: for a cached job, the reused run's (when it ran, how long it took,
    what it wrote); for an executed one, this run's."""
    entry = asdict(result)
    if result.status == "cached":
        for name in ("notebook_sha256", "ran_at", "run_seconds", "timings"):
            if name in before:
                entry[name] = before[name]
    else:
        entry["ran_at"] = dt.datetime.now(dt.UTC).isoformat()
        entry["run_seconds"] = result.seconds
        if result.output_ipynb and Path(result.output_ipynb).exists():
            entry["notebook_sha256"] = sha256_file(Path(result.output_ipynb))
    return entry


# --------------------------------------------------------------------------- index


def _parent_name(cohort: Cohort, org_id: str | None) -> str | None:
    """The network an organization belongs to, by name (the index said its id)."""
    parent = cohort.org(org_id).parent if org_id else None
    return cohort.org(parent).name if parent else None


def _made(job: dict[str, Any]) -> str:
    """When a kept report was made, as the index shows it (UTC)."""
    try:
        made = dt.datetime.fromisoformat(job.get("ran_at") or "")
    except ValueError:
        return ""
    return made.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def write_index(paths: CohortPaths, cohort: Cohort, card: CycleCard) -> Path:
    """The cycle's index page, from the manifest (so it lists every report ever made
    for this cycle, not only this run's)."""
    manifest = json.loads(paths.manifest(card.id).read_text())
    index_path = paths.index(card.id)
    text = render_index(
        cohort,
        card,
        manifest["jobs"],
        index_path.parent,
        generated=manifest["created_at"],
    )
    write_text_atomic(index_path, text)
    return index_path


def render_index(
    cohort: Cohort,
    card: CycleCard,
    jobs: Sequence[dict[str, Any]],
    folder: Path,
    *,
    generated: str,
    audience: str | None = None,
) -> str:
    """An index page of ``jobs`` (manifest entries), each linked relative to ``folder``
    (where the page is written). ``audience``: a page handed to that audience
    (``cyclebook publish``), listing its reports without the run's statuses and times."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from cyclebook.paths import templates_dir

    rows: dict[str, dict[str, Any]] = {}
    members = {org.id for org in cohort.organizations}
    for job in jobs:
        if job["org_id"] and job["org_id"] not in members:
            # an organization taken out of cohort.yml (a group that left the cohort): its
            # old reports stay on disk and in the manifest, but the index lists the
            # cohort as it is now (its name and network are no longer known)
            continue
        org_key = job["org_id"] or "_cohort"
        row = rows.setdefault(
            org_key,
            {
                "name": _org_title(cohort, job["org_id"])
                if org_key != "_cohort"
                else ("Whole cohort (summary)"),
                "parent": _parent_name(cohort, job["org_id"]),
                "cells": {},
            },
        )
        href = None
        if job.get("output_html"):
            href = Path(os.path.relpath(job["output_html"], folder)).as_posix()
        row["cells"].setdefault(job["phase"], []).append(
            {
                "audience": job["audience"],
                "status": job["status"],
                # a kept report: when it was made, and how long that took (it said 0.0 s)
                "seconds": job.get("run_seconds") or job.get("seconds") or 0.0,
                "made": _made(job) if job["status"] == "cached" or audience else "",
                "href": href,
                "error": (job.get("error") or "").splitlines()[0] if job.get("error") else "",
            }
        )
    order = [org.id for org in cohort.organizations] + ["_cohort"]
    ordered = [rows[key] for key in order if key in rows]
    # the organization's own report first, then what the cohort and funders see
    rank = {audience: n for n, audience in enumerate(("organization", "cohort", "funder"))}
    for row in ordered:
        for cells in row["cells"].values():
            cells.sort(key=lambda cell: rank.get(cell["audience"], len(rank)))
    env = Environment(
        loader=FileSystemLoader(str(templates_dir() / "cyclebook")),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    # a page handed to one audience shows the phases it has reports of
    shown = {job["phase"] for job in jobs} if audience else set(ALL_PHASES)
    return env.get_template("cycle_index.html.j2").render(
        cohort=cohort,
        card=card,
        rows=ordered,
        phases=[p for p in ALL_PHASES if p in shown],
        phase_titles=PHASE_TITLES,
        generated=generated,
        version=cyclebook.__version__,
        audience=audience,
    )


# --------------------------------------------------------------------------- entry


def _print_progress(result: JobResult, done: int, total: int) -> None:
    width = 24
    filled = int(width * done / max(total, 1))
    bar = "#" * filled + "." * (width - filled)
    print(
        f"[{bar}] {done:>3}/{total} {result.status:<8} {result.key} ({result.seconds:.1f} s)",
        flush=True,
    )


def run(
    cohort_dir: str | Path,
    *,
    cycles: Sequence[str] | None = None,
    phases: Sequence[str] | None = None,
    orgs: Sequence[str] | None = None,
    audiences: Sequence[str] | None = None,
    workers: int | None = None,
    extra_parameters: dict[str, Any] | None = None,
    progress: Callable[[JobResult, int, int], None] | None = _print_progress,
    force: bool = False,
) -> RunSummary:
    """Plan, run and record. Reports whose inputs did not change since their last
    successful run are not executed again (status ``cached``; see incremental.py);
    ``force=True`` executes every job."""
    started = time.perf_counter()
    paths = CohortPaths.of(cohort_dir)
    cohort, cards, chains = plan(
        paths.root,
        cycles=cycles,
        phases=phases,
        orgs=orgs,
        audiences=audiences,
        extra_parameters=extra_parameters,
    )
    workers = workers or os.cpu_count() or 1
    from cyclebook import settings

    settings.check_environment()  # a mistyped setting stops the run, not every report
    results: list[JobResult] = []
    manifests, indexes, errors = [], [], []
    finished: list[JobResult] = []  # what a Ctrl-C says was done (RunInterrupted)

    def report(result: JobResult, done: int, total: int) -> None:
        finished.append(result)
        if progress is not None:
            progress(result, done, total)

    with run_lock(paths):
        _clean_partials(paths, list(cards))
        versions = package_versions()
        fingerprints = Fingerprints(paths, cohort, cards, versions, force=force)
        pool = _Workers(
            min(workers, len(chains)), [job.notebook for chain in chains for job in chain]
        )
        try:
            # Cycles run in order: a later cycle compares itself with the earlier one.
            for cycle, card in cards.items():
                cycle_started = time.perf_counter()
                org_chains = [c for c in chains if c[0].cycle == cycle and c[0].org_id]
                cohort_chains = [c for c in chains if c[0].cycle == cycle and not c[0].org_id]
                cycle_results = _run_chains(org_chains, workers, report, fingerprints, pool)
                cycle_results += _run_chains(cohort_chains, workers, report, fingerprints, pool)
                check_again(cycle_results, fingerprints, chains)
                results += cycle_results
                try:
                    manifests.append(
                        write_manifest(
                            paths,
                            cohort,
                            card,
                            cycle_results,
                            time.perf_counter() - cycle_started,
                            fingerprints,
                            versions,
                        )
                    )
                    indexes.append(write_index(paths, cohort, card))
                except (OSError, ValueError) as exc:
                    # a full disk, a read-only output folder, a card moved meanwhile: the
                    # run ended in a traceback, and the reports' own failures were never
                    # said; the journal keeps what ran for the next run
                    errors.append(
                        f"{card.id}: the manifest and index could not be written "
                        f"({type(exc).__name__}: {exc}). Fix: free space or make "
                        f"{paths.output(card.id)} writable, then run again."
                    )
            out_of_date = _out_of_date(paths, fingerprints, list(cards))
        except KeyboardInterrupt:
            # a second Ctrl-C while the workers are stopped ends nothing sooner
            with contextlib.suppress(KeyboardInterrupt), _interrupt_deferred():
                pool.close(cancel=True)
            raise RunInterrupted(finished, sum(len(chain) for chain in chains)) from None
        except BaseException:
            pool.close(cancel=True)
            raise
        finally:
            pool.close()
    return RunSummary(
        cohort_dir=paths.root,
        results=results,
        seconds=time.perf_counter() - started,
        manifests=manifests,
        indexes=indexes,
        errors=errors,
        warnings=[
            *unread_reflections(paths.root, [o.id for o in cohort.organizations], list(cards)),
            *_not_synced(paths, cohort, chains),
            *_redefined(paths, cohort, chains),
            *out_of_date,
            *_left_behind(paths, cohort, list(cards)),
            *(
                warning
                for card in cards.values()
                for warning in team_warnings(
                    paths.root, card, [org.id for org in cohort.organizations]
                )
            ),
        ],
    )


# The parts of a fingerprint (see incremental.py), as a warning names what changed
INPUT_NAMES = {
    "code": "cyclebook or the packages it runs on",
    "notebook": "the phase notebooks",
    "parameters": "the reports' parameters",
    "report": "the reports' headings",
    "cycle_yml": "the cycle's card",
    "previous_cycle_yml": "the card of a cycle before it",
    "clock": "the date (the cycle is still running)",
    "config": "cohort.yml",
    "reflections": "reflections",
    "exports": "exports",
    "store": "the data in the store",
    "synced": "a group's last sync",
    "values": "the figures the share reports saved",
}


def made_jobs(fingerprints: Fingerprints, cycle: str) -> list[Job]:
    """Every report ``cycle`` can have (each phase for each audience it may have), as
    the run that made it planned it (:func:`as_made`, by the records of
    :attr:`Fingerprints.previous`): what :meth:`Fingerprints.out_of_date` judges, for
    `cyclebook publish` and for the warning at the end of a run alike. The cycle's card
    is added to ``fingerprints``. Raises what :func:`plan` raises (a card a run of the
    cycle would refuse)."""
    _, cards, chains = plan(fingerprints.paths.root, cycles=[cycle], audiences=AUDIENCES)
    fingerprints.cards.update(cards)
    made = fingerprints.previous
    return [as_made(job, made.get(job.key)) for chain in chains for job in chain]


def as_made(job: Job, made: dict[str, Any] | None) -> Job:
    """The job with the parameters its report was made with, when they differ only by
    a notebook's own parameters given with ``-p`` (not the ones the run sets)."""
    recorded = (made or {}).get("parameters")
    if not isinstance(recorded, dict) or recorded == job.parameters:
        return job
    if any(recorded.get(name) != job.parameters.get(name) for name in PLANNED):
        return job
    return replace(job, parameters=recorded)


def stale_reports(fingerprints: Fingerprints, jobs: list[Job]) -> dict[str, list[str]]:
    """The reports among ``jobs`` whose last run succeeded and that a run would make
    again, by key, with the names of what changed (:meth:`Fingerprints.out_of_date`).
    The one check behind the warning at the end of a run (:func:`_out_of_date`) and
    `cyclebook publish`'s refusal of a report out of date: the warning judged the
    reports a run makes by default, by their default parameters, and stopped at a
    group's first; it left out a cohort summary that follows a group's report out of
    date, and a report made on request, which publish refused."""
    changed = fingerprints.out_of_date(jobs)
    return {
        key: parts
        for key, parts in changed.items()
        if fingerprints.previous.get(key, {}).get("status") in CACHEABLE
    }


def _out_of_date(paths: CohortPaths, fingerprints: Fingerprints, ran: list[str]) -> list[str]:
    """The cycles this run did not run whose reports are out of date: their inputs
    changed since they were made (an export synced in the latest cycle's run brings
    activity of an earlier cycle, a definition edited in cohort.yml). A run of the
    latest cycle left the earlier cycles' reports as they were without a word, and
    they went on showing the old figures as current.

    Each kept report is judged as `cyclebook publish` judges it (:func:`stale_reports`),
    with the store's digests this run read."""
    warnings = []
    for cycle in fingerprints.cycle_order:
        prefix = f"{cycle}/"
        if cycle in ran or not any(key.startswith(prefix) for key in fingerprints.previous):
            continue  # run now, or never: nothing made that could be out of date
        try:
            jobs = made_jobs(fingerprints, cycle)
        except CyclebookError:
            continue  # a card a run of it would refuse: that run says why
        stale = stale_reports(fingerprints, jobs)
        if not stale:
            continue
        names = list(
            dict.fromkeys(job.org_id or "the cohort summary" for job in jobs if job.key in stale)
        )
        changed = dict.fromkeys(
            INPUT_NAMES[name] for parts in stale.values() for name in parts if name in INPUT_NAMES
        )
        whose = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        what = ", ".join(changed) or "their inputs"
        warnings.append(
            f"{cycle}: reports made before are out of date ({whose}): {what} changed since "
            f"they were made, and this run did not run {cycle}. Fix: `cyclebook run "
            f"{paths.root} --cycle {cycle}` makes them again (only those out of date)."
        )
    return warnings


def _left_behind(paths: CohortPaths, cohort: Cohort, cycles: list[str]) -> list[str]:
    """Groups taken out of cohort.yml whose data cyclebook still holds (their archived
    exports, their reports in an output folder): said at every run until forgotten."""
    ids = {org.id for org in cohort.organizations}
    folders = [paths.archive] + [paths.output(cycle) / "reports" for cycle in cycles]
    gone = sorted(
        {
            entry.name
            for folder in folders
            if folder.is_dir()
            for entry in folder.iterdir()
            if entry.is_dir() and not entry.name.startswith("_") and entry.name not in ids
        }
    )
    return [
        f"{org_id} is not in cohort.yml, but its data is still kept (its members in the "
        f"store and the archive, its reports). Fix: `cyclebook forget {paths.root} {org_id}` "
        "lists it, and removes it with --yes."
        for org_id in gone
    ]


def _quoted(definition: str, other: str) -> str:
    """A definition as a warning quotes it: whole, or only its changed words when long."""
    from cyclebook.card import definition_change

    if len(definition) <= 240:
        return f'"{definition}"'
    return f'"{definition_change(definition, other)}"'


def _redefined(paths: CohortPaths, cohort: Cohort, chains: list[list[Job]]) -> list[str]:
    """The cycles whose figures the run computed again under a definition edited in
    cohort.yml that no measure_history entry records: a hand edit of
    ``absorption_days`` silently rewrote a past cycle's figures."""
    pairs = dict.fromkeys(
        (job.cycle, job.org_id)
        for chain in chains
        for job in chain
        if job.org_id and job.phase == "share"
    )
    if not pairs or not paths.store.exists():
        return []
    from cyclebook.store import connect, table_names

    try:  # nothing recorded (the usual case): no need of the metric code (ibis: 0.6 s)
        with connect(paths.store) as con:
            tables = table_names(con)
            recorded = (
                "meta" in tables
                and con.execute(
                    "SELECT count(*) FROM meta WHERE key LIKE 'redefined/%'"
                ).fetchone()[0]
            )
    except CyclebookError:
        return []
    if not recorded:
        return []
    from cyclebook.metrics.values import unexplained_redefinitions

    cycles = list_cycles(paths.root)
    warnings = []
    for cycle, org_id in pairs:
        org = cohort.org(org_id)
        try:
            changes = unexplained_redefinitions(paths.store, org, cycle, cycles)
        except CyclebookError:
            continue  # a store the reports could not read: their own failures say why
        for metric, (then, now) in sorted(changes.items()):
            warnings.append(
                f"{org.name} ({org_id}), {cycle}: {metric} was computed again under a "
                "changed definition that its measure_history does not record (its figures were "
                f"{_quoted(then, now)}, now {_quoted(now, then)}), so the cycle's reports "
                "changed. Fix: record the change in the organization's measure_history in "
                "cohort.yml (measure, date, proposed_by, why, change, and cycle: the first "
                "cycle it applies to, with replaced: what it replaced, so that earlier "
                "cycles keep their figures), or undo the edit; then run again."
            )
    return warnings


def _not_synced(paths: CohortPaths, cohort: Cohort, chains: list[list[Job]]) -> list[str]:
    """The organizations whose reports ran without their sync while exports changed:
    `--phase share` after a new export quietly showed the data of the last sync."""
    from cyclebook.sync import exports_not_synced

    jobs = [job for chain in chains for job in chain]
    synced = {job.org_id for job in jobs if job.phase == "sync"}
    return [
        f"{org_id}: exports changed since its last sync (or are read with other settings); "
        "its reports show the data of that sync. Fix: run its sync phase too (drop --phase, "
        "or add --phase sync)."
        for org_id in dict.fromkeys(job.org_id for job in jobs if job.org_id)
        if org_id not in synced and exports_not_synced(paths.root, cohort.org(org_id))
    ]
