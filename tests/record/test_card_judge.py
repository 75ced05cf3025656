"""One judgement of a result against its card metric's goal and failure line
(cyclebook.card.judge), shown alike by the share report and the closing record."""

from __future__ import annotations

import pytest

from cyclebook.card import (
    definition_change,
    earlier_definition,
    failure_comparison,
    judge,
    percent,
    redefinition,
    trend,
)
from cyclebook.config import CardMetric

DOES_NOT_RISE = "Absorption does not rise from last cycle"
FEWER = "Fewer leaders than last cycle"


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (DOES_NOT_RISE, "no rise"),
        ("Absorption doesn't grow from the previous cycle", "no rise"),
        ("Stays the same as last cycle or falls", "no rise"),
        (FEWER, "fall"),
        ("Show rate drops below last cycle's", "fall"),
        ("Fewer than one in five new people take a second action", None),  # no comparison
        ("Nobody recognizes their work", None),
        ("Last cycle's leaders leave", None),  # names last cycle, compares nothing
    ],
)
def test_failure_lines_that_compare_with_last_cycle(failure: str, kind: str | None) -> None:
    assert failure_comparison(failure) == kind


def _metric(failure: str, target: float | None = None, below: float | None = None):
    return CardMetric(
        goal="g", measure="leaders", failure=failure, target=target, failure_below=below
    )


@pytest.mark.parametrize(
    ("metric", "value", "previous", "text"),
    [
        # a worded failure line is never "above the failure line": leaders fell 2 -> 1
        (
            _metric(FEWER, 5),
            1,
            2,
            "short of the goal; failure line crossed: down from 2 last cycle",
        ),
        (
            _metric(FEWER, 5),
            3,
            2,
            "short of the goal; failure line not crossed: up from 2 last cycle",
        ),
        (_metric(FEWER), 2, 2, "failure line not crossed: the same as last cycle"),
        (_metric(FEWER), 1, 0, "failure line not crossed: up from 0 last cycle"),
        # no value from last cycle: said plainly
        (_metric(FEWER, 5), 1, None, "short of the goal; failure line for the group to judge"),
        # words the tool cannot evaluate: for the group, beside last cycle's value
        (
            _metric("Nobody new takes a role", 5),
            1,
            2,
            "short of the goal; failure line for the group to judge (last cycle: 2)",
        ),
        (_metric("Nobody new takes a role"), 1, None, "failure line for the group to judge"),
        # a numeric failure line
        (_metric("Few", 5, 2), 3, None, "short of the goal; above the failure line"),
        (_metric("Few", 5, 2), 1, None, "short of the goal; below the failure line"),
        (_metric("Few", 5, 2), 6, None, "goal met"),
        (_metric("Few", None, 2), 3, None, "above the failure line"),
        (
            _metric("Fewer than last cycle", 5, 2),
            1,
            3,
            "short of the goal; below the failure line; down from 3 last cycle",
        ),
    ],
)
def test_a_count_against_the_card(
    metric: CardMetric, value: float, previous: float | None, text: str
) -> None:
    assert judge(metric, value, rate=False, previous=previous).text == text


def _absorption(failure: str = DOES_NOT_RISE) -> CardMetric:
    return CardMetric(
        goal="g", measure="absorption", failure=failure, target=0.45, failure_below=0.2
    )


def test_a_met_goal_does_not_hide_a_failure_in_words() -> None:
    """Eastside's absorption fell from 77% to 72% against "does not rise from last
    cycle": the closing report said only "met the goal"."""
    standing = judge(_absorption(), 0.72, rate=True, previous=0.77)
    assert standing.text == "goal met; failure line crossed: down from 77% last cycle"
    assert (standing.crossed, standing.compared) == (True, True)
    assert judge(_absorption(), 0.80, rate=True, previous=0.77).text == (
        "goal met; failure line not crossed: up from 77% last cycle"
    )
    assert judge(_absorption("Few"), 0.72, rate=True, previous=0.77).text == "goal met"


