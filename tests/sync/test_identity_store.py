"""One person per human, whatever order the exports arrived in: people already in the
store are matched through every email and phone their records carried (person_key),
and people stored apart whom a later record links become one."""

from __future__ import annotations

import random
import shutil

import duckdb
import pytest

from cyclebook.paths import repo_root
from cyclebook.phases import load_context
from cyclebook.phases import sync as sync_phase
from cyclebook.store import SCHEMA_VERSION, connect
from cyclebook.sync.summary import load_summary

KINDS = {"an": "action_network_csv", "mob": "mobilize", "van": "van", "spoke": "spoke"}
ZED = (9000, 50, "Zed", "Other", "zed@x.org", None, 1769000000)  # someone else, in Mobilize


def sources(*paths: str) -> str:
    """The cohort.yml sources of these export folders (each has a file from the first
    sync on: a source added later reads every export again)."""
    return "".join(f"- {{kind: {KINDS[path]}, path: {path}}}\n" for path in paths)


def new_cohort(make_cohort, files: dict):
    """A cohort with the sources of ``files``'s folders, the files written."""
    c = make_cohort(sources(*sorted({rel.split("/")[0] for rel in files})))
    for rel, content in files.items():
        c.write(rel, content)
    return c


AN_HEAD = (
    "uuid,first_name,last_name,email,zip_code,can2_phone,can2_sms_status,"
    "can2_subscription_status,can2_subscription_date,Volunteer interest\n"
)
VAN_HEAD = (
    "vanid,firstname,lastname,email,phone,addressline1,city,state,zip5,datecreated,datemodified\n"
)


def an(rows) -> str:
    """rows: (uuid, first, last, email, phone, date, interest)"""
    return AN_HEAD + "".join(
        f"{u},{first},{last},{email},02139,{phone},subscribed,subscribed,{day},{interest}\n"
        for u, first, last, email, phone, day, interest in rows
    )


def van(rows) -> str:
    """rows: (vanid, first, last, email, phone, created)"""
    return VAN_HEAD + "".join(
        f'{v},{first},{last},{email},"{phone}",1 Main St,Metro,MA,02139,{day},{day}\n'
        for v, first, last, email, phone, day in rows
    )


def mob(rows) -> dict:
    """rows: (attendance id, user id, first, last, email, phone, start epoch)"""
    return {
        "count": len(rows),
        "next": None,
        "previous": None,
        "data": [
            {
                "id": aid,
                "created_date": start - 86400,
                "modified_date": start + 3600,
                "person": {
                    "user_id": uid,
                    "given_name": first,
                    "family_name": last,
                    "email_addresses": [{"primary": True, "address": email}] if email else [],
                    "phone_numbers": [{"primary": True, "number": phone}] if phone else [],
                    "postal_addresses": [],
                    "sms_opt_in_status": "OPT_IN",
                },
                "event": {"id": 5, "title": "Meeting", "event_type": "MEETING"},
                "timeslot": {"id": 50, "start_date": start, "end_date": start + 3600},
                "status": "CONFIRMED",
                "attended": True,
                "referrer": {},
            }
            for aid, uid, first, last, email, phone, start in rows
        ],
    }


def groups(c) -> list[tuple[str, ...]]:
    """The people as sets of 'source:id' (whatever their person ids; an id kept as the
    hash of a phone, a Spoke cell, written as the phone)."""
    found: dict[str, list[str]] = {}
    for person, key in c.unkeyed("SELECT person_id, source || ':' || source_id FROM identity"):
        found.setdefault(person, []).append(key)
    return sorted(tuple(sorted(keys)) for keys in found.values())


def person_of(c, source: str, source_id: str) -> str:
    return c.query(
        "SELECT person_id FROM identity WHERE source = ? AND source_id = ?", [source, source_id]
    )[0][0]


def count(c, table: str) -> int:
    return c.query(f"SELECT count(*) FROM {table}")[0][0]


def fresh_groups(make_cohort, files: dict) -> list[tuple[str, ...]]:
    """The people a fresh store makes of the same exports, synced at once."""
    fresh = new_cohort(make_cohort, files)
    fresh.sync()
    return groups(fresh)


