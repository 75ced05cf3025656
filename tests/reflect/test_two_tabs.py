"""Two tabs (or two facilitators) with the reflect form of the same group open: a save
keeps what the other tab saved after this form was opened, or refuses to overwrite it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cyclebook.reflect import (
    MeasureProposal,
    MetricReaction,
    ReflectionConflict,
    ReflectionForm,
    ReflectionVersion,
    load_reflection,
    merge_versions,
    reflection_path,
)

ORG = "eastside-tenants"
CYCLE = "2026-c1"
T0 = dt.datetime(2026, 9, 10, 18, tzinfo=dt.UTC)

SAVED = """\
org_id: eastside-tenants
cycle: 2026-c1
versions:
  - saved_at: 2026-09-10T18:00:00+00:00
    author: Nirmal Shah
    metrics:
      - {metric: absorption, reaction: keep, why: It showed the gap.}
    learnings: [Calls beat texts.]
    questions: [Should dues count as membership?]
    measure_changes:
      - measure: ladder.active
        proposed_by: Ana
        why: Night shifts.
        change: Two meetings make someone active.
"""


def _clock(*hours: int):
    times = iter(T0.replace(day=11, hour=h) for h in hours)
    return lambda: next(times)


@pytest.fixture
def saved(cohort: Path) -> Path:
    path = reflection_path(cohort, CYCLE, ORG)
    path.parent.mkdir(parents=True)
    path.write_text(SAVED, encoding="utf-8")
    return path


def _tabs(cohort: Path) -> tuple[ReflectionForm, ReflectionForm]:
    a = ReflectionForm(cohort, CYCLE, ORG, author="Matt Rivera", clock=_clock(11, 13))
    b = ReflectionForm(cohort, CYCLE, ORG, author="Harold Kim", clock=_clock(10, 12))
    return a, b


def test_a_later_save_keeps_what_another_tab_added(cohort: Path, saved: Path) -> None:
    a, b = _tabs(cohort)
    b.questions.value += "\nHow do we count house meetings?"
    b.save()
    a.learnings.value += "\nNeighbours recruit neighbours."
    a._save_clicked()

    reflection = load_reflection(cohort, CYCLE, ORG)
    assert [v.author for v in reflection.versions] == ["Nirmal Shah", "Harold Kim", "Matt Rivera"]
    latest = reflection.latest
    assert latest.questions == [
        "Should dues count as membership?",
        "How do we count house meetings?",
    ]
    assert latest.learnings == ["Calls beat texts.", "Neighbours recruit neighbours."]
    assert a.merged_with is not None and a.merged_with.author == "Harold Kim"
    assert b.merged_with is None
    assert a.status.value.startswith("Saved to eastside-tenants.yml (3 version(s) kept) at ")
    assert a.status.value.endswith(
        " UTC together with what Harold Kim saved at 10:00 UTC after this form was opened "
        "(the form now shows both). As the report will show it:"
    )
    # the form now shows the merged answer, so its next save does not drop B's question
    assert a.questions.value == "Should dues count as membership?\nHow do we count house meetings?"
    a.decisions.value = "Call before texting."
    a.save()
    again = load_reflection(cohort, CYCLE, ORG)
    assert len(again.versions) == 4 and a.merged_with is None
    assert again.latest.questions == latest.questions
    assert again.latest.decisions == ["Call before texting."]


def test_the_same_edit_in_both_tabs_is_kept_once(cohort: Path, saved: Path) -> None:
    a, b = _tabs(cohort)
    for form in (a, b):
        form.learnings.value = "Calls beat texts, twice over.\nNeighbours recruit neighbours."
        form.questions.value = ""
    b.save()
    a.stories.value = "A tenant now chairs the committee."
    a.save()
    latest = load_reflection(cohort, CYCLE, ORG).latest
    assert latest.learnings == ["Calls beat texts, twice over.", "Neighbours recruit neighbours."]
    assert latest.questions == []
    assert latest.stories == ["A tenant now chairs the committee."]


def test_a_reaction_or_proposal_changed_on_one_side_takes_that_change(
    cohort: Path, saved: Path
) -> None:
    a, b = _tabs(cohort)
    b.proposals[0].status.value = "adopted"
    b.save()
    a.reactions["absorption"][0].value = "change"
    a.reactions["absorption"][1].value = "Too slow for us."
    a.reactions["retention"][0].value = "drop"
    a.save()
    latest = load_reflection(cohort, CYCLE, ORG).latest
    assert latest.metrics == [
        MetricReaction(metric="absorption", reaction="change", why="Too slow for us."),
        MetricReaction(metric="retention", reaction="drop"),
    ]
    assert [(p.measure, p.status) for p in latest.measure_changes] == [("ladder.active", "adopted")]
    assert a.proposals[0].status.value == "adopted"
    assert a.reactions["retention"][0].value == "drop"


def test_changing_the_same_reaction_differently_is_refused(cohort: Path, saved: Path) -> None:
    a, b = _tabs(cohort)
    b.reactions["absorption"][0].value = "drop"
    b.save()
    a.reactions["absorption"][0].value = "change"
    a.learnings.value += "\nNeighbours recruit neighbours."
    before = saved.read_text(encoding="utf-8")
    with pytest.raises(ReflectionConflict) as info:
        a.save()
    assert str(info.value) == (
        "eastside-tenants.yml was saved by Harold Kim at 11 Sep 2026 10:00 UTC after this "
        "form was opened, and both changed the reaction to 'absorption'\n"
        "  Fix: copy what you wrote, run the cell again to reload the form with the saved "
        "answer, then make your changes again and save."
    )
    assert saved.read_text(encoding="utf-8") == before
    a._save_clicked()
    assert a.status.value.startswith(
        '<span style="color:#a00;white-space:pre-wrap">Not saved: eastside-tenants.yml was '
        "saved by Harold Kim"
    )
    assert "run the cell again to reload the form" in a.status.value
    assert a.learnings.value.endswith("Neighbours recruit neighbours.")  # nothing typed is lost


def test_removing_a_proposal_another_tab_changed_is_refused(cohort: Path, saved: Path) -> None:
    a, b = _tabs(cohort)
    b.proposals[0].status.value = "rejected"
    b.save()
    a.proposals[0].measure.value = ""
    a.proposals[0].proposed_by.value = ""
    a.proposals[0].why.value = ""
    a.proposals[0].change.value = ""
    with pytest.raises(ReflectionConflict, match="the proposed change to 'ladder.active' by Ana"):
        a.save()
    assert [v.author for v in load_reflection(cohort, CYCLE, ORG).versions] == [
        "Nirmal Shah",
        "Harold Kim",
    ]


def test_two_first_saves_are_merged(cohort: Path) -> None:
    """No file when both forms were opened: the second save keeps the first one's items."""
    a = ReflectionForm(cohort, CYCLE, ORG, author="A", clock=lambda: T0)
    b = ReflectionForm(cohort, CYCLE, ORG, author="B", clock=lambda: T0.replace(hour=19))
    a.stories.value = "story from tab A"
    b.stories.value = "story from tab B"
    a.save()
    b.save()
    saved = load_reflection(cohort, CYCLE, ORG)
    assert [v.stories for v in saved.versions] == [
        ["story from tab A"],
        ["story from tab A", "story from tab B"],
    ]


def test_merge_versions() -> None:
    proposal = MeasureProposal(measure="absorption", proposed_by="Lee", why="w", change="60 days")
    base = ReflectionVersion(
        saved_at=T0, author="X", learnings=["a", "b"], measure_changes=[proposal]
    )
    theirs = ReflectionVersion(
        saved_at=T0.replace(hour=19),
        author="Y",
        learnings=["a", "b", "c"],
        decisions=["d"],
        measure_changes=[proposal, proposal.model_copy(update={"measure": "retention"})],
    )
    mine = ReflectionVersion(
        saved_at=T0.replace(hour=20),
        author="Z",
        learnings=["b2", "a", "e"],
        decisions=["d"],
        measure_changes=[],
    )
    merged, conflicts = merge_versions(base, theirs, mine)
    assert conflicts == []
    assert merged.author == "Z" and merged.saved_at == T0.replace(hour=20)
    assert merged.learnings == ["a", "c", "b2", "e"]
    assert merged.decisions == ["d"]
    assert [p.measure for p in merged.measure_changes] == ["retention"]
