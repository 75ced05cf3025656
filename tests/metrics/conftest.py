from __future__ import annotations

from pathlib import Path

import pytest

from .storebuild import StoreBuilder


@pytest.fixture
def builder(tmp_path: Path) -> StoreBuilder:
    return StoreBuilder(tmp_path / "store.duckdb")