def test_a_second_email_of_a_matched_person_still_finds_her(make_cohort):
    """Ana: ana@home in Action Network, ana@work in VAN, one person by her phone.
    person_pii keeps one email (VAN's, the later file): a Mobilize record with ana@home
    was a second Ana, where a fresh store of the same files has one."""
    files = {
        "an/a1.csv": an(
            [("u-ana", "Ana", "Diaz", "ana@home.org", "617-555-0101", "2026-01-05", "")]
        ),
        "van/persons.csv": van(
            [("101", "Ana", "Diaz", "ana@work.org", "(617) 555-0101", "2026-01-06")]
        ),
        "mob/p0.json": mob([ZED]),
    }
    c = new_cohort(make_cohort, files)
    c.sync()
    assert groups(c) == [("action_network:u-ana", "van:101"), ("mobilize:50",)]
    assert c.query("SELECT email FROM person_pii WHERE email LIKE 'ana%'") == [("ana@work.org",)]
    # u-ana: home and phone; 101: work and phone; 50: zed
    assert count(c, "person_key") == 5

    files["mob/p1.json"] = mob([(9001, 77, "Ana", "Diaz", "ana@home.org", None, 1770000000)])
    c.write("mob/p1.json", files["mob/p1.json"])
    result = c.sync()
    assert groups(c) == [("action_network:u-ana", "mobilize:77", "van:101"), ("mobilize:50",)]
    assert count(c, "person") == 2 and count(c, "identity") == 4
    assert result.written["people merged"] == 0
    assert result.written["person_key"] == 1  # 77's ana@home
    assert groups(c) == fresh_groups(make_cohort, files)


def test_an_address_a_tool_changed_still_finds_the_person(make_cohort):
    """Action Network held ana@old, then (a later export, the same uuid) ana@new: a
    Mobilize record with ana@old still finds her."""
    c = new_cohort(
        make_cohort,
        {
            "an/a1.csv": an([("u-ana", "Ana", "Diaz", "ana@old.org", "", "2026-01-05", "")]),
            "mob/p0.json": mob([ZED]),
        },
    )
    c.sync()
    c.write("an/a2.csv", an([("u-ana", "Ana", "Diaz", "ana@new.org", "", "2026-01-05", "")]))
    c.sync()
    assert c.query("SELECT email FROM person_pii WHERE first_name = 'Ana'") == [("ana@new.org",)]
    c.write("mob/p1.json", mob([(9001, 77, "Ana", "Diaz", "ana@old.org", None, 1770000000)]))
    c.sync()
    assert groups(c) == [("action_network:u-ana", "mobilize:77"), ("mobilize:50",)]
    assert count(c, "person_key") == 4  # u-ana: old and new; 77: old; 50: zed


ANA = ("u-ana", "Ana", "Diaz", "ana@x.org", "", "2026-01-05", "canvass")
ANA2 = ("u-ana2", "Ana", "", "", "617-555-0101", "2026-01-10", "phones")
ZED_AN = ("u-zed", "Zed", "Other", "zed@x.org", "", "2026-01-07", "")
SPOKE = (
    "campaignId,campaign,assignmentId,texter[firstName],texter[lastName],contact[firstName],"
    "contact[lastName],contact[cell],contact[zip],contact[optOut],contact[messageStatus],"
    "contact[external_id],tags\n"
    "1,Kickoff,5,Sam,Rivera,Ana,D,+16175550101,02139,false,convo,,\n"
)
SPOKE_MESSAGES = (
    "campaignId,contactNumber,userNumber,isFromContact,sendStatus,attemptedAt,text\n"
    "1,+16175550101,+16175550100,false,DELIVERED,2026-01-12T15:00:00Z,Hi!\n"
    "1,+16175550101,+16175550100,true,DELIVERED,2026-01-12T15:30:00Z,yes\n"
)


def _two_anas() -> dict:
    """Ana by email in Action Network (u-ana); by phone in Action Network again (u-ana2,
    no email), Mobilize and Spoke; Zed in Action Network and VAN."""
    return {
        "an/a1.csv": an([ANA, ANA2, ZED_AN]),
        "mob/p1.json": mob([(9001, 77, "Ana", "Diaz", None, "617-555-0101", 1770000000)]),
        "spoke/campaign-1-contacts.csv": SPOKE,
        "spoke/campaign-1-messages.csv": SPOKE_MESSAGES,
        "van/persons-0.csv": van([("555", "Zed", "Other", "zed@x.org", "", "2026-01-06")]),
    }


