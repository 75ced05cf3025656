"""The Measure Gallery and the cohort summary: what each group measures, why, and its
figures this cycle, made safe for the audience.

Only what an organization agreed to share with the audience (``consent`` in cohort.yml)
appears; every count goes through :mod:`cyclebook.privacy` suppression (small counts read
"<10", secondary suppression within each breakdown, rates on small counts withheld).
Everything is built from :mod:`cyclebook.display` blocks, which escape text.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from cyclebook import charts
from cyclebook import display as d
from cyclebook.card import percent
from cyclebook.config import Cohort, CycleCard, Organization
from cyclebook.privacy import (
    HIDDEN,
    SMALL,
    THRESHOLD,
    WITHHELD,
    allowed_metrics,
    is_allowed,
    is_small,
    measure_allowed,
    suppress_linked,
)

__all__ = [
    "METRIC_LABELS",
    "SharedValue",
    "shared_values",
    "cycle_values",
    "safe_values",
    "safe_results",
    "org_status",
    "status_block",
    "org_gallery_blocks",
    "rollup_blocks",
]

METRIC_LABELS: dict[str, str] = {
    "ladder": "Ladder of engagement",
    "movement": "Movement up the ladder",
    "conversion": "Conversion to a higher rung",
    "active_base": "Active base",
    "new_people": "New people",
    "lapsed": "Lapsed",
    "net_growth": "Net growth",
    "absorption": "Absorption of new people",
    "retention": "Retention",
    "leaders": "Leaders",
    "leader_ratio": "Leaders per active person",
    "one_on_ones": "One-on-ones",
    "show_rate": "Show rate",
    "volunteer_tiers": "Volunteer tiers",
    "contact": "Voter and member contact",
    "match_rate": "People matched across tools",
}
METRIC_ORDER = list(METRIC_LABELS)
PERIOD_LABELS = {
    "start": "at the cycle's start",
    "end": "at the cycle's end",
    "cycle": "during the cycle",
    "year": "this year",
    "transition": "start to end",
    "week": "by week",
}
# Breakdowns shown in the gallery (weekly series and ladder transitions stay in the
# organization's own share report).
SKIP_PERIODS = {"week", "transition"}
# Figures computed from others: withheld outside the organization when one of their
# parts is a small count (the difference would give it back).
DERIVED_FROM: dict[tuple[str, str, str], tuple[tuple[str, str, str], ...]] = {
    ("net_growth", "cycle", ""): (("new_people", "cycle", ""), ("lapsed", "cycle", "")),
    ("active_base", "cycle", "change"): (("active_base", "start", ""), ("active_base", "end", "")),
}


# Breakdown names that are not parts of their headline (a change, a different count of
# the same event): they are not added up with it, only suppressed on their own and
# linked to equal figures.
STANDALONE = {
    "change",
    "unrecorded",
    "people",
    "organizers",
    "new_within_window",
    "in_two_or_more_members",
    "attempts",
    "conversations",
    "reached",
    # volunteer tiers: the headline is the active volunteers, the first three tiers; in a
    # group with them, "42 active, 40 with one shift" pinned both small tiers at 1
    "none in 30 days",
}
# Breakdowns whose weeks add up to the cycle's figure by the same breakdown: the weekly
# attempts by channel to the cycle's attempts by channel (people reached are counted
# once a week and once a cycle: no sum)
WEEKLY_SUMS = ("attempts", "conversations", "contact_rate", "reply_rate", "opt_out_rate")


@dataclass(frozen=True)
class SharedValue:
    """One figure as the audience may see it."""

    org_id: str
    metric: str
    period: str
    dimension: str
    shown: Any  # a number, a percentage string, or SMALL / HIDDEN / WITHHELD
    definition: str


def _metric_sort(metric: str) -> int:
    return METRIC_ORDER.index(metric) if metric in METRIC_ORDER else len(METRIC_ORDER)


def _outside(org: Organization, audience: str) -> set[str] | None:
    """What the organization shares outside itself (None: the organization's own
    audience, all). The cohort's and the funders' figures of one organization are
    decided together, as one reader of both pages would see them: with cohort [ladder]
    and funder [conversion], each page was safe alone, and the two together gave back 5
    leaders (97 on the ladder, conversion "of 92")."""
    if allowed_metrics(org, audience) is None:
        return None
    return set().union(*(allowed_metrics(org, a) or set() for a in ("cohort", "funder")))


def _wanted(org: Organization, audience: str) -> set[str] | None:
    """Metrics to read for an audience: the shared ones (with either outside audience,
    see :func:`_outside`) and the parts of shared derived figures (read only to check
    them). None: all."""
    allowed = _outside(org, audience)
    if allowed is None:
        return None
    parts = {p[0] for key, ps in DERIVED_FROM.items() if key[0] in allowed for p in ps}
    # conversion's denominators are the ladder's rungs (see _conversion_groups)
    linked = {"ladder"} if "conversion" in allowed else set()
    return allowed | parts | linked


def _mark_shared(frame: pd.DataFrame, org: Organization, audience: str) -> pd.DataFrame:
    """``shared``: a figure some outside audience sees (decided together, see
    :func:`_outside`); ``visible``: one this audience sees."""
    allowed = allowed_metrics(org, audience)
    outside = _outside(org, audience)
    wanted = _wanted(org, audience)
    if wanted is not None:
        frame = frame[frame["metric"].isin(sorted(wanted))]
    if allowed is None:
        return frame.assign(shared=True, visible=True)
    return frame.assign(
        shared=frame["metric"].isin(sorted(outside)),
        visible=frame["metric"].isin(sorted(allowed)),
    )


def shared_values(
    store_path: str | Path,
    org: Organization,
    cycle: str,
    audience: str,
    *,
    values: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The organization's saved values for the cycle, for the metrics it shares with the
    audience (all of them for ``organization``). Column ``shared`` is False on rows read
    only to check a derived figure (they are never shown). Raw numbers: pass the frame
    through :func:`safe_values` before showing anything.

    ``values``: every organization's values of the cycle, already read
    (:func:`cycle_values`), instead of reading this organization's from the store."""
    wanted = _wanted(org, audience)
    if wanted is not None and not allowed_metrics(org, audience):
        return pd.DataFrame()
    if values is None:
        frame = _read_values(store_path, org.id, cycle, None if wanted is None else sorted(wanted))
    else:
        frame = values[values["org_id"] == org.id].reset_index(drop=True)
    return _mark_shared(frame, org, audience)


