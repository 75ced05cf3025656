"""The cohort's closing record says exactly what the Measure Gallery says for the same
audience, so the two reports cannot be combined to undo a hidden figure."""

from __future__ import annotations

from pathlib import Path

import pytest

from cyclebook.phases import cohort, load_context

from .cohortfix import make_cohort


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory) -> Path:
    return make_cohort(tmp_path_factory.mktemp("record") / "cohort")


def _results_table(cohort_dir: Path, audience: str) -> str:
    ctx = load_context("cohort", str(cohort_dir), "c2", None, audience)
    tables = [b.plain for b in cohort.record_blocks(ctx) if "Results per organization" in b.plain]
    assert len(tables) == 1
    return tables[0]


def test_record_follows_the_gallery_for_the_cohort(cohort_dir: Path) -> None:
    # solo: absorption 20 of 40 overall, 2 of 8 from Mobilize. The 2 of 8 is small, and
    # the overall rate would give back the other tools' 18 of 32 beside it, so the
    # gallery withholds the headline too; the record must not print "50% of 40".
    table = _results_table(cohort_dir, "cohort")
    solo_row = next(line for line in table.splitlines() if line.strip().startswith("Solo"))
    assert "withheld" in solo_row
    assert "50%" not in table
    ctx = load_context("cohort", str(cohort_dir), "c2", None, "cohort")
    assert cohort._gallery_headlines(ctx, "cohort")[("solo", "absorption")] == "withheld"


def test_record_shows_numbers_to_the_organization_audience_as_cohort(cohort_dir: Path) -> None:
    # the cohort summary is never an organization's own report: same rules as "cohort"
    assert _results_table(cohort_dir, "organization") == _results_table(cohort_dir, "cohort")


def test_gallery_and_record_read_the_shared_figures_once(cohort_dir: Path, monkeypatch) -> None:
    # the record's figures are the gallery's: read once per report (reading them again
    # was 0.3 s of the benchmark cohort's summary), and the same as a fresh read
    from cyclebook import gallery

    reads = []
    real = gallery.iter_shared

    def counting(*args, **kwargs):
        reads.append(args[-1])
        return real(*args, **kwargs)

    monkeypatch.setattr(gallery, "iter_shared", counting)
    ctx = load_context("cohort", str(cohort_dir), "c2", None, "cohort")
    cohort.gallery_blocks(ctx)
    headlines = cohort._gallery_headlines(ctx, "cohort")
    assert reads == ["cohort"]
    fresh = load_context("cohort", str(cohort_dir), "c2", None, "cohort")
    assert cohort._gallery_headlines(fresh, "cohort") == headlines
    assert headlines[("solo", "absorption")] == "withheld"
    assert reads == ["cohort", "cohort"]
