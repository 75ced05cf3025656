# ruff: noqa: E501 - SQL and generated-data literals read better unwrapped
"""What the sync report shows, read back from the store as aggregate tables.

Nothing here returns a member's value: only counts, dates, file names, column names,
reasons and line numbers.
"""

from __future__ import annotations

import itertools
import json
import math
import posixpath
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from cyclebook.config import ACTIVITY_TYPES, Organization
from cyclebook.store import MATCHED_IDENTITY
from cyclebook.sync.merge import MERGED_FIELDS
from cyclebook.sync.readers import generic_source_name

if TYPE_CHECKING:  # (imported where a frame is asked for: see Rows.frame)
    import pandas as pd

SOURCE_LABELS = {
    "action_network_csv": "Action Network (activist report)",
    "action_network_api": "Action Network (API)",
    "mobilize": "Mobilize",
    "van": "EveryAction / VAN",
    "spoke": "Spoke",
    "action_builder": "Action Builder",
    "generic_csv": "Spreadsheet",
}


# the rejects table's counts: rows not kept, and values left out of rows that were kept
ROWS_REJECTED = "Rows rejected"
VALUES_REJECTED = "Values rejected (row kept)"


@dataclass
class Rows:
    """A table of the sync report: its columns' names and its rows of Python values, as
    the report shows them (a data frame of each, for tables of a few rows, cost ~1 ms
    apiece of pandas' set-up, and as much again to rename or drop a column).
    :meth:`frame` is the data frame, with ``types`` for the columns whose type pandas
    would not infer from the values."""

    columns: list[str]
    rows: list[tuple]
    types: dict[str, Any] = field(default_factory=dict)

    def column(self, name: str) -> list:
        i = self.columns.index(name)
        return [row[i] for row in self.rows]

    def frame(self) -> pd.DataFrame:
        # pandas imported here, not with the module: the sync imports this module, and
        # so does every `cyclebook run`, whose unchanged re-run needs no pandas (~0.3 s)
        import pandas as pd

        frame = pd.DataFrame(self.rows, columns=self.columns)
        return frame.astype(self.types) if self.types else frame


@dataclass
class SyncSummary:
    org_id: str
    last_run: dict | None
    last_failure: dict | None
    source_rows: Rows
    reject_rows: Rows
    unknown_rows: Rows
    people: dict
    pair_rows: Rows
    type_rows: Rows
    ladder_gaps: list[str]
    # what the readers said about each file (its encoding, a column's unreadable dates or
    # phones, a page shaped unlike the tool's): kept in each file's sync_run row
    note_rows: Rows
    # exports earlier syncs read that the last one did not (taken out of the folder): what
    # they brought stays in the store; {"files": n, "tools": [labels]}
    not_read_now: dict | None = None
    # sources whose records and activities the store holds that no source in cohort.yml
    # names any more (as the store names them: `cyclebook forget --source` removes them)
    retired_sources: list[str] = field(default_factory=list)

    # the tables as data frames (made when asked for: the report shows the rows)
    @cached_property
    def sources(self) -> pd.DataFrame:
        return self.source_rows.frame()

    @cached_property
    def rejects(self) -> pd.DataFrame:
        return self.reject_rows.frame()

    @cached_property
    def unknown_columns(self) -> pd.DataFrame:
        return self.unknown_rows.frame()

    @cached_property
    def pairs(self) -> pd.DataFrame:
        return self.pair_rows.frame()

    @cached_property
    def activity_types(self) -> pd.DataFrame:
        return self.type_rows.frame()

    @cached_property
    def notes(self) -> pd.DataFrame:
        return self.note_rows.frame()


def _lines(values: list, limit: int = 6) -> str:
    vals = sorted(v for v in values if v is not None)
    text = ", ".join(str(v) for v in vals[:limit])
    return text + (f" … (+{len(vals) - limit} more)" if len(vals) > limit else "")


def _attempts_text(attempts: dict[str, int], *, other_types: bool = True) -> str:
    n, conv, text = attempts["attempts"], attempts["conversations"], attempts["texts"]
    return (
        f"They do hold {n:,} contact attempt{'s' if n != 1 else ''} (door knocks, calls and "
        f"texts), {conv:,} of them conversation{'s' if conv != 1 else ''} and {text:,} by "
        "text: those count in the voter and member contact figures, and no rung of the "
        "ladder counts a contact attempt."
        + (
            " To reach this rung from these exports, its rule needs an activity type they "
            "hold (listed under Activity recorded)."
            if other_types
            else ""
        )
    )


