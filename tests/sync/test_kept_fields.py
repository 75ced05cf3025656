"""The values kept beyond the model of an activity (activity_field) or an event
(event_field) follow it: none stays behind when the sync replaces or deletes it, or when
`cyclebook forget --source` removes its source."""

from __future__ import annotations

import copy
import json

import duckdb
from conftest import utc
from test_idempotence import VAN_CONTACT, VAN_CONTACT_LOOKUPS
from test_readers import MOBILIZE_PAGE

from cyclebook.forget import forget_source

FIELDS = "SELECT activity_id, field, value FROM activity_field ORDER BY ALL"


def _attendance(modified: int, **own) -> dict:
    """Di's attendance 11 (MOBILIZE_PAGE's first) as Mobilize last modified it at
    ``modified``, with its own values ``own`` (rating, feedback, referrer)."""
    record = copy.deepcopy(MOBILIZE_PAGE["data"][0])
    record.pop("referrer")
    return record | {"modified_date": modified} | own


def _page(*records: dict) -> dict:
    return {"count": len(records), "next": None, "data": list(records)}


def test_a_newer_record_of_an_attendance_replaces_its_fields_whole(make_cohort):
    """Di took back her rating and Mobilize's newer export has none: the older rating
    stayed kept beside the newer attendance, as if she still gave it. The attendance's
    fields are its newer record's; Eve's attendance, not in the newer export, keeps
    hers."""
    c = make_cohort("- {kind: mobilize, path: mobilize}")
    eve = copy.deepcopy(MOBILIZE_PAGE["data"][1]) | {"rating": 3}
    older = _attendance(1780100000, rating=5, feedback="Great", referrer={"utm_source": "sms"})
    c.write("mobilize/p1.json", _page(older, eve))
    c.sync()
    assert c.query(FIELDS) == [
        ("mobilize:att:11", "feedback", "Great"),
        ("mobilize:att:11", "rating", "5"),
        ("mobilize:att:11", "referrer.utm_source", "sms"),
        ("mobilize:att:12", "rating", "3"),
    ]
    newer = _attendance(1780200000, rating=None, feedback="Great, again")
    c.write("mobilize/p2.json", _page(newer))
    # the feedback replaced, the rating and the referrer's tag deleted
    assert c.sync().written["activity_field"] == 3
    assert c.query(FIELDS) == [
        ("mobilize:att:11", "feedback", "Great, again"),
        ("mobilize:att:12", "rating", "3"),
    ]
    # the same exports read again change nothing
    assert c.sync(force=True).written["activity_field"] == 0
    assert c.query(FIELDS) == [
        ("mobilize:att:11", "feedback", "Great, again"),
        ("mobilize:att:12", "rating", "3"),
    ]


def test_an_older_record_read_again_leaves_the_newer_attendances_fields(make_cohort):
    """The newer export taken out of the folder, the older one read again: the newer
    attendance stays (its tool modified it later), and so do its fields; the older
    record's rating and feedback were set on it."""
    c = make_cohort("- {kind: mobilize, path: mobilize}")
    c.write("mobilize/p1.json", _page(_attendance(1780100000, rating=5, feedback="Great")))
    c.write("mobilize/p2.json", _page(_attendance(1780200000, feedback="Loud")))
    c.sync()
    assert c.query(FIELDS) == [("mobilize:att:11", "feedback", "Loud")]
    (c.exports / "mobilize/p2.json").unlink()
    c.sync(force=True)
    assert c.query(
        "SELECT epoch(recorded_at)::BIGINT FROM activity WHERE activity_id = 'mobilize:att:11'"
    ) == [(1780200000,)]
    assert c.query(FIELDS) == [("mobilize:att:11", "feedback", "Loud")]


SHEET = """
- kind: generic_csv
  path: roster.csv
  activity_type: attendance
  columns: {person_id: ID, occurred_at: Date, event: Meeting}
"""


