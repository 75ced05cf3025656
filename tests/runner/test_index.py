"""The cycle's index page: one row per organization of cohort.yml, as it is now."""

from __future__ import annotations

from pathlib import Path

import pytest

from cyclebook import runner
from cyclebook.paths import CohortPaths

pytestmark = pytest.mark.e2e


def test_an_affiliate_names_its_network(cohort: Path) -> None:
    config = cohort / "cohort.yml"
    config.write_text(
        config.read_text().replace(
            "    name: Beta Workers\n", "    name: Beta Workers\n    parent: alpha\n"
        )
    )
    summary = runner.run(cohort, workers=2, progress=None)
    assert summary.ok
    index = CohortPaths.of(cohort).index("c1").read_text()
    # the network's name, as the gallery gives it (it said "affiliate of alpha")
    assert "affiliate of Alpha Tenants" in index
    assert "affiliate of alpha<" not in index