JSON_SUFFIXES = (".json", ".ndjson", ".jsonl")

KEPT_COLUMNS = "Columns kept (not part of the model)"
UNREAD_KEYS = "Keys not read (only in the archived copy)"

# How to fix a rejected row, by its reason (the first pattern that matches wins): the
# report listed "missing vanid" or "result id not in results" and left the organizer to
# guess what to change, and where
REJECT_FIXES: tuple[tuple[str, str], ...] = (
    (
        r"^person not found",
        "sync the people export of the same tool with it (the activity names a person "
        "that no people file lists), exported on the same day",
    ),
    (
        r" has no name in (.+) \(line (\d+), (\w+)\)$",
        "fill in the {2} on line {1} of {0} (in VAN, then export the table again): the "
        "rows using that id are read then",
    ),
    (
        r" not in (results|contacttypes|activistcodes)$",
        "put the {0} table, exported on the same day, in this source's folder: it must "
        "hold every id the other tables use",
    ),
    (
        r"^no date: the event is not in the events table",
        "put the events table, exported on the same day, in this source's folder",
    ),
    (r"^repeated header line", "nothing to fix: the header row was pasted again in the file"),
    (
        r"^(more|fewer) values than the header",
        "a value holds an unquoted comma or a line break: re-export the file from the tool, "
        "or quote the value",
    ),
    (r"^badly quoted", 're-export the file from the tool; a quote inside a value is written ""'),
    (r"not valid UTF-8", "save the file as 'CSV UTF-8', or set `encoding` on the source"),
    (r"^line longer", "the line is not a record: remove it, or re-export the file"),
    (
        r"^(date|.*has no readable date)|^date does not match",
        "write the date as 2026-09-14 (or set `date_format` on the source in cohort.yml)",
    ),
    # (the date fixes of the tools' own exports: only a spreadsheet source has a
    # date_format, see DATE_FIXES)
    (r"^missing ", "fill it in for this record in the tool, then export again"),
    (
        r"^no (person|email)",
        "add the person's id, email or phone to the record in the tool, then export again",
    ),
    (r"email address is not valid", "correct the email in the tool, or export the uuid column"),
    (
        r"is not a phone number",
        "correct the number in the tool: ten US digits, or + and the country code",
    ),
    (
        r"^assessment is not a number",
        "write the assessment in Action Builder as a number on the campaign's scale, such "
        "as 1 to 5 (a word such as 'high' is not a score a ladder can compare), then export "
        "the entities again",
    ),
    (r"is not a number", "write the number alone, such as 25.00 (no words or ranges)"),
    (r"is not a yes or no", "write yes or no (or true/false, 1/0) in that column"),
    (
        r"^activity type is not one of",
        "write one of those types in the sheet (a meeting people came to is an attendance), "
        "or leave it empty and give the source an `activity_type` in cohort.yml",
    ),
    (
        r"^unknown .*status",
        "use one of the statuses listed; tell the facilitator what another status means",
    ),
    (
        r"unknown Action Network collection",
        "leave out pages of collections the sync does not read (people, attendances, "
        "events, submissions, donations, taggings, signatures and outreaches are read)",
    ),
    (r"^identifiers is not a list", "export the record again from the API"),
)


DATE_REJECT = r"^(date|.*has no readable date)"
# A date the reader does not read, in a tool's own export (a spreadsheet's fix above names
# its date_format, which no other source has: a JSON page's bad date was told to set it)
DATE_FIXES = {
    "json": "download the page again from the tool's API; a page edited by hand or made by "
    "another program writes the date as 2026-09-14T18:00:00Z (ISO 8601, with its offset)",
    "csv": "export the file again from the tool, without opening and saving it in a "
    "spreadsheet program (which rewrites dates), or write the date as 2026-09-14 in it",
}
JSON_KINDS = ("mobilize", "action_network_api", "action_builder")