def test_a_later_record_linking_two_stored_people_makes_them_one(make_cohort):
    files = _two_anas()
    c = new_cohort(make_cohort, files)
    c.sync()
    assert groups(c) == [
        ("action_network:u-ana",),
        ("action_network:u-ana2", "mobilize:77", "spoke:+16175550101"),
        ("action_network:u-zed", "van:555"),
    ]
    first, second = person_of(c, "action_network", "u-ana"), person_of(c, "mobilize", "77")
    assert c.query("SELECT person_id, count(*) FROM contact_attempt GROUP BY ALL") == [(second, 1)]
    # a cycle's state computed before the next sync (stale after it)
    with connect(c.root / "store.duckdb", write=True) as con:
        con.execute(
            """INSERT INTO person_state (cycle, org_id, person_id)
               VALUES ('c', 'org', ?), ('c', 'org', ?)""",
            [first, second],
        )

    # VAN's record holds both her email and her phone
    files["van/persons-1.csv"] = van(
        [("101", "Ana", "Diaz", "ana@x.org", "(617) 555-0101", "2026-01-20")]
    )
    c.write("van/persons-1.csv", files["van/persons-1.csv"])
    result = c.sync()
    assert result.written["people merged"] == 1
    ana = (
        "action_network:u-ana",
        "action_network:u-ana2",
        "mobilize:77",
        "spoke:+16175550101",
        "van:101",
    )
    assert groups(c) == [ana, ("action_network:u-zed", "van:555")]
    # the survivor is the one seen first: u-ana's (5 January, u-ana2's 10 January)
    assert person_of(c, "van", "101") == first
    assert count(c, "person") == 2 and count(c, "person_pii") == 2
    # not a row of any table names the person merged into her
    for table in ("person", "person_pii", "identity", "person_key", "activity",
                  "contact_attempt", "custom_field", "person_state"):  # fmt: skip
        assert c.query(f"SELECT count(*) FROM {table} WHERE person_id = ?", [second]) == [(0,)]
    assert c.query(
        "SELECT first_name, last_name, email, phone FROM person_pii WHERE person_id = ?", [first]
    ) == [("Ana", "Diaz", "ana@x.org", "+16175550101")]
    assert c.query(
        """SELECT strftime(first_seen_at AT TIME ZONE 'UTC', '%Y-%m-%d') FROM person
           WHERE person_id = ?""",
        [first],
    ) == [("2026-01-05",)]
    # her attendance and the texts to her are hers; one Action Network signup a person
    assert c.query("SELECT activity_id FROM activity WHERE person_id = ? ORDER BY 1", [first]) == [
        ("an:signup:u-ana",),
        ("mobilize:att:9001",),
    ]
    assert c.query("SELECT person_id, count(*) FROM contact_attempt GROUP BY ALL") == [(first, 1)]
    # a custom field both held: each record's value, neither known to be the later (the
    # survivor's alone dropped u-ana2's "phones", which only the archive then had)
    fields = "SELECT source_id, field, value FROM custom_field ORDER BY ALL"
    assert c.query("SELECT DISTINCT person_id FROM custom_field") == [(first,)]
    assert c.query(fields) == [
        ("u-ana", "Volunteer interest", "canvass"),
        ("u-ana2", "Volunteer interest", "phones"),
    ]
    assert result.written["merged people's fields kept per record"] == 1
    assert c.query("SELECT count(*) FROM person_state") == [(0,)]
    # u-ana: ana@; u-ana2, 77, spoke: the phone; 101: both; u-zed, 555: zed@
    assert count(c, "person_key") == 8
    assert groups(c) == fresh_groups(make_cohort, files)
    # as a store synced from all the exports at once keeps them (it kept u-ana2's
    # alone: the later row of a1.csv)
    fresh = new_cohort(make_cohort, files)
    fresh.sync()
    assert fresh.query(fields) == c.query(fields)

    # the sync report says it
    shutil.copytree(repo_root() / "cycles" / "demo" / "2026-c1", c.root / "2026-c1")
    ctx = load_context("sync", str(c.root), "2026-c1", "org", "organization")
    with connect(ctx.store_path) as con:
        summary = load_summary(con, ctx.org)
    assert summary.people["merged"] == 1
    html = "\n".join(b.html for b in sync_phase.blocks(ctx, summary, result))
    assert "1 person already in the store was found by the last sync to be the same" in html
    assert summary.people["merged_fields"] == 1
    assert (
        "1 of the columns kept beyond the model had a different value in each of their "
        "records: every value is kept, with its record." in html
    )

    # the same exports again change nothing; read again (--force), no one merges again
    assert c.sync().status == "unchanged"
    forced = c.sync(force=True)
    assert forced.written["people merged"] == 0
    assert forced.written["identity"] == forced.written["person_key"] == 0
    assert forced.written["person"] == 0 and forced.written["custom_field"] == 0
    assert groups(c) == [ana, ("action_network:u-zed", "van:555")]


