"""Fixtures shared by every test folder."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[1] / "cycles" / "demo"


@pytest.fixture
def demo_config(tmp_path: Path) -> Path:
    """A copy of the committed demo cohort's configuration: cohort.yml and the cycle
    cards only (no exports, store, outputs or reflections)."""
    target = tmp_path / "demo"
    shutil.copytree(
        DEMO,
        target,
        ignore=shutil.ignore_patterns(
            "orgs", "archive", "output", "store.duckdb*", "*.lock", "reflections"
        ),
    )
    return target


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
design: Two organizations.
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


@pytest.fixture
def benchmark_script():
    """Load ``benchmarks/<name>.py`` as a module (the benchmarks are scripts, not a
    package), to run its ``main`` at a small size."""
    from cyclebook.paths import repo_root

    def load(name: str):
        spec = importlib.util.spec_from_file_location(
            name, repo_root() / "benchmarks" / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
