# ruff: noqa: E501 - SQL and generated-data literals read better unwrapped
"""Identity resolution and the all-or-nothing write of one organization's staged rows.

People are matched within the organization on normalized email, E.164 phone and source
ids (a connected-components pass in SQL), and onto the people already in the store
through every email and phone their ids ever carried (``person_key``, salted hashes), so
a newer export merges instead of duplicating. When a sync's records link people stored
apart, they become one person (:func:`_merge_stored_people`). Keys are deterministic
(``activity_id`` from the tool's own ids), so writing the same rows twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb

from cyclebook.store import (
    CONSENT_FROM_PERSON,
    ID_SEP,
    UNINDEXED_KEYS,
    cohort_salt,
    id_key,
    sql_str,
    value_key,
)
from cyclebook.sync.readers import UNDATED_ASSESSMENT
from cyclebook.sync.stage import STAGE_SCHEMA, FileInfo, Stage, list_rows

SEP = ID_SEP
# an email or phone one tool holds for this many of its own ids or more is not used to
# match people (two: a tool's duplicate record, or a couple, are still matched)
HUB_IDS = 3
MAX_ROUNDS = 64  # rounds needed: about log2 of the longest chain of ids, plus one

# the reason an activity whose person no export of its tool lists is rejected with
PERSON_NOT_FOUND = "person not found in this organization's exports"
# the sync's count of the custom fields (a tool's and name) on which people it merged
# held different values, each kept with its record
MERGED_FIELDS = "merged people's fields kept per record"

__all__ = ["HUB_IDS", "PERSON_NOT_FOUND", "cohort_salt", "resolve_identities", "write_org"]


def resolve_identities(
    con: duckdb.DuckDBPyConnection,
    org_id: str,
    references: str = "FALSE",
    *,
    salt: str | None = None,
) -> dict:
    """Build ``cb_idmap(source, source_id, person_id, is_new, seen, n, old, listed)`` for
    staged and stored ids (``seen``: the earliest ``seen_at`` of a staged id, ``n``: its
    number of staged records, NULL for an id only stored; ``old``: a stored id's person
    before this sync; ``listed``: whether a staged record of the id is its own tool's,
    not one of ``references``, the SQL condition on ``st_person`` telling the records
    another tool's export stages to name an id, as Spoke names a VAN id, NULL for an id
    only stored), ``cb_vals(source, source_id, a)`` (each staged id's emails and phones as
    ``person_key`` keys) and ``cb_merge(person_id, survivor, rank)``: the stored people
    this sync's records link, each group with its survivor (rank 0) and the people
    merged into it (ranks 1, 2...). Returns the rounds run, the hubs per tool, the stored
    people per tool that hold two or more ids of a hub (matched before it was one) and
    the number of stored people merged into others. ``salt``: the cohort's, when the
    caller has read it (else read here)."""
    salt = sql_str(salt or cohort_salt(con))
    # the staged ids' values as the keys the store keeps (each distinct value hashed once)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cb_vals AS
        SELECT source, source_id,
               CASE t WHEN 'e' THEN {value_key(salt, "e", "v")}
                      ELSE {value_key(salt, "p", "v")} END AS a
        FROM (SELECT DISTINCT source, source_id, 'e' AS t, email AS v FROM st_person
              WHERE source_id IS NOT NULL AND email IS NOT NULL
              UNION
              SELECT DISTINCT source, source_id, 'p', phone FROM st_person
              WHERE source_id IS NOT NULL AND phone IS NOT NULL)"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cb_nodes AS
        WITH staged AS (  -- with the earliest date an export knew the id (identity's)
            SELECT source || '{SEP}' || source_id AS k, min(seen_at) AS seen, count(*) AS n,
                   bool_or(NOT ({references})) AS listed
            FROM st_person WHERE source_id IS NOT NULL GROUP BY k),
        stored AS (
            SELECT source || '{SEP}' || source_id AS k, person_id FROM identity
            WHERE org_id = $org)
        SELECT k, coalesce('0' || stored.person_id, '1' || k) AS l, stored.person_id AS old,
               staged.seen, staged.n, staged.listed
        FROM staged FULL JOIN stored USING (k)""",
        {"org": org_id},
    )
    _reached_people(con, org_id)
    # the stored people's values: every one any of their ids carried (person_key)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cb_edges AS
        SELECT DISTINCT k, a FROM (
            SELECT source || '{SEP}' || source_id AS k, a FROM cb_vals
            UNION ALL
            SELECT i.source || '{SEP}' || i.source_id, pk.key FROM identity i
            JOIN person_key pk ON pk.org_id = $org AND pk.person_id = i.person_id
              AND pk.id_key = {id_key(salt, "i.source", "i.source_id")}
            WHERE i.org_id = $org AND i.person_id IN (SELECT person_id FROM cb_reach)
              AND pk.person_id IN (SELECT person_id FROM cb_reach))""",
        {"org": org_id},
    )
    # Only an email or phone shared by two or more ids can join people: the rest of the
    # edges (most of them, in a one-tool organization) cannot change a label, so the
    # label propagation runs on the shared ones and the ids they touch only. A value
    # that one tool holds for HUB_IDS or more of its own ids joins none of them: a
    # household's landline, an office email, the organizer's phone written on every
    # row of a sign-in sheet made one person of everyone who had it.
    shared = con.execute(
        """CREATE OR REPLACE TEMP TABLE cb_edges AS SELECT k, a FROM cb_edges
           WHERE a IN (SELECT a FROM cb_edges GROUP BY a HAVING count(*) > 1)"""
    ).fetchone()[0]
    hubs: dict[str, int] = {}
    hubs_joined: dict[str, int] = {}
    if shared:  # (the few shared values only: counted per tool)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE cb_hub AS
                SELECT a, split_part(k, '{SEP}', 1) AS source FROM cb_edges
                GROUP BY ALL HAVING count(*) >= {HUB_IDS}"""
        )
        hubs = dict(con.execute("SELECT source, count(*) FROM cb_hub GROUP BY source").fetchall())
        if hubs:
            # A value is judged among the ids that hold it now: one that was on two ids
            # of a tool, which were matched as one person, and is now on a third, matches
            # none of them from now on, but the person stored earlier stays one (nothing
            # says which of their rows came from which id). A fresh store keeps them
            # apart, so the sync report counts such people.
            joined = con.execute(
                f"""SELECT source, count(DISTINCT old) FROM (
                        SELECT h.source, h.a, n.old FROM cb_hub h
                        JOIN cb_edges e ON e.a = h.a AND split_part(e.k, '{SEP}', 1) = h.source
                        JOIN cb_nodes n ON n.k = e.k
                        WHERE n.old IS NOT NULL
                        GROUP BY ALL HAVING count(*) >= 2)
                    GROUP BY source"""
            ).fetchall()
            hubs_joined = dict(joined)
            shared = con.execute(
                """CREATE OR REPLACE TEMP TABLE cb_edges AS SELECT k, a FROM cb_edges
                   WHERE a NOT IN (SELECT a FROM cb_hub)"""
            ).fetchone()[0]
            # (a value left with a single id cannot join anyone: harmless in the graph)
        con.execute("DROP TABLE cb_hub")
    rounds = 0
    nodes = "cb_nodes"
    if shared:
        if shared <= FEW_SHARED:
            _components_here(con)
        else:
            rounds = _propagate_labels(con)
        nodes = """(SELECT n.k, coalesce(s.l, n.l) AS l, n.old, n.seen, n.n, n.listed
                    FROM cb_nodes n LEFT JOIN cb_sub s USING (k))"""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cb_idmap AS
        SELECT split_part(k, '{SEP}', 1) AS source,
               substr(k, length(split_part(k, '{SEP}', 1)) + 2) AS source_id,
               CASE WHEN l[1] = '0' THEN substr(l, 2)
                    ELSE 'p' || substr(md5($org || '{SEP}' || substr(l, 2)), 1, 19) END
                 AS person_id,
               old IS NULL AS is_new, seen, n, old, listed
        FROM {nodes}""",
        {"org": org_id},
    )
    con.execute(
        "DROP TABLE IF EXISTS cb_edges; DROP TABLE IF EXISTS cb_sub; DROP TABLE cb_reach; "
        "DROP TABLE cb_nodes"
    )
    merged = _merge_plan(con, org_id)
    return {"rounds": rounds, "hubs": hubs, "hubs_joined": hubs_joined, "merged": merged}


def _reached_people(con: duckdb.DuckDBPyConnection, org_id: str) -> None:
    """``cb_reach(person_id)``: the stored people the staged records can be connected to.

    Only their ids can be joined with the staged ones, so only their emails and phones
    enter the graph: a weekly export of a four-tool organization of a million people
    resolved every stored id again (15 s of a 17 s sync). Found by following values:
    the people of the stored ids the staged records name (their own or, for an activity,
    its person's), and of any stored person with an email or phone of a staged record;
    then, again and again, those who share an email or phone with a person found, until
    none is new: every stored person connected to a staged record, however far. The
    values are ``person_key``'s: every one any id of a stored person carried.
    """
    p = {"org": org_id}
    if not _has_rows(con, "identity", org_id):  # a first sync: nobody stored to reach
        con.execute("CREATE OR REPLACE TEMP TABLE cb_reach (person_id VARCHAR)")
        return
    named = [f"SELECT source || '{SEP}' || source_id FROM st_person WHERE source_id IS NOT NULL"]
    present = {
        row[0]
        for row in con.execute(
            """SELECT table_name FROM information_schema.tables
               WHERE table_catalog = 'temp' AND table_name IN ('st_activity', 'st_attempt')"""
        ).fetchall()
    }
    for relation in sorted(present):
        named.append(
            f"SELECT person_source || '{SEP}' || person_ref FROM {relation} "
            "WHERE person_ref IS NOT NULL"
        )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cb_reach AS
            SELECT DISTINCT person_id FROM identity WHERE org_id = $org
              AND source || '{SEP}' || source_id IN ({" UNION ".join(named)})""",
        p,
    )
    # values followed so far, and those to follow next (the staged records' to begin)
    con.execute("CREATE OR REPLACE TEMP TABLE cb_next AS SELECT DISTINCT a FROM cb_vals")
    con.execute("CREATE OR REPLACE TEMP TABLE cb_front AS SELECT person_id FROM cb_reach")
    con.execute("CREATE OR REPLACE TEMP TABLE cb_seen AS SELECT a FROM cb_next WHERE false")
    values = """SELECT DISTINCT key AS a FROM person_key WHERE org_id = $org
                   AND person_id IN (SELECT person_id FROM cb_front)"""
    while True:
        # the values of the people found last, not followed yet
        con.execute(
            f"""INSERT INTO cb_next SELECT a FROM ({values})
                WHERE a NOT IN (SELECT a FROM cb_seen) AND a NOT IN (SELECT a FROM cb_next)""",
            p,
        )
        if not con.execute("SELECT count(*) FROM cb_next").fetchone()[0]:
            break
        new = con.execute(
            """CREATE OR REPLACE TEMP TABLE cb_front AS SELECT DISTINCT person_id
               FROM person_key WHERE org_id = $org AND key IN (SELECT a FROM cb_next)
                 AND person_id NOT IN (SELECT person_id FROM cb_reach)""",
            p,
        ).fetchone()[0]
        con.execute("INSERT INTO cb_seen SELECT a FROM cb_next; DELETE FROM cb_next")
        if not new:
            break
        con.execute("INSERT INTO cb_reach SELECT person_id FROM cb_front")
    con.execute("DROP TABLE cb_next; DROP TABLE cb_front; DROP TABLE cb_seen")


