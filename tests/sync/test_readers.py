# ruff: noqa: E501 - export fixtures are kept verbatim, one record per line
"""Every reader on a small export in the tool's real format, with expected rows by hand."""

from __future__ import annotations

import json
from textwrap import dedent

import duckdb
import pytest
from conftest import utc

from cyclebook.config import load_cohort
from cyclebook.store import REPORT_TABLES, connect
from cyclebook.sync.readers import UNREAD_CONTACT
from cyclebook.sync.stage import BAD_DATE
from cyclebook.sync.summary import load_summary

AN_CSV = """\
uuid,first_name,last_name,email,zip_code,can2_phone,can2_sms_status,can2_subscription_status,can2_subscription_date,can2_user_address,can2_user_city,can2_state_abbreviated,can2_county,can2_user_tags,Building
u1,Ana,Diaz, Ana@Example.org ,02139,(617) 555-0101,subscribed,subscribed,2026-08-05 10:00:00,"1 Main St
Apt 2",Boston,MA,Suffolk,"tenant,leader",Tower A
u2,Bo,Lee,bo@example.org,02140,,unsubscribed,unsubscribed,2026-09-01T12:00:00Z,,,MA,,,
"""


def test_action_network_csv(make_cohort):
    c = make_cohort("- {kind: action_network_csv, path: an}")
    c.write("an/activists.csv", "\ufeff" + AN_CSV)
    result = c.sync()
    assert result.status == "ok"
    assert [(f.rows_read, f.rows_kept, f.rows_rejected) for f in result.files] == [(2, 2, 0)]
    assert result.files[0].unknown_columns == ["Building"]
    people = c.query(
        f"""SELECT i.source_id, p.zip, p.state, p.email_ok, p.sms_ok, {utc("p.first_seen_at")},
                   pii.first_name, pii.email, pii.phone, pii.address
            FROM person p JOIN identity i USING (org_id, person_id)
            JOIN person_pii pii USING (org_id, person_id) ORDER BY 1"""
    )
    assert people == [
        (
            "u1",
            "02139",
            "MA",
            True,
            True,
            "2026-08-05 14:00",
            "Ana",
            "ana@example.org",
            "+16175550101",
            "1 Main St\nApt 2, Boston",
        ),
        ("u2", "02140", "MA", False, False, "2026-09-01 12:00", "Bo", "bo@example.org", None, None),
    ]
    acts = c.query(
        f"SELECT activity_id, type, source, {utc('occurred_at')} FROM activity ORDER BY 1"
    )
    assert acts == [
        ("an:signup:u1", "signup", "action_network", "2026-08-05 14:00"),
        ("an:signup:u2", "signup", "action_network", "2026-09-01 12:00"),
    ]
    custom = c.query("SELECT field, value FROM custom_field ORDER BY 1")
    assert custom == [("Building", "Tower A"), ("can2_user_tags", "tenant,leader")]
    # match keys: salted hashes, present, and never the email itself
    keys = c.query("SELECT match_key FROM person")
    assert all(k[0] and len(k[0]) == 64 and "@" not in k[0] for k in keys)


def _osdi(collection: str, records: list[dict]) -> dict:
    return {
        "total_pages": 1,
        "page": 1,
        "per_page": 25,
        "_embedded": {collection: records},
        "_links": {"self": {"href": "https://actionnetwork.org/api/v2/x"}},
    }


# an Action Network API person with every field the reader reads (test_json_shapes.py
# bends each of them)
AN_API_PERSON = {
    "identifiers": ["action_network:p-1", "mailchimp:77"],
    "created_date": "2025-03-01T15:00:00Z",
    "given_name": "Cy",
    "family_name": "Ng",
    "email_addresses": [{"primary": True, "address": "CY@example.org", "status": "subscribed"}],
    "phone_numbers": [{"primary": True, "number": "16175550102", "status": "unsubscribed"}],
    "postal_addresses": [
        {
            "postal_code": "02141",
            "region": "MA",
            "locality": "Cambridge",
            "address_lines": ["5 Elm St"],
        }
    ],
    "custom_fields": {"Shift": "evening"},
}


def test_action_network_api(make_cohort):
    c = make_cohort("- {kind: action_network_api, path: api}")
    c.write("api/people/people-1.json", _osdi("osdi:people", [AN_API_PERSON]))
    c.write(
        "api/attendances/att-1.json",
        _osdi(
            "osdi:attendances",
            [
                {
                    "identifiers": ["action_network:a-1"],
                    "created_date": "2025-04-01T10:00:00Z",
                    "modified_date": "2025-04-02T10:00:00Z",
                    "status": "accepted",
                    "action_network:person_id": "p-1",
                    "action_network:event_id": "e-9",
                }
            ],
        ),
    )
    c.write(
        "api/donations/don-1.json",
        _osdi(
            "osdi:donations",
            [
                {
                    "identifiers": ["action_network:d-1"],
                    "created_date": "2025-05-01T10:00:00Z",
                    "amount": "25.50",
                    "action_network:person_id": "p-1",
                }
            ],
        ),
    )
    c.write(
        "api/taggings/tag-1.json",
        _osdi(
            "osdi:taggings",
            [
                {
                    "created_date": "2025-06-01T10:00:00Z",
                    "_links": {
                        "self": {"href": "https://actionnetwork.org/api/v2/tags/t-1/taggings/g-1"},
                        "osdi:tag": {"href": "https://actionnetwork.org/api/v2/tags/t-1"},
                        "osdi:person": {"href": "https://actionnetwork.org/api/v2/people/p-1"},
                    },
                }
            ],
        ),
    )
    c.write(
        "api/submissions/sub-1.json",
        _osdi(
            "osdi:submissions",
            [
                {
                    "identifiers": ["action_network:s-1"],
                    "created_date": "2025-07-01T10:00:00Z",
                    "action_network:person_id": "p-1",
                    "action_network:form_id": "f-1",
                }
            ],
        ),
    )
    result = c.sync()
    assert result.rows_read == 5 and result.rows_rejected == 0
    assert c.query("SELECT source, source_id FROM identity") == [("action_network", "p-1")]
    assert c.query("SELECT email, phone, address FROM person_pii") == [
        ("cy@example.org", "+16175550102", "5 Elm St, Cambridge")
    ]
    assert c.query("SELECT email_ok, sms_ok, zip, state FROM person") == [
        (True, False, "02141", "MA")
    ]
    acts = c.query(
        f"""SELECT activity_id, type, status, attended, event_id, result, amount,
                   {utc("occurred_at")}, {utc("recorded_at")} FROM activity ORDER BY 1"""
    )
    assert acts == [
        (
            "an:attendances:a-1",
            "attendance",
            "registered",
            None,
            "action_network:e-9",
            None,
            None,
            "2025-04-01 10:00",
            "2025-04-02 10:00",
        ),
        ("an:donations:d-1", "donation", None, None, None, None, 25.5, "2025-05-01 10:00", None),
        (
            "an:submissions:s-1",
            "submission",
            None,
            None,
            None,
            "form:f-1",
            None,
            "2025-07-01 10:00",
            None,
        ),
        ("an:taggings:g-1", "tagging", None, None, None, "tag:t-1", None, "2025-06-01 10:00", None),
    ]
    assert c.query("SELECT field, value FROM custom_field") == [("Shift", "evening")]


def test_action_network_tagging_item_type_is_known(make_cohort):
    """``item_type`` is a standard field of an OSDI tagging (what is tagged): it was
    reported as a column the sync does not know."""
    c = make_cohort("- {kind: action_network_api, path: api}")
    c.write("api/people/people-1.json", _osdi("osdi:people", [AN_API_PERSON]))
    c.write(
        "api/taggings/tag-1.json",
        _osdi(
            "osdi:taggings",
            [
                {
                    "identifiers": ["action_network:g-1"],
                    "created_date": "2025-06-01T10:00:00Z",
                    "modified_date": "2025-06-01T10:00:00Z",
                    "item_type": "osdi:person",
                    "_links": {
                        "osdi:tag": {"href": "https://actionnetwork.org/api/v2/tags/t-1"},
                        "osdi:person": {"href": "https://actionnetwork.org/api/v2/people/p-1"},
                    },
                }
            ],
        ),
    )
    result = c.sync()
    assert c.rejects() == []
    tagging = next(f for f in result.files if f.file == "api/taggings/tag-1.json")
    assert tagging.unknown_columns == [] and tagging.rows_kept == 1


MOBILIZE_PAGE = {
    "count": 2,
    "next": None,
    "data": [
        {
            "id": 11,
            "created_date": 1780000000,
            "modified_date": 1780100000,
            "person": {
                "user_id": 501,
                "given_name": "Di",
                "family_name": "Oh",
                "email_addresses": [{"primary": True, "address": "di@example.org"}],
                "phone_numbers": [{"primary": True, "number": "617.555.0103"}],
                "postal_addresses": [{"primary": True, "postal_code": "02142"}],
                "sms_opt_in_status": "OPT_IN",
            },
            "event": {
                "id": 77,
                "title": "Door knock",
                "event_type": "CANVASS",
                "contact": {"owner_user_id": 501},
            },
            "timeslot": {"id": 771, "start_date": 1780050000, "end_date": 1780057200},
            "status": "CONFIRMED",
            "attended": True,
            "referrer": {"utm_source": "sms"},
        },
        {
            "id": 12,
            "created_date": 1780000500,
            "modified_date": 1780000500,
            "person": {
                "user_id": 502,
                "given_name": "Eve",
                "family_name": "Ra",
                "email_addresses": [],
                "phone_numbers": [],
                "postal_addresses": [],
                "sms_opt_in_status": "OPT_OUT",
            },
            "event": {"id": 77, "title": "Door knock", "event_type": "CANVASS"},
            "timeslot": {"id": 771, "start_date": 1780050000, "end_date": 1780057200},
            "status": "CANCELLED",
            "attended": None,
        },
    ],
}


def test_json_keys_beyond_the_model_are_reported_per_page(make_cohort):
    """Keys a record has beyond what the reader knows are listed for its file (sorted,
    once each, whichever record has them); a page with none lists none."""
    import copy

    c = make_cohort("- {kind: mobilize, path: mobilize}")
    first = copy.deepcopy(MOBILIZE_PAGE)
    first["data"][0]["utm_campaign"] = "fall"
    first["data"][1]["utm_campaign"] = "fall"
    first["data"][1]["approval_status"] = "APPROVED"
    second = copy.deepcopy(MOBILIZE_PAGE)
    for record in second["data"]:
        record["id"] += 10
    c.write("mobilize/attendances-page-001.json", first)
    c.write("mobilize/attendances-page-002.json", second)
    result = c.sync()
    assert [(f.file, f.unknown_columns) for f in result.files] == [
        ("mobilize/attendances-page-001.json", ["approval_status", "utm_campaign"]),
        ("mobilize/attendances-page-002.json", []),
    ]


def test_mobilize(make_cohort):
    c = make_cohort("- {kind: mobilize, path: mobilize}")
    c.write("mobilize/attendances-page-001.json", MOBILIZE_PAGE)
    result = c.sync()
    assert result.rows_read == 2 and result.rows_rejected == 0
    acts = c.query(
        f"""SELECT a.activity_id, i.source_id, a.type, a.status, a.attended, a.role, a.event_id,
                   {utc("a.occurred_at")}, {utc("a.recorded_at")}
            FROM activity a JOIN identity i USING (org_id, person_id) ORDER BY 1"""
    )
    assert acts == [
        (
            "mobilize:att:11",
            "501",
            "attendance",
            "confirmed",
            True,
            "host",
            "mobilize:77:771",
            "2026-05-29 10:20",
            "2026-05-30 00:13",
        ),
        (
            "mobilize:att:12",
            "502",
            "attendance",
            "cancelled",
            None,
            "attendee",
            "mobilize:77:771",
            "2026-05-29 10:20",
            "2026-05-28 20:35",
        ),
    ]
    assert c.query(f"SELECT event_id, title, event_type, {utc('start_at')} FROM event") == [
        ("mobilize:77:771", "Door knock", "canvass", "2026-05-29 10:20")
    ]
    assert c.query("SELECT email, phone FROM person_pii ORDER BY 1 NULLS LAST") == [
        ("di@example.org", "+16175550103"),
        (None, None),
    ]
    assert c.query("SELECT sms_ok FROM person ORDER BY 1") == [(False,), (True,)]


