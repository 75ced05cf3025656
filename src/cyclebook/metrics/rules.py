"""Building blocks of the metric definitions: time boundaries and activity predicates.

Everything here produces ibis expressions, so the same definitions run on the DuckDB store
and, later, on a warehouse backend (Postgres, BigQuery) that ibis supports.

Time semantics (written once, used by every metric):

* A date ``D`` of the cycle card means the instant ``D 00:00`` in the organization's
  timezone. A cycle is the half-open interval ``[start, end)``; the next cycle's start is
  this cycle's end, so "state at end of c1" equals "state at start of c2".
* "Rung at d" (and "active at d") looks at activity in ``(d - window, d]``: an activity
  exactly ``window`` days before ``d`` is outside, one exactly at ``d`` is inside. Window
  days are calendar days in the organization's timezone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.datatypes as dtypes
import ibis.expr.types as ir
import pandas as pd

from cyclebook.config import Rung, RungCondition

UTC = dt.UTC
TS = dtypes.Timestamp(timezone="UTC")

# Attendance/signup statuses that are not an action by the person (the organizer invited
# them, they said no, or they took their sign-up back). They count for nothing on the
# ladder or in the base: two cancelled sign-ups made a person a member ("2+ actions").
NOT_AN_ACTION: tuple[str, ...] = ("invited", "declined", "cancelled")
# Statuses meaning the person was there (VAN "Completed", "Walk In").
ATTENDED_STATUSES: tuple[str, ...] = ("completed", "walk_in")
# Statuses meaning the person said they would come (the show-rate denominator).
REGISTERED_STATUSES: tuple[str, ...] = ("registered", "confirmed", "completed", "no_show")
# Event types that are volunteer shifts (Mobilize's, and the same written by VAN or a
# spreadsheet: compared after :func:`event_kind`).
SHIFT_EVENT_TYPES: tuple[str, ...] = (
    "CANVASS",
    "CANVASSING",
    "PHONE_BANK",
    "PHONEBANK",
    "TEXT_BANK",
    "TEXTBANK",
    "VOTER_REG",
    "VOTER_REGISTRATION",
)


def instant(day: dt.date, tz: str) -> dt.datetime:
    """``day 00:00`` in the organization's timezone, as a UTC datetime."""
    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def days_before(day: dt.date, days: int, tz: str) -> dt.datetime:
    """The instant ``days`` calendar days before ``day 00:00`` (local), in UTC."""
    return instant(day - dt.timedelta(days=days), tz)


def ts(value: dt.datetime) -> ir.TimestampScalar:
    """A UTC timestamp literal (compares correctly with TIMESTAMPTZ columns): its ISO text
    cast, a constant as DuckDB reads it. ibis's own timestamp literal is a call of
    MAKE_TIMESTAMPTZ to bind and fold: the per-person state's query has 55 of them, ~6 of
    its ~29 ms in a share report."""
    return ibis.literal(value.astimezone(UTC).isoformat()).cast(TS)


@dataclass(frozen=True)
class Cycle:
    """A cycle's boundaries as instants, plus the dates they came from."""

    id: str
    start_date: dt.date
    end_date: dt.date
    tz: str

    @property
    def start(self) -> dt.datetime:
        return instant(self.start_date, self.tz)

    @property
    def end(self) -> dt.datetime:
        return instant(self.end_date, self.tz)

    def at(self, label: str) -> dt.date:
        return {"start": self.start_date, "end": self.end_date}[label]


def in_window(col: ir.TimestampColumn, lo: dt.datetime, hi: dt.datetime) -> ir.BooleanValue:
    """``lo < col <= hi`` — the (d - window, d] rule."""
    return (col > ts(lo)) & (col <= ts(hi))


def in_period(col: ir.TimestampColumn, lo: dt.datetime, hi: dt.datetime) -> ir.BooleanValue:
    """``lo <= col < hi`` — a cycle's [start, end)."""
    return (col >= ts(lo)) & (col < ts(hi))


def frame_of(expr: ir.Table) -> pd.DataFrame:
    """Execute an expression into pandas via Arrow (ibis's own pandas conversion warns
    under pandas 3)."""
    return expr.to_pyarrow().to_pandas()


def scalar_of(expr: ir.Scalar):
    """Execute a scalar expression into a Python value (via Arrow)."""
    return expr.to_pyarrow().as_py()


def lower(col: ir.StringValue) -> ir.StringValue:
    return col.fill_null("").lower()


def event_kind(col: ir.StringValue) -> ir.StringValue:
    """An event type in one spelling: "phone bank", "Phone-Bank" and "PHONE_BANK" all
    read PHONE_BANK; a missing type reads OTHER."""
    kind = col.fill_null("").strip().upper().re_replace(r"[^A-Z0-9]+", "_")
    return ibis.cases((kind == "", "OTHER"), else_=kind)


def is_action(t: ir.Table) -> ir.BooleanValue:
    return ~lower(t.status).isin(list(NOT_AN_ACTION))


def attended(t: ir.Table) -> ir.BooleanValue:
    return t.attended.fill_null(False) | lower(t.status).isin(list(ATTENDED_STATUSES))