# Up to this many (id, shared value) pairs, the connected ids are found here, by
# union-find over the pairs fetched at once: two statements where the rounds below run
# a dozen or more (2,000 ids sharing values: 25 ms against 46 ms; even at ~24,000 pairs,
# 3.5x slower at ~180,000).
FEW_SHARED = 10_000


def _components_here(con: duckdb.DuckDBPyConnection) -> None:
    """``cb_sub(k, l)`` as :func:`_propagate_labels` makes it (each id touched by a
    shared value, with the least label of the ids it is connected to), by union-find in
    Python over the pairs of ``cb_edges``. Labels compare as DuckDB compares them: by
    their UTF-8 bytes, which is the order of their code points."""
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(x: tuple[str, str]) -> tuple[str, str]:
        root = x
        while (up := parent.get(root, root)) != root:
            root = up
        while x != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    labels: dict[str, str] = {}
    for k, a, label in con.execute(
        "SELECT e.k, e.a, n.l FROM cb_edges e JOIN cb_nodes n USING (k)"
    ).fetchall():
        labels[k] = label
        one, other = find(("k", k)), find(("a", a))
        if one != other:
            parent[one] = other
    least: dict[tuple[str, str], str] = {}
    for k, label in labels.items():
        root = find(("k", k))
        if root not in least or label < least[root]:
            least[root] = label
    rows, params = list_rows(
        {
            "k": ("VARCHAR", list(labels)),
            "l": ("VARCHAR", [least[find(("k", k))] for k in labels]),
        }
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE cb_sub AS {rows}", params)


def _propagate_labels(con: duckdb.DuckDBPyConnection) -> int:
    """``cb_sub(k, l)``: each id touched by a shared email or phone (``cb_edges``) with
    the least label of the ids it is connected to. Returns the rounds run.

    The connected ids are found first, on numbers: each id and each value is numbered,
    and every id starts with its own number as its component. In a round each id looks
    at the least component among the ids it shares a value with; the least any id of a
    component saw goes to the whole component; then components are followed as
    pointers to the end (an id takes the component of the id whose number its
    component is, until none changes). A chain of 2,000 ids settles in 6-8 rounds, not
    2,000. Components only fall: the rounds end when their sum stops changing. Then each
    id gets the least label of its component, which is what propagating the labels
    themselves gives, without joining or sorting strings in any round (on a four-tool
    organization of a million people the rounds on the strings took 20 s).
    """
    con.execute(
        """CREATE OR REPLACE TEMP TABLE cb_knum AS
           SELECT k, l, row_number() OVER () AS kn
           FROM (SELECT k, l FROM cb_nodes SEMI JOIN cb_edges USING (k))"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE cb_ie AS
           SELECT n.kn, a.an FROM cb_edges e JOIN cb_knum n USING (k)
           JOIN (SELECT a, row_number() OVER () AS an FROM (SELECT DISTINCT a FROM cb_edges)) a
             USING (a)"""
    )
    con.execute("CREATE OR REPLACE TEMP TABLE cb_comp AS SELECT kn, kn AS c FROM cb_knum")
    total = con.execute("SELECT sum(c) FROM cb_comp").fetchone()[0]
    rounds = 0
    while True:
        rounds += 1
        if rounds > MAX_ROUNDS:  # cannot happen: components fall; a bound against a bug
            raise RuntimeError(f"identity resolution did not settle in {MAX_ROUNDS} rounds")
        con.execute(
            """CREATE OR REPLACE TEMP TABLE cb_step AS
               WITH by_value AS (
                   SELECT e.an, min(n.c) AS c FROM cb_ie e JOIN cb_comp n USING (kn) GROUP BY e.an)
               SELECT e.kn, min(v.c) AS c FROM cb_ie e JOIN by_value v USING (an) GROUP BY e.kn"""
        )
        # the least an id of a component saw goes to the whole component at once (to
        # every id whose component it is), not only to the ids beside the other one
        con.execute(
            """CREATE OR REPLACE TEMP TABLE cb_comp AS
               WITH seen AS (SELECT o.kn, o.c, s.c AS saw FROM cb_comp o JOIN cb_step s USING (kn))
               SELECT seen.kn, least(seen.saw, h.low) AS c FROM seen
               JOIN (SELECT c, min(saw) AS low FROM seen GROUP BY c) h USING (c)"""
        )
        # then jump until nothing moves: each id takes the component of the id whose
        # number its component is (never more, since an id's component is at most its
        # number), which halves the longest chain of such pointers each time
        jumped = total
        while True:
            now = con.execute("SELECT sum(c) FROM cb_comp").fetchone()[0]
            if now == jumped:
                break
            jumped = now
            con.execute(
                """CREATE OR REPLACE TEMP TABLE cb_comp AS
                   SELECT s.kn, j.c FROM cb_comp s JOIN cb_comp j ON j.kn = s.c"""
            )
        if now == total:
            break
        total = now
    con.execute(
        """CREATE OR REPLACE TEMP TABLE cb_sub AS
           WITH labelled AS (SELECT n.k, n.l, s.c FROM cb_comp s JOIN cb_knum n USING (kn))
           SELECT k, min(l) OVER (PARTITION BY c) AS l FROM labelled"""
    )
    con.execute("DROP TABLE cb_knum; DROP TABLE cb_ie; DROP TABLE cb_comp; DROP TABLE cb_step")
    return rounds


def date_an_attendances(con: duckdb.DuckDBPyConnection, org_id: str) -> None:
    """An Action Network attendance (an RSVP) is dated by its event's start, as Mobilize's
    and VAN's sign-ups are by their event's: by the day it was made, a sign-up for the
    meeting of the 20th counted on the 1st, before anyone came. Its record carries only
    the event's id, so the store's event, read from an events page in this sync or an
    earlier one, dates it; one whose event is not known keeps its own date."""
    con.execute(
        """UPDATE activity a SET occurred_at = e.start_at
           FROM event e
           WHERE a.org_id = $org AND e.org_id = $org AND a.source = 'action_network'
             AND a.type = 'attendance' AND e.event_id = a.event_id
             AND e.start_at IS NOT NULL AND a.occurred_at IS DISTINCT FROM e.start_at""",
        {"org": org_id},
    )


def _match_key(email: str, phone: str) -> str:
    """SQL of ``person.match_key`` (a salted hash of the person's email, else phone, for
    counting a person once across a network's affiliates) of the SQL ``email`` and
    ``phone``, with the salt as ``$salt``."""
    return f"""CASE WHEN {email} IS NOT NULL THEN sha256($salt || ':e:' || {email})
                    WHEN {phone} IS NOT NULL THEN sha256($salt || ':p:' || {phone}) END"""


def _contact_key(source: str, ref: str) -> str:
    """SQL of ``contact_attempt.contact_key`` (a salted hash of the tool and its id of the
    person contacted) of the SQL ``source`` and ``ref``, with the salt as ``$salt``."""
    return f"sha256($salt || ':c:' || {source} || ':' || {ref})"


class DisjointSets:
    """Union-find over hashable items (with path halving): which items the unions join.
    ``parent`` holds every item seen."""

    def __init__(self) -> None:
        self.parent: dict = {}

    def find(self, x):
        parent = self.parent
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a, b) -> None:
        self.parent[self.find(a)] = self.find(b)


def _merge_plan(con: duckdb.DuckDBPyConnection, org_id: str) -> int:
    """``cb_merge(person_id, survivor, rank)``: the stored people that this sync's records
    link (a stored id whose component is another stored person's), grouped (a person
    whose ids reached two others joins both), each group's survivor first: the person
    seen first (``person.first_seen_at``, unknown last), ties by person id. ``cb_idmap``
    then names the survivor for every id of the group. Returns the people merged into
    others (in a fresh store the same records make one person of them from the start)."""
    pairs = con.execute(
        "SELECT DISTINCT old, person_id FROM cb_idmap WHERE old IS NOT NULL AND old <> person_id"
    ).fetchall()
    con.execute(
        """CREATE OR REPLACE TEMP TABLE cb_merge
           (person_id VARCHAR, survivor VARCHAR, rank INTEGER)"""
    )
    if not pairs:
        return 0
    sets = DisjointSets()
    for one, other in pairs:
        sets.union(one, other)
    people = sorted(sets.parent)
    rows, params = list_rows({"person_id": ("VARCHAR", people)})
    first = dict(
        con.execute(
            f"""SELECT person_id, first_seen_at FROM person WHERE org_id = $org
                AND person_id IN (SELECT person_id FROM ({rows}))""",
            {**params, "org": org_id},
        ).fetchall()
    )
    groups: dict[str, list[str]] = {}
    for person in people:
        groups.setdefault(sets.find(person), []).append(person)
    never = dt.datetime.max.replace(tzinfo=dt.UTC)
    plan: list[tuple[str, str, int]] = []
    for members in groups.values():
        members.sort(key=lambda person: (first.get(person) or never, person))
        plan += [(person, members[0], rank) for rank, person in enumerate(members)]
    rows, params = list_rows(
        {
            "person_id": ("VARCHAR", [row[0] for row in plan]),
            "survivor": ("VARCHAR", [row[1] for row in plan]),
            "rank": ("INTEGER", [row[2] for row in plan]),
        }
    )
    con.execute(f"INSERT INTO cb_merge {rows}", params)
    con.execute(
        """UPDATE cb_idmap SET person_id = m.survivor FROM cb_merge m
           WHERE cb_idmap.person_id = m.person_id AND m.rank > 0"""
    )
    return len(plan) - len(groups)


