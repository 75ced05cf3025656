"""The cohort's embedded DuckDB store: the canonical model of DESIGN.md.

One file per cohort (``cycles/<cohort>/store.duckdb``). Personal data sits only in
``person_pii`` (and in the raw archive); every table a report reads is free of it.

DuckDB lets one process write a file at a time. Phase notebooks for different
organizations run in parallel worker processes, so every connection goes through
:func:`connect`, which takes an advisory file lock first: shared for reading, exclusive
for writing. Writers keep their transactions short (one organization's sync, one
organization's metric values), so waiting is brief.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from cyclebook import settings
from cyclebook.errors import StoreError

# 2: person, person_pii and identity lost their PRIMARY KEY (see UNINDEXED_KEYS)
# 3: person_state
# 4: an email or phone a tool names a person by (a Spoke contact's cell, the email of an
#    Action Network report without uuid, a spreadsheet's email or phone) is kept in
#    identity, activity and contact_attempt keys as its salted hash (see personal_key)
# 5: person_key (filled from person_pii for the people stored before it, their ids
#    hashed first as version 4 keeps them)
# 6: identity.listed (an id only another tool named, as Spoke's contact[external_id]
#    names a VAN id, is not a record of its own tool: see MATCHED_IDENTITY)
# 7: an activity id made of a digest of the row's content is that digest hashed with
#    the salt (see salted_digest_sql); event_field; rejected_row.record_kept (a value
#    rejected on a record that is kept is no rejected row)
# 8: an organizer id made of a person's name (a Spoke texter's, a spreadsheet's
#    organizer column) is the name's digest hashed with the salt (see
#    _salt_organizer_names); activity_field
# 9: custom_field.source_id, the id of the record that holds the value: two records of
#    one tool that are one person (merged, or linked in one export) keep each its own
#    value of a field (see _key_custom_fields_by_record)
# 10: identity.email_ok, sms_ok, do_not_contact: each record's own consent, of which the
#    person's is made (a refusal in any record holds); filled from the person's flags
#    (see _consent_per_record)
SCHEMA_VERSION = 10

# columns added to a table after its first version: a store made before gets them
ADDED_COLUMNS = (
    ("identity", "first_seen_at", "TIMESTAMPTZ"),
    ("identity", "listed", "BOOLEAN"),
    ("contact_attempt", "organizer_id", "VARCHAR"),
    ("contact_attempt", "contact_key", "VARCHAR"),
    ("rejected_row", "record_kept", "BOOLEAN"),
    ("identity", "email_ok", "BOOLEAN"),
    ("identity", "sms_ok", "BOOLEAN"),
    ("identity", "do_not_contact", "BOOLEAN"),
)

# The identities that count a person as known to their tool, for "matched across
# tools" (the sync, share and improve reports): a Spoke contact's contact[external_id]
# names a VAN id, kept as the person's VAN id (to match, and for follow-up lists) even
# when no VAN export lists it; counted, the person was "matched" with a VAN record that
# did not exist. (NULL: an identity stored before the column, from its tool's export.)
MATCHED_IDENTITY = "listed IS NOT FALSE"


def has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    """Whether the store's ``table`` has ``column`` (one of ``ADDED_COLUMNS``: a store
    made before it and opened read-only is not migrated)."""
    return bool(
        con.execute(
            """SELECT count(*) FROM duckdb_columns() WHERE table_name = ?
                 AND column_name = ? AND database_name = current_database()""",
            [table, column],
        ).fetchone()[0]
    )


def matched_identity(con: duckdb.DuckDBPyConnection) -> str:
    """``MATCHED_IDENTITY``, or TRUE in a store made before ``identity.listed`` and
    opened read-only (not migrated: its identities all come from their tools' exports)."""
    return MATCHED_IDENTITY if has_column(con, "identity", "listed") else "TRUE"


# The ids in the tables of activities and contact attempts (tens of millions of rows in
# an election year: distinct strings of hex or digits) are stored uncompressed. DuckDB's
# string compression (dict_fsst) spent half of the activity table's write on them (2M
# activities written from memory: 3.0 s of CPU as is, 1.5 s with them uncompressed),
# and every measure that reads them decoded them again (a quarter less CPU reading them
# uncompressed); a sync of 2M activities took 12% less CPU. The store is about two
# thirds larger (2M activities: 100 -> 170 MB, beside 150 MB of exports archived). The
# tables of people (a tenth as many rows) keep the compression.
# (A store made before keeps its tables as they were.)
ID = "VARCHAR USING COMPRESSION uncompressed"

# Columns are the canonical model of DESIGN.md. ``org_id`` leads every key because one
# store holds the whole cohort.
SCHEMA: dict[str, str] = {
    "organization": """
        org_id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        parent_org_id VARCHAR
    """,
    "person": """
        org_id VARCHAR NOT NULL,
        person_id VARCHAR NOT NULL,
        first_seen_at TIMESTAMPTZ,
        zip VARCHAR,
        state VARCHAR,
        email_ok BOOLEAN,
        sms_ok BOOLEAN,
        do_not_contact BOOLEAN,
        -- salted hash of normalized email/phone, for counting a person once across
        -- affiliates of a network without exposing the value
        match_key VARCHAR
        -- (org_id, person_id) is unique, kept so by the sync (see UNINDEXED_KEYS)
    """,
    "person_pii": """
        org_id VARCHAR NOT NULL,
        person_id VARCHAR NOT NULL,
        first_name VARCHAR,
        last_name VARCHAR,
        email VARCHAR,
        phone VARCHAR,
        address VARCHAR
        -- (org_id, person_id) is unique, kept so by the sync
    """,
    # Salted hashes, never the values, of every normalized email and phone each id of a
    # person has carried in any export (person_pii keeps one of each): later records
    # are matched against them, so a person's second email, or the address a tool held
    # before it changed, still finds them. Hashes of the same salt as match_key, as
    # 128-bit numbers (see value_key).
    "person_key": """
        org_id VARCHAR NOT NULL,
        person_id VARCHAR NOT NULL,
        -- which of the person's ids (identity's source and source_id) carried it
        id_key UHUGEINT NOT NULL,
        -- the email ('e') or phone ('p')
        key UHUGEINT NOT NULL
        -- (org_id, id_key, key) is unique, kept so by the sync
    """,
    "identity": """
        org_id VARCHAR NOT NULL,
        person_id VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        source_id VARCHAR NOT NULL,
        -- earliest date this tool knew the person (for "new people by source")
        first_seen_at TIMESTAMPTZ,
        -- whether an export of the tool itself listed the id: FALSE when only another
        -- tool named it (a Spoke contact's external_id, a VAN id)
        listed BOOLEAN,
        -- what the person allowed in this record, its latest export's that said it
        -- (NULL: no export of it said): the person's email_ok and sms_ok are TRUE only
        -- if no record of theirs says FALSE, do_not_contact if any says TRUE
        email_ok BOOLEAN,
        sms_ok BOOLEAN,
        do_not_contact BOOLEAN
        -- (org_id, source, source_id) is unique, kept so by the sync
    """,
    "event": """
        org_id VARCHAR NOT NULL,
        event_id VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        title VARCHAR,
        event_type VARCHAR,
        start_at TIMESTAMPTZ,
        PRIMARY KEY (org_id, event_id)
    """,
    "activity": f"""
        org_id VARCHAR NOT NULL,
        activity_id {ID} NOT NULL,
        person_id {ID} NOT NULL,
        source VARCHAR NOT NULL,
        source_id {ID},
        type VARCHAR NOT NULL,
        occurred_at TIMESTAMPTZ NOT NULL,
        recorded_at TIMESTAMPTZ,
        status VARCHAR,
        attended BOOLEAN,
        event_id VARCHAR,
        channel VARCHAR,
        role VARCHAR,
        result VARCHAR,
        amount DOUBLE,
        -- assessment level (Action Builder latest_assessment; the scale is the org's)
        score DOUBLE,
        organizer_id VARCHAR
        -- (org_id, activity_id) is unique: the sync keeps one row per key (dedupe and
        -- upsert). No PRIMARY KEY: DuckDB's index on 10M+ keys more than doubled the
        -- write time and memory of a large sync (benchmarks/bench_sync.py).
    """,
    "contact_attempt": f"""
        org_id VARCHAR NOT NULL,
        attempt_id {ID} NOT NULL,
        person_id {ID},
        channel VARCHAR NOT NULL,
        result VARCHAR,
        attempted_at TIMESTAMPTZ NOT NULL,
        campaign VARCHAR,
        source VARCHAR,
        -- a real conversation: canvassed at the door, answered call, or a text reply
        conversation BOOLEAN,
        replied BOOLEAN,
        opted_out BOOLEAN,
        -- who made the attempt (VAN canvassedby, Spoke texter, hashed), when known
        organizer_id VARCHAR,
        -- salted hash of the tool's contact id: counts unique people reached even when
        -- the contacted person is not in the organization's people exports (person_id NULL)
        contact_key VARCHAR
        -- (org_id, attempt_id) is unique, kept so by the sync like activity's key
    """,
    # columns an export had beyond the canonical model (e.g. Action Network custom fields);
    # kept per person, never rendered (values may be personal). Each value with the
    # record that holds it (identity's source_id): two records of one tool may be one
    # person (two Action Network uuids one later record links), each keeping its own
    # value of a field, as neither is older than the other
    "custom_field": """
        org_id VARCHAR NOT NULL,
        person_id VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        source_id VARCHAR NOT NULL,
        field VARCHAR NOT NULL,
        value VARCHAR,
        PRIMARY KEY (org_id, person_id, source, source_id, field)
    """,
    # keys an event record had beyond the canonical model (an Action Network event's
    # own fields), kept per event as custom_field keeps a person's: an event is not a
    # person, and its values may still be personal (a house meeting's address, its
    # host's phone), so no report reads them
    "event_field": """
        org_id VARCHAR NOT NULL,
        event_id VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        field VARCHAR NOT NULL,
        value VARCHAR,
        PRIMARY KEY (org_id, event_id, field)
    """,
    # an activity's own values beyond the canonical model (a Mobilize attendance's
    # rating, the feedback its attendee wrote, the link's utm_* tags that brought them),
    # kept per activity: not the person's (each attendance has its own), and personal
    # (the feedback is a member's words), so no report reads them. (org_id,
    # activity_id, field) is unique, kept so by the sync (see UNINDEXED_KEYS)
    "activity_field": """
        org_id VARCHAR NOT NULL,
        activity_id VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        field VARCHAR NOT NULL,
        value VARCHAR
    """,
    "raw_file": """
        org_id VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        source_kind VARCHAR NOT NULL,
        original_path VARCHAR NOT NULL,
        archived_path VARCHAR NOT NULL,
        size_bytes BIGINT NOT NULL,
        first_synced_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (org_id, sha256)
    """,
    "sync_run": """
        org_id VARCHAR NOT NULL,
        run_id VARCHAR NOT NULL,
        started_at TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ,
        status VARCHAR NOT NULL,
        source_kind VARCHAR,
        file VARCHAR,
        sha256 VARCHAR,
        rows_read BIGINT,
        rows_kept BIGINT,
        rows_rejected BIGINT,
        unknown_columns VARCHAR,
        min_occurred_at TIMESTAMPTZ,
        max_occurred_at TIMESTAMPTZ,
        message VARCHAR
    """,
    "rejected_row": """
        org_id VARCHAR NOT NULL,
        run_id VARCHAR NOT NULL,
        file VARCHAR NOT NULL,
        line BIGINT,
        column_name VARCHAR,
        reason VARCHAR NOT NULL,
        raw VARCHAR,
        -- TRUE: a value rejected on a record that is kept (an Action Builder assessment
        -- that is not a number, a VAN event's date): not counted among the rows rejected.
        -- NULL (a sync before the column) or FALSE: the record was rejected.
        record_kept BOOLEAN
    """,
    "metric_value": """
        cycle VARCHAR NOT NULL,
        org_id VARCHAR NOT NULL,
        metric VARCHAR NOT NULL,
        period VARCHAR NOT NULL,
        dimension VARCHAR NOT NULL DEFAULT '',
        value DOUBLE,
        denominator DOUBLE,
        suppressed BOOLEAN NOT NULL DEFAULT FALSE,
        definition VARCHAR,
        computed_at TIMESTAMPTZ,
        PRIMARY KEY (cycle, org_id, metric, period, dimension)
    """,
    # Each person's state at a cycle's start and end, as an organization's own share
    # report computed it (cyclebook.metrics.engine.ROLLUP_STATE): kept for members of a
    # network, whose roll-up reads it instead of computing it again. Replaced with the
    # organization's metric values, and used only while they are fresh.
    "person_state": """
        cycle VARCHAR NOT NULL,
        org_id VARCHAR NOT NULL,
        person_id VARCHAR NOT NULL,
        first_seen TIMESTAMPTZ,
        last_q TIMESTAMPTZ,
        rung_start INTEGER,
        rung_end INTEGER,
        active_start BOOLEAN,
        active_end BOOLEAN,
        acted_cycle BOOLEAN,
        acted_cycle_q BOOLEAN,
        acted_prev_q BOOLEAN
    """,
    "meta": """
        key VARCHAR PRIMARY KEY,
        value VARCHAR
    """,
}

# Tables a report may read. ``person_pii`` is deliberately absent; the privacy guard
# reads it only to scan rendered HTML for leaks. The values kept beyond the model
# (custom_field, event_field, activity_field) may be personal: absent too.
UNREPORTED_TABLES = frozenset(
    {"person_pii", "person_key", "raw_file", "custom_field", "event_field", "activity_field"}
)
REPORT_TABLES = tuple(name for name in SCHEMA if name not in UNREPORTED_TABLES)

# the separator of a tool's name and its id in identity resolution's node names
ID_SEP = "\x1f"


def value_key(salt: str, kind: str, value: str) -> str:
    """SQL of the ``person_key.key`` of an email (``kind`` 'e') or phone ('p'): a salted
    hash of the normalized value, as match_key's (MD5 as a 128-bit number: half the
    size of a SHA-256 in hex and twice as fast to make, for a key that is only
    compared). ``salt`` and ``value`` are SQL expressions."""
    return f"md5_number({salt} || ':{kind}:' || {value})"


def id_key(salt: str, source: str, source_id: str) -> str:
    """SQL of the ``person_key.id_key`` of an id (identity's ``source`` and ``source_id``,
    SQL expressions): hashed, since an id may itself be an email or a phone (a
    spreadsheet's)."""
    return f"md5_number({salt} || ':i:' || {source} || '{ID_SEP}' || {source_id})"


# Big tables whose key the sync keeps unique itself, without a PRIMARY KEY: DuckDB's
# index on a million people tripled the write of a large sync and added ~3 s to its
# commit (benchmarks/bench_sync.py), and nothing but the sync writes these tables.
UNINDEXED_KEYS: dict[str, tuple[str, ...]] = {
    "person": ("org_id", "person_id"),
    "person_pii": ("org_id", "person_id"),
    "identity": ("org_id", "source", "source_id"),
    "activity": ("org_id", "activity_id"),
    "contact_attempt": ("org_id", "attempt_id"),
    "activity_field": ("org_id", "activity_id", "field"),
}


# A person's key that is an email address or a phone number (E.164) is stored as
# ``hash:`` and 32 hex digits of the SHA-256 of the cohort's salt and the value: the
# tables reports read hold no member's email or phone, even in an id. Deterministic
# (the salt is made once per store), so a re-sync gives the same keys; a hash is neither
# an email nor a phone, so hashing a key twice changes nothing.
KEY_PREFIX = "hash:"
PERSONAL_VALUE = r"\+[0-9]{8,15}"


def key_of_value(value: str, salt: str) -> str:
    """The hashed key of an email or phone (``person_pii``'s normalized form), in Python:
    what :func:`key_of_value_sql` makes in the store."""
    return KEY_PREFIX + hashlib.sha256(f"{salt}:key:{value}".encode()).hexdigest()[:32]


def key_of_value_sql(value: str, salt: str) -> str:
    """SQL for the hashed key of an email or phone (``person_pii``'s normalized form),
    without the test :func:`personal_key_sql` makes."""
    return f"'{KEY_PREFIX}' || substr(sha256({salt} || ':key:' || {value}), 1, 32)"


def personal_key_sql(value: str, salt: str) -> str:
    """SQL for the stored form of a person's key ``value`` (SQL naming it once per use:
    pass a column): its salted hash when it is an email address (has an '@') or a phone
    number (E.164), else the key itself. ``salt``: SQL for the salt."""
    return (
        f"CASE WHEN contains({value}, '@') OR regexp_full_match({value}, '{PERSONAL_VALUE}') "
        f"THEN {key_of_value_sql(value, salt)} ELSE {value} END"
    )


# An activity its export gives no id (every spreadsheet row, a Mobilize attendance at a
# coordinated organization's event, an Action Network record without identifier or
# link) is named by a digest of what the row says: the person's email or phone among
# it. An MD5 of that is found again by hashing a list of emails with the rest of the
# row, which the activity table shows, so the digest is stored hashed with the store's
# salt: ``s`` and 24 hex digits. Made of the MD5 alone, it is the same for the same
# row (a re-sync adds nothing), and a store made before is migrated in place
# (:func:`_salt_activity_digests`). Never an MD5's form: hashing twice changes nothing.
# A Spoke texter, named in the exports only by first and last name, is an organizer id
# made so of the MD5 of the name, and a spreadsheet's organizer of the name the sheet
# gives (:func:`_salt_organizer_names`): organizers are often members, and a list of
# members' names gave an unsalted one back.
DIGEST_MARK = "s"


def salted_digest_sql(digest: str, salt: str) -> str:
    """SQL for the stored form of a ``digest`` (the MD5 of a row's content, or of a Spoke
    texter's name, as the readers made it before schema versions 7 and 8, or a
    spreadsheet's organizer; SQL naming it), and the salt."""
    return f"'{DIGEST_MARK}' || substr(sha256({salt} || ':a:' || {digest}), 1, 24)"


def salted_digest(digest: str, salt: str) -> str:
    """:func:`salted_digest_sql`, in Python."""
    return DIGEST_MARK + hashlib.sha256(f"{salt}:a:{digest}".encode()).hexdigest()[:24]


def cohort_salt(con: duckdb.DuckDBPyConnection) -> str:
    """The cohort-level salt of ``person.match_key`` and of the hashed keys (created
    once, kept in ``meta``)."""
    row = con.execute("SELECT value FROM meta WHERE key = 'match_salt'").fetchone()
    if row:
        return row[0]
    salt = secrets.token_hex(16)
    con.execute("INSERT INTO meta VALUES ('match_salt', ?)", [salt])
    return salt


# What a digest of the store's rows (row_digests) leaves out. Sync's bookkeeping: run ids
# and times, and its effect on the data is already in the data tables (``meta`` has no
# organization either). The columns that say when a row was written, not what it holds.
BOOKKEEPING_TABLES = frozenset({"sync_run", "rejected_row", "raw_file", "meta"})
VOLATILE_COLUMNS = frozenset({"computed_at", "run_id", "started_at", "finished_at"})
# Written by the share phase, per organization and cycle (the rest of an organization's
# rows is its data, written by its sync): digested per (org, cycle).
SHARE_TABLES = frozenset({"metric_value", "person_state"})


def row_digests(
    con: duckdb.DuckDBPyConnection,
    org_ids: list[str] | None = None,
    only: frozenset[str] | None = None,
    *,
    data_only: bool = False,
) -> dict[str, dict[Any, str]]:
    """A content digest of the organizations' rows (every organization's when None), per
    table with an ``org_id`` (only those ``only`` names, when given) and organization:
    ``count(*)`` and ``sum(hash(row))`` without ``VOLATILE_COLUMNS``, computed by DuckDB
    in one scan (about 50 ms per million rows). ``SHARE_TABLES`` are digested per (org,
    cycle), left out with ``data_only``. Not ``BOOKKEEPING_TABLES``. The same rows give
    the same digest, whichever sync wrote them."""
    columns: dict[str, list[str]] = {}
    for table, column in con.execute(
        # the store's own tables: not those of another database of the process's DuckDB
        # instance (the privacy guard keeps tables in its memory database)
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_catalog = current_database() "
        "ORDER BY table_name, ordinal_position"
    ).fetchall():
        columns.setdefault(table, []).append(column)
    tables: dict[str, dict[Any, str]] = {}
    for table, cols in columns.items():
        if table in BOOKKEEPING_TABLES or "org_id" not in cols:
            continue
        if only is not None and table not in only or data_only and table in SHARE_TABLES:
            continue
        kept = [c for c in cols if c not in VOLATILE_COLUMNS]
        row = ", ".join(f'"{c}" := "{c}"' for c in kept)
        group = ["org_id"] + (["cycle"] if table in SHARE_TABLES else [])
        where, args = "", []
        if org_ids is not None:
            where, args = "WHERE org_id IN (SELECT unnest(?))", [org_ids]
        sql = (
            f"SELECT {', '.join(group)}, count(*), sum(hash(struct_pack({row})))::VARCHAR "
            f'FROM "{table}" {where} GROUP BY ALL'
        )
        result = tables.setdefault(table, {})
        for values in con.execute(sql, args).fetchall():
            key = values[0] if len(group) == 1 else (values[0], values[1])
            result[key] = f"{values[-2]}:{values[-1]}"
    return tables


def data_digest(con: duckdb.DuckDBPyConnection, org_id: str) -> str:
    """A digest of an organization's data: its rows of every table :func:`row_digests`
    reads but ``SHARE_TABLES`` (what its sync wrote, not what its share computed from
    it). Saved with its metric values, it tells whether a sync since left the data they
    were computed from as it was (:func:`cyclebook.metrics.values.fresh_results`)."""
    tables = row_digests(con, [org_id], data_only=True)
    text = repr(sorted((table, sorted(rows.items())) for table, rows in tables.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def table_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The tables ``SHOW TABLES`` lists: the current database's (the store, in a
    :func:`connect`) of its current schema, and the connection's temporary ones. Not its
    views, which the store has none of (the only views are temporary, named ``cb...``).

    From ``duckdb_tables()`` alone: ``SHOW TABLES`` also reads ``duckdb_views()``, which
    lists DuckDB's internal views too (in a report's kernel, 3.4 ms of CPU a listing
    after the first, this 1.1 ms; the first, 7.3 ms and 6.6 ms)."""
    return {
        row[0]
        for row in con.execute(
            """SELECT table_name FROM duckdb_tables()
               WHERE temporary
                  OR (database_name = current_database() AND schema_name = current_schema())"""
        ).fetchall()
    }


def last_syncs(
    con: duckdb.DuckDBPyConnection, figures_of: str | None = None
) -> dict[str, tuple[str, float | None]]:
    """Each organization's latest sync (its ``sync_run`` row for the whole run, not a
    file's): its status and when it ended (else began), in seconds since the epoch, as
    the cohort summary shows them (:func:`cyclebook.gallery.org_status`). Empty in a
    store without ``sync_run``.

    ``figures_of`` (a cycle): for an organization with metric values saved for that
    cycle, the last sync its values were computed from instead: the latest one that
    ended before they were computed (a sync's ``finished_at`` is when its write began,
    and a computation reads under the store's lock, so it read what that sync wrote).
    A summary of an earlier cycle shows that one: with the latest sync, any later sync
    (of another day) made every earlier cycle's summary out of date."""
    tables = table_names(con)
    if "sync_run" not in tables:
        return {}
    computed = "SELECT NULL::VARCHAR AS org_id, NULL::TIMESTAMPTZ AS at WHERE false"
    if figures_of is not None and "metric_value" in tables:
        computed = (
            "SELECT org_id, max(computed_at) AS at FROM metric_value "
            "WHERE cycle = $cycle GROUP BY org_id"
        )
    args = {"cycle": figures_of} if "$cycle" in computed else None
    rows = con.execute(
        f"""WITH computed AS ({computed})
            SELECT r.org_id, r.status, epoch(coalesce(r.finished_at, r.started_at)) AS at
            FROM sync_run r LEFT JOIN computed c ON c.org_id = r.org_id
            WHERE r.file IS NULL
              AND (c.at IS NULL OR coalesce(r.finished_at, r.started_at) <= c.at)
            QUALIFY row_number() OVER (PARTITION BY r.org_id ORDER BY r.started_at DESC) = 1""",
        args,
    ).fetchall()
    return {org_id: (str(status), None if at is None else float(at)) for org_id, status, at in rows}


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the tables (and migrate an older store). Every writer of every report opens
    the store, so a current one is recognised in two quick queries and left alone."""
    # the store's own tables, not table_names(): the sync calls this on its connection,
    # whose temporary (staging) tables that lists too
    tables = {
        r[0]
        for r in con.execute(
            """SELECT table_name FROM duckdb_tables()
               WHERE schema_name = 'main' AND database_name = current_database()"""
        ).fetchall()
    }
    if set(SCHEMA) <= tables:
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row and row[0] == str(SCHEMA_VERSION):
            return
    if not tables:
        # a new store (a cohort's first sync): nothing to migrate, every table made as
        # the current version has it, in one call and one transaction (a statement and a
        # commit each, with the migrations' checks, took ~25 ms of CPU)
        con.execute(
            ";\n".join(
                [
                    "BEGIN TRANSACTION",
                    *(f"CREATE TABLE {name} ({columns})" for name, columns in SCHEMA.items()),
                    f"INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}')",
                    "COMMIT",
                ]
            )
        )
        return
    for name, columns in SCHEMA.items():
        if name != "person_key":
            con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
    if "identity" in tables and not has_column(con, "identity", "email_ok"):
        # (in one transaction: a store is never left with the columns and without them
        # filled)
        con.execute("BEGIN TRANSACTION")
        add_columns(con)
        _consent_per_record(con)
        con.execute("COMMIT")
    else:
        add_columns(con)
    _drop_old_primary_keys(con)
    _hash_personal_keys(con)
    _salt_activity_digests(con)
    _salt_organizer_names(con)
    _key_custom_fields_by_record(con)
    if "person_key" not in tables:  # from the ids as version 4 keeps them (hashed above)
        _add_person_keys(con)
    con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])


def add_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Give a store made before them the columns added since (``ADDED_COLUMNS``)."""
    for table, column, kind in ADDED_COLUMNS:
        con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}")


def _add_person_keys(con: duckdb.DuckDBPyConnection) -> None:
    """Make ``person_key``, and in a store made before it, fill it with what matched
    stored people then (:func:`keys_from_pii`), in one transaction: a store is never
    left with the table and without its keys."""
    con.execute("BEGIN TRANSACTION")
    con.execute(f"CREATE TABLE person_key ({SCHEMA['person_key']})")
    if con.execute("SELECT count(*) FROM (SELECT 1 FROM identity LIMIT 1)").fetchone()[0]:
        keys_from_pii(con)
    con.execute("COMMIT")


def keys_from_pii(con: duckdb.DuckDBPyConnection) -> int:
    """Write into ``person_key`` the email and phone ``person_pii`` holds for each person,
    for each of the person's ids: what matched stored people before person_key kept
    every value. Returns the rows written."""
    salt = sql_str(cohort_salt(con))
    ids = id_key(salt, "i.source", "i.source_id")
    return con.execute(
        f"""INSERT INTO person_key
            SELECT DISTINCT i.org_id, i.person_id, {ids}, k.key FROM identity i
            JOIN (SELECT org_id, person_id, {value_key(salt, "e", "email")} AS key
                  FROM person_pii WHERE email IS NOT NULL
                  UNION ALL
                  SELECT org_id, person_id, {value_key(salt, "p", "phone")}
                  FROM person_pii WHERE phone IS NOT NULL) k
            USING (org_id, person_id)"""
    ).fetchone()[0]


def _drop_old_primary_keys(con: duckdb.DuckDBPyConnection) -> None:
    """Stores made before UNINDEXED_KEYS had a PRIMARY KEY on these tables: rebuild them
    without it (DuckDB cannot drop a key in place). Rows and column order are kept."""
    keyed = [
        r[0]
        for r in con.execute(
            """SELECT DISTINCT table_name FROM duckdb_constraints()
               WHERE constraint_type = 'PRIMARY KEY' AND schema_name = 'main'
                 AND database_name = current_database()"""
        ).fetchall()
        if r[0] in UNINDEXED_KEYS
    ]
    for name in keyed:
        con.execute("BEGIN TRANSACTION")
        con.execute(f"CREATE TABLE cb_rebuild ({SCHEMA[name]})")
        con.execute(f"INSERT INTO cb_rebuild SELECT * FROM {name}")
        con.execute(f"DROP TABLE {name}")
        con.execute(f"ALTER TABLE cb_rebuild RENAME TO {name}")
        con.execute("COMMIT")


def _key_custom_fields_by_record(con: duckdb.DuckDBPyConnection) -> None:
    """Stores made before version 9 keep one value of a custom field per person: rebuild
    ``custom_field`` with the record each value came from (DuckDB cannot change a key in
    place). A person with one id of the tool: that id's. One with several (two records
    one sync linked, of which only one value was kept): the first of them, since the
    store cannot tell which; the sync after the upgrade reads every export again and
    writes each record's own value in its row."""
    columns = {r[0] for r in con.execute("DESCRIBE custom_field").fetchall()}
    if "source_id" in columns:
        return
    con.execute("BEGIN TRANSACTION")
    con.execute(f"CREATE TABLE cb_rebuild ({SCHEMA['custom_field']})")
    con.execute(
        """INSERT INTO cb_rebuild BY NAME
           SELECT c.org_id, c.person_id, c.source, coalesce(i.source_id, '') AS source_id,
                  c.field, c.value
           FROM custom_field c LEFT JOIN (
               SELECT org_id, person_id, source, min(source_id) AS source_id FROM identity
               GROUP BY ALL) i USING (org_id, person_id, source)"""
    )
    con.execute("DROP TABLE custom_field")
    con.execute("ALTER TABLE cb_rebuild RENAME TO custom_field")
    con.execute("COMMIT")


# meta key (``CONSENT_FROM_PERSON:<org_id>``): the organization's records hold the
# consent their person had when the store was upgraded to version 10, not their own, until
# a sync reads every export again (see _consent_per_record)
CONSENT_FROM_PERSON = "consent_from_person"


def _consent_per_record(con: duckdb.DuckDBPyConnection) -> None:
    """Stores made before version 10 keep consent per person only (the latest export's
    flags, whichever record gave them): each record of the person gets the person's
    flags, nothing being lost. A record only another tool named (``listed`` FALSE: a
    Spoke contact's VAN id) gets them only if the person has no other. Those are
    stand-ins (meta ``CONSENT_FROM_PERSON``): the sync after the upgrade reads every
    export again, and each record it reads takes what its exports say instead, nothing
    included (a VAN record, which says nothing of consent, kept an unsubscribe copied
    from the person for ever, though the person subscribed again in the record that
    had said it); a record whose exports are no longer there keeps its stand-in."""
    con.execute(
        f"""INSERT OR REPLACE INTO meta SELECT DISTINCT '{CONSENT_FROM_PERSON}:' || org_id, ''
            FROM identity"""
    )
    con.execute(
        """UPDATE identity SET email_ok = p.email_ok, sms_ok = p.sms_ok,
               do_not_contact = p.do_not_contact
           FROM person p
           WHERE p.org_id = identity.org_id AND p.person_id = identity.person_id
             AND (identity.listed IS NOT FALSE OR NOT EXISTS (
                 SELECT 1 FROM identity o WHERE o.org_id = identity.org_id
                   AND o.person_id = identity.person_id AND o.listed IS NOT FALSE))"""
    )


# the key an activity or attempt id was built of: an Action Network signup named by the
# person's email, a Spoke answer and a Spoke text named by the contact's cell
_AN_SIGNUP = r"^(an:signup:)(.*@.*)()$"
_SPOKE_ANSWER = rf"^(spoke:q:.*:)({PERSONAL_VALUE})(:[0-9a-f]{{10}})$"
_SPOKE_TEXT = rf"^(spoke:.*:)({PERSONAL_VALUE})()$"


def _hash_personal_keys(con: duckdb.DuckDBPyConnection) -> None:
    """Stores made before version 4 hold members' emails and phones in keys: hash them
    in place, as the sync now makes them (the same keys a re-sync of the same exports
    gives, so it adds nothing beside them). Runs again harmlessly: a hashed key is
    left as it is."""
    needs = f"(contains(source_id, '@') OR regexp_full_match(source_id, '{PERSONAL_VALUE}'))"
    found = con.execute(
        f"""SELECT (SELECT count(*) FROM identity WHERE {needs})
                 + (SELECT count(*) FROM activity WHERE {needs}
                      OR regexp_full_match(activity_id, '{_AN_SIGNUP}')
                      OR regexp_full_match(activity_id, '{_SPOKE_ANSWER}'))
                 + (SELECT count(*) FROM contact_attempt
                    WHERE regexp_full_match(attempt_id, '{_SPOKE_TEXT}'))"""
    ).fetchone()[0]
    if not found:
        return
    salt = sql_str(cohort_salt(con))

    def rebuilt(column: str, pattern: str) -> str:
        head, key, tail = (f"regexp_extract({column}, '{pattern}', {i})" for i in (1, 2, 3))
        return (
            f"CASE WHEN regexp_full_match({column}, '{pattern}') THEN "
            f"{head} || {key_of_value_sql(key, salt)} || {tail} ELSE {column} END"
        )

    activity_id = rebuilt(rebuilt("activity_id", _AN_SIGNUP), _SPOKE_ANSWER)
    attempt = f"regexp_extract(attempt_id, '{_SPOKE_TEXT}', 2)"
    # a Spoke contact's key for counting people reached: its hashed cell now (see
    # merge.write_org's contact_key)
    contact_key = (
        f", contact_key = sha256({salt} || ':c:spoke:' || {key_of_value_sql(attempt, salt)})"
        if "contact_key" in {r[0] for r in con.execute("DESCRIBE contact_attempt").fetchall()}
        else ""
    )
    con.execute("BEGIN TRANSACTION")
    con.execute(
        f"UPDATE identity SET source_id = {personal_key_sql('source_id', salt)} WHERE {needs}"
    )
    con.execute(
        f"""UPDATE activity SET activity_id = {activity_id},
                source_id = {personal_key_sql("source_id", salt)}
            WHERE {needs} OR regexp_full_match(activity_id, '{_AN_SIGNUP}')
               OR regexp_full_match(activity_id, '{_SPOKE_ANSWER}')"""
    )
    con.execute(
        f"""UPDATE contact_attempt SET attempt_id = {rebuilt("attempt_id", _SPOKE_TEXT)}
                {contact_key}
            WHERE source = 'spoke' AND regexp_full_match(attempt_id, '{_SPOKE_TEXT}')"""
    )
    con.execute("COMMIT")


# The activity ids the readers made of an unsalted MD5 of a row's content before schema
# version 7 (the digest after the last ':', which an Action Network or Mobilize id has
# as its source_id too): a spreadsheet row's (its source's name, then 20 hex digits),
# a Mobilize attendance's without an id ('h' and 20), an Action Network activity's
# without an identifier or a link (32)
_UNSALTED_DIGESTS = (
    "(starts_with(source, 'sheet:') AND starts_with(activity_id, source || ':')"
    " AND regexp_full_match(substr(activity_id, length(source) + 2), '[0-9a-f]{20}'))"
    " OR (source = 'mobilize' AND regexp_full_match(activity_id, 'mobilize:att:h[0-9a-f]{20}'))"
    " OR (source = 'action_network' AND regexp_full_match(activity_id,"
    " 'an:(attendances|submissions|donations|taggings|signatures|outreaches):[0-9a-f]{32}'))"
)


def _salt_activity_digests(con: duckdb.DuckDBPyConnection) -> None:
    """Stores made before version 7 name activities without an id of their own by an
    unsalted MD5 of their content (a member's email among it): each such digest is
    replaced by its salted hash, as the sync now makes it (the same ids a re-sync of the
    same exports gives, so it adds nothing beside them). Runs again harmlessly: a
    salted digest does not have an MD5's form."""
    found = con.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM activity WHERE {_UNSALTED_DIGESTS} LIMIT 1)"
    ).fetchone()[0]
    if not found:
        return
    salt = sql_str(cohort_salt(con))
    digest = "regexp_extract(activity_id, ':([^:]*)$', 1)"
    con.execute("BEGIN TRANSACTION")
    con.execute(
        f"""UPDATE activity SET
                activity_id = regexp_extract(activity_id, '^(.*:)', 1)
                    || {salted_digest_sql(digest, salt)},
                source_id = CASE WHEN source_id = {digest}
                                 THEN {salted_digest_sql("source_id", salt)}
                                 ELSE source_id END
            WHERE {_UNSALTED_DIGESTS}"""
    )
    con.execute("COMMIT")


