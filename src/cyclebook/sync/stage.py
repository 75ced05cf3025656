# ruff: noqa: E501 - SQL and generated-data literals read better unwrapped
"""The staging area of one organization's sync: files, SQL helpers and staged tables.

Readers parse exports inside DuckDB (``read_csv`` / ``read_json_objects``) into TEMP
staging tables; :mod:`cyclebook.sync.merge` then resolves identities and writes the
canonical tables in one transaction. Nothing here is row-by-row Python, except mapping
the record numbers of *rejected* rows back to physical line numbers.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import mmap
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from cyclebook import settings
from cyclebook.errors import ExportError
from cyclebook.filehash import sha256_file
from cyclebook.store import ident, personal_key_sql, salted_digest_sql, sql_str

# Staged tables. ``file_no`` points into Stage.files; ``rec`` is the 0-based record
# number inside the file (CSV data row or JSON record), used for rejects and coverage.
STAGE_SCHEMA: dict[str, str] = {
    "st_person": """source VARCHAR, source_id VARCHAR, email VARCHAR, phone VARCHAR,
        first_name VARCHAR, last_name VARCHAR, address VARCHAR, zip VARCHAR, state VARCHAR,
        email_ok BOOLEAN, sms_ok BOOLEAN, do_not_contact BOOLEAN, seen_at TIMESTAMPTZ,
        file_no INTEGER, rec BIGINT""",
    "st_activity": """activity_id VARCHAR, source VARCHAR, source_id VARCHAR,
        person_source VARCHAR, person_ref VARCHAR, type VARCHAR, occurred_at TIMESTAMPTZ,
        recorded_at TIMESTAMPTZ, status VARCHAR, attended BOOLEAN, event_id VARCHAR,
        channel VARCHAR, role VARCHAR, result VARCHAR, amount DOUBLE, score DOUBLE,
        organizer_id VARCHAR, file_no INTEGER, rec BIGINT""",
    "st_attempt": """attempt_id VARCHAR, source VARCHAR, person_source VARCHAR,
        person_ref VARCHAR, channel VARCHAR, result VARCHAR, attempted_at TIMESTAMPTZ,
        campaign VARCHAR, conversation BOOLEAN, replied BOOLEAN, opted_out BOOLEAN,
        organizer_id VARCHAR, file_no INTEGER, rec BIGINT""",
    "st_event": """event_id VARCHAR, source VARCHAR, title VARCHAR, event_type VARCHAR,
        start_at TIMESTAMPTZ, file_no INTEGER, rec BIGINT""",
    "st_custom": """person_source VARCHAR, person_ref VARCHAR, source VARCHAR, field VARCHAR,
        value VARCHAR, file_no INTEGER, rec BIGINT""",
    # an event record's keys beyond the model (store.event_field)
    "st_event_field": """event_id VARCHAR, source VARCHAR, field VARCHAR, value VARCHAR,
        file_no INTEGER, rec BIGINT""",
    # an activity's own values beyond the model (store.activity_field)
    "st_activity_field": """activity_id VARCHAR, source VARCHAR, field VARCHAR,
        value VARCHAR, file_no INTEGER, rec BIGINT""",
    "st_reject": """file_no INTEGER, rec BIGINT, line BIGINT, column_name VARCHAR,
        reason VARCHAR""",
    # a value rejected on a record that is kept (an Action Builder assessment that is
    # not a number: the person is kept without it): listed with the rejects, by its
    # file, line and column, but the record is not counted as rejected, and its other
    # values (custom fields too) are kept
    "st_value_reject": """file_no INTEGER, rec BIGINT, line BIGINT, column_name VARCHAR,
        reason VARCHAR""",
}

# staged tables that are views over the readers' typed tables (the big ones)
DEFERRED = ("st_activity", "st_attempt")

# Date forms the tools' screens and spreadsheets write, beyond what DuckDB's cast reads
# (ISO 8601). Slash dates are month first as US tools write them (a sheet's day first
# ones are told apart in readers._day_first); the times after them as Excel, Google
# Sheets (a comma after the date) and the tools' web exports write them. The first
# three stay first: most slash dates read by them, each later format is tried only by
# the values the earlier ones did not read.
SLASH_TIMES = (
    " %H:%M:%S",
    " %H:%M",
    "",
    " %I:%M:%S %p",
    " %I:%M %p",
    " %I:%M:%S%p",
    " %I:%M%p",
    " %I %p",
    ", %H:%M:%S",
    ", %H:%M",
    ", %I:%M:%S %p",
    ", %I:%M %p",
)


def slash_formats(day_month: str, year: str) -> list[str]:
    """strptime formats of a slash date (``day_month`` "%m/%d" or "%d/%m", ``year``
    "%Y" or "%y") alone and with each time of :data:`SLASH_TIMES`."""
    return [f"{day_month}/{year}{time}" for time in SLASH_TIMES]


# Dates with a month's name ("Aug 12, 2026 4:00 PM" as Action Network's and Mobilize's
# screens export them, "12-Aug-2026" as Excel's d-mmm-yyyy), tried only on values where
# a month's name meets a number ("Aug 12", "12-Aug"): a value no format reads ("TBD",
# "March meeting") is not tried against the ninety formats (a million such values took
# 60 to 85 s)
_MONTHS = "(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
MONTH_NAME = sql_str(f"(?i)\\b{_MONTHS}[a-z]*\\.?[ ,-]*[0-9]|[0-9][ -]{_MONTHS}")
NAMED_MONTH_DATES = (
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y",
    "%B %d %Y",
    "%d %b %Y",
    "%d %B %Y",
    "%d-%b-%Y",
    "%a, %b %d, %Y",
    "%A, %B %d, %Y",
    # an email's or an HTTP header's date (RFC 2822): "Wed, 12 Aug 2026 16:00:00 GMT"
    "%a, %d %b %Y",
)
NAMED_MONTH_TIMES = (
    "",
    " %I:%M %p",
    " %I:%M:%S %p",
    " %I:%M%p",
    ", %I:%M %p",
    ", %I:%M:%S %p",
    " at %I:%M %p",
    " %H:%M",
    " %H:%M:%S",
    ", %H:%M",
)
NAMED_MONTH_FORMATS = [d + t for d in NAMED_MONTH_DATES for t in NAMED_MONTH_TIMES]


def sql_list(values: list[str] | tuple[str, ...]) -> str:
    """A SQL list literal of strings."""
    return "[" + ", ".join(sql_str(v) for v in values) + "]"


# Each list is tried only on values that may match it (a slash, a month's name, a
# twelve-hour clock): a format a value fails costs about a microsecond, and a million
# dates such as "Aug 12, 2026" took 17 s failing the slash formats first (1 s now)
SLASH_YYYY = sql_list(
    [*slash_formats("%m/%d", "%Y"), "%Y/%m/%d", "%Y/%m/%d %I:%M:%S %p", "%Y/%m/%d %I:%M %p"]
)
SLASH_YY = sql_list(slash_formats("%m/%d", "%y"))
ISO_TWELVE_HOUR = sql_list(["%Y-%m-%d %I:%M:%S %p", "%Y-%m-%d %I:%M %p", "%Y-%m-%d %I:%M%p"])

# Time zones written after a time ("8/12/2026 4:00 PM EDT", "2026-08-12 16:00 PST", an
# email's "Wed, 12 Aug 2026 16:00:00 GMT"): the US zones, each read as the fixed offset it
# names (PDT is -07:00 whatever the day: DuckDB's cast read "PST" and "CST" as Los
# Angeles' and Chicago's clocks, an hour off in summer), and UTC's names. Any other
# abbreviation is rejected: "IST" is India's, Israel's or Ireland's time, "BST" British
# summer time or Bangladesh's (the cast read them, without a word, as India's and
# Bangladesh's).
ZONE_OFFSETS = {
    "EST": "-05:00",
    "EDT": "-04:00",
    "CST": "-06:00",
    "CDT": "-05:00",
    "MST": "-07:00",
    "MDT": "-06:00",
    "PST": "-08:00",
    "PDT": "-07:00",
    "AKST": "-09:00",
    "AKDT": "-08:00",
    "HST": "-10:00",
    "GMT": "+00:00",
    "UTC": "+00:00",
    "UT": "+00:00",
    "Z": "+00:00",
}
# The US zones written without saying standard or daylight time ("7:00 PM ET", as
# organizing tools' event pages and people's spreadsheets write them): read as the
# clock of the zone's city at that date, summer time included (ICU's zone data, built
# into DuckDB's wheel: nothing is downloaded).
ZONE_CLOCKS = {
    "ET": "America/New_York",
    "CT": "America/Chicago",
    "MT": "America/Denver",
    "PT": "America/Los_Angeles",
    "AKT": "America/Anchorage",
    "HT": "Pacific/Honolulu",
}
# The end of a time (its digits, and its AM or PM) followed by a zone: letters (not a
# time's own AM or PM; nor the Z ISO 8601 writes right after the seconds, "16:00:00Z",
# which the cast reads), a Z after a space, or an offset after a space ("12:00:00 -0400",
# as RFC 2822 and SQL Server write it). The first group is the time, kept by cb_bare.
ZONE_AT_END = sql_str(
    r"([0-9](?:\s*[AaPp]\.?[Mm]\.?)?)"
    r"(?:\s*[A-Za-z]{0,4}[A-LN-Ya-ln-y]|\s+[Zz]|\s+[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])\s*$"
)
# letters at the end, a zone's or another word's, that the cast is not asked to read
LETTER_AT_END = sql_str(r"[A-LN-Ya-ln-y]\s*$")
ZONES = (
    "MAP {"
    + ", ".join(
        [f"{sql_str(k)}: {sql_str('GMT' + v)}" for k, v in ZONE_OFFSETS.items()]
        + [f"{sql_str(k)}: {sql_str(v)}" for k, v in ZONE_CLOCKS.items()]
    )
    + "}"
)


def ts_macro(name: str, slash_yyyy: str, slash_yy: str) -> str:
    """The macro ``name(x)``: the timestamp a date as exports write it means, reading
    slash dates by the SQL format lists ``slash_yyyy`` (then ``slash_yy``: two-digit
    years); see cb_ts. (``cb_ts_dmy``, day first, reads a spreadsheet whose own values
    show day first.)

    A value the cast does not read (a value ending in letters is not asked of it: it
    read any zone ICU knows, as ICU's zone) is read as text, without its zone
    (``cb_bare``), in the zone it names (``cb_zone``), else in the organization's. The
    text is bound once by a lambda: a macro repeats its argument wherever its body
    names it, and DuckDB computes such repeats beforehand for every value, the ISO
    dates the cast reads too (a regex replace on each of them, as much as the cast).
    The year check is a filter for the same reason (nullif names its argument twice:
    every format list was tried twice)."""
    return f"""CREATE OR REPLACE TEMP MACRO {name}(x) AS coalesce(
         cb_sane(coalesce(
           try_cast(CASE WHEN NOT regexp_matches(CAST(x AS VARCHAR), {LETTER_AT_END})
                         THEN CAST(x AS VARCHAR) END AS TIMESTAMPTZ),
           try_cast(CASE WHEN NOT regexp_matches(cb_s(x), {LETTER_AT_END})
                         THEN cb_s(x) END AS TIMESTAMPTZ))),
         list_transform(CASE WHEN cb_s(x) IS NOT NULL THEN [cb_s(x)] END, lambda v: coalesce(
           list_transform([cb_bare(v)], lambda b: timezone(cb_zone(v), coalesce(
             list_filter([CASE WHEN contains(b, '/') THEN try_strptime(b, {slash_yyyy})
                               WHEN regexp_matches(b, {MONTH_NAME})
                               THEN try_strptime(b, {sql_list(NAMED_MONTH_FORMATS)})
                               WHEN regexp_matches(b, '[AaPp][Mm]\\s*$')
                               THEN try_strptime(b, {ISO_TWELVE_HOUR})
                               ELSE try_cast(b AS TIMESTAMP) END],
                         lambda t: t >= TIMESTAMP '1800-01-01')[1],
             CASE WHEN contains(b, '/') THEN try_strptime(b, {slash_yy})
                  WHEN regexp_matches(b, {MONTH_NAME}) THEN try_strptime(b, '%d-%b-%y') END)))[1],
           -- a zone's name the cast reads (2026-08-12 16:00 America/Chicago)
           list_filter([try_cast(CASE WHEN regexp_matches(v, {LETTER_AT_END})
                                           AND NOT regexp_matches(v, {ZONE_AT_END})
                                      THEN v END AS TIMESTAMPTZ)],
                       lambda t: t >= TIMESTAMPTZ '1800-01-01 00:00:00+00')[1]))[1],
         {excel_serial_sql("x")})"""


def excel_serial_sql(x: str) -> str:
    """SQL of the timestamp an Excel serial day number ``x`` (SQL: a column or a macro's
    argument) means, days since 1899-12-30 (``46235.75``: 1 August 2026 at 6 PM), in the
    organization's zone; NULL for another value. 20000 to 80000: 1954 to 2119."""
    return f"""CASE WHEN regexp_full_match(trim(CAST({x} AS VARCHAR)), '[1-9][0-9]{{4}}(\\.[0-9]+)?')
                   AND CAST(trim(CAST({x} AS VARCHAR)) AS DOUBLE) BETWEEN 20000 AND 80000
              THEN CAST(TIMESTAMP '1899-12-30' + to_microseconds(
                   CAST(round(CAST(trim(CAST({x} AS VARCHAR)) AS DOUBLE) * 86400000000) AS BIGINT))
                   AS TIMESTAMPTZ) END"""


# SQL helpers, created as TEMP macros on the sync connection.
#
# Planning, not running, is most of a small organization's sync: a macro repeats its
# argument wherever its body names it, and each copy is bound and optimized. Where
# NULL and '' give the same result, a body names cb_s's trim without its nullif
# (cb_id's test, cb_email, cb_bool, the Excel branch: the empty value fails the test
# or the pattern either way); where a NULL short-cuts work on empty values (the casts
# and try_strptime of cb_ts), the nullif stays: without it 2M dates, a fifth of them
# empty, took 0.86 s instead of 0.24 s. Same values; 30-40% less planning each.
MACROS = [
    # text: trimmed, empty -> NULL
    "CREATE OR REPLACE TEMP MACRO cb_s(x) AS nullif(trim(CAST(x AS VARCHAR)), '')",
    # ids written by spreadsheets as floats ("12345.0")
    """CREATE OR REPLACE TEMP MACRO cb_id(x) AS CASE
         WHEN suffix(trim(CAST(x AS VARCHAR)), '.0')
         THEN regexp_replace(trim(CAST(x AS VARCHAR)), '\\.0+$', '') ELSE cb_s(x) END""",
    # (trim removes Unicode spaces too, such as a pasted no-break space; a zero-width
    # space or BOM it keeps makes the address invalid, never a second key for a person;
    # a full stop after the address, pasted from a sentence, made a second person, and
    # so did a link's "mailto:" copied with the address from a web page or a mail)
    """CREATE OR REPLACE TEMP MACRO cb_email_v(v) AS CASE
         WHEN regexp_full_match(v,
                                '[^@\\s\\x{200b}\\x{feff},;<>]+@[^@\\s\\x{200b}\\x{feff},;<>]+\\.[^@\\s\\x{200b}\\x{feff},;<>]+')
         THEN v END""",
    """CREATE OR REPLACE TEMP MACRO cb_email(x) AS cb_email_v(
         rtrim(replace(lower(trim(CAST(x AS VARCHAR))), 'mailto:', ''), '.'))""",
    # (coalesce(trim(x), '') is coalesce(cb_s(x), ''): an empty trim gives '' either way)
    """CREATE OR REPLACE TEMP MACRO cb_digits(x) AS regexp_replace(regexp_replace(
         coalesce(trim(CAST(x AS VARCHAR)), ''), '\\.0+$', ''), '[^0-9]', '', 'g')""",
    # a US number of 10 digits (not starting 0 or 1), or 11 starting 1 then not 0 or 1;
    # else 8 to 15 digits written with a leading '+', a country code: ten digits after a
    # '+' other than '+1' are not a US number ("+45 12 34 56 78" is a Danish number, it
    # was read as "+14512345678"). The digits are named five times (eight before, with
    # length(d) = 10 AND d[1] NOT IN ('0', '1') ...: planned in 2.2 ms, 1.0 ms now)
    """CREATE OR REPLACE TEMP MACRO cb_phone_d(x, d) AS CASE
         WHEN regexp_full_match(d, '1?[2-9][0-9]{9}')
              AND (starts_with(d, '1') OR NOT contains(CAST(x AS VARCHAR), '+'))
         THEN '+1' || right(d, 10)
         WHEN starts_with(trim(CAST(x AS VARCHAR)), '+') AND length(d) BETWEEN 8 AND 15
         THEN '+' || d END""",
    "CREATE OR REPLACE TEMP MACRO cb_phone_c(x) AS cb_phone_d(x, cb_digits(x))",
    # the number as written without what is not part of it: an extension at the end
    # ("617-555-0101 ext. 12", " x12", " #12": its digits made "+161755501013", another
    # number, or none), the trunk zero some countries write in brackets ("+44 (0)20 ..."
    # was "+4402...", not the "+4420..." the person's other tool holds), and an
    # international call prefix read as the '+' it stands for ("0044 20 ...", "011 44 ...")
    """CREATE OR REPLACE TEMP MACRO cb_phone_t(x) AS regexp_replace(regexp_replace(
         replace(trim(CAST(x AS VARCHAR)), '(0)', ''),
         '\\s*(?i:ext\\.?|extension|x|#)\\s*[0-9]{1,6}$', ''),
         '^(?:00|011)[\\s.\\-]*([1-9])', '+\\1')""",
    # (only a value with more than digits, spaces, brackets, dots, dashes and a '+', or
    # with a leading zero or a bracketed one, is rewritten: inside a CASE, DuckDB
    # computes the digits once per use, and the CASE around the whole made reading
    # phones twice as slow; this one costs a fifth)
    """CREATE OR REPLACE TEMP MACRO cb_phone(x) AS cb_phone_c(CASE
         WHEN regexp_full_match(CAST(x AS VARCHAR), '[1-9+(][0-9 ()+.\\-]*')
              AND NOT contains(CAST(x AS VARCHAR), '(0)')
         THEN CAST(x AS VARCHAR) ELSE cb_phone_t(x) END)""",
    # money: "$1,015.00" (commas group thousands), and a decimal comma as spreadsheets
    # in many locales write it ("12,50", "1.234,56"): stripping every comma read those
    # as 1250 and 1.23456. A comma with one or two digits after it is a decimal comma;
    # three ("1,015") group thousands. Only values with a comma are matched.
    """CREATE OR REPLACE TEMP MACRO cb_amount_v(v) AS CASE
         WHEN contains(v, ',') AND regexp_full_match(v, '-?[0-9]+(\\.[0-9]{3})*,[0-9]{1,2}')
         THEN TRY_CAST(replace(replace(v, '.', ''), ',', '.') AS DOUBLE)
         ELSE TRY_CAST(replace(v, ',', '') AS DOUBLE) END""",
    """CREATE OR REPLACE TEMP MACRO cb_amount(x) AS cb_amount_v(
         replace(replace(replace(replace(trim(CAST(x AS VARCHAR)), '$', ''), '€', ''), '£', ''),
                 ' ', ''))""",
    """CREATE OR REPLACE TEMP MACRO cb_bool(x) AS CASE
         WHEN lower(trim(CAST(x AS VARCHAR))) IN ('true', 't', 'yes', 'y', '1', 'x', '✓', '✔')
         THEN TRUE
         WHEN lower(trim(CAST(x AS VARCHAR))) IN ('false', 'f', 'no', 'n', '0') THEN FALSE
         END""",
    # timestamps: ISO 8601 (naive = the organization's time zone, or with an offset),
    # US dates, and Excel serial day numbers (days since 1899-12-30). The value as it is
    # first: a value that reads untrimmed reads the same trimmed (the cast skips
    # surrounding whitespace), and most need no trim (0.2 s less per 5M values).
    #
    # A year before 1800 is no date an export means: DuckDB's cast reads "4/3/26" as the
    # year 4 (month 3, day 26), and %Y reads "12/31/26" as the year 26. Both were kept,
    # silently, for a spreadsheet's two-digit years; cb_sane drops them, so the two-digit
    # formats (%y: 2000-2068, 1969-1999) read them after the four-digit ones. cb_sane is
    # applied once, around the two casts together: DuckDB rewrites nullif into a CASE
    # that names its argument twice and computes such arguments beforehand, so a
    # cb_sane on each reading evaluated every strptime for every value (20x slower);
    # the text's readings are checked by a filter instead (see ts_macro).
    """CREATE OR REPLACE TEMP MACRO cb_sane(t) AS nullif(
         greatest(t, TIMESTAMPTZ '1800-01-01 00:00:00+00'), TIMESTAMPTZ '1800-01-01 00:00:00+00')""",
    # a date's text without the zone its time ends with; and that zone: GMT and the
    # offset it means, NULL for an abbreviation not read, the organization's when none
    f"CREATE OR REPLACE TEMP MACRO cb_bare(v) AS regexp_replace(v, {ZONE_AT_END}, '\\1')",
    f"""CREATE OR REPLACE TEMP MACRO cb_zone(v) AS CASE
         WHEN NOT regexp_matches(v, {ZONE_AT_END}) THEN current_setting('TimeZone')
         WHEN regexp_matches(v, '[0-9]\\s*$') THEN 'GMT' || regexp_extract(v, '([+-][0-9:]+)\\s*$', 1)
         ELSE {ZONES}[upper(regexp_extract(v, '([A-Za-z]+)\\s*$', 1))] END""",
    ts_macro("cb_ts", SLASH_YYYY, SLASH_YY),
    # (a spreadsheet whose own values show day first: readers._day_first)
    ts_macro(
        "cb_ts_dmy",
        sql_list(slash_formats("%d/%m", "%Y")),
        sql_list(slash_formats("%d/%m", "%y")),
    ),
    # Unix seconds (Mobilize), Unix milliseconds (JavaScript's Date, some API clients'
    # JSON) or any of the above. 12 or 13 digits are milliseconds: as seconds they are
    # the year 5138 and later, no date an export means (9 to 11 digits as milliseconds
    # are days of January 1970).
    """CREATE OR REPLACE TEMP MACRO cb_epoch(x) AS CASE
         WHEN regexp_full_match(trim(CAST(x AS VARCHAR)), '-?[0-9]{9,11}(\\.[0-9]+)?')
         THEN to_timestamp(CAST(trim(CAST(x AS VARCHAR)) AS DOUBLE))
         WHEN regexp_full_match(trim(CAST(x AS VARCHAR)), '-?[0-9]{12,13}(\\.[0-9]+)?')
         THEN to_timestamp(CAST(trim(CAST(x AS VARCHAR)) AS DOUBLE) / 1000) ELSE cb_ts(x) END""",
    # a JSON string field
    "CREATE OR REPLACE TEMP MACRO js(j, p) AS cb_s(json_extract_string(j, p))",
    # the element of a JSON list of emails or phones to use: the one marked primary,
    # else the first whose ``field`` is one of ``wanted`` (a subscribed address, a
    # mobile number), else the first
    """CREATE OR REPLACE TEMP MACRO cb_pick(arr, field, wanted) AS CASE
        WHEN json_type(arr) = 'ARRAY' THEN json_extract(arr, '$[' || (coalesce(
            list_position(list_transform(CAST(arr AS JSON[]),
                lambda e: json_extract_string(e, '$.primary') = 'true'), true),
            list_position(list_transform(CAST(arr AS JSON[]),
                lambda e: list_contains(wanted, lower(json_extract_string(e, field)))), true),
            1) - 1) || ']') END""",
]


def _either(names: list[str]) -> str:
    """``a, b or c``."""
    return ", ".join(names[:-1]) + " or " + names[-1]


# the forms cb_ts reads, as a rejected date's reason names them
BAD_DATE = (
    "date not readable (expected ISO 8601 like 2026-09-14 or 2026-09-14T18:00:00Z, "
    "MM/DD/YYYY with or without a time such as 09/14/2026 6:00 PM, a month's name such "
    "as Sep 14, 2026 6:00 PM or Mon, 14 Sep 2026 18:00:00 GMT, a time followed by an "
    "offset such as -0400, by one of the zones "
    + _either([z for z in ZONE_OFFSETS if z != "UT"])
    + ", or by "
    + _either(list(ZONE_CLOCKS))
    + ", read as the clock of "
    + _either([city.split("/")[1].replace("_", " ") for city in ZONE_CLOCKS.values()])
    + " on that date (another abbreviation, such as IST or BST, names different zones in "
    "different countries: write its offset instead), or an Excel serial day number)"
)
# ... and cb_epoch, for an API's JSON
BAD_EPOCH = BAD_DATE.removesuffix(")") + ", or Unix seconds or milliseconds)"


@dataclass
class FileInfo:
    """One export file of one source."""

    file_no: int
    path: Path
    rel: str  # path relative to the organization's exports/ folder (used in messages)
    source_kind: str
    source_label: str
    sha256: str = ""
    # the source's name in the store (config.Source.store_name), kept in the file's
    # sync_run row: `cyclebook forget --source` finds its files by it
    store_source: str = ""
    size: int = 0
    role: str = ""  # e.g. the VAN table, "contacts"/"messages" for Spoke
    rows_read: int = 0
    rows_skipped: int = 0  # blank rows (not data)
    # records read and deliberately not kept (not rejected either), each kind said in a
    # note: an Action Builder workplace is not a person
    rows_left_out: int = 0
    unknown_columns: list[str] = field(default_factory=list)
    # a JSON page's own custom fields (Action Network's custom_fields, Mobilize's sign-up
    # questions), kept as custom_field rows (an events page's keys: event_field rows): a
    # CSV's are its unknown columns
    custom_fields: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    json_records: bool = False  # line numbers are record positions, not text lines
    embedded_key: str = ""  # a HAL page's first `_embedded` key (its collection)
    carried: bool = False  # unchanged and not needed by the changed ones: not read again
    read_path: Path | None = None  # transcoded copy, when the file was not UTF-8
    delimiter: str = ","  # the CSV's field separator (as read)
    skip: int = 0  # lines above the header (a spreadsheet's title), not read
    # set when the archive copy computed the hash: the stat and time it was read at
    hashed_stat: os.stat_result | None = None
    hashed_at_ns: int = 0


# The largest file accepted as one export (CYCLEBOOK_MAX_EXPORT_BYTES overrides it). An
# election year's VAN contacts table is a few GB; anything bigger is almost always the
# wrong file (a database dump, a video) and would only fill the disk and the archive.
DEFAULT_MAX_EXPORT_BYTES = settings.DEFAULT_MAX_EXPORT_BYTES


# exports in another encoding are rewritten as UTF-8 this many bytes at a time
TRANSCODE_PIECE_BYTES = 16 << 20

CP1252_FALLBACK = "cyclebook-cp1252"


class _Cp1252Fallback(threading.local):
    """A codec error handler: the bytes UTF-8 cannot decode, read as Windows-1252 (its
    five undefined bytes as Latin-1, so no byte is lost), counted per thread."""

    read = 0  # bytes read as Windows-1252

    def __call__(self, error: UnicodeError) -> tuple[str, int]:
        if not isinstance(error, UnicodeDecodeError):
            raise error
        bad = error.object[error.start : error.end]
        self.read += len(bad)
        text = "".join(
            chr(b) if b in (0x81, 0x8D, 0x8F, 0x90, 0x9D) else bytes([b]).decode("cp1252")
            for b in bad
        )
        return text, error.end


_CP1252_FALLBACK = _Cp1252Fallback()
codecs.register_error(CP1252_FALLBACK, _CP1252_FALLBACK)
_NON_ASCII = bytes(range(128, 256))


def _write_decoded(path: Path, target: Path, decoder: codecs.IncrementalDecoder) -> None:
    """``path`` decoded by ``decoder``, written to ``target`` as UTF-8 without a BOM. In
    pieces: a 400 MB export is never held whole in memory (as bytes, then as text, then
    as UTF-8 bytes again)."""
    with open(path, "rb") as source, open(target, "w", encoding="utf-8") as out:
        started = False
        while piece := source.read(TRANSCODE_PIECE_BYTES):
            text = decoder.decode(piece)
            if not started and text:
                text, started = text.removeprefix("\ufeff"), True
            out.write(text)
        out.write(decoder.decode(b"", final=True))


def _is_utf8_file(path: Path) -> bool:
    """Whether the whole file is valid UTF-8 (read in pieces)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as source:
            while piece := source.read(TRANSCODE_PIECE_BYTES):
                decoder.decode(piece)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _has_utf8_beyond_ascii(path: Path) -> bool:
    """Whether the file holds a valid UTF-8 character beyond ASCII (then it is UTF-8,
    perhaps with some lines in another encoding): decoded with invalid bytes dropped, it
    has more characters than it has ASCII bytes."""
    with open(path, "rb") as source:
        while piece := source.read(TRANSCODE_PIECE_BYTES):
            ascii_bytes = len(piece.translate(None, _NON_ASCII))
            if len(piece.decode("utf-8", "ignore")) > ascii_bytes:
                return True
    return False


JSON_SUFFIXES = (".json", ".ndjson", ".jsonl")

# a page that is not JSON is read again, up to this size, to say where it stops being JSON
JSON_LOCATED_BYTES = 64 << 20


def _json_error_at(path: Path) -> tuple[int, int, str] | None:
    """(line, column, what was expected there) of the first place the JSON text of
    ``path`` (one value, or several one after another as NDJSON) stops being JSON, as
    Python's parser finds it; None for a file larger than :data:`JSON_LOCATED_BYTES`
    or one that Python's parser reads whole (DuckDB's message is then all there is)."""
    if path.stat().st_size > JSON_LOCATED_BYTES:
        return None
    # (a byte-order mark is no character an editor shows: columns count without it)
    text = path.read_bytes().decode("utf-8", errors="replace").removeprefix("\ufeff")
    decoder = json.JSONDecoder()
    at = 0
    while True:
        while at < len(text) and text[at] in " \t\r\n":
            at += 1
        if at >= len(text):
            return None
        try:
            _, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            if exc.pos >= len(text.rstrip()):  # (Python names what it expected next)
                return exc.lineno, exc.colno, "the text ends before the JSON does"
            return exc.lineno, exc.colno, exc.msg


# the page text unnested in one statement (see Stage.load_json_records)
JSON_BATCH_BYTES = 16 << 20


def _missing_columns(
    what: str,
    missing: list[str],
    required: Sequence[str],
    known: Collection[str],
    columns: list[str],
) -> tuple[str, str]:
    """The problem and fix of a CSV that lacks required columns.

    The names found are listed when one of them is a column the tool's export has (a
    required one or another ``known`` one): the first line is a header then. When none
    is, the first line may be a record (a file saved without its header row) and its
    "names" a member's name, email and phone, which would reach the failed sync's report
    before the store knows the member to guard against: only names that contain a
    missing column's name (``Email Address`` for ``email``) are shown then."""
    problem = f"the {what} lacks required column(s) {', '.join(missing)}"
    fix = (
        "export the report with these columns included (check the report's column "
        "settings in the tool), or fix the header row."
    )
    vocabulary = {c.lower() for c in (*required, *known)}
    if any(c.lower() in vocabulary for c in columns):
        shown = ", ".join(columns[:12]) + ("…" if len(columns) > 12 else "")
        return f"{problem} (found: {shown})", fix
    alike = [
        c
        for c in columns
        if any(m.lower() in c.lower() for m in missing)
        and "@" not in c
        and sum(ch.isdigit() for ch in c) < 5
    ][:6]
    problem += (
        f" (none of its {len(columns)} columns is one of them"
        + (f"; alike: {', '.join(alike)}" if alike else "")
        + ")"
    )
    return problem, (
        "check that the file's first line is the tool's header row (a file saved without "
        "it starts with a record) and that this is the right export; " + fix
    )