def of_types(t: ir.Table, types: Sequence[str] | None) -> ir.BooleanValue:
    if not types:
        return ibis.literal(True)
    return t.type.isin(list(types))


def prepare(t: ir.Table) -> ir.Table:
    """Derive, once per row, the flags several rung conditions test (attended, role), so
    a ladder of many conditions does not recompute them in each aggregate filter.

    ``cb_echo``: on a tagging put on a person at the very instant the same tool recorded
    another of their activities, that activity's type (else NULL). Action Network tags a
    person the moment a form is submitted: "two or more activities" counted the form and
    its tag as two, and one form made a member. Such a tag is not counted where the
    activity it came with is (see :func:`condition`); a rung over tags alone still
    counts it."""
    t = t.mutate(cb_came=attended(t), cb_role=lower(t.role))
    tags = t.filter(t.type == "tagging")
    tags = tags.select(
        echo_id=tags.activity_id,
        echo_pid=tags.person_id,
        echo_at=tags.occurred_at,
        echo_src=tags.source,
    )
    others = t.filter(t.type != "tagging")
    others = others.select(
        with_pid=others.person_id,
        with_at=others.occurred_at,
        with_src=others.source,
        with_type=others.type,
    )
    pairs = tags.join(
        others,
        [
            tags.echo_pid == others.with_pid,
            tags.echo_at == others.with_at,
            tags.echo_src == others.with_src,
        ],
    )
    echoes = pairs.group_by("echo_id").aggregate(cb_echo=pairs.with_type.min())
    return t.left_join(echoes, t.activity_id == echoes.echo_id).drop("echo_id")


def condition(t: ir.Table, cond: RungCondition) -> ir.BooleanValue:
    """Does one activity row satisfy a rung condition's filters (not its count)?"""
    prepared = "cb_came" in t.columns
    pred: ir.BooleanValue = of_types(t, cond.activity_types)
    if prepared:  # an automatic tag counts only where its activity does not
        types = cond.activity_types
        counted = t.cb_echo.notnull() if not types else t.cb_echo.isin(list(types))
        pred = pred & ~counted.fill_null(False)
    if cond.attended_only:
        pred = pred & (t.cb_came if prepared else attended(t))
    if cond.roles:
        role = t.cb_role if prepared else lower(t.role)
        pred = pred & role.isin([r.lower() for r in cond.roles])
    if cond.min_assessment is not None:
        pred = pred & (t.score >= cond.min_assessment).fill_null(False)
    if cond.max_assessment is not None:
        pred = pred & (t.score <= cond.max_assessment).fill_null(False)
    return pred


def condition_text(cond: RungCondition) -> str:
    what = " or ".join(t.replace("_", "-") for t in cond.activity_types or []) or "any"
    parts = [f"{cond.min_count}+ {what} activit{'y' if cond.min_count == 1 else 'ies'}"]
    if cond.attended_only:
        parts.append("marked attended")
    if cond.roles:
        parts.append("as " + "/".join(cond.roles))
    if cond.min_assessment is not None:
        parts.append(f"assessment score ≥ {cond.min_assessment:g}")
    if cond.max_assessment is not None:
        parts.append(f"assessment score ≤ {cond.max_assessment:g}")
    return ", ".join(parts)


def rung_text(rung: Rung) -> str:
    rules = "; or ".join(condition_text(c) for c in rung.any_of)
    return f"{rung.label}: {rung.definition} (rule: {rules}, within {rung.window_days} days)"


def cond_column(label: str, rung_index: int, cond_index: int) -> str:
    return f"{label}_r{rung_index}_c{cond_index}"


def ladder_counts(
    t: ir.Table, ladder: Sequence[Rung], dates: dict[str, dt.date], tz: str
) -> dict[str, ir.IntegerScalar]:
    """Aggregations: per date label, rung and condition, the qualifying-activity count."""
    aggs: dict[str, ir.IntegerScalar] = {}
    for label, day in dates.items():
        hi = instant(day, tz)
        for i, rung in enumerate(ladder):
            lo = days_before(day, rung.window_days, tz)
            window = in_window(t.occurred_at, lo, hi)
            for j, cond in enumerate(rung.any_of):
                aggs[cond_column(label, i, j)] = t.count(where=window & condition(t, cond))
    return aggs


def rung_index(s: ir.Table, ladder: Sequence[Rung], label: str) -> ir.IntegerValue:
    """Highest rung whose rule holds (-1: on no rung) from :func:`ladder_counts` columns."""
    cases = []
    for i in reversed(range(len(ladder))):
        holds = [
            s[cond_column(label, i, j)].fill_null(0) >= cond.min_count
            for j, cond in enumerate(ladder[i].any_of)
        ]
        cases.append((ibis.or_(*holds), i))
    return ibis.cases(*cases, else_=-1)


def scan_floor(ladder: Sequence[Rung], dates: dict[str, dt.date], tz: str) -> dt.datetime:
    """The earliest instant any ladder window reaches back to."""
    widest = max(r.window_days for r in ladder)
    return days_before(min(dates.values()), widest, tz)