def _merge_stored_people(
    con: duckdb.DuckDBPyConnection, org_id: str, salt: str, counts: dict[str, int]
) -> int:
    """Make one person of each group of ``cb_merge``: every row of the others moves to
    the survivor. Their person and person_pii rows become one, field by field: the
    survivor's value, else the next person's (by rank), since the store cannot tell
    which was the later record; the first seen date is the earliest; do-not-contact is
    kept if any said so, and an email or SMS consent only if none refused it. A custom
    field both held keeps both values, each with its record (``custom_field.source_id``):
    neither is known to be the later (``counts[MERGED_FIELDS]``: how many such fields
    had two values, for the sync report). Their person_state rows (a cycle's state
    computed before this sync, stale after it) are dropped. Returns the people merged
    into others."""
    merged = con.execute("SELECT count(*) FROM cb_merge WHERE rank > 0").fetchone()[0]
    if not merged:
        return 0
    p = {"org": org_id}

    def first(column: str) -> str:
        return f"arg_min(t.{column}, m.rank) FILTER (WHERE t.{column} IS NOT NULL) AS {column}"

    group = "JOIN cb_merge m ON t.org_id = $org AND t.person_id = m.person_id"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cb_merged_pii AS
            SELECT $org AS org_id, m.survivor AS person_id,
                   {", ".join(first(c) for c in ("first_name", "last_name", "email", "phone", "address"))}
            FROM person_pii t {group} GROUP BY m.survivor""",
        p,
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cb_merged_person AS
            SELECT $org AS org_id, m.survivor AS person_id,
                   min(t.first_seen_at) AS first_seen_at, {first("zip")}, {first("state")},
                   bool_and(t.email_ok) AS email_ok, bool_and(t.sms_ok) AS sms_ok,
                   bool_or(t.do_not_contact) AS do_not_contact
            FROM person t {group} GROUP BY m.survivor""",
        p,
    )
    everyone = "person_id IN (SELECT person_id FROM cb_merge)"
    for table in ("person", "person_pii", "person_state"):
        con.execute(f"DELETE FROM {table} WHERE org_id = $org AND {everyone}", p)
    con.execute("INSERT INTO person_pii BY NAME SELECT * FROM cb_merged_pii")
    con.execute(
        f"""INSERT INTO person BY NAME SELECT p.*,
               {_match_key("pii.email", "pii.phone")} AS match_key
           FROM cb_merged_person p LEFT JOIN cb_merged_pii pii USING (org_id, person_id)""",
        {"salt": salt},
    )
    counts[MERGED_FIELDS] = con.execute(
        """SELECT count(*) FROM (
               SELECT m.survivor, c.source, c.field FROM custom_field c
               JOIN cb_merge m ON c.org_id = $org AND c.person_id = m.person_id
               GROUP BY ALL HAVING count(DISTINCT c.value) > 1)""",
        p,
    ).fetchone()[0]
    for table in ("custom_field", "identity", "person_key", "activity", "contact_attempt"):
        con.execute(
            f"""UPDATE {table} SET person_id = m.survivor FROM cb_merge m
                WHERE {table}.org_id = $org AND {table}.person_id = m.person_id
                  AND m.rank > 0""",
            p,
        )
    con.execute("DROP TABLE cb_merged_pii; DROP TABLE cb_merged_person")
    return merged


# From this many people written (and at least half the organization's stored people),
# their first-seen dates are taken from every person's (see write_org)
MANY_WRITTEN = 20_000