# The organizer ids made of a person's name, as the readers made them before schema
# version 8: a Spoke texter's, the first 12 hex digits of the MD5 of the texter's name
# (a contact attempt's and a survey answer's), and a spreadsheet's, its organizer
# column's text as it is (an activity's). Each is now salted (salted_digest_sql): of
# the MD5 for a texter, of the text for a sheet, after its prefix.
TEXTER_PREFIX = "spoke:texter:"
SHEET_ORGANIZER_PREFIX = "sheet:organizer:"
_ORGANIZER_NAMES = (
    # (table, the rows to salt, the value to salt, its prefix)
    *(
        (
            table,
            "source = 'spoke' AND regexp_full_match(organizer_id,"
            f" '{TEXTER_PREFIX}[0-9a-f]{{12}}')",
            f"substr(organizer_id, {len(TEXTER_PREFIX) + 1})",
            TEXTER_PREFIX,
        )
        for table in ("contact_attempt", "activity")
    ),
    (
        "activity",
        "starts_with(source, 'sheet:') AND organizer_id IS NOT NULL AND NOT regexp_full_match("
        f"organizer_id, '{SHEET_ORGANIZER_PREFIX}{DIGEST_MARK}[0-9a-f]{{24}}')",
        "organizer_id",
        SHEET_ORGANIZER_PREFIX,
    ),
)


