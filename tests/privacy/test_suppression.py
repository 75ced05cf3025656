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
        # the rest is a count too: 24 of 32 says 8 did not
        (0.75, 24, 32, "funder", W),
        (0.75, 30, 40, "funder", 0.75),  # 10 did not
        (1.0, 15, 15, "cohort", 1.0),  # nobody did not
        (0.75, 24, 32, "organization", 0.75),
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


# ----------------------------------------------------------------- pinned cells


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        # two "<10" that must add up to 2 are 1 and 1: the 10 is hidden too
        ([1, 1, 10, 12], [S, S, H, 12]),
        # two that must add up to 18 are 9 and 9
        ([9, 9, 30, 48], [S, S, H, 48]),
        # 2 + 5 leaves each of them open (1 to 6): nothing more to hide
        ([2, 5, 10, 17], [S, S, 10, 17]),
        # three that add up to 3
        ([1, 1, 1, 20, 23], [S, S, S, H, 23]),
    ],
)
def test_hidden_cells_whose_sum_leaves_one_value_are_protected(cells, expected):
    """A movement table for a funder read "new 10 | not on the ladder <10 | Supporter <10"
    with the column's total 12: each hidden cell had to be 1 (a helper recovered both)."""
    columns = [f"c{i}" for i in range(len(cells) - 1)]
    frame = pd.DataFrame([cells], columns=[*columns, "total"])
    out = suppress_table(frame, columns, audience="funder", total_columns=["total"])
    assert rows(out) == [expected]


def test_pinned_cells_with_a_total_published_elsewhere():
    frame = pd.DataFrame({"a": [1], "b": [1], "c": [10]})
    out = suppress_table(frame, ["a", "b", "c"], audience="cohort", implicit_totals="rows")
    assert rows(out) == [[S, S, H]]


def test_pinned_cells_in_linked_figures():
    from cyclebook.privacy import _pinned, suppress_linked

    values = {"end": 12, "new": 10, "off": 1, "supporter": 1, "new_by_source": 10}
    state = suppress_linked(values, [["new", "off", "supporter", "end"], ["new", "new_by_source"]])
    # the hidden 10 reached another way is hidden there too
    assert state == {
        "end": "",
        "new": "secondary",
        "off": "primary",
        "supporter": "primary",
        "new_by_source": "secondary",
    }
    # the same with the sum anywhere in the group, and a hidden "secondary" that can only
    # be 0 (it is not small, and the room left is 5) gives the small one away
    small, not_small = ((1.0, 9.0),), ((0.0, 0.0), (10.0, float("inf")))
    assert _pinned([5, 5, 0], [None, small, not_small])
    assert not _pinned([15, 5, 10], [None, small, not_small])  # 5 + 10 or 15 + 0: open
    assert not _pinned([3, 4, 7], [small, small, None])  # 3 + 4 = 7: 1 to 6 each
    assert _pinned([1, 1, 2], [small, small, None])
    assert not _pinned([1, None, 2], [small, small, None])  # a missing figure


def test_a_rate_whose_rest_is_small_is_withheld_in_a_table():
    frame = pd.DataFrame(
        {"event": ["a", "b"], "came": [24, 30], "signed": [32, 40], "rate": [0.75, 0.75]}
    )
    out = suppress_table(
        frame, ["came", "signed"], audience="funder", rate_columns={"rate": ("came", "signed")}
    )
    assert rows(out) == [["a", 24, 32, W], ["b", 30, 40, 0.75]]


def test_sums_taken_together_do_not_give_a_small_cell_away():
    """One sum at a time left both small cells open; a row sum and a column sum together
    gave them back: A.X + A.Y = 21 and A.Y + B.Y = 29 with B.Y at most 9 leave A.X = 1."""
    frame = pd.DataFrame(
        {"k": ["A", "B", "Total"], "X": [1, 30, 31], "Y": [20, 9, 29], "T": [21, 39, 60]}
    ).set_index("k")
    out = suppress_table(
        frame, ["X", "Y"], audience="funder", total_columns=["T"], total_rows=["Total"]
    )
    mask = out.attrs["suppression"]
    assert mask.loc["A", "X"] == "primary" and mask.loc["B", "Y"] == "primary"
    # a third figure of one of those sums is hidden as well
    assert (mask != "").sum().sum() >= 5
    from cyclebook.privacy import _SMALL_RANGE, _pinned_across

    hidden = {("A", "X"): _SMALL_RANGE, ("B", "Y"): _SMALL_RANGE}
    for cell, kind in mask.stack().items():
        if kind == "secondary":
            hidden[cell] = ((0.0, 0.0), (10.0, float("inf")))
    values = {(r, c): float(frame.loc[r, c]) for r in frame.index for c in frame.columns}
    groups = [[(r, "X"), (r, "Y"), (r, "T")] for r in frame.index]
    groups += [[("A", c), ("B", c), ("Total", c)] for c in frame.columns]
    assert _pinned_across(groups, values.get, hidden.get) is None  # nothing pinned now


def test_linked_figures_pinned_only_by_two_sums_are_protected():
    from cyclebook.privacy import suppress_linked

    values = {
        "start_s": 21, "start_m": 39, "end_s": 31, "end_m": 29,
        "s>s": 1, "s>m": 20, "m>s": 30, "m>m": 9,
    }  # fmt: skip
    groups = [
        ["s>s", "s>m", "start_s"],
        ["m>s", "m>m", "start_m"],
        ["s>s", "m>s", "end_s"],
        ["s>m", "m>m", "end_m"],
    ]
    state = suppress_linked(values, groups)
    assert state["s>s"] == "primary" and state["m>m"] == "primary"
    assert sum(kind != "" for kind in state.values()) >= 5  # not just the two "hidden"