def cycle_values(store_path: str | Path, cycle: str) -> pd.DataFrame:
    """Every organization's saved values for the cycle, in one read (the cohort summary
    shows every organization's: one query instead of one per organization), ordered
    like :func:`shared_values` reads them."""
    return _read_values(store_path, None, cycle, None)


def safe_results(
    results: Any, org: Organization, audience: str, previous: Sequence[Any] = ()
) -> dict[tuple, Any]:
    """What the audience may see of one organization's :class:`MetricResults`:
    ``{(metric, period, dimension): shown}`` for the shared figures only.

    Same input, same decisions as the Measure Gallery (both go through
    :func:`safe_values` on the same rows), so a reader who sees both reports cannot
    combine them to undo a suppression. Use it for any report that shows an
    organization's figures to ``cohort`` or ``funder``. ``previous``: every earlier
    cycle's results, newest first (see :func:`safe_values`).
    """
    if not results.values or (allowed_metrics(org, audience) == set()):
        return {}
    # (the rows safe_values reads of the results' frames, made without the frames)
    rows = _marked_rows(_result_rows(results), org, audience)
    before = []
    for earlier in previous:
        if earlier is not None:
            marked = _marked_rows(_result_rows(earlier), org, audience, previous=True)
            if marked:  # (safe_values leaves out an empty frame)
                before.append({earlier.org_id: marked})
    shown = _safe_rows(
        {results.org_id: rows},
        audience,
        skip_periods=(),
        withhold=(),
        ladders=ladders_of([org]),
        previous=before,
    )
    return {(v.metric, v.period, v.dimension): v.shown for v in shown}


def _result_rows(results: Any) -> list[_Row]:
    """A :class:`MetricResults`' values as the rows of its frame (never suppressed)."""
    return [
        _Row(
            v.metric, v.period, v.dimension, v.value, v.denominator, False, v.definition, True, True
        )
        for v in results.values
    ]


def ladders_of(orgs: Iterable[Organization]) -> dict[str, list[str]]:
    """Each organization's rung names, lowest first (for :func:`safe_values`)."""
    return {org.id: [rung.name for rung in org.ladder] for org in orgs}


def _read_values(
    store_path: str | Path, org_id: str | None, cycle: str, metrics: list[str] | None
) -> pd.DataFrame:
    from cyclebook.store import connect

    sql = (
        "SELECT org_id, metric, period, dimension, value, denominator, suppressed, definition "
        "FROM metric_value WHERE cycle = ?"
    )
    params: list[Any] = [cycle]
    if org_id is not None:
        sql += " AND org_id = ?"
        params.append(org_id)
    if metrics is not None:
        sql += f" AND metric IN ({', '.join('?' for _ in metrics)})" if metrics else " AND FALSE"
        params.extend(metrics)
    sql += " ORDER BY org_id, metric, period, dimension"
    with connect(store_path) as con:
        cursor = con.execute(sql, params)
        columns = [col[0] for col in cursor.description]
        rows = cursor.fetchall()
    frame = pd.DataFrame(rows, columns=columns)
    for col in ("value", "denominator"):
        frame[col] = pd.to_numeric(frame[col]).astype(float)
    return frame


def _family(dimension: str) -> tuple[str, str, str]:
    """(group, row, column) of a breakdown: ``source=mobilize`` -> (source, mobilize,
    ''), ``member:up`` -> (':', member, up), a rung name -> ('', rung, '')."""
    if "=" in dimension:
        head, _, tail = dimension.rpartition("=")
        return head, tail, ""
    if ":" in dimension:
        row, _, col = dimension.partition(":")
        return ":", row, col
    if ">" in dimension:  # a ladder transition: where people started > where they ended
        row, _, col = dimension.partition(">")
        return ">", row, col
    return "", dimension, ""


def _transition_groups(
    values: dict[tuple, Any], rows: dict[str, dict[str, tuple]], ladder: Sequence[str] | None
) -> list[list[tuple]]:
    """The sums a ladder's transition matrix is part of (``rows``: start -> end -> key).

    A row adds up to the rung at the start (``new`` and ``off`` rows to the movement's
    ``new:joined`` and ``off:joined``), a column to the rung at the end; a rung's
    ``stayed`` is its diagonal cell, its ``up`` the cells above the diagonal and its
    ``down`` those below (to ``off`` included). Without these the matrix was one flat
    group: a row with one cell "<10" gave it back as its total minus the others.
    ``ladder``: the rung names, lowest first (unknown: ``up`` and ``down`` are tied
    together to their cells, a weaker but true sum)."""

    def key(metric: str, period: str, dimension: str) -> list[tuple]:
        found = (metric, period, dimension, "v")
        return [found] if found in values else []

    groups: list[list[tuple]] = []
    for start, cells in rows.items():
        if start in ("new", "off"):
            groups.append([*cells.values(), *key("movement", "cycle", f"{start}:joined")])
            continue
        groups.append([*cells.values(), *key("ladder", "start", start)])
        diagonal = [cells[start]] if start in cells else []
        groups.append([*key("movement", "cycle", f"{start}:stayed"), *diagonal])
        if ladder is not None and start in ladder:
            at = list(ladder).index(start)
            above = [cells[end] for end in ladder[at + 1 :] if end in cells]
            below = [cells[end] for end in [*ladder[:at], "off"] if end in cells]
            groups.append([*key("movement", "cycle", f"{start}:up"), *above])
            groups.append([*key("movement", "cycle", f"{start}:down"), *below])
        else:
            moved = [cell for end, cell in cells.items() if end != start]
            up_down = key("movement", "cycle", f"{start}:up")
            groups.append([*up_down, *key("movement", "cycle", f"{start}:down"), *moved])
    for end in {end for cells in rows.values() for end in cells}:
        column = [cells[end] for cells in rows.values() if end in cells]
        groups.append([*column, *(key("ladder", "end", end) if end != "off" else [])])
    return groups


