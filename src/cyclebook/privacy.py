"""Privacy rules for every report: small-count suppression, consent, and the
personal-data guard run on rendered HTML.

Audiences (DESIGN.md, "Privacy and audiences"):

- ``organization``: the group's own staff see exact counts.
- ``cohort`` and ``funder``: counts from 1 to 9 show as ``"<10"``; a rate built on a
  suppressed count is withheld; *secondary suppression* hides further cells so that a
  hidden cell cannot be worked out from a total or from its neighbours; and only the
  measures the organization agreed to share (``consent`` in cohort.yml) appear.

The guard (:func:`guard_report`) is the last line of defence: after a report is rendered
it looks for the organization's personal values held in the store (emails, phones,
names, addresses, source ids) and withholds the report if any appear.
"""

from __future__ import annotations

import contextlib
import html
import itertools
import os
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from cyclebook.config import AUDIENCES, Cohort, CycleCard, Organization
from cyclebook.errors import CyclebookError, PrivacyError

__all__ = [
    "THRESHOLD",
    "SMALL",
    "HIDDEN",
    "WITHHELD",
    "is_restricted",
    "is_small",
    "suppress_value",
    "suppress_rate",
    "suppression_mask",
    "suppress_table",
    "suppress_linked",
    "allowed_metrics",
    "is_allowed",
    "measure_allowed",
    "shares_with_everyone",
    "guard_org_ids",
    "Leak",
    "ReportLeakError",
    "scan_html",
    "guard_report",
    "guard_allowances",
    "report_allowance",
    "withhold_report",
    "config_text",
    "Words",
]

#: Counts below this (and above zero) are suppressed outside the organization.
THRESHOLD = 10
#: Shown for a count from 1 to 9 (primary suppression).
SMALL = "<10"
#: Shown for a count hidden only so that a small count cannot be worked out (secondary
#: suppression); the true value may be large, so it is not shown as "<10".
HIDDEN = "hidden"
#: Shown for a rate (or a difference) built on a suppressed count.
WITHHELD = "withheld"


def _check_audience(audience: str) -> None:
    if audience not in AUDIENCES:
        raise CyclebookError(
            f"unknown audience {audience!r}",
            fix=f"use one of {', '.join(AUDIENCES)}.",
        )


def is_restricted(audience: str) -> bool:
    """True when the audience is outside the organization (suppression applies)."""
    _check_audience(audience)
    return audience != "organization"


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def is_small(value: Any, threshold: int = THRESHOLD) -> bool:
    """A count from 1 to threshold-1 (negative counts are judged by their size)."""
    if _missing(value):
        return False
    number = abs(float(value))
    return 0 < number < threshold


def _plain(value: Any) -> Any:
    """numpy scalars to Python numbers, whole floats to int (display formats ints)."""
    if _missing(value):
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def suppress_value(n: Any, audience: str, *, threshold: int = THRESHOLD) -> Any:
    """One headline count for an audience: ``"<10"`` when it is from 1 to 9 outside
    the organization, the number otherwise (``None`` stays ``None``)."""
    if not is_restricted(audience):
        return _plain(n)
    if is_small(n, threshold):
        return SMALL
    return _plain(n)


def suppress_rate(
    rate: Any,
    numerator: Any,
    denominator: Any,
    audience: str,
    *,
    threshold: int = THRESHOLD,
) -> Any:
    """A rate (or share) for an audience: withheld outside the organization when its
    numerator, its denominator or the rest (denominator minus numerator: those who did
    not) is a count from 1 to 9, or either is unknown (the rate times a known denominator
    would give the hidden count back)."""
    if not is_restricted(audience):
        return _plain(rate)
    if _missing(rate):
        return None
    if _missing(numerator) or _missing(denominator):
        return WITHHELD  # cannot check it, so do not show it
    # a part hidden elsewhere is passed as its marker string ("<10", "hidden")
    if isinstance(numerator, str) or isinstance(denominator, str):
        return WITHHELD
    if is_small(numerator, threshold) or is_small(denominator, threshold):
        return WITHHELD
    if is_small(float(denominator) - float(numerator), threshold):
        return WITHHELD  # "75% of 32" says 8 did not: a count from 1 to 9 as well
    return _plain(rate)


# --------------------------------------------------------------------------- pinning

# What an audience knows of a hidden figure: "<10" is 1 to 9; "hidden" (secondary) is a
# figure that is not small, so 0 or 10 and more; a figure it is not shown at all, or one
# withheld by another rule, could be anything from 0.
_SMALL_RANGE = ((1.0, float(THRESHOLD - 1)),)
_NOT_SMALL = ((0.0, 0.0), (float(THRESHOLD), float("inf")))
_ANY = ((0.0, float("inf")),)
_MAX_PIECES = 6  # hidden figures of two pieces tried together (2**6 combinations)


