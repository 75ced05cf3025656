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

import os
from pathlib import Path
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
import pandas as pd
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


def _one_step(engine: MetricEngine) -> pd.DataFrame:
    ladder = engine.ladder
    steps = [
        (r, j, cond)
        for r in range(len(ladder) - 1)
        for j, cond in enumerate(ladder[r + 1].any_of)
        if cond.min_count >= 2
    ]
    if not steps:
        return pd.DataFrame(columns=["person_id", "rung", "next_rung", "why"])

    def build() -> ir.Table:
        s = engine.state
        parts = []
        for r, j, cond in steps:
            nxt = ladder[r + 1]
            col = s[R.cond_column("end", r + 1, j)].fill_null(0)
            hit = s.filter((s.rung_end == r) & (col == cond.min_count - 1))
            parts.append(
                hit.select(
                    "person_id",
                    rung=ibis.literal(ladder[r].label),
                    next_rung=ibis.literal(nxt.label),
                    why=ibis.literal(
                        f"needs 1 more: {R.condition_text(cond)} within {nxt.window_days} days"
                    ),
                )
            )
        return ibis.union(*parts)

    return engine.frame("followup.one_step", build).drop_duplicates("person_id")


def _potential_leaders(engine: MetricEngine) -> pd.DataFrame:
    li = engine.leader_index
    if li == 0:
        return pd.DataFrame(columns=["person_id", "rung", "actions_this_cycle"])
    below = engine.ladder[li - 1]

    def build() -> ir.Table:
        s = engine.state
        hit = s.filter(s.rung_end == li - 1).order_by([ibis.desc("n_cycle"), "person_id"])
        return hit.select(
            "person_id", rung=ibis.literal(below.label), actions_this_cycle=hit.n_cycle
        )

    return engine.frame("followup.potential_leaders", build)


def _newly_lapsed(engine: MetricEngine) -> pd.DataFrame:
    def build() -> ir.Table:
        s = engine.state
        hit = s.filter(s.lapsed).order_by("person_id")
        return hit.select("person_id", last_activity_at=hit.last_q)

    return engine.frame("followup.newly_lapsed", build)


def _contacts(engine: MetricEngine, person_ids: list[str]) -> pd.DataFrame:
    """Names, emails, phones and per-tool ids of the given people (personal data)."""
    if not person_ids:
        return pd.DataFrame(columns=["person_id"])
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

    ids = engine.frame("followup.ids", ids)
    people = engine.frame("followup.pii", pii)
    if not ids.empty:
        wide = ids.pivot(index="person_id", columns="source", values="source_id")
        wide.columns = [f"{col}_id" for col in wide.columns]
        people = people.merge(wide.reset_index(), on="person_id", how="outer")
    return people


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


def _contact_columns(contacts: pd.DataFrame) -> list[str]:
    """SQL for the contact columns (over alias ``c``). Text typed by members (names) must
    not run as a spreadsheet formula when an organizer opens the CSV: a leading = + - @
    (or tab, carriage return) gets a quote in front."""
    columns = []
    for column in contacts.columns.drop("person_id"):
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

    def do_not_contact() -> ir.Table:
        s = engine.state
        return s.filter(s.do_not_contact).select("person_id")

    dnc = set(engine.frame("followup.do_not_contact", do_not_contact).person_id)
    frames = {
        "one_step": _one_step(engine),
        "potential_leaders": _potential_leaders(engine),
        "newly_lapsed": _newly_lapsed(engine),
    }
    everyone = sorted({p for f in frames.values() for p in f.person_id} - dnc)
    contacts = _contacts(engine, everyone)
    out_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(out_dir, 0o700)
    columns = "".join(", " + c for c in _contact_columns(contacts))
    written = []
    # a session of the process's DuckDB instance, not an instance of its own
    with session() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.register("cb_contacts", contacts)
        con.register("cb_dnc", pd.DataFrame({"person_id": sorted(dnc)}, dtype="string"))
        for name, frame in frames.items():
            con.register("cb_list", frame.assign(cb_row=range(len(frame))))
            path = out_dir / f"{name}.csv"
            tmp = path.with_suffix(".csv.tmp")
            (rows,) = con.execute(
                f"""COPY (
                    SELECT {sql_str(LISTS[name])} AS "list", f.* EXCLUDE (cb_row){columns}
                    FROM cb_list f LEFT JOIN cb_contacts c USING (person_id)
                    WHERE f.person_id NOT IN (SELECT person_id FROM cb_dnc)
                    ORDER BY f.cb_row
                ) TO {sql_str(str(tmp))} (HEADER, DELIMITER ',')"""
            ).fetchone()
            os.chmod(tmp, 0o600)
            tmp.replace(path)
            written.append((name, int(rows), path))
    return written