def test_fields_go_with_a_sheets_rows_and_events_no_longer_in_it(make_cohort):
    """A sheet kept as one file replaces its earlier version: the rows and events no
    longer in it are deleted, and so are the values kept of them (no reader keeps a
    sheet row's or event's own fields yet: they are written here as a reader would;
    the row read again has none, as its record has none)."""
    c = make_cohort(SHEET)
    c.write("roster.csv", "ID,Date,Meeting\nA,2026-03-04,Kickoff\nB,2026-05-06,Picnic\n")
    c.sync()
    activities = c.query("SELECT activity_id, event_id FROM activity ORDER BY occurred_at")
    (kept_act, kept_event), (gone_act, gone_event) = activities
    con = duckdb.connect(str(c.root / "store.duckdb"))
    for act in (kept_act, gone_act):
        con.execute(
            "INSERT INTO activity_field VALUES ('org', ?, 'sheet:roster', 'note', 'x')", [act]
        )
    for event in (kept_event, gone_event):
        con.execute(
            "INSERT INTO event_field VALUES ('org', ?, 'sheet:roster', 'room', 'y')", [event]
        )
    con.close()
    c.write("roster.csv", "ID,Date,Meeting\nA,2026-03-04,Kickoff\n")
    c.sync()
    assert c.query("SELECT activity_id FROM activity") == [(kept_act,)]
    assert c.query("SELECT count(*) FROM activity_field") == [(0,)]
    assert c.query("SELECT event_id FROM event") == [(kept_event,)]
    assert c.query("SELECT event_id FROM event_field") == [(kept_event,)]


def _van(c) -> None:
    """VAN's people and lookups (test_idempotence's): Ana, vanid 101."""
    for rel, text in VAN_CONTACT_LOOKUPS.items():
        c.write(rel, text)


def test_fields_go_with_a_van_contact_that_became_an_attempt(make_cohort):
    """A VAN contact entered as a held one-on-one, then corrected to Not Home, is an
    attempt, no longer an activity: the values kept of the activity go with it."""
    c = make_cohort("- {kind: van, path: van}")
    _van(c)
    c.write("van/contactscontacts.csv", VAN_CONTACT.format(result="1"))  # Canvassed
    c.sync()
    ((act,),) = c.query("SELECT activity_id FROM activity")
    con = duckdb.connect(str(c.root / "store.duckdb"))
    con.execute("INSERT INTO activity_field VALUES ('org', ?, 'van', 'note', 'x')", [act])
    con.close()
    c.write("van/contactscontacts-2.csv", VAN_CONTACT.format(result="2"))
    c.sync()
    assert c.query("SELECT count(*) FROM activity") == [(0,)]
    assert c.query("SELECT attempt_id FROM contact_attempt") == [(act,)]
    assert c.query("SELECT count(*) FROM activity_field") == [(0,)]


def test_forgetting_a_source_forgets_the_fields_of_every_activity_it_removes(make_cohort):
    """`cyclebook forget --source` removes the source's activities and those of the
    people only it knew: the fields of all of them go, whichever source they were kept
    under (Di, whom VAN knows too, stays; so do VAN's rows)."""
    c = make_cohort("- {kind: mobilize, path: mobilize}\n- {kind: van, path: van}")
    c.write("mobilize/p1.json", _page(_attendance(1780100000, rating=5)))
    _van(c)
    c.write(
        "van/persons.csv", VAN_CONTACT_LOOKUPS["van/persons.csv"] + "102,Di,Oh,di@example.org\n"
    )
    c.write("van/contactscontacts.csv", VAN_CONTACT.format(result="1"))
    c.sync()
    ((van_act,),) = c.query("SELECT activity_id FROM activity WHERE source = 'van'")
    con = duckdb.connect(str(c.root / "store.duckdb"))
    # a field of a Mobilize attendance kept under another name, and one of VAN's
    con.execute(
        """INSERT INTO activity_field VALUES
           ('org', 'mobilize:att:11', 'mobilize-old', 'note', 'x'),
           ('org', ?, 'van', 'note', 'y')""",
        [van_act],
    )
    con.close()
    cohort_yml = c.root / "cohort.yml"
    cohort_yml.write_text(
        cohort_yml.read_text().replace("      - {kind: mobilize, path: mobilize}\n", "")
    )
    found = forget_source(c.root, "org", "mobilize", apply=True)
    assert found.rows["activity"] == 1 and found.rows["activity_field"] == 2
    assert found.rows["person"] == 0
    assert c.query("SELECT activity_id, source, value FROM activity_field") == [
        (van_act, "van", "y")
    ]