def _salt_organizer_names(con: duckdb.DuckDBPyConnection) -> None:
    """Stores made before version 8 name a Spoke texter by an unsalted MD5 of the
    texter's name, and a spreadsheet's organizer by the name the sheet gives (a
    member's, often), in tables reports read: each is replaced by its salted digest, as
    the sync now makes it (the same organizer a re-sync of the same exports gives: no
    organizer twice, no activity or attempt changed). Runs again harmlessly: a salted
    digest has neither an MD5's form nor the sheet's."""
    found = con.execute(
        "SELECT "
        + " + ".join(
            f"(SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {rows} LIMIT 1))"
            for table, rows, _value, _prefix in _ORGANIZER_NAMES
        )
    ).fetchone()[0]
    if not found:
        return
    salt = sql_str(cohort_salt(con))
    con.execute("BEGIN TRANSACTION")
    for table, rows, value, prefix in _ORGANIZER_NAMES:
        con.execute(
            f"""UPDATE {table} SET organizer_id = '{prefix}' || {salted_digest_sql(value, salt)}
                WHERE {rows}"""
        )
    con.execute("COMMIT")


@contextlib.contextmanager
def _file_lock(path: Path, exclusive: bool, timeout: float | None) -> Iterator[None]:
    if timeout is None:
        timeout = settings.seconds(settings.LOCK_TIMEOUT, settings.DEFAULT_LOCK_TIMEOUT_S)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    handle = open(lock_path, "a+")  # noqa: SIM115 - held for the context's lifetime
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"{path}: the store stayed locked by another process for {timeout:.0f} s",
                        fix="wait for the other cyclebook run to finish, or stop it.",
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


