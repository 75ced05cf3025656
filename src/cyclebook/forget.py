"""Forget an organization that left the cohort: its rows in the store, the byte-for-byte
copies of its exports, its follow-up lists, its reports and the messages of its failed
syncs.

Taking a group out of ``cohort.yml`` stopped its reports, but everything cyclebook had
made of its data stayed: its members' names, emails and phones in the store and in the
archive's copies of its exports, its follow-up lists, and its funder and cohort reports
in every cycle's output folder, where a facilitator who shares that folder shares them.

The store is written again without the organization's rows (``COPY FROM DATABASE`` into a
new file that replaces it): after a DELETE and a CHECKPOINT alone, a member's phone
number and last name were still in the file's bytes. The group's own exports folder
(``orgs/<id>/exports``) is what the group gave, and its reflections are what it said:
they are named, not deleted.

One source taken out of an organization's entry (a retired spreadsheet, a tool the group
stopped using, a sheet read twice under two names) is forgotten the same way
(:func:`forget_source`): its rows, the people only it knew, its files' sync records and
archived copies, in one rewrite of the store.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import json
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import duckdb

from cyclebook.config import (
    Organization,
    Source,
    cycle_folders,
    load_cohort,
    sheet_name,
    tool_name,
)
from cyclebook.errors import CyclebookError
from cyclebook.paths import CohortPaths
from cyclebook.store import _file_lock, connect, id_key, ident, sql_str, value_key
from cyclebook.yamlio import write_text_atomic

# the store's bookkeeping of an organization: 'sync_code:<id>',
# 'metric_inputs/<cycle>/<id>', 'person_state/<cycle>/<id>', 'metric_data/<cycle>/<id>'
META_OF_ORG = "(suffix(key, ':' || $org) OR suffix(key, '/' || $org))"


@dataclass
class Forgotten:
    """What forgetting an organization removes (or, before ``apply``, would remove)."""

    org_id: str
    rows: dict[str, int] = field(default_factory=dict)
    paths: list[Path] = field(default_factory=list)
    manifest_entries: int = 0
    kept: list[Path] = field(default_factory=list)

    def lines(self, applied: bool) -> list[str]:
        verb = "removed" if applied else "would remove"
        out = [f"{verb} {n:,} row(s) of {table}" for table, n in sorted(self.rows.items()) if n]
        out += [f"{verb} {path}" for path in self.paths]
        if self.manifest_entries:
            out.append(f"{verb} {self.manifest_entries} manifest entr(y/ies)")
        out += [f"kept (the group's own files): {path}" for path in self.kept]
        return out


def forget(cohort_dir: str | Path, org_id: str, *, apply: bool = False) -> Forgotten:
    """What cyclebook holds of ``org_id``; removed when ``apply``.

    Refused while the organization is in ``cohort.yml`` (its next run would sync it
    again): take it out first."""
    paths = CohortPaths.of(cohort_dir)
    cohort = load_cohort(paths.root)
    if org_id in [org.id for org in cohort.organizations]:
        raise CyclebookError(
            f"{org_id} is still an organization of {paths.root / 'cohort.yml'}",
            fix=f"take {org_id} out of cohort.yml first (its next run would sync it again), "
            "then run forget.",
        )
    found = Forgotten(org_id)
    if paths.store.exists():
        found.rows = _store_rows(paths.store, org_id)
    org_dir = paths.org_dir(org_id)
    candidates = [paths.archive / org_id, org_dir / "followup"]
    for cycle in cycle_folders(paths.root):
        output = paths.output(cycle)
        candidates += [output / "reports" / org_id, output / "notebooks" / org_id]
        manifest = paths.manifest(cycle)
        if manifest.exists():
            jobs = json.loads(manifest.read_text()).get("jobs", [])
            found.manifest_entries += sum(job.get("org_id") == org_id for job in jobs)
    # DuckDB's messages of its failed syncs (sync._kept_apart): they may quote a member
    candidates += paths.sync_errors(org_id)
    found.paths = [path for path in candidates if path.exists()]
    if (org_dir / "exports").exists():
        found.kept.append(org_dir / "exports")
    # what the group said in each cycle, written by the facilitators (it names the
    # group's staff): named, not deleted, as the exports are
    found.kept += [
        path
        for cycle in cycle_folders(paths.root)
        if (path := paths.reflections(cycle) / f"{org_id}.yml").exists()
    ]
    if not apply:
        return found
    from cyclebook.runner import run_lock  # (the runner's imports only when removing)

    with run_lock(paths):  # not while a run writes the store or the reports
        if any(found.rows.values()):
            _rewrite_store_without(paths.store, org_id)
        for path in found.paths:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        for cycle in cycle_folders(paths.root):
            _drop_manifest_entries(paths.manifest(cycle), org_id)
    return found


def _org_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        row[0]
        for row in con.execute(
            """SELECT DISTINCT table_name FROM duckdb_columns()
               WHERE column_name = 'org_id' AND schema_name = 'main'
                 AND database_name = current_database() ORDER BY 1"""
        ).fetchall()
    ]


def _store_rows(store: Path, org_id: str) -> dict[str, int]:
    with connect(store) as con:  # read-only, under the store's shared lock
        counts = {
            table: con.execute(
                f"SELECT count(*) FROM {ident(table)} WHERE org_id = ?", [org_id]
            ).fetchone()[0]
            for table in _org_tables(con)
        }
        counts["meta"] = con.execute(
            f"SELECT count(*) FROM meta WHERE {META_OF_ORG}", {"org": org_id}
        ).fetchone()[0]
        return counts


def _rewrite_store_without(store: Path, org_id: str) -> None:
    """A new store file holding everything but the organization's rows, then put in the
    store's place. The store itself is only read: deleting the rows in it first, a
    forget stopped before the copy was done left the members' values in the file's
    bytes, and counted no rows to remove the next time."""

    def rows(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, dict]]:
        org = {"org": org_id}
        kept = {
            table: (f"SELECT * FROM {ident(table)} WHERE org_id IS DISTINCT FROM $org", org)
            for table in _org_tables(con)
        }
        kept["meta"] = (f"SELECT * FROM meta WHERE NOT {META_OF_ORG}", org)
        return kept

    _rewrite_store(store, rows)


def _rewrite_store(
    store: Path, plan: Callable[[duckdb.DuckDBPyConnection], Mapping[str, tuple[str, dict]]]
) -> None:
    """Write the store again as a new file, then put it in the store's place, under the
    store's exclusive lock. ``plan`` is called with the store attached read-only as the
    connection's current database (``old``): it may make TEMP tables, and returns, per
    table, the SELECT (over the store's tables, unqualified) of the rows the new file
    holds and its named parameters; a table it does not name is copied whole. Nothing
    is written when ``plan`` raises."""
    fresh = store.with_name(store.name + ".forget")
    for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
        leftover.unlink(missing_ok=True)  # a forget stopped before (kept rows only)
    with _file_lock(store, exclusive=True, timeout=None):
        con = duckdb.connect()
        try:
            con.execute(f"ATTACH {sql_str(str(store))} AS old (READ_ONLY)")
            con.execute("USE old")
            rows = plan(con)
            con.execute(f"ATTACH {sql_str(str(fresh))} AS new")
            con.execute("COPY FROM DATABASE old TO new (SCHEMA)")
            tables = [
                row[0]
                for row in con.execute(
                    """SELECT table_name FROM duckdb_tables()
                       WHERE database_name = 'old' AND schema_name = 'main' ORDER BY 1"""
                ).fetchall()
            ]
            for table in tables:
                name = ident(table)
                sql, params = rows.get(table, (f"SELECT * FROM {name}", {}))
                con.execute(f"INSERT INTO new.main.{name} {sql}", _used(sql, params))
            con.execute("USE memory")
            con.execute("DETACH new")
            con.execute("DETACH old")
        finally:
            con.close()
        os.replace(fresh, store)


def _used(sql: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The named parameters ``sql`` uses (DuckDB refuses one more)."""
    return {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}


def _drop_manifest_entries(manifest: Path, org_id: str) -> None:
    if not manifest.exists():
        return
    data = json.loads(manifest.read_text())
    jobs = data.get("jobs", [])
    kept = [job for job in jobs if job.get("org_id") != org_id]
    if len(kept) != len(jobs):
        data["jobs"] = kept
        write_text_atomic(manifest, json.dumps(data, indent=2))


# --------------------------------------------------------------------------- one source

# The meta row that records a source forgotten (its suffix is the organization's, so
# forgetting the whole organization removes it too): its value says when, what was
# removed and which archived copies (a forget stopped before removing them finishes)
FORGOTTEN_KEY = "forgotten_source/{source}/{org}"
# beyond this many archived copies or export files, their folder is named instead
SHOWN_PATHS = 8


@dataclass
class ForgottenSource:
    """What forgetting one source of an organization removes (or, before ``apply``,
    would remove)."""

    org_id: str
    source: str
    # rows removed, per table (person: the people only the source knew)
    rows: dict[str, int] = field(default_factory=dict)
    # people who keep records of other tools: those whose first-seen date moves, the
    # emails and phones only the source gave, and the people whose other records only
    # the source's emails or phones joined (they stay one person)
    kept_people: int = 0
    redated: int = 0
    cleared: int = 0
    joined: int = 0
    # contact attempts of other tools whose only person record was the source's
    unattached: int = 0
    paths: list[Path] = field(default_factory=list)  # archived copies
    kept: list[str] = field(default_factory=list)  # the group's own export files
    # files of spreadsheets no longer in cohort.yml that cannot be told to be its
    untold: int = 0
    # when it was forgotten before, if the store holds nothing of it now
    forgotten_at: str | None = None

    def lines(self, applied: bool) -> list[str]:
        verb = "removed" if applied else "would remove"
        src = self.source
        if self.forgotten_at is not None and not any(self.rows.values()):
            out = [
                f"{src} of {self.org_id} was forgotten at {self.forgotten_at}: the store holds "
                "nothing of it"
            ]
            return out + [f"{verb} {path}" for path in self.paths]
        out = [f"{verb} {n:,} row(s) of {table}" for table, n in sorted(self.rows.items()) if n]
        if self.rows.get("person"):
            out.append(
                f"(the {self.rows['person']:,} row(s) of person: the people only {src} knew, "
                "with their person_pii, person_key and custom_field rows)"
            )
        if self.redated:
            out.append(
                f"{'worked out again' if applied else 'would work out again'} the first-seen "
                f"date of {self.redated:,} person(s) who keep other tools' records, from "
                "what they still have (their activities and their records' first dates)"
            )
        if self.cleared:
            out.append(
                f"{verb} {self.cleared:,} email(s) or phone(s) that only {src} gave, of "
                "people who keep other tools' records"
            )
        if self.unattached:
            out.append(
                f"{'left' if applied else 'would leave'} {self.unattached:,} contact "
                f"attempt(s) of other tools without their person (only {src} listed them)"
            )
        if len(self.paths) > SHOWN_PATHS:
            out.append(
                f"{verb} {len(self.paths):,} archived copies of its exports, in "
                f"{self.paths[0].parents[1]}"
            )
        else:
            out += [f"{verb} {path}" for path in self.paths]
        if self.joined:
            out.append(
                f"{self.joined:,} person(s) stay one person though only {src}'s emails or "
                "phones joined their other records (identity never splits)"
            )
        if self.kept_people:
            out.append(
                f"kept: the names, addresses, zip codes, states and contact permissions of the "
                f"{self.kept_people:,} people who keep other tools' records (the store does "
                "not record which tool gave them); the next sync of "
                f"{self.org_id} reads its other exports again in full, and their values "
                "replace these where they hold one"
            )
        if self.untold:
            out.append(
                f"kept: the sync records and archived copies of {self.untold} file(s) of "
                f"spreadsheets no longer in cohort.yml that cannot be told to be {src}'s "
                "(synced before cyclebook recorded each file's source)"
            )
        out += [f"kept (the group's own files): {path}" for path in self.kept]
        out.append(
            f"{'recorded' if applied else 'would record'} in the store that {src} was forgotten"
        )
        return out


def forget_source(
    cohort_dir: str | Path, org_id: str, source: str, *, apply: bool = False
) -> ForgottenSource:
    """What cyclebook holds of one source of ``org_id`` (``source`` as the store names
    it: ``activity.source``, ``identity.source``); removed when ``apply``, in one
    rewrite of the store file (as :func:`forget`'s), then its archived copies.

    Removed: the source's activities (with their fields), contact attempts, events
    (with theirs), records (identity) and the emails and phones they carried
    (person_key), its custom fields and its files' sync records (sync_run,
    rejected_row, raw_file); the people left with no record at all (every row of
    theirs). People who keep other tools'
    records get their first-seen date and what they allowed (email, texts, contact)
    worked out again from what they still have, and lose the email or phone no record
    of theirs but the source's carried; their names and the rest are kept (the store
    does not record which tool gave them). People the
    source's emails or phones joined stay one person. The organization's saved metric
    values are no longer reused, and its next sync reads its other exports again in
    full.

    Refused while cohort.yml lists the source for the organization (its next sync would
    read it again), and for a name the store does not hold (with the names it does)."""
    paths = CohortPaths.of(cohort_dir)
    cohort = load_cohort(paths.root)
    org = next((o for o in cohort.organizations if o.id == org_id), None)
    if org is None:
        raise CyclebookError(
            f"{org_id} is not an organization of {paths.root / 'cohort.yml'}",
            fix=f"a group taken out of cohort.yml is forgotten whole: `cyclebook forget "
            f"{paths.root} {org_id}` lists what is held of it.",
        )
    listed = [src for src in org.sources if src.store_name == source]
    if listed:
        which = "; ".join(f"{src.kind} at '{src.path}'" for src in listed)
        raise CyclebookError(
            f"{source} is still a source of {org_id} in {paths.root / 'cohort.yml'} ({which})",
            fix=f"take it out of {org_id}'s sources in cohort.yml first (its next sync would "
            "read it again), then run forget.",
        )
    if not paths.store.exists():
        raise CyclebookError(
            f"{paths.store}: no store yet: cyclebook holds nothing of {org_id}'s sources",
            fix="nothing to forget.",
        )
    if not apply:
        _current(paths.store)
        with _file_lock(paths.store, exclusive=False, timeout=None):
            con = duckdb.connect()
            try:
                con.execute(f"ATTACH {sql_str(str(paths.store))} AS old (READ_ONLY)")
                con.execute("USE old")
                return _SourcePlan(con, paths, org, source).found
            finally:
                con.close()
    from cyclebook.runner import run_lock  # (the runner's imports only when removing)

    plans: list[_SourcePlan] = []

    def rows(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, dict]]:
        plans.append(_SourcePlan(con, paths, org, source))
        if plans[-1].nothing_held:
            raise _NothingHeld
        return plans[-1].rows()

    with run_lock(paths):  # not while a run writes the store or the reports
        _current(paths.store)
        with contextlib.suppress(_NothingHeld):  # (forgotten before: its copies may be left)
            _rewrite_store(paths.store, rows)
        found = plans[-1].found
        for path in found.paths:
            path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # (not empty: another file of that hash)
                path.parent.rmdir()
    return found