ROSTER = (
    'ID,Date,Meeting,Note\nA,2026-03-04,"Kickoff\nnight","brings\nsnacks"\n'
    "B,2026-03-05,Picnic,quiet\n"
)


def test_a_sheet_saved_with_windows_line_ends_changes_nothing(make_cohort):
    """A sheet whose values are quoted over two lines, saved again by Excel with Windows
    line ends (CRLF): the values kept the CR, so every such row was a changed row (the
    person's note rewritten) and, its id a digest of its content, a new attendance at
    a new event. The same values now, whichever line ends the file or the value has;
    a lone CR (old Mac text) is a line break too."""
    c = make_cohort(SHEET)  # (its Note: a column beyond the model, the person's)
    c.write("roster.csv", ROSTER)
    c.sync()
    tables = ("activity", "event", "custom_field", "person", "person_pii", "identity")
    stored = {t: c.table(t) for t in tables}
    assert c.query("SELECT value FROM custom_field WHERE value LIKE 'brings%'") == [
        ("brings\nsnacks",)
    ]
    assert c.query("SELECT title FROM event ORDER BY 1") == [("Kickoff\nnight",), ("Picnic",)]
    c.write("roster.csv", ROSTER.replace("\n", "\r\n").encode())
    result = c.sync()
    assert result.status == "ok" and result.rows_rejected == 0
    assert {k: n for k, n in result.written.items() if n} == {}
    assert {t: c.table(t) for t in tables} == stored
    c.write("roster.csv", ROSTER.replace("\n", "\r\n").replace("brings\r\n", "brings\r").encode())
    assert {k: n for k, n in c.sync().written.items() if n} == {}
    assert {t: c.table(t) for t in tables} == stored
    # Unix line ends, a value's CRLF (a web form's text) as it was
    c.write("roster.csv", ROSTER.replace("brings\n", "brings\r\n").encode())
    assert {k: n for k, n in c.sync().written.items() if n} == {}
    assert {t: c.table(t) for t in tables} == stored


def test_a_reject_after_a_value_over_two_lines_names_its_line_in_a_crlf_file(make_cohort):
    """The values rewritten keep their record's number in the file: a reject after a
    value quoted over two lines still names its own line."""
    c = make_cohort(SHEET)
    c.write("roster.csv", (ROSTER + "C,someday,Picnic,x\n").replace("\n", "\r\n").encode())
    assert c.sync().rows_rejected == 1
    # (A's row takes lines 2 to 4, B's line 5)
    assert [r[1:3] for r in c.rejects()] == [(6, "Date")]


def test_a_mobilize_attendances_own_unknown_keys_are_each_attendances(make_cohort):
    """A key Mobilize adds to an attendance itself (its shift's note) was kept as the
    attendee's custom field: Di's second attendance's value replaced her first's. Each
    attendance keeps its own, as its rating is kept; a key inside its person stays the
    person's. The sync report lists both as kept."""
    c = make_cohort("- {kind: mobilize, path: mobilize}")
    first = _attendance(1780100000, shift_note="early")
    first["person"]["pronouns"] = "she/her"
    second = _attendance(1780100000, id=13, shift_note="late")
    second["timeslot"] = {"id": 772, "start_date": 1780150000, "end_date": 1780157200}
    c.write("mobilize/p1.json", _page(first, second))
    (read,) = c.sync().files
    assert read.unknown_columns == ["person.pronouns", "shift_note"]
    assert c.query(FIELDS) == [
        ("mobilize:att:11", "shift_note", "early"),
        ("mobilize:att:13", "shift_note", "late"),
    ]
    assert c.query("SELECT field, value FROM custom_field") == [("person.pronouns", "she/her")]
    ((recorded,),) = c.query("SELECT message FROM sync_run WHERE file = 'mobilize/p1.json'")
    assert json.loads(recorded)["custom_fields"] == ["person.pronouns", "shift_note"]