def _family_total(
    values: dict[tuple, Any], metric: str, period: str, fam: str, part: str, head: tuple
) -> tuple | None:
    """The figure a family of breakdowns adds up to.

    ``attempts|channel=door`` adds up to ``attempts`` (not to the metric's headline),
    ``attempts|week=3|channel=door`` to ``attempts|week=3``, and the weekly
    ``attempts|week=3`` to the cycle's ``attempts`` (see :mod:`cyclebook.metrics.values`).
    Breakdowns without a ``|`` add up to the headline.
    """
    if "|" not in fam:
        return head if head in values else None
    total_dim = fam.rpartition("|")[0]
    # a week's figures add up to the cycle's; a year's do not (the year's conversations
    # by channel were taken for parts of the cycle's, and a figure the group shares was
    # hidden for a sum that does not hold)
    for total_period in (period, "cycle") if period == "week" else (period,):
        key = (metric, total_period, total_dim, part)
        if key in values:
            return key
    return None


def _weekly_groups(values: dict[tuple, Any]) -> list[list[tuple]]:
    """A breakdown's weeks add up to the cycle's figure of the same breakdown: weekly
    door attempts to the cycle's door attempts. Without it the week-by-channel cells
    were tied only to their week's total, and "door 25 this cycle; week 1 20, week 2
    <10, weeks 3-6 0" gave back the 5."""
    weeks: dict[tuple, list[tuple]] = {}
    for key in values:
        metric, period, dimension, part = key
        if period != "week" or dimension.count("|") < 2:
            continue
        head, week, rest = dimension.split("|", 2)
        if head in WEEKLY_SUMS and week.startswith("week="):
            weeks.setdefault((metric, f"{head}|{rest}", part), []).append(key)
    groups = []
    for (metric, dimension, part), cells in weeks.items():
        total = (metric, "cycle", dimension, part)
        if total in values:
            groups.append([total, *cells])
    return groups


def _parts(row: Any) -> dict[str, float | None]:
    """A saved value as the counts suppression works on: a count ``v``, or a rate's
    numerator and denominator (``num``, ``den``)."""
    value = None if pd.isna(row.value) else float(row.value)
    if pd.isna(row.denominator):
        return {"v": value}
    den = float(row.denominator)
    return {"num": None if value is None else float(round(value * den)), "den": den}


BEFORE = "year, last cycle"  # the period of the previous cycle's year so far, here


def _year_groups(
    values: dict[tuple, Any],
    unknown: set[tuple],
    fixed: set[tuple],
    forced: list[tuple],
    rows: list[_Row],
    shown: dict[tuple, Any],
) -> list[list[tuple]]:
    """The year so far is the previous cycle's year so far plus this cycle's figure:
    ties each of this cycle's year figures to the two. The previous cycle's figures are
    added to ``values`` as the audience saw them: a number it was shown is ``fixed``
    (known, not to be hidden again here), a hidden one is protected (``forced``), one it
    was not shown at all is ``unknown``. (Cycles with a gap between them, or in another
    year, give no sum: the values say so, see :func:`cyclebook.privacy._sums`.)"""
    groups = []
    for row in rows:
        if row.period != "year":
            continue
        if row.dimension.split("|")[0] not in WEEKLY_SUMS:
            continue  # people reached are counted once a year and once a cycle: no sum
        base = (row.metric, "year", row.dimension)
        seen = shown.get(base)
        for part, value in _parts(row).items():
            now, cycle = (*base, part), (row.metric, "cycle", row.dimension, part)
            if now not in values or cycle not in values:
                continue
            earlier = (row.metric, BEFORE, row.dimension, part)
            values[earlier] = value
            if not bool(row.shared) or seen is None:
                unknown.add(earlier)
            elif seen in (SMALL, HIDDEN, WITHHELD):
                forced.append(earlier)
            else:
                fixed.add(earlier)
            groups.append([now, earlier, cycle])
    return groups


# A metric whose headline is one of its own breakdowns, the same figure: the contact
# headline is the conversations (hidden as "conversations" in a year tie, it was shown
# as the headline, and gave the hidden figure back)
HEADLINE_IS = {"contact": "conversations"}


def _leader_groups(values: dict[tuple, Any], ladder: Sequence[str] | None) -> list[list[tuple]]:
    """Leaders are the people on the leader rung or above it: with a leader rung below the
    top ("organizer" under "captain"), leaders 25 beside organizers 20 gave back the 5
    captains shown "<10". Which rung leads is the organization's setting, not known
    here: every run of top rungs is tried, and only the true one is a sum (the values
    say which, see :func:`cyclebook.privacy._sums`)."""
    groups: list[list[tuple]] = []
    for period in ("start", "end"):
        head = ("leaders", period, "", "v")
        if not ladder or head not in values:
            continue
        for k in range(1, len(ladder) - 1):
            rungs = [("ladder", period, rung, "v") for rung in ladder[k:]]
            if all(rung in values for rung in rungs):
                groups.append([head, *rungs])
    return groups


def _conversion_groups(values: dict[tuple, Any], ladder: Sequence[str] | None) -> list[list[tuple]]:
    """Conversion's denominators are the ladder at the start: a rung's is the people on
    it, the headline's everyone below the top rung. "16% of 92" beside 97 people on the
    ladder (or in the active base) at the start gave back 5 leaders, a rung the group
    had not shared; "active: 0% of 12" gave back a hidden rung."""
    groups: list[list[tuple]] = []
    rungs = []
    for key in values:
        if key[:2] == ("conversion", "cycle") and key[2] and key[3] == "den":
            rung = ("ladder", "start", key[2], "v")
            rungs.append(key[2])
            if rung in values:
                groups.append([key, rung])
    at_start = [key[2] for key in values if key[:2] == ("ladder", "start") and key[2]]
    tops = [ladder[-1]] if ladder else [rung for rung in at_start if rung not in rungs]
    total, below = ("ladder", "start", "", "v"), ("conversion", "cycle", "", "den")
    if len(tops) == 1 and total in values and below in values:
        top = ("ladder", "start", tops[0], "v")
        if top in values:
            groups.append([total, below, top])
    return groups


def _fmt_count(value: Any) -> Any:
    if isinstance(value, str) or value is None:
        return value
    return f"{int(round(float(value))):,}"


