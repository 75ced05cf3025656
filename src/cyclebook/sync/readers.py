# ruff: noqa: E501 - SQL and generated-data literals read better unwrapped
"""Readers: one per source kind, each turning a tool's real export into staged rows.

Each reader parses with DuckDB, normalizes the tool's semantics to the canonical model
(activity types, lowercase statuses, attended flags, roles, channels) and writes rejects
with the file, record and column that failed and why. Reason texts never include member
values (names, emails, phones, free text).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

from cyclebook.config import ACTIVITY_TYPES, Organization, Source
from cyclebook.store import SHEET_ORGANIZER_PREFIX, TEXTER_PREFIX
from cyclebook.sync.stage import (
    BAD_DATE,
    BAD_EPOCH,
    CP1252_FALLBACK,
    DEFERRED,
    UTF16_BOMS,
    FileInfo,
    Stage,
    excel_serial_sql,
    ident,
    list_rows,
    record_lines,
    slash_formats,
    sql_list,
    sql_str,
)

ATTENDANCE_STATUSES = (
    "registered",
    "confirmed",
    "cancelled",
    "completed",
    "no_show",
    "declined",
    "invited",
    "walk_in",
)


# --------------------------------------------------------------------------- helpers


def _emit(
    stage: Stage,
    f: FileInfo,
    select_sql: str,
    checks: list[tuple[str, str, str]],
    inserts: dict[str, str],
    *,
    keep: bool = False,
    contacts: dict[str, str] | None = None,
) -> str:
    """Materialize ``select_sql`` (must yield ``__rec``), reject rows failing ``checks``
    ((condition that is TRUE when bad, column, reason), first failing wins) and insert
    the rest into staging tables with the given SELECT lists (over alias ``x``). A key
    of ``inserts`` is a staging table, with a ``#tag`` when two inserts go into one.

    ``contacts``: ``{"email": column, "phone": column}`` for a select that yields
    ``email``/``phone`` and their trimmed text ``email_raw``/``phone_raw``; the kept rows
    whose value is not an address or a phone number are counted in a note on the file
    (see :func:`_note_unread_contacts`).

    Returns the typed table: dropped here unless ``keep`` (then by
    :func:`_drop_typed`) or a staged view reads it. Its statements run in one call."""
    t = stage.tmp_name("typed")
    select_sql = _json_fields_once(select_sql)
    # JSON readers handle many pages at once: their SELECT carries __file
    fno = "x.__file" if "__file" in select_sql else str(f.file_no)
    statements = _typed(t, select_sql, checks, fno)
    deferred = False
    for key, cols in inserts.items():
        table = key.split("#")[0]
        where = "x.__which IS NULL"
        if " WHERE " in cols:
            cols, extra = cols.split(" WHERE ", 1)
            where += f" AND ({extra})"
        select = f"SELECT {cols}, {fno}, x.__rec FROM {t} x WHERE {where}"
        if table in DEFERRED:
            stage.defer(table, select, t)
            deferred = True
        else:
            statements.append(f"INSERT INTO {table} {select}")
    drop = not deferred and not keep
    if drop and not contacts:
        statements.append(f"DROP TABLE {t}")
    stage.con.execute(";\n".join(statements))
    if contacts:
        _note_unread_contacts(stage, f, t, contacts)
        if drop:
            stage.con.execute(f"DROP TABLE {t}")
    return t


UNREAD_CONTACT = {
    "email": "are not an email address (name@domain.tld): those people are kept without "
    "one and are not matched by it; correct them in the tool",
    "phone": "are not a phone number (ten US digits, or + and a country code): those "
    "people are kept without one and are not matched by it; correct them in the tool, "
    "writing numbers outside the US with their + country code",
}


def _note_unread_contacts(stage: Stage, f: FileInfo, t: str, contacts: dict[str, str]) -> None:
    """Count the kept rows whose email or phone the sync could not read (not an address;
    not ten US digits nor + and a country code): they are stored without it, and so
    cannot be matched by it. Said on the file, with counts only (the values are a
    member's): the sync dropped them without a word."""
    counted = [(field, column) for field, column in contacts.items() if column]
    if not counted:
        return
    sql = ", ".join(
        f"count(*) FILTER (WHERE {field} IS NULL AND {field}_raw IS NOT NULL)"
        for field, _ in counted
    )
    row = stage.con.execute(f"SELECT {sql} FROM {t} WHERE __which IS NULL").fetchone()
    for (field, column), n in zip(counted, row, strict=True):
        if n:
            f.notes.append(f"{n} value(s) of '{column}' {UNREAD_CONTACT[field]}")


def _typed(t: str, select_sql: str, checks: list[tuple[str, str, str]], fno: str) -> list[str]:
    """The statements that make table ``t`` of ``select_sql`` with ``__which``, the
    number of the first check a row fails, and reject those rows."""
    if not checks:  # nothing to check: nothing rejected
        return [
            f"CREATE OR REPLACE TEMP TABLE {t} AS SELECT *, NULL::INTEGER AS __which "
            f"FROM ({select_sql})"
        ]
    # the number of the first failing check is kept (its reason and column are looked
    # up for the rejected rows only, not carried as two text columns on every row)
    which = (
        "CASE " + " ".join(f"WHEN {c} THEN {i}" for i, (c, _, _) in enumerate(checks, 1)) + " END"
    )
    reasons = " ".join(f"WHEN {i} THEN {sql_str(r)}" for i, (_, _, r) in enumerate(checks, 1))
    columns = " ".join(f"WHEN {i} THEN {sql_str(k)}" for i, (_, k, _) in enumerate(checks, 1))
    return [
        f"""CREATE OR REPLACE TEMP TABLE {t} AS
            SELECT *, {which} AS __which FROM ({select_sql})""",
        f"""INSERT INTO st_reject SELECT {fno}, __rec, NULL, CASE __which {columns} END,
                CASE __which {reasons} END
            FROM {t} x WHERE __which IS NOT NULL""",
    ]


def _drop_typed(stage: Stage, t: str) -> None:
    """Drop a typed table :func:`_emit` kept, unless a staged view reads it."""
    if t not in stage.kept:
        stage.con.execute(f"DROP TABLE {t}")


class _Files:
    """The loaded CSV files of one table as one source for one typed SELECT.

    Called with a column's names (the first present, case-insensitively, as
    ``Stage.col``), gives that column's alias in ``source``: each file's table projected
    to the aliases (column references; NULL where a file lacks the column) with its
    record number ``__rec``, the files unioned. A SELECT per file planned its macros once
    per file (a VAN persons table and its voters' file, each campaign's Spoke export).
    With several files the source carries ``__file``, named in the SELECT by ``file``
    (nothing for one file: its number is a constant of the inserts)."""

    def __init__(self, stage: Stage, loaded: list[tuple[FileInfo, str, list[str]]]) -> None:
        self.stage, self.loaded = stage, loaded
        self.aliases: dict[tuple[str, ...], str] = {}
        self.exact: dict[str, str] = {}

    def __call__(self, *names: str, p: str = "") -> str:
        key = tuple(n.lower() for n in names)
        return p + self.aliases.setdefault(key, f"__c{len(self.aliases) + len(self.exact)}")

    def named(self, name: str, p: str = "") -> str:
        """The alias of the column of exactly this name (a Spoke question: its text, as
        each file writes it, names its answers)."""
        return p + self.exact.setdefault(name, f"__c{len(self.aliases) + len(self.exact)}")

    def file(self, p: str = "") -> str:
        return f", {p}__file" if len(self.loaded) > 1 else ""

    def source(self) -> str:
        parts = []
        for f, table, cols in self.loaded:
            values = [
                *(f"{self.stage.col(cols, *names)} AS {a}" for names, a in self.aliases.items()),
                *(f"{ident(n) if n in cols else 'NULL'} AS {a}" for n, a in self.exact.items()),
            ]
            number = f"{f.file_no} AS __file, " if len(self.loaded) > 1 else ""
            parts.append(f"SELECT {number}rowid AS __rec, {', '.join(values)} FROM {table}")
        return " UNION ALL ".join(parts)


_JS_FIELD = re.compile(r"js\(j, '([^']*)'\)")
_JX_FIELD = re.compile(r"jx\(j, '([^']*)'\)")


def _json_fields_once(select_sql: str) -> str:
    """Extract every ``js(j, '<path>')`` field of a JSON reader's SELECT in one pass,
    and every ``jx(j, '<path>')`` value (as JSON: an array, an object, a boolean) in
    another.

    Each ``json_extract_string`` or ``json_extract`` call parses the whole record
    again; one call with the list of paths parses it once (2-3x faster on Mobilize
    attendances, same values). The fields are columns of a subquery (``__f1``...,
    ``__x1``...), so the macros of the SELECT take a column, not an expression: a macro
    repeats its argument where its body names it (``cb_epoch`` names it ten times,
    itself and through ``cb_ts``), and DuckDB planned the Mobilize reader's SELECT,
    grown so, in 60-90 ms (15 ms now)."""
    found: dict[str, list[str]] = {"f": [], "x": []}

    def field(kind: str):
        def name(match: re.Match) -> str:
            paths = found[kind]
            if match.group(1) not in paths:
                paths.append(match.group(1))
            return f"__{kind}{paths.index(match.group(1)) + 1}"

        return name

    body = _JX_FIELD.sub(field("x"), _JS_FIELD.sub(field("f"), select_sql))
    split = _top_level_from(body)
    if not any(found.values()) or not body.lstrip().startswith("SELECT ") or split is None:
        return select_sql
    columns, lists = [], []
    for kind, function, whole in (
        ("f", "json_extract_string", "__v"),
        ("x", "json_extract", "__w"),
    ):
        paths = found[kind]
        if paths:
            listed = "[" + ", ".join(sql_str(p) for p in paths) + "]"
            lists.append(f"{function}(j, {listed}) AS {whole}")
            wrap = "cb_s({})" if kind == "f" else "{}"
            columns += [
                wrap.format(f"{whole}[{i}]") + f" AS __{kind}{i}" for i in range(1, len(paths) + 1)
            ]
    return (
        f"{body[:split]}FROM (SELECT *, {', '.join(columns)} FROM (SELECT *, "
        f"{', '.join(lists)} FROM {body[split + 4 :].lstrip()}))"
    )


_TOKENS = re.compile(r"'[^']*'|\"[^\"]*\"|[()]|\bFROM\b")


def _top_level_from(sql: str) -> int | None:
    """Position of the first ``FROM`` of ``sql`` outside parentheses and quotes."""
    depth = 0
    for token in _TOKENS.finditer(sql):
        if token.group() == "(":
            depth += 1
        elif token.group() == ")":
            depth -= 1
        elif token.group() == "FROM" and depth == 0:
            return token.start()
    return None


def _custom(
    stage: Stage,
    f: FileInfo,
    table: str,
    columns: list[str],
    person_source: str,
    ref_sql: str,
    *,
    key: bool = False,
) -> None:
    """Keep unknown/custom columns: one custom_field row per non-empty value
    (:func:`_keep_columns`), of the person ``ref_sql`` names (``key``: by its key)."""
    src = sql_str(person_source)
    _keep_columns(
        stage, f, table, columns, ref_sql, f"st_custom SELECT {src}, __ref, {src}", key=key
    )


def _keep_columns(
    stage: Stage,
    f: FileInfo,
    table: str,
    columns: list[str],
    ref_sql: str,
    into: str,
    *,
    key: bool = False,
) -> None:
    """Stage each non-empty value of ``columns`` of each row of ``table`` (the loaded
    file ``f``): ``INSERT INTO {into}, field, value, file_no, rec`` over the row's
    ``__ref`` (``ref_sql``; a row without one is left out). The file's unknown columns
    among them are listed as kept.

    One scan: each row's reference is computed once, and its values are unnested (a
    SELECT per column repeated the reference, a phone number's macro planned twice per
    column). ``key``: the reference is the person key (``cb_key``) of ``ref_sql``'s
    value, taken of the value computed (a macro repeats its argument's whole expression
    wherever its body names it: Spoke's ``cb_key(cb_phone(...))`` took ~38 ms to plan
    for each contacts file, 7 ms so; same rows)."""
    # what the sync report lists as kept: the file's unknown columns among them (an
    # activity table's unknown columns, never passed here, are listed as not read)
    unknown = set(f.unknown_columns)
    f.custom_fields = sorted({c for c in columns if c in unknown} | set(f.custom_fields))
    if not columns:
        return
    values = ", ".join(f"cb_s({ident(c)}) AS __c{i}" for i, c in enumerate(columns))
    pairs = ", ".join(f"{{'f': {sql_str(c)}, 'v': __c{i}}}" for i, c in enumerate(columns))
    ref = "cb_key(__v)" if key else "__v"
    stage.con.execute(
        f"""INSERT INTO {into}, __kv.f, __kv.v, {f.file_no}, __rec
            FROM (SELECT __rec, __ref, unnest([{pairs}]) AS __kv
                  FROM (SELECT * EXCLUDE (__v), {ref} AS __ref
                        FROM (SELECT rowid AS __rec, {ref_sql} AS __v, {values} FROM {table}))
                  WHERE __ref IS NOT NULL)
            WHERE __kv.v IS NOT NULL"""
    )


def _lookup_sql(mapping: Mapping[str, str | bool], key: str) -> str:
    """The value ``mapping`` gives the SQL ``key``, NULL for others: a map lookup (a CASE
    on the value repeats it in every WHEN, planned again each time)."""
    pairs = ", ".join(
        f"{sql_str(k)}: {str(v).upper() if isinstance(v, bool) else sql_str(v)}"
        for k, v in mapping.items()
    )
    return f"MAP {{{pairs}}}[{key}]"


def _status_sql(expr: str, mapping: dict[str, str]) -> str:
    """The status ``mapping`` gives the value of ``expr`` (lowercased), NULL for others."""
    return _lookup_sql(mapping, f"lower(cb_s({expr}))")


# --------------------------------------------------------------------------- Action Network CSV

# The activist report's standard columns, in Action Network's order (the demo generator
# writes them too); custom fields follow them and are kept as custom_field rows.
AN_REPORT_COLUMNS = (
    "uuid",
    "first_name",
    "last_name",
    "email",
    "zip_code",
    "can2_phone",
    "can2_sms_status",
    "can2_subscription_status",
    "can2_subscription_date",
    "can2_user_address",
    "can2_user_city",
    "can2_state_abbreviated",
    "can2_county",
    "can2_user_tags",
)
# Older report layouts name some of them plainly.
AN_CSV_KNOWN = {*AN_REPORT_COLUMNS, "phone", "address", "city", "state", "zip"}


def read_action_network_csv(stage: Stage, source: Source, files: list[FileInfo], org) -> None:
    for f in files:
        table, cols = stage.load_csv(
            f,
            required=["email"],
            known=AN_CSV_KNOWN,
            encoding=source.encoding,
            delimiter=source.delimiter,
            what="Action Network activist report",
        )
        c = lambda *n, cols=cols, p="": stage.col(cols, *n, prefix=p)  # noqa: E731
        unknown = stage.unknown(f, cols, AN_CSV_KNOWN)
        # a report built without the uuid column names its people by their email: kept
        # as its salted hash (cb_key), as every key an email or a phone makes
        ref = f"coalesce(cb_s({c('uuid')}), cb_email({c('email')}))"
        sel = f"""SELECT rowid AS __rec, cb_s({c("uuid")}) AS __uuid, cb_email({c("email")}) AS email,
            cb_s({c("email")}) AS email_raw, cb_phone({c("can2_phone", "phone")}) AS phone,
            cb_s({c("can2_phone", "phone")}) AS phone_raw,
            cb_s({c("first_name")}) AS first_name, cb_s({c("last_name")}) AS last_name,
            concat_ws(', ', cb_s({c("can2_user_address", "address")}),
                      cb_s({c("can2_user_city", "city")})) AS address,
            cb_s({c("zip_code", "zip")}) AS zip, cb_s({c("can2_state_abbreviated", "state")}) AS state,
            -- a blank status, or a report built without the column, is unknown (NULL):
            -- read as FALSE, it overwrote what an earlier export said
            lower(cb_s({c("can2_subscription_status")})) = 'subscribed' AS email_ok,
            lower(cb_s({c("can2_sms_status")})) = 'subscribed' AS sms_ok,
            cb_s({c("can2_subscription_date")}) AS sub_raw,
            cb_ts({c("can2_subscription_date")}) AS sub_at
            FROM {table}"""
        # the person reference of the email computed above (its macro planned once)
        sel = f"SELECT *, cb_key(coalesce(__uuid, email)) AS ref FROM ({sel})"
        _emit(
            stage,
            f,
            sel,
            [
                (
                    "ref IS NULL AND email_raw IS NOT NULL",
                    "email",
                    "email address is not valid and there is no uuid",
                ),
                ("ref IS NULL", "email", "no email or uuid to identify the person"),
                ("sub_raw IS NOT NULL AND sub_at IS NULL", "can2_subscription_date", BAD_DATE),
            ],
            {
                "st_person": """'action_network', x.ref, x.email, x.phone, x.first_name,
                    x.last_name, nullif(x.address, ''), x.zip, x.state, x.email_ok, x.sms_ok,
                    NULL, x.sub_at""",
                # joining the list is the first action a person takes
                "st_activity": """'an:signup:' || x.ref, 'action_network', x.ref,
                    'action_network', x.ref, 'signup', x.sub_at, NULL, NULL, NULL, NULL,
                    'online', NULL, 'subscribed', NULL, NULL, NULL WHERE x.sub_at IS NOT NULL""",
            },
            contacts={"email": "email", "phone": "phone"},
        )
        keep = unknown + [k for k in cols if k.lower() == "can2_user_tags"]
        _custom(stage, f, table, keep, "action_network", ref, key=True)
        stage.con.execute(f"DROP TABLE {table}")


# --------------------------------------------------------------------------- OSDI JSON helpers

OSDI_PERSON_KEYS = {
    "identifiers",
    "created_date",
    "modified_date",
    "given_name",
    "family_name",
    "email_addresses",
    "phone_numbers",
    "postal_addresses",
    "languages_spoken",
    "custom_fields",
    "_links",
    "_embedded",
    "browser_url",
    "origin_system",
}


def _osdi_id(prefix: str) -> str:
    # OSDI's identifiers are a list of "<system>:<id>" strings; a record whose
    # identifiers are something else (a bare string, an object) has none here, and the
    # person readers reject it by name (a CAST of it to a list stopped the whole sync)
    return f"""regexp_extract(list_filter(
        CASE json_type(jx(j, '$.identifiers'))
             WHEN 'ARRAY' THEN CAST(jx(j, '$.identifiers') AS VARCHAR[]) END,
        lambda s: starts_with(s, '{prefix}:'))[1], '^{prefix}:(.*)$', 1)"""


# the person readers' check of the identifiers' shape (before "no identifier")
OSDI_IDS_NOT_A_LIST = (
    "ids_type NOT IN ('ARRAY', 'NULL')",
    "identifiers",
    'identifiers is not a list: OSDI gives a list of "<system>:<id>" strings, '
    'such as ["action_network:d91b4b2e-..."]; export the record again from the API',
)


# Action Builder keeps several emails and phones per entity (work and personal, each
# with its status and type) and marks none primary: the first was used, often the work
# address a member unsubscribed, and the personal one other tools know was never
# matched. The records carry the chosen ones as ``em`` and ``ph`` (see cb_pick).
PICKED_CONTACTS = """cb_pick(json_extract(j, '$.email_addresses'), '$.status',
        ['subscribed']) AS em, cb_pick(json_extract(j, '$.phone_numbers'), '$.number_type',
        ['mobile', 'cell', 'cell phone']) AS ph"""


def _picked(select_sql: str) -> str:
    """A person SELECT reading the chosen email and phone instead of the first."""
    for first, chosen in (
        ("js(j, '$.email_addresses[0].address')", "cb_s(json_extract_string(em, '$.address'))"),
        ("js(j, '$.email_addresses[0].status')", "cb_s(json_extract_string(em, '$.status'))"),
        ("js(j, '$.phone_numbers[0].number')", "cb_s(json_extract_string(ph, '$.number'))"),
        ("js(j, '$.phone_numbers[0].status')", "cb_s(json_extract_string(ph, '$.status'))"),
    ):
        assert first in select_sql
        select_sql = select_sql.replace(first, chosen)
    return select_sql


def _osdi_person_sel(table: str, prefix: str, extra: str = "") -> str:
    return f"""SELECT rec AS __rec, file_no AS __file, j, nullif({_osdi_id(prefix)}, '') AS ref,
        json_type(jx(j, '$.identifiers')) AS ids_type,
        cb_email(js(j, '$.email_addresses[0].address')) AS email,
        js(j, '$.email_addresses[0].address') AS email_raw,
        cb_phone(js(j, '$.phone_numbers[0].number')) AS phone,
        js(j, '$.phone_numbers[0].number') AS phone_raw,
        js(j, '$.given_name') AS first_name, js(j, '$.family_name') AS last_name,
        nullif(concat_ws(', ', js(j, '$.postal_addresses[0].address_lines[0]'),
                         js(j, '$.postal_addresses[0].locality')), '') AS address,
        js(j, '$.postal_addresses[0].postal_code') AS zip,
        js(j, '$.postal_addresses[0].region') AS state,
        lower(js(j, '$.email_addresses[0].status')) = 'subscribed' AS email_ok,
        lower(js(j, '$.phone_numbers[0].status')) = 'subscribed' AS sms_ok,
        js(j, '$.created_date') AS created_raw, cb_ts(js(j, '$.created_date')) AS created_at
        {extra}
        FROM {table}"""


def _person_from_osdi(
    stage: Stage,
    files: list[FileInfo],
    table: str,
    source: str,
    prefix: str,
    extra_sel: str = "",
    extra_inserts: dict | None = None,
    extra_checks: list | None = None,
    *,
    keep: bool = False,
    where: str = "TRUE",
    pick: bool = False,
) -> str:
    nos = ", ".join(str(f.file_no) for f in files)
    f = files[0]
    picked = f", {PICKED_CONTACTS}" if pick else ""
    records = f"(SELECT *{picked} FROM {table} WHERE file_no IN ({nos}) AND ({where}))"
    sel = _osdi_person_sel(records, prefix, extra_sel)
    if pick:
        sel = _picked(sel)
    inserts = {
        "st_person": f"""'{source}', x.ref, x.email, x.phone, x.first_name, x.last_name,
            x.address, x.zip, x.state, x.email_ok, x.sms_ok, NULL, x.created_at""",
    }
    inserts.update(extra_inserts or {})
    return _emit(
        stage,
        f,
        sel,
        [
            OSDI_IDS_NOT_A_LIST,
            ("ref IS NULL", "identifiers", f"no {prefix} identifier on the record"),
            ("created_raw IS NOT NULL AND created_at IS NULL", "created_date", BAD_DATE),
            *(extra_checks or []),
        ],
        inserts,
        keep=keep,
        contacts={"email": "email_addresses", "phone": "phone_numbers"},
    )


def _keep_json_keys(
    stage: Stage,
    files: list[FileInfo],
    table: str,
    person_source: str,
    ref_sql: str,
    where: str = "TRUE",
    only: Callable[[str], bool] | None = None,
) -> None:
    """A person record's keys beyond the reader's (each file's ``unknown_columns``, a
    nested object's named "person.new_key"), kept as the person's custom fields, as a
    CSV's unknown columns are: they were listed in the sync report as kept and were in
    no table. ``ref_sql`` names the record's person over its JSON ``j``; ``only``, when
    given, chooses the keys. Costs nothing for pages without such keys. (Each key is
    found by its JSON pointer, see ``Stage.json_pointer``.)"""
    src = sql_str(person_source)
    into = f"st_custom SELECT {src}, ref, {src}"
    _stage_json_keys(stage, files, table, ref_sql, into, where, only)


def _stage_json_keys(
    stage: Stage,
    files: list[FileInfo],
    table: str,
    ref_sql: str,
    into: str,
    where: str = "TRUE",
    only: Callable[[str], bool] | None = None,
) -> None:
    """Stage each record's value of each of its file's ``unknown_columns`` (those
    ``only`` chooses, when given) that is not null: ``INSERT INTO {into}, k, v, file_no,
    rec`` over the record's ``ref`` (``ref_sql`` over its JSON ``j``; a record without
    one is left out), its key ``k`` and value ``v``."""
    chosen = {f.file_no: [k for k in f.unknown_columns if only is None or only(k)] for f in files}
    by_file = {n: keys for n, keys in chosen.items() if keys}
    if not by_file:
        return
    nos = ", ".join(str(n) for n in by_file)
    records = _json_fields_once(
        f"SELECT file_no, rec, j, {ref_sql} AS ref FROM {table} "
        f"WHERE file_no IN ({nos}) AND ({where})"
    )
    keys = sorted({k for keys in by_file.values() for k in keys})
    stage.con.execute(
        f"""INSERT INTO {into}, k, v, file_no, rec
            FROM (SELECT file_no, rec, ref, k, cb_s(json_extract_string(j, pointer)) AS v
                  FROM ({records}),
                       (SELECT unnest(?::VARCHAR[]) AS k, unnest(?::VARCHAR[]) AS pointer)
                  WHERE ref IS NOT NULL)
            WHERE v IS NOT NULL""",
        [keys, [stage.json_pointer(k) for k in keys]],
    )


# --------------------------------------------------------------------------- Action Network API

AN_ACTIVITY_KEYS = {
    "identifiers",
    "created_date",
    "modified_date",
    "status",
    "action_network:person_id",
    "action_network:event_id",
    "action_network:form_id",
    "action_network:fundraising_page_id",
    "action_network:petition_id",
    "action_network:advocacy_campaign_id",
    "comments",
    "targets",
    "subject",
    "message",
    "amount",
    "currency",
    "recipients",
    "payment",
    "action_network:recurrence",
    "action_network:referrer_data",
    "_links",
    "attended",
    "origin_system",
    "action_network:sponsor",
    "fields",
    "referrer_data",
    "item_type",  # a tagging's: what is tagged (osdi:person)
}


# the person an activity record names, over its JSON ``j`` (a tagging names its person
# only in its links)
AN_PERSON_REF = """coalesce(js(j, '$."action_network:person_id"'),
    regexp_extract(js(j, '$._links."osdi:person".href'), '/people/([^/?#]+)', 1))"""


# an activity record's id in its tool, over its JSON ``j`` (a record without identifier
# or link: the salted digest of the whole record)
AN_ACTIVITY_ID = f"""coalesce(nullif({_osdi_id("action_network")}, ''),
    regexp_extract(js(j, '$._links.self.href'), '([^/?#]+)$', 1),
    cb_digest(md5(CAST(j AS VARCHAR))))"""


def _an_collection(f: FileInfo) -> str:
    parts = [p.lower() for p in Path(f.rel).parts]
    for name in (
        "people",
        "attendances",
        "events",
        "submissions",
        "donations",
        "taggings",
        "signatures",
        "outreaches",
    ):
        if any(name in part for part in parts):
            return name
    return ""


# Action Network's activity collections: (activity type, status, attended, event,
# result, amount) of the staged activity, over the typed row ``x``
AN_ACTIVITIES = {
    "attendances": (
        "attendance",
        "coalesce(x.st, 'registered')",
        "x.att",
        "x.ev",
        "NULL",
        "NULL",
    ),
    "submissions": ("submission", "NULL", "NULL", "NULL", "'form:' || x.form", "NULL"),
    "donations": ("donation", "NULL", "NULL", "NULL", "NULL", "x.amt"),
    "taggings": ("tagging", "NULL", "NULL", "NULL", "'tag:' || nullif(x.tag, '')", "NULL"),
    # a petition's signatures and a letter campaign's outreaches are actions a person
    # took, like a form's submission (their pages were refused as unknown collections,
    # although petitions are many groups' most common action)
    "signatures": ("submission", "NULL", "NULL", "NULL", "'petition:' || x.petition", "NULL"),
    "outreaches": ("submission", "NULL", "NULL", "NULL", "'advocacy:' || x.campaign", "NULL"),
}
# an event's own keys (the API's event resource): read are its identifiers, title and
# start; the rest is the event's page, not a record of what people did. Keys beyond
# these are kept as the event's fields (store.event_field)
AN_EVENT_KEYS = {
    "identifiers",
    "origin_system",
    "created_date",
    "modified_date",
    "title",
    "name",
    "description",
    "instructions",
    "browser_url",
    "featured_image_url",
    "start_date",
    "end_date",
    "status",
    "visibility",
    "transparence",
    "capacity",
    "guests_can_invite_others",
    "total_accepted",
    "location",
    "reminders",
    "action_network:event_campaign_id",
    "action_network:hidden",
    "action_network:sponsor",
    "_links",
}
AN_ATTENDANCE_STATUS = {
    "accepted": "registered",
    "declined": "declined",
    "tentative": "registered",
    "needs action": "invited",
    "attended": "completed",
    "cancelled": "cancelled",
}


def read_action_network_api(stage: Stage, source: Source, files: list[FileInfo], org) -> None:
    table = stage.load_json_records(files, "$._embedded.*[*]")
    con = stage.con
    # the collection a page holds: its _embedded key, else its folder/file name
    by_name: dict[str, list[FileInfo]] = {}
    for f in files:
        f.role = f.embedded_key.removeprefix("osdi:") or _an_collection(f)
        by_name.setdefault(f.role, []).append(f)
    keys = stage.json_keys(table)  # every page's keys, in one query
    for name, group in by_name.items():
        nos = ", ".join(str(g.file_no) for g in group)
        subset = f"(SELECT * FROM {table} WHERE file_no IN ({nos}))"
        if name == "people":
            # each record's custom fields are extracted with its identifiers (one parse)
            # and read from the typed records (every record: the rejected ones too)
            typed = _person_from_osdi(
                stage,
                group,
                table,
                "action_network",
                "action_network",
                extra_sel=", jx(j, '$.custom_fields') AS __cf",
                keep=True,
            )
            stage.json_unknown_keys(group, OSDI_PERSON_KEYS, keys)
            _keep_json_keys(
                stage,
                group,
                table,
                "action_network",
                f"nullif({_osdi_id('action_network')}, '')",
            )
            con.execute(
                # (each field found by its JSON pointer: as a JSONPath, a field named ""
                # or holding a quote was an error that stopped the whole sync)
                f"""INSERT INTO st_custom SELECT 'action_network', ref, 'action_network', k,
                        json_extract_string(__cf, '/' || replace(replace(k, '~', '~0'), '/',
                                                                 '~1')), __file, __rec
                    FROM (SELECT __file, __rec, ref, __cf, unnest(json_keys(__cf)) AS k
                          FROM {typed})
                    WHERE ref IS NOT NULL;
                INSERT INTO st_custom SELECT 'action_network', ref, 'action_network',
                        'custom_fields', CAST(__cf AS VARCHAR), __file, __rec
                    FROM {typed}
                    WHERE ref IS NOT NULL AND json_type(__cf) NOT IN ('OBJECT', 'NULL')"""
            )
            stage.list_custom_fields(group, exclude=("custom_fields",))
            _drop_typed(stage, typed)
            continue
        if name == "events":
            stage.json_unknown_keys(group, AN_EVENT_KEYS, keys)
            _an_events(stage, table, group)
            # an event's keys beyond the reader's are kept as the event's fields, as a
            # person's are as theirs (they were listed as not read, only in the archive)
            _stage_json_keys(
                stage,
                group,
                table,
                f"'action_network:' || nullif({_osdi_id('action_network')}, '')",
                "st_event_field SELECT ref, 'action_network'",
            )
            stage.list_custom_fields(group, staged=("st_event_field",))
            continue
        stage.json_unknown_keys(group, AN_ACTIVITY_KEYS, keys)
        if name in AN_ACTIVITIES:
            # an attendance's, a donation's... keys beyond the reader's are kept as the
            # activity's fields, as a Mobilize attendance's are: they were kept as its
            # person's custom fields, where a second donation's value replaced the
            # first's (and before, listed as not read, only in the archived page)
            _stage_json_keys(
                stage,
                group,
                table,
                f"'an:{name}:' || {AN_ACTIVITY_ID}",
                "st_activity_field SELECT ref, 'action_network'",
            )
            stage.list_custom_fields(group, staged=("st_activity_field",))
            continue
        for g in group:
            g.notes.append(
                "not an Action Network people, events, attendances, submissions, donations, "
                "taggings, signatures or outreaches page; its records were not used"
            )
        con.execute(
            f"""INSERT INTO st_reject SELECT file_no, rec, NULL, NULL,
                'record of an unknown Action Network collection' FROM {subset}"""
        )
    activities = {name: group for name, group in by_name.items() if name in AN_ACTIVITIES}
    if activities:
        _an_activities(stage, table, activities)


def _an_events(stage: Stage, table: str, files: list[FileInfo]) -> None:
    """Events pages: each event's title and start. Its attendances are dated by that
    start when the sync writes them (:func:`cyclebook.sync.merge.date_an_attendances`),
    as Mobilize's and VAN's sign-ups are by their event's."""
    nos = ", ".join(str(f.file_no) for f in files)
    sel = f"""SELECT rec AS __rec, file_no AS __file, j,
        nullif({_osdi_id("action_network")}, '') AS eid,
        coalesce(js(j, '$.title'), js(j, '$.name')) AS title,
        js(j, '$.start_date') AS start_raw, cb_ts(js(j, '$.start_date')) AS start_at
        FROM {table} WHERE file_no IN ({nos})"""
    checks = [
        ("eid IS NULL", "identifiers", "no action_network identifier on the event"),
        ("start_raw IS NOT NULL AND start_at IS NULL", "start_date", BAD_DATE),
    ]
    inserts = {
        "st_event": "'action_network:' || x.eid, 'action_network', x.title, NULL, x.start_at"
    }
    _emit(stage, files[0], sel, checks, inserts)


def _an_activities(stage: Stage, table: str, groups: dict[str, list[FileInfo]]) -> None:
    """The activity collections' records, typed in one statement (one per collection
    planned the common columns and their macros four times): each record's collection
    is a column, which selects its checks and its staged activities."""
    colls = stage.tmp_name("coll")
    rows, params = list_rows(
        {
            "file_no": ("INTEGER", [f.file_no for group in groups.values() for f in group]),
            "coll": ("VARCHAR", [name for name, group in groups.items() for _ in group]),
        }
    )
    stage.con.execute(f"CREATE OR REPLACE TEMP TABLE {colls} AS {rows}", params)
    sel = f"""SELECT rec AS __rec, file_no AS __file, j, __coll,
        nullif({AN_PERSON_REF}, '') AS pref, {AN_ACTIVITY_ID} AS sid,
        js(j, '$.created_date') AS created_raw, cb_ts(js(j, '$.created_date')) AS created_at,
        cb_ts(js(j, '$.modified_date')) AS modified_at,
        {_status_sql("js(j, '$.status')", AN_ATTENDANCE_STATUS)} AS st,
        js(j, '$.status') AS st_raw,
        CASE WHEN __coll = 'attendances'
             THEN TRY_CAST(jx(j, '$.attended') AS BOOLEAN) END AS att,
        'action_network:' || js(j, '$."action_network:event_id"') AS ev,
        js(j, '$."action_network:form_id"') AS form,
        coalesce(js(j, '$."action_network:petition_id"'), regexp_extract(
            js(j, '$._links."osdi:petition".href'), '/petitions/([^/?#]+)', 1)) AS petition,
        coalesce(js(j, '$."action_network:advocacy_campaign_id"'), regexp_extract(
            js(j, '$._links."osdi:advocacy_campaign".href'), '/advocacy_campaigns/([^/?#]+)',
            1)) AS campaign,
        js(j, '$.amount') AS amt_raw,
        cb_amount(js(j, '$.amount')) AS amt,
        regexp_extract(js(j, '$._links."osdi:tag".href'), '/tags/([^/?#]+)', 1) AS tag
        FROM (SELECT t.*, c.coll AS __coll FROM {table} t JOIN {colls} c USING (file_no))"""
    checks = [
        ("pref IS NULL", "action_network:person_id", "no person on the record"),
        ("created_raw IS NULL", "created_date", "missing created_date"),
        ("created_at IS NULL", "created_date", BAD_DATE),
        # (a record fails the checks of its own collection only)
        (
            "__coll = 'attendances' AND st IS NULL AND st_raw IS NOT NULL",
            "status",
            "unknown attendance status",
        ),
        (
            "__coll = 'donations' AND amt IS NULL AND amt_raw IS NOT NULL",
            "amount",
            "amount is not a number",
        ),
        ("__coll = 'donations' AND amt IS NULL", "amount", "missing amount"),
    ]
    inserts = {}
    for name in groups:
        kind, status, attended, event, result, amount = AN_ACTIVITIES[name]
        inserts[f"st_activity#{name}"] = f"""'an:{name}:' || x.sid, 'action_network', x.sid,
            'action_network', x.pref, '{kind}', x.created_at, x.modified_at, {status},
            {attended}, {event}, 'online', NULL, {result}, {amount}, NULL, NULL
            WHERE x.__coll = '{name}'"""
    first = next(iter(groups.values()))[0]
    _emit(stage, first, sel, checks, inserts)
    stage.con.execute(f"DROP TABLE {colls}")


# --------------------------------------------------------------------------- Mobilize

MOBILIZE_KEYS = {
    "id",
    "created_date",
    "modified_date",
    "person",
    "event",
    "timeslot",
    "status",
    "attended",
    "referrer",
    "sponsor",
    "custom_signup_field_values",
    "rating",
    "feedback",
}
# the keys of the objects inside an attendance, as Mobilize's API documents them: a key
# beyond these ("person.pronouns") is listed as "person.<key>" and kept (it was neither
# listed nor kept): a person's as the person's custom field, an event's or a timeslot's
# as the event's field, a referrer's as the attendance's
MOBILIZE_NESTED_KEYS = {
    "person": {
        "id",
        "user_id",
        "given_name",
        "family_name",
        "email_addresses",
        "phone_numbers",
        "postal_addresses",
        "sms_opt_in_status",
        "created_date",
        "modified_date",
        "blocked_date",
    },
    "event": {
        "id",
        "title",
        "summary",
        "description",
        "featured_image_url",
        "high_priority",
        "sponsor",
        "timeslots",
        "location",
        "timezone",
        "event_type",
        "browser_url",
        "created_date",
        "modified_date",
        "visibility",
        "address_visibility",
        "created_by_volunteer_host",
        "virtual_action_url",
        "contact",
        "accessibility_status",
        "accessibility_notes",
        "tags",
        "approval_status",
        "event_campaign",
        "instructions",
        "is_virtual",
    },
    "timeslot": {"id", "start_date", "end_date", "is_full", "instructions", "max_attendees"},
    # the link that brought the person to sign up
    "referrer": {"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "url"},
}
# An attendance's own values beyond the model: how the attendee rated the event, the
# feedback they wrote (a member's words), the link's tags. Each attendance has its own,
# so they are the activity's fields (store.activity_field, which no report reads), read
# in the records' one pass with the rest; a key Mobilize adds inside the referrer too
MOBILIZE_ACTIVITY_FIELDS = (
    "rating",
    "feedback",
    *(f"referrer.{key}" for key in sorted(MOBILIZE_NESTED_KEYS["referrer"])),
)
MOBILIZE_STATUS = {
    "registered": "registered",
    "confirmed": "confirmed",
    "cancelled": "cancelled",
    "canceled": "cancelled",
}


def read_mobilize(stage: Stage, source: Source, files: list[FileInfo], org) -> None:
    table = stage.load_json_records(files, "$.data[*]")
    keys = stage.json_keys(table, nested=tuple(MOBILIZE_NESTED_KEYS))
    known = MOBILIZE_KEYS | {
        f"{holder}.{key}" for holder, inner in MOBILIZE_NESTED_KEYS.items() for key in inner
    }
    stage.json_unknown_keys(files, known, keys)
    for f in files:
        f.role = "attendances"
    if files:
        f = files[0]
        # An independent organization gets no attendance id (and no event but its type)
        # for an attendance at a coordinated organization's event: such an attendance,
        # rejected with its person, is named by who, when and what, which stay the same
        # when it is modified (a salted digest: the person may be an email). A person
        # without user_id is named by its id, then email.
        person = """coalesce(cb_id(js(j, '$.person.user_id')), cb_id(js(j, '$.person.id')),
            cb_email(js(j, '$.person.email_addresses[0].address')))"""
        aid = f"""coalesce(cb_id(js(j, '$.id')), cb_digest('h' || substr(md5(concat_ws('|',
            {person}, js(j, '$.timeslot.start_date'), js(j, '$.event.event_type'),
            js(j, '$.created_date'))), 1, 20)))"""
        # the same, of the person and the values the SELECT below computes: a macro
        # repeats its argument's whole expression wherever its body names it (cb_key
        # four times), and the person's macros were planned again in each (here and in
        # the sign-up questions' INSERT below: ~15 ms of a small organization's sync)
        aid_of_values = """coalesce(__id, cb_digest('h' || substr(md5(concat_ws('|',
            __person, start_raw, __ev_type_raw, created_raw)), 1, 20)))"""
        own = "".join(
            f", js(j, '$.{name}') AS __own{i}" for i, name in enumerate(MOBILIZE_ACTIVITY_FIELDS)
        )
        # (each non-empty one a row: field, value)
        own_fields = ", ".join(
            f"{{'f': {sql_str(name)}, 'v': x.__own{i}}}"
            for i, name in enumerate(MOBILIZE_ACTIVITY_FIELDS)
        )
        any_own = ", ".join(f"x.__own{i}" for i in range(len(MOBILIZE_ACTIVITY_FIELDS)))
        sel = f"""SELECT rec AS __rec, file_no AS __file, j, {person} AS __person,
            cb_id(js(j, '$.id')) AS __id, js(j, '$.event.event_type') AS __ev_type_raw,
            cb_email(js(j, '$.person.email_addresses[0].address')) AS email,
            js(j, '$.person.email_addresses[0].address') AS email_raw,
            cb_phone(js(j, '$.person.phone_numbers[0].number')) AS phone,
            js(j, '$.person.phone_numbers[0].number') AS phone_raw,
            js(j, '$.person.given_name') AS first_name, js(j, '$.person.family_name') AS last_name,
            js(j, '$.person.postal_addresses[0].postal_code') AS zip,
            CASE upper(js(j, '$.person.sms_opt_in_status')) WHEN 'OPT_IN' THEN TRUE
                 WHEN 'OPT_OUT' THEN FALSE END AS sms_ok,
            js(j, '$.created_date') AS created_raw,
            cb_epoch(js(j, '$.created_date')) AS created_at,
            cb_epoch(js(j, '$.modified_date')) AS modified_at,
            cb_epoch(js(j, '$.person.created_date')) AS person_created_at,
            cb_id(js(j, '$.event.id')) AS ev, js(j, '$.event.title') AS title,
            lower(js(j, '$.event.event_type')) AS ev_type,
            cb_id(js(j, '$.timeslot.id')) AS slot,
            js(j, '$.timeslot.start_date') AS start_raw,
            cb_epoch(js(j, '$.timeslot.start_date')) AS start_at,
            {_status_sql("js(j, '$.status')", MOBILIZE_STATUS)} AS st,
            js(j, '$.status') AS st_raw,
            CASE json_type(jx(j, '$.attended')) WHEN 'BOOLEAN' THEN
                 CAST(jx(j, '$.attended') AS BOOLEAN) END AS att,
            json_type(jx(j, '$.attended')) AS att_type,
            CASE WHEN cb_id(js(j, '$.event.contact.owner_user_id'))
                      = cb_id(js(j, '$.person.user_id')) THEN 'host' ELSE 'attendee' END AS role
            {own}
            FROM {table}"""
        sel = f"""SELECT * EXCLUDE (__person, __id, __ev_type_raw), {aid_of_values} AS aid,
                cb_key(__person) AS pref
            FROM ({_json_fields_once(sel)})"""
        event_id = "'mobilize:' || x.ev || coalesce(':' || x.slot, '')"
        _emit(
            stage,
            f,
            sel,
            [
                (
                    "pref IS NULL",
                    "person.user_id",
                    "no person (user_id or email) on the attendance",
                ),
                ("created_raw IS NULL", "created_date", "missing created_date"),
                ("created_at IS NULL", "created_date", BAD_EPOCH),
                ("start_raw IS NOT NULL AND start_at IS NULL", "timeslot.start_date", BAD_EPOCH),
                # (a null status is a sign-up: Mobilize gives none on an independent
                # organization's attendance at a coordinated organization's event, and
                # such records, their people with them, were rejected)
                (
                    "st IS NULL AND st_raw IS NOT NULL",
                    "status",
                    "unknown status (expected REGISTERED, CONFIRMED or CANCELLED)",
                ),
                (
                    "att_type IS NOT NULL AND att_type NOT IN ('BOOLEAN', 'NULL')",
                    "attended",
                    "attended must be true, false or null",
                ),
            ],
            {
                "st_person": """'mobilize', x.pref, x.email, x.phone, x.first_name, x.last_name,
                    NULL, x.zip, NULL, NULL, x.sms_ok, NULL,
                    coalesce(x.person_created_at, x.created_at)""",
                "st_event": f"""{event_id}, 'mobilize', x.title, x.ev_type,
                    coalesce(x.start_at, x.created_at) WHERE x.ev IS NOT NULL""",
                "st_activity": f"""'mobilize:att:' || x.aid, 'mobilize', x.aid, 'mobilize', x.pref,
                    'attendance', coalesce(x.start_at, x.created_at), x.modified_at,
                    coalesce(x.st, 'registered'), x.att,
                    CASE WHEN x.ev IS NOT NULL THEN {event_id} END, 'in_person', x.role,
                    NULL, NULL, NULL, NULL""",
                "st_activity_field": f"""'mobilize:att:' || x.aid, 'mobilize',
                    unnest(list_filter([{own_fields}], lambda e: e.v IS NOT NULL),
                           recursive := true)
                    WHERE coalesce({any_own}) IS NOT NULL""",
            },
            contacts={"email": "person.email_addresses", "phone": "person.phone_numbers"},
        )
        # the group's own sign-up questions ("Are you a union member?"), kept as the
        # person's custom fields as Action Network's are (they were dropped unread)
        stage.con.execute(
            f"""INSERT INTO st_custom SELECT 'mobilize', pref, 'mobilize', field, value,
                    file_no, rec
                FROM (SELECT file_no, rec, pref,
                        cb_s(json_extract_string(cf, '$.custom_field_name')) AS field,
                        coalesce(cb_s(json_extract_string(cf, '$.text_value')),
                                 cb_s(json_extract_string(cf, '$.boolean_value'))) AS value
                      FROM (SELECT file_no, rec, cb_key(__person) AS pref, cf
                            FROM (SELECT file_no, rec, {person} AS __person,
                                    unnest(CAST(json_extract(j, '$.custom_signup_field_values')
                                                AS JSON[])) AS cf
                                  FROM {table}
                                  WHERE json_type(j, '$.custom_signup_field_values') = 'ARRAY')))
                WHERE pref IS NOT NULL AND field IS NOT NULL AND value IS NOT NULL"""
        )
        # the keys a tool added inside the event or its timeslot are the event's fields
        # (they were kept as the person's), inside the person the person's; the
        # attendance's own and its referrer's are the attendance's (its own keys were
        # kept as its person's: a second attendance's value replaced the first's). (An
        # attendance that names no event, at a coordinated organization's event, has no
        # event row to keep them with, as it has none for its title.) Each costs a pass
        # only over the pages that have such keys
        _keep_json_keys(
            stage, files, table, "mobilize", f"cb_key({person})", only=_of_mobilize_person
        )
        _stage_json_keys(
            stage,
            files,
            table,
            """'mobilize:' || cb_id(js(j, '$.event.id'))
                || coalesce(':' || cb_id(js(j, '$.timeslot.id')), '')""",
            "st_event_field SELECT ref, 'mobilize'",
            only=_of_mobilize_event,
        )
        _stage_json_keys(
            stage,
            files,
            table,
            f"'mobilize:att:' || {aid}",
            "st_activity_field SELECT ref, 'mobilize'",
            only=_of_mobilize_attendance,
        )
        stage.list_custom_fields(files, staged=("st_custom", "st_event_field", "st_activity_field"))


def _of_mobilize_event(key: str) -> bool:
    """Is a key ``json_keys`` named one of an attendance's event or timeslot?"""
    return key.startswith(("event.", "timeslot."))


def _of_mobilize_attendance(key: str) -> bool:
    """Is a key ``json_keys`` named one of the attendance itself (its own, or its
    referrer's)?"""
    return not (_of_mobilize_event(key) or _of_mobilize_person(key))


def _of_mobilize_person(key: str) -> bool:
    """Is a key ``json_keys`` named one of an attendance's person?"""
    return key.startswith("person.")


# --------------------------------------------------------------------------- VAN

VAN_TABLES = (
    "contactsactivistcodes",
    "contactscontacts",
    "activistcodes",
    "contacttypes",
    "contributions",
    "eventsignups",
    "results",
    "persons",
    "contacts",
    "events",
)
VAN_KNOWN = {
    "persons": {
        "vanid",
        "firstname",
        "lastname",
        "middlename",
        "email",
        "phone",
        "cellphone",
        "addressline1",
        "addressline2",
        "city",
        "state",
        "zip5",
        "zip",
        "datecreated",
        "datemodified",
        "dateofbirth",
        "suffix",
        "prefix",
        "nickname",
    },
    "contactscontacts": {
        "contactscontactid",
        "vanid",
        "resultid",
        "contacttypeid",
        "datecanvassed",
        "datecreated",
        "canvassedby",
        "campaignid",
        "inputtypeid",
        "committeeid",
        "statecode",
        "contactsource",
    },
    "contactsactivistcodes": {
        "contactsactivistcodeid",
        "vanid",
        "activistcodeid",
        "datecreated",
        "datecanvassed",
        "canvassedby",
        "committeeid",
    },
    "eventsignups": {
        "eventsignupid",
        "vanid",
        "eventid",
        "eventshiftid",
        "eventrolename",
        "eventstatusname",
        "datecreated",
        "datemodified",
        "eventroleid",
        "eventstatusid",
        "createdby",
    },
    "events": {
        "eventid",
        "eventname",
        "eventtypename",
        "dateoffsetbegin",
        "dateoffsetend",
        "eventtypeid",
        "locationid",
    },
    "contributions": {"contributionid", "vanid", "amount", "datereceived", "designationid"},
    "results": {"resultid", "resultshortname", "resultname"},
    "contacttypes": {"contacttypeid", "contacttypename"},
    "activistcodes": {
        "activistcodeid",
        "activistcodename",
        "activistcodetype",
        "activistcodedescription",
    },
}
VAN_ALL_COLUMNS = frozenset().union(*VAN_KNOWN.values())
VAN_REQUIRED = {
    "persons": ["vanid"],
    "contacts": ["vanid"],
    "contactscontacts": ["vanid", "resultid", "contacttypeid", "datecanvassed"],
    "contactsactivistcodes": ["vanid", "activistcodeid"],
    "eventsignups": ["vanid", "eventid", "eventstatusname"],
    "events": ["eventid"],
    "contributions": ["vanid", "amount", "datereceived"],
    "results": ["resultid", "resultshortname"],
    "contacttypes": ["contacttypeid", "contacttypename"],
    "activistcodes": ["activistcodeid", "activistcodename"],
}
# A lookup's or an event's value when its id is in several rows: the last row of the
# last file that gives one (files are numbered in the order they are read)
LATEST = "arg_max({0}, file_no * 10000000000 + rec) FILTER (WHERE {0} IS NOT NULL)"
VAN_STATUS = {
    "scheduled": "registered",
    "confirmed": "confirmed",
    "conf twice": "confirmed",
    "completed": "completed",
    "no show": "no_show",
    "declined": "declined",
    "invited": "invited",
    "left msg": "invited",
    "sent": "invited",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "walk in": "walk_in",
    "tentative": "registered",
}
EVENT_DATE_UNREAD = (
    BAD_DATE + "; the event is kept without a date, and its signups are dated by their "
    "creation date: export the events table again with its dates"
)
VAN_ONE_ON_ONE = "lower(x.ctype) IN ('one on one', '1:1', 'one-on-one')"
VAN_CHANNEL = """CASE lower(x.ctype)
    WHEN 'walk' THEN 'door' WHEN 'paid walk' THEN 'door' WHEN 'door' THEN 'door'
    WHEN 'phone' THEN 'phone' WHEN 'paid phone' THEN 'phone' WHEN 'auto dial' THEN 'phone'
    WHEN 'predictive dial' THEN 'phone' WHEN 'virtual phone bank' THEN 'phone'
    WHEN 'sms text' THEN 'text' WHEN 'sms' THEN 'text' WHEN 'text' THEN 'text'
    ELSE lower(replace(x.ctype, ' ', '_')) END"""


# VAN tables other tables are read through: a change in one re-dates or renames the rows
# of unchanged tables (an event moved to another day, an activist code renamed)
VAN_LOOKUPS = frozenset({"results", "contacttypes", "activistcodes", "events"})


def files_to_compare(kind: str, files: list[FileInfo], changed: set[int]) -> set[int]:
    """Of one source's files, those whose rows may differ from the store's: the changed
    ones, and every file read together with a changed one (see ``write_org``)."""
    numbers = {f.file_no for f in files}
    hit = numbers & changed
    if not hit:
        return set()
    if kind == "spoke":  # contacts and messages are joined: one decides the other's rows
        return numbers
    if kind == "van" and any(van_table(f) in VAN_LOOKUPS for f in files if f.file_no in hit):
        return numbers
    return hit


def may_list_people(kind: str, f: FileInfo) -> bool:
    """Whether an export may list people whom another export of its tool names (a VAN
    persons table, an Action Network people page; a page named otherwise may be one):
    new, it may bring the person of an activity rejected before (see ``sync_org``)."""
    if kind == "van":
        return van_table(f) == "persons"
    if kind == "action_network_api":
        return _an_collection(f) in ("people", "")
    return True


def files_to_read(kind: str, files: list[FileInfo], compare: set[int]) -> list[FileInfo]:
    """Of one source's files, those to read: the ones compared with the store, and the
    lookup tables they are read through. The rest carry over (``FileInfo.carried``)."""
    if not compare & {f.file_no for f in files}:
        return []
    return [
        f for f in files if f.file_no in compare or (kind == "van" and van_table(f) in VAN_LOOKUPS)
    ]


def van_table(f: FileInfo) -> str:
    stem = Path(f.rel).stem.lower().replace("-", "_")
    for prefix in ("tsm_", "van_", "ea_", "ngpvan_"):
        stem = stem.removeprefix(prefix)
    for name in VAN_TABLES:
        if stem.startswith(name):
            return "persons" if name == "contacts" else name
    return ""


class Nameless(NamedTuple):
    """An id a VAN lookup table lists with its name left empty, and where."""

    id: str
    file: str
    line: int
    column: str


# at most this many such ids get a reject reason of their own (each is a check)
NAMELESS_NAMED = 20


def _nameless(stage: Stage, lookups: list[FileInfo], rows_sql: str, value: str) -> list[Nameless]:
    """The ids of a lookup table (``rows_sql``: its rows as k, v, file_no, rec) that no
    row names, each at its last row (the later file's, as a name is taken from)."""
    found = stage.con.execute(
        f"""SELECT k, arg_max(file_no, file_no * 10000000000 + rec),
                   arg_max(rec, file_no * 10000000000 + rec)
            FROM ({rows_sql}) WHERE k IS NOT NULL GROUP BY k
            HAVING count(v) = 0 ORDER BY k LIMIT {NAMELESS_NAMED}"""
    ).fetchall()
    by_no = {f.file_no: f for f in lookups}
    lines: dict[int, list[int] | None] = {}
    out = []
    for k, file_no, rec in found:
        f = by_no[file_no]
        if file_no not in lines:
            records = record_lines(f.read_path or f.path, f.delimiter, f.skip)
            lines[file_no] = None if records is None else [line for line, _ in records]
        starts = lines[file_no]
        # (DuckDB's record number counts the records it read: blank lines are not one)
        line = starts[rec] if starts is not None and rec < len(starts) else rec + 2 + f.skip
        out.append(Nameless(k, f.rel, line, value))
    return out


def _nameless_checks(
    id_sql: str, column: str, what: str, nameless: list[Nameless]
) -> list[tuple[str, str, str]]:
    """Reject checks for the rows that use an id its lookup table lists without a name:
    'not in' the table, as they were rejected, sent the organizer to add a table that
    was there and held the id."""
    return [
        (
            f"{id_sql} = {sql_str(n.id)}",
            column,
            f"{what} id {n.id} has no name in {n.file} (line {n.line}, {n.column})",
        )
        for n in nameless
    ]


def read_van(stage: Stage, source: Source, files: list[FileInfo], org) -> None:
    con = stage.con
    groups: dict[str, list[FileInfo]] = {}
    for f in files:
        f.role = van_table(f)
        if not f.role:
            f.notes.append(
                "not read: a VAN warehouse table is known by its file name, which starts "
                "with the table's name ("
                + ", ".join(sorted(set(VAN_TABLES) - {"contacts"}))
                + "), and this one names none. Rename the file after the table it holds "
                "(such as contactscontacts_2026-09.csv); a list exported from VAN's own "
                "screens (VANID, names, address) is read as a spreadsheet: a generic_csv "
                "source mapping its columns"
            )
            continue
        groups.setdefault(f.role, []).append(f)
    loaded: dict[int, tuple[str, list[str]]] = {}
    for f in files:
        if f.role:
            loaded[f.file_no] = stage.load_csv(
                f,
                required=VAN_REQUIRED[f.role],
                # (every table's columns: a header line of another table, joined below
                # this one's rows, is told by them)
                known=VAN_ALL_COLUMNS,
                encoding=source.encoding,
                delimiter=source.delimiter,
                what=f"VAN {f.role} table",
            )
            stage.unknown(f, loaded[f.file_no][1], VAN_KNOWN[f.role])

    def drop(f: FileInfo) -> None:  # free a big table as soon as it is staged
        con.execute(f"DROP TABLE IF EXISTS {loaded[f.file_no][0]}")

    def lookup(name: str, key: str, value: str, needed_by: str) -> tuple[str, list[Nameless]]:
        """The lookup table ``name`` as (k, v), and its ids listed without a name."""
        if name not in groups:
            raise stage.error(
                groups[needed_by][0],
                f"the VAN {needed_by} table needs the '{name}' lookup table, which is not "
                "among the exports",
                f"export the '{name}' table from the warehouse too and put it beside "
                f"{Path(groups[needed_by][0].rel).name}.",
            )
        t = stage.tmp_name("lk")
        parts = " UNION ALL ".join(
            f"SELECT cb_id({stage.col(loaded[g.file_no][1], key)}) AS k, "
            f"cb_s({stage.col(loaded[g.file_no][1], value)}) AS v, "
            f"{g.file_no} AS file_no, rowid AS rec FROM {loaded[g.file_no][0]}"
            for g in groups[name]
        )
        # an id listed twice (a code renamed between two exports) takes the later file's
        # name, as every other record does; any_value picked either, run to run
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {t} AS SELECT k, {LATEST.format('v')} AS v "
            f"FROM ({parts}) GROUP BY k"
        )
        # a row without its id or its name names nothing: rejected by name (it was
        # counted as kept, and the contacts of a nameless id rejected as "not in" the
        # table that lists it)
        con.execute(
            f"""INSERT INTO st_reject SELECT file_no, rec, NULL,
                    CASE WHEN k IS NULL THEN {sql_str(key)} ELSE {sql_str(value)} END,
                    CASE WHEN k IS NULL THEN {sql_str("missing " + key)}
                         ELSE {sql_str("missing " + value)} END
                FROM ({parts}) WHERE k IS NULL OR v IS NULL"""
        )
        # one id given two names in one file: the last row's is used, and said (the
        # names are the organization's categories, not a member's data): a result read
        # as Refused rather than Canvassed moves the contact out of the conversations
        twice: dict[int, list[str]] = {}
        for file_no, k, names in con.execute(
            f"""SELECT file_no, k, list(DISTINCT v ORDER BY v) FROM ({parts})
                WHERE k IS NOT NULL AND v IS NOT NULL GROUP BY file_no, k
                HAVING count(DISTINCT v) > 1 ORDER BY file_no, k"""
        ).fetchall():
            twice.setdefault(file_no, []).append(f"{k}: {', '.join(names)}")
        for g in groups[name]:
            if listed := twice.get(g.file_no):
                shown = "; ".join(listed[:5]) + (" …" if len(listed) > 5 else "")
                g.notes.append(
                    f"{len(listed)} {key}(s) listed more than once with different names "
                    f"({shown}): each takes the name of its last row; check the table in "
                    "VAN and export it again"
                )
        return t, _nameless(stage, groups[name], parts, value)

    def files(role: str) -> _Files:
        return _Files(stage, [(f, *loaded[f.file_no]) for f in groups[role]])

    def emit(role: str, sel: str, checks: list, inserts: dict) -> None:
        """Stage every file of one table in one statement, then free their tables."""
        _emit(stage, groups[role][0], sel, checks, inserts)
        for f in groups[role]:
            drop(f)

    if "persons" in groups:
        c = files("persons")
        sel = f"""SELECT __rec{c.file()}, cb_id({c("vanid")}) AS ref,
            cb_email({c("email")}) AS email, cb_phone({c("phone", "cellphone")}) AS phone,
            cb_s({c("email")}) AS email_raw, cb_s({c("phone", "cellphone")}) AS phone_raw,
            cb_s({c("firstname")}) AS first_name, cb_s({c("lastname")}) AS last_name,
            nullif(concat_ws(', ', cb_s({c("addressline1")}), cb_s({c("city")})), '') AS address,
            cb_s({c("zip5", "zip")}) AS zip, cb_s({c("state")}) AS state,
            cb_ts({c("datecreated")}) AS created_at, cb_s({c("datecreated")}) AS created_raw
            FROM ({c.source()})"""
        _emit(
            stage,
            groups["persons"][0],
            sel,
            [
                ("ref IS NULL", "vanid", "missing vanid"),
                ("created_raw IS NOT NULL AND created_at IS NULL", "datecreated", BAD_DATE),
            ],
            {
                "st_person": """'van', x.ref, x.email, x.phone, x.first_name, x.last_name,
                  x.address, x.zip, x.state, NULL, NULL, NULL, x.created_at"""
            },
            contacts={"email": "email", "phone": "phone"},
        )
        for f in groups["persons"]:
            table, cols = loaded[f.file_no]
            ref = f"cb_id({stage.col(cols, 'vanid')})"
            _custom(stage, f, table, f.unknown_columns, "van", ref)
            drop(f)

    if "contactscontacts" in groups:
        results, unnamed_results = lookup(
            "results", "resultid", "resultshortname", "contactscontacts"
        )
        ctypes, unnamed_types = lookup(
            "contacttypes", "contacttypeid", "contacttypename", "contactscontacts"
        )
        # every contacts file at once
        c = files("contactscontacts")
        sel = f"""SELECT r.__rec{c.file("r.")}, cb_id({c("vanid", p="r.")}) AS ref,
            coalesce(cb_id({c("contactscontactid", p="r.")}),
                     md5(concat_ws('|', {c("vanid", p="r.")}, {c("contacttypeid", p="r.")},
                                   {c("datecanvassed", p="r.")}, {c("resultid", p="r.")}))) AS cid,
            cb_id({c("resultid", p="r.")}) AS result_id,
            cb_id({c("contacttypeid", p="r.")}) AS ctype_id,
            cb_s({c("datecanvassed", p="r.")}) AS when_raw, cb_ts({c("datecanvassed", p="r.")}) AS ts,
            cb_ts({c("datecreated", p="r.")}) AS created_at,
            'van:' || cb_id({c("canvassedby", p="r.")}) AS organizer,
            cb_id({c("campaignid", p="r.")}) AS campaign
            FROM ({c.source()}) r"""
        # the lookups join the computed ids (computed once, fewer columns through the
        # join: a third less work than joining the raw rows)
        sel = f"""SELECT t.*, res.v AS result, ct.v AS ctype FROM ({sel}) t
            LEFT JOIN {results} res ON res.k = t.result_id
            LEFT JOIN {ctypes} ct ON ct.k = t.ctype_id"""
        emit(
            "contactscontacts",
            sel,
            [
                ("ref IS NULL", "vanid", "missing vanid"),
                ("when_raw IS NULL", "datecanvassed", "missing datecanvassed"),
                ("ts IS NULL", "datecanvassed", BAD_DATE),
                *_nameless_checks("ctype_id", "contacttypeid", "contact type", unnamed_types),
                ("ctype IS NULL", "contacttypeid", "contact type id not in contacttypes"),
                *_nameless_checks("result_id", "resultid", "result", unnamed_results),
                ("result IS NULL", "resultid", "result id not in results"),
            ],
            {
                # a one-on-one is held when its result says the two met (Canvassed); one
                # marked Not Home or Refused did not happen: it is an attempt to meet in
                # person, and counted toward no rung, absorption or 1:1 figure (every
                # "One on One" row was a held one-on-one, whatever its result)
                "st_activity": f"""'van:cc:' || x.cid, 'van', x.cid, 'van', x.ref, 'one_on_one',
                   x.ts, x.created_at, NULL, NULL, NULL, 'in_person', NULL, x.result, NULL,
                   NULL, x.organizer WHERE {VAN_ONE_ON_ONE} AND lower(x.result) = 'canvassed'""",
                "st_attempt": f"""'van:cc:' || x.cid, 'van', 'van', x.ref,
                   CASE WHEN {VAN_ONE_ON_ONE} THEN 'in_person' ELSE {VAN_CHANNEL} END,
                   x.result, x.ts, x.campaign, lower(x.result) = 'canvassed',
                   CASE WHEN lower(x.ctype) IN ('sms text', 'sms', 'text')
                        THEN lower(x.result) = 'canvassed' END,
                   lower(x.result) IN ('opt out', 'opted out', 'do not text', 'do not call'),
                   x.organizer
                   WHERE NOT ({VAN_ONE_ON_ONE} AND lower(x.result) = 'canvassed')""",
            },
        )

    if "contactsactivistcodes" in groups:
        codes, unnamed_codes = lookup(
            "activistcodes", "activistcodeid", "activistcodename", "contactsactivistcodes"
        )
        # every activist codes file at once
        c = files("contactsactivistcodes")
        sel = f"""SELECT r.__rec{c.file("r.")}, cb_id({c("vanid", p="r.")}) AS ref,
            coalesce(cb_id({c("contactsactivistcodeid", p="r.")}),
                     md5(concat_ws('|', {c("vanid", p="r.")}, {c("activistcodeid", p="r.")},
                                   {c("datecanvassed", p="r.")}, {c("datecreated", p="r.")}))) AS aid,
            cb_id({c("activistcodeid", p="r.")}) AS __code_id,
            coalesce(cb_s({c("datecanvassed", p="r.")}), cb_s({c("datecreated", p="r.")})) AS when_raw,
            cb_ts({c("datecanvassed", p="r.")}) AS __canvassed_at,
            cb_ts({c("datecreated", p="r.")}) AS created_at
            FROM ({c.source()}) r"""
        sel = f"""SELECT t.* EXCLUDE (__canvassed_at),
            coalesce(t.__canvassed_at, t.created_at) AS ts, ac.v AS code FROM ({sel}) t
            LEFT JOIN {codes} ac ON ac.k = t.__code_id"""
        emit(
            "contactsactivistcodes",
            sel,
            [
                ("ref IS NULL", "vanid", "missing vanid"),
                ("when_raw IS NULL", "datecanvassed", "missing datecanvassed and datecreated"),
                ("ts IS NULL", "datecanvassed", BAD_DATE),
                *_nameless_checks("__code_id", "activistcodeid", "activist code", unnamed_codes),
                ("code IS NULL", "activistcodeid", "activist code id not in activistcodes"),
            ],
            {
                "st_activity": """'van:ac:' || x.aid, 'van', x.aid, 'van', x.ref,
                  'activist_code', x.ts, x.created_at, NULL, NULL, NULL, NULL, NULL, x.code,
                  NULL, NULL, NULL"""
            },
        )

    # The events table is read whether or not signups come with it: read only beside
    # them, an events table alone was counted as read and kept, and nothing of it was
    # stored (its dates never checked, its events missing from the improve report's
    # "past events without attendance recorded").
    ev = stage.tmp_name("ev")
    if "events" in groups:
        parts = []
        for g in groups["events"]:
            t, cols = loaded[g.file_no]
            c = lambda *n, cols=cols, p="": stage.col(cols, *n, prefix=p)  # noqa: E731
            parts.append(f"""SELECT cb_id({c("eventid")}) AS k, cb_s({c("eventname")}) AS title,
                lower(cb_s({c("eventtypename")})) AS etype,
                cb_ts({c("dateoffsetbegin")}) AS start_at,
                cb_s({c("dateoffsetbegin")}) AS start_raw, {g.file_no} AS file_no,
                rowid AS rec FROM {t}""")
            # the event's columns beyond the model are its fields (they were listed
            # as not read, only in the archived copy): a small table, one scan
            _keep_columns(
                stage,
                g,
                t,
                g.unknown_columns,
                f"'van:' || cb_id({c('eventid')})",
                "st_event_field SELECT __ref, 'van'",
            )
        events = stage.tmp_name("evrows")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {events} AS {' UNION ALL '.join(parts)}")
        # an event date not read dated its signups by their creation date, silently.
        # The event is kept (its title, type, signups and fields), so its date alone is
        # rejected, as a value (as a row, the events table's rows did not add up)
        con.execute(
            f"""INSERT INTO st_value_reject SELECT file_no, rec, NULL, 'dateoffsetbegin',
                {sql_str(EVENT_DATE_UNREAD)} FROM {events}
                WHERE start_raw IS NOT NULL AND start_at IS NULL"""
        )
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {ev} AS SELECT k,
            {LATEST.format("title")} title, {LATEST.format("etype")} etype,
            {LATEST.format("start_at")} start_at
            FROM {events} WHERE k IS NOT NULL GROUP BY k""")
        # every row: the event is its latest row's (as the sync takes each event), and
        # its fields are those of the latest file that has it (merge's
        # _event_fields_follow_records)
        con.execute(f"""INSERT INTO st_event SELECT 'van:' || k, 'van', title, etype, start_at,
            file_no, rec FROM {events} WHERE k IS NOT NULL; DROP TABLE {events}""")
    elif "eventsignups" in groups:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {ev} (k VARCHAR, start_at TIMESTAMPTZ)")
        groups["eventsignups"][0].notes.append(
            "no events table: signups are dated by their creation date"
        )
    if "eventsignups" in groups:
        # every signups file at once
        c = files("eventsignups")
        sel = f"""SELECT r.__rec{c.file("r.")}, cb_id({c("vanid", p="r.")}) AS ref,
            coalesce(cb_id({c("eventsignupid", p="r.")}),
                     md5(concat_ws('|', {c("vanid", p="r.")}, {c("eventid", p="r.")},
                                   {c("eventshiftid", p="r.")}))) AS sid,
            cb_id({c("eventid", p="r.")}) AS eid,
            {_status_sql(f"{c('eventstatusname', p='r.')}", VAN_STATUS)} AS st,
            lower(cb_s({c("eventrolename", p="r.")})) AS __role,
            cb_ts({c("datecreated", p="r.")}) AS created_at,
            cb_ts({c("datemodified", p="r.")}) AS modified_at
            FROM ({c.source()}) r"""
        sel = f"""SELECT t.* EXCLUDE (__role), e.start_at,
            CASE WHEN t.__role = 'host' THEN 'host'
                 WHEN contains(coalesce(t.__role, ''), 'lead') THEN 'lead'
                 ELSE 'attendee' END AS role
            FROM ({sel}) t LEFT JOIN {ev} e ON e.k = t.eid"""
        emit(
            "eventsignups",
            sel,
            [
                ("ref IS NULL", "vanid", "missing vanid"),
                ("eid IS NULL", "eventid", "missing eventid"),
                (
                    "st IS NULL",
                    "eventstatusname",
                    "unknown event signup status (expected Scheduled, Confirmed, Completed, "
                    "No Show, Declined, Invited, Cancelled or Walk In)",
                ),
                (
                    "coalesce(start_at, created_at) IS NULL",
                    "eventid",
                    "no date: the event is not in the events table and datecreated is empty",
                ),
            ],
            {
                "st_activity": """'van:es:' || x.sid, 'van', x.sid, 'van', x.ref, 'attendance',
                  coalesce(x.start_at, x.created_at), coalesce(x.modified_at, x.created_at),
                  x.st, CASE WHEN x.st IN ('completed', 'walk_in') THEN TRUE
                             WHEN x.st = 'no_show' THEN FALSE END,
                  'van:' || x.eid, 'in_person', x.role, NULL, NULL, NULL, NULL"""
            },
        )

    if "contributions" in groups:
        c = files("contributions")
        sel = f"""SELECT __rec{c.file()}, cb_id({c("vanid")}) AS ref,
            coalesce(cb_id({c("contributionid")}),
                     md5(concat_ws('|', {c("vanid")}, {c("amount")}, {c("datereceived")}))) AS cid,
            cb_s({c("amount")}) AS amt_raw,
            cb_amount({c("amount")}) AS amt,
            cb_s({c("datereceived")}) AS when_raw, cb_ts({c("datereceived")}) AS ts
            FROM ({c.source()})"""
        emit(
            "contributions",
            sel,
            [
                ("ref IS NULL", "vanid", "missing vanid"),
                ("amt IS NULL", "amount", "amount is not a number"),
                ("when_raw IS NULL", "datereceived", "missing datereceived"),
                ("ts IS NULL", "datereceived", BAD_DATE),
            ],
            {
                "st_activity": """'van:ct:' || x.cid, 'van', x.cid, 'van', x.ref, 'donation', x.ts,
                  NULL, NULL, NULL, NULL, NULL, NULL, NULL, x.amt, NULL, NULL"""
            },
        )

    if loaded:  # (in one call: a call each cost ~0.3 ms)
        con.execute("".join(f"DROP TABLE IF EXISTS {t};" for t, _cols in loaded.values()))


# --------------------------------------------------------------------------- Spoke

SPOKE_CONTACT_KNOWN = {
    "campaignid",
    "campaign",
    "assignmentid",
    "texter[firstname]",
    "texter[lastname]",
    "contact[firstname]",
    "contact[lastname]",
    "contact[cell]",
    "contact[zip]",
    "contact[optout]",
    "contact[messagestatus]",
    "contact[external_id]",
    "tags",
    "texter[alias]",
    # the texter's own email and phones (a staff member's, not the contact's: kept as
    # the contact's custom fields they put one texter's details on every contact)
    "texter[email]",
    "texter[cell]",
    "texter[assignedcell]",
    "contact[city]",
    "contact[state]",
}
SPOKE_MESSAGE_KNOWN = {
    "campaignid",
    "contactnumber",
    "usernumber",
    "isfromcontact",
    "sendstatus",
    "attemptedat",
    "text",
    "errorcode",
    "campaign",
    "assignmentid",
    "texter[firstname]",
    "texter[lastname]",
    # Spoke Rewired's messages export (the texter of each message, the message's size)
    "texter[email]",
    "texter[cell]",
    "numsegments",
    "nummedia",
    "errorcodes",
}

# Spoke's sendStatus of an outbound message that reached nobody (of QUEUED, SENDING,
# SENT, DELIVERED, ERROR, PAUSED, NOT_ATTEMPTED): not an attempt to reach the person
SPOKE_UNSENT = ("ERROR", "NOT_ATTEMPTED", "PAUSED", "QUEUED", "SENDING")


def _note_spoke_unsent(files: list[FileInfo], counts: list[tuple]) -> None:
    """Leave the outbound texts that were not sent out of each messages file's rows,
    with a note saying how many and why (``counts``: file number, or None for the one
    file, sendStatus, rows)."""
    per_file: dict[int, list[tuple[str, int]]] = {}
    for file_no, status, n in counts:
        per_file.setdefault(files[0].file_no if file_no is None else file_no, []).append(
            (status, n)
        )
    for f in files:
        if f.file_no not in per_file:
            continue
        said = per_file[f.file_no]
        total = sum(n for _, n in said)
        f.rows_left_out += total
        statuses = ", ".join(f"{status}: {n}" for status, n in said)
        f.notes.append(
            f"{total} outgoing text(s) were not sent (sendStatus {statuses}) and were "
            "left out: they are not contact attempts and do not count in the reply rate; "
            "a text Spoke still sends (QUEUED, SENDING) counts once the campaign's "
            "messages are exported again after it went out"
        )


def _spoke_texter(first: str, last: str) -> str:
    """The digest of the texter's names, NULL without them: Spoke Rewired's contacts
    export has no texter columns, and the hash of no name gave every text and survey
    answer of such a campaign one made-up organizer (none was missing an organizer in
    the improve report). Stored salted (:func:`_spoke_organizer`)."""
    names = f"nullif(lower(concat_ws(' ', cb_s({first}), cb_s({last}))), '')"
    return f"substr(md5({names}), 1, 12)"


def _spoke_organizer(digest: str) -> str:
    """The organizer id of a texter from the digest of the texter's names: salted, as the
    store keeps a digest (``store.salted_digest_sql``), the names being often a member's.
    (Applied once a contact, not on each of its messages.)"""
    return f"{sql_str(TEXTER_PREFIX)} || cb_digest({digest})"


def read_spoke(stage: Stage, source: Source, files: list[FileInfo], org: Organization) -> None:
    con = stage.con
    contacts, messages = [], []
    for f in files:
        table, cols = stage.load_csv(
            f,
            known=SPOKE_CONTACT_KNOWN | SPOKE_MESSAGE_KNOWN,
            encoding=source.encoding,
            delimiter=source.delimiter,
            what="Spoke export",
        )
        lower = {c.lower() for c in cols}
        if "contact[cell]" in lower:
            f.role = "contacts"
            contacts.append((f, table, cols))
        elif "contactnumber" in lower:
            f.role = "messages"
            messages.append((f, table, cols))
        else:
            raise stage.error(
                f,
                "is neither a Spoke contacts export (with contact[cell]) nor a messages "
                "export (with contactNumber)",
                "download the campaign's contacts and messages exports from Spoke's "
                "campaign page and put them in this folder unchanged.",
            )
    # messages: first outbound time, last inbound time, per (campaign, cell)
    msg = stage.tmp_name("msg")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {msg} (campaign_id VARCHAR, cell VARCHAR,
        first_out TIMESTAMPTZ, last_in TIMESTAMPTZ, replied BOOLEAN, texter VARCHAR)""")
    if messages:  # every messages file at once
        for f, _table, cols in messages:
            stage.unknown(f, cols, SPOKE_MESSAGE_KNOWN)
        c = _Files(stage, messages)
        t = stage.tmp_name("m")
        unsent = ", ".join(sql_str(s) for s in SPOKE_UNSENT)
        sel = f"""SELECT __rec{c.file()}, cb_id({c("campaignId")}) AS campaign_id,
            cb_phone({c("contactNumber")}) AS cell, cb_bool({c("isFromContact")}) AS inbound,
            cb_s({c("attemptedAt")}) AS at_raw, cb_ts({c("attemptedAt")}) AS ts,
            upper(trim(coalesce(cb_s({c("text")}), ''))) IN ('STOP', 'STOP ALL', 'UNSUBSCRIBE',
                'QUIT', 'CANCEL', 'END') AS stop,
            upper(trim(cb_s({c("sendStatus")}))) AS send_status,
            {_spoke_texter(c("texter[firstName]"), c("texter[lastName]"))} AS texter
            FROM ({c.source()})"""
        checks = [
            ("cell IS NULL", "contactNumber", "contactNumber is not a phone number"),
            ("at_raw IS NULL", "attemptedAt", "missing attemptedAt"),
            ("ts IS NULL", "attemptedAt", BAD_DATE),
        ]
        fno = "x.__file" if len(messages) > 1 else str(messages[0][0].file_no)
        statements = _typed(t, sel, checks, fno)
        # an outbound text counts (as the first attempt) only if it was sent: one that
        # failed (ERROR), waits (QUEUED, SENDING, PAUSED) or never went
        # (NOT_ATTEMPTED) reached nobody; an export without sendStatus counts them all
        statements.append(f"""INSERT INTO {msg} SELECT campaign_id, cell,
            min(ts) FILTER (WHERE NOT coalesce(inbound, FALSE)
                AND coalesce(send_status NOT IN ({unsent}), TRUE)),
            max(ts) FILTER (WHERE inbound AND NOT stop),
            bool_or(inbound AND NOT stop),
            -- the texter of the first text sent (Spoke Rewired names the texter on each
            -- message, not on the contact)
            arg_min(texter, ts) FILTER (WHERE NOT coalesce(inbound, FALSE)
                AND coalesce(send_status NOT IN ({unsent}), TRUE) AND texter IS NOT NULL)
            FROM {t} WHERE cell IS NOT NULL AND ts IS NOT NULL
            GROUP BY ALL""")
        statements.append(f"""SELECT {"__file" if len(messages) > 1 else "NULL"},
            send_status, count(*) FROM {t}
            WHERE cell IS NOT NULL AND ts IS NOT NULL AND NOT coalesce(inbound, FALSE)
              AND send_status IN ({unsent})
            GROUP BY ALL ORDER BY 1, 3 DESC, 2""")
        unsent_counts = con.execute(";\n".join(statements)).fetchall()
        _note_spoke_unsent([f for f, _t, _c in messages], unsent_counts)
        drops = [f"DROP TABLE {t}", *(f"DROP TABLE {table}" for _f, table, _c in messages)]
        con.execute(";\n".join(drops))
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {msg}_g AS SELECT campaign_id, cell,
        min(first_out) first_out, max(last_in) last_in, bool_or(replied) replied,
        arg_min(texter, first_out) FILTER (WHERE texter IS NOT NULL) texter
        FROM {msg} GROUP BY ALL""")
    if contacts:
        _spoke_contacts(stage, contacts, msg, any(s.kind == "van" for s in org.sources))


def person_references(files: list[FileInfo]) -> str:
    """The SQL condition on ``st_person`` that a staged record only names another tool's
    id (a Spoke contact's contact[external_id], a VAN id): it links the contact to the
    VAN person, and is not a VAN record (merge.resolve_identities: identity.listed)."""
    spoke = [str(f.file_no) for f in files if f.source_kind == "spoke" and not f.carried]
    if not spoke:
        return "FALSE"
    return f"source = 'van' AND file_no IN ({', '.join(spoke)})"


def _spoke_contacts(
    stage: Stage, contacts: list[tuple[FileInfo, str, list[str]]], msg: str, has_van: bool
) -> None:
    """Every contacts file at once; the answers to each question ride along as columns,
    and each question's activities are read from the typed rows (the cell and campaign
    computed once, not again per question)."""
    con = stage.con
    questions: list[str] = []  # each question's column as its files name it
    for f, _table, cols in contacts:
        stage.unknown(f, cols, SPOKE_CONTACT_KNOWN)
        asked = [c for c in cols if c.lower().startswith("question[")]
        f.unknown_columns = [u for u in f.unknown_columns if u not in asked]
        questions += [q for q in asked if q not in questions]
    c = _Files(stage, contacts)
    answers = "".join(f", cb_s({c.named(q)}) AS __q{i}" for i, q in enumerate(questions))
    sel = f"""SELECT __rec{c.file()}, cb_id({c("campaignId")}) AS campaign_id,
        cb_s({c("campaign")}) AS campaign, cb_phone({c("contact[cell]")}) AS cell,
        cb_s({c("contact[cell]")}) AS cell_raw,
        cb_s({c("contact[firstName]")}) AS first_name,
        cb_s({c("contact[lastName]")}) AS last_name, cb_s({c("contact[zip]")}) AS zip,
        cb_bool({c("contact[optOut]")}) AS opt_out,
        lower(cb_s({c("contact[messageStatus]")})) AS status,
        cb_id({c("contact[external_id]")}) AS external_id,
        {_spoke_texter(c("texter[firstName]"), c("texter[lastName]"))} AS __texter{answers}
        FROM ({c.source()})"""
    # the contact is named by its cell's salted hash (``key``): the cell itself is kept
    # in person_pii only
    sel = f"""SELECT r.* EXCLUDE (__texter), cb_key(r.cell) AS key, m.first_out, m.last_in,
            coalesce(m.replied, FALSE) AS replied,
            {_spoke_organizer("coalesce(r.__texter, m.texter)")} AS texter
        FROM ({sel}) r LEFT JOIN {msg}_g m ON m.campaign_id = r.campaign_id
            AND m.cell = r.cell"""
    inserts = {
        "st_person": """'spoke', x.key, NULL, x.cell, x.first_name, x.last_name, NULL,
            x.zip, NULL, NULL, CASE WHEN x.opt_out THEN FALSE END, NULL, x.first_out""",
        # (sms_ok: opting out says no; not opting out of a text is not a yes, and as
        # TRUE it overwrote an unsubscribe the person had made in another tool)
        "st_attempt": """'spoke:' || coalesce(x.campaign_id, '') || ':' || x.key, 'spoke',
            'spoke', x.key, 'text', x.status, x.first_out,
            coalesce(x.campaign_id || ' ' || x.campaign, x.campaign, x.campaign_id),
            x.replied OR x.status IN ('convo', 'needsresponse'),
            x.replied OR x.status IN ('convo', 'needsresponse'),
            coalesce(x.opt_out, FALSE), x.texter
            WHERE x.first_out IS NOT NULL AND coalesce(x.status, '') <> 'needsmessage'""",
    }
    if has_van:  # contact[external_id] is the VAN id: a source-id match across tools
        inserts["st_person#van"] = """'van', x.external_id, NULL, x.cell, x.first_name,
            x.last_name, NULL, x.zip, NULL, NULL, NULL, NULL, NULL
            WHERE x.external_id IS NOT NULL AND x.cell IS NOT NULL"""
    typed = _emit(
        stage,
        contacts[0][0],
        sel,
        [
            ("cell_raw IS NULL", "contact[cell]", "missing contact[cell]"),
            ("cell IS NULL", "contact[cell]", "contact[cell] is not a phone number"),
        ],
        inserts,
        keep=True,
    )
    # an answer is a survey response of the texted person, dated by the conversation
    # (rows without a phone number are the rejected ones: every other row has one)
    fno = "x.__file" if len(contacts) > 1 else str(contacts[0][0].file_no)
    answered = [
        f"""INSERT INTO st_activity_t SELECT
            'spoke:q:' || coalesce(x.campaign_id, '') || ':' || x.key || ':'
                || substr(md5({sql_str(q[len("question[") : -1] if q.endswith("]") else q)}), 1, 10),
            'spoke', NULL, 'spoke', x.key, 'survey_response',
            coalesce(x.last_in, x.first_out), NULL, NULL, NULL, NULL, 'text', NULL,
            x.__q{i}, NULL, NULL, x.texter, {fno}, x.__rec
            FROM {typed} x
            WHERE x.__q{i} IS NOT NULL AND x.cell IS NOT NULL
              AND coalesce(x.last_in, x.first_out) IS NOT NULL"""
        for i, q in enumerate(questions)
    ]
    if answered:
        con.execute(";\n".join(answered))
    _drop_typed(stage, typed)
    for f, table, cols in contacts:
        keep = f.unknown_columns + [k for k in cols if k.lower() == "tags"]
        ref = f"cb_phone({stage.col(cols, 'contact[cell]')})"
        _custom(stage, f, table, keep, "spoke", ref, key=True)
        con.execute(f"DROP TABLE {table}")


# --------------------------------------------------------------------------- Action Builder

AB_KEYS = OSDI_PERSON_KEYS | {
    "action_builder:latest_assessment",
    "action_builder:latest_assessment_created_date",
    "action_builder:latest_assessment_date",
    "action_builder:latest_assessment_at",
    "action_builder:connections_count",
    "action_builder:connections",
    "action_builder:entity_type",
    "action_builder:name",
    "person_type",
    "action_builder:identifier",
}


# Action Builder's people endpoint returns every entity of the campaign: workplaces,
# union locals and the like are entities beside the people, each with its type (read
# here outside the SELECT that _json_fields_once rewrites)
AB_ENTITY_TYPE = """cb_s(json_extract_string(j, '$."action_builder:entity_type"'))"""
AB_PERSON_TYPES = ("Person",)


def _ab_people_only(stage: Stage, files: list[FileInfo], table: str, source: Source) -> str:
    """The condition that an entity is a person (its type is one of the source's
    ``entity_types``, or it has none), and a note on each file counting the entities of
    other types, which are not read. Read as people, a worksite was a new person with
    the switchboard's phone, merged with every worker who gave that number."""
    types = [t.strip().lower() for t in (source.entity_types or AB_PERSON_TYPES)]
    listed = ", ".join(sql_str(t) for t in types)
    is_person = f"({AB_ENTITY_TYPE} IS NULL OR lower(trim({AB_ENTITY_TYPE})) IN ({listed}))"
    others: dict[int, list[tuple[str, int]]] = {}
    for file_no, kind, n in stage.con.execute(
        f"""SELECT file_no, {AB_ENTITY_TYPE}, count(*) FROM {table} WHERE NOT {is_person}
            GROUP BY ALL ORDER BY 1, 3 DESC, 2"""
    ).fetchall():
        others.setdefault(file_no, []).append((kind, n))
    for f in files:
        if f.file_no in others:
            counts = others[f.file_no]
            f.rows_left_out += sum(n for _, n in counts)
            said = ", ".join(f"{kind}: {n}" for kind, n in counts)
            f.notes.append(
                f"{sum(n for _, n in counts)} entities are not people ({said}) and were not "
                "read; if a type names people, list it in this source's entity_types in "
                "cohort.yml (now: " + ", ".join(source.entity_types or AB_PERSON_TYPES) + ")"
            )
    return is_person


