# ruff: noqa: E501 - SQL and generated-data literals read better unwrapped
"""Sync: ingest the real exports of the organizing tools into the cohort's store.

Public entry points:

* :func:`sync_org` — sync one organization (all-or-nothing), returns a :class:`SyncResult`;
* :func:`sync_cohort` — every organization, one after another; a bad file stops only its
  organization;
* :func:`ensure_synced` — for phase notebooks: sync the context's organization when its
  exports changed since the last sync (a no-op otherwise);
* :func:`sync_summary` — the figures the sync report shows, read back from the store.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import difflib
import functools
import hashlib
import json
import os
import posixpath
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import duckdb

from cyclebook import settings
from cyclebook.config import Cohort, Organization, Source, load_cohort
from cyclebook.errors import CyclebookError, ExportError, ResourceError, StoreError
from cyclebook.filehash import cohort_cache, files_digest, files_under
from cyclebook.paths import CohortPaths
from cyclebook.store import (
    MATCHED_IDENTITY,
    attached_for_write,
    connect,
    private_instance,
)
from cyclebook.sync.merge import (
    HUB_IDS,
    PERSON_NOT_FOUND,
    cohort_salt,
    resolve_identities,
    write_org,
)
from cyclebook.sync.readers import (
    READERS,
    SUFFIXES,
    files_to_compare,
    files_to_read,
    generic_source_name,
    may_list_people,
    person_references,
)
from cyclebook.sync.stage import (
    STAGE_SETUP,
    FileInfo,
    Stage,
    archive_file,
    list_rows,
    sql_str,
)
from cyclebook.sync.summary import SyncSummary, load_summary

__all__ = [
    "NotRead",
    "SyncResult",
    "FileResult",
    "sync_org",
    "sync_cohort",
    "ensure_synced",
    "discover_files",
    "ExportError",
]

# DuckDB settings for a sync: bounded memory (spills to disk beyond it)
MEMORY_ENV = settings.SYNC_MEMORY_LIMIT


def memory_limit() -> str:
    """The sync's DuckDB memory limit: ``CYCLEBOOK_SYNC_MEMORY_LIMIT`` (e.g. ``6GB``) or
    3 GB. Beyond it DuckDB spills to disk, and what cannot spill fails the sync."""
    return settings.sync_memory_limit()


@dataclass
class FileResult:
    file: str
    source_kind: str
    role: str
    sha256: str
    rows_read: int
    rows_kept: int
    rows_rejected: int
    unknown_columns: list[str]
    notes: list[str]
    carried: bool = False  # unchanged and not read again: the figures of the last sync


@dataclass
class SyncResult:
    org_id: str
    status: str  # "ok", "unchanged" or "failed"
    run_id: str | None = None
    files: list[FileResult] = field(default_factory=list)
    written: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step
    # what the sync report shows, read on the sync's own connection (sync_org's
    # ``with_summary``): None when not asked for, or when nothing was written
    summary: SyncSummary | None = None

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)


def discover_files(exports_dir: Path, source: Source, org_id: str) -> list[tuple[Path, str]]:
    """The files of one source, sorted by name: among exports first synced together,
    later names count as newer where the tool gives no modification date of its own
    (see merge._dedupe and _in_sync_order)."""
    base = exports_dir / source.path
    if not base.exists():
        raise ExportError(
            base,
            f"the {source.kind} export '{source.path}' is not in the organization's exports "
            f"folder{_what_is_there(base)}",
            org_id=org_id,
            fix=f"put the export at {base}, or correct 'path' of this source in cohort.yml.",
        )
    suffixes = SUFFIXES[source.kind]
    if base.is_file():
        found = [(str(base.relative_to(exports_dir)), base)]
    else:
        found = [
            (rel, path) for rel, path in export_listing(exports_dir, base) if _reads(source, path)
        ]
    for rel, path in found:
        try:
            rel.encode("utf-8")
        except UnicodeEncodeError:
            # a name written in another encoding (Latin-1 "José" from an old system or a
            # zip file): the store keeps file names as text, and the failure hid itself
            # behind DuckDB's "Python Conversion Failure" with no file named
            shown = rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            raise ExportError(
                path.parent,
                f"the file name '{shown}' is not UTF-8 text (it was written in another encoding)",
                org_id=org_id,
                fix="rename the file (retype its name), then run again.",
            ) from None
    if not found:
        raise ExportError(
            base,
            f"no {'/'.join(suffixes)} files in the {source.kind} export folder",
            org_id=org_id,
            fix=f"put the {source.kind} export files in {base}.",
        )
    return [(path, rel) for rel, path in found]


def _shown(name: str) -> bool:
    """Whether a file in an exports folder is one a person put there: not hidden, nor the
    lock file an office program leaves beside a workbook it has open (``~$name.xlsx``)."""
    return not name.startswith((".", "~$"))


def _what_is_there(missing: Path) -> str:
    """What the folder that should hold a missing export holds, and the name closest to
    the one cohort.yml gives: a typo in 'path' ('spokee') or a renamed download folder is
    the usual cause, and the message alone could not tell the two apart."""
    folder = missing.parent
    if not folder.is_dir():
        return f" ({folder} does not exist)"
    names = sorted(p.name for p in folder.iterdir() if _shown(p.name))
    if not names:
        return f" ({folder} is empty)"
    # 'Mobilize export (2)' beside 'mobilize', 'spokee' beside 'spoke': a name that
    # starts with the other, or one spelled nearly alike; offered only when it is one
    want = missing.name.lower()
    close = [n for n in names if n.lower().startswith(want) or want.startswith(n.lower())]
    if len(close) != 1:
        lower = {n.lower(): n for n in names}
        close = [lower[n] for n in difflib.get_close_matches(want, list(lower), n=1, cutoff=0.75)]
    shown = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
    return (f"; did you mean '{close[0]}'?" if close else "") + f" (it holds: {shown})"


def export_listing(exports_dir: Path, base: Path) -> list[tuple[str, Path]]:
    """(name under the exports folder, path) of the files in a source's folder that
    :func:`_shown` keeps."""
    prefix = base.relative_to(exports_dir).as_posix()
    prefix = "" if prefix == "." else prefix + "/"  # a source at the folder itself
    return [
        (f"{prefix}{rel}", Path(full))
        for rel, full in files_under(base)
        if _shown(os.path.basename(full))
    ]


def _reads(source: Source, path: Path) -> bool:
    return os.path.splitext(path)[1].lower() in SUFFIXES[source.kind]


class NotRead(NamedTuple):
    """A file in an organization's export folders that no source reads."""

    rel: str  # its name under the exports folder
    kind: str  # the kind of the source whose folder holds it
    # beside a source whose path names one file (a spreadsheet kept as one file), which
    # is all that source reads: that file's name under the exports folder ("" for a
    # file in a source's folder that its reader does not read, by its type)
    only: str = ""