def reject_fix(reason: str, kind: str | None = None) -> str:
    """How to fix a row rejected for ``reason``, in an export of the source ``kind``
    (None: not known, taken as a spreadsheet's)."""
    if kind not in (None, "generic_csv") and re.search(DATE_REJECT, reason):
        return DATE_FIXES["json" if kind in JSON_KINDS else "csv"]
    for pattern, fix in REJECT_FIXES:
        found = re.search(pattern, reason)
        if found:
            return fix.format(*found.groups())
    return "correct the record in the tool and export it again"


def _records(values: list) -> str:
    text = _lines(values)
    if not text:
        return text
    return ("record " if len([v for v in values if v is not None]) == 1 else "records ") + text


# Where a tool the organization syncs keeps an activity type a rung counts, and what to
# put in its folder to have it: "none of the synced exports contain tagging activity"
# beside Action Network's own exports left the group to guess that the tags it sees in
# the activist report are not dated taggings, or which VAN table holds activist codes
TYPE_SOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "tagging": (
        (
            "action_network_api",
            "they come from the taggings pages of each tag (/api/v2/tags/<id>/taggings), "
            "put in its folder",
        ),
        (
            "action_network_csv",
            "its can2_user_tags column lists each person's tags without the day each was "
            "put on, so it is kept and counts on no rung; dated taggings come from the "
            "API's taggings pages of each tag (an action_network_api source)",
        ),
    ),
    "activist_code": (
        (
            "van",
            "they come from its contactsactivistcodes table, with the activistcodes table "
            "that names them, put in its folder",
        ),
    ),
    "one_on_one": (
        (
            "van",
            "they come from its contactscontacts table, as contacts whose contact type (in "
            "the contacttypes table) is named One on One",
        ),
    ),
    "donation": (
        ("action_network_api", "they come from its donations pages"),
        ("van", "they come from its contributions table"),
    ),
    "submission": (
        ("action_network_api", "they come from its submissions, signatures and outreaches pages"),
    ),
    "attendance": (
        ("action_network_api", "they come from its attendances pages"),
        ("van", "they come from its eventsignups table, with the events table"),
    ),
    "survey_response": (
        ("spoke", "they come from the answers in its contacts export's question[...] columns"),
    ),
    # (a rung's event roles: the host or lead of an event)
    "role": (
        (
            "van",
            "they come from its eventsignups table's eventrolename (Host, or a role naming Lead)",
        ),
        ("mobilize", "it marks as host the person who owns the event (its contact)"),
    ),
    "assessment": (
        (
            "action_builder",
            "they come from its entities' action_builder:latest_assessment, which none of "
            "the synced entities has",
        ),
    ),
}


def _where_from(types: list[str], kinds: set[str]) -> str:
    """What the organization's synced tools could give of ``types`` (" " and the hints,
    or nothing)."""
    hints = [
        f"{SOURCE_LABELS.get(kind, kind)} is synced but brought none: {hint}."
        for t in types
        for kind, hint in TYPE_SOURCES.get(t, ())
        if kind in kinds
    ]
    return "".join(" " + h for h in hints)