def _feasible(
    coefficients: list[int], ranges: list[tuple[tuple[float, float], ...]], rest: float, j: int
) -> set[int]:
    """The whole values hidden figure ``j`` (of range ``_SMALL_RANGE``) can take when
    ``sum(coefficients[i] * x[i]) == rest`` over the hidden figures, each within its
    ranges (pieces). Exact for one equation: a sum of whole intervals is whole."""
    lo_j, hi_j = ranges[j][0]
    others = [i for i in range(len(ranges)) if i != j]
    found: set[int] = set()
    for pieces in itertools.product(*(ranges[i] for i in others)):
        low = high = 0.0
        for i, (lo, hi) in zip(others, pieces, strict=True):
            a = coefficients[i]
            low += a * lo if a > 0 else a * hi
            high += a * hi if a > 0 else a * lo
        # coefficients[j] * x_j = rest - (others' sum)
        span = (rest - high, rest - low)
        if coefficients[j] < 0:
            span = (-span[1], -span[0])
        first, last = max(span[0], lo_j), min(span[1], hi_j)
        if first <= last:
            found.update(range(int(-(-first // 1)), int(last // 1) + 1))
        if len(found) > 1:
            break
    return found


def _sums(
    values: Sequence[float],
    hidden: Sequence[int],
    external_total: bool = False,
) -> list[tuple[list[int], float]]:
    """The sums a group of figures is tied by, as equations over its ``hidden`` figures:
    (the coefficient of each hidden figure, in order, and what they add up to once the
    shown figures are moved across). The sum is any figure of the group that equals the
    others' sum (the true values say which), or, with ``external_total``, a total
    published elsewhere."""
    total = sum(values)
    orientations: list[tuple[int | None, float]] = [(None, total)] if external_total else []
    orientations += [(t, 0.0) for t, v in enumerate(values) if abs(2 * v - total) < 1e-9]
    equations = []
    for t, rest in orientations:
        coefficients = [-1 if i == t else 1 for i in range(len(values))]
        known = sum(coefficients[i] * values[i] for i in range(len(values)) if i not in hidden)
        equations.append(([coefficients[i] for i in hidden], rest - known))
    return equations


def _pinned(
    values: Sequence[float | None],
    ranges: Sequence[tuple[tuple[float, float], ...] | None],
    *,
    external_total: bool = False,
) -> bool:
    """Whether a group of figures tied by one sum gives a hidden small figure away
    exactly although two or more of its figures are hidden: "new 10, not on the ladder
    <10, Supporter <10" with the column's total 12 leaves 2 for the two hidden cells, so
    each is 1. ``ranges``: what the audience knows of each hidden figure (None: shown);
    the sums: :func:`_sums`."""
    if any(v is None for v in values):
        return False  # a missing figure leaves the sum open
    hidden = [i for i, r in enumerate(ranges) if r is not None]
    small = [i for i in hidden if ranges[i] == _SMALL_RANGE]
    if len(hidden) < 2 or not small:
        return False
    if sum(len(ranges[i]) > 1 for i in hidden) > _MAX_PIECES:
        return False
    hidden_ranges = [ranges[i] for i in hidden]
    for coefficients, rest in _sums(values, hidden, external_total):
        for k, i in enumerate(hidden):
            if i in small and len(_feasible(coefficients, hidden_ranges, rest, k)) == 1:
                return True
    return False


def _pinned_across(
    groups: Sequence[Sequence[Any]],
    value: Callable[[Any], float | None],
    known_range: Callable[[Any], tuple[tuple[float, float], ...] | None],
    external: Iterable[int] = (),
    sensitive: Callable[[Any], bool] | None = None,
) -> int | None:
    """A group to hide one more figure in, when the sums of several groups taken together
    leave a hidden small figure one value (:func:`_pinned` looks at one sum at a time):
    "A: <10 + hidden = 21; column: hidden + <10 = 29" pins both small cells, 1 and 9. The
    bounds of every hidden figure are narrowed by every sum until nothing changes; returns
    the index of a group holding a pinned small figure and a shown one, or None.

    ``sensitive(key)``: whether a hidden figure must not be pinned (default: it reads
    "<10"); a figure the audience is not shown at all and that is small is one too. A sum
    with a single hidden figure pins it, and takes part: "active base 97" equal to the
    ladder's 97 (not shared), and 97 = "conversion of 92" + leaders, pinned 5 leaders."""
    if sensitive is None:

        def sensitive(key: Any) -> bool:
            return known_range(key) == _SMALL_RANGE

    external = set(external)
    bounds: dict[Any, list[float]] = {}
    equations: list[tuple[int, list[tuple[Any, int]], float]] = []
    for g, group in enumerate(groups):
        values = [value(key) for key in group]
        if any(v is None for v in values):
            continue
        ranges = [known_range(key) for key in group]
        hidden = [i for i, r in enumerate(ranges) if r is not None]
        if not hidden:
            continue
        for coefficients, rest in _sums(values, hidden, g in external):
            equations.append(
                (g, [(group[i], a) for i, a in zip(hidden, coefficients, strict=True)], rest)
            )
        for i in hidden:
            pieces = ranges[i] or ()
            bounds.setdefault(group[i], [min(p[0] for p in pieces), max(p[1] for p in pieces)])
    for _ in range(50):
        changed = False
        for _, terms, rest in equations:
            for j, (key, a) in enumerate(terms):
                others = [term for k, term in enumerate(terms) if k != j]
                low = sum(c * bounds[k][0] if c > 0 else c * bounds[k][1] for k, c in others)
                high = sum(c * bounds[k][1] if c > 0 else c * bounds[k][0] for k, c in others)
                span = (rest - high, rest - low) if a > 0 else (low - rest, high - rest)
                lo, hi = bounds[key]
                if span[0] != float("-inf") and -(-span[0] // 1) > lo:
                    bounds[key][0] = lo = -(-span[0] // 1)
                    changed = True
                if span[1] != float("inf") and span[1] // 1 < hi:
                    bounds[key][1] = span[1] // 1
                    changed = True
        if not changed:
            break
    for g, terms, _ in equations:
        for key, _ in terms:
            lo, hi = bounds[key]
            if lo == hi and sensitive(key) and any(known_range(o) is None for o in groups[g]):
                return g
    return None


# --------------------------------------------------------------------------- tables


def _positions(frame: pd.DataFrame, labels: Iterable[Any]) -> list[int]:
    labels = list(labels)
    positions = []
    for label in labels:
        matches = [i for i, value in enumerate(frame.index) if value == label]
        if not matches:
            raise KeyError(f"total row {label!r} is not in the table's index")
        positions.extend(matches)
    return positions


def suppression_mask(
    frame: pd.DataFrame,
    count_columns: Sequence[str],
    *,
    total_columns: Sequence[str] = (),
    total_rows: Sequence[Any] = (),
    implicit_totals: bool | str = False,
    threshold: int = THRESHOLD,
) -> pd.DataFrame:
    """Which count cells to hide: ``""`` (shown), ``"primary"`` (a count from 1 to 9) or
    ``"secondary"`` (hidden to protect a primary cell).

    The table's counts are ``count_columns`` (data) plus ``total_columns`` (each the sum
    of the data columns in its row). Rows whose index label is in ``total_rows`` are the
    sum of the other rows. A *group* is a set of cells tied by an addition: one row's
    data cells with its total cell, or one column's data cells with its total-row cell.
    A group with exactly one hidden cell gives it away (total minus the others), and so
    does a group whose hidden cells' sum leaves a small one only one value (two "<10"
    that must add up to 2 are 1 and 1): the smallest non-zero shown cell of that group
    is hidden too; this repeats until no group gives a cell away.

    ``implicit_totals=True`` treats every row and every column as if its total were
    published elsewhere (a headline figure, another report), which is the safe choice
    for breakdowns of a number shown on its own; ``"columns"`` or ``"rows"`` does so
    for columns only or rows only.

    Missing cells (NaN/None) give nothing away and count as hidden.
    """
    count_columns = list(count_columns)
    total_columns = [c for c in total_columns if c not in count_columns]
    columns = count_columns + total_columns
    for col in columns:
        if col not in frame.columns:
            raise KeyError(f"column {col!r} is not in the table")
    total_row_pos = set(_positions(frame, total_rows))
    n_rows = len(frame)
    data_rows = [i for i in range(n_rows) if i not in total_row_pos]

    values: dict[tuple[int, str], float | None] = {}
    state: dict[tuple[int, str], str] = {}
    for i in range(n_rows):
        for col in columns:
            raw = frame.iloc[i][col]
            value = None if _missing(raw) else float(raw)
            values[(i, col)] = value
            state[(i, col)] = "primary" if is_small(value, threshold) else ""

    # groups of cells tied by one addition; those in ``external`` add up to a total
    # published elsewhere (implicit totals)
    groups: list[list[tuple[int, str]]] = []
    external: set[int] = set()
    if implicit_totals not in (True, False, "rows", "columns"):
        raise ValueError(
            f"implicit_totals must be True, False, 'rows' or 'columns', got {implicit_totals!r}"
        )
    row_has_total = bool(total_columns) or implicit_totals in (True, "rows")
    col_has_total = bool(total_row_pos) or implicit_totals in (True, "columns")
    if row_has_total:
        for i in range(n_rows):
            if total_columns:
                for total in total_columns:
                    groups.append([(i, c) for c in count_columns] + [(i, total)])
            elif len(count_columns) > 1:
                external.add(len(groups))
                groups.append([(i, c) for c in count_columns])
    if col_has_total:
        for col in columns:
            if total_row_pos:
                for t in sorted(total_row_pos):
                    groups.append([(i, col) for i in data_rows] + [(t, col)])
            elif len(data_rows) > 1:
                external.add(len(groups))
                groups.append([(i, col) for i in data_rows])

    def hidden(cell: tuple[int, str]) -> bool:
        return state[cell] != "" or values[cell] is None

    def known_range(cell: tuple[int, str]) -> tuple[tuple[float, float], ...] | None:
        return {"primary": _SMALL_RANGE, "secondary": _NOT_SMALL}.get(state[cell])

    def hide_one(group: list[tuple[int, str]]) -> bool:
        shown = [cell for cell in group if not hidden(cell)]
        if not shown:
            return False
        # smallest non-zero first (hiding a zero protects little); data cells before
        # totals on a tie; then table order, so the result is deterministic
        order = {cell: k for k, cell in enumerate(group)}
        shown.sort(
            key=lambda cell: (
                values[cell] == 0,
                abs(values[cell] or 0.0),
                cell[1] in total_columns or cell[0] in total_row_pos,
                order[cell],
            )
        )
        state[shown[0]] = "secondary"
        return True

    changed = True
    while changed:
        changed = False
        for g, group in enumerate(groups):
            n_hidden = sum(1 for cell in group if hidden(cell))
            if (
                n_hidden == 0
                or n_hidden > 1
                and not _pinned(
                    [values[cell] for cell in group],
                    [known_range(cell) for cell in group],
                    external_total=g in external,
                )
            ):
                continue
            changed = hide_one(group) or changed
        if not changed:  # the sums taken together
            across = _pinned_across(groups, values.get, known_range, external)
            changed = across is not None and hide_one(groups[across])

    mask = pd.DataFrame("", index=frame.index, columns=columns, dtype=object)
    for (i, col), kind in state.items():
        mask.iat[i, columns.index(col)] = kind
    return mask


def suppress_linked(
    values: Mapping[Any, Any],
    groups: Iterable[Sequence[Any]],
    *,
    unknown: Iterable[Any] = (),
    is_total: Any = None,
    threshold: int = THRESHOLD,
    primary: Iterable[Any] = (),
    fixed: Iterable[Any] = (),
) -> dict[Any, str]:
    """Primary and secondary suppression over any set of linked figures.

    ``values`` maps a key (any hashable) to a count; ``groups`` are sets of keys tied by
    one equation (one is the sum of the others, or two are equal), so that a group with
    exactly one hidden figure would give it away, and so would one whose hidden small
    figures can only take one value each (see :func:`_pinned`). ``unknown`` keys are figures the
    audience does not see at all (not shared): they count as hidden, are protected only
    when small, and are never reported. ``is_total(key)`` marks totals, hidden last on a tie.
    ``primary`` keys are hidden whatever their size (another rule withholds them), and
    protected like small ones. ``fixed`` keys are figures the audience has already seen
    elsewhere (an earlier cycle's report): known, and never the one hidden here.

    Returns ``{key: "primary" | "secondary" | ""}`` for the known keys.
    """
    unknown = set(unknown)
    order = {key: k for k, key in enumerate(values)}
    numbers: dict[Any, float | None] = {
        key: (None if _missing(v) else float(v)) for key, v in values.items()
    }
    forced = set(primary)
    fixed = set(fixed)
    state = {
        key: ("primary" if key in forced or is_small(v, threshold) else "")
        for key, v in numbers.items()
    }
    groups = [[key for key in group if key in numbers] for group in groups]
    groups = [group for group in groups if len(group) > 1]

    def hidden(key: Any) -> bool:
        return key in unknown or state[key] != "" or numbers[key] is None

    def protect(key: Any) -> bool:
        # a figure the audience does not see needs protecting only if it is small;
        # a large one it may work out is what the organization chose to share
        if numbers[key] is None:
            return False
        return state[key] != "" or key in forced or is_small(numbers[key], threshold)

    def sensitive(key: Any) -> bool:
        # what a pinned value must not give back: a "<10", a figure withheld by another
        # rule, and a small one the audience is not shown at all
        if key in forced or state[key] == "primary":
            return True
        return key in unknown and is_small(numbers[key], threshold)

    def known_range(key: Any) -> tuple[tuple[float, float], ...] | None:
        if key in unknown or key in forced and not is_small(numbers[key], threshold):
            return _ANY  # not shown at all, or withheld whatever its size
        return {"primary": _SMALL_RANGE, "secondary": _NOT_SMALL}.get(state[key])

    def hide_one(group: list[Any]) -> bool:
        shown = [key for key in group if not hidden(key) and key not in fixed]
        if not shown:
            return False
        shown.sort(
            key=lambda key: (
                numbers[key] == 0,
                abs(numbers[key] or 0.0),
                bool(is_total(key)) if is_total else False,
                order[key],
            )
        )
        state[shown[0]] = "secondary"
        return True

    changed = True
    while changed:
        changed = False
        for group in groups:
            hidden_keys = [key for key in group if hidden(key)]
            if len(hidden_keys) == 1:
                if not protect(hidden_keys[0]):
                    continue
            elif not hidden_keys or not _pinned(
                [numbers[key] for key in group], [known_range(key) for key in group]
            ):
                continue
            changed = hide_one(group) or changed
        if not changed:  # the sums taken together
            across = _pinned_across(
                groups, lambda key: numbers[key], known_range, sensitive=sensitive
            )
            changed = across is not None and hide_one(groups[across])
    return {key: kind for key, kind in state.items() if key not in unknown}


def suppress_table(
    frame: pd.DataFrame,
    count_columns: Sequence[str],
    *,
    audience: str,
    total_columns: Sequence[str] = (),
    total_rows: Sequence[Any] = (),
    rate_columns: Mapping[str, tuple[str, str]] | None = None,
    implicit_totals: bool | str = False,
    threshold: int = THRESHOLD,
) -> pd.DataFrame:
    """A copy of ``frame`` made safe for ``audience``.

    - ``count_columns``: the table's counts (people, events, contacts).
    - ``total_columns``: columns holding each row's total of the count columns.
    - ``total_rows``: index labels of rows holding the column totals (e.g. ``"Total"``).
    - ``rate_columns``: ``{rate column: (numerator column, denominator column)}``. A
      rate is withheld when its numerator or denominator cell is hidden or small, or
      the rest (denominator minus numerator) is small. A
      numerator or denominator column that is not a count or total column is only used
      for this check and is dropped from the result.
    - ``implicit_totals``: see :func:`suppression_mask`.

    For ``organization`` the table is returned unchanged (a copy). Otherwise small
    counts read ``"<10"`` (:data:`SMALL`), cells hidden by secondary suppression read
    ``"hidden"`` (:data:`HIDDEN`) and withheld rates read ``"withheld"``
    (:data:`WITHHELD`). The cell-by-cell mask is kept in ``result.attrs["suppression"]``.
    """
    rate_columns = dict(rate_columns or {})
    out = frame.copy()
    if not is_restricted(audience):
        return out
    mask = suppression_mask(
        frame,
        count_columns,
        total_columns=total_columns,
        total_rows=total_rows,
        implicit_totals=implicit_totals,
        threshold=threshold,
    )
    shown_columns = list(mask.columns)
    helpers: set[str] = set()
    for rate_col, (num_col, den_col) in rate_columns.items():
        for col in (rate_col, num_col, den_col):
            if col not in frame.columns:
                raise KeyError(f"rate column {col!r} is not in the table")
        helpers.update(c for c in (num_col, den_col) if c not in shown_columns)

    for col in shown_columns:
        out[col] = out[col].astype(object)
    for rate_col in rate_columns:
        out[rate_col] = out[rate_col].astype(object)

    for i in range(len(frame)):
        for col in shown_columns:
            kind = mask.iat[i, shown_columns.index(col)]
            if kind == "primary":
                out.iat[i, out.columns.get_loc(col)] = SMALL
            elif kind == "secondary":
                out.iat[i, out.columns.get_loc(col)] = HIDDEN
            else:
                out.iat[i, out.columns.get_loc(col)] = _plain(frame.iloc[i][col])
        for rate_col, (num_col, den_col) in rate_columns.items():
            rate = frame.iloc[i][rate_col]
            withhold = False
            for part in (num_col, den_col):
                if part in shown_columns:
                    hidden_cell = mask.iat[i, shown_columns.index(part)] != ""
                    withhold = withhold or hidden_cell or _missing(frame.iloc[i][part])
                else:
                    withhold = withhold or is_small(frame.iloc[i][part], threshold)
                    withhold = withhold or _missing(frame.iloc[i][part])
            if not withhold:  # the rest (those who did not) is a count too
                rest = float(frame.iloc[i][den_col]) - float(frame.iloc[i][num_col])
                withhold = is_small(rest, threshold)
            loc = out.columns.get_loc(rate_col)
            out.iat[i, loc] = None if _missing(rate) else (WITHHELD if withhold else _plain(rate))
    if helpers:
        out = out.drop(columns=sorted(helpers))
    out.attrs["suppression"] = mask
    return out


# --------------------------------------------------------------------------- consent


def allowed_metrics(org: Organization, audience: str) -> set[str] | None:
    """The metric keys ``org`` agreed to show to ``audience``; ``None`` means all of them
    (its own staff). Anything not listed under ``consent`` in cohort.yml is not shared."""
    _check_audience(audience)
    if audience == "organization":
        return None
    return set(getattr(org.consent, audience))


def shares_nothing(org: Organization, audience: str) -> bool:
    """Whether ``org`` agreed to share nothing with ``audience`` (an empty consent list):
    then not its reflection's learnings, decisions and questions either."""
    return allowed_metrics(org, audience) == set()


def is_allowed(org: Organization, audience: str, metric: str) -> bool:
    allowed = allowed_metrics(org, audience)
    return allowed is None or metric in allowed


def measure_allowed(org: Organization, audience: str, measure: str) -> bool:
    """Whether a measure named in a reflection or a definition change (a metric key, or
    ``ladder.<rung>`` for a rung of the ladder) is one ``org`` shares with ``audience``."""
    metric = "ladder" if measure.startswith("ladder.") else measure
    return is_allowed(org, audience, metric)


def shares_with_everyone(org: Organization, measure: str | None = None) -> bool:
    """Whether what ``org`` said may go where every audience reads it (the cycle card):
    only when it shares its reflection with every audience outside itself (and, for a
    ``measure``, that measure with each of them)."""
    outside = [a for a in AUDIENCES if is_restricted(a)]
    if any(shares_nothing(org, a) for a in outside):
        return False
    return measure is None or all(measure_allowed(org, a, measure) for a in outside)


def guard_org_ids(cohort: Cohort, org_id: str | None) -> list[str]:
    """Whose personal values a report must be checked against: the organization and its
    affiliates (a network report rolls them up), or every organization for a cohort-level
    report (``org_id=None``)."""
    if org_id is None:
        return [org.id for org in cohort.organizations]
    return [org_id, *(org.id for org in cohort.affiliates(org_id))]


# --------------------------------------------------------------------------- the guard

#: Words of four letters or more that are both surnames and ordinary English (or words
#: the workbook's own reports use). A last name on its own is not treated as a leak when
#: it is one of these; the full name (first and last together) still is.
COMMON_WORDS = frozenset(
    """
    able about above action actions active activity after again against ages
    alliance also always among amount analysis another april area areas around
    august away back baker ball bank banks base bass bell berry best better bird
    bishop black block board body bond booth both brand bridge bright brook brooks
    brown builder burns bush butler call calls campaign card carter case cash center
    chance change chase church city clay close cohort cole come community contact
    cook cooper count counts cross cycle dale data date dates dawn days dean
    decisions design device down drake during each east eastside edge english even
    event events every fair faith field fields finch first fisher ford forest free
    freeman frank from frost funder gallery garden gardner gate gates glass goal
    gold golden good goodman gordon grace grant gray green greene gross growth hale
    hall hand hardy harbor hart hawk head heart heath hero high hill hills holiday
    home hood hope horn house hunt hunter into island jack joy july june just keen
    kind king knight lake lamb land lane large last leader leaders learnings legend
    life light like lion little long lord love lucky major march mark marks marsh
    marshall mason may meadows measure measures meeting member members mercy metro
    miles mill miller mills moon more moss most much name nash network never newman
    next nice night noble none north note notebook number only open over page palmer
    paris park parker parks parsons party patience people person phone pierce pike
    plan plum pope porter post power powers price prince questions rain rate rates
    ready reed reflect result rice rich ridge rivers road rock rose royal rush sage
    sales savage sharp shepherd short show shows silver singer slaughter small snow
    some south spear spring stark state states status steel steele stern stone story
    strange street strong such summer summers supporter sweet swift table taylor
    team text texts that them then there these they this those through time today
    total town training trent turner union upon valley very voter voters wade walk
    walker wall walls ward water waters weaver week weeks well wells west what when
    where which white whole wild wilde will wing winter winters wise with wolf wolfe
    wood woods work workers worthy wren wright year years young youth
    """.split()  # noqa: SIM905
)

_CELL_START = re.compile(r"<div\b[^>]*\bclass=\"(?:[^\"]*\s)?jp-Cell(?=[\s\"])[^>]*>", re.I)
_CELL_ID = re.compile(r"\bid=\"cell-id=([^\"]+)\"")
_STYLE = re.compile(r"<style\b.*?</style\s*>", re.I | re.S)
_SCRIPT = re.compile(r"<script\b.*?</script\s*>", re.I | re.S)
_DATA_URI = re.compile(r"data:[\w.+/-]+;base64,[A-Za-z0-9+/=\s]+")
_TAG = re.compile(r"<[^>]*>")
_TOKEN = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
_EMAIL = re.compile(r"[\w.+%'-]+@[\w-]+(?:\.[\w-]+)+")
# separators people write between a phone's digits: spaces, dots, brackets, dashes,
# slashes (617/555/0142) and underscores
_PHONE = re.compile(r"\+?\(?\d[\d\s.()/_\-\u2010-\u2015]{5,22}\d")
_ID_TOKEN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_\-:.]*[A-Za-z0-9])?")
# A bare number (not part of 1,234,567 / 3.14159 / a hex hash / a word).
_NUMBER = re.compile(r"(?<![\w.,])\d{6,}(?![.,]?\d)(?!\w)")
# Numbers alone in a table cell (a column of ids shown by mistake).
_CELL_NUMBER = re.compile(r"<t[dh]\b[^>]*>\s*(\d{6,})\s*</t[dh]>", re.I)
# Words that say the numbers after them are ids ("VAN id 1234567", "ids: 123456, 234567").
_ID_LABEL = re.compile(
    r"(?i)\b(?:ids?|van|vanids?|user|users|contact|contacts|member|members|voter|voters|"
    r"person|people|mobilize|external)\b[^\w<>]*(?:ids?\b)?[\W\d]*$"
)
#: Bare numbers this long are checked anywhere (a chance match is negligible); shorter
#: ones only in a table cell of their own or after a word like "id" or "VAN", because a
#: large organization's 6–8 digit ids cover much of the space of such numbers.
LONG_NUMBER = 9
_ADDRESS_WORDS = {
    "street": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "boulevard": "blvd",
    "drive": "dr",
    "lane": "ln",
    "court": "ct",
    "place": "pl",
    "apartment": "apt",
    "suite": "ste",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
}

LEAK_KINDS = {
    "email": "an email address",
    "phone": "a phone number",
    "name": "a full name",
    "last_name": "a last name",
    "address": "a street address",
    "source_id": "a source id (a tool's id for a person)",
    "person_id": "a person id",
}


def _unmark(text: str) -> str:
    """Compatibility-decomposed, without combining marks (José -> Jose, Ｊｏｓｅ -> Jose);
    case kept. Done before tokenizing: a mark written as its own character (data saved in
    decomposed form) would otherwise split a name in two ("Nun" + "̃ez")."""
    decomposed = unicodedata.normalize("NFKD", text)
    if decomposed.isascii():  # no combining marks to drop (most of a report)
        return decomposed
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _tokens(text: str) -> list[str]:
    return [tok.casefold().replace("\u2019", "'") for tok in _TOKEN.findall(_unmark(text))]


# Characters a browser shows as nothing (soft hyphen, zero-width spaces and joiners,
# direction marks, variation selectors, the byte-order mark): "Quill&shy;feather" reads
# as Quillfeather on screen, so the guard reads it so too.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]"
)
# apostrophes people type (the modifier letter counts as a letter: inside a token)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\u2018": "'"})


def _visible(text: str) -> str:
    """HTML text as a reader sees it: entities decoded, invisible characters dropped."""
    return _INVISIBLE.sub("", html.unescape(text))


def _unquoted(markup: str) -> str:
    """Markup with URL escapes decoded where an address could hide one (a mailto link
    written ana%40example.org)."""
    if "%" not in markup:
        return markup
    from urllib.parse import unquote

    return unquote(markup)


def _report_tokens(text: str) -> tuple[list[str], list[str]]:
    """A report's tokens as written (for capitals) and folded, a possessive's ``'s``
    dropped ("Quillfeather's place" names Quillfeather)."""
    originals = _TOKEN.findall(_unmark(text.translate(_APOSTROPHES)))
    tokens = []
    for tok in originals:
        folded = tok.casefold()
        tokens.append(folded[:-2] if folded.endswith("'s") and len(folded) > 2 else folded)
    return originals, tokens


def _singular(token: str) -> str | None:
    """A family's plural ("the Quillfeathers", a "Thornburys House Party") as the
    surname it is made from, for tokens long enough to be checked as one."""
    return token[:-1] if len(token) > 4 and token.endswith("s") else None


def _address_tokens(tokens: Iterable[str]) -> list[str]:
    return [_ADDRESS_WORDS.get(tok, tok) for tok in tokens]


def _phone_key(value: str) -> str | None:
    # any script's decimal digits as ASCII ones (fullwidth ６１７ is 617 on screen)
    digits = "".join(str(d) for d in (unicodedata.decimal(c, None) for c in value) if d is not None)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) < 10 or len(digits) > 15:
        return None
    return digits[-10:]


def _phone_candidates(markup: str) -> Iterator[list[str]]:
    """For each phone-like match in a piece of report text, its normalized phone keys,
    read from each of its digit groups onward (so "call 1 (555) 310-0001" gives the
    number with and without the country code), in that order."""
    for match in _PHONE.finditer(markup):
        groups = re.findall(r"\d+", match.group(0))
        keys = []
        for start in range(len(groups)):
            digits = ""
            for group in groups[start:]:
                digits += group
                if len(digits) >= 10:
                    break
            key = _phone_key(digits)
            if key:
                keys.append(key)
        yield keys


def _mask(value: str) -> str:
    """A hint that names nothing: first character and length."""
    value = value.strip()
    return f"{value[:1]}… ({len(value)} characters)" if value else "(empty)"


@dataclass(frozen=True)
class Leak:
    """One personal value of a member found in a rendered report."""

    kind: str  # a key of LEAK_KINDS
    org_id: str
    cell: int | None  # 0-based notebook cell (div.jp-Cell, in order); None = outside cells
    cell_id: str | None
    hint: str  # masked: first character and length, never the value
    # the file (and line) of the configuration or reflection the value is written in
    written_in: str = ""

    def where(self) -> str:
        if self.cell is None:
            return "outside the notebook cells (page title or template)"
        ident = f", id {self.cell_id}" if self.cell_id else ""
        return f"cell {self.cell}{ident}"

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        found = (
            f"{LEAK_KINDS.get(self.kind, self.kind)} of a member of {self.org_id} in {self.where()}"
        )
        if self.written_in:
            found += f"; it is written in {self.written_in}: take it out there"
        return found


@dataclass
class _Phrases:
    """Token sequences keyed by their first token (the Aho–Corasick idea, in a dict)."""

    by_first: dict[str, list[tuple[tuple[str, ...], str, str, str]]] = field(default_factory=dict)

    def add(self, tokens: Sequence[str], kind: str, org_id: str, original: str) -> None:
        if not tokens:
            return
        self.by_first.setdefault(tokens[0], []).append((tuple(tokens), kind, org_id, original))

    def finish(self) -> None:
        for entries in self.by_first.values():
            entries.sort(key=lambda e: -len(e[0]))


@dataclass
class PiiIndex:
    """The personal values of some organizations, ready for fast lookups. Kept in
    memory only, never written anywhere."""

    emails: dict[str, tuple[str, str]] = field(default_factory=dict)
    phones: dict[str, tuple[str, str]] = field(default_factory=dict)
    ids: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # folded -> kind, org
    names: _Phrases = field(default_factory=_Phrases)
    addresses: _Phrases = field(default_factory=_Phrases)
    allow_words: frozenset[str] = frozenset()
    allow_text: str = " "
    # each allowed name's tokens: a list of them reads as one ("Ana, Lee": staff Ana and
    # Lee, not a member named Ana Lee)
    allow_items: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)  # by first

    @property
    def size(self) -> int:
        return (
            len(self.emails)
            + len(self.phones)
            + len(self.ids)
            + sum(len(v) for v in self.names.by_first.values())
            + sum(len(v) for v in self.addresses.by_first.values())
        )


def _add_id(index: PiiIndex, value: Any, kind: str, org_id: str) -> None:
    if _missing(value):
        return
    text = str(value).strip()
    if re.fullmatch(r"[+\d\s().-]+", text):
        key = _phone_key(text)
        if key:  # a tool that keys people by phone (Spoke): a phone number
            index.phones.setdefault(key, (org_id, text))
            return
    if len(text) < 6:
        return
    index.ids.setdefault(text.casefold(), (kind, org_id, text))


def build_index(
    rows: Iterable[Sequence[Any]],
    identities: Iterable[Sequence[Any]] = (),
    *,
    allow: Iterable[str] = (),
) -> PiiIndex:
    """Index personal values.

    ``rows``: ``(org_id, person_id, first_name, last_name, email, phone, address)``
    (the ``person_pii`` columns); ``identities``: ``(org_id, source_id)``; ``allow``:
    text legitimately in reports (cohort.yml, cycle cards) whose words and names are not
    treated as leaks on their own.
    """
    allow_tokens: list[str] = []
    prose_words: set[str] = set()
    items: dict[str, list[tuple[str, ...]]] = {}
    for text in allow:
        if text:
            tokens = _tokens(str(text))
            # as a report's tokens are read: "Scotts Valley" and "Scott's Addition" are
            # written here, and their words checked as "scott" there
            _, read = _report_tokens(str(text))
            if isinstance(text, Words):  # its words, not its names (see Words)
                prose_words.update(tokens, read, (_singular(t) or t for t in read))
                continue
            # (each text ends in a separator: "Ana Kim" then "Lee Wong" allowed "Kim Lee")
            allow_tokens.extend([*tokens, "|"])
            if tokens and tuple(tokens) not in items.get(tokens[0], ()):
                items.setdefault(tokens[0], []).append(tuple(tokens))
            allow_tokens.extend([*read, "|", *(_singular(t) or t for t in read), "|"])
    index = PiiIndex(
        allow_words=frozenset(allow_tokens) | prose_words | COMMON_WORDS,
        allow_text=" " + " ".join(allow_tokens) + " ",
        allow_items=items,
    )
    for org_id, person_id, first, last, email, phone, address in rows:
        _add_id(index, person_id, "person_id", org_id)
        if not _missing(email) and "@" in str(email):
            index.emails.setdefault(str(email).strip().casefold(), (org_id, str(email)))
        if not _missing(phone):
            key = _phone_key(str(phone))
            if key:
                index.phones.setdefault(key, (org_id, str(phone)))
        first_t = _tokens(str(first)) if not _missing(first) else []
        last_t = _tokens(str(last)) if not _missing(last) else []
        if first_t and last_t:
            full = f"{first} {last}"
            index.names.add(first_t + last_t, "name", org_id, full)
            index.names.add(last_t + first_t, "name", org_id, full)
        common = len(last_t) == 1 and last_t[0] in index.allow_words
        if last_t and sum(len(t) for t in last_t) >= 4 and not common:
            index.names.add(last_t, "last_name", org_id, str(last))
        if len(last_t) > 1:  # each part of "O'Brien-Vasquez" names the person too
            for part in last_t:
                if len(part) >= 4 and part not in index.allow_words:
                    index.names.add([part], "last_name", org_id, str(last))
        if not _missing(address):
            street = str(address).split(",")[0].split("\n")[0]
            street_t = _address_tokens(_tokens(street))
            if len(street_t) >= 2 and len("".join(street_t)) >= 6:
                index.addresses.add(street_t, "address", org_id, street)
    for org_id, source_id in identities:
        _add_id(index, source_id, "source_id", org_id)
    index.names.finish()
    index.addresses.finish()
    return index


def _cell_segments(html_text: str) -> list[tuple[int | None, str | None, str]]:
    """Split report HTML at each notebook cell: (cell index, cell id, html)."""
    starts = [(m.start(), m.group(0)) for m in _CELL_START.finditer(html_text)]
    if not starts:
        return [(None, None, html_text)]
    segments: list[tuple[int | None, str | None, str]] = [(None, None, html_text[: starts[0][0]])]
    for k, (pos, tag) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(html_text)
        ident = _CELL_ID.search(tag)
        segments.append((k, ident.group(1) if ident else None, html_text[pos:end]))
    return segments


def _listed(tokens: list[str], items: dict[str, list[tuple[str, ...]]]) -> set[int]:
    """The positions of ``tokens`` inside a whole allowed name written there: a list of
    them ("Ana Kim, Lee Wong"; a team "Ana, Lee") reads as a member's name across two
    ("Kim Lee", "Ana Lee"), which is no name of anyone's there. A name standing alone
    ("Kim Lee knocked") is not inside one."""
    found: set[int] = set()
    for i, tok in enumerate(tokens):
        for item in items.get(tok, ()):
            if tuple(tokens[i : i + len(item)]) == item:
                found.update(range(i, i + len(item)))
    return found


def _scan_phrases(
    tokens: list[str],
    originals: list[str],
    phrases: _Phrases,
    index: PiiIndex,
) -> Iterable[tuple[str, str, str]]:
    by_first = phrases.by_first
    covered = 0  # a last name inside a full name already found is not a second leak
    listed: set[int] | None = None  # worked out at the first name found (most find none)
    for i, tok in enumerate(tokens):
        if i < covered:
            continue
        entries = by_first.get(tok, [])
        singular = _singular(tok)
        if singular is not None and phrases is index.names:
            # a family's plural names its one-word surname
            entries = entries + [e for e in by_first.get(singular, ()) if e[0] == (singular,)]
        if not entries:
            continue
        for seq, kind, org_id, original in entries:
            n = len(seq)
            if tuple(tokens[i : i + n]) != seq and seq != (singular,):
                continue
            if kind == "last_name" and not originals[i][:1].isupper():
                continue  # "young people" is not Ms Young
            if kind in {"name", "last_name"} and f" {' '.join(seq)} " in index.allow_text:
                continue  # written in cohort.yml or the cycle card (staff, facilitators)
            if kind == "name":
                if listed is None:
                    listed = _listed(tokens, index.allow_items)
                if all(k in listed for k in range(i, i + n)):
                    continue  # inside allowed names one after another: a list of them
            covered = i + n
            yield kind, org_id, original
            break


def _written_in(value: str, sources: Mapping[str, str]) -> str:
    """Where a found value is written among ``sources`` (a name -> the file's text):
    "2026-c2/cycle.yml, line 12", or ''. Spaces and case aside, as the report reads it."""
    wanted = " ".join(value.split()).casefold()
    if not wanted:
        return ""
    for name, text in sources.items():
        for number, line in enumerate(text.splitlines(), 1):
            if wanted in " ".join(line.split()).casefold():
                return f"{name}, line {number}"
    return ""


def scan_text(
    html_text: str, index: PiiIndex, *, sources: Mapping[str, str] | None = None
) -> list[Leak]:
    """Find the indexed personal values in report HTML (see :func:`scan_html`).
    ``sources``: the text files a report shows words of (cohort.yml, the cycle card, the
    reflections), by name: a value written there is said to be (a card's learnings are
    in every report, and the report's cell was no clue)."""
    leaks: dict[tuple[str, str, int | None, str], Leak] = {}

    def hit(kind: str, org_id: str, cell: int | None, cell_id: str | None, value: str) -> None:
        key = (kind, org_id, cell, value.casefold())
        if key not in leaks:
            where = _written_in(value, sources) if sources else ""
            leaks[key] = Leak(kind, org_id, cell, cell_id, _mask(value), where)

    for cell, cell_id, segment in _cell_segments(html_text):
        segment = _DATA_URI.sub(" ", _STYLE.sub(" ", segment))
        # the markup view keeps attributes (alt text, titles, scripts); the text view
        # joins what a reader sees across tags ("<b>Maria</b> <i>Lopez</i>")
        markup = _visible(segment)
        text = _visible(_TAG.sub(" ", _SCRIPT.sub(" ", segment)))
        if index.emails:
            for match in _EMAIL.finditer(_unquoted(markup)):
                found = index.emails.get(match.group(0).casefold().strip(".'"))
                if found:
                    hit("email", found[0], cell, cell_id, found[1])
        if index.phones:
            for keys in _phone_candidates(markup):
                for key in keys:
                    found = index.phones.get(key)
                    if found:
                        hit("phone", found[0], cell, cell_id, found[1])
                        break
        if index.ids:
            for match in _ID_TOKEN.finditer(markup):
                token = match.group(0)
                candidates = {token, *re.split(r"[_\-:.]", token)} if not token.isdigit() else set()
                for candidate in candidates:
                    if len(candidate) < 6 or candidate.isdigit():
                        continue
                    found = index.ids.get(candidate.casefold())
                    if found:
                        hit(found[0], found[1], cell, cell_id, found[2])
            # bare numbers (VAN, Mobilize ids): see LONG_NUMBER
            for match in _NUMBER.finditer(text):
                number = match.group(0)
                found = index.ids.get(number)
                if not found:
                    continue
                before = text[max(0, match.start() - 60) : match.start()]
                if len(number) >= LONG_NUMBER or _ID_LABEL.search(before):
                    hit(found[0], found[1], cell, cell_id, found[2])
            for match in _CELL_NUMBER.finditer(segment):
                found = index.ids.get(match.group(1))
                if found:
                    hit(found[0], found[1], cell, cell_id, found[2])
        if index.names.by_first or index.addresses.by_first:
            originals, tokens = _report_tokens(text)
            for kind, org_id, value in _scan_phrases(tokens, originals, index.names, index):
                hit(kind, org_id, cell, cell_id, value)
            address_tokens = _address_tokens(tokens)
            for kind, org_id, value in _scan_phrases(
                address_tokens, originals, index.addresses, index
            ):
                hit(kind, org_id, cell, cell_id, value)
    return list(leaks.values())


class Words(str):
    """Text facilitators wrote as prose (a card's learnings, a definition): its single
    words are allowed in reports ("Meet at Wilson Park" withholds nothing for a member
    named Wilson), never a name it holds: a member's full name typed into a card's
    learnings, or carried there from a reflection's question, reached every report of
    the cycle, funders' included."""

    __slots__ = ()


def config_text(cohort: Cohort, cards: Iterable[CycleCard] = ()) -> list[str]:
    """Text written by facilitators in cohort.yml and cycle cards: it may rightly appear
    in reports. Names (staff, facilitators, organizations, the people a card holds
    accountable) are allowed whole; prose, labels included, word by word
    (:class:`Words`)."""
    texts: list[str] = [cohort.name, *cohort.facilitators]
    prose: list[str] = []
    for org in cohort.organizations:
        texts += [org.name, *org.staff]
        prose.append(org.consent.gallery_note or "")
        for rung in org.ladder:
            prose += [rung.label, rung.definition]
        for change in org.measure_history:
            # (who proposed it: see guard_allowances, the group's own reports only)
            prose += [change.why, change.change]
            if change.replaced is not None and change.replaced.rung is not None:
                # earlier cycles' reports show the rung as it was
                prose += [change.replaced.rung.label, change.replaced.rung.definition]
        # a source's label names a sheet, not a person: "Maria Wilson canvass sheet"
        # allowed a member's full name in every report
        prose += [source.label or "" for source in org.sources]
    for card in cards:
        texts += [*card.accountable]
        for org_id, names in card.team.items():
            texts += [org_id, *names]
        prose += [card.title, card.hypothesis, card.design, *card.how_might_we]
        prose += [*card.learnings, *card.decisions, *card.questions]
        for metric in card.metrics:
            prose += [metric.goal, metric.failure, metric.result or ""]
        prose += [doc.title for doc in card.documents]
    return texts + [Words(text) for text in prose if text]


def _config_text_near(store_path: Path) -> list[str]:
    """config_text for the cohort whose store this is (store.duckdb sits beside
    cohort.yml); nothing when the configuration cannot be read (the guard then allows
    fewer words, which errs on the side of withholding)."""
    return guard_allowances(store_path)[0]


def guard_allowances(store_path: Path) -> tuple[list[str], dict[str, list[str]]]:
    """What the guard may allow in the cohort whose store this is: the text facilitators
    wrote in cohort.yml and the cycle cards (allowed in every report), and each
    organization's reflection people (:func:`reflection_people`; allowed only in that
    organization's own reports). Nothing when the configuration cannot be read."""
    from cyclebook.config import list_cycles, load_cohort, load_cycle

    root = store_path.parent
    if not (root / "cohort.yml").exists():
        return [], {}
    try:
        cohort = load_cohort(root)
        cycles = list_cycles(root)
        cards = [load_cycle(root, cycle) for cycle in cycles]
    except CyclebookError:
        return [], {}
    people = reflection_people(root, cycles)
    for org in cohort.organizations:  # proposers recorded in cohort.yml, as in reflections
        if org.measure_history:
            people.setdefault(org.id, []).extend(c.proposed_by for c in org.measure_history)
    return config_text(cohort, cards), people


def report_allowance(
    allowances: tuple[list[str], dict[str, list[str]]], org_id: str | None, audience: str
) -> list[str]:
    """What the guard allows in one report, from :func:`guard_allowances`: the
    facilitators' text always; a group's reflection people only in that group's own
    reports for the organization (``org_id=None``: a cohort page for the facilitators,
    which may name every group's), never for the cohort or a funder."""
    config, people = allowances
    allow = list(config)
    if audience == "organization":
        for owner, names in people.items():
            if org_id is None or owner == org_id:
                allow += names
    return allow


def reflection_people(root: Path, cycles: Iterable[str]) -> dict[str, list[str]]:
    """By organization: who recorded its reflections, who took part and who proposed a
    change (staff, and often leaders who are also members); not what anyone said.

    The group's own reports name them (its reflect report lists who took part), so the
    guard allows these names there, and only there: allowed everywhere, a participant's
    name passed in another group's reflection read by a funder."""
    from cyclebook.yamlio import read_yaml

    names: dict[str, list[str]] = {}
    for cycle in cycles:
        for path in sorted((root / cycle / "reflections").glob("*.yml")):
            # read as the reflect report reads it: PyYAML's own parser refused text that
            # reader takes ("questions: [Who calls?]"), and the group's own report that
            # named its participants was withheld
            try:
                data = read_yaml(path, what="reflection file").data
            except (OSError, CyclebookError):
                continue
            found = names.setdefault(path.stem, [])
            versions = data.get("versions") if isinstance(data, dict) else None
            for version in versions if isinstance(versions, list) else []:
                if not isinstance(version, dict):
                    continue
                found.append(str(version.get("author") or ""))
                participants = version.get("participants")
                if isinstance(participants, list):
                    found.extend(str(p) for p in participants)
                changes = version.get("measure_changes")
                for change in changes if isinstance(changes, list) else []:
                    if isinstance(change, dict):
                        found.append(str(change.get("proposed_by") or ""))
    return {org_id: [n for n in found if n] for org_id, found in names.items()}


_INDEX_CACHE: dict[tuple, PiiIndex] = {}


def _personal_tables(con: Any, org_ids: Iterable[str] | None) -> tuple[bool, bool, list[str]]:
    """Whether the store has ``person_pii`` and ``identity``, and the organizations to
    read (every organization holding personal values when ``org_ids`` is None)."""
    from cyclebook.store import table_names

    tables = table_names(con)
    has_pii, has_ids = "person_pii" in tables, "identity" in tables
    if org_ids is None:
        parts = [
            f"SELECT DISTINCT org_id FROM {t}"
            for t, ok in (("person_pii", has_pii), ("identity", has_ids))
            if ok
        ]
        found = con.execute(" UNION ".join(parts)).fetchall() if parts else []
        org_ids = [row[0] for row in found]
    return has_pii, has_ids, sorted(set(org_ids))


def load_index(
    store_path: str | Path,
    org_ids: Iterable[str] | None,
    *,
    allow: Iterable[str] | None = None,
) -> PiiIndex:
    """Read the organizations' personal values from the store. ``org_ids=None`` reads
    every organization in the store.

    The index is cached in the process under a fingerprint of the personal rows
    themselves (count and an order-free hash), so the many reports rendered in one
    worker reuse it while metric values are being written, and a re-sync rebuilds it.
    """
    from cyclebook.store import connect

    store_path = Path(store_path)
    allow_list = list(allow) if allow is not None else _config_text_near(store_path)
    with connect(store_path) as con:
        has_pii, has_ids, org_ids = _personal_tables(con, org_ids)
        marks = ", ".join("?" for _ in org_ids) or "NULL"
        pii_cols = "org_id, person_id, first_name, last_name, email, phone, address"
        fingerprint: list[Any] = [str(store_path.resolve()), tuple(org_ids)]
        for table, cols, ok in (
            ("person_pii", pii_cols, has_pii),
            ("identity", "org_id, source_id", has_ids),
        ):
            if ok:
                fingerprint.extend(
                    con.execute(
                        f"SELECT count(*), bit_xor(hash({cols})) FROM {table} "
                        f"WHERE org_id IN ({marks})",
                        org_ids,
                    ).fetchone()
                )
        key = (tuple(fingerprint), hash(tuple((isinstance(t, Words), t) for t in allow_list)))
        cached = _INDEX_CACHE.get(key)
        if cached is not None:
            return cached
        rows = []
        if has_pii and org_ids:
            rows = con.execute(
                f"SELECT {pii_cols} FROM person_pii WHERE org_id IN ({marks})", org_ids
            ).fetchall()
        identities = []
        if has_ids and org_ids:
            identities = con.execute(
                f"SELECT org_id, source_id FROM identity WHERE org_id IN ({marks})", org_ids
            ).fetchall()
    index = build_index(rows, identities, allow=allow_list)
    if len(_INDEX_CACHE) >= 4:
        _INDEX_CACHE.pop(next(iter(_INDEX_CACHE)))
    _INDEX_CACHE[key] = index
    return index


def scan_html(
    html_text: str,
    store_path: str | Path,
    org_ids: Iterable[str] | None,
    *,
    allow: Iterable[str] | None = None,
    sources: Mapping[str, str] | None = None,
) -> list[Leak]:
    """Every personal value of the organizations' members (``person_pii``: emails,
    phones in any common format, full names, last names of four letters or more that
    are not ordinary words, street addresses; ``identity.source_id``; person ids) that
    appears in ``html_text``, with the notebook cell it is in.

    ``org_ids=None`` checks every organization in the store (right for cohort-level
    reports; for one organization pass :func:`guard_org_ids`, which adds a network's
    affiliates). ``allow`` is text that may rightly appear (names of staff and
    facilitators written in cohort.yml and the cycle cards); by default it is read from
    the cohort folder holding the store.

    Fast on a large store: only the people whose values could be in the report are read
    (:func:`candidate_index`). ``sources``: see :func:`scan_text`.
    """
    index = candidate_index(html_text, store_path, org_ids, allow=allow)
    return scan_text(html_text, index, sources=sources)


_DIGITS = re.compile(r"\d+")


def _grams(tokens: Sequence[str]) -> set[str]:
    """Every token and every two neighbouring tokens, space-joined."""
    return {*tokens, *(f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False))}


