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

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from cyclebook.config import AUDIENCES
from cyclebook.errors import CyclebookError

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
    numerator or its denominator is a count from 1 to 9, or either is unknown (the rate
    times a known denominator would give the hidden count back)."""
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
    return _plain(rate)


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
    implicit_totals: bool = False,
    threshold: int = THRESHOLD,
) -> pd.DataFrame:
    """Which count cells to hide: ``""`` (shown), ``"primary"`` (a count from 1 to 9) or
    ``"secondary"`` (hidden to protect a primary cell).

    The table's counts are ``count_columns`` (data) plus ``total_columns`` (each the sum
    of the data columns in its row). Rows whose index label is in ``total_rows`` are the
    sum of the other rows. A *group* is a set of cells tied by an addition: one row's
    data cells with its total cell, or one column's data cells with its total-row cell.
    A group with exactly one hidden cell gives it away (total minus the others), so the
    smallest non-zero shown cell of that group is hidden too; this repeats until no
    group has exactly one hidden cell.

    ``implicit_totals=True`` treats every row and every column as if its total were
    published elsewhere (a headline figure, another report), which is the safe choice
    for breakdowns of a number shown on its own.

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

    # groups of cells tied by one addition
    groups: list[list[tuple[int, str]]] = []
    row_has_total = bool(total_columns) or implicit_totals
    col_has_total = bool(total_row_pos) or implicit_totals
    if row_has_total:
        for i in range(n_rows):
            if total_columns:
                for total in total_columns:
                    groups.append([(i, c) for c in count_columns] + [(i, total)])
            elif len(count_columns) > 1:
                groups.append([(i, c) for c in count_columns])
    if col_has_total:
        for col in columns:
            if total_row_pos:
                for t in sorted(total_row_pos):
                    groups.append([(i, col) for i in data_rows] + [(t, col)])
            elif len(data_rows) > 1:
                groups.append([(i, col) for i in data_rows])

    def hidden(cell: tuple[int, str]) -> bool:
        return state[cell] != "" or values[cell] is None

    changed = True
    while changed:
        changed = False
        for group in groups:
            n_hidden = sum(1 for cell in group if hidden(cell))
            if n_hidden != 1:
                continue
            shown = [cell for cell in group if not hidden(cell)]
            if not shown:
                continue
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
            changed = True

    mask = pd.DataFrame("", index=frame.index, columns=columns, dtype=object)
    for (i, col), kind in state.items():
        mask.iat[i, columns.index(col)] = kind
    return mask


def suppress_table(
    frame: pd.DataFrame,
    count_columns: Sequence[str],
    *,
    audience: str,
    total_columns: Sequence[str] = (),
    total_rows: Sequence[Any] = (),
    rate_columns: Mapping[str, tuple[str, str]] | None = None,
    implicit_totals: bool = False,
    threshold: int = THRESHOLD,
) -> pd.DataFrame:
    """A copy of ``frame`` made safe for ``audience``.

    - ``count_columns``: the table's counts (people, events, contacts).
    - ``total_columns``: columns holding each row's total of the count columns.
    - ``total_rows``: index labels of rows holding the column totals (e.g. ``"Total"``).
    - ``rate_columns``: ``{rate column: (numerator column, denominator column)}``. A
      rate is withheld when its numerator or denominator cell is hidden or small. A
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
            loc = out.columns.get_loc(rate_col)
            out.iat[i, loc] = None if _missing(rate) else (WITHHELD if withhold else _plain(rate))
    if helpers:
        out = out.drop(columns=sorted(helpers))
    out.attrs["suppression"] = mask
    return out
