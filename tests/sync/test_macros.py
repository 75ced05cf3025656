"""The sync's SQL helpers (stage.MACROS) on values checked by hand."""

from __future__ import annotations

import duckdb

from cyclebook.sync.stage import MACROS


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/New_York'")
    for macro in MACROS:
        con.execute(macro)
    return con


def test_cb_ts_reads_padded_naive_offset_us_and_excel_dates():
    con = _con()
    values = [
        "2026-08-01 10:00:00",  # naive: the organization's time zone (EDT, -4)
        "  2026-08-01 10:00:00  ",  # padded: read once trimmed
        " 2026-08-01 ",  # a padded date the untrimmed cast refuses
        "\t2026-08-01T14:00:00Z",  # an offset, a tab before it
        "2026-01-15 10:00:00+02",  # another offset (winter: EST, -5)
        "08/01/2026",  # US date
        "46235",  # Excel serial day: 2026-08-01
        "",
        "   ",
        "soon",
        None,
    ]
    rows = con.execute(
        """SELECT strftime(cb_ts(v) AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M')
           FROM (SELECT unnest($v::VARCHAR[]) AS v, unnest(range(len($v))) AS i) ORDER BY i""",
        {"v": values},
    ).fetchall()
    assert [r[0] for r in rows] == [
        "2026-08-01 14:00",
        "2026-08-01 14:00",
        "2026-08-01 04:00",
        "2026-08-01 14:00",
        "2026-01-15 08:00",
        "2026-08-01 04:00",
        "2026-08-01 04:00",
        None,
        None,
        None,
        None,
    ]


def test_cb_ts_two_digit_years_are_this_century_not_the_first():
    """DuckDB's cast reads "4/3/26" as the year 4 (month 3, day 26) and %Y reads
    "12/31/26" as the year 26: a spreadsheet's two-digit years were kept as dates of the
    first century without a word. Checked by hand against a calendar (EDT: UTC-4)."""
    con = _con()
    cases = {
        "4/3/26": "2026-04-03 04:00",
        "12/31/26": "2026-12-31 05:00",  # EST in December: midnight is 05:00 UTC
        "04/03/26 21:30": "2026-04-04 01:30",
        "4/3/99": "1999-04-03 05:00",  # 1999: summer time began on April 4
        "4/3/2026 9:00 PM": "2026-04-04 01:00",
        "4/3/2026 9:00:15 AM": "2026-04-03 13:00",
        "April 3, 2026": "2026-04-03 04:00",
        "Apr 3, 2026": "2026-04-03 04:00",
        "3 April 2026": "2026-04-03 04:00",
        "1799-12-31": None,  # no export means a date before 1800
        "13/4/26": None,  # not month first: rejected by the readers, not guessed
    }
    got = {
        v: con.execute(
            "SELECT strftime(cb_ts(?) AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M')", [v]
        ).fetchone()[0]
        for v in cases
    }
    assert got == cases


def test_cb_ts_reads_a_time_zone_after_the_time_as_its_fixed_offset():
    """A US zone after a time is the fixed offset it names, whatever the day: DuckDB's
    cast read "PST" and "CST" as Los Angeles' and Chicago's clocks (an hour off in
    August), read "IST" and "BST" as India's and Bangladesh's, and the other forms not
    at all. An abbreviation not listed is not guessed. Worked out by hand: 16:00 PST is
    16:00 + 8 h; an email's "-0400" is 4 h behind UTC."""
    con = _con()
    cases = {
        # an HTTP header's or an email's date (RFC 2822)
        "Wed, 12 Aug 2026 16:00:00 GMT": "2026-08-12 16:00",
        "Wed, 12 Aug 2026 12:00:00 -0400": "2026-08-12 16:00",
        "Wed, 2 Sep 2026 09:05:00 +0000": "2026-09-02 09:05",
        "Wed, 12 Aug 2026 16:00:00": "2026-08-12 20:00",  # no zone: New York's (EDT)
        # a US zone after a time, in August: each its own fixed offset
        "8/12/2026 4:00 PM EDT": "2026-08-12 20:00",
        "8/12/2026 4:00 PM EST": "2026-08-12 21:00",  # EST in August: still -5
        "2026-08-12 16:00 PST": "2026-08-13 00:00",
        "2026-08-12 16:00 PDT": "2026-08-12 23:00",
        "2026-08-12 16:00 CST": "2026-08-12 22:00",
        "2026-08-12 16:00 cdt": "2026-08-12 21:00",
        "2026-08-12 16:00:00 MST": "2026-08-12 23:00",
        "8/12/2026 9:00 AM MDT": "2026-08-12 15:00",
        "Aug 12, 2026 4:00 PM CDT": "2026-08-12 21:00",
        "12/31/26 4:00 PM PST": "2027-01-01 00:00",  # two-digit year, past midnight UTC
        "2026-08-12 16:00 GMT": "2026-08-12 16:00",
        "2026-08-12 16:00 UTC": "2026-08-12 16:00",
        "2026-08-12 16:00 Z": "2026-08-12 16:00",
        "2026-08-12T16:00:00Z": "2026-08-12 16:00",  # ISO's own Z, as before
        "2026-08-12 16:00 +05:30": "2026-08-12 10:30",
        "2026-08-12 16:00 America/Chicago": "2026-08-12 21:00",  # a zone's name
        "2026-08-12 16:00 AKDT": "2026-08-13 00:00",
        "2026-08-12 16:00 HST": "2026-08-13 02:00",
        # abbreviations that name zones of several countries
        "2026-08-12 16:00 IST": None,
        "8/12/2026 4:00 PM BST": None,
        "4:00 PM EDT": None,  # a time without a date
    }
    got = {
        v: con.execute(
            "SELECT strftime(cb_ts(?) AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M')", [v]
        ).fetchone()[0]
        for v in cases
    }
    assert got == cases


