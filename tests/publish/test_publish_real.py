"""Publishing from a real run (the real phase notebooks): which files each audience gets,
values only an organization's own reports show, and the index of what was copied."""

from __future__ import annotations

from pathlib import Path

import pytest

from cyclebook.cli import main
from cyclebook.errors import PublishError, RunLockedError
from cyclebook.paths import CohortPaths
from cyclebook.publish import publish
from cyclebook.runner import run_lock

from .conftest import PLANTED_FILE, PLANTED_STORY, Small
from .helpers import files, links, org_reports, published, sha256, shared_reports

pytestmark = pytest.mark.e2e

ORGS = ["eastside-tenants", "harbor-youth"]
CASES = {
    "funder": ("funder", None, shared_reports("funder", ORGS)),
    "cohort": ("cohort", None, shared_reports("cohort", ORGS)),
    "eastside": ("organization", "eastside-tenants", org_reports("eastside-tenants")),
    "harbor": ("organization", "harbor-youth", org_reports("harbor-youth")),
}


def _publish(small: Small, dest: Path, case: str):
    audience, org, _ = CASES[case]
    return publish(small.root, audience, dest, orgs=[org] if org else None)


@pytest.mark.parametrize("case", list(CASES))
def test_each_audience_gets_exactly_its_reports(small: Small, tmp_path: Path, case: str) -> None:
    audience, org, reports = CASES[case]
    dest = tmp_path / "out"
    done = _publish(small, dest, case)
    # the reports, an index and the published manifest; no notebook, follow-up list,
    # store, archive or run manifest
    assert files(dest) == reports | {"index.html", "published.json"}
    assert set(done.reports) == reports and done.index == dest / "index.html"
    output = CohortPaths.of(small.root).output(small.cycle)
    for rel in reports:  # byte for byte what the run wrote
        assert (dest / rel).read_bytes() == (output / rel).read_bytes(), rel
    record = published(dest)
    assert (record["cycle"]["id"], record["audience"]) == (small.cycle, audience)
    assert record["organizations"] == ([org] if org else ORGS)
    assert {r["path"]: r["sha256"] for r in record["reports"]} == {
        rel: sha256(dest / rel) for rel in reports
    }
    assert record["index"] == {"path": "index.html", "sha256": sha256(dest / "index.html")}
    # each report's record says which run report it is
    for entry in record["reports"]:
        org_id, phase = entry["org_id"] or "(cohort)", entry["phase"]
        assert entry["report"] == f"{small.cycle}/{org_id}/{phase}/{audience}"


def test_values_only_a_groups_own_reports_show_stay_with_it(small: Small, tmp_path: Path) -> None:
    """A story from Eastside Tenants' reflection and a file name from its exports are in
    its own reports, which the cycle's output folder holds beside the funders': they
    reach its own publication only."""
    reports = CohortPaths.of(small.root).output(small.cycle) / "reports"
    own = {
        PLANTED_STORY: reports / "eastside-tenants" / "reflect.html",
        PLANTED_FILE: reports / "eastside-tenants" / "sync.html",
    }
    for value, report in own.items():  # planted where the test expects them
        assert value in report.read_text(encoding="utf-8"), report
    # ...and in no report of another audience (what the test below relies on)
    planted_anywhere = {
        p.relative_to(reports.parent).as_posix()
        for p in reports.rglob("*.html")
        if any(value in p.read_text(encoding="utf-8") for value in own)
    }
    assert planted_anywhere <= org_reports("eastside-tenants")
    texts = {}
    for case in CASES:
        dest = tmp_path / case
        _publish(small, dest, case)
        texts[case] = "\n".join(
            (dest / rel).read_text(encoding="utf-8") for rel in sorted(files(dest))
        )
    for case in ("funder", "cohort", "harbor"):
        for value in own:
            assert value not in texts[case], (case, value)
    for value in own:
        assert value in texts["eastside"]


def test_the_index_links_only_what_was_copied(small: Small, tmp_path: Path) -> None:
    run_index = CohortPaths.of(small.root).index(small.cycle)
    run_links = {value for tag, _, value in links(run_index) if tag == "a"}
    # the run's own index links every audience's reports, the groups' own included
    assert "reports/eastside-tenants/sync.html" in run_links
    assert "reports/harbor-youth/share.funder.html" in run_links
    for case, (_, _, reports) in CASES.items():
        dest = tmp_path / case
        _publish(small, dest, case)
        found = links(dest / "index.html")
        assert all(tag == "a" and name == "href" for tag, name, _ in found), found
        hrefs = [value for _, _, value in found]
        assert len(hrefs) == len(set(hrefs))
        assert set(hrefs) == reports, case
        assert set(hrefs) == {r["path"] for r in published(dest)["reports"]}
        for href in hrefs:  # relative, inside the folder, and there
            assert ":" not in href and not href.startswith(("/", "..")), href
            assert (dest / href).is_file()
        assert set(hrefs) < run_links


