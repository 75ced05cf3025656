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
of 40 affiliates that was most of each cohort page's time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd

from cyclebook import store
from cyclebook.config import Cohort, CycleCard, Organization
from cyclebook.errors import ConfigError
from cyclebook.metrics import MetricEngine, MetricResults
from cyclebook.metrics import rules as R
from cyclebook.metrics.engine import (
    inputs_digest,
    memo_key,
    remembered,
    store_backend,
    store_table,
)
from cyclebook.metrics.values import fresh_state

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


def _keyed(backend: ibis.BaseBackend, t: ir.Table, org_id: str) -> ir.Table:
    """Add ``k``: the person's network key (match_key, else org:person_id)."""
    person = store_table(backend, "person")
    person = person.filter(person.org_id == org_id).select(
        mk_pid=person.person_id, match_key=person.match_key
    )
    j = t.left_join(person, t.person_id == person.mk_pid)
    key = ibis.coalesce(j.match_key, ibis.literal(f"{org_id}:") + j.person_id.cast("string"))
    return j.mutate(k=key).drop("mk_pid", "match_key")


def _member_state(engine: MetricEngine, backend: ibis.BaseBackend, saved: bool) -> ir.Table:
    """The member's per-person state: as its own share report kept it (``saved``: fresh
    in ``person_state``, see :func:`cyclebook.metrics.values.fresh_state`), else computed."""
    if saved:
        s = engine.table("person_state")
        s = s.filter(s.cycle == engine.cycle.id)
    else:
        s = engine.state
        s = s.filter(s.acted)  # as saved: people who never acted count in no roll-up figure
    li = engine.leader_index
    s = s.select(
        person_id=s.person_id,
        first_seen=s.first_seen,
        last_q=s.last_q,
        active_start=s.active_start,
        active_end=s.active_end,
        acted_cycle=s.acted_cycle,
        acted_cycle_q=s.acted_cycle_q,
        acted_prev_q=s.acted_prev_q,
        leader_start=s.rung_start >= li,
        leader_end=s.rung_end >= li,
    )
    return _keyed(backend, s, engine.org.id).drop("person_id")


