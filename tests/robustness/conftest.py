from __future__ import annotations

import pytest

from .reportset import ReportSet, build


@pytest.fixture(scope="session")
def reportset(tmp_path_factory: pytest.TempPathFactory) -> ReportSet:
    return build(tmp_path_factory.getbasetemp())
