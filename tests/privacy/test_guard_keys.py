"""The guard's per-process keys of the organizations' people and tool ids
(privacy._person_keys, privacy._id_keys): one table of each per store, an organization's
rows used again while they are the same and worked out again the moment any changes."""

from __future__ import annotations

import pytest

from cyclebook import privacy, store
from cyclebook.privacy import scan_html

from .conftest import render, write_people


def kinds(leaks) -> set[str]:
    return {leak.kind for leak in leaks}


def kept(kind: str) -> list[str]:
    """The tables kept for ``kind`` ("people" or "ids"), least recently used first."""
    return [name for key, (_, name) in privacy._KEYS.items() if key[0] == kind]


def held(kind: str) -> dict[str, tuple]:
    """The fingerprint of each organization's rows in the table of ``kind``."""
    [found] = [dict(rows) for key, (rows, _) in privacy._KEYS.items() if key[0] == kind]
    return found


def memory_tables() -> set[str]:
    db = store._INSTANCE.db
    if db is None:
        return set()
    rows = db.execute(
        """SELECT table_name FROM duckdb_tables()
           WHERE database_name = 'memory' AND table_name LIKE 'cb_guard_keys_%'"""
    ).fetchall()
    return {name for (name,) in rows}


def forget_keys() -> None:
    for table in memory_tables():
        store._INSTANCE.db.execute(f"DROP TABLE memory.main.{table}")
    privacy._KEYS.clear()


@pytest.fixture(autouse=True)
def no_keys_from_other_tests():
    forget_keys()
    yield
    forget_keys()


def test_the_keys_are_kept_and_follow_every_change_of_the_people(pii_store):
    page = render([("html", "<p>Ulrike Zwiebelbaum came twice.</p>")])
    assert scan_html(page, pii_store, ["org-a"], allow=[]) == []
    [table] = kept("people")
    first = held("people")
    assert scan_html(page, pii_store, ["org-a"], allow=[]) == []
    assert kept("people") == [table] and held("people") == first  # the same: used again

    # a new person, then a changed last name (same number of people), then a changed
    # email: each is found by the next scan
    write_people(pii_store, [("org-a", "a9", "Ulrike", "Zwiebelbaum", None, None, None)])
    assert kinds(scan_html(page, pii_store, ["org-a"], allow=[])) == {"name"}
    with store.connect(pii_store, write=True) as con:
        con.execute("UPDATE person_pii SET last_name = 'Quillfeather' WHERE person_id = 'a3'")
    page = render([("html", "<p>Quillfeather family</p>")])
    assert kinds(scan_html(page, pii_store, ["org-a"], allow=[])) == {"last_name"}
    with store.connect(pii_store, write=True) as con:
        con.execute("UPDATE person_pii SET email = 'new.sam@example.com' WHERE person_id = 'a3'")
    page = render([("html", "<p>write to new.sam@example.com</p>")])
    assert kinds(scan_html(page, pii_store, ["org-a"], allow=[])) == {"email"}
    assert kept("people") == [table] and held("people")["org-a"] != first["org-a"]


def test_the_id_keys_follow_every_change_of_the_ids(pii_store):
    page = render([("html", "<p>van id 10234567 and an ID 77665544</p>")])
    assert kinds(scan_html(page, pii_store, ["org-a"], allow=[])) == {"source_id"}
    first, second = "1… (8 characters)", "7… (8 characters)"  # the masked ids
    assert [leak.hint for leak in scan_html(page, pii_store, ["org-a"], allow=[])] == [first]
    before = held("ids")
    # a new id, then an id removed and written again (same values, another row)
    with store.connect(pii_store, write=True) as con:
        con.execute(
            "INSERT INTO identity (org_id, person_id, source, source_id)"
            " VALUES ('org-a', 'a3', 'van', '77665544')"
        )
    leaks = scan_html(page, pii_store, ["org-a"], allow=[])
    assert sorted(leak.hint for leak in leaks) == [first, second]
    again = held("ids")
    assert again["org-a"] != before["org-a"]  # worked out again
    with store.connect(pii_store, write=True) as con:
        con.execute("DELETE FROM identity WHERE source_id = '10234567'")
        con.execute(
            "INSERT INTO identity (org_id, person_id, source, source_id)"
            " VALUES ('org-a', 'a2', 'van', '10234567')"
        )
    leaks = scan_html(page, pii_store, ["org-a"], allow=[])
    assert sorted(leak.hint for leak in leaks) == [first, second]
    assert held("ids")["org-a"] not in (before["org-a"], again["org-a"])
    assert memory_tables() == set(kept("ids")) | set(kept("people"))


def test_keys_lost_with_the_process_database_are_worked_out_again(pii_store):
    page = render([("html", "<p>Call (555) 201-3344</p>")])
    assert kinds(scan_html(page, pii_store, ["org-a"], allow=[])) == {"phone"}
    for _, table in privacy._KEYS.values():
        store._INSTANCE.db.execute(f"DROP TABLE memory.main.{table}")
    assert kinds(scan_html(page, pii_store, ["org-a"], allow=[])) == {"phone"}


