# ruff: noqa: E501 - export fixtures are kept verbatim, one record per line
"""A corpus of malformed exports, each with its expected rejection or error message.

A rejected row names file, line, column and reason; a file that cannot be read raises
ExportError naming the file and a fix, and leaves the store as it was.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from cyclebook.errors import ExportError, StoreError

AN = "- {kind: action_network_csv, path: an}"
MOB = "- {kind: mobilize, path: mobilize}"
API = "- {kind: action_network_api, path: api}"
VAN = "- {kind: van, path: van}"
SPOKE = "- {kind: spoke, path: spoke}"
AB = "- {kind: action_builder, path: ab}"
GENERIC = """\
- kind: generic_csv
  path: sheet.csv
  columns: {person_id: ID, email: Email, occurred_at: Date, type: Type}
"""

AN_HEAD = "uuid,first_name,last_name,email,zip_code,can2_subscription_date\n"
GOOD_AN = AN_HEAD + "u1,A,B,a@example.org,02139,2026-08-01\n"
VAN_LOOKUPS = {
    "van/persons.csv": "vanid,firstname,lastname\n101,A,B\n",
    "van/results.csv": "resultid,resultshortname\n1,Not Home\n14,Canvassed\n",
    "van/contacttypes.csv": "contacttypeid,contacttypename\n2,Walk\n",
}
SPOKE_HEAD = (
    "campaignId,campaign,contact[firstName],contact[cell],contact[optOut],contact[messageStatus]\n"
)


def _mob(record_overrides: dict) -> dict:
    record = {
        "id": 1,
        "created_date": 1780000000,
        "modified_date": 1780000000,
        "person": {"user_id": 5, "email_addresses": [{"address": "a@example.org"}]},
        "event": {"id": 7, "title": "Meeting", "event_type": "MEETING"},
        "timeslot": {"id": 71, "start_date": 1780050000},
        "status": "REGISTERED",
        "attended": None,
    }
    for key, value in record_overrides.items():
        if value is None and key in record and key != "attended":
            del record[key]
        else:
            record[key] = value
    return {"count": 1, "next": None, "data": [record]}


def _osdi(collection: str, records: list) -> dict:
    return {"_embedded": {collection: records}}


API_PERSON = {
    "identifiers": ["action_network:p1"],
    "created_date": "2026-01-01T00:00:00Z",
    "email_addresses": [{"address": "a@example.org"}],
}

# (id, sources, files, expected): expected is ("error", [substrings]),
# ("reject", file, line, column, reason substring), or ("value", file, line, column,
# reason substring): a value rejected on a record that is kept (the file's one record;
# the organization's one person)
CASES = [
    # ---------------------------------------------------------------- files that stop a sync
    ("empty-file", AN, {"an/a.csv": b""}, ("error", ["an/a.csv", "the file is empty", "Fix:"])),
    ("bom-only", AN, {"an/a.csv": b"\xef\xbb\xbf\r\n  \n"}, ("error", ["the file is empty"])),
    (
        "utf16-without-a-byte-order-mark",
        AN,
        {"an/a.csv": "uuid,email\nu1,a@b.org\n".encode("utf-16-le")},
        ("error", ["UTF-16 text without a byte-order mark", "encoding: utf-16-le", "CSV UTF-8"]),
    ),
    (
        "xlsx-as-csv",
        AN,
        {"an/a.csv": b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00"},
        ("error", ["ZIP/Excel workbook"]),
    ),
    ("binary", AN, {"an/a.csv": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"}, ("error", ["binary"])),
    (
        "missing-required-column",
        AN,
        {"an/a.csv": "uuid,first_name\nu1,A\n"},
        ("error", ["lacks required column(s) email", "found: uuid, first_name"]),
    ),
    (
        "semicolon-separated",
        AN,
        {"an/a.csv": "uuid;email\nu1;a@example.org\n"},
        ("error", ["not comma-separated", "set `delimiter: ';'` on this source"]),
    ),
    (
        "truncated-json",
        MOB,
        {"mobilize/p1.json": '{"count": 1, "data": [{"id": 1, "person": {'},
        ("error", ["mobilize/p1.json", "is not valid JSON"]),
    ),
    (
        "html-saved-as-json",
        MOB,
        {"mobilize/p1.json": "<html><body>502 Bad Gateway</body></html>"},
        ("error", ["is not valid JSON", "HTML error page"]),
    ),
    (
        "source-folder-missing",
        AN,
        {"other/a.csv": GOOD_AN},
        ("error", ["is not in the organization's exports folder (it holds: other)", "cohort.yml"]),
    ),
    (
        # a download folder renamed by the browser: the name it has is offered
        "source-folder-renamed",
        AN,
        {"an (2)/a.csv": GOOD_AN},
        ("error", ["exports folder; did you mean 'an (2)'? (it holds: an (2))", "cohort.yml"]),
    ),
    (
        # 'path' spelled the British way in cohort.yml: the nearest name is offered
        "source-folder-misspelled",
        MOB,
        {"mobilise/p1.json": '{"count": 0, "data": []}', "van/persons.csv": "vanid\n"},
        ("error", ["did you mean 'mobilise'? (it holds: mobilise, van)"]),
    ),
    (
        # a file saved without its header row: its first record is not listed as
        # "column names" (a member's name and email in the failed sync's report)
        "header-row-missing",
        AN,
        {"an/a.csv": "u1,Ana,Planted,a@example.org,02139,2026-08-01\n"},
        ("error", ["lacks required column(s) email", "none of its 6 columns", "header row"]),
    ),
    (
        "header-row-missing-van",
        VAN,
        {
            **VAN_LOOKUPS,
            "van/contactscontacts.csv": "9001,101,14,2,2026-08-10,Planted Street 1,a@example.org\n",
        },
        ("error", ["lacks required column(s) vanid", "none of its 7 columns"]),
    ),
    ("source-folder-empty", AN, {"an/readme.txt": "nothing here"}, ("error", ["no .csv files"])),
    (
        "van-lookup-missing",
        VAN,
        {
            "van/persons.csv": "vanid\n101\n",
            "van/contactscontacts.csv": "vanid,resultid,contacttypeid,datecanvassed\n101,1,2,2026-08-01\n",
            "van/contacttypes.csv": "contacttypeid,contacttypename\n2,Walk\n",
        },
        ("error", ["needs the 'results' lookup table"]),
    ),
    (
        "van-missing-column",
        VAN,
        {**VAN_LOOKUPS, "van/contactscontacts.csv": "vanid,resultid,contacttypeid\n101,1,2\n"},
        ("error", ["contactscontacts.csv", "lacks required column(s) datecanvassed"]),
    ),
    (
        "spoke-unknown-file",
        SPOKE,
        {"spoke/x.csv": "phone,name\n1,2\n"},
        ("error", ["neither a Spoke contacts export"]),
    ),
    (
        "generic-mapping-mismatch",
        GENERIC,
        {"sheet.csv": "ID,Mail,Date,Type\n1,a@b.org,2026-08-01,signup\n"},
        ("error", ["lacks the mapped column(s) email: Email", "'columns' mapping"]),
    ),
    # ---------------------------------------------------------------- rows that are rejected
    (
        "repeated-header",
        AN,
        {"an/a.csv": GOOD_AN + AN_HEAD + "u2,C,D,c@example.org,02139,2026-08-02\n"},
        ("reject", "an/a.csv", 3, None, "repeated header line"),
    ),
    (
        # the header again, differently cased and padded, names with non-ASCII letters
        "repeated-header-case-and-spaces",
        """\