def _errors_by_line(
    errors: list[tuple], reasons: dict[str, str]
) -> list[tuple[int | None, str | None, str]]:
    """DuckDB's CSV errors as one rejected row per line: (line, column, reason).

    DuckDB reports a short line once per missing column; counted so, a file of two short
    lines read as ten rows, eight of them kept. The columns of a line's errors of one kind
    are named in its reason (they are the header's names, never a member's value); an
    error without a line stays as it is."""
    merged: dict[object, list] = {}
    for number, (line, column, kind) in enumerate(errors):
        key = int(line) if line is not None else ("no line", number)
        entry = merged.setdefault(key, [None if line is None else int(line), column, kind, []])
        if kind == entry[2] and column is not None and column not in entry[3]:
            entry[3].append(column)
    out = []
    for line, column, kind, columns in merged.values():
        reason = reasons.get(kind, kind.lower())
        if len(columns) > 1:
            shown = ", ".join(columns[:6]) + (
                f" … (+{len(columns) - 6} more)" if len(columns) > 6 else ""
            )
            reason += f" (no value for {shown})" if kind == "MISSING COLUMNS" else f" ({shown})"
        out.append((line, column, reason))
    return out


def _batches(sizes: list[tuple[int, int]], budget: int) -> list[tuple[int, int]]:
    """Consecutive (first, last) rowid ranges of pages whose text adds up to at most
    ``budget`` bytes (a larger page is a batch of its own)."""
    batches: list[list[int]] = []  # [first, last, bytes]
    for rowid, size in sizes:
        if batches and batches[-1][2] + (size or 0) <= budget:
            batches[-1][1:] = [rowid, batches[-1][2] + (size or 0)]
        else:
            batches.append([rowid, rowid, size or 0])
    return [(first, last) for first, last, _ in batches]