def _fmt_rate(value: Any, denominator: Any) -> Any:
    if isinstance(value, str) or value is None:
        return value
    if isinstance(denominator, str) or denominator is None:
        return percent(value)
    return f"{percent(value)} of {int(round(float(denominator))):,}"


def safe_values(
    frame: pd.DataFrame,
    audience: str,
    *,
    skip_periods: Iterable[str] = SKIP_PERIODS,
    withhold: Iterable[tuple[str, str, str]] = (),
    ladders: Mapping[str, Sequence[str]] | None = None,
    previous: Sequence[pd.DataFrame | None] = (),
) -> list[SharedValue]:
    """Saved values (``metric_value`` rows of one or more organizations) made safe for
    the audience.

    All the figures of one organization are suppressed together, as one system of
    linked numbers (:func:`cyclebook.privacy.suppress_linked`):

    * counts from 1 to 9 read "<10" (primary);
    * a breakdown adds up to its headline (rungs, sources, channels), movement by rung is
      a two-way table whose rows add up to the ladder's rung counts at the start, and
      the numerators and denominators of a rate's breakdown add up to the headline's;
    * the same figure reached two ways (leaders and the leader rung, new people by
      source and absorption's denominators) is one figure: hidden in one place, hidden in
      the other;

    so a group of linked figures never has exactly one hidden member (secondary
    suppression, "hidden"). A rate is withheld when its numerator or its denominator is
    hidden; a figure derived from a small count (net growth) is withheld; rows flagged
    ``suppressed`` in the store are hidden. For ``organization`` nothing is hidden.

    ``withhold`` names figures (metric, period, dimension) another rule keeps from the
    audience (see :func:`rollup_withheld`): shown as withheld, and protected in their
    linked groups as a small count is.

    ``skip_periods`` are left out of what is returned, not out of the decisions: the
    gallery, which does not show the ladder's transitions, hides what the share report,
    which does, hides. ``ladders``: each organization's rung names, lowest first (see
    :func:`_transition_groups`).

    ``previous``: the same organizations' values of every earlier cycle, newest first
    (the previous cycle's alone will do), as their reports showed them to this audience (worked
    out here the same way, oldest first: each cycle's decisions depend on the one
    before). The year so far is the previous cycle's year so far plus this cycle
    (cycles that follow each other in one calendar year): "text attempts <10" this cycle
    beside 44 this year and 40 last cycle gave back the 4 (see :func:`_year_groups`).
    """
    if frame is None or frame.empty:
        return []
    # (each frame's rows read once, as Python values: pandas' grouping, sorting and
    # filtering of a few dozen rows per organization were most of the cohort summary's
    # Measure Gallery and of a cohort or funder share report's suppression)
    earlier = [_rows_by_org(f, previous=True) for f in previous if f is not None and not f.empty]
    return _safe_rows(
        _rows_by_org(frame),
        audience,
        skip_periods=skip_periods,
        withhold=withhold,
        ladders=ladders,
        previous=earlier,
    )


def _safe_rows(
    by_org: Mapping[Any, list[_Row]],
    audience: str,
    *,
    skip_periods: Iterable[str],
    withhold: Iterable[tuple[str, str, str]],
    ladders: Mapping[str, Sequence[str]] | None,
    previous: Sequence[Mapping[Any, list[_Row]]],
) -> list[SharedValue]:
    """:func:`safe_values` of rows by organization (:func:`_rows_by_org`); ``previous``:
    each earlier cycle's, newest first, visible wherever shared."""
    out: list[SharedValue] = []
    skip = set(skip_periods)
    withhold = set(withhold)
    for org_id, org_rows in by_org.items():
        if not org_rows:
            continue
        ladder = (ladders or {}).get(str(org_id))
        before = None
        for earlier in reversed(previous):  # oldest first
            prev_rows = earlier.get(org_id)
            if not prev_rows:
                before = None  # a cycle it has no values of: the chain starts again
                continue
            shown = _safe_org_values(str(org_id), prev_rows, audience, set(), ladder, before)
            before = (prev_rows, {(v.metric, v.period, v.dimension): v.shown for v in shown})
        safe = _safe_org_values(str(org_id), org_rows, audience, withhold, ladder, before)
        out.extend(v for v in safe if v.period not in skip)
    out.sort(key=lambda v: (_metric_sort(v.metric), _period_sort(v.period), v.dimension != ""))
    return out


class _Row(NamedTuple):
    """One saved value as suppression reads it (a ``metric_value`` row)."""

    metric: str
    period: str
    dimension: str
    value: Any
    denominator: Any
    suppressed: Any
    definition: Any
    shared: Any  # some outside audience sees it (see _mark_shared)
    visible: Any  # this audience sees it


def _rows_by_org(frame: pd.DataFrame, *, previous: bool = False) -> dict[Any, list[_Row]]:
    """The frame's rows by organization, in the order the organizations first appear
    (as ``groupby(sort=False)``; rows without an organization are left out, as it leaves
    them) and each one's rows in the frame's order. A row without ``shared`` is shared,
    one without ``visible`` is visible where shared; ``previous``: an earlier cycle's
    rows, visible wherever shared (every figure an outside reader saw of it, not this
    audience's alone)."""
    n = len(frame)
    columns = set(frame.columns)

    def column(name: str, default: Any) -> list[Any]:
        # the values pandas' itertuples gives (its missing text NaN too), in one call
        return frame[name].tolist() if name in columns else [default] * n

    shared = column("shared", True)
    visible = shared if previous or "visible" not in columns else frame["visible"].tolist()
    out: dict[Any, list[_Row]] = {}
    for org_id, *fields in zip(
        column("org_id", None),
        column("metric", None),
        column("period", None),
        column("dimension", None),
        column("value", None),
        column("denominator", None),
        column("suppressed", False),
        column("definition", None),
        shared,
        visible,
        strict=True,
    ):
        if not _is_missing(org_id):
            out.setdefault(org_id, []).append(_Row(*fields))
    return out