def _html_candidates(html_text: str) -> dict[str, set[str]]:
    """Everything in the report that could be a personal value, normalized the way
    :func:`candidate_index`'s query normalizes the store's values.

    ``phrases`` and ``streets`` are the report's tokens and pairs of neighbouring tokens
    as :func:`scan_text` reads them (names and street addresses are found as runs of
    tokens there): a name leaks only if its first one or two tokens are among them.
    """
    emails: set[str] = set()
    phones: set[str] = set()
    e164: set[str] = set()
    ids: set[str] = set()
    numbers: set[str] = set()
    phrases: set[str] = set()
    streets: set[str] = set()
    for _cell, _cell_id, segment in _cell_segments(html_text):
        segment = _DATA_URI.sub(" ", _STYLE.sub(" ", segment))
        markup = _visible(segment)
        text = _visible(_TAG.sub(" ", segment))
        for view in (markup, text):
            numbers.update(_DIGITS.findall(view))
        # what scan_text reads (scripts dropped) and, to be safe, the text with them
        for view in (text, _visible(_TAG.sub(" ", _SCRIPT.sub(" ", segment)))):
            _, tokens = _report_tokens(view)
            phrases |= _grams(tokens)
            phrases.update(filter(None, map(_singular, tokens)))
            streets |= _grams(_address_tokens(tokens))
        emails.update(m.group(0).casefold().strip(".'") for m in _EMAIL.finditer(_unquoted(markup)))
        for keys in _phone_candidates(markup):
            phones.update(keys)
            e164.update("+1" + key for key in keys)
        for match in _PHONE.finditer(markup):  # a number written with its country code
            digits = "".join(re.findall(r"\d", match.group(0)))
            if not match.group(0).startswith("+"):  # or an international call prefix
                prefixed = re.match(r"(?:00|011)(\d+)", digits)
                digits = prefixed.group(1) if prefixed else ""
            if 8 <= len(digits) <= 15:
                e164.add("+" + digits)
        for match in _ID_TOKEN.finditer(markup):
            token = match.group(0)
            for candidate in {token, *re.split(r"[_\-:.]", token)}:
                if len(candidate) >= 6:
                    ids.add(candidate.casefold())
    return {
        "emails": emails,
        "phones": phones,
        "e164": e164,
        "ids": ids,
        "numbers": numbers,
        "phrases": phrases,
        "streets": streets,
    }