def max_export_bytes() -> int:
    return settings.size_bytes(settings.MAX_EXPORT_BYTES, DEFAULT_MAX_EXPORT_BYTES)


def list_rows(columns: dict[str, tuple[str, list]]) -> tuple[str, dict[str, list]]:
    """Python lists as rows: a SELECT with one column per ``name: (SQL type, values)``
    (lists of one length) and its parameters. Passed as lists, not as a registered Arrow
    table (DuckDB imports pandas for that: ~0.3 s of a small organization's sync)."""
    select = "SELECT " + ", ".join(
        f"unnest(${name}::{sql_type}[]) AS {name}" for name, (sql_type, _) in columns.items()
    )
    return select, {name: values for name, (_, values) in columns.items()}


SYNC_TMP_PREFIX = "sync-"


def _private_tmpdir(root: Path | None) -> Path:
    """A folder for the re-encoded copies of exports (UTF-8 copies of Windows-1252 files,
    with every member's name, email and phone), named after this process: under the
    cohort's ``.cyclebook/tmp`` (as private as the store) rather than the machine's /tmp,
    where a sync killed mid-way left them for good. Folders of syncs that were killed are
    removed here."""
    from cyclebook.paths import owned_dir, sweep_owned_dirs

    if root is None:
        return Path(tempfile.mkdtemp(prefix=f"cyclebook-{SYNC_TMP_PREFIX}"))
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    sweep_owned_dirs(root, SYNC_TMP_PREFIX)
    return Path(owned_dir(SYNC_TMP_PREFIX, root))


