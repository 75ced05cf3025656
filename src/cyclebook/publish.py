"""Hand one audience its reports: ``cyclebook publish COHORT --audience A --to DEST``.

A cycle's output folder holds every audience's reports side by side, each group's own
(its exact counts) included, with the executed notebooks, and its index links them all;
the cohort folder around it holds the store, the archive and the follow-up lists. What a
facilitator hands to funders, to the cohort or to one group is a folder of its own:

``DEST/reports/<org>/<report>.html``
    the reports the run rendered for that audience (``organization``: the reports of the
    one group ``--org`` names, never another's), byte for byte as the run wrote them;
``DEST/index.html``
    an index of those reports and nothing else (the runner's index page, rendered for
    the audience);
``DEST/published.json``
    what was copied: the cohort, the cycle, the audience, and each file with its SHA-256.

Nothing else is copied: no executed notebook, follow-up list, store, archive or manifest.

Before it writes anything, publishing refuses (:class:`~cyclebook.errors.PublishError`,
with the fix) an audience or organization it does not know; a report of the audience
that was never made, whose last run failed (or was withheld or skipped), or that is out
of date (a run would make it again: :meth:`cyclebook.incremental.Fingerprints.out_of_date`,
the fingerprints the runner keeps in the manifest); and a destination that is not empty
(``replace=True`` replaces an earlier publication, nothing else) or lies in the cohort
folder. Every report is checked by the privacy guard again, as the run checks it (the
store may have gained members since): one in which it finds a member's personal data
stops the publication (:class:`~cyclebook.errors.PrivacyError`). The destination
appears whole or not at all: it is written beside it, then renamed into place.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cyclebook
from cyclebook import runner
from cyclebook.config import Cohort, CycleCard, list_cycles, load_cohort
from cyclebook.errors import PrivacyError, PublishError
from cyclebook.incremental import CACHEABLE, Fingerprints
from cyclebook.paths import CohortPaths, sweep_owned_dirs

AUDIENCES: tuple[str, ...] = ("organization", "cohort", "funder")
PUBLISHED = "published.json"
INDEX = "index.html"
REPORTS = "reports"
# how many reports a refusal names before it counts the rest
LISTED = 12


@dataclass(frozen=True)
class Publication:
    """What :func:`publish` wrote."""

    dest: Path
    cycle: str
    audience: str
    orgs: list[str]  # the organizations whose reports were copied
    reports: list[str]  # the copied reports, by their path in ``dest``

    @property
    def index(self) -> Path:
        return self.dest / INDEX

    @property
    def manifest(self) -> Path:
        return self.dest / PUBLISHED


def publish(
    cohort_dir: str | Path,
    audience: str,
    dest: str | Path,
    *,
    cycle: str | None = None,
    orgs: Sequence[str] | None = None,
    replace: bool = False,
) -> Publication:
    """Copy the reports of ``cycle`` (default: the latest) rendered for ``audience`` to
    ``dest``, with an index of them and ``published.json``. ``orgs``: for
    ``organization``, the one group whose reports these are (required); for ``cohort``
    and ``funder``, only these groups' reports (the cohort summary is then left out, as
    ``cyclebook run --org`` leaves it out). Raises :class:`PublishError` or
    :class:`PrivacyError` before anything is written."""
    paths = CohortPaths.of(cohort_dir)
    if audience not in AUDIENCES:
        raise PublishError(
            f"--audience {audience!r}: no such audience",
            fix="use organization (with --org ID: one group's own reports), cohort (what the "
            "other groups see) or funder.",
        )
    cohort = load_cohort(paths.root)
    chosen = _check_orgs(cohort, audience, list(orgs or []))
    target = Path(dest).expanduser().resolve()
    _check_dest(paths, target, replace)
    cycles = list_cycles(paths.root)
    cycle = cycle or (cycles[-1] if cycles else None)
    if cycle not in cycles:
        raise PublishError(
            f"{paths.root}: no cycle {cycle!r}" if cycle else f"{paths.root}: no cycle yet",
            fix=f"use one of {', '.join(cycles)} with --cycle."
            if cycles
            else "create a cycle and run it first (see README).",
        )
    with runner.run_lock(paths):  # no run replaces a report while it is checked and copied
        fingerprints = Fingerprints(paths, cohort, {}, runner.package_versions())
        made = fingerprints.previous
        jobs = runner.made_jobs(fingerprints, cycle)  # every report the cycle can have
        card = fingerprints.cards[cycle]
        wanted = _wanted(jobs, made, audience, chosen)
        if not wanted:  # (every audience has reports by default: not seen)
            raise PublishError(f"no {audience} report in {cycle}", fix="run the cycle first.")
        _check_made(paths, card, wanted, jobs, fingerprints, audience, chosen)
        texts = _guarded(wanted, f"cyclebook run {paths.root} --cycle {cycle}")
        index_job = dataclasses.replace(
            wanted[0], org_id=chosen[0] if audience == "organization" else None
        )
        return _write(paths, cohort, card, target, audience, wanted, texts, made, index_job)


# --------------------------------------------------------------------------- checks


def _check_orgs(cohort: Cohort, audience: str, orgs: list[str]) -> list[str]:
    known = [org.id for org in cohort.organizations]
    unknown = [org for org in orgs if org not in known]
    if unknown:
        raise PublishError(
            f"--org {', '.join(unknown)}: no such organization in cohort.yml",
            fix=f"use one of: {', '.join(known)}.",
        )
    if audience == "organization" and len(set(orgs)) != 1:
        raise PublishError(
            "--audience organization publishes one group's own reports (its exact counts), "
            + ("and no --org names the group" if not orgs else f"and --org names {len(orgs)}"),
            fix=f"name one group with --org (one of: {', '.join(known)}); publish each "
            "group's reports to a folder of its own.",
        )
    return list(dict.fromkeys(orgs))


def _check_dest(paths: CohortPaths, dest: Path, replace: bool) -> None:
    root = paths.root
    if dest == root or root in dest.parents or dest in root.parents:
        where = (
            "the cohort folder"
            if dest == root
            else "inside the cohort folder"
            if root in dest.parents
            else "a folder that holds the cohort folder"
        )
        raise PublishError(
            f"--to {dest}: it is {where} (which holds members' data: exports, the store, "
            "follow-up lists)",
            fix="publish to a folder outside the cohort folder.",
        )
    if dest.exists() and not dest.is_dir():
        raise PublishError(f"--to {dest}: it is a file", fix="name a new or empty folder.")
    entries = sorted(p.name for p in dest.iterdir()) if dest.is_dir() else []
    if not entries:
        return
    if not replace:
        raise PublishError(
            f"--to {dest}: the folder is not empty ({len(entries)} entries, such as "
            f"{entries[0]!r})",
            fix="name a new or empty folder, or add --replace to replace what an earlier "
            "`cyclebook publish` wrote there.",
        )
    if not (dest / PUBLISHED).is_file():
        raise PublishError(
            f"--replace: {dest} holds files `cyclebook publish` did not write (it has no "
            f"{PUBLISHED}, such as {entries[0]!r}); nothing was replaced",
            fix="name a new or empty folder (or empty this one yourself).",
        )


def _wanted(
    jobs: list[runner.Job], made: dict[str, dict[str, Any]], audience: str, orgs: list[str]
) -> list[runner.Job]:
    """The audience's reports: those a run makes for it by default (the share reports
    and the cohort summary for the cohort and funders; every phase of a group for the
    organization), and those made for it on request (``--phase reflect --audience
    cohort``). Organizations first, in cohort.yml's order, then the cohort summary."""
    if audience == "organization":
        jobs = [job for job in jobs if job.org_id == orgs[0]]
    elif orgs:
        jobs = [job for job in jobs if job.org_id in orgs]
    return [
        job
        for job in jobs
        if job.audience == audience
        and (audience in runner.DEFAULT_AUDIENCES[job.phase] or job.key in made)
    ]