UNDATED_ASSESSMENT = "action_builder:latest_assessment"


def _undated_assessments(stage: Stage, files: list[FileInfo], typed: str) -> None:
    """A kept entity's assessment without any date (no latest_assessment date and no
    modified_date) is no activity: a ladder counts assessments within a window. The
    person is kept (the whole entity was rejected for it), the score is kept as the
    person's custom field, and a note on the file counts such records and names the
    first of them (record positions, never a member's values)."""
    undated = """__which IS NULL AND score IS NOT NULL AND own_date IS NULL
        AND modified_at IS NULL AND ref IS NOT NULL"""
    stage.con.execute(
        f"""INSERT INTO st_custom SELECT 'action_builder', ref, 'action_builder',
                {sql_str(UNDATED_ASSESSMENT)}, score_raw, __file, __rec
            FROM {typed} WHERE {undated}"""
    )
    counts = stage.con.execute(
        f"""SELECT __file, count(*), list(__rec + 1 ORDER BY __rec)[1:5] FROM {typed}
            WHERE {undated} GROUP BY ALL"""
    ).fetchall()
    by_file = {file_no: (n, records) for file_no, n, records in counts}
    for f in files:
        if f.file_no not in by_file:
            continue
        n, records = by_file[f.file_no]
        shown = ", ".join(map(str, records)) + (" …" if n > len(records) else "")
        f.notes.append(
            f"{n} assessment(s) have no date (record(s) {shown}: neither "
            "latest_assessment_created_date nor modified_date): the people are kept and "
            f"each score is kept as their custom field '{UNDATED_ASSESSMENT}', but it is "
            "not an assessment activity and counts toward no rung; export the entities "
            "again from Action Builder with their assessment dates"
        )


