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
import json

import duckdb
import pytest

from cyclebook.forget import forget_source
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


# ---- activity ids made of a digest of the row (no id in the export)

DIGEST_SOURCES = """
- {kind: generic_csv, path: sheet, columns: {email: Email, phone: Phone, occurred_at: Date}, activity_type: attendance}
- {kind: mobilize, path: mob}
- {kind: action_network_api, path: api}
- {kind: van, path: van}
"""
# an Action Network form submission without identifiers or links (a hand-made page)
AN_SUBMISSION = {
    "created_date": "2025-05-01T10:00:00Z",
    "action_network:person_id": "p-1",
    "action_network:form_id": "f-1",
}
# the digests the code before schema version 7 named these activities by, worked out
# by hand as it made them: the MD5 of the row's person (the email or phone as stored),
# type and date in Unix seconds (a sheet's row; 2026-08-07 is 04:00 UTC in New York),
# of a Mobilize attendance's person, timeslot start, event type and creation date, and
# of the whole Action Network record (as DuckDB writes JSON, without spaces)
OLD_DIGESTS = {
    "sheet:sheet:": [
        hashlib.md5(b"cy.plant@x.org|attendance|1786075200.0").hexdigest()[:20],
        hashlib.md5(b"+16175550113|attendance|1786161600.0").hexdigest()[:20],
    ],
    "mobilize:att:": [
        "h" + hashlib.md5(b"gus.plant@x.org|1780050000|CANVASS|1780000000").hexdigest()[:20]
    ],
    "an:submissions:": [
        hashlib.md5(json.dumps(AN_SUBMISSION, separators=(",", ":")).encode()).hexdigest()
    ],
}


def _digests_synced(make_cohort):
    c = make_cohort(DIGEST_SOURCES)
    c.write("sheet/s.csv", SHEET)
    c.write("mob/p.json", _mobilize([MOBILIZE_NO_IDS, MOBILIZE_USER]))
    c.write("api/people/p.json", _osdi("osdi:people", [OSDI_PERSON]))
    c.write("api/submissions/s.json", _osdi("osdi:submissions", [AN_SUBMISSION]))
    c.write("van/persons.csv", VAN_PERSONS)
    result = c.sync()
    assert result.status == "ok" and result.rows_rejected == 0
    return c


def _salted(c, digest: str) -> str:
    """The stored form of an old digest (store.salted_digest_sql), by hand."""
    (salt,) = c.query("SELECT value FROM meta WHERE key = 'match_salt'")[0]
    return "s" + hashlib.sha256(f"{salt}:a:{digest}".encode()).hexdigest()[:24]


def _ids(c) -> list[tuple]:
    return c.query("SELECT activity_id, source_id FROM activity ORDER BY 1")


def test_an_activity_without_an_id_is_named_by_a_salted_digest(make_cohort):
    """An activity its export gives no id (a spreadsheet's row, a Mobilize attendance at
    a coordinated organization's event, an Action Network record without identifier) was
    named by an unsalted MD5 of its content, a member's email or phone among it: found
    again by hashing a list of emails with the row's type and date, which the activity
    table holds beside it. Each is now that MD5 hashed with the store's salt."""
    c = _digests_synced(make_cohort)
    ids = _ids(c)
    stored = "\n".join(str(v) for row in ids for v in row)
    for digests in OLD_DIGESTS.values():
        for old in digests:
            assert old not in stored and old[-20:] not in stored, old
    expected = sorted(
        [
            (prefix + _salted(c, old), None)
            for prefix in ["sheet:sheet:"]
            for old in OLD_DIGESTS[prefix]
        ]
        + [
            (prefix + _salted(c, old), _salted(c, old))
            for prefix in ["mobilize:att:", "an:submissions:"]
            for old in OLD_DIGESTS[prefix]
        ]
        + [("mobilize:att:11", "11")]
    )
    assert ids == expected


def _with_old_digests(c) -> None:
    """Turn the store into one the code before schema version 7 made: each activity id
    named by the unsalted digest (OLD_DIGESTS), as that code wrote it, no event_field."""
    salted = {old: _salted(c, old) for digests in OLD_DIGESTS.values() for old in digests}
    con = duckdb.connect(str(c.root / "store.duckdb"))
    try:
        for prefix, digests in OLD_DIGESTS.items():
            for old in digests:
                new = salted[old]
                (rewritten,) = con.execute(
                    """UPDATE activity SET activity_id = $p || $old,
                           source_id = CASE WHEN source_id = $new THEN $old ELSE source_id END
                       WHERE activity_id = $p || $new""",
                    {"p": prefix, "old": old, "new": new},
                ).fetchone()
                assert rewritten == 1, (prefix, old)
        con.execute("DROP TABLE event_field")
        con.execute("UPDATE meta SET value = '6' WHERE key = 'schema_version'")
        # read by older sync code: the next sync reads every export again
        con.execute("DELETE FROM meta WHERE starts_with(key, 'sync_code:')")
    finally:
        con.close()
    old_ids = {(prefix + old) for prefix, digests in OLD_DIGESTS.items() for old in digests}
    assert old_ids <= {row[0] for row in _ids(c)}


