"""Metric values: what the engine produces, how they are kept in the store and read back.

A value is one row of ``metric_value``: ``(cycle, org_id, metric, period, dimension)``
identifies it. Conventions every reader can rely on:

* ``metric`` is one of :data:`METRICS`.
* ``period`` is ``start`` / ``end`` (a state at the cycle's first / last instant),
  ``cycle`` (something that happened during the cycle), ``week`` (one week of the cycle),
  ``transition`` (ladder start→end) or ``year`` (calendar year to the cycle's end).
* ``dimension`` is ``''`` for the metric's **headline** figure; otherwise a breakdown
  such as ``member`` (a rung), ``source=mobilize``, ``attempts|channel=door``.
* When ``denominator`` is set the value is a **rate** (0–1) of that many people/rows;
  otherwise the value is a count.

Breakdowns that add up (what a suppression of linked figures must know):

* ``ladder`` ``start``/``end``: the rungs add up to the headline; ``transition``
  ``<from>><to>`` cells (from: a rung, ``new`` or ``off``; to: a rung or ``off``), a row
  of rungs adds up to that rung at ``start``.
* ``movement`` ``cycle``: ``<rung>:up|stayed|down`` — a row adds up to the rung at
  ``start``; the headline (depth) is the sum of the ``<rung>:up``; ``new:joined`` and
  ``off:joined`` add up to ``joined``.
* ``new_people`` ``source=<tool>`` add up to the headline, and are the denominators of
  ``absorption`` ``source=<tool>``.
* ``contact``: ``<measure>|channel=<c>`` add up to ``<measure>`` for attempts and
  conversations (``reached`` counts unique people: it does not add up);
  ``<measure>|week=<k>`` and ``<measure>|week=<k>|channel=<c>`` likewise.
* ``volunteer_tiers`` ``start``/``end``: the headline is the sum of the first three tiers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

from cyclebook import store
from cyclebook.config import (
    METRICS,  # the one list (cohort.yml's consent is checked against it)
    cycles_after,
)

if TYPE_CHECKING:
    import duckdb

    from cyclebook.config import Organization

# The period of each metric's headline figure (dimension ''): a state at the cycle's end,
# or what happened during the cycle.
HEADLINE_PERIOD: dict[str, str] = {
    "ladder": "end",
    "active_base": "end",
    "leaders": "end",
    "leader_ratio": "end",
    "volunteer_tiers": "end",
    "match_rate": "end",
}


def headline_period(metric: str) -> str:
    return HEADLINE_PERIOD.get(metric, "cycle")


COLUMNS = ["metric", "period", "dimension", "value", "denominator", "definition"]


@dataclass(frozen=True)
class MetricValue:
    metric: str
    period: str
    dimension: str
    value: float | None
    denominator: float | None = None
    definition: str = ""

    @property
    def is_rate(self) -> bool:
        return self.denominator is not None

    @property
    def numerator(self) -> float | None:
        """For a rate, the count it was computed from (value × denominator)."""
        if self.value is None:
            return None
        if self.denominator is None:
            return self.value
        return round(self.value * self.denominator)


# the columns of a saved value that make a MetricValue, in its fields' order
RESULT_COLUMNS = ("metric", "period", "dimension", "value", "denominator", "definition")


@dataclass
class MetricResults:
    """All values of one organization's cycle, plus lookups for the report."""

    cycle: str
    org_id: str
    values: list[MetricValue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # follow-up lists written for organizers: (list name, rows, file path)
    followup: list[tuple[str, int, Path]] = field(default_factory=list)

    def add(
        self,
        metric: str,
        period: str,
        dimension: str,
        value: float | None,
        denominator: float | None = None,
        definition: str = "",
    ) -> None:
        if metric not in METRICS:
            raise ValueError(f"unknown metric key {metric!r}")
        value = None if value is None or pd.isna(value) else float(value)
        denominator = None if denominator is None or pd.isna(denominator) else float(denominator)
        self.values.append(MetricValue(metric, period, dimension, value, denominator, definition))

    def rate(
        self, metric: str, period: str, dimension: str, num: float, den: float, definition: str
    ) -> None:
        """Add a rate; a rate over nobody is None (not zero)."""
        self.add(metric, period, dimension, (num / den) if den else None, den, definition)

    def get(
        self, metric: str, period: str | None = None, dimension: str = ""
    ) -> MetricValue | None:
        for v in self.values:
            if v.metric == metric and v.dimension == dimension and period in (None, v.period):
                return v
        return None

    def headline(self, metric: str) -> MetricValue | None:
        """The metric's headline figure (see :data:`HEADLINE_PERIOD`)."""
        return self.get(metric, headline_period(metric), "")

    def value(self, metric: str, period: str | None = None, dimension: str = "") -> float | None:
        v = self.get(metric, period, dimension)
        return None if v is None else v.value

    def frame(self) -> pd.DataFrame:
        rows = [
            {
                "cycle": self.cycle,
                "org_id": self.org_id,
                "metric": v.metric,
                "period": v.period,
                "dimension": v.dimension,
                "value": v.value,
                "denominator": v.denominator,
                "definition": v.definition,
            }
            for v in self.values
        ]
        return pd.DataFrame(
            rows,
            columns=[
                "cycle",
                "org_id",
                "metric",
                "period",
                "dimension",
                "value",
                "denominator",
                "definition",
            ],
        )

    def select(self, metric: str, period: str | None = None) -> list[MetricValue]:
        return [v for v in self.values if v.metric == metric and period in (None, v.period)]

    @classmethod
    def from_rows(cls, cycle: str, org_id: str, rows: Iterable[tuple]) -> MetricResults:
        """From rows of :data:`RESULT_COLUMNS` as DuckDB returns them (missing values
        None or NaN)."""
        res = cls(cycle, org_id)
        for metric, period, dimension, value, denominator, definition in rows:
            res.values.append(
                MetricValue(
                    metric,
                    period,
                    dimension,
                    None if pd.isna(value) else float(value),
                    None if pd.isna(denominator) else float(denominator),
                    definition or "",
                )
            )
        return res

    @classmethod
    def from_frame(cls, cycle: str, org_id: str, frame: pd.DataFrame) -> MetricResults:
        return cls.from_rows(cycle, org_id, frame[list(RESULT_COLUMNS)].itertuples(index=False))


def inputs_key(cycle: str, org_id: str) -> str:
    """The ``meta`` row that holds the inputs digest of an organization's saved values."""
    return f"metric_inputs/{cycle}/{org_id}"


def state_key(cycle: str, org_id: str) -> str:
    """The ``meta`` row that says an organization's ``person_state`` rows for a cycle
    were kept with its values (its value: the same inputs digest)."""
    return f"person_state/{cycle}/{org_id}"


def data_key(cycle: str, org_id: str) -> str:
    """The ``meta`` row that holds the digest of the organization's data its saved values
    were computed from (:func:`cyclebook.store.data_digest`)."""
    return f"metric_data/{cycle}/{org_id}"


def redefined_key(cycle: str, org_id: str) -> str:
    """The ``meta`` row that keeps, per metric, the definition an organization's values
    for a cycle were first saved under and the one they were last computed under, while
    the two differ (:func:`save_values`, :func:`redefinitions`)."""
    return f"redefined/{cycle}/{org_id}"


def headline_definitions(rows: Iterable[tuple[str, str, str, str | None]]) -> dict[str, str]:
    """Each metric's definition, from its headline row: (metric, period, dimension,
    definition) rows."""
    return {
        metric: definition
        for metric, period, dimension, definition in rows
        if dimension == "" and period == headline_period(metric) and definition
    }


def settings_key(cycle: str, org_id: str) -> str:
    """The ``meta`` row that keeps the definition settings (:func:`definition_settings`)
    an organization's values for a cycle were last saved under."""
    return f"definition_settings/{cycle}/{org_id}"


def definition_settings(org: Organization) -> str:
    """What an organization's definitions are made of in cohort.yml (its ladder and
    metric settings), as text to compare: a definition's words changed by cyclebook
    itself (a release that words a definition better) change none of it."""
    return json.dumps(
        {
            "ladder": [rung.model_dump(mode="json") for rung in org.ladder],
            "metrics": org.metrics.model_dump(mode="json"),
        },
        sort_keys=True,
    )


def _redefined(con, results: MetricResults, settings: str | None = None) -> str | None:
    """The :func:`redefined_key` value once ``results`` replace the saved values (None:
    nothing differs): a definition already recorded as changed keeps the one the values
    were first saved under; a definition back to it is no longer recorded.

    ``settings`` (:func:`definition_settings`): a definition's text that changed while
    the organization's settings did not (or with no settings saved to compare, values
    saved by an earlier cyclebook) was reworded by cyclebook, not edited: nothing new is
    recorded, and what was recorded stays."""
    key = redefined_key(results.cycle, results.org_id)
    saved = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
    changes: dict[str, list[str]] = json.loads(saved[0][0]) if saved else {}
    if settings is not None:
        kept = con.execute(
            "SELECT value FROM meta WHERE key = ?", [settings_key(results.cycle, results.org_id)]
        ).fetchall()
        if not kept or kept[0][0] == settings:
            return json.dumps(changes, sort_keys=True) if changes else None
    before = headline_definitions(
        con.execute(
            "SELECT metric, period, dimension, definition FROM metric_value "
            "WHERE cycle = ? AND org_id = ?",
            [results.cycle, results.org_id],
        ).fetchall()
    )
    now = headline_definitions(
        (v.metric, v.period, v.dimension, v.definition) for v in results.values
    )
    out = {}
    for metric, definition in now.items():
        first = changes[metric][0] if metric in changes else before.get(metric)
        if first and first != definition:
            out[metric] = [first, definition]
    return json.dumps(out, sort_keys=True) if out else None


def redefinitions(store_path: str | Path, cycle: str, org_id: str) -> dict[str, tuple[str, str]]:
    """The metrics whose values for the cycle were computed again under another
    definition than the one they were first saved under: ``{metric: (then, now)}``."""
    if not Path(store_path).exists():
        return {}
    with store.connect(store_path) as con:
        return redefinitions_on(con, cycle, org_id)


def redefinitions_on(con, cycle: str, org_id: str) -> dict[str, tuple[str, str]]:
    """:func:`redefinitions` on an open store connection."""
    saved = con.execute(
        "SELECT value FROM meta WHERE key = ?", [redefined_key(cycle, org_id)]
    ).fetchall()
    return {m: (a, b) for m, (a, b) in json.loads(saved[0][0]).items()} if saved else {}


# The metrics a change to a measure (``measure_history``'s ``measure``, without a
# ``ladder.<rung>``'s rung) may change the definition of, besides the measure itself
_CHANGES_TOO = {
    "ladder": {"movement", "conversion", "leaders", "leader_ratio"},
    "leaders": {"leader_ratio"},
    "active_base": {"leader_ratio", "lapsed", "retention"},
}


def explained(org: Organization, cycle: str, cycles: Sequence[str], metric: str) -> bool:
    """Whether the organization's ``measure_history`` records a change to ``metric``'s
    definition in force in ``cycle`` (``cycles``: the cohort's, oldest first): adopted,
    and from this cycle or an earlier one (or from any cycle, when it cannot be undone:
    no ``replaced``)."""
    later = set(cycles_after(cycles, cycle))
    for change in org.measure_history:
        measure = change.measure.split(".")[0]
        if metric != measure and metric not in _CHANGES_TOO.get(measure, set()):
            continue
        if change.status == "adopted" and (change.cycle not in later or change.replaced is None):
            return True
    return False


def unexplained_redefinitions(
    store_path: str | Path, org: Organization, cycle: str, cycles: Sequence[str]
) -> dict[str, tuple[str, str]]:
    """:func:`redefinitions` that no ``measure_history`` entry explains (:func:`explained`):
    a definition edited by hand in cohort.yml silently rewrote a past cycle's figures."""
    return unexplained(redefinitions(store_path, cycle, org.id), org, cycle, cycles)


def unexplained(
    changes: dict[str, tuple[str, str]], org: Organization, cycle: str, cycles: Sequence[str]
) -> dict[str, tuple[str, str]]:
    """The ``changes`` (:func:`redefinitions`) no ``measure_history`` entry explains."""
    return {
        metric: change
        for metric, change in changes.items()
        if not explained(org, cycle, cycles, metric)
    }


def save_values(
    store_path: str | Path,
    results: MetricResults,
    *,
    computed_at: dt.datetime | None = None,
    inputs: str | None = None,
    state: pa.Table | None = None,
    settings: str | None = None,
    data: str | None = None,
    then: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> int:
    """Replace this organization's values for this cycle, under a short write lock.

    ``computed_at``: when the values were read from the store (default: now).
    ``inputs``: the digest of what they were computed from
    (:func:`cyclebook.metrics.engine.inputs_digest`), kept in ``meta`` with them so
    :func:`fresh_results` can reuse them; without it they are never reused.
    ``state``: the per-person state they were computed from (columns
    :data:`cyclebook.metrics.engine.ROLLUP_STATE`), kept in ``person_state`` for network
    roll-ups (:func:`fresh_state`). The organization's earlier state rows for the cycle go
    either way: state is only ever kept beside the values computed from it. ``data``:
    the digest of the organization's data they were computed from
    (:func:`cyclebook.store.data_digest`), kept with ``inputs``: a sync since that left
    the data as it was leaves them fresh.

    Values computed again under another definition than the saved ones (a definition
    edited in cohort.yml) are recorded (:func:`redefinitions`): a run warns of those no
    ``measure_history`` entry explains, and the cycle's report says so. ``settings``
    (:func:`definition_settings`) tells an edit from cyclebook's own rewording.

    ``then``: called with the store's connection once they are saved (a caller that
    reads more of the store, without attaching it once more).
    """
    now = computed_at or dt.datetime.now(dt.UTC)
    # the rows as Arrow, straight from the values (a pandas frame of them cost ~3 ms)
    n = len(results.values)
    frame = pa.table(
        {
            "cycle": pa.array([results.cycle] * n, pa.string()),
            "org_id": pa.array([results.org_id] * n, pa.string()),
            "metric": pa.array([v.metric for v in results.values], pa.string()),
            "period": pa.array([v.period for v in results.values], pa.string()),
            "dimension": pa.array([v.dimension for v in results.values], pa.string()),
            "value": pa.array([v.value for v in results.values], pa.float64()),
            "denominator": pa.array([v.denominator for v in results.values], pa.float64()),
            "suppressed": pa.array([False] * n, pa.bool_()),
            "definition": pa.array([v.definition for v in results.values], pa.string()),
            "computed_at": pa.array([now] * n, pa.timestamp("us", tz="UTC")),
        }
    )
    cycle, org_id = results.cycle, results.org_id
    key, rkey = inputs_key(cycle, org_id), redefined_key(cycle, org_id)
    skey, dkey = state_key(cycle, org_id), data_key(cycle, org_id)
    with store.connect(store_path, write=True) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            redefined = _redefined(con, results, settings)
            # the meta rows kept with the values, replaced in a statement each way (one
            # statement a row cost ~0.3 ms each)
            gone, kept = [rkey, key, skey, dkey], []
            if redefined is not None:
                kept.append((rkey, redefined))
            if settings is not None:
                gone.append(settings_key(cycle, org_id))
                kept.append((settings_key(cycle, org_id), settings))
            if inputs is not None:
                kept.append((key, inputs))
                if data is not None:
                    kept.append((dkey, data))
                if state is not None:
                    kept.append((skey, inputs))
            con.execute(f"DELETE FROM meta WHERE key IN ({', '.join('?' * len(gone))})", gone)
            if kept:
                con.execute(
                    "INSERT INTO meta VALUES " + ", ".join(["(?, ?)"] * len(kept)),
                    [part for row in kept for part in row],
                )
            where = [cycle, org_id]
            con.execute("DELETE FROM metric_value WHERE cycle = ? AND org_id = ?", where)
            # (the tables registered here go with the connection, closed next)
            con.register("_cb_new_values", frame)
            con.execute(
                "INSERT INTO metric_value (cycle, org_id, metric, period, dimension, value, "
                "denominator, suppressed, definition, computed_at) "
                "SELECT cycle, org_id, metric, period, dimension, value, denominator, "
                "suppressed, definition, computed_at FROM _cb_new_values"
            )
            con.execute("DELETE FROM person_state WHERE cycle = ? AND org_id = ?", where)
            if inputs is not None and state is not None:
                con.register("_cb_new_state", state)
                columns = ", ".join(state.column_names)
                con.execute(
                    f"INSERT INTO person_state (cycle, org_id, {columns}) "
                    f"SELECT ?, ?, {columns} FROM _cb_new_state",
                    where,
                )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        if then is not None:
            then(con)
    return frame.num_rows


def _fresh(
    con,
    key: str,
    cycle: str,
    org_id: str,
    inputs: str,
    settled_at: dt.datetime,
    now: dt.datetime | None,
) -> bool:
    """Whether the values (and what was kept with them under ``key``) are fresh, as
    :func:`fresh_results` defines it."""
    now = now or dt.datetime.now(dt.UTC)
    saved = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
    if saved != [(inputs,)]:
        return False
    # instants as microseconds since the epoch (TIMESTAMPTZ objects would need pytz)
    first, last, rows = con.execute(
        "SELECT epoch_us(min(computed_at)), epoch_us(max(computed_at)), count(*) "
        "FROM metric_value WHERE cycle = ? AND org_id = ?",
        [cycle, org_id],
    ).fetchall()[0]
    if not rows or first is None or first != last:
        return False
    [(synced,)] = con.execute(
        "SELECT epoch_us(max(coalesce(finished_at, started_at))) FROM sync_run WHERE org_id = ?",
        [org_id],
    ).fetchall()
    if synced is not None and synced >= first and not _data_as_read(con, cycle, org_id):
        return False
    computed = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=first)
    return not (computed < settled_at and computed.date() != now.astimezone(dt.UTC).date())


def _data_as_read(con, cycle: str, org_id: str) -> bool:
    """Whether the organization's data is what its values for the cycle were computed
    from (the digest saved with them, :func:`save_values`): asked only once a sync ran
    since, it costs a scan of the organization's rows. A sync that read an export saved
    again with the same rows (downloaded again, its columns in another order) made the
    values stale, and the network roll-ups computed every member's state again."""
    key = data_key(cycle, org_id)
    saved = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
    return bool(saved) and saved[0][0] == store.data_digest(con, org_id)


def fresh_state(
    con,
    cycle: str,
    org_id: str,
    inputs: str,
    *,
    settled_at: dt.datetime,
    now: dt.datetime | None = None,
) -> bool:
    """Whether ``person_state`` holds the organization's state for the cycle as computing
    it now would give: kept with values that are fresh (:func:`fresh_results`) for the
    same ``inputs``. ``con``: an open store connection."""
    return _fresh(con, state_key(cycle, org_id), cycle, org_id, inputs, settled_at, now)


def fresh_results(
    store_path: str | Path,
    cycle: str,
    org_id: str,
    inputs: str,
    *,
    settled_at: dt.datetime,
    now: dt.datetime | None = None,
    then: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> MetricResults | None:
    """The organization's saved values for the cycle if they are what computing them now
    would give, else None (``then``: called with the store's connection when they are,
    as :func:`save_values` calls it). Fresh means all of:

    * saved with the same ``inputs`` digest (metric code, the organization's definitions,
      the cycles' dates);
    * the organization's data as they were computed from it: no sync of the
      organization recorded since (a sync's ``finished_at`` is when its write began; a
      computation's ``computed_at`` is when its read began, under the store's lock, so a
      sync that could have changed the data read always ends later), or, after one, the
      same digest of its rows as the one saved with them (:func:`save_values`'s ``data``,
      kept for a network member: a sync of the same rows changes nothing);
    * computed after ``settled_at`` (the cycle's end: from then on nothing depends on the
      clock), or else on the same UTC day as ``now`` (while the cycle runs, "past
      events" move with the clock; the same day is what cached reports assume too, see
      :mod:`cyclebook.incremental`).
    """
    with store.connect(store_path) as con:
        if not _fresh(con, inputs_key(cycle, org_id), cycle, org_id, inputs, settled_at, now):
            return None
        rows = _result_rows(con, cycle, org_id)
        if then is not None:
            then(con)
    return MetricResults.from_rows(cycle, org_id, rows)


def _result_rows(con, cycle: str, org_id: str) -> list[tuple]:
    """One organization's saved values of one cycle, in the order :func:`read_values`
    gives them, as the rows :meth:`MetricResults.from_rows` reads (a frame of a few
    dozen rows cost a cohort or funder share report ~3 ms, twice)."""
    return con.execute(
        f"SELECT {', '.join(RESULT_COLUMNS)} "
        "FROM metric_value WHERE cycle = ? AND org_id = ? "
        "ORDER BY metric, period, dimension",
        [cycle, org_id],
    ).fetchall()


def read_values(
    store_path: str | Path,
    *,
    org_ids: Iterable[str] | None = None,
    cycles: Iterable[str] | None = None,
    metrics: Iterable[str] | None = None,
    headline_only: bool = False,
) -> pd.DataFrame:
    """Saved metric values as a frame (cycle, org_id, metric, period, dimension, value,
    denominator, suppressed, definition, computed_at), filtered as asked."""
    where, params = [], []
    for column, wanted in (("org_id", org_ids), ("cycle", cycles), ("metric", metrics)):
        if wanted is not None:
            wanted = list(wanted)
            if not wanted:
                where.append("FALSE")
                continue
            where.append(f"{column} IN ({', '.join('?' for _ in wanted)})")
            params.extend(wanted)
    if headline_only:
        where.append("dimension = ''")
    sql = "SELECT * FROM metric_value"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY org_id, cycle, metric, period, dimension"
    with store.connect(store_path) as con:
        return con.sql(sql, params=params).to_arrow_table().to_pandas()


def read_results(store_path: str | Path, cycle: str, org_id: str) -> MetricResults | None:
    """One organization's saved values for one cycle, or None when never computed."""
    with store.connect(store_path) as con:
        return read_results_on(con, cycle, org_id)


def read_results_on(con, cycle: str, org_id: str) -> MetricResults | None:
    """:func:`read_results` on an open store connection."""
    rows = _result_rows(con, cycle, org_id)
    return MetricResults.from_rows(cycle, org_id, rows) if rows else None


def previous_values(
    store_path: str | Path, org_id: str, cycles: Sequence[str]
) -> dict[str, MetricResults]:
    """Saved values of earlier cycles (e.g. ``card.previous`` or ``list_cycles``), by cycle
    (in the order of their ids, as :func:`read_values` sorts them).

    Read as rows, not as a frame: a reflect report's card reads two cycles' few dozen
    values, and the frame and its grouping were most of the card's time in a kernel."""
    cycles = list(cycles)
    if not cycles:
        return {}
    with store.connect(store_path) as con:
        rows = con.execute(
            f"SELECT cycle, {', '.join(RESULT_COLUMNS)} FROM metric_value "
            f"WHERE org_id = ? AND cycle IN ({', '.join('?' for _ in cycles)}) "
            "ORDER BY cycle, metric, period, dimension",
            [org_id, *cycles],
        ).fetchall()
    by_cycle: dict[str, list[tuple]] = {}
    for cycle, *values in rows:
        by_cycle.setdefault(cycle, []).append(values)
    return {
        cycle: MetricResults.from_rows(cycle, org_id, values) for cycle, values in by_cycle.items()
    }