def _views(parts: dict[str, list[str]]) -> list[str]:
    """The staged views of the deferred tables: each its table's rows and ``parts``."""
    return [
        f"CREATE OR REPLACE TEMP VIEW {name} AS "
        + " UNION ALL ".join([f"SELECT * FROM {name}_t", *parts.get(name, [])])
        for name in DEFERRED
    ]


# What every sync's connection starts with, whatever the organization: the macros, the
# empty staging tables and their views, in one call (a call each cost ~0.5 ms: a small
# organization's sync is mostly such fixed costs). Parsing the macros alone is ~20 ms:
# the kernel zygote runs this on the instance each kernel's sync takes before it forks
# (store.prepare_for_fork), so a kernel's sync skips it (Stage's ``prepared``).
STAGE_SETUP = ";\n".join(
    [
        *MACROS,
        *(
            f"CREATE OR REPLACE TEMP TABLE {name + '_t' if name in DEFERRED else name} ({columns})"
            for name, columns in STAGE_SCHEMA.items()
        ),
        *_views({}),
    ]
)


class Stage:
    """TEMP staging tables on the sync connection plus the list of files read."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection | None,
        org_id: str,
        timezone: str,
        tmp_root: Path | None = None,
        *,
        prepared: bool = False,
    ) -> None:
        """``prepared``: ``con`` has run :data:`STAGE_SETUP` already (see
        :func:`store.private_instance`). ``con`` None: files are listed now, and the
        connection is given by :meth:`open` once there is something to read (a sync of
        unchanged exports makes none)."""
        self.con: duckdb.DuckDBPyConnection  # (set by open)
        self.org_id = org_id
        self.timezone = timezone
        self.tmp_root = tmp_root
        self.files: list[FileInfo] = []
        self.tmpdir: Path | None = None
        self._n = 0
        # rows readers add to a deferred table stay in their typed tables: the staged
        # table is a view over them (see finalize), so 10M activities are not copied
        self.parts: dict[str, list[str]] = {name: [] for name in DEFERRED}
        self.kept: list[str] = []  # typed tables the views read
        # objects inside JSON records whose keys json_keys names ("person")
        self.nested_json_objects: set[str] = set()
        self._empty_rejects: list[str] = []  # DuckDB's rejects tables of a CSV, to drop
        # the files whose custom fields finalize lists: (files, exclude, staged)
        self._custom_listings: list[tuple[list[FileInfo], tuple[str, ...], tuple[str, ...]]] = []
        if con is not None:
            self.open(con, prepared=prepared)

    def open(self, con: duckdb.DuckDBPyConnection, *, prepared: bool = False) -> None:
        """Read into ``con`` (see ``__init__``)."""
        self.con = con
        self.tmpdir = _private_tmpdir(self.tmp_root)
        zone = f"SET TimeZone = {sql_str(self.timezone)}"
        con.execute(zone if prepared else f"{zone};\n{STAGE_SETUP}")

    def use_salt(self, salt: str) -> None:
        """Make ``cb_key(v)``, a person's key as the store keeps it: the salted hash of an
        email or phone, any other id as it is (see ``store.personal_key_sql``). Readers
        name people by it wherever a tool names them by an email or a phone. And
        ``cb_digest(v)``, the stored form of the MD5 ``v`` of a row's content, that
        readers name an activity by when its export gives it no id, or of a Spoke
        texter's name (see ``store.salted_digest_sql``)."""
        salted = sql_str(salt)
        self.con.execute(
            f"CREATE OR REPLACE TEMP MACRO cb_key(v) AS {personal_key_sql('v', salted)};"
            f"CREATE OR REPLACE TEMP MACRO cb_digest(v) AS {salted_digest_sql('v', salted)}"
        )

    def defer(self, table: str, select: str, typed: str) -> None:
        self.parts[table].append(select)
        if typed not in self.kept:
            self.kept.append(typed)

    def release_unused(self, *still_needed_by: str) -> None:
        """Drop the typed tables no remaining deferred view reads."""
        keep, unused = [], []
        for typed in self.kept:
            if any(f" {typed} " in part for name in still_needed_by for part in self.parts[name]):
                keep.append(typed)
            else:
                unused.append(typed)
        if unused:  # (in one call: a call each cost ~0.3 ms)
            self.con.execute("".join(f"DROP TABLE IF EXISTS {typed};" for typed in unused))
        self.kept = keep

    def finalize(self) -> None:
        self._list_custom_fields()
        self.con.execute(";\n".join(self._views()))

    def _views(self) -> list[str]:
        return _views(self.parts)

    def close(self, drop: bool = True) -> None:
        """Remove the staged tables (not needed when the connection is closed next:
        that frees them) and the folder of transcoded copies."""
        if self.tmpdir is None:
            return  # never opened: nothing was staged
        if drop:
            self.con.execute(
                ";\n".join(
                    [f"DROP VIEW IF EXISTS {name}" for name in DEFERRED]
                    + [
                        f"DROP TABLE IF EXISTS {name + '_t' if name in DEFERRED else name}"
                        for name in STAGE_SCHEMA
                    ]
                    + [f"DROP TABLE IF EXISTS {typed}" for typed in self.kept]
                    + [f"DROP TABLE IF EXISTS {t}" for t in self._empty_rejects]
                )
            )
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def tmp_name(self, prefix: str = "t") -> str:
        self._n += 1
        return f"cb_{prefix}_{self._n}"

    def add_file(self, path: Path, rel: str, kind: str, label: str, role: str = "") -> FileInfo:
        info = FileInfo(len(self.files), path, rel, kind, label, role=role)
        info.size = path.stat().st_size
        limit = max_export_bytes()
        if info.size > limit:  # before hashing or reading a byte of it
            raise self.error(
                info,
                f"the file is {info.size:,} bytes, larger than the {limit:,}-byte limit "
                "for one export",
                "check that the right file is named as this export (a database dump or a "
                "video is not an export); split a real export into several files in the "
                "source's folder, or raise CYCLEBOOK_MAX_EXPORT_BYTES.",
            )
        self.files.append(info)
        return info

    def error(self, f: FileInfo, problem: str, fix: str, **kw) -> ExportError:
        return ExportError(f.rel, problem, org_id=self.org_id, fix=fix, **kw)

    @staticmethod
    def duckdb_said(f: FileInfo, exc: BaseException) -> str:
        """The first line of DuckDB's message about file ``f``, naming the file as the
        sync's messages do (by its name under the exports folder), not by the full path
        DuckDB was given (the sync's re-encoded copy's, for a file not UTF-8)."""
        first = str(exc).strip().splitlines()[0].split(" Input:")[0] if str(exc).strip() else ""
        for path in (f.read_path, f.path):
            if path is not None:
                first = first.replace(str(path), f.rel)
        return first[:200]

    # ------------------------------------------------------------------ CSV

    def _check_bytes(self, f: FileInfo, wide: str | None = None, *, page: bool = False) -> bytes:
        """The file's first 64 KB, once it is known not to be empty nor binary.
        ``wide``: the UTF-16 or UTF-32 encoding a CSV reader expects ("utf-16" takes a
        file with a UTF-16 byte-order mark): such text is not binary. ``page``: the file
        is an API's JSON page, not a CSV (the fixes differ: JSON is read as UTF-8 or
        Windows-1252, never UTF-16, and is downloaded again rather than saved from a
        spreadsheet)."""
        with open(f.path, "rb") as handle:
            head = handle.read(64 * 1024)
        if wide and (wide != "utf-16" or head.startswith(UTF16_BOMS)):
            if not head.decode(wide, errors="ignore").strip("\ufeff \t\r\n"):
                raise self.error(f, "the file is empty", "export the report again.")
            return head
        stripped = head.removeprefix(b"\xef\xbb\xbf").strip()
        if not stripped:
            raise self.error(
                f,
                "the file is empty",
                "download the page again from the API; an empty file usually means the "
                "download was interrupted."
                if page
                else "export the report again from the tool; an empty file usually means the "
                "download was interrupted or the report had no rows.",
            )
        if b"\x00" in head:
            raise self.error(f, *_binary_problem(head, page))
        return head

    def _repair_encoding(self, f: FileInfo) -> Path:
        """Windows-1252 (Excel's "CSV" on Windows), or UTF-8 with some lines saved as
        Windows-1252 (a file edited in two programs): transcoded once, the UTF-8 kept as
        it is, to be read again; a note says which."""
        path, utf8_too = self._transcode_repaired(f)
        f.read_path = path
        f.notes.append(
            f"read as UTF-8 with {utf8_too} byte(s) that are not UTF-8 read as "
            "Windows-1252 (parts of the file were saved by another program)"
            if utf8_too
            else "read as Windows-1252 text (not UTF-8)"
        )
        return path

    def _transcode_repaired(self, f: FileInfo) -> tuple[Path, int]:
        """The file as UTF-8, when it is not: Windows-1252 throughout (Excel's "CSV" on
        Windows), or UTF-8 with some lines saved as Windows-1252 by another program.
        Returns the path and, for a mixed file, how many bytes were read as
        Windows-1252 (0 for a Windows-1252 file).

        A mixed file keeps its UTF-8 as it is (read whole as Windows-1252, "José" became
        "JosÃ©" in every name and title, silently). The five bytes Windows-1252 leaves
        undefined are read as their Latin-1 characters: no byte is lost. Which kind of
        file it is is found first, at C speed (0.14 s for 50 MB); the byte-at-a-time
        repair (6 s for 50 MB of Spanish names in Windows-1252) runs only on a mixed
        file, where few bytes need it."""
        mixed = _has_utf8_beyond_ascii(f.path)
        # (a JSON page's copy keeps its suffix: it is a page, not a CSV)
        suffix = f.path.suffix.lower() if f.path.suffix.lower() in JSON_SUFFIXES else ".csv"
        target = self.tmpdir / f"{f.file_no}{suffix}"
        _CP1252_FALLBACK.read = 0
        decoder = codecs.getincrementaldecoder("utf-8" if mixed else "cp1252")(
            errors=CP1252_FALLBACK
        )
        _write_decoded(f.path, target, decoder)
        return target, _CP1252_FALLBACK.read if mixed else 0

    def _one_line_end(self, f: FileInfo, path: Path) -> Path:
        """A copy of the file (or of its UTF-8 copy) with every CRLF written as LF: the
        same lines, so rejects keep their line numbers."""
        target = self.tmpdir / f"{f.file_no}.lf.csv"
        with open(path, "rb") as source, open(target, "wb") as out:
            pending = b""
            while chunk := source.read(1 << 24):
                chunk, pending = pending + chunk, b""
                if chunk.endswith(b"\r"):  # its LF may start the next chunk
                    chunk, pending = chunk[:-1], b"\r"
                out.write(chunk.replace(b"\r\n", b"\n"))
            out.write(pending)
        f.read_path = target
        f.notes.append(
            "lines end two ways (Windows and Unix line ends: rows added in another "
            "program); read as one"
        )
        return target

    def _transcode(self, f: FileInfo, encoding: str) -> Path:
        target = self.tmpdir / f"{f.file_no}.csv"
        try:
            _write_decoded(f.path, target, codecs.getincrementaldecoder(encoding)())
        except (UnicodeDecodeError, LookupError) as exc:
            raise self.error(
                f,
                f"the file is neither UTF-8 nor {encoding} text",
                "save it as 'CSV UTF-8' from the spreadsheet, or set 'encoding' on the "
                "source in cohort.yml.",
            ) from exc
        return target

    def load_csv(
        self,
        f: FileInfo,
        *,
        required: list[str] | tuple[str, ...] = (),
        known: Collection[str] = (),
        encoding: str | None = None,
        delimiter: str | None = None,
        what: str = "export",
        skip: int = 0,
    ) -> tuple[str, list[str]]:
        """Read one CSV into a TEMP table of VARCHAR columns plus ``__rec``.

        Fields are separated by ``delimiter`` (the source's, from cohort.yml) or, when
        it is not set, by commas, or by tabs when the header line has tabs and no comma.
        Structural problems (too many columns, bad quoting) become rejects with the line
        DuckDB reports; blank rows are dropped and counted; a repeated header line is a
        reject. ``skip``: the lines above the header row (a spreadsheet's title), not
        read. Returns the table name and the file's column names.
        """
        wide = encoding if encoding and _wide(encoding) else None
        head = self._check_bytes(f, wide or ("utf-16" if not encoding else None))
        if head.startswith(UTF16_BOMS) and not encoding:
            # a spreadsheet's "Unicode Text" (UTF-16 with its byte-order mark, tab-separated)
            encoding = "utf-16"
            f.notes.append("read as UTF-16 text")
        f.skip = skip
        path = f.path
        named = bool(encoding) and encoding.lower().replace("_", "-") not in UTF8_NAMES
        if named and not wide and head.startswith(b"\xef\xbb\xbf"):
            # a file saved as "CSV UTF-8" (Excel writes the mark) beside exports in the
            # source's encoding: read in that, its mark became "ï»¿" in the first
            # column's name (an activist report's uuid unknown, its people named by
            # their email instead; a spreadsheet's mapped column missing) and its
            # accents two characters each ("JosÃ©")
            named = False
            f.notes.append(
                f"read as UTF-8, not as this source's encoding {encoding}: the file "
                "starts with UTF-8's byte-order mark (saved as 'CSV UTF-8')"
            )
        if named:
            path = self._transcode(f, encoding)
            f.read_path = path
            with open(path, "rb") as handle:
                head = handle.read(64 * 1024)
        header_line = (head.removeprefix(b"\xef\xbb\xbf").split(b"\n", skip + 1) + [b""])[skip]
        if delimiter is None and b"\t" in header_line and b"," not in header_line:
            # VAN's "tab delimited text" export (and a spreadsheet's "Text (Tab delimited)")
            delimiter = "\t"
            f.notes.append("read as tab-separated text")
        f.delimiter = delimiter or ","
        if not named and not _is_utf8(header_line):
            # DuckDB reports bytes that are not UTF-8 in records, not in the header: a
            # Windows-1252 file whose only accents were in its header ("Teléfono") lost
            # its header line without a word, and the file was refused for lacking columns
            path = self._repair_encoding(f)
        table = self.tmp_name("csv")
        for attempt in range(2):
            rj, rs = self.tmp_name("rj"), self.tmp_name("rs")
            # (the empty rejects tables of the CSV read before go in the same call)
            earlier, self._empty_rejects = self._empty_rejects, []
            try:
                (total,) = self.con.execute(  # (the records read: the rows it returns)
                    "".join(f"DROP TABLE IF EXISTS {t}; " for t in earlier)
                    + f"""CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM read_csv(
                        {sql_str(str(path))}, header = true, all_varchar = true,
                        delim = {sql_str(f.delimiter)}, quote = '"', escape = '"',
                        auto_detect = true, skip = {int(skip)},
                        normalize_names = false, store_rejects = true,
                        rejects_table = '{rj}', rejects_scan = '{rs}',
                        max_line_size = 4000000, sample_size = 20480)"""
                ).fetchone()
            except duckdb.OutOfMemoryException:
                raise  # the machine's limit, not the file's fault (see sync_org)
            except duckdb.Error as exc:
                if attempt == 0 and _mixed_line_ends(path):
                    # rows appended in another program: DuckDB reads one kind of line
                    # end per file, and stopped on the other (the sniffer, or a "state
                    # machine" error), so the organization's whole sync failed
                    path = self._one_line_end(f, path)
                    continue
                opened = unclosed_quote_line(path)
                if opened is not None:
                    raise self.error(
                        f,
                        "a quoted value opens here and is never closed (every later line "
                        "would be read as part of it)",
                        'close the quote (a " inside a value is written "") or remove it, '
                        "or re-export the file from the tool if it was edited by hand.",
                        line=opened,
                    ) from exc
                raise self.error(
                    f,
                    f"cannot be read as CSV ({self.duckdb_said(f, exc)})",
                    "check that the file is a comma-separated export with a header row; "
                    "re-export it from the tool if it was edited by hand.",
                ) from exc
            errors = self.con.execute(
                f"SELECT line, column_name, CAST(error_type AS VARCHAR) FROM {rj} ORDER BY line"
            ).fetchall()
            dropped = f"DROP TABLE IF EXISTS {rj}; DROP TABLE IF EXISTS {rs}"
            if (
                attempt == 0
                and f.read_path is None
                and any(e[2] == "INVALID ENCODING" for e in errors)
            ):
                self.con.execute(dropped)
                path = self._repair_encoding(f)
                continue
            break
        if errors:
            self.con.execute(dropped)
        else:  # (dropped with the next CSV's reading: a call less a file)
            self._empty_rejects = [rj, rs]
        columns = self.con.table(table).columns  # (no statement: ~0.4 ms less a file)
        if _may_hold_cr(path):
            _one_line_end_in_values(self.con, table, columns)
        if len(columns) == 1 and f.delimiter == "," and b"," not in header_line:
            # (a tab here means the source named ',' itself: unset, tabs are read as such)
            for sign, name in ((b";", "';'"), (b"|", "'|'"), (b"\t", "tab")):
                if sign in header_line:
                    raise self.error(
                        f,
                        f"the file is not comma-separated (its header line is {name} separated)",
                        "save it from the spreadsheet as 'CSV UTF-8 (comma delimited)', or "
                        f"set `delimiter: {name}` on this source in cohort.yml (then check "
                        "that amounts do not use decimal commas).",
                    )
        lower = {c.lower(): c for c in columns}
        missing = [c for c in required if c.lower() not in lower]
        if missing:
            raise self.error(f, *_missing_columns(what, missing, required, known, columns))
        # records keep their rowid (0-based record number in the file) as ``rec``
        # blank rows (Excel's trailing ",,,,") and repeated header lines
        all_null = " AND ".join(f"{ident(c)} IS NULL" for c in columns)
        header, tests, compared = self._header_test(path, f, columns, known)
        # each test of a header line is a scan of its own, as the counts are: its filter
        # is pushed into its scan (an IN list inside an OR is expanded into one
        # comparison a value, and the tests' OR took 0.3 s per million rows, 0.03 s so).
        # A test holds only for a value equal to a name: never for a blank row.
        found = " UNION ".join(f"SELECT rowid AS r FROM {table} WHERE {t}" for t in tests)
        candidate = f"rowid IN (SELECT r FROM ({found}))"
        if _plainly_no_blank_nor_header_record(path, f, compared):
            blank = candidates = 0  # (the query costs 4-6 ms of planning a file)
        else:
            # one statement, several scans: each one's filter is pushed into its scan
            # (one scan with FILTER clauses evaluated every test on every row: 3x slower)
            blank, candidates = self.con.execute(
                f"""SELECT (SELECT count(*) FROM {table} WHERE {all_null}),
                           (SELECT count(*) FROM ({found}))"""
            ).fetchone()
        if blank:
            self.con.execute(f"DELETE FROM {table} WHERE {all_null}")
        headers = 0
        if candidates:
            headers = self._repeated_headers(
                f, path, table, columns, header, candidate, errors, known
            )
        total -= blank + headers
        columns = self._unnamed_columns(f, path, table, columns)
        if errors:  # one statement for all of them (a hostile file has thousands)
            reasons = {
                "TOO MANY COLUMNS": "more values than the header has columns",
                "MISSING COLUMNS": "fewer values than the header has columns",
                "UNQUOTED VALUE": "badly quoted value",
                "INVALID ENCODING": "text is not valid UTF-8",
                "LINE SIZE OVER MAXIMUM": "line longer than 4 MB",
                "INVALID STATE": "badly quoted value (unclosed quote)",
            }
            lines = _errors_by_line(errors, reasons)
            rows, params = list_rows(
                {
                    "line": ("BIGINT", [line for line, _, _ in lines]),
                    "col": ("VARCHAR", [col for _, col, _ in lines]),
                    "reason": ("VARCHAR", [reason for _, _, reason in lines]),
                }
            )
            self.con.execute(
                f"INSERT INTO st_reject SELECT {f.file_no}, NULL, line, col, reason FROM ({rows})",
                params,
            )
            errors = lines
        f.rows_read = int(total) + int(headers) + len(errors)
        f.rows_skipped = int(blank)
        return table, columns

    def _unnamed_columns(
        self, f: FileInfo, path: Path, table: str, columns: list[str]
    ) -> list[str]:
        """The columns, once those the header line leaves without a name are seen to:
        without a value in any row (a spreadsheet's trailing commas) they are not read,
        and a note counts them; with values they are named by their place, "column 5
        (no name)". DuckDB names them "column4" (counting from 0): they were listed as
        columns kept under that name, the fourth one, for the fifth column, and empty
        ones were listed too, as if they held something."""
        written = header_names(path, f.delimiter, f.skip)
        if written is None or len(written) != len(columns):
            return columns
        unnamed = [
            (i, c)
            for i, (c, w) in enumerate(zip(columns, written, strict=True))
            if not w.strip() and c.lower().startswith("column")
        ]
        if not unnamed:
            return columns
        counts = self.con.execute(
            "SELECT " + ", ".join(f"count({ident(c)})" for _, c in unnamed) + f" FROM {table}"
        ).fetchone()
        out = list(columns)
        statements, empty = [], 0
        for (i, c), n in zip(unnamed, counts, strict=True):
            if n:
                name = f"column {i + 1} (no name)"
                if name.lower() in {x.lower() for x in out}:
                    continue
                statements.append(f"ALTER TABLE {table} RENAME COLUMN {ident(c)} TO {ident(name)}")
                out[out.index(c)] = name
            else:
                statements.append(f"ALTER TABLE {table} DROP COLUMN {ident(c)}")
                out.remove(c)
                empty += 1
        if len(out) < 1:  # (a header of empty names only: left as it was)
            return columns
        for statement in statements:
            self.con.execute(statement)
        if empty:
            f.notes.append(
                f"{empty} column(s) without a name in the header and without a value in any "
                "row (a spreadsheet's trailing commas) were not read"
            )
        return out

    @staticmethod
    def _header_test(
        path: Path, f: FileInfo, columns: list[str], known: Collection[str] = ()
    ) -> tuple[list[str], list[str], set[str]]:
        """The header's names as its line writes them, compared as a record's values are
        (see ``_header_value``), the texts the tests compare values with, and SQL tests,
        one of which is TRUE for a record that may be that line again: its first three
        values are the first three names (in any case, spaced), or its first value is
        one of the names (another export's header line, after its byte-order mark or
        with its columns in another order), or its second or third is one of the names
        or of the tool's (``known``): a header line of another layout. DuckDB renames a
        repeated or empty name ("a_1", "column3"): the line itself names the columns as
        a repeated header line repeats them."""
        written = header_names(path, f.delimiter, f.skip)
        if written is None or len(written) != len(columns):
            written = columns
        header = [_header_value(n) for n in written]
        # a value equal to a column name once trimmed and lowercased has at least as many
        # bytes as the name has characters (lower() maps a character to one character): a
        # length test, nearly free, rules out most rows before the string work
        check = [(c, c.lower().strip()) for c in columns[: min(3, len(columns))]]
        tests = [
            " AND ".join(
                [f"strlen({ident(c)}) >= {len(name)}" for c, name in check if name]
                + [f"lower(trim(coalesce({ident(c)}, ''))) = {sql_str(name)}" for c, name in check]
            )
        ]
        names = sorted({n for n in (*header, *map(_header_value, columns)) if n})
        if names:
            first = ident(columns[0])
            sizes = [len(n.encode()) for n in names]
            # (a byte-order mark is 3 bytes; an id of digits, most files' first column,
            # is ruled out by its first character when every name starts with a letter:
            # without the test, a million VAN contact ids took 1.6 s of string work, 0.06 s
            # with it)
            cut = [f"strlen({first}) BETWEEN {min(sizes)} AND {max(sizes) + 3}"]
            if all(min(n[0], n[0].upper()) >= "A" for n in names):
                cut.append(f"{first} >= 'A'")
            listed = ", ".join(sql_str(n) for n in names)
            tests.append(
                "(" + " AND ".join(cut) + f" AND lower(trim(replace({first}, chr(65279), ''))) "
                f"IN ({listed}))"
            )
        # a header line of another layout of the tool (two exports joined) may start
        # with a column this file lacks ("Building,uuid,email", "zip_code,uuid,email"):
        # its second or third value is then one of the tool's names, written as the
        # tool writes its header (a cheap exact test: these values are mostly names)
        words = sorted(
            {
                variant
                for n in (*names, *(k.lower() for k in known))
                for variant in (n, n.upper(), n.title())
            }
            | {w for w in written if w}
        )
        if words and len(columns) > 1:
            listed = ", ".join(sql_str(w) for w in words)
            sizes = [len(w.encode()) for w in words]
            # (a column of ids or dates is ruled out by its values' first character, as
            # the first column's is, when every name starts with a letter)
            letters = all(min(w[0], w[0].upper()) >= "A" for w in words)
            for c in columns[1:3]:
                tests.append(
                    f"strlen({ident(c)}) BETWEEN {min(sizes)} AND {max(sizes)} "
                    + (f"AND {ident(c)} >= 'A' " if letters else "")
                    + f"AND {ident(c)} IN ({listed})"
                )
        return header, tests, {name for _, name in check} | set(names) | set(words)

    def _repeated_headers(
        self,
        f: FileInfo,
        path: Path,
        table: str,
        columns: list[str],
        header: list[str],
        candidate: str,
        errors: list[tuple],
        known: Collection[str] = (),
    ) -> int:
        """Reject the records that repeat the header line (a header pasted again, or the
        next export's header where two exports were joined into one file, often after
        its byte-order mark) and return how many there were. A record that is a header
        line of other columns, or of the same columns in another order (see also
        :func:`_another_layouts_header`), stops the file:
        the records below it hold their values in that line's order, and read under the
        first header's names an email was kept as a first name, the header line itself
        as a member."""
        # each distinct line once, with its records (a hostile file repeats one line a
        # million times)
        listed = ", ".join(ident(c) for c in columns)
        rows = self.con.execute(
            f"""SELECT min(rowid), list(rowid), {listed} FROM {table} WHERE {candidate}
                GROUP BY ALL ORDER BY 1"""
        ).fetchall()
        names = set(header) | {_header_value(c) for c in columns}
        tool_names = {k.lower() for k in known}
        repeated: list[int] = []
        for rec, recs, *values in rows:
            cleaned = [_header_value(v) for v in values]
            filled = [i for i, v in enumerate(cleaned) if v]
            if len(filled) >= min(2, len(columns)) and all(cleaned[i] == header[i] for i in filled):
                repeated += recs
                continue
            named = sum(1 for i in filled if cleaned[i] in names)
            if (named >= 2 and 3 * named >= 2 * len(filled)) or _another_layouts_header(
                [cleaned[i] for i in filled], tool_names, names
            ):
                raise self.error(
                    f,
                    "this line is a header row whose columns differ from the first line's "
                    "(in their order or their names): two exports joined into one file? The "
                    "rows below it would be read under the wrong columns",
                    "keep each export as its own file in the source's folder (each with "
                    "its own header row), or move the values of the rows below this line "
                    "into the first header's column order and delete this line.",
                    line=self._line_of_record(f, path, rec, errors),
                )
        if repeated:
            recs, params = list_rows({"rec": ("BIGINT", repeated)})
            self.con.execute(
                f"""INSERT INTO st_reject SELECT {f.file_no}, rec, NULL, NULL,
                        'repeated header line' FROM ({recs})""",
                params,
            )
            self.con.execute(
                f"DELETE FROM {table} WHERE rowid IN (SELECT rec FROM ({recs}))", params
            )
        return len(repeated)

    @staticmethod
    def _line_of_record(f: FileInfo, path: Path, rec: int, errors: list[tuple]) -> int | None:
        """The physical line of record ``rec`` (DuckDB's rowid) of a CSV being loaded,
        as :meth:`reject_lines` finds it (``errors``: DuckDB's shape errors)."""
        records = record_lines(path, f.delimiter, f.skip)
        if records is None:
            return None
        shape = {int(e[0]) for e in errors if e[0] is not None}
        accepted = [line for line, duckdb_line in records if duckdb_line not in shape]
        return accepted[rec] if 0 <= rec < len(accepted) else None

    @staticmethod
    def col(columns: list[str], *names: str, prefix: str = "") -> str:
        """SQL for the first present column among ``names`` (case-insensitive), else NULL."""
        lower = {c.lower(): c for c in columns}
        for name in names:
            if name.lower() in lower:
                return prefix + ident(lower[name.lower()])
        return "NULL"

    def unknown(self, f: FileInfo, columns: list[str], known: set[str]) -> list[str]:
        known_lower = {k.lower() for k in known}
        out = [c for c in columns if c.lower() not in known_lower and not c.startswith("__")]
        f.unknown_columns = out
        return out

    # ------------------------------------------------------------------ JSON

    def load_json_records(self, files: list[FileInfo], path_expr: str) -> str:
        """Read JSON pages and unnest their records into (file_no, rec, j JSON).

        ``path_expr`` is the JSONPath of the records array inside a page ("$.data[*]",
        "$._embedded.*[*]"); a file that is a bare array or a bare record also works.
        All pages are read in one statement (an API export is hundreds of small pages;
        one read per page cost ~25 ms each); only when that fails are they read one by
        one, to name the file that is not JSON.
        """
        table = self.tmp_name("json")
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} (file_no INTEGER, rec BIGINT, j JSON)"
        )
        if not files:
            return table
        for f in files:
            self._check_bytes(f, page=True)
        pages = self.tmp_name("pages")
        try:
            self._read_pages(pages, files)
        except duckdb.OutOfMemoryException:
            raise  # the machine's limit, not the files' fault (see sync_org)
        except duckdb.Error:
            repaired = False
            for f in files:  # find the file that is not JSON, and say so
                failure = self._page_failure(pages, f)
                if failure is not None and f.read_path is None and not _is_utf8_file(f.path):
                    # a page saved as Windows-1252 (edited in a Windows program), or UTF-8
                    # with some of it so: read as a CSV in that encoding is, said in a
                    # note (it stopped the sync as "not valid JSON", the fix to download
                    # it again, which a page edited by hand cannot follow)
                    self._repair_encoding(f)
                    repaired = True
                    failure = self._page_failure(pages, f)
                if failure is not None:
                    # where the text stops being JSON, as an editor shows it (DuckDB's
                    # message named the file by its full path, the sync's copy's for a
                    # re-encoded page, and a byte of a record it numbers its own way)
                    at = _json_error_at(f.read_path or f.path)
                    problem = (
                        f"is not valid JSON ({at[2][:1].lower() + at[2][1:]})"
                        if at
                        else f"is not valid JSON ({self.duckdb_said(f, failure)})"
                    )
                    raise self.error(
                        f,
                        problem,
                        "download the page again from the API; a truncated download or an "
                        "HTML error page saved as .json causes this (a page edited by hand: "
                        "correct it where this says).",
                        line=at[0] if at else None,
                        column=at[1] if at else None,
                    ) from failure
            if not repaired:
                raise  # every file reads alone: not a problem of one file
            self._read_pages(pages, files)
        # pages keep the order they were read in (files in order, objects in file order):
        # their rowid numbers them, and a record's number is its place in its file.
        # Pages are unnested a batch at a time: DuckDB works on 2,048 rows at once, and
        # 2,048 pages of an API export are gigabytes of text, parsed (a 356 MB Mobilize
        # export of 250 pages ran out of a 3 GB memory limit in one statement).
        sizes = self.con.execute(
            f"SELECT rowid, strlen(json) FROM {pages} ORDER BY rowid"
        ).fetchall()
        batch = self.tmp_name("batch")
        done: dict[int, int] = {}  # file number -> records of its pages so far
        embedded: dict[int, str] = {}
        odd_files: set[int] = set()
        for first, last in _batches(sizes, JSON_BATCH_BYTES):
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {batch} AS "
                + self._page_records(pages, path_expr, first, last)
            )
            counts = []
            for file_no, n, key, odd in self.con.execute(
                f"""SELECT file_no, sum(len(l)), arg_min(embedded, page), bool_or(odd)
                    FROM {batch} GROUP BY file_no"""
            ).fetchall():
                counts.append((file_no, n))
                if odd:
                    odd_files.add(file_no)
                if key is not None:  # the file's first page that has the key
                    embedded.setdefault(file_no, key)
            base = "MAP {" + ", ".join(f"{n}: {done.get(n, 0)}" for n, _ in counts) + "}"
            self.con.execute(
                f"""INSERT INTO {table}
                WITH flat AS (
                    SELECT file_no, page, unnest(l) AS j, unnest(range(len(l))) AS pos
                    FROM {batch}),
                starts AS (  -- each page's first record number in its file
                    SELECT page, {base}[file_no] + coalesce(sum(len(l)) OVER (
                        PARTITION BY file_no ORDER BY page
                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS start
                    FROM (SELECT file_no, page, l FROM {batch}))
                SELECT file_no, start + pos, j FROM flat JOIN starts USING (page)
                ORDER BY page, pos"""
            )
            for file_no, n in counts:
                done[file_no] = done.get(file_no, 0) + int(n)
        self.con.execute(
            f"DROP TABLE IF EXISTS {batch}; DROP TABLE {pages}; DROP TABLE {pages}_files"
        )
        for f in files:
            f.json_records = True
            f.rows_read = done.get(f.file_no, 0)  # the records inserted
            f.embedded_key = embedded.get(f.file_no) or ""
            if f.file_no in odd_files:
                where = "_embedded" if path_expr.startswith("$._embedded") else "data"
                f.notes.append(
                    f"a page's `{where}` holds a single value, not a list of records: "
                    "it was read as records (kept or rejected below); the tool's export "
                    "gives a list there"
                )
        return table

    @staticmethod
    def _page_records(pages: str, path_expr: str, first: int, last: int) -> str:
        """SQL for the records of pages ``first`` to ``last`` (rowids) as (file_no, page,
        l): the array at ``path_expr``; a bare array's items; nothing for an empty page; a
        bare record itself; the value its ``data`` or ``_embedded`` holds instead of a
        list (``odd``); and ``embedded``, the first key under ``_embedded`` (what an
        Action Network page holds). A page is parsed once for its records (a test that
        parses it again, such as json_type, doubles the work and memory of a large page):
        the other tests are CASE branches, evaluated only for pages without records.
        """
        expr = sql_str(path_expr)
        # only a HAL page names its collection; reading the key parses the page again
        embedded = (
            "json_keys(json, '$._embedded')[1]"
            if path_expr.startswith("$._embedded")
            else "NULL::VARCHAR"
        )
        # A page whose records key holds something other than a list of records (a
        # single record as an object, a string) would otherwise give no records and no
        # word: what it holds is read as records instead, so the reader keeps or rejects
        # each by name, and the file is noted (``odd``). Computed only for pages without
        # records (CASE evaluates a branch for the rows that reach it).
        if path_expr.startswith("$._embedded"):
            odd = """CASE json_type(json, '$._embedded')
                WHEN 'OBJECT' THEN list_filter(json_extract(json, '$._embedded.*'),
                    lambda v: json_type(v) NOT IN ('ARRAY', 'NULL'))
                WHEN 'ARRAY' THEN []::JSON[] WHEN 'NULL' THEN []::JSON[]
                ELSE [json_extract(json, '$._embedded')] END"""
        else:
            container = sql_str(path_expr.removesuffix("[*]"))
            odd = f"""CASE WHEN json_type(json, {container}) IN ('ARRAY', 'NULL')
                THEN []::JSON[] ELSE [json_extract(json, {container})] END"""
        return f"""SELECT file_no, page, CASE
                WHEN bare THEN json_extract(json, '$[*]')
                WHEN len(records) > 0 THEN records
                WHEN holder THEN odd
                ELSE [json] END AS l,
                {embedded} AS embedded, coalesce(len(odd) > 0, false) AS odd
            FROM (SELECT *, CASE WHEN holder THEN {odd} END AS odd
              FROM (SELECT *, CASE WHEN bare OR len(records) > 0 THEN false
                        ELSE json_exists(json, '$.data') OR json_exists(json, '$._embedded')
                        END AS holder
                FROM (SELECT f.file_no, p.rowid AS page, p.json,
                             json_extract(p.json, {expr}) AS records,
                             regexp_matches(p.json, '^\\s*\\[') AS bare
                      FROM {pages} p JOIN {pages}_files f USING (filename)
                      WHERE p.rowid BETWEEN {first} AND {last})))"""

    def _page_failure(self, pages: str, f: FileInfo) -> duckdb.Error | None:
        """DuckDB's error reading the page ``f`` alone, None when it reads."""
        try:
            self._read_pages(pages, [f])
        except duckdb.OutOfMemoryException:
            raise  # the machine's limit, not the file's fault (see sync_org)
        except duckdb.Error as exc:
            return exc
        return None

    def _read_pages(self, pages: str, files: list[FileInfo]) -> None:
        """(filename, json) of every JSON object of the files, in file and object order,
        and ``<pages>_files``: (filename, file_no) of the files."""
        # DuckDB sizes its read buffers by this: no object is larger than its file (a
        # page re-encoded as UTF-8 is read from its copy, which may be larger)
        paths = [str(f.read_path or f.path) for f in files]
        largest = max(os.path.getsize(path) for path in paths) + 1024
        # No join and no sort: with insertion order preserved (the sync's setting) the scan
        # yields the files in list order and each file's objects in order. The list is a
        # parameter, and file numbers are joined later, page batch by page batch: spelled
        # out in the SQL and looked up with list_position, 16,000 pages (an API export at
        # 25 records a page, 280 MB) took 20 s and 3.2 GB to read; 4 s and 0.8 GB now.
        self.con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {pages} AS
                SELECT filename, json
                FROM read_json_objects($names, format = 'auto', filename = true,
                                       maximum_object_size = {max(largest, 1 << 24)})""",
            {"names": paths},
        )
        rows, params = list_rows(
            {
                "filename": ("VARCHAR", paths),
                "file_no": ("INTEGER", [f.file_no for f in files]),
            }
        )
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {pages}_files AS {rows}", params)

    def json_keys(self, table: str, nested: tuple[str, ...] = ()) -> dict[int, list[str]]:
        """The keys of the records of each file of ``table``, sorted; with ``nested``,
        the keys of those objects inside each record too, named by their path
        ("person.new_key"): a key a tool added inside Mobilize's person or event was
        neither listed nor kept. Their JSON pointers ("/person/new_key") are kept in
        ``json_pointers``, by name, for :func:`readers._keep_json_keys`."""
        # each record's keys, made distinct per file by a hash table (a list of every
        # record's keys per file, flattened, then made distinct took 5 s on an export of
        # a million people); a record that is not an object has no keys. The nested
        # objects' keys come from the same parse of the record (one json_keys call with
        # a list of paths)
        if nested:
            paths = sql_list(["$", *(f'$."{name}"' for name in nested)])
            named = ", ".join(
                [
                    "ks[1]",
                    *(
                        f"list_transform(ks[{i}], lambda k: {sql_str(name + '.')} || k)"
                        for i, name in enumerate(nested, 2)
                    ),
                ]
            )
            keys = f"flatten([{named}])"
            source = f"(SELECT file_no, json_keys(j, {paths}) AS ks FROM {table})"
            self.nested_json_objects.update(nested)
        else:
            keys, source = "json_keys(j)", table
        rows = self.con.execute(
            f"""SELECT file_no, list_sort(list(key)) FROM (
                    SELECT DISTINCT file_no, unnest({keys}) AS key FROM {source})
                GROUP BY file_no"""
        ).fetchall()
        return {file_no: keys or [] for file_no, keys in rows}

    def json_pointer(self, name: str) -> str:
        """The JSON pointer of a key ``json_keys`` named: "/person/new_key" for a nested
        object's key, "/new_key" for a record's own (each part escaped, as RFC 6901 says:
        a JSONPath of a key ending in a backslash, or an empty one, stopped the sync)."""

        def escaped(part: str) -> str:
            return part.replace("~", "~0").replace("/", "~1")

        holder, dot, inner = name.partition(".")
        if dot and holder in self.nested_json_objects:
            return f"/{escaped(holder)}/{escaped(inner)}"
        return f"/{escaped(name)}"

    def json_unknown_keys(
        self, files: list[FileInfo], known: set[str], keys: dict[int, list[str]]
    ) -> None:
        """The keys of each file's records (``json_keys``) beyond the ``known`` ones."""
        for f in files:
            if f.file_no in keys:
                f.unknown_columns = [k for k in keys[f.file_no] if k not in known]

    def list_custom_fields(
        self,
        files: list[FileInfo],
        exclude: tuple[str, ...] = (),
        staged: tuple[str, ...] = ("st_custom",),
    ) -> None:
        """The custom fields staged from each of ``files`` into the ``staged`` tables
        (``st_custom``; ``st_event_field`` for an event's keys), sorted: what the report
        lists as kept beyond the model for a JSON page. Listed by :meth:`finalize`, for
        every call in one query (a query each cost 2-3 ms, five for an Action Network API
        export): a reader calls this once it has staged the files' fields."""
        if files:
            self._custom_listings.append((list(files), tuple(exclude), tuple(staged)))

    def _list_custom_fields(self) -> None:
        listings, self._custom_listings = self._custom_listings, []
        if not listings:
            return
        selects, params = [], {}
        for n, (files, exclude, staged) in enumerate(listings):
            union = " UNION ALL ".join(f"SELECT file_no, field FROM {t}" for t in staged)
            selects.append(
                f"""SELECT {n} AS listing, file_no, field FROM ({union})
                    WHERE file_no IN (SELECT unnest($files{n}))
                      AND field NOT IN (SELECT unnest($exclude{n}))"""
            )
            params[f"files{n}"] = [f.file_no for f in files]
            params[f"exclude{n}"] = list(exclude)
        rows = self.con.execute(
            f"""SELECT listing, file_no, list(DISTINCT field ORDER BY field)
                FROM ({" UNION ALL ".join(selects)}) GROUP BY listing, file_no""",
            params,
        ).fetchall()
        fields = {(listing, file_no): listed for listing, file_no, listed in rows}
        for n, (files, _exclude, _staged) in enumerate(listings):
            for f in files:
                f.custom_fields = list(fields.get((n, f.file_no), []))

    # ------------------------------------------------------------------ lines

    def reject_lines(self) -> None:
        """Fill in the physical line of every reject (:meth:`_reject_lines`), and of
        every value rejected on a kept record. (The values first: their records are
        placed among the ones DuckDB did not accept by the DuckDB lines of those, which
        the rejects' are until they are set.)"""
        for table in ("st_value_reject", "st_reject"):
            self._reject_lines(table)

    def _reject_lines(self, table: str) -> None:
        """Fill in the physical line of every CSV reject of ``table``.

        Rejects of a record's content know its record number only (``rec``, DuckDB's
        rowid: it counts the records DuckDB accepted); rejects of a record's shape (too
        many values, a bad quote) carry DuckDB's line, which counts neither the line
        breaks inside quoted values nor, of course, itself among the accepted records.
        Both pointed at the wrong line once a file had either before the reject: every
        content reject after a line of too many values named the line above it."""
        rows = self.con.execute(
            f"""SELECT file_no, bool_or(rec IS NOT NULL) FROM {table}
               WHERE line IS NULL AND rec IS NOT NULL OR rec IS NULL AND line IS NOT NULL
               GROUP BY file_no"""
        ).fetchall()
        for file_no, by_rec in rows:
            f = self.files[file_no]
            if f.json_records:  # a JSON page's "line" is the record's position in it
                self.con.execute(
                    f"UPDATE {table} SET line = rec + 1 WHERE file_no = ? AND line IS NULL",
                    [file_no],
                )
                continue
            records = record_lines(f.read_path or f.path, f.delimiter, f.skip)
            if records is None:
                continue
            duckdb_to_line = {duckdb_line: line for line, duckdb_line in records}
            # (the records DuckDB did not accept are rejected rows, whichever table's
            # lines are set: a value rejected on a kept record after a line of too many
            # values named the line above it)
            shape = {
                r[0]
                for r in self.con.execute(
                    "SELECT DISTINCT line FROM st_reject WHERE file_no = ? AND rec IS NULL "
                    "AND line IS NOT NULL",
                    [file_no],
                ).fetchall()
            }
            pairs = []
            if by_rec:
                accepted = [line for line, duckdb_line in records if duckdb_line not in shape]
                recs = self.con.execute(
                    f"SELECT DISTINCT rec FROM {table} WHERE file_no = ? AND line IS NULL "
                    "AND rec IS NOT NULL",
                    [file_no],
                ).fetchall()
                pairs = [(r, accepted[r]) for (r,) in recs if 0 <= r < len(accepted)]
            moved = (
                [(d, duckdb_to_line[d]) for d in shape if duckdb_to_line.get(d, d) != d]
                if table == "st_reject"
                else []
            )
            # (one statement each: the two sets of rows are told apart by ``rec``)
            self._set_lines(file_no, table, f"{table}.rec = l.k AND {table}.line IS NULL", pairs)
            self._set_lines(file_no, table, f"{table}.rec IS NULL AND {table}.line = l.k", moved)

    def _set_lines(
        self, file_no: int, table: str, match: str, pairs: list[tuple[int, int]]
    ) -> None:
        """Set the line of the file's rejects in ``table`` that ``match`` picks by (k,
        line) pairs."""
        if not pairs:
            return
        lines, params = list_rows(
            {"k": ("BIGINT", [k for k, _ in pairs]), "line": ("BIGINT", [ln for _, ln in pairs])}
        )
        self.con.execute(
            f"""UPDATE {table} SET line = l.line FROM ({lines}) l
                WHERE {table}.file_no = {file_no} AND {match}""",
            params,
        )


