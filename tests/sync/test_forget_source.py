# ruff: noqa: E501 - export fixtures are kept verbatim, one record per line
"""Forgetting one source taken out of an organization's cohort.yml entry: its rows, its
sync records and archived exports, the people only it knew; what it gave the people
other tools know too is worked out again, and a sync afterwards brings nothing back."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import duckdb
import pytest
from conftest import utc

from cyclebook.cli import main
from cyclebook.errors import CyclebookError
from cyclebook.forget import forget_source
from cyclebook.paths import CohortPaths, repo_root

VAN_THEN_AN = """
- {kind: van, path: van}
- {kind: action_network_csv, path: an}
"""

# 101 is the Action Network's u1 (the same email); 102 only VAN knows; 103 has u3's email
# and u4's phone: it made one person of them
VAN = {
    "van/persons.csv": """\
        vanid,firstname,lastname,email,phone,addressline1,city,state,zip5,datecreated,Shirt size
        101,Ana,Diaz,ana@example.org,617-555-0199,,,MA,02139,2025-01-02 09:00:00,M
        102,Gia,Quintero,gia.quintero@example.org,617-555-0144,3 Elm St,Boston,MA,02144,2025-01-03 10:00:00,L
        103,Cy,Park,cy@example.org,617-555-0177,,,MA,02141,2025-02-01 09:00:00,
        """,
    "van/results.csv": "resultid,resultshortname\n1,Not Home\n14,Canvassed\n",
    "van/contacttypes.csv": "contacttypeid,contacttypename\n2,Walk\n82,One on One\n",
    "van/contactscontacts.csv": """\
        contactscontactid,vanid,resultid,contacttypeid,datecanvassed,datecreated,canvassedby,campaignid
        9001,101,14,82,2026-08-10 18:00:00,2026-08-12T16:00:00Z,55,301
        9002,102,1,2,2026-08-11 11:00:00,2026-08-11 12:00:00,56,302
        9003,101,14,2,2026-08-11 11:05:00,2026-08-11 12:00:00,56,302
        9004,101,14,2,someday,2026-08-11 12:00:00,56,302
        """,
    "van/events.csv": "eventid,eventname,eventtypename,dateoffsetbegin\n7,Members meeting,Meeting,2026-08-20 18:30:00\n",
    "van/eventsignups.csv": """\
        eventsignupid,vanid,eventid,eventrolename,eventstatusname,datecreated,datemodified
        4001,101,7,Host,Completed,2026-08-01 10:00:00,2026-08-21T01:00:00Z
        4002,102,7,Volunteer,No Show,2026-08-02 10:00:00,2026-08-21T01:00:00Z
        """,
}
AN = """\
uuid,first_name,last_name,email,zip_code,can2_phone,can2_sms_status,can2_subscription_status,can2_subscription_date,can2_user_address,can2_user_city,can2_state_abbreviated,can2_county,can2_user_tags,Building
u1,Ana,Diaz,ana@example.org,02139,,subscribed,subscribed,2026-08-05 10:00:00,1 Main St,Boston,MA,Suffolk,tenant,Tower A
u2,Bo,Lee,bo@example.org,02140,,unsubscribed,unsubscribed,2026-09-01T12:00:00Z,,,MA,,,
u3,Cy,Park,cy@example.org,02141,,subscribed,subscribed,2026-08-06 10:00:00,,,MA,,,
u4,Cy,Park,,02141,617-555-0177,subscribed,subscribed,2026-08-07 10:00:00,,,MA,,,
"""
# what only VAN held of its members: 102's details, and 101's phone
ONLY_VAN = (b"gia.quintero@example.org", b"+16175550144", b"Quintero", b"3 Elm St", b"+16175550199")

# the canonical tables, each person named by their records (their person ids are hashes)
PEOPLE = f"""SELECT list(i.source || ':' || i.source_id ORDER BY i.source, i.source_id) AS ids,
                    {utc("p.first_seen_at")}, p.zip, p.email_ok,
                    pii.first_name, pii.last_name, pii.email, pii.phone, pii.address
             FROM person p JOIN identity i USING (org_id, person_id)
             LEFT JOIN person_pii pii USING (org_id, person_id)
             WHERE org_id = 'org' GROUP BY ALL ORDER BY ids"""
TABLES = {
    "person": PEOPLE,
    "activity": "SELECT activity_id, source FROM activity WHERE org_id = 'org' ORDER BY 1",
    "contact_attempt": "SELECT attempt_id FROM contact_attempt WHERE org_id = 'org' ORDER BY 1",
    "event": "SELECT event_id FROM event WHERE org_id = 'org' ORDER BY 1",
    "custom_field": """SELECT list(i.source_id ORDER BY i.source_id), c.source, c.field, c.value
                       FROM custom_field c JOIN identity i USING (org_id, person_id)
                       WHERE org_id = 'org' GROUP BY ALL ORDER BY ALL""",
    # each email and phone a record carried, by the record (keys are salted hashes)
    "person_key": """SELECT i.source || ':' || i.source_id, count(*) FROM person_key k
                     JOIN identity i ON i.org_id = k.org_id AND i.person_id = k.person_id
                      AND k.id_key = md5_number((SELECT value FROM meta WHERE key = 'match_salt')
                                                || ':i:' || i.source || chr(31) || i.source_id)
                     WHERE k.org_id = 'org' GROUP BY ALL ORDER BY 1""",
    "person_key rows": "SELECT count(*) FROM person_key WHERE org_id = 'org'",
    "sync_run": """SELECT file, rows_read, rows_kept, rows_rejected FROM sync_run
                   WHERE org_id = 'org' ORDER BY run_id, file NULLS LAST""",
    "rejected_row": "SELECT file, line FROM rejected_row WHERE org_id = 'org' ORDER BY ALL",
    "raw_file": "SELECT original_path FROM raw_file WHERE org_id = 'org' ORDER BY 1",
}


def _tables(c) -> dict[str, list[tuple]]:
    return {name: c.query(sql) for name, sql in TABLES.items()}


def _synced(make_cohort):
    c = make_cohort(VAN_THEN_AN)
    for rel, text in VAN.items():
        c.write(rel, text)
    c.write("an/activists.csv", AN)
    assert c.sync().status == "ok"
    return c


def _take_out(c, line: str) -> None:
    cohort_yml = c.root / "cohort.yml"
    text = cohort_yml.read_text()
    assert f"      {line}\n" in text
    cohort_yml.write_text(text.replace(f"      {line}\n", ""))


def _plant_another_organization(c) -> list[tuple]:
    """Rows of another organization of the cohort, with a VAN record of the same id:
    untouched by forgetting this one's VAN."""
    con = duckdb.connect(str(c.root / "store.duckdb"))
    try:
        con.execute(
            """INSERT INTO identity (org_id, person_id, source, source_id, listed)
               VALUES ('other', 'po', 'van', '101', TRUE);
               INSERT INTO person (org_id, person_id) VALUES ('other', 'po');
               INSERT INTO activity (org_id, activity_id, person_id, source, type, occurred_at)
               VALUES ('other', 'van:cc:1', 'po', 'van', 'one_on_one', '2026-01-01');
               INSERT INTO meta VALUES ('sync_code:other', 'x')"""
        )
    finally:
        con.close()
    return _other(c)


