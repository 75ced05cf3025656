from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cyclebook.errors import ConfigError
from cyclebook.reflect import (
    ReflectionForm,
    ReflectionVersion,
    load_reflection,
    reflection_blocks,
    reflection_path,
    save_reflection,
)

ORG = "eastside-tenants"
CYCLE = "2026-c1"


def _clock(*stamps: str):
    times = iter(dt.datetime.fromisoformat(s) for s in stamps)
    return lambda: next(times)


def _html(blocks) -> str:
    return "".join(b.html for b in blocks)


def test_form_round_trip(cohort: Path) -> None:
    form = ReflectionForm(
        cohort,
        CYCLE,
        ORG,
        metrics=["absorption", "match_rate"],
        rungs=["supporter", "active"],
        clock=_clock("2026-09-10T18:00:00+00:00"),
    )
    form.author.value = "Nirmal Shah"
    form.participants.value = "Ana (organizing)\n\nLee (data)\n"
    choice, why = form.reactions["absorption"]
    assert [value for _label, value in choice.options] == ["", "keep", "change", "drop"]
    choice.value = "keep"
    why.value = "It showed <the> follow-up gap"
    form.reactions["match_rate"][0].value = "change"
    form.new_metric.value = "one_on_ones"
    form.new_metric_why.value = "Relational work is invisible now"
    form.empty_or_missing.value = "No turf data"
    form.stories.value = "A tenant who came once now chairs the building committee"
    form.questions.value = "Do dues make a member?"
    form.learnings.value = "Follow-up within two weeks matters"
    form.decisions.value = "Keep absorption"
    row = form.add_proposal()
    row.measure.value = "ladder.active"
    row.proposed_by.value = "Ana"
    row.why.value = "Three meetings in 90 days is too many for night-shift tenants"
    row.change.value = "Two meetings make someone active"
    row.rule.value = "any_of: [{activity_types: [attendance], min_count: 2, attended_only: true}]"
    row.status.value = "adopted"
    settings = form.add_proposal()
    settings.measure.value = "absorption"
    settings.proposed_by.value = "Lee"
    settings.why.value = "Monthly meetings"
    settings.change.value = "60 days"
    settings.rule.value = "absorption_days: 60"
    form.add_proposal()  # a blank row is ignored

    path = form.save()
    assert path == reflection_path(cohort, CYCLE, ORG)
    saved = load_reflection(cohort, CYCLE, ORG)
    assert saved is not None and len(saved.versions) == 1
    latest = saved.latest
    assert latest.author == "Nirmal Shah"
    assert latest.participants == ["Ana (organizing)", "Lee (data)"]
    assert [(m.metric, m.reaction) for m in latest.metrics] == [
        ("absorption", "keep"),
        ("match_rate", "change"),
        ("one_on_ones", "add"),
    ]
    change, settings_change = latest.measure_changes
    assert settings_change.settings is not None and settings_change.rule is None
    assert settings_change.settings.absorption_days == 60
    assert change.rung == "active" and change.status == "adopted"
    assert change.rule is not None and change.rule.any_of[0].min_count == 2

    html = _html(reflection_blocks(saved))
    assert "It showed &lt;the&gt; follow-up gap" in html
    assert "<the>" not in html
    assert "night-shift tenants" in html
    assert "Ana (organizing)" in html

    # a new form starts from the saved answer
    again = ReflectionForm(cohort, CYCLE, ORG, metrics=["absorption"])
    assert again.reactions["absorption"][0].value == "keep"
    assert again.reactions["one_on_ones"][0].value == "add"
    assert again.proposals[0].rule.value.startswith("any_of")
    assert again.proposals[0].value() == change
    assert again.proposals[1].rule.value == "absorption_days: 60\n"
    assert again.proposals[1].value() == settings_change


def test_versions_are_kept(cohort: Path) -> None:
    clock = _clock(
        "2026-09-10T18:00:00+00:00", "2026-09-11T09:30:00+00:00", "2026-09-12T09:30:00+00:00"
    )
    form = ReflectionForm(cohort, CYCLE, ORG, metrics=["absorption"], clock=clock)
    form.author.value = "Nirmal Shah"
    form.questions.value = "first question"
    form.save()
    form.author.value = "Harold Kim"
    form.questions.value = "second question"
    form.save()
    form.save()  # identical answer by the same author: nothing new
    saved = load_reflection(cohort, CYCLE, ORG)
    assert [v.author for v in saved.versions] == ["Nirmal Shah", "Harold Kim"]
    assert saved.versions[0].questions == ["first question"]
    assert saved.latest.questions == ["second question"]
    assert saved.versions[1].saved_at == dt.datetime(2026, 9, 11, 9, 30, tzinfo=dt.UTC)
    assert "1 earlier version(s) kept" in _html(reflection_blocks(saved))