EVENT_FIELDS = "SELECT event_id, field, value FROM event_field ORDER BY ALL"


def test_a_newer_record_of_an_event_replaces_its_fields_whole(make_cohort):
    """An Action Network event read again from a newer page that changed one of its
    keys and no longer has another (the ticket note taken off the event): the older
    note stayed kept beside the newer event, as if it still held. The event's fields
    are its newer record's, as an activity's are; the event the newer page does not
    list keeps its own."""
    from test_readers import AN_EVENT, _osdi

    c = make_cohort("- {kind: action_network_api, path: api}")
    meeting = AN_EVENT | {"action_network:ticket_note": "Bring ID", "room": "B2"}
    rally = AN_EVENT | {"identifiers": ["action_network:e-10"], "room": "Hall"}
    c.write("api/events/events-1.json", _osdi("osdi:events", [meeting, rally]))
    c.sync()
    assert c.query(EVENT_FIELDS) == [
        ("action_network:e-10", "room", "Hall"),
        ("action_network:e-9", "action_network:ticket_note", "Bring ID"),
        ("action_network:e-9", "room", "B2"),
    ]
    newer = AN_EVENT | {"modified_date": "2025-03-05T10:00:00Z", "room": "C3"}
    c.write("api/events/events-2.json", _osdi("osdi:events", [newer]))
    # the room replaced, the ticket note deleted
    assert c.sync().written["event_field"] == 2
    after = [("action_network:e-10", "room", "Hall"), ("action_network:e-9", "room", "C3")]
    assert c.query(EVENT_FIELDS) == after
    # the same exports read again change nothing
    assert c.sync(force=True).written["event_field"] == 0
    assert c.query(EVENT_FIELDS) == after
    # a newer page whose event has none of its keys any more: none stays
    bare = AN_EVENT | {"modified_date": "2025-03-06T10:00:00Z"}
    c.write("api/events/events-3.json", _osdi("osdi:events", [bare]))
    assert c.sync().written["event_field"] == 1
    assert c.query(EVENT_FIELDS) == [("action_network:e-10", "room", "Hall")]


def test_a_mobilize_events_fields_are_its_latest_attendances(make_cohort):
    """A key Mobilize adds inside an attendance's event is the event's field: a newer
    page whose attendance at the event has the event without it (the key's value
    cleared) leaves none behind."""
    c = make_cohort("- {kind: mobilize, path: mobilize}")
    older = _attendance(1780100000)
    older["event"] = older["event"] | {"parking": "lot B", "dress_code": "red shirts"}
    c.write("mobilize/p1.json", _page(older))
    c.sync()
    assert c.query(EVENT_FIELDS) == [
        ("mobilize:77:771", "event.dress_code", "red shirts"),
        ("mobilize:77:771", "event.parking", "lot B"),
    ]
    newer = _attendance(1780200000)
    newer["event"] = newer["event"] | {"parking": "lot C"}
    c.write("mobilize/p2.json", _page(newer))
    assert c.sync().written["event_field"] == 2
    assert c.query(EVENT_FIELDS) == [("mobilize:77:771", "event.parking", "lot C")]


