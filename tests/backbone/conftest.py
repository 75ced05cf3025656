from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

COHORT_YML = """\
id: tiny
name: Tiny Test Cohort
organizations:
  - id: alpha
    name: Alpha Tenants
  - id: beta
    name: Beta Workers
"""

CYCLE_YML = """\
id: c1
title: First cycle
how_might_we:
  - How might we test the spine?
hypothesis: If we run it, then we will learn.
design: Two organizations, no exports.
metrics:
  - {goal: Reports exist, measure: reports, failure: No report}
accountable: [Tester]
start: 2026-08-03
end: 2026-09-14
"""


@pytest.fixture
def tiny_cohort(tmp_path: Path) -> Path:
    """A cohort with two organizations and one cycle, no exports."""
    root = tmp_path / "tiny"
    (root / "c1").mkdir(parents=True)
    (root / "cohort.yml").write_text(COHORT_YML)
    (root / "c1" / "cycle.yml").write_text(CYCLE_YML)
    return root


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def demo_copy(demo_config: Path) -> Path:
    """The committed demo cohort's configuration (no exports) in a temporary folder."""
    return demo_config