def test_cb_ts_reads_et_ct_mt_pt_as_the_zones_clock_on_that_date():
    """ "7:00 PM ET" (as US organizing tools' event pages and spreadsheets write it) names
    no fixed offset: it is New York's clock, EST in winter and EDT in summer. It was
    rejected; each such zone is now read as its city's clock on the value's date. Worked
    out by hand from the offsets (ET -5/-4, CT -6/-5, MT -7/-6, PT -8/-7, AKT -9/-8, HT -10
    all year) and the 2026 changes (March 8 and November 1, at 2:00 local time). The
    organization's own zone (New York here) plays no part: PT is Los Angeles'."""
    con = _con()
    cases = {
        # January (standard time) and July (summer time)
        "1/15/2026 7:00 PM ET": "2026-01-16 00:00",
        "7/15/2026 7:00 PM ET": "2026-07-15 23:00",
        "1/15/2026 7:00 PM CT": "2026-01-16 01:00",
        "7/15/2026 7:00 PM CT": "2026-07-16 00:00",
        "1/15/2026 7:00 PM MT": "2026-01-16 02:00",
        "7/15/2026 7:00 PM MT": "2026-07-16 01:00",
        "1/15/2026 7:00 PM PT": "2026-01-16 03:00",
        "7/15/2026 7:00 PM PT": "2026-07-16 02:00",
        "1/15/2026 7:00 PM AKT": "2026-01-16 04:00",
        "7/15/2026 7:00 PM AKT": "2026-07-16 03:00",
        "1/15/2026 7:00 PM HT": "2026-01-16 05:00",  # Hawaii keeps no summer time
        "7/15/2026 7:00 PM HT": "2026-07-16 05:00",
        # the other forms a time with a zone is read in, and lower case
        "2026-07-15 19:00 ET": "2026-07-15 23:00",
        "2026-07-15T19:00:00 ET": "2026-07-15 23:00",
        "Jul 15, 2026 7:00 PM ET": "2026-07-15 23:00",
        "7/15/26 7 PM pt": "2026-07-16 02:00",
        # summer time begins on Sunday, March 8, 2026 at 2:00 (the clock goes to 3:00)
        "3/7/2026 7:00 PM PT": "2026-03-08 03:00",  # PST, -8
        "3/8/2026 7:00 PM PT": "2026-03-09 02:00",  # PDT, -7
        "3/8/2026 1:30 AM ET": "2026-03-08 06:30",  # EST, -5
        "3/8/2026 3:30 AM ET": "2026-03-08 07:30",  # EDT, -4
        # ... and ends on Sunday, November 1, 2026 at 2:00 (the clock goes back to 1:00)
        "11/1/2026 12:30 AM ET": "2026-11-01 04:30",  # EDT, -4
        "11/1/2026 3:00 AM ET": "2026-11-01 08:00",  # EST, -5
        "10/31/2026 7:00 PM CT": "2026-11-01 00:00",  # CDT, -5
        "11/1/2026 7:00 PM CT": "2026-11-02 01:00",  # CST, -6
        # the hour that is there twice is read as its second (standard time), and the
        # hour that is not there as standard time, as a date without a zone is read in
        # the organization's zone
        "11/1/2026 1:30 AM ET": "2026-11-01 06:30",
        "3/8/2026 2:30 AM ET": "2026-03-08 07:30",
        "4:00 PM ET": None,  # a time without a date
    }
    got = {
        v: con.execute(
            "SELECT strftime(cb_ts(?) AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M')", [v]
        ).fetchone()[0]
        for v in cases
    }
    assert got == cases
    # as a date without a zone is, in the organization's zone (New York)
    assert con.execute(
        """SELECT strftime(cb_ts('2026-11-01 01:30') AT TIME ZONE 'UTC', '%H:%M'),
                  strftime(cb_ts('2026-03-08 02:30') AT TIME ZONE 'UTC', '%H:%M')"""
    ).fetchone() == ("06:30", "07:30")


