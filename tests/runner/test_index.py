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


def test_reflections_no_report_reads_are_named(cohort: Path, capsys) -> None:
    """A reflection saved as beta.yaml, or under a mistyped id, was left out of every
    report without a word: the run names each (it still runs), validate refuses them."""
    from cyclebook.cli import main

    folder = cohort / "c1" / "reflections"
    folder.mkdir()
    (folder / "beta.yaml").write_text("org_id: beta\n")
    (folder / "alpah.yml").write_text("org_id: alpha\n")
    (folder / "notes.txt").write_text("to do\n")
    (folder / ".beta.yml.lock").write_text("")
    summary = runner.run(cohort, workers=2, progress=None)
    assert summary.ok
    assert summary.warnings == [
        "c1/reflections/alpah.yml is not read by any report: rename it alpha.yml",
        "c1/reflections/beta.yaml is not read by any report: rename it beta.yml",
        "c1/reflections/notes.txt is not read by any report: reflections are "
        "<organization id>.yml files; move it elsewhere",
    ]
    assert "  WARNING c1/reflections/beta.yaml is not read" in "\n".join(summary.lines())
    assert main(["validate", str(cohort)]) == 2
    err = capsys.readouterr().err
    assert err.count("is not read by any report") == 3


def test_a_kept_report_says_when_it_was_made(cohort: Path) -> None:
    """A report reused from an earlier run showed 'cached 0.0 s': it now says when it was
    made and how long that took."""
    import json
    import re

    runner.run(cohort, workers=2, progress=None)
    paths = CohortPaths.of(cohort)
    first = {j["key"]: j for j in json.loads(paths.manifest("c1").read_text())["jobs"]}
    runner.run(cohort, workers=2, progress=None)
    index = paths.index("c1").read_text()
    made = re.findall(r"cached</span> <small>made (\S+ \S+) UTC, ([0-9.]+) s</small>", index)
    assert len(made) == len(first)
    sync = first["c1/alpha/sync/organization"]
    stamp = sync["ran_at"][:16].replace("T", " ")
    assert (stamp, f"{sync['run_seconds']:.1f}") in made
    assert "cached</span> <small>0.0 s" not in index