def _is_missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _sorted_rows(rows: list[_Row]) -> list[_Row]:
    """The rows by metric, period and dimension, ties in their order (pandas'
    ``sort_values(kind="stable")`` on the three; text sorts by code point in both)."""
    keys = [(row.metric, row.period, row.dimension) for row in rows]
    if all(isinstance(part, str) for key in keys for part in key):
        order = sorted(range(len(rows)), key=keys.__getitem__)
    else:  # a missing text (never saved so): pandas' own order, missing ones last
        parts = pd.DataFrame(keys, columns=["metric", "period", "dimension"])
        order = parts.sort_values(["metric", "period", "dimension"], kind="stable").index
    return [rows[i] for i in order]


def _safe_org_values(
    org_id: str,
    rows: list[_Row],
    audience: str,
    withhold: set[tuple] = frozenset(),
    ladder: Sequence[str] | None = None,
    before: tuple[list[_Row], dict[tuple, Any]] | None = None,
) -> list[SharedValue]:
    restricted = audience != "organization"
    # Where a group of linked figures can hide one of several cells, the first in order
    # is hidden: the same order wherever the rows come from (the store returns them
    # sorted; a fresh computation in the order its queries happened to return them).
    rows = _sorted_rows(rows)

    values: dict[tuple, float | None] = {}
    unknown: set[tuple] = set()
    rates: dict[tuple, float | None] = {}
    rest_groups: list[list[tuple]] = []
    for row in rows:
        base = (row.metric, row.period, row.dimension)
        parts = _parts(row)
        keys = [(*base, part) for part in parts]
        values.update(zip(keys, parts.values(), strict=True))
        if "den" in parts:
            value = None if pd.isna(row.value) else float(row.value)
            den = parts["den"]
            rates[base] = value
            if value is not None:
                # those who did not ("75% of 32": 8 no-shows), never shown but a count
                # the rate gives away: protected when small
                values[(*base, "rest")] = den - values[keys[0]]
                unknown.add((*base, "rest"))
                rest_groups.append([keys[1], keys[0], (*base, "rest")])
        if not bool(row.shared):
            unknown.update(keys)

    groups: list[list[tuple]] = rest_groups
    by_mp: dict[tuple[str, str], list[tuple]] = {}
    for key in values:
        by_mp.setdefault((key[0], key[1]), []).append(key)
    for (metric, period), keys in by_mp.items():
        for part in ("v", "num", "den"):
            head = (metric, period, "", part)
            families: dict[str, list[tuple]] = {}
            two_way: dict[str, dict[str, tuple]] = {}
            transitions: dict[str, dict[str, tuple]] = {}
            for key in keys:
                if key[3] != part or key[2] == "" or key[2] in STANDALONE:
                    continue
                fam, r, c = _family(key[2])
                if fam == ">":
                    transitions.setdefault(r, {})[c] = key
                elif fam == ":":
                    two_way.setdefault(r, {})[c] = key
                else:
                    families.setdefault(fam, []).append(key)
            for fam, cells in families.items():
                total = _family_total(values, metric, period, fam, part, head)
                groups.append([total, *cells] if total is not None else cells)
            if transitions:
                groups.extend(_transition_groups(values, transitions, ladder))
            if two_way:
                for r, row_cells in two_way.items():
                    link = ("ladder", "start", r, "v") if metric == "movement" else None
                    extra = [link] if link in values else []
                    groups.append([*row_cells.values(), *extra])
                columns = sorted({c for row_cells in two_way.values() for c in row_cells})
                for c in columns:
                    cells = [row_cells[c] for row_cells in two_way.values() if c in row_cells]
                    groups.append([head, *cells] if c == "up" and head in values else cells)
    groups.extend(_weekly_groups(values))
    groups.extend(_conversion_groups(values, ladder))
    groups.extend(_leader_groups(values, ladder))
    for metric, dimension in HEADLINE_IS.items():  # one figure, its headline and its name
        for period in {key[1] for key in values if key[0] == metric}:
            pair = [(metric, period, "", "v"), (metric, period, dimension, "v")]
            if all(key in values for key in pair):
                groups.append(pair)
    fixed: set[tuple] = set()
    forced_before: list[tuple] = []
    if restricted and before is not None:
        groups.extend(_year_groups(values, unknown, fixed, forced_before, *before))
    # one figure reached two ways: equal values of different measures in one period
    same: dict[tuple[str, float], list[tuple]] = {}
    for key, value in values.items():
        if value is not None and abs(value) >= THRESHOLD and key[3] != "rest":
            same.setdefault((key[1], value), []).append(key)
    for keys in same.values():
        # every pair, not a chain: in a chain a figure the audience is not shown (net
        # growth, equal to new people and to absorption's denominator) stood between
        # them, and a hidden new people count came back as absorption "of 115"
        for i, a in enumerate(keys):
            groups.extend([a, b] for b in keys[i + 1 :] if a[0] != b[0])

    if restricted:
        forced = [key for key in values if key[:3] in withhold] + forced_before
        state = suppress_linked(
            values,
            groups,
            unknown=unknown,
            is_total=lambda key: key[2] == "",
            primary=forced,
            fixed=fixed,
        )
    else:
        state = {key: "" for key in values if key not in unknown}
    small_parts = {key[:3] for key, value in values.items() if key[3] == "v" and is_small(value)}

    out: list[SharedValue] = []
    for row in rows:
        if not bool(row.visible):
            continue
        base = (row.metric, row.period, row.dimension)
        if base in rates:
            rate = rates[base]
            num, den = state[(*base, "num")], state[(*base, "den")]
            if rate is None:
                shown: Any = None
            elif num or den:
                shown = WITHHELD
            else:
                shown = _fmt_rate(rate, row.denominator)
        else:
            kind = state[(*base, "v")]
            value = values[(*base, "v")]
            shown = {"primary": SMALL, "secondary": HIDDEN}.get(kind, _fmt_count(value))
        if restricted and bool(row.suppressed):
            shown = HIDDEN
        if restricted and base in withhold and shown is not None:
            shown = WITHHELD
        parts = DERIVED_FROM.get(base, ())
        if restricted and shown is not None and any(part in small_parts for part in parts):
            shown = WITHHELD
        out.append(SharedValue(org_id, *base, shown, row.definition or ""))
    return out


def _period_sort(period: str) -> int:
    order = ["start", "end", "cycle", "year"]
    return order.index(period) if period in order else len(order)


