from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from cyclebook.config import load_cohort, load_cycle
from cyclebook.errors import ConfigError, CyclebookError
from cyclebook.record import adopt_measure_changes, start_next_cycle
from cyclebook.reflect import MeasureProposal, ReflectionVersion, save_reflection

C2 = "2026-c2"


def _save(cohort: Path, org_id: str, when: str, **fields) -> None:
    version = ReflectionVersion(
        saved_at=dt.datetime.fromisoformat(when), author="Nirmal Shah", **fields
    )
    save_reflection(cohort, C2, org_id, version)


@pytest.fixture
def reflected(cohort: Path) -> Path:
    active = MeasureProposal(
        measure="ladder.active",
        proposed_by="Ana",
        why="Night-shift tenants cannot make three meetings",
        change="Two attended meetings in 90 days make someone active",
        rule={
            "any_of": [{"activity_types": ["attendance"], "min_count": 2, "attended_only": True}],
            "definition": "Attended two or more meetings in the last 90 days.",
        },
        status="proposed",
    )
    _save(cohort, "eastside-tenants", "2026-10-20T17:00:00+00:00", measure_changes=[active])
    _save(
        cohort,
        "eastside-tenants",
        "2026-10-22T17:00:00+00:00",
        questions=["Do building captains count as leaders?"],
        decisions=["Keep absorption as our main measure"],
        learnings=["Follow-up within two weeks doubled second actions"],
        measure_changes=[active.model_copy(update={"status": "adopted"})],
    )
    _save(
        cohort,
        "riverside-workers",
        "2026-10-21T17:00:00+00:00",
        measure_changes=[
            MeasureProposal(
                measure="absorption",
                proposed_by="Dev",
                why="Shift schedules are monthly",
                change="Count a second action within 60 days, not 42",
                status="proposed",
            ),
            MeasureProposal(
                measure="active_base",
                proposed_by="Marisol",
                why="Dues are paid yearly",
                change="Active means an activity in the last 400 days",
                settings={"active_window_days": 400},
                status="adopted",
            ),
            MeasureProposal(
                measure="ladder.member",
                proposed_by="Pat",
                why="Simpler to explain",
                change="Dues alone make a member",
                status="rejected",
            ),
        ],
    )
    return cohort


def test_next_cycle(reflected: Path) -> None:
    cohort_before = load_cohort(reflected)
    text_before = (reflected / "cohort.yml").read_text(encoding="utf-8")
    path = start_next_cycle(reflected, C2, "2026-c3")
    assert path == reflected / "2026-c3" / "cycle.yml"
    card = load_cycle(reflected, "2026-c3")
    previous = load_cycle(reflected, C2)
    assert card.previous == C2
    assert card.start == previous.end == dt.date(2026, 10, 26)
    assert card.end == dt.date(2026, 12, 7)
    assert card.weeks == 6
    assert card.how_might_we == previous.how_might_we
    assert [m.measure for m in card.metrics] == ["absorption", "leaders"]
    assert card.learnings == [] and card.decisions == []
    assert "Eastside Tenants Union: Do building captains count as leaders?" in card.questions
    # the card is shown to every audience: Riverside shares absorption with nobody, and
    # Eastside its ladder with the cohort only, so those stay in their own records
    assert not any("absorption" in q for q in card.questions)
    assert "Eastside Tenants Union: Keep absorption as our main measure" in card.design
    assert "ladder.active" not in card.design and "Two attended" not in card.design
    assert "Riverside Workers Center active_base: Active means an activity" in card.design
    assert card.design.endswith(
        "Kept in groups' own records (each group's own reports show them): "
        "1 open question, 1 definition change."
    )
    assert path.read_text(encoding="utf-8").startswith("# Cycle 2026-c3, started from 2026-c2")

    cohort = load_cohort(reflected)
    east = cohort.org("eastside-tenants")
    active = next(r for r in east.ladder if r.name == "active")
    assert active.any_of[0].min_count == 2
    assert active.definition == "Attended two or more meetings in the last 90 days."
    assert [r.name for r in east.ladder] == ["supporter", "member", "active", "leader"]
    [change] = east.measure_history
    assert (change.measure, change.proposed_by, change.date, change.cycle, change.status) == (
        "ladder.active",
        "Ana",
        dt.date(2026, 10, 20),  # when first proposed, not when adopted
        "2026-c3",
        "adopted",
    )
    assert change.why == "Night-shift tenants cannot make three meetings"
    river = cohort.org("riverside-workers")
    assert [(c.measure, c.status, c.cycle) for c in river.measure_history] == [
        ("active_base", "adopted", "2026-c3"),
        ("ladder.member", "rejected", C2),
    ]
    assert river.metrics.active_window_days == 400
    assert river.metrics.absorption_days == 42  # only proposed: unchanged
    assert river.ladder == cohort_before.org("riverside-workers").ladder
    for org in cohort.organizations:
        if org.id not in {"eastside-tenants", "riverside-workers"}:
            assert org == cohort_before.org(org.id)
    # comments and flow style survive the rewrite
    text = (reflected / "cohort.yml").read_text(encoding="utf-8")
    for line in text_before.splitlines():
        if line.lstrip().startswith("#") or "{kind:" in line:
            assert line in text
    assert yaml.safe_load(text)["organizations"][0]["ladder"][2]["any_of"] == [
        {"activity_types": ["attendance"], "min_count": 2, "attended_only": True}
    ]

    # nothing is recorded twice
    assert adopt_measure_changes(reflected, C2, "2026-c3") == []
    with pytest.raises(CyclebookError, match="already exists"):
        start_next_cycle(reflected, C2, "2026-c3")