def ladder_gaps(
    org: Organization,
    present_types: set[str],
    *,
    has_roles: dict[str, set[str]],
    has_attended: bool,
    attempts: dict[str, int] | None = None,
    kinds: set[str] | frozenset[str] = frozenset(),
) -> list[str]:
    """Activity data the organization's ladder needs but its synced data lacks.

    ``attempts`` counts the contact attempts synced (``attempts``, ``conversations``,
    ``texts``): a rung counting conversations or texts is told they arrived as contact
    attempts, which no rung counts (not that the exports lack them). ``kinds``: the
    kinds of source synced; a missing type one of them could hold says where it
    would be. ``has_roles``: the event roles recorded, by activity type."""
    attempts = attempts or {"attempts": 0, "conversations": 0, "texts": 0}
    as_attempts = {
        "conversation": attempts["conversations"] > 0,
        "text": attempts["texts"] > 0,
    }
    gaps: list[str] = []
    for rung in org.ladder:
        for cond in rung.any_of:
            types = cond.activity_types or []
            if not types and not present_types:
                # a rule over any activity, and no activity at all (a VAN people table
                # alone, Spoke texts with no answer): the report said every rung had
                # data to work from, and no one could be on this one
                gaps.append(
                    f"{rung.label}: a way to reach this rung counts any activity, and the "
                    "synced exports contain none (only people"
                    + (", and contact attempts)." if attempts["attempts"] else ").")
                    + (
                        " " + _attempts_text(attempts, other_types=False)
                        if attempts["attempts"]
                        else ""
                    )
                )
                continue
            missing = [t for t in types if t not in present_types]
            if types and len(missing) == len(types):
                if any(as_attempts.get(t) for t in missing):
                    gaps.append(
                        f"{rung.label}: a way to reach this rung counts "
                        f"{' or '.join(missing)} activity, which none of the synced exports "
                        "contain as activity. " + _attempts_text(attempts)
                    )
                    continue
                gaps.append(
                    f"{rung.label}: a way to reach this rung counts {' or '.join(missing)} "
                    "activity, which none of the synced exports contain."
                    + _where_from(missing, set(kinds))
                )
                continue
            # the ladder reads roles in any case (Host is host)
            recorded = set().union(*(has_roles.get(t, set()) for t in (types or has_roles)))
            wanted = {r.lower() for r in cond.roles or []}
            if wanted and not (wanted & recorded):
                elsewhere = wanted & set().union(*has_roles.values())
                gaps.append(
                    f"{rung.label}: needs event roles ({', '.join(cond.roles or [])}) on "
                    f"{' or '.join(types)} activity; the exports record them on other "
                    "activity only."
                    if elsewhere
                    else f"{rung.label}: needs event roles ({', '.join(cond.roles or [])}), "
                    "which no export records." + _where_from(["role"], set(kinds))
                )
            if cond.attended_only and not has_attended:
                gaps.append(
                    f"{rung.label}: needs attendance marked as attended, and no export "
                    "records who attended."
                )
            if cond.reads_assessment and "assessment" not in present_types:
                gaps.append(
                    f"{rung.label}: needs assessments, which no export contains."
                    + _where_from(["assessment"], set(kinds))
                )
    out: list[str] = []
    for g in gaps:  # keep order, drop repeats
        if g not in out:
            out.append(g)
    return out


def key_label(key: str) -> str:
    """A column's or JSON key's name as the report lists it: a key with no name (a JSON
    record's "": the list read ", Shift", as if a comma had slipped in) is named so."""
    if key == "":
        return "(empty key)"
    if not key.strip():
        n = len(key)
        return f"(key of {n} blank character{'s' if n != 1 else ''})"
    return key


def _sheet_label(org: Organization, rel: str) -> str:
    """ "Spreadsheet (dues)": the spreadsheet source whose path holds the file ``rel``
    (the innermost), named as its activities' source is (readers.generic_source_name)."""
    best = None
    for src in org.sources:
        if src.kind != "generic_csv":
            continue
        path = posixpath.normpath(src.path.replace("\\", "/"))
        if (rel == path or path == "." or rel.startswith(path + "/")) and (
            best is None or len(path) > len(posixpath.normpath(best.path))
        ):
            best = src
    if best is None:
        return SOURCE_LABELS["generic_csv"]
    return f"{SOURCE_LABELS['generic_csv']} ({generic_source_name(best).removeprefix('sheet:')})"


# the per-tool table's columns: the files' figures added up, their dates' span
_SUMMED = ("rows_read", "rows_kept", "rows_rejected", "values_rejected", "left_out", "blank")
_SPANS = (("first", min), ("last", max), ("people_first", min), ("people_last", max))


def _per_tool(files: dict[str, list]) -> Rows:
    """The files' figures per tool, tools in the order of their first file: its files,
    its rows added up, its earliest and latest dates (a missing date skipped; NaN when
    it has none, as pandas' groupby gave). Added up in Python: that groupby of eleven
    columns cost ~15 ms in each kernel (pandas sets up its groupby), for a handful of rows."""
    tools: dict[str, list] = {}
    columns = [files[name] for name in ("tool", *_SUMMED)]
    dates = [files[name] for name, _ in _SPANS]
    for i, tool in enumerate(columns[0]):
        row = tools.setdefault(tool, [0, [0] * len(_SUMMED), [[] for _ in _SPANS]])
        row[0] += 1
        for j, values in enumerate(columns[1:]):
            if values[i] == values[i]:  # (NaN: a figure the store does not have)
                row[1][j] += values[i]
        for j, values in enumerate(dates):
            if isinstance(values[i], str):
                row[2][j].append(values[i])
    sums = _as_one_type(
        [list(by_file) for by_file in zip(*(sums for _, sums, _ in tools.values()), strict=True)]
    )
    return Rows(
        ["source_kind", "files", *_SUMMED, *(name for name, _ in _SPANS)],
        [
            (
                tool,
                n,
                *(column[i] for column in sums),
                *(pick(d) if d else math.nan for (_, pick), d in zip(_SPANS, spans, strict=True)),
            )
            for i, (tool, (n, _, spans)) in enumerate(tools.items())
        ],
        files["span_types"],  # (text, when all are NaN)
    )