def _ordered(org: Organization, values: Sequence[SharedValue]) -> list[SharedValue]:
    """Ladder rungs in the ladder's order, labelled as the group labels them."""
    rung_index = {rung.name: k for k, rung in enumerate(org.ladder)}
    labels = {rung.name: rung.label for rung in org.ladder}

    def key(v: SharedValue) -> tuple:
        rung = rung_index.get(v.dimension, -1) if v.metric == "ladder" else -1
        return (_metric_sort(v.metric), _period_sort(v.period), v.dimension != "", rung)

    out = []
    for v in sorted(values, key=key):
        if v.metric == "ladder" and v.dimension in labels:
            v = SharedValue(
                v.org_id, v.metric, v.period, labels[v.dimension], v.shown, v.definition
            )
        out.append(v)
    return out


# --------------------------------------------------------------------------- status


def org_status(
    store_path: str | Path | None, cohort: Cohort, cycle: str, *, earlier: bool = False
) -> dict[str, dict[str, Any]]:
    """Per organization: last sync (date and outcome) and whether this cycle's metrics
    are computed. Aggregates only. ``earlier`` (a cycle with a later one): the last sync
    its figures of ``cycle`` were computed from (:func:`cyclebook.store.last_syncs`), so
    that a later sync leaves a finished cycle's summary as it was."""
    status: dict[str, dict[str, Any]] = {
        org.id: {"last_sync": None, "sync": "not synced yet", "metrics": 0}
        for org in cohort.organizations
    }
    if store_path is None or not Path(store_path).exists():
        return status
    from cyclebook.store import connect, last_syncs, table_names

    with connect(store_path) as con:
        for org_id, (run_status, at) in last_syncs(con, cycle if earlier else None).items():
            if org_id in status:
                status[org_id]["sync"] = run_status
                status[org_id]["last_sync"] = (
                    None if at is None else dt.datetime.fromtimestamp(at, dt.UTC)
                )
        tables = table_names(con)
        if "metric_value" in tables:
            rows = con.execute(
                "SELECT org_id, count(*) FROM metric_value WHERE cycle = ? GROUP BY org_id",
                [cycle],
            ).fetchall()
            for org_id, n in rows:
                if org_id in status:
                    status[org_id]["metrics"] = int(n)
    return status


def _network_of(cohort: Cohort, org: Organization) -> str:
    if org.parent:
        return f"affiliate of {cohort.org(org.parent).name}"
    if cohort.affiliates(org.id):
        n = len(cohort.affiliates(org.id))
        return f"network of {n} affiliate{'' if n == 1 else 's'}"
    return "–"


def status_block(cohort: Cohort, status: dict[str, dict[str, Any]], audience: str) -> d.Block:
    rows = []
    for org in cohort.organizations:
        s = status[org.id]
        allowed = allowed_metrics(org, audience)
        shares = (
            "everything (its own staff)"
            if allowed is None
            else (
                ", ".join(METRIC_LABELS.get(m, m) for m in sorted(allowed, key=_metric_sort))
                or "nothing (its choice)"
            )
        )
        when = s["last_sync"]
        when_text = when.strftime("%d %b %Y") if isinstance(when, dt.datetime | dt.date) else "–"
        rows.append(
            {
                "Organization": org.name,
                "Network": _network_of(cohort, org),
                "Last sync": f"{s['sync']} ({when_text})" if when is not None else s["sync"],
                # after a failed sync the figures shown are those of the sync before it
                "This cycle's figures": (
                    "not yet computed"
                    if not s["metrics"]
                    else "from the sync before the failed one"
                    if s["sync"] == "failed"
                    else "computed"
                ),
                f"Shares with the {audience}": shares,
            }
        )
    return d.table(pd.DataFrame(rows), "Every organization this cycle: sync, figures and sharing")


# --------------------------------------------------------------------------- gallery


def _dimension_text(dimension: str) -> str:
    if not dimension:
        return "all"
    return dimension.replace("|", ", ").replace("=", ": ").replace("_", " ")


def _value_table(values: Sequence[SharedValue], caption: str) -> d.Block:
    rows = [
        (
            METRIC_LABELS.get(v.metric, v.metric),
            PERIOD_LABELS.get(v.period, v.period),
            _dimension_text(v.dimension),
            "–" if v.shown is None else v.shown,
        )
        for v in values
    ]
    # (every cell is text: as a frame of them shows it, without building the frame)
    return d.text_table(["Measure", "When", "Breakdown", "Value"], rows, caption)


def _ladder_blocks(org: Organization, values: Sequence[SharedValue]) -> list[d.Block]:
    from cyclebook.metrics.rules import condition_text

    blocks = [d.heading("Ladder of engagement: the group's own rungs", 4)]
    rows = [
        {
            "Rung": rung.label,
            "In the group's words": rung.definition,
            "Rule": "; or ".join(condition_text(c) for c in rung.any_of),
            "Window": f"{rung.window_days} days",
        }
        for rung in org.ladder
    ]
    blocks.append(d.table(pd.DataFrame(rows), f"{org.name}: ladder rungs and their definitions"))
    at_end = {v.dimension: v.shown for v in values if v.metric == "ladder" and v.period == "end"}
    if any(rung.name in at_end for rung in org.ladder):
        blocks.append(_ladder_chart(org, at_end))
    return blocks


def _ladder_chart(org: Organization, at_end: dict[str, Any]) -> d.Block:
    labels = [rung.label for rung in org.ladder]
    heights, notes = [], []
    for rung in org.ladder:
        shown = at_end.get(rung.name)
        number = None
        if isinstance(shown, str) and shown not in (SMALL, HIDDEN, WITHHELD):
            number = float(shown.replace(",", ""))
        heights.append(number or 0)
        notes.append(shown if number is None else f"{int(number):,}")
    alt = "People on each rung of the ladder at the cycle's end: " + ", ".join(
        f"{label} {note or 'none recorded'}" for label, note in zip(labels, notes, strict=True)
    )
    drawn = charts.hbars(
        labels,
        heights,
        notes=[str(note or "–") for note in notes],
        colors="#3b6ea5",
        axis_label="People at the cycle's end",
        alt=alt,
    )
    return d.chart(drawn, caption=f"{org.name}: people per rung at the cycle's end")