_HELD_BY = re.compile(r"Conflicting lock is held in (.+?) \(PID (\d+)\)")


def _attach(con: duckdb.DuckDBPyConnection, statement: str, path: Path) -> None:
    """ATTACH the store, waiting a little for another program that has it open. It ended
    every sync in a traceback of DuckDB's IOException (twice: recording the failure
    met the same lock)."""
    # how long to wait for a program other than cyclebook that has the store file open
    # (a data staffer's DuckDB shell or notebook): DuckDB's own lock, which the cohort's
    # advisory lock above does not cover
    wait = settings.seconds(settings.OTHER_PROGRAM_WAIT, settings.DEFAULT_OTHER_PROGRAM_WAIT_S)
    deadline = time.monotonic() + wait
    while True:
        try:
            con.execute(statement)
            return
        except duckdb.IOException as exc:
            if "Could not set lock" not in str(exc):
                raise
            if time.monotonic() > deadline:
                held = _HELD_BY.search(str(exc))
                who = f"{held.group(1)} (PID {held.group(2)})" if held else "another program"
                raise StoreError(
                    f"{path}: the store is open in another program, {who}, which keeps "
                    f"cyclebook out (waited {wait:.0f} s)",
                    fix="close the store in that program, then run again (DuckDB lets no "
                    "program write a store another one has open, even read-only; reports "
                    "can read it beside a program that opened it read-only).",
                ) from None
            time.sleep(0.2)