def _other(c) -> list[tuple]:
    return c.query(
        """SELECT 'identity', source || ':' || source_id FROM identity WHERE org_id = 'other'
           UNION ALL SELECT 'person', person_id FROM person WHERE org_id = 'other'
           UNION ALL SELECT 'activity', activity_id FROM activity WHERE org_id = 'other'
           UNION ALL SELECT 'meta', key FROM meta WHERE key = 'sync_code:other'
           ORDER BY ALL"""
    )


def test_a_source_taken_out_is_forgotten_and_a_sync_brings_nothing_back(make_cohort, capsys):
    c = _synced(make_cohort)
    other = _plant_another_organization(c)
    before = _tables(c)
    # (as synced from both tools: a VAN date first sees Ana and Cy, and Ana's phone is VAN's)
    assert before["person"] == [
        (
            ["action_network:u1", "van:101"],
            "2025-01-02 14:00",
            "02139",
            True,
            "Ana",
            "Diaz",
            "ana@example.org",
            "+16175550199",
            "1 Main St, Boston",
        ),
        (
            ["action_network:u2"],
            "2026-09-01 12:00",
            "02140",
            False,
            "Bo",
            "Lee",
            "bo@example.org",
            None,
            None,
        ),
        (
            ["action_network:u3", "action_network:u4", "van:103"],
            "2025-02-01 14:00",
            "02141",
            True,
            "Cy",
            "Park",
            "cy@example.org",
            "+16175550177",
            None,
        ),
        (
            ["van:102"],
            "2025-01-03 15:00",
            "02144",
            None,
            "Gia",
            "Quintero",
            "gia.quintero@example.org",
            "+16175550144",
            "3 Elm St, Boston",
        ),
    ]
    store = c.root / "store.duckdb"
    raw = store.read_bytes()
    assert [value for value in ONLY_VAN if value not in raw] == []  # (stored as written)
    archive = c.root / "archive" / "org"
    assert len(list(archive.glob("*/*.csv"))) == 7

    # refused while cohort.yml lists it: its next sync would read it again
    with pytest.raises(CyclebookError, match="van is still a source of org in") as refused:
        forget_source(c.root, "org", "van")
    assert "(van at 'van')" in str(refused.value)
    assert refused.value.fix.startswith("take it out of org's sources in cohort.yml first")
    _take_out(c, "- {kind: van, path: van}")

    assert main(["forget", str(c.root), "org", "--source", "van"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert _tables(c) == before  # only listed
    assert listed[:15] == [
        "would remove 3 row(s) of activity",  # the one-on-one and the two sign-ups
        "would remove 2 row(s) of contact_attempt",
        "would remove 2 row(s) of custom_field",  # 101's and 102's shirt sizes
        "would remove 1 row(s) of event",
        "would remove 3 row(s) of identity",
        "would remove 1 row(s) of meta",  # sync_code:org (its next sync reads all again)
        "would remove 1 row(s) of person",
        "would remove 6 row(s) of person_key",  # an email and a phone of each VAN id
        "would remove 1 row(s) of person_pii",
        "would remove 6 row(s) of raw_file",
        "would remove 1 row(s) of rejected_row",
        "would remove 6 row(s) of sync_run",
        "(the 1 row(s) of person: the people only van knew, with their person_pii, "
        "person_key and custom_field rows)",
        "would work out again the first-seen date of 2 person(s) who keep other tools' "
        "records, from what they still have (their activities and their records' first dates)",
        "would remove 1 email(s) or phone(s) that only van gave, of people who keep other "
        "tools' records",
    ]
    assert listed[-1] == "run again with --yes to remove them (this cannot be undone)"
    assert (
        "1 person(s) stay one person though only van's emails or phones joined their other "
        "records (identity never splits)"
    ) in listed
    assert f"kept (the group's own files): {c.exports / 'van' / 'persons.csv'}" in listed
    copies = [line for line in listed if line.startswith("would remove /")]
    assert len(copies) == 6 and all(str(archive) in line for line in copies)

    assert main(["forget", str(c.root), "org", "--source", "van", "--yes"]) == 0
    applied = capsys.readouterr().out.splitlines()
    assert applied[0] == "removed 3 row(s) of activity"
    assert applied[-1] == "recorded in the store that van was forgotten"
    after = _tables(c)
    assert after["person"] == [
        # Ana keeps Action Network's first date, and loses the phone only VAN had
        (
            ["action_network:u1"],
            "2026-08-05 14:00",
            "02139",
            True,
            "Ana",
            "Diaz",
            "ana@example.org",
            None,
            "1 Main St, Boston",
        ),
        (
            ["action_network:u2"],
            "2026-09-01 12:00",
            "02140",
            False,
            "Bo",
            "Lee",
            "bo@example.org",
            None,
            None,
        ),
        # u3 and u4 stay one person (only VAN's 103 joined them); both carried Cy's
        # email or phone, which stay
        (
            ["action_network:u3", "action_network:u4"],
            "2026-08-06 14:00",
            "02141",
            True,
            "Cy",
            "Park",
            "cy@example.org",
            "+16175550177",
            None,
        ),
    ]
    assert c.query("SELECT count(*) FROM person WHERE org_id = 'org'") == [(3,)]
    assert c.query("SELECT count(*) FROM person_pii WHERE org_id = 'org'") == [(3,)]
    assert after["activity"] == [
        ("an:signup:u1", "action_network"),
        ("an:signup:u2", "action_network"),
        ("an:signup:u3", "action_network"),  # (one signup a person: u4's was u3's)
    ]
    assert after["contact_attempt"] == [] and after["event"] == []
    assert after["custom_field"] == [
        (["u1"], "action_network", "Building", "Tower A"),
        (["u1"], "action_network", "can2_user_tags", "tenant"),
    ]
    assert after["person_key"] == [
        ("action_network:u1", 1),
        ("action_network:u2", 1),
        ("action_network:u3", 1),
        ("action_network:u4", 1),
    ]
    assert after["person_key rows"] == [(4,)]  # no key of a record forgotten is left
    # the run keeps its Action Network file, and its own figures lose VAN's files'
    assert after["sync_run"] == [("an/activists.csv", 4, 4, 0), (None, 4, 4, 0)]
    assert before["sync_run"][-1] == (None, 18, 17, 1)  # VAN: 14 read, 1 rejected
    assert after["rejected_row"] == [] and after["raw_file"] == [("an/activists.csv",)]
    assert [p.name for p in archive.glob("*/*")] == ["activists.csv"]
    assert len(list(archive.iterdir())) == 1  # (the folders of VAN's hashes too)
    meta = dict(c.query("SELECT key, value FROM meta"))
    assert "sync_code:org" not in meta
    record = json.loads(meta["forgotten_source/van/org"])
    assert record["rows"]["identity"] == 3 and len(record["archive"]) == 6
    assert _other(c) == other  # another organization's rows are its own
    # written again, not only deleted from: no byte of what only VAN held is left
    raw = store.read_bytes()
    assert [value for value in ONLY_VAN if value in raw] == []
    assert b"ana@example.org" in raw  # (the file is still read as written)
    assert not store.with_name("store.duckdb.forget").exists()
    assert (c.exports / "van" / "persons.csv").exists()  # what the group gave is its own

    # the next sync reads the Action Network export again in full (how the exports were
    # read was forgotten with VAN): it finds the store as forget left it
    forgotten = _tables(c)
    result = c.sync()
    assert result.status == "ok"
    resynced = _tables(c)
    assert resynced.pop("sync_run")[-2:] == [("an/activists.csv", 4, 4, 0), (None, 4, 4, 0)]
    forgotten.pop("sync_run")
    assert resynced == forgotten
    assert c.query("SELECT DISTINCT source FROM identity WHERE org_id = 'org'") == [
        ("action_network",)
    ]
    assert [p.name for p in archive.glob("*/*")] == ["activists.csv"]
    assert c.sync().status == "unchanged"

    assert main(["forget", str(c.root), "org", "--source", "van"]) == 0
    again = capsys.readouterr().out.splitlines()
    assert again == [f"van of org was forgotten at {record['at']}: the store holds nothing of it"]


def test_refused_names(make_cohort):
    c = _synced(make_cohort)
    with pytest.raises(CyclebookError, match="nobody is not an organization of") as refused:
        forget_source(c.root, "nobody", "van")
    assert f"`cyclebook forget {c.root} nobody`" in refused.value.fix
    _take_out(c, "- {kind: van, path: van}")
    with pytest.raises(CyclebookError) as refused:
        forget_source(c.root, "org", "vann")
    assert str(refused.value).startswith(
        "the store holds no source named 'vann' of org; it holds action_network, van"
    )
    assert refused.value.fix.startswith("did you mean van? name the source as the store does")
    with pytest.raises(CyclebookError, match="no source named 'sheet:dues' of org") as refused:
        forget_source(c.root, "org", "sheet:dues")
    assert not refused.value.fix.startswith("did you mean")
    # Action Network's report and API pages are one tool in the store
    with pytest.raises(CyclebookError, match="action_network is still a source of org"):
        forget_source(c.root, "org", "action_network")
    assert c.query("SELECT count(*) FROM identity") == [(7,)]  # nothing was removed


SIGN_IN = """
- kind: generic_csv
  path: Sign-in sheet.csv
  activity_type: attendance
  columns: {person_id: ID, occurred_at: Date, event: Meeting}
"""
ROWS = "ID,Date,Meeting\nA,2026-03-04,Kickoff\nB,2026-05-06,Kickoff\n"


def _counted_twice(make_cohort):
    """The same sheet read under two names (both in cohort.yml for a while), the first
    then taken out: its rows are counted beside the second's."""
    c = make_cohort(SIGN_IN + SIGN_IN.replace("Sign-in sheet.csv", "Sign-in sheet (1).csv"))
    c.write("Sign-in sheet.csv", ROWS)
    c.write("Sign-in sheet (1).csv", ROWS)
    assert c.sync().status == "ok"
    cohort_yml = c.root / "cohort.yml"
    first_source = SIGN_IN.strip().replace("\n", "\n      ")  # (as indented in cohort.yml)
    cohort_yml.write_text(cohort_yml.read_text().replace(first_source, "", 1))
    c.write("Sign-in sheet (1).csv", ROWS + "C,2026-05-06,Kickoff\n")
    return c


def test_a_sheet_counted_twice_is_counted_once_once_forgotten(make_cohort):
    from cyclebook.phases import load_context
    from cyclebook.phases import sync as sync_phase
    from cyclebook.store import connect
    from cyclebook.sync.summary import load_summary

    c = _counted_twice(make_cohort)
    shutil.copytree(repo_root() / "cycles" / "demo" / "2026-c1", c.root / "2026-c1")
    ctx = load_context("sync", str(c.root), "2026-c1", "org", "organization")
    result = sync_phase.run(ctx)
    (sheet,) = result.files
    fix = (
        f"Fix: `cyclebook forget {c.root} org --source sheet:sign-in-sheet` lists what the "
        "store holds of 'sheet:sign-in-sheet', and removes it with --yes"
    )
    assert sheet.notes[0].endswith(
        "both are counted (the store keeps what a source taken out of cohort.yml brought "
        "until it is forgotten). " + fix
    )
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    assert summary.retired_sources == ["sheet:sign-in-sheet"]
    html = "\n".join(b.html for b in sync_phase.blocks(ctx, summary, result))
    assert (
        f"`cyclebook forget {c.root} org --source sheet:sign-in-sheet` lists what the store "
        "holds of it"
    ) in html
    assert c.query("SELECT source, count(*) FROM activity GROUP BY ALL ORDER BY 1") == [
        ("sheet:sign-in-sheet", 2),
        ("sheet:sign-in-sheet--1-", 3),
    ]
    # both files' first version were the same bytes: one hash, two archived names
    archived = sorted(p.name for p in (c.root / "archive" / "org").glob("*/*"))
    assert archived == ["Sign-in sheet (1).csv", "Sign-in sheet (1).csv", "Sign-in sheet.csv"]

    found = forget_source(c.root, "org", "sheet:sign-in-sheet", apply=True)
    assert {t: n for t, n in found.rows.items() if n} == {
        "activity": 2,
        "event": 2,  # a sheet's events are its own: Kickoff on 4 March and on 6 May
        "identity": 2,
        "meta": 1,
        "person": 2,  # A and B of the first sheet: no email or phone joined them
        "person_pii": 2,
        "sync_run": 1,
        # (its one raw_file row is also the second sheet's first version: kept)
    }
    assert found.redated == 0 and found.cleared == 0 and found.joined == 0
    assert c.query("SELECT source, count(*) FROM activity GROUP BY ALL") == [
        ("sheet:sign-in-sheet--1-", 3)
    ]
    assert c.query("SELECT count(*) FROM person") == [(3,)]
    assert c.query("SELECT DISTINCT source FROM event") == [("sheet:sign-in-sheet--1-",)]
    assert c.query("SELECT file FROM sync_run WHERE file IS NOT NULL ORDER BY run_id, file") == [
        ("Sign-in sheet (1).csv",),
        ("Sign-in sheet (1).csv",),
    ]
    assert c.query("SELECT count(*) FROM raw_file") == [(2,)]
    archived = sorted(p.name for p in (c.root / "archive" / "org").glob("*/*"))
    assert archived == ["Sign-in sheet (1).csv", "Sign-in sheet (1).csv"]
    with connect(ctx.store_path) as con:
        assert load_summary(con, ctx.org).retired_sources == []
    result = sync_phase.run(ctx)
    assert result.status == "ok" and result.files[0].notes == []
    assert c.query("SELECT source, count(*) FROM activity GROUP BY ALL") == [
        ("sheet:sign-in-sheet--1-", 3)
    ]


def test_files_synced_before_their_source_was_recorded_are_told_by_name(make_cohort):
    """A store synced before cyclebook kept each file's source in its sync records: a
    spreadsheet's files are told by the configured source that reads them, else by
    their file or folder name."""
    c = _counted_twice(make_cohort)
    con = duckdb.connect(str(c.root / "store.duckdb"))
    try:
        for run_id, file, message in con.execute(
            "SELECT run_id, file, message FROM sync_run WHERE file IS NOT NULL"
        ).fetchall():
            older = {k: v for k, v in json.loads(message).items() if k != "source"}
            con.execute(
                "UPDATE sync_run SET message = ? WHERE run_id = ? AND file = ?",
                [json.dumps(older), run_id, file],
            )
    finally:
        con.close()
    found = forget_source(c.root, "org", "sheet:sign-in-sheet")
    assert found.rows["sync_run"] == 1 and found.untold == 0
    assert [p.name for p in found.paths] == ["Sign-in sheet.csv"]


SPOKE_CONTACTS = """\
campaignId,campaign,assignmentId,texter[firstName],texter[lastName],contact[firstName],contact[lastName],contact[cell],contact[zip],contact[optOut],contact[messageStatus],contact[external_id],question[Will you come?],tags
71,Kickoff,5,Sam,Rivera,Hal,Ito,+16175550104,02145,false,convo,,Yes,hot
71,Kickoff,5,Sam,Rivera,Ida,Jo,+16175550106,02146,true,closed,999,,
"""
SPOKE_MESSAGES = """\
campaignId,contactNumber,userNumber,isFromContact,sendStatus,attemptedAt,text
71,+16175550104,+16175550100,false,DELIVERED,2026-08-20T15:00:00Z,Hi!
71,+16175550104,+16175550100,true,DELIVERED,2026-08-20T15:30:00Z,yes I will
71,+16175550106,+16175550100,false,DELIVERED,2026-08-20T15:01:00Z,Hi!
"""


def test_spoke_forgotten_takes_the_van_ids_only_it_named(make_cohort):
    """A Spoke contact's external_id names a VAN id no VAN export listed: a record only
    Spoke held, forgotten with it. The VAN person Spoke texted keeps VAN's first date;
    the name Spoke gave them stays until the next sync reads VAN's again."""
    c = make_cohort("- {kind: van, path: van}\n- {kind: spoke, path: spoke}")
    c.write(
        "van/persons.csv",
        "vanid,firstname,lastname,phone,datecreated\n101,Fa,Un,617-555-0104,2026-09-01 09:00:00\n",
    )
    c.write("spoke/contacts.csv", SPOKE_CONTACTS)
    c.write("spoke/messages.csv", SPOKE_MESSAGES)
    assert c.sync().status == "ok"
    assert c.query(
        "SELECT source, source_id, listed FROM identity WHERE source = 'van' ORDER BY 2"
    ) == [("van", "101", True), ("van", "999", False)]
    fa = "SELECT i.source_id, {}, pii.first_name, pii.phone FROM person p JOIN identity i USING (org_id, person_id) JOIN person_pii pii USING (org_id, person_id) WHERE i.source = 'van' ORDER BY 1".format(
        utc("p.first_seen_at")
    )
    assert c.query(fa) == [
        ("101", "2026-08-20 15:00", "Hal", "+16175550104"),  # (Spoke's, the later file)
        ("999", "2026-08-20 15:01", "Ida", "+16175550106"),
    ]
    _take_out(c, "- {kind: spoke, path: spoke}")
    found = forget_source(c.root, "org", "spoke", apply=True)
    assert found.rows["identity"] == 3  # Hal's and Ida's Spoke records, and VAN id 999
    assert found.rows["person"] == 1 and found.rows["contact_attempt"] == 2
    assert found.rows["activity"] == 1 and found.rows["custom_field"] == 1  # answer, tags
    assert found.redated == 1 and found.cleared == 0  # VAN 101 carried the phone too
    assert c.query("SELECT source, source_id FROM identity") == [("van", "101")]
    assert c.query(fa) == [("101", "2026-09-01 13:00", "Hal", "+16175550104")]
    assert c.query("SELECT count(*) FROM contact_attempt") == [(0,)]
    # the next sync reads VAN's exports again in full: VAN's name replaces Spoke's
    assert c.sync().status == "ok"
    assert c.query(fa) == [("101", "2026-09-01 13:00", "Fa", "+16175550104")]


def test_saved_measures_of_the_organization_are_computed_again(make_cohort):
    """The runner re-runs a report when the store's rows of its organization change
    (incremental.Fingerprints.store): forgetting a source changes them. The values a
    share report saved are reused while fresh (no sync since): forget makes them stale,
    or a cohort or funder report would have shown the forgotten source's figures."""
    from cyclebook.config import load_cohort
    from cyclebook.incremental import Fingerprints
    from cyclebook.metrics.values import fresh_results

    c = _synced(make_cohort)
    _plant_another_organization(c)
    con = duckdb.connect(str(c.root / "store.duckdb"))
    try:
        con.execute(
            """INSERT INTO metric_value (cycle, org_id, metric, period, value, computed_at)
               VALUES ('c1', 'org', 'people', 'cycle', 4, now());
               INSERT INTO meta VALUES ('metric_inputs/c1/org', 'inputs'),
                                       ('person_state/c1/org', 'inputs');
               INSERT INTO person_state (cycle, org_id, person_id)
               SELECT 'c1', org_id, person_id FROM person WHERE org_id = 'org'"""
        )
    finally:
        con.close()
    settled = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert fresh_results(c.root / "store.duckdb", "c1", "org", "inputs", settled_at=settled)
    _take_out(c, "- {kind: van, path: van}")
    paths = CohortPaths.of(c.root)

    def digests() -> dict[str, str]:
        prints = Fingerprints(paths, load_cohort(c.root), {}, {})
        return {org: prints.store([org], data_only=True) for org in ("org", "other")}

    before = digests()
    found = forget_source(c.root, "org", "van", apply=True)
    assert found.rows["person_state"] == 4 and found.rows["meta"] == 3
    after = digests()
    assert after["org"] != before["org"] and after["other"] == before["other"]
    assert fresh_results(c.root / "store.duckdb", "c1", "org", "inputs", settled_at=settled) is None
    assert c.query("SELECT count(*) FROM metric_value") == [(1,)]  # (computed again by share)
    assert c.query("SELECT count(*) FROM person_state") == [(0,)]


def test_a_forget_stopped_before_removing_the_copies_finishes_them(make_cohort, monkeypatch):
    import cyclebook.forget as forget_module

    c = _synced(make_cohort)
    _take_out(c, "- {kind: van, path: van}")
    copies = forget_source(c.root, "org", "van").paths
    assert len(copies) == 6

    rewrite = forget_module._rewrite_store

    def stopped(*args):  # stopped once the store is written again
        rewrite(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(forget_module, "_rewrite_store", stopped)
    with pytest.raises(KeyboardInterrupt):
        forget_source(c.root, "org", "van", apply=True)
    monkeypatch.undo()
    assert all(path.exists() for path in copies)
    assert c.query("SELECT count(*) FROM identity WHERE source = 'van'") == [(0,)]
    again = forget_source(c.root, "org", "van")
    assert again.paths == copies
    assert again.lines(applied=False)[0].startswith("van of org was forgotten at ")
    forget_source(c.root, "org", "van", apply=True)
    assert not any(path.exists() for path in copies)
    assert forget_source(c.root, "org", "van").paths == []