def test_save_button_shows_what_was_saved(cohort: Path) -> None:
    form = ReflectionForm(cohort, CYCLE, ORG, author="Nirmal Shah", metrics=["absorption"])
    form.stories.value = "<b>bold</b> claim"
    form._save_clicked()
    assert "1 version(s) kept" in form.status.value
    assert "&lt;b&gt;bold&lt;/b&gt; claim" in form.preview.value


def test_save_needs_author(cohort: Path) -> None:
    form = ReflectionForm(cohort, CYCLE, ORG)
    with pytest.raises(ValueError, match="Recorded by"):
        form.save()
    form._save_clicked()
    assert "Not saved" in form.status.value
    assert not reflection_path(cohort, CYCLE, ORG).exists()


def test_save_refuses_to_overwrite_a_broken_file(cohort: Path) -> None:
    path = reflection_path(cohort, CYCLE, ORG)
    path.parent.mkdir(parents=True)
    path.write_text("org_id: eastside-tenants\ncycle: 2026-c1\nversions: [\n", encoding="utf-8")
    version = ReflectionVersion(saved_at=dt.datetime.now(dt.UTC), author="X")
    with pytest.raises(ConfigError):
        save_reflection(cohort, CYCLE, ORG, version)
    assert path.read_text(encoding="utf-8").endswith("versions: [\n")


def test_cohort_audience_hides_stories_and_names(cohort: Path) -> None:
    form = ReflectionForm(cohort, CYCLE, ORG, metrics=["absorption"], author="Nirmal Shah")
    form.participants.value = "Ana (organizing)"
    form.stories.value = "Maria's story"
    form.reactions["absorption"][0].value = "keep"
    form.reactions["absorption"][1].value = "private reason"
    form.learnings.value = "a shared learning"
    form.save()
    html = _html(reflection_blocks(load_reflection(cohort, CYCLE, ORG), "cohort"))
    assert "a shared learning" in html and "keep" in html
    for hidden in ("Maria", "private reason", "Ana (organizing)", "Nirmal Shah"):
        assert hidden not in html


def test_no_reflection_yet(cohort: Path) -> None:
    assert load_reflection(cohort, CYCLE, ORG) is None
    assert "No reflection recorded yet" in _html(reflection_blocks(None))


def _proposals(cohort: Path):
    """Eastside's reflection proposing changes to absorption and its ladder (shared with
    the cohort, not funders: consent funder: [active_base, new_people, leaders]) and to
    active_base (shared with both); each with a "why" only its own staff should read."""
    from cyclebook.config import load_cohort
    from cyclebook.reflect import MeasureProposal

    changes = [
        ("absorption", "Lee", "Our meetings are every two weeks.", "Within 14 days.", "proposed"),
        ("ladder.active", "Ana", "Night-shift tenants tire.", "Two meetings.", "adopted"),
        ("active_base", "Ana", "Dues are paid once a year.", "400 days.", "proposed"),
    ]
    version = ReflectionVersion(
        saved_at=dt.datetime(2026, 9, 10, 18, tzinfo=dt.UTC),
        author="Nirmal Shah",
        measure_changes=[
            MeasureProposal(measure=m, proposed_by=p, why=w, change=c, status=s)
            for m, p, w, c, s in changes
        ],
    )
    save_reflection(cohort, CYCLE, ORG, version)
    return load_cohort(cohort).org(ORG), load_reflection(cohort, CYCLE, ORG)