# In SQL, a value's tokens are those of _tokens only when DuckDB's lower(strip_accents())
# folds it as _tokens does (_unmark, then casefold). That holds for text in ASCII and
# Latin letters (José, Núñez, fullwidth Ｍａｒｉａ) that strips to ASCII; anything else
# (ß, Ø, Greek, Cyrillic, Han, combining marks) is tokenized by Python itself
# (tests/privacy/test_guard_unicode.py checks every character of the Basic Multilingual
# Plane against this rule).
_SQL_TOKEN = r"[a-z0-9]+(?:'[a-z0-9]+)*"


def _sql_foldable(column: str) -> str:
    return (
        rf"(regexp_full_match({column}, '(?:[\x00-\x7F]|\p{{Latin}})*')"
        f" AND strlen(strip_accents({column})) = length(strip_accents({column})))"
    )


def _sql_tokens(column: str) -> str:
    """The first two tokens of ``column`` as _tokens makes them (a struct of ``a`` and
    ``b``), for a foldable value (see _sql_foldable). One regexp_extract of both: 0.01 s
    for a million names, against 0.2-0.5 s for regexp_extract_all and a list lambda."""
    token = _SQL_TOKEN.replace("'", "''")
    return (
        f"regexp_extract(lower(strip_accents({column})), "
        f"'({token})(?:[^a-z0-9]+({token}))?', ['a', 'b'])"
    )