def files_not_read(cohort_dir: str | Path, org: Organization) -> list[NotRead]:
    """Each file in a source's folder that its reader does not read (a workbook or a
    PDF dropped beside the CSVs), and each file beside a source whose path names one
    file (a second download of a sheet, 'Sign-in sheet (1).csv', beside the 'Sign-in
    sheet.csv' the source reads; it was neither read nor listed): nothing a group
    brought is left out without the sync report saying so. A file that another source
    of the organization reads is not listed."""
    exports = CohortPaths.of(cohort_dir).exports(org.id)
    listed: dict[str, NotRead] = {}
    read: set[str] = set()
    for source in org.sources:
        base = exports / source.path
        if base.is_file():
            # (the folder it is in, not the folders below it: those are other sources')
            own = base.relative_to(exports).as_posix()
            read.add(own)
            prefix = posixpath.dirname(own)
            with os.scandir(base.parent) as entries:
                for entry in entries:
                    if entry.is_file() and _shown(entry.name):
                        rel = posixpath.join(prefix, entry.name)
                        listed.setdefault(rel, NotRead(rel, source.kind, own))
            continue
        if not base.is_dir():
            continue
        for rel, path in export_listing(exports, base):
            if _reads(source, path):
                read.add(rel)
            else:
                listed.setdefault(rel, NotRead(rel, source.kind))
    return sorted(item for rel, item in listed.items() if rel not in read)


def exports_not_synced(cohort_dir: str | Path, org: Organization) -> bool:
    """Whether a sync of the organization would read something: an export new or changed
    since its last sync, or one read with other settings or code (the hashes come from
    the cohort's cache: no export is read again when its size and time are the same)."""
    paths = CohortPaths.of(cohort_dir)
    files = [(path, rel) for _, found in _files_of(paths, org) for path, rel in found]
    stored = _stored_files(paths, org).files
    if stored is None:
        return bool(files)
    hashes = cohort_cache(paths.root)
    return {(rel, hashes.sha256(path)) for path, rel in files} != {
        (r.file, r.sha256) for r in stored
    }


def _files_of(paths: CohortPaths, org: Organization) -> list[tuple[Source, list[tuple[Path, str]]]]:
    exports = paths.exports(org.id)
    return [(src, discover_files(exports, src, org.id)) for src in org.sources]


# modules of the sync package that read no export: `cyclebook pull` (parsons.py) writes
# files the readers then read; a change to it had every organization's exports read again.
# The sync report's summary (summary.py) reads the store only: a change to its wording or
# to how it queries the store read every export again too
NOT_READING = frozenset({"parsons.py", "summary.py"})


def reading_code() -> list[Path]:
    """The sync's modules that read exports (every one but :data:`NOT_READING`)."""
    return [p for p in sorted(Path(__file__).parent.glob("*.py")) if p.name not in NOT_READING]


@functools.cache
def sync_code_digest() -> str:
    """Digest of the sync's own code: exports synced by other code are read again."""
    return files_digest((p.name, p) for p in reading_code())[:16]


# settings of a source only `cyclebook pull` reads
PULL_ONLY = {
    "mobilize_organization_id",
    "van_database",
    "action_builder_subdomain",
    "action_builder_campaign",
}


def reading_digest(org: Organization) -> str:
    """Digest of how an organization's exports are read: the sync's code, each source's
    settings (a spreadsheet's columns and date format, an encoding, a delimiter...) and
    the timezone naive times are read in. Exports read another way are read again: the
    fix a sync report asks for (say, ``date_format: '%d/%m/%Y'``) changed nothing, since
    the exports themselves had not changed."""
    settings_json = json.dumps(
        [
            org.timezone,
            # (the Mobilize id, VAN database and Action Builder campaign are how
            # `cyclebook pull` asks; they change no reading)
            [src.model_dump(mode="json", exclude=PULL_ONLY) for src in org.sources],
        ],
        sort_keys=True,
    )
    return hashlib.sha256(f"{sync_code_digest()}\0{settings_json}".encode()).hexdigest()[:16]


def _whole_sheets(paths: CohortPaths, org: Organization, stage: Stage) -> dict[str, FileInfo]:
    """The spreadsheet sources kept as one file (``path`` names the file) read in this
    sync, and their file: each version of the file is the whole sheet, and replaces the
    last one."""
    read = {f.rel: f for f in stage.files if not f.carried and f.source_kind == "generic_csv"}
    exports = paths.exports(org.id)
    return {
        generic_source_name(src): read[Path(src.path).as_posix()]
        for src in org.sources
        if src.kind == "generic_csv"
        and Path(src.path).as_posix() in read
        and (exports / src.path).is_file()
    }


def _people_no_longer_listed(con, org_id: str, sheet: str) -> int:
    """The people a sheet kept as one file named in an earlier version and this reading
    does not (a roster re-saved without the people who left): they stay in the store,
    and the sync report says how many, as it does for the activities removed."""
    return con.execute(
        f"""SELECT count(DISTINCT source_id) FROM identity
            WHERE org_id = ? AND source = ? AND {MATCHED_IDENTITY}
              AND source_id NOT IN (SELECT source_id FROM st_person
                                    WHERE source = ? AND source_id IS NOT NULL)""",
        [org_id, sheet, sheet],
    ).fetchone()[0]


# the organization's last sync that ended well (parameter $org; not ORDER BY started_at
# DESC LIMIT 1, which DuckDB plans in ~0.7 ms more: its late materialization)
_LAST_RUN = """SELECT arg_max(run_id, started_at) FROM sync_run
               WHERE org_id = $org AND file IS NULL AND status = 'ok'"""


class _Stored(NamedTuple):
    last_run: str | None = None
    files: list[FileResult] | None = None
    salt: str | None = None
    orphaned: frozenset[str] = frozenset()
    first_synced: dict[str, dt.datetime] = {}  # noqa: RUF012 - never changed