def test_refuses_to_overwrite(cohort: Path) -> None:
    before = (cohort / C2 / "cycle.yml").read_bytes()
    with pytest.raises(CyclebookError, match="already exists") as info:
        start_next_cycle(cohort, "2026-c1", C2)
    assert "Fix:" in str(info.value)
    assert (cohort / C2 / "cycle.yml").read_bytes() == before


def test_without_reflections(cohort: Path) -> None:
    before = (cohort / "cohort.yml").read_bytes()
    start_next_cycle(cohort, C2, "2026-c3", start=dt.date(2026, 11, 2))
    card = load_cycle(cohort, "2026-c3")
    assert (card.start, card.end) == (dt.date(2026, 11, 2), dt.date(2026, 12, 14))
    assert (cohort / "cohort.yml").read_bytes() == before


def test_bad_id(cohort: Path) -> None:
    with pytest.raises(ConfigError, match="not a valid cycle id"):
        start_next_cycle(cohort, C2, "Cycle 3")


def test_new_rung_without_full_rule_names_the_reflection_line(cohort: Path) -> None:
    _save(
        cohort,
        "valley-voters",
        "2026-10-21T17:00:00+00:00",
        measure_changes=[
            MeasureProposal(
                measure="ladder.captain",
                proposed_by="Jo",
                why="We have building captains",
                change="Add a captain rung",
                rule={"window_days": 90},
                status="adopted",
            )
        ],
    )
    before = (cohort / "cohort.yml").read_bytes()
    with pytest.raises(ConfigError) as info:
        start_next_cycle(cohort, C2, "2026-c3")
    error = info.value
    assert error.path.name == "valley-voters.yml"
    assert error.line == 7  # the proposal's line in the reflection file
    assert "new rung 'captain'" in str(error) and "label" in str(error)
    assert not (cohort / "2026-c3" / "cycle.yml").exists()
    assert (cohort / "cohort.yml").read_bytes() == before


def test_adoption_keeps_comments_and_layout(reflected: Path) -> None:
    path = reflected / "cohort.yml"
    original = path.read_text(encoding="utf-8")
    path.write_text(original + "\n# a note at the very end of the file\n", encoding="utf-8")
    before = path.read_text(encoding="utf-8").splitlines()
    start_next_cycle(reflected, C2, "2026-c3")
    after = path.read_text(encoding="utf-8").splitlines()
    # only lines were added: every original line is still there, in order
    it = iter(after)
    assert all(line in it for line in before)
    assert after[-1] == "# a note at the very end of the file"
    assert "        any_of: [{min_count: 1}]" in after  # riverside's, untouched


