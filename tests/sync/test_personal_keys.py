# ruff: noqa: E501 - export fixtures are kept verbatim, one record per line
"""No member's email or phone in the tables reports read, not even in a key.

Spoke names a contact by its cell, an Action Network report built without the uuid
column names a person by the email, and a spreadsheet without an id column by the email
or phone: those values were the person's ``identity.source_id``, the activity and attempt
ids made of it, and so were in every warehouse copy of the report tables. They are kept
as a salted hash (``store.personal_key_sql``); the values themselves only in
``person_pii``.
"""

from __future__ import annotations

import hashlib

import duckdb
import pytest

from cyclebook.store import REPORT_TABLES, SCHEMA_VERSION, connect

AN_NO_UUID = """\
first_name,last_name,email,zip_code,can2_phone,can2_subscription_status,can2_subscription_date,Building
Ana,Diaz,Ana.Plant@X.org,02139,(617) 555-0111,subscribed,2026-08-05 10:00:00,Tower A
"""
AN_NEWER = """\
first_name,last_name,email,zip_code,can2_phone,can2_subscription_status,can2_subscription_date,Building
Ana,Diaz,ana.plant@x.org,02140,(617) 555-0111,subscribed,2026-09-01 10:00:00,Tower B
"""
SPOKE_CONTACTS = """\
campaignId,campaign,assignmentId,texter[firstName],texter[lastName],contact[firstName],contact[lastName],contact[cell],contact[zip],contact[optOut],contact[messageStatus],contact[external_id],question[Will you come?],tags
{campaign},Kickoff,5,Sam,Rivera,Hal,Ito,(617) 555-0112,02145,false,convo,,Yes,hot
"""
SPOKE_MESSAGES = """\
campaignId,contactNumber,userNumber,isFromContact,sendStatus,attemptedAt,text
{campaign},+16175550112,+16175550100,false,DELIVERED,2026-08-2{day}T15:00:00Z,Hi!
{campaign},+16175550112,+16175550100,true,DELIVERED,2026-08-2{day}T15:30:00Z,yes
"""
SHEET = """\
Email,Phone,Date,Team
cy.plant@x.org,,2026-08-07,north
,617-555-0113,2026-08-08,south
"""


def _mobilize(records: list[dict]) -> dict:
    return {"count": len(records), "next": None, "data": records}


MOBILIZE_NO_IDS = {
    "created_date": 1780000000,
    "modified_date": 1780000000,
    "person": {
        "email_addresses": [{"address": "gus.plant@x.org"}],
        "phone_numbers": [{"number": "617-555-0114"}],
    },
    "event": {"event_type": "CANVASS"},
    "timeslot": {"start_date": 1780050000, "end_date": 1780057200},
    "status": "REGISTERED",
    "attended": None,
    "custom_signup_field_values": [{"custom_field_name": "Union member?", "text_value": "yes"}],
}
MOBILIZE_USER = {
    "id": 11,
    "created_date": 1780000000,
    "modified_date": 1780100000,
    "person": {
        "user_id": 501,
        "email_addresses": [{"primary": True, "address": "di.plant@x.org"}],
        "phone_numbers": [{"primary": True, "number": "617.555.0115"}],
    },
    "event": {"id": 77, "title": "Door knock", "event_type": "CANVASS"},
    "timeslot": {"id": 771, "start_date": 1780050000, "end_date": 1780057200},
    "status": "CONFIRMED",
    "attended": True,
}


def _osdi(collection: str, records: list[dict]) -> dict:
    return {"_embedded": {collection: records}}