def sql_str(value: str) -> str:
    """A SQL string literal (for statements that cannot take parameters)."""
    return "'" + str(value).replace("'", "''") + "'"


def ident(name: str) -> str:
    """A SQL identifier, quoted (a column named by an export or a tool)."""
    return '"' + str(name).replace('"', '""') + '"'


class _Instance:
    """One in-memory DuckDB instance per process, to which :func:`connect` attaches the
    store for each use.

    Creating a DuckDB instance costs about 12 ms (registering the built-in extensions'
    functions) and a report opens the store several times; attaching a file to a live
    instance and detaching it costs 1-3 ms. Each use gets its own cursor (its own
    session: temporary views and settings such as ibis's time zone end with it), and the
    file is detached at the end, so DuckDB's own lock on it is released exactly as when a
    connection closes. Nested reads of the same store share one attachment.
    """

    def __init__(self) -> None:
        self.pid = -1
        self.db: duckdb.DuckDBPyConnection | None = None
        self.attached: dict[str, list] = {}  # path -> [alias, read_only, users]
        self.count = 0
        self.lock = threading.Lock()
        # made by prepare_for_fork: an instance without threads, for forked children
        self.for_forks = False
        # and one more, for a child's private_instance(): (pid of its maker, instance,
        # the statements run on it already)
        self.spare: tuple[int, duckdb.DuckDBPyConnection, str] | None = None

    @staticmethod
    def _new(config: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
        db = duckdb.connect(config=config or {})
        # a long query draws a progress bar on stderr (a widget in a kernel): noise
        # in a report and in a batch run's log (a global setting: every cursor has it)
        db.execute("SET enable_progress_bar = false")
        return _chosen_threads(db) if config is None else db

    def cursor(self) -> duckdb.DuckDBPyConnection:
        with self.lock:  # the root connection is used by one thread at a time
            if self.db is not None and self.for_forks and self.pid != os.getpid():
                # a child of the process that made it (see prepare_for_fork): its own
                # copy now, given DuckDB's threads (started here, in the child)
                _with_threads(self.db)
                self.pid, self.attached, self.count = os.getpid(), {}, 0
                self.for_forks = False
            elif self.db is None or self.pid != os.getpid():
                # a forked child never uses (or closes) an instance of its parent's
                if self.db is not None:
                    _INHERITED.append(self.db)
                self.db = self._new()
                self.pid, self.attached, self.count = os.getpid(), {}, 0
            return self.db.cursor()

    def prepare_for_fork(self, setup: str = "") -> bool:
        """Make the instance the children forked from this process will use, and the
        spare a child's :func:`private_instance` takes, with ``setup`` run on it.

        A DuckDB instance costs 20-30 ms to create (registering its functions), once in
        every kernel. Made before the forks, each child gets a copy for nothing. Forking
        is safe only while the process has no thread besides its own: DuckDB 2.0 starts
        8 ``async_threads`` and its worker threads even with ``threads = 1``, none with
        both at their least. The parent then uses it in no way; the child that first
        asks for a cursor restores the thread settings. Returns whether the instance was
        kept: not when this process already had one, or when DuckDB started a thread
        anyway (a later version might); then each child makes its own, as before.

        The instance also runs :data:`_WARM_QUERY` once here: the first query of an
        instance builds what DuckDB keeps for the next ones (parser, binder and executor
        state, allocator arenas), and every page a forked child writes for the first time
        costs it a page fault; done here, each child starts past it (with the rest of
        :func:`cyclebook.zygote._warm`'s warm-up and the async threads left off: 300-600
        fewer page faults and 2-5% less CPU in a forked kernel's report cells, measured
        on the benchmark cohort)."""
        with self.lock:
            if self.db is not None:
                return False
            before = _threads()
            db, spare = self._new(_NO_THREADS), self._new(_NO_THREADS)
            try:
                if setup:
                    spare.execute(setup)
            except duckdb.Error:
                setup = ""  # (then run in the child, where its error is seen)
            with contextlib.suppress(duckdb.Error):
                warm = db.cursor()
                try:
                    warm.execute(_WARM_QUERY).fetchall()
                    if "pyarrow" in sys.modules:  # (its import starts numpy's BLAS threads)
                        warm.sql(_WARM_QUERY).to_arrow_table()
                finally:
                    warm.close()
            if before is None or _threads() != before:
                db.close()
                spare.close()
                return False
            self.db, self.pid, self.for_forks = db, os.getpid(), True
            self.spare = (os.getpid(), spare, setup)
            return True

    def take_spare(self, setup: str) -> duckdb.DuckDBPyConnection | None:
        """The spare instance, in a child of the process that made it (once), with
        ``setup`` run on it (before the fork, when it was made with the same)."""
        with self.lock:
            if self.spare is None or self.spare[0] == os.getpid():
                return None  # none, or ours to keep for our children
            _, db, done = self.spare
            self.spare = None
        _with_threads(db)
        if setup and setup != done:
            try:
                db.execute(setup)
            except BaseException:
                db.close()  # (as private_instance closes a new one that fails it)
                raise
        return db

    def attach(self, con: duckdb.DuckDBPyConnection, path: Path, read_only: bool) -> str:
        key = str(path.resolve())
        with self.lock:
            entry = self.attached.get(key)
            if entry is not None and not (entry[1] and read_only):
                raise StoreError(
                    f"{path}: opened for writing while this process has it open, or the "
                    "other way round",
                    fix="close the other connection first (a bug in cyclebook: report it).",
                )
            if entry is None:
                # Spill beside the store, as a connection to the file would (an in-memory
                # instance spills to ./.tmp of whatever the working directory is). DuckDB
                # cannot move it once used: a process that spilled for one store keeps
                # that folder (only tests open many stores in one process).
                with contextlib.suppress(duckdb.NotImplementedException):
                    con.execute(f"SET temp_directory = {sql_str(key + '.tmp')}")
                self.count += 1
                alias = f"cb_store_{self.count}"
                options = " (READ_ONLY)" if read_only else ""
                _attach(con, f"ATTACH {sql_str(key)} AS {alias}{options}", path)
                entry = self.attached[key] = [alias, read_only, 0]
            entry[2] += 1
            return entry[0]

    def detach(self, path: Path) -> None:
        key = str(path.resolve())
        with self.lock:
            entry = self.attached[key]
            entry[2] -= 1
            if entry[2] == 0:
                del self.attached[key]
                assert self.db is not None
                try:
                    self.db.execute(f"DETACH {entry[0]}")
                except duckdb.Error:
                    # never leave the file open (DuckDB's lock would keep other processes
                    # out): closing the instance closes every database attached to it
                    db, self.db, self.attached = self.db, None, {}
                    db.close()
                    raise

    def after_fork(self) -> None:
        """In a forked child: a lock another thread of the parent held stays held."""
        self.lock = threading.Lock()


# an instance made before a fork: DuckDB 2.0 starts no thread with both at their least
_NO_THREADS = {"threads": 1, "async_threads": 0}
# What a report's queries do, on a few rows of in-memory data (see prepare_for_fork):
# grouped aggregates, a distinct count, a window, a join, an order, and the result as a
# Arrow table, as the metrics engine reads it (not converted to pandas here: pyarrow's
# conversion starts its thread pool).
_WARM_QUERY = """
WITH rows AS (
    SELECT i % 7 AS grp, i::VARCHAR AS label, i * 1.5 AS amount,
           TIMESTAMP '2026-01-01' + to_days(i % 30) AS occurred_at
    FROM range(200) AS r(i)
), groups AS (
    SELECT grp, count(*) AS n, sum(amount) AS total, count(DISTINCT label) AS labels,
           max(occurred_at) AS last_at
    FROM rows GROUP BY grp
), ranked AS (
    SELECT grp, label, row_number() OVER (PARTITION BY grp ORDER BY occurred_at) AS rank
    FROM rows
)
SELECT groups.*, ranked.label, ranked.rank
FROM groups JOIN ranked USING (grp)
WHERE ranked.rank <= 2
ORDER BY grp, rank
"""


def _threads_statement() -> str:
    # How many threads this process's DuckDB instances use. The runner sets it for each
    # report to its share of the cores (two reports running on two cores each asking
    # DuckDB for two threads only make them take turns); a user may set it too. Unset:
    # DuckDB's default, one thread per core.
    wanted = settings.threads()
    return "RESET threads" if wanted is None else f"SET threads = {wanted}"


def _chosen_threads(db: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A new instance, given the threads :data:`settings.DUCKDB_THREADS` chooses (unset:
    it keeps DuckDB's default)."""
    if settings.threads() is not None:
        db.execute(_threads_statement())
    return db


def _with_threads(db: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """An instance made with :data:`_NO_THREADS`, given its threads (in the forked child
    that takes it: the threads start there).

    Its ``async_threads`` stay at 0: DuckDB runs them for the I/O of remote files and
    its external file cache, and a kernel reads only local files. Starting them (8 by
    default) costs every kernel their stacks and malloc arenas, and DuckDB then flushes
    its allocators (``malloc_trim`` of the whole heap the kernel shares with the zygote),
    so that the kernel's next allocations fault in zeroed pages (~3 us each on the
    benchmark's VM) where they would have copied the zygote's (~1.5 us)."""
    db.execute(_threads_statement())
    return db


def _threads() -> int | None:
    """The threads of this process (Linux), or None where that cannot be read."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


_INSTANCE = _Instance()
_INHERITED: list[duckdb.DuckDBPyConnection] = []
os.register_at_fork(after_in_child=_INSTANCE.after_fork)


def prepare_for_fork(setup: str = "") -> bool:
    """See :meth:`_Instance.prepare_for_fork` (the kernel zygote calls it, with the
    sync's ``setup``: see :func:`private_instance`)."""
    return _INSTANCE.prepare_for_fork(setup)


def private_instance(setup: str = "") -> duckdb.DuckDBPyConnection:
    """A DuckDB instance of the caller's own, to close when done (the sync parses exports
    in one), with the statements ``setup`` run on it: in a kernel, the spare the zygote
    made before the fork (20-30 ms less), which ran them there when the zygote was given
    the same (the sync's macros and staging tables: ~25 ms less), else a new one."""
    spare = _INSTANCE.take_spare(setup)
    if spare is not None:
        return spare
    db = _chosen_threads(duckdb.connect())
    if setup:
        try:
            db.execute(setup)
        except BaseException:
            db.close()
            raise
    return db


@contextlib.contextmanager
def session() -> Iterator[duckdb.DuckDBPyConnection]:
    """A session of the process's DuckDB instance with no store attached: for work over
    data in memory (a cursor costs ~5 ms; a new instance ~20 ms)."""
    con = _INSTANCE.cursor()
    try:
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def connect(
    path: str | Path, *, write: bool = False, timeout: float | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the store under the cohort's advisory lock.

    ``write=False`` opens read-only and fails clearly when the store does not exist yet
    (the sync phase creates it). The connection's current database is the store; it is
    a cursor of the process's DuckDB instance (see :class:`_Instance`).
    """
    path = Path(path)
    if not write and not path.exists():
        raise StoreError(
            f"{path}: no store yet",
            fix="run the sync phase first: `cyclebook run COHORT --phase sync`.",
        )
    with _file_lock(path, exclusive=write, timeout=timeout):
        con = _INSTANCE.cursor()
        try:
            alias = _INSTANCE.attach(con, path, read_only=not write)
        except BaseException:
            con.close()
            raise
        try:
            con.execute(f"USE {alias}")
            if write:
                create_schema(con)
            yield con
        finally:
            # what closing a connection does: an open transaction is rolled back
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            con.close()
            _INSTANCE.detach(path)


@contextlib.contextmanager
def attached_for_write(
    con: duckdb.DuckDBPyConnection, path: str | Path, *, timeout: float | None = None
) -> Iterator[None]:
    """The store attached to an existing (in-memory) connection, under the exclusive lock,
    as the connection's current database (``USE``): unqualified names are its tables,
    the connection's TEMP tables stay visible beside them.

    For a writer that prepares its rows first: the sync parses exports on a private
    connection without any lock, and holds the store (which DuckDB lets no other process
    even read while it is open for writing) only to compare and write.
    """
    path = Path(path)
    with _file_lock(path, exclusive=True, timeout=timeout):
        _attach(con, f"ATTACH {sql_str(str(path))} AS cb_store", path)
        try:
            con.execute("USE cb_store")
            create_schema(con)
            yield
        finally:
            con.execute("USE memory")
            con.execute("DETACH cb_store")