def _stored_files(paths: CohortPaths, org: Organization) -> _Stored:
    """The organization's last sync run and its per-file figures, under a short read
    lock; no figures when nothing is stored yet, or when the exports were read by other
    reader code or settings (then every export is read again). And the cohort's salt,
    when the store has one, the exports with activities rejected for want of their
    person (``PERSON_NOT_FOUND``), and when each archived export (by its hash) was first
    synced."""
    org_id = org.id
    if not paths.store.exists():
        return _Stored()
    with connect(paths.store) as con:
        # in three statements (each costs DuckDB ~0.5-1 ms of planning; a listing of
        # the store's tables, 5 ms in a new kernel, is not needed: a store without
        # them fails the first)
        try:
            salt, last_run, synced_by = con.execute(
                f"""SELECT (SELECT value FROM meta WHERE key = 'match_salt'),
                           ({_LAST_RUN}), (SELECT value FROM meta WHERE key = $code)""",
                {"org": org_id, "code": f"sync_code:{org_id}"},
            ).fetchone()
            if last_run is None:
                return _Stored(salt=salt)
            first_synced, orphaned = con.execute(
                """SELECT (SELECT map_from_entries(list((sha256, first_synced_at)))
                           FROM raw_file WHERE org_id = $org),
                          (SELECT list(DISTINCT file) FROM rejected_row
                           WHERE org_id = $org AND reason = $reason)""",
                {"org": org_id, "reason": PERSON_NOT_FOUND},
            ).fetchone()
        except duckdb.CatalogException:  # a store the sync never wrote (no sync_run)
            return _Stored()
        first_synced = dict(first_synced or {})
        if synced_by != reading_digest(org):
            return _Stored(last_run, None, salt, first_synced=first_synced)
        files = _file_results_from_store(con, org_id, last_run)
        return _Stored(last_run, files, salt, frozenset(orphaned or ()), first_synced)


def _tool(kind: str) -> str:
    """The tool whose ids a source's records name people by: Action Network's activist
    report and its API pages name them by the same person uuids."""
    return (
        kind.removesuffix("_csv").removesuffix("_api")
        if kind.startswith("action_network")
        else kind
    )


def _in_sync_order(stage: Stage, sources, first_synced: dict[str, dt.datetime]) -> None:
    """Number each source's files in the order they were first synced (by their hash;
    one new now is the newest), by name among those synced together: where a tool
    gives no date of its own, the later file's record wins (merge._dedupe). By name
    alone, a forced sync or the one after an upgrade (every export read again) made
    the older of 'activists.csv' and the 'activists (1).csv' downloaded after it win:
    a person's unsubscribing, zip and name went back to the older export's."""
    never = dt.datetime.max.replace(tzinfo=dt.UTC)
    ordered: list[FileInfo] = []
    for infos in _group(stage, sources):
        ordered += sorted(infos, key=lambda f: first_synced.get(f.sha256) or never)
    for number, f in enumerate(ordered):
        f.file_no = number
    stage.files[:] = ordered


def _made_salt(paths: CohortPaths) -> str:
    """The cohort's salt, made now (a store without one: the cohort's first sync), under
    the store's exclusive lock: the readers hash members' emails and phones in keys with
    it, and the syncs of other organizations running beside this one use the same."""
    with connect(paths.store, write=True) as con:
        return cohort_salt(con)


