"""A reflection file that cannot be read fails the group's reflect report (which says
why), not its improve report: improve shows its findings and definitions and says what
is wrong with the file and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from cyclebook import display as d
from cyclebook.errors import ConfigError
from cyclebook.phases import improve, load_context
from cyclebook.reflect import EmptyReflectionFile, load_reflection, reflection_path

ORG = "eastside-tenants"
CYCLE = "2026-c2"
FIX = (
    "delete the empty file, then record the reflection in notebooks/3_reflect.ipynb "
    "(interactive = True), or write it by hand starting from cycles/demo/2026-c1/reflections/."
)
INVALID = """\
org_id: eastside-tenants
cycle: 2026-c2
versions:
  - saved_at: 2026-10-20T18:00:00+00:00
    author: Nirmal Shah
    metrics:
      - {metric: absorption, reaction: maybe}
"""


def _report(cohort: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    path = reflection_path(cohort, CYCLE, ORG)
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    shown: list[d.Block] = []
    monkeypatch.setattr(d, "display", shown.append)
    improve.report(load_context("improve", str(cohort), CYCLE, ORG))
    return [block.plain for block in shown]


def _notes(outputs: list[str]) -> list[str]:
    return [line for out in outputs for line in out.split("\n\n") if line.startswith("[warning]")]


@pytest.mark.parametrize("text", ["", "# nothing recorded yet\n"])
def test_an_empty_reflection_file(cohort: Path, text: str, monkeypatch) -> None:
    outputs = _report(cohort, text, monkeypatch)
    assert _notes(outputs) == [
        f"[warning] The reflection file of Eastside Tenants Union is empty; {FIX}",
        "[warning] No store yet, so there is nothing to check: run the sync phase first "
        "(`cyclebook run COHORT --phase sync`).",
        "[warning] The reflection file 2026-c2/reflections/eastside-tenants.yml is empty, so "
        f"the definition changes the group proposed in it are not shown. Fix: {FIX}",
    ]
    assert outputs[-1].startswith("## The group's definitions")
    assert "History of each definition" in outputs[-1]
    with pytest.raises(EmptyReflectionFile) as info:
        load_reflection(cohort, CYCLE, ORG)  # the reflect report still fails, with the fix
    assert str(info.value).endswith(f", found 'an empty file'\n  Fix: {FIX}")


def test_an_invalid_reflection_file(cohort: Path, monkeypatch) -> None:
    outputs = _report(cohort, INVALID, monkeypatch)
    assert _notes(outputs)[-1] == (
        "[warning] The reflection file 2026-c2/reflections/eastside-tenants.yml could not be "
        "read (line 7, field 'versions.0.metrics.0.reaction'; `cyclebook validate` names the "
        "problem), so the definition changes the group proposed in it are not shown. "
        "Fix: edit 'versions.0.metrics.0.reaction' in eastside-tenants.yml."
    )
    assert _notes(outputs)[0] == (
        "[warning] The reflection file of Eastside Tenants Union could not be read at line 7; "
        "`cyclebook validate` names the problem and the fix."
    )
    assert outputs[-1].startswith("## The group's definitions")
    with pytest.raises(ConfigError, match="line 7"):
        load_reflection(cohort, CYCLE, ORG)