def test_a_van_events_table_without_a_column_leaves_that_columns_values(make_cohort):
    """A VAN events table is a table: a later one exported without a column says nothing
    of it (its events keep their values of it), while a cell emptied in a column it
    has is the value taken off the event."""
    c = make_cohort("- {kind: van, path: van}")
    c.write("van/persons.csv", "vanid,firstname\n101,Fa\n")
    c.write(
        "van/events.csv",
        """\
        eventid,eventname,eventtypename,dateoffsetbegin,locationname,description
        7,Members meeting,Meeting,2026-08-27 18:30:00,Plant Hall,Bring a friend
        """,
    )
    c.sync()
    c.write(
        "van/events_2026-09.csv",
        """\
        eventid,eventname,eventtypename,dateoffsetbegin,locationname
        7,Members meeting,Meeting,2026-08-27 18:30:00,
        """,
    )
    assert c.sync().written["event_field"] == 1
    assert c.query(EVENT_FIELDS) == [("van:7", "description", "Bring a friend")]
    assert c.sync(force=True).written["event_field"] == 0
    assert c.query(EVENT_FIELDS) == [("van:7", "description", "Bring a friend")]
    # a third without the location: the second's empty location still holds, also when
    # all three are read again
    c.write(
        "van/events_2026-10.csv",
        """\
        eventid,eventname,eventtypename,dateoffsetbegin,description
        7,Members meeting,Meeting,2026-08-27 18:30:00,Bring two friends
        """,
    )
    assert c.sync().written["event_field"] == 1
    assert c.query(EVENT_FIELDS) == [("van:7", "description", "Bring two friends")]
    assert c.sync(force=True).written["event_field"] == 0
    assert c.query(EVENT_FIELDS) == [("van:7", "description", "Bring two friends")]


def test_an_upgraded_stores_person_copies_of_activity_and_event_fields_go(make_cohort):
    """Before they were kept as an activity's or an event's fields, an Action Network
    donation's and a Mobilize attendance's unknown keys, and a key inside the
    attendance's event, were kept as the person's custom fields: a store synced by
    that code (of schema 7, before activity_field) keeps those copies (written here as
    it wrote them). The sync after the
    upgrade reads every export again and keeps each value where it belongs now: the
    person's copy of a value one of their activities or events holds goes. A person's
    own fields stay, and so does a value no activity or event of theirs holds (nothing
    is lost)."""
    from test_readers import AN_API_PERSON, _osdi

    c = make_cohort("- {kind: action_network_api, path: api}\n- {kind: mobilize, path: mobilize}")
    dee = dict(AN_API_PERSON, identifiers=["action_network:p-2"], custom_fields={})
    dee["email_addresses"] = [{"address": "dee@example.org", "status": "subscribed"}]
    dee["phone_numbers"] = []
    c.write("api/people/people-1.json", _osdi("osdi:people", [AN_API_PERSON, dee]))
    donations = [
        {
            "identifiers": [f"action_network:d-{n}"],
            "created_date": f"2025-05-0{n}T10:00:00Z",
            "amount": "10",
            "action_network:person_id": "p-1",
            "action_network:dedication": note,
        }
        for n, note in ((1, "for Gran"), (2, "for Aunt"))
    ]
    c.write("api/donations/don-1.json", _osdi("osdi:donations", donations))
    di = _attendance(1780100000, shift_note="early")
    di["event"] = di["event"] | {"parking": "lot B"}
    di["person"]["pronouns"] = "she/her"
    c.write("mobilize/p1.json", _page(di))
    c.sync()
    ids = dict(c.query("SELECT source_id, person_id FROM identity"))
    p1, p2, di_id = ids["p-1"], ids["p-2"], ids["501"]
    con = duckdb.connect(str(c.root / "store.duckdb"))
    con.executemany(
        "INSERT INTO custom_field VALUES ('org', ?, ?, ?, ?, ?)",
        [  # as the older code kept them: the person's latest record's value of each key
            (p1, "action_network", "p-1", "action_network:dedication", "for Aunt"),
            (di_id, "mobilize", "501", "shift_note", "early"),
            (di_id, "mobilize", "501", "event.parking", "lot B"),
            # Dee gave no donation: no activity holds her value, which stays
            (p2, "action_network", "p-2", "action_network:dedication", "for Uncle"),
        ],
    )
    # a store of schema 7, which had no activity's fields (nor these event's), synced by
    # the older code: the next sync reads every export again
    con.execute("DROP TABLE activity_field; DELETE FROM event_field")
    con.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    con.execute("UPDATE meta SET value = 'older' WHERE key = 'sync_code:org'")
    con.close()
    kept = "SELECT person_id, source, field, value FROM custom_field ORDER BY ALL"
    assert c.sync().written["custom_field"] == 3
    assert c.query(kept) == sorted(
        [
            (p1, "action_network", "Shift", "evening"),
            (p2, "action_network", "action_network:dedication", "for Uncle"),
            (di_id, "mobilize", "person.pronouns", "she/her"),
        ]
    )
    assert c.query(FIELDS) == [
        ("an:donations:d-1", "action_network:dedication", "for Gran"),
        ("an:donations:d-2", "action_network:dedication", "for Aunt"),
        ("mobilize:att:11", "shift_note", "early"),
    ]
    assert c.query(EVENT_FIELDS) == [("mobilize:77:771", "event.parking", "lot B")]