def test_add_cohort_notes(cohort: Path) -> None:
    from cyclebook.record import add_cohort_notes

    path = cohort / "2026-c1" / "cycle.yml"
    path.write_text(path.read_text(encoding="utf-8") + "# end of card\n", encoding="utf-8")
    add_cohort_notes(cohort, "2026-c1", learnings=["Data and organizing staff in one room"])
    add_cohort_notes(
        cohort,
        "2026-c1",
        learnings=["Data and organizing staff in one room", "  "],
        questions=["Who owns the data calendar?"],
        decisions=["Keep six-week cycles"],
    )
    card = load_cycle(cohort, "2026-c1")
    assert card.learnings == ["Data and organizing staff in one room"]
    assert card.questions == ["Who owns the data calendar?"]
    assert card.decisions == ["Keep six-week cycles"]
    text = path.read_text(encoding="utf-8")
    assert text.rstrip().endswith("# end of card")
    assert text.startswith("id: 2026-c1\n")


def test_earlier_cycles_keep_their_measures(reflected: Path) -> None:
    """An adopted change applies from the new cycle: reports of the cycles before it
    (computed again whenever they run) keep the definitions they had. Before, adopting
    eastside's two-meeting 'active' for 2026-c3 rewrote its 2026-c1 and 2026-c2 figures
    (the demo's 'active at the end of 2026-c2' went from 45 to 127)."""
    from cyclebook.config import default_ladder, list_cycles
    from cyclebook.phases import load_context

    before = load_cohort(reflected)
    start_next_cycle(reflected, C2, "2026-c3")
    cohort = load_cohort(reflected)
    [change] = cohort.org("eastside-tenants").measure_history
    assert change.replaced.rung == default_ladder()[2]  # the default 'active' rung
    assert change.replaced.added_rung is None and change.replaced.settings == {}
    adopted = cohort.org("riverside-workers").measure_history[0]
    assert adopted.replaced.settings == {"active_window_days": 365}  # the default
    assert adopted.replaced.rung is None
    assert cohort.org("riverside-workers").measure_history[1].replaced is None  # rejected

    cycles = list_cycles(reflected)
    assert cycles == ["2026-c1", C2, "2026-c3"]
    for cycle in ("2026-c1", C2):
        then = cohort.as_of(cycle, cycles)
        assert then.org("eastside-tenants").ladder == before.org("eastside-tenants").ladder
        assert then.org("riverside-workers").metrics.active_window_days == 365
        assert then.org("eastside-tenants").measure_history == [change]  # the record stays
    assert cohort.as_of("2026-c3", cycles) == cohort
    # every phase report reads the measures of its own cycle
    for cycle, min_count in [(C2, 3), ("2026-c3", 2)]:
        ctx = load_context("share", str(reflected), cycle, "eastside-tenants")
        active = next(r for r in ctx.org.ladder if r.name == "active")
        assert active.any_of[0].min_count == min_count


def test_design_lists_sentences_without_doubled_stops(cohort: Path) -> None:
    _save(
        cohort,
        "eastside-tenants",
        "2026-10-22T17:00:00+00:00",
        decisions=["Keep absorption as our main measure.", "Log one-on-ones from next cycle."],
    )
    start_next_cycle(cohort, C2, "2026-c3")
    design = load_cycle(cohort, "2026-c3").design
    assert (
        "Eastside Tenants Union: Keep absorption as our main measure; "
        "Eastside Tenants Union: Log one-on-ones from next cycle." in design
    )
    assert ".;" not in design and ".." not in design


