# ruff: noqa: E501 - export fixtures are kept verbatim, one record per line
"""Messy input, reader by reader: what a rejected row, a repeated record or an odd page
leaves in the store and in the sync's report.

A rejected row is rejected whole: nothing of it reaches the store, not even the columns
kept as custom fields, and the report counts it once.
"""

from __future__ import annotations

import copy
import json

import pytest
from conftest import utc
from test_readers import AN_API_PERSON, MOBILIZE_PAGE

from cyclebook.errors import ExportError
from cyclebook.sync.stage import PLAIN_CSV_BYTES, Stage, _plainly_no_blank_nor_header_record
from cyclebook.sync.summary import reject_fix

GENERIC = """\
- kind: generic_csv
  path: sheet.csv
  columns: {person_id: ID, email: Email, occurred_at: Date, type: Type}
"""


def _osdi(collection: str, records: list) -> dict:
    return {"_embedded": {f"osdi:{collection}": records}}


def _mobilize_with_rejected_answer() -> dict:
    page = copy.deepcopy(MOBILIZE_PAGE)
    page["data"][0]["custom_signup_field_values"] = [
        {"custom_field_name": "Union?", "text_value": "kept"}
    ]
    again = copy.deepcopy(page["data"][0])
    again["id"] = 13
    again["status"] = "WEIRD"  # not a Mobilize status: the record is rejected
    again["custom_signup_field_values"] = [
        {"custom_field_name": "Union?", "text_value": "rejected"}
    ]
    page["data"].append(again)
    return page


def _an_person_rejected() -> dict:
    person = copy.deepcopy(AN_API_PERSON)
    person["created_date"] = "not a date"
    person["custom_fields"] = {"Shift": "rejected"}
    return person


# (sources, files, the rejected record's file and line, the stored custom field): each
# export holds a person's good record, then a record of the same person that is
# rejected, whose custom column has another value
REJECTED_AFTER_A_GOOD_ONE = {
    "action_network_csv": (
        "- {kind: action_network_csv, path: an}",
        {
            "an/a.csv": "uuid,first_name,email,can2_subscription_date,Building\n"
            "u1,Ana,ana@example.org,2026-08-01,kept\n"
            "u1,Ana,ana@example.org,not a date,rejected\n"
        },
        ("an/a.csv", 3),
        ("Building", "kept"),
    ),
    "generic_csv": (
        GENERIC,
        {
            "sheet.csv": "ID,Email,Date,Type,Notes\n"
            "H1,h@example.org,2026-08-01,attendance,kept\n"
            "H1,h@example.org,not a date,attendance,rejected\n"
        },
        ("sheet.csv", 3),
        ("Notes", "kept"),
    ),
    "van_persons": (
        "- {kind: van, path: van}",
        {
            "van/persons.csv": "vanid,firstname,datecreated,Precinct\n"
            "101,Fa,2025-01-02,kept\n"
            "101,Fa,not a date,rejected\n"
        },
        ("van/persons.csv", 3),
        ("Precinct", "kept"),
    ),
    "action_network_api": (
        "- {kind: action_network_api, path: api}",
        {
            "api/people/p1.json": _osdi("people", [AN_API_PERSON]),
            "api/people/p2.json": _osdi("people", [_an_person_rejected()]),
        },
        ("api/people/p2.json", 1),
        ("Shift", "evening"),
    ),
    "mobilize": (
        "- {kind: mobilize, path: m}",
        {"m/p.json": _mobilize_with_rejected_answer()},
        ("m/p.json", 3),
        ("Union?", "kept"),
    ),
}


@pytest.mark.parametrize("reader", REJECTED_AFTER_A_GOOD_ONE)
def test_a_rejected_rows_custom_fields_are_not_kept(make_cohort, reader):
    """The custom columns of a rejected row were written to the person all the same
    (the last row of a person wins, so the rejected row's value replaced the kept one's)
    whenever the person was known from another row: the report said the row was
    rejected, the store held its values."""
    sources, files, (file, line), field = REJECTED_AFTER_A_GOOD_ONE[reader]
    c = make_cohort(sources)
    for rel, content in files.items():
        c.write(rel, content)
    result = c.sync()
    assert result.rows_rejected == 1
    assert [(f, ln) for f, ln, _, _ in c.rejects()] == [(file, line)]
    assert c.query("SELECT field, value FROM custom_field") == [field]


AN_HEAD = "uuid,first_name,email\n"


@pytest.mark.parametrize(
    "second_head",
    [
        "\ufeff" + AN_HEAD,  # the next export's byte-order mark, where two were joined
        '"UUID", "First_Name" ,"email"\n',  # quoted, spaced, shouted
    ],
)
def test_a_header_line_of_a_joined_export_is_a_repeated_header(make_cohort, second_head):
    """Two "CSV UTF-8" exports joined into one file: the second's header line starts
    with its byte-order mark. It was not seen as a header: kept as a member whose id was
    the BOM and 'uuid' and whose first name was 'first_name'."""
    c = make_cohort("- {kind: action_network_csv, path: an}")
    c.write(
        "an/a.csv",
        "\ufeff" + AN_HEAD + "u1,Ana,ana@example.org\n" + second_head + "u2,Bo,bo@example.org\n",
    )
    result = c.sync()
    assert [(f.rows_read, f.rows_kept, f.rows_rejected) for f in result.files] == [(3, 2, 1)]
    assert c.rejects() == [("an/a.csv", 3, None, "repeated header line")]
    assert c.query(
        """SELECT i.source_id, pii.first_name FROM identity i
           JOIN person_pii pii USING (org_id, person_id) ORDER BY 1"""
    ) == [("u1", "Ana"), ("u2", "Bo")]


@pytest.mark.parametrize(
    ("records", "plain"),
    [
        ("u1,ana@example.org\nu2,bo@example.org\n", True),
        ("u1,uuidx\nxemail,bo@example.org", True),  # (no final line end)
        ('"u1","ana@example.org"\r\nu2,b\r\n', True),
        ("u1, EMAIL \n", False),  # trimmed and lowercased, a compared name
        ('u1,"Email"\n', False),
        ("\ufeffUUID,x\n", False),  # without its byte-order mark
        ("u1,\u0130d\n", False),  # DuckDB lowercases the dotted I into an ASCII i
        ("u1,\u212aey\n", False),  # ...and the Kelvin sign into k
        ("u1,a\n,\nu2,b\n", False),  # a blank record
        ("u1,a\n\nu2,b\n", False),  # an empty line
        ('u1,a\n"",\n', False),
        ("u1,a\r,\ru2,b\r", False),  # a blank record, old Mac line ends
        ("", False),  # no record: nothing to save
    ],
)
def test_a_small_csv_is_seen_plainly_to_hold_no_blank_nor_header_record(tmp_path, records, plain):
    """A small CSV's blank records and repeated header lines are looked for in Python
    where it plainly has none (DuckDB's query for them is mostly planning): never where
    DuckDB could find one."""
    path = tmp_path / "a.csv"
    path.write_bytes(f"uuid,email\n{records}".encode())
    stage = Stage(None, "org", "UTC")
    f = stage.add_file(path, "a.csv", "action_network_csv", "an")
    f.delimiter = ","
    compared = {"uuid", "email", "UUID", "Email", "id", "key"}
    assert _plainly_no_blank_nor_header_record(path, f, compared) is plain