def _sql_head(tokens: str, *, address: bool = False) -> str:
    """The space-joined head of a :func:`_sql_tokens` struct (for a street, each token
    shortened as _address_tokens does)."""
    heads = [f"nullif({tokens}.{part}, '')" for part in ("a", "b")]
    if address:
        words = ", ".join(f"'{word}': '{short}'" for word, short in _ADDRESS_WORDS.items())
        heads = [f"coalesce(MAP {{{words}}}[{head}], {head})" for head in heads]
    return f"concat_ws(' ', {', '.join(heads)})"


_STREET = "split_part(split_part(address, ',', 1), chr(10), 1)"  # as build_index cuts it
_PII_COLUMNS = "org_id, person_id, first_name, last_name, email, phone, address"


# what _add_id takes for a phone: digits, Python's whitespace and +().-
_PHONE_LIKE = r"[+\p{Nd}\t-\r\x1c-\x20\x85\p{Z}().-]+"
# the last ten digits, as _phone_key keeps them (any script's decimal digits)
_SQL_PHONE_KEY = r"right(regexp_replace({}, '\P{{Nd}}', '', 'g'), 10)"


def _tests(found: dict[str, set[str]], **tests: str) -> list[str]:
    """The tests of the kinds of value the report has any of (a test against an empty set
    is still evaluated on every row: 0.8 s for a million ids' digits)."""
    return [test for kind, test in tests.items() if found[kind]]