def write_org(
    con: duckdb.DuckDBPyConnection,
    org_id: str,
    salt: str,
    now: dt.datetime,
    stage: Stage | None = None,
    changed_files: list[int] | None = None,
    replace_sources: Sequence[str] = (),
    orphan_files: Sequence[int] = (),
) -> dict[str, int]:
    """Write the staged rows of one organization. Call inside a transaction.

    ``replace_sources``: the sources (spreadsheets kept as one file) whose reading now
    replaces what the store holds of them: their activities and events that this reading
    does not have are deleted.

    ``changed_files`` (file numbers of the exports that are new or changed since the last
    sync, and of those read with them: ``readers.files_to_compare``) limits the
    activities and contact attempts compared with the store to theirs:
    the rows of an unchanged export are in the store already, or were replaced by a newer
    version, and must not undo it. ``None`` compares them all (a first or forced sync).

    ``orphan_files`` (unchanged exports read again since activities of theirs were
    rejected for want of their person, whom an export new in this sync may list): only
    their activities that the store holds in no form are written (those rejected
    before); the rest of them, in the store already or replaced since, are left alone.
    """
    counts: dict[str, int] = {}
    p = {"org": org_id}
    # ---- people stored apart whom this sync's records link become one, first: the
    # rows below are then compared with the survivor's
    merged = _merge_stored_people(con, org_id, salt, counts)
    act_src, att_src, person_src, custom_src = "st_activity", "st_attempt", "st_person", "st_custom"
    event_field_src, activity_field_src = "st_event_field", "st_activity_field"
    event_src = "st_event"  # (the events of the exports compared, for their fields)
    if changed_files is not None:
        in_files = ", ".join(str(int(n)) for n in changed_files) or "NULL"
        # people's details too come from the changed exports only: an unchanged page
        # read again beside a new one must not override what a later export set
        for name in (person_src, custom_src, event_field_src, event_src):
            con.execute(
                f"""CREATE OR REPLACE TEMP VIEW cb_{name} AS
                    SELECT * FROM {name} WHERE file_no IN ({in_files})"""
            )
        person_src, custom_src = "cb_st_person", "cb_st_custom"
        event_field_src, event_src = "cb_st_event_field", "cb_st_event"
        for name in (act_src, att_src):
            con.execute(  # a table: usually a few rows, read several times below
                f"""CREATE OR REPLACE TEMP TABLE cb_{name} AS
                    SELECT * FROM {name} WHERE file_no IN ({in_files})"""
            )
        if orphan_files:
            # (a VAN contact is an activity or an attempt: one stored as either is known)
            again = ", ".join(str(int(n)) for n in orphan_files)
            con.execute(
                f"""INSERT INTO cb_{act_src} SELECT * FROM {act_src} s
                    WHERE file_no IN ({again})
                      AND NOT EXISTS (SELECT 1 FROM activity t WHERE t.org_id = $org
                                      AND t.activity_id = s.activity_id)
                      AND NOT EXISTS (SELECT 1 FROM contact_attempt t WHERE t.org_id = $org
                                      AND t.attempt_id = s.activity_id)""",
                p,
            )
        act_src, att_src = "cb_st_activity", "cb_st_attempt"
        # an activity's fields go with the activities compared: those of the changed
        # exports, and those written now that their person is listed
        con.execute(
            f"""CREATE OR REPLACE TEMP VIEW cb_{activity_field_src} AS
                SELECT * FROM {activity_field_src} f SEMI JOIN {act_src} a
                    ON a.file_no = f.file_no AND a.activity_id = f.activity_id"""
        )
        activity_field_src = f"cb_{activity_field_src}"

    # (before the staged activities' typed tables are released: a spreadsheet that has
    # activities is no list of people)
    if stage is not None:
        _note_people_repeated_in_a_file(con, stage, person_src, custom_src, act_src)

    # ---- a VAN contact is a held one-on-one (an activity) or an attempt, by its result:
    # corrected in a later export (a One on One entered as Not Home, then Canvassed, or
    # the other way round) it was both, its earlier version left in the other table. The
    # latest record of each contact id read now decides which table holds it (decided
    # here, before the staged activities' typed tables are released; applied below).
    van_contacts = stage is not None and any(
        f.role == "contactscontacts" and not f.carried for f in stage.files
    )
    if van_contacts:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE cb_cc_kept AS
            WITH a AS (SELECT activity_id AS id, max(file_no * 10000000000 + rec) AS pos
                       FROM {act_src} WHERE starts_with(activity_id, 'van:cc:') GROUP BY 1),
                 t AS (SELECT attempt_id AS id, max(file_no * 10000000000 + rec) AS pos
                       FROM {att_src} WHERE starts_with(attempt_id, 'van:cc:') GROUP BY 1)
            SELECT id, coalesce(a.pos > t.pos, t.pos IS NULL) AS is_activity
            FROM a FULL JOIN t USING (id)"""
        )

    # ---- activities: one row per activity_id (the latest export's version wins); an
    # activity whose person is in none of the organization's exports is rejected.
    # st_activity is a view over the readers' typed tables: nothing is copied unless the
    # keys repeat.
    orphans = f"""INSERT INTO st_reject SELECT a.file_no, a.rec, NULL, NULL,
               {sql_str(PERSON_NOT_FOUND)}
           FROM st_activity a ANTI JOIN cb_idmap m
             ON m.source = a.person_source AND m.source_id = a.person_ref"""
    cols = """a.activity_id, m.person_id, a.source, a.source_id, a.type,
            a.occurred_at, a.recorded_at, a.status, a.attended, a.event_id, a.channel, a.role,
            a.result, a.amount, a.score, a.organizer_id"""
    join = "JOIN cb_idmap m ON m.source = a.person_source AND m.source_id = a.person_ref"
    staged, dupes = _repeats(con, act_src, "activity_id")
    if dupes and stage is not None:
        _note_repeats_in_a_file(con, stage, act_src)
    # the tables that hold rows of the organization, asked once (each is asked before
    # anything is written to it; a query each cost ~1 ms, nine times a sync)
    held = _held(
        con,
        org_id,
        (
            "activity",
            "person",
            "person_pii",
            "event",
            "contact_attempt",
            "custom_field",
            "event_field",
            "activity_field",
            "person_key",
        ),
    )
    first_load = "activity" not in held
    # stored people who lose an activity in this sync (their first-seen date may move)
    con.execute("CREATE OR REPLACE TEMP TABLE cb_left (person_id VARCHAR)")
    lost = 0  # rows put in cb_left
    # (then each activity has a single record, and the staged ones are released)
    inserted_at_once = stage is not None and first_load and not dupes and changed_files is None
    if inserted_at_once:
        # the common first sync: insert straight from the typed tables (st_activity is a
        # view over them), in one statement: one hash table of the people's ids, not one
        # per file
        counts["activity"] = con.execute(
            f"INSERT INTO activity SELECT $org, {cols} FROM st_activity a {join}", p
        ).fetchone()[0]
        if counts["activity"] < staged:  # some have no person: find them (a second join)
            con.execute(orphans)
        stage.release_unused("st_attempt")
    else:
        con.execute(orphans)
        activities = _dedupe(
            con,
            f"SELECT $org AS org_id, {cols}, a.file_no, a.rec FROM {act_src} a {join}",
            act_src,
            "cb_activity_new",
            "activity_id",
            p,
            newest_first="recorded_at DESC NULLS LAST, ",
            read_once=first_load,
        )
        if activities and not first_load:
            # the people whose stored activity now belongs to another (a contact moved
            # to the right vanid, a row whose email was corrected): their first-seen
            # date is worked out again from what they still have (below)
            lost += con.execute(
                """INSERT INTO cb_left SELECT DISTINCT t.person_id FROM activity t
                   JOIN cb_activity_new n ON t.org_id = $org AND t.activity_id = n.activity_id
                   WHERE t.person_id <> n.person_id""",
                p,
            ).fetchone()[0]
        counts["activity"] = (
            _upsert(
                con,
                "activity",
                "cb_activity_new",
                ["org_id", "activity_id"],
                org_id,
                newer_than_stored="recorded_at",
                stored=not first_load,
            )
            if activities
            else 0
        )
    # ---- a spreadsheet kept as one file is the whole record each time it is saved: a
    # row corrected in it (a date, a meeting) was a second activity beside the wrong
    # one, and so was every row after its date_format was set. Its rows that this
    # reading does not have are gone from the sheet (they are not rejected: the rows
    # this reading rejects are in the sync report)
    for name in replace_sources if not first_load else ():
        q = {**p, "source": name}
        gone = f"""FROM activity a WHERE org_id = $org AND source = $source
               AND NOT EXISTS (SELECT 1 FROM {act_src} s
                               WHERE s.source = $source AND s.activity_id = a.activity_id)"""
        left_now = con.execute(f"INSERT INTO cb_left SELECT DISTINCT person_id {gone}", q)
        lost += left_now.fetchone()[0]
        _drop_fields(con, held, "activity_field", f"SELECT activity_id {gone}", q)
        counts[f"removed from {name}"] = con.execute(f"DELETE {gone}", q).fetchone()[0]
        gone_events = """FROM event e WHERE org_id = $org AND source = $source
               AND NOT EXISTS (SELECT 1 FROM st_event s
                               WHERE s.source = $source AND s.event_id = e.event_id)"""
        _drop_fields(con, held, "event_field", f"SELECT event_id {gone_events}", q)
        con.execute(f"DELETE {gone_events}", q)
    # ---- a VAN contact that is an attempt now (Canvassed corrected to Not Home) is no
    # activity: removed before the first-seen dates are worked out
    if van_contacts:
        attempts_now = """FROM activity WHERE org_id = $org AND activity_id IN (
                   SELECT id FROM cb_cc_kept WHERE NOT is_activity)"""
        if not first_load:
            lost += con.execute(
                f"INSERT INTO cb_left SELECT DISTINCT person_id {attempts_now}", p
            ).fetchone()[0]
        _drop_fields(con, held, "activity_field", f"SELECT activity_id {attempts_now}", p)
        con.execute(f"DELETE {attempts_now}", p)
    # ---- joining an Action Network list is one signup a person. The activist report
    # names its signup by the person's uuid, or by the email when the report was built
    # without the uuid column: two such exports gave one person two signups (two actions
    # toward the ladder). The earliest is kept; stores that hold such pairs lose them at
    # the organization's next sync of an activist report.
    # (two people merged into one may bring a signup each, whatever was read)
    if merged or (
        stage is not None
        and any(f.source_kind == "action_network_csv" and not f.carried for f in stage.files)
    ):
        dropped = con.execute(
            """DELETE FROM activity WHERE org_id = $org AND activity_id IN (
                   SELECT activity_id FROM activity
                   WHERE org_id = $org AND source = 'action_network' AND type = 'signup'
                   QUALIFY row_number() OVER (
                       PARTITION BY person_id ORDER BY occurred_at, activity_id) > 1)
               RETURNING activity_id""",
            p,
        ).fetchall()
        if dropped:  # (rare: the ids are few)
            ids, params = list_rows({"activity_id": ("VARCHAR", [row[0] for row in dropped])})
            _drop_fields(
                con, held, "activity_field", f"SELECT activity_id FROM ({ids})", params | p
            )

    # ---- person and person_pii: latest non-empty value per field wins (file order)
    one_record_each = (
        changed_files is None
        and con.execute(
            # every person has a single staged record (each id one record, no two ids merged)
            """SELECT coalesce(sum(n) = count(DISTINCT person_id), true) FROM cb_idmap
           WHERE n > 0 AND source IS NOT NULL AND source_id IS NOT NULL"""
        ).fetchone()[0]
    )
    if one_record_each:  # the values of that record: no aggregation (0.7 s on 1M people)
        person_cols = """s.email, s.phone, s.first_name, s.last_name, s.address, s.zip,
            s.state, s.email_ok, s.sms_ok, s.do_not_contact, s.seen_at"""
        group = ""
    else:  # (consent is worked out per record, below)
        person_cols = ",\n            ".join(
            [_latest(c) for c in PERSON_FIELDS if c not in CONSENT_FIELDS]
            + ["min(s.seen_at) AS seen_at"]
        )
        group = "GROUP BY m.person_id"
    written = con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cb_person AS
        SELECT m.person_id, {person_cols}
        FROM {person_src} s JOIN cb_idmap m ON m.source = s.source AND m.source_id = s.source_id
        {group}"""
    ).fetchone()[0]
    # consent an upgrade copied from people to their records (store._consent_per_record)
    # until a sync reads every export again: then each record read takes what its
    # exports say, nothing included
    stand_ins = {"key": f"{CONSENT_FROM_PERSON}:{org_id}"}
    replace_consent = (
        changed_files is None
        and "person" in held
        and con.execute("SELECT count(*) FROM meta WHERE key = $key", stand_ins).fetchone()[0]
    )
    consent, consent_join = _consent_of_records(
        con, person_src, one_record_each, "person" in held, p, replace=bool(replace_consent)
    )
    # ---- first seen of the ids a tool knew: the earliest record of the id ever read
    # (so a person's date can be worked out again from their ids); a spreadsheet kept
    # as one file is read whole, so its ids take this reading's dates, and one it no
    # longer holds has none (a row corrected to another email leaves that email's id)
    con.execute(
        """UPDATE identity SET first_seen_at = m.seen FROM cb_idmap m
           WHERE identity.org_id = $org AND NOT m.is_new AND identity.source = m.source
             AND identity.source_id = m.source_id
             AND m.seen < coalesce(identity.first_seen_at, 'infinity'::TIMESTAMPTZ)""",
        p,
    )
    for name in replace_sources if not first_load else ():
        q = {**p, "source": name}
        read_now = """(SELECT min(s.seen_at) FROM st_person s
                       WHERE s.source = i.source AND s.source_id = i.source_id)"""
        moved = f"""FROM identity i WHERE org_id = $org AND source = $source
                    AND first_seen_at IS DISTINCT FROM {read_now}"""
        left_now = con.execute(f"INSERT INTO cb_left SELECT DISTINCT person_id {moved}", q)
        lost += left_now.fetchone()[0]
        con.execute(
            f"""UPDATE identity i SET first_seen_at = {read_now}
                WHERE org_id = $org AND source = $source
                  AND first_seen_at IS DISTINCT FROM {read_now}""",
            q,
        )
    if changed_files is not None:
        # people with new activities but no changed record: their first-seen date may move
        written += con.execute(
            f"""INSERT INTO cb_person (person_id)
                SELECT DISTINCT m.person_id FROM {act_src} a JOIN cb_idmap m
                  ON m.source = a.person_source AND m.source_id = a.person_ref
                WHERE m.person_id NOT IN (SELECT person_id FROM cb_person)"""
        ).fetchone()[0]
    # people who lost an activity or a dated id, and have no record read now
    if lost:
        written += con.execute(
            """INSERT INTO cb_person (person_id) SELECT DISTINCT person_id FROM cb_left
               WHERE person_id NOT IN (SELECT person_id FROM cb_person)"""
        ).fetchone()[0]
    # first seen: from every activity the organization has, stored ones included, for
    # the people written now only (a weekly export touches a few of a million)
    # (when the organization had no activities before, all of them are from this sync:
    # no filter, 0.5 s less on 10M activities)
    first_at = """SELECT person_id, min(occurred_at) AS first_at FROM activity
        WHERE org_id = $org {} GROUP BY person_id"""
    if first_load:
        first_at = first_at.format("")
    elif written >= MANY_WRITTEN and 2 * written >= _people(con, org_id):
        # most of the stored people written again (a full export read again): every
        # person's date, then theirs kept. Each activity looked up among 200,000
        # people's ids first took twice the CPU; for a few people that lookup is the
        # cheaper (a small table, and DuckDB filters the scan by it)
        first_at = f"SELECT * FROM ({first_at.format('')}) WHERE person_id IN (SELECT person_id FROM cb_person)"
    else:
        first_at = first_at.format("AND person_id IN (SELECT person_id FROM cb_person)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE cb_first AS {first_at}", p)
    first_seen = "least(c.seen_at, f.first_at, o.first_seen_at)"
    if lost:
        # (a person who lost an activity or a dated id: from what they still have, their
        # activities and their ids' dates; the stored date may be the one lost. Only
        # then: for no one, the minimum of every stored person's ids was still worked
        # out and joined, a fifth of this statement's time on 200,000 people)
        first_seen = f"""CASE WHEN c.person_id IN (SELECT person_id FROM cb_left)
                 THEN least(c.seen_at, f.first_at, (
                     SELECT min(i.first_seen_at) FROM identity i
                     WHERE i.org_id = $org AND i.person_id = c.person_id))
                 ELSE {first_seen} END"""
    # nothing stored for the organization (its first sync): the rows go straight from a
    # view into the table, not through a temporary table first
    kind = "TABLE" if "person" in held else "VIEW"
    _create(
        con,
        kind,
        "cb_person_new",
        f"""SELECT $org AS org_id, c.person_id, {first_seen} AS first_seen_at,
            coalesce(c.zip, o.zip) AS zip, coalesce(c.state, o.state) AS state,
            {consent},
            {_match_key("coalesce(c.email, pii.email)", "coalesce(c.phone, pii.phone)")}
                AS match_key
        FROM cb_person c LEFT JOIN cb_first f USING (person_id)
        LEFT JOIN person o ON o.org_id = $org AND o.person_id = c.person_id
        LEFT JOIN person_pii pii ON pii.org_id = $org AND pii.person_id = c.person_id
        {consent_join}""",
        {"org": org_id, "salt": salt},
    )
    counts["person"] = _upsert(
        con, "person", "cb_person_new", ["org_id", "person_id"], org_id, stored="person" in held
    )
    con.execute("DROP TABLE cb_left")
    kind = "TABLE" if "person_pii" in held else "VIEW"
    _create(
        con,
        kind,
        "cb_pii_new",
        """SELECT $org AS org_id, c.person_id,
            coalesce(c.first_name, o.first_name) AS first_name,
            coalesce(c.last_name, o.last_name) AS last_name,
            coalesce(c.email, o.email) AS email, coalesce(c.phone, o.phone) AS phone,
            coalesce(c.address, o.address) AS address
        FROM cb_person c LEFT JOIN person_pii o ON o.org_id = $org AND o.person_id = c.person_id""",
        p,
    )
    counts["person_pii"] = _upsert(
        con, "person_pii", "cb_pii_new", ["org_id", "person_id"], org_id, "person_pii" in held
    )

    # ---- identity crosswalk (new ids only; a stored id keeps its person), with each
    # record's consent (a stored record's: what an export read now says, else as stored)
    counts["identity"] = con.execute(
        """INSERT INTO identity (org_id, person_id, source, source_id, first_seen_at, listed,
                                 email_ok, sms_ok, do_not_contact)
        SELECT $org, m.person_id, m.source, m.source_id, m.seen, m.listed,
               r.email_ok, r.sms_ok, r.do_not_contact
        FROM cb_idmap m LEFT JOIN cb_consent r ON r.source = m.source AND r.source_id = m.source_id
        WHERE m.is_new""",
        p,
    ).fetchone()[0]
    if "person" in held:
        now = {
            c: f"r.{c}" if replace_consent else f"coalesce(r.{c}, identity.{c})"
            for c in CONSENT_FIELDS
        }
        said = " OR ".join(f"identity.{c} IS DISTINCT FROM {now[c]}" for c in CONSENT_FIELDS)
        con.execute(
            f"""UPDATE identity SET {", ".join(f"{c} = {now[c]}" for c in CONSENT_FIELDS)}
                FROM cb_consent r
                WHERE identity.org_id = $org AND identity.source = r.source
                  AND identity.source_id = r.source_id AND ({said})""",
            p,
        )
        if replace_consent:
            con.execute("DELETE FROM meta WHERE key = $key", stand_ins)
    con.execute("DROP TABLE cb_consent; DROP TABLE IF EXISTS cb_consent_person")
    # a VAN id stored as only named by a Spoke contact is a VAN record once a VAN export
    # lists it: the person is matched across tools from then on
    con.execute(
        """UPDATE identity SET listed = TRUE FROM cb_idmap m
            WHERE identity.org_id = $org AND NOT identity.listed AND m.listed
              AND NOT m.is_new AND identity.source = m.source
              AND identity.source_id = m.source_id""",
        p,
    )
    # ---- every email and phone each id carried, for matching later records (a value
    # already kept for the id is not written again)
    salted = {"org": org_id, "salt": salt}
    keys = f"""SELECT $org AS org_id, m.person_id, {id_key("$salt", "v.source", "v.source_id")} AS id_key,
               v.a AS key
        FROM cb_vals v JOIN cb_idmap m USING (source, source_id)"""
    if "person_key" in held:
        keys = f"""SELECT * FROM ({keys}) n WHERE NOT EXISTS (
            SELECT 1 FROM person_key o
            WHERE o.org_id = $org AND o.id_key = n.id_key AND o.key = n.key)"""
    counts["person_key"] = con.execute(f"INSERT INTO person_key {keys}", salted).fetchone()[0]
    # ---- a stored contact attempt whose person no export listed then (a VAN contact of
    # a vanid in no persons file yet) is theirs once an id new now is that person: it
    # stayed without a person (not among the people reached) until a forced sync
    found_later = 0
    if counts["identity"] and "contact_attempt" in held:
        found_later = con.execute(
            f"""UPDATE contact_attempt t SET person_id = m.person_id FROM cb_idmap m
                WHERE t.org_id = $org AND t.person_id IS NULL AND m.is_new
                  AND t.contact_key = {_contact_key("m.source", "m.source_id")}""",
            salted,
        ).fetchone()[0]
    con.execute("DROP TABLE cb_vals; DROP TABLE cb_merge")
    counts["people merged"] = merged

    # ---- events
    # (an empty staged table has nothing to write: its upsert's statements are skipped)
    events = con.execute(
        """CREATE OR REPLACE TEMP TABLE cb_event_new AS
        SELECT $org AS org_id, event_id,
            arg_max(source, file_no * 10000000000 + rec) AS source,
            arg_max(title, file_no * 10000000000 + rec) FILTER (WHERE title IS NOT NULL) AS title,
            arg_max(event_type, file_no * 10000000000 + rec) FILTER (WHERE event_type IS NOT NULL) AS event_type,
            arg_max(start_at, file_no * 10000000000 + rec) FILTER (WHERE start_at IS NOT NULL) AS start_at
        FROM st_event WHERE event_id IS NOT NULL GROUP BY event_id""",
        p,
    ).fetchone()[0]
    if events and "event" in held:
        # a value none of this sync's records has is the stored one, as within a sync it
        # is the latest record's that has it: a newer record without a start (a sparse
        # page) wrote its empty start over the event's, a store made by the order
        # its exports came in
        con.execute(
            """UPDATE cb_event_new n SET title = coalesce(n.title, o.title),
                   event_type = coalesce(n.event_type, o.event_type),
                   start_at = coalesce(n.start_at, o.start_at)
               FROM event o WHERE o.org_id = $org AND o.event_id = n.event_id
                 AND (n.title IS NULL OR n.event_type IS NULL OR n.start_at IS NULL)""",
            p,
        )
    counts["event"] = (
        _upsert(con, "event", "cb_event_new", ["org_id", "event_id"], org_id, "event" in held)
        if events
        else 0
    )
    # the values kept beyond the model of an event record and of an activity's: one
    # value per event (activity) and key, the latest record's; none of a rejected record
    # (as a person's custom fields below), an activity rejected for want of its person
    # among them
    for table, staged_src, key in (
        ("event_field", event_field_src, "event_id"),
        ("activity_field", activity_field_src, "activity_id"),
    ):
        fields = con.execute(
            f"""CREATE OR REPLACE TEMP TABLE cb_{table}_new AS
            SELECT $org AS org_id, c.{key},
                arg_max(c.source, c.file_no * 10000000000 + c.rec) AS source, c.field,
                arg_max(c.value, c.file_no * 10000000000 + c.rec) AS value
            FROM {staged_src} c
            ANTI JOIN st_reject r ON r.file_no = c.file_no AND r.rec = c.rec
            WHERE c.{key} IS NOT NULL
            GROUP BY c.{key}, c.field""",
            p,
        ).fetchone()[0]
        removed = 0
        if table == "activity_field" and not inserted_at_once and (fields or table in held):
            removed = _fields_follow_records(con, act_src, staged_src, table in held, p)
        elif table == "event_field" and stage is not None and (fields or table in held):
            removed = _event_fields_follow_records(
                con, event_src, staged_src, stage, table in held, p
            )
        counts[table] = removed + (
            _upsert(con, table, f"cb_{table}_new", ["org_id", key, "field"], org_id, table in held)
            if fields
            else 0
        )
    # A spreadsheet's event exists only as the day and name its rows give: one that no
    # activity names any more is an id of an earlier reading (its rows corrected, or
    # read under other settings or an older reader's dating, which keyed events by the
    # UTC date), and was counted in "past events without attendance" for ever
    if (
        "event" in held
        and stage is not None
        and any(f.source_kind == "generic_csv" and not f.carried for f in stage.files)
    ):
        unnamed = """FROM event e WHERE org_id = $org AND starts_with(source, 'sheet:')
               AND NOT EXISTS (SELECT 1 FROM activity a
                               WHERE a.org_id = $org AND a.event_id = e.event_id)"""
        _drop_fields(con, held, "event_field", f"SELECT event_id {unnamed}", p)
        con.execute(f"DELETE {unnamed}", p)

    if stage is not None and any(f.source_kind == "action_network_api" for f in stage.files):
        date_an_attendances(con, org_id)

    attempts = _dedupe(
        con,
        f"""SELECT $org AS org_id, a.attempt_id, m.person_id, a.channel, a.result, a.attempted_at,
            a.campaign, a.source, a.conversation, a.replied, a.opted_out, a.organizer_id,
            {_contact_key("a.person_source", "a.person_ref")} AS contact_key
            , a.file_no, a.rec
        FROM {att_src} a LEFT JOIN cb_idmap m
          ON m.source = a.person_source AND m.source_id = a.person_ref
        WHERE a.attempted_at IS NOT NULL""",
        att_src,
        "cb_attempt_new",
        "attempt_id",
        {"org": org_id, "salt": salt},
        read_once="contact_attempt" not in held,
    )
    counts["contact_attempt"] = found_later + (
        _upsert(
            con,
            "contact_attempt",
            "cb_attempt_new",
            ["org_id", "attempt_id"],
            org_id,
            "contact_attempt" in held,
        )
        if attempts
        else 0
    )

    # ---- each VAN contact read now in one table only (decided above; its activity
    # left already, before the first-seen dates)
    if van_contacts:
        con.execute(
            """DELETE FROM contact_attempt WHERE org_id = $org AND attempt_id IN (
                   SELECT id FROM cb_cc_kept WHERE is_activity)""",
            p,
        )
        con.execute("DROP TABLE cb_cc_kept")

    # ---- custom (unknown) fields, kept per person and record: each record's latest
    # value (two records of one person, as two uuids one export links, keep one each);
    # none of a rejected record (readers take them from every row: a person's rejected
    # row, read after a kept one, wrote its values over the kept row's)
    custom = con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cb_custom_new AS
        SELECT $org AS org_id, m.person_id, c.source, c.person_ref AS source_id, c.field,
            arg_max(c.value, c.file_no * 10000000000 + c.rec) AS value
        FROM {custom_src} c JOIN cb_idmap m
          ON m.source = c.person_source AND m.source_id = c.person_ref
        ANTI JOIN st_reject r ON r.file_no = c.file_no AND r.rec = c.rec
        GROUP BY ALL""",
        p,
    ).fetchone()[0]
    removed = 0
    if stage is not None and any(
        f.source_kind == "action_builder" and not f.carried for f in stage.files
    ):
        removed = _assessments_read_since(con, person_src, custom_src, "custom_field" in held, p)
    counts["custom_field"] = removed + (
        _upsert(
            con,
            "custom_field",
            "cb_custom_new",
            ["org_id", "person_id", "source", "source_id", "field"],
            org_id,
            "custom_field" in held,
        )
        if custom
        else 0
    )
    # a store synced before an activity's and an event's unknown keys were kept as
    # theirs holds its people's copies of them; a sync that reads every export again
    # (the one after an upgrade) takes those copies out
    if changed_files is None and "custom_field" in held:
        counts["custom_field"] += _drop_person_copies(con, p)
    return counts


def _assessments_read_since(
    con: duckdb.DuckDBPyConnection, person_src: str, custom_src: str, stored: bool, params: dict
) -> int:
    """An Action Builder assessment not read as one (undated, or a word) is kept as the
    person's custom field ``action_builder:latest_assessment`` while their latest
    record read has it. A later record whose assessment is read (an activity now), or
    that has none, left the older one kept as their latest, whether the records came
    in one sync or two: it goes, from the values written now (``cb_custom_new``) and
    from the store (``stored``). Returns the stored rows deleted."""
    args = params | {"field": UNDATED_ASSESSMENT}
    # (none kept, none written: nothing to look at, as in most organizations)
    kept = "SELECT 1 FROM cb_custom_new WHERE source = 'action_builder' AND field = $field"
    if stored:
        kept += """ UNION ALL SELECT 1 FROM custom_field
            WHERE org_id = $org AND source = 'action_builder' AND field = $field"""
    if not con.execute(
        f"SELECT EXISTS ({kept})", args if stored else {"field": UNDATED_ASSESSMENT}
    ).fetchone()[0]:
        return 0
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cb_assessed AS
            WITH latest AS (
                SELECT m.person_id,
                       arg_max(s.source_id, s.file_no * 10000000000 + s.rec) AS ref,
                       max(s.file_no * 10000000000 + s.rec) AS pos
                FROM {person_src} s JOIN cb_idmap m
                  ON m.source = s.source AND m.source_id = s.source_id
                WHERE s.source = 'action_builder' GROUP BY m.person_id)
            SELECT person_id FROM latest l WHERE NOT EXISTS (
                SELECT 1 FROM {custom_src} c
                WHERE c.person_source = 'action_builder' AND c.person_ref = l.ref
                  AND c.field = $field AND c.file_no * 10000000000 + c.rec = l.pos)""",
        {"field": UNDATED_ASSESSMENT},
    )
    con.execute(
        """DELETE FROM cb_custom_new WHERE source = 'action_builder' AND field = $field
             AND person_id IN (SELECT person_id FROM cb_assessed)""",
        {"field": UNDATED_ASSESSMENT},
    )
    removed = 0
    if stored:
        removed = con.execute(
            """DELETE FROM custom_field WHERE org_id = $org AND source = 'action_builder'
                 AND field = $field AND person_id IN (SELECT person_id FROM cb_assessed)""",
            args,
        ).fetchone()[0]
    con.execute("DROP TABLE cb_assessed")
    return removed