# an assessment that is not a number ("high"): its value alone is rejected
ASSESSMENT_NOT_A_NUMBER = (
    "assessment is not a number: the person is kept, without this assessment (its text "
    f"is kept as their custom field '{UNDATED_ASSESSMENT}')"
)


def _unread_assessments(stage: Stage, typed: str) -> None:
    """A kept entity's assessment that is not a number ("high", "3 - active"): the
    whole entity was rejected for it, the person, their email and name lost for one
    field. The person is kept; the value alone is rejected (its file, record and
    column, in the rejects, not counted as a rejected record) and its text kept as the
    person's custom field, as an undated score is."""
    unread = "__which IS NULL AND score_raw IS NOT NULL AND score IS NULL AND ref IS NOT NULL"
    stage.con.execute(
        f"""INSERT INTO st_value_reject SELECT __file, __rec, NULL,
                {sql_str(UNDATED_ASSESSMENT)}, {sql_str(ASSESSMENT_NOT_A_NUMBER)}
            FROM {typed} WHERE {unread};
            INSERT INTO st_custom SELECT 'action_builder', ref, 'action_builder',
                {sql_str(UNDATED_ASSESSMENT)}, score_raw, __file, __rec
            FROM {typed} WHERE {unread}"""
    )


def read_action_builder(stage: Stage, source: Source, files: list[FileInfo], org) -> None:
    table = stage.load_json_records(files, "$._embedded.*[*]")
    stage.json_unknown_keys(files, AB_KEYS, stage.json_keys(table))
    for f in files:
        f.role = "entities"
    if files:
        people = _ab_people_only(stage, files, table, source)
        extra = """, js(j, '$."action_builder:latest_assessment"') AS score_raw,
            TRY_CAST(js(j, '$."action_builder:latest_assessment"') AS DOUBLE) AS score,
            coalesce(cb_ts(js(j, '$."action_builder:latest_assessment_created_date"')),
                     cb_ts(js(j, '$."action_builder:latest_assessment_date"')),
                     cb_ts(js(j, '$."action_builder:latest_assessment_at"'))) AS own_date,
            cb_ts(js(j, '$.modified_date')) AS modified_at"""
        typed = _person_from_osdi(
            stage,
            files,
            table,
            "action_builder",
            "action_builder",
            extra_sel=extra,
            extra_inserts={
                # Action Builder dates an assessment in latest_assessment_created_date
                # (read as modified_date before: every export after an edit of the
                # entity, a tag or a phone, added the same assessment again, on a later
                # date). Without a date of its own it is dated by the entity's last
                # change and named by its score, so a later export moves it rather than
                # adding another.
                "st_activity": """'ab:assess:' || x.ref || ':' || coalesce(strftime(
                    x.own_date AT TIME ZONE 'UTC', '%Y%m%d%H%M%S'), 'score-' || x.score),
                    'action_builder', x.ref, 'action_builder', x.ref, 'assessment',
                    coalesce(x.own_date, x.modified_at), NULL, NULL, NULL, NULL, NULL, NULL,
                    NULL, NULL, x.score, NULL
                    WHERE x.score IS NOT NULL AND coalesce(x.own_date, x.modified_at) IS NOT NULL"""
            },
            where=people,
            pick=True,
            keep=True,
        )
        _undated_assessments(stage, files, typed)
        _unread_assessments(stage, typed)
        _drop_typed(stage, typed)
        _keep_json_keys(
            stage,
            files,
            table,
            "action_builder",
            f"nullif({_osdi_id('action_builder')}, '')",
            where=people,
        )
        stage.list_custom_fields(files)