@contextlib.contextmanager
def _registered(con: Any, sets: Mapping[str, set[str] | dict[str, str]]) -> Iterator[None]:
    """Each set as a one-column table ``cb_guard_<name>`` (column ``v``) for the guard's
    semi-joins, and each dict as a table of ``v`` and ``head`` (a value and its folded
    head), for the length of the block."""
    import pyarrow as pa

    for name, values in sets.items():
        if isinstance(values, dict):
            columns = {
                "v": pa.array(list(values), pa.string()),
                "head": pa.array(list(values.values()), pa.string()),
            }
        else:
            columns = {"v": pa.array(sorted(values), pa.string())}
        con.register(f"cb_guard_{name}", pa.table(columns))
    try:
        yield
    finally:
        for name in sets:
            con.unregister(f"cb_guard_{name}")


def _head(tokens: list[str]) -> str:
    return " ".join(tokens[:2])


def _python_heads(con: Any, org_id: str) -> dict[str, dict[str, str]]:
    """The head of every distinct last name and street SQL cannot fold like Python (see
    _sql_foldable), folded here: each distinct value once (many people share a surname
    or a street)."""
    heads: dict[str, dict[str, str]] = {}
    for name, column, street in (("last", "last_name", False), ("street", _STREET, True)):
        values = con.execute(
            f"""SELECT DISTINCT {column} FROM person_pii
            WHERE org_id = ? AND NOT {_sql_foldable(column)}""",
            [org_id],
        ).fetchall()
        fold = (lambda v: _address_tokens(_tokens(v))) if street else _tokens
        heads[name] = {v: _head(fold(v)) for (v,) in values}
    return heads


