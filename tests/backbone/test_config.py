"""Typed config: errors name the file, line, field, what was found and what is expected."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cyclebook.config import default_ladder, list_cycles, load_cohort, load_cycle
from cyclebook.errors import ConfigError

from .conftest import write


def test_demo_cohort_validates(demo_copy: Path) -> None:
    cohort = load_cohort(demo_copy)
    assert len(cohort.organizations) >= 6
    network = [org for org in cohort.organizations if cohort.affiliates(org.id)]
    assert [org.id for org in network] == ["state-power"]
    assert len(cohort.affiliates("state-power")) == 3
    assert list_cycles(demo_copy) == ["2026-c1", "2026-c2"]
    card = load_cycle(demo_copy, "2026-c1")
    assert card.weeks == 6
    # riverside redefines its ladder; eastside keeps the default
    assert cohort.org("riverside-workers").ladder[1].label == "Dues-paying member"
    assert cohort.org("eastside-tenants").ladder == default_ladder()


def test_wrong_type_names_file_line_field(tiny_cohort: Path) -> None:
    write(
        tiny_cohort / "cohort.yml",
        """\
        id: tiny
        name: Tiny
        organizations:
          - id: alpha
            name: Alpha
            metrics:
              lapse_days: ninety
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load_cohort(tiny_cohort)
    error = caught.value
    assert error.path == tiny_cohort / "cohort.yml"
    assert error.field == "organizations.0.metrics.lapse_days"
    assert error.line == 7
    assert error.found == "ninety"
    text = str(error)
    assert "cohort.yml, line 7" in text and "lapse_days" in text and "Fix:" in text