MAX_LINE_SCAN_BYTES = 512 * 1024 * 1024
MAX_CSV_FIELD = 2**31 - 1


def _csv_text(path: Path, limit: int) -> str | None:
    """A CSV's whole text, as its lines are counted (the BOM dropped, undecodable bytes
    replaced, line ends kept), or None when it is larger than ``limit`` bytes."""
    if os.path.getsize(path) > limit:
        return None
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        return handle.read()


def unclosed_quote_line(path: Path) -> int | None:
    """The line (1-based) where a quoted value opens and is never closed, if one does.

    Read only when DuckDB cannot read a CSV at all (its sniffer names no line): quotes
    open at a field's start and close at a quote not doubled. A character at a time in
    Python (about 30 MB a second): not for files over 64 MB."""
    text = _csv_text(path, 64 * 1024 * 1024)
    if text is None:
        return None
    line, opened_at, inside, at_field_start = 1, None, False, True
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if inside:
            if ch == '"':
                if i + 1 < n and text[i + 1] == '"':
                    i += 1  # a doubled quote inside the value
                else:
                    inside = False
            elif ch == "\n":
                line += 1
        elif ch == '"' and at_field_start:
            inside, opened_at = True, line
        elif ch == "\n":
            line += 1
        at_field_start = not inside and ch in ",;|\t\n\r"
        i += 1
    return opened_at if inside else None