OSDI_PERSON = {
    "identifiers": ["action_network:p-1"],
    "created_date": "2025-03-01T15:00:00Z",
    "given_name": "Eve",
    "email_addresses": [{"primary": True, "address": "eve.plant@x.org"}],
    "phone_numbers": [{"primary": True, "number": "16175550116"}],
}
AB_ENTITY = {
    "identifiers": ["action_builder:ent-1"],
    "created_date": "2025-02-01T00:00:00Z",
    "given_name": "Kai",
    "email_addresses": [{"address": "kai.plant@x.org"}],
    "phone_numbers": [{"number": "617 555 0117", "number_type": "Mobile"}],
    "action_builder:latest_assessment": 4,
    "action_builder:latest_assessment_date": "2026-07-15T12:00:00Z",
}
VAN_PERSONS = """\
vanid,firstname,lastname,email,phone,datecreated
101,Fa,Un,fa.plant@x.org,617-555-0118,2025-01-02
"""

# (sources, files, the emails and phones planted)
READERS = {
    "action_network_csv": (
        "- {kind: action_network_csv, path: an}",
        {"an/a.csv": AN_NO_UUID},
        ["ana.plant@x.org", "6175550111"],
    ),
    "action_network_api": (
        "- {kind: action_network_api, path: api}",
        {"api/people/p.json": _osdi("osdi:people", [OSDI_PERSON])},
        ["eve.plant@x.org", "6175550116"],
    ),
    "mobilize": (
        "- {kind: mobilize, path: mob}",
        {"mob/p.json": _mobilize([MOBILIZE_NO_IDS, MOBILIZE_USER])},
        ["gus.plant@x.org", "6175550114", "di.plant@x.org", "6175550115"],
    ),
    "van": (
        "- {kind: van, path: van}",
        {"van/persons.csv": VAN_PERSONS},
        ["fa.plant@x.org", "6175550118"],
    ),
    "spoke": (
        "- {kind: spoke, path: spoke}",
        {
            "spoke/contacts.csv": SPOKE_CONTACTS.format(campaign=71),
            "spoke/messages.csv": SPOKE_MESSAGES.format(campaign=71, day=0),
        },
        ["6175550112"],
    ),
    "action_builder": (
        "- {kind: action_builder, path: ab}",
        {"ab/e.json": _osdi("osdi:people", [AB_ENTITY])},
        ["kai.plant@x.org", "6175550117"],
    ),
    "generic_csv": (
        "- {kind: generic_csv, path: sheet, columns: {email: Email, phone: Phone, occurred_at: Date}, activity_type: attendance}",
        {"sheet/s.csv": SHEET},
        ["cy.plant@x.org", "6175550113"],
    ),
}


def report_table_text(c) -> str:
    """Every value of every table a report may read, as text."""
    out = []
    for table in REPORT_TABLES:
        for row in c.query(f"SELECT * FROM {table}"):
            out.extend(str(v) for v in row if v is not None)
    return "\n".join(out)


def key(c, value: str) -> str:
    """The stored key of an email or phone (store.personal_key_sql), by hand."""
    (salt,) = c.query("SELECT value FROM meta WHERE key = 'match_salt'")[0]
    return "hash:" + hashlib.sha256(f"{salt}:key:{value}".encode()).hexdigest()[:32]


@pytest.mark.parametrize("kind", READERS)
def test_no_email_or_phone_in_any_report_table(make_cohort, kind):
    sources, files, planted = READERS[kind]
    c = make_cohort(sources)
    for rel, content in files.items():
        c.write(rel, content)
    result = c.sync()
    assert result.status == "ok" and result.rows_rejected == 0
    # the values were read (person_pii holds them) ...
    pii = "\n".join(str(v) for row in c.table("person_pii") for v in row if v is not None)
    for value in planted:
        assert value in pii.replace("+1", ""), value
    # ... and no table a report reads has any of them, in a key or anywhere else
    text = report_table_text(c)
    for value in planted:
        assert value not in text, (kind, value)