VAN_FILES = {
    "van/persons.csv": """\
        vanid,firstname,lastname,email,phone,addressline1,city,state,zip5,datecreated
        101,Fa,Un,fa@example.org,617-555-0104,2 Oak St,Boston,MA,02143,2025-01-02 09:00:00
        102,Gi,Vo,,,,,MA,02144,2025-01-03
        """,
    "van/results.csv": "resultid,resultshortname\n1,Not Home\n14,Canvassed\n",
    "van/contacttypes.csv": "contacttypeid,contacttypename\n1,Phone\n2,Walk\n37,SMS Text\n82,One on One\n",
    "van/contactscontacts.csv": """\
        contactscontactid,vanid,resultid,contacttypeid,datecanvassed,datecreated,canvassedby,campaignid
        9001,101,14,82,2026-08-10 18:00:00,2026-08-12T16:00:00Z,55,301
        9002,102,1,2,2026-08-11 11:00:00,2026-08-11 12:00:00,56,302
        9003,999,14,2,2026-08-11 11:05:00,2026-08-11 12:00:00,56,302
        9004,101,14,1,2026-08-12 19:00:00,,57,
        """,
    "van/activistcodes.csv": "activistcodeid,activistcodename\n4001,Member\n",
    "van/contactsactivistcodes.csv": """\
        contactsactivistcodeid,vanid,activistcodeid,datecreated,datecanvassed
        3001,101,4001,2026-08-13T00:00:00Z,2026-08-12 20:00:00
        """,
    "van/events.csv": """\
        eventid,eventname,eventtypename,dateoffsetbegin
        7,Members meeting,Meeting,2026-08-20 18:30:00
        """,
    "van/eventsignups.csv": """\
        eventsignupid,vanid,eventid,eventrolename,eventstatusname,datecreated,datemodified
        4001,101,7,Host,Completed,2026-08-01 10:00:00,2026-08-21T01:00:00Z
        4002,102,7,Volunteer,No Show,2026-08-02 10:00:00,2026-08-21T01:00:00Z
        4003,102,7,Team Leader,Scheduled,2026-08-02 10:00:00,
        """,
    "van/contributions.csv": "contributionid,vanid,amount,datereceived\n8001,101,$1,015.00,2026-08-15\n",
}


def test_van(make_cohort):
    c = make_cohort("- {kind: van, path: van}")
    files = dict(VAN_FILES)
    files["van/contributions.csv"] = (
        'contributionid,vanid,amount,datereceived\n8001,101,"$1,015.00",2026-08-15\n'
    )
    for rel, text in files.items():
        c.write(rel, text)
    result = c.sync()
    assert result.rows_rejected == 0, c.rejects()
    acts = c.query(
        f"""SELECT a.activity_id, i.source_id, a.type, a.status, a.attended, a.role, a.result,
                   a.amount, a.organizer_id, {utc("a.occurred_at")}, {utc("a.recorded_at")}
            FROM activity a JOIN identity i USING (org_id, person_id) ORDER BY 1"""
    )
    assert acts == [
        (
            "van:ac:3001",
            "101",
            "activist_code",
            None,
            None,
            None,
            "Member",
            None,
            None,
            "2026-08-13 00:00",
            "2026-08-13 00:00",
        ),
        (
            "van:cc:9001",
            "101",
            "one_on_one",
            None,
            None,
            None,
            "Canvassed",
            None,
            "van:55",
            "2026-08-10 22:00",
            "2026-08-12 16:00",
        ),
        (
            "van:ct:8001",
            "101",
            "donation",
            None,
            None,
            None,
            None,
            1015.0,
            None,
            "2026-08-15 04:00",
            None,
        ),
        (
            "van:es:4001",
            "101",
            "attendance",
            "completed",
            True,
            "host",
            None,
            None,
            None,
            "2026-08-20 22:30",
            "2026-08-21 01:00",
        ),
        (
            "van:es:4002",
            "102",
            "attendance",
            "no_show",
            False,
            "attendee",
            None,
            None,
            None,
            "2026-08-20 22:30",
            "2026-08-21 01:00",
        ),
        (
            "van:es:4003",
            "102",
            "attendance",
            "registered",
            None,
            "lead",
            None,
            None,
            None,
            "2026-08-20 22:30",
            "2026-08-02 14:00",
        ),
    ]
    attempts = c.query(
        """SELECT attempt_id, channel, result, conversation, campaign, organizer_id,
                  person_id IS NULL AS unknown_person, contact_key IS NOT NULL
           FROM contact_attempt ORDER BY 1"""
    )
    assert attempts == [
        ("van:cc:9002", "door", "Not Home", False, "302", "van:56", False, True),
        ("van:cc:9003", "door", "Canvassed", True, "302", "van:56", True, True),
        ("van:cc:9004", "phone", "Canvassed", True, None, "van:57", False, True),
    ]
    assert c.query("SELECT event_id, title, event_type FROM event") == [
        ("van:7", "Members meeting", "meeting")
    ]


SPOKE_CONTACTS = """\
campaignId,campaign,assignmentId,texter[firstName],texter[lastName],contact[firstName],contact[lastName],contact[cell],contact[zip],contact[optOut],contact[messageStatus],contact[external_id],question[Will you come?],tags
71,Kickoff,5,Sam,Rivera,Hal,Ito,+16175550105,02145,false,convo,,Yes,hot
71,Kickoff,5,Sam,Rivera,Ida,Jo,+16175550106,02146,true,closed,,,
71,Kickoff,5,Sam,Rivera,Jay,Ko,+16175550107,02147,false,needsMessage,,,
"""
SPOKE_MESSAGES = """\
campaignId,contactNumber,userNumber,isFromContact,sendStatus,attemptedAt,text
71,+16175550105,+16175550100,false,DELIVERED,2026-08-20T15:00:00Z,Hi!
71,+16175550105,+16175550100,true,DELIVERED,2026-08-20T15:30:00Z,yes I will
71,+16175550106,+16175550100,false,DELIVERED,2026-08-20T15:01:00Z,Hi!
71,+16175550106,+16175550100,true,DELIVERED,2026-08-20T15:02:00Z,STOP
"""


def test_van_event_dates_with_an_offset_and_unreadable_ones(make_cohort):
    """VAN's events table gives dateoffsetbegin as SQL Server writes a datetimeoffset,
    with a space before the offset. It was not read, and a date not read dated the
    event's signups by their creation date without a word: a Completed signup for the
    27 August meeting counted on 1 August. Such a date is read; one that cannot be is a
    rejected value naming the line, the column and the fix: the event is kept (it was
    counted as a rejected row)."""
    c = make_cohort("- {kind: van, path: van}")
    c.write("van/persons.csv", "vanid,firstname,lastname,email\n101,Ana,Diaz,ana@x.org\n")
    c.write(
        "van/events.csv",
        """\
        eventid,eventname,eventtypename,dateoffsetbegin
        7,Members meeting,Meeting,2026-08-27 18:30:00.0000000 -04:00
        8,Canvass,Canvass,next tuesday
        9,Phone bank,Phone Bank,2026-08-29 17:00:00 +0000
        """,
    )
    c.write(
        "van/eventsignups.csv",
        """\
        eventsignupid,vanid,eventid,eventrolename,eventstatusname,datecreated,datemodified
        1,101,7,Attendee,Completed,2026-08-01 09:00:00,2026-08-28 09:00:00
        2,101,8,Attendee,Scheduled,2026-08-02 09:00:00,
        3,101,9,Attendee,Scheduled,2026-08-03 09:00:00,
        """,
    )
    result = c.sync()
    assert [(f.file, f.rows_read, f.rows_kept, f.rows_rejected) for f in result.files] == [
        ("van/events.csv", 3, 3, 0),
        ("van/eventsignups.csv", 3, 3, 0),
        ("van/persons.csv", 1, 1, 0),
    ]
    assert c.rejects() == [
        (
            "van/events.csv",
            3,
            "dateoffsetbegin",
            BAD_DATE + "; the event is kept without a date, and its signups are dated by "
            "their creation date: export the events table again with its dates",
        )
    ]
    assert c.query(f"SELECT event_id, {utc('start_at')} FROM event ORDER BY 1") == [
        ("van:7", "2026-08-27 22:30"),
        ("van:8", None),
        ("van:9", "2026-08-29 17:00"),
    ]
    assert c.query(f"SELECT activity_id, {utc('occurred_at')} FROM activity ORDER BY 1") == [
        ("van:es:1", "2026-08-27 22:30"),
        ("van:es:2", "2026-08-02 13:00"),
        ("van:es:3", "2026-08-29 17:00"),
    ]


def test_a_van_events_table_without_signups_is_stored(make_cohort):
    """An events table exported without its signups (a VAN committee that tracks no
    sign-ups yet) was read only beside signups: counted as read and kept, nothing of it
    stored, its dates never checked. Its events are stored, its unreadable date is a
    rejected value, and a re-sync writes nothing."""
    c = make_cohort("- {kind: van, path: van}")
    c.write("van/persons.csv", "vanid,firstname,lastname,email\n101,Ana,Diaz,ana@x.org\n")
    c.write(
        "van/events.csv",
        """\
        eventid,eventname,eventtypename,dateoffsetbegin,locationname
        7,Members meeting,Meeting,2026-08-27 18:30:00.0000000 -04:00,Union hall
        8,Canvass,Canvass,next tuesday,
        """,
    )
    result = c.sync()
    assert [(f.file, f.rows_read, f.rows_kept, f.rows_rejected) for f in result.files] == [
        ("van/events.csv", 2, 2, 0),
        ("van/persons.csv", 1, 1, 0),
    ]
    assert result.written["event"] == 2
    assert c.query(
        f"SELECT event_id, title, event_type, {utc('start_at')} FROM event ORDER BY 1"
    ) == [
        ("van:7", "Members meeting", "meeting", "2026-08-27 22:30"),
        ("van:8", "Canvass", "canvass", None),
    ]
    assert c.query("SELECT event_id, field, value FROM event_field") == [
        ("van:7", "locationname", "Union hall")
    ]
    assert [(r[0], r[1], r[2]) for r in c.rejects()] == [("van/events.csv", 3, "dateoffsetbegin")]
    assert c.sync().status == "unchanged"


def test_a_van_event_date_not_read_after_a_misshapen_line_names_its_own_line(make_cohort):
    """An event whose date is not read is kept: its date alone is rejected, by the line
    it is on. A value rejected on a kept record was placed among the records DuckDB
    accepted without leaving out the line of too many values above it (nor counting the
    line break inside a quoted title): it named line 4, the misshapen one."""
    c = make_cohort("- {kind: van, path: van}")
    c.write("van/persons.csv", "vanid,firstname,lastname,email\n101,Ana,Diaz,ana@x.org\n")
    c.write(
        "van/events.csv",
        "eventid,eventname,eventtypename,dateoffsetbegin\n"  # 1
        '7,"Members\nmeeting",Meeting,2026-08-27 18:30:00\n'  # 2-3
        "8,Canvass,Canvass,2026-08-28 10:00:00,extra\n"  # 4: a value too many
        "9,Phone bank,Phone Bank,next tuesday\n"  # 5: a date not read
        "10,Training,Training,2026-08-30 10:00:00\n",  # 6
    )
    c.write(
        "van/eventsignups.csv",
        "eventsignupid,vanid,eventid,eventstatusname,datecreated\n"
        "1,101,9,Scheduled,2026-08-02 09:00:00\n",
    )
    result = c.sync()
    events = next(f for f in result.files if f.file == "van/events.csv")
    assert (events.rows_read, events.rows_kept, events.rows_rejected) == (4, 3, 1)
    assert [(r[0], r[1], r[2]) for r in c.rejects()] == [
        ("van/events.csv", 4, None),
        ("van/events.csv", 5, "dateoffsetbegin"),
    ]
    assert c.query(f"SELECT event_id, {utc('start_at')} FROM event ORDER BY 1") == [
        ("van:10", "2026-08-30 14:00"),
        ("van:7", "2026-08-27 22:30"),
        ("van:9", None),
    ]
    # the signup of the event without a date is dated by its creation (EDT, UTC-4)
    assert c.query(f"SELECT activity_id, {utc('occurred_at')} FROM activity") == [
        ("van:es:1", "2026-08-02 13:00")
    ]


def test_van_lookup_and_event_listed_twice_take_the_later_file(make_cohort):
    # An activist code renamed and an event moved between two exports synced together:
    # the later file (by name) gives the name, the title and the date, every time (three
    # fresh syncs: the any_value this replaced picked the later file about a third of
    # the time).
    for _ in range(3):
        sync_twice_listed(make_cohort("- {kind: van, path: van}"))


def sync_twice_listed(c) -> None:
    for rel, text in VAN_FILES.items():
        if rel != "van/contributions.csv":  # its unquoted "$1,015.00" is a reject
            c.write(rel, text)
    c.write(
        "van/activistcodes_2026-09.csv",
        "activistcodeid,activistcodename\n4001,Dues-paying member\n4002,Volunteer\n",
    )
    c.write(
        "van/events_2026-09.csv",
        """\
        eventid,eventname,eventtypename,dateoffsetbegin
        7,Members meeting (moved),Meeting,2026-08-27 18:30:00
        """,
    )
    result = c.sync()
    assert result.rows_rejected == 0, c.rejects()
    assert c.query("SELECT result FROM activity WHERE type = 'activist_code'") == [
        ("Dues-paying member",)
    ]
    assert c.query(f"SELECT event_id, title, {utc('start_at')} FROM event") == [
        ("van:7", "Members meeting (moved)", "2026-08-27 22:30")
    ]


