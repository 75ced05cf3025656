"""Identity resolution: people joined through chains of shared emails and phones."""

from __future__ import annotations

import duckdb
import pytest

from cyclebook.store import create_schema, keys_from_pii
from cyclebook.sync import merge
from cyclebook.sync.merge import resolve_identities
from cyclebook.sync.stage import STAGE_SCHEMA


@pytest.fixture(autouse=True, params=["here", "rounds"])
def path(request, monkeypatch) -> str:
    """Every test twice: the ids connected by shared values found by union-find here
    (a small graph, as a small organization's) and by the rounds of queries (a large
    one's). The rounds are counted only by the second."""
    monkeypatch.setattr(merge, "FEW_SHARED", 10**9 if request.param == "here" else 0)
    return request.param


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
            "INSERT INTO identity (org_id, person_id, source, source_id) VALUES ('o', ?, ?, ?)",
            [person_id, source, source_id],
        )
        con.execute(
            "INSERT INTO person_pii (org_id, person_id, email) VALUES ('o', ?, ?)",
            [person_id, email],
        )
    keys_from_pii(con)  # (each stored id carried its person's email)
    resolved = resolve_identities(con, "o")
    rows = con.execute("SELECT source, source_id, person_id, is_new FROM cb_idmap").fetchall()
    return {
        "rounds": resolved["rounds"],
        "hubs": resolved["hubs"],
        "ids": {(s, i): (p, new) for s, i, p, new in rows},
    }


def test_a_chain_of_shared_values_is_one_person(path):
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
    if path == "rounds":
        assert out["rounds"] >= 2  # the label had to travel along the chain
    else:
        assert out["rounds"] == 0  # no query round ran


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


def test_a_long_chain_is_one_person_in_few_rounds(path):
    """400 ids, each sharing an email with the one before and a phone with the one after:
    one person. Labels jump along the chain, so the rounds grow with its logarithm (a
    label moved one id per round before: the last ids of a chain longer than the round
    limit stayed separate people)."""
    # v(2j) and v(2j+1) share e{j}; v(2j+1) and v(2j+2) share a phone
    people = []
    for i in range(400):
        email = f"e{i // 2}@x.org"
        phone = f"+1617555{(i + 1) // 2:04d}"
        people.append(("van", f"v{i}", email, phone))
    out = _resolve(people)
    assert len({p for p, _ in out["ids"].values()}) == 1
    assert len(out["ids"]) == 400
    if path == "rounds":  # measured 6-8 (chains of 400 and 2,000); one id a round: ~400
        assert 2 <= out["rounds"] <= 10


def _components(people) -> set[frozenset]:
    """Ids joined by a shared email or phone, by union-find (the reference). A value one
    tool holds for HUB_IDS or more of its ids joins nobody."""
    from collections import Counter

    from cyclebook.sync.merge import HUB_IDS

    held = Counter(
        (value, source)
        for source, _, email, phone in people
        for value in {("e", email), ("p", phone)}
        if value[1] is not None
    )
    hubs = {value for (value, _), n in held.items() if n >= HUB_IDS}
    parent: dict[tuple, tuple] = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for source, source_id, email, phone in people:
        node = ("id", source, source_id)
        find(node)
        for value in (("e", email), ("p", phone)):
            if value[1] is not None and value not in hubs:
                parent[find(node)] = find(value)
    groups: dict[tuple, set] = {}
    for source, source_id, _, _ in people:
        groups.setdefault(find(("id", source, source_id)), set()).add((source, source_id))
    return {frozenset(g) for g in groups.values()}


