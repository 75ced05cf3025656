"""Fixtures shared by every test folder."""

from __future__ import annotations

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