def test_spoke(make_cohort):
    c = make_cohort("- {kind: spoke, path: spoke}")
    c.write("spoke/campaign-71-contacts.csv", SPOKE_CONTACTS)
    c.write("spoke/campaign-71-messages.csv", SPOKE_MESSAGES)
    result = c.sync()
    assert result.rows_read == 7 and result.rows_rejected == 0
    # (a contact is named by its cell's salted hash: shown here as the cell)
    attempts = c.unkeyed(
        f"""SELECT attempt_id, channel, result, conversation, replied, opted_out, campaign,
                   {utc("attempted_at")}, organizer_id LIKE 'spoke:texter:%'
            FROM contact_attempt"""
    )
    assert attempts == [
        (
            "spoke:71:+16175550105",
            "text",
            "convo",
            True,
            True,
            False,
            "71 Kickoff",
            "2026-08-20 15:00",
            True,
        ),
        (
            "spoke:71:+16175550106",
            "text",
            "closed",
            False,
            False,
            True,
            "71 Kickoff",
            "2026-08-20 15:01",
            True,
        ),
    ]
    assert c.query(f"SELECT type, result, {utc('occurred_at')} FROM activity") == [
        ("survey_response", "Yes", "2026-08-20 15:30")
    ]
    assert c.query("SELECT count(*) FROM person") == [(3,)]
    # an opt-out is a no; not opting out is not a yes (unknown)
    assert c.query("SELECT sms_ok FROM person ORDER BY 1") == [(False,), (None,), (None,)]


def test_spoke_rewired_texter_comes_from_the_messages(make_cohort):
    """Spoke Rewired's contacts export has no texter columns; its messages export names
    the texter of each message (with the texter's email and cell, and the message's
    segments). Each text is the work of the texter who sent its first message; the
    texter's email and phone are nobody's custom field, and the messages' real columns
    are not "unknown". The hash of no name made one organizer of every texter."""
    c = make_cohort("- {kind: spoke, path: spoke}")
    c.write(
        "spoke/GOTV-2026-09-01-10-00-00.csv",
        """\
        campaignId,campaign,contact[firstName],contact[lastName],contact[cell],contact[zip],contact[city],contact[state],contact[optOut],contact[messageStatus],contact[external_id],question[Will you vote?],tags
        7,GOTV,Ana,Diaz,+16175550101,02139,Cambridge,MA,false,convo,,Yes,
        7,GOTV,Bo,Lee,+16175550102,02139,Cambridge,MA,false,messaged,,,
        7,GOTV,Cy,Ng,+16175550103,02139,Cambridge,MA,false,needsMessage,,,
        """,
    )
    c.write(
        "spoke/GOTV-2026-09-01-10-00-00-messages.csv",
        """\
        assignmentId,userNumber,contactNumber,isFromContact,numSegments,numMedia,sendStatus,errorCodes,attemptedAt,text,campaignId,texter[firstName],texter[lastName],texter[email],texter[cell]
        3,+16175559999,+16175550101,false,1,0,DELIVERED,,2026-09-01T14:00:00.000Z,Hi Ana,7,Tess,Ter,tess@org.example,+16175558888
        3,+16175559999,+16175550101,true,1,0,DELIVERED,,2026-09-01T14:05:00.000Z,yes,7,,,,
        4,+16175559998,+16175550102,false,1,0,DELIVERED,,2026-09-01T14:01:00.000Z,Hi Bo,7,Max,Mo,max@org.example,+16175557777
        """,
    )
    result = c.sync()
    assert [(f.rows_rejected, f.unknown_columns) for f in result.files] == [(0, []), (0, [])]
    tess, max_ = c.texter("tess ter"), c.texter("max mo")
    assert c.unkeyed("SELECT attempt_id, organizer_id FROM contact_attempt") == [
        ("spoke:7:+16175550101", tess),
        ("spoke:7:+16175550102", max_),
    ]
    assert c.query("SELECT type, organizer_id FROM activity") == [("survey_response", tess)]
    assert c.query("SELECT count(*) FROM custom_field") == [(0,)]


def test_spoke_texter_from_the_contacts_and_none_without_names(make_cohort):
    """The contacts export's texter names the texter; a campaign whose exports name no
    texter has no organizer (NULL, counted as missing), not one made-up texter."""
    c = make_cohort("- {kind: spoke, path: spoke}")
    c.write("spoke/campaign-71-contacts.csv", SPOKE_CONTACTS)
    c.write("spoke/campaign-71-messages.csv", SPOKE_MESSAGES)
    c.write(
        "spoke/campaign-72-contacts.csv",
        """\
        campaignId,campaign,contact[firstName],contact[lastName],contact[cell],contact[messageStatus]
        72,Phonebank,Lou,Ma,+16175550109,messaged
        """,
    )
    c.write(
        "spoke/campaign-72-messages.csv",
        """\
        campaignId,contactNumber,isFromContact,sendStatus,attemptedAt,text
        72,+16175550109,false,DELIVERED,2026-08-21T09:00:00Z,Hi
        """,
    )
    assert c.sync().rows_rejected == 0
    sam = c.texter("sam rivera")
    assert c.unkeyed("SELECT attempt_id, organizer_id FROM contact_attempt") == [
        ("spoke:71:+16175550105", sam),
        ("spoke:71:+16175550106", sam),
        ("spoke:72:+16175550109", None),
    ]


@pytest.mark.parametrize("files", [1, 2])
def test_spoke_texts_not_sent_are_not_attempts(make_cohort, files):
    """An outgoing text Spoke did not send (sendStatus ERROR, QUEUED, NOT_ATTEMPTED...)
    reached nobody: it is not an attempt, so not in the reply rate's denominator
    either. A person texted again after a failure is attempted when the text went out.
    Each messages file says how many of its rows were left out and why (one file, or
    two read as one)."""
    c = make_cohort("- {kind: spoke, path: spoke}")
    c.write(
        "spoke/campaign-71-contacts.csv",
        SPOKE_CONTACTS
        + "71,Kickoff,5,Sam,Rivera,Kim,Le,+16175550108,02148,false,messaged,,,\n"
        + "71,Kickoff,5,Sam,Rivera,Lou,Ma,+16175550109,02149,false,messaged,,,\n",
    )
    failed = """\
        campaignId,contactNumber,userNumber,isFromContact,sendStatus,attemptedAt,text
        71,+16175550108,+16175550100,false,ERROR,2026-08-20T15:03:00Z,Hi!
        71,+16175550109,+16175550100,false,ERROR,2026-08-20T15:04:00Z,Hi!
        71,+16175550109,+16175550100,false,SENT,2026-08-21T09:00:00Z,Hi again!
        71,+16175550107,+16175550100,false,QUEUED,2026-08-21T09:01:00Z,Hi!
        """
    if files == 1:
        c.write("spoke/campaign-71-messages.csv", SPOKE_MESSAGES + dedent(failed).split("\n", 1)[1])
    else:
        c.write("spoke/campaign-71-messages.csv", SPOKE_MESSAGES)
        c.write("spoke/campaign-71-messages-2.csv", failed)
    result = c.sync()
    assert result.rows_rejected == 0
    assert c.unkeyed(f"SELECT attempt_id, {utc('attempted_at')} FROM contact_attempt") == [
        ("spoke:71:+16175550105", "2026-08-20 15:00"),
        ("spoke:71:+16175550106", "2026-08-20 15:01"),
        ("spoke:71:+16175550109", "2026-08-21 09:00"),
    ]
    notes = {f.file: (f.rows_read, f.rows_kept, f.notes) for f in result.files}
    unsent = "campaign-71-messages.csv" if files == 1 else "campaign-71-messages-2.csv"
    read, kept, said = notes[f"spoke/{unsent}"]
    assert (read - kept, len(said)) == (3, 1)
    assert said[0].startswith(
        "3 outgoing text(s) were not sent (sendStatus ERROR: 2, QUEUED: 1) and were left "
        "out: they are not contact attempts and do not count in the reply rate"
    )
    if files == 2:
        assert notes["spoke/campaign-71-messages.csv"] == (4, 4, [])