def _as_one_type(columns: list[list]) -> list[list]:
    """Each column of counts with a float among them as floats (a tool whose files have
    no figure is 0 beside others' NaN-bearing sums): as a data frame's column holds them,
    and so shown ("0.00", not "0")."""
    return [
        [float(v) for v in column] if any(isinstance(v, float) for v in column) else column
        for column in columns
    ]


def _figures(values: list) -> list:
    """A file's counts as pandas read them from the store: floats, NaN for a missing one,
    in a column that misses any (the per-tool sums are then floats, shown as such)."""
    if any(v is None for v in values):
        return [math.nan if v is None else float(v) for v in values]
    return values


# What the sync report reads of the store, in six statements (it was 17, and a data
# frame of each: ~30 ms of a small organization's report, for tables of a few rows).
# DuckDB plans a statement with more than five or so scalar subqueries slowly (ordering
# their joins): ~8 ms for eight, against ~1 ms for five. The latest run is arg_max's:
# ORDER BY ... LIMIT 1 costs ~0.7 ms more to plan (DuckDB's late materialization).

# the last sync that ended well, the last that failed, and which of the columns added
# since the first stores that are read here the store has (ADDED: _ADDED asks, for a
# store made before them and opened read-only is not migrated; one just migrated has
# them all, _ADDED_READ)
_RUNS = """SELECT
    (SELECT arg_max({'run_id': run_id, 'started_at': CAST(started_at AS VARCHAR),
                     'rows_read': rows_read, 'rows_kept': rows_kept,
                     'rows_rejected': rows_rejected, 'message': message}, started_at)
     FROM sync_run WHERE org_id = $org AND file IS NULL AND status = 'ok'),
    (SELECT arg_max([CAST(started_at AS VARCHAR), message], started_at) FROM sync_run
     WHERE org_id = $org AND status = 'failed'),
    ADDED"""
_ADDED_READ = "['rejected_row.record_kept', 'identity.listed']"
_ADDED = f"""(SELECT list(table_name || '.' || column_name) FROM duckdb_columns()
     WHERE database_name = current_database()
       AND list_contains({_ADDED_READ}, table_name || '.' || column_name))"""

# the files the last sync read: dates are the organization's own days (by UTC days, an
# evening's signup west of UTC was shown on the next day); a file's activity dates,
# and apart its people's record dates (a sync before "activity_dates" was recorded
# kept one span of both, shown as neither)
_FILES = """SELECT source_kind, file, rows_read, rows_kept, rows_rejected,
          strftime(timezone($tz, min_occurred_at), '%Y-%m-%d') AS first,
          strftime(timezone($tz, max_occurred_at), '%Y-%m-%d') AS last,
          strftime(timezone($tz, CAST(message->>'$.people_from' AS TIMESTAMPTZ)),
                   '%Y-%m-%d') AS people_first,
          strftime(timezone($tz, CAST(message->>'$.people_to' AS TIMESTAMPTZ)),
                   '%Y-%m-%d') AS people_last,
          coalesce(CAST(message->>'$.activity_dates' AS BOOLEAN), FALSE) AS activity_dates,
          unknown_columns, message
   FROM sync_run WHERE org_id = $org AND run_id = $run AND file IS NOT NULL
   ORDER BY file"""
_FILE_COLUMNS = (
    "source_kind",
    "file",
    "rows_read",
    "rows_kept",
    "rows_rejected",
    "first",
    "last",
    "people_first",
    "people_last",
    "activity_dates",
    "unknown_columns",
    "message",
)