class _Session:
    """One read connection; each member's per-person state and activity, built once and
    combined for any set of members."""

    def __init__(
        self,
        backend: ibis.BaseBackend,
        cohort: Cohort,
        network_id: str,
        card: CycleCard,
        previous: CycleCard | None,
        now: dt.datetime | None = None,
    ) -> None:
        self.backend = backend
        self.cohort = cohort
        self.network = cohort.org(network_id)
        self.all_members = network_members(cohort, network_id)
        self.card = card
        self.previous = previous
        self.now = now or dt.datetime.now(dt.UTC)
        self.c = R.Cycle(card.id, card.start, card.end, self.network.timezone)
        self.engines: dict[str, MetricEngine] = {}
        self.parts: dict[str, dict[str, ir.Table]] = {}
        self.saved: dict[str, bool] = {}

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
            session = cls(store_backend(con, store_path), cohort, network_id, card, previous, now)
            try:
                yield session
            finally:
                session.close()

    def close(self) -> None:
        for engine in self.engines.values():
            engine.close()

    def engine(self, org: Organization) -> MetricEngine:
        """The member's engine, made once per session (its slot names its views)."""
        engine = self.engines.get(org.id)
        if engine is None:
            engine = MetricEngine(self.backend, org, self.card, self.previous, now=self.now)
            self.engines[org.id] = engine
        return engine

    def member(self, org: Organization) -> dict[str, ir.Table]:
        if org.id in self.parts:
            return self.parts[org.id]
        engine = self.engine(org)
        c, b = self.c, self.backend
        a = engine.actions()
        actions = _keyed(
            b,
            a.select(
                person_id=a.person_id,
                occurred_at=a.occurred_at,
                type=a.type,
                # one action per event and per instant, as a member's absorption
                item=ibis.literal(org.id + "|")
                + ibis.coalesce("e:" + a.event_id, "t:" + a.occurred_at.cast("string")),
            ),
            org.id,
        )
        t = engine.table("contact_attempt")
        t = t.filter(R.in_period(t.attempted_at, c.start, c.end))
        contact = _keyed(
            b,
            t.select(
                person_id=t.person_id.cast("string"),
                conv=t.conversation.fill_null(False),
            ),
            org.id,
        )
        act = engine.table("activity")
        act = act.filter(act.type == "attendance")
        ev = engine.table("event")
        ev = ev.select(ev_id=ev.event_id, ev_start=ev.start_at)
        j = act.left_join(ev, act.event_id == ev.ev_id)
        status = R.lower(j.status)
        when = ibis.coalesce(j.ev_start, j.occurred_at)
        j = j.filter(
            (when >= R.ts(c.start))
            & (when < engine.before_now())
            & status.isin(list(R.REGISTERED_STATUSES))
        )
        shows = j.select(
            recorded=j.attended.notnull() | status.isin(["completed", "no_show"]),
            came=j.attended.fill_null(False) | (status == "completed"),
        )
        self.parts[org.id] = {
            "state": _member_state(engine, b, self._state_saved(org)),
            "actions": actions,
            "contact": contact,
            "shows": shows,
        }
        return self.parts[org.id]

    def _state_saved(self, org: Organization) -> bool:
        """Whether the member's own share report kept its per-person state, still fresh."""
        if org.id not in self.saved:
            self.saved[org.id] = fresh_state(
                self.backend.con,
                self.card.id,
                org.id,
                inputs_digest(org, self.card, self.previous),
                settled_at=R.instant(self.card.end, org.timezone),
                now=self.now,
            )
        return self.saved[org.id]

    def _ready(self, orgs: Sequence[Organization]) -> None:
        """What a member's part reads (:meth:`member`), made without building it: its
        views, and its kept state or the state computed from its activity."""
        for org in orgs:
            engine = self.engine(org)
            engine.before_now()  # the member's clock table (see MetricEngine.before_now)
            for name in ("activity", "contact_attempt", "event"):
                engine.view(name)
            if self._state_saved(org):
                engine.view("person_state")
            else:
                engine.made("state")

    def frame(self, site: str, orgs: Sequence[Organization], build) -> pd.DataFrame:
        """A roll-up query over ``orgs`` (:func:`cyclebook.metrics.engine.remembered`),
        a few rows of figures: its SQL names each member's views and organization id,
        and depends on each member's definitions and on whether its state was kept."""
        plans = []
        for org in orgs:  # engines (and so their slots) in the order the build makes them
            plans.append([org.id, self._state_saved(org), self.engine(org).plan()])
        key = None
        if all(plan is not None for _, _, plan in plans):
            network = self.network.model_dump(mode="json", include={"id", "timezone", "metrics"})
            dates = [self.card.id, self.c.start.isoformat(), self.c.end.isoformat()]
            if self.previous is not None:
                dates += [self.previous.id, self.previous.start.isoformat()]
            key = memo_key("rollup", site, network, dates, plans)

        def built() -> tuple[ir.Table, dict]:
            return build(), {}

        table = remembered(self.backend, key, built, lambda entry: self._ready(orgs), few_rows=True)
        return table.to_pandas()

    def union(self, orgs: Sequence[Organization], part: str) -> ir.Table:
        tables = [self.member(org)[part] for org in orgs]
        return tables[0] if len(tables) == 1 else ibis.union(*tables, distinct=False)

    def rollup(self, members: Sequence[str] | None) -> Rollup:
        wanted = set(members) if members is not None else {o.id for o in self.all_members}
        orgs = [org for org in self.all_members if org.id in wanted]
        res = MetricResults(self.card.id, self.network.id)
        rollup = Rollup(self.network.id, self.card.id, [org.id for org in orgs], res)
        if not orgs:
            res.notes.append("No member of the network is included.")
            return rollup
        c, settings = self.c, self.network.metrics

        def per_key() -> ir.Table:
            return _per_key(self.union(orgs, "state"), c, settings, self.previous)

        head = _headline(self.frame("headline", orgs, lambda: _headline_expr(per_key())))

        def absorbed() -> ir.Table:
            return _absorbed(per_key(), self.union(orgs, "actions"), settings)

        head["absorbed"] = int(self.frame("absorbed", orgs, absorbed).absorbed.iloc[0])

        def one_on_ones() -> ir.Table:
            actions = self.union(orgs, "actions")
            in_cycle = R.in_period(actions.occurred_at, c.start, c.end)
            oo = actions.filter((actions.type == "one_on_one") & in_cycle)
            return oo.aggregate(held=oo.count(), people=oo.k.nunique())

        row = self.frame("one_on_ones", orgs, one_on_ones).iloc[0]
        head["oo_held"], head["oo_people"] = int(row.held), int(row.people)

        def contact() -> ir.Table:
            t = self.union(orgs, "contact")
            return t.aggregate(
                attempts=t.count(),
                conversations=t.count(where=t.conv),
                reached=t.k.nunique(where=t.conv & t.person_id.notnull()),
            )

        row = self.frame("contact", orgs, contact).iloc[0]
        head.update({f"contact_{k}": int(v) for k, v in row.items()})

        def shows() -> ir.Table:
            sh = self.union(orgs, "shows")
            return sh.aggregate(
                registered=sh.count(where=sh.recorded),
                attended=sh.count(where=sh.recorded & sh.came),
            )

        row = self.frame("shows", orgs, shows).iloc[0]
        head["show_registered"], head["show_attended"] = int(row.registered), int(row.attended)
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