def test_the_zones_clocks_need_no_download():
    """ICU, which reads a zone's clock, is built into the installed DuckDB: it loads with
    extensions neither installed nor loaded from anywhere else (no network when a sync
    runs)."""
    con = duckdb.connect(
        config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
    )
    assert con.execute(
        """SELECT installed, loaded, install_path FROM duckdb_extensions()
           WHERE extension_name = 'icu'"""
    ).fetchone() == (True, True, "(BUILT-IN)")
    con.execute("SET TimeZone = 'UTC'")
    for macro in MACROS:
        con.execute(macro)
    assert con.execute(
        "SELECT strftime(cb_ts('7/15/2026 7:00 PM ET') AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M')"
    ).fetchone() == ("2026-07-15 23:00",)


def test_cb_phone_reads_us_numbers_and_plus_prefixed_international_ones():
    con = _con()
    cases = {
        "(212) 555-0100": "+12125550100",  # ten digits, not starting 0 or 1
        "1 212 555 0100": "+12125550100",  # eleven, starting 1 then not 0 or 1
        "2125550100.0": "+12125550100",  # a spreadsheet's float
        " 212.555.0100 ": "+12125550100",
        "+44 20 7946 0958": "+442079460958",  # 8 to 15 digits after a '+'
        "+0 212 555 0100": "+02125550100",
        "0212555010": None,  # ten digits starting 0, no '+'
        "1125550100": None,  # ten starting 1
        "11125550100": None,  # eleven: 1 then 1
        "212555010": None,  # nine, no '+'
        "+1234567": None,  # seven after '+'
        "+1234567890123456": None,  # sixteen
        "2125550100.5": None,  # 11 digits once the dot goes, starting 2
        "": None,
        "  ": None,
        None: None,
    }
    rows = con.execute(
        "SELECT v, cb_phone(v) FROM (SELECT unnest($v::VARCHAR[]) AS v)", {"v": list(cases)}
    ).fetchall()
    assert dict(rows) == cases


def test_cb_phone_reads_a_number_as_the_persons_other_tools_hold_it():
    """One person's number as people write it in sheets and forms: with an extension,
    with the trunk zero of a UK number in brackets, with an international call prefix
    instead of the '+'. And a number after a '+' other than 1 is that country's, even
    with ten digits (Denmark's eight digits, New Zealand's nine). Checked by hand
    against the E.164 form each tool that normalizes (Mobilize, Spoke) would hold."""
    con = _con()
    cases = {
        "617-555-0101 ext. 12": "+16175550101",  # was None
        "(617) 555-0101 x12": "+16175550101",  # was None
        "617-555-0101 #12": "+16175550101",  # was None
        "+1 617 555 0101 ext 3": "+16175550101",  # was +161755501013, another number
        "617 555 0101 Extension 204": "+16175550101",
        "+44 (0)20 7946 0958": "+442079460958",  # was +4402079460958
        "+44 (0) 7911 123456": "+447911123456",
        "0044 20 7946 0958": "+442079460958",  # was None
        "011 44 20 7946 0958": "+442079460958",  # was None
        "001-617-555-0101": "+16175550101",  # was None
        "+45 12 34 56 78": "+4512345678",  # was +14512345678
        "+64 9 123 4567": "+6491234567",  # was +16491234567
        "+1 617 555 0101": "+16175550101",
        "617-555-0101": "+16175550101",
        "0201234567": None,  # a national number without its country: not guessed
        "555-0101 ext 3": None,
    }
    rows = con.execute(
        "SELECT v, cb_phone(v) FROM (SELECT unnest($v::VARCHAR[]) AS v)", {"v": list(cases)}
    ).fetchall()
    assert dict(rows) == cases