def sync_org(
    cohort_dir: str | Path,
    org: Organization | str,
    *,
    cohort: Cohort | None = None,
    force: bool = False,
    with_summary: bool = False,
) -> SyncResult:
    """Sync one organization's exports into the cohort store, all or nothing.

    Re-syncing unchanged exports writes nothing (status ``unchanged``) unless ``force``
    or the sync's own code changed since they were read (then every export is read
    again). Otherwise only new or changed exports, and the lookups they need, are read;
    the others carry over (``FileResult.carried``). A file that cannot be read raises
    :class:`ExportError` (it names the file and the fix) after recording a failed
    ``sync_run``; the canonical tables keep their previous state.
    """
    paths = CohortPaths.of(cohort_dir)
    cohort = cohort or load_cohort(paths.root)
    if isinstance(org, str):
        org = cohort.org(org)
    started = dt.datetime.now(dt.UTC)
    run_id = f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    result = SyncResult(org.id, "ok", run_id)
    limit = memory_limit()
    # the files are listed, and compared with the last sync's, before any database is
    # made to read them into: a sync of unchanged exports (every report's, on every
    # re-run) makes none
    stage = Stage(None, org.id, org.timezone, tmp_root=paths.root / ".cyclebook" / "tmp")
    con: duckdb.DuckDBPyConnection | None = None
    spill: Path | None = None
    refused: CyclebookError | None = None  # the memory limit: no sync run was begun
    archiving: _Archiver | None = None
    committed = False
    try:
        sources = _files_of(paths, org)
        clock = _Clock(result.timings)
        for src, files in sources:
            for p, rel in files:
                info = stage.add_file(p, rel, src.kind, src.label or src.kind)
                info.store_source = src.store_name
        last_run, stored, salt, orphaned, first_synced = _stored_files(paths, org)
        changed: list[int] | None = None  # file numbers new since the last sync
        again: set[int] = set()  # unchanged files read for the people new ones bring
        if first_synced or (stored is not None and not force):
            # hashed up front when they may be unchanged, or to be read in the order they
            # were synced; otherwise (a first sync) while the archive copy reads them
            # (once) beside the parsing
            hashes = cohort_cache(paths.root)
            for info in stage.files:
                info.sha256 = hashes.sha256(info.path)
            hashes.save()
            clock.lap("hash")
            _in_sync_order(stage, sources, first_synced)
        if stored is not None and not force:
            previous = {(r.file, r.sha256) for r in stored}
            if previous == {(f.rel, f.sha256) for f in stage.files}:
                result.status = "unchanged"
                result.files = stored
                return result
            new = {f.file_no for f in stage.files if (f.rel, f.sha256) not in previous}
            # only the new or changed exports, and those read with them, are compared
            # with the store; an export not needed for them is not read again: its
            # rows are in the store, its figures and rejects carry over from last time
            compare: set[int] = set()
            groups = list(zip(sources, _group(stage, sources), strict=True))
            # an unchanged export with activities rejected for want of their person is
            # read again beside a new export of its tool that may list them (a people
            # page synced after the attendances naming them): carried over, they stayed
            # rejected until a forced sync
            listing = {
                _tool(src.kind)
                for (src, _files), infos in groups
                if any(may_list_people(src.kind, f) for f in infos if f.file_no in new)
            }
            for (src, _files), infos in groups:
                compare |= files_to_compare(src.kind, infos, new)
                if _tool(src.kind) in listing:
                    again |= {f.file_no for f in infos if f.rel in orphaned} - compare
                reading = {f.file_no for f in files_to_read(src.kind, infos, compare | again)}
                for f in infos:
                    f.carried = f.file_no not in reading
            changed = sorted(compare)
        try:
            con, spill = _parsing_instance(paths, run_id, limit)
        except CyclebookError as exc:
            refused = exc
            raise
        stage.open(con, prepared=True)
        salt = salt or _made_salt(paths)
        stage.use_salt(salt)
        # the byte-for-byte copies are plain file I/O: made beside the parsing
        archiving = _Archiver(stage.files, paths.archive / org.id)
        for (src, _files), infos in zip(sources, _group(stage, sources), strict=True):
            to_read = [f for f in infos if not f.carried]
            if to_read:
                with _unforeseen(paths, org.id, run_id, src, to_read):
                    READERS[src.kind](stage, src, to_read, org)
        with _unforeseen(paths, org.id, run_id, None, stage.files):
            stage.finalize()
        _coverage(con)
        clock.lap("read")
        with attached_for_write(con, paths.store):
            stored_run, stored_salt = con.execute(
                f"SELECT ({_LAST_RUN}), (SELECT value FROM meta WHERE key = 'match_salt')",
                {"org": org.id},
            ).fetchone()
            if stored_run != last_run:
                raise StoreError(
                    f"{org.id}: another sync of this organization finished while its "
                    "exports were being read",
                    fix="run the sync again (only one sync per organization at a time).",
                )
            # (the store was replaced meanwhile; one without a salt is given one, as
            # the next sync would)
            if (stored_salt or cohort_salt(con)) != salt:
                raise StoreError(
                    f"{org.id}: the store was replaced while this organization's exports "
                    "were being read",
                    fix="run the sync again.",
                )
            _sheets_stored_under_another_name(con, org, paths, stage)
            # record numbers are fixed now: let DuckDB write the store in parallel
            con.execute("SET preserve_insertion_order = false")
            con.execute("BEGIN TRANSACTION")
            try:
                identities = resolve_identities(
                    con, org.id, person_references(stage.files), salt=salt
                )
                _note_hubs(con, stage, identities["hubs"], identities["hubs_joined"])
                clock.lap("identity")
                sheets = _whole_sheets(paths, org, stage)
                result.written = write_org(
                    con, org.id, salt, started, stage, changed, list(sheets), sorted(again)
                )
                for name, f in sheets.items():
                    if gone := result.written.get(f"removed from {name}"):
                        one = gone == 1
                        f.notes.append(
                            f"{gone} {'activity' if one else 'activities'} of an earlier "
                            "version of this sheet (or read with its earlier settings) "
                            f"{'is' if one else 'are'} no longer in it: removed from the store"
                        )
                    if dropped := _people_no_longer_listed(con, org.id, name):
                        one = dropped == 1
                        f.notes.append(
                            f"{dropped} {'person' if one else 'people'} of an earlier version "
                            f"of this sheet {'is' if one else 'are'} not in it: kept in the "
                            "store as that version gave them (a newer version of a sheet "
                            "replaces its activities, not its people)"
                        )
                clock.lap("write")
                stage.reject_lines()
                archived = archiving.wait()  # sets the hashes of files not hashed yet
                _remember_hashes(paths, stage.files)
                _finish_files(stage, result, stored or [])
                _record(con, paths, org, stage, result, started, archived, last_run)
                con.execute(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                    [f"sync_code:{org.id}", reading_digest(org)],
                )
                clock.lap("archive_and_record")
                con.execute("COMMIT")
                committed = True
                clock.lap("commit")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            if with_summary:
                result.summary = _summary_here(con, org)
                clock.lap("summary")
    except CyclebookError as exc:
        if exc is not refused:
            _record_failure(paths, org.id, run_id, started, str(exc))
        raise
    except duckdb.InterruptException as exc:
        # DuckDB's form of a Ctrl-C during a query: the user stopped the sync, the export
        # did not fail it (it was recorded as a failed sync, "Query interrupted")
        raise KeyboardInterrupt from exc
    except duckdb.OutOfMemoryException as exc:
        error = ResourceError(
            f"{org.id}: the sync needed more memory than its {limit} limit and could not "
            f"spill the rest to disk ({str(exc).splitlines()[0]})",
            fix=f"set {MEMORY_ENV} higher (for example 6GB, if the machine has it) and run "
            "again, or split the largest export into several files.",
        )
        _record_failure(paths, org.id, run_id, started, str(error))
        raise error from exc
    except duckdb.Error as exc:
        # merging into the store: a constraint or conversion error quotes the row (an
        # email, a name), which must not reach the report the error is printed in
        log = _kept_apart(paths, org.id, run_id, "step: merging into the store", exc)
        error = StoreError(
            f"{org.id}: DuckDB stopped while writing this sync's records into the store "
            f"({type(exc).__name__}); its message, which may quote a record, is in "
            f"{log.relative_to(paths.root)} (kept out of every report); the store is as "
            "it was before this sync",
            fix="run the sync again; if it fails the same way, report it with that file "
            "(it may hold member data: share it only with your data staff).",
        )
        _record_failure(paths, org.id, run_id, started, str(error))
        raise error from exc
    except Exception as exc:
        _record_failure(paths, org.id, run_id, started, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if archiving is not None:  # a failed sync does not leave a copy running
            archiving.thread.join()
            if not committed:  # ...nor the copies it made
                archiving.discard()
        stage.close(drop=False)  # closing the connection frees its tables
        if con is not None:
            con.close()
        if spill is not None:
            shutil.rmtree(spill, ignore_errors=True)
    return result


def _summary_here(con, org: Organization) -> SyncSummary | None:
    """What the sync report shows, read on the sync's connection before the store is
    detached. The report read it on a connection of its own: the store attached again,
    and the blocks this sync had just written read back from the file (~15 ms of a small
    organization's report, ~2,000 page faults in a kernel). Read in the time zone a new
    connection has (the sync's is the organization's; a run's start is shown as such a
    connection casts it). None when it cannot be read here: the report then reads the
    store itself, and meets the error there, after the sync that succeeded is recorded
    as such. The store is at the current schema (attached_for_write migrated it)."""
    try:
        con.execute("RESET TimeZone")
        return load_summary(con, org, migrated=True)
    except duckdb.InterruptException:
        raise
    except Exception:
        return None


def _parsing_instance(
    paths: CohortPaths, run_id: str, limit: str
) -> tuple[duckdb.DuckDBPyConnection, Path]:
    """The database a sync reads the exports into, and the folder it spills to.

    The exports are parsed into a private in-memory database, without the store's
    lock. The store is held (exclusively: DuckDB lets no other process even read a
    file open for writing) only to compare and write, so the cohort's other reports
    are not kept waiting while this organization's exports are read."""
    con = private_instance(STAGE_SETUP)
    try:  # (no progress bar on stderr in a report)
        con.execute(f"SET enable_progress_bar = false; SET memory_limit = {sql_str(limit)}")
    except duckdb.Error as exc:
        con.close()
        raise CyclebookError(
            f"{MEMORY_ENV}={limit!r} is not a memory size ({str(exc).splitlines()[0]})",
            fix=f"set {MEMORY_ENV} to a size such as 3GB or 6GB, or unset it.",
        ) from exc
    # beyond the memory limit DuckDB spills to disk: beside the store, as a store
    # connection would (not in /tmp, often a small RAM disk), one folder per sync
    spill = paths.root / ".cyclebook" / f"spill-{run_id}"
    # DuckDB makes the folder itself when it first spills, but not its parent: without
    # this a cohort's first sync failed the moment it outgrew the memory limit
    spill.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET preserve_insertion_order = true; SET temp_directory = {sql_str(str(spill))}")
    return con, spill


def _of_source(rel: str, source: Source) -> bool:
    """Whether the export ``rel`` (its name under the exports folder) is ``source``'s."""
    path = Path(source.path).as_posix()
    return path in (".", rel) or rel.startswith(path + "/")


def _sheets_stored_under_another_name(
    con, org: Organization, paths: CohortPaths, stage: Stage
) -> None:
    """Stop the sync when a spreadsheet source the store does not know yet brings
    activities it holds already under the name of a spreadsheet source that cohort.yml
    no longer has: the same sheet, saved under another file name ('Sign-in sheet
    (1).csv', a browser's second download) with its ``path`` changed to it. A source is
    known in the store by its label, else its file name: the same rows were a second
    sheet's, and every attendance and member counted twice. The fix is the label that
    keeps the stored name. A source the store knows already (so renamed before this
    check, its rows doubled then) gets a note saying so on its file instead.

    A sheet's activity id is its name and a digest of the row's person, type, date,
    event and amount (salted with the store's salt, not with the name): the same row
    under another name has the same digest, and a new sheet of the same members on
    other days shares none."""
    sheets = {
        generic_source_name(src): src
        for src in org.sources
        if src.kind == "generic_csv"
        and any(_of_source(f.rel, src) and not f.carried for f in stage.files)
    }
    if not sheets:
        return
    configured = {generic_source_name(src) for src in org.sources if src.kind == "generic_csv"}
    known = {
        row[0]
        for row in con.execute(
            "SELECT DISTINCT source FROM identity WHERE org_id = ? AND starts_with(source, 'sheet:')",
            [org.id],
        ).fetchall()
    }
    retired = sorted(known - configured)
    if not retired:
        return
    _people_sheets_stored_under_another_name(con, org, paths, stage, sheets, known, retired)
    # (joined on the digests, computed on both sides: an equality of columns)
    found = con.execute(
        """WITH staged AS (
                SELECT DISTINCT source, substr(activity_id, length(source) + 2) AS digest
                FROM st_activity WHERE source IN (SELECT unnest($read))),
            stored AS (
                SELECT source, substr(activity_id, length(source) + 2) AS digest
                FROM activity WHERE org_id = $org AND source IN (SELECT unnest($retired)))
            SELECT s.source, t.source, count(DISTINCT s.digest),
                   (SELECT count(*) FROM staged n WHERE n.source = s.source)
            FROM staged s JOIN stored t USING (digest)
            GROUP BY ALL ORDER BY 3 DESC, 1, 2""",
        {"read": sorted(sheets), "retired": retired, "org": org.id},
    ).fetchall()
    noted: set[str] = set()
    for name, stored_as, shared, staged in found:
        src = sheets[name]
        shared_rows = (
            f"{shared} of its {staged} activities are already in the store as those of "
            f"the spreadsheet source '{stored_as}', which no source in cohort.yml names "
            "any more"
        )
        if name not in known:
            raise ExportError(
                paths.exports(org.id) / src.path,
                f"{shared_rows}: read as a new sheet, each would be counted twice (a "
                "spreadsheet source is known by its label, else its file name, and this "
                "one's name is new)",
                org_id=org.id,
                fix=f"if this is that sheet saved under another file name, give this source "
                f"`label: {stored_as.removeprefix('sheet:')}` in cohort.yml (its name in the "
                "store; a label stays whatever the file is called) and run again.",
            )
        if name in noted:
            continue
        noted.add(name)
        _note_stored_twice(
            stage,
            src,
            f"{shared_rows}: they look like the same rows, read before under another file "
            "name, and both are counted",
            paths,
            org.id,
            stored_as,
        )


def _note_stored_twice(
    stage: Stage, src: Source, what: str, paths: CohortPaths, org_id: str, stored_as: str
) -> None:
    """Say on the first file the source read that what it brought is also stored under
    a retired sheet's name, and how to forget that one."""
    first = next(f for f in stage.files if _of_source(f.rel, src) and not f.carried)
    first.notes.append(
        f"{what} (the store keeps what a source taken out of cohort.yml brought until it is "
        f"forgotten). Fix: `cyclebook forget {paths.root} {org_id} --source {stored_as}` "
        f"lists what the store holds of '{stored_as}', and removes it with --yes"
    )


# A person's name, email and phone as a sheet of people (st_person) and the store
# (person_pii) hold them, and whether two such records of one id are the same person's:
# they agree on the name, the email or the phone, whichever both hold, or both hold
# none of them (a sheet of ids alone)
_SAME_RECORD_VALUES = """nullif(lower(trim(concat_ws(' ', first_name, last_name))), '') AS name,
    email, phone"""
_SAME_RECORD = """coalesce(s.name = t.name, FALSE) OR coalesce(s.email = t.email, FALSE)
    OR coalesce(s.phone = t.phone, FALSE)
    OR NOT (s.name IS NOT NULL AND t.name IS NOT NULL OR s.email IS NOT NULL
            AND t.email IS NOT NULL OR s.phone IS NOT NULL AND t.phone IS NOT NULL)"""


def _people_sheets_stored_under_another_name(
    con,
    org: Organization,
    paths: CohortPaths,
    stage: Stage,
    sheets: dict[str, Source],
    known: set[str],
    retired: list[str],
) -> None:
    """The same check for a sheet of people alone (no ``occurred_at``: no activities to
    compare), by its people: a roster saved under another file name, its ``path``
    changed to it, was not seen, and its people went in again under the new name (a
    person named by an id alone, as a sheet's ids name people in that sheet only, twice).

    A person of the new sheet is one of a retired sheet of people alone (no activities
    stored under its name) when the sheet names them by the same id and their record
    agrees with the stored one: on the name, the email or the phone, whichever both
    hold (or both hold none of them). By the id alone, another sheet numbered 1, 2, 3
    shared its rows' numbers with any roster numbered so, and was refused as its copy.

    A new sheet is refused when it holds at least half of the retired sheet's people (a
    renamed copy holds them all), or when more than half of its own people are that
    sheet's: a newer version of it, downloaded under another name, that lost most of its
    rows (filtered, or cut short) held fewer than half of them and was read as a new
    sheet, its people stored again. Another sheet (a volunteers list in the members'
    place) shares some of its people, not most. A sheet given a ``label`` is not refused
    (its name does not come from its file, so a renaming does not change it: a label of
    its own says it is another sheet); the fix names both labels."""
    people_only = {
        name: src
        for name, src in sheets.items()
        if "occurred_at" not in (src.columns or {}) and not src.label
    }
    if not people_only:
        return
    with_activities = {
        row[0]
        for row in con.execute(
            "SELECT DISTINCT source FROM activity WHERE org_id = $org AND source IN (SELECT unnest($retired))",
            {"org": org.id, "retired": retired},
        ).fetchall()
    }
    rosters = [name for name in retired if name not in with_activities]
    if not rosters:
        return
    # (the pairs of one id: a person's name, email and phone, as the sheet and the store
    # hold them; the sheets of people alone, small beside the activities)
    found = con.execute(
        f"""WITH staged AS (
                SELECT source, source_id, {_SAME_RECORD_VALUES} FROM st_person
                WHERE source IN (SELECT unnest($read))),
            stored AS (
                SELECT i.source, i.source_id, {_SAME_RECORD_VALUES}
                FROM identity i LEFT JOIN person_pii p USING (org_id, person_id)
                WHERE i.org_id = $org AND i.source IN (SELECT unnest($rosters))),
            sizes AS (SELECT source, count(*) AS n FROM stored GROUP BY source),
            staged_sizes AS (
                SELECT source, count(DISTINCT source_id) AS n FROM staged GROUP BY source),
            same AS (
                SELECT s.source, t.source AS stored_as, s.source_id
                FROM staged s JOIN stored t USING (source_id)
                GROUP BY ALL HAVING bool_or({_SAME_RECORD}))
            SELECT m.source, m.stored_as, count(*) AS shared, any_value(z.n) AS people,
                   any_value(g.n) AS staged
            FROM same m JOIN sizes z ON z.source = m.stored_as
                 JOIN staged_sizes g ON g.source = m.source
            GROUP BY ALL
            HAVING 2 * count(*) >= any_value(z.n) OR 2 * count(*) > any_value(g.n)
            ORDER BY 3 DESC, 1, 2""",
        {"read": sorted(people_only), "rosters": rosters, "org": org.id},
    ).fetchall()
    noted: set[str] = set()
    for name, stored_as, shared, people, staged in found:
        src = people_only[name]
        shared_people = (
            f"{shared} of its {staged} people are the people of the spreadsheet source "
            f"'{stored_as}' ({shared} of its {people}), a sheet of people alone which no "
            "source in cohort.yml names any more"
        )
        if name not in known:
            stored_name = stored_as.removeprefix("sheet:")
            # a newer version that lost rows: what becomes of the people it no longer lists
            fewer = (
                f"; it lists fewer than half of that sheet's people: if it is a newer "
                f"version of it, the {people - shared} it no longer lists stay in the store "
                "as they are (a sheet's people stay when a newer version drops them)"
                if 2 * shared < people
                else ""
            )
            raise ExportError(
                paths.exports(org.id) / src.path,
                f"{shared_people}: read as a new sheet, each would be stored again under "
                "this sheet's name (a spreadsheet source is known by its label, else its "
                "file name, and this one's name is new; a person named by a sheet's id "
                f"alone would be a second person){fewer}",
                org_id=org.id,
                fix=f"if this is that sheet saved under another file name, give this source "
                f"`label: {stored_name}` in cohort.yml (its name in the store; a label stays "
                "whatever the file is called); if it is another sheet, give it a label of "
                f"its own (any name but {stored_name}), and run again.",
            )
        if name in noted:
            continue
        noted.add(name)
        _note_stored_twice(
            stage,
            src,
            f"{shared_people}: they look like the same sheet, read before under another "
            "file name, and its people are stored under both names",
            paths,
            org.id,
            stored_as,
        )


def _note_hubs(con, stage: Stage, hubs: dict[str, int], joined: dict[str, int]) -> None:
    """Say, on the first file read of each tool, how many of its emails and phones were
    not used to match people (each held by HUB_IDS or more of its records), and how many
    people stored earlier were matched by one of them before it was (they stay one)."""
    for source, n in hubs.items():
        (file_no,) = con.execute(
            "SELECT min(file_no) FROM st_person WHERE source = ?", [source]
        ).fetchone()
        if file_no is None:
            continue
        note = (
            f"{n} email(s) or phone(s) are each on {HUB_IDS} or more of this tool's "
            "people: not used to match people (a household's phone, an office email, "
            "an organizer's own number written for others)"
        )
        if people := joined.get(source):
            one = people == 1
            note += (
                f"; {people} {'person' if one else 'people'} stored by earlier syncs "
                f"{'holds' if one else 'hold'} two or more of those records, matched by "
                f"such a value when it was on fewer: {'it stays' if one else 'each stays'} "
                "one person (a store synced from all the exports at once would keep those "
                "records apart)"
            )
        stage.files[file_no].notes.append(note)


class _Clock:
    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self.t, 3)
        self.t = now


