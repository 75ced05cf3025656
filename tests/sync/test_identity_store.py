"""One person per human: people already in the store are matched through every email
and phone their records carried (person_key)."""

from __future__ import annotations

import duckdb

from cyclebook.store import connect

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
    """The people as sets of 'source:id' (whatever their person ids)."""
    found: dict[str, list[str]] = {}
    for person, key in c.query(
        "SELECT person_id, source || ':' || source_id FROM identity ORDER BY 2"
    ):
        found.setdefault(person, []).append(key)
    return sorted(tuple(keys) for keys in found.values())


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


def test_a_store_made_before_person_key_keeps_matching_its_people(make_cohort):
    """A store made before person_key: opened for writing, it gets the keys person_pii
    gave (the stored people's one email and phone, for each of their ids), which match
    later records as person_pii did."""
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
    assert c.query("SELECT value FROM meta WHERE key = 'schema_version'") == [("4",)]

    # a Mobilize record with Ana's phone finds her through the keys person_pii gave
    c.write("mob/p1.json", mob([(9002, 78, "Ana", "Diaz", None, "617-555-0101", 1770000000)]))
    c.sync()
    assert person_of(c, "mobilize", "78") == ana