# --------------------------------------------------------------------------- generic CSV


def generic_source_name(source: Source) -> str:
    return source.sheet_name


# Slash dates as people type them in a spreadsheet: month first (cb_ts, as US tools
# write them) unless the sheet's own values show day first (cb_ts_dmy)
# (with the same times as cb_ts reads after a slash date: "13/04/2026 4:00 PM" was not
# seen as day first, and a day-first sheet's "12/08/2026 4:00 PM" was read as December)
DAY_FIRST = sql_list([*slash_formats("%d/%m", "%Y"), *slash_formats("%d/%m", "%y")])
MONTH_FIRST = sql_list([*slash_formats("%m/%d", "%Y"), *slash_formats("%m/%d", "%y")])


def _day_first(stage: Stage, f: FileInfo, table: str, columns: list[str]) -> bool:
    """Whether a spreadsheet's slash dates are day first: some value is a date only read
    that way (13/04/2026) and none only month first. Read month first, such a sheet had
    its 13th-31st rejected and its 1st-12th silently on the wrong month (03/04/2026 as
    March 4). A sheet with both kinds keeps month first and says so. Either way a note
    on the file asks for the source's ``date_format``."""
    if not columns:
        return False
    # (each value without the time zone its time may end with: "13/08/2026 4:00 PM EDT")
    values = " UNION ALL ".join(
        f"SELECT cb_s({c}) AS v, cb_bare(cb_s({c})) AS b FROM {table}" for c in columns
    )
    day_only, month_only, day_example, month_example, either, either_example = stage.con.execute(
        f"""SELECT count(*) FILTER (WHERE d AND NOT m), count(*) FILTER (WHERE m AND NOT d),
                   min(v) FILTER (WHERE d AND NOT m), min(v) FILTER (WHERE m AND NOT d),
                   count(*) FILTER (WHERE d AND m), min(v) FILTER (WHERE d AND m)
            FROM (SELECT v, try_strptime(b, {DAY_FIRST}) IS NOT NULL AS d,
                         try_strptime(b, {MONTH_FIRST}) IS NOT NULL AS m
                  FROM ({values}) WHERE v LIKE '%/%')"""
    ).fetchone()
    if not day_only and not month_only and either:
        # every slash date reads both ways (03/04/2026): a sheet typed day first in its
        # first twelve days of each month was read month first without a word
        f.notes.append(
            f"dates read month first (MM/DD/YYYY), as US tools write them: none of the "
            f"{either} slash date(s), such as '{either_example}', shows which comes first; "
            "if the sheet writes the day first, set date_format: '%d/%m/%Y' on this "
            "source in cohort.yml"
        )
    if not day_only:
        return False
    if month_only:
        f.notes.append(
            f"dates are written both ways ('{month_example}' is month first, "
            f"'{day_example}' day first): read month first, so {day_only} date(s) only "
            "valid day first are rejected; set date_format on this source in cohort.yml "
            "(e.g. '%d/%m/%Y') and make the sheet's dates agree"
        )
        return False
    f.notes.append(
        f"dates read day first (DD/MM/YYYY): {day_only} value(s) such as '{day_example}' "
        "are only valid that way; set date_format: '%d/%m/%Y' on this source in "
        "cohort.yml to say so"
    )
    return True