def _history_block(org: Organization, shared: set[str] | None, audience: str) -> d.Block | None:
    # a rung's change (ladder.active) is one of the ladder's: it was never matched, and
    # a changed rung showed with no history
    changes = [
        change
        for change in org.measure_history
        if shared is None or measure_allowed(org, audience, change.measure)
    ]
    if not changes:
        return None
    rows = []
    for change in changes:
        row = {
            "Date": change.date.isoformat(),
            "Measure": METRIC_LABELS.get(change.measure, change.measure),
            "Change": change.change,
        }
        if audience != "funder":  # why a group changed a measure: for peers, not funders
            row["Why"] = change.why
        row["Status"] = change.status
        if audience == "organization":  # who proposed it is the group's own business
            row["Proposed by"] = change.proposed_by
        rows.append(row)
    return d.table(pd.DataFrame(rows), f"{org.name}: how its measures came to be")


def org_gallery_blocks(
    org: Organization, values: Sequence[SharedValue], audience: str
) -> list[d.Block]:
    """One organization's gallery entry: why it chose its measures, their definitions,
    its ladder (when shared) and its shared figures this cycle."""
    allowed = allowed_metrics(org, audience)
    blocks = [d.heading(org.name, 3)]
    if org.consent.gallery_note:
        blocks.append(d.paragraph(f"Why we chose these measures: {org.consent.gallery_note}"))
    shared = sorted(allowed, key=_metric_sort) if allowed is not None else METRIC_ORDER
    blocks.append(
        d.paragraph("Shares: " + ", ".join(METRIC_LABELS.get(m, m) for m in shared) + ".")
    )
    if "ladder" in shared:
        blocks.extend(_ladder_blocks(org, values))
    definitions = []
    seen = set()
    for v in values:
        if v.dimension == "" and v.metric not in seen and v.metric != "ladder" and v.definition:
            definitions.append((METRIC_LABELS.get(v.metric, v.metric), v.definition))
            seen.add(v.metric)
    if definitions:
        blocks.append(d.heading("How the group defines its measures", 4))
        blocks.append(d.definition_list(definitions))
    history = _history_block(org, allowed, audience)
    if history is not None:
        blocks.append(history)
    if values:
        blocks.append(_value_table(_ordered(org, values), f"{org.name}: shared figures this cycle"))
    else:
        blocks.append(d.note("No figures computed for this cycle yet."))
    return blocks


_RATE_TEXT = re.compile(r"^(-?[\d.]+)% of ([\d,]+)$")


def _as_read(shown: Any) -> tuple[float, float | None] | None:
    """A figure as a reader of the page can use it: (count, None) for a count, (numerator
    as far as the rounded percentage tells it, denominator) for a rate, None when the
    page does not give it (small, hidden, withheld, not shown)."""
    if isinstance(shown, int | float) and not isinstance(shown, bool):
        return float(shown), None
    if not isinstance(shown, str):
        return None
    rate = _RATE_TEXT.match(shown)
    if rate:
        den = float(rate.group(2).replace(",", ""))
        return float(rate.group(1)) / 100 * den, den
    try:
        return float(shown.replace(",", "")), None
    except ValueError:
        return None


# a roll-up's count of the people in two or more members (counted once in the figure)
OVERLAP = "in_two_or_more_members"


def rollup_withheld(
    frame: pd.DataFrame, members: Sequence[str], member_values: dict[str, list[SharedValue]]
) -> set[tuple[str, str, str]]:
    """Roll-up figures that, next to the members' own figures on the same page, would
    give back what the members' figures hide.

    The roll-up minus the members' figures shown on the page is the hidden members'
    part less the people counted in two members (a person once in the roll-up, once in
    each member's own figure); with every member's figure shown, it is minus those
    people. Either is a count of people: if it is from 1 to 9 (either sign), the
    roll-up figure is withheld. For a rate, the same holds for its denominator and for
    its numerator as far as the page's rounded percentages tell it.
    """
    shown: dict[tuple[str, str, str], dict[str, tuple[float, float | None] | None]] = {}
    for org_id in members:
        for v in member_values.get(org_id, []):
            shown.setdefault((v.metric, v.period, v.dimension), {})[org_id] = _as_read(v.shown)
    out: set[tuple[str, str, str]] = set()
    figures = {
        (row.metric, row.period, row.dimension): row.value for row in frame.itertuples(index=False)
    }
    for row in frame.itertuples(index=False):
        if pd.isna(row.value) or (pd.isna(row.denominator) and is_small(row.value)):
            continue  # a small count is hidden anyway ("<10")
        key = (row.metric, row.period, row.dimension)
        if row.dimension == OVERLAP:
            # the people in two members: with every member's figure shown it is their
            # sum less the roll-up; with one hidden, it is what made the roll-up less
            # the shown members come out negative (55 - 30 - 40 + 20 = the hidden 5)
            whole = (row.metric, row.period, "")
            seen = [shown.get(whole, {}).get(org_id) for org_id in members]
            if not all(seen):
                out.add(key)
            continue
        known = [r for r in (shown.get(key, {}).get(org_id) for org_id in members) if r]
        if pd.isna(row.denominator):
            parts = [(float(row.value), sum(r[0] for r in known))]
            overlap = figures.get((row.metric, row.period, OVERLAP)) if not row.dimension else None
            if overlap is not None and not pd.isna(overlap):
                parts.append((float(row.value) + float(overlap), sum(r[0] for r in known)))
        else:
            den = float(row.denominator)
            parts = [
                (float(row.value) * den, sum(r[0] for r in known)),
                (den, sum(r[1] or 0.0 for r in known)),
            ]
        if any(is_small(round(total - seen)) for total, seen in parts):
            out.add(key)
    return out