def test_values_are_compared_as_shown() -> None:
    """ "goal met; up from 67% last cycle" was said of 67%; 44.8% shows as 45%, the goal
    line's 45%."""
    assert judge(_absorption(), 0.671, rate=True, previous=0.668).text == (
        "goal met; failure line crossed: the same as last cycle"
    )
    assert trend(0.671, 0.668, True) == "the same as last cycle"
    assert trend(0.676, 0.668, True) == "up from 67% last cycle"
    assert judge(_absorption("Few"), 0.448, rate=True).text == "goal met"
    assert judge(_absorption("Few"), 0.444, rate=True).text == (
        "short of the goal; above the failure line"
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.0, "0%"),
        (1 / 961, "<1%"),  # one leader among 961 active people is not "0%"
        (0.00499, "<1%"),
        (0.005, "0%"),  # rounds half to even, as every other rate: not below 0.5%
        (0.0051, "1%"),
        (0.671, "67%"),
        (0.9949, "99%"),
        (0.995, ">99%"),  # would round to 100% with one person missing
        (959 / 961, ">99%"),
        (1.0, "100%"),
    ],
)
def test_a_rate_near_0_or_100_percent_is_not_shown_as_either(value: float, shown: str) -> None:
    assert percent(value) == shown


def test_rates_shown_as_under_1_percent_are_compared_as_they_are() -> None:
    """0.1% of the active base were leaders, none the cycle before: "0%" and "the same as
    last cycle" said there were none."""
    assert trend(1 / 961, 0.0, True) == "up from 0% last cycle"
    assert trend(0.0, 1 / 961, True) == "down from <1% last cycle"
    assert trend(0.004, 0.003, True) == "up from <1% last cycle"
    assert trend(1.0, 959 / 961, True) == "up from >99% last cycle"
    # a goal of 0.5% is not met by 0.4%, which also shows as "<1%"
    goal = CardMetric(
        goal="g", measure="leader_ratio", failure="Few", target=0.005, failure_below=0.001
    )
    assert judge(goal, 0.004, rate=True).text == "short of the goal; above the failure line"
    assert judge(goal, 0.0009, rate=True).text == "short of the goal; below the failure line"
    assert judge(goal, 0.006, rate=True).text == "goal met"


ABSORPTION_42 = (
    "Of people first seen in the cycle, the share with a second, different activity "
    "within 42 days of first being seen (a signup and attendance of the same event count once)."
)
ABSORPTION_14 = ABSORPTION_42.replace("within 42 days", "within 14 days")


def test_what_changed_in_a_definition() -> None:
    assert definition_change(ABSORPTION_42, ABSORPTION_14) == "… within 42 days …"
    assert definition_change(ABSORPTION_42, ABSORPTION_42) is None
    assert definition_change(ABSORPTION_42, " ".join(ABSORPTION_42.split(" "))) is None
    assert definition_change("", ABSORPTION_14) is None  # saved before definitions were
    assert definition_change("Two meetings.", "Three meetings.") == "Two meetings."
    # a measure that counts rungs changes with the ladder
    ladder = {"leaders": "On the leader rung.", "ladder": "active: 3+ attendance"}
    assert redefinition("leaders", ladder, {**ladder, "ladder": "active: 2+ attendance"}) == (
        "active: 3+ attendance"
    )
    assert redefinition("absorption", ladder, {**ladder, "ladder": "active: 2+"}) is None


def test_values_under_different_definitions_are_not_compared() -> None:
    """Absorption counted within 14 days (42%) against last cycle's within 42 days (77%):
    no "failure line crossed: down from 77%", no "up from"; last cycle's value is shown
    with the words of its definition."""
    changed = definition_change(ABSORPTION_42, ABSORPTION_14)
    earlier = 'last cycle: 77% under the earlier definition ("… within 42 days …")'
    standing = judge(_absorption(), 0.42, rate=True, previous=0.77, redefined=changed)
    assert standing.text == (
        "short of the goal; failure line for the group to judge: not compared with last "
        f"cycle, the definition changed ({earlier})"
    )
    assert (standing.crossed, standing.compared) == (None, True)
    # below a numeric failure line is still below it
    assert judge(_absorption(), 0.1, rate=True, previous=0.77, redefined=changed).text == (
        "short of the goal; below the failure line; not compared with last cycle, the "
        f"definition changed ({earlier})"
    )
    # words the tool cannot evaluate: the group judges, beside the old value and its words
    worded = CardMetric(goal="g", measure="absorption", failure="Nobody stays", target=0.45)
    assert judge(worded, 0.5, rate=True, previous=0.77, redefined=changed).text == (
        f"goal met; failure line for the group to judge ({earlier})"
    )
    # a numeric line alone judges nothing from last cycle (share adds the old value)
    assert judge(_absorption("Few"), 0.5, rate=True, previous=0.77, redefined=changed).text == (
        "goal met"
    )
    assert earlier_definition(0.77, True, changed) == earlier