def _marks_who_came(stage: Stage, f: FileInfo, table: str, column: str, name: str) -> bool:
    """Whether a sheet's mapped 'attended' column marks who came: some rows have a mark
    and some are blank. Its blanks are then who did not come (no_show), said in a note;
    they counted as attended, and a sign-up sheet with ticks showed everyone came."""
    marked, blank = stage.con.execute(
        f"SELECT count(cb_s({column})), count(*) - count(cb_s({column})) FROM {table}"
    ).fetchone()
    if not (marked and blank):
        return False
    f.notes.append(
        f"{blank} row(s) have no mark in '{name}': read as did not come (no show), as the "
        "column marks who came"
    )
    return True


TITLE_LINES_LOOKED_AT = 20


def _header_below_a_title(f: FileInfo, names: list[str], source: Source) -> int:
    """How many lines sit above the sheet's header row, when its first line is not the
    header but one of the next few has every mapped column (a title above the header,
    as sign-in sheets often have); 0 otherwise. Read as the file will be: in the
    source's encoding, else UTF-16 when it starts with UTF-16's byte-order mark (a
    spreadsheet's "Unicode Text"), else UTF-8, else Windows-1252; split by the source's
    delimiter, else by commas or tabs (a title line has no tab to tell)."""
    wanted = {name.strip().lower() for name in names}
    with open(f.path, "rb") as handle:
        head = handle.read(256 * 1024)
    try:
        if source.encoding is None and head.startswith(UTF16_BOMS):
            # decoded as UTF-8 (then Windows-1252), no line had the mapped columns: a
            # titled sheet saved as Unicode Text was refused as lacking them
            text = head.decode("utf-16", errors="replace")  # (a character cut at the end)
        else:
            text = head.decode(source.encoding or "utf-8-sig")
    except UnicodeDecodeError:  # (or a character cut at the end of the bytes read)
        # as the sync will read it: UTF-8, its other bytes as Windows-1252, without the
        # UTF-8 BOM (decoded whole as Windows-1252, a BOM made the header "ï»¿Email",
        # and a header line repeated below it was taken for the header, the rows above
        # it for a title)
        text = head.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors=CP1252_FALLBACK)
    except LookupError:
        text = head.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()[:TITLE_LINES_LOOKED_AT]
    delimiters = [source.delimiter] if source.delimiter else [",", "\t"]
    for at, line in enumerate(lines):
        for sep in delimiters:
            row = next(csv.reader([line], delimiter=sep), [])
            if wanted <= {cell.strip().lower() for cell in row}:
                return at  # 0: the first line is the header
    return 0