def _private_reflections(cohort: Path) -> None:
    """Reflections of 2026-c2 from a group that shares nothing with funders (Harbor Youth,
    consent funder: []), one that shares nothing with the cohort (State Power Metro,
    cohort: []) and one that shares with both, but not every measure (Eastside: absorption
    and the ladder with the cohort only)."""
    _save(
        cohort,
        "harbor-youth",
        "2026-10-21T17:00:00+00:00",
        decisions=["Stop reporting to the city youth fund."],
        questions=["Do we tell the youth fund attendance fell?"],
    )
    _save(
        cohort,
        "state-power-metro",
        "2026-10-21T17:00:00+00:00",
        learnings=["Organizer Darren is leaving in November."],
        decisions=["Metro pauses its canvass until a new organizer starts."],
        questions=["Can Metro survive losing the Local 12 contract?"],
        measure_changes=[
            MeasureProposal(
                measure="active_base",
                proposed_by="Darren",
                why="Our funder only counts dues payers and we are in trouble with them.",
                change="Only dues payers count as active.",
                status="proposed",
            )
        ],
    )
    _save(
        cohort,
        "eastside-tenants",
        "2026-10-22T17:00:00+00:00",
        decisions=["Keep calling every new tenant."],
        questions=["Should dues count as membership?"],
        measure_changes=[
            MeasureProposal(
                measure="new_people",
                proposed_by="Lee",
                why="Landlord retaliation scares tenants off the sign-in sheet.",
                change="Count people from door knocks as new.",
                status="proposed",
            ),
            MeasureProposal(
                measure="absorption",
                proposed_by="Lee",
                why="Our meetings are every two weeks.",
                change="Count a second action within 14 days, not 42.",
                settings={"absorption_days": 14},
                status="adopted",
            ),
            MeasureProposal(
                measure="active_base",
                proposed_by="Ana",
                why="Dues are paid once a year.",
                change="Active means an activity in the last 400 days.",
                settings={"active_window_days": 400},
                status="adopted",
            ),
        ],
    )


def test_the_card_carries_only_what_every_audience_may_read(cohort: Path) -> None:
    """The new card, which every report shows to every audience, carried every group's
    decisions, questions and the "why" of its open proposals: the c3 funders' summary
    read "Harbor Youth Organizing: Do we tell the youth fund attendance fell?" though
    Harbor Youth shares nothing with funders, and "(why: Our funder only counts dues
    payers ...)" of State Power Metro, which shares nothing with the cohort."""
    from cyclebook.record import cohort_record_blocks, load_record, org_record_blocks

    _private_reflections(cohort)
    previous = load_cycle(cohort, C2)
    start_next_cycle(cohort, C2, "2026-c3")
    card = load_cycle(cohort, "2026-c3")
    assert card.questions == [
        "Eastside Tenants Union: Should dues count as membership?",
        "Eastside Tenants Union: adopt the proposed change to new_people? "
        "Count people from door knocks as new.",
    ]
    assert card.design == (
        f"Continues 2026-c2. {previous.design}\n"
        "Starts from the decisions of 2026-c2: "
        "Eastside Tenants Union: Keep calling every new tenant.\n"
        "Definitions changed for this cycle: Eastside Tenants Union active_base: "
        "Active means an activity in the last 400 days.\n"
        "Kept in groups' own records (each group's own reports show them): "
        "2 decisions, 3 open questions, 1 definition change."
    )
    # the adopted change is in cohort.yml all the same
    assert load_cohort(cohort).org("eastside-tenants").metrics.absorption_days == 14

    def html(blocks) -> str:
        return "".join(b.html for b in blocks).replace("&#x27;", "'")

    record = load_record(cohort, "2026-c3")
    for audience in ("cohort", "funder"):
        for shown in (
            html(cohort_record_blocks(record, audience)),
            html(org_record_blocks(record, "eastside-tenants", audience)),
        ):
            assert "Should dues count as membership?" in shown
            for private in (
                "youth fund",
                "Local 12",
                "Metro pauses",
                "dues payers",
                "retaliation",
                "every two weeks",
                "14 days",
                "Dues are paid once a year",
                "why:",
            ):
                assert private not in shown, (audience, private)


