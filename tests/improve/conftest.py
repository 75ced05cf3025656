from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def cohort(demo_config: Path) -> Path:
    """A copy of the demo cohort's configuration (no exports, no store, no reflections)."""
    return demo_config
