"""What publishing refuses once a cohort changed after its run: reports never made,
failed, out of date (as the runner's fingerprints tell), and a report the privacy guard
now finds a member in. Stand-in notebooks (tests/runner/conftest.py): each case runs its
own cohort."""

from __future__ import annotations

from pathlib import Path

import pytest

from cyclebook import runner
from cyclebook.errors import PrivacyError, PublishError
from cyclebook.publish import publish

from .helpers import files, org_reports, published, shared_reports

pytestmark = pytest.mark.e2e


def _run(cohort: Path, **kwargs) -> runner.RunSummary:
    return runner.run(cohort, workers=2, progress=None, **kwargs)


def _problems(exc: BaseException) -> list[str]:
    """The report lines of a refusal (between its first line and its fix)."""
    return [line.removeprefix("  - ") for line in str(exc).splitlines() if line.startswith("  - ")]


def test_reports_never_made_are_refused(cohort: Path, tmp_path: Path) -> None:
    assert _run(cohort, orgs=["alpha"]).ok  # beta's reports and the summary not made
    dest = tmp_path / "out"
    with pytest.raises(PublishError) as caught:
        publish(cohort, "funder", dest)
    assert _problems(caught.value) == [
        "c1/beta/share/funder: never made",
        "c1/(cohort)/cohort/funder: never made",
    ]
    assert caught.value.fix == (
        f"run `cyclebook run {cohort} --cycle c1` (it makes what is missing or out of date "
        "and keeps the rest), then publish again."
    )
    assert not dest.exists()
    # what was made can be published: one group's report for the funders
    done = publish(cohort, "funder", dest, orgs=["alpha"])
    assert files(dest) == shared_reports("funder", ["alpha"], summary=False) | {
        "index.html",
        "published.json",
    }
    assert done.orgs == published(dest)["organizations"] == ["alpha"]


def test_failed_reports_are_refused(cohort: Path, tmp_path: Path) -> None:
    (cohort / "fail-beta").touch()  # beta's share reports fail
    assert not _run(cohort).ok
    dest = tmp_path / "out"
    with pytest.raises(PublishError) as caught:
        publish(cohort, "funder", dest)
    assert _problems(caught.value) == [
        "c1/beta/share/funder: failed in its last run: RuntimeError: share is broken for beta"
    ]
    assert "fix what its FAILED lines say, then publish again." in caught.value.fix
    assert not dest.exists()
    # beta's own reports: the sync made, the share failed
    with pytest.raises(PublishError) as caught:
        publish(cohort, "organization", dest, orgs=["beta"])
    assert _problems(caught.value) == [
        "c1/beta/share/organization: failed in its last run: RuntimeError: share is broken for beta"
    ]
    assert f"`cyclebook run {cohort} --cycle c1 --org beta`" in caught.value.fix
    # fixed and run again: published
    (cohort / "fail-beta").unlink()
    assert _run(cohort).ok
    publish(cohort, "funder", dest)
    assert files(dest) == shared_reports("funder", ["alpha", "beta"]) | {
        "index.html",
        "published.json",
    }


def test_reports_out_of_date_are_refused(cohort: Path, tmp_path: Path) -> None:
    """A new export not yet synced: the group's sync report is out of date, and so is
    every report made after it (their run follows a new sync), the cohort summary too;
    the other group's are not."""
    assert _run(cohort).ok
    (cohort / "orgs" / "alpha" / "exports" / "people.csv").write_text("alpha-2\n")
    dest = tmp_path / "out"
    follows = (
        "out of date: a report it follows is out of date (an earlier phase of the group's; "
        "for the cohort summary, a group's report)"
    )
    with pytest.raises(PublishError) as caught:
        publish(cohort, "organization", dest, orgs=["alpha"])
    assert _problems(caught.value) == [
        "c1/alpha/sync/organization: out of date: exports changed since it was made",
        f"c1/alpha/share/organization: {follows}",
        f"c1/alpha/reflect/organization: {follows}",
        f"c1/alpha/improve/organization: {follows}",
    ]
    assert caught.value.fix.startswith(f"run `cyclebook run {cohort} --cycle c1 --org alpha`")
    with pytest.raises(PublishError) as caught:
        publish(cohort, "cohort", dest)
    assert _problems(caught.value) == [
        f"c1/alpha/share/cohort: {follows}",
        f"c1/(cohort)/cohort/cohort: {follows}",
    ]
    assert not dest.exists()
    publish(cohort, "organization", dest, orgs=["beta"])  # beta's are as they were
    assert files(dest) == org_reports("beta") | {"index.html", "published.json"}
    # the run the refusal names: everything can be published again
    assert _run(cohort).ok
    publish(cohort, "cohort", tmp_path / "cohort")
    publish(cohort, "organization", tmp_path / "alpha", orgs=["alpha"])


def test_only_the_reports_an_edit_touches_are_out_of_date(cohort: Path, tmp_path: Path) -> None:
    """A reflection written after the run: the share reports do not read it, the cohort
    summary does."""
    assert _run(cohort).ok
    folder = cohort / "c1" / "reflections"
    folder.mkdir()
    (folder / "alpha.yml").write_text("org_id: alpha\n")
    with pytest.raises(PublishError) as caught:
        publish(cohort, "funder", tmp_path / "out")
    assert _problems(caught.value) == [
        "c1/(cohort)/cohort/funder: out of date: reflections changed since it was made"
    ]
    publish(cohort, "funder", tmp_path / "out", orgs=["alpha", "beta"])
    assert files(tmp_path / "out") == shared_reports("funder", ["alpha", "beta"], False) | {
        "index.html",
        "published.json",
    }