def _group(stage: Stage, sources) -> list[list]:
    out, i = [], 0
    for _src, files in sources:
        out.append(stage.files[i : i + len(files)])
        i += len(files)
    return out


def _finish_files(stage: Stage, result: SyncResult, stored: list[FileResult]) -> None:
    """Per-file figures: read now, or (carried files) those of the last sync, ``stored``."""
    con = stage.con
    carried = {r.file: r for r in stored}
    rejected = dict(
        con.execute(
            """SELECT file_no, count(DISTINCT coalesce(CAST(rec AS VARCHAR), 'l' || line))
               FROM st_reject GROUP BY file_no"""
        ).fetchall()
    )
    for f in stage.files:
        if f.carried:
            result.files.append(dataclasses.replace(carried[f.rel], carried=True))
            continue
        n_rej = int(rejected.get(f.file_no, 0))
        result.files.append(
            FileResult(
                f.rel,
                f.source_kind,
                f.role,
                f.sha256,
                f.rows_read,
                max(f.rows_read - n_rej - f.rows_left_out, 0),
                n_rej,
                f.unknown_columns,
                f.notes,
            )
        )


def _coverage(con) -> None:
    """Dates each file covers (before the staged activities are released): those of its
    activities and contact attempts (``lo``, ``hi``), and apart those of its people's
    records (``dates``: the JSON the file's sync_run message gets, with the first and
    last day a tool first had one of its people, such as an activist report's
    subscription dates, in UTC). One span of both made a VAN persons table of people
    added years ago read as the tool's activity reaching back that far."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE cb_cov AS
           SELECT file_no, lo, hi, json_object('activity_dates', TRUE,
                      'people_from', strftime(timezone('UTC', people_lo), '%Y-%m-%dT%H:%M:%SZ'),
                      'people_to', strftime(timezone('UTC', people_hi), '%Y-%m-%dT%H:%M:%SZ'))
                  AS dates
           FROM (SELECT file_no, min(t) FILTER (WHERE NOT person) AS lo,
                        max(t) FILTER (WHERE NOT person) AS hi,
                        min(t) FILTER (WHERE person) AS people_lo,
                        max(t) FILTER (WHERE person) AS people_hi
                 FROM (SELECT file_no, occurred_at AS t, FALSE AS person FROM st_activity
                       UNION ALL SELECT file_no, attempted_at, FALSE FROM st_attempt
                       UNION ALL SELECT file_no, seen_at, TRUE FROM st_person)
                 GROUP BY file_no)"""
    )


