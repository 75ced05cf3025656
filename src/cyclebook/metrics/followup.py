"""Follow-up lists for organizers: CSV files with personal data, never shown in a report.

Three lists, each ready to load back into the organization's tools (one column of ids per
tool, from ``identity``; where a tool names a person by an email or a phone, which the
store keeps only as a salted hash in ``identity``, that email or phone from
``person_pii``):

* ``one_step`` — people one activity short of the next rung's rule (a rule needing two or
  more activities, of which they have one fewer than needed),
* ``potential_leaders`` — people on the rung just below the leader rung at the cycle's end,
* ``newly_lapsed`` — people who lapsed during the cycle.

People marked do-not-contact are left out. Only the row counts and file names may be shown.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from cyclebook.metrics import rules as R
from cyclebook.paths import FOLLOWUP_LISTS
from cyclebook.store import KEY_PREFIX, ident, session, sql_str

if TYPE_CHECKING:
    from cyclebook.metrics.engine import MetricEngine

LISTS: dict[str, str] = dict(
    zip(
        FOLLOWUP_LISTS,
        [
            "One activity away from the next rung",
            "On the rung just below leader",
            "Lapsed during the cycle",
        ],
        strict=True,
    )
)


def _one_step(engine: MetricEngine) -> pa.Table:
    ladder = engine.ladder
    steps = [
        (r, j, cond)
        for r in range(len(ladder) - 1)
        for j, cond in enumerate(ladder[r + 1].any_of)
        if cond.min_count >= 2
    ]
    if not steps:
        return _empty(["person_id", "rung", "next_rung", "why"])

    def build() -> ir.Table:
        s = engine.state
        parts = []
        for step, (r, j, cond) in enumerate(steps):
            nxt = ladder[r + 1]
            col = s[R.cond_column("end", r + 1, j)].fill_null(0)
            hit = s.filter((s.rung_end == r) & (col == cond.min_count - 1) & ~s.do_not_contact)
            parts.append(
                hit.select(
                    "person_id",
                    rung=ibis.literal(ladder[r].label),
                    next_rung=ibis.literal(nxt.label),
                    why=ibis.literal(
                        f"needs 1 more: {R.condition_text(cond)} within {nxt.window_days} days"
                    ),
                    step=ibis.literal(step),
                )
            )
        # a union has no order of its own: with more than one DuckDB thread its rows came
        # in any order, so a person one step short of two conditions got either's "why"
        # and the list's rows moved between runs. The ladder's order decides instead.
        return ibis.union(*parts).order_by(["step", "person_id"]).drop("step")

    return _first_per_person(engine.arrow("followup.one_step", build))


def _potential_leaders(engine: MetricEngine) -> pa.Table:
    li = engine.leader_index
    if li == 0:
        return _empty(["person_id", "rung", "actions_this_cycle"])
    below = engine.ladder[li - 1]

    def build() -> ir.Table:
        s = engine.state
        hit = s.filter((s.rung_end == li - 1) & ~s.do_not_contact)
        hit = hit.order_by([ibis.desc("n_cycle"), "person_id"])
        return hit.select(
            "person_id", rung=ibis.literal(below.label), actions_this_cycle=hit.n_cycle
        )

    return engine.arrow("followup.potential_leaders", build)


def _newly_lapsed(engine: MetricEngine) -> pa.Table:
    def build() -> ir.Table:
        s = engine.state
        hit = s.filter(s.lapsed & ~s.do_not_contact).order_by("person_id")
        return hit.select("person_id", last_activity_at=hit.last_q)

    return engine.arrow("followup.newly_lapsed", build)


def _empty(columns: list[str]) -> pa.Table:
    return pa.table({column: pa.array([], pa.string()) for column in columns})


def _first_per_person(table: pa.Table) -> pa.Table:
    """Each person's first row (as pandas' ``drop_duplicates("person_id")``)."""
    seen: set = set()
    keep = []
    for i, person in enumerate(table.column("person_id").to_pylist()):
        if person not in seen:
            seen.add(person)
            keep.append(i)
    return table if len(keep) == table.num_rows else table.take(keep)


def _contacts(engine: MetricEngine, person_ids: list[str]) -> pa.Table:
    """Names, emails, phones and per-tool ids of the given people (personal data): one
    row per person, a column ``<tool>_id`` per tool, tools in name order."""
    if not person_ids:
        return _empty(["person_id"])
    wanted = engine.values("wanted", pa.table({"wid": pa.array(person_ids, pa.string())}))

    def pii() -> ir.Table:
        t = engine.table("person_pii")
        p = engine.table("person")
        t = t.join(wanted, t.person_id == wanted.wid)
        # what the person allowed (an unsubscribe, an opt-out from texts) travels with the
        # email and the phone: a list without it had organizers text people who had
        # opted out
        return t.left_join(p, t.person_id == p.person_id).select(
            t.person_id, t.first_name, t.last_name, t.email, t.phone, p.email_ok, p.sms_ok
        )

    salt = engine.values("salt", pa.table({"salt": pa.array([_salt(engine)], pa.string())}))

    def ids() -> ir.Table:
        t = engine.table("identity")
        t = t.join(wanted, t.person_id == wanted.wid)
        # an id a tool made of the person's email or phone (a Spoke contact's cell, an
        # Action Network report without uuid, a sheet without an id column) is stored
        # as its salted hash: shown as the email or phone it is the hash of, which is
        # what the tool knows the person by (none when person_pii holds another one now)
        pii = engine.table("person_pii")
        t = t.left_join(pii, t.person_id == pii.person_id).select(
            t.person_id, t.source, t.source_id, pii.email, pii.phone
        )
        key = salt.salt.as_scalar()

        def hashed(value: ir.StringValue) -> ir.StringValue:  # store.key_of_value_sql's
            return KEY_PREFIX + (key + ":key:" + value).hexdigest("sha256").substr(0, 32)

        t = t.mutate(
            source_id=ibis.cases(
                (~t.source_id.startswith(KEY_PREFIX), t.source_id),
                (t.source_id == hashed(t.email), t.email),
                (t.source_id == hashed(t.phone), t.phone),
                else_=ibis.null("string"),
            )
        ).filter(lambda r: r.source_id.notnull())
        # one row per person and tool, its ids joined in the store: joined per group in
        # pandas, the 900,000 people of a large organization's lists took 20 s
        return t.group_by(["person_id", "source"]).aggregate(
            source_id=t.source_id.group_concat(";", order_by=t.source_id)
        )

    ids = engine.arrow("followup.ids", ids)
    people = engine.arrow("followup.pii", pii)
    if ids.num_rows == 0:
        return people
    # the ids side by side, one column per tool (what pandas' pivot and outer merge made:
    # 15-25 ms of every share report, for a few dozen people)
    per_person: dict[str, dict[str, str]] = {}
    for person, source, source_id in zip(
        *(ids.column(name).to_pylist() for name in ("person_id", "source", "source_id")),
        strict=True,
    ):
        per_person.setdefault(person, {})[source] = source_id
    sources = sorted({source for by_source in per_person.values() for source in by_source})
    listed = people.column("person_id").to_pylist()
    known = set(listed)
    extra = [person for person in per_person if person not in known]
    everyone = listed + extra
    columns = {
        name: pa.concat_arrays(
            [*people.column(name).chunks, pa.array(extra, pa.string())]
            if name == "person_id"
            else [*people.column(name).chunks, pa.nulls(len(extra), people.column(name).type)]
        )
        for name in people.column_names
    }
    for source in sources:
        columns[f"{source}_id"] = pa.array(
            [per_person.get(person, {}).get(source) for person in everyone], pa.string()
        )
    return pa.table(columns)


def _salt(engine: MetricEngine) -> str:
    """The cohort's salt (``meta``), which hashed the keys made of emails and phones."""
    from cyclebook.metrics.engine import store_table

    if engine.b.name == "duckdb":  # one statement, not an ibis query compiled each time
        rows = engine.b.con.execute("SELECT value FROM meta WHERE key = 'match_salt'").fetchall()
        return rows[0][0] if rows else ""
    meta = store_table(engine.b, "meta")
    found = meta.filter(meta.key == "match_salt").value.to_pyarrow().to_pylist()
    return found[0] if found else ""


