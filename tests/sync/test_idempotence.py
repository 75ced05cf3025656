"""Losing nothing: archive byte for byte, re-sync changes nothing, newer exports merge."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from conftest import utc
from test_readers import (
    AN_API_PERSON,
    AN_CSV,
    MOBILIZE_PAGE,
    SPOKE_CONTACTS,
    SPOKE_MESSAGES,
    _osdi,
)

from cyclebook.errors import ExportError
from cyclebook.store import UNINDEXED_KEYS
from cyclebook.sync import merge

CANONICAL = [
    "person",
    "person_pii",
    "identity",
    "event",
    "activity",
    "contact_attempt",
    "custom_field",
    "event_field",
    "activity_field",
    "person_key",
    "raw_file",
]

SOURCES = "- {kind: action_network_csv, path: an}\n- {kind: mobilize, path: mobilize}"


def snapshot(c) -> dict[str, list[tuple]]:
    out = {
        t: c.query(f"SELECT CAST(COLUMNS(*) AS VARCHAR) FROM {t} ORDER BY ALL") for t in CANONICAL
    }
    out["rejected_row"] = c.query(
        "SELECT file, line, column_name, reason FROM rejected_row ORDER BY ALL"
    )
    return out


def test_resync_same_files_changes_nothing(make_cohort):
    c = make_cohort(SOURCES)
    c.write("an/activists.csv", AN_CSV + AN_CSV.splitlines()[0] + "\n")  # + a repeated header
    c.write("mobilize/p1.json", MOBILIZE_PAGE)
    first = c.sync()
    assert first.status == "ok"
    before = snapshot(c)
    runs = c.query("SELECT count(*) FROM sync_run")
    second = c.sync()
    assert second.status == "unchanged"
    assert [f.file for f in second.files] == [f.file for f in first.files]
    assert snapshot(c) == before
    assert c.query("SELECT count(*) FROM sync_run") == runs  # nothing written at all
    forced = c.sync(force=True)  # even re-reading everything changes no canonical row
    assert forced.status == "ok"
    assert forced.written["activity"] == 0 and forced.written["person"] == 0
    assert snapshot(c) == before


def test_a_sync_of_unchanged_exports_makes_no_database_to_read_them_into(make_cohort, monkeypatch):
    # (every report syncs its organization first: with nothing to read, a DuckDB
    # instance, its threads and its settings cost a re-run's every report ~15 ms)
    import cyclebook.sync

    c = make_cohort(SOURCES)
    c.write("an/activists.csv", AN_CSV)
    c.write("mobilize/p1.json", MOBILIZE_PAGE)
    assert c.sync().status == "ok"

    def refused(setup=""):
        raise AssertionError("a database was made to read unchanged exports into")

    monkeypatch.setattr(cyclebook.sync, "private_instance", refused)
    assert c.sync().status == "unchanged"
    with pytest.raises(AssertionError, match="a database was made"):
        c.sync(force=True)
    assert not list((c.root / ".cyclebook").glob("spill-*"))


def test_raw_exports_archived_byte_for_byte(make_cohort):
    c = make_cohort(SOURCES)
    raw = ("\ufeff" + AN_CSV).encode("utf-8")
    c.write("an/activists.csv", raw)
    c.write("mobilize/p1.json", MOBILIZE_PAGE)
    c.sync()
    digest = hashlib.sha256(raw).hexdigest()
    rows = c.query(
        "SELECT sha256, original_path, archived_path, size_bytes FROM raw_file "
        "WHERE original_path = 'an/activists.csv'"
    )
    assert rows == [(digest, "an/activists.csv", f"archive/org/{digest}/activists.csv", len(raw))]
    assert (c.root / rows[0][2]).read_bytes() == raw
    # the hash the archive copy computed is in the cohort's cache for the runner to reuse
    cache = json.loads((c.root / ".cyclebook" / "sha256.json").read_text())["files"]
    assert cache[str((c.exports / "an" / "activists.csv").resolve())]["sha256"] == digest


def test_newer_export_merges_without_duplicates(make_cohort):
    c = make_cohort("- {kind: action_network_csv, path: an}")
    head = "uuid,first_name,last_name,email,zip_code,can2_phone,can2_subscription_date\n"
    c.write(
        "an/activists-2026-08-01.csv",
        head
        + "u1,Ana,Diaz,ana@example.org,02139,,2026-07-01\n"
        + "u2,Bo,Lee,bo@example.org,02140,,2026-07-02\n",
    )
    c.sync()
    # the newer export: Bo moved (zip), Ana is there twice, Cy is new; a second email
    # address case for Ana must not create a new person
    c.write(
        "an/activists-2026-09-01.csv",
        head
        + "u1,Ana,Diaz,ANA@example.org,02139,617-555-0101,2026-07-01\n"
        + "u1,Ana,Diaz,ana@example.org,02139,,2026-07-01\n"
        + "u2,Bo,Lee,bo@example.org,02199,,2026-07-02\n"
        + "u3,Cy,Ng,cy@example.org,02141,,2026-08-20\n",
    )
    result = c.sync()
    assert result.status == "ok"
    assert_keys_unique(c)
    assert c.query("SELECT count(*) FROM person") == [(3,)]
    assert c.query("SELECT count(*) FROM identity") == [(3,)]
    assert c.query("SELECT count(*), count(DISTINCT activity_id) FROM activity") == [(3, 3)]
    people = c.query(
        """SELECT i.source_id, p.zip, pii.phone FROM person p
           JOIN identity i USING (org_id, person_id) JOIN person_pii pii USING (org_id, person_id)
           ORDER BY 1"""
    )
    assert people == [("u1", "02139", "+16175550101"), ("u2", "02199", None), ("u3", "02141", None)]
    # the older file leaves the folder: what it brought stays (the store is cumulative)
    (c.exports / "an" / "activists-2026-08-01.csv").unlink()
    c.sync()
    assert c.query("SELECT count(*) FROM person") == [(3,)]
    # person ids are stable across syncs
    ids = c.query("SELECT person_id FROM identity ORDER BY source_id")
    c.sync(force=True)
    assert c.query("SELECT person_id FROM identity ORDER BY source_id") == ids
    assert_keys_unique(c)


def assert_keys_unique(c) -> None:
    """The tables without a PRIMARY KEY hold one row per key: the sync keeps them so."""
    for table, key in UNINDEXED_KEYS.items():
        cols = ", ".join(key)
        repeated = c.query(f"SELECT {cols}, count(*) FROM {table} GROUP BY ALL HAVING count(*) > 1")
        assert repeated == [], table


def test_new_tool_matches_stored_people(make_cohort):
    """A later sync that brings a second tool matches people already in the store."""
    c = make_cohort("- {kind: action_network_csv, path: an}\n- {kind: mobilize, path: mobilize}")
    c.write("an/a.csv", "uuid,email\nu9,di@example.org\n")
    c.write("mobilize/p0.json", {"count": 0, "next": None, "data": []})
    c.sync()
    c.write("mobilize/p1.json", {"count": 1, "next": None, "data": [MOBILIZE_PAGE["data"][0]]})
    c.sync()
    rows = c.query("SELECT count(DISTINCT person_id), count(*) FROM identity")
    assert rows == [(1, 2)]
    assert_keys_unique(c)


def test_modified_activity_replaces_the_old_row(make_cohort):
    """A newer page marks a registration as attended: one row, updated (no duplicate)."""
    import copy

    c = make_cohort("- {kind: mobilize, path: mobilize}")
    first = copy.deepcopy(MOBILIZE_PAGE)
    first["data"][0]["status"], first["data"][0]["attended"] = "REGISTERED", None
    c.write("mobilize/page-2026-05-01.json", first)
    c.sync()
    assert c.query("SELECT status, attended FROM activity WHERE source_id = '11'") == [
        ("registered", None)
    ]
    c.write("mobilize/page-2026-06-01.json", MOBILIZE_PAGE)  # the newer export
    result = c.sync()
    assert result.written["activity"] == 1
    assert c.query("SELECT status, attended FROM activity WHERE source_id = '11'") == [
        ("confirmed", True)
    ]
    assert c.query("SELECT count(*), count(DISTINCT activity_id) FROM activity") == [(2, 2)]
    assert_keys_unique(c)


@pytest.fixture(params=["few", "many"])
def people_written(request, monkeypatch):
    """A re-sync writing a few of the stored people, or most of them (then their
    first-seen dates are found another way: merge.MANY_WRITTEN, lowered to the
    tests' handful of people)."""
    if request.param == "many":
        monkeypatch.setattr(merge, "MANY_WRITTEN", 1)
    return request.param


@pytest.mark.usefixtures("people_written")
def test_first_seen_is_the_earliest_of_creation_and_activities_across_syncs(make_cohort):
    c = make_cohort("- {kind: van, path: van}")
    c.write("van/persons.csv", "vanid,datecreated\n101,2026-08-05 10:00:00\n102,2026-08-05\n")
    c.write(
        "van/contributions-1.csv",
        "contributionid,vanid,amount,datereceived\n1,101,10.00,2026-07-01\n2,102,5,2026-09-01\n",
    )
    c.sync()
    first_seen = """SELECT i.source_id, strftime(p.first_seen_at, '%Y-%m-%d')
                    FROM person p JOIN identity i USING (org_id, person_id) ORDER BY 1"""
    # 101 gave before the record was created; 102's record is older than its gift
    assert c.query(first_seen) == [("101", "2026-07-01"), ("102", "2026-08-05")]
    c.write(
        "van/contributions-2.csv",
        "contributionid,vanid,amount,datereceived\n3,101,10.00,2026-10-01\n4,102,5,2026-06-15\n",
    )
    c.sync()
    # a later gift does not move 101; an earlier one (in a newer export) moves 102
    assert c.query(first_seen) == [("101", "2026-07-01"), ("102", "2026-06-15")]
    assert_keys_unique(c)


def test_the_record_the_tool_modified_last_wins_whatever_the_file_names(make_cohort):
    """'eventsignups-2026-09.csv' sorts before 'eventsignups.csv', yet it is the newer
    export: VAN's own datemodified decides, and an older export read again never undoes
    an update."""
    c = make_cohort("- {kind: van, path: van}")
    head = "eventsignupid,vanid,eventid,eventstatusname,datecreated,datemodified\n"
    c.write("van/persons.csv", "vanid,datecreated\n101,2026-08-01\n")
    c.write("van/eventsignups.csv", head + "7,101,55,Scheduled,2026-08-02,2026-08-02\n")
    c.sync()
    status = "SELECT status, attended FROM activity WHERE activity_id = 'van:es:7'"
    assert c.query(status) == [("registered", None)]
    newer = c.write(
        "van/eventsignups-2026-09.csv", head + "7,101,55,Completed,2026-08-02,2026-09-03\n"
    )
    c.sync()
    assert c.query(status) == [("completed", True)]
    # the newer file leaves the folder: reading the older one again keeps the update
    newer.unlink()
    c.sync()
    assert c.query(status) == [("completed", True)]
    # even a forced sync, which compares every export again: the stored row is newer
    c.sync(force=True)
    assert c.query(status) == [("completed", True)]
    assert_keys_unique(c)


def test_an_export_synced_later_is_newer_and_unchanged_exports_are_not_reapplied(make_cohort):
    """Contributions carry no modification date: the export that arrived later wins,
    whatever its name; exports already synced are not compared again (a removed newer
    file changes nothing); a forced sync re-applies the exports in the folder as they are."""
    c = make_cohort("- {kind: van, path: van}")
    head = "contributionid,vanid,amount,datereceived\n"
    c.write("van/persons.csv", "vanid,datecreated\n101,2026-08-01\n")
    c.write("van/contributions.csv", head + "1,101,10.00,2026-08-02\n")
    c.sync()
    amount = "SELECT amount FROM activity WHERE activity_id = 'van:ct:1'"
    assert c.query(amount) == [(10.0,)]
    later = c.write(
        "van/contributions-2.csv", head + "1,101,12.00,2026-08-02\n2,101,5,2026-08-03\n"
    )
    result = c.sync()
    assert result.written["activity"] == 2  # the correction and the new gift only
    assert c.query(amount) == [(12.0,)]
    later.unlink()
    c.sync()
    assert c.query(amount) == [(12.0,)]
    assert c.query("SELECT count(*) FROM activity") == [(2,)]
    c.sync(force=True)
    assert c.query(amount) == [(10.0,)]
    assert_keys_unique(c)


def test_a_changed_lookup_table_updates_the_rows_of_unchanged_exports(make_cohort):
    """An event moved to another day re-dates its signups, though eventsignups.csv is
    the same file as before."""
    c = make_cohort("- {kind: van, path: van}")
    c.write("van/persons.csv", "vanid,datecreated\n101,2026-08-01\n")
    c.write(
        "van/eventsignups.csv",
        "eventsignupid,vanid,eventid,eventstatusname,datecreated\n7,101,55,Completed,2026-08-02\n",
    )
    events = "eventid,eventname,eventtypename,dateoffsetbegin\n55,Kickoff,Meeting,{day} 18:00:00\n"
    c.write("van/events.csv", events.format(day="2026-08-10"))
    c.sync()
    day = "SELECT strftime(occurred_at, '%Y-%m-%d') FROM activity WHERE activity_id = 'van:es:7'"
    assert c.query(day) == [("2026-08-10",)]
    c.write("van/events.csv", events.format(day="2026-08-17"))
    result = c.sync()
    assert result.written["activity"] == 1
    assert c.query(day) == [("2026-08-17",)]


def test_spoke_messages_added_later_complete_the_unchanged_contacts(make_cohort):
    """Spoke's contacts and messages are read together: a messages file added to the
    folder turns unchanged contacts into contact attempts."""
    c = make_cohort("- {kind: spoke, path: spoke}")
    c.write("spoke/campaign-71-contacts.csv", SPOKE_CONTACTS)
    c.sync()
    assert c.query("SELECT count(*) FROM contact_attempt") == [(0,)]  # none texted yet
    c.write("spoke/campaign-71-messages.csv", SPOKE_MESSAGES)
    c.sync()
    assert c.unkeyed("SELECT attempt_id, replied FROM contact_attempt") == [
        ("spoke:71:+16175550105", True),
        ("spoke:71:+16175550106", False),
    ]
    assert_keys_unique(c)


def test_a_tool_with_no_changed_export_is_carried_over_not_read_again(make_cohort):
    """A new Mobilize page: Action Network's unchanged report is not read again; its
    figures, date coverage and rejects carry over, and a new attendance still finds the
    Action Network person by email through the store."""
    import copy
    import dataclasses

    c = make_cohort(SOURCES)
    bad = "u3,Cy,Ng,cy@example.org,02141,,,,not a date,,,,,,\n"
    c.write("an/activists.csv", AN_CSV + bad)
    first_page = copy.deepcopy(MOBILIZE_PAGE)
    first_page["data"] = first_page["data"][1:]
    c.write("mobilize/p1.json", first_page)
    first = c.sync()
    an_before = next(f for f in first.files if f.file == "an/activists.csv")
    runs = """SELECT file, rows_read, rows_rejected, strftime(min_occurred_at, '%Y-%m-%d'),
                     strftime(max_occurred_at, '%Y-%m-%d')
              FROM sync_run WHERE file = 'an/activists.csv' ORDER BY started_at"""
    rejects_before = c.rejects()
    assert [r[0] for r in rejects_before] == ["an/activists.csv"]

    # attendance 11, its person now giving Bo's email: Bo is only in the unchanged
    # Action Network report, so the match can only come from the store
    second_page = copy.deepcopy(MOBILIZE_PAGE)
    second_page["data"] = second_page["data"][:1]
    second_page["data"][0]["person"]["email_addresses"][0]["address"] = "bo@example.org"
    c.write("mobilize/p2.json", second_page)
    second = c.sync()
    an_after = next(f for f in second.files if f.file == "an/activists.csv")
    assert an_after.carried and not an_before.carried
    assert dataclasses.replace(an_after, carried=False) == an_before
    assert not next(f for f in second.files if f.file == "mobilize/p2.json").carried
    assert c.rejects() == rejects_before
    first_run, second_run = c.query(runs)
    assert first_run == second_run
    third = c.sync(force=True)  # a forced sync reads every export again
    assert not any(f.carried for f in third.files)
    # Bo (Action Network u2) and the new attendance's person are one person
    linked = c.query(
        """SELECT count(DISTINCT person_id) FROM identity
           WHERE (source = 'action_network' AND source_id = 'u2')
              OR (source = 'mobilize' AND source_id = '501')"""
    )
    assert linked == [(1,)]
    assert_keys_unique(c)


def test_a_page_read_again_beside_a_new_one_does_not_override_a_later_export(make_cohort):
    """Di is in Mobilize (zip 02142) and Action Network. A newer Action Network report
    moves her to 02199; a new Mobilize page about someone else makes every Mobilize page
    be read again, but the unchanged page's old zip must not come back."""
    import copy

    c = make_cohort(SOURCES)
    head = "uuid,first_name,last_name,email,zip_code\n"
    c.write("an/activists-1.csv", head + "u9,Di,Oh,di@example.org,02142\n")
    c.write("mobilize/p1.json", MOBILIZE_PAGE)
    c.sync()
    zip_of_di = """SELECT p.zip FROM person p JOIN identity i USING (org_id, person_id)
                   WHERE i.source = 'action_network' AND i.source_id = 'u9'"""
    assert c.query(zip_of_di) == [("02142",)]
    c.write("an/activists-2.csv", head + "u9,Di,Oh,di@example.org,02199\n")
    c.sync()
    assert c.query(zip_of_di) == [("02199",)]
    other = copy.deepcopy(MOBILIZE_PAGE)
    other["data"] = other["data"][1:]
    other["data"][0]["id"] = 13
    c.write("mobilize/p2.json", other)
    result = c.sync()
    assert result.written["activity"] == 1
    assert c.query(zip_of_di) == [("02199",)]
    assert_keys_unique(c)


def test_a_new_export_of_one_table_reads_only_it_and_the_lookups_it_needs(make_cohort):
    """A weekly VAN signups file: the big persons and signups tables are not read again
    (they carry over), the events lookup is, and the new signups find their people
    through the store."""
    c = make_cohort("- {kind: van, path: van}")
    c.write("van/persons.csv", "vanid,datecreated\n101,2026-08-01\n102,2026-08-01\n")
    c.write("van/events.csv", "eventid,eventname,dateoffsetbegin\n55,Kickoff,2026-08-10 18:00\n")
    signups = "eventsignupid,vanid,eventid,eventstatusname,datecreated\n"
    c.write(
        "van/eventsignups-1.csv",
        signups + "7,101,55,Completed,2026-08-02\n8,999,55,Completed,2026-08-02\n",
    )
    c.sync()
    c.write("van/eventsignups-2.csv", signups + "9,102,55,No Show,2026-08-03\n")
    result = c.sync()
    carried = {f.file: f.carried for f in result.files}
    assert carried == {
        "van/events.csv": False,
        "van/eventsignups-1.csv": True,
        "van/eventsignups-2.csv": False,
        "van/persons.csv": True,
    }
    assert result.written["activity"] == 1
    rows = c.query(
        """SELECT a.source_id, i.source_id, a.status, strftime(a.occurred_at, '%Y-%m-%d')
           FROM activity a JOIN identity i USING (org_id, person_id) ORDER BY 1"""
    )
    assert rows == [("7", "101", "completed", "2026-08-10"), ("9", "102", "no_show", "2026-08-10")]
    # signup 8's person is in no export: its reject carries over with its file
    assert c.rejects() == [
        ("van/eventsignups-1.csv", 3, None, "person not found in this organization's exports")
    ]
    assert_keys_unique(c)


def test_exports_synced_by_other_reader_code_are_read_again(make_cohort):
    """After an upgrade of the readers (a fix in how a tool's export is read), unchanged
    exports are read again once, so the fix reaches the store without --force."""
    import duckdb

    c = make_cohort(SOURCES)
    c.write("an/activists.csv", AN_CSV)
    c.write("mobilize/p1.json", MOBILIZE_PAGE)
    c.sync()
    assert c.sync().status == "unchanged"
    con = duckdb.connect(str(c.root / "store.duckdb"))
    con.execute("UPDATE meta SET value = 'older-code' WHERE key = 'sync_code:org'")
    con.close()
    again = c.sync()
    assert again.status == "ok" and not any(f.carried for f in again.files)
    assert c.sync().status == "unchanged"


def test_the_pull_s_code_is_not_reading_code():
    """`cyclebook pull` (parsons.py) writes files and reads none: a change to it had the
    next sync read every organization's exports again; so did a change to the sync
    report's summary (summary.py), which reads the store only. The readers' modules
    count."""
    from cyclebook.sync import reading_code

    names = {path.name for path in reading_code()}
    assert {"readers.py", "stage.py", "merge.py", "__init__.py"} <= names
    assert "parsons.py" not in names
    assert "summary.py" not in names


def test_identity_first_seen_is_the_earliest_record_of_the_id(make_cohort):
    """identity.first_seen_at: the earliest creation date among the records of one tool id
    (two exports of the same VAN person), per id, not per person."""
    c = make_cohort("- {kind: van, path: van}")
    c.write("van/persons-1.csv", "vanid,datecreated\n101,2026-08-05\n102,2026-08-07\n")
    c.write("van/persons-2.csv", "vanid,datecreated\n101,2026-08-09\n102,2026-08-02\n103,\n")
    result = c.sync()
    assert result.written["identity"] == 3
    rows = c.query("SELECT source_id, strftime(first_seen_at, '%Y-%m-%d') FROM identity ORDER BY 1")
    assert rows == [("101", "2026-08-05"), ("102", "2026-08-02"), ("103", None)]


PII = """SELECT i.source_id, pii.first_name, pii.last_name, pii.email, p.zip,
                strftime(p.first_seen_at, '%Y-%m-%d')
         FROM person_pii pii JOIN person p USING (org_id, person_id)
         JOIN identity i USING (org_id, person_id) ORDER BY 1"""


PERSONS_HEADER = "vanid,firstname,lastname,email,zip5,datecreated\n"


def _people_after_syncing(make_cohort, **exports: str) -> list[tuple]:
    """Sync VAN person exports (file name: rows under PERSONS_HEADER); PII's rows."""
    c = make_cohort("- {kind: van, path: van}")
    for name, rows in exports.items():
        c.write(f"van/{name}.csv", PERSONS_HEADER + rows)
    c.sync()
    return c.query(PII)


def test_people_with_one_record_each_keep_its_values(make_cohort):
    """One record per person (no aggregation needed): each value is the record's own."""
    assert _people_after_syncing(
        make_cohort,
        persons="101,Ana,Silva,ana@example.org,02139,2026-08-05\n102,Bo,,,,2026-08-07\n",
    ) == [
        ("101", "Ana", "Silva", "ana@example.org", "02139", "2026-08-05"),
        ("102", "Bo", None, None, None, "2026-08-07"),
    ]


def test_a_person_with_several_records_takes_the_latest_non_empty_value_of_each(make_cohort):
    """Two records of 101 (two exports): each field from the latest record that has it,
    the earliest creation date; 102's single record is kept as it is."""
    assert _people_after_syncing(
        make_cohort,
        **{
            "persons-1": "101,Ana,Silva,ana@example.org,02139,2026-08-05\n",
            "persons-2": "101,Anna,,,02140,2026-08-09\n102,Bo,,,,2026-08-07\n",
        },
    ) == [
        ("101", "Anna", "Silva", "ana@example.org", "02140", "2026-08-05"),
        ("102", "Bo", None, None, None, "2026-08-07"),
    ]


def test_a_record_in_several_exports_read_together_keeps_its_latest_version(make_cohort):
    """Read in one sync: the version the tool modified last wins; at an equal modification
    date, the later file (by name), then the later record in it. Each key is ranked
    among its own repeats only; the keys that do not repeat pass as they are."""
    c = make_cohort("- {kind: mobilize, path: mobilize}")

    def page(*records):
        data = [
            {
                "id": att,
                "created_date": 1780000000,
                "modified_date": modified,
                "person": {"user_id": 5, "email_addresses": [{"address": "a@example.org"}]},
                "event": {"id": 7, "title": "Meeting", "event_type": "MEETING"},
                "timeslot": {"id": 71, "start_date": 1780050000},
                "status": status,
                "attended": None,
            }
            for att, modified, status in records
        ]
        return {"count": len(data), "next": None, "data": data}

    # 11: same date in both pages -> page 2's; 12: page 1 modified it later -> page 1's;
    # 13: twice in page 2 at one date -> the later record; 14: once -> as it is
    c.write(
        "mobilize/p1.json",
        page(
            (11, 1780100000, "CONFIRMED"),
            (12, 1780200000, "CANCELLED"),
            (14, 1780100000, "CONFIRMED"),
        ),
    )
    c.write(
        "mobilize/p2.json",
        page(
            (11, 1780100000, "CANCELLED"),
            (12, 1780100000, "CONFIRMED"),
            (13, 1780100000, "CONFIRMED"),
            (13, 1780100000, "CANCELLED"),
        ),
    )
    c.sync()
    assert c.query("SELECT activity_id, status FROM activity ORDER BY 1") == [
        ("mobilize:att:11", "cancelled"),
        ("mobilize:att:12", "cancelled"),
        ("mobilize:att:13", "cancelled"),
        ("mobilize:att:14", "confirmed"),
    ]


SHEET = """
- kind: generic_csv
  path: roster.csv
  activity_type: attendance
  columns: {person_id: ID, occurred_at: Date, event: Meeting}
"""


def _attended(c) -> list[tuple]:
    return c.query(
        """SELECT i.source_id, strftime(a.occurred_at, '%Y-%m-%d'), e.title FROM activity a
           JOIN identity i USING (org_id, person_id) JOIN event e USING (org_id, event_id)
           ORDER BY ALL"""
    )


def test_a_sheet_saved_again_replaces_its_earlier_version(make_cohort):
    """A sign-in sheet is kept as one file and saved again as it is corrected: the
    corrected row was a second attendance beside the wrong one."""
    c = make_cohort(SHEET)
    c.write("roster.csv", "ID,Date,Meeting\nA,2026-03-04,Kickoff\nB,2026-05-06,Kickoff\n")
    c.sync()
    c.write("roster.csv", "ID,Date,Meeting\nA,2026-03-04,Kickoff\nB,2026-03-04,Kickoff\n")
    result = c.sync()
    assert _attended(c) == [("A", "2026-03-04", "Kickoff"), ("B", "2026-03-04", "Kickoff")]
    assert c.query("SELECT count(*) FROM event") == [(1,)]  # the May meeting is gone too
    assert result.files[0].notes == [
        "1 activity of an earlier version of this sheet (or read with its earlier settings) "
        "is no longer in it: removed from the store"
    ]


def test_sheets_in_a_folder_accumulate(make_cohort):
    """Weekly sheets in a folder each hold their week: a new one replaces nothing."""
    c = make_cohort(SHEET.replace("path: roster.csv", "path: weeks"))
    c.write("weeks/w1.csv", "ID,Date,Meeting\nA,2026-03-04,Kickoff\n")
    c.sync()
    c.write("weeks/w2.csv", "ID,Date,Meeting\nB,2026-03-11,Training\n")
    c.sync()
    assert _attended(c) == [("A", "2026-03-04", "Kickoff"), ("B", "2026-03-11", "Training")]


def test_a_changed_setting_reads_the_unchanged_exports_again(make_cohort):
    """The sync report asks for date_format when a sheet's dates are ambiguous; setting
    it changed nothing, as the export itself had not changed."""
    c = make_cohort(SHEET)
    c.write("roster.csv", "ID,Date,Meeting\nA,03/04/2026,Kickoff\n")
    c.sync()
    assert _attended(c) == [("A", "2026-03-04", "Kickoff")]  # month first
    cohort_yml = c.root / "cohort.yml"
    cohort_yml.write_text(
        cohort_yml.read_text().replace(
            "activity_type: attendance",
            "activity_type: attendance\n        date_format: '%d/%m/%Y'",
        )
    )
    result = c.sync()
    assert result.status == "ok"
    assert _attended(c) == [("A", "2026-04-03", "Kickoff")]
    assert c.sync().status == "unchanged"
    # the organization's timezone is how naive times are read: read again too
    cohort_yml.write_text(cohort_yml.read_text().replace("America/New_York", "America/Los_Angeles"))
    assert c.sync().status == "ok"


VAN_CONTACT_LOOKUPS = {
    "van/persons.csv": "vanid,firstname,lastname,email\n101,Ana,Diaz,ana@x.org\n",
    "van/results.csv": "resultid,resultshortname\n1,Canvassed\n2,Not Home\n",
    "van/contacttypes.csv": "contacttypeid,contacttypename\n1,Walk\n2,One on One\n",
}
VAN_CONTACT = (
    "contactscontactid,vanid,resultid,contacttypeid,datecanvassed,datecreated,canvassedby\n"
    "9001,101,{result},2,2026-08-30 18:00:00,2026-08-30 20:00:00,56\n"
)


@pytest.mark.parametrize("together", [False, True])
@pytest.mark.parametrize(
    ("first", "then", "activities", "attempts"),
    [
        ("2", "1", [("van:cc:9001", "Canvassed")], []),
        ("1", "2", [], [("van:cc:9001", "Not Home")]),
    ],
)
def test_a_corrected_van_one_on_one_is_held_or_attempted_not_both(
    make_cohort, together, first, then, activities, attempts
):
    """A One on One entered as Not Home (an attempt) and corrected to Canvassed (a held
    one-on-one) in the next weekly export, or the other way round, is one contact: it
    was in both tables, the earlier version counted as an attempt beside the held 1:1
    (or a 1:1 that did not happen beside its attempt). The later export decides, synced
    one after the other or together."""
    c = make_cohort("- {kind: van, path: van}")
    for rel, text in VAN_CONTACT_LOOKUPS.items():
        c.write(rel, text)
    c.write("van/contactscontacts_2026-09-01.csv", VAN_CONTACT.format(result=first))
    if not together:
        assert c.sync().status == "ok"
    c.write("van/contactscontacts_2026-09-08.csv", VAN_CONTACT.format(result=then))
    assert c.sync().status == "ok"
    assert c.query("SELECT activity_id, result FROM activity") == activities
    assert c.query("SELECT attempt_id, result FROM contact_attempt") == attempts


def test_van_contacts_beside_other_tools_on_a_first_sync(make_cohort):
    """The first sync of VAN contacts beside another tool's activities (their typed
    tables released once inserted) keeps each contact in its one table."""
    c = make_cohort("- {kind: van, path: van}\n- {kind: action_network_csv, path: an}")
    for rel, text in VAN_CONTACT_LOOKUPS.items():
        c.write(rel, text)
    c.write("van/contactscontacts.csv", VAN_CONTACT.format(result="1"))
    c.write("an/activists.csv", AN_CSV)
    assert c.sync().status == "ok"
    assert c.query("SELECT activity_id FROM activity ORDER BY 1") == [
        ("an:signup:u1",),
        ("an:signup:u2",),
        ("van:cc:9001",),
    ]
    assert c.query("SELECT count(*) FROM contact_attempt") == [(0,)]


def _attendance(n: int, person: str) -> dict:
    return {
        "identifiers": [f"action_network:a-{n}"],
        "created_date": "2025-04-01T10:00:00Z",
        "modified_date": "2025-04-02T10:00:00Z",
        "status": "accepted",
        "action_network:person_id": person,
    }


BY_PERSON = """SELECT a.activity_id, i.source_id FROM activity a
               JOIN identity i USING (org_id, person_id) ORDER BY 1"""


def test_a_people_page_synced_after_the_activities_naming_them_brings_them_in(make_cohort):
    """An attendance whose person no people page listed yet is rejected; the page that
    lists her, synced later, brings it in, though the attendances page is unchanged."""
    c = make_cohort("- {kind: action_network_api, path: api}")
    c.write("api/people/people-1.json", _osdi("osdi:people", [AN_API_PERSON]))
    c.write(
        "api/attendances/att-1.json",
        _osdi("osdi:attendances", [_attendance(1, "p-1"), _attendance(2, "p-2")]),
    )
    c.sync()
    assert c.query(BY_PERSON) == [("an:attendances:a-1", "p-1")]
    assert c.rejects() == [
        ("api/attendances/att-1.json", 2, None, "person not found in this organization's exports")
    ]
    p2 = {"identifiers": ["action_network:p-2"], "given_name": "Zed"}
    c.write("api/people/people-2.json", _osdi("osdi:people", [p2]))
    result = c.sync()
    assert [(f.file, f.carried) for f in result.files] == [
        ("api/attendances/att-1.json", False),  # read again for the rejected attendance
        ("api/people/people-1.json", True),
        ("api/people/people-2.json", False),
    ]
    assert result.written["activity"] == 1
    assert c.query(BY_PERSON) == [("an:attendances:a-1", "p-1"), ("an:attendances:a-2", "p-2")]
    assert c.rejects() == []
    assert [(f.rows_read, f.rows_kept, f.rows_rejected) for f in result.files] == [
        (2, 2, 0),
        (1, 1, 0),
        (1, 1, 0),
    ]
    assert_keys_unique(c)
    before = snapshot(c)
    assert c.sync().status == "unchanged"
    c.sync(force=True)  # what reading everything at once makes
    assert snapshot(c) == before


def test_reading_an_export_again_for_its_rejected_activities_undoes_no_update(make_cohort):
    """A VAN one-on-one of a vanid no persons file lists yet is rejected; read again when
    the persons file that lists him arrives, the export brings only it: a contact it
    holds as a one-on-one, corrected since to Not Home by a newer export, stays an
    attempt."""
    c = make_cohort("- {kind: van, path: van}")
    c.write("van/persons.csv", "vanid,firstname,datecreated\n101,Fa,2025-01-02\n")
    c.write("van/results.csv", "resultid,resultshortname\n1,Not Home\n14,Canvassed\n")
    c.write("van/contacttypes.csv", "contacttypeid,contacttypename\n2,Walk\n82,One on One\n")
    head = "contactscontactid,vanid,resultid,contacttypeid,datecanvassed\n"
    c.write(
        "van/contactscontacts-1.csv",
        head + "9001,101,14,82,2026-08-10 18:00\n9006,103,14,82,2026-08-11 18:00\n",
    )
    c.sync()
    assert c.query("SELECT activity_id FROM activity") == [("van:cc:9001",)]
    assert [r[1:] for r in c.rejects()] == [
        (3, None, "person not found in this organization's exports")
    ]
    c.write("van/contactscontacts-2.csv", head + "9001,101,1,82,2026-08-10 18:00\n")
    c.write("van/persons-2.csv", "vanid,firstname,datecreated\n103,Ho,2025-01-03\n")
    c.sync()
    assert c.query(BY_PERSON) == [("van:cc:9006", "103")]
    assert c.query("SELECT attempt_id, result FROM contact_attempt") == [
        ("van:cc:9001", "Not Home")
    ]
    assert c.rejects() == []
    assert_keys_unique(c)


def test_a_contact_attempt_is_its_persons_once_a_later_export_lists_him(make_cohort):
    """A VAN door knock of a vanid no persons file lists yet is kept without a person;
    the persons file that lists him, synced later, makes it his (one of the people
    reached), though the contacts export is unchanged."""
    c = make_cohort("- {kind: van, path: van}")
    c.write("van/persons.csv", "vanid,firstname,datecreated\n101,Fa,2025-01-02\n")
    c.write("van/results.csv", "resultid,resultshortname\n14,Canvassed\n")
    c.write("van/contacttypes.csv", "contacttypeid,contacttypename\n2,Walk\n")
    c.write(
        "van/contactscontacts.csv",
        "contactscontactid,vanid,resultid,contacttypeid,datecanvassed\n"
        "9001,101,14,2,2026-08-10 18:00\n9005,103,14,2,2026-08-11 18:00\n",
    )
    c.sync()
    attempts = """SELECT t.attempt_id, i.source_id FROM contact_attempt t
                  LEFT JOIN identity i USING (org_id, person_id) ORDER BY 1"""
    assert c.query(attempts) == [("van:cc:9001", "101"), ("van:cc:9005", None)]
    c.write("van/persons-2.csv", "vanid,firstname,datecreated\n103,Ho,2025-01-03\n")
    result = c.sync()
    assert result.files[0].file == "van/contactscontacts.csv" and result.files[0].carried
    assert result.written["contact_attempt"] == 1
    assert c.query(attempts) == [("van:cc:9001", "101"), ("van:cc:9005", "103")]
    before = snapshot(c)
    c.sync(force=True)  # what reading everything at once makes
    assert snapshot(c) == before


def test_the_export_synced_later_still_wins_when_every_export_is_read_again(make_cohort):
    """A browser names a second download 'activists (1).csv', which sorts before the
    'activists.csv' synced a month earlier: read again together (--force, or after an
    upgrade), the person's unsubscribing and new zip must not go back to the older
    export's."""
    c = make_cohort("- {kind: action_network_csv, path: an}")
    head = "uuid,first_name,email,zip_code,can2_subscription_status,can2_subscription_date\n"
    c.write("an/activists.csv", head + "u1,Ana,ana@example.org,02139,subscribed,2026-07-01\n")
    c.sync()
    c.write("an/activists (1).csv", head + "u1,Ana,ana@example.org,02144,unsubscribed,2026-07-01\n")
    c.sync()
    person = "SELECT zip, email_ok FROM person"
    assert c.query(person) == [("02144", False)]
    result = c.sync(force=True)
    assert c.query(person) == [("02144", False)]
    assert [f.file for f in result.files] == ["an/activists.csv", "an/activists (1).csv"]
    # two exports synced together: the later name wins, as before
    c.write("an/b.csv", head + "u2,Bo,bo@example.org,02140,subscribed,2026-07-01\n")
    c.write("an/c.csv", head + "u2,Bo,bo@example.org,02141,subscribed,2026-07-01\n")
    c.sync()
    c.sync(force=True)
    assert c.query("SELECT zip FROM person ORDER BY zip") == [("02141",), ("02144",)]


def test_an_activist_report_synced_later_brings_in_an_api_attendance(make_cohort):
    """Action Network's activist report names people by the uuids its API pages use:
    the report that lists the person of an attendance rejected before brings it in."""
    c = make_cohort(
        "- {kind: action_network_api, path: api}\n- {kind: action_network_csv, path: an}"
    )
    c.write("api/people/people-1.json", _osdi("osdi:people", [AN_API_PERSON]))
    c.write("api/attendances/att-1.json", _osdi("osdi:attendances", [_attendance(2, "p-2")]))
    c.write("an/activists-1.csv", "uuid,email\nu9,nine@example.org\n")
    c.sync()
    assert c.query(BY_PERSON) == []
    assert len(c.rejects()) == 1
    c.write("an/activists-2.csv", "uuid,email\np-2,zed@example.org\n")
    c.sync()
    assert c.query(BY_PERSON) == [("an:attendances:a-2", "p-2")]
    assert c.rejects() == []


def _first_seen(c) -> list[tuple]:
    """Each person's first_seen_at (a day, in UTC), by one of their ids."""
    return c.unkeyed(
        f"""SELECT min(i.source || ':' || i.source_id), {utc("p.first_seen_at")}
            FROM person p JOIN identity i USING (org_id, person_id) GROUP BY p.person_id,
            p.first_seen_at"""
    )


@pytest.mark.usefixtures("people_written")
def test_first_seen_moves_later_when_a_van_contact_moves_to_another_person(make_cohort):
    """A one-on-one entered on the wrong person (101) and moved to the right one (102)
    by the next weekly export: 101 kept its date as the day she was first seen, two
    months before VAN created her record (a 'new person' of the wrong cycle)."""
    c = make_cohort("- {kind: van, path: van}")
    c.write(
        "van/persons.csv",
        "vanid,firstname,datecreated\n101,Ana,2026-03-01 12:00:00\n102,Bo,2026-02-01 12:00:00\n",
    )
    c.write("van/results.csv", "resultid,resultshortname\n14,Canvassed\n")
    c.write("van/contacttypes.csv", "contacttypeid,contacttypename\n2,One on One\n")
    contact = (
        "contactscontactid,vanid,resultid,contacttypeid,datecanvassed,datecreated\n"
        "9001,{vanid},14,2,2026-01-10 18:00:00,2026-01-10 20:00:00\n"
    )
    c.write("van/contactscontacts_2026-01-12.csv", contact.format(vanid=101))
    c.sync()
    assert _first_seen(c) == [("van:101", "2026-01-10 23:00"), ("van:102", "2026-02-01 17:00")]
    c.write("van/contactscontacts_2026-01-19.csv", contact.format(vanid=102))
    c.sync()
    assert c.query("SELECT activity_id, person_id FROM activity") == [
        ("van:cc:9001", c.query("SELECT person_id FROM identity WHERE source_id = '102'")[0][0])
    ]
    assert _first_seen(c) == [("van:101", "2026-03-01 17:00"), ("van:102", "2026-01-10 23:00")]


@pytest.mark.usefixtures("people_written")
def test_first_seen_moves_later_when_a_sheet_row_moves_to_another_email(make_cohort):
    """A sign-in sheet named people by email; a row typed with Ana's email was Bo's,
    corrected when the sheet was saved again. Ana, in Action Network since March, kept
    January's meeting as the day she was first seen, from the row that left her (and
    from her email's identity on the sheet, which the sheet no longer holds)."""
    c = make_cohort(
        """
        - {kind: generic_csv, path: signin.csv, activity_type: attendance,
           columns: {email: Email, occurred_at: Date, event: Meeting}}
        - {kind: action_network_csv, path: an}
        """
    )
    c.write(
        "an/activists.csv",
        "uuid,first_name,email,can2_subscription_date\nu-ana,Ana,ana@x.org,2026-03-01\n",
    )
    sheet = "Email,Date,Meeting\n{email},2026-01-10,Kickoff\nbo@x.org,2026-02-07,Training\n"
    c.write("signin.csv", sheet.format(email="ana@x.org"))
    c.sync()
    assert _first_seen(c) == [
        ("action_network:u-ana", "2026-01-10 05:00"),
        ("sheet:signin:bo@x.org", "2026-02-07 05:00"),
    ]
    c.write("signin.csv", sheet.format(email="bo@x.org"))
    c.sync()
    assert _first_seen(c) == [
        ("action_network:u-ana", "2026-03-01 05:00"),
        ("sheet:signin:bo@x.org", "2026-01-10 05:00"),
    ]
    # the sheet's identity of Ana's email is no longer in it: no date of its own
    assert c.unkeyed(
        "SELECT source_id, first_seen_at FROM identity WHERE source = 'sheet:signin'"
    ) == [("ana@x.org", None), ("bo@x.org", dt.datetime(2026, 1, 10, 5, tzinfo=dt.UTC))]


SIGN_IN = """
- kind: generic_csv
  path: Sign-in sheet.csv
  activity_type: attendance
  columns: {person_id: ID, occurred_at: Date, event: Meeting}
"""


def test_a_sheet_saved_under_another_file_name_is_not_counted_twice(make_cohort):
    """A facilitator downloads the sign-in sheet again; the browser names it 'Sign-in
    sheet (1).csv' and the source's path is changed to it. The store knew the sheet by
    its file name: the same rows became a second sheet's, every attendance and member
    counted twice. The sync now stops before writing, naming the name the rows are
    stored under and the label that keeps it; with the label, the sheet is the same
    source again and its rows are its own."""
    c = make_cohort(SIGN_IN)
    rows = "ID,Date,Meeting\nA,2026-03-04,Kickoff\nB,2026-05-06,Kickoff\n"
    c.write("Sign-in sheet.csv", rows)
    c.sync()
    (c.exports / "Sign-in sheet.csv").unlink()
    c.write("Sign-in sheet (1).csv", rows + "C,2026-05-06,Kickoff\n")
    cohort_yml = c.root / "cohort.yml"
    cohort_yml.write_text(
        cohort_yml.read_text().replace("Sign-in sheet.csv", "Sign-in sheet (1).csv")
    )
    with pytest.raises(ExportError) as raised:
        c.sync()
    assert str(raised.value.path) == str(c.exports / "Sign-in sheet (1).csv")
    assert (
        "2 of its 3 activities are already in the store as those of the spreadsheet "
        "source 'sheet:sign-in-sheet', which no source in cohort.yml names any more"
    ) in str(raised.value)
    assert "label: sign-in-sheet" in raised.value.fix
    assert c.query("SELECT source, count(*) FROM activity GROUP BY ALL") == [
        ("sheet:sign-in-sheet", 2)
    ]

    cohort_yml.write_text(
        cohort_yml.read_text().replace(
            "path: Sign-in sheet (1).csv",
            "path: Sign-in sheet (1).csv\n        label: sign-in-sheet",
        )
    )
    assert c.sync().status == "ok"
    assert _attended(c) == [
        ("A", "2026-03-04", "Kickoff"),
        ("B", "2026-05-06", "Kickoff"),
        ("C", "2026-05-06", "Kickoff"),
    ]
    assert c.query("SELECT count(*) FROM person") == [(3,)]
    assert c.query("SELECT DISTINCT source FROM identity") == [("sheet:sign-in-sheet",)]


def test_a_new_sheet_sharing_no_rows_with_a_retired_one_is_synced(make_cohort):
    """A sheet taken out of cohort.yml and a new one in its place (next year's) share
    members but no activity: nothing is refused."""
    c = make_cohort(SIGN_IN)
    c.write("Sign-in sheet.csv", "ID,Date,Meeting\nA,2026-03-04,Kickoff\n")
    c.sync()
    cohort_yml = c.root / "cohort.yml"
    cohort_yml.write_text(cohort_yml.read_text().replace("Sign-in sheet.csv", "2027.csv"))
    c.write("2027.csv", "ID,Date,Meeting\nA,2027-03-04,Kickoff\n")
    assert c.sync().status == "ok"
    assert c.query("SELECT source, count(*) FROM activity GROUP BY ALL ORDER BY 1") == [
        ("sheet:2027", 1),
        ("sheet:sign-in-sheet", 1),
    ]


def test_a_sheet_counted_twice_before_is_said_on_its_file(make_cohort):
    """A store in which the same sheet already went in under two names (both in
    cohort.yml for a while, or renamed before the sync refused it) keeps both: the
    sheet's file says so when it is read again."""
    c = make_cohort(SIGN_IN + SIGN_IN.replace("Sign-in sheet.csv", "Sign-in sheet (1).csv"))
    rows = "ID,Date,Meeting\nA,2026-03-04,Kickoff\nB,2026-05-06,Kickoff\n"
    c.write("Sign-in sheet.csv", rows)
    c.write("Sign-in sheet (1).csv", rows)
    assert c.sync().status == "ok"
    cohort_yml = c.root / "cohort.yml"
    first_source = SIGN_IN.strip().replace("\n", "\n      ")  # (as indented in cohort.yml)
    assert first_source in cohort_yml.read_text()
    cohort_yml.write_text(cohort_yml.read_text().replace(first_source, "", 1))
    c.write("Sign-in sheet (1).csv", rows + "C,2026-05-06,Kickoff\n")
    result = c.sync()
    assert result.status == "ok"
    (sheet,) = result.files
    assert sheet.notes == [
        "2 of its 3 activities are already in the store as those of the spreadsheet source "
        "'sheet:sign-in-sheet', which no source in cohort.yml names any more: they look like "
        "the same rows, read before under another file name, and both are counted (the "
        "store keeps what a source taken out of cohort.yml brought until it is forgotten). "
        f"Fix: `cyclebook forget {c.root} org --source sheet:sign-in-sheet` lists what the "
        "store holds of 'sheet:sign-in-sheet', and removes it with --yes"
    ]


ROSTER = """
- kind: generic_csv
  path: Roster.csv
  columns: {person_id: Member ID, first_name: First}
"""


def _rename_source(c, old: str, new: str, extra: str = "") -> None:
    """The source's path changed from ``old`` to ``new`` in cohort.yml (with ``extra``,
    more of the source's settings, after it)."""
    cohort_yml = c.root / "cohort.yml"
    text = cohort_yml.read_text()
    assert f"path: {old}\n" in text
    cohort_yml.write_text(text.replace(f"path: {old}\n", f"path: {new}\n{extra}"))


def test_a_sheet_of_people_saved_under_another_file_name_is_not_stored_twice(make_cohort):
    """A roster (people, no dates) downloaded again as 'Roster (1).csv', the source's
    path changed to it: a sheet of dated activities is refused so, a sheet of people
    went in again under its new name, each member named by the sheet's id alone a second
    person (4 people from 2). It is refused the same way, naming the label that keeps
    the sheet its own; with it, the store holds the same 2 people and 1 new one."""
    c = make_cohort(ROSTER)
    c.write("Roster.csv", "Member ID,First\nA,Ana\nB,Bo\n")
    c.sync()
    (c.exports / "Roster.csv").unlink()
    c.write("Roster (1).csv", "Member ID,First\nA,Ana\nB,Bo\nC,Cy\n")
    _rename_source(c, "Roster.csv", "Roster (1).csv")
    with pytest.raises(ExportError) as raised:
        c.sync()
    assert str(raised.value.path) == str(c.exports / "Roster (1).csv")
    assert (
        "2 of its 3 people are the people of the spreadsheet source 'sheet:roster' (2 of "
        "its 2), a sheet of people alone which no source in cohort.yml names any more: "
        "read as a new sheet, each would be stored again"
    ) in str(raised.value)
    assert "`label: roster`" in raised.value.fix and "any name but roster" in raised.value.fix
    assert c.query("SELECT count(*) FROM person") == [(2,)]

    _rename_source(c, "Roster (1).csv", "Roster (1).csv", "        label: roster\n")
    assert c.sync().status == "ok"
    assert c.query("SELECT count(*) FROM person") == [(3,)]
    assert c.query("SELECT source, source_id FROM identity ORDER BY 2") == [
        ("sheet:roster", "A"),
        ("sheet:roster", "B"),
        ("sheet:roster", "C"),
    ]


def test_another_sheet_of_people_beside_a_retired_one_is_synced(make_cohort):
    """A sheet of people that holds fewer than half of a retired roster's people (a
    volunteers list in the members' place) is no renamed copy: it is synced. One that
    holds them all, but has a label of its own, is another sheet by the group's word."""
    c = make_cohort(ROSTER)
    c.write("Roster.csv", "Member ID,First\nA,Ana\nB,Bo\nC,Cy\n")
    c.sync()
    _rename_source(c, "Roster.csv", "Volunteers.csv")
    c.write("Volunteers.csv", "Member ID,First\nA,Ana\nV,Vi\n")
    assert c.sync().status == "ok"
    assert c.query("SELECT DISTINCT source FROM identity ORDER BY 1") == [
        ("sheet:roster",),
        ("sheet:volunteers",),
    ]
    _rename_source(c, "Volunteers.csv", "Members 2027.csv", "        label: members-2027\n")
    c.write("Members 2027.csv", "Member ID,First\nA,Ana\nB,Bo\nC,Cy\n")
    result = c.sync()
    assert result.status == "ok" and result.files[0].notes == []


def test_a_sheet_of_people_stored_twice_before_is_said_on_its_file(make_cohort):
    """A store in which one roster's people already went in under two names keeps
    both: the sheet's file says so when it is read again."""
    c = make_cohort(ROSTER + ROSTER.replace("Roster.csv", "Roster (1).csv"))
    c.write("Roster.csv", "Member ID,First\nA,Ana\nB,Bo\n")
    c.write("Roster (1).csv", "Member ID,First\nA,Ana\nB,Bo\n")
    assert c.sync().status == "ok"
    cohort_yml = c.root / "cohort.yml"
    first_source = ROSTER.strip().replace("\n", "\n      ")  # (as indented in cohort.yml)
    cohort_yml.write_text(cohort_yml.read_text().replace(first_source, "", 1))
    c.write("Roster (1).csv", "Member ID,First\nA,Ana\nB,Bo\nC,Cy\n")
    result = c.sync()
    assert result.status == "ok"
    (sheet,) = result.files
    assert sheet.notes == [
        "2 of its 3 people are the people of the spreadsheet source 'sheet:roster' (2 of "
        "its 2), a sheet of people alone which no source in cohort.yml names any more: "
        "they look like the same sheet, read before under another file name, and its "
        "people are stored under both names (the store keeps what a source taken out of "
        "cohort.yml brought until it is forgotten). "
        f"Fix: `cyclebook forget {c.root} org --source sheet:roster` lists what the store "
        "holds of 'sheet:roster', and removes it with --yes"
    ]


TEN_MEMBERS = "Member ID,First\nA,Ana\nB,Bo\nC,Cy\nD,Di\nE,Ed\nF,Flo\nG,Gus\nH,Hal\nI,Ivy\nJ,Jo\n"


def test_a_sheet_of_people_that_lost_most_of_its_rows_under_another_name_is_refused(make_cohort):
    """A roster of 10 members downloaded again, filtered to 4 of them and one new member,
    under another name (its path changed to it): it held fewer than half of the roster's
    people, so it was read as a new sheet, and its 4 members named by the sheet's id
    alone became second people (15 people from 11). More than half of its own people
    (4 of 5) are the roster's: it is refused, saying that the 6 it no longer lists
    would stay in the store; with the label, the store holds the 10 and the new one."""
    c = make_cohort(ROSTER)
    c.write("Roster.csv", TEN_MEMBERS)
    c.sync()
    (c.exports / "Roster.csv").unlink()
    c.write("Roster 2027.csv", "Member ID,First\nA,Ana\nB,Bo\nC,Cy\nD,Di\nK,Kai\n")
    _rename_source(c, "Roster.csv", "Roster 2027.csv")
    with pytest.raises(ExportError) as raised:
        c.sync()
    assert str(raised.value.path) == str(c.exports / "Roster 2027.csv")
    assert (
        "4 of its 5 people are the people of the spreadsheet source 'sheet:roster' (4 of "
        "its 10), a sheet of people alone which no source in cohort.yml names any more: "
        "read as a new sheet, each would be stored again under this sheet's name"
    ) in str(raised.value)
    assert (
        "it lists fewer than half of that sheet's people: if it is a newer version of it, "
        "the 6 it no longer lists stay in the store as they are"
    ) in str(raised.value)
    assert "`label: roster`" in raised.value.fix and "any name but roster" in raised.value.fix
    assert c.query("SELECT count(*) FROM person") == [(10,)]

    _rename_source(c, "Roster 2027.csv", "Roster 2027.csv", "        label: roster\n")
    assert c.sync().status == "ok"
    assert c.query("SELECT count(*) FROM person") == [(11,)]
    assert c.query("SELECT DISTINCT source FROM identity") == [("sheet:roster",)]


def test_another_sheet_numbered_as_a_retired_roster_is_not_taken_for_it(make_cohort):
    """Sheets number their rows 1, 2, 3: a volunteers list numbered so, in the place of
    a retired roster numbered so, shared every id with it and was refused as its copy
    (3 of the roster's 6 ids). Its people are others (their names differ): it is synced.
    A sheet of ids alone (no name, email or phone to tell) is still taken by its ids."""
    c = make_cohort(ROSTER)
    c.write("Roster.csv", "Member ID,First\n1,Ana\n2,Bo\n3,Cy\n4,Di\n5,Ed\n6,Flo\n")
    c.sync()
    _rename_source(c, "Roster.csv", "Volunteers.csv")
    c.write("Volunteers.csv", "Member ID,First\n1,Xu\n2,Yi\n3,Zo\n")
    result = c.sync()
    assert result.status == "ok" and result.files[0].notes == []
    assert c.query("SELECT count(*) FROM person") == [(9,)]

    _rename_source(c, "Volunteers.csv", "Ids.csv")
    c.write("Ids.csv", "Member ID,First\n1,\n2,\n")
    with pytest.raises(
        ExportError,
        match="2 of its 2 people are the people of the spreadsheet source 'sheet:roster'",
    ):
        c.sync()


def test_a_roster_saved_again_without_some_people_says_they_stay(make_cohort):
    """A roster re-saved under its own name without the members who left: its people
    stay in the store (a sheet's newer version replaces its activities, not its
    people), and the sync report said nothing of them. It now says how many."""
    c = make_cohort(ROSTER)
    c.write("Roster.csv", TEN_MEMBERS)
    assert c.sync().files[0].notes == []
    c.write("Roster.csv", TEN_MEMBERS.replace("C,Cy\n", "").replace("J,Jo\n", "K,Kai\n"))
    result = c.sync()
    assert result.files[0].notes == [
        "2 people of an earlier version of this sheet are not in it: kept in the store as "
        "that version gave them (a newer version of a sheet replaces its activities, not "
        "its people)"
    ]
    assert c.query("SELECT count(*) FROM person") == [(11,)]
    c.write("Roster.csv", TEN_MEMBERS.replace("J,Jo\n", "K,Kai\n"))  # C is back
    assert c.sync().files[0].notes == [
        "1 person of an earlier version of this sheet is not in it: kept in the store as "
        "that version gave them (a newer version of a sheet replaces its activities, not "
        "its people)"
    ]