def test_files_of_one_table_are_read_as_one(make_cohort):
    """Two campaigns' Spoke exports (columns in other orders, other questions, a
    question spelled in another case) and two VAN persons tables (one without email,
    with CellPhone and Zip) are typed in one statement per table: each row keeps its
    file's number and line, each file its own questions, unknown columns and rejects."""
    import hashlib

    c = make_cohort("- {kind: spoke, path: spoke}\n- {kind: van, path: van}")
    c.write(
        "spoke/campaign-71-contacts.csv",
        """\
        campaignId,campaign,texter[firstName],texter[lastName],contact[firstName],contact[lastName],contact[cell],contact[messageStatus],question[Will you come?],tags
        71,Kickoff,Sam,Rivera,Hal,Ito,+16175550105,convo,Yes,hot
        """,
    )
    c.write(
        "spoke/campaign-71-messages.csv",
        """\
        campaignId,contactNumber,isFromContact,attemptedAt,text
        71,+16175550105,false,2026-08-20T15:00:00Z,Hi!
        71,+16175550105,true,2026-08-20T15:30:00Z,yes
        """,
    )
    c.write(
        "spoke/campaign-72-contacts.csv",
        """\
        campaign,campaignId,contact[cell],contact[firstName],contact[lastName],contact[messageStatus],texter[firstName],texter[lastName],Question[will you come?],question[Bring a friend?],tags
        Phonebank,72,+16175550106,Ida,Jo,convo,Sam,Rivera,No,Maybe,cold
        Phonebank,72,not a phone,Kim,Le,convo,Sam,Rivera,,,
        """,
    )
    c.write(
        "spoke/campaign-72-messages.csv",
        """\
        contactNumber,campaignid,isFromContact,attemptedAt,text
        +16175550106,72,false,2026-08-21T10:00:00Z,Hi
        +16175550106,72,true,2026-08-21T10:05:00Z,no
        (617) 555-0107,72,false,yesterday,Hi
        """,
    )
    c.write(
        "van/persons.csv",
        """\
        vanid,firstname,lastname,email,phone,zip5,datecreated
        101,Ana,Diaz,ana@x.org,617-555-0101,02139,2026-01-05
        102,Bo,Lee,,,02140,soon
        """,
    )
    c.write(
        "van/persons-voters.csv",
        """\
        VANID,FirstName,LastName,CellPhone,Zip,DateCreated,Ward
        103,Cy,Ng,(617) 555-0103,02141,01/07/2026,5
        """,
    )
    result = c.sync()
    assert c.rejects() == [
        (
            "spoke/campaign-72-contacts.csv",
            3,
            "contact[cell]",
            "contact[cell] is not a phone number",
        ),
        ("spoke/campaign-72-messages.csv", 4, "attemptedAt", BAD_DATE),
        ("van/persons.csv", 3, "datecreated", BAD_DATE),
    ]
    figures = {f.file: (f.rows_read, f.rows_rejected, f.unknown_columns) for f in result.files}
    assert figures["van/persons-voters.csv"] == (1, 0, ["Ward"])
    assert figures["spoke/campaign-72-contacts.csv"] == (2, 1, [])

    def q(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()[:10]

    assert c.unkeyed(
        f"""SELECT activity_id, result, {utc("occurred_at")} FROM activity
            WHERE type = 'survey_response'"""
    ) == sorted(
        [
            (f"spoke:q:71:+16175550105:{q('Will you come?')}", "Yes", "2026-08-20 15:30"),
            (f"spoke:q:72:+16175550106:{q('will you come?')}", "No", "2026-08-21 10:05"),
            (f"spoke:q:72:+16175550106:{q('Bring a friend?')}", "Maybe", "2026-08-21 10:05"),
        ]
    )
    assert c.unkeyed(
        f"SELECT attempt_id, campaign, {utc('attempted_at')} FROM contact_attempt"
    ) == [
        ("spoke:71:+16175550105", "71 Kickoff", "2026-08-20 15:00"),
        ("spoke:72:+16175550106", "72 Phonebank", "2026-08-21 10:00"),
    ]
    assert c.unkeyed(
        """SELECT i.source, i.source_id, f.field, f.value FROM custom_field f
           JOIN identity i USING (org_id, person_id)"""
    ) == [
        ("spoke", "+16175550105", "tags", "hot"),
        ("spoke", "+16175550106", "tags", "cold"),
        ("van", "103", "Ward", "5"),
    ]
    assert c.query(
        """SELECT i.source_id, p.email, p.phone, s.zip FROM identity i
           JOIN person_pii p USING (org_id, person_id) JOIN person s USING (org_id, person_id)
           WHERE i.source = 'van' ORDER BY 1"""
    ) == [("101", "ana@x.org", "+16175550101", "02139"), ("103", None, "+16175550103", "02141")]


def test_action_builder(make_cohort):
    c = make_cohort("- {kind: action_builder, path: ab}")
    entity = {
        "identifiers": ["action_builder:ent-1"],
        "created_date": "2025-02-01T00:00:00Z",
        "modified_date": "2026-08-01T00:00:00Z",
        "given_name": "Kai",
        "family_name": "Lu",
        "email_addresses": [{"address": "kai@example.org"}],
        "action_builder:latest_assessment": 4,
        "action_builder:latest_assessment_date": "2026-07-15T12:00:00Z",
    }
    other = {
        "identifiers": ["action_builder:ent-2"],
        "created_date": "2025-02-02T00:00:00Z",
        "given_name": "Lia",
    }
    c.write("ab/entities-1.json", _osdi("osdi:people", [entity, other]))
    result = c.sync()
    assert result.rows_read == 2 and result.rows_rejected == 0
    assert c.query(f"SELECT activity_id, type, score, {utc('occurred_at')} FROM activity") == [
        ("ab:assess:ent-1:20260715120000", "assessment", 4.0, "2026-07-15 12:00")
    ]


def test_action_builder_assessment_dates(make_cohort):
    """Action Builder dates an assessment in latest_assessment_created_date (its API
    docs' person responses). Read as the entity's modified_date, each export after any
    edit of the entity (a tag, a phone) added the same assessment again, later."""
    c = make_cohort("- {kind: action_builder, path: ab}")
    dated = {
        "identifiers": ["action_builder:ent-1"],
        "modified_date": "2026-08-01T00:00:00Z",
        "action_builder:entity_type": "person",
        "action_builder:latest_assessment": 4,
        "action_builder:latest_assessment_created_date": "2026-07-15T12:00:00.123Z",
    }
    undated = {
        "identifiers": ["action_builder:ent-2"],
        "modified_date": "2026-06-01T10:00:00Z",
        "action_builder:latest_assessment": 2,
    }
    c.write("ab/entities-1.json", _osdi("osdi:people", [dated, undated]))
    result = c.sync()
    assert result.files[0].unknown_columns == []
    edited = [
        dict(dated, modified_date="2026-09-01T00:00:00Z"),
        dict(undated, modified_date="2026-07-01T10:00:00Z"),
    ]
    c.write("ab/entities-2.json", _osdi("osdi:people", edited))
    c.sync()
    assert c.query(f"SELECT activity_id, score, {utc('occurred_at')} FROM activity ORDER BY 1") == [
        ("ab:assess:ent-1:20260715120000", 4.0, "2026-07-15 12:00"),
        ("ab:assess:ent-2:score-2.0", 2.0, "2026-07-01 10:00"),
    ]


def test_action_builder_uses_the_subscribed_email_and_the_mobile(make_cohort):
    """An Action Builder entity keeps work and personal addresses, each with its status,
    and marks none primary. The first was used (here the work address the member
    unsubscribed), so the member was not matched with the Action Network person who
    has the personal address, and read as not to be emailed or texted."""
    c = make_cohort("- {kind: action_builder, path: ab}\n- {kind: action_network_api, path: an}")
    entity = {
        "identifiers": ["action_builder:ent-1"],
        "action_builder:entity_type": "Person",
        "email_addresses": [
            {"address": "klu@employer.com", "address_type": "Work", "status": "unsubscribed"},
            {"address": "kai.lu@gmail.com", "address_type": "Personal", "status": "subscribed"},
        ],
        "phone_numbers": [
            {"number": "6175550000", "number_type": "Work", "status": "unsubscribed"},
            {"number": "6175550123", "number_type": "Mobile", "status": "subscribed"},
        ],
    }
    primary = {
        "identifiers": ["action_builder:ent-2"],
        "email_addresses": [
            {"address": "a@example.org", "status": "subscribed"},
            {"address": "b@example.org", "primary": True, "status": "unsubscribed"},
        ],
    }
    person = {
        "identifiers": ["action_network:p-9"],
        "email_addresses": [{"primary": True, "address": "kai.lu@gmail.com"}],
    }
    c.write("ab/entities-1.json", _osdi("osdi:people", [entity, primary]))
    c.write("an/people-1.json", _osdi("osdi:people", [person]))
    c.sync()
    assert c.query("SELECT count(DISTINCT person_id) FROM identity") == [(2,)]
    assert c.query(
        """SELECT p.email, p.phone, s.email_ok, s.sms_ok FROM person_pii p
           JOIN person s USING (org_id, person_id) ORDER BY 1"""
    ) == [
        ("b@example.org", None, False, None),
        ("kai.lu@gmail.com", "+16175550123", True, True),
    ]


AB_WORKSITE = {
    "identifiers": ["action_builder:ws-1"],
    "created_date": "2025-02-01T00:00:00Z",
    "action_builder:entity_type": "Worksite",
    "action_builder:name": "Main St Warehouse",
    "phone_numbers": [{"number": "6175550000", "number_type": "Work"}],
}


def test_action_builder_reads_people_not_workplaces(make_cohort):
    """Action Builder's people endpoint returns every entity of a campaign. A worksite
    or a union local was a new person, and a worksite's switchboard number merged it
    with every worker who gave that number."""
    c = make_cohort("- {kind: action_builder, path: ab}")
    worker = {
        "identifiers": ["action_builder:ent-1"],
        "created_date": "2025-02-01T00:00:00Z",
        "action_builder:entity_type": "person",
        "given_name": "Kai",
        "phone_numbers": [{"number": "6175550000"}],
    }
    untyped = {"identifiers": ["action_builder:ent-2"], "given_name": "Lia"}
    local = {"identifiers": ["action_builder:loc-1"], "action_builder:entity_type": "Union Local"}
    second = dict(AB_WORKSITE, identifiers=["action_builder:ws-2"])
    c.write(
        "ab/entities-1.json", _osdi("osdi:people", [worker, AB_WORKSITE, untyped, local, second])
    )
    result = c.sync()
    assert (result.rows_read, result.files[0].rows_kept, result.rows_rejected) == (5, 2, 0)
    assert result.files[0].notes == [
        "3 entities are not people (Worksite: 2, Union Local: 1) and were not read; if a "
        "type names people, list it in this source's entity_types in cohort.yml (now: Person)"
    ]
    assert c.table("identity", "source_id") == [("ent-1",), ("ent-2",)]
    assert c.query("SELECT count(*) FROM person") == [(2,)]


def test_action_builder_entity_types_name_the_people(make_cohort):
    c = make_cohort("- {kind: action_builder, path: ab, entity_types: [Member, Worksite]}")
    c.write("ab/entities-1.json", _osdi("osdi:people", [AB_WORKSITE]))
    result = c.sync()
    assert (result.files[0].rows_kept, result.files[0].notes) == (1, [])
    assert c.table("identity", "source_id") == [("ws-1",)]


def test_generic_csv_windows_1252_excel_dates(make_cohort):
    c = make_cohort(
        """
        - kind: generic_csv
          path: roster.csv
          activity_type: attendance
          columns: {person_id: Member ID, first_name: First, email: Email, phone: Cell, occurred_at: Meeting Date, event: Meeting}
        """
    )
    text = (
        "Member ID,First,Email,Cell,Meeting Date,Meeting,Notes\r\n"
        "HY1,José,jose@example.org,(617) 555-0108,46253,Youth council,brought a friend\r\n"
        "HY1,José,jose@example.org,(617) 555-0108,2026-08-12,Art build,\r\n"
        "HY2,Zoë,,6175550109.0,46254,Youth council,\r\n"
        ",,,,,,\r\n,,,,,,\r\n"
    )
    c.write("roster.csv", text.encode("cp1252"))
    result = c.sync()
    assert (result.rows_read, result.rows_rejected) == (3, 0)
    assert result.files[0].notes == ["read as Windows-1252 text (not UTF-8)"]
    assert result.files[0].unknown_columns == ["Notes"]
    assert c.query("SELECT first_name, phone FROM person_pii ORDER BY 1") == [
        ("José", "+16175550108"),
        ("Zoë", "+16175550109"),
    ]
    acts = c.query(
        f"""SELECT i.source_id, a.type, a.status, a.attended, a.role, {utc("a.occurred_at")}
            FROM activity a JOIN identity i USING (org_id, person_id) ORDER BY 1, 6"""
    )
    assert acts == [
        ("HY1", "attendance", "completed", True, "attendee", "2026-08-12 04:00"),
        ("HY1", "attendance", "completed", True, "attendee", "2026-08-19 04:00"),
        ("HY2", "attendance", "completed", True, "attendee", "2026-08-20 04:00"),
    ]
    assert c.query("SELECT count(*) FROM event") == [(3,)]


def test_generic_csv_type_column_wins_over_activity_type(make_cohort):
    """With both, the sheet's type column was ignored: a "One on One" row was read as an
    attendance. The column gives each row's type; activity_type fills its empty cells."""
    c = make_cohort(
        """
        - kind: generic_csv
          path: roster.csv
          activity_type: attendance
          columns: {person_id: ID, occurred_at: Date, type: Activity, event: Event}
        """
    )
    c.write(
        "roster.csv",
        "ID,Date,Activity,Event\n"
        "A1,2026-04-03,One on One,\n"
        "A2,2026-04-04,,Council\n"
        "A3,2026-04-05,Donation,\n",
    )
    result = c.sync()
    assert (result.rows_read, result.rows_rejected) == (3, 0), c.rejects()
    acts = c.query(
        """SELECT i.source_id, a.type FROM activity a
           JOIN identity i USING (org_id, person_id) ORDER BY 1"""
    )
    assert acts == [("A1", "one_on_one"), ("A2", "attendance"), ("A3", "donation")]


DAY_FIRST_SOURCE = """
    - kind: generic_csv
      path: roster.csv
      activity_type: attendance
      columns: {person_id: Member ID, occurred_at: Meeting Date, event: Meeting, recorded_at: Entered}
    """


def test_generic_csv_day_first_dates_are_read_day_first(make_cohort):
    """A sheet typed day first: 13/04/2026 can only be April 13, so 03/04/2026 is April 3
    (read month first it was March 4, silently, and the 13th-31st were rejected)."""
    c = make_cohort(DAY_FIRST_SOURCE)
    c.write(
        "roster.csv",
        "Member ID,Meeting Date,Meeting,Entered\n"
        "A1,03/04/2026,Council,05/04/2026 18:30\n"
        "A2,13/04/2026,Council,\n"
        "A3,2026-04-25,Council,\n",
    )
    result = c.sync()
    assert (result.rows_read, result.rows_rejected) == (3, 0), c.rejects()
    assert result.files[0].notes == [
        "dates read day first (DD/MM/YYYY): 1 value(s) such as '13/04/2026' are only valid "
        "that way; set date_format: '%d/%m/%Y' on this source in cohort.yml to say so"
    ]
    acts = c.query(
        f"""SELECT i.source_id, {utc("a.occurred_at")}, {utc("a.recorded_at")}
            FROM activity a JOIN identity i USING (org_id, person_id) ORDER BY 1"""
    )
    # the organization's time zone is New York (UTC-4 in April)
    assert acts == [
        ("A1", "2026-04-03 04:00", "2026-04-05 22:30"),
        ("A2", "2026-04-13 04:00", None),
        ("A3", "2026-04-25 04:00", None),
    ]


def test_generic_csv_date_format(make_cohort):
    c = make_cohort(
        """
        - kind: generic_csv
          path: roster.csv
          activity_type: attendance
          date_format: '%d.%m.%Y'
          columns: {person_id: Member ID, occurred_at: Meeting Date}
        """
    )
    # A3, A4: cells Excel saved as serial day numbers (46235 is 1 August 2026; .75 of a
    # day is 6 PM), read as such whatever the format (they were rejected)
    c.write(
        "roster.csv",
        "Member ID,Meeting Date\nA1,03.04.2026\nA2,2026-04-05\nA3,46235\nA4,46235.75\n",
    )
    result = c.sync()
    assert result.rows_rejected == 1
    assert c.rejects() == [
        (
            "roster.csv",
            3,
            "Meeting Date",
            "date does not match this source's date_format '%d.%m.%Y' "
            "(nor is it an Excel serial day number)",
        )
    ]
    # New York: UTC-4 in April and August
    assert c.query(f"SELECT {utc('occurred_at')} FROM activity ORDER BY 1") == [
        ("2026-04-03 04:00",),
        ("2026-08-01 04:00",),
        ("2026-08-01 22:00",),
    ]


def test_generic_csv_day_first_two_digit_years(make_cohort):
    c = make_cohort(DAY_FIRST_SOURCE)
    c.write(
        "roster.csv",
        "Member ID,Meeting Date,Meeting,Entered\nA1,13/04/26,Council,\nA2,03/04/26,Council,\n",
    )
    assert c.sync().rows_rejected == 0, c.rejects()
    dates = c.query(f"SELECT {utc('occurred_at')} FROM activity ORDER BY 1")
    assert dates == [("2026-04-03 04:00",), ("2026-04-13 04:00",)]  # not the year 26


def test_generic_csv_dates_written_both_ways_stay_month_first(make_cohort):
    c = make_cohort(DAY_FIRST_SOURCE)
    c.write(
        "roster.csv",
        "Member ID,Meeting Date,Meeting,Entered\nA1,04/13/2026,Council,\n"
        "A2,13/04/2026,Council,\nA3,03/04/2026,Council,\n",
    )
    result = c.sync()
    assert result.rows_rejected == 1
    assert c.rejects()[0][1:3] == (3, "Meeting Date")  # 13/04/2026, on line 3
    [note] = result.files[0].notes
    assert note.startswith("dates are written both ways ('04/13/2026' is month first, ")
    assert "set date_format on this source" in note
    dates = c.query(f"SELECT {utc('occurred_at')} FROM activity ORDER BY 1")
    assert dates == [("2026-03-04 05:00",), ("2026-04-13 04:00",)]


def test_generic_csv_dates_that_read_both_ways_are_read_month_first_and_said(make_cohort):
    """Slash dates none of which tells the order (03/04/2026, 05/06/2026) are read month
    first, as the README says, and the sync report says so (it said nothing: a sheet
    typed day first, in the first twelve days of its months, was read on the wrong
    month without a word). A sheet whose dates show month first needs no note."""
    c = make_cohort(DAY_FIRST_SOURCE)
    c.write(
        "roster.csv",
        "Member ID,Meeting Date,Meeting,Entered\nA1,03/04/2026,Council,\n"
        "A2,05/06/2026,Council,05/06/2026 18:30\nA3,2026-04-25,Council,\n",
    )
    result = c.sync()
    assert result.rows_rejected == 0, c.rejects()
    assert result.files[0].notes == [
        "dates read month first (MM/DD/YYYY), as US tools write them: none of the 3 slash "
        "date(s), such as '03/04/2026', shows which comes first; if the sheet writes the day "
        "first, set date_format: '%d/%m/%Y' on this source in cohort.yml"
    ]
    dates = c.query(f"SELECT {utc('occurred_at')} FROM activity ORDER BY 1")
    assert dates == [("2026-03-04 05:00",), ("2026-04-25 04:00",), ("2026-05-06 04:00",)]
    c = make_cohort(DAY_FIRST_SOURCE)
    c.write(
        "roster.csv",
        "Member ID,Meeting Date,Meeting,Entered\nA1,03/04/2026,Council,\nA2,04/13/2026,Council,\n",
    )
    assert c.sync().files[0].notes == []


def test_amounts_with_a_decimal_comma(make_cohort):
    """Amounts from a spreadsheet in a locale with decimal commas: 12,50 is twelve and a
    half (every comma was stripped: 1250), while 1,015 still groups thousands."""
    c = make_cohort(
        """
        - kind: generic_csv
          path: dues.csv
          activity_type: donation
          columns: {person_id: ID, occurred_at: Paid, amount: Amount}
        """
    )
    c.write(
        "dues.csv",
        'ID,Paid,Amount\nA1,2026-04-01,"12,50"\nA2,2026-04-01,"1.234,56"\n'
        'A3,2026-04-01,"$1,015.00"\nA4,2026-04-01,"1,015"\nA5,2026-04-01,€ 7\n'
        "A6,2026-04-01,ten\n",
    )
    result = c.sync()
    assert c.rejects() == [("dues.csv", 7, "Amount", "amount is not a number")]
    assert result.rows_rejected == 1
    amounts = c.query(
        "SELECT i.source_id, a.amount FROM activity a JOIN identity i USING (org_id, person_id) "
        "ORDER BY 1"
    )
    assert amounts == [("A1", 12.5), ("A2", 1234.56), ("A3", 1015.0), ("A4", 1015.0), ("A5", 7.0)]


def test_unreadable_emails_and_phones_are_counted_not_dropped_silently(make_cohort):
    """A UK mobile written without +44, a seven-digit number and two broken addresses:
    the people are kept without them (they cannot match anyone), and the sync says how
    many of each column it could not read, without the values (it said nothing)."""
    c = make_cohort(
        """
        - kind: generic_csv
          path: roster.csv
          activity_type: attendance
          columns: {person_id: Member ID, phone: Cell, email: Email, occurred_at: Meeting Date}
        """
    )
    c.write(
        "roster.csv",
        "Member ID,Cell,Email,Meeting Date\n"
        "A1,07700 900123,ann@example,2026-04-01\n"
        "A2,555-0199,bo@@example.org,2026-04-01\n"
        "A3,+44 7700 900124,cy@example.org,2026-04-01\n"
        "A4,,,2026-04-01\n"
        ",07700 900125,,2026-04-01\n",  # rejected (no person): not counted again
    )
    result = c.sync()
    assert result.rows_rejected == 1
    assert result.files[0].notes == [
        "2 value(s) of 'Email' " + UNREAD_CONTACT["email"],
        "2 value(s) of 'Cell' " + UNREAD_CONTACT["phone"],
    ]
    assert "07700" not in " ".join(result.files[0].notes)
    assert c.query("SELECT email, phone FROM person_pii WHERE phone IS NOT NULL") == [
        ("cy@example.org", "+447700900124")
    ]


def test_van_and_action_network_say_so_too(make_cohort):
    c = make_cohort("- {kind: van, path: van}\n- {kind: action_network_csv, path: an}")
    files = {k: v for k, v in VAN_FILES.items() if k != "van/contributions.csv"}
    files["van/persons.csv"] = files["van/persons.csv"].replace("617-555-0104", "555-0104")
    for rel, text in files.items():
        c.write(rel, text)
    c.write("an/report.csv", "uuid,email,can2_phone\nu1,dee@example,617-555-0101\n")
    result = c.sync()
    notes = {f.file: f.notes for f in result.files}
    assert notes["van/persons.csv"] == ["1 value(s) of 'phone' " + UNREAD_CONTACT["phone"]]
    assert notes["an/report.csv"] == ["1 value(s) of 'email' " + UNREAD_CONTACT["email"]]


def test_a_sheet_that_ticks_who_came(make_cohort):
    """A sign-up sheet whose 'Came' column is ticked for who came: the blanks did not come
    (every row counted as attended, and the show rate was 100%); a value that is not a
    yes or no is rejected, not read as attended."""
    c = make_cohort(
        """
        - kind: generic_csv
          path: roster.csv
          activity_type: attendance
          columns: {person_id: Member ID, occurred_at: Meeting Date, event: Meeting, attended: Came}
        """
    )
    c.write(
        "roster.csv",
        "Member ID,Meeting Date,Meeting,Came\n"
        "A1,2026-04-01,Council,x\nA2,2026-04-01,Council,\nA3,2026-04-01,Council,✓\n"
        "A4,2026-04-01,Council,no\nA5,2026-04-01,Council,maybe\n",
    )
    result = c.sync()
    assert c.rejects() == [
        (
            "roster.csv",
            6,
            "Came",
            "attended is not a yes or no (expected yes/no, true/false, y/n, 1/0, "
            "present/absent, or x or ✓ for yes)",
        )
    ]
    assert result.files[0].notes == [
        "1 row(s) have no mark in 'Came': read as did not come (no show), as the column "
        "marks who came"
    ]
    rows = c.query(
        "SELECT i.source_id, a.status, a.attended FROM activity a "
        "JOIN identity i USING (org_id, person_id) ORDER BY 1"
    )
    assert rows == [
        ("A1", "completed", True),
        ("A2", "no_show", False),
        ("A3", "completed", True),
        ("A4", "no_show", False),
    ]


def test_generic_csv_utf8_with_lines_saved_as_windows_1252(make_cohort):
    """A UTF-8 export with rows added in a program that saved them as Windows-1252: the
    UTF-8 stays as it is and only the bytes that are not UTF-8 are read as Windows-1252
    (read whole as Windows-1252, "José" became "JosÃ©"); no byte is lost, not even one
    Windows-1252 leaves undefined (kept as its Latin-1 character)."""
    c = make_cohort(
        """
        - kind: generic_csv
          path: roster.csv
          activity_type: attendance
          columns: {person_id: Member ID, first_name: First, occurred_at: Meeting Date, event: Meeting}
        """
    )
    data = (
        "Member ID,First,Meeting Date,Meeting\n1,José,2026-08-12,Reunión\n".encode()
        + "2,Zoë,2026-08-13,Año nuevo\n".encode("cp1252")
        + b"3,Odd\x81Byte,2026-08-14,Plain\n"
    )
    c.write("roster.csv", data)
    result = c.sync()
    assert (result.rows_read, result.rows_rejected) == (3, 0)
    # ë, ñ and 0x81: three bytes that are not UTF-8
    assert result.files[0].notes == [
        "read as UTF-8 with 3 byte(s) that are not UTF-8 read as Windows-1252 (parts of "
        "the file were saved by another program)"
    ]
    assert c.query("SELECT first_name FROM person_pii ORDER BY 1") == [
        ("José",),
        ("Odd\x81Byte",),
        ("Zoë",),
    ]
    assert c.query("SELECT title FROM event ORDER BY 1") == [
        ("Año nuevo",),
        ("Plain",),
        ("Reunión",),
    ]


def test_generic_csv_windows_1252_with_a_byte_it_leaves_undefined(make_cohort):
    """Windows-1252 throughout, with one of the five bytes it leaves undefined: read as
    its Latin-1 character, not refused (the row was lost with the whole file before)."""
    c = make_cohort(
        """
        - kind: generic_csv
          path: roster.csv
          activity_type: attendance
          columns: {person_id: Member ID, first_name: First, occurred_at: Meeting Date}
        """
    )
    c.write(
        "roster.csv",
        "Member ID,First,Meeting Date\n1,Zoë,2026-08-13\n".encode("cp1252")
        + b"2,A\x9dB,2026-08-14\n",
    )
    result = c.sync()
    assert result.files[0].notes == ["read as Windows-1252 text (not UTF-8)"]
    assert c.query("SELECT first_name FROM person_pii ORDER BY 1") == [("A\x9dB",), ("Zoë",)]


def test_a_csv_utf8_with_its_mark_in_a_windows_1252_source_is_read_as_utf8(make_cohort):
    """A source set to Windows-1252 for its older exports gets one saved as "CSV UTF-8"
    (a byte-order mark, quoted line breaks written CRLF): read as Windows-1252, the mark
    became "ï»¿" before "uuid" (an unknown column, kept as a custom field, and Zoë named
    by the hash of her email instead of her uuid) and "Zoë" became "ZoÃ«". The mark
    says UTF-8: the file is read so, and the note says why."""
    c = make_cohort("- {kind: action_network_csv, path: an, encoding: windows-1252}")
    head = (
        "uuid,first_name,last_name,email,zip_code,can2_phone,can2_sms_status,"
        "can2_subscription_status,can2_subscription_date,Volunteer interest\r\n"
    )
    c.write(
        "an/a1.csv",
        (
            head + "u1,José,Díaz,jose@x.org,02139,,subscribed,subscribed,2026-01-05,canvass\r\n"
        ).encode("cp1252"),
    )
    c.write(
        "an/a2.csv",
        b"\xef\xbb\xbf"
        + (
            head + 'u2,Zoë,Ñúñez,zoe@x.org,02139,,subscribed,subscribed,2026-01-06,"café\r\n'
            'after work"\r\n'
        ).encode(),
    )
    result = c.sync()
    assert (result.rows_read, result.rows_rejected) == (2, 0)
    notes = {f.file: f.notes for f in result.files}
    assert notes == {
        "an/a1.csv": [],
        "an/a2.csv": [
            "read as UTF-8, not as this source's encoding windows-1252: the file starts "
            "with UTF-8's byte-order mark (saved as 'CSV UTF-8')"
        ],
    }
    assert c.query(
        """SELECT i.source_id, p.first_name, p.last_name FROM identity i
           JOIN person_pii p USING (org_id, person_id) ORDER BY 1"""
    ) == [("u1", "José", "Díaz"), ("u2", "Zoë", "Ñúñez")]
    assert c.query("SELECT source_id, field, value FROM custom_field ORDER BY 1") == [
        ("u1", "Volunteer interest", "canvass"),
        ("u2", "Volunteer interest", "café\nafter work"),
    ]


def test_identity_across_tools(make_cohort):
    """Same person in two tools with different email case and phone formatting."""
    c = make_cohort("- {kind: action_network_csv, path: an}\n- {kind: mobilize, path: mobilize}")
    c.write(
        "an/activists.csv",
        """\
        uuid,first_name,last_name,email,zip_code,can2_phone
        u9,Di,Oh,DI@EXAMPLE.ORG ,02142,
        u8,Mo,Ze,mo@example.org,02142,(617) 555-0103
        """,
    )
    page = {"count": 1, "next": None, "data": [MOBILIZE_PAGE["data"][0]]}
    c.write("mobilize/p1.json", page)
    c.sync()
    # Mobilize's Di (di@example.org, 617.555.0103) matches u9 by email AND u8 by phone:
    # one connected component, so one person for all three records
    rows = c.query(
        "SELECT person_id, list(source || ':' || source_id ORDER BY source, source_id) "
        "FROM identity GROUP BY 1"
    )
    assert sorted(r[1] for r in rows) == [
        ["action_network:u8", "action_network:u9", "mobilize:501"]
    ]


@pytest.mark.parametrize("batch_bytes", [64 << 20, 1], ids=["one-batch", "page-per-batch"])
def test_action_network_pages_named_anything_are_read_by_their_collection(
    make_cohort, monkeypatch, batch_bytes
):
    """Pages saved as page-1.json, page-2.json...: the `_embedded` key says what they hold;
    a page's records are numbered in order across the pages of one file, also when the
    pages are unnested in separate batches (as a large export's are)."""
    from cyclebook.sync import stage

    monkeypatch.setattr(stage, "JSON_BATCH_BYTES", batch_bytes)
    c = make_cohort("- {kind: action_network_api, path: api}")
    person = {"identifiers": ["action_network:p-1"], "email_addresses": [{"address": "a@x.org"}]}
    c.write("api/page-1.json", _osdi("osdi:people", [person]))
    gifts = [
        {
            "identifiers": [f"action_network:d-{i}"],
            "created_date": f"2025-05-0{i}T10:00:00Z",
            "amount": f"{i}.00",
            "action_network:person_id": "p-1",
        }
        for i in (1, 2, 3)
    ]
    del gifts[2]["created_date"]  # rejected: its line is its place in the file (3)
    # two pages in one file (newline-delimited)
    c.write(
        "api/page-2.json",
        json.dumps(_osdi("osdi:donations", gifts[:2]))
        + "\n"
        + json.dumps(_osdi("osdi:donations", gifts[2:])),
    )
    result = c.sync()
    assert [(f.file, f.role, f.rows_read) for f in result.files] == [
        ("api/page-1.json", "people", 1),
        ("api/page-2.json", "donations", 3),
    ]
    assert c.table("activity", "source_id, type, amount", order="source_id") == [
        ("d-1", "donation", 1.0),
        ("d-2", "donation", 2.0),
    ]
    assert c.rejects() == [("api/page-2.json", 3, "created_date", "missing created_date")]


def test_configured_encoding_is_read_in_pieces(make_cohort, monkeypatch):
    """An export in a multi-byte encoding is rewritten as UTF-8 a piece at a time; a
    character cut between two pieces is still read whole."""
    from cyclebook.sync import stage

    monkeypatch.setattr(stage, "TRANSCODE_PIECE_BYTES", 5)
    c = make_cohort(
        """
        - kind: generic_csv
          path: roster.csv
          encoding: shift_jis
          activity_type: attendance
          columns: {person_id: ID, first_name: First, last_name: Last, occurred_at: Date}
        """
    )
    text = "ID,First,Last,Date\r\nJ1,花子,山田,2026-08-12\r\nJ2,太郎,佐藤,2026-08-13\r\n"
    c.write("roster.csv", text.encode("shift_jis"))
    result = c.sync()
    assert (result.rows_read, result.rows_rejected) == (2, 0)
    assert c.query("SELECT first_name, last_name FROM person_pii ORDER BY 1") == [
        ("太郎", "佐藤"),
        ("花子", "山田"),
    ]


def test_pages_are_batched_by_their_size():
    from cyclebook.sync.stage import _batches

    sizes = [(0, 40), (1, 50), (2, 10), (3, 200), (4, 5), (5, None)]
    assert _batches(sizes, 100) == [(0, 2), (3, 3), (4, 5)]  # 40 + 50 + 10 fit in 100
    assert _batches(sizes, 99) == [(0, 1), (2, 2), (3, 3), (4, 5)]
    assert _batches(sizes, 1000) == [(0, 5)]
    assert _batches([], 100) == []


@pytest.mark.parametrize("batch_bytes", [64 << 20, 1], ids=["one-batch", "page-per-batch"])
def test_a_files_collection_is_named_by_its_first_page_that_has_one(
    make_cohort, monkeypatch, batch_bytes
):
    """A file whose first page is empty (no records, nothing under `_embedded`) is still
    known by the collection of its next page, however the pages are batched."""
    from cyclebook.sync import stage

    monkeypatch.setattr(stage, "JSON_BATCH_BYTES", batch_bytes)
    c = make_cohort("- {kind: action_network_api, path: api}")
    person = {"identifiers": ["action_network:p-1"], "email_addresses": [{"address": "a@x.org"}]}
    c.write("api/people.json", _osdi("osdi:people", [person]))
    gift = {
        "identifiers": ["action_network:d-1"],
        "created_date": "2025-05-01T10:00:00Z",
        "amount": "5.00",
        "action_network:person_id": "p-1",
    }
    empty = {"total_pages": 2, "page": 1, "_embedded": {}}
    c.write(
        "api/export.json",
        json.dumps(empty) + "\n" + json.dumps(_osdi("osdi:donations", [gift])),
    )
    result = c.sync()
    assert [(f.file, f.role, f.rows_read) for f in result.files] == [
        ("api/export.json", "donations", 1),
        ("api/people.json", "people", 1),
    ]
    assert c.table("activity", "source_id, type, amount") == [("d-1", "donation", 5.0)]


def test_permissions_an_export_does_not_give_stay_as_they_were(make_cohort):
    """A blank Action Network status, or a report built without the status columns, read
    as 'not subscribed' and overwrote an earlier export's 'subscribed'; a Spoke contact
    who did not opt out read as 'may be texted' and overwrote an unsubscribe made in
    Action Network. Unknown is now unknown, and what a tool did say stays."""
    c = make_cohort("- {kind: action_network_csv, path: an}\n- {kind: spoke, path: spoke}")
    c.write(
        "an/activists-1.csv",
        """\
        uuid,email,can2_phone,can2_subscription_status,can2_sms_status
        u1,ann@example.org,(617) 555-0105,subscribed,unsubscribed
        u2,bea@example.org,,,
        """,
    )
    c.write(
        "spoke/contacts.csv",
        "campaignId,campaign,contact[firstName],contact[cell],contact[optOut],contact[messageStatus]\n"
        "71,Kickoff,Ann,+16175550105,false,closed\n",
    )
    c.sync()
    permissions = """SELECT pii.email, p.email_ok, p.sms_ok FROM person p
        JOIN person_pii pii USING (org_id, person_id) ORDER BY 1"""
    assert c.query(permissions) == [
        ("ann@example.org", True, False),  # Spoke's contact is Ann (her cell): no override
        ("bea@example.org", None, None),  # blank statuses: unknown
    ]
    # a later report built without the status columns changes no permission
    c.write("an/activists-2.csv", "uuid,email\nu1,ann@example.org\nu2,bea@example.org\n")
    c.sync()
    assert c.query(permissions) == [
        ("ann@example.org", True, False),
        ("bea@example.org", None, None),
    ]


def test_a_spreadsheet_maps_what_people_allowed(make_cohort):
    """A sheet's 'OK to text?' and 'Do not contact' columns could not be mapped: they
    stayed custom fields, and the follow-up lists left no one out. A value that is not a
    yes or no is unknown, counted in a note; its row is kept."""
    c = make_cohort(
        """\
        - kind: generic_csv
          path: roster.csv
          activity_type: attendance
          columns: {email: Email, occurred_at: Date, email_ok: Emails OK, sms_ok: OK to text?,
                    do_not_contact: DNC}
        """
    )
    c.write(
        "roster.csv",
        """\
        Email,Date,Emails OK,OK to text?,DNC
        ann@example.org,2026-08-01,yes,no,
        bea@example.org,2026-08-01,Y,maybe,x
        cy@example.org,2026-08-01,,,no
        """,
    )
    result = c.sync()
    assert result.rows_rejected == 0
    assert result.files[0].notes == [
        "1 value(s) of 'OK to text?' are not a yes or no: read as unknown"
    ]
    assert c.query(
        """SELECT pii.email, p.email_ok, p.sms_ok, p.do_not_contact FROM person p
           JOIN person_pii pii USING (org_id, person_id) ORDER BY 1"""
    ) == [
        ("ann@example.org", True, False, None),
        ("bea@example.org", True, None, True),
        ("cy@example.org", None, None, False),
    ]
    assert c.query("SELECT count(*) FROM custom_field") == [(0,)]


def test_a_spreadsheets_activity_types_as_people_type_them(make_cohort):
    """Types such as "One on One", "one-on-one", "1:1" and "Survey Response" were
    rejected for not being written one_on_one and survey_response; a type that is none
    stays rejected."""
    c = make_cohort(
        """\
        - kind: generic_csv
          path: sheet.csv
          columns: {person_id: ID, occurred_at: Date, type: Type}
        """
    )
    c.write(
        "sheet.csv",
        """\
        ID,Date,Type
        1,2026-08-01,One on One
        2,2026-08-01,one-on-one
        3,2026-08-01,1:1
        4,2026-08-01,Survey  Response
        5,2026-08-01,DONATION
        6,2026-08-01,coffee
        """,
    )
    c.sync()
    assert c.query("SELECT type, count(*) FROM activity GROUP BY 1 ORDER BY 1") == [
        ("donation", 1),
        ("one_on_one", 3),
        ("survey_response", 1),
    ]
    assert [(line, column) for _, line, column, _ in c.rejects()] == [(7, "Type")]


# each attendance's status and mark, by the sheet's person id
ATTENDANCE_BY_ID = """SELECT i.source_id, a.status, a.attended FROM activity a
    JOIN identity i USING (org_id, person_id) ORDER BY 1"""


def test_a_sign_in_sheets_statuses_as_people_write_them(make_cohort):
    """A sheet of "Attended" and "Absent" had every row rejected ('unknown status'), and a
    status of completed did not count as attended for rungs that need it. Words people
    write are read; a word that is none is still rejected."""
    c = make_cohort(
        """\
        - kind: generic_csv
          path: sheet.csv
          activity_type: attendance
          columns: {person_id: ID, occurred_at: Date, status: Status}
        """
    )
    c.write(
        "sheet.csv",
        """\
        ID,Date,Status
        1,2026-08-01,Attended
        2,2026-08-01,No-show
        3,2026-08-01,RSVP'd
        4,2026-08-01,Walk-in
        5,2026-08-01,Canceled
        6,2026-08-01,Completed
        7,2026-08-01,
        8,2026-08-01,maybe
        """,
    )
    c.sync()
    assert c.query(ATTENDANCE_BY_ID) == [
        ("1", "completed", True),
        ("2", "no_show", False),
        ("3", "registered", None),
        ("4", "walk_in", True),
        ("5", "cancelled", None),
        ("6", "completed", True),
        ("7", "completed", True),  # no status on a sign-in sheet: came
    ]
    assert [(line, column) for _, line, column, _ in c.rejects()] == [(9, "Status")]


def test_an_action_network_signup_is_one_whatever_names_the_person(make_cohort):
    """An activist report names its signup by the uuid, or by the email when the report
    was built without the uuid column: such two exports gave one person two signups,
    two actions toward the ladder."""
    c = make_cohort("- {kind: action_network_csv, path: an}")
    c.write("an/activists-1.csv", "uuid,email,can2_subscription_date\nu1,ann@x.org,2026-01-05\n")
    c.sync()
    signups = "SELECT count(*) FROM activity WHERE type = 'signup'"
    assert c.query(signups) == [(1,)]
    c.write("an/activists-2.csv", "email,can2_subscription_date\nann@x.org,2026-01-05\n")
    c.sync()
    assert c.query(signups) == [(1,)]
    assert c.query("SELECT count(*) FROM person") == [(1,)]
    assert c.sync().status == "unchanged"
    # both in one sync, in a fresh store
    d = make_cohort("- {kind: action_network_csv, path: an}")
    d.write("an/a.csv", "email,can2_subscription_date\nann@x.org,2026-01-05\n")
    d.write("an/b.csv", "uuid,email,can2_subscription_date\nu1,ann@x.org,2026-01-05\n")
    d.sync()
    assert d.query(signups) == [(1,)]


def test_a_sheets_attended_column_in_words(make_cohort):
    """'Present' and 'Absent' in an attended column were rejected as not a yes or no."""
    c = make_cohort(
        """\
        - kind: generic_csv
          path: sheet.csv
          activity_type: attendance
          columns: {person_id: ID, occurred_at: Date, attended: Here?}
        """
    )
    c.write(
        "sheet.csv",
        """\
        ID,Date,Here?
        1,2026-08-01,Present
        2,2026-08-01,Absent
        3,2026-08-01,yes
        4,2026-08-01,No-show
        5,2026-08-01,maybe
        """,
    )
    c.sync()
    assert c.query(ATTENDANCE_BY_ID) == [
        ("1", "completed", True),
        ("2", "no_show", False),
        ("3", "completed", True),
        ("4", "no_show", False),
    ]
    assert [(line, column) for _, line, column, _ in c.rejects()] == [(6, "Here?")]


def test_an_email_with_a_full_stop_after_it_is_the_same_address(make_cohort):
    """An address pasted from a sentence ("ann@example.org.") was a second person."""
    c = make_cohort(
        """\
        - kind: generic_csv
          path: sheet.csv
          activity_type: attendance
          columns: {email: Email, occurred_at: Date}
        """
    )
    c.write("sheet.csv", "Email,Date\nAnn@Example.org.,2026-08-01\nann@example.org,2026-08-02\n")
    c.sync()
    assert c.query("SELECT email FROM person_pii") == [("ann@example.org",)]
    assert c.query("SELECT count(*) FROM activity") == [(2,)]


def test_mobilize_attendance_without_ids_is_kept(make_cohort):
    """Mobilize leaves out an attendance's id, and its event's id and title, when an
    independent organization reads an attendance at a coordinated organization's event
    (its API's Attendance object). Such attendances were rejected, their people with
    them; a person without user_id is named by its id."""
    c = make_cohort("- {kind: mobilize, path: mobilize}")
    coordinated = {
        "created_date": 1780000000,
        "modified_date": 1780000000,
        "person": {"id": 901, "email_addresses": [{"address": "gus@example.org"}]},
        "event": {"event_type": "CANVASS"},
        "timeslot": {"start_date": 1780050000, "end_date": 1780057200},
        "status": "REGISTERED",
        "attended": None,
    }
    c.write("mobilize/p1.json", {"count": 1, "next": None, "data": [coordinated]})
    result = c.sync()
    assert (result.rows_read, result.rows_rejected) == (1, 0)
    assert c.query("SELECT source_id FROM identity") == [("901",)]
    (activity,) = c.query(
        f"SELECT activity_id, status, event_id, {utc('occurred_at')} FROM activity"
    )
    assert activity[0].startswith("mobilize:att:s") and activity[1:] == (
        "registered",
        None,
        "2026-05-29 10:20",
    )
    # confirmed in a later export: the same attendance, not a second one
    later = dict(coordinated, modified_date=1780090000, status="CONFIRMED")
    c.write("mobilize/p2.json", {"count": 1, "next": None, "data": [later]})
    c.sync()
    assert c.query("SELECT activity_id, status FROM activity") == [(activity[0], "confirmed")]


def test_mobilize_attendance_without_status_is_a_signup(make_cohort):
    """Mobilize's attendance at a coordinated organization's event, read by an
    independent organization, has no status either (null, beside its null id, event id,
    title and timeslot id). It was rejected as an unknown status, and its person was in
    no table; it is a sign-up (registered), attendance not recorded. A status Mobilize
    does not give is still rejected."""
    c = make_cohort("- {kind: mobilize, path: mobilize}")
    record = {
        "id": None,
        "created_date": 1585860020,
        "modified_date": 1634071146,
        "status": None,
        "attended": None,
        "rating": None,
        "feedback": None,
        "custom_signup_field_values": [],
        "referrer": {"utm_source": None, "url": None},
        "person": {
            "id": 970647,
            "person_id": 970647,
            "user_id": 995233,
            "given_name": "Pat",
            "family_name": "Nailo",
            "email_addresses": [{"primary": True, "address": "pat@example.org"}],
            "phone_numbers": [{"primary": True, "number": "6175550123"}],
            "postal_addresses": [{"primary": True, "postal_code": "56220"}],
            "sms_opt_in_status": "UNSPECIFIED",
            "created_date": 1576831670,
            "modified_date": 1634070926,
            "blocked_date": 1634070923,
        },
        "timeslot": {"id": None, "start_date": 1585866600, "end_date": 1585873800},
        "event": {"id": None, "title": None, "event_type": "MEETING", "contact": None},
    }
    odd = dict(record, status="WAITLISTED", person=dict(record["person"], user_id=995234))
    c.write("mobilize/p1.json", {"count": 2, "next": None, "data": [record, odd]})
    result = c.sync()
    assert (result.rows_read, result.rows_rejected) == (2, 1)
    assert c.rejects() == [
        (
            "mobilize/p1.json",
            2,
            "status",
            "unknown status (expected REGISTERED, CONFIRMED or CANCELLED)",
        )
    ]
    assert c.query(
        f"""SELECT i.source_id, a.status, a.attended, a.event_id, {utc("a.occurred_at")}
            FROM activity a JOIN identity i USING (org_id, person_id)"""
    ) == [("995233", "registered", None, None, "2020-04-02 22:30")]


def test_mobilize_custom_signup_fields_are_kept(make_cohort):
    """A group's own sign-up questions on Mobilize (custom_signup_field_values, a text
    or a yes/no answer each) were dropped unread; they are the person's custom fields,
    as Action Network's are, the latest answer kept."""
    c = make_cohort("- {kind: mobilize, path: mobilize}")
    page = json.loads(json.dumps(MOBILIZE_PAGE))
    record = page["data"][0]
    record["custom_signup_field_values"] = [
        {
            "custom_field_id": 51,
            "custom_field_name": "Workplace",
            "text_value": "Tower A",
            "boolean_value": None,
        },
        {
            "custom_field_id": 52,
            "custom_field_name": "Union member?",
            "text_value": None,
            "boolean_value": True,
        },
        {
            "custom_field_id": 53,
            "custom_field_name": "Notes",
            "text_value": "",
            "boolean_value": None,
        },
    ]
    c.write("mobilize/p1.json", page)
    assert c.sync().rows_rejected == 0
    assert c.query("SELECT source, field, value FROM custom_field ORDER BY 2") == [
        ("mobilize", "Union member?", "true"),
        ("mobilize", "Workplace", "Tower A"),
    ]


def test_a_mobilize_attendances_rating_feedback_and_referrer_are_the_activitys_fields(
    make_cohort,
):
    """A Mobilize attendance's rating, the feedback its attendee wrote and the utm_*
    tags of the link that brought them were in the reader's known keys, but neither
    read, kept nor listed: only the archived page had them. Each attendance has its
    own (one person, two events: two ratings), so they are the activity's fields
    (activity_field), which no report reads: the feedback is a member's words. None of
    a rejected attendance; a key Mobilize adds inside the referrer is kept too."""
    from test_personal_keys import report_table_text

    from cyclebook.forget import forget_source

    c = make_cohort("- {kind: mobilize, path: mobilize}\n- {kind: van, path: van}")
    page = json.loads(json.dumps(MOBILIZE_PAGE))
    first, second = page["data"]
    first |= {
        "rating": 5,
        "feedback": "Loved knocking with Ro Plant",
        "referrer": {"utm_source": "sms", "utm_campaign": None, "url": ""},
    }
    again = json.loads(json.dumps(first)) | {  # Di again, at another event
        "id": 13,
        "event": {"id": 78, "title": "Phone bank", "event_type": "PHONE_BANK"},
        "timeslot": {"id": 781, "start_date": 1780150000, "end_date": 1780157200},
        "rating": None,
        "feedback": "",
        "referrer": {"utm_source": "email", "utm_campaign": "fall", "utm_id": "f26"},
    }
    rejected = json.loads(json.dumps(second)) | {
        "id": 14,
        "status": "WAITLISTED",
        "feedback": "Plant Rejected",
        "referrer": {"utm_source": "flyer"},
    }
    page["data"] = [first, second, again, rejected]
    c.write("mobilize/p1.json", page)
    c.write("van/persons.csv", "vanid,firstname\n101,Fa\n")
    result = c.sync()
    assert [r[2:] for r in c.rejects()] == [
        ("status", "unknown status (expected REGISTERED, CONFIRMED or CANCELLED)")
    ]
    (read,) = [f for f in result.files if f.file == "mobilize/p1.json"]
    assert read.unknown_columns == ["referrer.utm_id"]
    fields = "SELECT activity_id, source, field, value FROM activity_field ORDER BY ALL"
    assert c.query(fields) == [
        ("mobilize:att:11", "mobilize", "feedback", "Loved knocking with Ro Plant"),
        ("mobilize:att:11", "mobilize", "rating", "5"),
        ("mobilize:att:11", "mobilize", "referrer.utm_source", "sms"),
        ("mobilize:att:13", "mobilize", "referrer.utm_campaign", "fall"),
        ("mobilize:att:13", "mobilize", "referrer.utm_id", "f26"),
        ("mobilize:att:13", "mobilize", "referrer.utm_source", "email"),
    ]
    # listed as kept beyond the model; none is the person's, nor in a report's table
    org = load_cohort(c.root).organizations[0]
    with connect(c.root / "store.duckdb") as con:
        listed = load_summary(con, org).unknown_columns.to_dict("records")
    assert listed == [
        {
            "File": "mobilize/p1.json",
            "Columns kept (not part of the model)": (
                "feedback, rating, referrer.utm_campaign, referrer.utm_id, referrer.utm_source"
            ),
            "Keys not read (only in the archived copy)": "",
        }
    ]
    assert c.query("SELECT count(*) FROM custom_field") == [(0,)]
    assert "activity_field" not in REPORT_TABLES
    text = report_table_text(c)
    assert "Ro Plant" not in text and "fall" not in text and "f26" not in text
    # the same page again changes nothing; a newer one's value replaces the older
    assert c.sync(force=True).written["activity_field"] == 0
    newer = first | {"modified_date": 1780200000, "rating": 4}
    c.write("mobilize/p2.json", {"count": 1, "next": None, "data": [newer]})
    assert c.sync().written["activity_field"] == 1
    assert c.query(
        "SELECT value FROM activity_field WHERE activity_id = 'mobilize:att:11' AND field = 'rating'"
    ) == [("4",)]
    # forgetting Mobilize removes them with its attendances (VAN's rows stay)
    cohort_yml = c.root / "cohort.yml"
    cohort_yml.write_text(
        cohort_yml.read_text().replace("      - {kind: mobilize, path: mobilize}\n", "")
    )
    found = forget_source(c.root, "org", "mobilize", apply=True)
    assert found.rows["activity_field"] == 6 and found.rows["activity"] == 3
    assert c.query(fields) == [] and c.query("SELECT count(*) FROM person") == [(1,)]


def test_api_readers_count_emails_and_phones_they_cannot_read(make_cohort):
    """The CSV readers counted unreadable emails and phones in a note; the JSON readers
    dropped them without a word (the people kept, unmatched by them)."""
    c = make_cohort("- {kind: mobilize, path: mobilize}\n- {kind: action_network_api, path: an}")
    page = json.loads(json.dumps(MOBILIZE_PAGE))
    page["data"][0]["person"]["phone_numbers"] = [{"primary": True, "number": "555-0103"}]
    c.write("mobilize/p1.json", page)
    person = {
        "identifiers": ["action_network:p-1"],
        "email_addresses": [{"primary": True, "address": "ann@example"}],
        "phone_numbers": [{"primary": True, "number": "+16175550104"}],
    }
    c.write("an/people-1.json", _osdi("osdi:people", [person]))
    result = c.sync()
    notes = {f.file: f.notes for f in result.files}
    assert notes["mobilize/p1.json"] == [
        "1 value(s) of 'person.phone_numbers' " + UNREAD_CONTACT["phone"]
    ]
    assert notes["an/people-1.json"] == [
        "1 value(s) of 'email_addresses' " + UNREAD_CONTACT["email"]
    ]


def test_action_network_signatures_and_outreaches_are_actions(make_cohort):
    """Petition signatures and letters to targets were refused as records of an unknown
    collection, although petitions are many groups' most common action."""
    c = make_cohort("- {kind: action_network_api, path: api}")
    c.write("api/people/people-1.json", _osdi("osdi:people", [AN_API_PERSON]))
    signature = {
        "identifiers": ["action_network:s-1"],
        "created_date": "2025-07-01T10:00:00Z",
        "comments": "My neighbour Ann Diaz signed too",
        "action_network:person_id": "p-1",
        "action_network:petition_id": "pet-9",
    }
    linked = {
        "created_date": "2025-07-02T10:00:00Z",
        "_links": {
            "self": {"href": "https://actionnetwork.org/api/v2/petitions/pet-8/signatures/s-2"},
            "osdi:petition": {"href": "https://actionnetwork.org/api/v2/petitions/pet-8"},
            "osdi:person": {"href": "https://actionnetwork.org/api/v2/people/p-1"},
        },
    }
    outreach = {
        "identifiers": ["action_network:o-1"],
        "created_date": "2025-07-03T10:00:00Z",
        "action_network:person_id": "p-1",
        "action_network:advocacy_campaign_id": "adv-3",
        "targets": [{"title": "Mayor"}],
    }
    c.write("api/signatures/sig-1.json", _osdi("osdi:signatures", [signature, linked]))
    c.write("api/outreaches/out-1.json", _osdi("osdi:outreaches", [outreach]))
    result = c.sync()
    assert result.rows_rejected == 0
    assert all(f.unknown_columns == [] for f in result.files)
    assert c.query("SELECT activity_id, type, result FROM activity ORDER BY 1") == [
        ("an:outreaches:o-1", "submission", "advocacy:adv-3"),
        ("an:signatures:s-1", "submission", "petition:pet-9"),
        ("an:signatures:s-2", "submission", "petition:pet-8"),
    ]


def test_a_van_one_on_one_that_did_not_happen_is_an_attempt(make_cohort):
    """A VAN 'One on One' marked Not Home was a held one-on-one: it made the person a
    leader by the default ladder and counted in the 1:1s held."""
    c = make_cohort("- {kind: van, path: van}")
    for rel, text in VAN_FILES.items():
        c.write(rel, text)
    c.write(
        "van/contactscontacts.csv",
        """\
        contactscontactid,vanid,resultid,contacttypeid,datecanvassed,datecreated,canvassedby,campaignid
        9001,101,14,82,2026-08-10 18:00:00,2026-08-12T16:00:00Z,55,301
        9005,102,1,82,2026-08-11 18:00:00,2026-08-12T16:00:00Z,55,301
        """,
    )
    c.sync()
    assert c.query("SELECT activity_id FROM activity WHERE type = 'one_on_one'") == [
        ("van:cc:9001",)
    ]
    assert c.query(
        "SELECT attempt_id, channel, result, conversation FROM contact_attempt ORDER BY 1"
    ) == [("van:cc:9005", "in_person", "Not Home", False)]


SHEET_EVENTS = """
- kind: generic_csv
  path: signins
  columns: {person_id: ID, occurred_at: Date, type: Type, event: Event}
"""


def test_a_sheets_events_are_days_of_the_organizations_calendar(make_cohort):
    """A sheet's event is its name on one local day (New York here): keyed by the UTC
    date, the evening canvass of the 24th (01:00 UTC on the 25th) and the next day's
    noon canvass were one event, and a meeting either side of midnight UTC two."""
    c = make_cohort(SHEET_EVENTS)
    c.write(
        "signins/week1.csv",
        "ID,Date,Type,Event\n"
        "A,2026-03-24 21:00,attendance,Canvass\n"
        "A,2026-03-25 12:00,attendance,Canvass\n"
        "B,2026-03-26 19:30,attendance,Meeting\n"
        "C,2026-03-26 20:30,attendance,Meeting\n",
    )
    result = c.sync()
    assert (result.rows_read, result.rows_rejected) == (4, 0), c.rejects()
    events = c.query(
        f"""SELECT e.title, {utc("e.start_at")}, count(a.activity_id)
            FROM event e JOIN activity a USING (org_id, event_id) GROUP BY ALL ORDER BY 2"""
    )
    # the 24th's and the 25th's canvass; one meeting (the later row's time, as before)
    assert events == [
        ("Canvass", "2026-03-25 01:00", 1),
        ("Canvass", "2026-03-25 16:00", 1),
        ("Meeting", "2026-03-27 00:30", 2),
    ]


def test_a_sheets_events_that_no_activity_names_are_removed(make_cohort):
    """An event id of an earlier reading of a sheet (an older reader keyed events by the
    UTC date) that no activity names any more is removed when the sheets are read again;
    a tool's own event without signups stays (it counts as a past event without
    attendance)."""
    c = make_cohort(SHEET_EVENTS)
    c.write("signins/week1.csv", "ID,Date,Type,Event\nA,2026-03-24 21:00,attendance,Canvass\n")
    c.sync()
    con = duckdb.connect(str(c.root / "store.duckdb"))
    try:
        con.execute(
            """INSERT INTO event VALUES
               ('org', 'sheet:signins:oldid', 'sheet:signins', 'Canvass', NULL,
                TIMESTAMPTZ '2026-03-25 01:00:00+00'),
               ('org', 'van:event:7', 'van', 'Phone bank', 'Phone Bank',
                TIMESTAMPTZ '2026-03-20 22:00:00+00')"""
        )
    finally:
        con.close()
    c.write("signins/week2.csv", "ID,Date,Type,Event\nB,2026-03-31 18:00,attendance,Canvass\n")
    assert c.sync().status == "ok"
    named = {r[0] for r in c.query("SELECT event_id FROM activity")}
    assert len(named) == 2 and "sheet:signins:oldid" not in named
    assert {r[0] for r in c.query("SELECT event_id FROM event")} == named | {"van:event:7"}


AN_EVENT = {
    "identifiers": ["action_network:e-9"],
    "title": "Tenant meeting",
    "start_date": "2025-04-20T18:00:00Z",
    "created_date": "2025-03-01T10:00:00Z",
    "modified_date": "2025-03-02T10:00:00Z",
    "status": "confirmed",
    "transparence": "opaque",
    "browser_url": "https://actionnetwork.org/events/tenant-meeting",
    "location": {"venue": "Library", "address_lines": ["1 Main St"], "locality": "Boston"},
}


def test_action_network_events_date_their_attendances(make_cohort):
    """Action Network's events pages were refused, each record a reject ("record of an
    unknown Action Network collection"), and an RSVP was dated when it was made: a
    sign-up on 1 April for the meeting of 20 April counted on 1 April, before anyone
    came (Mobilize's and VAN's sign-ups are dated by their event). Events are read, and
    an attendance is dated by its event's start when the event is known, whether its
    page arrives with the attendances or in a later sync."""
    c = make_cohort("- {kind: action_network_api, path: api}")
    c.write("api/people/people-1.json", _osdi("osdi:people", [AN_API_PERSON]))
    attendances = [
        {
            "identifiers": [f"action_network:a-{n}"],
            "created_date": "2025-04-01T10:00:00Z",
            "modified_date": "2025-04-02T10:00:00Z",
            "status": "accepted",
            "action_network:person_id": "p-1",
            "action_network:event_id": event,
        }
        for n, event in ((1, "e-9"), (2, "e-unknown"))
    ]
    c.write("api/attendances/att-1.json", _osdi("osdi:attendances", attendances))
    dated = f"SELECT activity_id, {utc('occurred_at')} FROM activity ORDER BY 1"
    c.sync()
    assert c.query(dated) == [
        ("an:attendances:a-1", "2025-04-01 10:00"),
        ("an:attendances:a-2", "2025-04-01 10:00"),
    ]
    c.write("api/events/events-1.json", _osdi("osdi:events", [AN_EVENT]))
    result = c.sync()
    assert result.rows_rejected == 0
    assert c.query(f"SELECT event_id, source, title, event_type, {utc('start_at')} FROM event") == [
        ("action_network:e-9", "action_network", "Tenant meeting", None, "2025-04-20 18:00")
    ]
    # the known event's attendance is dated by it; the other keeps its own date
    assert c.query(dated) == [
        ("an:attendances:a-1", "2025-04-20 18:00"),
        ("an:attendances:a-2", "2025-04-01 10:00"),
    ]
    # the same exports again change nothing
    before = c.query("SELECT * FROM activity ORDER BY activity_id")
    c.sync()
    assert c.query("SELECT * FROM activity ORDER BY activity_id") == before


def test_an_action_network_events_unknown_keys_are_kept_as_the_events_fields(make_cohort):
    """An events page's keys beyond the reader's were listed as "not read (only in the
    archived copy)", where a person's, an attendance's or a donation's are kept as the
    person's custom fields (issue #3: kept and reported, never dropped). An event is not
    a person: they are kept as the event's fields (event_field), which no report reads
    (a host's contact may be in them), one value per event and key, the latest page's;
    none of a rejected event. Forgetting the source removes them."""
    from test_personal_keys import report_table_text

    from cyclebook.forget import forget_source

    c = make_cohort("- {kind: action_network_api, path: api}\n- {kind: van, path: van}")
    meeting = AN_EVENT | {
        "action_network:ticket_note": "Bring ID to Plant Hall",
        "host": {"name": "Ro Plant", "email_address": "ro.plant@x.org"},
        "accessibility_note": None,  # no value: nothing to keep
    }
    late = {  # rejected by its date: its keys are not kept
        "identifiers": ["action_network:e-10"],
        "title": "Rally",
        "start_date": "someday",
        "action_network:ticket_note": "Plant Rejected",
    }
    c.write("api/events/events-1.json", _osdi("osdi:events", [meeting, late]))
    c.write("van/persons.csv", "vanid,firstname\n101,Fa\n")
    result = c.sync()
    assert [r[2:] for r in c.rejects()] == [("start_date", BAD_DATE)]
    page = next(f for f in result.files if f.file.startswith("api/"))
    assert page.unknown_columns == ["accessibility_note", "action_network:ticket_note", "host"]
    org = load_cohort(c.root).organizations[0]
    with connect(c.root / "store.duckdb") as con:
        listed = load_summary(con, org).unknown_columns.to_dict("records")
    assert listed == [
        {
            "File": "api/events/events-1.json",
            "Columns kept (not part of the model)": "action_network:ticket_note, host",
            "Keys not read (only in the archived copy)": "accessibility_note",
        }
    ]
    fields = "SELECT event_id, source, field, value FROM event_field ORDER BY 1, 3"
    host = '{"name":"Ro Plant","email_address":"ro.plant@x.org"}'
    assert c.query(fields) == [
        (
            "action_network:e-9",
            "action_network",
            "action_network:ticket_note",
            "Bring ID to Plant Hall",
        ),
        ("action_network:e-9", "action_network", "host", host),
    ]
    assert c.query("SELECT count(*) FROM custom_field") == [(0,)]  # not a person's
    assert "event_field" not in REPORT_TABLES
    assert "ro.plant@x.org" not in report_table_text(c) and "Plant Hall" not in report_table_text(c)
    # the same export again changes nothing; a newer page's value replaces the older
    assert c.sync(force=True).written["event_field"] == 0
    newer = meeting | {
        "modified_date": "2025-03-05T10:00:00Z",
        "action_network:ticket_note": "No ID needed",
    }
    c.write("api/events/events-2.json", _osdi("osdi:events", [newer]))
    assert c.sync().written["event_field"] == 1
    assert c.query(fields) == [
        ("action_network:e-9", "action_network", "action_network:ticket_note", "No ID needed"),
        ("action_network:e-9", "action_network", "host", host),
    ]
    # forgetting Action Network removes its events' fields (VAN's rows stay)
    cohort_yml = c.root / "cohort.yml"
    cohort_yml.write_text(
        cohort_yml.read_text().replace("      - {kind: action_network_api, path: api}\n", "")
    )
    found = forget_source(c.root, "org", "action_network", apply=True)
    assert found.rows["event_field"] == 2 and found.rows["event"] == 1
    assert c.query(fields) == [] and c.query("SELECT count(*) FROM person") == [(1,)]


def test_a_van_events_tables_unknown_columns_are_kept_as_the_events_fields(make_cohort):
    """A VAN events table's columns beyond the reader's were listed as "not read (only in
    the archived copy)", where an Action Network event's keys are kept as the event's
    fields (event_field): they are kept so too, one value per event and column, the
    later file's; an event kept without its unreadable date keeps them. A sign-up's
    columns (a record of what a person did, millions of rows) are still only listed."""
    from test_personal_keys import report_table_text

    from cyclebook.forget import forget_source

    c = make_cohort("- {kind: van, path: van}\n- {kind: mobilize, path: mobilize}")
    c.write("van/persons.csv", "vanid,firstname\n101,Fa\n")
    c.write(
        "van/events.csv",
        """\
        eventid,eventname,eventtypename,dateoffsetbegin,locationname,description
        7,Members meeting,Meeting,2026-08-27 18:30:00,Plant Hall,Bring a friend
        8,Canvass,Canvass,next tuesday,,Meet at Ro Plant's house
        """,
    )
    c.write(
        "van/eventsignups.csv",
        """\
        eventsignupid,vanid,eventid,eventstatusname,datecreated,notes
        1,101,7,Completed,2026-08-01 09:00:00,Fa uses a wheelchair
        2,101,8,Scheduled,2026-08-02 09:00:00,
        """,
    )
    c.write("mobilize/p1.json", MOBILIZE_PAGE)
    result = c.sync()
    assert [(f.file, f.rows_rejected) for f in result.files if f.file.startswith("van/")] == [
        ("van/events.csv", 0),
        ("van/eventsignups.csv", 0),
        ("van/persons.csv", 0),
    ]
    org = load_cohort(c.root).organizations[0]
    with connect(c.root / "store.duckdb") as con:
        listed = load_summary(con, org).unknown_columns.to_dict("records")
    assert [row for row in listed if row["File"].startswith("van/")] == [
        {
            "File": "van/events.csv",
            "Columns kept (not part of the model)": "description, locationname",
            "Keys not read (only in the archived copy)": "",
        },
        {
            "File": "van/eventsignups.csv",
            "Columns kept (not part of the model)": "",
            "Keys not read (only in the archived copy)": "notes",
        },
    ]
    fields = "SELECT event_id, source, field, value FROM event_field ORDER BY ALL"
    assert c.query(fields) == [
        ("van:7", "van", "description", "Bring a friend"),
        ("van:7", "van", "locationname", "Plant Hall"),
        ("van:8", "van", "description", "Meet at Ro Plant's house"),  # kept, undated
    ]
    assert c.query("SELECT count(*) FROM custom_field") == [(0,)]  # not a person's
    assert "Plant Hall" not in report_table_text(c)
    # the same exports again change nothing; a later file's value replaces the earlier
    assert c.sync(force=True).written["event_field"] == 0
    c.write(
        "van/events_2026-09.csv",
        """\
        eventid,eventname,eventtypename,dateoffsetbegin,locationname
        7,Members meeting,Meeting,2026-08-27 18:30:00,Union Hall
        """,
    )
    assert c.sync().written["event_field"] == 1
    assert c.query(fields) == [
        ("van:7", "van", "description", "Bring a friend"),
        ("van:7", "van", "locationname", "Union Hall"),
        ("van:8", "van", "description", "Meet at Ro Plant's house"),
    ]
    # forgetting VAN removes its events' fields (Mobilize's events stay)
    cohort_yml = c.root / "cohort.yml"
    cohort_yml.write_text(cohort_yml.read_text().replace("      - {kind: van, path: van}\n", ""))
    found = forget_source(c.root, "org", "van", apply=True)
    assert found.rows["event_field"] == 3 and found.rows["event"] == 2
    assert c.query(fields) == []
    assert c.query("SELECT count(*) FROM event WHERE source = 'mobilize'") != [(0,)]