def test_the_keys_are_the_salted_hashes(make_cohort):
    c = make_cohort(
        """
        - {kind: action_network_csv, path: an}
        - {kind: spoke, path: spoke}
        - {kind: generic_csv, path: sheet, columns: {email: Email, phone: Phone, occurred_at: Date}, activity_type: attendance}
        """
    )
    c.write("an/a.csv", AN_NO_UUID)
    c.write("spoke/contacts.csv", SPOKE_CONTACTS.format(campaign=71))
    c.write("spoke/messages.csv", SPOKE_MESSAGES.format(campaign=71, day=0))
    c.write("sheet/s.csv", SHEET)
    c.sync()
    ana, hal = key(c, "ana.plant@x.org"), key(c, "+16175550112")
    cy, dee = key(c, "cy.plant@x.org"), key(c, "+16175550113")
    assert c.table("identity", "source, source_id", "1, 2") == sorted(
        [("action_network", ana), ("spoke", hal), ("sheet:sheet", cy), ("sheet:sheet", dee)]
    )
    q = hashlib.md5(b"Will you come?").hexdigest()[:10]
    assert c.query(
        "SELECT activity_id, source_id, type FROM activity WHERE type <> 'attendance' ORDER BY 3"
    ) == [(f"an:signup:{ana}", ana, "signup"), (f"spoke:q:71:{hal}:{q}", None, "survey_response")]
    assert c.table("contact_attempt", "attempt_id") == [(f"spoke:71:{hal}",)]
    # every person kept their email and phone, in person_pii, and their custom fields
    assert c.query(
        """SELECT i.source, p.email, p.phone FROM identity i
           JOIN person_pii p USING (org_id, person_id) ORDER BY 1, 2"""
    ) == [
        ("action_network", "ana.plant@x.org", "+16175550111"),
        ("sheet:sheet", "cy.plant@x.org", None),
        ("sheet:sheet", None, "+16175550113"),
        ("spoke", None, "+16175550112"),
    ]
    assert c.query(
        """SELECT i.source, f.field, f.value FROM custom_field f
           JOIN identity i USING (org_id, person_id) ORDER BY 1, 2, 3"""
    ) == [
        ("action_network", "Building", "Tower A"),
        ("sheet:sheet", "Team", "north"),
        ("sheet:sheet", "Team", "south"),
        ("spoke", "tags", "hot"),
    ]


def test_the_same_export_again_changes_nothing_and_a_newer_one_merges(make_cohort):
    c = make_cohort(
        """
        - {kind: action_network_csv, path: an}
        - {kind: spoke, path: spoke}
        """
    )
    c.write("an/a.csv", AN_NO_UUID)
    c.write("spoke/71/contacts.csv", SPOKE_CONTACTS.format(campaign=71))
    c.write("spoke/71/messages.csv", SPOKE_MESSAGES.format(campaign=71, day=0))
    c.sync()
    tables = ("person", "identity", "activity", "contact_attempt", "custom_field")
    before = {t: c.table(t) for t in tables}
    again = c.sync(force=True)  # every export read again
    assert {t: c.table(t) for t in tables} == before
    assert again.written.get("identity") == 0
    # a newer activist report (the same email, written otherwise) and a second campaign
    # texting the same cell: the same two people, one signup, one attempt per campaign
    c.write("an/b.csv", AN_NEWER)
    c.write("spoke/72/contacts.csv", SPOKE_CONTACTS.format(campaign=72))
    c.write("spoke/72/messages.csv", SPOKE_MESSAGES.format(campaign=72, day=1))
    c.sync()
    assert c.query("SELECT count(*) FROM person") == [(2,)]
    assert c.table("identity", "source, source_id") == sorted(
        [("action_network", key(c, "ana.plant@x.org")), ("spoke", key(c, "+16175550112"))]
    )
    hal = key(c, "+16175550112")
    assert c.table("contact_attempt", "attempt_id") == [(f"spoke:71:{hal}",), (f"spoke:72:{hal}",)]
    assert c.query("SELECT count(*) FROM activity WHERE type = 'signup'") == [(1,)]
    assert c.query(
        "SELECT zip FROM person p JOIN identity i USING (org_id, person_id) WHERE i.source = 'action_network'"
    ) == [("02140",)]
    assert c.query("SELECT value FROM custom_field WHERE field = 'Building'") == [("Tower B",)]
    # and the Spoke contact's key for "unique people reached" is one key for both
    assert c.query("SELECT count(DISTINCT contact_key) FROM contact_attempt") == [(1,)]