# A sheet's attendance statuses as people write them ("Attended", "No-show", "RSVP'd",
# "Walk-in"), lowercased with every run of other characters made one '_': a sign-in
# sheet of "Attended" and "Absent" had every row rejected
SHEET_STATUS = {
    **{status: status for status in ATTENDANCE_STATUSES},
    **dict.fromkeys(("rsvp", "rsvpd", "rsvped", "signed_up", "going", "scheduled"), "registered"),
    "canceled": "cancelled",
    **dict.fromkeys(
        ("attended", "present", "came", "showed", "showed_up", "checked_in"), "completed"
    ),
    **dict.fromkeys(("noshow", "absent", "did_not_come", "didnt_come", "missed"), "no_show"),
    "not_going": "declined",
    **dict.fromkeys(("walkin", "walked_in"), "walk_in"),
}


# A sheet's attended column in words as well as yes and no: "Present", "Absent"
SHEET_ATTENDED = {
    **dict.fromkeys(("present", "attended", "came", "here"), True),
    **dict.fromkeys(("absent", "no_show", "noshow", "missed"), False),
}


def _sheet_words(column: str) -> str:
    """The value lowercased, apostrophes dropped (chr(39): "RSVP'd"), every run of other
    characters one '_'."""
    return (
        f"trim(regexp_replace(replace(lower(cb_s({column})), chr(39), ''), "
        "'[^a-z0-9]+', '_', 'g'), '_')"
    )