def test_proposals_outside_the_group_show_no_why_and_only_shared_measures(cohort: Path) -> None:
    """The cohort and funder reflect reports showed each proposal's "Why", and funders saw
    the proposed changes to absorption and the ladder, which Eastside does not share with
    them."""
    org, reflection = _proposals(cohort)

    def proposals(audience: str) -> str:
        [table] = [
            b.html
            for b in reflection_blocks(reflection, audience, org=org)
            if "Definition changes proposed" in b.html
        ]
        return table[table.index("<thead>") :]

    head = (
        '<thead><tr><th scope="col">Measure</th><th scope="col">When</th>'
        '<th scope="col">Change</th><th scope="col">New rule</th>'
        '<th scope="col">Status</th></tr></thead>'
    )
    rows = {
        "absorption": "<tr><td>absorption</td><td>10 Sep 2026</td><td>Within 14 days.</td>"
        "<td>–</td><td>proposed</td></tr>",
        "ladder.active": "<tr><td>ladder.active</td><td>10 Sep 2026</td><td>Two meetings.</td>"
        "<td>–</td><td>adopted</td></tr>",
        "active_base": "<tr><td>active_base</td><td>10 Sep 2026</td><td>400 days.</td>"
        "<td>–</td><td>proposed</td></tr>",
    }
    cohort_view = proposals("cohort")
    assert cohort_view.startswith(
        head + "<tbody>" + rows["absorption"] + rows["ladder.active"] + rows["active_base"]
    )
    funder_view = proposals("funder")
    assert funder_view.startswith(head + "<tbody>" + rows["active_base"] + "</tbody>")
    for audience in ("cohort", "funder"):
        html = _html(reflection_blocks(reflection, audience, org=org))
        assert f"only measures shared with this audience ({audience})" in html
        for private in ("every two weeks", "Night-shift", "once a year", "Ana", "Lee"):
            assert private not in html, (audience, private)
    # without the organization there is no telling what it shares: no proposal is shown
    assert "400 days" not in _html(reflection_blocks(reflection, "funder"))
    own = _html(reflection_blocks(reflection, "organization", org=org))
    assert "Our meetings are every two weeks." in own and "Night-shift tenants tire." in own


def test_definition_history_outside_the_group_shows_no_why(cohort: Path) -> None:
    """definition_frame gave the cohort and funders the "Why" of each change, and funders
    the changes to measures the group does not share with them."""
    from cyclebook.record import definition_blocks, definition_frame, pending_changes

    org, reflection = _proposals(cohort)
    pending = pending_changes(reflection)
    assert definition_frame(org, pending, "funder").to_dict("records") == [
        {
            "Measure": "active_base",
            "Date": "10 Sep 2026",
            "Change": "400 days.",
            "Status": "proposed in 2026-c1 reflection",
        }
    ]
    assert list(definition_frame(org, pending, "cohort")["Measure"]) == [
        "absorption",
        "active_base",
        "ladder.active",
    ]
    assert list(definition_frame(org, pending, "cohort").columns) == [
        "Measure",
        "Date",
        "Change",
        "Status",
    ]
    assert list(definition_frame(org, pending)["Why"]) == [
        "Our meetings are every two weeks.",
        "Dues are paid once a year.",
        "Night-shift tenants tire.",
    ]
    for audience in ("cohort", "funder"):
        html = _html(definition_blocks(org, reflection, audience))
        assert "History of each definition shared with this audience" in html
        for private in ("every two weeks", "Night-shift", "once a year"):
            assert private not in html, (audience, private)


def test_reactions_outside_the_group_are_to_shared_measures_only(cohort: Path) -> None:
    """Funders read "absorption: drop" of a group that does not share absorption with
    them, and the cohort its reaction to its leaders, which it keeps from the cohort."""
    from cyclebook.config import load_cohort
    from cyclebook.reflect import MetricReaction

    version = ReflectionVersion(
        saved_at=dt.datetime(2026, 9, 10, 18, tzinfo=dt.UTC),
        author="Nirmal Shah",
        metrics=[
            MetricReaction(metric="absorption", reaction="drop", why="Too slow for us."),
            MetricReaction(metric="leaders", reaction="keep"),
        ],
    )
    save_reflection(cohort, CYCLE, ORG, version)
    org, reflection = load_cohort(cohort).org(ORG), load_reflection(cohort, CYCLE, ORG)

    def reactions(audience: str) -> str:
        [table] = [
            b.plain
            for b in reflection_blocks(reflection, audience, org=org)
            if "Reaction to each measure" in b.html
        ]
        return table

    # consent: cohort [ladder, active_base, new_people, absorption, show_rate],
    # funder [active_base, new_people, leaders]
    assert "absorption" in reactions("cohort") and "leaders" not in reactions("cohort")
    assert "absorption" not in reactions("funder") and "leaders" in reactions("funder")
    assert "Too slow" not in reactions("cohort")
    assert "absorption" in reactions("organization") and "Too slow" in reactions("organization")