def test_a_second_next_cycle_carries_each_item_once(cohort: Path) -> None:
    """2026-c1 -> 2026-c2 -> 2026-c3: the c3 card asked 'Eastside Tenants Union: Should
    dues count as membership?' twice, announced c1's decisions and definition changes
    again, and read "Continues 2026-c2. Continues 2026-c1." and "Next: Next: ..."."""
    from cyclebook.record import add_cohort_notes

    def save(cycle: str, org_id: str, **fields) -> None:
        version = ReflectionVersion(
            saved_at=dt.datetime(2026, 10, 20, 18, tzinfo=dt.UTC), author="Nirmal Shah", **fields
        )
        save_reflection(cohort, cycle, org_id, version)

    first = load_cycle(cohort, "2026-c1")
    (cohort / C2 / "cycle.yml").unlink()
    save(
        "2026-c1",
        "eastside-tenants",
        decisions=["Call every new tenant within a week."],
        questions=["Should dues count as membership?"],
        measure_changes=[
            MeasureProposal(
                measure="active_base",
                proposed_by="Ana",
                why="Dues are paid once a year.",
                change="Active means an activity in the last 400 days.",
                settings={"active_window_days": 400},
                status="adopted",
            )
        ],
    )
    start_next_cycle(cohort, "2026-c1", C2)
    second = load_cycle(cohort, C2)
    assert second.title == "Next: Membership pipeline, first look"
    assert second.design == (
        f"Continues 2026-c1. {first.design}\n"
        "Starts from the decisions of 2026-c1: "
        "Eastside Tenants Union: Call every new tenant within a week.\n"
        "Definitions changed for this cycle: Eastside Tenants Union active_base: "
        "Active means an activity in the last 400 days."
    )
    assert second.questions == ["Eastside Tenants Union: Should dues count as membership?"]

    add_cohort_notes(
        cohort,
        C2,
        decisions=["Keep the follow-up lists."],
        questions=["How do we count house meetings?"],
    )
    save(
        C2,
        "eastside-tenants",
        decisions=["Keep calling.", "Keep the follow-up lists."],
        questions=["Should dues count as membership?", "How do  we count house meetings?"],
    )
    start_next_cycle(cohort, C2, "2026-c3")
    third = load_cycle(cohort, "2026-c3")
    assert third.title == "Next: Membership pipeline, first look"
    assert third.design == (
        f"Continues 2026-c2. {first.design}\n"
        "Starts from the decisions of 2026-c2: "
        "Cohort: Keep the follow-up lists; Eastside Tenants Union: Keep calling."
    )
    assert third.questions == [
        "Eastside Tenants Union: Should dues count as membership?",
        "How do we count house meetings?",
    ]


def test_a_card_written_before_consent_was_followed(cohort: Path) -> None:
    """A card that next-cycle wrote before it followed consent carries a group's words
    and the "why" of a proposal; the next card carries neither."""
    path = cohort / C2 / "cycle.yml"
    path.write_text(
        path.read_text(encoding="utf-8")
        + "questions:\n"
        + "  - 'Harbor Youth Organizing: Do we tell the youth fund attendance fell?'\n"
        + "  - 'Eastside Tenants Union: adopt the proposed change to new_people? Count door"
        + " knocks. (why: Landlord retaliation scares tenants.)'\n",
        encoding="utf-8",
    )
    start_next_cycle(cohort, C2, "2026-c3")
    card = load_cycle(cohort, "2026-c3")
    assert card.questions == [
        "Eastside Tenants Union: adopt the proposed change to new_people? Count door knocks."
    ]
    assert card.design.endswith(
        "\nKept in groups' own records (each group's own reports show them): 1 open question."
    )


def test_measure_history_is_written_tidy(reflected: Path) -> None:
    """Each history entry starts on its dash, and the blank line that closed the
    organization's block still closes it (after the new history). The first entry of a
    new history, ending with what it replaced, was written as a lone dash, an empty
    line, then the entry (the blank line taken from the block's end went after the
    dash)."""
    path = reflected / "cohort.yml"
    before = path.read_text(encoding="utf-8")
    adopt_measure_changes(reflected, C2, "2026-c3")
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert not [n for n, line in enumerate(lines, 1) if line.strip() == "-"]
    starts = [lines[n + 1] for n, line in enumerate(lines) if line == "    measure_history:"]
    assert starts == ["      - measure: ladder.active", "      - measure: active_base"]
    assert "      - measure: ladder.member\n" in text
    # each organization's block still ends with the blank line it had
    for org in ("riverside-workers", "valley-voters"):
        assert f"\n\n  - id: {org}\n" in before
        assert f"\n\n  - id: {org}\n" in text
    assert text.count("\n\n") == before.count("\n\n")