def test_a_store_with_unsalted_digests_is_migrated_and_a_resync_adds_nothing(make_cohort):
    c = _digests_synced(make_cohort)
    made_now = c.table("activity")
    _with_old_digests(c)
    result = c.sync()  # migrated as the store is opened, then every export read again
    assert result.status == "ok" and not any(f.carried for f in result.files)
    assert result.written["activity"] == 0
    assert c.table("activity") == made_now  # the same 5 activities, the same ids
    assert c.query("SELECT count(*), count(DISTINCT activity_id) FROM activity") == [(5, 5)]
    assert c.query("SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    # opened by any writer, the store is migrated in place (once: a salted digest is
    # not hashed again)
    _with_old_digests(c)
    for _ in range(2):
        with connect(c.root / "store.duckdb", write=True):
            pass
        assert c.table("activity") == made_now


def test_salted_digests_stay_across_resyncs_and_forget(make_cohort):
    c = _digests_synced(make_cohort)
    ids = _ids(c)
    again = c.sync(force=True)  # every export read again
    assert again.written["activity"] == 0 and _ids(c) == ids
    # another source forgotten: the store is written again, its salt with it
    cohort_yml = c.root / "cohort.yml"
    cohort_yml.write_text(cohort_yml.read_text().replace("      - {kind: van, path: van}\n", ""))
    assert forget_source(c.root, "org", "van", apply=True).rows["identity"] == 1
    after = c.sync()  # reads the organization's other exports again in full
    assert after.status == "ok" and after.written["activity"] == 0
    assert _ids(c) == ids


# ---- an organizer id made of a name (Spoke names a texter by first and last name, a
# spreadsheet its organizer by what the sheet says)

ORGANIZER_SOURCES = """
- {kind: spoke, path: spoke}
- {kind: van, path: van}
- {kind: generic_csv, path: oneonones.csv, columns: {email: Email, occurred_at: Date, organizer: Organizer}, activity_type: one_on_one}
"""
ONE_ON_ONES = """\
Email,Date,Organizer
cy.plant@x.org,2026-08-07,Ro Plant
bo.plant@x.org,2026-08-08,Ro Plant
al.plant@x.org,2026-08-09,
"""
# a Spoke Rewired campaign: no texter on the contacts, one on each message sent
REWIRED_CONTACTS = """\
campaignId,campaign,contact[firstName],contact[lastName],contact[cell],contact[messageStatus],question[Will you come?]
72,GOTV,Bo,Lee,+16175550116,convo,No
"""
REWIRED_MESSAGES = """\
campaignId,contactNumber,isFromContact,sendStatus,attemptedAt,text,texter[firstName],texter[lastName]
72,+16175550116,false,DELIVERED,2026-08-21T14:00:00Z,Hi Bo,Tess,Ter
72,+16175550116,true,DELIVERED,2026-08-21T14:05:00Z,no,,
"""
# the organizer ids the code before schema version 8 gave them: the first 12 hex digits
# of the MD5 of the texter's name, lowercased; the sheet's organizer as it is written
TEXTERS = {
    name: "spoke:texter:" + hashlib.md5(name.encode()).hexdigest()[:12]
    for name in ("sam rivera", "tess ter")
}
SHEET_ORGANIZER = "Ro Plant"


def _sheet_organizer(c) -> str:
    """The sheet's organizer id (store.salted_digest_sql of the name), by hand."""
    return "sheet:organizer:" + _salted(c, SHEET_ORGANIZER)


def _organizers_synced(make_cohort):
    c = make_cohort(ORGANIZER_SOURCES)
    c.write("spoke/campaign-71-contacts.csv", SPOKE_CONTACTS.format(campaign=71))
    c.write("spoke/campaign-71-messages.csv", SPOKE_MESSAGES.format(campaign=71, day=0))
    c.write("spoke/campaign-72-contacts.csv", REWIRED_CONTACTS)
    c.write("spoke/campaign-72-messages.csv", REWIRED_MESSAGES)
    c.write("van/persons.csv", VAN_PERSONS)
    c.write("oneonones.csv", ONE_ON_ONES)
    result = c.sync()
    assert result.status == "ok" and result.rows_rejected == 0
    return c


def _organizers(c) -> list[tuple]:
    """Each text, survey answer and one-on-one, with its organizer."""
    return c.query(
        """SELECT attempt_id, organizer_id FROM contact_attempt
           UNION ALL SELECT activity_id, organizer_id FROM activity ORDER BY 1"""
    )


def test_an_organizer_named_by_a_name_is_named_by_its_salted_digest(make_cohort):
    """A texter (a volunteer member, often) was the organizer 'spoke:texter:' and the
    unsalted MD5 of the name, and a spreadsheet's organizer the name itself, in the
    tables reports read: a list of members' names gave them back. Each is now hashed
    with the store's salt, as an activity's digest is: the same texter is the same
    organizer on each campaign's texts and answers, the same name one organizer."""
    c = _organizers_synced(make_cohort)
    text = report_table_text(c)
    for old in [*TEXTERS.values(), SHEET_ORGANIZER]:
        assert old.removeprefix("spoke:texter:") not in text, old
    sam, tess, ro = c.texter("sam rivera"), c.texter("tess ter"), _sheet_organizer(c)
    assert c.unkeyed(
        """SELECT attempt_id, organizer_id FROM contact_attempt
           UNION ALL SELECT type, organizer_id FROM activity"""
    ) == sorted(
        [
            ("one_on_one", None),  # none named: none made up
            ("one_on_one", ro),
            ("one_on_one", ro),
            ("spoke:71:+16175550112", sam),
            ("spoke:72:+16175550116", tess),
            ("survey_response", sam),
            ("survey_response", tess),
        ],
        key=lambda row: tuple(str(v) for v in row),
    )


def _with_old_organizer_ids(c) -> None:
    """Turn the store into one the code before schema version 8 made: each texter the
    unsalted MD5 of the name (TEXTERS), the sheet's organizer its name, as that code
    wrote them."""
    salted = {old: c.texter(name) for name, old in TEXTERS.items()}
    salted[SHEET_ORGANIZER] = _sheet_organizer(c)
    con = duckdb.connect(str(c.root / "store.duckdb"))
    try:
        for old, new in salted.items():
            for table in ("contact_attempt", "activity"):
                con.execute(
                    f"UPDATE {table} SET organizer_id = $old WHERE organizer_id = $new",
                    {"old": old, "new": new},
                )
        con.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
        # read by older sync code: the next sync reads every export again
        con.execute("DELETE FROM meta WHERE starts_with(key, 'sync_code:')")
    finally:
        con.close()
    assert {row[1] for row in _organizers(c)} == {*TEXTERS.values(), SHEET_ORGANIZER, None}


def test_a_store_with_unsalted_organizers_is_migrated_and_a_resync_changes_nothing(make_cohort):
    """A store made before is converted in place, of the old ids alone (no export is
    needed): the re-read of every export after the upgrade finds each text, answer and
    one-on-one with its organizer already, and the organizers stay three, not six."""
    c = _organizers_synced(make_cohort)
    made_now = {t: c.table(t) for t in ("contact_attempt", "activity")}
    _with_old_organizer_ids(c)
    result = c.sync()  # migrated as the store is opened, then every export read again
    assert result.status == "ok" and not any(f.carried for f in result.files)
    assert (result.written["contact_attempt"], result.written["activity"]) == (0, 0)
    assert {t: c.table(t) for t in made_now} == made_now
    assert c.query(
        """SELECT count(*), count(organizer_id), count(DISTINCT organizer_id) FROM (
               SELECT organizer_id FROM contact_attempt
               UNION ALL SELECT organizer_id FROM activity)"""
    ) == [(7, 6, 3)]
    assert c.query("SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    # opened by any writer, the store is migrated in place, once (a salted digest is
    # not hashed again)
    _with_old_organizer_ids(c)
    for _ in range(2):
        with connect(c.root / "store.duckdb", write=True):
            pass
        assert {t: c.table(t) for t in made_now} == made_now


def test_organizers_stay_across_resyncs_and_forget(make_cohort):
    c = _organizers_synced(make_cohort)
    organizers = _organizers(c)
    again = c.sync(force=True)  # every export read again
    assert (again.written["contact_attempt"], again.written["activity"]) == (0, 0)
    assert _organizers(c) == organizers
    # another source forgotten: the store is written again, its salt with it
    cohort_yml = c.root / "cohort.yml"
    cohort_yml.write_text(cohort_yml.read_text().replace("      - {kind: van, path: van}\n", ""))
    assert forget_source(c.root, "org", "van", apply=True).rows["identity"] == 1
    after = c.sync()  # reads the organization's other exports again in full
    assert after.status == "ok"
    assert (after.written["contact_attempt"], after.written["activity"]) == (0, 0)
    assert _organizers(c) == organizers
