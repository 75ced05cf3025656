"""Cohorts for the publish tests: the real runner's output to publish from.

``small``: the demo's Eastside Tenants and Harbor Youth with generated exports, the real
phase notebooks, run once per session (every report of 2026-c2) and only read by the
tests; values only Eastside Tenants' own reports show are planted in it. ``cohort``: the
runner tests' two organizations with stand-in notebooks (fast), for tests that change a
cohort and run it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from robustness.reportset import write_small
from runner.conftest import cohort, stand_in_notebooks  # noqa: F401 (fixtures)

from cyclebook import incremental, runner

# Written only where Eastside Tenants' own staff read: a story in its reflection (its
# reflect report shows it; what the cohort and funders see of a reflection leaves
# stories out) and a file its sync does not read (its sync report names it).
PLANTED_STORY = "plantedstory qx7431 rent strike"
PLANTED_FILE = "plantednotes-qx7431.pdf"
REFLECTION = f"""\
org_id: eastside-tenants
cycle: 2026-c2
versions:
  - saved_at: '2026-10-20T18:30:00Z'
    author: Nirmal Shah
    participants: [Ana (organizing)]
    metrics:
      - {{metric: absorption, reaction: keep, why: It showed the follow-up gap.}}
    stories: [{PLANTED_STORY}]
    learnings: [Follow-up within two weeks doubled second actions.]
"""


@dataclass(frozen=True)
class Small:
    root: Path
    cycle: str


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Small:
    root = tmp_path_factory.mktemp("publish") / "small"
    with pytest.MonkeyPatch.context() as patch:
        # as the publish tests see it (others edit cyclebook's sources meanwhile)
        patch.setattr(incremental, "code_fingerprint", lambda versions: "fixed for tests")
        cycle = write_small(root)
        assert cycle == "2026-c2"
        (root / cycle / "reflections").mkdir(parents=True)
        (root / cycle / "reflections" / "eastside-tenants.yml").write_text(REFLECTION)
        exports = root / "orgs" / "eastside-tenants" / "exports" / "action_network"
        assert exports.is_dir()
        (exports / PLANTED_FILE).write_bytes(b"%PDF-1.4 notes\n")
        summary = runner.run(root, workers=2, progress=None)
    assert summary.ok and len(summary.results) == 14, "\n".join(summary.lines())
    return Small(root=root, cycle=cycle)


@pytest.fixture
def small(small_run: Small, monkeypatch: pytest.MonkeyPatch) -> Small:
    """The small cohort, run (read it only: other tests publish from it too)."""
    monkeypatch.setattr(incremental, "code_fingerprint", lambda versions: "fixed for tests")
    return small_run
