"""A roll-up next to its members' own figures: when a member's figure is hidden, the
roll-up minus the figures shown must not give it back (worked out by hand below)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from cyclebook import gallery
from cyclebook.config import load_cohort
from cyclebook.gallery import SharedValue, rollup_blocks, rollup_withheld, safe_values
from cyclebook.metrics import MetricResults
from cyclebook.privacy import HIDDEN, SMALL, WITHHELD
from cyclebook.rollup import Rollup

from .cohortfix import make_cohort

NAN = math.nan


def frame_of(rows) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["metric", "period", "dimension", "value", "denominator"]
    ).assign(org_id="net", cycle="c2", definition="", suppressed=False)


ROLLUP = frame_of(
    [
        ("active_base", "end", "", 104, NAN),  # 104 - 100 shown = 4: gives A's back
        ("active_base", "start", "", 130, NAN),  # 130 - 100 = 30: a large part, fine
        ("active_base", "cycle", "", 70, NAN),  # 50 + 20 shown, nobody in both: fine
        ("active_base", "end", "in_two_or_more_members", 12, NAN),  # no member figure
        ("leader_ratio", "end", "", 0.25, 120),  # 30 leaders - 25 shown = 5
        ("absorption", "cycle", "", 0.5, 40),  # 20 - 10 = 10 absorbed, 40 - 20 = 20 new
    ]
)
MEMBER_VALUES = {
    "net": [
        SharedValue("net", "active_base", "end", "", "100", ""),
        SharedValue("net", "active_base", "start", "", "100", ""),
        SharedValue("net", "active_base", "cycle", "", "50", ""),
        SharedValue("net", "leader_ratio", "end", "", "25% of 100", ""),
        SharedValue("net", "absorption", "cycle", "", "50% of 20", ""),
    ],
    "net-a": [
        SharedValue("net-a", "active_base", "end", "", SMALL, ""),
        SharedValue("net-a", "active_base", "start", "", HIDDEN, ""),
        SharedValue("net-a", "active_base", "cycle", "", "20", ""),
        SharedValue("net-a", "leader_ratio", "end", "", WITHHELD, ""),
        # no absorption figure at all: hidden from the page too
    ],
}


def test_roll_up_figures_that_would_give_a_hidden_member_figure_back():
    assert rollup_withheld(ROLLUP, ["net", "net-a"], MEMBER_VALUES) == {
        ("active_base", "end", ""),
        # net-a's figure is hidden: the people in both would tell it (see below)
        ("active_base", "end", "in_two_or_more_members"),
        ("leader_ratio", "end", ""),
    }


def test_the_people_in_two_members_do_not_give_a_hidden_member_back():
    """The demo's numbers (helper n1): net 30 and big 40 shown, small "<10"; the roll-up
    55 with 20 people in two members: 55 - 30 - 40 + 20 = small's 5. The roll-up less
    the shown members alone (-15) hid nothing."""
    rollup = frame_of(
        [
            ("active_base", "end", "", 55, NAN),
            ("active_base", "end", "in_two_or_more_members", 20, NAN),
        ]
    )
    members = {
        "net": [SharedValue("net", "active_base", "end", "", "30", "")],
        "big": [SharedValue("big", "active_base", "end", "", "40", "")],
        "small": [SharedValue("small", "active_base", "end", "", SMALL, "")],
    }
    assert rollup_withheld(rollup, ["net", "big", "small"], members) == {
        ("active_base", "end", ""),
        ("active_base", "end", "in_two_or_more_members"),
    }
    # every member shown: the overlap is their sum less the roll-up anyway
    members["small"] = [SharedValue("small", "active_base", "end", "", "15", "")]
    assert rollup_withheld(rollup, ["net", "big", "small"], members) == set()


def test_a_small_roll_up_count_stays_small_not_withheld():
    # 3 people in two members, no member figure of its own: hidden as "<10" already
    rollup = frame_of([("active_base", "end", "in_two_or_more_members", 3, NAN)])
    assert rollup_withheld(rollup, ["net", "net-a"], MEMBER_VALUES) == set()
    [value] = safe_values(rollup, "cohort", withhold=set())
    assert value.shown == SMALL


def test_the_people_in_two_members_are_a_count_too():
    # every member shown: 50 + 20 - 65 = 5 people counted in both, a small count
    rollup = frame_of([("active_base", "cycle", "", 65, NAN)])
    assert rollup_withheld(rollup, ["net", "net-a"], MEMBER_VALUES) == {
        ("active_base", "cycle", "")
    }
    # 50 + 20 - 55 = 15: large enough to show
    rollup = frame_of([("active_base", "cycle", "", 55, NAN)])
    assert rollup_withheld(rollup, ["net", "net-a"], MEMBER_VALUES) == set()


def test_a_difference_below_zero_is_as_telling():
    # 96 - 100 = -4: with the people in both members shown, the hidden part follows
    rollup = frame_of([("active_base", "end", "", 96, NAN)])
    assert rollup_withheld(rollup, ["net", "net-a"], MEMBER_VALUES) == {("active_base", "end", "")}


def test_a_withheld_roll_up_figure_is_protected_in_its_breakdown():
    rollup = frame_of(
        [
            ("active_base", "end", "", 104, NAN),
            ("active_base", "end", "source=van", 60, NAN),
            ("active_base", "end", "source=spoke", 44, NAN),
        ]
    )
    withhold = rollup_withheld(rollup, ["net", "net-a"], MEMBER_VALUES)
    shown = {v.dimension: v.shown for v in safe_values(rollup, "cohort", withhold=withhold)}
    # 60 + 44 would add the headline back up: the smaller part is hidden as well
    assert shown == {"": WITHHELD, "source=van": "60", "source=spoke": HIDDEN}
    # the organization's own view hides nothing
    own = {v.dimension: v.shown for v in safe_values(rollup, "organization", withhold=withhold)}
    assert own == {"": "104", "source=van": "60", "source=spoke": "44"}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return load_cohort(make_cohort(tmp_path_factory.mktemp("diff") / "cohort"))


def test_the_network_table_shows_the_figure_withheld(cohort):
    rollup = Rollup("net", "c2", ["net", "net-a"], MetricResults.from_frame("c2", "net", ROLLUP))
    page = "".join(
        block.html
        for block in rollup_blocks(
            cohort, "net", {"active_base": (rollup, [])}, "cohort", MEMBER_VALUES
        )
    )
    assert (
        "<td>Active base</td><td>at the cycle&#x27;s end</td><td>all</td><td>withheld</td>" in page
    )
    assert "<td>Active base</td><td>at the cycle&#x27;s start</td><td>all</td><td>130</td>" in page
    assert "Active base: a figure marked withheld would, next to the members" in page
    # without the members' figures (a page that shows none), nothing to withhold
    alone = "".join(
        block.html
        for block in rollup_blocks(cohort, "net", {"active_base": (rollup, [])}, "cohort")
    )
    assert "<td>at the cycle&#x27;s end</td><td>all</td><td>104</td>" in alone
    assert "marked withheld" not in alone


def test_the_cohort_page_gives_the_roll_up_the_gallery_s_figures(monkeypatch, tmp_path):
    from cyclebook.phases import cohort as cohort_phase
    from cyclebook.phases import load_context

    cohort_dir = make_cohort(tmp_path / "cohort")
    seen = []
    real = gallery.rollup_blocks

    def recording(cohort, network_id, rolled, audience, member_values=None):
        seen.append(member_values)
        return real(cohort, network_id, rolled, audience, member_values)

    monkeypatch.setattr(gallery, "rollup_blocks", recording)
    ctx = load_context("cohort", str(cohort_dir), "c2", None, "cohort")
    cohort_phase.network_blocks(ctx)
    [member_values] = seen
    expected = {
        org.id: values
        for org, values in gallery.iter_shared(ctx.store_path, ctx.cohort, ctx.card, "cohort")
    }
    assert member_values == expected and member_values["net-a"]


def _page(cohort, frame, metrics, members_values, members=("net", "net-a")):
    rollup = Rollup("net", "c2", list(members), MetricResults.from_frame("c2", "net", frame))
    rolled = {metric: (rollup, []) for metric in metrics}
    return "".join(
        b.html for b in rollup_blocks(cohort, "net", rolled, "funder", members_values)
    ).replace("&#x27;", "'")


def test_a_withheld_roll_up_count_stays_hidden_as_a_rate_s_denominator(cohort):
    """Helper n8: new people 115 withheld (the members' 30 + 40 + 40 shown, a fourth
    "<10": 115 - 110 = 5), yet absorption's '37% of 115' on the next row gave it back.
    Decided a measure at a time, the equal figures of two measures were not tied."""
    frame = frame_of(
        [
            ("new_people", "cycle", "", 115, NAN),
            ("absorption", "cycle", "", 43 / 115, 115),
            # equal figures the page does not show stood between the two (in a chain
            # of equal values, not linked to each other)
            ("active_base", "cycle", "", 115, NAN),
            ("net_growth", "cycle", "", 115, NAN),
        ]
    )
    shown = {
        "net": [SharedValue("net", "new_people", "cycle", "", "110", "")],
        "net-a": [SharedValue("net-a", "new_people", "cycle", "", SMALL, "")],
    }
    page = _page(cohort, frame, ["new_people", "absorption"], shown)
    assert "<td>New people</td><td>during the cycle</td><td>all</td><td>withheld</td>" in page
    assert "of 115" not in page
    assert "<td>Absorption of new people</td><td>during the cycle</td><td>all</td><td>withheld" in (
        page
    )


def test_roll_up_net_growth_is_withheld_when_its_lapsed_count_is_small(cohort):
    """Helper n6: new people 80 and net growth 77 shown: lapsed = 3, which the members'
    own pages withhold (net growth of a small lapsed count is withheld there)."""
    frame = frame_of(
        [
            ("new_people", "cycle", "", 80, NAN),
            ("lapsed", "cycle", "", 3, NAN),
            ("net_growth", "cycle", "", 77, NAN),
        ]
    )
    page = _page(cohort, frame, ["new_people", "net_growth"], {})
    assert "<td>New people</td><td>during the cycle</td><td>all</td><td>80</td>" in page
    assert "<td>Net growth</td><td>during the cycle</td><td>all</td><td>withheld</td>" in page
    assert "<td>Lapsed" not in page  # not shared: decided on, never shown