def test_a_store_of_one_custom_value_a_person_gets_each_records_value_back(make_cohort):
    """A store of schema 8 kept one value of a custom field per person: Ana's two Action
    Network records (u-ana "canvass", u-ana2 "phones"), one person from the first sync
    on, kept the later row's alone. Opened, the store gives the value a record of hers
    (the first, u-ana: it cannot tell which); the sync after the upgrade reads every
    export again and each record has its own value back."""
    files = _two_anas()
    files["van/persons-1.csv"] = van(
        [("101", "Ana", "Diaz", "ana@x.org", "(617) 555-0101", "2026-01-20")]
    )
    c = new_cohort(make_cohort, files)
    c.sync()
    ana = person_of(c, "action_network", "u-ana")
    fields = "SELECT person_id, source_id, field, value FROM custom_field ORDER BY ALL"
    assert c.query(fields) == [
        (ana, "u-ana", "Volunteer interest", "canvass"),
        (ana, "u-ana2", "Volunteer interest", "phones"),
    ]
    store = c.root / "store.duckdb"
    con = duckdb.connect(str(store))  # as schema 8 made and filled it
    try:
        con.execute(
            """DROP TABLE custom_field;
               CREATE TABLE custom_field (org_id VARCHAR NOT NULL,
                   person_id VARCHAR NOT NULL, source VARCHAR NOT NULL,
                   field VARCHAR NOT NULL, value VARCHAR,
                   PRIMARY KEY (org_id, person_id, source, field));
               UPDATE meta SET value = '8' WHERE key = 'schema_version';
               UPDATE meta SET value = 'older' WHERE key = 'sync_code:org'"""
        )
        con.execute(
            "INSERT INTO custom_field VALUES ('org', ?, 'action_network', 'Volunteer interest', "
            "'phones')",
            [ana],
        )
    finally:
        con.close()
    with connect(store, write=True):
        pass  # (any writer migrates the store)
    assert c.query(fields) == [(ana, "u-ana", "Volunteer interest", "phones")]
    assert c.query("SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    result = c.sync()  # every export read again: other sync code
    assert not any(f.carried for f in result.files)
    assert c.query(fields) == [
        (ana, "u-ana", "Volunteer interest", "canvass"),
        (ana, "u-ana2", "Volunteer interest", "phones"),
    ]


def test_a_value_on_many_of_one_tools_stored_people_still_matches_none(make_cohort):
    """An office email on three VAN people (three people: a hub) does not join a later
    Mobilize record to any of them. A value is counted per id, as a fresh store counts:
    a couple's landline on VAN's two records of Ana (one person) and on Bo's is on two
    of VAN's ids, not three, and still matches, as it does in a fresh store."""
    files = {
        "mob/p0.json": mob([ZED]),
        "van/persons-0.csv": van(
            [
                ("1", "Cy", "A", "office@x.org", "", "2026-01-06"),
                ("2", "Di", "B", "office@x.org", "", "2026-01-06"),
                ("3", "Ed", "C", "office@x.org", "", "2026-01-06"),
                ("11", "Ana", "Diaz", "ana@x.org", "617-555-0199", "2026-01-06"),
                ("12", "Ana", "Diaz", "ana@x.org", "", "2026-01-06"),
            ]
        ),
    }
    c = new_cohort(make_cohort, files)
    c.sync()
    assert groups(c) == [("mobilize:50",), ("van:1",), ("van:11", "van:12"), ("van:2",), ("van:3",)]
    files["mob/p1.json"] = mob([(9001, 77, "Cy", "A", "office@x.org", None, 1770000000)])
    files["van/persons-1.csv"] = van(
        [("13", "Bo", "Lee", "bo@x.org", "617-555-0199", "2026-01-07")]
    )
    for rel in ("mob/p1.json", "van/persons-1.csv"):
        c.write(rel, files[rel])
    result = c.sync()
    assert result.written["people merged"] == 0
    assert groups(c) == [
        ("mobilize:50",),
        ("mobilize:77",),
        ("van:1",),
        ("van:11", "van:12", "van:13"),
        ("van:2",),
        ("van:3",),
    ]
    assert groups(c) == fresh_groups(make_cohort, files)


def _random_exports(rng: random.Random, batches: int) -> list[dict]:
    """Each batch's exports: records of a few humans in three tools, each with one or two
    of the human's home email, work email and phone (a tool's record may change its
    email in a later batch). No value is on more than two ids of one tool: no hub, whose
    effect depends on what arrived first (people it joined earlier are not split)."""
    humans = rng.randint(4, 8)
    values = [
        {"e": f"h{h}@home.org", "w": f"h{h}@work.org", "p": f"617-555-{h:04d}"}
        for h in range(humans)
    ]
    tools = ("an", "van", "mob")
    # (batch, tool, record number, values); someone else in each tool's first export
    # (a source's folder is never empty)
    records = [(0, tool, 99, {"e": f"{tool}@else.org"}) for tool in tools]
    for h in range(humans):
        for tool in tools:
            for n in range(rng.randint(1, 2)):
                kinds = rng.sample(["e", "w", "p"], rng.randint(1, 2))
                when = rng.randrange(batches)
                records.append((when, tool, 10 * h + n, {k: values[h][k] for k in kinds}))
    # a record read again in a later batch, with its human's work email
    for when, tool, number, _ in rng.sample(records[3:], 2):
        if when + 1 < batches:
            records.append((when + 1, tool, number, {"w": values[number // 10]["w"]}))
    out: list[dict] = []
    for b in range(batches):
        rows = {
            tool: [(n, v) for when, t, n, v in records if when == b and t == tool] for tool in tools
        }
        email = {n: v.get("e") or v.get("w") for rows_ in rows.values() for n, v in rows_}
        files: dict = {}
        if rows["an"]:
            files[f"an/b{b}.csv"] = an(
                [(f"u{n}", "P", "Q", email[n] or "", v.get("p", ""), "2026-01-05", "")
                 for n, v in rows["an"]]
            )  # fmt: skip
        if rows["van"]:
            files[f"van/persons-{b}.csv"] = van(
                [(str(1000 + n), "P", "Q", email[n] or "", v.get("p", ""), "2026-01-06")
                 for n, v in rows["van"]]
            )  # fmt: skip
        if rows["mob"]:
            files[f"mob/b{b}.json"] = mob(
                [(9000 + 100 * b + i, 500 + n, "P", "Q", email[n], v.get("p"), 1770000000)
                 for i, (n, v) in enumerate(rows["mob"])]
            )  # fmt: skip
        out.append(files)
    return out


@pytest.mark.parametrize("seed", range(8))
def test_the_store_is_the_same_people_whatever_order_the_exports_arrived_in(make_cohort, seed):
    """Synced batch by batch, the store holds the people a fresh store makes of all the
    exports at once."""
    rng = random.Random(seed)
    batches = _random_exports(rng, 3)
    c = new_cohort(make_cohort, batches[0])
    c.sync()
    everything = dict(batches[0])
    for files in batches[1:]:
        for rel, content in files.items():
            c.write(rel, content)
        everything.update(files)
        c.sync()
    assert groups(c) == fresh_groups(make_cohort, everything), seed
    # one person row per person, and every person has its ids
    assert count(c, "person") == len(groups(c)) == count(c, "person_pii")


def test_a_store_made_before_person_key_keeps_matching_its_people(make_cohort):
    """A store made before person_key: opened for writing, it gets the keys person_pii
    gave (the stored people's one email and phone, for each of their ids), and the next
    sync, which reads every export again (its code changed), keeps every value and
    makes one person of the duplicate the old matching left."""
    files = {
        "an/a1.csv": an(
            [("u-ana", "Ana", "Diaz", "ana@home.org", "617-555-0101", "2026-01-05", "")]
        ),
        "van/persons.csv": van(
            [("101", "Ana", "Diaz", "ana@work.org", "(617) 555-0101", "2026-01-06")]
        ),
        "mob/p0.json": mob([ZED]),
    }
    c = new_cohort(make_cohort, files)
    c.sync()
    store = c.root / "store.duckdb"
    # as the old code left it: no person_key, and a second Ana (Mobilize, ana@home)
    con = duckdb.connect(str(store))
    try:
        ana = con.execute("SELECT person_id FROM identity WHERE source_id = 'u-ana'").fetchone()[0]
        con.execute("DROP TABLE person_key")
        con.execute("ALTER TABLE identity DROP COLUMN listed")  # (added in version 6)
        for column in ("email_ok", "sms_ok", "do_not_contact"):  # (added in version 10)
            con.execute(f"ALTER TABLE identity DROP COLUMN {column}")
        con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
        con.execute(
            """INSERT INTO person (org_id, person_id, first_seen_at)
               VALUES ('org', 'p-dup', '2026-02-01');
               INSERT INTO person_pii (org_id, person_id, first_name, email)
               VALUES ('org', 'p-dup', 'Ana', 'ana@home.org');
               INSERT INTO identity VALUES ('org', 'p-dup', 'mobilize', '77', '2026-02-01')"""
        )
    finally:
        con.close()
    with connect(store, write=True) as con:
        pass  # (any writer migrates the store)
    # Ana: ana@work and her phone for u-ana and 101; the duplicate: ana@home for 77;
    # Zed: zed@ for 50
    assert count(c, "person_key") == 6
    assert c.query("SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]

    files["mob/p1.json"] = mob([(9001, 77, "Ana", "Diaz", "ana@home.org", None, 1770000000)])
    c.write("mob/p1.json", files["mob/p1.json"])
    with connect(store, write=True) as con:  # other sync code: every export read again
        con.execute("DELETE FROM meta WHERE key = 'sync_code:org'")
    result = c.sync()
    assert result.written["people merged"] == 1
    assert groups(c) == [("action_network:u-ana", "mobilize:77", "van:101"), ("mobilize:50",)]
    assert person_of(c, "mobilize", "77") == ana
    assert groups(c) == fresh_groups(make_cohort, files)


HUB_SHEET = """- kind: generic_csv
  path: roster
  activity_type: attendance
  columns: {person_id: Member ID, phone: Cell, occurred_at: Meeting Date}
"""


def _roster(rows: list[tuple[str, str]]) -> str:
    return "Member ID,Cell,Meeting Date\n" + "".join(
        f"{member},{cell},2026-01-0{day}\n" for day, (member, cell) in enumerate(rows, start=1)
    )


def test_people_matched_by_a_value_before_it_was_on_three_records_are_counted(make_cohort):
    """A couple's landline on two sheet rows matches them as one person; when a third
    row with it arrives, the value matches nobody from then on, but the person stored
    earlier stays one, where a store synced from both files at once holds three. The
    sync report says so, for that one person; the fresh store's says nothing of it."""
    landline = "617-555-0100"
    later = make_cohort(HUB_SHEET)
    later.write("roster/1.csv", _roster([("A", landline), ("B", landline)]))
    later.sync()
    assert later.query("SELECT count(*) FROM person") == [(1,)]
    later.write("roster/2.csv", _roster([("C", landline)]))
    result = later.sync()
    assert later.query("SELECT count(*) FROM person") == [(2,)]
    notes = [n for f in result.files for n in f.notes if "not used to match" in n]
    assert len(notes) == 1
    assert notes[0].startswith("1 email(s) or phone(s) are each on 3 or more")
    assert "; 1 person stored by earlier syncs holds two or more of those records" in notes[0]
    assert notes[0].endswith("would keep those records apart)")

    fresh = make_cohort(HUB_SHEET)
    fresh.write("roster/1.csv", _roster([("A", landline), ("B", landline)]))
    fresh.write("roster/2.csv", _roster([("C", landline)]))
    result = fresh.sync()
    assert fresh.query("SELECT count(*) FROM person") == [(3,)]
    notes = [n for f in result.files for n in f.notes if "not used to match" in n]
    assert len(notes) == 1 and "stored by earlier syncs" not in notes[0]
