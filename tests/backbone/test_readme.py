"""The README's reference to cohort.yml and cycle.yml against the models: its example
cohort.yml loads as written, every key the models accept is in its reference, and its
links to its own sections lead somewhere. Without these, the README drifted from the
code without a word: an example a facilitator copies was refused by `validate`."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from cyclebook import config
from cyclebook.config import load_cohort
from cyclebook.errors import ConfigError
from cyclebook.paths import repo_root

EXAMPLE_MARKER = "<!-- README example cohort.yml: tests/backbone/test_readme.py loads it -->"


def readme() -> str:
    return (repo_root() / "README.md").read_text(encoding="utf-8")


def example_cohort_yaml(text: str) -> str:
    """The fenced YAML block right after the example's marker."""
    assert text.count(EXAMPLE_MARKER) == 1, "the README's example cohort.yml marker is gone"
    after = text.split(EXAMPLE_MARKER, 1)[1]
    block = re.match(r"\s*```yaml\n(.*?)\n```", after, re.S)
    assert block is not None, "no ```yaml block right after the example's marker"
    return block.group(1) + "\n"


def cycles_section(text: str) -> str:
    """The README's section on the cycles/ folder, its cohort.yml and cycle.yml reference."""
    start = text.index("## The `cycles/` layout")
    return text[start : text.index("\n## ", start + 1)]


def test_the_readme_example_cohort_loads_as_written(tmp_path: Path) -> None:
    (tmp_path / "cohort.yml").write_text(example_cohort_yaml(readme()), encoding="utf-8")
    cohort = load_cohort(tmp_path)

    assert [org.id for org in cohort.organizations] == ["eastside-tenants", "eastside-north"]
    assert cohort.affiliates("eastside-tenants") == [cohort.org("eastside-north")]
    tenants, north = cohort.organizations
    assert tenants.timezone == "America/Chicago"
    assert north.timezone == "America/New_York"  # the default the reference gives
    assert [s.kind for s in tenants.sources] == ["van", "mobilize", "generic_csv"]
    sheet = tenants.sources[2]
    assert sheet.sheet_name == "sheet:sign-ins"
    assert sheet.date_format == "%d/%m/%Y"
    assert sheet.columns is not None and sheet.columns["attended"] == "Present"
    assert [rung.name for rung in tenants.ladder] == ["supporter", "leader"]
    # set in the example, and the defaults the reference's table gives
    assert (tenants.metrics.lapse_days, tenants.metrics.active_window_days) == (120, 365)
    assert (tenants.metrics.absorption_days, tenants.metrics.one_on_one_days) == (42, 30)
    assert tenants.metrics.leader_rung == "leader"
    assert tenants.consent.funder == ["active_base"]
    assert north.sources[0].encoding == "windows-1252"
    assert north.sources[1].entity_types == ["Tenant"]


def test_the_example_block_is_found_and_a_broken_one_is_refused(tmp_path: Path) -> None:
    """The test above can fail: an example with a key the models do not know is refused."""
    text = readme().replace("    timezone: America/Chicago", "    time_zone: America/Chicago")
    (tmp_path / "cohort.yml").write_text(example_cohort_yaml(text), encoding="utf-8")
    with pytest.raises(ConfigError, match="time_zone"):
        load_cohort(tmp_path)


def _fields(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


@pytest.mark.parametrize(
    "model",
    [
        config.Cohort,
        config.Organization,
        config.Source,
        config.Rung,
        config.RungCondition,
        config.MetricSettings,
        config.Consent,
        config.MeasureChange,
        config.Replaced,
        config.CycleCard,
        config.CardMetric,
        config.Document,
    ],
    ids=lambda model: model.__name__,
)
def test_every_key_a_model_accepts_is_in_the_readme_reference(model: type[BaseModel]) -> None:
    section = cycles_section(readme())
    missing = sorted(name for name in _fields(model) if f"`{name}`" not in section)
    assert not missing, f"README's cycles/ reference does not name {model.__name__}'s {missing}"


@pytest.mark.parametrize(
    ("what", "names"),
    [
        ("spreadsheet fields", config.GENERIC_FIELDS),
        ("activity types", config.ACTIVITY_TYPES),
        ("measures", config.METRICS),
        ("source kinds", typing.get_args(config.SourceKind)),
    ],
)
def test_every_value_a_key_takes_is_in_the_readme_reference(what: str, names: tuple) -> None:
    section = cycles_section(readme())
    missing = [name for name in names if f"`{name}`" not in section]
    assert not missing, f"README's cycles/ reference does not name the {what} {missing}"


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation but '-' and '_'
    dropped, spaces as '-'."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def test_the_readme_links_lead_to_its_sections_and_files() -> None:
    text = readme()
    outside_code = re.sub(r"```.*?```", "", text, flags=re.S)
    anchors = {
        github_anchor(line.lstrip("#"))
        for line in outside_code.splitlines()
        if re.match(r"#{1,6} ", line)
    }
    links = re.findall(r"\]\(([^)\s]+)\)", outside_code)
    assert "#cohortyml" in links  # the table of contents is there
    broken = [
        link
        for link in links
        if (link.startswith("#") and link[1:] not in anchors)
        or (
            not link.startswith(("#", "http://", "https://"))
            and not (repo_root() / link.split("#")[0]).exists()
        )
    ]
    assert not broken, f"README links that lead nowhere: {broken}"
