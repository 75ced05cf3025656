"""Network roll-ups: a network organization's figures over itself and its affiliates.

A network (``Cohort.affiliates(network_id)``) sees its affiliates together:

* **sums** where a measure adds up: one-on-ones held, contact attempts and
  conversations, registrations and attendances behind the show rate;
* **recomputed** where it does not: anything that counts *people* (active base, new
  people, lapsed, leaders, people reached) counts a person active in two affiliates
  once, matched by ``person.match_key`` (a salted hash of normalized email/phone; a
  person without one is matched only to themself), and every rate (leader ratio,
  absorption, retention, show rate, contact rate) is recomputed from the network's own
  numerators and denominators, never averaged.

Each member keeps its own definitions (ladder, leader rung, qualifying activity): a
person is a leader of the network when they are a leader in at least one member by that
member's rule. Instants use the network organization's timezone and settings (lapse and
absorption windows). Ladders are each group's own and are not added up.

The per-person state comes from :class:`cyclebook.metrics.MetricEngine`, so the roll-up
uses exactly the definitions of each member's own report. A member's own share report
keeps that state in the store (``person_state``); the roll-up reads it while it is fresh
(same definitions and dates, no sync since) instead of computing it again: for a network
of 40 affiliates that was most of each cohort page's time. The roll-up itself is one
SQL statement over the members' states and rows (:class:`_Session`), nothing to compile.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cyclebook import store
from cyclebook.config import Cohort, CycleCard, Organization
from cyclebook.errors import ConfigError
from cyclebook.metrics import MetricEngine, MetricResults
from cyclebook.metrics import rules as R
from cyclebook.metrics.engine import inputs_digest, leader_index, measured_cycle, store_backend
from cyclebook.metrics.values import fresh_state

if TYPE_CHECKING:
    import ibis

__all__ = [
    "ROLLUP_METRICS",
    "Rollup",
    "network_ids",
    "network_members",
    "compute_rollup",
    "members_for",
    "rollup_for_audience",
]

#: Metric keys a roll-up produces, and how each is formed.
ROLLUP_METRICS: dict[str, str] = {
    "active_base": "recomputed: each person once across the network",
    "new_people": "recomputed: first seen by the network during the cycle",
    "lapsed": "recomputed: last activity anywhere in the network",
    "net_growth": "recomputed: new people minus lapsed, both counted once",
    "retention": "recomputed from people counted once",
    "leaders": "recomputed: a leader in any member by that member's rule, counted once",
    "leader_ratio": "recomputed: network leaders over the network's active base",
    "absorption": "recomputed: second activity anywhere in the network",
    "one_on_ones": "summed (conversations held); people counted once",
    "show_rate": "recomputed from summed attendances and registrations",
    "contact": "summed attempts and conversations; people reached counted once",
}


def network_ids(cohort: Cohort) -> list[str]:
    """Organizations of the cohort that have affiliates."""
    parents = {org.parent for org in cohort.organizations if org.parent}
    return [org.id for org in cohort.organizations if org.id in parents]


def network_members(cohort: Cohort, network_id: str) -> list[Organization]:
    """The network itself, then its affiliates (in cohort.yml order)."""
    network = cohort.org(network_id)
    affiliates = cohort.affiliates(network_id)
    if not affiliates:
        raise ConfigError(
            "cohort.yml",
            f"'{network_id}' has no affiliates, so there is nothing to roll up",
            field="organizations",
            fix=f"give its affiliates 'parent: {network_id}' in cohort.yml.",
        )
    return [network, *affiliates]


@dataclass
class Rollup:
    """A network's rolled-up values for one cycle (``values`` has the network's org_id)."""

    network_id: str
    cycle: str
    members: list[str]
    values: MetricResults
    methods: dict[str, str] = field(default_factory=lambda: dict(ROLLUP_METRICS))

    def value(self, metric: str, period: str | None = None, dimension: str = "") -> float | None:
        return self.values.value(metric, period, dimension)


#: What each member's part of a roll-up keeps of its per-person state, besides the
#: network key ``k`` (the leader flags are worked out by the member's own ladder).
STATE_COLUMNS = (
    "first_seen",
    "last_q",
    "active_start",
    "active_end",
    "acted_cycle",
    "acted_cycle_q",
    "acted_prev_q",
)


def _in(values: Iterable[str]) -> str:
    """A SQL list of string literals: ``('a', 'b')``."""
    return "(" + ", ".join(store.sql_str(v) for v in values) + ")"


class _Session:
    """One read connection over which a network's roll-ups run.

    Each roll-up is one SQL statement written here rather than built with ibis: over four
    members, compiling its expressions took ~0.3 s of CPU in every cohort summary that
    did not find them remembered (both audiences' pages in a first run of a cycle), and
    their graphs grow with every affiliate. The statement reads the store's tables by
    organization id, and values (ids, instants) go in as parameters. Only a member
    whose share report did not keep a fresh per-person state needs the metric engine:
    it computes the state into a temporary table first."""

    def __init__(
        self,
        con,
        store_path: str | Path,
        cohort: Cohort,
        network_id: str,
        card: CycleCard,
        previous: CycleCard | None,
        now: dt.datetime | None = None,
    ) -> None:
        self.con = con
        self.store_path = store_path
        self.cohort = cohort
        self.network = cohort.org(network_id)
        self.all_members = network_members(cohort, network_id)
        self.card = card
        self.previous = previous
        self.now = now or dt.datetime.now(dt.UTC)
        self.c = R.Cycle(card.id, card.start, card.end, self.network.timezone)
        self.engines: dict[str, MetricEngine] = {}
        self.saved: dict[str, bool] = {}
        self._backend: ibis.BaseBackend | None = None

    @classmethod
    @contextlib.contextmanager
    def open(
        cls,
        store_path: str | Path,
        cohort: Cohort,
        network_id: str,
        card: CycleCard,
        previous: CycleCard | None,
        now: dt.datetime | None = None,
    ) -> Iterator[_Session]:
        """A session over the store, under its shared (read) lock."""
        with store.connect(store_path) as con:
            # instants as text and days added to instants are the session time zone's:
            # UTC, as ibis sets it for the metric engine (and so for the member's state)
            con.execute("SET TimeZone = 'UTC'")
            session = cls(con, store_path, cohort, network_id, card, previous, now)
            try:
                yield session
            finally:
                session.close()

    def close(self) -> None:
        for engine in self.engines.values():
            engine.close()

    def engine(self, org: Organization) -> MetricEngine:
        """The member's engine (only for a state computed here), made once per session."""
        engine = self.engines.get(org.id)
        if engine is None:
            if self._backend is None:
                self._backend = store_backend(self.con, self.store_path)
            engine = MetricEngine(self._backend, org, self.card, self.previous, now=self.now)
            self.engines[org.id] = engine
        return engine

    def _state_saved(self, org: Organization) -> bool:
        """Whether the member's own share report kept its per-person state, still fresh."""
        if org.id not in self.saved:
            self.saved[org.id] = fresh_state(
                self.con,
                self.card.id,
                org.id,
                inputs_digest(org, self.card, self.previous),
                settled_at=R.instant(self.card.end, org.timezone),
                now=self.now,
            )
        return self.saved[org.id]

    # ------------------------------------------------------------------ the roll-up

    def _states(self, orgs: Sequence[Organization]) -> str:
        """Each member's per-person state (``org_id`` and ``person_id`` first): as its own
        share report kept it (fresh in ``person_state``, see
        :func:`cyclebook.metrics.values.fresh_state`), else computed by its engine into
        a temporary table (people who never acted count in no roll-up figure, and are
        not kept either)."""
        columns = ", ".join(("person_id", *STATE_COLUMNS, "rung_start", "rung_end"))
        kept = [i for i, org in enumerate(orgs) if self._state_saved(org)]
        parts = []
        if kept:
            ids = ", ".join(f"$org{i}" for i in kept)
            parts.append(
                f"SELECT org_id, {columns} FROM person_state "
                f"WHERE cycle = $cycle AND org_id IN ({ids})"
            )
        for i, org in enumerate(orgs):
            if i not in kept:
                table = self.engine(org)._materialize("state")
                parts.append(
                    f'SELECT $org{i} AS org_id, {columns} FROM temp.main."{table}" WHERE acted'
                )
        return " UNION ALL ".join(parts)

    def query(self, orgs: Sequence[Organization]) -> tuple[str, dict[str, object]]:
        """The roll-up over ``orgs`` as one statement and its parameters: one row of
        figures (the names :func:`_fill` reads).

        A person's network key ``k`` is their match_key, else ``org_id:person_id`` (found
        among the member's own people); each member's leaders are by its own leader
        rung, and its events have happened by its own clock (:attr:`MetricEngine.past`)."""
        c, settings = self.c, self.network.metrics
        params: dict[str, object] = {
            "cycle": self.card.id,
            "now": self.now,
            "start": c.start,
            "end": c.end,
            "lapse_lo": R.days_before(c.start_date, settings.lapse_days, c.tz),
            "lapse_hi": R.days_before(c.end_date, settings.lapse_days, c.tz),
        }
        rows = []
        for i, org in enumerate(orgs):
            params[f"org{i}"] = org.id
            params[f"past{i}"] = min(measured_cycle(org, self.card, self.now).end, self.now)
            rows.append(f"($org{i}, {leader_index(org):d}, $past{i})")
        ids = ", ".join(f"$org{i}" for i in range(len(orgs)))
        states = self._states(orgs)

        def key(t: str) -> str:
            return f"COALESCE(p.match_key, {t}.org_id || ':' || {t}.person_id)"

        def person(t: str) -> str:
            return f"LEFT JOIN person AS p ON p.org_id = {t}.org_id AND p.person_id = {t}.person_id"

        status = "LOWER(COALESCE(a.status, ''))"
        when = "COALESCE(e.start_at, a.occurred_at)"
        # per network key: first seen and last active anywhere, active or a leader in any
        # member (by that member's rule), and in how many members active at the end
        any_of = ", ".join(
            f"BOOL_OR({column}) AS {column}"
            for column in (
                "active_start",
                "active_end",
                "acted_cycle",
                "acted_cycle_q",
                "acted_prev_q",
                "leader_start",
                "leader_end",
            )
        )
        sql = f"""
WITH members (org_id, leader_index, past) AS (VALUES {", ".join(rows)}),
state AS (
    SELECT {key("s")} AS k, s.first_seen, s.last_q, s.active_start, s.active_end,
        s.acted_cycle, s.acted_cycle_q, s.acted_prev_q,
        s.rung_start >= m.leader_index AS leader_start,
        s.rung_end >= m.leader_index AS leader_end
    FROM ({states}) AS s JOIN members AS m ON m.org_id = s.org_id {person("s")}
),
per_key AS (
    SELECT k, MIN(first_seen) AS first_seen, MAX(last_q) AS last_q,
        COUNT(*) FILTER (WHERE active_end) AS members_active_end, {any_of}
    FROM state GROUP BY k
),
people AS (
    SELECT *,
        COALESCE(first_seen >= $start AND first_seen < $end, FALSE) AS is_new,
        COALESCE(last_q > $lapse_lo AND last_q <= $lapse_hi, FALSE) AS lapsed
    FROM per_key
),
-- actions by the person that have happened (MetricEngine.actions), one item per event
-- and per instant, as a member's absorption counts them
actions AS (
    SELECT {key("a")} AS k, a.occurred_at, a.type,
        a.org_id || '|' || COALESCE('e:' || a.event_id, 't:' || CAST(a.occurred_at AS TEXT))
        AS item
    FROM activity AS a {person("a")}
    WHERE a.org_id IN ({ids}) AND NOT ({status} IN {_in(R.NOT_AN_ACTION)})
        AND a.occurred_at <= $now
),
contact AS (
    SELECT {key("t")} AS k, t.person_id, COALESCE(t.conversation, FALSE) AS conv
    FROM contact_attempt AS t {person("t")}
    WHERE t.org_id IN ({ids}) AND t.attempted_at >= $start AND t.attempted_at < $end
),
-- registrations for the cycle's events that have happened, recorded or not, attended
shows AS (
    SELECT (a.attended IS NOT NULL) OR {status} IN ('completed', 'no_show') AS recorded,
        COALESCE(a.attended, FALSE) OR ({status} = 'completed') AS came
    FROM activity AS a JOIN members AS m ON m.org_id = a.org_id
        LEFT JOIN event AS e ON e.org_id = a.org_id AND e.event_id = a.event_id
    WHERE a.type = 'attendance' AND {when} >= $start AND {when} < m.past
        AND {status} IN {_in(R.REGISTERED_STATUSES)}
),
headline AS (
    SELECT COUNT(*) FILTER (WHERE active_start) AS active_start,
        COUNT(*) FILTER (WHERE active_end) AS active_end,
        COUNT(*) FILTER (WHERE acted_cycle) AS acted,
        COUNT(*) FILTER (WHERE is_new) AS new,
        COUNT(*) FILTER (WHERE lapsed) AS lapsed,
        COUNT(*) FILTER (WHERE leader_start) AS leaders_start,
        COUNT(*) FILTER (WHERE leader_end) AS leaders_end,
        COUNT(*) FILTER (WHERE leader_end AND active_end) AS leaders_active,
        COUNT(*) FILTER (WHERE acted_prev_q) AS prev,
        COUNT(*) FILTER (WHERE acted_prev_q AND acted_cycle_q) AS retained,
        COUNT(*) FILTER (WHERE members_active_end >= 2) AS active_in_two
    FROM people
),
absorbed AS (
    -- new people (to the network) with two distinct actions anywhere in the network
    -- within the absorption window of first being seen by it
    SELECT COUNT(*) FILTER (WHERE items >= 2) AS absorbed FROM (
        SELECT n.k, COUNT(DISTINCT a.item) AS items
        FROM actions AS a JOIN (SELECT k, first_seen AS fs FROM people WHERE is_new) AS n
            ON a.k = n.k
        WHERE a.occurred_at >= n.fs
            AND a.occurred_at < n.fs + INTERVAL ({settings.absorption_days:d}) DAY
        GROUP BY n.k
    )
),
one_on_ones AS (
    SELECT COUNT(*) AS oo_held, COUNT(DISTINCT k) AS oo_people FROM actions
    WHERE type = 'one_on_one' AND occurred_at >= $start AND occurred_at < $end
),
contacted AS (
    SELECT COUNT(*) AS contact_attempts,
        COUNT(*) FILTER (WHERE conv) AS contact_conversations,
        COUNT(DISTINCT k) FILTER (WHERE conv AND person_id IS NOT NULL) AS contact_reached
    FROM contact
),
showed AS (
    SELECT COUNT(*) FILTER (WHERE recorded) AS show_registered,
        COUNT(*) FILTER (WHERE recorded AND came) AS show_attended
    FROM shows
)
SELECT * FROM headline, absorbed, one_on_ones, contacted, showed"""
        used = set(re.findall(r"\$(\w+)", sql))  # DuckDB refuses a parameter not used
        return sql, {name: value for name, value in params.items() if name in used}

    def rollup(self, members: Sequence[str] | None) -> Rollup:
        wanted = set(members) if members is not None else {o.id for o in self.all_members}
        orgs = [org for org in self.all_members if org.id in wanted]
        res = MetricResults(self.card.id, self.network.id)
        rollup = Rollup(self.network.id, self.card.id, [org.id for org in orgs], res)
        if not orgs:
            res.notes.append("No member of the network is included.")
            return rollup
        sql, params = self.query(orgs)
        cursor = self.con.execute(sql, params)
        row = cursor.fetchone()
        assert row is not None  # aggregates without GROUP BY: always one row
        head = {d[0]: int(value) for d, value in zip(cursor.description, row, strict=True)}
        _fill(res, head, self.previous)
        return rollup


def compute_rollup(
    store_path: str | Path,
    cohort: Cohort,
    network_id: str,
    card: CycleCard,
    previous: CycleCard | None = None,
    *,
    members: Sequence[str] | None = None,
    now: dt.datetime | None = None,
) -> Rollup:
    """Roll a network's members up for one cycle.

    ``members`` limits the roll-up to some of the network's organizations (e.g. only
    those that agreed to share a measure with an audience); by default the network and
    all its affiliates.
    """
    network_members(cohort, network_id)  # a clear error before opening the store
    with _Session.open(store_path, cohort, network_id, card, previous, now) as session:
        return session.rollup(members)


def _fill(res: MetricResults, head: dict[str, int], previous: CycleCard | None) -> None:
    methods = ROLLUP_METRICS
    prev_text = f"cycle {previous.id}" if previous else "the previous cycle"
    res.add("active_base", "start", "", head["active_start"], None, methods["active_base"])
    res.add("active_base", "end", "", head["active_end"], None, methods["active_base"])
    res.add(
        "active_base",
        "end",
        "in_two_or_more_members",
        head["active_in_two"],
        None,
        "People active in two or more members at the cycle's end (counted once above).",
    )
    res.add("active_base", "cycle", "", head["acted"], None, "People who took any action.")
    res.add("new_people", "cycle", "", head["new"], None, methods["new_people"])
    res.add("lapsed", "cycle", "", head["lapsed"], None, methods["lapsed"])
    res.add("net_growth", "cycle", "", head["new"] - head["lapsed"], None, methods["net_growth"])
    if previous is not None:
        res.rate(
            "retention",
            "cycle",
            "",
            head["retained"],
            head["prev"],
            f"Active in {prev_text} and in this cycle, over active in {prev_text}; "
            + methods["retention"],
        )
    res.add("leaders", "start", "", head["leaders_start"], None, methods["leaders"])
    res.add("leaders", "end", "", head["leaders_end"], None, methods["leaders"])
    res.rate(
        "leader_ratio",
        "end",
        "",
        head["leaders_active"],
        head["active_end"],
        methods["leader_ratio"],
    )
    res.rate("absorption", "cycle", "", head["absorbed"], head["new"], methods["absorption"])
    res.add("one_on_ones", "cycle", "", head["oo_held"], None, methods["one_on_ones"])
    res.add(
        "one_on_ones",
        "cycle",
        "people",
        head["oo_people"],
        None,
        "People who had a one-on-one in any member, counted once.",
    )
    res.rate(
        "show_rate",
        "cycle",
        "",
        head["show_attended"],
        head["show_registered"],
        methods["show_rate"],
    )
    conv, attempts = head["contact_conversations"], head["contact_attempts"]
    res.add("contact", "cycle", "", conv, None, "Conversations, summed over members.")
    res.add("contact", "cycle", "attempts", attempts, None, "Attempts, summed over members.")
    res.add("contact", "cycle", "conversations", conv, None, "Summed over members.")
    res.rate(
        "contact",
        "cycle",
        "contact_rate",
        conv,
        attempts,
        "Summed conversations over summed attempts.",
    )
    res.add(
        "contact",
        "cycle",
        "reached",
        head["contact_reached"],
        None,
        "People with a conversation in any member, counted once.",
    )


def members_for(
    cohort: Cohort, network_id: str, metric: str, audience: str
) -> tuple[list[str], list[str]]:
    """Which members a roll-up of ``metric`` may include for ``audience``: the network
    must have agreed to share it, and each affiliate is included only if it agreed too.
    Returns (included, left out). For the organization itself every member is included.

    Every outside audience that is shown the roll-up gets it over the same members: an
    affiliate that shares the measure with the cohort but not with funders is left out
    of both. Otherwise someone holding both pages could subtract one roll-up from the
    other and read that affiliate's share, small counts included.
    """
    from cyclebook.config import AUDIENCES
    from cyclebook.privacy import is_allowed, is_restricted

    members = network_members(cohort, network_id)
    if not is_allowed(members[0], audience, metric):
        return [], [org.id for org in members]
    shown_to = [audience]
    if is_restricted(audience):
        shown_to += [
            other
            for other in AUDIENCES
            if other != audience and is_restricted(other) and is_allowed(members[0], other, metric)
        ]
    included = [
        org.id for org in members if all(is_allowed(org, seen_by, metric) for seen_by in shown_to)
    ]
    left_out = [org.id for org in members if org.id not in included]
    return included, left_out


def rollup_for_audience(
    store_path: str | Path,
    cohort: Cohort,
    network_id: str,
    card: CycleCard,
    previous: CycleCard | None,
    audience: str,
    *,
    metrics: Iterable[str] | None = None,
    now: dt.datetime | None = None,
) -> dict[str, tuple[Rollup, list[str]]]:
    """For each roll-up metric the audience may see: the roll-up, and the members it
    leaves out. Each member's data is read once.

    Outside the organization every metric of the page is rolled up over the same
    members: those that agreed to share every one of them. Over different members, one
    figure less another gave a member's part back: 55 new people (three members) and
    absorption "of 50" (two members) told a cohort member the third's hidden 5."""
    from cyclebook.privacy import is_restricted

    wanted = [
        m for m in (metrics if metrics is not None else ROLLUP_METRICS) if m in ROLLUP_METRICS
    ]
    plan: dict[str, list[str]] = {}
    for metric in wanted:
        included, _ = members_for(cohort, network_id, metric, audience)
        if included:
            plan[metric] = included
    if not plan:
        return {}
    order = [org.id for org in network_members(cohort, network_id)]
    common = [m for m in order if all(m in included for included in plan.values())]
    if not common:
        return {}
    out: dict[str, tuple[Rollup, list[str]]] = {}
    with _Session.open(store_path, cohort, network_id, card, previous, now) as session:
        cache: dict[frozenset[str], Rollup] = {}
        for metric, included in plan.items():
            members = common if is_restricted(audience) else included
            key = frozenset(members)
            if key not in cache:
                cache[key] = session.rollup(members)
            out[metric] = (cache[key], [m for m in order if m not in members])
    return out