def test_an_earlier_cycle_never_run_is_refused(small: Small, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    with pytest.raises(PublishError) as caught:
        publish(small.root, "funder", dest, cycle="2026-c1")
    message = str(caught.value)
    assert message.splitlines()[1:4] == [
        "  - 2026-c1/eastside-tenants/share/funder: never made",
        "  - 2026-c1/harbor-youth/share/funder: never made",
        "  - 2026-c1/(cohort)/cohort/funder: never made",
    ]
    assert message.splitlines()[0] == (
        "cannot publish the funder reports of 2026-c1; nothing was written:"
    )
    assert f"Fix: run `cyclebook run {small.root} --cycle 2026-c1`" in message
    assert not dest.exists()


@pytest.mark.parametrize(
    ("audience", "orgs", "cycle", "expected", "fix"),
    [
        ("funders", None, None, "--audience 'funders': no such audience", "use organization"),
        ("funder", ["nowhere"], None, "--org nowhere: no such organization in cohort.yml",
         "use one of: eastside-tenants, harbor-youth."),
        ("organization", None, None, "and no --org names the group", "name one group with --org"),
        ("organization", ORGS, None, "and --org names 2", "name one group with --org"),
        ("funder", None, "2026-c9", "no cycle '2026-c9'", "use one of 2026-c1, 2026-c2 with"),
    ],
)  # fmt: skip
def test_requests_it_cannot_serve_are_refused(
    small: Small, tmp_path: Path, audience, orgs, cycle, expected, fix
) -> None:
    dest = tmp_path / "out"
    with pytest.raises(PublishError) as caught:
        publish(small.root, audience, dest, orgs=orgs, cycle=cycle)
    assert expected in caught.value.message
    assert caught.value.fix.startswith(fix), caught.value.fix
    assert not dest.exists()


def test_a_destination_in_the_cohort_folder_or_a_file_is_refused(
    small: Small, tmp_path: Path
) -> None:
    inside = small.root / "handout"
    with pytest.raises(PublishError, match="it is inside the cohort folder"):
        publish(small.root, "funder", inside)
    assert not inside.exists()
    with pytest.raises(PublishError, match="it is a folder that holds the cohort folder"):
        publish(small.root, "funder", small.root.parent, replace=True)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine\n")
    with pytest.raises(PublishError, match="it is a file"):
        publish(small.root, "funder", a_file)
    assert a_file.read_text() == "mine\n"


def test_a_run_in_progress_is_waited_for(small: Small, tmp_path: Path) -> None:
    with run_lock(CohortPaths.of(small.root)), pytest.raises(RunLockedError):
        publish(small.root, "funder", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_command(small: Small, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "handout"
    args = ["publish", str(small.root), "--to", str(dest)]
    assert main([*args, "--audience", "funder"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"published 3 report(s) of {small.cycle} for the funder to {dest}:"
    assert sorted(line.strip() for line in out[1:4]) == sorted(shared_reports("funder", ORGS))
    assert out[4] == f"  index: {dest / 'index.html'}"

    # a folder that is not empty: refused, as it is
    assert main([*args, "--audience", "cohort"]) == 2
    err = capsys.readouterr().err
    assert f"--to {dest}: the folder is not empty (3 entries, such as 'index.html')" in err
    assert "Fix: name a new or empty folder, or add --replace" in err
    assert files(dest) == shared_reports("funder", ORGS) | {"index.html", "published.json"}

    # --replace: the earlier publication goes, the funders' reports with it
    assert main([*args, "--audience", "cohort", "--replace"]) == 0
    capsys.readouterr()
    assert files(dest) == shared_reports("cohort", ORGS) | {"index.html", "published.json"}
    assert not list(dest.parent.glob(".handout.*"))  # no staging folder left beside it

    # one group's reports for the funders
    dest = tmp_path / "one"
    argv = ["publish", str(small.root), "--audience", "funder", "--org", "harbor-youth"]
    assert main([*argv, "--to", str(dest)]) == 0
    assert "published 1 report(s) of harbor-youth of" in capsys.readouterr().out
    assert files(dest) == shared_reports("funder", ["harbor-youth"], summary=False) | {
        "index.html",
        "published.json",
    }


def test_replace_only_replaces_a_publication(small: Small, tmp_path: Path, capsys) -> None:
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "thesis.docx").write_bytes(b"years of work")
    argv = ["publish", str(small.root), "--audience", "funder", "--to", str(dest), "--replace"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "holds files `cyclebook publish` did not write (it has no published.json" in err
    assert files(dest) == {"thesis.docx"}