def _sheet_status(column: str) -> str:
    return _lookup_sql(SHEET_STATUS, _sheet_words(column))


def _sheet_attended(column: str) -> str:
    return f"coalesce(cb_bool({column}), {_lookup_sql(SHEET_ATTENDED, _sheet_words(column))})"


PERMISSION_FIELDS = ("email_ok", "sms_ok", "do_not_contact")
# a number as a spreadsheet shows it when it has too many digits: 1.23457E+11
SCIENTIFIC = r"[0-9](\.[0-9]+)?[eE]\+?[0-9]+"


def _unread_permissions(
    stage: Stage, f: FileInfo, table: str, columns: dict[str, str], mapping: dict[str, str]
) -> None:
    """A permission that is not a yes or no ('maybe', 'ask first') is kept as unknown,
    the row with it: counted in a note, as the readers count unreadable emails."""
    if not columns:
        return
    counts = stage.con.execute(
        "SELECT "
        + ", ".join(
            f"count(*) FILTER (WHERE cb_s({col}) IS NOT NULL AND cb_bool({col}) IS NULL)"
            for col in columns.values()
        )
        + f" FROM {table}"
    ).fetchone()
    for field, n in zip(columns, counts, strict=True):
        if n:
            f.notes.append(
                f"{n} value(s) of '{mapping[field]}' are not a yes or no: read as unknown"
            )


