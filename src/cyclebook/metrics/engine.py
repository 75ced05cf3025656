"""The metric engine: DESIGN.md's metrics as ibis expressions over the canonical model.

Written once against ibis tables (``activity``, ``person``, ``identity``, ``event``,
``contact_attempt``), so the same definitions can run on the DuckDB store or on a warehouse
backend. Python only receives small, already-aggregated results (and follow-up lists).

One pass over ``activity`` builds a per-person *state* (rung at start and end, active,
lapsed, new, …) that is materialized as a temporary table; every person-level metric
reads that table. Event-level metrics (show rate, volunteer shifts) and contact attempts
are separate small queries.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import math
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa

from cyclebook import store
from cyclebook.config import CycleCard, MetricSettings, Organization, Rung
from cyclebook.metrics import rules as R
from cyclebook.metrics import sqlcache
from cyclebook.metrics.values import MetricResults

OFF = -1  # known, but on no rung
NEW = -2  # not yet seen at the cycle's start (only as a start category)


def leader_index(org: Organization) -> int:
    """The rung from which people count as leaders (the top rung when the configured
    leader rung is not on the organization's ladder)."""
    names = [r.name for r in org.ladder]
    leader = org.metrics.leader_rung
    return names.index(leader) if leader in names else len(names) - 1


def config_notes(org: Organization, previous: CycleCard | None) -> list[str]:
    """The notes a cycle's results carry that follow from the configuration alone."""
    notes = []
    if org.metrics.leader_rung not in [r.name for r in org.ladder]:
        notes.append(
            f"The leader rung '{org.metrics.leader_rung}' is not on this ladder; "
            f"'{org.ladder[-1].name}' (the top rung) counts as leaders."
        )
    if previous is None:
        notes.append("Retention needs a previous cycle (the card names none).")
    if any(source.kind == "action_builder" for source in org.sources):
        for rung in org.ladder:
            for cond in rung.any_of:
                if cond.min_assessment is not None and cond.max_assessment is None:
                    notes.append(
                        f"{rung.label} counts assessments of {cond.min_assessment} or more. "
                        "Action Builder's scale often runs from 1 (strongest support) to 5 "
                        "(opposed); if this organization's does, write max_assessment (say "
                        "1) on this rung's rule in cohort.yml instead of min_assessment."
                    )
    return notes


@functools.lru_cache(maxsize=1)
def _code_digest() -> str:
    """The metric code (this package and the configuration it reads) and the libraries
    that run it."""
    import duckdb

    from cyclebook.filehash import files_digest

    package = Path(__file__).resolve().parent
    files = [*sorted(package.glob("*.py")), package.parent / "config.py"]
    return files_digest(
        [(path.name, path) for path in files],
        salt=f"ibis {ibis.__version__} duckdb {duckdb.__version__}",
    )


#: The per-person state a network roll-up reads (:mod:`cyclebook.rollup`): kept in the
#: store's ``person_state`` by a member's own share report (``compute_metrics(...,
#: keep_state=True)``), so the roll-up need not compute it again.
ROLLUP_STATE = (
    "person_id",
    "first_seen",
    "last_q",
    "rung_start",
    "rung_end",
    "active_start",
    "active_end",
    "acted_cycle",
    "acted_cycle_q",
    "acted_prev_q",
)


#: the figures of :meth:`MetricEngine.contact_rows`, per row
CONTACT_FIGURES = ("attempts", "conversations", "reached", "people", "replied", "opted_out")


#: temporary tables an engine makes once and later queries read: site -> the method
#: that builds its expression
TEMP_SITES = {"state": "state_expr", "contact_cycle": "cycle_contact_attempts"}


def _entry(sql: str, schema: ibis.Schema, extra: dict) -> dict:
    """What :func:`remembered` keeps of a query: its SQL, result schema and ``extra``."""
    columns = [[column, str(dtype)] for column, dtype in schema.items()]
    return {"sql": sql, "schema": columns, **extra}


def _schema_of(columns: list[list[str]]) -> ibis.Schema:
    return ibis.schema({name: ibis.dtype(dtype) for name, dtype in columns})


#: the types of the remembered queries' result columns (their entries name them as text)
RESULT_TYPES = ("boolean", "int8", "int16", "int32", "int64", "float64", "string", "date")


def warm_types() -> None:
    """Parse the text of every result type an entry names (:func:`_entry`), nullable or
    not: ibis parses each text once per process (about 4 ms in every kernel that
    computes metrics), and the kernels forked from the zygote inherit what it parsed.
    (The converter :func:`remembered` reads results with is imported before the forks
    with the zygote's other first-use modules: ``zygote.FIRST_USE``.)"""
    import ibis.expr.datatypes as dt

    types = [ibis.dtype(name) for name in RESULT_TYPES]
    types += [dt.Timestamp(timezone="UTC", scale=scale) for scale in (None, 6, 9)]
    for dtype in types:
        for nullable in (True, False):
            ibis.dtype(str(dtype.copy(nullable=nullable)))


def remembered(
    backend: ibis.BaseBackend, key: str | None, build, prepare, *, few_rows: bool = False
) -> pa.Table:
    """The result of the table expression ``build()`` returns, as Arrow, run from the SQL
    remembered under ``key`` when there is some (``prepare(entry)`` first creates what
    it reads), otherwise built, compiled and remembered with the result's schema and
    what ``build`` says it read: ``build()`` returns ``(expr, extra)``, ``extra`` a dict
    kept in the entry. ``key`` None (or another backend than DuckDB): nothing is kept.
    ``few_rows``: the result is a summary (an aggregate), see :func:`_few_rows`.

    Building the ibis expressions is most of a small organization's share computation
    (the queries themselves run in a few ms), and their SQL depends only on what the key
    holds, never on the data."""
    found = remembered_sql(backend, key, build, prepare)
    if isinstance(found, ir.Table):
        return found.to_pyarrow()
    sql, schema = found
    from ibis.backends.duckdb.converter import DuckDBPyArrowData

    table = _few_rows(backend.con, sql) if few_rows else backend.con.sql(sql).to_arrow_table()
    return DuckDBPyArrowData.convert_table(table, schema)


def remembered_sql(
    backend: ibis.BaseBackend, key: str | None, build, prepare
) -> tuple[str, ibis.Schema] | ir.Table:
    """The SQL and result schema of :func:`remembered`'s query (remembered, or built,
    compiled and remembered); on another backend than DuckDB, the expression itself."""
    cache = backend.__dict__.get("_cyclebook_sql")
    entry = cache.get_json(key) if key is not None and cache is not None else None
    if entry is not None:
        prepare(entry)
        return entry["sql"], _schema_of(entry["schema"])
    expr, extra = build()
    if backend.name != "duckdb":
        return expr
    sql, schema = backend.compile(expr), expr.schema()
    if key is not None and cache is not None:
        cache.put_json(key, _entry(sql, schema, extra))
    return sql, schema


def _few_rows(con, sql: str) -> pa.Table:
    """The result of a query that returns a few rows, as Arrow: run as a statement.

    A relation (``con.sql(...)``, what a large result needs) parses and binds the query
    once more before it runs it, in Python and in DuckDB: about a third of the time of a
    share report's ~20 small queries (1 ms each). The rows then come from the statement's
    result, which DuckDB warns copies them once more: nothing, for a few rows."""
    con.execute(sql)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Arrow output on a DB-API result", UserWarning)
        return con.to_arrow_table()


def memo_key(*parts) -> str:
    """A key for :func:`remembered`: the versions of the libraries that compile the SQL,
    the metric code, the store's schema, and ``parts`` (JSON)."""
    text = json.dumps(
        [sqlcache.versions(), _code_digest(), store.SCHEMA_VERSION, *parts],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return "plan-" + hashlib.sha256(text.encode()).hexdigest()


def inputs_digest(org: Organization, card: CycleCard, previous: CycleCard | None) -> str:
    """Everything an organization's values for a cycle depend on besides its data in the
    store (and, while the cycle runs, the clock): the metric code, the organization's
    definitions (ladder, windows, timezone) and both cycles' dates. Saved with the values
    so a later report can tell whether they still hold (:func:`compute_metrics`)."""
    parts = {
        "code": _code_digest(),
        "org": org.model_dump(mode="json", include={"id", "timezone", "ladder", "metrics"}),
        "cycle": [card.id, card.start.isoformat(), card.end.isoformat()],
        "previous": None
        if previous is None
        else [previous.id, previous.start.isoformat(), previous.end.isoformat()],
    }
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def measured_cycle(org: Organization, card: CycleCard, now: dt.datetime) -> R.Cycle:
    """The cycle as the organization's figures measure it at ``now``.

    A cycle under way is measured as of today: its end date is weeks away, and a rung,
    the active base or a lapse worked out there counted as lapsed (or off a rung) people
    whose window had not yet run out. Not started: its start."""
    end = card.end
    today = now.astimezone(ZoneInfo(org.timezone)).date()
    if today < card.end:
        end = max(card.start, today + dt.timedelta(days=1))
    return R.Cycle(card.id, card.start, end, org.timezone)


def store_backend(con, store_path: str | Path) -> ibis.BaseBackend:
    """An ibis backend over a store connection (:func:`cyclebook.store.connect`), its
    compiled SQL remembered in the cohort's folder (:mod:`sqlcache`)."""
    backend = ibis.duckdb.from_connection(con)
    sqlcache.install(backend, sqlcache.cache_folder(store_path))
    return backend


def store_table(backend: ibis.BaseBackend, name: str) -> ir.Table:
    """A table of the store as an ibis expression, looked up once per connection (each
    lookup asks the database for its schema; a network roll-up's engines share one)."""
    tables = backend.__dict__.setdefault("_cyclebook_tables", {})
    if name not in tables:
        tables[name] = backend.table(name)
    return tables[name]


class MetricEngine:
    """Compute one organization's metrics for one cycle on an ibis backend."""

    def __init__(
        self,
        backend: ibis.BaseBackend,
        org: Organization,
        card: CycleCard,
        previous: CycleCard | None = None,
        *,
        now: dt.datetime | None = None,
    ) -> None:
        self.b = backend
        self.org = org
        self.ladder: list[Rung] = list(org.ladder)
        self.settings: MetricSettings = org.metrics
        self.tz = org.timezone
        self.now = now or dt.datetime.now(dt.UTC)
        self.cycle = measured_cycle(org, card, self.now)
        self.previous = (
            R.Cycle(previous.id, previous.start, previous.end, org.timezone) if previous else None
        )
        self.leader_index = leader_index(org)
        self.notes: list[str] = config_notes(org, previous)
        # (TABLE, VIEW or REGISTERED, name): what close() drops
        self._temps: list[tuple[str, str]] = []
        self._views: dict[str, ir.Table] = {}  # store table -> its view, as ibis sees it
        self._made: dict[str, str] = {}  # temporary table's site -> its name
        self._made_tables: dict[str, ir.Table] = {}  # ... and as ibis sees it
        # the views and temporary tables an expression being built reads (see arrow)
        self._reads: list[tuple[set[str], set[str]]] = []
        self._plan_key: str | None = None
        # engines sharing a connection (a network roll-up) name their temporaries apart
        slots = backend.__dict__.setdefault("_cyclebook_slots", [0])
        self._slot = slots[0]
        slots[0] += 1
        # now, as a one-row table the SQL reads (as :meth:`before_now`; a literal made new
        # SQL at every report), registered before any query, remembered ones included
        self._now = self.values(
            "now", pa.table({"now": pa.array([self.now], pa.timestamp("us", tz="UTC"))})
        )

    # ------------------------------------------------------------------ construction

    @classmethod
    @contextlib.contextmanager
    def open(
        cls,
        store_path: str | Path,
        org: Organization,
        card: CycleCard,
        previous: CycleCard | None = None,
        **kwargs,
    ) -> Iterator[MetricEngine]:
        """An engine over the DuckDB store, under the store's shared (read) lock."""
        with store.connect(store_path) as con:
            engine = cls(store_backend(con, store_path), org, card, previous, **kwargs)
            try:
                yield engine
            finally:
                # (the connection, closed next, drops them: a share report's 14 DROP
                # statements cost ~3 ms)
                engine.close(drop=False)

    # ------------------------------------------------------------------ remembered queries
    #
    # Building the ibis expressions of an organization's ~20 queries is most of a small
    # organization's share computation (about 0.2 of 0.3 s, measured over 19 organizations
    # of the benchmark cohort; the queries themselves run in a few ms). Their SQL depends
    # only on the definitions in the key below, never on data: each query site keeps its
    # SQL, result schema and the views and temporary tables it reads under that key, and
    # an engine with the same definitions runs the SQL without building the expression.

    def plan(self) -> str | None:
        """What every query's SQL depends on besides its site, or None (another backend:
        nothing is remembered)."""
        if self.b.name != "duckdb" or "_cyclebook_sql" not in self.b.__dict__:
            return None
        if self._plan_key is None:
            parts = {
                "org": self.org.model_dump(mode="json", include={"timezone", "ladder", "metrics"}),
                "cycle": [self.cycle.start.isoformat(), self.cycle.end.isoformat()],
                "previous": None
                if self.previous is None
                else [self.previous.start.isoformat(), self.previous.end.isoformat()],
                "slot": self._slot,
            }
            self._plan_key = memo_key(parts)
        return self._plan_key

    def _memo_key(self, site: str, args: tuple) -> str | None:
        plan = self.plan()
        return None if plan is None else memo_key(plan, site, [str(a) for a in args])

    @contextlib.contextmanager
    def _reading(self) -> Iterator[tuple[set[str], set[str]]]:
        """Record the views and temporary tables read while an expression is built."""
        reads: tuple[set[str], set[str]] = (set(), set())
        self._reads.append(reads)
        try:
            yield reads
        finally:
            self._reads.pop()
            if self._reads:  # a nested build: the outer expression reads them too
                self._reads[-1][0].update(reads[0])
                self._reads[-1][1].update(reads[1])

    def _ready(self, entry: dict) -> None:
        """Create the views and temporary tables a remembered query reads."""
        for name in entry["views"]:
            self.view(name)
        for site in entry["temps"]:
            self._materialize(site)

    def arrow(self, site: str, build, *args, few_rows: bool = False) -> pa.Table:
        """The result of the table expression ``build()`` builds, as Arrow: from the SQL
        remembered for ``site`` (and ``args``: anything else the expression depends on)
        when there is one, otherwise built, compiled and remembered. ``few_rows``: a
        summary, see :func:`remembered`."""

        key = self._memo_key(site, args)
        return remembered(self.b, key, self._built(build), self._ready, few_rows=few_rows)

    def _built(self, build) -> Callable[[], tuple[ir.Table, dict]]:
        """``build`` as :func:`remembered` calls it: it returns the expression and what
        the entry keeps of it (the views and temporary tables it reads)."""

        def built() -> tuple[ir.Table, dict]:
            with self._reading() as reads:
                expr = build()
            return expr, {"views": sorted(reads[0]), "temps": sorted(reads[1])}

        return built

    def summary(self, site: str, build, *args) -> list[dict[str, Any]]:
        """The rows of a query that returns a few rows (a metric's figures), as dicts,
        as :meth:`arrow` runs it (its SQL remembered as :meth:`arrow` keeps it).

        Python rows straight from DuckDB: the Arrow copy of the rows, its conversion to
        ibis's types and a pandas frame cost a share report's dozen summaries about
        20 ms, and (in a kernel forked from the zygote) a thousand pages touched.
        Run one by one: as one statement they cost as much, their plans held at once
        touching some 3,000 more pages."""
        key = self._memo_key(site, args)
        found = remembered_sql(self.b, key, self._built(build), self._ready)
        if isinstance(found, ir.Table):
            return found.to_pyarrow().to_pylist()
        con = self.b.con.execute(found[0])
        names = [column[0] for column in con.description]
        return [dict(zip(names, row, strict=True)) for row in con.fetchall()]

    def _materialize(self, site: str) -> str:
        """The temporary table of ``site`` (:data:`TEMP_SITES`), made once per engine
        (dropped by :meth:`close`): from remembered SQL when there is some.

        Named by the engine's slot and the site, never at random: later queries name the
        table, and their compiled SQL is remembered."""
        name = self._made.get(site)
        if name is None:
            name = f"cb{self._slot}_{site}"
            key = self._memo_key("temp:" + site, ())
            cache = self.b.__dict__.get("_cyclebook_sql")
            entry = cache.get_json(key) if key is not None and cache is not None else None
            if entry is not None:
                self._ready(entry)
                schema = _schema_of(entry["schema"])
                self.b.raw_sql(entry["sql"])
            else:
                with self._reading() as reads:
                    expr = getattr(self, TEMP_SITES[site])()
                schema = expr.schema()
                if self.b.name != "duckdb":  # another backend: ibis's own way
                    self._made_tables[site] = self.b.create_table(name, expr, temp=True)
                else:
                    # what ibis's create_table does, with the SQL compiled through the cache
                    columns = ", ".join(
                        c.sql(dialect="duckdb") for c in schema.to_sqlglot_column_defs("duckdb")
                    )
                    sql = (
                        f'CREATE TEMP TABLE "{name}" ({columns});\n'
                        f'INSERT INTO temp.main."{name}" {self.b.compile(expr)}'
                    )
                    self.b.raw_sql(sql)
                    if key is not None and cache is not None:
                        extra = {"views": sorted(reads[0]), "temps": sorted(reads[1])}
                        cache.put_json(key, _entry(sql, schema, extra))
            self._temps.append(("TABLE", name))
            self._made[site] = name
            if site not in self._made_tables:
                self._made_tables[site] = self._named(name, schema)
        if self._reads:
            self._reads[-1][1].add(site)
        return name

    def made(self, site: str) -> ir.Table:
        """The temporary table of ``site`` as an ibis table (made if need be)."""
        self._materialize(site)
        return self._made_tables[site]

    def values(self, name: str, data: pa.Table) -> ir.Table:
        """Python-side rows (a list of person ids) as a table queries can join.

        Registered under a fixed name (``cb<slot>_<name>``) rather than as an ibis
        memtable, whose random name would make every query that uses it new to the
        SQL cache; the rows themselves never enter the SQL."""
        if self.b.name != "duckdb":
            return ibis.memtable(data)
        view_name = f"cb{self._slot}_{name}"
        self.b.con.register(view_name, data)
        if ("REGISTERED", view_name) not in self._temps:
            self._temps.append(("REGISTERED", view_name))
        return self._named(view_name, ibis.schema(data.schema))

    def _named(self, name: str, schema: ibis.Schema) -> ir.Table:
        """A table of this connection by its bare name (no database: the SQL names it
        the same way in every session)."""
        return ops.DatabaseTable(
            name, schema=schema, source=self.b, namespace=ops.Namespace()
        ).to_expr()

    def close(self, *, drop: bool = True) -> None:
        """Forget the engine's temporary tables and views, and drop them (``drop``)
        unless the connection that holds them is closed next."""
        for kind, name in reversed(self._temps if drop else ()):
            with contextlib.suppress(Exception):
                if kind == "REGISTERED":
                    self.b.con.unregister(name)
                else:
                    self.b.raw_sql(f'DROP {kind} IF EXISTS temp.main."{name}"')
        self._temps.clear()
        self._views.clear()
        self._made.clear()
        self._made_tables.clear()

    @property
    def past(self) -> dt.datetime:
        """Events before this instant have happened: the cycle's end, or now."""
        return min(self.cycle.end, self.now)

    def before_now(self) -> ir.Scalar:
        """:attr:`past` as a value the SQL reads from a registered one-row table
        (``cb<slot>_clock``), not as a literal: while a cycle runs, the instant moves with
        every report, and as a literal it made every report's show-rate (and a network's
        every roll-up) query new SQL to build and remember. Registered again on each
        call: a remembered query that reads it runs only after this."""
        clock = self.values(
            "clock", pa.table({"past": pa.array([self.past], pa.timestamp("us", tz="UTC"))})
        )
        return clock.past.as_scalar()

    def view(self, name: str) -> str:
        """The engine's view of the organization's rows of store table ``name``."""
        view_name = f"cb{self._slot}_{name}"
        if ("VIEW", view_name) not in self._temps:
            self.b.raw_sql(
                f'CREATE TEMP VIEW "{view_name}" AS SELECT * FROM "{name}" '
                f"WHERE org_id = {store.sql_str(self.org.id)}"
            )
            self._temps.append(("VIEW", view_name))
        return view_name

    def table(self, name: str) -> ir.Table:
        """The organization's rows of a store table.

        Read through a temporary view per engine (``cb<slot>_<table>``) rather than a
        filter on ``org_id``: the queries' SQL then names no organization, and what is
        compiled for one organization serves every one with the same definitions."""
        if self.b.name != "duckdb":  # another backend: a filter, as any ibis user writes
            t = store_table(self.b, name)
            return t.filter(t.org_id == self.org.id)
        view = self._views.get(name)
        if view is None:
            view_name = self.view(name)
            view = self._views[name] = self._named(view_name, store_table(self.b, name).schema())
        if self._reads:
            self._reads[-1][0].add(name)
        return view

    def actions(self) -> ir.Table:
        """Activity rows that are actions by the person (not invitations, refusals or
        cancellations) and have happened: a sign-up for an event to come is dated the
        event's day by Mobilize, and a cycle not yet started (or running) counted it as
        an action, a new person "absorbed" and a member come back."""
        t = self.table("activity")
        return t.filter(R.is_action(t) & (t.occurred_at <= self._now.now.as_scalar()))

    # ------------------------------------------------------------------ definitions

    def qualifying(self, t: ir.Table) -> ir.BooleanValue:
        return R.of_types(t, self.settings.qualifying_types)

    @property
    def qualifying_text(self) -> str:
        types = self.settings.qualifying_types
        return "any activity" if not types else "a " + " or ".join(types) + " activity"

    def definitions(self) -> dict[str, str]:
        s = self.settings
        leader = self.ladder[self.leader_index]
        return {
            "ladder": "Each person's rung is the highest rung whose rule holds on their "
            "activity in the window before the date (invitations, refusals and cancelled "
            "sign-ups are not activity). " + " | ".join(R.rung_text(r) for r in self.ladder),
            "movement": "Rung at the cycle's end compared with rung at its start "
            "(up, stayed, down; dropping off the ladder counts as down).",
            "conversion": "People on a rung at the start who are on a higher rung at the "
            "end, over people on that rung at the start.",
            "active_base": f"People with {self.qualifying_text} in the "
            f"{s.active_window_days} days before the date.",
            "new_people": "People first seen during the cycle (earliest of their first "
            "activity and the date a tool first listed them), by the tool that knew them "
            "first (on a tie, the tool whose name sorts first).",
            "lapsed": f"People whose last qualifying activity ({self.qualifying_text}) "
            f"became more than {s.lapse_days} days old during the cycle.",
            "net_growth": "New people minus newly lapsed people.",
            "absorption": "Of people first seen in the cycle, the share with a second, "
            f"different activity within {s.absorption_days} days of first being seen "
            "(a signup and attendance of the same event count once).",
            # "the previous cycle", not its id: with the id, every cycle's text differed
            # from the last one's, and every report warned that retention had changed
            "retention": f"People with {self.qualifying_text} during the previous cycle who "
            "also had one during this cycle, over those active in the previous cycle.",
            "leaders": f"People on the '{leader.label}' rung or above at the date "
            f"({leader.definition.rstrip('.')}).",
            "leader_ratio": f"Leaders over the active base ({s.active_window_days}-day) "
            "at the cycle's end.",
            "one_on_ones": "One-on-one conversations recorded during the cycle; share of "
            f"new people who had one within {s.one_on_one_days} days of first being seen.",
            "show_rate": "Attended over registered or confirmed, for events held during the "
            "cycle with attendance recorded (VAN: Completed over Completed + No Show).",
            "volunteer_tiers": "Completed volunteer shifts (canvass, phone bank, text bank, "
            "voter registration) per person: 2+ in the last 14 days, 2+ in 30, exactly 1 in "
            "30, or none in 30 days (but one in the last year).",
            "contact": "Voter and member contact attempts during the cycle (doors, calls, "
            "texts); a conversation is a canvass at the door, an answered call or a text "
            "reply; contact rate = conversations / attempts.",
            "match_rate": "People with ids from two or more tools, over all people; each "
            "spreadsheet source counts as a tool of its own.",
        }

    # ------------------------------------------------------------------ per-person state

    def person_rungs(self, dates: dict[str, dt.date]) -> ir.Table:
        """person_id, rung_<label> for each date: the ladder alone (what the benchmark
        compares with hand-written SQL)."""
        a = self.actions()
        lo = R.scan_floor(self.ladder, dates, self.tz)
        hi = R.instant(max(dates.values()), self.tz)
        a = R.prepare(a.filter(R.in_window(a.occurred_at, lo, hi)))
        per = a.group_by("person_id").aggregate(**R.ladder_counts(a, self.ladder, dates, self.tz))
        return per.select(
            "person_id",
            **{f"rung_{label}": R.rung_index(per, self.ladder, label) for label in dates},
        )

    def ladder_transitions(self) -> ir.Table:
        """Counts of people by (rung_start, rung_end) among people on a rung at either
        date; the ladder computation of the benchmark."""
        rungs = self.person_rungs({"start": self.cycle.start_date, "end": self.cycle.end_date})
        return rungs.group_by(["rung_start", "rung_end"]).aggregate(people=rungs.count())

    def scan_floor(self) -> dt.datetime:
        """The earliest instant any person-level definition looks back to."""
        c, s, tz = self.cycle, self.settings, self.tz
        dates = {"start": c.start_date, "end": c.end_date}
        floors = [
            R.scan_floor(self.ladder, dates, tz),
            R.days_before(c.start_date, s.active_window_days, tz),
            R.days_before(c.start_date, s.lapse_days, tz),
        ]
        if self.previous is not None:
            floors.append(self.previous.start - dt.timedelta(seconds=1))
        return min(floors)

    def state_expr(self) -> ir.Table:
        """One row per person: rungs at start and end, active, new, lapsed, counts.

        Activity is scanned once over ``(floor, end]`` (``floor``: the earliest instant a
        definition looks back to); people with any activity at or before the floor are
        known to be older than the cycle, which is all "new" needs.
        """
        c, s, tz = self.cycle, self.settings, self.tz
        floor = self.scan_floor()
        everything = self.actions()
        a = R.prepare(everything.filter(R.in_window(everything.occurred_at, floor, c.end)))
        q = self.qualifying(a)
        occ = a.occurred_at
        dates = {"start": c.start_date, "end": c.end_date}
        aggs = R.ladder_counts(a, self.ladder, dates, tz)
        aggs.update(
            first_at=occ.min(),
            last_q=occ.max(where=q),
            n_active_start=a.count(
                where=q
                & R.in_window(occ, R.days_before(c.start_date, s.active_window_days, tz), c.start)
            ),
            n_active_end=a.count(
                where=q
                & R.in_window(occ, R.days_before(c.end_date, s.active_window_days, tz), c.end)
            ),
            n_cycle=a.count(where=R.in_period(occ, c.start, c.end)),
            n_cycle_q=a.count(where=q & R.in_period(occ, c.start, c.end)),
        )
        if self.previous is not None:
            p = self.previous
            aggs["n_prev_q"] = a.count(where=q & R.in_period(occ, p.start, p.end))
        per = a.group_by("person_id").aggregate(**aggs)
        before = everything.filter(everything.occurred_at <= R.ts(floor))
        before = before.select(bid=before.person_id).distinct()

        person = self.table("person")
        person = person.select(
            pid=person.person_id,
            first_seen_at=person.first_seen_at,
            do_not_contact=person.do_not_contact,
        )
        joined = person.outer_join(per, person.pid == per.person_id)
        joined = joined.select(
            person_id=ibis.coalesce(joined.pid, joined.person_id),
            first_seen_at=joined.first_seen_at,
            do_not_contact=joined.do_not_contact.fill_null(False),
            **{name: joined[name] for name in aggs},
        ).view()
        joined = joined.left_join(before, joined.person_id == before.bid)
        joined = joined.select(
            *[col for col in joined.columns if col != "bid"],
            seen_before=joined.bid.notnull(),
        ).view()
        # first activity; for people active before the floor, the floor stands in for it
        first_at = ibis.cases((joined.seen_before, R.ts(floor)), else_=joined.first_at)
        acted = joined.first_at.notnull() | joined.seen_before  # some action by the end
        first_seen = ibis.cases(
            (joined.first_seen_at.isnull(), first_at),
            (first_at.isnull(), joined.first_seen_at),
            (first_at < joined.first_seen_at, first_at),
            else_=joined.first_seen_at,
        )
        joined = joined.mutate(first_seen=first_seen)
        lapse_lo = R.days_before(c.start_date, s.lapse_days, tz)
        lapse_hi = R.days_before(c.end_date, s.lapse_days, tz)
        out = joined.select(
            "person_id",
            "first_seen",
            "do_not_contact",
            "last_q",
            *[
                R.cond_column("end", i, j)
                for i, r in enumerate(self.ladder)
                for j in range(len(r.any_of))
            ],
            n_cycle=joined.n_cycle.fill_null(0),
            rung_start=R.rung_index(joined, self.ladder, "start"),
            rung_end=R.rung_index(joined, self.ladder, "end"),
            # New people are those who took an action by the end: everyone a texting
            # campaign or a voter file lists is "seen", and 20 voters texted (3 of them
            # replying STOP) were 20 new people, net growth +20 and absorption 0 of 20
            is_new=(R.in_period(joined.first_seen, c.start, c.end) & acted).fill_null(False),
            acted=acted,
            new_at_start=(joined.first_seen >= R.ts(c.start)).fill_null(False),
            # known at the end instant itself: a rung at d reads (d - window, d], so a
            # person first seen exactly at the end (a sheet dated the end date) was a
            # leader at the end but on no rung of the ladder at the end
            known_end=(joined.first_seen <= R.ts(c.end)).fill_null(True),
            active_start=joined.n_active_start.fill_null(0) > 0,
            active_end=joined.n_active_end.fill_null(0) > 0,
            acted_cycle=joined.n_cycle.fill_null(0) > 0,
            acted_cycle_q=joined.n_cycle_q.fill_null(0) > 0,
            acted_prev_q=(joined.n_prev_q.fill_null(0) > 0)
            if self.previous is not None
            else ibis.literal(False),
            lapsed=R.in_window(joined.last_q, lapse_lo, lapse_hi).fill_null(False),
        )
        return out

    @property
    def state(self) -> ir.Table:
        """The per-person state, materialized once as a temporary table."""
        return self.made("state")

    # ------------------------------------------------------------------ compute

    def compute(self) -> MetricResults:
        res = MetricResults(self.cycle.id, self.org.id)
        defs = self.definitions()
        self._ladder_metrics(res, defs)
        self._base_metrics(res, defs)
        self._new_people_metrics(res, defs)
        self._one_on_one_metrics(res, defs)
        self._show_rate(res, defs)
        self._volunteer_tiers(res, defs)
        self._contact(res, defs)
        res.notes.extend(self.notes)
        return res

    def transitions(self) -> list[tuple[int, int, int]]:
        """(start category (rung index, OFF, NEW), end rung (index or OFF), people),
        among people known at the cycle's end."""

        def build() -> ir.Table:
            s = self.state.filter(lambda t: t.known_end)
            start_cat = ibis.cases(
                (s.new_at_start & (s.rung_start == OFF), NEW), else_=s.rung_start
            )
            return s.group_by(start=start_cat, end=s.rung_end).aggregate(people=s.count())

        rows = self.summary("transitions", build)
        return [(int(r["start"]), int(r["end"]), int(r["people"])) for r in rows]

    def _ladder_metrics(self, res: MetricResults, defs: dict[str, str]) -> None:
        tr = self.transitions()
        ladder = self.ladder
        n = len(ladder)
        start_counts: dict[int, int] = {}
        end_counts: dict[int, int] = {}
        for start, end, people in tr:
            if start >= 0:
                start_counts[start] = start_counts.get(start, 0) + people
            if end >= 0:
                end_counts[end] = end_counts.get(end, 0) + people
        res.add("ladder", "start", "", sum(start_counts.values()), None, defs["ladder"])
        res.add("ladder", "end", "", sum(end_counts.values()), None, defs["ladder"])
        for i, rung in enumerate(ladder):
            text = R.rung_text(rung)
            res.add("ladder", "start", rung.name, start_counts.get(i, 0), None, text)
            res.add("ladder", "end", rung.name, end_counts.get(i, 0), None, text)
        for start, end, people in tr:
            if start < 0 and end < 0:
                continue
            a = "new" if start == NEW else ("off" if start == OFF else ladder[start].name)
            b = "off" if end == OFF else ladder[end].name
            res.add("ladder", "transition", f"{a}>{b}", people, None, defs["ladder"])

        # depth: people already on the ladder who climbed; people entering it (new or
        # returning) are counted apart, as "joined the ladder"
        up_total = sum(p for start, end, p in tr if start >= 0 and end > start)
        res.add(
            "movement",
            "cycle",
            "",
            up_total,
            None,
            "Depth: people on a rung at the start who are on a higher rung at the end. "
            + defs["movement"],
        )
        joined = sum(p for start, end, p in tr if start < 0 and end >= 0)
        res.add(
            "movement",
            "cycle",
            "joined",
            joined,
            None,
            "People on no rung at the start (new, or known but inactive) who are on a rung "
            "at the end.",
        )
        for i, rung in enumerate(ladder):
            at = [(end, p) for start, end, p in tr if start == i]
            up = sum(p for end, p in at if end > i)
            stayed = sum(p for end, p in at if end == i)
            down = sum(p for end, p in at if end < i)
            res.add("movement", "cycle", f"{rung.name}:up", up, None, defs["movement"])
            res.add("movement", "cycle", f"{rung.name}:stayed", stayed, None, defs["movement"])
            res.add("movement", "cycle", f"{rung.name}:down", down, None, defs["movement"])
            if i < n - 1:
                res.rate(
                    "conversion", "cycle", rung.name, up, up + stayed + down, defs["conversion"]
                )
        for cat, name in ((NEW, "new"), (OFF, "off")):
            # "<from>:joined", not ":up": depth (the headline) adds up the rungs' ":up" only
            res.add(
                "movement",
                "cycle",
                f"{name}:joined",
                sum(p for start, end, p in tr if start == cat and end >= 0),
                None,
                "People on a rung at the end who were "
                + ("new this cycle." if cat == NEW else "known but on no rung at the start."),
            )
        below_top = [(start, end, p) for start, end, p in tr if 0 <= start < n - 1]
        res.rate(
            "conversion",
            "cycle",
            "",
            sum(p for start, end, p in below_top if end > start),
            sum(p for _, _, p in below_top),
            defs["conversion"] + " All rungs below the top.",
        )

    def _base_metrics(self, res: MetricResults, defs: dict[str, str]) -> None:
        li = self.leader_index

        def build() -> ir.Table:
            s = self.state
            ident = self.table("identity")
            if "listed" in ident.columns:  # (a warehouse's table may not have it)
                # an id only another tool named (a Spoke contact's VAN id that no VAN
                # export lists) does not make its person matched (store.MATCHED_IDENTITY)
                ident = ident.filter(ident.listed.isnull() | ident.listed)
            per = ident.group_by("person_id").aggregate(n=ident.source.nunique())
            multi = per.filter(per.n >= 2).select(mid=per.person_id)
            # Same population as the denominator: people known by the cycle's end (a
            # later export can hold people first seen after it, who must not count as
            # matched).
            known = s.filter(s.known_end).select("person_id")
            matched = known.join(multi, known.person_id == multi.mid)
            counts = s.aggregate(
                active_start=s.count(where=s.active_start),
                active_end=s.count(where=s.active_end),
                acted=s.count(where=s.acted_cycle),
                lapsed=s.count(where=s.lapsed),
                new=s.count(where=s.is_new),
                leaders_start=s.count(where=s.rung_start >= li),
                leaders_end=s.count(where=s.rung_end >= li),
                # the ratio's leaders are those in its base: with qualifying types that
                # leave out assessments, two people assessed 5 beside one active made
                # a leader ratio of 200%
                leaders_active=s.count(where=(s.rung_end >= li) & s.active_end),
                prev=s.count(where=s.acted_prev_q),
                retained=s.count(where=s.acted_prev_q & s.acted_cycle_q),
                people=s.count(where=s.known_end),
            )
            return counts.cross_join(matched.aggregate(matched=matched.count()))

        (agg,) = self.summary("base", build)
        g = {k: int(v) for k, v in agg.items()}
        res.add("active_base", "start", "", g["active_start"], None, defs["active_base"])
        res.add("active_base", "end", "", g["active_end"], None, defs["active_base"])
        res.add(
            "active_base",
            "cycle",
            "",
            g["acted"],
            None,
            "Breadth: people who took any action during the cycle.",
        )
        res.add(
            "active_base",
            "cycle",
            "change",
            g["active_end"] - g["active_start"],
            None,
            "Active base at the end minus active base at the start.",
        )
        res.add("lapsed", "cycle", "", g["lapsed"], None, defs["lapsed"])
        res.add("net_growth", "cycle", "", g["new"] - g["lapsed"], None, defs["net_growth"])
        if self.previous is not None:
            res.rate("retention", "cycle", "", g["retained"], g["prev"], defs["retention"])
        res.add("leaders", "start", "", g["leaders_start"], None, defs["leaders"])
        res.add("leaders", "end", "", g["leaders_end"], None, defs["leaders"])
        res.rate(
            "leader_ratio", "end", "", g["leaders_active"], g["active_end"], defs["leader_ratio"]
        )
        res.rate("match_rate", "end", "", g["matched"], g["people"], defs["match_rate"])

    def new_people_frame(self) -> ir.Table:
        """Per new person: source that first saw them, distinct activities within the
        absorption window, one-on-ones within the 1:1 window."""
        s = self.state
        new = s.filter(s.is_new).select(nid=s.person_id, first_seen=s.first_seen)
        ident = self.table("identity")
        ident = ident.join(new, ident.person_id == new.nid)
        # Ties (two tools that first knew the person at the same instant, or two first
        # activities at the same instant) go to the source whose name sorts first: an
        # argmin on the instant alone let DuckDB pick either one, differently from run to
        # run on a large organization, and the re-run of the unchanged cycle with it.
        ident = ident.group_by(iid=ident.nid).aggregate(
            first_tool=ident.source.first(
                order_by=[ident.first_seen_at, ident.source],
                where=ident.first_seen_at.notnull(),
            ),
            any_source=ident.source.min(),
        )
        new = new.left_join(ident, new.nid == ident.iid).drop("iid")
        a = self.actions()
        j = a.join(new, a.person_id == new.nid)
        absorb_end = j.first_seen + ibis.interval(days=self.settings.absorption_days)
        oo_end = j.first_seen + ibis.interval(days=self.settings.one_on_one_days)
        # one action per event, and per instant: a form submitted and the tag Action
        # Network puts on it at the same moment were two activities, and one form made
        # a new person "absorbed"
        key = ibis.coalesce("e:" + j.event_id, "t:" + j.occurred_at.cast("string"))
        per = j.group_by(pid=j.nid).aggregate(
            first_source=j.source.first(order_by=[j.occurred_at, j.source]),
            distinct_in_window=key.nunique(
                where=(j.occurred_at >= j.first_seen) & (j.occurred_at < absorb_end)
            ),
            one_on_ones=j.count(
                where=(j.type == "one_on_one")
                & (j.occurred_at >= j.first_seen)
                & (j.occurred_at < oo_end)
            ),
        )
        out = new.left_join(per, new.nid == per.pid)
        return out.select(
            person_id=out.nid,
            source=ibis.coalesce(
                out.first_tool, out.first_source, out.any_source, ibis.literal("unknown")
            ),
            absorbed=out.distinct_in_window.fill_null(0) >= 2,
            had_one_on_one=out.one_on_ones.fill_null(0) > 0,
        )

    def _new_people_metrics(self, res: MetricResults, defs: dict[str, str]) -> None:

        def build() -> ir.Table:
            per = self.new_people_frame()
            return per.group_by("source").aggregate(
                people=per.count(),
                absorbed=per.count(where=per.absorbed),
                one_on_one=per.count(where=per.had_one_on_one),
            )

        by_source = sorted(self.summary("new_people", build), key=lambda row: row["source"])
        total = sum(int(row["people"]) for row in by_source)
        absorbed = sum(int(row["absorbed"]) for row in by_source)
        res.add("new_people", "cycle", "", total, None, defs["new_people"])
        for row in by_source:
            res.add(
                "new_people",
                "cycle",
                f"source={row['source']}",
                int(row["people"]),
                None,
                defs["new_people"],
            )
            res.rate(
                "absorption",
                "cycle",
                f"source={row['source']}",
                int(row["absorbed"]),
                int(row["people"]),
                defs["absorption"],
            )
        res.rate("absorption", "cycle", "", absorbed, total, defs["absorption"])
        res.rate(
            "one_on_ones",
            "cycle",
            "new_within_window",
            sum(int(row["one_on_one"]) for row in by_source),
            total,
            defs["one_on_ones"],
        )

    def _one_on_one_metrics(self, res: MetricResults, defs: dict[str, str]) -> None:
        c = self.cycle

        def build() -> ir.Table:
            a = self.actions()
            oo = a.filter((a.type == "one_on_one") & R.in_period(a.occurred_at, c.start, c.end))
            return oo.aggregate(
                held=oo.count(),
                people=oo.person_id.nunique(),
                organizers=oo.organizer_id.nunique(),
            )

        (g,) = self.summary("one_on_ones", build)
        res.add("one_on_ones", "cycle", "", int(g["held"]), None, defs["one_on_ones"])
        res.add(
            "one_on_ones",
            "cycle",
            "people",
            int(g["people"]),
            None,
            "People who had a one-on-one during the cycle.",
        )
        res.add(
            "one_on_ones",
            "cycle",
            "organizers",
            int(g["organizers"]),
            None,
            "Organizers recorded as holding one-on-ones during the cycle.",
        )

    def _show_rate(self, res: MetricResults, defs: dict[str, str]) -> None:
        c = self.cycle
        before_now = self.before_now()

        def build() -> ir.Table:
            a = self.table("activity")
            a = a.filter(a.type == "attendance")
            ev = self.table("event")
            ev = ev.select(ev_id=ev.event_id, ev_type=ev.event_type, ev_start=ev.start_at)
            j = a.left_join(ev, a.event_id == ev.ev_id)
            status = R.lower(j.status)
            when = ibis.coalesce(j.ev_start, j.occurred_at)
            # An event whose host marked who came (Mobilize's, Action Network's or a
            # sheet's attended) has its attendance taken: a registration left unmarked
            # there did not come. Counted per row, the unmarked were left out and such
            # an event showed 4 of 4 where 4 of 10 came. VAN's sign-ups are not: its
            # show rate is Completed over Completed + No Show (DESIGN.md).
            marks = j.attended.notnull() & (j.source != "van")
            taken = j.event_id.notnull() & marks.any().over(ibis.window(group_by=j.event_id))
            j = j.mutate(
                etype=R.event_kind(j.ev_type),
                registered=status.isin(list(R.REGISTERED_STATUSES)),
                recorded=j.attended.notnull()
                | status.isin(["completed", "no_show"])
                | ((j.source != "van") & taken),
                came=j.attended.fill_null(False) | (status == "completed"),
            )
            j = j.filter((when >= R.ts(c.start)) & (when < before_now) & j.registered)
            return j.group_by("etype").aggregate(
                registered=j.count(where=j.recorded),
                attended=j.count(where=j.recorded & j.came),
                unrecorded=j.count(where=~j.recorded),
            )

        # (the end of the past, which moves with the clock while the cycle runs, is read
        # from the engine's clock table: one SQL for every report)
        by_type = sorted(self.summary("show_rate", build), key=lambda row: row["etype"])
        res.rate(
            "show_rate",
            "cycle",
            "",
            sum(int(row["attended"]) for row in by_type),
            sum(int(row["registered"]) for row in by_type),
            defs["show_rate"],
        )
        for row in by_type:
            res.rate(
                "show_rate",
                "cycle",
                f"event_type={row['etype']}",
                int(row["attended"]),
                int(row["registered"]),
                defs["show_rate"],
            )
        res.add(
            "show_rate",
            "cycle",
            "unrecorded",
            sum(int(row["unrecorded"]) for row in by_type),
            None,
            "Registrations for past events of the cycle whose attendance was never "
            "recorded (left out of the show rate).",
        )

    def _volunteer_tiers(self, res: MetricResults, defs: dict[str, str]) -> None:
        c, tz = self.cycle, self.tz

        def build() -> ir.Table:
            a = self.table("activity")
            a = a.filter((a.type == "attendance") & R.attended(a))
            ev = self.table("event")
            ev = ev.select(ev_id=ev.event_id, ev_type=ev.event_type)
            j = a.join(ev, a.event_id == ev.ev_id)
            j = j.filter(
                R.event_kind(j.ev_type).isin(list(R.SHIFT_EVENT_TYPES))
                & R.in_window(j.occurred_at, R.days_before(c.start_date, 365, tz), c.end)
            )
            occ = j.occurred_at
            aggs = {}
            for label, day in (("start", c.start_date), ("end", c.end_date)):
                hi = R.instant(day, tz)
                for days in (14, 30, 365):
                    aggs[f"{label}_{days}"] = j.count(
                        where=R.in_window(occ, R.days_before(day, days, tz), hi)
                    )
            per = j.group_by("person_id").aggregate(**aggs)
            columns = {}
            for label in ("start", "end"):
                n14, n30, n365 = (per[f"{label}_{d}"] for d in (14, 30, 365))
                columns[label] = ibis.cases(
                    (n14 >= 2, "2+ in 14 days"),
                    (n30 >= 2, "2+ in 30 days"),
                    (n30 == 1, "1 in 30 days"),
                    (n365 >= 1, "none in 30 days"),
                    else_="-",
                )
            # people by their tiers at both dates: one query (the tiers at each date
            # were two, each ~5 ms of a share report)
            per = per.select(**columns)
            return per.group_by(["start", "end"]).aggregate(people=per.count())

        rows = self.summary("volunteer_tiers", build)
        names = ["2+ in 14 days", "2+ in 30 days", "1 in 30 days", "none in 30 days"]
        for label in ("start", "end"):
            counts: dict[str, int] = {}
            for row in rows:
                counts[row[label]] = counts.get(row[label], 0) + row["people"]
            active = sum(int(counts.get(n, 0)) for n in names[:3])
            res.add(
                "volunteer_tiers",
                label,
                "",
                active,
                None,
                "Volunteers with at least one completed shift in the last 30 days. "
                + defs["volunteer_tiers"],
            )
            for name in names:
                res.add(
                    "volunteer_tiers",
                    label,
                    name,
                    int(counts.get(name, 0)),
                    None,
                    defs["volunteer_tiers"],
                )

    def contact_attempts(self, lo: dt.datetime, hi: dt.datetime) -> ir.Table:
        """Contact attempts in [lo, hi) with channel (lowercase), cycle week (1 = the
        cycle's first seven days; 0 = before the cycle) and conversation flag."""
        c = self.cycle
        t = self.table("contact_attempt")
        # voter and member contact is doors, calls and texts: an attempt to meet in
        # person (VAN's One on One marked Not Home; a held one is a 1:1, not an attempt)
        # stays in the store, out of these figures (an in-person channel read 0% by
        # construction, and the cycle's contact rate fell with each one)
        t = t.filter(R.in_period(t.attempted_at, lo, hi) & (R.lower(t.channel) != "in_person"))
        weeks = math.ceil((c.end_date - c.start_date).days / 7)
        week = ibis.cases(
            *(
                (
                    t.attempted_at
                    >= R.ts(R.instant(c.start_date + dt.timedelta(days=7 * k), self.tz)),
                    k + 1,
                )
                for k in reversed(range(weeks))
            ),
            else_=0,
        )
        return t.select(
            # the person, or the tool's (hashed) contact id for people not in the base
            who=ibis.coalesce("p:" + t.person_id, "k:" + t.contact_key),
            channel=R.lower(t.channel),
            week=week,
            conv=t.conversation.fill_null(False),
            replied=t.replied.fill_null(False),
            opted_out=t.opted_out.fill_null(False),
        )

    def cycle_contact_attempts(self) -> ir.Table:
        """:meth:`contact_attempts` of the cycle (kept as a temporary table)."""
        return self.contact_attempts(self.cycle.start, self.cycle.end)

    def contact_rows(self, site: str, attempts, by: list[str], *args) -> list[dict[str, Any]]:
        """Contact figures of ``attempts()`` (a table of :meth:`contact_attempts`), by the
        columns ``by`` (in their order)."""

        def build() -> ir.Table:
            t = attempts()
            metrics = dict(
                attempts=t.count(),
                conversations=t.count(where=t.conv),
                reached=t.who.nunique(where=t.conv),
                people=t.who.nunique(),
                replied=t.count(where=t.replied),
                opted_out=t.count(where=t.opted_out),
            )
            return t.group_by(by).aggregate(**metrics) if by else t.aggregate(**metrics)

        rows = self.summary(site, build, *by, *args)
        return sorted(rows, key=lambda row: [row[k] for k in by])

    def _contact(self, res: MetricResults, defs: dict[str, str]) -> None:
        c = self.cycle
        d = defs["contact"]

        def put(period: str, rows: list[dict[str, Any]], keys: list[str]) -> None:
            for row in rows:
                suffix = "".join(f"|{k}={row[k]}" for k in keys)
                if period == "cycle" and not keys:
                    res.add(
                        "contact",
                        period,
                        "",
                        row["conversations"],
                        None,
                        "Conversations (the headline figure). " + d,
                    )
                res.add("contact", period, "attempts" + suffix, row["attempts"], None, d)
                res.add("contact", period, "conversations" + suffix, row["conversations"], None, d)
                res.rate(
                    "contact",
                    period,
                    "contact_rate" + suffix,
                    row["conversations"],
                    row["attempts"],
                    d,
                )
                res.add(
                    "contact",
                    period,
                    "reached" + suffix,
                    row["reached"],
                    None,
                    "Unique people with a conversation. " + d,
                )
                if row.get("channel") == "text":
                    res.rate(
                        "contact",
                        period,
                        "reply_rate" + suffix,
                        row["replied"],
                        row["attempts"],
                        "Texts that got a reply, over texts sent.",
                    )
                    res.rate(
                        "contact",
                        period,
                        "opt_out_rate" + suffix,
                        row["opted_out"],
                        row["attempts"],
                        "Texts answered with an opt-out, over texts sent.",
                    )

        def any_attempt() -> ir.Table:
            t = self.table("contact_attempt")
            return t.aggregate(attempts=t.count())

        if not self.summary("contact_any", any_attempt)[0]["attempts"]:
            # No contact attempt at all (an organization without a voter-contact tool):
            # the figures the queries give, none for any channel, week or the year,
            # without their five queries (~10 ms of its share report)
            put("cycle", [dict.fromkeys(CONTACT_FIGURES, 0)], [])
            return

        def cycle() -> ir.Table:
            return self.made("contact_cycle")

        put("cycle", self.contact_rows("contact", cycle, []), [])
        put("cycle", self.contact_rows("contact", cycle, ["channel"]), ["channel"])
        put("week", self.contact_rows("contact", cycle, ["week"]), ["week"])
        by = ["week", "channel"]
        put("week", self.contact_rows("contact", cycle, by), by)
        year_start = R.instant(dt.date(c.end_date.year, 1, 1), self.tz)
        if c.end_date.month == 1 and c.end_date.day == 1:
            year_start = R.instant(dt.date(c.end_date.year - 1, 1, 1), self.tz)

        def year() -> ir.Table:
            return self.contact_attempts(year_start, c.end)

        put("year", self.contact_rows("contact_year", year, ["channel"]), ["channel"])


def compute_metrics(
    store_path: str | Path,
    org: Organization,
    card: CycleCard,
    previous: CycleCard | None = None,
    *,
    followup_dir: str | Path | None = None,
    save: bool = True,
    now: dt.datetime | None = None,
    reuse: bool = False,
    keep_state: bool = False,
    then: Callable[[Any], None] | None = None,
) -> MetricResults:
    """Compute every metric of one organization's cycle from the store.

    Writes follow-up lists when ``followup_dir`` is given (they hold personal data: the
    organization's own folder only) and keeps the values in ``metric_value`` when
    ``save`` (under a short exclusive lock, after the read lock is released), with the
    digest of what they were computed from (:func:`inputs_digest`).

    ``reuse=True`` (no follow-up lists): return the saved values instead of computing
    them again when they are still fresh (:func:`~cyclebook.metrics.values.fresh_results`:
    same inputs digest, the organization's data as they were computed from it, and the
    same clock while the cycle runs). The share reports for the cohort and for funders
    show the values the organization's own report has just computed and saved.

    ``keep_state=True`` (with ``save``): keep each person's state beside the values, for
    the roll-up of the organization's network (:data:`ROLLUP_STATE`), and the digest of
    the organization's rows they were computed from
    (:func:`cyclebook.store.data_digest`): a sync since that stored the same rows leaves
    them fresh.

    ``then``: called with the store connection the values were last on (the one they
    were saved on, after they are; read from, when reused or not saved), for a caller
    that reads more of the store: attaching it again cost a share report ~2 ms a time.
    """
    from cyclebook.metrics.followup import write_followup
    from cyclebook.metrics.values import definition_settings, fresh_results, save_values

    # values computed at a given ``now`` are not saved as reusable (the clock is not today's)
    inputs = inputs_digest(org, card, previous) if now is None else None
    if reuse and inputs is not None and followup_dir is None:
        saved = fresh_results(
            store_path,
            card.id,
            org.id,
            inputs,
            settled_at=R.instant(card.end, org.timezone),
            then=then,
        )
        if saved is not None:
            saved.notes = config_notes(org, previous)
            return saved
    with MetricEngine.open(store_path, org, card, previous, now=now) as engine:
        # under the read lock: any later sync of the organization ends after this instant
        read_at = dt.datetime.now(dt.UTC)
        # the rows they are computed from, for a network member (whose kept state the
        # roll-ups read): a later sync of the same rows leaves them fresh. (One scan of
        # the group's rows, 40-230 ms in the demo; the others' values are read again
        # after a sync by no report but a share report run without the group's own.)
        data = store.data_digest(engine.b.con, org.id) if keep_state and save and inputs else None
        results = engine.compute()
        if followup_dir is not None:
            results.followup = write_followup(engine, Path(followup_dir))
        state = None
        if keep_state and save and inputs is not None:
            # (people who never acted count in no roll-up figure: left out)
            state = engine.arrow(
                "rollup_state",
                lambda: engine.state.filter(engine.state.acted).select(*ROLLUP_STATE),
            )
        if not save and then is not None:
            then(engine.b.con)
    if save:
        save_values(
            store_path,
            results,
            computed_at=read_at,
            inputs=inputs,
            state=state,
            settings=definition_settings(org),
            data=data,
            then=then,
        )
    return results