def _remember_hashes(paths: CohortPaths, files: list[FileInfo]) -> None:
    """Hashes the archive copy computed go to the cohort's cache (the runner reads them)."""
    if not any(f.hashed_stat is not None for f in files):
        return  # hashed up front, from the cache: nothing new to remember
    hashes = cohort_cache(paths.root)
    for f in files:
        if f.hashed_stat is not None:
            hashes.remember(f.path, f.sha256, f.hashed_stat, f.hashed_at_ns)
    hashes.save()


class _Archiver:
    """Copies the raw exports into the archive on a thread while the sync parses them.

    ``wait`` returns the archived paths, or raises what the copy raised (a full disk);
    ``discard`` removes the copies this sync added, when it failed."""

    def __init__(self, files: list[FileInfo], archive_dir: Path) -> None:
        self.targets: list[Path] = []
        self.made: list[Path] = []  # copies not in the archive before this sync
        self.error: BaseException | None = None
        self.thread = threading.Thread(
            target=self._run, args=(list(files), archive_dir), name="cyclebook-archive"
        )
        self.thread.start()

    def _run(self, files: list[FileInfo], archive_dir: Path) -> None:
        try:
            self.targets = [archive_file(f, archive_dir, self.made) for f in files]
        except BaseException as exc:  # re-raised by wait() on the sync's thread
            self.error = exc

    def wait(self) -> list[Path]:
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.targets

    def discard(self) -> None:
        """Remove the copies this sync added to the archive (and the folders left
        empty): a failed sync leaves the archive as it was, as it leaves the store. The
        copy of an export that failed (or that was dropped in by mistake and then taken
        out of the folder) stayed there for ever, named by no ``raw_file`` row."""
        self.thread.join()
        for target in self.made:  # (never raising: the sync's own error is the one to see)
            with contextlib.suppress(OSError):
                target.unlink()
            with contextlib.suppress(OSError):  # (not empty: another name of the file)
                target.parent.rmdir()
        with contextlib.suppress(OSError):  # (an organization's first sync)
            if self.made:
                self.made[0].parent.parent.rmdir()