def _drop_person_copies(con: duckdb.DuckDBPyConnection, params: dict) -> int:
    """Delete the person's custom fields that are copies of a value one of their
    activities or events keeps under the same source and key: an Action Network
    donation's or a Mobilize attendance's unknown keys, and the keys inside the
    attendance's event, were kept as the person's (the latest record's value of each)
    before they were kept as the activity's and the event's. A value no activity or
    event of theirs holds is the person's own, or the only copy left: it stays.
    Returns the rows deleted."""
    copies = con.execute(
        """CREATE OR REPLACE TEMP TABLE cb_copies AS
           SELECT c.person_id, c.source, c.field, c.value FROM custom_field c
           SEMI JOIN (SELECT DISTINCT source, field FROM activity_field WHERE org_id = $org
                      UNION SELECT DISTINCT source, field FROM event_field WHERE org_id = $org
                     ) k ON k.source = c.source AND k.field = c.field
           WHERE c.org_id = $org""",
        params,
    ).fetchone()[0]
    removed = 0
    if copies:
        removed = con.execute(
            """DELETE FROM custom_field WHERE org_id = $org
                 AND (person_id, source, field, value) IN (
                   SELECT (k.person_id, k.source, k.field, k.value) FROM cb_copies k
                   JOIN activity a ON a.org_id = $org AND a.person_id = k.person_id
                   JOIN activity_field f ON f.org_id = $org AND f.activity_id = a.activity_id
                     AND f.source = k.source AND f.field = k.field AND f.value = k.value
                   UNION
                   SELECT (k.person_id, k.source, k.field, k.value) FROM cb_copies k
                   JOIN activity a ON a.org_id = $org AND a.person_id = k.person_id
                   JOIN event_field e ON e.org_id = $org AND e.event_id = a.event_id
                     AND e.source = k.source AND e.field = k.field AND e.value = k.value)""",
            params,
        ).fetchone()[0]
    con.execute("DROP TABLE cb_copies")
    return removed