# a rejected row is not in the store; a rejected value is left out of a record that is
# (its rows are counted as kept): one count of both read as rows rejected ({kept}: the
# condition on a rejected_row that its record was kept)
_REJECTS = """SELECT file, reason, coalesce(column_name, '') AS column_name,
          count(*) FILTER (WHERE NOT {kept}) AS n_rows,
          count(*) FILTER (WHERE {kept}) AS n_values,
          list(line ORDER BY line) AS lines
   FROM rejected_row WHERE org_id = $org GROUP BY ALL
   ORDER BY count(*) DESC, file, reason, column_name"""

# a tool is an identity's source: each spreadsheet source is one of its own (its people
# matched with another sheet's are matched across tools), as the share and improve
# reports count them (MetricEngine's match_rate definition). The people, then how many
# people each set of tools has ({listed}: the condition on an identity that it counts):
# the people matched, the tools and the pairs of tools are worked out from those few
# rows (a statement of each, or subqueries of one over the people's tools, took 4 ms)
_PEOPLE = """SELECT NULL AS tools, count(*) FROM person WHERE org_id = $org
   UNION ALL
   SELECT tools, count(*) FROM (SELECT list(DISTINCT source) AS tools FROM identity
                                WHERE org_id = $org AND {listed} GROUP BY person_id)
   GROUP BY ALL"""


def _people(rows: list[tuple]) -> tuple[int, int, int, list[tuple[str, str, int]]]:
    """The people, those in two or more tools, the tools, and the people of each pair of
    tools (most first, then by the tools' names), from :data:`_PEOPLE`'s rows."""
    total = 0
    by_tools: dict[frozenset[str], int] = {}
    for tools, n in rows:
        if tools is None:
            total = n
        else:  # (the same set listed in another order: one)
            key = frozenset(tools)
            by_tools[key] = by_tools.get(key, 0) + n
    pairs: dict[tuple[str, str], int] = {}
    for tools, n in by_tools.items():
        for pair in itertools.combinations(sorted(tools), 2):
            pairs[pair] = pairs.get(pair, 0) + n
    return (
        total,
        sum(n for tools, n in by_tools.items() if len(tools) >= 2),
        len(frozenset().union(*by_tools)),
        sorted(((a, b, n) for (a, b), n in pairs.items()), key=lambda p: (-p[2], p[0], p[1])),
    )


# activities by type and source, with the days they cover, whether any records who
# attended, and the event roles recorded (the ladder reads a rule's roles on its own
# types: a 'lead' on a meeting is not a one-on-one led): one scan of the activities
_ACTIVITY = """SELECT type, source, count(*) AS activities,
          strftime(timezone($tz, min(occurred_at)), '%Y-%m-%d') AS first,
          strftime(timezone($tz, max(occurred_at)), '%Y-%m-%d') AS last,
          bool_or(attended IS NOT NULL),
          list(DISTINCT lower(role)) FILTER (WHERE role IS NOT NULL)
   FROM activity WHERE org_id = $org GROUP BY type, source ORDER BY type, source"""

# the sources of the organization's people and events (a source's contact attempts come
# with its people); its contact attempts; and the exports earlier syncs read that the
# last one ($run) did not, by neither name nor content
_HELD = """SELECT
    (SELECT list(source) FROM (SELECT source FROM identity WHERE org_id = $org
                               UNION SELECT source FROM event WHERE org_id = $org)),
    (SELECT [count(*), count(*) FILTER (WHERE conversation),
             count(*) FILTER (WHERE channel = 'text')]
     FROM contact_attempt WHERE org_id = $org),
    (SELECT {'files': count(DISTINCT original_path), 'tools': list(DISTINCT source_kind)}
     FROM raw_file
     WHERE org_id = $org
       AND original_path NOT IN (SELECT file FROM sync_run WHERE org_id = $org
                                 AND run_id = $run AND file IS NOT NULL)
       AND sha256 NOT IN (SELECT sha256 FROM sync_run WHERE org_id = $org
                          AND run_id = $run AND sha256 IS NOT NULL))"""


