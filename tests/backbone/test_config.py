"""Typed config: errors name the file, line, field, what was found and what is expected."""

from __future__ import annotations

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
        """,
    )
    with pytest.raises(ConfigError, match="parent 'nowhere'"):
        load_cohort(tiny_cohort)


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
    with pytest.raises(ConfigError, match="must be after start"):
        load_cycle(tiny_cohort, "c1")
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
    with pytest.raises(ConfigError, match=r"repeated: \['alpha'\]"):
        load_cohort(tiny_cohort)