def test_an_events_value_a_newer_record_lacks_is_the_olders_in_any_order(make_cohort):
    """An event read from two pages synced together takes each of its values from the
    latest record that has one; synced one after the other, the newer page's record
    without a start (a sparse record of the same event) wrote its empty start and title
    over the stored ones: the event lost its date, and the same pages made another
    store by the order they came in."""
    from test_readers import AN_EVENT, _osdi

    c = make_cohort("- {kind: action_network_api, path: api}")
    c.write("api/events/events-1.json", _osdi("osdi:events", [AN_EVENT]))
    c.sync()
    sparse = {key: value for key, value in AN_EVENT.items() if key not in ("title", "start_date")}
    c.write("api/events/events-2.json", _osdi("osdi:events", [sparse]))
    c.sync()
    events = f"SELECT event_id, title, {utc('start_at')} FROM event"
    expected = [("action_network:e-9", "Tenant meeting", "2025-04-20 18:00")]
    assert c.query(events) == expected
    c.sync(force=True)
    assert c.query(events) == expected


def test_an_unread_assessment_kept_as_a_custom_field_goes_once_one_is_read(make_cohort):
    """An Action Builder assessment written as a word ("high") is kept as the person's
    custom field action_builder:latest_assessment. Once a later export of the entity
    gives it as a number, it is read as an assessment activity, and the word stayed
    kept as the person's latest assessment; it goes, as it does when the entity no
    longer has one, whether the exports were synced together or apart. An entity whose
    latest record has an unread one keeps that."""
    from test_readers import _osdi

    c = make_cohort("- {kind: action_builder, path: ab}")

    def entity(n: int, assessment: str | None, day: int) -> dict:
        record = {
            "identifiers": [f"action_builder:e{n}"],
            "given_name": f"P{n}",
            "action_builder:latest_assessment_created_date": f"2026-07-{day}T12:00:00Z",
        }
        return record | ({"action_builder:latest_assessment": assessment} if assessment else {})

    c.write("ab/e-1.json", _osdi("people", [entity(1, "high", 15), entity(2, "high", 15)]))
    c.sync()
    kept = """SELECT i.source_id, f.value FROM custom_field f
              JOIN identity i USING (org_id, person_id) ORDER BY 1"""
    assert c.query(kept) == [("e1", "high"), ("e2", "high")]
    c.write(
        "ab/e-2.json",
        _osdi("people", [entity(1, "3", 16), entity(2, None, 16), entity(3, "low", 16)]),
    )
    c.sync()
    assert c.query(kept) == [("e3", "low")]
    assert c.query("SELECT activity_id, score FROM activity") == [
        ("ab:assess:e1:20260716120000", 3.0)
    ]
    c.sync(force=True)
    assert c.query(kept) == [("e3", "low")]
