"""Follow-up lists for organizers: CSV files with personal data, never shown in a report.

Three lists, each ready to load back into the organization's tools (one column of ids per
tool, from ``identity``):

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
import pandas as pd
import pyarrow as pa

from cyclebook.metrics import rules as R
from cyclebook.metrics.rules import frame_of
from cyclebook.store import ident, sql_str

if TYPE_CHECKING:
    from cyclebook.metrics.engine import MetricEngine

LISTS: dict[str, str] = {
    "one_step": "One activity away from the next rung",
    "potential_leaders": "On the rung just below leader",
    "newly_lapsed": "Lapsed during the cycle",
}


def _one_step(engine: MetricEngine) -> pd.DataFrame:
    s = engine.state
    parts = []
    ladder = engine.ladder
    for r in range(len(ladder) - 1):
        nxt = ladder[r + 1]
        for j, cond in enumerate(nxt.any_of):
            if cond.min_count < 2:
                continue
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
    if not parts:
        return pd.DataFrame(columns=["person_id", "rung", "next_rung", "why"])
    frame = ibis.union(*parts).pipe(frame_of)
    return frame.drop_duplicates("person_id")


def _potential_leaders(engine: MetricEngine) -> pd.DataFrame:
    s = engine.state
    li = engine.leader_index
    if li == 0:
        return pd.DataFrame(columns=["person_id", "rung", "actions_this_cycle"])
    below = engine.ladder[li - 1]
    hit = s.filter(s.rung_end == li - 1).order_by([ibis.desc("n_cycle"), "person_id"])
    return hit.select(
        "person_id", rung=ibis.literal(below.label), actions_this_cycle=hit.n_cycle
    ).pipe(frame_of)


def _newly_lapsed(engine: MetricEngine) -> pd.DataFrame:
    s = engine.state
    hit = s.filter(s.lapsed).order_by("person_id")
    return hit.select("person_id", last_activity_at=hit.last_q).pipe(frame_of)


def _contacts(engine: MetricEngine, person_ids: list[str]) -> pd.DataFrame:
    """Names, emails, phones and per-tool ids of the given people (personal data)."""
    if not person_ids:
        return pd.DataFrame(columns=["person_id"])
    wanted = engine.values("wanted", pa.table({"wid": pa.array(person_ids, pa.string())}))
    pii = engine.table("person_pii")
    pii = pii.join(wanted, pii.person_id == wanted.wid).select(
        "person_id", "first_name", "last_name", "email", "phone"
    )
    ident = engine.table("identity")
    ident = ident.join(wanted, ident.person_id == wanted.wid)
    # one row per person and tool, its ids joined in the store: joined per group in
    # pandas, the 900,000 people of a large organization's lists took 20 s
    ids = (
        ident.group_by(["person_id", "source"])
        .aggregate(source_id=ident.source_id.group_concat(";", order_by=ident.source_id))
        .pipe(frame_of)
    )
    people = pii.pipe(frame_of)
    if not ids.empty:
        wide = ids.pivot(index="person_id", columns="source", values="source_id")
        wide.columns = [f"{col}_id" for col in wide.columns]
        people = people.merge(wide.reset_index(), on="person_id", how="outer")
    return people


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
    connection of its own, over the frames): pandas' merge and to_csv took 10 s of a
    million-person organization's 1.2 million list rows."""
    import duckdb

    s = engine.state
    dnc = set(s.filter(s.do_not_contact).select("person_id").pipe(frame_of).person_id)
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
    con = duckdb.connect()
    written = []
    try:
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
    finally:
        con.close()
    return written