# Per process: the organizations' people and tool ids as hashes of the keys the guard
# compares with a report (email, phone, the heads of last name and street; each tool id
# as the guard reads it): one table of people and one of ids per store, each holding
# every organization's rows with the fingerprint they were made from. Working the keys
# out is what the guard spent its time on in a large organization (0.8 s a report for a
# million people, 0.9 s more for 3.2 million tool ids); the runner's worker guards
# reports one after another. Every report is checked against every organization's
# members (a group's reflection can name another group's member), and a sync changes one
# organization: only its rows are worked out again.
# Hashes, not the values: the process keeps no readable personal value, and two values
# with one hash only make the guard read one more row, which the exact rules clear.
_KEYS: dict[tuple, tuple[dict[str, tuple], str]] = {}
_KEYS_KEPT = 4  # tables (people and ids of two stores), the least recently used dropped
_KEYS_NAMES = itertools.count(1)
_KEYS_LOCK = threading.Lock()  # one builder at a time; a table in use is never dropped


def _fingerprints(con: Any, table: str, columns: str, org_ids: list[str]) -> dict[str, tuple]:
    """Each organization's row count and order-free hash of ``columns`` in ``table`` (one
    scan for all of them)."""
    marks = ", ".join("?" for _ in org_ids)
    rows = con.execute(
        f"""SELECT org_id, count(*), bit_xor(hash({columns})) FROM {table}
            WHERE org_id IN ({marks}) GROUP BY org_id""",
        org_ids,
    ).fetchall()
    return {org_id: (count, digest) for org_id, count, digest in rows}


def _kept_keys(
    con: Any,
    key: tuple,
    wanted: dict[str, tuple],
    columns: str,
    fill: Callable[[str, str], None],
) -> str:
    """The memory-database table of ``key`` (``columns``, one of them ``org_id``) holding
    the rows of every organization in ``wanted`` (org -> fingerprint): made when there
    is none (or the process's database lost it), and each organization's rows filled
    again by ``fill(table, org_id)`` when its fingerprint changed."""
    from cyclebook.store import ident

    kept = _KEYS.pop(key, None)
    if kept is not None:
        exists = con.execute(
            """SELECT count(*) FROM duckdb_tables()
               WHERE database_name = 'memory' AND schema_name = 'main' AND table_name = ?""",
            [kept[1]],
        ).fetchone()[0]
        kept = kept if exists else None
    if kept is None:
        name = f"cb_guard_keys_{os.getpid()}_{next(_KEYS_NAMES)}"
        con.execute(f"CREATE TABLE memory.main.{ident(name)} ({columns})")
        kept = ({}, name)
    _KEYS[key] = kept  # most recently used last
    held, name = kept
    table = f"memory.main.{ident(name)}"
    for org_id, fingerprint in wanted.items():
        if held.get(org_id) != fingerprint:
            con.execute(f"DELETE FROM {table} WHERE org_id = ?", [org_id])
            fill(table, org_id)
            held[org_id] = fingerprint
    while len(_KEYS) > _KEYS_KEPT:  # the least recently used goes
        old = _KEYS.pop(next(iter(_KEYS)))
        con.execute(f"DROP TABLE IF EXISTS memory.main.{ident(old[1])}")
    return table


def _person_keys(con: Any, store_path: Path, org_ids: list[str]) -> str:
    """A table (in the process's in-memory database) of the organizations' people:
    ``org_id, person_id, email_h, phone_h, last_h, last_a_h, last_b_h, street_h``
    (``last_a_h`` and ``last_b_h``: the first and second token of the last name alone,
    so that one part of "O'Brien-Vasquez" is found). An organization's rows are worked
    out again when any of its personal rows changed; the caller reads only those of the
    organizations it asked for (the table may hold others')."""
    wanted = _fingerprints(con, "person_pii", _PII_COLUMNS, org_ids)
    key = ("people", os.getpid(), str(store_path.resolve()))
    columns = (
        "org_id VARCHAR, person_id VARCHAR, email_h UBIGINT, phone_h UBIGINT, "
        "last_h UBIGINT, last_a_h UBIGINT, last_b_h UBIGINT, street_h UBIGINT"
    )

    def fill(table: str, org_id: str) -> None:
        heads = _python_heads(con, org_id)
        last = f"CASE WHEN last_foldable THEN {_sql_head('last_tokens')} ELSE lh.head END"
        street = _sql_head("street_tokens", address=True)
        with _registered(con, {f"{kind}_heads": values for kind, values in heads.items()}):
            con.execute(
                f"""INSERT INTO {table}
                SELECT org_id, person_id, email_h, phone_h, hash(last) AS last_h,
                    hash(nullif(split_part(last, ' ', 1), '')) AS last_a_h,
                    hash(nullif(split_part(last, ' ', 2), '')) AS last_b_h, street_h
                FROM (
                SELECT org_id, person_id,
                    hash(nullif(lower(trim(email)), '')) AS email_h,
                    hash(nullif({_SQL_PHONE_KEY.format("phone")}, '')) AS phone_h,
                    {last} AS last,
                    hash(CASE WHEN street_foldable THEN {street} ELSE sh.head END)
                        AS street_h
                FROM (
                    SELECT org_id, person_id, email, phone, last_name, {_STREET} AS street,
                        {_sql_foldable("last_name")} AS last_foldable,
                        {_sql_tokens("last_name")} AS last_tokens,
                        {_sql_foldable(_STREET)} AS street_foldable,
                        {_sql_tokens(_STREET)} AS street_tokens
                    FROM person_pii WHERE org_id = ?
                ) p
                LEFT JOIN cb_guard_last_heads lh ON NOT p.last_foldable AND lh.v = p.last_name
                LEFT JOIN cb_guard_street_heads sh
                  ON NOT p.street_foldable AND sh.v = p.street)""",
                [org_id],
            )

    return _kept_keys(con, key, wanted, columns, fill)