def _current(store: Path) -> None:
    """A store made by an earlier cyclebook gets its current tables and columns (as any
    writer's connection gives it): the source's rows are found in them."""
    with connect(store, write=True):
        pass


class _NothingHeld(Exception):
    """The store holds nothing of the source (forgotten before): not written again."""


def _reads(source: Source, rel: str) -> bool:
    """Whether the spreadsheet ``source`` reads the export ``rel`` (as the sync finds a
    source's files: its file, or the CSV files under its folder)."""
    path = PurePosixPath(source.path.replace("\\", "/")).as_posix()
    inside = path in (".", rel) or rel.startswith(path + "/")
    return inside and rel.lower().endswith(".csv")


class _SourcePlan:
    """What forgetting ``source`` of ``org`` removes from the store attached to ``con``
    (its current database): TEMP tables ``cbf_*``, the counts in :attr:`found`, and the
    rows the store is written again with (:meth:`rows`)."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, paths: CohortPaths, org: Organization, source: str
    ) -> None:
        self.con, self.paths, self.org, self.source = con, paths, org, source
        self.found = ForgottenSource(org.id, source)
        self.key = FORGOTTEN_KEY.format(source=source, org=org.id)
        row = con.execute("SELECT value FROM meta WHERE key = 'match_salt'").fetchone()
        self.salt = row[0] if row else ""
        self.p: dict[str, Any] = {"org": org.id, "src": source, "salt": self.salt}
        held = self._held_sources()
        self._files(held)
        self.nothing_held = source not in held and not self.gone_runs
        if self.nothing_held:
            self._not_held(held)
            return
        self._people()
        self._count()

    # ---- helpers

    def q(self, sql: str) -> duckdb.DuckDBPyConnection:
        return self.con.execute(sql, _used(sql, self.p))

    def one(self, sql: str) -> Any:
        return self.q(sql).fetchone()[0]

    # ---- which sources the store holds, and the files of this one

    def _held_sources(self) -> set[str]:
        return {
            row[0]
            for row in self.q(
                """SELECT source FROM identity WHERE org_id = $org
                   UNION SELECT source FROM activity WHERE org_id = $org
                   UNION SELECT source FROM event WHERE org_id = $org
                   UNION SELECT source FROM contact_attempt
                         WHERE org_id = $org AND source IS NOT NULL
                   UNION SELECT source FROM custom_field WHERE org_id = $org
                   UNION SELECT source FROM event_field WHERE org_id = $org
                   UNION SELECT source FROM activity_field WHERE org_id = $org"""
            ).fetchall()
        }

    def _source_of(self, rel: str, kind: str, recorded: str | None, held: set[str]) -> str | None:
        """The store's name of the source an export was read as: recorded with the file
        since cyclebook records it; else its tool's, or for a spreadsheet the configured
        source that reads it, else a source no longer in cohort.yml named by its file or
        folder name (or the only such spreadsheet the store holds); None if untold."""
        if recorded:
            return recorded
        if kind != "generic_csv":
            return tool_name(kind)
        reading = [s for s in self.org.sources if s.kind == "generic_csv" and _reads(s, rel)]
        if reading:
            return max(reading, key=lambda s: len(s.path)).store_name
        path = PurePosixPath(rel)
        named = {sheet_name(path.stem)} | {sheet_name(part) for part in path.parent.parts}
        if self.source in named:
            return self.source
        configured = {s.store_name for s in self.org.sources}
        retired = {n for n in held if n.startswith("sheet:") and n not in configured}
        return self.source if retired == {self.source} else None

    def _files(self, held: set[str]) -> None:
        """``gone_runs``: the (file, kind, recorded source) of the sync records that are
        the source's; ``cbf_runs``, ``cbf_raw`` (archived exports' hashes no other
        source's file has), ``cbf_rejects`` (files only the source read), and the
        archived copies and export files of the source's files."""
        runs = self.q(
            """SELECT DISTINCT file, source_kind,
                      CASE WHEN json_valid(message) THEN message->>'source' END, sha256
               FROM sync_run WHERE org_id = $org AND file IS NOT NULL"""
        ).fetchall()
        recorded = {(f, sha): rec for f, _k, rec, sha in runs if rec}
        gone, kept = set(), set()
        untold = set()
        for rel, kind, rec, sha in runs:
            name = self._source_of(rel, kind, rec or None, held)
            if name is None:
                untold.add(rel)
            (gone if name == self.source else kept).add((rel, kind, rec or "", sha))
        raw = self.q(
            """SELECT sha256, source_kind, original_path, archived_path FROM raw_file
               WHERE org_id = $org"""
        ).fetchall()
        kept_hashes = {sha for _r, _k, _rec, sha in kept}
        raw_gone = [
            (sha, archived)
            for sha, kind, rel, archived in raw
            if self._source_of(rel, kind, recorded.get((rel, sha)), held) == self.source
            and sha not in kept_hashes
        ]
        self.gone_runs = sorted({(rel, kind, rec) for rel, kind, rec, _sha in gone})
        if self.source.startswith("sheet:"):  # (only a spreadsheet's can be untold)
            self.found.untold = len(untold - {rel for rel, *_ in gone})
        self._table(
            "cbf_runs",
            ["file", "source_kind", "recorded"],
            [list(col) for col in zip(*self.gone_runs, strict=True)] if self.gone_runs else [],
        )
        self._table("cbf_raw", ["sha256"], [[sha for sha, _a in raw_gone]])
        kept_rels = {rel for rel, *_ in kept}
        self._table("cbf_rejects", ["file"], [sorted({rel for rel, *_ in gone} - kept_rels)])
        # archived copies (archive/<org>/<sha256>/<file name>), but one another source's
        # file of the same bytes and name has
        kept_copies = {(sha, PurePosixPath(rel).name) for rel, _k, _rec, sha in kept}
        archive = self.paths.archive / self.org.id
        copies = {
            archive / sha / PurePosixPath(rel).name
            for rel, _k, _rec, sha in gone
            if (sha, PurePosixPath(rel).name) not in kept_copies
        } | {
            self.paths.root / archived
            for sha, archived in raw_gone
            if (sha, Path(archived).name) not in kept_copies
        }
        self.copies = sorted(copies)
        self.found.paths = [path for path in self.copies if path.exists()]
        exports = self.paths.exports(self.org.id)
        mine = sorted(
            rel for rel in {rel for rel, *_ in gone} - kept_rels if (exports / rel).exists()
        )
        if len(mine) > SHOWN_PATHS:  # (a folder of API pages: its folder)
            self.found.kept = [f"{exports / os.path.commonpath(mine)} ({len(mine):,} files)"]
        else:
            self.found.kept = [str(exports / rel) for rel in mine]

    def _table(self, name: str, columns: list[str], values: list[list]) -> None:
        typed = ", ".join(f"{c} VARCHAR" for c in columns)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({typed})")
        if values and values[0]:
            self.con.executemany(
                f"INSERT INTO {name} VALUES ({', '.join('?' for _ in columns)})",
                [list(row) for row in zip(*values, strict=True)],
            )

    def _not_held(self, held: set[str]) -> None:
        row = self.q(f"SELECT value FROM meta WHERE key = {sql_str(self.key)}").fetchone()
        if row is not None:
            record = json.loads(row[0])
            self.found.forgotten_at = record.get("at", "?")
            self.found.paths = [
                self.paths.root / rel
                for rel in record.get("archive", [])
                if (self.paths.root / rel).exists()
            ]
            return
        org_id, source = self.org.id, self.source
        names = sorted(held)
        prefix, suffix = FORGOTTEN_KEY.split("{source}")
        forgotten = [
            key.removeprefix(prefix).removesuffix(suffix.format(org=org_id))
            for (key,) in self.q(
                f"""SELECT key FROM meta WHERE starts_with(key, {sql_str(prefix)})
                    AND suffix(key, {sql_str(suffix.format(org=org_id))})"""
            ).fetchall()
        ]
        close = difflib.get_close_matches(source, names + forgotten, n=1, cutoff=0.5)
        hint = ""
        if close:
            was = " (forgotten already)" if close[0] not in held else ""
            hint = f"did you mean {close[0]}{was}? "
        raise CyclebookError(
            f"the store holds no source named {source!r} of {org_id}; it holds "
            + (", ".join(names) if names else "none"),
            fix=f"{hint}name the source as the store does (a tool as its kind, 'van', "
            "'spoke', 'mobilize', 'action_network', 'action_builder'; a spreadsheet as "
            "'sheet:' and its label, else its file name): `cyclebook forget "
            f"{self.paths.root} {org_id} --source NAME`.",
        )

    # ---- the people

    def _people(self) -> None:
        salt = sql_str(self.salt)
        # the source's records; a Spoke contact's external_id names a VAN id that no VAN
        # export listed (identity.listed): a record only Spoke held
        self.q(
            f"""CREATE OR REPLACE TEMP TABLE cbf_ids AS
                SELECT person_id, source, source_id,
                       {id_key(salt, "source", "source_id")} AS id_key
                FROM identity WHERE org_id = $org AND (source = $src
                  OR ($src = 'spoke' AND source = 'van' AND listed IS FALSE))"""
        )
        self.q(
            """CREATE OR REPLACE TEMP TABLE cbf_touched AS
               SELECT person_id FROM cbf_ids
               UNION SELECT person_id FROM activity WHERE org_id = $org AND source = $src
               UNION SELECT person_id FROM custom_field WHERE org_id = $org AND source = $src"""
        )
        # every other record of the people touched (identity never splits: one person)
        self.q(
            f"""CREATE OR REPLACE TEMP TABLE cbf_others AS
                SELECT i.person_id, i.source, i.source_id, i.first_seen_at,
                       {id_key(salt, "i.source", "i.source_id")} AS id_key,
                       i.email_ok, i.sms_ok, i.do_not_contact
                FROM identity i SEMI JOIN cbf_touched t ON t.person_id = i.person_id
                WHERE i.org_id = $org AND NOT EXISTS (
                    SELECT 1 FROM cbf_ids f
                    WHERE f.source = i.source AND f.source_id = i.source_id)"""
        )
        self.q(
            """CREATE OR REPLACE TEMP TABLE cbf_gone AS
               SELECT person_id FROM cbf_touched
               WHERE person_id NOT IN (SELECT person_id FROM cbf_others)"""
        )
        self.q(
            """CREATE OR REPLACE TEMP TABLE cbf_kept AS
               SELECT DISTINCT person_id FROM cbf_others"""
        )
        # an email or phone stays when a record the person keeps carried it (person_key:
        # every value each record carried, hashed)
        carried = {
            kind: f"""EXISTS (SELECT 1 FROM person_key k JOIN cbf_others o
                          ON o.person_id = k.person_id AND o.id_key = k.id_key
                      WHERE k.org_id = $org AND k.person_id = p.person_id
                        AND k.key = {value_key(salt, kind, "p." + column)})"""
            for kind, column in (("e", "email"), ("p", "phone"))
        }
        self.q(
            f"""CREATE OR REPLACE TEMP TABLE cbf_pii AS
                SELECT p.* REPLACE (
                    CASE WHEN {carried["e"]} THEN p.email END AS email,
                    CASE WHEN {carried["p"]} THEN p.phone END AS phone)
                FROM person_pii p SEMI JOIN cbf_kept k ON k.person_id = p.person_id
                WHERE p.org_id = $org"""
        )
        # first seen: what the sync works out for a person who lost a record or an
        # activity (merge.write_org, cb_left): the earliest of what they still have, their
        # activities and the first dates of their records
        self.q(
            """CREATE OR REPLACE TEMP TABLE cbf_first AS
               SELECT person_id, min(t) AS first_seen_at FROM (
                   SELECT a.person_id, a.occurred_at AS t FROM activity a
                   SEMI JOIN cbf_kept k ON k.person_id = a.person_id
                   WHERE a.org_id = $org AND a.source <> $src
                   UNION ALL
                   SELECT person_id, first_seen_at FROM cbf_others)
               GROUP BY person_id"""
        )
        from cyclebook.sync.merge import _match_key

        # what they allowed: their kept records' together, as the sync makes it (a
        # refusal only the source's record made goes with it)
        self.q(
            f"""CREATE OR REPLACE TEMP TABLE cbf_person AS
                SELECT p.* REPLACE (
                    f.first_seen_at AS first_seen_at,
                    CASE WHEN n.email IS DISTINCT FROM o.email
                           OR n.phone IS DISTINCT FROM o.phone
                         THEN {_match_key("n.email", "n.phone")} ELSE p.match_key END
                      AS match_key,
                    c.email_ok AS email_ok, c.sms_ok AS sms_ok,
                    c.do_not_contact AS do_not_contact)
                FROM person p SEMI JOIN cbf_kept k ON k.person_id = p.person_id
                LEFT JOIN (SELECT person_id, bool_and(email_ok) AS email_ok,
                                  bool_and(sms_ok) AS sms_ok,
                                  bool_or(do_not_contact) AS do_not_contact
                           FROM cbf_others GROUP BY person_id) c ON c.person_id = p.person_id
                LEFT JOIN cbf_first f ON f.person_id = p.person_id
                LEFT JOIN cbf_pii n ON n.person_id = p.person_id
                LEFT JOIN person_pii o ON o.org_id = $org AND o.person_id = p.person_id
                WHERE p.org_id = $org"""
        )

    def _joined(self) -> int:
        """People who keep two or more records that none of their kept emails and
        phones join (only the source's did): they stay one person."""
        rows = self.q(
            """SELECT o.person_id, o.id_key::VARCHAR, k.key::VARCHAR FROM cbf_others o
               LEFT JOIN person_key k ON k.org_id = $org AND k.person_id = o.person_id
                 AND k.id_key = o.id_key
               WHERE o.person_id IN (SELECT person_id FROM cbf_others
                                     GROUP BY person_id HAVING count(*) > 1)"""
        ).fetchall()
        from cyclebook.sync.merge import DisjointSets

        sets = DisjointSets()
        for person, record, key in rows:
            sets.find(("r", person, record))
            if key is not None:
                sets.union(("r", person, record), ("k", person, key))
        split: dict[str, set] = {}
        for person, record, _key in rows:
            split.setdefault(person, set()).add(sets.find(("r", person, record)))
        return sum(len(roots) > 1 for roots in split.values())

    def _count(self) -> None:
        found, rows = self.found, {}
        for table, removed in self._removed().items():
            rows[table] = self.one(
                f"SELECT count(*) FROM {table} WHERE org_id = $org AND {removed}"
            )
        rows["person"] = self.one("SELECT count(*) FROM cbf_gone")
        rows["person_pii"] = self.one(
            "SELECT count(*) FROM person_pii WHERE org_id = $org "
            "AND person_id IN (SELECT person_id FROM cbf_gone)"
        )
        rows["person_state"] = self.one("SELECT count(*) FROM person_state WHERE org_id = $org")
        rows["sync_run"] = self.one(f"SELECT count(*) FROM sync_run s WHERE {self._gone_run()}")
        rows["rejected_row"] = self.one(
            "SELECT count(*) FROM rejected_row WHERE org_id = $org "
            "AND file IN (SELECT file FROM cbf_rejects)"
        )
        rows["raw_file"] = self.one(
            "SELECT count(*) FROM raw_file WHERE org_id = $org "
            "AND sha256 IN (SELECT sha256 FROM cbf_raw)"
        )
        rows["meta"] = self.one(f"SELECT count(*) FROM meta WHERE {self._meta_dropped()}")
        found.rows = rows
        found.kept_people = self.one("SELECT count(*) FROM cbf_kept")
        found.redated = self.one(
            """SELECT count(*) FROM cbf_person n JOIN person o
                 ON o.org_id = $org AND o.person_id = n.person_id
               WHERE n.first_seen_at IS DISTINCT FROM o.first_seen_at"""
        )
        found.cleared = self.one(
            """SELECT count(*) FILTER (WHERE o.email IS NOT NULL AND n.email IS NULL)
                    + count(*) FILTER (WHERE o.phone IS NOT NULL AND n.phone IS NULL)
               FROM cbf_pii n JOIN person_pii o ON o.org_id = $org AND o.person_id = n.person_id"""
        )
        found.unattached = self.one(
            """SELECT count(*) FROM contact_attempt WHERE org_id = $org
                 AND source IS DISTINCT FROM $src
                 AND person_id IN (SELECT person_id FROM cbf_gone)"""
        )
        found.joined = self._joined()

    # ---- what is written again

    def _removed(self) -> dict[str, str]:
        """Per table, the condition on a row of the organization that it goes."""
        gone = "person_id IN (SELECT person_id FROM cbf_gone)"
        activity = f"(source = $src OR {gone})"
        return {
            "activity": activity,
            "contact_attempt": "source IS NOT DISTINCT FROM $src",
            "event": "source = $src",
            "identity": """EXISTS (SELECT 1 FROM cbf_ids f
                            WHERE f.source = identity.source
                              AND f.source_id = identity.source_id)""",
            "person_key": f"(id_key IN (SELECT id_key FROM cbf_ids) OR {gone})",
            "custom_field": f"(source = $src OR {gone})",
            "event_field": "source = $src",
            # (an activity's fields go with it, whichever source it was kept under)
            "activity_field": f"""(source = $src OR activity_id IN (
                SELECT activity_id FROM activity WHERE org_id = $org AND {activity}))""",
        }

    def _gone_run(self) -> str:
        """The condition on a sync_run row ``s`` that it is one of the source's files'."""
        return """s.org_id = $org AND s.file IS NOT NULL AND EXISTS (
            SELECT 1 FROM cbf_runs r WHERE r.file = s.file AND r.source_kind = s.source_kind
              AND r.recorded = coalesce(
                  CASE WHEN json_valid(s.message) THEN s.message->>'source' END, ''))"""

    def _meta_dropped(self) -> str:
        """The meta rows that go: the organization's record of how its exports were
        read (its next sync reads them again in full), and of its saved metric values
        and per-person states (no longer reused: computed from the data as it was) with
        the digest of that data."""
        return f"""(key = 'sync_code:' || $org OR key = {sql_str(self.key)}
                    OR ((starts_with(key, 'metric_inputs/') OR starts_with(key, 'person_state/')
                         OR starts_with(key, 'metric_data/'))
                        AND suffix(key, '/' || $org)))"""

    def rows(self) -> dict[str, tuple[str, dict]]:
        out: dict[str, tuple[str, dict]] = {}
        for table, removed in self._removed().items():
            select = f"SELECT * FROM {table} WHERE org_id IS DISTINCT FROM $org OR NOT {removed}"
            if table == "contact_attempt":  # (its person removed: an attempt of no one known)
                select = f"""SELECT * REPLACE (CASE WHEN org_id = $org AND person_id IN (
                                 SELECT person_id FROM cbf_gone) THEN NULL ELSE person_id END
                               AS person_id)
                             FROM contact_attempt
                             WHERE org_id IS DISTINCT FROM $org OR NOT {removed}"""
            out[table] = (select, self.p)
        for table, changed in (("person", "cbf_person"), ("person_pii", "cbf_pii")):
            out[table] = (
                f"""SELECT * FROM {table} WHERE org_id IS DISTINCT FROM $org
                       OR person_id NOT IN (SELECT person_id FROM cbf_touched)
                    UNION ALL SELECT * FROM {changed}""",
                self.p,
            )
        out["person_state"] = (
            "SELECT * FROM person_state WHERE org_id IS DISTINCT FROM $org",
            self.p,
        )
        # the run's own row keeps the figures of the files it still lists
        out["sync_run"] = (
            f"""SELECT s.* REPLACE (s.rows_read - coalesce(g.n_read, 0) AS rows_read,
                       s.rows_kept - coalesce(g.n_kept, 0) AS rows_kept,
                       s.rows_rejected - coalesce(g.n_rejected, 0) AS rows_rejected)
                FROM sync_run s LEFT JOIN (
                    SELECT run_id, sum(rows_read) AS n_read, sum(rows_kept) AS n_kept,
                           sum(rows_rejected) AS n_rejected
                    FROM sync_run s WHERE {self._gone_run()} GROUP BY run_id) g
                  ON s.org_id = $org AND s.file IS NULL AND g.run_id = s.run_id
                WHERE NOT ({self._gone_run()})""",
            self.p,
        )
        out["rejected_row"] = (
            """SELECT * FROM rejected_row WHERE org_id IS DISTINCT FROM $org
                  OR file NOT IN (SELECT file FROM cbf_rejects)""",
            self.p,
        )
        out["raw_file"] = (
            """SELECT * FROM raw_file WHERE org_id IS DISTINCT FROM $org
                  OR sha256 NOT IN (SELECT sha256 FROM cbf_raw)""",
            self.p,
        )
        record = json.dumps(
            {
                "at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "rows": {t: n for t, n in sorted(self.found.rows.items()) if n},
                # (relative to the cohort: a forget stopped before removing them finishes)
                "archive": [str(p.relative_to(self.paths.root)) for p in self.copies],
            },
            sort_keys=True,
        )
        out["meta"] = (
            f"""SELECT * FROM meta WHERE NOT {self._meta_dropped()}
                UNION ALL SELECT {sql_str(self.key)}, $record""",
            {**self.p, "record": record},
        )
        return out
