from __future__ import annotations

import shutil
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "cycles" / "demo"


@pytest.fixture
def cohort(tmp_path: Path) -> Path:
    """A copy of the demo cohort's configuration (no exports, no store, no reflections)."""
    target = tmp_path / "demo"
    shutil.copytree(
        DEMO,
        target,
        ignore=shutil.ignore_patterns(
            "orgs", "archive", "output", "store.duckdb*", "*.lock", "reflections"
        ),
    )
    return target