def _drop_fields(
    con: duckdb.DuckDBPyConnection, held: set[str], table: str, ids: str, params: dict
) -> None:
    """Delete the values kept beyond the model (``table``: activity_field, event_field)
    of the activities or events whose ids ``ids`` (a SELECT) gives, before the sync
    deletes them: they stayed behind, a member's feedback kept with no attendance it
    was about. Nothing to do when the organization has none stored (``held``)."""
    if table in held:
        key = "activity_id" if table == "activity_field" else "event_id"
        con.execute(
            f"DELETE FROM {table} WHERE org_id = $org AND {key} IN ({ids})",
            params,
        )


def _fields_follow_records(
    con: duckdb.DuckDBPyConnection, act_src: str, field_src: str, stored: bool, params: dict
) -> int:
    """An activity's kept fields are those of the record it is written from. They were
    gathered field by field from every record read: a newer record without a value the
    older one had (a rating taken back, a referrer emptied) left the older value beside
    the newer activity, and an older record read again (the newer export taken out of
    the folder) set its values on the newer activity, which it does not replace
    (``_upsert``'s ``newer_than_stored``). Makes ``cb_activity_field_new`` the fields of
    each activity's record that wins (as ``_dedupe`` picks it: the one its tool
    modified last, then the latest file and record), for the activities this sync
    writes, and deletes those activities' stored fields their record lacks (``stored``:
    the organization has fields stored). Returns the stored rows deleted.

    Only the activities whose fields would change are looked at: a new row unlike the
    stored one, or a stored row of an activity read now that no new row has (an export
    read again changes none: 100,000 attendances read again took 0.5 s more when all
    were looked at)."""
    org = params if stored else {}
    changing = "SELECT activity_id FROM cb_activity_field_new"
    if stored:
        changing = f"""SELECT activity_id FROM (
                SELECT activity_id, source, field, value FROM cb_activity_field_new
                EXCEPT SELECT f.activity_id, f.source, f.field, f.value FROM activity_field f
                       SEMI JOIN cb_activity_field_new n ON n.activity_id = f.activity_id
                       WHERE f.org_id = $org)
            UNION SELECT f.activity_id FROM activity_field f
                SEMI JOIN {act_src} s ON s.activity_id = f.activity_id
                ANTI JOIN cb_activity_field_new n
                  ON n.activity_id = f.activity_id AND n.field = f.field
                WHERE f.org_id = $org"""
    if not con.execute(
        f"CREATE OR REPLACE TEMP TABLE cb_field_ids AS SELECT DISTINCT activity_id FROM ({changing})",
        org,
    ).fetchone()[0]:
        con.execute("DROP TABLE cb_field_ids")
        return 0
    # each one's winning record among those read now (rejected records aside)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cb_field_acts AS
            SELECT s.activity_id, s.recorded_at, s.file_no, s.rec FROM {act_src} s
            SEMI JOIN cb_field_ids i ON i.activity_id = s.activity_id
            ANTI JOIN st_reject r ON r.file_no = s.file_no AND r.rec = s.rec
            QUALIFY row_number() OVER (PARTITION BY s.activity_id
                ORDER BY s.recorded_at DESC NULLS LAST, s.file_no DESC, s.rec DESC) = 1"""
    )
    # those the store holds a later version of keep theirs
    con.execute(
        """DELETE FROM cb_field_acts w WHERE EXISTS (
               SELECT 1 FROM activity t WHERE t.org_id = $org
                 AND t.activity_id = w.activity_id AND t.recorded_at > w.recorded_at)""",
        params,
    )
    con.execute(
        """DELETE FROM cb_activity_field_new
           WHERE activity_id IN (SELECT activity_id FROM cb_field_ids)"""
    )
    con.execute(
        f"""INSERT INTO cb_activity_field_new
            SELECT $org AS org_id, c.activity_id, arg_max(c.source, c.rec) AS source,
                   c.field, arg_max(c.value, c.rec) AS value
            FROM {field_src} c JOIN cb_field_acts w ON w.activity_id = c.activity_id
              AND w.file_no = c.file_no AND w.rec = c.rec
            GROUP BY c.activity_id, c.field""",
        params,
    )
    removed = 0
    if stored:
        removed = con.execute(
            """DELETE FROM activity_field f WHERE org_id = $org
                 AND activity_id IN (SELECT activity_id FROM cb_field_acts)
                 AND NOT EXISTS (SELECT 1 FROM cb_activity_field_new n
                                 WHERE n.activity_id = f.activity_id AND n.field = f.field)""",
            params,
        ).fetchone()[0]
    con.execute("DROP TABLE cb_field_ids; DROP TABLE cb_field_acts")
    return removed


def _event_fields_follow_records(
    con: duckdb.DuckDBPyConnection,
    event_src: str,
    field_src: str,
    stage: Stage,
    stored: bool,
    params: dict,
) -> int:
    """An event's kept fields are those of the latest export read that has it (as its
    title is the latest file's), as an activity's are its winning record's
    (:func:`_fields_follow_records`). Gathered key by key from every export, a newer
    one without a key an older one had (an Action Network event's note taken off, a key
    no longer inside a Mobilize attendance's event) left the older value kept, as if it
    still held. Within one export, each key is its latest record's that has it (one
    page is one snapshot: its attendances at one event carry one event). A table (a VAN
    events file, not a JSON page) exported without a column says nothing of that
    column: of it, the latest file that has it speaks.

    Makes ``cb_event_field_new``'s value of each key of an event read now that export's
    (none when it has none), and deletes those stored values that export does not have
    (``stored``: the organization has fields stored). Returns the stored rows deleted."""
    # each table file's columns (a JSON record speaks of every key: an absent key is
    # an absent value)
    tables = [f for f in stage.files if not f.json_records and not f.carried]
    columns, args = list_rows(
        {
            "file_no": ("INTEGER", [f.file_no for f in tables for _ in f.unknown_columns]),
            "field": ("VARCHAR", [c for f in tables for c in f.unknown_columns]),
        }
    )
    table_nos = ", ".join(str(int(f.file_no)) for f in tables) or "-1"
    stored_keys = (
        f"""UNION SELECT f.event_id, f.field FROM event_field f
                SEMI JOIN {event_src} s ON s.event_id = f.event_id WHERE f.org_id = $org"""
        if stored
        else ""
    )
    # the latest export of each event that speaks of each key staged or stored
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cb_event_field_win AS
            WITH places AS (SELECT DISTINCT event_id, file_no FROM {event_src}
                            WHERE event_id IS NOT NULL),
            keyed AS (SELECT DISTINCT event_id, field FROM {field_src}
                      WHERE event_id IS NOT NULL {stored_keys})
            SELECT k.event_id, k.field, max(p.file_no) AS file_no
            FROM keyed k JOIN places p ON p.event_id = k.event_id
            WHERE p.file_no NOT IN ({table_nos})
               OR (p.file_no, k.field) IN (SELECT (file_no, field) FROM ({columns}))
            GROUP BY ALL""",
        (params if stored else {}) | args,
    )
    con.execute(
        """DELETE FROM cb_event_field_new n WHERE EXISTS (SELECT 1 FROM cb_event_field_win w
               WHERE w.event_id = n.event_id AND w.field = n.field)"""
    )
    con.execute(
        f"""INSERT INTO cb_event_field_new
            SELECT $org AS org_id, c.event_id, arg_max(c.source, c.rec) AS source, c.field,
                   arg_max(c.value, c.rec) AS value
            FROM {field_src} c JOIN cb_event_field_win w ON w.event_id = c.event_id
              AND w.field = c.field AND w.file_no = c.file_no
            ANTI JOIN st_reject r ON r.file_no = c.file_no AND r.rec = c.rec
            GROUP BY c.event_id, c.field""",
        params,
    )
    removed = 0
    if stored:
        removed = con.execute(
            """DELETE FROM event_field f WHERE org_id = $org
                 AND EXISTS (SELECT 1 FROM cb_event_field_win w
                             WHERE w.event_id = f.event_id AND w.field = f.field)
                 AND NOT EXISTS (SELECT 1 FROM cb_event_field_new n
                                 WHERE n.event_id = f.event_id AND n.field = f.field)""",
            params,
        ).fetchone()[0]
    con.execute("DROP TABLE cb_event_field_win")
    return removed