def test_the_guard_checks_each_report_again(cohort: Path, tmp_path: Path) -> None:
    """Alpha's reflection tells a story of Zebulon Quartermaine, nobody's name when the
    cycle ran; beta's next sync brings him as a member. Alpha's reports are not out of
    date (they read only alpha's data), and the run of beta's sync checked only its own
    report: publishing them would hand out a member's name."""
    folder = cohort / "c1" / "reflections"
    folder.mkdir()
    (folder / "alpha.yml").write_text("story: Zebulon Quartermaine now chairs the committee\n")
    assert _run(cohort).ok
    (cohort / "orgs" / "beta" / "exports" / "more.csv").write_text("02139,Zebulon,Quartermaine\n")
    assert _run(cohort, orgs=["beta"], phases=["sync"]).ok
    dest = tmp_path / "alpha"
    with pytest.raises(PrivacyError) as caught:
        publish(cohort, "organization", dest, orgs=["alpha"])
    problems = _problems(caught.value)
    assert len(problems) == 1
    assert problems[0].startswith("c1/alpha/reflect/organization: a full name of a member of beta")
    assert "it is written in c1/reflections/alpha.yml, line 1: take it out there" in problems[0]
    assert "nothing was written" in str(caught.value)
    assert caught.value.fix.startswith(f"run `cyclebook run {cohort} --cycle c1`")
    assert not dest.exists()
    assert not list(tmp_path.glob(".alpha.*"))  # nothing half-written beside it
    # the run the fix names withholds the report; fixed, the group's reports publish
    summary = _run(cohort)
    assert {r.key: r.status for r in summary.failed} == {
        "c1/alpha/reflect/organization": "withheld"
    }
    with pytest.raises(PublishError) as caught:
        publish(cohort, "organization", dest, orgs=["alpha"])
    assert _problems(caught.value) == [
        "c1/alpha/reflect/organization: withheld in its last run: personal data found in the "
        f"rendered report ({problems[0].split(': ', 1)[1]}); the report was withheld",
        # (improve is not out of date: a withheld report's notebook ran to its end, and
        # counts as run for the reports after it)
    ]
    (folder / "alpha.yml").write_text("story: a tenant now chairs the committee\n")
    assert _run(cohort).ok
    publish(cohort, "organization", dest, orgs=["alpha"])
    assert files(dest) == org_reports("alpha") | {"index.html", "published.json"}


def test_a_runs_warning_and_publish_judge_the_same_reports_out_of_date(
    cohort: Path, stand_in_notebooks: Path, tmp_path: Path
) -> None:
    """The warning at the end of a run of the latest cycle, of an earlier cycle's reports
    out of date, and `cyclebook publish`'s refusal are one check: the warning judged each
    report by the parameters a run gives by default, so reports made with `-p` were out
    of date for it (and never for publish), whatever a run of the cycle did."""
    import yaml
    from runner.conftest import ORG_PARAMS, READ, _notebook

    _notebook(stand_in_notebooks / "4_improve.ipynb", ORG_PARAMS + "lag_days: int = 7\n", READ)
    card = (cohort / "c1" / "cycle.yml").read_text()
    (cohort / "c2").mkdir()
    (cohort / "c2" / "cycle.yml").write_text(
        card.replace("id: c1", "id: c2\nprevious: c1")
        .replace("2026-09-14", "2026-10-26")
        .replace("2026-08-03", "2026-09-14")
    )
    assert _run(cohort, cycles=["c1", "c2"]).ok
    made = _run(cohort, cycles=["c1"], phases=["improve"], extra_parameters={"lag_days": 3})
    assert {r.status for r in made.results} == {"ok"} and len(made.results) == 2

    def warned() -> list[str]:
        summary = _run(cohort, cycles=["c2"])
        assert summary.ok
        return [w for w in summary.warnings if "out of date" in w]

    assert warned() == []
    publish(cohort, "organization", tmp_path / "alpha", orgs=["alpha"], cycle="c1")

    # a staff member added: the improve report's team (c1's reports of alpha alone)
    config = yaml.safe_load((cohort / "cohort.yml").read_text())
    config["organizations"][0]["staff"] = ["Lou (data)"]
    (cohort / "cohort.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    assert warned() == [
        "c1: reports made before are out of date (alpha): cohort.yml changed since they "
        f"were made, and this run did not run c1. Fix: `cyclebook run {cohort} --cycle c1` "
        "makes them again (only those out of date)."
    ]
    with pytest.raises(PublishError) as caught:
        publish(cohort, "organization", tmp_path / "alpha2", orgs=["alpha"], cycle="c1")
    assert _problems(caught.value) == [
        "c1/alpha/improve/organization: out of date: cohort.yml changed since it was made"
    ]
    publish(cohort, "organization", tmp_path / "beta", orgs=["beta"], cycle="c1")
    publish(cohort, "funder", tmp_path / "funder", cycle="c1")  # the summary reads no staff
