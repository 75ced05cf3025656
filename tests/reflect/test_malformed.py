"""A malformed reflection file is a ConfigError that names the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from cyclebook.errors import ConfigError
from cyclebook.reflect import load_reflection, reflection_path

ORG = "eastside-tenants"
CYCLE = "2026-c1"

GOOD_HEAD = """org_id: eastside-tenants
cycle: 2026-c1
versions:
  - saved_at: 2026-09-10T18:00:00Z
    author: Nirmal Shah
"""

CASES = {
    "bad reaction": (
        GOOD_HEAD
        + """    metrics:
      - {metric: absorption, reaction: keep}
      - metric: show_rate
        reaction: maybe
""",
        9,
        "versions.0.metrics.1.reaction",
        "'keep', 'change', 'drop' or 'add'",
    ),
    "missing author": (
        """org_id: eastside-tenants
cycle: 2026-c1
versions:
  - saved_at: 2026-09-10T18:00:00Z
    stories: [one]
""",
        4,
        "versions.0.author",
        "this field is required",
    ),
    "misspelled field": (
        GOOD_HEAD + "    storys: [a typo]\n",
        6,
        "versions.0.storys",
        "no such field",
    ),
    "bad date": (
        GOOD_HEAD.replace("2026-09-10T18:00:00Z", "last Tuesday"),
        4,
        "versions.0.saved_at",
        "last Tuesday",
    ),
    "rule on a non-ladder measure": (
        GOOD_HEAD
        + """    measure_changes:
      - measure: absorption
        proposed_by: Ana
        why: too strict
        change: 60 days instead of 42
        rule: {window_days: 60}
""",
        7,
        "versions.0.measure_changes.0",
        "ladder.<rung name>",
    ),
    "bad rule condition": (
        GOOD_HEAD
        + """    measure_changes:
      - measure: ladder.active
        proposed_by: Ana
        why: too strict
        change: two meetings
        rule:
          any_of:
            - {activity_types: [meeting], min_count: 2}
""",
        13,
        "versions.0.measure_changes.0.rule.any_of.0.activity_types.0",
        "'attendance'",
    ),
    "unknown setting": (
        GOOD_HEAD
        + """    measure_changes:
      - measure: absorption
        proposed_by: Dev
        why: monthly shifts
        change: 60 days
        settings: {absorbtion_days: 60}
""",
        11,
        "versions.0.measure_changes.0.settings.absorbtion_days",
        "no such field",
    ),
    "wrong organization": (
        GOOD_HEAD.replace("org_id: eastside-tenants", "org_id: valley-voters"),
        1,
        "org_id",
        "'eastside-tenants'",
    ),
    "no versions": (
        "org_id: eastside-tenants\ncycle: 2026-c1\nversions: []\n",
        3,
        "versions",
        "at least 1 item",
    ),
    "repeated field": (
        GOOD_HEAD + "    stories: [first story]\n    questions: [q]\n    stories: [second]\n",
        8,
        "versions.0.stories",
        "lines 6 and 8",
    ),
    "syntax": (GOOD_HEAD + "    stories: [unclosed\n", 7, None, "line 7"),
    "a list, not a map": ("- just\n- a list\n", 1, None, "must be a map"),
    "empty file": ("", 1, None, "an empty file"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_malformed(cohort: Path, name: str) -> None:
    text, line, field, words = CASES[name]
    path = reflection_path(cohort, CYCLE, ORG)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_reflection(cohort, CYCLE, ORG)
    error = info.value
    message = str(error)
    assert error.line == line, message
    assert f"line {line}" in message
    assert error.field == field, message
    if field:
        assert f"field '{field}'" in message
    assert words in message, message
    assert "Fix:" in message


def test_text_libyaml_reads_is_read(cohort: Path) -> None:
    """A question mark in a flow list is YAML libyaml reads (and the file was read by
    it), but the duplicate-key check parsed the file again with the pure-Python parser,
    whose ParserError was a traceback in validate, next-cycle and the cohort summary."""
    path = reflection_path(cohort, CYCLE, ORG)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(GOOD_HEAD + "    questions: [Should dues count?]\n", encoding="utf-8")
    reflection = load_reflection(cohort, CYCLE, ORG)
    assert reflection.versions[0].questions == ["Should dues count?"]


def test_a_repeated_key_is_refused_with_both_lines(cohort: Path) -> None:
    path = reflection_path(cohort, CYCLE, ORG)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(GOOD_HEAD + "    learnings: [a]\n    learnings: [b]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"'learnings' appears twice .*lines 6 and 7") as caught:
        load_reflection(cohort, CYCLE, ORG)
    assert (caught.value.field, caught.value.line) == ("versions.0.learnings", 7)