def test_one_table_per_store_whatever_the_organizations_asked_for(pii_store):
    page = render([("html", "<p>Okonkwo and Featherstonehaugh, van id 88112233</p>")])
    found = {}
    for orgs in (["org-a"], ["org-b"], ["org-a", "org-b"], None):
        found[tuple(orgs or ())] = kinds(scan_html(page, pii_store, orgs, allow=[]))
    # (a table holding both organizations' rows still answers for the one asked for)
    assert found == {
        ("org-a",): {"last_name"},
        ("org-b",): {"last_name", "source_id"},
        ("org-a", "org-b"): {"last_name", "source_id"},
        (): {"last_name", "source_id"},
    }
    assert sorted(key[0] for key in privacy._KEYS) == ["ids", "people"]
    assert sorted(held("people")) == ["org-a", "org-b"]
    assert memory_tables() == {name for _, name in privacy._KEYS.values()}


def test_only_the_changed_organizations_rows_are_worked_out_again(pii_store, monkeypatch):
    page = render([("html", "<p>Okonkwo, van id 88112233</p>")])
    scan_html(page, pii_store, None, allow=[])
    filled = []
    original = privacy._python_heads
    monkeypatch.setattr(
        privacy, "_python_heads", lambda con, org_id: filled.append(org_id) or original(con, org_id)
    )
    write_people(pii_store, [("org-b", "b9", "Ada", "Quenneville", None, None, None)])
    assert kinds(
        scan_html(render([("html", "<p>Quenneville</p>")]), pii_store, None, allow=[])
    ) == {"last_name"}
    assert filled == ["org-b"]


def test_the_least_recently_used_tables_go_first(pii_store, tmp_path, monkeypatch):
    monkeypatch.setattr(privacy, "_KEYS_KEPT", 2)
    other = tmp_path / "other" / "store.duckdb"
    other.parent.mkdir()
    write_people(other, [("org-c", "c1", "Ada", "Quenneville", None, None, None)])
    page = render([("html", "<p>Okonkwo, van id 88112233</p>")])
    scan_html(page, pii_store, None, allow=[])
    assert [key[0] for key in privacy._KEYS] == ["people", "ids"]
    scan_html(page, other, None, allow=[])
    # the other store's two tables are the newest: the first store's went
    assert [(key[0], key[2]) for key in privacy._KEYS] == [
        ("people", str(other.resolve())),
        ("ids", str(other.resolve())),
    ]
    assert memory_tables() == {name for _, name in privacy._KEYS.values()}
    assert kinds(scan_html(page, pii_store, None, allow=[])) == {"last_name", "source_id"}


def test_the_keys_hold_hashes_not_values(pii_store):
    page = render([("html", "<p>nothing but 12345678</p>")])
    scan_html(page, pii_store, ["org-a"], allow=[])
    columns = {
        kind: store._INSTANCE.db.execute(
            f"SELECT column_name, column_type FROM (DESCRIBE memory.main.{table})"
        ).fetchall()
        for kind in ("people", "ids")
        for table in kept(kind)
    }
    assert columns == {
        "people": [
            ("org_id", "VARCHAR"),
            ("person_id", "VARCHAR"),
            ("email_h", "UBIGINT"),
            ("phone_h", "UBIGINT"),
            ("last_h", "UBIGINT"),
            ("last_a_h", "UBIGINT"),
            ("last_b_h", "UBIGINT"),
            ("street_h", "UBIGINT"),
        ],
        "ids": [
            ("org_id", "VARCHAR"),
            ("rid", "BIGINT"),
            ("id_h", "UBIGINT"),
            ("number_h", "UBIGINT"),
            ("phone_h", "UBIGINT"),
        ],
    }


def test_an_email_or_phone_kept_only_as_a_hashed_id_is_still_found(pii_store):
    """Spoke names a contact by the cell, an Action Network report without uuid a person
    by the email: the store keeps those ids as salted hashes (store.personal_key_sql),
    and the person's person_pii may hold another email or phone (their other tool's).
    The report's emails and phones are hashed so and found among the ids."""
    import hashlib

    def key(value: str) -> str:
        return "hash:" + hashlib.sha256(f"s4lt:key:{value}".encode()).hexdigest()[:32]

    with store.connect(pii_store, write=True) as con:
        con.execute("INSERT OR REPLACE INTO meta VALUES ('match_salt', 's4lt')")
        con.executemany(
            "INSERT INTO identity (org_id, person_id, source, source_id) VALUES (?, ?, ?, ?)",
            [
                ("org-a", "a3", "spoke", key("+16175550142")),
                ("org-a", "a3", "action_network", key("sam.old@example.com")),
                ("org-b", "b1", "spoke", key("+442079460958")),
            ],
        )
    for text, kind in [
        ("<p>texted (617) 555-0142 twice</p>", "phone"),
        ("<p>mailto:Sam.Old@example.com</p>", "email"),
        ("<p>call +44 20 7946 0958</p>", "phone"),
        ("<p>call 0044 20 7946 0958</p>", "phone"),
    ]:
        orgs = ["org-b"] if "7946" in text else ["org-a"]
        leaks = scan_html(render([("html", text)]), pii_store, orgs, allow=[])
        assert kinds(leaks) == {kind}, text
        assert "7946" not in leaks[0].hint and "0142" not in leaks[0].hint
    # another organization's hashed ids are not this one's
    page = render([("html", "<p>texted (617) 555-0142 twice</p>")])
    assert scan_html(page, pii_store, ["org-b"], allow=[]) == []
    # and numbers nobody has are no leak
    page = render([("html", "<p>texted (617) 555-0199 twice</p>")])
    assert scan_html(page, pii_store, ["org-a"], allow=[]) == []
