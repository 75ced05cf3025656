"""The guard's per-process keys of each organization's people and tool ids
(privacy._person_keys, privacy._id_keys): used again while its rows are the same, worked
out again the moment any of them changes, one table per organization."""

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
    assert scan_html(page, pii_store, ["org-a"], allow=[]) == []
    assert kept("people") == [table]  # the same people: used again

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
    assert table not in kept("people")


def test_the_id_keys_follow_every_change_of_the_ids(pii_store):
    page = render([("html", "<p>van id 10234567 and an ID 77665544</p>")])
    assert kinds(scan_html(page, pii_store, ["org-a"], allow=[])) == {"source_id"}
    [table] = kept("ids")
    first, second = "1… (8 characters)", "7… (8 characters)"  # the masked ids
    assert [leak.hint for leak in scan_html(page, pii_store, ["org-a"], allow=[])] == [first]
    assert kept("ids") == [table]
    # a new id, then an id removed and written again (same values, another row)
    with store.connect(pii_store, write=True) as con:
        con.execute("INSERT INTO identity VALUES ('org-a', 'a3', 'van', '77665544', NULL)")
    leaks = scan_html(page, pii_store, ["org-a"], allow=[])
    assert sorted(leak.hint for leak in leaks) == [first, second]
    [again] = kept("ids")
    assert again != table  # worked out again, the old table dropped
    with store.connect(pii_store, write=True) as con:
        con.execute("DELETE FROM identity WHERE source_id = '10234567'")
        con.execute("INSERT INTO identity VALUES ('org-a', 'a2', 'van', '10234567', NULL)")
    leaks = scan_html(page, pii_store, ["org-a"], allow=[])
    assert sorted(leak.hint for leak in leaks) == [first, second]
    assert kept("ids") not in ([table], [again])
    assert memory_tables() == set(kept("ids")) | set(kept("people"))


def test_keys_lost_with_the_process_database_are_worked_out_again(pii_store):
    page = render([("html", "<p>Call (555) 201-3344</p>")])
    assert kinds(scan_html(page, pii_store, ["org-a"], allow=[])) == {"phone"}
    for _, table in privacy._KEYS.values():
        store._INSTANCE.db.execute(f"DROP TABLE memory.main.{table}")
    assert kinds(scan_html(page, pii_store, ["org-a"], allow=[])) == {"phone"}


def test_one_table_per_organization_whatever_the_set_asked_for(pii_store):
    page = render([("html", "<p>Okonkwo and Featherstonehaugh, van id 88112233</p>")])
    found = {}
    for orgs in (["org-a"], ["org-b"], ["org-a", "org-b"], None):
        found[tuple(orgs or ())] = kinds(scan_html(page, pii_store, orgs, allow=[]))
    assert found == {
        ("org-a",): {"last_name"},
        ("org-b",): {"last_name", "source_id"},
        ("org-a", "org-b"): {"last_name", "source_id"},
        (): {"last_name", "source_id"},
    }
    # the set of both (and every organization) used the tables made for each
    assert sorted(key[3] for key in privacy._KEYS) == ["org-a", "org-a", "org-b", "org-b"]
    assert memory_tables() == {name for _, name in privacy._KEYS.values()}


def test_the_least_recently_used_tables_go_first(pii_store, monkeypatch):
    monkeypatch.setattr(privacy, "_KEYS_KEPT", 2)
    page = render([("html", "<p>Okonkwo, van id 88112233</p>")])
    scan_html(page, pii_store, ["org-a"], allow=[])
    scan_html(page, pii_store, ["org-b"], allow=[])
    assert sorted(key[0] for key in privacy._KEYS) == ["ids", "people"]
    assert {key[3] for key in privacy._KEYS} == {"org-b"}
    assert memory_tables() == {name for _, name in privacy._KEYS.values()}


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
            ("rid", "BIGINT"),
            ("id_h", "UBIGINT"),
            ("number_h", "UBIGINT"),
            ("phone_h", "UBIGINT"),
        ],
    }