def test_a_csv_is_looked_through_by_duckdb_when_in_doubt(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"uuid,email\nu1,a@example.org\n")
    stage = Stage(None, "org", "UTC")
    f = stage.add_file(path, "a.csv", "action_network_csv", "an")
    f.delimiter = ","
    assert _plainly_no_blank_nor_header_record(path, f, {"uuid"})
    # a compared name that is not ASCII, holds a quote or the delimiter, or is empty
    for name in ("n\u00famero", 'a"b', "a,b", " "):
        assert not _plainly_no_blank_nor_header_record(path, f, {"uuid", name})
    f.skip = 1  # lines above the header
    assert not _plainly_no_blank_nor_header_record(path, f, {"uuid"})
    f.skip = 0
    path.write_bytes(b"uuid,email\n" + b"u1,a@example.org\n" * (PLAIN_CSV_BYTES // 16))
    assert not _plainly_no_blank_nor_header_record(path, f, {"uuid"})  # too large


def test_a_repeated_header_with_a_name_twice_or_none(make_cohort):
    """DuckDB renames a column named twice ("Note_1") or not at all ("column4"): the
    header line pasted again is still recognized by the names its line writes."""
    head = "uuid,first_name,email,,Note,Note\n"
    c = make_cohort("- {kind: action_network_csv, path: an}")
    c.write(
        "an/a.csv",
        head + "u1,Ana,ana@example.org,,a,b\n" + head + "u2,Bo,bo@example.org,,c,d\n",
    )
    result = c.sync()
    assert [(f.rows_read, f.rows_kept, f.rows_rejected) for f in result.files] == [(3, 2, 1)]
    assert c.rejects() == [("an/a.csv", 3, None, "repeated header line")]


@pytest.mark.parametrize(
    "second_head",
    [
        "uuid,email,first_name\n",  # the same columns in another order
        "\ufeffuuid,email,Building\n",  # another report's columns
        # starting with a column this file lacks, a custom one or one of the tool's:
        # kept as members whose uuid was "Building" and "zip_code"
        "\ufeffBuilding,uuid,email\n",
        "zip_code,uuid,email\n",
    ],
)
def test_a_header_line_of_other_columns_stops_the_file_by_its_line(make_cohort, second_head):
    """Two exports of different layouts joined into one file: the rows below the second
    header were read under the first's names (an email kept as a first name, the header
    line as a member, said only as an unreadable email). Now the file stops, naming the
    line and the fix, and the store is left as it was."""
    c = make_cohort("- {kind: action_network_csv, path: an}")
    c.write("an/a.csv", AN_HEAD + "u1,Ana,ana@example.org\n")
    c.sync()
    c.write(
        "an/a.csv",
        AN_HEAD + "u1,Ana,ana@example.org\n" + "\n" + second_head + "u2,bo@example.org,Bo\n",
    )
    with pytest.raises(ExportError) as caught:
        c.sync()
    message = str(caught.value)
    assert message.startswith("[org] an/a.csv, line 4: this line is a header row"), message
    assert "its own file" in message and "bo@example.org" not in message
    assert c.query("SELECT first_name FROM person_pii") == [("Ana",)]


MOBILIZE = "- {kind: mobilize, path: m}"


@pytest.mark.parametrize(
    "sources,rel,content,problem,fix",
    [
        (
            # a page cut short, its space set aside: the text, then zero bytes (read as
            # UTF-16 without a byte-order mark, the fix was to set an encoding, which a
            # JSON reader does not read)
            MOBILIZE,
            "m/p.json",
            b'{"data": [{"id": 1}]}' + b"\x00" * 2048,
            "the file's text is followed by zero bytes",
            "download the page again from the API.",
        ),
        (
            "- {kind: action_network_csv, path: an}",
            "an/a.csv",
            b"uuid,email\nu1,a@example.org\n" + b"\x00" * 2048,
            "the file's text is followed by zero bytes",
            "export the report again from the tool.",
        ),
        (
            # saved as UTF-16 by an editor: the fix named a setting JSON readers ignore
            MOBILIZE,
            "m/p.json",
            '{"data": [{"id": 1}]}'.encode("utf-16-le"),
            "the page looks like UTF-16 text without a byte-order mark; JSON pages are read as UTF-8",
            "save it as UTF-8 in a text editor.",
        ),
        (
            "- {kind: action_builder, path: ab}",
            "ab/e.json",
            '{"data": [{"id": 1}]}'.encode("utf-16"),
            "the page is UTF-16 text; JSON pages are read as UTF-8",
            "download the page again from the API (the API sends UTF-8)",
        ),
        (
            "- {kind: action_network_api, path: api}",
            "api/people/p.json",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "the file is binary, not JSON text",
            "check that it is the JSON page",
        ),
        (
            MOBILIZE,
            "m/p.json",
            b"PK\x03\x04\x14\x00\x00\x00",
            "the file is a ZIP archive, not a JSON page",
            "unzip it and put its .json pages in the source's folder.",
        ),
    ],
)
def test_a_file_with_zero_bytes_is_named_with_a_fix_for_its_kind(
    make_cohort, sources, rel, content, problem, fix
):
    """A JSON page's problem is told as a page's, with a fix that works for it (download
    it again, save it as UTF-8): the CSV's fixes ("set `encoding:` in cohort.yml", "save
    it from the spreadsheet as 'CSV UTF-8'", "export the report as CSV") were given for
    JSON pages too."""
    c = make_cohort(sources)
    c.write(rel, content)
    with pytest.raises(ExportError) as caught:
        c.sync()
    message = str(caught.value)
    assert message.startswith(f"[org] {rel}: {problem}"), message
    assert fix in message and "encoding:" not in message and "CSV UTF-8" not in message, message


def test_a_van_lookup_row_without_its_id_or_name_is_rejected_and_an_id_named_twice_said(
    make_cohort,
):
    """A lookup table's rows were all counted as kept: one without its id or its name
    named nothing, silently, and an id listed twice in one file with two names took the
    last without a word (a contact read as Refused rather than Canvassed is not a
    conversation)."""
    c = make_cohort("- {kind: van, path: van}")
    c.write("van/persons.csv", "vanid,firstname\n101,Fa\n")
    c.write(
        "van/results.csv",
        "resultid,resultshortname\n1,Not Home\n14,Canvassed\n14,Refused\n15,\n,Moved\n",
    )
    c.write("van/contacttypes.csv", "contacttypeid,contacttypename\n2,Walk\n")
    c.write(
        "van/contactscontacts.csv",
        "contactscontactid,vanid,resultid,contacttypeid,datecanvassed\n"
        "9001,101,14,2,2026-08-10 18:00:00\n"
        "9002,101,15,2,2026-08-11 18:00:00\n",
    )
    result = c.sync()
    (results,) = [f for f in result.files if f.file == "van/results.csv"]
    assert (results.rows_read, results.rows_kept, results.rows_rejected) == (5, 3, 2)
    assert results.notes == [
        "1 resultid(s) listed more than once with different names (14: Canvassed, "
        "Refused): each takes the name of its last row; check the table in VAN and export "
        "it again"
    ]
    assert c.rejects() == [
        (
            "van/contactscontacts.csv",
            3,
            "resultid",
            "result id 15 has no name in van/results.csv (line 5, resultshortname)",
        ),
        ("van/results.csv", 5, "resultshortname", "missing resultshortname"),
        ("van/results.csv", 6, "resultid", "missing resultid"),
    ]
    assert c.query("SELECT attempt_id, result FROM contact_attempt") == [("van:cc:9001", "Refused")]


def test_columns_without_a_name_are_named_by_their_place_or_not_read_when_empty(make_cohort):
    """A spreadsheet's trailing commas give the header columns without a name. DuckDB
    names them "column3", "column4"... counting from 0: they were listed as columns kept
    under those names (the one holding a value, the 5th, as "column4"), the empty ones
    too, as if they held something."""
    head = "uuid,first_name,email,,,\n"
    c = make_cohort("- {kind: action_network_csv, path: an}")
    c.write(
        "an/a.csv",
        head + "u1,Ana,ana@example.org,,,\n" + head + "u2,Bo,bo@example.org,,x,\n",
    )
    result = c.sync()
    (read,) = result.files
    assert (read.rows_read, read.rows_kept, read.rows_rejected) == (3, 2, 1)
    assert read.unknown_columns == ["column 5 (no name)"]
    assert read.notes == [
        "2 column(s) without a name in the header and without a value in any row (a "
        "spreadsheet's trailing commas) were not read"
    ]
    assert c.rejects() == [("an/a.csv", 3, None, "repeated header line")]
    assert c.query("SELECT field, value FROM custom_field") == [("column 5 (no name)", "x")]


def test_every_repeat_of_a_header_line_is_rejected_however_many(make_cohort):
    """Header lines are looked at once per distinct line: a file repeating its header
    150,000 times has every one rejected (looked at one record at a time, up to 100,000,
    the rest were read as records)."""
    c = make_cohort("- {kind: action_network_csv, path: an}")
    c.write(
        "an/a.csv",
        AN_HEAD + "u1,Ana,ana@example.org\n" + AN_HEAD * 150_000 + "u2,Bo,bo@example.org\n",
    )
    result = c.sync()
    (read,) = result.files
    assert (read.rows_read, read.rows_kept, read.rows_rejected) == (150_002, 2, 150_000)
    assert c.query(
        "SELECT count(*), min(line), max(line) FROM rejected_row WHERE reason = 'repeated header line'"
    ) == [(150_000, 3, 150_002)]
    assert c.query("SELECT count(*) FROM person") == [(2,)]


@pytest.mark.parametrize("kind", ["mobilize", "action_network_api", "action_builder"])
def test_json_sources_take_no_encoding(kind):
    """A JSON page is read as UTF-8 (else Windows-1252) whatever the source says:
    'encoding' on a JSON source was accepted and ignored."""
    from cyclebook.config import Source

    with pytest.raises(ValueError, match=f"a {kind} export is JSON, read as UTF-8 \\(a page"):
        Source(kind=kind, path="p", encoding="windows-1252")
    assert Source(kind=kind, path="p").encoding is None
    assert Source(kind="van", path="v", encoding="windows-1252").encoding == "windows-1252"


def test_an_activity_twice_in_one_file_with_different_values_is_said(make_cohort):
    """A VAN sign-up listed Scheduled, then Completed, in the same export: one version
    is kept (the later line, VAN giving no modification date here) and the other went
    without a word, counted as kept. The file now says so; a line repeated exactly,
    and the same sign-up in a later export (an update), are not said."""
    from test_readers import VAN_FILES

    c = make_cohort("- {kind: van, path: van}")
    for rel in ("van/persons.csv", "van/events.csv"):
        c.write(rel, VAN_FILES[rel])
    signups = (
        "eventsignupid,vanid,eventid,eventrolename,eventstatusname,datecreated\n"
        "4001,101,7,Host,Scheduled,2026-08-01 10:00:00\n"
        "4002,102,7,Volunteer,Scheduled,2026-08-02 10:00:00\n"
        "4001,101,7,Host,Completed,2026-08-01 10:00:00\n"
        "4002,102,7,Volunteer,Scheduled,2026-08-02 10:00:00\n"
    )
    c.write("van/eventsignups.csv", signups)
    result = c.sync()
    notes = {f.file: f.notes for f in result.files}
    said = [n for n in notes["van/eventsignups.csv"] if "more than once" in n]
    assert said == [
        "1 activity appears more than once in this file with different values (the same "
        "id): one version of each is kept, the one the tool modified last, else the one "
        "further down the file; check the export if both were meant"
    ]
    assert c.query("SELECT activity_id, status FROM activity ORDER BY 1") == [
        ("van:es:4001", "completed"),
        ("van:es:4002", "registered"),  # (VAN's Scheduled)
    ]
    c.write(
        "van/eventsignups-2.csv",
        signups.splitlines()[0] + "\n4002,102,7,Volunteer,Completed,2026-08-02 10:00:00\n",
    )
    result = c.sync()
    # (the first file, read again beside the new one, still holds its repeat)
    said = {f.file for f in result.files for n in f.notes if "more than once" in n}
    assert said <= {"van/eventsignups.csv"}
    assert c.query("SELECT status FROM activity WHERE activity_id = 'van:es:4002'") == [
        ("completed",)
    ]


def test_a_person_listed_twice_in_one_file_with_different_values_is_said(make_cohort):
    """An activist report with Ana twice (the same uuid), ana@home and "canvass", then
    ana@work and "phones": the lower row's values are kept, the others went without a
    word. The file now says so. Not said: Bo twice alike, Cy twice with a zip left empty
    in the lower row (his zip is kept: nothing lost), and a sign-in sheet naming Di on
    two meetings with two emails (a sheet of activities names a person on each row)."""
    head = (
        "uuid,first_name,last_name,email,zip_code,can2_phone,can2_sms_status,"
        "can2_subscription_status,can2_subscription_date,Volunteer interest\n"
    )
    c = make_cohort(
        "- {kind: action_network_csv, path: an}\n"
        "- {kind: generic_csv, path: signins.csv, activity_type: attendance,\n"
        "   columns: {person_id: Member ID, occurred_at: Date, email: Email}}"
    )
    c.write(
        "an/activists.csv",
        head
        + "u1,Ana,Diaz,ana@home.org,02139,,subscribed,subscribed,2026-01-05,canvass\n"
        + "u2,Bo,Eng,bo@x.org,02139,,subscribed,subscribed,2026-01-05,\n"
        + "u3,Cy,Fox,cy@x.org,02140,,subscribed,subscribed,2026-01-05,\n"
        + "u1,Ana,Diaz,ana@work.org,,,subscribed,subscribed,2026-01-05,phones\n"
        + "u2,Bo,Eng,bo@x.org,02139,,subscribed,subscribed,2026-01-05,\n"
        + "u3,Cy,Fox,cy@x.org,,,subscribed,subscribed,2026-01-05,\n",
    )
    c.write(
        "signins.csv",
        "Member ID,Date,Email\nD1,2026-01-07,di@home.org\nD1,2026-01-14,di@work.org\n",
    )
    result = c.sync()
    notes = {f.file: f.notes for f in result.files}
    assert notes == {
        "an/activists.csv": [
            "1 person is listed more than once in this file with different values (the "
            "same id): the value of each column in the row further down is kept (an "
            "earlier row's where that one is empty), the others only in the archived "
            "file; check the export if both were meant"
        ],
        "signins.csv": [],
    }
    assert c.query(
        """SELECT i.source_id, p.email, s.zip FROM identity i
           JOIN person_pii p USING (org_id, person_id) JOIN person s USING (org_id, person_id)
           WHERE i.source = 'action_network' ORDER BY 1"""
    ) == [
        ("u1", "ana@work.org", "02139"),
        ("u2", "bo@x.org", "02139"),
        ("u3", "cy@x.org", "02140"),
    ]
    assert c.query("SELECT source_id, value FROM custom_field") == [("u1", "phones")]


DATED_SHEET = """\
- kind: generic_csv
  path: roster.csv
  activity_type: attendance
  columns: {person_id: Member ID, occurred_at: Meeting Date}
"""


def test_dates_as_the_tools_screens_and_spreadsheets_write_them(make_cohort):
    """A month's name with a twelve-hour time ("Aug 12, 2026 4:00 PM", as Action
    Network's and Mobilize's screens export dates), a time without a space before PM, a
    comma after the date (Google Sheets), Excel's 12-Aug-2026 and an ISO date with a
    twelve-hour time were rejected as not readable. A value still unread is rejected by
    its line and column, with the forms that are read."""
    from cyclebook.sync.stage import BAD_DATE

    c = make_cohort(DATED_SHEET)
    c.write(
        "roster.csv",
        "Member ID,Meeting Date\n"  # 1
        'A1,"Aug 12, 2026 4:00 PM"\n'  # 2
        'A2,"August 13, 2026 4:30 pm"\n'  # 3
        "A3,8/14/2026 4:00PM\n"  # 4
        'A4,"8/15/2026, 4:00:00 PM"\n'  # 5
        "A5,16-Aug-2026\n"  # 6
        "A6,2026-08-17 9:15 AM\n"  # 7
        "A7,8/18/26 4:00:00 PM\n"  # 8
        'A8,"Wednesday, August 19, 2026"\n'  # 9
        'A9,"Aug 20, 2026 at 7:00 PM"\n'  # 10
        "A10,next Tuesday\n",  # 11
    )
    result = c.sync()
    assert (result.rows_read, result.rows_rejected) == (10, 1)
    assert c.rejects() == [("roster.csv", 11, "Meeting Date", BAD_DATE)]
    assert "Sep 14, 2026 6:00 PM" in BAD_DATE and "09/14/2026 6:00 PM" in BAD_DATE
    # New York in August is UTC-4: 4:00 PM there is 20:00 UTC, a date alone 04:00 UTC
    assert c.query(
        f"""SELECT i.source_id, {utc("a.occurred_at")}
            FROM activity a JOIN identity i USING (org_id, person_id) ORDER BY 2"""
    ) == [
        ("A1", "2026-08-12 20:00"),
        ("A2", "2026-08-13 20:30"),
        ("A3", "2026-08-14 20:00"),
        ("A4", "2026-08-15 20:00"),
        ("A5", "2026-08-16 04:00"),
        ("A6", "2026-08-17 13:15"),
        ("A7", "2026-08-18 20:00"),
        ("A8", "2026-08-19 04:00"),
        ("A9", "2026-08-20 23:00"),
    ]


def test_a_sheets_recorded_date_not_read_is_a_value_rejected(make_cohort):
    """A sign-in sheet's "Entered" column (recorded_at) with a date not read ("last
    week") was left out of the row, without a word. The row is kept, dated by its
    meeting; the value is rejected by its line and column, counted apart from the rows.
    A row rejected for its own date is not listed twice."""
    from cyclebook.sync.stage import BAD_DATE

    c = make_cohort(
        DATED_SHEET.replace(
            "occurred_at: Meeting Date}", "occurred_at: Meeting Date, recorded_at: Entered}"
        )
    )
    c.write(
        "roster.csv",
        "Member ID,Meeting Date,Entered\n"  # 1
        "A1,2026-08-12,2026-08-13 9:00\n"  # 2
        "A2,2026-08-12,last week\n"  # 3
        "A3,2026-08-12,\n"  # 4
        "A4,someday,last week\n",  # 5
    )
    result = c.sync()
    assert (result.rows_read, result.rows_rejected) == (4, 1)
    assert c.query(
        "SELECT line, column_name, reason, record_kept FROM rejected_row ORDER BY line"
    ) == [(3, "Entered", BAD_DATE, True), (5, "Meeting Date", BAD_DATE, False)]
    # New York in August is UTC-4
    assert c.query(
        f"""SELECT i.source_id, {utc("a.recorded_at")}
            FROM activity a JOIN identity i USING (org_id, person_id) ORDER BY 1"""
    ) == [("A1", "2026-08-13 13:00"), ("A2", None), ("A3", None)]


def test_dates_with_a_time_zone_are_read_in_the_zone_they_name(make_cohort):
    """A sheet pasted from an email export (RFC 2822 dates) and from tools that write a
    US zone after the time: the email's dates were rejected, "PST" and "CST" were read
    as Los Angeles' and Chicago's clocks (an hour off in August), and "IST" and "BST" as
    India's and Bangladesh's. Each US zone is its fixed offset; an abbreviation that
    names several countries' zones is rejected by its line and column, with the forms
    that are read and the fix (its offset)."""
    from cyclebook.sync.stage import BAD_DATE

    c = make_cohort(DATED_SHEET)
    c.write(
        "roster.csv",
        "Member ID,Meeting Date\n"  # 1
        'B1,"Wed, 12 Aug 2026 16:00:00 GMT"\n'  # 2
        'B2,"Thu, 13 Aug 2026 12:00:00 -0400"\n'  # 3
        "B3,8/14/2026 4:00 PM EDT\n"  # 4
        "B4,2026-08-15 16:00 PST\n"  # 5
        "B5,2026-08-16 16:00 CST\n"  # 6
        "B6,8/17/2026 9:00 AM MDT\n"  # 7
        "B7,2026-08-18 16:00 Z\n"  # 8
        "B8,2026-08-19 16:00 IST\n"  # 9
        "B9,8/20/2026 4:00 PM BST\n",  # 10
    )
    result = c.sync()
    assert (result.rows_read, result.rows_rejected) == (9, 2)
    assert c.rejects() == [
        ("roster.csv", 9, "Meeting Date", BAD_DATE),
        ("roster.csv", 10, "Meeting Date", BAD_DATE),
    ]
    for named in ("EST, EDT, CST, CDT, MST, MDT, PST, PDT", "GMT, UTC or Z", "-0400"):
        assert named in BAD_DATE
    # worked out by hand: EDT is UTC-4, PST -8 (in August too), CST -6, MDT -6
    assert c.query(
        f"""SELECT i.source_id, {utc("a.occurred_at")}
            FROM activity a JOIN identity i USING (org_id, person_id) ORDER BY 1"""
    ) == [
        ("B1", "2026-08-12 16:00"),
        ("B2", "2026-08-13 16:00"),
        ("B3", "2026-08-14 20:00"),
        ("B4", "2026-08-16 00:00"),
        ("B5", "2026-08-16 22:00"),
        ("B6", "2026-08-17 15:00"),
        ("B7", "2026-08-18 16:00"),
    ]


def test_et_ct_mt_pt_are_read_as_their_zones_clock_on_the_date(make_cohort):
    """ "7:00 PM ET", as organizing tools' event pages and spreadsheets write it, names
    no fixed offset: such dates were rejected. Each is read as its zone's clock on that
    date (ET -5 in January, -4 in July; PT -7 in July; CT -5 from March 8, 2026, the day
    summer time began; Hawaii -10 all year), whatever the organization's zone (New York
    here); an abbreviation the sync does not read is rejected with the zones it reads."""
    from cyclebook.sync.stage import BAD_DATE

    c = make_cohort(DATED_SHEET)
    c.write(
        "roster.csv",
        "Member ID,Meeting Date\n"  # 1
        "B1,1/15/2026 7:00 PM ET\n"  # 2
        "B2,7/15/2026 7:00 PM ET\n"  # 3
        "B3,7/15/2026 7:00 PM PT\n"  # 4
        "B4,3/8/2026 7:00 PM CT\n"  # 5
        "B5,2026-07-15 19:00 HT\n"  # 6
        "B6,7/15/2026 7:00 PM AET\n",  # 7: Australian Eastern Time
    )
    result = c.sync()
    assert (result.rows_read, result.rows_rejected) == (6, 1)
    assert c.rejects() == [("roster.csv", 7, "Meeting Date", BAD_DATE)]
    assert "or by ET, CT, MT, PT, AKT or HT, read as the clock of New York, Chicago" in BAD_DATE
    assert c.query(
        f"""SELECT i.source_id, {utc("a.occurred_at")}
            FROM activity a JOIN identity i USING (org_id, person_id) ORDER BY 1"""
    ) == [
        ("B1", "2026-01-16 00:00"),
        ("B2", "2026-07-15 23:00"),
        ("B3", "2026-07-16 02:00"),
        ("B4", "2026-03-09 00:00"),
        ("B5", "2026-07-16 05:00"),
    ]


def test_a_day_first_sheet_with_zones_stays_day_first(make_cohort):
    """A day-first sheet whose times end with a zone: "13/08/2026 4:00 PM EDT" was not
    seen as day first (nor read), and "12/08/2026 4:00 PM EDT" was read as December 8."""
    c = make_cohort(DATED_SHEET)
    c.write(
        "roster.csv",
        "Member ID,Meeting Date\nA1,13/08/2026 4:00 PM EDT\nA2,12/08/2026 4:00 PM EDT\n",
    )
    result = c.sync()
    assert result.rows_rejected == 0, c.rejects()
    assert result.files[0].notes == [
        "dates read day first (DD/MM/YYYY): 1 value(s) such as '13/08/2026 4:00 PM EDT' are "
        "only valid that way; set date_format: '%d/%m/%Y' on this source in cohort.yml to "
        "say so"
    ]
    assert c.query(
        f"""SELECT i.source_id, {utc("a.occurred_at")}
            FROM activity a JOIN identity i USING (org_id, person_id) ORDER BY 1"""
    ) == [("A1", "2026-08-13 20:00"), ("A2", "2026-08-12 20:00")]


def test_day_first_dates_with_a_twelve_hour_time_stay_day_first(make_cohort):
    """A day-first sheet whose dates carry a twelve-hour time: "13/08/2026 4:00 PM" was
    not seen as day first, so the sheet was read month first: that row was rejected and
    "12/08/2026 4:00 PM" was kept as December 8, silently."""
    c = make_cohort(DATED_SHEET)
    c.write(
        "roster.csv",
        "Member ID,Meeting Date\nA1,13/08/2026 4:00 PM\nA2,12/08/2026 4:00 PM\nA3,01/09/26 9:00 AM\n",
    )
    result = c.sync()
    assert result.rows_rejected == 0, c.rejects()
    assert result.files[0].notes == [
        "dates read day first (DD/MM/YYYY): 1 value(s) such as '13/08/2026 4:00 PM' are only "
        "valid that way; set date_format: '%d/%m/%Y' on this source in cohort.yml to say so"
    ]
    assert c.query(
        f"""SELECT i.source_id, {utc("a.occurred_at")}
            FROM activity a JOIN identity i USING (org_id, person_id) ORDER BY 1"""
    ) == [("A1", "2026-08-13 20:00"), ("A2", "2026-08-12 20:00"), ("A3", "2026-09-01 13:00")]


def test_mobilize_dates_in_unix_milliseconds(make_cohort):
    """Unix milliseconds (1786550400000, as JavaScript and some API clients write a
    Mobilize date) were rejected as not readable, and the attendance with them; they
    are read beside Unix seconds. A date neither reads is rejected with both named."""
    from cyclebook.sync.stage import BAD_EPOCH

    page = copy.deepcopy(MOBILIZE_PAGE)
    first, second = page["data"]
    first["created_date"] = 1786550400000  # 2026-08-12 16:00 UTC
    first["timeslot"]["start_date"] = "1786561200000.0"  # 19:00 UTC
    second["created_date"] = 1786550400  # seconds, as before
    third = copy.deepcopy(second)
    third["id"], third["created_date"] = 13, "17865504000000"  # 14 digits: neither
    page["data"].append(third)
    c = make_cohort(MOBILIZE)
    c.write("m/p.json", page)
    result = c.sync()
    assert (result.rows_read, result.rows_rejected) == (3, 1)
    assert c.rejects() == [("m/p.json", 3, "created_date", BAD_EPOCH)]
    assert BAD_EPOCH.endswith("or an Excel serial day number, or Unix seconds or milliseconds)")
    assert c.query(
        f"""SELECT source_id, {utc("occurred_at")}, {utc("recorded_at")} FROM activity
            ORDER BY 1"""
    ) == [
        ("11", "2026-08-12 19:00", "2026-05-30 00:13"),
        ("12", "2026-05-29 10:20", "2026-05-28 20:35"),
    ]
    # a person is first seen at the earlier of the attendance's making (created_date)
    # and the event: 501's sign-up came before the event, 502's event was in May
    assert c.query(
        f"""SELECT i.source_id, {utc("p.first_seen_at")} FROM person p
            JOIN identity i USING (org_id, person_id) ORDER BY 1"""
    ) == [("501", "2026-08-12 16:00"), ("502", "2026-05-29 10:20")]


def test_an_undated_assessment_keeps_its_person(make_cohort):
    """An Action Builder entity whose assessment has no date at all (no
    latest_assessment date, no modified_date) was rejected whole: the person, their
    email and name were lost for want of the assessment's date. The person is kept; the
    score is kept as their custom field and is no activity, and the file says so."""
    c = make_cohort("- {kind: action_builder, path: ab}")
    dated = {
        "identifiers": ["action_builder:e1"],
        "given_name": "Kai",
        "action_builder:latest_assessment": 4,
        "action_builder:latest_assessment_created_date": "2026-07-15T12:00:00Z",
    }
    undated = {
        "identifiers": ["action_builder:e2"],
        "given_name": "Lia",
        "email_addresses": [{"address": "lia@example.org"}],
        "action_builder:latest_assessment": "3",
    }
    unassessed = {"identifiers": ["action_builder:e3"], "given_name": "Mo"}
    c.write("ab/e.json", _osdi("people", [dated, undated, unassessed]))
    result = c.sync()
    (page,) = result.files
    assert (page.rows_read, page.rows_kept, page.rows_rejected) == (3, 3, 0)
    assert c.rejects() == []
    assert page.notes == [
        "1 assessment(s) have no date (record(s) 2: neither latest_assessment_created_date "
        "nor modified_date): the people are kept and each score is kept as their custom "
        "field 'action_builder:latest_assessment', but it is not an assessment activity "
        "and counts toward no rung; export the entities again from Action Builder with "
        "their assessment dates"
    ]
    assert c.query("SELECT first_name, email FROM person_pii ORDER BY 1") == [
        ("Kai", None),
        ("Lia", "lia@example.org"),
        ("Mo", None),
    ]
    assert c.query("SELECT activity_id, score FROM activity") == [
        ("ab:assess:e1:20260715120000", 4.0)
    ]
    assert c.query(
        """SELECT i.source_id, f.field, f.value FROM custom_field f
           JOIN identity i USING (org_id, person_id)"""
    ) == [("e2", "action_builder:latest_assessment", "3")]


def test_an_assessment_that_is_not_a_number_rejects_only_itself(make_cohort):
    """An Action Builder entity whose assessment is a word ("high") was rejected whole:
    the person, their email, name and other fields were lost for one field. The person
    is kept with all of it; the assessment alone is rejected, by its record and column,
    with how to fix it, and its text is kept as their custom field. The page counts the
    record as kept (it is), not as rejected."""
    from cyclebook.sync.readers import ASSESSMENT_NOT_A_NUMBER

    c = make_cohort("- {kind: action_builder, path: ab}")
    scored = {
        "identifiers": ["action_builder:e1"],
        "given_name": "Kai",
        "action_builder:latest_assessment": 4,
        "action_builder:latest_assessment_created_date": "2026-07-15T12:00:00Z",
    }
    worded = {
        "identifiers": ["action_builder:e2"],
        "given_name": "Lia",
        "email_addresses": [{"address": "lia@example.org", "status": "subscribed"}],
        "action_builder:latest_assessment": "high",
        "action_builder:latest_assessment_created_date": "2026-07-16T12:00:00Z",
        "shift": "nights",  # a key the reader does not know: kept as a custom field
    }
    c.write("ab/e.json", _osdi("people", [scored, worded]))
    result = c.sync()
    (page,) = result.files
    assert (page.rows_read, page.rows_kept, page.rows_rejected) == (2, 2, 0)
    assert c.rejects() == [
        ("ab/e.json", 2, "action_builder:latest_assessment", ASSESSMENT_NOT_A_NUMBER)
    ]
    assert ASSESSMENT_NOT_A_NUMBER.startswith("assessment is not a number: the person is kept")
    assert "1 to 5" in reject_fix(ASSESSMENT_NOT_A_NUMBER)
    assert c.query("SELECT first_name, email FROM person_pii ORDER BY 1") == [
        ("Kai", None),
        ("Lia", "lia@example.org"),
    ]
    assert c.query("SELECT count(*) FROM person WHERE email_ok") == [(1,)]
    assert c.query("SELECT activity_id, score FROM activity") == [
        ("ab:assess:e1:20260715120000", 4.0)
    ]
    assert c.query(
        """SELECT i.source_id, f.field, f.value FROM custom_field f
           JOIN identity i USING (org_id, person_id) ORDER BY 1, 2"""
    ) == [("e2", "action_builder:latest_assessment", "high"), ("e2", "shift", "nights")]
    # once the group writes a number, the assessment counts, and the reject is gone
    worded["action_builder:latest_assessment"] = "3"
    c.write("ab/e.json", _osdi("people", [scored, worded]))
    c.sync()
    assert c.rejects() == []
    assert c.query("SELECT activity_id, score FROM activity ORDER BY 1") == [
        ("ab:assess:e1:20260715120000", 4.0),
        ("ab:assess:e2:20260716120000", 3.0),
    ]


def test_a_json_page_saved_as_windows_1252_is_read_and_said(make_cohort):
    """A JSON page that is not UTF-8 (edited and saved in a Windows program) stopped the
    organization's sync as "not valid JSON", with the fix to download it again, which a
    page edited by hand cannot follow. It is read as a CSV in that encoding is: whole
    as Windows-1252, or a UTF-8 page's stray Windows-1252 bytes as such, with a note."""
    mobilize = copy.deepcopy(MOBILIZE_PAGE)
    mobilize["data"][0]["person"]["given_name"] = "José"
    c = make_cohort(MOBILIZE + "\n- {kind: action_network_api, path: api}")
    c.write("m/p.json", json.dumps(mobilize, ensure_ascii=False).encode("cp1252"))
    person = dict(AN_API_PERSON, given_name="Zoë", family_name="Muñoz")
    people = json.dumps(_osdi("people", [person]), ensure_ascii=False).encode("utf-8")
    # a UTF-8 page (Zoë) whose one name was typed later as Windows-1252 (Muñoz)
    raw = people.replace("Muñoz".encode(), "Muñoz".encode("cp1252"))
    c.write("api/people/p.json", raw)
    result = c.sync()
    assert {f.file: f.notes for f in result.files} == {
        "api/people/p.json": [
            "read as UTF-8 with 1 byte(s) that are not UTF-8 read as Windows-1252 (parts of "
            "the file were saved by another program)"
        ],
        "m/p.json": ["read as Windows-1252 text (not UTF-8)"],
    }
    assert result.rows_rejected == 0
    assert c.query("SELECT first_name, last_name FROM person_pii ORDER BY 1") == [
        ("Eve", "Ra"),
        ("José", "Oh"),
        ("Zoë", "Muñoz"),
    ]


def test_a_page_that_is_not_json_is_named_by_its_name_line_and_column(make_cohort):
    """A JSON page that is not JSON stopped the sync quoting DuckDB's message, which
    named the page by its full path on the facilitator's machine (the sync's own
    re-encoded copy's, for a page saved as Windows-1252) and a byte of a record it
    numbers its own way. The page is named as the sync names every file (under the
    organization's exports folder), with the line and column an editor shows: here
    the comma that has no value after it, and the end of a download cut short."""
    page = copy.deepcopy(MOBILIZE_PAGE)
    page["data"][0]["person"]["given_name"] = "José"
    text = json.dumps(page, indent=2, ensure_ascii=False)
    lines = text.splitlines()
    # line 6 of the pretty-printed page, '      "id": 11,' (15 characters), gets a second
    # comma: column 16
    assert lines[5] == '      "id": 11,'
    lines[5] += ","
    broken = "\n".join(lines)
    c = make_cohort(MOBILIZE)
    for encoding in ("utf-8", "cp1252"):  # (cp1252: read from the sync's UTF-8 copy)
        c.write("m/p.json", broken.encode(encoding))
        with pytest.raises(ExportError) as raised:
            c.sync()
        message = str(raised.value)
        assert message.startswith(
            "[org] m/p.json, line 6, column 16: is not valid JSON (expecting property name "
            "enclosed in double quotes)"
        ), message
        assert (raised.value.line, raised.value.column) == (6, 16)
        assert str(c.root) not in message and "/tmp" not in message
        assert "José" not in message
    # a download cut short: where the text ends
    c.write("m/p.json", '{"count": 1,\n "data": [{"id": 1, "person": {')
    with pytest.raises(ExportError) as raised:
        c.sync()
    assert str(raised.value).startswith(
        "[org] m/p.json, line 2, column 32: is not valid JSON (the text ends before the JSON does)"
    )
    assert "a truncated download" in raised.value.fix


def test_a_large_page_that_is_not_json_is_named_by_its_name_in_duckdbs_words(
    make_cohort, monkeypatch
):
    """A page too large to be read again for the place it stops being JSON is named by
    DuckDB's message, with the page's name under the exports folder for its full path,
    also when DuckDB read the sync's re-encoded copy of it."""
    from cyclebook.sync import stage

    monkeypatch.setattr(stage, "JSON_LOCATED_BYTES", 0)
    c = make_cohort(MOBILIZE)
    for encoding in ("utf-8", "cp1252"):
        c.write("m/p.json", '{"count": 1, "data": [{"id": 1,, "person": "José"}]}'.encode(encoding))
        with pytest.raises(ExportError) as raised:
            c.sync()
        message = str(raised.value)
        assert message.startswith(
            "[org] m/p.json: is not valid JSON (Invalid Input Error: Malformed JSON in file "
            '"m/p.json", at byte '
        ), message
        assert str(c.root) not in message and raised.value.line is None


def test_keys_inside_a_mobilize_attendances_objects_are_listed_and_kept(make_cohort):
    """A key Mobilize added inside an attendance's person, event or timeslot object was
    neither listed among the page's unknown keys nor kept (only the attendance's own
    keys were): a group's new person field was dropped without a word. Each is listed
    by its path and kept: a person's key as the person's custom field; an event's or a
    timeslot's as the event's field (an event is not a person: they were kept as the
    person's, with every attendee); the attendance's own as the attendance's field."""
    page = copy.deepcopy(MOBILIZE_PAGE)
    first, second = page["data"]
    first["person"]["pronouns"] = "she/her"
    first["event"]["campaign_code"] = {"code": "F26"}
    second["timeslot"]["room"] = "Hall B"
    second["utm_campaign"] = "fall"
    c = make_cohort(MOBILIZE)
    c.write("m/p.json", page)
    (read,) = c.sync().files
    assert read.unknown_columns == [
        "event.campaign_code",
        "person.pronouns",
        "timeslot.room",
        "utm_campaign",
    ]
    # the sync report lists them as kept, none as only in the archived page (beside the
    # first attendance's referrer tag, kept as the attendance's field)
    ((recorded,),) = c.query("SELECT message FROM sync_run WHERE file = 'm/p.json'")
    assert json.loads(recorded)["custom_fields"] == sorted(
        [*read.unknown_columns, "referrer.utm_source"]
    )
    assert c.query(
        """SELECT i.source_id, f.field, f.value FROM custom_field f
           JOIN identity i USING (org_id, person_id) ORDER BY 1, 2"""
    ) == [("501", "person.pronouns", "she/her")]
    assert c.query("SELECT activity_id, field, value FROM activity_field ORDER BY ALL") == [
        ("mobilize:att:11", "referrer.utm_source", "sms"),
        ("mobilize:att:12", "utm_campaign", "fall"),
    ]
    # (both attend one timeslot of event 77: its event row holds both keys)
    assert c.query("SELECT event_id, source, field, value FROM event_field ORDER BY 3") == [
        ("mobilize:77:771", "mobilize", "event.campaign_code", '{"code":"F26"}'),
        ("mobilize:77:771", "mobilize", "timeslot.room", "Hall B"),
    ]


@pytest.mark.parametrize(
    "sources,rel,text,line",
    [
        (
            # a report with many custom columns: fewer than two thirds of its names are
            # the first header's, and it was kept as a member whose uuid was "uuid"
            "- {kind: action_network_csv, path: an}",
            "an/a.csv",
            "uuid,first_name,email,Notes,Extra\n"
            "u1,Ana,ana@example.org,,\n"
            "uuid,email,Building,Shift,Zone\n"
            "u2,bo@example.org,Tower,Late,North\n",
            3,
        ),
        (
            # another VAN table's header (a persons table's) below a contacts table's rows
            "- {kind: van, path: van}",
            "van/contactscontacts.csv",
            "vanid,resultid,contacttypeid,datecanvassed\n"
            "101,14,2,2026-08-10\n"
            "VANID,FirstName,LastName,Email\n"
            "102,Bo,Cy,bo@example.org\n",
            3,
        ),
        (
            # a Spoke messages export's header below a contacts export's rows
            "- {kind: spoke, path: spoke}",
            "spoke/c.csv",
            "campaignId,campaign,contact[cell],contact[firstName]\n"
            "1,K,+16175550100,Ana\n"
            "campaignId,contactNumber,isFromContact,attemptedAt\n"
            "1,+16175550100,false,2026-08-10\n",
            3,
        ),
    ],
)
def test_a_header_line_of_another_layout_is_told_by_the_tools_names(
    make_cohort, sources, rel, text, line
):
    """The header line of another export of the tool, joined below a first one, was told
    only when two thirds of its names were the first header's: other lines were read as
    records, the header itself as a member. Told by the tool's own column names too,
    it stops the file by its line, as every header line of other columns does."""
    c = make_cohort(sources)
    c.write(rel, text)
    with pytest.raises(ExportError) as caught:
        c.sync()
    message = str(caught.value)
    assert message.startswith(f"[org] {rel}, line {line}: this line is a header row"), message
    assert "its own file" in message and "bo@example.org" not in message
    assert c.query("SELECT count(*) FROM person") == [(0,)]


def test_a_record_with_column_names_among_its_values_is_still_a_record(make_cohort):
    """A record whose values happen to be column names, beside an email or an id, is
    not a header line: it is read."""
    c = make_cohort("- {kind: action_network_csv, path: an}")
    c.write(
        "an/a.csv",
        "uuid,first_name,last_name,email\nu1,Email,Uuid,ana@example.org\n"
        "u2,first_name,last_name,bo@example.org\n",
    )
    result = c.sync()
    assert result.rows_rejected == 0
    assert c.query("SELECT first_name, last_name FROM person_pii ORDER BY 1") == [
        ("Email", "Uuid"),
        ("first_name", "last_name"),
    ]


def test_contacts_of_a_van_lookup_id_without_a_name_are_rejected_naming_its_line(make_cohort):
    """A contact type listed in contacttypes with its name left empty: the contacts of
    that type were rejected as 'contact type id not in contacttypes', and the report's
    fix asked for a table that was there, holding the id. The reject now names the
    lookup file, its line and what to fill in; so do results and activist codes."""
    c = make_cohort("- {kind: van, path: van}")
    c.write("van/persons.csv", "vanid,firstname\n101,Fa\n")
    c.write("van/results.csv", "resultid,resultshortname\n14,Canvassed\n\n15,\n")
    c.write("van/contacttypes.csv", "contacttypeid,contacttypename\n2,Walk\n3,\n")
    c.write("van/activistcodes.csv", "activistcodeid,activistcodename\n7,\n")
    c.write(
        "van/contactscontacts.csv",
        "contactscontactid,vanid,resultid,contacttypeid,datecanvassed\n"
        "9001,101,14,2,2026-08-10 18:00:00\n"
        "9002,101,14,3,2026-08-11 18:00:00\n"
        "9003,101,15,2,2026-08-12 18:00:00\n"
        "9004,101,14,4,2026-08-13 18:00:00\n",
    )
    c.write(
        "van/contactsactivistcodes.csv",
        "vanid,activistcodeid,datecreated\n101,7,2026-08-10\n",
    )
    c.sync()
    assert c.rejects() == [
        ("van/activistcodes.csv", 2, "activistcodename", "missing activistcodename"),
        (
            "van/contactsactivistcodes.csv",
            2,
            "activistcodeid",
            "activist code id 7 has no name in van/activistcodes.csv (line 2, activistcodename)",
        ),
        (
            "van/contactscontacts.csv",
            3,
            "contacttypeid",
            "contact type id 3 has no name in van/contacttypes.csv (line 3, contacttypename)",
        ),
        (
            "van/contactscontacts.csv",
            4,
            "resultid",
            # (a blank line above it in results.csv)
            "result id 15 has no name in van/results.csv (line 4, resultshortname)",
        ),
        ("van/contactscontacts.csv", 5, "contacttypeid", "contact type id not in contacttypes"),
        ("van/contacttypes.csv", 3, "contacttypename", "missing contacttypename"),
        ("van/results.csv", 4, "resultshortname", "missing resultshortname"),
    ]
    assert c.query("SELECT attempt_id, result FROM contact_attempt") == [
        ("van:cc:9001", "Canvassed")
    ]
    # the report's fix names the name to fill in, not a table to add
    assert reject_fix(
        "contact type id 3 has no name in van/contacttypes.csv (line 3, contacttypename)"
    ) == (
        "fill in the contacttypename on line 3 of van/contacttypes.csv (in VAN, then "
        "export the table again): the rows using that id are read then"
    )