# the permissions a list shows beside the contacts: yes, no (unsubscribed, opted out) or
# unknown (no tool said)
PERMISSIONS = {"email_ok": "may_email", "sms_ok": "may_text"}

# a name starting with one of = + - @ (or a tab, a carriage return) could run as a
# spreadsheet formula (DuckDB's RE2 syntax)
_FORMULA_SQL = r"^[=+\-@\t\r]"


def _contact_columns(contacts: pa.Table) -> list[str]:
    """SQL for the contact columns (over alias ``c``). Text typed by members (names) must
    not run as a spreadsheet formula when an organizer opens the CSV: a leading = + - @
    (or tab, carriage return) gets a quote in front."""
    columns = []
    for column in contacts.column_names:
        if column == "person_id":
            continue
        value = f"c.{ident(column)}"
        if column in PERMISSIONS:
            columns.append(
                f"CASE {value} WHEN TRUE THEN 'yes' WHEN FALSE THEN 'no' ELSE 'unknown' END "
                f"AS {PERMISSIONS[column]}"
            )
            continue
        if column in ("first_name", "last_name"):
            value = (
                f"CASE WHEN regexp_matches({value}, '{_FORMULA_SQL}') "
                f"THEN chr(39) || {value} ELSE {value} END"
            )
        columns.append(f"{value} AS {ident(column)}")
    return columns