def test_unknown_field_is_refused(tiny_cohort: Path) -> None:
    write(
        tiny_cohort / "cohort.yml",
        """\
        id: tiny
        name: Tiny
        organizations:
          - id: alpha
            name: Alpha
            consnet: {cohort: [ladder]}
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load_cohort(tiny_cohort)
    assert caught.value.field == "organizations.0.consnet"
    assert caught.value.line == 6
    assert "no such field" in str(caught.value)


def test_every_problem_is_listed_and_a_misspelt_field_is_named(tiny_cohort: Path) -> None:
    """A cohort.yml with three mistakes took three runs to correct, and 'idd:' was told
    as "organizations.0.id: Field required" with "(1 more problem(s) after this one)"."""
    write(
        tiny_cohort / "cohort.yml",
        """\
        id: tiny
        name: Tiny
        organizations:
          - idd: alpha
            name: Alpha
          - id: beta
            name: Beta
            metrics:
              lapse_days: ninety
              absorbtion_days: 30
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load_cohort(tiny_cohort)
    error = caught.value
    # the misspelling first (it causes the missing 'id'), with the field it resembles
    assert (error.field, error.line, error.column) == ("organizations.0.idd", 4, 5)
    lines = str(error).splitlines()
    assert lines[0].endswith(
        "field 'organizations.0.idd': no such field; did you mean 'id'? "
        "(3 more problem(s), listed below)"
    )
    assert lines[1:4] == [
        "  also: line 10, column 7, field 'organizations.1.metrics.absorbtion_days': "
        "no such field; did you mean 'absorption_days'?",
        "  also: line 4, column 5, field 'organizations.0.id': Field required; "
        "expected a value (this field is required)",
        "  also: line 9, column 7, field 'organizations.1.metrics.lapse_days': Input "
        "should be a valid integer, unable to parse string as an integer; "
        "expected a whole number, found 'ninety'",
    ]
    assert lines[4] == (
        "  Fix: edit 'organizations.0.idd' in cohort.yml (and the problems listed above)."
    )


def test_an_unknown_field_far_from_any_lists_the_fields_there(tiny_cohort: Path) -> None:
    write(
        tiny_cohort / "cohort.yml",
        """\
        id: tiny
        name: Tiny
        organizations:
          - id: alpha
            name: Alpha
            consent: {cohort: [ladder], staff: [ladder]}
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load_cohort(tiny_cohort)
    assert caught.value.field == "organizations.0.consent.staff"
    assert "no such field; expected one of the fields here: cohort, funder" in str(caught.value)


def test_bad_id_and_unknown_parent(tiny_cohort: Path) -> None:
    write(
        tiny_cohort / "cohort.yml",
        """\
        id: tiny
        name: Tiny
        organizations:
          - {id: Alpha Group, name: Alpha}
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load_cohort(tiny_cohort)
    assert caught.value.field == "organizations.0.id"
    assert "lowercase" in str(caught.value)
    write(
        tiny_cohort / "cohort.yml",
        """\
        id: tiny
        name: Tiny
        organizations:
          - {id: alpha, name: Alpha, parent: nowhere}
          - {id: beta, name: Beta, parent: alhpa}
        """,
    )
    with pytest.raises(ConfigError, match="parent 'nowhere'") as caught:
        load_cohort(tiny_cohort)
    # the line of the parent, not of 'organizations:' (line 3)
    assert (caught.value.field, caught.value.line) == ("organizations.0.parent", 4)
    text = (tiny_cohort / "cohort.yml").read_text()
    (tiny_cohort / "cohort.yml").write_text(text.replace("parent: nowhere", "parent: beta"))
    with pytest.raises(ConfigError, match=r"parent 'alhpa'.*\(did you mean 'alpha'\?\)") as caught:
        load_cohort(tiny_cohort)
    assert (caught.value.field, caught.value.line) == ("organizations.1.parent", 5)


@pytest.mark.parametrize(
    ("organizations", "loop"),
    [
        ("  - {id: alpha, name: Alpha, parent: alpha}\n", "alpha -> alpha"),
        (
            "  - {id: alpha, name: Alpha, parent: beta}\n"
            "  - {id: beta, name: Beta, parent: alpha}\n",
            "alpha -> beta -> alpha",
        ),
    ],
)
def test_a_network_cannot_be_its_own_member(tiny_cohort: Path, organizations, loop) -> None:
    (tiny_cohort / "cohort.yml").write_text(
        "id: tiny\nname: Tiny\norganizations:\n" + organizations
    )
    with pytest.raises(ConfigError) as caught:
        load_cohort(tiny_cohort)
    assert f"its own network through its parents ({loop})" in str(caught.value)
    assert caught.value.field == "organizations" and caught.value.line == 3
    assert "cohort.yml" in str(caught.value)
    assert str(caught.value).count("its own network") == 1  # said once, not twice


def test_cycle_dates_and_id(tiny_cohort: Path) -> None:
    path = tiny_cohort / "c1" / "cycle.yml"
    path.write_text(path.read_text().replace("end: 2026-09-14", "end: 2026-07-01"))
    with pytest.raises(ConfigError, match="must be after start") as caught:
        load_cycle(tiny_cohort, "c1")
    assert (caught.value.field, caught.value.line) == ("end", 11)  # not '(top level)', line 1
    path.write_text(path.read_text().replace("end: 2026-07-01", "end: 14/09/2026"))
    with pytest.raises(ConfigError) as caught:
        load_cycle(tiny_cohort, "c1")
    assert caught.value.field == "end"
    assert caught.value.line == 11
    assert "YYYY-MM-DD" in str(caught.value)


def test_cycle_id_must_match_folder(tiny_cohort: Path) -> None:
    path = tiny_cohort / "c1" / "cycle.yml"
    path.write_text(path.read_text().replace("id: c1", "id: c9"))
    with pytest.raises(ConfigError, match="folder name") as caught:
        load_cycle(tiny_cohort, "c1")
    assert caught.value.line == 1


def test_missing_cohort_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cohort file not found"):
        load_cohort(tmp_path)


def test_duplicate_org_ids(tiny_cohort: Path) -> None:
    write(
        tiny_cohort / "cohort.yml",
        """\
        id: tiny
        name: Tiny
        organizations:
          - {id: alpha, name: Alpha}
          - {id: alpha, name: Alpha again}
        """,
    )
    with pytest.raises(ConfigError, match="organization id 'alpha' is used twice") as caught:
        load_cohort(tiny_cohort)
    assert (caught.value.field, caught.value.line) == ("organizations.1.id", 5)


def test_as_of_undoes_later_adoptions_newest_first() -> None:
    from cyclebook.config import Cohort

    ladder = [r.model_dump(mode="json") for r in default_ladder()]
    active_2 = dict(ladder[2], any_of=[{"min_count": 2}], definition="Two in 90 days.")
    active_1 = dict(ladder[2], any_of=[{"min_count": 1}], definition="One in 90 days.")
    captain = dict(ladder[3], name="captain", label="Captain", definition="Runs a building.")
    change = {"date": "2026-10-20", "proposed_by": "Ana", "why": "w", "change": "c"}
    cohort = Cohort.model_validate(
        {
            "id": "t",
            "name": "T",
            "organizations": [
                {
                    "id": "east",
                    "name": "East",
                    # now: active needs one activity, a captain rung, lapse after 60 days
                    "ladder": [*ladder[:2], active_1, ladder[3], captain],
                    "metrics": {"lapse_days": 60},
                    "measure_history": [
                        # c2 -> c3: active 3 -> 2, lapse 90 -> 75
                        dict(
                            change,
                            measure="ladder.active",
                            cycle="c3",
                            replaced={"rung": ladder[2], "settings": {"lapse_days": 90}},
                        ),
                        # c3 -> c4: active 2 -> 1, a captain rung, lapse 75 -> 60
                        dict(
                            change,
                            measure="ladder.active",
                            cycle="c4",
                            replaced={"rung": active_2, "settings": {"lapse_days": 75}},
                        ),
                        dict(
                            change,
                            measure="ladder.captain",
                            cycle="c4",
                            replaced={"added_rung": "captain"},
                        ),
                        # recorded before cyclebook kept what a change replaced: stays
                        dict(change, measure="absorption", cycle="c4"),
                        dict(
                            change,
                            measure="ladder.leader",
                            cycle="c4",
                            status="rejected",
                            replaced={"added_rung": "leader"},
                        ),
                    ],
                },
                {"id": "west", "name": "West"},
            ],
        }
    )
    cycles = ["c1", "c2", "c3", "c4"]
    east = {c: cohort.as_of(c, cycles).org("east") for c in cycles}
    assert [r.name for r in east["c4"].ladder][-1] == "captain"
    assert east["c4"] == cohort.org("east")
    assert [r.name for r in east["c3"].ladder] == ["supporter", "member", "active", "leader"]
    assert east["c3"].ladder[2].definition == "Two in 90 days."
    assert east["c3"].metrics.lapse_days == 75
    for c in ("c1", "c2"):
        assert east[c].ladder == default_ladder()
        assert east[c].metrics.lapse_days == 90
        assert east[c].measure_history == cohort.org("east").measure_history
    assert cohort.as_of("c1", cycles).org("west") == cohort.org("west")
    assert cohort.as_of("c9", cycles) == cohort  # a cycle not among them: as it is


@pytest.mark.parametrize(
    ("previous", "problem"),
    [
        ("c9", "there is no cycle 'c9'"),
        ("c2", "a cycle cannot follow itself"),
        ("c3", "'c3' does not start before c2"),
    ],
)
def test_previous_names_an_earlier_cycle(tiny_cohort: Path, capsys, previous, problem) -> None:
    from cyclebook.cli import main

    card = (tiny_cohort / "c1" / "cycle.yml").read_text()
    for cycle, start, end in [
        ("c2", "2026-09-14", "2026-10-26"),
        ("c3", "2026-10-26", "2026-12-07"),
    ]:
        write(
            tiny_cohort / cycle / "cycle.yml",
            card.replace("id: c1", f"id: {cycle}\nprevious: {previous if cycle == 'c2' else 'c2'}")
            .replace("start: 2026-08-03", f"start: {start}")
            .replace("end: 2026-09-14", f"end: {end}"),
        )
    assert main(["validate", str(tiny_cohort)]) == 2
    err = capsys.readouterr().err
    assert f"c2/cycle.yml, line 2, column 1, field 'previous': {problem}" in err
    assert "expected the id of the cycle before this one: c1" in err
    # a run of that cycle stops before anything runs, with the same error
    assert main(["run", str(tiny_cohort), "--cycle", "c2"]) == 2
    assert problem in capsys.readouterr().err
    assert not (tiny_cohort / "c2" / "output").exists()


# A setting that passed validate and failed (or did nothing) at run time, each under an
# organization 'alpha': (its lines, the field and the line named, a part of the message)
REFUSED_SETTINGS = {
    # DuckDB stopped the sync: "Unknown TimeZone"
    "time zone": (
        "timezone: America/NewYork",
        "organizations.0.timezone",
        6,
        "did you mean 'America/New_York'?",
    ),
    # the sync blamed the file: "neither UTF-8 nor latin-9x text"
    "encoding": (
        "sources:\n  - {kind: action_network_csv, path: an, encoding: latin-9x}",
        "organizations.0.sources.0.encoding",
        7,
        "unknown encoding 'latin-9x'",
    ),
    # matched no date: every row rejected
    "date format": (
        "sources:\n  - kind: generic_csv\n    path: roster.csv\n    date_format: dd/mm/yyyy\n"
        "    columns: {person_id: ID, occurred_at: Date}",
        "organizations.0.sources.0.date_format",
        9,
        "written with % codes, as in '%d/%m/%Y'",
    ),
    # stopped the sync: "the column mapping names unknown field(s) emial"
    "mapped field": (
        "sources:\n  - kind: generic_csv\n    path: roster.csv\n"
        "    columns: {person_id: ID, emial: Email}",
        "organizations.0.sources.0.columns",
        9,
        "'columns' maps an unknown field 'emial' (did you mean 'email'?)",
    ),
    # every dated row rejected at sync, for a 'type' column the sheet does not have
    "spreadsheet activities without a type": (
        "sources:\n  - kind: generic_csv\n    path: roster.csv\n"
        "    columns: {email: Email, occurred_at: Date}",
        "organizations.0.sources.0",
        7,
        "map the sheet's type column in 'columns' (type: <its header>), or set 'activity_type'",
    ),
    # the reports counted the top rung's people as leaders, without a word
    "leader rung": (
        "metrics: {leader_rung: steward}",
        "organizations.0.metrics.leader_rung",
        6,
        "leader_rung names 'steward', which is not a rung of this organization's ladder; "
        "the rungs: supporter, member, active, leader",
    ),
    "leader rung misspelt": (
        "metrics: {leader_rung: leadr}",
        "organizations.0.metrics.leader_rung",
        6,
        "(did you mean 'leader'?)",
    ),
    # read upside down: every supporter counted as a leader, the rung table showed none
    "ladder written top-down": (
        "ladder:\n"
        "  - {name: leader, label: Leader, window_days: 90, definition: A 1:1,\n"
        "     any_of: [{activity_types: [one_on_one]}]}\n"
        "  - {name: supporter, label: Supporter, window_days: 365, definition: Any,\n"
        "     any_of: [{min_count: 1}]}",
        "organizations.0.ladder.0",
        7,
        "the ladder's first rung, 'leader', is its leader rung: rungs are listed lowest first",
    ),
    "ladder written top-down, leader rung named": (
        "metrics: {leader_rung: captain}\n"
        "ladder:\n"
        "  - {name: captain, label: Captain, window_days: 90, definition: A 1:1,\n"
        "     any_of: [{activity_types: [one_on_one]}]}\n"
        "  - {name: supporter, label: Supporter, window_days: 365, definition: Any,\n"
        "     any_of: [{min_count: 1}]}",
        "organizations.0.ladder.0",
        8,
        "list the rungs in the opposite order, lowest first",
    ),
    # read nothing: only spreadsheets are read by a mapping and a date format
    "generic only": (
        "sources:\n  - kind: action_network_csv\n    path: an\n    date_format: '%d/%m/%Y'",
        "organizations.0.sources.0",
        7,
        "'date_format' applies to spreadsheets (kind generic_csv)",
    ),
    # did nothing: only Action Builder's endpoint returns entities that are not people
    "entity types": (
        "sources:\n  - kind: mobilize\n    path: m\n    entity_types: [Person]",
        "organizations.0.sources.0",
        7,
        "'entity_types' applies to Action Builder exports (kind action_builder)",
    ),
    # the sync read another organization's members into this one
    "source path outside exports": (
        "sources:\n  - {kind: van, path: ../../other-org/exports/van}",
        "organizations.0.sources.0.path",
        7,
        "the path '../../other-org/exports/van' leads outside this organization's exports/",
    ),
    "absolute source path": (
        "sources:\n  - {kind: van, path: /srv/other-org/exports/van}",
        "organizations.0.sources.0.path",
        7,
        "the path '/srv/other-org/exports/van' leads outside",
    ),
    "source path that climbs out through a subfolder": (
        "sources:\n  - {kind: van, path: van/../../../other-org/exports/van}",
        "organizations.0.sources.0.path",
        7,
        "leads outside this organization's exports/",
    ),
    # one source in the store: saving one sheet removed the other's rows
    "two spreadsheets named alike": (
        "sources:\n"
        "  - {kind: generic_csv, path: meetings/2026.csv, columns: {email: Email}}\n"
        "  - {kind: generic_csv, path: trainings/2026.csv, columns: {email: Email}}",
        "organizations.0.sources.1.path",
        8,
        "spreadsheet sources 1 ('meetings/2026.csv') and 2 ('trainings/2026.csv') are both "
        "named 'sheet:2026' in the store",
    ),
    "two spreadsheets labelled alike": (
        "sources:\n"
        "  - {kind: generic_csv, path: a.csv, label: Roster, columns: {email: Email}}\n"
        "  - {kind: van, path: van}\n"
        "  - {kind: generic_csv, path: b.csv, label: roster, columns: {email: Email}}",
        "organizations.0.sources.2.label",
        9,
        "are both named 'sheet:roster'",
    ),
    # shared nothing under that name, without a word
    "consent": (
        "consent: {cohort: [ladder, absorbtion]}",
        "organizations.0.consent.cohort.1",
        6,
        "'absorbtion' is not a measure cyclebook computes (did you mean 'absorption'?)",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED_SETTINGS))
def test_settings_that_failed_at_run_time_are_refused(tiny_cohort: Path, case: str) -> None:
    lines, field, line, message = REFUSED_SETTINGS[case]
    organization = "  - id: alpha\n    name: Alpha\n" + "".join(
        f"    {line}\n" for line in lines.splitlines()
    )
    (tiny_cohort / "cohort.yml").write_text("id: tiny\nname: Tiny\norganizations:\n" + organization)
    with pytest.raises(ConfigError) as caught:
        load_cohort(tiny_cohort)
    assert caught.value.field == field
    assert caught.value.line == line
    assert message in str(caught.value)


@pytest.mark.parametrize("path", ["van", "van/../van", "./van/export.csv", "."])
def test_a_source_path_inside_exports_is_accepted(tiny_cohort: Path, path: str) -> None:
    (tiny_cohort / "cohort.yml").write_text(
        "id: tiny\nname: Tiny\norganizations:\n  - id: alpha\n    name: Alpha\n"
        f"    sources:\n      - {{kind: van, path: '{path}'}}\n"
    )
    assert load_cohort(tiny_cohort).org("alpha").sources[0].path == path


def test_spreadsheets_named_apart_by_a_label_are_accepted(tiny_cohort: Path) -> None:
    (tiny_cohort / "cohort.yml").write_text(
        "id: tiny\nname: Tiny\norganizations:\n  - id: alpha\n    name: Alpha\n    sources:\n"
        "      - {kind: generic_csv, path: meetings/2026.csv, columns: {email: Email}}\n"
        "      - {kind: generic_csv, path: trainings/2026.csv, label: Trainings,"
        " columns: {email: Email}}\n"
    )
    sources = load_cohort(tiny_cohort).org("alpha").sources
    assert [src.sheet_name for src in sources] == ["sheet:2026", "sheet:trainings"]


def test_a_leader_rung_below_the_top_is_accepted(tiny_cohort: Path) -> None:
    """Leaders count from the leader rung up: a rung above it is the ladder's own choice,
    and a one-rung ladder is its own top."""
    from cyclebook.config import Cohort

    ladder = [r.model_dump() for r in default_ladder()]
    captain = dict(ladder[-1], name="captain", label="Captain")
    org = {"id": "alpha", "name": "Alpha"}
    cohort = Cohort.model_validate(
        {
            "id": "tiny",
            "name": "Tiny",
            "organizations": [
                dict(org, ladder=[*ladder, captain]),
                dict(org, id="beta", ladder=[ladder[-1]]),
                dict(org, id="gamma", ladder=ladder[1:], metrics={"leader_rung": "active"}),
            ],
        }
    )
    assert [r.name for r in cohort.org("alpha").ladder][-1] == "captain"
    assert [r.name for r in cohort.org("beta").ladder] == ["leader"]


def test_a_repeated_key_is_refused_in_cohort_and_cycle_files(tiny_cohort: Path) -> None:
    """YAML keeps the last of two equal keys: a second 'sources:' dropped the first list
    of the organization's exports without a word (reflection files refused it already)."""
    (tiny_cohort / "cohort.yml").write_text(
        "id: tiny\nname: Tiny\norganizations:\n  - id: alpha\n    name: Alpha\n"
        "    sources:\n      - {kind: van, path: van}\n    staff: [Dana]\n"
        "    sources:\n      - {kind: mobilize, path: mobilize}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_cohort(tiny_cohort)
    assert (caught.value.field, caught.value.line) == ("organizations.0.sources", 9)
    assert "'sources' appears twice in the same place (lines 6 and 9)" in str(caught.value)
    assert "merge the two 'sources' entries into one" in str(caught.value)
    assert "cohort.yml" in str(caught.value)
    card = tiny_cohort / "c1" / "cycle.yml"
    card.write_text(card.read_text() + "hypothesis: If we run it twice, we learn twice.\n")
    with pytest.raises(ConfigError) as caught:
        load_cycle(tiny_cohort, "c1")
    assert (caught.value.field, caught.value.line) == ("hypothesis", 12)
    assert "(lines 5 and 12)" in str(caught.value)
    assert caught.value.path == card


def test_a_stray_copy_of_a_reflection_is_not_renamed_onto_it(tiny_cohort: Path) -> None:
    """Validate told the owner of a misnamed copy (alpah.yml beside alpha.yml) to rename it
    alpha.yml, which would have replaced the reflection that is read."""
    from cyclebook.config import unread_reflections

    folder = tiny_cohort / "c1" / "reflections"
    folder.mkdir()
    for name in ("alpha.yml", "alpah.yml", "alpha.yaml", "bta.yml", "zzz.yml"):
        (folder / name).write_text("org_id: alpha\n")
    assert unread_reflections(tiny_cohort, ["alpha", "beta"], ["c1"]) == [
        "c1/reflections/alpah.yml is not read by any report: it looks like a stray copy of "
        "alpha.yml, which is read: merge what it holds into alpha.yml, or remove it",
        "c1/reflections/alpha.yaml is not read by any report: it looks like a stray copy of "
        "alpha.yml, which is read: merge what it holds into alpha.yml, or remove it",
        # no beta.yml yet: renaming it loses nothing
        "c1/reflections/bta.yml is not read by any report: rename it beta.yml",
        "c1/reflections/zzz.yml is not read by any report: name it after an organization "
        "id (alpha, beta)",
    ]


def test_a_card_target_names_a_computed_measure(tiny_cohort: Path) -> None:
    """A target on a mistyped measure was never compared: 'not yet measured' all cycle."""
    card = tiny_cohort / "c1" / "cycle.yml"
    card.write_text(
        card.read_text().replace(
            "  - {goal: Reports exist, measure: reports, failure: No report}",
            "  - {goal: Reports exist, measure: reports, failure: No report}\n"
            "  - {goal: Keep people, measure: absorbtion, failure: Few, target: 0.4}",
        )
    )
    with pytest.raises(ConfigError) as caught:
        load_cycle(tiny_cohort, "c1")
    assert caught.value.field == "metrics.1"
    assert "did you mean 'absorption'?" in str(caught.value)
    assert "a target or failure_below is compared with a computed measure only" in str(caught.value)


def test_a_card_read_again_is_a_copy_of_its_own_and_an_edit_is_read(tiny_cohort: Path) -> None:
    """A card read again in one process is parsed once: each reader still gets a card
    of its own to change, and a file edited since (to the same size, within the clock's
    tick) is read again."""
    path = tiny_cohort / "c1" / "cycle.yml"
    first = load_cycle(tiny_cohort, "c1")
    first.title = "Changed by a reader"
    first.learnings.append("a reader's note")
    again = load_cycle(tiny_cohort, "c1")
    assert (again.title, again.learnings) == ("First cycle", [])
    assert again.source_sha256 == first.source_sha256
    stat = path.stat()
    path.write_text(path.read_text().replace("title: First cycle", "title: Other cycle"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the same time and size
    assert path.stat().st_size == stat.st_size
    edited = load_cycle(tiny_cohort, "c1")
    assert edited.title == "Other cycle"
    assert edited.source_sha256 != first.source_sha256
    path.write_text(path.read_text().replace("title: Other cycle", "title: [Other cycle"))
    with pytest.raises(ConfigError, match="cycle.yml"):
        load_cycle(tiny_cohort, "c1")  # a card broken since is not the card read before


def test_a_team_names_organizations_of_the_cohort(tiny_cohort: Path) -> None:
    """Under a mistyped organization id, the staff named were left out of its reports."""
    from cyclebook.config import team_warnings

    path = tiny_cohort / "c1" / "cycle.yml"
    path.write_text(path.read_text() + "team:\n  alpha: [Ana]\n  bta: [Lee]\n")
    card = load_cycle(tiny_cohort, "c1")
    [warning] = team_warnings(tiny_cohort, card, ["alpha", "beta"])
    assert warning.startswith(
        f"{path}, line 14, column 3: team names 'bta', which is not an organization of "
        "this cohort (did you mean 'beta'?); its staff are in no report."
    )
    assert team_warnings(tiny_cohort, card, ["alpha", "bta"]) == []


def test_a_percentage_target_says_how_to_write_it(tiny_cohort: Path) -> None:
    path = tiny_cohort / "c1" / "cycle.yml"
    path.write_text(
        path.read_text().replace("failure: No report}", "failure: No report, target: 45%}")
    )
    with pytest.raises(ConfigError) as caught:
        load_cycle(tiny_cohort, "c1")
    message = str(caught.value)
    assert "a share is written as a fraction: 45% is 0.45" in message
    assert message.count("Input should be a valid number") == 1


def test_a_network_of_networks_is_refused(tiny_cohort: Path) -> None:
    """A network inside another was accepted, and its affiliates were left out of the
    top network's roll-up: the national network looked smaller than a state one."""
    (tiny_cohort / "cohort.yml").write_text(
        "id: tiny\nname: Tiny\norganizations:\n"
        "  - {id: top, name: Top}\n"
        "  - {id: mid, name: Mid, parent: top}\n"
        "  - {id: leaf, name: Leaf, parent: mid}\n"
    )
    with pytest.raises(ConfigError, match="which is itself an affiliate of 'top'") as caught:
        load_cohort(tiny_cohort)
    assert (caught.value.field, caught.value.line) == ("organizations.2.parent", 6)
    assert "give 'leaf' the parent 'top'" in str(caught.value)


def _card_metric(tiny_cohort: Path, metric: str) -> Path:
    """The tiny cohort's card with one more metric (a flow map of YAML)."""
    path = tiny_cohort / "c1" / "cycle.yml"
    path.write_text(
        path.read_text().replace(
            "  - {goal: Reports exist, measure: reports, failure: No report}\n",
            f"  - {{goal: Reports exist, measure: reports, failure: No report}}\n  - {metric}\n",
        )
    )
    return path


@pytest.mark.parametrize(
    ("numbers", "field", "found", "message"),
    [
        (
            "target: 45",
            "metrics.1.target",
            45,
            "'absorption' is a rate, a share of people from 0 to 1: its target is written "
            "as a fraction: 45% is 0.45 (write target: 0.45); 45 would be 4500%",
        ),
        (
            "target: 0.45, failure_below: 20",
            "metrics.1.failure_below",
            20,
            "'absorption' is a rate, a share of people from 0 to 1: its failure_below is "
            "written as a fraction: 20% is 0.2 (write failure_below: 0.2); 20 would be 2000%",
        ),
        (
            "target: 45%",
            "metrics.1.target",
            "45%",
            "'absorption' is a rate, a share of people from 0 to 1: its target is written "
            "as a fraction: 45% is 0.45 (write target: 0.45)",
        ),
        (
            "target: -0.1",
            "metrics.1.target",
            -0.1,
            "'absorption' is a rate, a share of people from 0 to 1: its target cannot be below 0",
        ),
    ],
)
def test_a_rate_target_is_a_fraction(
    tiny_cohort: Path, numbers: str, field: str, found: object, message: str
) -> None:
    """'target: 45' for absorption passed validation and was read as 4500%: the share
    report showed "Goal line 4500%" and called 72% "below the failure line"."""
    path = _card_metric(
        tiny_cohort, f"{{goal: Keep people, measure: absorption, failure: Few, {numbers}}}"
    )
    with pytest.raises(ConfigError) as caught:
        load_cycle(tiny_cohort, "c1")
    error = caught.value
    assert (error.path, error.field, error.line, error.found) == (path, field, 9, found)
    assert str(error).endswith(
        f", field '{field}': {message}, found {found!r}\n  Fix: edit '{field}' in cycle.yml."
    )
    assert error.fix == f"edit '{field}' in cycle.yml."


def test_a_count_target_is_not_a_percent(tiny_cohort: Path) -> None:
    """'45%' for a count was told "a share is written as a fraction: 45% is 0.45"."""
    _card_metric(tiny_cohort, "{goal: More leaders, measure: leaders, failure: Few, target: 5%}")
    with pytest.raises(ConfigError) as caught:
        load_cycle(tiny_cohort, "c1")
    assert caught.value.field == "metrics.1.target"
    assert (
        "field 'metrics.1.target': 'leaders' is a count, not a share: write its target as "
        "a number of people (e.g. target: 5), found '5%'"
    ) in str(caught.value)


def test_rate_targets_from_0_to_1_and_any_count_target_pass(tiny_cohort: Path) -> None:
    _card_metric(
        tiny_cohort,
        "{goal: Keep people, measure: absorption, failure: Few, target: 1, failure_below: 0}\n"
        "  - {goal: More leaders, measure: leaders, failure: Fewer, target: 45, "
        "failure_below: 20}",
    )
    card = load_cycle(tiny_cohort, "c1")
    assert [(m.target, m.failure_below) for m in card.metrics[1:]] == [(1, 0), (45, 20)]


def test_a_rate_target_is_shown_as_a_percent() -> None:
    """The card read "Target 0.45" beside "Result 72%"."""
    from cyclebook.card import fmt_target
    from cyclebook.config import METRICS, RATE_METRICS

    assert RATE_METRICS.issubset(METRICS)
    assert fmt_target("absorption", 0.45) == "45%"
    assert fmt_target("show_rate", 0.125) == "12.5%"
    assert fmt_target("leaders", 5) == "5"
    assert fmt_target("leaders", None) == "–"


def test_the_warm_up_reads_a_valid_cohort_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel zygote reads a cohort made for it before the forks (config.warm_up): it
    must pass the checks (the zygote would hide an error, and warm nothing), and leave no
    folder and no cached card behind."""
    import tempfile

    from cyclebook import config

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    read: list = []
    monkeypatch.setattr(config, "load_cohort", lambda folder: read.append(load_cohort(folder)))
    cards_before = dict(config._CARDS)
    config.warm_up()
    assert [(c.id, [o.id for o in c.organizations]) for c in read] == [("warm-up", ["warm-up-org"])]
    assert list(tmp_path.iterdir()) == []
    assert cards_before == config._CARDS