def _id_keys(con: Any, store_path: Path, org_ids: list[str]) -> str:
    """A table (in the process's in-memory database) of the organizations' tool ids:
    ``org_id``, ``rid`` (the row's place in ``identity``, part of the fingerprint),
    ``id_h`` (the id trimmed and lowercased), ``number_h`` (trimmed) and ``phone_h`` (the
    last ten digits of an id that is written like a phone number: Spoke keys people by
    phone)."""
    wanted = _fingerprints(con, "identity", "rowid, org_id, source_id", org_ids)
    key = ("ids", os.getpid(), str(store_path.resolve()))
    columns = "org_id VARCHAR, rid BIGINT, id_h UBIGINT, number_h UBIGINT, phone_h UBIGINT"

    def fill(table: str, org_id: str) -> None:
        con.execute(
            f"""INSERT INTO {table}
            SELECT org_id, rowid AS rid, hash(lower(trim(source_id))) AS id_h,
                hash(trim(source_id)) AS number_h,
                CASE WHEN regexp_full_match(trim(source_id), '{_PHONE_LIKE}')
                     THEN hash({_SQL_PHONE_KEY.format("source_id")}) END AS phone_h
            FROM identity WHERE org_id = ?""",
            [org_id],
        )

    return _kept_keys(con, key, wanted, columns, fill)


def candidate_index(
    html_text: str,
    store_path: str | Path,
    org_ids: Iterable[str] | None,
    *,
    allow: Iterable[str] | None = None,
) -> PiiIndex:
    """The index of only those people whose values could appear in ``html_text``.

    The report is small and the store may hold millions of people, so the report's
    candidate emails, phone numbers, ids and phrases are compared in the store with the
    people's keys (:func:`_person_keys`), which gives the few people who could match:
    same email, same last ten phone digits, an id among the report's tokens, or a last
    name or street whose first tokens are neighbouring tokens of the report (folded in
    SQL when DuckDB folds them as Python does, otherwise in Python). Only those people's
    rows are read; :func:`scan_text` then applies the exact rules.
    """
    from cyclebook.store import connect

    store_path = Path(store_path)
    allow_list = list(allow) if allow is not None else _config_text_near(store_path)
    found = _html_candidates(html_text)
    with connect(store_path) as con:
        has_pii, has_ids, org_ids = _personal_tables(con, org_ids)
        if not org_ids:
            return build_index([], [], allow=allow_list)
        with _registered(con, {**found, "orgs": set(org_ids)}):
            rows: list[tuple] = []
            person_tests = _tests(
                found,
                emails="email_h IN (SELECT hash(v) FROM cb_guard_emails)",
                phones="phone_h IN (SELECT hash(v) FROM cb_guard_phones)",
                ids="lower(person_id) IN (SELECT v FROM cb_guard_ids)",
                numbers="person_id IN (SELECT v FROM cb_guard_numbers)",
                phrases="(last_h IN (SELECT hash(v) FROM cb_guard_phrases)"
                " OR last_a_h IN (SELECT hash(v) FROM cb_guard_phrases)"
                " OR last_b_h IN (SELECT hash(v) FROM cb_guard_phrases))",
                streets="street_h IN (SELECT hash(v) FROM cb_guard_streets)",
            )
            if has_pii and person_tests:
                with _KEYS_LOCK:
                    keys = _person_keys(con, store_path, org_ids)
                    matched = " UNION ".join(
                        f"SELECT org_id, person_id FROM {keys} WHERE {test}"
                        for test in person_tests
                    )
                    rows = con.execute(
                        f"""SELECT {_PII_COLUMNS} FROM person_pii
                        WHERE org_id IN (SELECT v FROM cb_guard_orgs)
                          AND (org_id, person_id) IN ({matched})"""
                    ).fetchall()
            identities = []
            id_tests = _tests(
                found,
                ids="id_h IN (SELECT hash(v) FROM cb_guard_ids)",
                numbers="number_h IN (SELECT hash(v) FROM cb_guard_numbers)",
                phones="phone_h IN (SELECT hash(v) FROM cb_guard_phones)",
            )
            if has_ids and id_tests:
                with _KEYS_LOCK:
                    keys = _id_keys(con, store_path, org_ids)
                    matched = " UNION ".join(
                        f"SELECT rid FROM {keys} WHERE {test}" for test in id_tests
                    )
                    identities = con.execute(
                        f"""SELECT org_id, source_id FROM identity
                        WHERE org_id IN (SELECT v FROM cb_guard_orgs)
                          AND rowid IN ({matched})"""
                    ).fetchall()
            if has_ids:
                rows += _hashed_ids_found(con, store_path, org_ids, found)
    return build_index(rows, identities, allow=allow_list)


def _hashed_ids_found(
    con: Any, store_path: Path, org_ids: list[str], found: dict[str, set[str]]
) -> list[tuple]:
    """The report's emails and phones that are a member's id in a tool, as rows of
    ``person_pii``'s shape. A tool that names people by their email or phone (Spoke's
    cell, an Action Network report without uuid, a sheet without an id column) has
    that id stored as its salted hash (``store.personal_key_sql``), which no report
    shows: the report's candidates are hashed so, and looked for among the ids (the
    value may no longer be in ``person_pii``: the person's other tool gave another)."""
    from cyclebook.store import key_of_value, table_names

    candidates = [("email", v) for v in found["emails"]] + [("phone", v) for v in found["e164"]]
    if not candidates:
        return []
    tables = table_names(con)
    if "meta" not in tables:
        return []
    found_salt = con.execute("SELECT value FROM meta WHERE key = 'match_salt'").fetchall()
    if not found_salt:
        return []
    salt = found_salt[0][0]
    hashed = {key_of_value(value, salt): (kind, value) for kind, value in candidates}
    with _registered(con, {"hashed": set(hashed)}), _KEYS_LOCK:
        keys = _id_keys(con, store_path, org_ids)
        matched = con.execute(
            f"""SELECT org_id, source_id FROM identity
            WHERE org_id IN (SELECT v FROM cb_guard_orgs) AND rowid IN (
                SELECT rid FROM {keys} WHERE id_h IN (SELECT hash(v) FROM cb_guard_hashed))"""
        ).fetchall()
    rows = []
    for org_id, source_id in matched:
        kind, value = hashed[source_id]
        email, phone = (value, None) if kind == "email" else (None, value)
        rows.append((org_id, None, None, None, email, phone, None))
    return rows


class ReportLeakError(PrivacyError):
    """A rendered report shows personal data; ``leaks`` says what kind and where."""

    def __init__(self, message: str, *, html_path: Path, leaks: list[Leak], fix: str) -> None:
        self.html_path = html_path
        self.leaks = leaks
        super().__init__(message, fix=fix)


WITHHELD_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Report withheld</title></head>
<body><main><h1>Report withheld</h1>
<p>This report was withheld because it contained personal data of members, which
reports must never show. The facilitators have been told where it appeared; the report
will be back after the cause is fixed and the cycle is run again.</p>
<ul>{items}</ul></main></body></html>
"""


def withhold_report(html_path: str | Path, leaks: Sequence[Leak]) -> None:
    """Replace a leaking report by a page that says it was withheld (and names no value)."""
    items = "".join(f"<li>{html.escape(leak.describe())}</li>" for leak in leaks)
    Path(html_path).write_text(WITHHELD_PAGE.format(items=items), encoding="utf-8")


def guard_report(
    html_path: str | Path,
    store_path: str | Path,
    org_ids: Iterable[str] | None,
    *,
    allow: Iterable[str] | None = None,
    withhold: bool = True,
) -> None:
    """Check a rendered report; raise :class:`PrivacyError` if it shows personal data.

    On a leak the report is first replaced by a "withheld" page (``withhold=True``), so
    a run that stops here never leaves a leaking file behind. The error names each kind
    of value found and the notebook cell holding it, never the value itself.
    """
    html_path = Path(html_path)
    leaks = scan_html(
        html_path.read_text(encoding="utf-8", errors="replace"), store_path, org_ids, allow=allow
    )
    if not leaks:
        return
    if withhold:
        withhold_report(html_path, leaks)
    lines = "\n  - ".join(leak.describe() for leak in leaks[:20])
    more = f"\n  - … and {len(leaks) - 20} more" if len(leaks) > 20 else ""
    raise ReportLeakError(
        f"{html_path}: report withheld, it shows personal data of members:\n  - {lines}{more}",
        html_path=html_path,
        leaks=leaks,
        fix=(
            "make the named cell show aggregates only (counts, rates, charts); lists of "
            "people belong in the follow-up CSV in the organization's folder, and text "
            "typed by people must not quote members. Then run the phase again."
        ),
    )