def _per_key(union: ir.Table, c: R.Cycle, settings, previous: CycleCard | None) -> ir.Table:
    g = union.group_by("k").aggregate(
        first_seen=union.first_seen.min(),
        last_q=union.last_q.max(),
        active_start=union.active_start.any(),
        active_end=union.active_end.any(),
        members_active_end=union.count(where=union.active_end),
        acted_cycle=union.acted_cycle.any(),
        acted_cycle_q=union.acted_cycle_q.any(),
        acted_prev_q=union.acted_prev_q.any(),
        leader_start=union.leader_start.any(),
        leader_end=union.leader_end.any(),
    )
    lapse_lo = R.days_before(c.start_date, settings.lapse_days, c.tz)
    lapse_hi = R.days_before(c.end_date, settings.lapse_days, c.tz)
    return g.mutate(
        is_new=R.in_period(g.first_seen, c.start, c.end).fill_null(False),
        lapsed=R.in_window(g.last_q, lapse_lo, lapse_hi).fill_null(False),
    )


def _headline_expr(per_key: ir.Table) -> ir.Table:
    p = per_key
    return p.aggregate(
        active_start=p.count(where=p.active_start),
        active_end=p.count(where=p.active_end),
        acted=p.count(where=p.acted_cycle),
        new=p.count(where=p.is_new),
        lapsed=p.count(where=p.lapsed),
        leaders_start=p.count(where=p.leader_start),
        leaders_end=p.count(where=p.leader_end),
        leaders_active=p.count(where=p.leader_end & p.active_end),
        prev=p.count(where=p.acted_prev_q),
        retained=p.count(where=p.acted_prev_q & p.acted_cycle_q),
        active_in_two=p.count(where=p.members_active_end >= 2),
    )


def _headline(frame: pd.DataFrame) -> dict[str, int]:
    return {name: int(value) for name, value in frame.iloc[0].items()}


def _absorbed(per_key: ir.Table, actions: ir.Table, settings) -> ir.Table:
    """New people (to the network) with two distinct activities anywhere in the network
    within the absorption window of first being seen by it."""
    new = per_key.filter(per_key.is_new).select(nk=per_key.k, fs=per_key.first_seen)
    j = actions.join(new, actions.k == new.nk)
    end = j.fs + ibis.interval(days=settings.absorption_days)
    j = j.filter((j.occurred_at >= j.fs) & (j.occurred_at < end))
    per = j.group_by("nk").aggregate(items=j.item.nunique())
    return per.aggregate(absorbed=per.count(where=per.items >= 2))


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
