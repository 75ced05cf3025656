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
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from cyclebook.config import cycle_folders, load_cohort
from cyclebook.errors import CyclebookError
from cyclebook.paths import CohortPaths
from cyclebook.store import _file_lock, connect, ident, sql_str
from cyclebook.yamlio import write_text_atomic

# the store's bookkeeping of an organization: 'sync_code:<id>',
# 'metric_inputs/<cycle>/<id>', 'person_state/<cycle>/<id>'
META_OF_ORG = "(suffix(key, ':' || $1) OR suffix(key, '/' || $1))"


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
            f"SELECT count(*) FROM meta WHERE {META_OF_ORG}", [org_id]
        ).fetchone()[0]
        return counts


def _rewrite_store_without(store: Path, org_id: str) -> None:
    """A new store file holding everything but the organization's rows, then put in the
    store's place. The store itself is only read: deleting the rows in it first, a
    forget stopped before the copy was done left the members' values in the file's
    bytes, and counted no rows to remove the next time."""
    fresh = store.with_name(store.name + ".forget")
    for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
        leftover.unlink(missing_ok=True)  # a forget stopped before (others' rows only)
    with _file_lock(store, exclusive=True, timeout=None):
        con = duckdb.connect()
        try:
            con.execute(f"ATTACH {sql_str(str(store))} AS old (READ_ONLY)")
            con.execute(f"ATTACH {sql_str(str(fresh))} AS new")
            con.execute("COPY FROM DATABASE old TO new (SCHEMA)")
            con.execute("USE old")
            org_tables = set(_org_tables(con))
            tables = [
                row[0]
                for row in con.execute(
                    """SELECT table_name FROM duckdb_tables()
                       WHERE database_name = 'old' AND schema_name = 'main' ORDER BY 1"""
                ).fetchall()
            ]
            for table in tables:
                where = ""
                if table in org_tables:
                    where = " WHERE org_id IS DISTINCT FROM $1"
                elif table == "meta":
                    where = f" WHERE NOT {META_OF_ORG}"
                name = ident(table)
                sql = f"INSERT INTO new.main.{name} SELECT * FROM old.main.{name}{where}"
                con.execute(sql, [org_id] if where else [])
            con.execute("USE memory")
            con.execute("DETACH new")
            con.execute("DETACH old")
        finally:
            con.close()
        os.replace(fresh, store)


def _drop_manifest_entries(manifest: Path, org_id: str) -> None:
    if not manifest.exists():
        return
    data = json.loads(manifest.read_text())
    jobs = data.get("jobs", [])
    kept = [job for job in jobs if job.get("org_id") != org_id]
    if len(kept) != len(jobs):
        data["jobs"] = kept
        write_text_atomic(manifest, json.dumps(data, indent=2))