def write_followup(engine: MetricEngine, out_dir: Path) -> list[tuple[str, int, Path]]:
    """Write the three lists as CSV (owner-only permissions); returns (name, rows, path).

    The lists are joined with the people's contacts and written by DuckDB (an in-memory
    session, over the frames): pandas' merge and to_csv took 10 s of a
    million-person organization's 1.2 million list rows."""

    # (people marked do-not-contact: left out by each list's query)
    lists = {
        "one_step": _one_step(engine),
        "potential_leaders": _potential_leaders(engine),
        "newly_lapsed": _newly_lapsed(engine),
    }
    everyone = sorted(
        {p for table in lists.values() for p in table.column("person_id").to_pylist()}
    )
    contacts = _contacts(engine, everyone)
    out_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(out_dir, 0o700)
    columns = "".join(", " + c for c in _contact_columns(contacts))
    # the three lists as one table, each row with its list and its place in it (one
    # table to register, not three: ~1 ms each)
    together = pa.concat_tables(
        [
            table.append_column(
                "cb_list", pa.array([name] * table.num_rows, pa.string())
            ).append_column("cb_row", pa.array(range(table.num_rows), pa.int64()))
            for name, table in lists.items()
        ],
        promote_options="default",
    )
    written = []
    with _writer(engine) as (con, register):
        contacts_name = register("followup_contacts", contacts)
        lists_name = register("followup_lists", together)
        for name, table in lists.items():
            path = out_dir / f"{name}.csv"
            tmp = path.with_suffix(".csv.tmp")
            own = ", ".join(f"f.{ident(column)}" for column in table.column_names)
            (rows,) = con.execute(
                f"""COPY (
                    SELECT {sql_str(LISTS[name])} AS "list", {own}{columns}
                    FROM {ident(lists_name)} f LEFT JOIN {ident(contacts_name)} c USING (person_id)
                    WHERE f.cb_list = {sql_str(name)}
                    ORDER BY f.cb_row
                ) TO {sql_str(str(tmp))} (HEADER, DELIMITER ',')"""
            ).fetchone()
            os.chmod(tmp, 0o600)
            tmp.replace(path)
            written.append((name, int(rows), path))
    return written


@contextlib.contextmanager
def _writer(engine: MetricEngine) -> Iterator[tuple[Any, Callable[[str, pa.Table], str]]]:
    """A DuckDB connection the lists are written on, and how to register a table on it
    (returns the name to query it by): the engine's own connection on the DuckDB store
    (its tables registered as the engine's, dropped when it closes; a session of its own
    cost ~5 ms), else a session of the process's DuckDB instance."""
    if engine.b.name == "duckdb":
        yield engine.b.con, lambda name, table: engine.values(name, table).get_name()
        return
    with session() as con:
        con.execute("SET TimeZone = 'UTC'")

        def register(name: str, table: pa.Table) -> str:
            con.register(f"cb_{name}", table)
            return f"cb_{name}"

        yield con, register
