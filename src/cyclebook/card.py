"""A cycle card's metric against its goal and failure line, the same in every report.

A rate's ``target`` and ``failure_below`` are fractions from 0 to 1 (checked when the
card is read, :class:`cyclebook.config.CardMetric`) and every table shows them as the
percent the result is shown in: the card read "Target 0.45" beside "Result 72%".

:func:`judge` is the one judgement of a result against the card that the share report
("Where it stands", and the card's table), the closing record ("Against the card") and
the cohort's record all show:

* the goal is met when the result reaches the target;
* the failure line is a number (``failure_below``), or words that compare the measure
  with last cycle ("Absorption does not rise from last cycle", "Fewer leaders than last
  cycle"), evaluated from last cycle's value; any other words are for the group to
  judge, shown beside last cycle's value. A report said "short of the goal, above the
  failure line" of a card with no number for it while leaders fell from 2 to 1, and
  "met the goal" while absorption fell from 77% to 72% against "does not rise".

Values are compared at the precision the reports show them: "up from 67% last cycle"
was said of 67%.

Values computed under different definitions are not compared: when a group changed a
definition for this cycle (absorption within 14 days, not 42), last cycle's value was
counted the old way, and "met the goal" or "down from 77% last cycle" compared two
different things. :func:`redefinition` finds what changed (from the ``definition`` saved
with every value) and :func:`judge` then shows last cycle's value with the words of its
definition, judging nothing that compares the two.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from cyclebook import display as d
from cyclebook.config import RATE_METRICS, CardMetric, CycleCard

__all__ = [
    "is_rate",
    "fmt_target",
    "failure_comparison",
    "as_shown",
    "trend",
    "COUNTS_RUNGS",
    "definition_change",
    "redefinition",
    "earlier_definition",
    "Standing",
    "judge",
]


def is_rate(measure: str) -> bool:
    """Is the measure's headline a rate (a share of people from 0 to 1)?"""
    return measure in RATE_METRICS


def fmt_target(measure: str, number: float | None) -> str:
    """A target or numeric failure line as the tables show it: "45%" for a rate, "5"
    for a count, "–" for none."""
    if number is None:
        return "–"
    if is_rate(measure):
        return f"{round(number * 100, 6):g}%"
    return f"{number:g}"


# --------------------------------------------------------------------------- judgement

# A failure line in words that compares the measure with last cycle: "Absorption does
# not rise from last cycle" (failed unless it rises), "Fewer leaders than last cycle"
# (failed if it falls). Other words are for the group to judge.
_LAST_CYCLE = re.compile(r"\b(?:last|previous|prior)\s+cycle\b|\bcycle before\b", re.I)
_NO_RISE = re.compile(
    r"\b(?:does|did|do)\s*(?:not|n't)\s+(?:rise|grow|increase|improve|go up)\b"
    r"|\bno (?:rise|growth|increase|improvement)\b|\bstays? (?:flat|the same)\b"
    r"|\bnot (?:higher|more|up)\b",
    re.I,
)
_FALL = re.compile(
    r"\b(?:fewer|less|lower|smaller|falls?|fell|drops?|dropped|declines?|declined"
    r"|decreases?|decreased|shrinks?|shrank|goes down|went down)\b",
    re.I,
)


def failure_comparison(failure: str) -> str | None:
    """``"no rise"``, ``"fall"``, or None when the words are not a comparison with last
    cycle that the tool can evaluate."""
    if not _LAST_CYCLE.search(failure):
        return None
    if _NO_RISE.search(failure):
        return "no rise"
    if _FALL.search(failure):
        return "fall"
    return None


def _rounds_to_0_or_100(value: float) -> bool:
    """A rate that whole percents would show as 0% or 100% though it is neither."""
    return 0 < value < 0.005 or 0.995 <= value < 1


def percent(value: float) -> str:
    """A rate in whole percent, as every report shows rates. A rate above 0 that rounds
    to 0 reads "<1%" and one below 1 that rounds to 100 reads ">99%": one leader among
    961 active people is not "0%" (a funder read that as none), nor is one person
    missing "100%"."""
    value = float(value)
    if _rounds_to_0_or_100(value):
        return "<1%" if value < 0.5 else ">99%"
    return f"{value * 100:.0f}%"


def as_shown(value: float, rate: bool) -> float:
    """The value at the precision the reports show it: a rate in whole percent, a count
    in whole numbers (two values that read the same compare equal). A rate shown as
    "<1%" or ">99%" keeps its exact value: it is neither 0% nor 100%, and a goal or
    failure line a fraction of a percent away is judged on what it is."""
    if not rate:
        return float(f"{value:.0f}")
    if _rounds_to_0_or_100(value):
        return value * 100
    return float(f"{value * 100:.0f}")


def count_shown(value: object) -> str:
    """A count as the reports write it: "1,234"; "–" when there is none; a suppressed
    count's marker ("<10") as it is."""
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return "–"
    if isinstance(value, str):
        return value
    return f"{value:,.0f}"


def people(value: object, kind: str = "") -> str:
    """ "1 person", "12 people", "1 new person" (a count shown as "<10" stays plural)."""
    words = f"{kind} person" if value == 1 else f"{kind} people"
    return f"{count_shown(value)} {words.strip()}"


def fmt_value(value: float, rate: bool) -> str:
    return percent(value) if rate else f"{value:,.0f}"


def trend(value: float, previous: float, rate: bool) -> str:
    """ "up from 67% last cycle", "down from 2 last cycle" or "the same as last cycle"."""
    now, before = as_shown(value, rate), as_shown(previous, rate)
    if now == before:
        return "the same as last cycle"
    word = "up" if now > before else "down"
    return f"{word} from {fmt_value(previous, rate)} last cycle"