def test_people_are_the_connected_ids_of_random_graphs():
    import random

    for seed in range(30):
        rng = random.Random(seed)
        n = rng.randint(2, 120)
        pool = max(2, n // rng.randint(1, 4))  # fewer values than ids: many shared
        people = [
            (
                rng.choice(["an", "van", "mobilize"]),
                f"i{k}",
                f"e{rng.randrange(pool)}@x.org" if rng.random() < 0.7 else None,
                f"+1617555{rng.randrange(pool):04d}" if rng.random() < 0.5 else None,
            )
            for k in range(n)
        ]
        out = _resolve(people)
        found: dict[str, set] = {}
        for key, (person, _) in out["ids"].items():
            found.setdefault(person, set()).add(key)
        assert {frozenset(g) for g in found.values()} == _components(people), seed


def test_a_new_person_is_named_by_the_least_id_of_its_component():
    """The person id of new ids is a digest of the least 'source<US>id' among them, least
    as DuckDB orders text (by UTF-8 bytes: the order of code points), on either path."""
    import hashlib
    import random

    sep = "\x1f"
    ids = ["z9", "é1", "Z", "a", "日本", "\U0001f600", "\ue000", "ａ", "a b", "A"]
    for seed in range(10):
        rng = random.Random(seed)
        people = [
            (rng.choice(["an", "van"]), source_id, f"e{rng.randrange(4)}@x.org", None)
            for source_id in ids
        ]
        # least by code point, not by UTF-16 units (where the emoji comes first)
        people += [
            ("van", "\U0001f600x", "pair@x.org", None),
            ("van", "\ue000x", "pair@x.org", None),
        ]
        out = _resolve(people)
        for component in _components(people):
            least = min(f"{source}{sep}{source_id}" for source, source_id in component)
            digest = hashlib.md5(f"o{sep}{least}".encode()).hexdigest()
            for key in component:
                assert out["ids"][key] == ("p" + digest[:19], True), (seed, key)


def test_ids_of_one_stored_person_keep_its_label_apart_from_others():
    """A stored person's two ids start with one label but share no value here: each side
    settles by its own values, and the new ids beside them join the stored person their
    values lead to, never another through the shared label."""
    out = _resolve(
        [
            ("mobilize", "x", "ana@x.org", None),  # shares ana@ with the stored an/a
            ("mobilize", "y", "cy@x.org", None),  # shares cy@ with stored person q's van/c
        ],
        stored=[
            ("p", "an", "a", "ana@x.org"),
            ("p", "van", "b", None),
            ("q", "van", "c", "cy@x.org"),
        ],
    )
    ids = out["ids"]
    assert ids[("mobilize", "x")] == ("p", True)
    assert ids[("mobilize", "y")] == ("q", True)
    assert ids[("an", "a")] == ("p", False)
    assert ids[("van", "b")] == ("p", False)
    assert ids[("van", "c")] == ("q", False)


def _resolve_both(people, stored, referenced, monkeypatch) -> tuple[dict, dict]:
    """cb_idmap's person of every staged or referenced id: as resolved (the stored people
    the staged records can reach), and with every stored person in the graph."""
    from cyclebook.sync import merge

    def run() -> dict:
        con = duckdb.connect()
        create_schema(con)
        for name in ("st_person", "st_activity"):
            con.execute(f"CREATE TEMP TABLE {name} ({STAGE_SCHEMA[name]})")
        for source, source_id, email, phone in people:
            con.execute(
                "INSERT INTO st_person (source, source_id, email, phone) VALUES (?, ?, ?, ?)",
                [source, source_id, email, phone],
            )
        for source, source_id in referenced:
            con.execute(
                "INSERT INTO st_activity (person_source, person_ref) VALUES (?, ?)",
                [source, source_id],
            )
        for person_id, source, source_id, _email, _phone in stored:
            con.execute(
                "INSERT INTO identity (org_id, person_id, source, source_id) VALUES ('o', ?, ?, ?)",
                [person_id, source, source_id],
            )
        pii = {(s[0], s[3], s[4]) for s in stored}
        for person_id, email, phone in pii:
            con.execute(
                "INSERT INTO person_pii (org_id, person_id, email, phone) VALUES ('o', ?, ?, ?)",
                [person_id, email, phone],
            )
        keys_from_pii(con)
        resolve_identities(con, "o")
        wanted = {(s, i) for s, i, _, _ in people} | set(referenced)
        rows = con.execute("SELECT source, source_id, person_id FROM cb_idmap").fetchall()
        return {(s, i): p for s, i, p in rows if (s, i) in wanted}

    reached = run()
    everyone = merge._reached_people

    def all_stored(con, org_id):
        everyone(con, org_id)
        con.execute("INSERT INTO cb_reach SELECT DISTINCT person_id FROM identity")

    monkeypatch.setattr(merge, "_reached_people", all_stored)
    return reached, run()


def test_a_new_export_reaches_the_stored_people_it_is_connected_to(monkeypatch):
    """Stored: q and r share a phone (merged by an earlier export, kept apart in the
    store); s is far from the new export. New: an email of p's, and an activity of one
    of q's ids. Every staged or referenced id gets the person it gets when every stored
    person takes part; s is not read at all."""
    stored = [
        ("p", "an", "a1", "ana@x.org", None),
        ("p", "van", "a2", "ana@x.org", None),
        ("q", "van", "b1", "bo@x.org", "+16175550101"),
        ("r", "spoke", "c1", None, "+16175550101"),
        ("r", "mobilize", "c2", "cy@x.org", "+16175550101"),
        ("s", "van", "d1", "di@x.org", None),
        ("s", "an", "d2", "di@x.org", None),
    ]
    people = [("mobilize", "m1", "ana@x.org", None), ("mobilize", "m2", "eve@x.org", None)]
    reached, full = _resolve_both(people, stored, [("van", "b1")], monkeypatch)
    assert reached == full
    assert reached == {
        ("mobilize", "m1"): "p",
        ("mobilize", "m2"): reached[("mobilize", "m2")],
        ("van", "b1"): "q",  # q < r: the least label of q and r's component
    }
    assert reached[("mobilize", "m2")] not in {"p", "q", "r", "s"}


def test_reaching_stored_people_changes_no_one_on_random_stores(monkeypatch):
    import random

    for seed in range(25):
        rng = random.Random(seed)
        pool = rng.randint(3, 30)

        def email(rng=rng, pool=pool):
            return f"e{rng.randrange(pool)}@x.org" if rng.random() < 0.6 else None

        def phone(rng=rng, pool=pool):
            return f"+1617555{rng.randrange(pool):04d}" if rng.random() < 0.4 else None

        stored = []
        for n in range(rng.randint(0, 25)):
            person_email, person_phone = email(), phone()
            for k in range(rng.randint(1, 3)):
                stored.append(
                    (f"s{n:02d}", rng.choice(["an", "van"]), f"{n}-{k}", person_email, person_phone)
                )
        people = [
            (rng.choice(["an", "mobilize"]), f"n{k}", email(), phone())
            for k in range(rng.randint(1, 20))
        ]
        ids = [(s[1], s[2]) for s in stored]
        referenced = rng.sample(ids, min(len(ids), rng.randint(0, 3)))
        # some new records are of stored ids
        people += [(s, i, email(), phone()) for s, i in rng.sample(ids, min(len(ids), 2))]
        reached, full = _resolve_both(people, stored, referenced, monkeypatch)
        monkeypatch.undo()
        assert reached == full, seed


def test_a_value_on_many_of_one_tools_people_matches_none_of_them():
    """The organizer's phone written on three sign-in rows, a household's landline: it
    made one person of everyone who had it. A value one tool holds for three or more of
    its ids joins none of them; two (a duplicate record, a couple) still match, and a
    value shared across tools still matches."""
    out = _resolve(
        [
            ("sheet", "1", None, "+16175550100"),
            ("sheet", "2", None, "+16175550100"),
            ("sheet", "3", None, "+16175550100"),
            ("sheet", "4", "di@x.org", "+16175550199"),
            ("sheet", "5", None, "+16175550199"),
            ("mobilize", "m1", "di@x.org", None),
        ]
    )
    people = out["ids"]
    assert len({people[("sheet", i)][0] for i in "123"}) == 3
    assert people[("sheet", "4")][0] == people[("sheet", "5")][0] == people[("mobilize", "m1")][0]
    assert out["hubs"] == {"sheet": 1}