def _check_made(
    paths: CohortPaths,
    card: CycleCard,
    wanted: list[runner.Job],
    jobs: list[runner.Job],
    fingerprints: Fingerprints,
    audience: str,
    orgs: list[str],
) -> None:
    """Refuse reports never made, not made well, or out of date, naming each and the
    command that makes them."""
    made = fingerprints.previous
    changed = runner.stale_reports(fingerprints, jobs)
    problems: list[str] = []
    commands: dict[str, None] = {}
    failed = False
    for job in wanted:
        entry = made.get(job.key)
        if entry is None:
            problem = "never made"
        elif not Path(job.output_html).is_file():
            problem = f"made, but its file is gone ({job.output_html})"
        elif entry.get("status") not in CACHEABLE:
            failed = True
            first = (entry.get("error") or "").strip().splitlines()
            problem = f"{entry.get('status')} in its last run" + (f": {first[0]}" if first else "")
        elif job.key in changed:
            problem = f"out of date: {_changed(changed[job.key])}"
        else:
            continue
        problems.append(f"{job.key}: {problem}")
        commands[_command(paths, card, job, audience, orgs)] = None
    if not problems:
        return
    listed = problems[:LISTED]
    if len(problems) > LISTED:
        listed.append(f"and {len(problems) - LISTED} more")
    run = " and ".join(f"`{command}`" for command in commands)
    raise PublishError(
        f"cannot publish the {audience} reports of {card.id}; nothing was written:\n  - "
        + "\n  - ".join(listed),
        fix=f"run {run} (it makes what is missing or out of date and keeps the rest)"
        + (", fix what its FAILED lines say" if failed else "")
        + ", then publish again.",
    )