def _record(
    con,
    paths: CohortPaths,
    org: Organization,
    stage: Stage,
    result: SyncResult,
    started: dt.datetime,
    archived: list[Path],
    last_run: str | None = None,
) -> None:
    # one row per file, written in one statement each (an API export is hundreds of
    # pages: a statement per page cost ~6 ms each)
    files = stage.files
    file_rows, params = list_rows(
        {
            "file_no": ("INTEGER", [f.file_no for f in files]),
            "sha256": ("VARCHAR", [f.sha256 for f in files]),
            "source_kind": ("VARCHAR", [f.source_kind for f in files]),
            "rel": ("VARCHAR", [f.rel for f in files]),
            "archived": ("VARCHAR", [str(t.relative_to(paths.root)) for t in archived]),
            "size": ("BIGINT", [f.size for f in files]),
            "skip": ("INTEGER", [f.skip for f in files]),
            "rows_read": ("BIGINT", [fr.rows_read for fr in result.files]),
            "rows_kept": ("BIGINT", [fr.rows_kept for fr in result.files]),
            "rows_rejected": ("BIGINT", [fr.rows_rejected for fr in result.files]),
            "unknown": ("VARCHAR", [json.dumps(fr.unknown_columns) for fr in result.files]),
            "message": (
                "VARCHAR",
                [
                    json.dumps(
                        {
                            "role": f.role,
                            "source": f.store_source,
                            "notes": f.notes,
                            "skipped_blank": f.rows_skipped,
                            "custom_fields": f.custom_fields,
                            # (a CSV's kept columns are recorded too, since this flag)
                            "csv_custom_fields": True,
                        }
                    )
                    for f in files
                ],
            ),
            "carried": ("BOOLEAN", [f.carried for f in files]),
        }
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE cb_file_rows AS {file_rows}", params)
    con.execute(
        """INSERT OR IGNORE INTO raw_file
           SELECT $org, sha256, source_kind, rel, archived, size, $started FROM cb_file_rows""",
        {"org": org.id, "started": started},
    )
    con.execute(
        """INSERT INTO sync_run (org_id, run_id, started_at, finished_at, status, source_kind,
               file, sha256, rows_read, rows_kept, rows_rejected, unknown_columns,
               min_occurred_at, max_occurred_at, message)
           SELECT $org, $run, $started, now(), 'ok', r.source_kind, r.rel, r.sha256,
                  r.rows_read, r.rows_kept, r.rows_rejected, r.unknown, c.lo, c.hi,
                  -- the people's record dates, apart from the activity's (min_occurred_at
                  -- and max_occurred_at held both until "activity_dates" was recorded)
                  json_merge_patch(r.message, coalesce(c.dates, '{"activity_dates": true}'))
           FROM cb_file_rows r LEFT JOIN cb_cov c USING (file_no) WHERE NOT r.carried
           UNION ALL
           SELECT $org, $run, $started, now(), 'ok', p.source_kind, p.file, p.sha256,
                  p.rows_read, p.rows_kept, p.rows_rejected, p.unknown_columns,
                  p.min_occurred_at, p.max_occurred_at,
                  json_merge_patch(coalesce(p.message, '{}'), '{"carried": true}')
           FROM cb_file_rows r JOIN sync_run p
             ON p.org_id = $org AND p.run_id = $last AND p.file = r.rel AND p.sha256 = r.sha256
           WHERE r.carried""",
        {"org": org.id, "run": result.run_id, "started": started, "last": last_run or ""},
    )
    # rejects describe the current exports: replace the organization's previous ones,
    # except those of exports not read again (carried over with their figures)
    con.execute(
        """DELETE FROM rejected_row WHERE org_id = ?
           AND file NOT IN (SELECT rel FROM cb_file_rows WHERE carried)""",
        [org.id],
    )
    con.execute(
        # (a record's line when the file could not be scanned for it: one line a record,
        # after the header and the lines above it)
        """INSERT INTO rejected_row (org_id, run_id, file, line, column_name, reason, raw,
               record_kept)
           SELECT ?, ?, f.rel, coalesce(r.line, r.rec + 2 + f.skip), r.column_name,
               r.reason, NULL, r.record_kept
           FROM (SELECT *, FALSE AS record_kept FROM st_reject
                 UNION ALL SELECT *, TRUE FROM st_value_reject) r
           JOIN cb_file_rows f USING (file_no)""",
        [org.id, result.run_id],
    )
    con.execute("DROP TABLE cb_file_rows")
    con.execute(
        """INSERT INTO sync_run (org_id, run_id, started_at, finished_at, status, rows_read,
               rows_kept, rows_rejected, message)
           VALUES (?, ?, ?, now(), 'ok', ?, ?, ?, ?)""",
        [
            org.id,
            result.run_id,
            started,
            result.rows_read,
            sum(f.rows_kept for f in result.files),
            result.rows_rejected,
            json.dumps(result.written),
        ],
    )


@contextlib.contextmanager
def _unforeseen(
    paths: CohortPaths,
    org_id: str,
    run_id: str,
    source: Source | None,
    files: list[FileInfo],
) -> Iterator[None]:
    """Reading ``files``: a DuckDB error becomes :func:`_unreadable`'s ExportError (the
    machine's memory limit is not the files' fault: it stays what it is)."""
    try:
        yield
    except duckdb.OutOfMemoryException:
        raise
    except duckdb.Error as exc:
        raise _unreadable(paths, org_id, run_id, source, files, exc) from exc


def _unreadable(
    paths: CohortPaths,
    org_id: str,
    run_id: str,
    source: Source | None,
    files: list[FileInfo],
    exc: duckdb.Error,
) -> ExportError:
    """The error of an export DuckDB stopped on where a reader expected it not to (a
    record of a shape no check foresaw).

    DuckDB's message quotes the value it could not convert (a whole JSON record, with
    its email and phone): it goes to a file under ``.cyclebook/errors/`` beside the
    store, for the data staff, never into the error, which a failed notebook prints
    into its HTML report before the store knows the member to guard against."""
    names = [f.rel for f in files]
    log = _kept_apart(
        paths,
        org_id,
        run_id,
        f"source: {source.kind + ' ' + source.path if source else '(all)'}\n"
        f"files: {', '.join(names)}",
        exc,
    )
    shown = names[0] if len(names) == 1 else f"{Path(names[0]).parent} ({len(names)} files)"
    kind = f"{source.kind} " if source else ""
    return ExportError(
        shown,
        f"a value of this {kind}export has a shape the reader does not handle, and "
        f"DuckDB stopped on it ({type(exc).__name__}); its message, which quotes the "
        f"record, is in {log.relative_to(paths.root)} (it may hold member data: it is "
        "kept out of every report)",
        org_id=org_id,
        fix="find the record that file quotes, correct or remove it in the export (or "
        "export it again from the tool) and run the sync again; and please report it, "
        "so that the reader rejects such a record by name instead of stopping.",
    )


KEPT_ERROR_FILES = 5  # per organization


def _kept_apart(
    paths: CohortPaths, org_id: str, run_id: str, context: str, exc: BaseException
) -> Path:
    """Write DuckDB's message (it may quote a record) beside the store, for the data
    staff, and return the file (relative to the cohort) to name instead."""
    log = paths.sync_error(org_id, run_id)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(
        f"organization: {org_id}\nsync run: {run_id}\n{context}\n\n{type(exc).__name__}: {exc}\n",
        encoding="utf-8",
    )
    # they may quote members: only the organization's latest few are kept (by the time
    # they were written: run ids are to the second)
    kept = sorted(paths.sync_errors(org_id), key=lambda p: (p.stat().st_mtime_ns, p.name))
    for old in kept[:-KEPT_ERROR_FILES]:
        old.unlink(missing_ok=True)
    return log


def _record_failure(
    paths: CohortPaths, org_id: str, run_id: str, started: dt.datetime, message: str
) -> None:
    """A failed ``sync_run`` row, in a transaction of its own (the sync's was rolled back),
    when the store can be opened (not when its being unavailable was the failure)."""
    with contextlib.suppress(StoreError), connect(paths.store, write=True) as con:
        con.execute(
            """INSERT INTO sync_run (org_id, run_id, started_at, finished_at, status, message)
               VALUES (?, ?, ?, now(), 'failed', ?)""",
            [org_id, run_id, started, message],
        )


def _file_results_from_store(con, org_id: str, run_id: str) -> list[FileResult]:
    """The per-file figures of a sync run."""
    rows = con.execute(
        """SELECT file, source_kind, message, sha256, rows_read, rows_kept, rows_rejected,
                  unknown_columns
           FROM sync_run WHERE org_id = ? AND file IS NOT NULL AND run_id = ?
           ORDER BY file""",
        [org_id, run_id],
    ).fetchall()
    out = []
    for file, kind, message, sha, read, kept, rej, unknown in rows:
        meta = json.loads(message or "{}")
        out.append(
            FileResult(
                file,
                kind,
                meta.get("role", ""),
                sha,
                read,
                kept,
                rej,
                json.loads(unknown or "[]"),
                meta.get("notes", []),
                bool(meta.get("carried", False)),
            )
        )
    return out


def sync_cohort(
    cohort_dir: str | Path, orgs: list[str] | None = None, *, force: bool = False
) -> dict[str, SyncResult]:
    """Sync every organization (or those named); an error stops only its organization."""
    paths = CohortPaths.of(cohort_dir)
    cohort = load_cohort(paths.root)
    results: dict[str, SyncResult] = {}
    for org in cohort.organizations:
        if orgs is not None and org.id not in orgs:
            continue
        if not org.sources:
            continue
        try:
            results[org.id] = sync_org(paths.root, org, cohort=cohort, force=force)
        except CyclebookError as exc:
            results[org.id] = SyncResult(org.id, "failed", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - one organization's failure stops only it
            # an export deleted while it was read, a file name the store cannot hold: the
            # organizations after it were not synced, and no result was printed
            results[org.id] = SyncResult(org.id, "failed", error=f"{type(exc).__name__}: {exc}")
    return results


def ensure_synced(ctx) -> SyncResult:
    """Sync a PhaseContext's organization if its exports changed (else a cheap no-op).

    Raises :class:`ExportError` when an export cannot be read.
    """
    return sync_org(ctx.paths.root, ctx.org, cohort=ctx.cohort)