def _latest(column: str) -> str:
    """The latest staged record's non-empty value of ``column`` (over alias ``s``, in an
    aggregate): file order, then row order."""
    return (
        f"arg_max(s.{column}, s.file_no * 10000000000 + s.rec) "
        f"FILTER (WHERE s.{column} IS NOT NULL) AS {column}"
    )


def _consent_of_records(
    con: duckdb.DuckDBPyConnection,
    person_src: str,
    one_record_each: bool,
    stored: bool,
    p: dict,
    replace: bool = False,
) -> tuple[str, str]:
    """Consent is kept per record (``identity``'s email_ok, sms_ok, do_not_contact), as
    a newer export of that record gives it: ``cb_consent(source, source_id, person_id,
    ...)``, each staged record's latest non-empty flags (a record that says nothing is
    left out). A person's flags are their records' together: email_ok and sms_ok TRUE
    only if no record says FALSE, do_not_contact TRUE if any says TRUE, NULL if none
    says (as two stored people are merged, _merge_stored_people). Taking the latest
    record's, a person's second record (another tool's, or a second uuid of one) gave
    them back a consent they had refused in the first, or not, by the order the
    exports came in. ``cb_consent_person``: the flags of the people with a record in
    cb_consent, from all their records (``stored``: whether the organization has
    stored people). ``replace``: a stored record read now takes what its exports say,
    nothing included (its consent a stand-in an upgrade copied from its person); every
    staged record is then in cb_consent. Returns the SQL of the person's flags in
    ``cb_person_new`` (over ``c``, ``o`` the stored person), and the join it needs
    there."""
    said = "TRUE" if replace else " OR ".join(f"s.{c} IS NOT NULL" for c in CONSENT_FIELDS)
    flags = ", ".join(f"s.{c}" for c in CONSENT_FIELDS)
    group = ""
    if not one_record_each:
        flags, group = ", ".join(_latest(c) for c in CONSENT_FIELDS), "GROUP BY ALL"
    records = con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cb_consent AS
        SELECT m.source, m.source_id, m.person_id, {flags}
        FROM {person_src} s JOIN cb_idmap m ON m.source = s.source AND m.source_id = s.source_id
        WHERE {said} {group}"""
    ).fetchone()[0]
    if one_record_each and not stored:
        # (a first sync, each person a single record: the flags are that record's)
        return ", ".join(f"c.{c} AS {c}" for c in CONSENT_FIELDS), ""
    if not records:  # no record said anything: the people's flags are as stored
        return ", ".join(f"o.{c} AS {c}" for c in CONSENT_FIELDS), ""
    together = """bool_and(email_ok) AS email_ok, bool_and(sms_ok) AS sms_ok,
        bool_or(do_not_contact) AS do_not_contact"""
    if stored:  # with the person's stored records' (those read now as read now)
        now = ", ".join(
            f"{f'r.{c}' if replace else f'coalesce(r.{c}, i.{c})'} AS {c}" for c in CONSENT_FIELDS
        )
        every = f"""SELECT r.person_id, {now} FROM cb_consent r
            LEFT JOIN identity i ON i.org_id = $org AND i.source = r.source
              AND i.source_id = r.source_id
            UNION ALL
            SELECT i.person_id, {", ".join(f"i.{c}" for c in CONSENT_FIELDS)} FROM identity i
            WHERE i.org_id = $org AND i.person_id IN (SELECT person_id FROM cb_consent)
              AND NOT EXISTS (SELECT 1 FROM cb_consent r
                              WHERE r.source = i.source AND r.source_id = i.source_id)"""
    else:
        every = "SELECT * FROM cb_consent"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cb_consent_person AS
            SELECT person_id, {together} FROM ({every}) GROUP BY person_id""",
        p if stored else None,
    )
    # (someone with no record that said anything now: as stored)
    columns = ", ".join(
        f"CASE WHEN k.person_id IS NULL THEN o.{c} ELSE k.{c} END AS {c}" for c in CONSENT_FIELDS
    )
    return columns, "LEFT JOIN cb_consent_person k USING (person_id)"


def _stage_columns(name: str) -> list[str]:
    return [part.split()[0] for part in STAGE_SCHEMA[name].split(",")]


PERSON_FIELDS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "address",
    "zip",
    "state",
    "email_ok",
    "sms_ok",
    "do_not_contact",
)


# what a person allowed, kept per record (identity) and for the person
CONSENT_FIELDS = ("email_ok", "sms_ok", "do_not_contact")


def _held(con: duckdb.DuckDBPyConnection, org_id: str, tables: tuple[str, ...]) -> set[str]:
    """The ``tables`` that hold any row of the organization (one query, each table's
    scan stopping at the first)."""
    union = " UNION ALL ".join(
        f"SELECT '{t}' FROM (SELECT 1 FROM {t} WHERE org_id = $org LIMIT 1)" for t in tables
    )
    return {row[0] for row in con.execute(union, {"org": org_id}).fetchall()}


def _people(con: duckdb.DuckDBPyConnection, org_id: str) -> int:
    """The number of people the store holds for the organization."""
    return con.execute("SELECT count(*) FROM person WHERE org_id = ?", [org_id]).fetchone()[0]


def _has_rows(con: duckdb.DuckDBPyConnection, table: str, org_id: str) -> bool:
    """Does ``table`` hold any row of the organization (stops at the first)?"""
    return bool(
        con.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE org_id = ? LIMIT 1)", [org_id]
        ).fetchone()[0]
    )