UTF8_NAMES = frozenset({"utf-8", "utf8", "utf-8-sig"})
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # little- and big-endian byte-order marks


def _may_hold_cr(path: Path) -> bool:
    """Whether a value of the CSV at ``path`` may hold a CR: the file has a CR and a
    quote (a value with a line break in it is quoted, and DuckDB reads no unquoted CR
    as part of a value). Found in the file's mapped bytes at memchr speed: 0.015 s for
    165 MB without a quote, where looking through the values read (below) took 0.3 s
    for 2M rows of 7 columns."""
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as m:
        return m.find(b'"') >= 0 and m.find(b"\r") >= 0


def _one_line_end_in_values(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> None:
    """Every line break inside a value of the CSV ``table`` (a note quoted over two
    lines) as one LF. A value kept the line ends of its file: the same export saved
    again by Excel with Windows line ends (CRLF) had every such value changed, each a
    changed row in the store, and a spreadsheet row whose id is a digest of its
    content a new activity. CRLF and a lone CR (old Mac text) become LF, in a file of
    Unix line ends too (a web form's text holds CRLF). Only values that hold a CR are
    rewritten, after one scan of the table (2M rows of 7 columns: 0.2-0.3 s on 2 busy
    cores), made only for a file that may have such values (:func:`_may_hold_cr`)."""
    cr = "chr(13)"
    lf = "chr(10)"
    has_cr = {c: f"contains({ident(c)}, {cr})" for c in columns}
    fixed = ", ".join(
        f"{ident(c)} = CASE WHEN {test} THEN replace(replace({ident(c)}, {cr} || {lf}, {lf}), "
        f"{cr}, {lf}) ELSE {ident(c)} END"
        for c, test in has_cr.items()
    )
    # (an UPDATE keeps each record's rowid, its number in the file)
    con.execute(f"UPDATE {table} SET {fixed} WHERE {' OR '.join(has_cr.values())}")


# A CSV this small is read whole to see, in Python, that none of its records can be
# blank or repeat a header name (most exports): DuckDB's query for them is mostly
# planning, 4-6 ms a file whatever its size; this, ~0.1 ms for 10 KB.
PLAIN_CSV_BYTES = 128 * 1024
# the characters DuckDB lowercases into ASCII letters (checked over every code point)
_LOWERED_INTO_ASCII = (("\u0130".encode(), b"i"), ("\u212a".encode(), b"k"))


def _plainly_no_blank_nor_header_record(path: Path, f: FileInfo, compared: set[str]) -> bool:
    """Whether the small CSV at ``path`` (the copy DuckDB read) plainly has no blank
    record and no record with a value a test of :meth:`Stage._header_test` compares
    with ``compared`` (then DuckDB need not count them: there are none). False when in
    doubt: a larger file, lines above the header, a compared text that is not ASCII or
    holds a quote, a line break or the delimiter.

    A value equal to such a text (trimmed of spaces, without byte-order marks,
    lowercased as DuckDB does) holds no quote, so the file writes it as it is, between
    separators (the delimiter, a quote, a line end); and a blank record (every value
    NULL) is a line of nothing but separators, spaces and tabs."""
    if f.skip or os.path.getsize(path) > PLAIN_CSV_BYTES:
        return False
    separators = {"\n", "\r", '"', *f.delimiter}
    texts = set()
    for text in compared:
        text = text.strip(" ").lower()
        if not text or not text.isascii() or separators & set(text):
            return False
        texts.add(text.encode())
    with open(path, "rb") as handle:
        data = handle.read(PLAIN_CSV_BYTES + 1)
    data = data.replace(b"\xef\xbb\xbf", b"").replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    records = data.split(b"\n", 1)[1] if b"\n" in data else b""  # (after the header)
    records = records.removesuffix(b"\n")
    delimiter = re.escape(f.delimiter.encode())
    if re.search(rb'(?m)^(?:[ \t"]|' + delimiter + rb")*$", records):
        return False  # a line that may be a blank record (or no record at all)
    for char, lowered in _LOWERED_INTO_ASCII:
        records = records.replace(char, lowered)
    values = re.split(rb'[\n"]|' + delimiter, records.lower())
    return not any(value.strip(b" ") in texts for value in values)


def _mixed_line_ends(path: Path) -> bool:
    """Whether some lines end in CRLF and others in a bare LF."""
    crlf = lf = 0
    after_cr = False
    with open(path, "rb") as source:
        while chunk := source.read(1 << 24):
            lf += chunk.count(b"\n")
            crlf += chunk.count(b"\r\n") + (after_cr and chunk.startswith(b"\n"))
            after_cr = chunk.endswith(b"\r")
    return 0 < crlf < lf


def _wide(encoding: str) -> bool:
    """UTF-16 or UTF-32 (text whose bytes include zeros)."""
    return encoding.lower().replace("_", "").replace("-", "").startswith(("utf16", "utf32"))


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a header longer than the bytes looked at may end in a cut character
        return exc.start >= len(line) - 3 and exc.reason == "unexpected end of data"
    return True


def _binary_problem(head: bytes, page: bool) -> tuple[str, str]:
    """The problem and fix of a file whose first bytes (``head``) hold a zero byte;
    ``page``: a JSON page of an API (never read as UTF-16, downloaded again), else a CSV."""
    sample = head[:4096]
    again = (
        "download the page again from the API" if page else "export the report again from the tool"
    )
    if head.startswith(b"PK"):
        if page:
            return (
                "the file is a ZIP archive, not a JSON page",
                "unzip it and put its .json pages in the source's folder.",
            )
        return (
            "the file is a ZIP/Excel workbook, not CSV text",
            "unzip it, or save the sheet as 'CSV UTF-8' from the spreadsheet.",
        )
    if head.startswith(UTF16_BOMS):
        if page:
            return (
                "the page is UTF-16 text; JSON pages are read as UTF-8",
                again + " (the API sends UTF-8), or save it as UTF-8 in a text editor.",
            )
        return (
            "the file is UTF-16 text, which this tool's reader does not read",
            "export it from the tool again (it writes UTF-8).",
        )
    if b"\x00" not in head.rstrip(b"\x00") and head.rstrip(b"\x00").strip():
        # text, then only zero bytes: a download or a copy cut short (the space was set
        # aside, the bytes never written). Read as UTF-16 without a byte-order mark
        # before, the fix told to set an encoding, which cannot help
        return (
            "the file's text is followed by zero bytes, as a download or copy that was "
            "cut short leaves it: its records may be incomplete",
            again + ".",
        )
    if max(sample[0::2].count(0), sample[1::2].count(0)) > len(sample) // 4:
        # text of Latin letters in UTF-16: every other byte is zero
        little = sample[1::2].count(0) > sample[0::2].count(0)
        if page:
            return (
                "the page looks like UTF-16 text without a byte-order mark; JSON pages "
                "are read as UTF-8",
                again + " (the API sends UTF-8), or save it as UTF-8 in a text editor.",
            )
        return (
            "the file looks like UTF-16 text without a byte-order mark",
            f"set `encoding: utf-16-{'le' if little else 'be'}` on this source in "
            "cohort.yml, or save it from the spreadsheet as 'CSV UTF-8'.",
        )
    if page:
        return "the file is binary, not JSON text", again + " (check that it is the JSON page)."
    return "the file is binary, not CSV text", "export the report as CSV (comma-separated text)."


def _header_value(value: object) -> str:
    """A header name or a record's value as a repeated header line is compared: without
    byte-order marks (the next export's, where two were joined), trimmed, lowercased."""
    return "" if value is None else str(value).replace("\ufeff", "").strip().lower()


_DIGIT = re.compile(r"[0-9]")


def _another_layouts_header(values: list[str], tool_names: set[str], names: set[str]) -> bool:
    """Whether a record's values (filled ones, as ``_header_value`` gives them) are a
    header line of another layout of the tool: two or more are the tool's own column
    names (``tool_names``, lowercased: "uuid", "contact[cell]", "vanid"), and none is a
    value such a line cannot hold (an email, or digits other than in a column name of
    the tool or of the file, ``names``: an id, a date, a phone). A header with many
    custom columns ("uuid,email,Building,Shift,Zone") or starting with one this file
    lacks ("Building,uuid,email") has fewer than two thirds of its names among the
    file's: it was kept as a member named "uuid" or "Building". A spreadsheet's names
    are everyday words ("Date", "Type") a record may hold: it has no tool names."""
    named = sum(1 for v in values if v in tool_names)
    return named >= 2 and not any(
        "@" in v or (v not in tool_names and v not in names and _DIGIT.search(v)) for v in values
    )


def header_names(path: Path, delimiter: str = ",", skip: int = 0) -> list[str] | None:
    """The names of a CSV's header line as it writes them (``skip``: lines above it)."""
    csv.field_size_limit(max(csv.field_size_limit(), MAX_CSV_FIELD))
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
            for _ in range(skip):
                handle.readline()
            return next(csv.reader(handle, delimiter=delimiter), None)
    except (OSError, csv.Error):
        return None


def record_lines(path: Path, delimiter: str = ",", skip: int = 0) -> list[tuple[int, int]] | None:
    """For each non-blank data record: the physical line (1-based) where it starts, and
    the line DuckDB names it by (which counts blank lines but not the line breaks inside
    quoted values). In file order, the header excluded, as ``read_csv`` numbers them;
    ``skip``: lines above the header, not read."""
    text = _csv_text(path, MAX_LINE_SCAN_BYTES)
    if text is None:
        return None
    if "\r" in text:  # a line ends at CR LF, or at a lone CR as old Mac spreadsheets write
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    start_at = 0
    for _ in range(skip):  # the lines are counted, not read
        start_at = text.find("\n", start_at) + 1 or len(text)
    text = text[start_at:] if start_at else text
    # DuckDB reads values up to its 4 MB line limit; Python's csv module stops at
    # 128 KB unless told (a long notes column stopped the whole sync with its error)
    csv.field_size_limit(max(csv.field_size_limit(), MAX_CSV_FIELD))
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    records: list[tuple[int, int]] = []
    line_before = skip
    inside_quotes = 0  # line breaks inside quoted values so far
    first = True
    try:
        for row in reader:
            start = line_before + 1
            line_before = skip + reader.line_num
            duckdb_line = start - inside_quotes
            inside_quotes += line_before - start
            if first:
                first = False
                continue
            if not row:
                continue
            records.append((start, duckdb_line))
    except csv.Error:
        return None  # what DuckDB read, the csv module cannot: rejects keep their records
    return records


def archive_file(f: FileInfo, archive_dir: Path, made: list[Path] | None = None) -> Path:
    """Copy the raw export byte for byte under ``archive/<org>/<sha256>/<name>``.

    A file not hashed yet (an organization's first sync) is hashed while it is copied,
    so its bytes are read once; ``f.sha256`` is set from the copy. A copy that was not
    in the archive before is added to ``made`` (a failed sync removes it again)."""
    if not f.sha256:
        archive_dir.mkdir(parents=True, exist_ok=True)
        tmp = archive_dir / f".incoming-{os.getpid()}-{f.file_no}.tmp"
        f.hashed_stat, f.hashed_at_ns = os.stat(f.path), time.time_ns()
        try:
            f.sha256 = sha256_file(f.path, copy_to=tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a half copy (full disk) is not an archive
            raise
        target = archive_dir / f.sha256 / f.path.name
        new = not target.exists()
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
        if made is not None and new:
            made.append(target)
        return target
    target = archive_dir / f.sha256 / f.path.name
    if target.exists() and target.stat().st_size == f.size:
        return target
    new = not target.exists()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(f.path, tmp)
    os.replace(tmp, target)
    if made is not None and new:
        made.append(target)
    return target