# --------------------------------------------------------------------------- definitions

# Measures that count rungs: their own definition does not spell out every rung, so a
# changed ladder (its definition lists each rung's rule) changes them too
COUNTS_RUNGS = frozenset({"movement", "conversion", "leaders", "leader_ratio"})

_MOST_WORDS = 30


def definition_change(before: str | None, now: str | None) -> str | None:
    """Where definition ``before`` differs from ``now``: the words of ``before`` that
    changed, with a word either side ("within 42 days"); None when the two are the same
    or either is unknown (empty)."""
    if not before or not now or before == now:
        return None
    old, new = before.split(), now.split()
    changed = [
        (i1, i2)
        for tag, i1, i2, _, _ in difflib.SequenceMatcher(
            None, old, new, autojunk=False
        ).get_opcodes()
        if tag != "equal"
    ]
    if not changed:  # only the spacing differs
        return None
    lo = max(0, changed[0][0] - 1)
    hi = min(len(old), max(changed[-1][1], changed[0][0] + 1) + 1)
    words = old[lo:hi]
    text = " ".join(words[:_MOST_WORDS])
    if len(words) > _MOST_WORDS or hi < len(old):
        text += " …"
    return ("… " if lo > 0 else "") + text


def redefinition(
    measure: str, before: Mapping[str, str | None], now: Mapping[str, str | None]
) -> str | None:
    """What last cycle's definition of ``measure`` said where it differs from this
    cycle's (:func:`definition_change`), or None when its values were computed alike.
    ``before``/``now``: the saved definition of each metric (``metric_value.definition``)
    in the two cycles; a measure that counts rungs (:data:`COUNTS_RUNGS`) changes with
    the ladder's definition too."""
    own = definition_change(before.get(measure), now.get(measure))
    if own is not None or measure not in COUNTS_RUNGS:
        return own
    return definition_change(before.get("ladder"), now.get("ladder"))


def earlier_definition(previous: float, rate: bool, change: str) -> str:
    """Last cycle's value beside the words of the definition it was counted under:
    'last cycle: 77% under the earlier definition ("… within 42 days …")'."""
    return f'last cycle: {fmt_value(previous, rate)} under the earlier definition ("{change}")'


def _line(number: float, rate: bool) -> float:
    """A target or failure line at the precision :func:`fmt_target` shows it."""
    return round(number * 100, 6) if rate else number


@dataclass(frozen=True)
class Standing:
    """One result against its card metric's goal and failure line."""

    goal: str | None  # "goal met", "short of the goal", or None (no target)
    failure: str | None  # what the failure line says of it, or None (nothing to add)
    crossed: bool | None  # the failure line crossed; None when the group judges it
    compared: bool  # the failure text already compares with last cycle's value

    @property
    def text(self) -> str:
        return "; ".join(part for part in (self.goal, self.failure) if part) or "measured"


def judge(
    metric: CardMetric,
    value: float,
    *,
    rate: bool,
    previous: float | None = None,
    redefined: str | None = None,
) -> Standing:
    """``value`` (as the report's audience may read it) against ``metric``'s target and
    failure line. ``previous``: last cycle's value as the same audience may read it (None
    when there is none or it is hidden), to evaluate a failure line in words that
    compares with last cycle. Values are compared at the precision the reports show.
    ``redefined``: what last cycle's definition said where it differs from this cycle's
    (:func:`redefinition`); then the two values are not compared (a failure line that
    compares them is for the group to judge) and last cycle's is shown with those words.

    Never says "above the failure line" of a line without a number: a failure line in
    words that cannot be evaluated is "for the group to judge", beside last cycle's
    value when known."""
    now = as_shown(value, rate)
    goal = None
    if metric.target is not None:
        goal = "goal met" if now >= _line(metric.target, rate) else "short of the goal"
    numeric = metric.failure_below is not None
    below = numeric and now < _line(metric.failure_below, rate)
    kind = failure_comparison(metric.failure)
    if previous is not None and redefined is not None:
        earlier = earlier_definition(previous, rate, redefined)
        if kind is not None:
            note = f"not compared with last cycle, the definition changed ({earlier})"
            if below:
                return Standing(goal, f"below the failure line; {note}", True, True)
            return Standing(goal, f"failure line for the group to judge: {note}", None, True)
        if not numeric:
            return Standing(goal, f"failure line for the group to judge ({earlier})", None, True)
    if kind is not None and previous is not None:
        before = as_shown(previous, rate)
        fell = now <= before if kind == "no rise" else now < before
        change = trend(value, previous, rate)
        if below:
            return Standing(goal, f"below the failure line; {change}", True, True)
        if fell:
            return Standing(goal, f"failure line crossed: {change}", True, True)
        return Standing(goal, f"failure line not crossed: {change}", False, True)
    if below:
        return Standing(goal, "below the failure line", True, False)
    if numeric and kind is None:
        # the number is the line; beside a met goal it goes without saying
        return Standing(
            goal, None if goal == "goal met" else "above the failure line", False, False
        )
    if previous is not None:
        return Standing(
            goal,
            f"failure line for the group to judge (last cycle: {fmt_value(previous, rate)})",
            None,
            True,
        )
    return Standing(goal, "failure line for the group to judge", None, False)


def card_head(card: CycleCard, title: str) -> list[d.Block]:
    """The head every view of a cycle card starts with: its title, then how might we,
    hypothesis and design (the card in a report, the record at the cycle's end)."""
    return [
        d.heading(f"{title}: {card.title}", 2),
        d.heading("How might we…", 3),
        d.bullets(card.how_might_we),
        d.heading("Hypothesis", 3),
        d.paragraph(card.hypothesis),
        d.heading("Design", 3),
        d.paragraph(card.design),
    ]