- kind: generic_csv
  path: sheet.csv
  columns: {person_id: Nº, email: Émail, occurred_at: Date, type: Type}
""",
        {
            "sheet.csv": "Nº,Émail,Date,Type\n1,a@example.org,2026-08-01,signup\n nº ,ÉMAIL ,date,TYPE\n"
        },
        ("reject", "sheet.csv", 3, None, "repeated header line"),
    ),
    (
        # values as long as the names, but not the names, or too few of them: read as a
        # record (the length test is only a first cut)
        "not-a-repeated-header",
        GENERIC,
        {
            "sheet.csv": "ID,Email,Date,Type\n1,a@example.org,2026-08-01,signup\nIDs,Emails,Date,Type\n"
        },
        ("reject", "sheet.csv", 3, "Date", "date not readable"),
    ),
    (
        # mostly the names, one of them another: a header line of another layout, its
        # rows below it in that layout (two exports joined into one file)
        "a-header-of-another-layout",
        GENERIC,
        {
            "sheet.csv": "ID,Email,Date,Type\n1,a@example.org,2026-08-01,signup\nID,Email,Dates,Type\n"
        },
        ("error", ["sheet.csv, line 3", "a header row whose columns differ", "Fix:"]),
    ),
    (
        # another report's header line, starting with a custom column this file lacks:
        # kept as a member whose uuid was "Building"
        "a-header-of-another-layout-starting-with-its-own-column",
        AN,
        {
            "an/a.csv": GOOD_AN
            + "Building,uuid,email,first_name,last_name,zip_code\nTower,u2,c@example.org,C,D,02139\n"
        },
        ("error", ["an/a.csv, line 3", "a header row whose columns differ", "Fix:"]),
    ),
    (
        "no-identifier",
        AN,
        {"an/a.csv": AN_HEAD + "u1,A,B,a@example.org,1,\n,C,D,,2,\n"},
        ("reject", "an/a.csv", 3, "email", "no email or uuid"),
    ),
    (
        "invalid-email-no-uuid",
        AN,
        {"an/a.csv": AN_HEAD + ",C,D,not-an-email,2,\n"},
        ("reject", "an/a.csv", 2, "email", "email address is not valid"),
    ),
    (
        "bad-date",
        AN,
        {"an/a.csv": AN_HEAD + "u1,A,B,a@example.org,1,31/31/2026\n"},
        ("reject", "an/a.csv", 2, "can2_subscription_date", "date not readable"),
    ),
    (
        # a zone the sync does not read (Australia's eastern time): the reason names the
        # zones it reads, ET and PT among them
        "date-zone-not-read",
        GENERIC,
        {"sheet.csv": "ID,Email,Date,Type\n1,a@example.org,8/12/2026 4:00 PM AEST,signup\n"},
        ("reject", "sheet.csv", 2, "Date", "or by ET, CT, MT, PT, AKT or HT, read as the clock"),
    ),
    (
        "too-many-columns",
        AN,
        {"an/a.csv": GOOD_AN + "u2,C,D,c@example.org,2,2026-08-01,extra,more\n"},
        ("reject", "an/a.csv", 3, None, "more values than the header"),
    ),
    (
        "quoted-newline-line-number",
        AN,
        {
            "an/a.csv": "uuid,email,can2_user_address,can2_subscription_date\n"
            'u1,a@example.org,"1 Main St\nApt 2\nRear",2026-08-01\n'
            "u2,b@example.org,,yesterday\n"
        },
        ("reject", "an/a.csv", 5, "can2_subscription_date", "date not readable"),
    ),
    (
        "mobilize-unknown-status",
        MOB,
        {"mobilize/p1.json": _mob({"status": "MAYBE"})},
        ("reject", "mobilize/p1.json", 1, "status", "unknown status"),
    ),
    (
        "mobilize-bad-created-date",
        MOB,
        {"mobilize/p1.json": _mob({"created_date": "last week"})},
        ("reject", "mobilize/p1.json", 1, "created_date", "date not readable"),
    ),
    (
        "mobilize-attended-string",
        MOB,
        {"mobilize/p1.json": _mob({"attended": "yes"})},
        ("reject", "mobilize/p1.json", 1, "attended", "attended must be true, false or null"),
    ),
    (
        "mobilize-no-person",
        MOB,
        {"mobilize/p1.json": _mob({"person": {"given_name": "X"}})},
        ("reject", "mobilize/p1.json", 1, "person.user_id", "no person"),
    ),
    (
        "api-amount-not-number",
        API,
        {
            "api/people/p.json": _osdi("osdi:people", [API_PERSON]),
            "api/donations/d.json": _osdi(
                "osdi:donations",
                [
                    {
                        "identifiers": ["action_network:d1"],
                        "created_date": "2026-08-01T00:00:00Z",
                        "amount": "twenty",
                        "action_network:person_id": "p1",
                    }
                ],
            ),
        },
        ("reject", "api/donations/d.json", 1, "amount", "amount is not a number"),
    ),
    (
        "api-tagging-no-person",
        API,
        {
            "api/people/p.json": _osdi("osdi:people", [API_PERSON]),
            "api/taggings/t.json": _osdi(
                "osdi:taggings",
                [
                    {
                        "created_date": "2026-08-01T00:00:00Z",
                        "_links": {"osdi:tag": {"href": "https://x/api/v2/tags/t1"}},
                    }
                ],
            ),
        },
        ("reject", "api/taggings/t.json", 1, "action_network:person_id", "no person on the record"),
    ),
    (
        "api-unknown-person",
        API,
        {
            "api/people/p.json": _osdi("osdi:people", [API_PERSON]),
            "api/attendances/a.json": _osdi(
                "osdi:attendances",
                [
                    {
                        "identifiers": ["action_network:a1"],
                        "created_date": "2026-08-01T00:00:00Z",
                        "status": "accepted",
                        "action_network:person_id": "ghost",
                    }
                ],
            ),
        },
        ("reject", "api/attendances/a.json", 1, None, "person not found"),
    ),
    (
        "van-unknown-signup-status",
        VAN,
        {
            **VAN_LOOKUPS,
            "van/eventsignups.csv": "eventsignupid,vanid,eventid,eventstatusname,datecreated\n1,101,7,Completed,2026-08-01\n"
            "2,101,7,Maybe,2026-08-01\n",
        },
        ("reject", "van/eventsignups.csv", 3, "eventstatusname", "unknown event signup status"),
    ),
    (
        "van-unknown-result",
        VAN,
        {
            **VAN_LOOKUPS,
            "van/contactscontacts.csv": "contactscontactid,vanid,resultid,contacttypeid,datecanvassed\n1,101,99,2,2026-08-01\n",
        },
        ("reject", "van/contactscontacts.csv", 2, "resultid", "result id not in results"),
    ),
    (
        "van-amount-not-number",
        VAN,
        {
            **VAN_LOOKUPS,
            "van/contributions.csv": "contributionid,vanid,amount,datereceived\n1,101,n/a,2026-08-01\n",
        },
        ("reject", "van/contributions.csv", 2, "amount", "amount is not a number"),
    ),
    (
        # the event is kept (its title, type and signups), without its date
        "van-event-date-not-read",
        VAN,
        {
            **VAN_LOOKUPS,
            "van/events.csv": "eventid,eventname,eventtypename,dateoffsetbegin\n7,Meeting,Meeting,next tuesday\n",
            "van/eventsignups.csv": "eventsignupid,vanid,eventid,eventstatusname,datecreated\n1,101,7,Completed,2026-08-01\n",
        },
        ("value", "van/events.csv", 2, "dateoffsetbegin", "the event is kept without a date"),
    ),
    (
        "van-missing-vanid",
        VAN,
        {**VAN_LOOKUPS, "van/persons.csv": "vanid,firstname\n101,A\n,B\n"},
        ("reject", "van/persons.csv", 3, "vanid", "missing vanid"),
    ),
    (
        "spoke-bad-cell",
        SPOKE,
        {
            "spoke/c.csv": SPOKE_HEAD
            + "1,K,A,+16175550100,false,messaged\n1,K,B,12,false,messaged\n"
        },
        ("reject", "spoke/c.csv", 3, "contact[cell]", "not a phone number"),
    ),
    (
        "spoke-bad-message-date",
        SPOKE,
        {
            "spoke/c.csv": SPOKE_HEAD + "1,K,A,+16175550100,false,messaged\n",
            "spoke/m.csv": "campaignId,contactNumber,isFromContact,attemptedAt\n1,+16175550100,false,soon\n",
        },
        ("reject", "spoke/m.csv", 2, "attemptedAt", "date not readable"),
    ),
    (
        "generic-missing-date",
        GENERIC,
        {"sheet.csv": "ID,Email,Date,Type\n1,a@example.org,,signup\n"},
        ("reject", "sheet.csv", 2, "Date", "missing date"),
    ),
    (
        "generic-unknown-type",
        GENERIC,
        {"sheet.csv": "ID,Email,Date,Type\n1,a@example.org,2026-08-01,party\n"},
        ("reject", "sheet.csv", 2, "Type", "activity type is not one of"),
    ),
    (
        # a record whose identifiers are a bare string is rejected by name; the sync of
        # the page's other people goes on (a CAST of it once stopped the whole sync)
        "api-identifiers-a-string",
        API,
        {
            "api/people/p.json": _osdi(
                "osdi:people",
                [API_PERSON, {**API_PERSON, "identifiers": "action_network:p2"}],
            )
        },
        ("reject", "api/people/p.json", 2, "identifiers", "identifiers is not a list"),
    ),
    (
        "ab-identifiers-an-object",
        AB,
        {
            "ab/e.json": _osdi(
                "osdi:people",
                [
                    {"identifiers": ["action_builder:e1"]},
                    {"identifiers": {"action_builder": "e2"}},
                ],
            )
        },
        ("reject", "ab/e.json", 2, "identifiers", "identifiers is not a list"),
    ),
    (
        # the person is kept (the whole entity was rejected for its assessment); only
        # the assessment is rejected, by its record and column
        "ab-assessment-not-number",
        AB,
        {
            "ab/e.json": _osdi(
                "osdi:people",
                [
                    {
                        "identifiers": ["action_builder:e1"],
                        "action_builder:latest_assessment": "high",
                        "modified_date": "2026-08-01T00:00:00Z",
                    }
                ],
            )
        },
        (
            "value",
            "ab/e.json",
            1,
            "action_builder:latest_assessment",
            "assessment is not a number: the person is kept",
        ),
    ),
]


@pytest.mark.parametrize("case_id,sources,files,expected", CASES, ids=[c[0] for c in CASES])
def test_malformed(make_cohort, case_id, sources, files, expected):
    c = make_cohort(sources)
    for rel, content in files.items():
        if isinstance(content, str):
            c.exports.joinpath(rel).parent.mkdir(parents=True, exist_ok=True)
            c.exports.joinpath(rel).write_text(content)
        elif isinstance(content, dict):
            c.write(rel, json.dumps(content))
        else:
            c.write(rel, content)
    if expected[0] == "error":
        with pytest.raises(ExportError) as info:
            c.sync()
        message = str(info.value)
        for part in expected[1]:
            assert part in message, message
        assert "Fix:" in message
        assert info.value.org_id == "org"
        # nothing was written to the canonical tables; the failure is recorded
        assert c.query("SELECT count(*) FROM person") == [(0,)]
        assert c.query("SELECT status FROM sync_run") == [("failed",)]
        # member values never appear in the message
        assert "a@example.org" not in message and "Planted" not in message
    else:
        kind, file, line, column, reason = expected
        result = c.sync()
        rejects = c.rejects()
        matching = [r for r in rejects if r[0] == file and reason in r[3]]
        assert matching, rejects
        assert (matching[0][1], matching[0][2]) == (line, column), rejects
        assert all("a@example.org" not in (r[3] or "") for r in rejects)
        if kind == "value":  # the record is kept, and counted as kept
            (read,) = [f for f in result.files if f.file == file]
            assert (read.rows_read, read.rows_kept, read.rows_rejected) == (1, 1, 0)
            assert c.query("SELECT count(*) FROM person") == [(1,)]


def test_corpus_is_large_enough():
    assert len(CASES) >= 25


def test_failed_sync_keeps_previous_state(make_cohort):
    c = make_cohort(AN)
    c.write("an/a.csv", GOOD_AN)
    c.sync()
    people = "SELECT * EXCLUDE (first_seen_at) FROM person ORDER BY person_id"
    before = c.query(people)
    c.write("an/b.csv", b"")  # a newer, broken export
    with pytest.raises(ExportError, match="the file is empty"):
        c.sync()
    assert c.query(people) == before
    assert [
        r[0] for r in c.query("SELECT status FROM sync_run WHERE file IS NULL ORDER BY started_at")
    ] == ["ok", "failed"]


def _archive(c) -> list[str]:
    return sorted(str(p.relative_to(c.root)) for p in (c.root / "archive").rglob("*"))


def test_a_failed_sync_leaves_the_archive_as_it_was(make_cohort):
    """The export that failed is not kept in the archive (no raw_file row names it)."""
    c = make_cohort(AN)
    c.write("an/a.csv", GOOD_AN)
    bad = AN_HEAD + 'u2,C,D,c@example.org,02139,2026-08-02\n"u3,open quote\n'
    c.write("an/b.csv", bad)
    with pytest.raises(ExportError, match="never closed"):  # a first sync fails
        c.sync()
    assert _archive(c) == []
    assert c.query("SELECT count(*) FROM raw_file") == [(0,)]
    (c.exports / "an" / "b.csv").unlink()
    c.sync()
    digest = hashlib.sha256(GOOD_AN.encode()).hexdigest()
    kept = [f"archive/org/{digest}/a.csv", f"archive/org/{digest}", "archive/org"]
    assert _archive(c) == sorted(kept)
    c.write("an/b.csv", bad)  # a later sync fails: a.csv's copy stays, b.csv's goes
    with pytest.raises(ExportError, match="never closed"):
        c.sync()
    assert _archive(c) == sorted(kept)
    assert c.query("SELECT original_path, archived_path FROM raw_file") == [
        ("an/a.csv", f"archive/org/{digest}/a.csv")
    ]


def test_a_sync_whose_archive_copy_fails_changes_nothing(make_cohort):
    """The archive copy fails as the new rows are written (a file stands where the
    copy's folder goes): the sync stops with the copy's own error, and the store and
    the archive are as they were."""
    c = make_cohort(AN + "\n" + MOB)
    c.write("an/a.csv", GOOD_AN)
    c.write("mobilize/p.json", {"count": 0, "next": None, "data": []})
    c.sync()
    tables = ("person", "person_pii", "identity", "person_key", "activity", "raw_file")
    state = {
        t: c.query(f"SELECT CAST(COLUMNS(*) AS VARCHAR) FROM {t} ORDER BY ALL") for t in tables
    }
    newer = AN_HEAD + "u2,C,D,c@example.org,02139,2026-08-02\n"
    (c.root / "archive" / "org" / hashlib.sha256(newer.encode()).hexdigest()).write_text("x")
    archive = _archive(c)
    c.write("an/b.csv", newer)
    with pytest.raises(FileExistsError):
        c.sync()
    assert {
        t: c.query(f"SELECT CAST(COLUMNS(*) AS VARCHAR) FROM {t} ORDER BY ALL") for t in tables
    } == state
    assert len(state["person"]) == 1
    assert _archive(c) == archive


def test_oversized_export_refused_before_reading(make_cohort, monkeypatch):
    monkeypatch.setenv("CYCLEBOOK_MAX_EXPORT_BYTES", "40")
    c = make_cohort(AN)
    c.write("an/a.csv", GOOD_AN)
    with pytest.raises(ExportError, match="larger than the 40-byte limit") as info:
        c.sync()
    assert "CYCLEBOOK_MAX_EXPORT_BYTES" in str(info.value)
    assert not (c.root / "archive").exists()


def test_export_limit_with_a_unit(make_cohort, monkeypatch):
    """``1KB`` was an int() ValueError in every sync; it is a thousand bytes."""
    monkeypatch.setenv("CYCLEBOOK_MAX_EXPORT_BYTES", "1KB")
    c = make_cohort(AN)
    c.write("an/a.csv", GOOD_AN)
    c.write("an/b.csv", GOOD_AN.rstrip("\n") + "\n" + "x" * 1000 + "\n")
    with pytest.raises(ExportError, match="larger than the 1,000-byte limit") as info:
        c.sync()
    assert "b.csv" in str(info.value)


def test_unforeseen_duckdb_error_names_the_export_not_the_member(make_cohort, monkeypatch):
    """A record of a shape no reader check foresaw (DuckDB stops on it): the error names
    the export, the source and a fix; DuckDB's message, which quotes the record, goes to
    a file beside the store, never into the error a failed notebook prints in its HTML."""
    import cyclebook.sync as sync_module

    planted = '{"email_addresses": [{"address": "planted.member@example.org"}]}'

    def reader_that_meets_the_unforeseen(stage, source, files, org):
        # a real DuckDB error whose message quotes the record, as a CAST of it does
        stage.con.execute(f"SELECT CAST({sync_module.sql_str(planted)}::JSON AS VARCHAR[])")

    monkeypatch.setitem(sync_module.READERS, "action_network_api", reader_that_meets_the_unforeseen)
    c = make_cohort(API)
    c.write("api/people/p.json", _osdi("osdi:people", [API_PERSON]))
    with pytest.raises(ExportError) as info:
        c.sync()
    message = str(info.value)
    assert "planted.member" not in message
    assert message.startswith("[org] api/people/p.json: ")
    assert "action_network_api export" in message and "ConversionException" in message
    assert "Fix:" in message
    logs = list((c.root / ".cyclebook" / "errors").glob("sync-org-*.txt"))
    assert len(logs) == 1 and str(logs[0].relative_to(c.root)) in message
    kept = logs[0].read_text()
    assert "planted.member@example" in kept and "api/people/p.json" in kept
    ((status, recorded),) = c.query("SELECT status, message FROM sync_run WHERE file IS NULL")
    assert status == "failed" and "planted.member" not in recorded
    assert c.query("SELECT count(*) FROM person") == [(0,)]
    # they may quote members: the organization's latest five are kept, no one else's
    errors = c.root / ".cyclebook" / "errors"
    other = errors / "sync-org-2-20260101T000000-00000000.txt"
    other.write_text("another organization's")
    for _ in range(6):
        with pytest.raises(ExportError):
            c.sync()
    mine = sorted(errors.glob("sync-org-2026*.txt"))
    assert len(mine) == sync_module.KEPT_ERROR_FILES == 5
    assert logs[0] not in mine  # the first, oldest, is gone
    assert other.exists()


def test_custom_fields_not_an_object_are_kept_whole(make_cohort):
    # OSDI's custom_fields is an object of name: value; a page that gives a string or a
    # list keeps it as one field rather than losing it
    c = make_cohort(API)
    c.write(
        "api/people/p.json",
        _osdi(
            "osdi:people",
            [
                {**API_PERSON, "custom_fields": {"Shift": "evening"}},
                {"identifiers": ["action_network:p2"], "custom_fields": "evening"},
                {"identifiers": ["action_network:p3"], "custom_fields": ["a", 1]},
            ],
        ),
    )
    c.sync()
    assert c.query("SELECT field, value FROM custom_field ORDER BY value") == [
        ("custom_fields", '"evening"'),
        ("custom_fields", '["a",1]'),
        ("Shift", "evening"),
    ]
    assert c.rejects() == []


def test_a_page_whose_records_are_not_a_list_is_read_not_dropped(make_cohort):
    """`data` (Mobilize) or a collection under `_embedded` (OSDI) holding one record, or a
    string, instead of a list: its value is read as a record (kept, or rejected by name)
    and the file is noted. Before, such a page gave no records and no word."""
    one = _mob({})["data"][0]
    c = make_cohort(MOB)
    c.write("mobilize/p1.json", {"count": 1, "next": None, "data": one})
    result = c.sync()
    (page,) = result.files
    assert (page.rows_read, page.rows_kept, page.rows_rejected) == (1, 1, 0)
    assert any("`data` holds a single value" in note for note in page.notes), page.notes
    assert c.query("SELECT activity_id FROM activity") == [("mobilize:att:1",)]

    c = make_cohort(API)
    c.write("api/people/p.json", _osdi("osdi:people", "action_network:p1"))
    result = c.sync()
    (page,) = result.files
    assert (page.rows_read, page.rows_rejected) == (1, 1)
    assert any("`_embedded` holds a single value" in note for note in page.notes), page.notes
    assert c.rejects() == [
        ("api/people/p.json", 1, "identifiers", "no action_network identifier on the record")
    ]
    # a page with nothing under its key is an empty page, not an odd one
    c = make_cohort(MOB)
    c.write("mobilize/p1.json", {"count": 0, "next": None, "data": []})
    c.write("mobilize/p2.json", {"count": 1, "next": None, "data": [one]})
    result = c.sync()
    assert [(f.rows_read, f.notes) for f in result.files] == [(0, []), (1, [])]


def test_a_short_line_is_one_rejected_row(make_cohort):
    """DuckDB reports a short line once per missing column: it is still one rejected row
    (two short lines once counted as ten rows read, eight of them kept)."""
    c = make_cohort(GENERIC)
    c.write(
        "sheet.csv",
        "ID,Email,Date,Type\n1,a@example.org,2026-08-01,signup\n2,b@example.org\n3\n",
    )
    result = c.sync()
    (page,) = result.files
    assert (page.rows_read, page.rows_kept, page.rows_rejected) == (3, 1, 2)
    assert c.rejects() == [
        (
            "sheet.csv",
            3,
            "Date",
            "fewer values than the header has columns (no value for Date, Type)",
        ),
        (
            "sheet.csv",
            4,
            "Email",
            "fewer values than the header has columns (no value for Email, Date, Type)",
        ),
    ]


def test_rejects_after_a_misshapen_line_or_a_quoted_line_break_name_their_own_line(
    make_cohort,
):
    """Each reject names the line its record starts on, whatever comes before it. A line
    of too many values made every later bad date name the line above it (DuckDB numbers
    only the records it accepts), and DuckDB names a misshapen line without counting the
    line breaks inside quoted values before it."""
    c = make_cohort(AN)
    c.write(
        "an/people.csv",
        "uuid,first_name,last_name,email,zip_code,can2_subscription_date,Notes\n"  # 1
        "u1,A,B,a@example.org,02139,2026-08-01,fine\n"  # 2
        'u2,A,B,b@example.org,02139,2026-08-01,"two\n'  # 3
        'lines"\n'  # 4
        "u3,A,B,c@example.org,02139,2026-08-01,x,one too many\n"  # 5
        "u4,A,B,d@example.org,02139,not a date,x\n"  # 6
        "\n"  # 7
        "u5,A,B,e@example.org\n"  # 8
        "u6,A,B,f@example.org,02139,31/31/2026,x\n"  # 9
        "u7,A,B,g@example.org,02139,2026-08-02,x\n",  # 10
    )
    c.sync()
    assert [(line, column, reason[:22]) for _, line, column, reason in c.rejects()] == [
        (5, None, "more values than the h"),
        (6, "can2_subscription_date", "date not readable (exp"),
        (8, "zip_code", "fewer values than the "),
        (9, "can2_subscription_date", "date not readable (exp"),
    ]
    assert c.query("SELECT count(*) FROM person") == [(3,)]  # u1, u2, u7


def test_a_sheet_with_a_title_above_its_header(make_cohort):
    """Sign-in sheets often start with a title and a blank row: the whole sheet was
    refused ('lacks the mapped columns'). It is read from its header, the lines above it
    are named in a note, and rejects keep the sheet's own line numbers."""
    c = make_cohort(GENERIC)
    c.write(
        "sheet.csv",
        "Sign-in sheet: April meeting,,,\n"  # 1
        ",,,\n"  # 2
        "ID,Email,Date,Type\n"  # 3
        "1,a@example.org,2026-08-01,signup\n"  # 4
        "2,b@example.org,someday,signup\n"  # 5
        "3,c@example.org,2026-08-01,signup,extra\n"  # 6
        "4,d@example.org,2026-08-02,signup\n",  # 7
    )
    result = c.sync()
    (sheet,) = result.files
    assert sheet.notes == [
        "the header is on line 3: the 2 line(s) above it (a title) were not read"
    ]
    assert (sheet.rows_read, sheet.rows_kept, sheet.rows_rejected) == (4, 2, 2)
    assert [(line, column) for _, line, column, _ in c.rejects()] == [(5, "Date"), (6, None)]
    assert c.query("SELECT count(*) FROM activity") == [(2,)]
    # the same sheet synced again changes nothing
    assert c.sync().status == "unchanged"
    # saved as tab-separated text, the title has no tab to tell: the header row does
    c = make_cohort(GENERIC)
    c.write(
        "sheet.csv", "Sign-in sheet\nID\tEmail\tDate\tType\n1\ta@example.org\t2026-08-01\tsignup\n"
    )
    (sheet,) = c.sync().files
    assert sheet.notes == [
        "read as tab-separated text",
        "the header is on line 2: the 1 line(s) above it (a title) were not read",
    ]
    assert c.query("SELECT count(*) FROM activity") == [(1,)]
    # a title with a semicolon (no comma): the sheet is not taken for a ';' file
    c = make_cohort(GENERIC)
    c.write(
        "sheet.csv", "Roster; bring snacks\nID,Email,Date,Type\n1,a@example.org,2026-08-01,signup\n"
    )
    assert c.sync().files[0].notes == [
        "the header is on line 2: the 1 line(s) above it (a title) were not read"
    ]
    # saved as Windows-1252, with a header name that is not ASCII
    c = make_cohort(GENERIC.replace("person_id: ID", "person_id: Número"))
    c.write(
        "sheet.csv",
        "Asistencia de abril\nNúmero,Email,Date,Type\n1,a@example.org,2026-08-01,signup\n",
        encoding="cp1252",
    )
    (sheet,) = c.sync().files
    assert sheet.notes == [
        "read as Windows-1252 text (not UTF-8)",
        "the header is on line 2: the 1 line(s) above it (a title) were not read",
    ]
    assert c.query("SELECT source_id FROM identity") == [("1",)]


def test_a_sheet_saved_as_unicode_text_with_a_title_above_its_header(make_cohort):
    """A spreadsheet's "Unicode Text" (UTF-16 with its byte-order mark, tab-separated)
    is read, and so is a sheet with a title above its header; both at once, the title
    was looked for in the bytes decoded as UTF-8, no line had the mapped columns, and the
    whole sheet was refused as lacking them."""
    c = make_cohort(GENERIC)
    c.write(
        "sheet.csv",
        "Sign-in sheet: April meeting\n"  # 1
        "ID\tEmail\tDate\tType\n"  # 2
        "1\ta@example.org\t2026-08-01\tsignup\n"  # 3
        "2\tb@example.org\tsomeday\tsignup\n",  # 4
        encoding="utf-16",
    )
    (sheet,) = c.sync().files
    assert sheet.notes == [
        "read as UTF-16 text",
        "read as tab-separated text",
        "the header is on line 2: the 1 line(s) above it (a title) were not read",
    ]
    assert (sheet.rows_read, sheet.rows_kept, sheet.rows_rejected) == (2, 1, 1)
    assert [(line, column) for _, line, column, _ in c.rejects()] == [(4, "Date")]
    assert c.query("SELECT source_id FROM identity") == [("1",)]


def test_a_bom_sheet_with_a_stray_windows_1252_byte_and_a_repeated_header(make_cohort):
    """A sheet saved as Excel's "CSV UTF-8" (with its byte-order mark), a name later
    typed in another program as Windows-1252, and a second export pasted below it (its
    header line repeated). Looking for a title, the sheet was decoded whole as
    Windows-1252, so its BOM made the first header "ï»¿ID": the repeated header line
    was taken for the header, and the whole sheet was refused for lacking every mapped
    column. It is read from its first line; the repeated header is a reject."""
    c = make_cohort(GENERIC)
    c.write(
        "sheet.csv",
        b"\xef\xbb\xbf"
        + (
            "ID,Email,Date,Type\r\n"  # 1
            "1,a@example.org,2026-08-01,signup\r\n"  # 2
            "2,b@example.org,2026-08-01,signup,Jos\xe9\r\n"  # 3 (one value too many)
            "ID,Email,Date,Type\r\n"  # 4
            "3,c@example.org,2026-08-02,signup\r\n"  # 5
        ).encode("cp1252"),
    )
    result = c.sync()
    assert result.status == "ok"
    (sheet,) = result.files
    assert (sheet.rows_read, sheet.rows_kept, sheet.rows_rejected) == (4, 2, 2)
    assert [(line, column, reason[:22]) for _, line, column, reason in c.rejects()] == [
        (3, None, "more values than the h"),
        (4, None, "repeated header line"),
    ]
    assert c.query("SELECT source_id FROM identity ORDER BY 1") == [("1",), ("3",)]


def test_ids_a_spreadsheet_rounded_are_rejected(make_cohort):
    """Excel saves a number of 12 or more digits as it shows it, 1.23457E+11: two
    members' ids became one, and the two one person. Those rows are rejected."""
    c = make_cohort(GENERIC)
    c.write(
        "sheet.csv",
        "ID,Email,Date,Type\n"
        "1.23457E+11,a@example.org,2026-08-01,signup\n"
        "1.23457E+11,b@example.org,2026-08-01,signup\n"
        "123456789012,c@example.org,2026-08-01,signup\n",
    )
    c.sync()
    assert [(line, column, reason[:40]) for _, line, column, reason in c.rejects()] == [
        (2, "ID", "person id written as a rounded number (s"),
        (3, "ID", "person id written as a rounded number (s"),
    ]
    assert c.query("SELECT source_id FROM identity") == [("123456789012",)]


def test_a_windows_1252_file_whose_only_accents_are_in_its_header(make_cohort):
    """DuckDB reports bytes that are not UTF-8 in records only: a header line with
    "Teléfono" in Windows-1252 was skipped without a word, the first record became the
    header, and the export was refused for lacking its email column."""
    c = make_cohort(AN)
    c.write(
        "an/people.csv",
        "uuid,email,Teléfono\nu1,a@example.org,1\nu2,b@example.org,2\n",
        encoding="cp1252",
    )
    (export,) = c.sync().files
    assert export.notes == ["read as Windows-1252 text (not UTF-8)"]
    assert export.unknown_columns == ["Teléfono"]
    assert c.query("SELECT source_id FROM identity ORDER BY 1") == [("u1",), ("u2",)]


def test_rejects_of_an_old_mac_sheet_name_their_lines(make_cohort):
    """Lines ended by a lone CR (Excel for Mac's "CSV (Macintosh)"): rejects named the
    line as if each record were one line after the header, the title not counted."""
    c = make_cohort(GENERIC)
    c.write(
        "sheet.csv",
        b"Sign-in\rID,Email,Date,Type\r"  # 1, 2
        b'1,a@example.org,2026-08-01,"two\rlines"\r'  # 3, 4
        b"2,b@example.org,someday,signup\r"  # 5
        b"3,c@example.org,2026-08-02,signup\r",  # 6
    )
    c.sync()
    assert [(line, column) for _, line, column, _ in c.rejects()] == [(3, "Type"), (5, "Date")]


def test_an_unclosed_quote_is_named_by_its_line(make_cohort):
    c = make_cohort(GENERIC)
    c.write(
        "sheet.csv",
        'ID,Email,Date,Type\n1,a@example.org,2026-08-01,signup\n2,"b@example.org,2026-08-01,signup\n'
        "3,c@example.org,2026-08-01,signup\n",
    )
    with pytest.raises(ExportError) as info:
        c.sync()
    message = str(info.value)
    assert message.startswith(
        "[org] sheet.csv, line 3: a quoted value opens here and is never closed"
    )
    assert "Fix:" in message and "b@example.org" not in message


def test_a_value_longer_than_pythons_csv_limit_keeps_lines(make_cohort):
    """A 200 KB value (Python's csv module stops at 128 KB unless told; DuckDB reads up
    to 4 MB): the file is read, and a reject below it still gets its line."""
    c = make_cohort(GENERIC)
    long_note = "x" * 200_000
    c.write(
        "sheet.csv",
        f'ID,Email,Date,Type,Notes\n1,a@example.org,2026-08-01,signup,"{long_note}"\n'
        "2,b@example.org,31/31/2026,signup,\n",
    )
    result = c.sync()
    assert (result.files[0].rows_read, result.files[0].rows_rejected) == (2, 1)
    ((file, line, column, reason),) = c.rejects()
    assert (file, line, column) == ("sheet.csv", 3, "Date") and "date not readable" in reason


def test_a_duckdb_error_while_merging_keeps_the_record_out_of_the_error(make_cohort, monkeypatch):
    """A constraint or conversion error while the store takes the records quotes the row;
    the error (printed in the failed report) names the file it was written to instead,
    and the store keeps its previous state."""
    import cyclebook.sync as sync_module

    def merge_that_meets_a_constraint(con, *args, **kwargs):
        con.execute("CREATE TEMP TABLE pk (email VARCHAR PRIMARY KEY)")
        con.execute("INSERT INTO pk VALUES ('planted.member@example.org')")
        con.execute("INSERT INTO pk VALUES ('planted.member@example.org')")

    c = make_cohort(AN)
    c.write("an/a.csv", GOOD_AN)
    c.sync()
    monkeypatch.setattr(sync_module, "write_org", merge_that_meets_a_constraint)
    c.write("an/b.csv", AN_HEAD + "u2,C,D,c@example.org,02139,2026-08-02\n")
    with pytest.raises(StoreError) as info:
        c.sync()
    message = str(info.value)
    assert "planted.member" not in message and "ConstraintException" in message
    (log,) = (c.root / ".cyclebook" / "errors").glob("sync-org-*.txt")
    assert str(log.relative_to(c.root)) in message
    assert "planted.member@example.org" in log.read_text()
    assert c.query("SELECT count(*) FROM person") == [(1,)]
    recorded = c.query("SELECT message FROM sync_run WHERE status = 'failed'")
    assert len(recorded) == 1 and "planted.member" not in recorded[0][0]


def test_lines_ending_two_ways_are_read(make_cohort):
    """Rows appended in another program end in a bare LF in a CRLF file: DuckDB's
    sniffer stopped on it and the organization's whole sync failed. Rejects keep their
    lines, a quoted line break included."""
    c = make_cohort(GENERIC)
    c.write(
        "sheet.csv",
        b"ID,Email,Date,Type\r\n"  # 1
        b"1,a@example.org,2026-08-01,signup\r\n"  # 2
        b"2,b@example.org,2026-08-02,signup\n"  # 3
        b'3,c@example.org,2026-08-03,"sign\r\nup"\r\n'  # 4, 5
        b"4,d@example.org,someday,signup\n",  # 6
    )
    result = c.sync()
    (export,) = result.files
    assert (export.rows_read, export.rows_rejected) == (4, 2)
    assert export.notes == [
        "lines end two ways (Windows and Unix line ends: rows added in another program); "
        "read as one"
    ]
    assert [(line, column) for _, line, column, _ in c.rejects()] == [(4, "Type"), (6, "Date")]
    assert c.query("SELECT source_id FROM identity ORDER BY 1") == [("1",), ("2",)]


def test_a_file_name_in_another_encoding_is_named_with_the_fix(make_cohort):
    """A Latin-1 file name ("activists-José.csv" from an old system) crashed the failure
    record itself, and the report said "Python Conversion Failure" with no file named."""
    import os

    from cyclebook.config import load_cohort
    from cyclebook.errors import ExportError
    from cyclebook.sync import discover_files

    c = make_cohort("- {kind: action_network_csv, path: an}")
    c.write("an/activists.csv", "email\na@example.org\n")
    folder = c.exports / "an"
    with open(os.path.join(os.fsencode(folder), b"activists-Jos\xe9.csv"), "wb") as handle:
        handle.write(b"email\nb@example.org\n")
    org = load_cohort(c.root).organizations[0]
    with pytest.raises(ExportError) as caught:
        discover_files(c.exports, org.sources[0], org.id)
    message = str(caught.value)
    assert "activists-Jos\ufffd.csv" in message and "is not UTF-8 text" in message
    assert "rename the file" in message
    # and the sync stops with it, recorded (the record itself had crashed)
    with pytest.raises(ExportError, match="is not UTF-8 text"):
        c.sync()
    [(status, recorded)] = c.query("SELECT status, message FROM sync_run")
    assert status == "failed" and "rename the file" in recorded