def test_json_fields_are_columns_the_macros_take_from_a_subquery():
    """A JSON reader's ``js(j, path)`` fields are extracted once, as columns of a
    subquery below its SELECT (which is planned in a fraction of the time), with the
    values the unrewritten SELECT gives; the source may be a subquery itself and a
    quoted parenthesis is not one. ``jx(j, path)`` values (JSON) likewise, in a second
    extraction."""
    from cyclebook.sync.readers import _json_fields_once

    con = _con()
    con.execute("CREATE TEMP MACRO jx(j, p) AS json_extract(j, p)")  # as written
    con.execute(
        """CREATE TABLE recs AS SELECT * FROM (VALUES
           (0, '{"id": " 12.0 ", "when": "08/01/2026", "ph": "(212) 555-0100",
                 "e": "A@B.org", "ok": true, "ids": ["a:1", "b:2"]}'::JSON),
           (1, '{"id": "", "when": "soon", "ph": "+44 20 7946 0958"}'::JSON),
           (2, '{"other": 1}'::JSON),
           (3, '[1, 2]'::JSON)) t(rec, j)"""
    )
    select = """SELECT rec, cb_id(js(j, '$.id')) AS id, cb_ts(js(j, '$.when')) AS ts,
        cb_phone(js(j, '$.ph')) AS phone, cb_email(js(j, '$.e')) AS email,
        regexp_extract(js(j, '$.ph'), '\\(([0-9]+)', 1) AS area, js(j, '$.id') AS raw,
        json_type(jx(j, '$.ok')) AS ok_type, CAST(jx(j, '$.ok') AS BOOLEAN) AS ok,
        CAST(jx(j, '$.ids') AS VARCHAR[])[2] AS second_id
        FROM (SELECT * FROM recs WHERE rec IN (0, 1, 2, 3))"""
    rewritten = _json_fields_once(select)
    assert "js(j" not in rewritten and "jx(j" not in rewritten and "cb_ts(__f2)" in rewritten
    assert rewritten.count("json_extract_string") == 1
    assert rewritten.count("json_extract(") == 1
    expected = [
        (
            0,
            "12",
            "2026-08-01 04:00",
            "+12125550100",
            "a@b.org",
            "212",
            "12.0",
            "BOOLEAN",
            True,
            "b:2",
        ),
        (1, None, None, "+442079460958", None, "", None, None, None, None),
        (2, None, None, None, None, None, None, None, None, None),
        (3, None, None, None, None, None, None, None, None, None),
    ]
    for sql in (select, rewritten):
        rows = con.execute(
            f"""SELECT rec, id, strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M'), phone,
                       email, area, raw, ok_type, ok, second_id FROM ({sql}) ORDER BY rec"""
        ).fetchall()
        assert rows == expected


def test_emails_and_ids_lose_unicode_spaces_pasted_around_them():
    """An email is the key that joins one person's records across tools. DuckDB's trim
    removes Unicode spaces as well as ASCII ones (a no-break space pasted from a web page
    or Word, an ideographic space): " ana@x.org\\u00a0" meets "ana@x.org". Pinned here, so a
    DuckDB whose trim stops doing so is caught (tabs and zero-width spaces it keeps:
    such an email is refused as invalid, never stored with them)."""
    con = _con()
    cases = [
        ("Ana@Example.org", "ana@example.org", "Ana@Example.org"),
        (" ana@example.org\u00a0", "ana@example.org", "ana@example.org"),
        ("\u3000ana@example.org\u2009", "ana@example.org", "ana@example.org"),
        ("\u00a012345.0\u00a0", None, "12345"),
        ("ana@example.org\u200b", None, "ana@example.org\u200b"),
        ("\u00a0", None, None),
    ]
    for value, email, source_id in cases:
        assert con.execute("SELECT cb_email(?), cb_id(?)", [value, value]).fetchone() == (
            email,
            source_id,
        ), value


def test_an_email_copied_from_a_link_keeps_no_mailto():
    """An address copied from a web page or a mail's link comes as "mailto:ana@x.org":
    it was kept so, a second key for the person whose other tools hold ana@x.org."""
    con = _con()
    cases = {
        "mailto:Ana@Example.org": "ana@example.org",
        " MAILTO:ana@example.org ": "ana@example.org",
        "mailto:ana@example.org.": "ana@example.org",
        "mailto:": None,
        "ana@example.org": "ana@example.org",
    }
    rows = con.execute(
        "SELECT v, cb_email(v) FROM (SELECT unnest($v::VARCHAR[]) AS v)", {"v": list(cases)}
    ).fetchall()
    assert dict(rows) == cases
