"""Incremental runs: which jobs must run again.

Before a job is submitted, the parent computes the job's *fingerprint*: a digest of
everything the report depends on. The manifest (``<cycle>/output/manifest.json``) keeps
the fingerprint of each job's last run. A job whose fingerprint is unchanged, whose last
run succeeded (``ok`` or ``cached``) and whose executed notebook and HTML report still
exist is not executed again: its status is ``cached``. Failed, skipped and withheld runs
are never cached. ``run(force=True)`` (``cyclebook run --force``) ignores the manifest.

What goes into a fingerprint (the parts are kept in the manifest under ``inputs``, so
``manifest.json`` says why a job ran again):

``code``
    cyclebook's version, the versions of the packages that execute and render
    (papermill, nbconvert, ipykernel, pandas, duckdb, ...), the Python version, and a
    digest of cyclebook's own source files and of the report template. Editing any of
    them re-runs everything.
``notebook``, ``parameters``, ``report``
    the phase notebook's cells (kinds, sources, tags) and kernel, not its outputs (see
    :meth:`Fingerprints.notebook`), the parameters passed to it, the report header fields.
``cycle_yml``, ``previous_cycle_yml``, ``clock``
    the cycle's card, the cards before it along ``previous:`` (the metric engine compares
    the two cycles; the share report's suppression reads the whole chain), each as
    validated (:meth:`Fingerprints.card`: a comment or a blank line changes nothing), and, while
    the cycle is still running, today's date and how many of its events and attendances
    have happened by now (:meth:`Fingerprints.passed`: the share report and the cohort
    summary measure the cycle up to today, and they and the improve report count only
    events that have happened; after the end the reports are fixed). Today is the
    group's own date for its share reports, the UTC date for the others
    (``CLOCK_IN_LOCAL_TIME``); the cohort summary counts the events of the network
    members, whose rows its roll-ups read. Not for the sync
    and reflect reports (``READS_NO_CLOCK``): neither shows anything that depends on the
    date, and they were out of date the next day (publishing needed a run that day).
``config``
    for an organization's job, the cohort's settings and the configuration in
    ``cohort.yml`` of the organizations it reads (:meth:`Fingerprints.related`: itself,
    its network and its affiliates; not its sibling affiliates); for the cohort notebook,
    the whole of ``cohort.yml`` as read (a comment changes nothing) but the groups'
    staff (``NOT_READ_BY_PHASE``). Editing one group's
    entry re-runs that group, its network and its affiliates, not the whole cohort's
    pages (the cohort summary re-runs). With it, which of those organizations'
    ``measure_history`` changes apply only from a later cycle (:meth:`Fingerprints.applies_later`):
    that depends on the cycle folders too. A sync reads less
    (:meth:`Fingerprints.sync_config`): its own organization's sources, time zone and
    ladder as of the cycle, not its consent, staff, measures or network; editing those
    re-runs the group's other reports, not its sync. The other phases leave out what
    their reports do not read either (``NOT_READ_BY_PHASE``: only the improve report
    names the staff, as the team when the card names none; the reflect report's form
    offers them, in JupyterLab only, ``READ_WHEN_INTERACTIVE``; a gallery note is the
    cohort summary's alone; the reflect and improve reports read no source and no time
    zone), and a share report reads the sources of its own organization alone
    (``READ_OF_ITS_OWN_ENTRY_ALONE``: an affiliate's edited re-ran its network's share
    reports). No job counts the
    ``facilitators`` (``READ_BY_THE_GUARD_ALONE``): only the privacy guard reads them,
    so editing them has the kept reports checked again (``guarded`` below), not run.
``reflections`` (not sync, not share)
    the organization's reflection file of the cycle (the cohort notebook: every
    organization's), as validated (:meth:`Fingerprints.reflection`: a comment or a blank
    line changes nothing; a file that does not validate counts by its bytes). Not the
    earlier cycles' files: no report reads them. The share report computes the group's
    measures and shows none of what it said (``READS_NO_REFLECTIONS``).
``exports`` (sync only)
    the SHA-256 of every file the organization's sources read, found as the sync finds
    them (:meth:`Fingerprints.exports`), and the names of files no reader reads.
``store``
    the state of the store the phase reads, as a content digest computed by DuckDB:
    ``count(*)`` and ``sum(hash(row))`` per organization of every table that has an
    ``org_id`` column, except sync's bookkeeping (``sync_run``, ``rejected_row``,
    ``raw_file``: they hold run ids and times, and their effect on the data is already
    in the data tables; :func:`cyclebook.store.row_digests`). ``metric_value`` rows are
    hashed without ``computed_at``, and an organization's job leaves out the values of
    its own cycle: those are written while the cycle runs (each share writes its own),
    and what a job reads of them is its ``values`` (below). The cohort summary counts the
    metric values of every organization (``SUMMARY_READS_OF_EVERY_GROUP``) and the rows
    and per-person state of the network members alone (:meth:`Fingerprints.network_members`:
    its roll-ups read them; a row of another group that changed no figure re-ran it).
    No job counts the values of
    cycles that start after its own: no report reads them, and while the next cycle
    runs they change every day. ``person_state`` (the per-person state a network
    member's share keeps for the roll-up) is share's output too, and is treated the
    same way. The reflect report counts the metric values alone
    (``READS_OF_THE_STORE``): it shows the group's figures (last cycle's beside this
    one's), none of its data, and a row changed that changed no figure (a member's zip
    code) re-ran it.
    This signal is exact (it is the data, not a claim about it), survives a re-sync of
    unchanged exports (the same rows hash the same), notices a deleted or restored store,
    and costs one scan of the organization's rows (about 50 ms per million rows).
    For sync, the recorded state is the organization's data *after* the sync, so an
    unchanged export and an untouched store skip it. For the later phases it is the
    data and earlier cycles' metric values of the organizations the job reads
    (:meth:`Fingerprints.reads`: its own, and a network's improve report its
    affiliates' too) *before* the job runs; the runner starts an organization's phases
    after sync only once every sync of those is done, so that state is the one the job
    reads. It is all they count of what a sync wrote (with ``synced``, below): an export
    saved again with the same rows (downloaded again, its columns in another order, a
    dated sheet under its new name) re-runs the sync report, which lists the files and
    their hashes, and no report after it. (The metric code tells a network member's sync
    of the same rows from a change the same way, by the digest of its rows saved with
    its values: :func:`cyclebook.metrics.values.fresh_results`.)
``synced`` (the cohort notebook only)
    each organization's last sync, as the summary's status table shows it: its outcome
    and its day (:meth:`Fingerprints.synced`). For a cycle that a later one follows, the
    sync its figures of the cycle were computed from (a later sync on another day made
    every earlier cycle's summary out of date). The rest of the sync's bookkeeping
    (``sync_run``'s files, rows and dates, ``rejected_row``, ``raw_file``) only the sync
    report reads (and, to tell whether saved values may be reused, the metric code:
    reused or computed, they are the same).
``values`` (reflect and improve)
    what the organization's share reports saved for the job's cycle that its report
    shows (``READS_OF_SHARE``: the metric values, per (org, cycle) and without
    ``computed_at``, :meth:`Fingerprints.saved`), read once share has run. Not share's
    fingerprint: a share run that saved the same values (a source's settings edited
    that changed no row, share's notebook edited) re-ran every report after it. Nor
    what else share writes: the per-person state (the cohort summary's network roll-ups
    alone read it, in its ``store``), the follow-up lists (read by no report), its
    ``meta`` rows, its report.
    The cohort summary counts every organization's values (and the network members'
    states) in its ``store``.
    While a cycle runs the values move with the date (windows end today), so the
    reports after share run again each day that changes a figure. No job counts the
    reports before it (sync's: see ``store`` and ``synced``; reflect and improve write
    nothing); to judge what is out of date (:meth:`Fingerprints.out_of_date`), a share
    or sync report out of date makes the reports after it out of date (``upstream``):
    run, it may save other values, or store other rows.

``guarded`` (kept beside the fingerprint, not in it)
    what the privacy guard last checked the report against (:meth:`Fingerprints.guard_state`):
    every organization's members and the text the guard allows. Each report is checked for
    the values of every member of every organization, so a member of another group whose
    name a cached report shows (a reflection's story, a sheet's column) withholds it: when
    that changed since, the runner checks the cached report again
    (:func:`cyclebook.runner.check_again`) instead of running it: the guard alone runs
    over its HTML, which stays as it was (and is published) or is withheld. This is how
    an edit of what only the guard reads (the ``facilitators``, the names in a
    reflection of another cycle) is taken: no report runs again for it.

Consequences: a changed export re-runs that organization's sync; if the rows it stores
changed, its share reports and its improve report too (and, for an affiliate, its
network's improve report, which counts it), and the cohort summary when it is a
network's member (else when share saved other figures), and its reflect report if
share saved other figures; a share run that saved the same figures re-runs no report
after it; a sync of another day re-runs the latest cycle's summary, not an earlier
cycle's; a changed cycle.yml re-runs that cycle's reports; a changed
reflection file re-runs that group's reflect and improve reports of that cycle, and
its cohort summary; a changed list of facilitators re-runs nothing (the kept reports
are checked again by the guard); ``--force`` re-runs everything.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import cyclebook
from cyclebook.config import (
    Cohort,
    CycleCard,
    cycles_after,
    earlier_cycles,
    list_cycles,
    load_cycle,
)
from cyclebook.filehash import cohort_cache, files_digest
from cyclebook.paths import FOLLOWUP_LISTS, PHASES, CohortPaths, templates_dir

FINGERPRINT_VERSION = 1
CACHEABLE = frozenset({"ok", "cached"})
# What the privacy guard indexes of every organization's members (see privacy.scan_html)
PERSONAL_TABLES = ("person_pii", "identity")
PHASE_ORDER = {phase: i for i, phase in enumerate((*PHASES, "cohort"))}
# The cycle index's template: it renders index.html, written again by every run, and no
# report (editing it re-ran every report of every cycle).
NOT_IN_REPORTS = frozenset({"cycle_index.html.j2"})
# A cell's metadata that its report shows (templates/cyclebook/index.html.j2: a figure
# without alt text of its own gets the cell's ``alt``; lab's template: a raw cell's
# ``raw_mimetype``); the rest is the editor's (collapsed, scrolled, execution times).
REPORT_CELL_METADATA = frozenset({"alt", "raw_mimetype"})
# What the sync phase does not read of its organization's entry in cohort.yml (it reads
# the sources, the time zone, and the ladder, whose gaps its report names): a group's
# consent or staff edited re-ran its sync, and an affiliate's re-ran its network's. Left
# out by name, so a field added later counts until someone shows sync does not read it.
NOT_READ_BY_SYNC = frozenset({"parent", "metrics", "consent", "measure_history", "staff"})
# What no report reads of cohort.yml's own settings: the facilitators are named for the
# privacy guard alone (their names are text it allows, privacy.config_text). Left out of
# every job's ``config``; the guard's state holds them (guard_state), so an edit has the
# kept reports checked again over their HTML (runner.check_again) instead of run again.
# (Editing them re-ran every report after sync, of every organization.)
READ_BY_THE_GUARD_ALONE = frozenset({"facilitators"})
# What a phase's reports do not read of the entries in cohort.yml of the organizations
# they read (as pydantic's ``exclude``), besides sync's (``NOT_READ_BY_SYNC``): the share
# report names no staff (the team is the improve report's and the cohort summary's,
# load_record), and a group's gallery note is shown in the Measure Gallery of the cohort
# summary alone (gallery.org_gallery_blocks). Both are text the guard allows: its state
# holds them. Only the sync and share reports read a group's sources (share: its own,
# whether one is Action Builder's, for a note on its scale, metrics.engine.config_notes); the later
# reports read what the sync stored and share saved (``store``, ``values``): a source's
# settings edited that changed no row re-ran them all. Left out by name, as for sync.
# Nor do the reflect and improve reports read a group's time zone: they show the figures
# share saved (computed in it) and improve dates "past" events by UTC (phases.improve.as_of);
# editing it re-ran them both, for every cycle.
NOT_READ_BY_PHASE: dict[str, dict[str, Any]] = {
    "share": {"staff": True, "consent": {"gallery_note"}},
    # the staff are offered as who took part by the form alone, shown only when the
    # notebook runs with ``interactive`` (READ_WHEN_INTERACTIVE); a report names none
    "reflect": {
        "staff": True,
        "consent": {"gallery_note"},
        "sources": True,
        "timezone": True,
    },
    "improve": {"consent": {"gallery_note"}, "sources": True, "timezone": True},
    # every organization's entry, for the cohort summaries: they name no staff (the team
    # they show is the card's)
    "cohort": {"staff": True, "sources": True},
}
# What a phase reads of an organization's entry only when its notebook runs with
# ``interactive`` (JupyterLab's form, or a run given ``-p interactive true``)
READ_WHEN_INTERACTIVE: dict[str, set[str]] = {"reflect": {"staff"}}
# What a phase reads of its own organization's entry alone, not of the other entries it
# reads (its network's, its affiliates'): the share report reads its own sources (whether
# one is Action Builder's, for a note on its scale), and of its affiliates only whether
# there are any (a network member keeps its per-person state for the roll-up); their
# data is read by no share report. An affiliate's source edited re-ran its network's
# three share reports.
READ_OF_ITS_OWN_ENTRY_ALONE: dict[str, dict[str, Any]] = {"share": {"sources": True}}
# Phases whose clock is the organization's own date (Fingerprints.local_today): the share
# report measures the cycle up to today in the group's time zone (and says whether it has
# started). The improve report dates "past" events by UTC (phases.improve.as_of), and the
# cohort summary is the cohort's: the UTC date.
CLOCK_IN_LOCAL_TIME = frozenset({"share"})
# The phases whose runs write what later reports of the cycle read: share saves the
# group's metric values (and each person's state, for its network's roll-up), which
# reflect, improve and the cohort summary show. A later report counts what it saved,
# not its fingerprint (``values``; the cohort summary, in its ``store``): with share's
# fingerprint there, a share run that saved the same values (a source's settings edited
# that changed no row, share's notebook edited) re-ran the group's reflect and improve
# reports and the cohort summaries. A writer is still a later report's upstream when
# judging what is out of date (Fingerprints.out_of_date): run, it may save other values.
# Not sync's: what it writes is the group's data, which the later reports count in their
# ``store`` (and the cohort summary each group's last sync, ``synced``). Nor reflect's
# or improve's, which write nothing: a staff member added (read by improve alone)
# re-ran the cohort summaries.
WRITERS = frozenset({"share"})
# What the organization's reports after share read of what it saved for their own cycle
# (``values``, :meth:`Fingerprints.saved`): its metric values, shown on the reflect
# report's card (phases.reflect.show_card) and the improve report's record
# (record.load_record). Not the per-person state (only the network roll-ups of the
# cohort summary read it; the summary's ``store`` counts every group's values and
# states), nor what else share writes: the follow-up lists (the group's own folder, read
# by no report), its ``meta`` rows (the definitions its values were saved under: the
# share report and the run's warning read them), its own report.
READS_OF_SHARE: dict[str, tuple[str, ...]] = {
    "reflect": ("metric_value",),
    "improve": ("metric_value",),
}
# What a phase's reports read of the store, where that is not all of their organizations'
# rows: the reflect report shows the group's metric values alone (its card, with last
# cycle's beside them; this cycle's are its ``values``), none of its data. A row changed
# that changed no figure (a member's zip code) re-ran it.
READS_OF_THE_STORE: dict[str, frozenset[str]] = {"reflect": frozenset({"metric_value"})}
# What the cohort summary reads of every organization's rows: the metric values (the
# status table counts this cycle's; the Measure Gallery and the record show them, with
# the earlier cycles' that decide what is suppressed). The data and the per-person state
# it reads are the network members' alone (Fingerprints.network_members: the roll-ups).
SUMMARY_READS_OF_EVERY_GROUP = frozenset({"metric_value"})
# Phases whose reports do not depend on the date: the sync report says what the exports
# hold and when they were read; the reflect report shows what the group said and the
# figures share saved (``values``: while the cycle runs, they change with the date). A
# report of an earlier day of a running cycle was out of date (and refused by
# ``cyclebook publish``) for a date it does not show.
READS_NO_CLOCK = frozenset({"sync", "reflect"})
# Phases whose reports read no reflection file (share computes the group's measures from
# the store; what the group said is shown by reflect and improve, and the cohort summary)
READS_NO_REFLECTIONS = frozenset({"sync", "share"})


def digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def code_fingerprint(versions: Mapping[str, str]) -> str:
    """Package versions plus cyclebook's source files and report template."""
    package = Path(cyclebook.__file__).resolve().parent
    roots = [(package, "*.py"), (templates_dir() / "cyclebook", "*")]
    files = [
        (str(path.relative_to(root)), path)
        for root, pattern in roots
        for path in sorted(root.rglob(pattern))
        if path.is_file() and "__pycache__" not in path.parts and path.name not in NOT_IN_REPORTS
    ]
    return files_digest(files, salt=json.dumps(dict(versions), sort_keys=True))