def _changed(parts: list[str]) -> str:
    """Why a report is out of date, from :meth:`Fingerprints.out_of_date`'s part names."""
    if parts == ["upstream"]:
        return (
            "a report it follows is out of date (an earlier phase of the group's; for the "
            "cohort summary, a group's report)"
        )
    names = [runner.INPUT_NAMES[name] for name in parts if name in runner.INPUT_NAMES]
    return f"{', '.join(names) or 'what it is made from'} changed since it was made"


def _command(
    paths: CohortPaths, card: CycleCard, job: runner.Job, audience: str, orgs: list[str]
) -> str:
    """The run that makes ``job`` again: the cycle's run (of the chosen groups), and for
    a report made only on request (reflect for the cohort) its phase and audience."""
    words = ["cyclebook", "run", str(paths.root), "--cycle", card.id]
    for org in orgs:
        words += ["--org", org]
    if audience not in runner.DEFAULT_AUDIENCES[job.phase]:
        words += ["--phase", job.phase, "--audience", audience]
    return " ".join(words)


def _guarded(wanted: list[runner.Job], command: str) -> dict[str, bytes]:
    """Each report's bytes, once the privacy guard found nothing in them (the bytes
    checked are the bytes copied). ``command``: the run that checks them again."""
    runner._guard_allow.cache_clear()  # the allowances as they are now, not a run's
    texts: dict[str, bytes] = {}
    found: list[str] = []
    for job in wanted:
        data = Path(job.output_html).read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            found.append(f"{job.key}: the report is not UTF-8 text, so it cannot be checked")
            continue
        leak = runner.find_personal_data(text, job)
        if leak is not None:
            found.append(f"{job.key}: {leak}")
        texts[job.key] = data
    if found:
        raise PrivacyError(
            "the privacy guard, run again over each report before it is copied, stopped the "
            "publication; nothing was written:\n  - " + "\n  - ".join(found),
            fix=f"run `{command}`: it checks the kept reports again and withholds these; "
            "fix what put the values there (the file named, or the notebook), run again, "
            "then publish.",
        )
    return texts


# --------------------------------------------------------------------------- writing


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(
    paths: CohortPaths,
    cohort: Cohort,
    card: CycleCard,
    dest: Path,
    audience: str,
    wanted: list[runner.Job],
    texts: dict[str, bytes],
    made: dict[str, dict[str, Any]],
    index_job: runner.Job,
) -> Publication:
    prefix = f".{dest.name}.publishing-"
    dest.parent.mkdir(parents=True, exist_ok=True)
    sweep_owned_dirs(dest.parent, prefix)  # what a killed publish left
    staging = dest.parent / f"{prefix}{os.getpid()}-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        published_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        reports, entries = [], []
        for job in wanted:
            out = Path(job.output_html)
            rel = Path(REPORTS, out.parent.name, out.name)
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            (staging / rel).write_bytes(texts[job.key])
            reports.append(
                {
                    "path": rel.as_posix(),
                    "report": job.key,
                    "org_id": job.org_id,
                    "phase": job.phase,
                    "made_at": made[job.key].get("ran_at"),
                    "sha256": _sha256(texts[job.key]),
                }
            )
            entries.append({**made[job.key], "output_html": str(staging / rel)})
        index = runner.render_index(
            cohort, card, entries, staging, generated=published_at, audience=audience
        ).encode("utf-8")
        leak = runner.find_personal_data(index.decode("utf-8"), index_job)
        if leak is not None:  # names of groups and the card: the reports show them too
            raise PrivacyError(
                f"the privacy guard stopped the publication's index page: {leak}",
                fix="take the value out of cohort.yml or the cycle card, then publish again.",
            )
        (staging / INDEX).write_bytes(index)
        orgs = list(dict.fromkeys(job.org_id for job in wanted if job.org_id))
        record = {
            "cyclebook_version": cyclebook.__version__,
            "published_at": published_at,
            "cohort": {"id": cohort.id, "name": cohort.name},
            "cycle": {
                "id": card.id,
                "title": card.title,
                "start": card.start.isoformat(),
                "end": card.end.isoformat(),
            },
            "audience": audience,
            "organizations": orgs,
            "index": {"path": INDEX, "sha256": _sha256(index)},
            "reports": reports,
        }
        (staging / PUBLISHED).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        _move_into_place(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Publication(
        dest=dest,
        cycle=card.id,
        audience=audience,
        orgs=orgs,
        reports=[report["path"] for report in reports],
    )


def _move_into_place(staging: Path, dest: Path) -> None:
    """``staging`` becomes ``dest``: an empty folder or an earlier publication there is
    replaced (checked by :func:`_check_dest`)."""
    if not dest.exists():
        os.rename(staging, dest)
        return
    old = staging.with_name(staging.name.replace(".publishing-", ".replaced-", 1))
    os.rename(dest, old)
    try:
        os.rename(staging, dest)
    except BaseException:
        os.rename(old, dest)
        raise
    shutil.rmtree(old, ignore_errors=True)