def load_summary(con, org: Organization, *, migrated: bool = False) -> SyncSummary:
    """What the sync report shows of ``org``, read on ``con`` (the store its current
    database). ``migrated``: the store is known to be at the current schema (the sync's
    connection, which migrated it), so its columns are not looked up (~0.7 ms)."""
    org_id = org.id
    runs = _RUNS.replace("ADDED", _ADDED_READ if migrated else _ADDED)
    run, fail, present = con.execute(runs, {"org": org_id}).fetchone()
    present = set(present or ())
    last_run = None
    if run:
        last_run = {name: run[name] for name in ("run_id", "started_at", *_SUMMED[:3])}
    last_failure = None
    if fail and (not run or fail[0] > run["started_at"]):
        last_failure = {"started_at": fail[0], "message": fail[1]}
    # values rejected on records that were kept (an assessment that is not a number, an
    # event's date): listed with the rejects, counted apart from the rows (a store synced
    # before rejected_row.record_kept, not migrated when opened read-only, has none)
    kept = "coalesce(record_kept, FALSE)" if "rejected_row.record_kept" in present else "FALSE"
    listed = MATCHED_IDENTITY if "identity.listed" in present else "TRUE"
    rejected = con.execute(_REJECTS.format(kept=kept), {"org": org_id}).fetchall()

    rows = (
        con.execute(_FILES, {"tz": org.timezone, "org": org_id, "run": run["run_id"]}).fetchall()
        if run
        else []
    )
    files: dict = {name: [r[i] for r in rows] for i, name in enumerate(_FILE_COLUMNS)}
    # (text, or when the store has none of a date, no type: as pandas read them)
    files["span_types"] = {
        name: "str" if any(v is not None for v in files[name]) else object for name, _ in _SPANS
    }
    for name in _SUMMED[:3]:
        files[name] = _figures(files[name])
    for i, has_dates in enumerate(files["activity_dates"]):
        if not has_dates:
            files["first"][i] = files["last"][i] = None
    # rows read that were neither kept nor rejected (a text Spoke did not send, an Action
    # Builder workplace: each file's notes say why), and blank rows (not counted as read):
    # without them the report's rows read were not its kept plus rejected
    figures = zip(*(files[name] for name in _SUMMED[:3]), strict=True)
    files["left_out"] = [n if n != n else max(n, 0) for n in (a - b - c for a, b, c in figures)]
    messages = [json.loads(m or "{}") for m in files["message"]]
    files["blank"] = [int(m.get("skipped_blank", 0)) for m in messages]
    values_rejected: dict[str, int] = {}
    for reject in rejected:
        values_rejected[reject[0]] = values_rejected.get(reject[0], 0) + reject[4]
    files["values_rejected"] = [values_rejected.get(f, 0) for f in files["file"]]
    if last_run is not None:
        for name in ("left_out", "blank", "values_rejected"):
            last_run[name] = int(sum(n for n in files[name] if n == n))
    if rows:
        # each spreadsheet source is a row of its own, named as in the tables below (the
        # sign-in sheet's and the dues sheet's rows and dates were added up as one
        # "Spreadsheet", while the pairs and the activity table named each)
        files["tool"] = [
            _sheet_label(org, rel) if kind == "generic_csv" else SOURCE_LABELS.get(kind, kind)
            for kind, rel in zip(files["source_kind"], files["file"], strict=True)
        ]
        sources = _per_tool(files)
    else:
        sources = Rows(["source_kind", "files", *_SUMMED, *(name for name, _ in _SPANS)], [])

    kinds = dict(zip(files["file"], files["source_kind"], strict=True))
    rejects = Rows(
        [
            "File",
            "Reason",
            "Column",
            ROWS_REJECTED,
            VALUES_REJECTED,
            "Lines",
            "How to fix",
        ],
        [
            (
                file,
                reason,
                column,
                n_rows,
                n_values,
                # a JSON page's rejects are numbered by their place in the page's list of
                # records (its text lines are the pretty-printer's): "line 2" sent people
                # to the page's second line
                _records(lines) if str(file).lower().endswith(JSON_SUFFIXES) else _lines(lines),
                reject_fix(reason, kinds.get(file)),
            )
            for file, reason, column, n_rows, n_values, lines in rejected
        ],
    )

    # A file's unknown columns or keys are kept (custom_field rows) where they describe
    # a person: a people export's columns, a JSON page's custom fields (Action Network's,
    # Mobilize's sign-up questions) and a person record's unknown keys; where they
    # describe an event, as the event's (event_field rows: an Action Network event's
    # keys, a VAN events table's columns); where they describe an activity, as the
    # activity's (activity_field rows: a Mobilize attendance's or an Action Network
    # donation's unknown keys). Those of a CSV of other records (a VAN contact's or
    # sign-up's columns, a Spoke message's) are not: only the archived copy has them.
    # The report said of every listed column that "their values were kept". A sync records which it kept ("custom_fields");
    # one recorded before that did only for JSON pages (a CSV's were taken as kept).
    unknown_rows = []
    note_rows = []
    for file, unknown_columns, message in zip(
        files["file"], files["unknown_columns"], messages, strict=True
    ):
        cols = json.loads(unknown_columns or "[]")
        json_page = str(file).lower().endswith(JSON_SUFFIXES)
        said = json_page or message.get("csv_custom_fields", False)
        kept_here = message.get("custom_fields", []) if said else cols
        unread = [c for c in cols if c not in kept_here] if said else []
        if kept_here or unread:
            unknown_rows.append(
                (
                    file,
                    ", ".join(key_label(k) for k in kept_here),
                    ", ".join(key_label(k) for k in unread),
                )
            )
        note_rows += [(file, note) for note in message.get("notes", [])]
    unknown = Rows(["File", KEPT_COLUMNS, UNREAD_KEYS], unknown_rows)
    notes = Rows(["File", "Note"], note_rows)

    people_total, matched, n_tools, pairs = _people(
        con.execute(_PEOPLE.format(listed=listed), {"org": org_id}).fetchall()
    )
    people = {
        "total": int(people_total),
        "tools": int(n_tools),
        "matched": int(matched),
        "match_rate": (matched / people_total) if people_total and n_tools >= 2 else None,
        # people already stored whom the last sync's records showed to be another stored
        # person, and merged into them (sync.merge._merge_stored_people)
        "merged": int(json.loads(run["message"] or "{}").get("people merged", 0)) if run else 0,
        # the custom fields on which they held different values, each kept with its
        # record (nothing of theirs is dropped)
        "merged_fields": int(json.loads(run["message"] or "{}").get(MERGED_FIELDS, 0))
        if run
        else 0,
    }
    pairs = Rows(["tool", "other_tool", "people"], pairs)

    activity = con.execute(_ACTIVITY, {"tz": org.timezone, "org": org_id}).fetchall()
    types = Rows(["type", "source", "activities", "first", "last"], [row[:5] for row in activity])
    present_types = {row[0] for row in activity}
    roles: dict[str, set[str]] = {}
    for kind, _source, _n, _first, _last, _attended, recorded in activity:
        if recorded:
            roles.setdefault(kind, set()).update(recorded)
    has_attended = any(row[5] for row in activity)

    held, attempts, gone = con.execute(
        _HELD, {"org": org_id, "run": run["run_id"] if run else None}
    ).fetchone()
    # removing a file from the folder removes nothing from the store (README): the
    # table of files read said nothing of them, though their people and activities
    # count in every report and in the activity table below it
    not_read_now = None
    if run and gone["files"]:
        not_read_now = {
            "files": int(gone["files"]),
            "tools": sorted(SOURCE_LABELS.get(k, k) for k in gone["tools"]),
        }
    # (the sources of its people and activities, and of its events)
    held = {row[1] for row in activity} | set(held or ())
    retired = sorted(held - {src.store_name for src in org.sources})
    n_attempts, n_conversations, n_texts = attempts
    gaps = ladder_gaps(
        org,
        present_types,
        has_roles=roles,
        has_attended=has_attended,
        attempts={
            "attempts": int(n_attempts),
            "conversations": int(n_conversations),
            "texts": int(n_texts),
        },
        kinds=set(files["source_kind"]),
    )
    return SyncSummary(
        org_id,
        last_run,
        last_failure,
        sources,
        rejects,
        unknown,
        people,
        pairs,
        types,
        gaps,
        notes,
        not_read_now,
        retired,
    )


def missing_types(summary: SyncSummary) -> list[str]:
    present = set(summary.type_rows.column("type"))
    return [t for t in ACTIVITY_TYPES if t not in present]
