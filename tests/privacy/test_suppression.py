"""Small-count suppression on hand-made tables, with the expected output written out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cyclebook.errors import CyclebookError
from cyclebook.privacy import (
    HIDDEN,
    SMALL,
    WITHHELD,
    suppress_rate,
    suppress_table,
    suppress_value,
    suppression_mask,
)

S, H, W = SMALL, HIDDEN, WITHHELD


def rows(frame: pd.DataFrame) -> list[list]:
    return [list(r) for r in frame.itertuples(index=False, name=None)]


# ----------------------------------------------------------------- single values


@pytest.mark.parametrize(
    ("n", "audience", "expected"),
    [
        (0, "cohort", 0),
        (1, "cohort", S),
        (9, "funder", S),
        (10, "funder", 10),
        (250, "cohort", 250),
        (np.int64(5), "cohort", S),
        (12.0, "cohort", 12),
        (None, "cohort", None),
        (3, "organization", 3),
        (0, "organization", 0),
    ],
)
def test_suppress_value(n, audience, expected):
    assert suppress_value(n, audience) == expected


def test_suppress_value_returns_python_ints():
    assert type(suppress_value(np.int64(42), "cohort")) is int


def test_unknown_audience_is_an_error():
    with pytest.raises(CyclebookError, match="unknown audience"):
        suppress_value(3, "public")


@pytest.mark.parametrize(
    ("rate", "num", "den", "audience", "expected"),
    [
        (0.5, 20, 40, "cohort", 0.5),
        (0.3, 3, 10, "cohort", W),  # numerator small: 0.3 x 10 gives 3 back
        (0.5, 4, 8, "funder", W),  # denominator small
        (0.0, 0, 40, "cohort", 0.0),  # nobody is not a small count
        (0.3, 3, 10, "organization", 0.3),
        (0.5, None, 40, "cohort", W),  # cannot check it
        (0.5, S, 40, "cohort", W),  # numerator hidden elsewhere
        (None, 3, 10, "cohort", None),
    ],
)
def test_suppress_rate(rate, num, den, audience, expected):
    assert suppress_rate(rate, num, den, audience) == expected


# ----------------------------------------------------------------- tables


def test_no_totals_only_primary():
    frame = pd.DataFrame({"rung": ["member", "leader"], "a": [3, 40], "b": [25, 0]})
    out = suppress_table(frame, ["a", "b"], audience="cohort")
    assert rows(out) == [["member", S, 25], ["leader", 40, 0]]


def test_organization_sees_everything():
    frame = pd.DataFrame({"rung": ["member"], "a": [3], "total": [3]})
    out = suppress_table(frame, ["a"], audience="organization", total_columns=["total"])
    assert rows(out) == [["member", 3, 3]]


def test_row_total_forces_secondary_on_next_smallest():
    frame = pd.DataFrame(
        {"org": ["A", "B"], "x": [5, 12], "y": [20, 14], "z": [30, 40], "total": [55, 66]}
    )
    out = suppress_table(frame, ["x", "y", "z"], audience="funder", total_columns=["total"])
    # A: x=5 is small; 55 - 20 - 30 would give it back, so y (next smallest) is hidden too
    assert rows(out) == [["A", S, H, 30, 55], ["B", 12, 14, 40, 66]]
    assert list(out.attrs["suppression"].iloc[0]) == ["primary", "secondary", "", ""]


def test_secondary_skips_zeros():
    frame = pd.DataFrame({"k": ["r"], "x": [2], "y": [0], "z": [40], "total": [42]})
    out = suppress_table(frame, ["x", "y", "z"], audience="cohort", total_columns=["total"])
    assert rows(out) == [["r", S, 0, H, 42]]


def test_two_small_cells_need_no_secondary():
    frame = pd.DataFrame({"k": ["r"], "x": [3], "y": [4], "z": [50], "total": [57]})
    out = suppress_table(frame, ["x", "y", "z"], audience="cohort", total_columns=["total"])
    assert rows(out) == [["r", S, S, 50, 57]]


def test_small_total_is_itself_suppressed():
    frame = pd.DataFrame({"k": ["r"], "x": [3], "y": [0], "total": [3]})
    out = suppress_table(frame, ["x", "y"], audience="cohort", total_columns=["total"])
    assert rows(out) == [["r", S, 0, S]]


def test_rows_and_columns_with_totals():
    frame = pd.DataFrame(
        {
            "x": [4, 12, 18, 34],
            "y": [15, 20, 22, 57],
            "z": [30, 25, 40, 95],
            "Total": [49, 57, 80, 186],
        },
        index=["r1", "r2", "r3", "Total"],
    )
    out = suppress_table(
        frame, ["x", "y", "z"], audience="cohort", total_columns=["Total"], total_rows=["Total"]
    )
    # r1.x is small. Row r1: hide y (15, next smallest). Column x: hide r2.x (12).
    # Column y now has one hidden cell: hide r2.y (20). Every row and column with a
    # hidden cell now has two, so no total gives a hidden cell back.
    assert rows(out) == [
        [S, H, 30, 49],
        [H, H, 25, 57],
        [18, 22, 40, 80],
        [34, 57, 95, 186],
    ]
    assert list(out.index) == ["r1", "r2", "r3", "Total"]


def test_every_group_with_a_hidden_cell_has_two():
    rng = np.random.default_rng(7)
    for _ in range(50):
        data = rng.integers(0, 30, size=(5, 4))
        frame = pd.DataFrame(data, columns=list("abcd"))
        frame["t"] = frame.sum(axis=1)
        total = frame.sum(axis=0).to_frame().T
        total.index = ["T"]
        frame = pd.concat([frame, total])
        mask = suppression_mask(frame, list("abcd"), total_columns=["t"], total_rows=["T"])
        hidden = mask != ""
        for i in range(len(frame)):
            assert hidden.iloc[i].sum() != 1
        for col in mask.columns:
            assert hidden[col].sum() != 1


def test_implicit_totals_protect_a_breakdown_of_a_headline():
    # ladder rungs add up to the active base, which is shown on its own elsewhere
    frame = pd.DataFrame({"rung": ["supporter", "member", "leader"], "people": [120, 45, 6]})
    out = suppress_table(frame, ["people"], audience="cohort", implicit_totals=True)
    assert rows(out) == [["supporter", 120], ["member", H], ["leader", S]]


def test_rates_on_suppressed_counts_are_withheld():
    frame = pd.DataFrame(
        {
            "rung": ["supporter", "member", "active", "leader"],
            "at_start": [200, 40, 12, 8],
            "moved_up": [30, 4, 0, 0],
            "conversion": [0.15, 0.1, 0.0, 0.0],
        }
    )
    out = suppress_table(
        frame,
        ["at_start", "moved_up"],
        audience="funder",
        rate_columns={"conversion": ("moved_up", "at_start")},
    )
    assert rows(out) == [
        ["supporter", 200, 30, 0.15],
        ["member", 40, S, W],
        ["active", 12, 0, 0.0],
        ["leader", S, 0, W],
    ]


def test_rate_helpers_are_checked_then_dropped():
    frame = pd.DataFrame(
        {"org": ["A", "B"], "absorption": [0.5, 0.25], "num": [10, 3], "den": [20, 12]}
    )
    out = suppress_table(frame, [], audience="cohort", rate_columns={"absorption": ("num", "den")})
    assert list(out.columns) == ["org", "absorption"]
    assert rows(out) == [["A", 0.5], ["B", W]]


def test_secondary_hidden_numerator_withholds_rate():
    frame = pd.DataFrame(
        {"k": ["r"], "new": [5], "returning": [25], "total": [30], "share_new": [5 / 30]}
    )
    out = suppress_table(
        frame,
        ["new", "returning"],
        audience="cohort",
        total_columns=["total"],
        rate_columns={"share_new": ("returning", "total")},
    )
    # returning is hidden to protect new; a rate on it would give it back
    assert rows(out) == [["r", S, H, 30, W]]


def test_missing_cells_count_as_hidden():
    frame = pd.DataFrame({"k": ["r"], "x": [4], "y": [None], "z": [50], "total": [60]})
    out = suppress_table(frame, ["x", "y", "z"], audience="cohort", total_columns=["total"])
    assert rows(out)[0][:3] == ["r", S, None]
    assert rows(out)[0][3:] == [50, 60]


def test_unknown_total_row_is_an_error():
    frame = pd.DataFrame({"x": [1]}, index=["a"])
    with pytest.raises(KeyError, match="total row"):
        suppress_table(frame, ["x"], audience="cohort", total_rows=["Total"])


def test_suppress_linked_sums_equalities_and_unknowns():
    from cyclebook.privacy import suppress_linked

    values = {"total": 60, "a": 4, "b": 20, "c": 36, "same_as_b": 20, "secret": 40}
    groups = [["total", "a", "b", "c"], ["b", "same_as_b"], ["secret", "c"]]
    state = suppress_linked(values, groups, unknown=["secret"], is_total=lambda k: k == "total")
    # a is small; b (next smallest) hides it; b's twin hides too. The unknown 40 is large:
    # it needs no protection, and it is never reported.
    assert state == {
        "total": "",
        "a": "primary",
        "b": "secondary",
        "c": "",
        "same_as_b": "secondary",
    }
    small_secret = suppress_linked({"x": 30, "s": 3}, [["x", "s"]], unknown=["s"])
    assert small_secret == {"x": "secondary"}  # x = s would give a small unseen count back