def rollup_blocks(
    cohort: Cohort,
    network_id: str,
    rolled: dict,
    audience: str,
    member_values: dict[str, list[SharedValue]] | None = None,
) -> list[d.Block]:
    """A network's roll-up, as the audience may see it (``rolled`` comes from
    :func:`cyclebook.rollup.rollup_for_audience`). ``member_values``: the members' own
    figures as the same page shows them (see :func:`rollup_withheld`); without them, no
    member figure may be on the page."""
    network = cohort.org(network_id)
    names = {org.id: org.name for org in cohort.organizations}
    blocks = [d.heading(f"{network.name}: the network together", 3)]
    if not rolled:
        blocks.append(d.note("The network does not share roll-ups with this audience."))
        return blocks
    rows = []
    notes = set()
    restricted = audience != "organization"
    # Every figure of the page's roll-ups is decided at once, as one organization's are
    # (safe_values): new people and absorption's denominator are one figure, and net
    # growth is withheld when the lapsed count it is made of is small, as in a member's
    # own figures. Decided a measure at a time, a withheld 115 new people came back as
    # absorption "of 115", and net growth 77 beside 80 new people gave lapsed = 3.
    by_rollup: dict[int, tuple[Any, list[str]]] = {}
    for metric in sorted(rolled, key=_metric_sort):
        rollup, _ = rolled[metric]
        by_rollup.setdefault(id(rollup), (rollup, []))[1].append(metric)
    shown_values: dict[str, list[SharedValue]] = {}
    for rollup, metrics in by_rollup.values():
        frame = rollup.values.frame().assign(suppressed=False)
        frame = frame.assign(shared=frame["metric"].isin(metrics))
        withhold: set[tuple[str, str, str]] = set()
        if member_values is not None and restricted:
            withhold = rollup_withheld(frame[frame["shared"]], rollup.members, member_values)
        for metric in {key[0] for key in withhold}:
            notes.add(
                f"{METRIC_LABELS.get(metric, metric)}: a figure marked withheld would, next to "
                "the members' own figures on this page, give back a count under 10 (a "
                "member's hidden figure, or the people counted in two members)."
            )
        for v in safe_values(frame, audience, withhold=withhold):
            shown_values.setdefault(v.metric, []).append(v)
    for metric in sorted(rolled, key=_metric_sort):
        rollup, left_out = rolled[metric]
        for v in shown_values.get(metric, []):
            rows.append(
                {
                    "Measure": METRIC_LABELS.get(metric, metric),
                    "When": PERIOD_LABELS.get(v.period, v.period),
                    "Breakdown": _dimension_text(v.dimension),
                    "Value": "–" if v.shown is None else v.shown,
                    "How": rollup.methods.get(metric, ""),
                }
            )
        label = METRIC_LABELS.get(metric, metric)
        declined = [o for o in left_out if not is_allowed(cohort.org(o), audience, metric)]
        if declined:
            notes.add(
                f"{label} leaves out "
                + ", ".join(names.get(o, o) for o in declined)
                + " (not agreed to share it with this audience)."
            )
        elsewhere = [o for o in left_out if o not in declined]
        if elsewhere:
            notes.add(
                f"{label} leaves out "
                + ", ".join(names.get(o, o) for o in elsewhere)
                + " (shared with this audience, but not every measure of these roll-ups "
                "with every audience that sees them: roll-ups over different members would "
                "give their part away by subtraction)."
            )
    members = sorted({m for rollup, _ in rolled.values() for m in rollup.members})
    blocks.append(
        d.paragraph(
            "Members: "
            + ", ".join(names.get(m, m) for m in members)
            + ". A person active in two members is counted once; rates are recomputed "
            "for the network, never averaged."
        )
    )
    blocks.append(d.table(pd.DataFrame(rows), f"{network.name}: figures over its members"))
    for text in sorted(notes):
        blocks.append(d.note(text))
    return blocks


def iter_shared(
    store_path: str | Path, cohort: Cohort, card: CycleCard, audience: str
) -> Iterable[tuple[Organization, list[SharedValue]]]:
    """Each organization that shares something with the audience, with its safe values."""
    values = cycle_values(store_path, card.id) if Path(store_path).exists() else None
    # every organization's rows read once per cycle (as shared_values and safe_values
    # would read each organization's: the same rows, marked the same way)
    by_org = _rows_by_org(values) if values is not None else {}
    earlier = [_rows_by_org(rows) for _, rows in _earlier_values(store_path, card)]
    for org in cohort.organizations:
        allowed = allowed_metrics(org, audience)
        if allowed is not None and not allowed:
            continue
        rows = _marked_rows(by_org.get(org.id, []), org, audience)
        # (a cycle of which it has no values is left out, as safe_values leaves out an
        # empty frame)
        marked = [_marked_rows(c.get(org.id, []), org, audience, previous=True) for c in earlier]
        before = [{org.id: rows_before} for rows_before in marked if rows_before]
        shown = _safe_rows(
            {org.id: rows},
            audience,
            skip_periods=SKIP_PERIODS,
            withhold=(),
            ladders=ladders_of([org]),
            previous=before,
        )
        yield org, shown


def _marked_rows(
    rows: list[_Row], org: Organization, audience: str, *, previous: bool = False
) -> list[_Row]:
    """:func:`_mark_shared` of one organization's rows (``previous``: an earlier cycle's,
    visible wherever shared, see :func:`_rows_by_org`)."""
    allowed = allowed_metrics(org, audience)
    outside = _outside(org, audience)
    wanted = _wanted(org, audience)
    if wanted is not None:
        rows = [row for row in rows if row.metric in wanted]
    if allowed is None:
        return [row._replace(shared=True, visible=True) for row in rows]
    marked = []
    for row in rows:
        shared = row.metric in outside
        visible = shared if previous else row.metric in allowed
        marked.append(row._replace(shared=shared, visible=visible))
    return marked


def _earlier_values(store_path: str | Path, card: CycleCard) -> list[tuple[str, pd.DataFrame]]:
    """Every organization's saved values of each cycle before ``card``'s, newest first,
    by cycle (each cycle's suppression depends on the one before: see
    :func:`safe_values`); none without a store."""
    from cyclebook.config import earlier_cycles
    from cyclebook.errors import CyclebookError

    found: list[tuple[str, pd.DataFrame]] = []
    if not Path(store_path).exists():
        return found
    with contextlib.suppress(CyclebookError):  # a card that cannot be read ends the chain
        for cycle in earlier_cycles(Path(store_path).parent, card):
            found.append((cycle, cycle_values(store_path, cycle)))
    return found
