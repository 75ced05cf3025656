"""An item of several lines (a YAML block scalar, or typed so in the form) stays one item
through the form, and the report shows its line breaks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cyclebook import display as d
from cyclebook.reflect import (
    ReflectionForm,
    _join_items,
    _lines,
    load_reflection,
    reflection_blocks,
    reflection_path,
)

ORG = "eastside-tenants"
CYCLE = "2026-c1"

SAVED = """\
org_id: eastside-tenants
cycle: 2026-c1
versions:
  - saved_at: 2026-09-10T18:00:00+00:00
    author: Nirmal Shah
    learnings:
      - |
        Calls beat texts.
        Especially for older <tenants>.
      - Neighbours recruit neighbours.
    questions: [Should dues count as membership?]
"""


def test_a_multi_line_item_stays_whole_through_an_unchanged_save(cohort: Path) -> None:
    path = reflection_path(cohort, CYCLE, ORG)
    path.parent.mkdir(parents=True)
    path.write_text(SAVED, encoding="utf-8")
    clock = lambda: dt.datetime(2026, 9, 11, 9, tzinfo=dt.UTC)  # noqa: E731
    form = ReflectionForm(cohort, CYCLE, ORG, author="Harold Kim", clock=clock)
    assert form.learnings.value == (
        "Calls beat texts.\n  Especially for older <tenants>.\nNeighbours recruit neighbours."
    )
    form.save()
    reflection = load_reflection(cohort, CYCLE, ORG)
    assert len(reflection.versions) == 2
    assert reflection.latest.learnings == [
        "Calls beat texts.\nEspecially for older <tenants>.",
        "Neighbours recruit neighbours.",
    ]
    assert reflection.latest.content() == reflection.versions[0].content()


def test_typed_items_and_continuation_lines() -> None:
    text = "First\n  goes on\n\tand on\n\nSecond\n   \nThird\n  \n  after a blank line\n"
    assert _lines(text) == [
        "First\ngoes on\nand on",
        "Second",
        "Third\n\nafter a blank line",
    ]
    items = ["a\n\nb", "c\n   indented four", "d  \ne", "one line"]
    assert _join_items(items) == "a\n  \n  b\nc\n     indented four\nd  \n  e\none line"
    assert _lines(_join_items(items)) == items


def test_the_report_shows_an_items_line_breaks(cohort: Path) -> None:
    path = reflection_path(cohort, CYCLE, ORG)
    path.parent.mkdir(parents=True)
    path.write_text(SAVED, encoding="utf-8")
    html = "".join(b.html for b in reflection_blocks(load_reflection(cohort, CYCLE, ORG)))
    assert (
        "<ul><li>Calls beat texts.<br>Especially for older &lt;tenants&gt;.</li>"
        "<li>Neighbours recruit neighbours.</li></ul>"
    ) in html
    block = d.bullets(["a <b>\nb", "c"])
    assert block.html == "<ul><li>a &lt;b&gt;<br>b</li><li>c</li></ul>"
    assert block.plain == "- a <b>\n  b\n- c"