def _unhashed(store, values: list[str]) -> None:
    """Turn a store into one the code before schema version 4 made: the planted emails
    and phones written back into the keys, as that code wrote them."""
    con = duckdb.connect(str(store))
    try:
        (salt,) = con.execute("SELECT value FROM meta WHERE key = 'match_salt'").fetchone()
        for value in values:
            hashed = "hash:" + hashlib.sha256(f"{salt}:key:{value}".encode()).hexdigest()[:32]
            con.execute("UPDATE identity SET source_id = ? WHERE source_id = ?", [value, hashed])
            con.execute(
                """UPDATE activity SET activity_id = replace(activity_id, $h, $v),
                       source_id = replace(source_id, $h, $v)
                   WHERE contains(activity_id, $h) OR contains(source_id, $h)""",
                {"h": hashed, "v": value},
            )
            con.execute(
                """UPDATE contact_attempt SET attempt_id = replace(attempt_id, $h, $v),
                       contact_key = sha256($s || ':c:spoke:' || $v)
                   WHERE contains(attempt_id, $h)""",
                {"h": hashed, "v": value, "s": salt},
            )
        con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
        # read by older sync code: the next sync reads every export again
        con.execute("DELETE FROM meta WHERE starts_with(key, 'sync_code:')")
    finally:
        con.close()


OLD_STORE_SOURCES = """
- {kind: action_network_csv, path: an}
- {kind: spoke, path: spoke}
- {kind: generic_csv, path: sheet, columns: {email: Email, phone: Phone, occurred_at: Date}, activity_type: attendance}
"""
PLANTED = ["ana.plant@x.org", "+16175550112", "cy.plant@x.org", "+16175550113"]


def _old_store(make_cohort):
    c = make_cohort(OLD_STORE_SOURCES)
    c.write("an/a.csv", AN_NO_UUID)
    c.write("spoke/contacts.csv", SPOKE_CONTACTS.format(campaign=71))
    c.write("spoke/messages.csv", SPOKE_MESSAGES.format(campaign=71, day=0))
    c.write("sheet/s.csv", SHEET)
    c.sync()
    tables = ("person", "identity", "activity", "contact_attempt", "event", "custom_field")
    made_now = {t: c.table(t) for t in tables}
    _unhashed(c.root / "store.duckdb", PLANTED)
    old = report_table_text(c)
    assert all(v in old for v in PLANTED)  # the old store holds them in its keys
    return c, tables, made_now


def test_an_older_store_is_migrated_in_place(make_cohort):
    c, tables, made_now = _old_store(make_cohort)
    with connect(c.root / "store.duckdb", write=True):
        pass  # any writer migrates the store
    assert {t: c.table(t) for t in tables} == made_now
    assert c.query("SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    assert not any(v in report_table_text(c) for v in PLANTED)


def test_the_next_sync_of_an_older_store_adds_nothing_beside_its_rows(make_cohort):
    c, tables, made_now = _old_store(make_cohort)
    result = c.sync()
    assert result.status == "ok" and not result.files[0].carried  # read again
    assert {t: c.table(t) for t in tables} == made_now
    assert not any(v in report_table_text(c) for v in PLANTED)


def test_a_sheet_person_id_that_is_an_email_is_hashed_too(make_cohort):
    c = make_cohort(
        "- {kind: generic_csv, path: sheet, columns: {person_id: Member, occurred_at: Date}, activity_type: attendance}"
    )
    c.write("sheet/s.csv", "Member,Date\nM-100,2026-08-07\nzoe.plant@x.org,2026-08-07\n")
    c.sync()
    assert c.table("identity", "source_id") == sorted([("M-100",), (key(c, "zoe.plant@x.org"),)])