def _with_literals(select: str, params: dict) -> str:
    """``select`` with its ``$name`` parameters written in as literals (a view cannot
    take parameters)."""
    for key, value in params.items():
        select = select.replace(f"${key}", sql_str(value))
    return select


def _create(
    con: duckdb.DuckDBPyConnection, kind: str, name: str, select: str, params: dict
) -> None:
    """A TEMP TABLE or TEMP VIEW ``name`` of ``select``; a view cannot take parameters:
    they are written into it as literals."""
    if kind == "VIEW":
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {_with_literals(select, params)}")
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select}", params)


def _note_repeats_in_a_file(con: duckdb.DuckDBPyConnection, stage: Stage, staged: str) -> None:
    """Say, on each file, how many of its activities appear in it more than once with
    different values: one version is kept (the one the tool modified last, else the
    later line), and the others went without a word (a sign-up listed Cancelled, then
    Confirmed, counted as one kept row of two read). Repeats across files are updates,
    the usual way a newer export arrives: not said. Only run when keys repeat at all."""
    content = """source, source_id, person_source, person_ref, type, occurred_at, recorded_at,
        status, attended, event_id, channel, role, result, amount, score, organizer_id"""
    found = con.execute(
        f"""SELECT file_no, count(*) FROM (
                SELECT file_no, activity_id FROM {staged}
                WHERE hash(activity_id) IN (
                    SELECT h FROM (SELECT hash(activity_id) AS h FROM {staged})
                    GROUP BY h HAVING count(*) > 1)
                GROUP BY ALL HAVING count(DISTINCT hash({content})) > 1)
            GROUP BY file_no"""
    ).fetchall()
    for file_no, n in found:
        one = n == 1
        stage.files[file_no].notes.append(
            f"{n} {'activity appears' if one else 'activities appear'} more than once in "
            "this file with different values (the same id): one version of each is kept, "
            "the one the tool modified last, else the one further down the file; check "
            "the export if both were meant"
        )


def _lists_people(f: FileInfo) -> bool:
    """Whether an export is a list of people, each once (an Action Network report or
    people page, a VAN persons table, Action Builder's entities, a spreadsheet), not of
    what people did, where a person's record comes with each of their rows (a Mobilize
    attendance's, a Spoke contact's in each campaign)."""
    return (
        f.source_kind in ("action_network_csv", "action_builder", "generic_csv")
        or (f.source_kind == "action_network_api" and f.role == "people")
        or (f.source_kind == "van" and f.role == "persons")
    )


def _note_people_repeated_in_a_file(
    con: duckdb.DuckDBPyConnection, stage: Stage, person_src: str, custom_src: str, act_src: str
) -> None:
    """Say, on each list of people, how many of its people (by their id) it lists more
    than once with different values (a name, an email, a zip, a custom field): the
    later row's value of each is kept, and the earlier one went without a word (an
    activist report with Ana twice, "ana@home" then "ana@work"). A spreadsheet of
    activities names a person on each of their rows: not said of it. Only looked at when
    an id has two staged records at all."""
    files = [f.file_no for f in stage.files if not f.carried and _lists_people(f)]
    if not files or not con.execute("SELECT bool_or(n > 1) FROM cb_idmap").fetchone()[0]:
        return
    in_files = ", ".join(str(int(n)) for n in files)
    # (two values of a column: an empty cell loses nothing, the other row's is kept)
    differ = " OR ".join(f"count(DISTINCT {c}) > 1" for c in PERSON_FIELDS)
    # (the ids twice in a file first, with a plain count: the values are compared for
    # those alone, not for every person of a list read again beside its newer version)
    found = con.execute(
        f"""WITH twice AS (
                SELECT file_no, source, source_id FROM {person_src}
                WHERE file_no IN ({in_files}) AND source_id IS NOT NULL
                GROUP BY ALL HAVING count(*) > 1),
            repeated AS (
                SELECT file_no, source, source_id FROM {person_src}
                SEMI JOIN twice USING (file_no, source, source_id)
                GROUP BY ALL HAVING {differ}
                UNION
                SELECT c.file_no, c.person_source, c.person_ref FROM {custom_src} c
                SEMI JOIN twice t ON t.file_no = c.file_no AND t.source = c.person_source
                  AND t.source_id = c.person_ref
                GROUP BY c.file_no, c.person_source, c.person_ref, c.field
                HAVING count(DISTINCT c.value) > 1)
            SELECT file_no, count(*) FROM repeated r
            WHERE NOT EXISTS (SELECT 1 FROM {act_src} a WHERE a.file_no = r.file_no
                              AND starts_with(a.source, 'sheet:'))
            GROUP BY file_no"""
    ).fetchall()
    for file_no, n in found:
        one = n == 1
        stage.files[file_no].notes.append(
            f"{n} {'person is' if one else 'people are'} listed more than once in this "
            "file with different values (the same id): the value of each column in the "
            "row further down is kept (an earlier row's where that one is empty), the "
            "others only in the archived file; check the export if both were meant"
        )


def _repeats(con: duckdb.DuckDBPyConnection, relation: str, key: str) -> tuple[int, int]:
    """(rows, rows whose key an earlier row has) of ``relation``.

    By 64-bit hashes: equal keys always collide, so no repeat is missed (a rare false
    alarm only takes the exact, slower path). Sorted and compared with the previous one:
    on 10M keys 0.46 s against 0.64-0.88 s for count(DISTINCT ...), a hash table."""
    return con.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE h = prev) FROM (
                SELECT h, lag(h) OVER (ORDER BY h) AS prev
                FROM (SELECT hash({key}) AS h FROM {relation}))"""
    ).fetchone()


def _dedupe(
    con: duckdb.DuckDBPyConnection,
    select: str,
    staged: str,
    target: str,
    key: str,
    params: dict,
    newest_first: str = "",
    *,
    read_once: bool = False,
) -> int:
    """``target``: the rows of ``select`` (which carries file_no, rec), one per key: the
    one the tool itself modified last (``newest_first``, an ORDER BY prefix), then the
    latest file and record. A view when the staged keys are already unique (the common
    case) or when the caller reads it only once (``read_once``: the organization has
    none of these rows stored, so they are inserted in one statement); otherwise a
    table. Returns the number of staged rows; with none, ``target`` is not made."""
    rows, repeats = _repeats(con, staged, key)
    if not rows:  # nothing staged: no relation (the caller writes nothing)
        return 0
    if not repeats:
        deduped = select
    else:
        # only the rows whose key's hash repeats are ranked; the rest (nearly all, in
        # overlapping exports) pass as they are: ranking all 7.6M activities of a
        # four-tool organization of a million people took 11-14 s
        repeated = f"{target}_repeated"
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {repeated} AS SELECT h FROM (
                    SELECT hash({key}) AS h FROM {staged}) GROUP BY h HAVING count(*) > 1"""
        )
        deduped = f"""SELECT * FROM ({select}) WHERE hash({key}) NOT IN (SELECT h FROM {repeated})
            UNION ALL
            SELECT * FROM ({select}) WHERE hash({key}) IN (SELECT h FROM {repeated})
            QUALIFY row_number() OVER (
                PARTITION BY {key} ORDER BY {newest_first}file_no DESC, rec DESC) = 1"""
    kind = "VIEW" if read_once or not repeats else "TABLE"
    _create(con, kind, target, f"SELECT * EXCLUDE (file_no, rec) FROM ({deduped})", params)
    return rows


def _upsert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    staged: str,
    key: list[str],
    org_id: str,
    stored: bool | None = None,
    newer_than_stored: str | None = None,
) -> int:
    """Insert new rows and replace changed ones; identical rows are left alone.

    With ``newer_than_stored`` (a timestamp column the tool sets when it modifies a
    record), a staged row never replaces a stored one the tool modified later: an older
    export read again (its newer one removed from the folder) does not undo an update.
    ``stored``: whether ``table`` holds rows of the organization (asked when not given)."""
    if stored is None:
        stored = _has_rows(con, table, org_id)
    if not stored:
        return con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {staged}").fetchone()[0]
    cols = con.table(staged).columns  # (no statement to plan)
    col_list = ", ".join(cols)
    # stored rows are compared only where a staged row has their key (a few thousand
    # new rows against ten million stored ones: a semi-join, not a full diff)
    on_key = " AND ".join(f"t.{k} = s.{k}" for k in key)
    # the staged rows no stored row equals in every column. An anti join, not EXCEPT:
    # the staged rows are one per key already, and EXCEPT made both sides distinct
    # first, two hash aggregates over every column (half the CPU of comparing 300,000
    # changed activities with the store)
    same = " AND ".join(f"n.{c} IS NOT DISTINCT FROM t.{c}" for c in cols)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cb_changed AS
            SELECT {", ".join(f"n.{c}" for c in cols)} FROM {staged} n
            ANTI JOIN (SELECT {", ".join(f"t.{c}" for c in cols)} FROM {table} t
                       SEMI JOIN {staged} s ON {on_key} WHERE t.org_id = ?) t ON {same}""",
        [org_id],
    )
    if newer_than_stored:
        match = " AND ".join(f"t.{k} = c.{k}" for k in key)
        con.execute(
            f"""DELETE FROM cb_changed c WHERE EXISTS (
                    SELECT 1 FROM {table} t WHERE t.org_id = ? AND {match}
                    AND t.{newer_than_stored} > c.{newer_than_stored})""",
            [org_id],
        )
    n = con.execute("SELECT count(*) FROM cb_changed").fetchone()[0]
    if n and table in UNINDEXED_KEYS:  # no PRIMARY KEY: replace = delete the keys, insert
        match = " AND ".join(f"{table}.{k} = c.{k}" for k in key)
        con.execute(f"DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM cb_changed c WHERE {match})")
        con.execute(f"INSERT INTO {table} ({col_list}) SELECT {col_list} FROM cb_changed")
    elif n:
        con.execute(
            f"INSERT OR REPLACE INTO {table} ({col_list}) SELECT {col_list} FROM cb_changed"
        )
    con.execute("DROP TABLE cb_changed")
    return n