def read_generic_csv(stage: Stage, source: Source, files: list[FileInfo], org) -> None:
    mapping = dict(source.columns or {})  # its fields are checked in config.Source
    name = generic_source_name(source)
    for f in files:
        # A sheet with a title (and often a blank row) above its header is read from the
        # header, and says which lines were not read. Looked for before the file is read:
        # a title such as "Roster; bring snacks" would make it a ';' file.
        header_at = _header_below_a_title(f, list(mapping.values()), source)
        table, cols = stage.load_csv(
            f,
            encoding=source.encoding,
            delimiter=source.delimiter,
            what="spreadsheet",
            skip=header_at,
        )
        lower = {c.lower(): c for c in cols}
        missing = [f"{k}: {v}" for k, v in mapping.items() if v.lower() not in lower]
        if header_at:
            f.notes.append(
                f"the header is on line {header_at + 1}: the {header_at} line(s) above it "
                "(a title) were not read"
            )
        if missing:
            raise stage.error(
                f,
                "the spreadsheet lacks the mapped column(s) " + "; ".join(missing),
                "fix the 'columns' mapping of this source in cohort.yml to the sheet's "
                "header names, or rename the sheet's columns.",
            )
        if not ({"person_id", "email", "phone"} & set(mapping)):
            raise stage.error(
                f,
                "the column mapping has no person_id, email or phone column",
                "map at least one of person_id, email, phone in cohort.yml.",
            )
        m = {k: ident(lower[v.lower()]) for k, v in mapping.items()}
        g = lambda k, m=m: m.get(k, "NULL")  # noqa: E731
        f.unknown_columns = [
            c for c in cols if c.lower() not in {v.lower() for v in mapping.values()}
        ]
        day_first = not source.date_format and _day_first(
            stage, f, table, [m[k] for k in ("occurred_at", "recorded_at") if k in m]
        )

        def when(column: str, day_first: bool = day_first) -> str:
            if source.date_format:
                # a cell Excel saved as its serial day number (a column of dates pasted
                # in as numbers) means one date, whatever the format: it was rejected
                return (
                    f"coalesce(cb_sane(CAST(try_strptime(cb_s({column}), "
                    f"{sql_str(source.date_format)}) AS TIMESTAMPTZ)), {excel_serial_sql(column)})"
                )
            if day_first:
                # (a value only valid month first, 08/13/2026, is read so, as before)
                return f"coalesce(cb_ts_dmy({column}), cb_ts({column}))"
            return f"cb_ts({column})"

        date = when(g("occurred_at"))
        # typed by people: "One on One", "one-on-one", "1:1" and "Survey Response" were
        # rejected for not being one_on_one and survey_response
        typed = f"regexp_replace(lower(cb_s({g('type')})), '[ -]+', '_', 'g')"
        type_sql = f"""CASE WHEN {typed} IN ('1:1', '1_on_1', '1on1', 'one_to_one')
                          THEN 'one_on_one' ELSE {typed} END"""
        if source.activity_type:
            # the sheet's own type column wins on each row; activity_type fills its empty
            # cells (it replaced the column: a "One on One" row was read as attendance)
            type_sql = f"coalesce({type_sql}, {sql_str(source.activity_type)})"
        attended_sql = _sheet_attended(g("attended"))
        if "attended" in m and _marks_who_came(stage, f, table, m["attended"], mapping["attended"]):
            attended_sql = (
                f"coalesce({_sheet_attended(m['attended'])}, "
                f"CASE WHEN cb_s({m['attended']}) IS NULL THEN FALSE END)"
            )
        # a sheet without an id column names its people by their email or phone: kept
        # as its salted hash (cb_key)
        ref = f"coalesce(cb_id({g('person_id')}), cb_email({g('email')}), cb_phone({g('phone')}))"
        sel = f"""SELECT rowid AS __rec, cb_id({g("person_id")}) AS __pid,
            cb_s({g("person_id")}) AS __pid_raw,
            cb_email({g("email")}) AS email, cb_phone({g("phone")}) AS phone, cb_s({g("first_name")}) AS first_name,
            cb_s({g("email")}) AS email_raw, cb_s({g("phone")}) AS phone_raw,
            cb_s({g("last_name")}) AS last_name, cb_s({g("address")}) AS address,
            cb_s({g("zip")}) AS zip, cb_s({g("state")}) AS state,
            cb_s({g("occurred_at")}) AS at_raw, {date} AS ts, {type_sql} AS type,
            cb_s({g("event")}) AS event, {_sheet_status(g("status"))} AS st,
            cb_s({g("status")}) AS st_raw,
            {attended_sql} AS att, cb_s({g("attended")}) AS att_raw, cb_s({g("amount")}) AS amt_raw,
            cb_amount({g("amount")}) AS amt,
            lower(cb_s({g("role")})) AS role, cb_s({g("result")}) AS result,
            cb_s({g("organizer")}) AS organizer, {when(g("recorded_at"))} AS recorded_at,
            cb_bool({g("email_ok")}) AS email_ok, cb_bool({g("sms_ok")}) AS sms_ok,
            cb_bool({g("do_not_contact")}) AS dnc
            FROM {table}"""
        # the person reference of the values computed above (their macros planned once)
        # (``__raw_ref``, the unhashed one, names the activities as before: their ids
        # are salted digests of the digests made of it then, and a store's are kept)
        sel = f"""SELECT *, cb_key(__raw_ref) AS ref
            FROM (SELECT *, coalesce(__pid, email, phone) AS __raw_ref FROM ({sel}))"""
        types = ", ".join(sql_str(t) for t in ACTIVITY_TYPES)
        has_date = "occurred_at" in mapping
        date_unread = (
            f"date does not match this source's date_format {source.date_format!r} "
            "(nor is it an Excel serial day number)"
            if source.date_format
            else BAD_DATE
        )
        checks = [
            (
                # Excel shows a number of 12 or more digits as 1.23457E+11, and saves it
                # so: different members' ids became one id, and one person
                f"regexp_full_match(__pid_raw, '{SCIENTIFIC}')",
                mapping.get("person_id", ""),
                "person id written as a rounded number (such as 1.23457E+11) by a "
                "spreadsheet: its digits are lost; format the column as text and save again",
            ),
            (
                "ref IS NULL",
                mapping.get("person_id") or mapping.get("email") or mapping.get("phone", ""),
                "no person id, email or phone on the row",
            ),
        ]
        if has_date:
            checks += [
                ("at_raw IS NULL", mapping["occurred_at"], "missing date"),
                ("ts IS NULL", mapping["occurred_at"], date_unread),
                (
                    f"type IS NULL OR type NOT IN ({types})",
                    mapping.get("type", "type"),
                    "activity type is not one of " + ", ".join(ACTIVITY_TYPES),
                ),
                (
                    "st_raw IS NOT NULL AND st IS NULL",
                    mapping.get("status", ""),
                    "unknown status (expected " + ", ".join(ATTENDANCE_STATUSES) + ", or a "
                    "word such as attended, present, absent or RSVP)",
                ),
                (
                    "amt_raw IS NOT NULL AND amt IS NULL",
                    mapping.get("amount", ""),
                    "amount is not a number",
                ),
                (
                    "att_raw IS NOT NULL AND att IS NULL",
                    mapping.get("attended", ""),
                    "attended is not a yes or no (expected yes/no, true/false, y/n, 1/0, "
                    "present/absent, or x or ✓ for yes)",
                ),
            ]
        # an event is its name on one day of the organization's calendar (the stage's
        # TimeZone): by the UTC date, an evening canvass west of UTC and the next day's
        # were one event, and one past midnight UTC was two
        event_id = f"'{name}:' || substr(md5(x.event || '|' || CAST(CAST(x.ts AS DATE) AS VARCHAR)), 1, 16)"
        inserts = {
            "st_person": f"""{sql_str(name)}, x.ref, x.email, x.phone, x.first_name, x.last_name,
                x.address, x.zip, x.state, x.email_ok, x.sms_ok, x.dnc, x.ts""",
        }
        if has_date:
            inserts["st_event"] = f"""{event_id}, {sql_str(name)}, x.event, NULL, x.ts
                WHERE x.event IS NOT NULL"""
            attended = (
                # a status says whether the person came, as VAN's do (a sheet's "Attended"
                # was not counted by rungs that need attendance marked)
                "coalesce(x.att, CASE WHEN x.st IN ('completed', 'walk_in') THEN TRUE "
                "WHEN x.st = 'no_show' THEN FALSE "
                "WHEN x.type = 'attendance' AND x.st IS NULL THEN TRUE END)"
            )
            # (the digest of the row's person, type, date, event and amount, salted: the
            # person's email or phone is among them)
            # (and the organizer's name, salted: often a member's, and in a table
            # reports read)
            inserts[
                "st_activity"
            ] = f"""'{name}:' || cb_digest(substr(md5(concat_ws('|', x.__raw_ref,
                    x.type, CAST(epoch(x.ts) AS VARCHAR), x.event, x.amt_raw)), 1, 20)), {sql_str(name)}, NULL,
                {sql_str(name)}, x.ref, x.type, x.ts, x.recorded_at,
                CASE WHEN x.type = 'attendance'
                     THEN coalesce(x.st, CASE WHEN x.att = FALSE THEN 'no_show' ELSE 'completed' END)
                     ELSE x.st END,
                {attended}, CASE WHEN x.event IS NOT NULL THEN {event_id} END, NULL,
                CASE WHEN x.type = 'attendance' THEN coalesce(x.role, 'attendee') ELSE x.role END,
                x.result, x.amt, NULL,
                {sql_str(SHEET_ORGANIZER_PREFIX)} || cb_digest(x.organizer)"""
        contacts = {"email": mapping.get("email", ""), "phone": mapping.get("phone", "")}
        _emit(stage, f, sel, checks, inserts, contacts=contacts)
        if has_date and "recorded_at" in m:
            # a row's recorded date not read was left out of the row kept, silently: it
            # is rejected as a value (the row, dated by occurred_at, is kept)
            recorded = m["recorded_at"]
            stage.con.execute(
                f"""INSERT INTO st_value_reject SELECT {f.file_no}, rowid, NULL,
                        {sql_str(mapping["recorded_at"])}, {sql_str(date_unread)}
                    FROM {table} WHERE cb_s({recorded}) IS NOT NULL AND {when(recorded)} IS NULL
                      AND rowid NOT IN (SELECT rec FROM st_reject WHERE file_no = {f.file_no})"""
            )
        _unread_permissions(
            stage, f, table, {k: m[k] for k in PERMISSION_FIELDS if k in m}, mapping
        )
        _custom(stage, f, table, f.unknown_columns, name, ref, key=True)
        stage.con.execute(f"DROP TABLE {table}")


READERS: dict[str, Callable] = {
    "action_network_csv": read_action_network_csv,
    "action_network_api": read_action_network_api,
    "mobilize": read_mobilize,
    "van": read_van,
    "spoke": read_spoke,
    "action_builder": read_action_builder,
    "generic_csv": read_generic_csv,
}
SUFFIXES = {
    "action_network_csv": (".csv",),
    "action_network_api": (".json", ".ndjson", ".jsonl"),
    "mobilize": (".json", ".ndjson", ".jsonl"),
    "van": (".csv", ".txt"),
    "spoke": (".csv",),
    "action_builder": (".json", ".ndjson", ".jsonl"),
    "generic_csv": (".csv",),
}
