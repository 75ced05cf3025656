"""Identity resolution: people joined through chains of shared emails and phones."""

from __future__ import annotations

import duckdb

from cyclebook.store import create_schema
from cyclebook.sync.merge import resolve_identities
from cyclebook.sync.stage import STAGE_SCHEMA


def _resolve(people: list[tuple[str, str, str | None, str | None]], stored=()) -> dict:
    """people: (source, source_id, email, phone); stored: (person_id, source, id, email)."""
    con = duckdb.connect()
    create_schema(con)
    con.execute(f"CREATE TEMP TABLE st_person ({STAGE_SCHEMA['st_person']})")
    for source, source_id, email, phone in people:
        con.execute(
            "INSERT INTO st_person (source, source_id, email, phone) VALUES (?, ?, ?, ?)",
            [source, source_id, email, phone],
        )
    for person_id, source, source_id, email in stored:
        con.execute(
            "INSERT INTO identity VALUES ('o', ?, ?, ?, NULL)", [person_id, source, source_id]
        )
        con.execute(
            "INSERT INTO person_pii (org_id, person_id, email) VALUES ('o', ?, ?)",
            [person_id, email],
        )
    rounds = resolve_identities(con, "o")["rounds"]
    rows = con.execute("SELECT source, source_id, person_id, is_new FROM cb_idmap").fetchall()
    return {"rounds": rounds, "ids": {(s, i): (p, new) for s, i, p, new in rows}}


def test_a_chain_of_shared_values_is_one_person():
    # a -e1- b -p1- c -e2- d : one human seen by four tools; e stands alone
    out = _resolve(
        [
            ("an", "a", "e1@x.org", None),
            ("mobilize", "b", "e1@x.org", "+16175550101"),
            ("spoke", "c", None, "+16175550101"),
            ("spoke", "c", "e2@x.org", None),
            ("van", "d", "e2@x.org", None),
            ("van", "e", "e3@x.org", "+16175550199"),
        ]
    )
    ids = out["ids"]
    chain = {ids[k][0] for k in [("an", "a"), ("mobilize", "b"), ("spoke", "c"), ("van", "d")]}
    assert len(chain) == 1
    assert ids[("van", "e")][0] not in chain
    assert all(new for _, new in ids.values())
    assert out["rounds"] >= 2  # the label had to travel along the chain


def test_nobody_shares_a_value_so_nobody_merges():
    out = _resolve([("van", str(i), f"p{i}@x.org", None) for i in range(5)])
    assert len({p for p, _ in out["ids"].values()}) == 5


def test_a_new_id_joins_the_stored_person_and_keeps_its_id():
    out = _resolve(
        [("mobilize", "m1", "ana@x.org", None), ("mobilize", "m2", "bo@x.org", None)],
        stored=[("p-stored", "an", "u1", "ana@x.org")],
    )
    ids = out["ids"]
    assert ids[("mobilize", "m1")] == ("p-stored", True)
    assert ids[("an", "u1")] == ("p-stored", False)
    assert ids[("mobilize", "m2")][0] != "p-stored"