RUNNING = "running"  # a journal's mark of a job that started and has not finished


def read_journal(paths: CohortPaths, cycle: str) -> dict[str, dict[str, Any]]:
    """The journal of ``cycle`` (see :meth:`CohortPaths.journal`): each job's latest
    line. A line cut short by a crash is ignored."""
    found: dict[str, dict[str, Any]] = {}
    with contextlib.suppress(OSError):
        for line in paths.journal(cycle).read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError, TypeError, KeyError):
                entry = json.loads(line)
                found[entry["key"]] = entry
    return found


def journal(paths: CohortPaths, cycle: str, entry: Mapping[str, Any]) -> None:
    """Add a line to the cycle's journal: a job that starts (status ``running``) or
    finishes. The manifest is written once a cycle's jobs are done; a run stopped before
    (Ctrl-C, a closed laptop) left the old manifest, whose fingerprints then vouched for
    reports the stopped run had half replaced."""
    path = paths.journal(cycle)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(dict(entry), default=str, separators=(",", ":")) + "\n")


class Fingerprints:
    """Fingerprints of one run's jobs, and the previous runs' record to compare with."""

    def __init__(
        self,
        paths: CohortPaths,
        cohort: Cohort,
        cards: Mapping[str, CycleCard],
        versions: Mapping[str, str],
        *,
        force: bool = False,
        today: dt.date | None = None,
        now: dt.datetime | None = None,
    ) -> None:
        self.paths = paths
        self.cohort = cohort
        self.cards = dict(cards)
        self._earlier: dict[str, str] = {}  # a cycle's earlier cards (earlier_cards)
        self._card_digests: dict[str, str] = {}  # a cycle's card as validated (card)
        self._as_of: dict[str, Cohort] = {}  # the cohort as of a cycle (sync_config)
        self.force = force
        self.now = now or dt.datetime.now(dt.UTC)
        self.today = today or self.now.date()
        self._given_today = today
        self._passed: dict[tuple, tuple[str, str]] = {}
        self.code = code_fingerprint(versions)
        self._files: dict[Any, str] = {}
        # exports can be gigabytes: their hashes are remembered between runs by stat
        self._hashes = cohort_cache(paths.root)
        self._exports: dict[str, dict[str, str]] = {}
        self._related: dict[str, list[str]] = {}
        # store state: table -> org_id -> digest, or (SHARE_TABLES) -> (org, cycle) -> digest
        self._tables: dict[str, dict[Any, str]] | None = None
        self._dirty: set[str] = set()
        # (organization, cycle) whose share saved values during the run (see touched)
        self._shared: set[tuple[str, str]] = set()
        self._reread_all = False
        self._guard: str | None = None
        self._synced: dict[str | None, str] = {}  # each group's last sync (see synced)
        # job key -> the guard state its report was checked against (see guard_state)
        self.guarded: dict[str, str | None] = {}
        self.cycle_order = list_cycles(paths.root)
        # previous record: job key -> manifest entry (from every cycle's manifest)
        self.previous: dict[str, dict[str, Any]] = {}
        for cycle in self.cycle_order:
            manifest = paths.manifest(cycle)
            if manifest.exists():
                with contextlib.suppress(ValueError, OSError, KeyError, TypeError):
                    for entry in json.loads(manifest.read_text())["jobs"]:
                        self.previous[entry["key"]] = entry
            # an interrupted run: what it finished is reusable, what it started is not
            # (its report may be half way between two versions)
            for key, entry in read_journal(paths, cycle).items():
                if entry.get("status") == RUNNING:
                    self.previous.pop(key, None)
                else:
                    self.previous[key] = entry

    # ------------------------------------------------------------------ files

    def notebook(self, path: Path) -> str:
        """Digest of what a phase notebook runs and shows: its cells' kinds, sources, tags
        and the metadata the report template reads of a cell (``REPORT_CELL_METADATA``:
        a figure's alt text), and its kernel. Saving it from JupyterLab (outputs,
        execution counts, cell metadata the editor keeps) re-ran the phase for every
        organization."""
        path = Path(path)
        key = ("notebook", path)
        if key not in self._files:
            try:
                nb = json.loads(path.read_text(encoding="utf-8"))
                cells = [
                    [
                        cell.get("cell_type"),
                        "".join(cell.get("source") or ""),
                        (cell.get("metadata") or {}).get("tags") or [],
                        *(
                            [{k: cell["metadata"][k] for k in shown}]
                            if (shown := REPORT_CELL_METADATA & set(cell.get("metadata") or {}))
                            else []
                        ),
                    ]
                    for cell in nb.get("cells") or []
                ]
                kernel = (nb.get("metadata") or {}).get("kernelspec") or {}
                self._files[key] = digest([cells, kernel.get("name")])
            except (OSError, ValueError, AttributeError, TypeError):
                self._files[key] = self.file(path)  # not a notebook: Papermill will say so
        return self._files[key]

    def file(self, path: Path) -> str:
        path = Path(path)
        if path not in self._files:
            self._files[path] = self._hashes.sha256(path) if path.is_file() else "absent"
        return self._files[path]

    def exports(self, org_id: str) -> dict[str, str]:
        """What the organization's sync reads (computed once per run): the SHA-256 of each
        file its sources read, found as the sync finds them (a source folder that is a
        symlink or lies outside ``exports/`` included; hidden and office lock files left
        out), a source whose export is missing, and the names of the files in a source's
        folder that no reader reads (the sync report lists them)."""
        if org_id not in self._exports:
            from cyclebook.errors import ExportError
            from cyclebook.sync import discover_files, export_listing, files_not_read

            org = self.cohort.org(org_id)
            exports = self.paths.exports(org_id)
            found: dict[str, str] = {}
            if not org.sources and exports.is_dir():
                # no source named yet: what is in the folder, as a source there would list it
                for rel, path in export_listing(exports, exports):
                    found[rel] = self._hashes.sha256(path)
            for source in org.sources:
                try:
                    files = discover_files(exports, source, org_id)
                except ExportError:
                    found[f"missing:{source.kind}:{source.path}"] = "absent"
                    continue
                for path, rel in files:
                    found[rel] = self._hashes.sha256(path)
            for item in files_not_read(self.paths.root, org):
                found[f"not read:{item.kind}:{item.rel}"] = "unread"
            self._exports[org_id] = found
            self._hashes.save()
        return self._exports[org_id]

    def related(self, org_id: str) -> list[str]:
        """The organizations whose entries in cohort.yml an organization's reports read:
        its own, its network's (an affiliate is named as one) and its affiliates' (a
        network's measures count them). Not its sibling affiliates': adding a staff
        member to one affiliate re-ran every report of a forty-affiliate network."""
        if org_id not in self._related:
            # (a parent is an organization of the cohort: the config refuses one that is not)
            parent = self.cohort.org(org_id).parent
            found = {org_id, *(a.id for a in self.cohort.affiliates(org_id))}
            self._related[org_id] = sorted(found | ({parent} if parent else set()))
        return self._related[org_id]

    def applies_later(self, cycle: str, org_ids: list[str]) -> list[list[bool]]:
        """For each change in the organizations' ``measure_history``: whether it applies
        from a cycle after ``cycle`` only. A report reads the cohort as of its cycle
        (:meth:`Cohort.as_of` undoes such changes, and the redefinition warning counts
        them as not yet in force); which they are depends on the cycle folders, not on
        cohort.yml: a change recorded for the next cycle before its folder existed
        applied to the cycle before, and once the folder was made that cycle's reports
        stayed cached with figures under the next cycle's definition."""
        later = set(cycles_after(self.cycle_order, cycle))
        return [
            [change.cycle in later for change in self.cohort.org(o).measure_history]
            for o in org_ids
        ]

    def reads(self, org_id: str, phase: str) -> list[str]:
        """Whose data an organization's report of ``phase`` reads: its own, and a
        network's improve report its affiliates' too (it counts them; the network's
        figures are rolled up in the cohort summary). Not its network's or its sibling
        affiliates': those changing must not re-run the organization's reports (with
        forty affiliates, one changed export re-ran some two hundred reports)."""
        if phase != "improve":
            return [org_id]
        return sorted({org_id, *(org.id for org in self.cohort.affiliates(org_id))})

    def reflections(self, cycle: str, org_ids: Iterable[str]) -> dict[str, str]:
        """What the reports of ``cycle`` read of what the groups said: each organization's
        reflection file of that cycle (``<cycle>/reflections/<org_id>.yml``, read by
        :func:`cyclebook.reflection.load_reflection`), as validated (:meth:`reflection`).
        Not the earlier cycles' files, nor the other files of the folder: no report reads
        them (the run names the files no report reads, ``unread_reflections``), and an
        edit of last cycle's reflection re-ran every report of the cycles after it. (The
        privacy guard reads them all, by their bytes: :meth:`guard_reflections`.)"""
        found: dict[str, str] = {}
        for org_id in sorted(set(org_ids)):
            path = self.paths.reflections(cycle) / f"{org_id}.yml"
            if path.is_file():
                found[str(path.relative_to(self.paths.root))] = self.reflection(path, org_id, cycle)
        return found

    def reflection(self, path: Path, org_id: str, cycle: str) -> str:
        """Digest of a reflection file as validated, as a cycle card's is (:meth:`card`): a
        comment, a blank line or a list written another way re-ran the group's reflect and
        improve reports and the cohort summary. A file that does not validate (an empty
        one, a YAML error, a wrong field) counts by its bytes: the reports that read it
        fail on it (the reflect report) or say it cannot be read (improve, the cohort
        summary), and run again when it is edited."""
        from cyclebook.reflection import read_reflection

        key = ("reflection", path)
        if key not in self._files:
            self._files[key] = self._as_read(
                path, lambda: read_reflection(path, org_id=org_id, cycle=cycle)
            )
        return self._files[key]

    def _as_read(self, path: Path, load: Any) -> str:
        """Digest of the model ``load()`` reads and validates from ``path``, or of the
        file's bytes when it does not validate (a cyclebook error)."""
        from cyclebook.errors import CyclebookError

        try:
            return digest(load().model_dump(mode="json"))
        except CyclebookError:
            return self.file(path)

    def guard_reflections(self) -> dict[str, str]:
        """Every file of every cycle's reflections folder, by its bytes: what the privacy
        guard reads of them (:func:`cyclebook.privacy.reflection_people`: the names in any
        ``.yml`` there, whether it validates or not)."""
        found: dict[str, str] = {}
        for cycle in self.cycle_order:
            folder = self.paths.reflections(cycle)
            if not folder.exists():
                continue
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                if path.suffix == ".lock" or path.name.startswith("."):
                    continue
                found[str(path.relative_to(self.paths.root))] = self.file(path)
        return found

    # ------------------------------------------------------------------ store

    def touched(self, org_id: str | None, phase: str, cycle: str | None = None) -> None:
        """A job ran. The store has two writers (see store.py): sync writes the
        organization's data, share its metric values for the running cycle. Jobs of the
        organizations read the data again. The running cycle's metric values matter to the
        cohort notebook, which reads the whole store again once, and, in a run of several
        cycles, to the organization's jobs of the later cycles (they read the values of
        the cycles before theirs): they are read again before such a job is checked.
        Without that, a run of one organization's reports (`--org`, no cohort
        summary) left a later cycle's reports cached after an earlier cycle's share saved
        new values (it had failed in the run before)."""
        if org_id is not None and phase == "sync":
            self._dirty.add(org_id)
            self._guard = None
            self._synced.clear()
        elif org_id is not None:
            self._reread_all = True
            if phase == "share" and cycle is not None:
                self._shared.add((org_id, cycle))
                self._synced.clear()  # its figures' sync (synced)

    def _read_store(
        self, org_ids: list[str] | None, only: frozenset[str] | None = None
    ) -> dict[str, dict[Any, str]]:
        """Per-organization digests of every data table (all organizations when None;
        only the tables ``only`` names when given): :func:`cyclebook.store.row_digests`."""
        from cyclebook.store import connect, row_digests

        if not self.paths.store.exists():
            return {}
        with connect(self.paths.store) as con:
            return row_digests(con, org_ids, only)

    def _state(
        self, everything: bool = False, shared: Iterable[str] = ()
    ) -> dict[str, dict[Any, str]]:
        """The store's digests, read again where the run wrote since: every table of the
        organizations a sync touched, and the metric values (``SHARE_TABLES``) of the
        organizations ``shared`` names (those a share of this run wrote, that the caller
        reads)."""
        from cyclebook.store import SHARE_TABLES

        if everything and self._reread_all:
            self._tables, self._reread_all = None, False
        shared = set(shared)
        if self._tables is None:
            self._tables = self._read_store(None)
            self._dirty.clear()
            self._shared.clear()
            shared.clear()  # just read, with everything else
        self._shared = {pair for pair in self._shared if pair[0] not in shared}
        for dirty, only in ((self._dirty, None), (shared, SHARE_TABLES)):
            if not dirty:
                continue
            fresh = self._read_store(sorted(dirty), only)
            for table, rows in self._tables.items():
                if only is not None and table not in only:
                    continue
                for key in list(rows):
                    if (key[0] if isinstance(key, tuple) else key) in dirty:
                        del rows[key]
            for table, rows in fresh.items():
                self._tables.setdefault(table, {}).update(rows)
            dirty.clear()
        return self._tables

    def store(
        self,
        org_ids: Iterable[str] | None,
        *,
        data_only: bool = False,
        leave_out_cycle: str | None = None,
        upto: str | None = None,
        only: Iterable[str] | None = None,
    ) -> str:
        """Digest of the organizations' rows (every organization when ``org_ids`` is None).

        ``data_only``: no metric values (what sync writes). ``leave_out_cycle``: no metric
        values of that cycle. ``upto``: no metric values of the cycles that start after
        that one (a job of a cycle reads its own and earlier cycles' values, never later
        ones: while the next cycle runs, its values change every day, and they re-ran
        every report of the cycle before it). ``only``: the tables it counts (default:
        every one).
        """
        from cyclebook.store import SHARE_TABLES

        wanted = None if org_ids is None else set(org_ids)
        later = set(cycles_after(self.cycle_order, upto)) if upto is not None else set()
        # values a share of this run saved, of the cycles this digest counts
        shared = (
            []
            if data_only
            else [
                org
                for org, cycle in self._shared
                if (wanted is None or org in wanted)
                and cycle != leave_out_cycle
                and cycle not in later
            ]
        )
        state = self._state(
            everything=org_ids is None or not data_only and not leave_out_cycle, shared=shared
        )
        picked: dict[str, list] = {}
        for table, rows in sorted(state.items()):
            if data_only and table in SHARE_TABLES or only is not None and table not in only:
                continue
            items = []
            for key, value in rows.items():
                org = key[0] if isinstance(key, tuple) else key
                if wanted is not None and org not in wanted:
                    continue
                if isinstance(key, tuple) and (key[1] == leave_out_cycle or key[1] in later):
                    continue
                items.append([key, value])
            picked[table] = sorted(items, key=lambda item: str(item[0]))
        return digest(picked)

    def saved(self, org_id: str, cycle: str, tables: Iterable[str]) -> str:
        """What the organization's share reports saved for ``cycle`` in ``tables`` (of
        ``SHARE_TABLES``), as the store holds it: read again when a share of this run
        saved it. Without ``computed_at``: the same values saved again are the same."""
        again = [org_id] if (org_id, cycle) in self._shared else []
        state = self._state(shared=again)
        return digest({table: state.get(table, {}).get((org_id, cycle)) for table in tables})

    def guard_state(self) -> str:
        """What the privacy guard checks every report against: the personal values of
        every organization's members (``PERSONAL_TABLES``) and the text it allows
        (cohort.yml, every cycle card, every reflection file: see
        :func:`cyclebook.privacy.guard_allowances`). Not part of a job's fingerprint: a
        new member of one group must not re-run every group's reports, only have them
        checked again."""
        if self._guard is None:
            state = self._state()
            people = {table: sorted(state.get(table, {}).items()) for table in PERSONAL_TABLES}
            # what the guard reads of cohort.yml and the cards is their validated text
            # (a comment allows nothing): a comment added re-checked every kept report
            allowed = {
                str(self.paths.cohort_file): digest(self.cohort.model_dump(mode="json")),
                **{str(self.paths.cycle_file(c)): self.card(c) for c in self.cycle_order},
            }
            allowed.update(self.guard_reflections())
            self._guard = digest([people, allowed])
        return self._guard

    def synced(self, cycle: str) -> str:
        """What the cohort summary of ``cycle`` shows of each organization's last sync:
        its status and the day (UTC) it ended (:func:`cyclebook.store.last_syncs`); for
        a cycle that a later one follows, the last sync its figures of the cycle were
        computed from (:func:`cyclebook.phases.cohort.is_earlier`). Read again once a
        sync or a share of the run ran: a sync that read an export saved again with the
        same rows changes no data, and the summary shows its day; a share saves figures
        computed from the last sync."""
        earlier = bool(cycles_after(self.cycle_order, cycle))
        key = cycle if earlier else None
        if key not in self._synced:
            from cyclebook.store import connect, last_syncs

            found: dict[str, list] = {}
            if self.paths.store.exists():
                with connect(self.paths.store) as con:
                    for org_id, (status, at) in last_syncs(con, key).items():
                        day = None if at is None else dt.datetime.fromtimestamp(at, dt.UTC)
                        found[org_id] = [status, day and day.date().isoformat()]
            self._synced[key] = digest(found)
        return self._synced[key]

    def network_members(self) -> list[str]:
        """The organizations the cohort summary's network roll-ups read the data of:
        every network and its affiliates (:func:`cyclebook.rollup.network_ids`)."""
        parents = {org.parent for org in self.cohort.organizations if org.parent}
        return sorted(
            org.id for org in self.cohort.organizations if org.parent or org.id in parents
        )

    def passed(self, card: CycleCard, org_ids: list[str] | None) -> str:
        """While a cycle runs: how many of its events and attendances (by the event's
        start, else the attendance's own time, as the show rate dates them) have happened
        by now, per organization. Reports count only events that have happened; a
        meeting that ended an hour after the last run changed the show rate and the
        improve report, and they stayed cached until the next day."""
        from cyclebook.store import connect, table_names

        if not self.paths.store.exists():
            return "no store"
        key = (card.id, None if org_ids is None else tuple(org_ids))
        state = self.store(org_ids, data_only=True)
        cached = self._passed.get(key)
        if cached is not None and cached[0] == state:
            return cached[1]
        # everything before now, not only this cycle's: earlier ones never change
        scope = "" if org_ids is None else "AND org_id IN (SELECT unnest($orgs))"
        args: dict[str, Any] = {"until": self.now}
        if org_ids is not None:
            args["orgs"] = list(org_ids)
        with connect(self.paths.store) as con:
            tables = table_names(con)
            if not {"event", "activity"} <= tables:
                return "no events"
            rows = con.execute(
                f"""SELECT org_id, count(*) FROM (
                    SELECT org_id, start_at AS happened FROM event WHERE true {scope}
                    UNION ALL
                    SELECT a.org_id, coalesce(e.start_at, a.occurred_at) FROM activity a
                    LEFT JOIN event e ON e.org_id = a.org_id AND e.event_id = a.event_id
                    WHERE a.type = 'attendance' {scope.replace("org_id", "a.org_id")}
                ) WHERE happened < $until GROUP BY org_id ORDER BY org_id""",
                args,
            ).fetchall()
        value = digest(rows)
        self._passed[key] = (state, value)
        return value

    # ------------------------------------------------------------------ jobs

    def _upstream(self, job: Any, key: str) -> bool:
        """Whether the report ``key`` comes before ``job`` in its cycle and its run may
        change what ``job`` reads: one that writes it (``WRITERS``: a share report of its
        organization; for the cohort summary, every organization's), or a sync report
        (an export not synced yet may change what every report after it shows)."""
        cycle, org, phase, *_ = key.split("/")
        if cycle != job.cycle or phase not in WRITERS | {"sync"}:
            return False
        if job.org_id is None:
            return org != "(cohort)"
        return org == job.org_id and PHASE_ORDER.get(phase, 99) < PHASE_ORDER[job.phase]

    def local_today(self, org_id: str | None) -> dt.date:
        """Today in the organization's time zone, as its share report reads it (whether
        the cycle has started, is under way or has ended): by the UTC date, a report run
        at 22:00 in New York the evening before the start stayed cached, saying "not
        started", all the next day. The cohort's pages: the UTC date."""
        if self._given_today is not None or org_id is None:
            return self.today
        from zoneinfo import ZoneInfo

        return self.now.astimezone(ZoneInfo(self.cohort.org(org_id).timezone)).date()

    def earlier_cards(self, card: CycleCard) -> str:
        """The cards of every cycle before ``card`` along ``previous:`` (the share report
        decides what it hides from the whole chain of earlier cycles): with the card it
        follows alone, an edit of an older card's ``previous:`` left a third cycle's
        reports cached with the old chain's suppression."""
        if not card.previous:
            return "none"
        found = self._earlier.get(card.id)
        if found is None:
            cards = [self.card(c) for c in earlier_cycles(self.paths.root, card)]
            found = self._earlier[card.id] = cards[0] if len(cards) == 1 else digest(cards)
        return found

    def card(self, cycle: str) -> str:
        """Digest of a cycle's card as validated, not of its bytes: a comment or a blank
        line added to cycle.yml re-ran every report of the cycle and of the cycles after
        it. A card that does not validate counts by its bytes (its reports fail on it, and
        run again once it is fixed)."""
        found = self._card_digests.get(cycle)
        if found is None:
            card = self.cards.get(cycle)
            found = self._card_digests[cycle] = self._as_read(
                self.paths.cycle_file(cycle), lambda: card or load_cycle(self.paths.root, cycle)
            )
        return found

    def sync_config(self, org_id: str, cycle: str) -> str:
        """What the sync report reads of cohort.yml: its own organization's entry as of
        ``cycle`` (its ladder is the cycle's, :meth:`Cohort.as_of`), without the fields
        sync never reads (``NOT_READ_BY_SYNC``)."""
        cohort = self._as_of.get(cycle)
        if cohort is None:
            cohort = self._as_of[cycle] = self.cohort.as_of(cycle, self.cycle_order)
        org = cohort.org(org_id)
        return digest(org.model_dump(mode="json", exclude=set(NOT_READ_BY_SYNC)))

    def inputs(self, job: Any, *, after_sync: bool = False) -> dict[str, str]:
        card = self.cards[job.cycle]
        previous = self.earlier_cards(card)
        parts = {
            "version": str(FINGERPRINT_VERSION),
            "code": self.code,
            "notebook": self.notebook(Path(job.notebook)),
            "parameters": digest(job.parameters),
            "report": digest(job.report_meta),
            "cycle_yml": self.card(job.cycle),
            "previous_cycle_yml": previous,
            "clock": "after the end",
        }
        today = self.local_today(job.org_id if job.phase in CLOCK_IN_LOCAL_TIME else None)
        if job.phase in READS_NO_CLOCK:
            parts["clock"] = "not read"
        elif today <= card.end:
            reads = (
                self.network_members() if job.org_id is None else self.reads(job.org_id, job.phase)
            )
            passed = self.passed(card, reads) if reads else "no events read"
            parts["clock"] = f"{today.isoformat()}:{passed}"
        if job.org_id is None:
            # what cohort.yml says, not how it is written (a comment re-ran the summaries)
            everyone = [org.id for org in self.cohort.organizations]
            unread = {
                **dict.fromkeys(READ_BY_THE_GUARD_ALONE, True),
                "organizations": {"__all__": NOT_READ_BY_PHASE["cohort"]},
            }
            cohort = self.cohort.model_dump(mode="json", exclude=unread)
            parts["config"] = digest([cohort, self.applies_later(job.cycle, everyone)])
            parts["reflections"] = digest(self.reflections(job.cycle, everyone))
            # every group's figures (the gallery, the record), and the rows and kept
            # per-person state of the network members alone (their roll-ups): a row of
            # another group that changed no figure (a zip code) re-ran the summaries
            members = self.network_members()
            parts["store"] = digest(
                [
                    self.store(None, upto=job.cycle, only=SUMMARY_READS_OF_EVERY_GROUP),
                    self.store(members, upto=job.cycle) if members else "no network",
                ]
            )
            parts["synced"] = self.synced(job.cycle)
        else:
            if job.phase == "sync":
                parts["config"] = self.sync_config(job.org_id, job.cycle)
            else:
                related = self.related(job.org_id)
                settings = self.cohort.model_dump(
                    mode="json", exclude={"organizations", *READ_BY_THE_GUARD_ALONE}
                )
                unread = NOT_READ_BY_PHASE.get(job.phase)
                if unread and job.parameters.get("interactive") is True:
                    shown = READ_WHEN_INTERACTIVE.get(job.phase, set())
                    unread = {k: v for k, v in unread.items() if k not in shown}
                others = {**(unread or {}), **READ_OF_ITS_OWN_ENTRY_ALONE.get(job.phase, {})}
                configs = [
                    self.cohort.org(o).model_dump(
                        mode="json", exclude=unread if o == job.org_id else others
                    )
                    for o in related
                ]
                parts["config"] = digest(
                    [settings, configs, self.applies_later(job.cycle, related)]
                )
            if job.phase not in READS_NO_REFLECTIONS:
                parts["reflections"] = digest(self.reflections(job.cycle, [job.org_id]))
            if job.phase == "sync":
                parts["exports"] = digest(self.exports(job.org_id))
                # before the run: the state the last sync left; after: the new state
                parts["store"] = self.store([job.org_id], data_only=True)
            else:
                # This cycle's saved metric values are being written while the cycle runs
                # (each share writes its own); what a job reads of them, once its share
                # ran, is its ``values``.
                parts["store"] = self.store(
                    self.reads(job.org_id, job.phase),
                    leave_out_cycle=job.cycle,
                    upto=job.cycle,
                    only=READS_OF_THE_STORE.get(job.phase),
                )
        if job.phase in READS_OF_SHARE and job.org_id is not None:
            parts["values"] = self.saved(job.org_id, job.cycle, READS_OF_SHARE[job.phase])
        return parts

    def side_outputs(self, job: Any) -> list[Path]:
        """Files a job writes besides its notebook and report: the follow-up lists of an
        organization's own share report. Deleted, they were not written again, and the
        cached report still listed them."""
        if job.phase == "share" and job.audience == "organization" and job.org_id:
            folder = self.paths.followup(job.org_id, job.cycle)
            return [folder / f"{name}.csv" for name in FOLLOWUP_LISTS]
        return []

    def check(self, job: Any) -> tuple[str, dict[str, str], dict[str, Any] | None]:
        """(fingerprint, its parts, the previous entry when the job may be skipped)."""
        parts = self.inputs(job)
        fingerprint = digest(parts)
        previous = self.previous.get(job.key)
        reusable = (
            not self.force
            and previous is not None
            and previous.get("fingerprint") == fingerprint
            and previous.get("status") in CACHEABLE
            and Path(job.output_html).is_file()
            and Path(job.output_ipynb).is_file()
            and all(path.is_file() for path in self.side_outputs(job))
        )
        # an executed report is checked by the guard as it is written, against (at
        # least) the state of now; a reused one was checked when it was made, or since
        self.guarded[job.key] = previous.get("guarded") if reusable else self.guard_state()
        return fingerprint, parts, previous if reusable else None

    def out_of_date(self, jobs: Iterable[Any]) -> dict[str, list[str]]:
        """The jobs whose report, as last made, a run would make again because what it is
        made from changed: by job key, the names of the fingerprint's parts that differ
        from the recorded ones, or ``["upstream"]`` when only a report upstream of it
        (:meth:`_upstream`: its organization's sync or share report; for the cohort
        summary, any organization's) is out of date, as that one's run may change what
        it reads (the values a share run saves are known once it ran). Jobs never made
        are left out; pass every job of the cycle, so that each one's upstream is judged
        too. (Whether the last run of a report succeeded is its manifest's ``status``,
        not judged here.)"""
        found: dict[str, list[str]] = {}
        for job in sorted(jobs, key=lambda job: PHASE_ORDER.get(job.phase, 99)):
            made = self.previous.get(job.key)
            if made is None:
                continue
            parts = self.inputs(job)
            if digest(parts) != made.get("fingerprint"):
                before = made.get("inputs") or {}
                found[job.key] = [
                    name for name, value in parts.items() if before.get(name) != value
                ] or ["version"]
            elif any(self._upstream(job, key) for key in found):
                found[job.key] = ["upstream"]
        return found

    def record(self, job: Any, fingerprint: str, parts: dict[str, str], status: str) -> str:
        """Note a finished job; returns the fingerprint to keep in the manifest."""
        if status != "cached":
            self.touched(job.org_id, job.phase, job.cycle)
            if job.phase == "sync" and job.org_id is not None:
                # What sync left in the store is what the next run compares with.
                parts["store"] = self.store([job.org_id], data_only=True)
                fingerprint = digest(parts)
        return fingerprint
