"""`cyclebook sync`: exports into the store without reports; one bad organization does
not stop the others, and the exit code says so."""

from __future__ import annotations

import textwrap

from cyclebook.cli import main

COHORT = """\
id: t
name: Test cohort
organizations:
  - id: good
    name: Good Org
    sources: [{kind: van, path: van}]
  - id: broken
    name: Broken Org
    sources: [{kind: van, path: van}]
"""


def _cohort(root):
    root.mkdir()
    (root / "cohort.yml").write_text(COHORT)
    for org in ("good", "broken"):
        van = root / "orgs" / org / "exports" / "van"
        van.mkdir(parents=True)
        (van / "persons.csv").write_text("vanid,datecreated\n101,2026-08-01\n102,2026-08-01\n")
    signups = "eventsignupid,vanid,eventid,eventstatusname,datecreated\n"
    (root / "orgs/good/exports/van/eventsignups.csv").write_text(
        signups + "7,101,55,Completed,2026-08-02\n"
    )
    # the broken organization's signups lack a required column
    (root / "orgs/broken/exports/van/eventsignups.csv").write_text(
        "eventsignupid,vanid,eventstatusname\n7,101,Completed\n"
    )
    return root


def test_sync_reports_each_organization_and_fails_for_the_broken_one(tmp_path, capsys):
    root = _cohort(tmp_path / "c")
    assert main(["sync", str(root)]) == 1
    out = capsys.readouterr().out
    assert "ok         good: 2 export(s) read, 0 carried over; 3 rows, 0 rejected" in out
    assert (
        "failed     broken: van/eventsignups.csv: the VAN eventsignups table lacks required "
        "column(s) eventid" in out
    )
    assert "Fix: export the report with these columns included" in out
    assert out.rstrip().endswith("cyclebook: 1 organization(s) synced, 1 failed")
    # fixed: the broken one syncs; the good one has nothing new
    (root / "orgs/broken/exports/van/eventsignups.csv").write_text(
        "eventsignupid,vanid,eventid,eventstatusname\n7,101,55,Completed\n"
    )
    assert main(["sync", str(root)]) == 0
    out = capsys.readouterr().out
    assert "unchanged  good: no export changed" in out
    assert "ok         broken:" in out


def test_forced_sync_reads_everything_and_an_unknown_org_is_refused(tmp_path, capsys):
    root = _cohort(tmp_path / "c")
    main(["sync", str(root), "--org", "good"])
    capsys.readouterr()
    assert main(["sync", str(root), "--org", "good", "--force"]) == 0
    # every row is in the store already: the line ended with "written "
    assert (
        "ok         good: 2 export(s) read, 0 carried over; 3 rows, 0 rejected; "
        "written nothing new\n" in capsys.readouterr().out
    )
    assert main(["sync", str(root), "--org", "nope"]) == 2
    err = capsys.readouterr().err
    assert "--org nope: no such organization" in err and "good, broken" in err


def test_sync_command_is_documented():
    from cyclebook import cli

    assert "cyclebook sync COHORT_DIR" in textwrap.dedent(cli.__doc__)


def test_sync_names_the_files_it_did_not_read(tmp_path, capsys):
    root = _cohort(tmp_path / "c")
    (root / "orgs/good/exports/van/new members.xlsx").write_bytes(b"PK\x03\x04")
    (root / "orgs/good/exports/van/.~lock.persons.csv#").write_text("lock")
    main(["sync", str(root), "--org", "good"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "not read   good: van/new members.xlsx (the van reader reads .csv or .txt files)"
    )
    assert lines[1].startswith("ok         good: 2 export(s) read")


def test_sync_names_a_file_beside_a_source_that_reads_one_file(tmp_path, capsys):
    """A second download beside the one file a source reads was not named at all."""
    root = _cohort(tmp_path / "c")
    cohort_yml = root / "cohort.yml"
    cohort_yml.write_text(cohort_yml.read_text().replace("path: van}", "path: van/persons.csv}"))
    (root / "orgs/good/exports/van/persons (1).csv").write_text("vanid\n101\n")
    main(["sync", str(root), "--org", "good"])
    lines = capsys.readouterr().out.splitlines()
    why = (
        "(the van source whose path is 'van/persons.csv' reads that file only: see the sync "
        "report for how to read this one)"
    )
    assert lines[:2] == [
        f"not read   good: van/eventsignups.csv {why}",
        f"not read   good: van/persons (1).csv {why}",
    ]
    assert lines[2].startswith("ok         good: 1 export(s) read")


def test_sync_prints_what_it_noticed_in_the_files_it_read(tmp_path, capsys):
    root = _cohort(tmp_path / "c")
    (root / "orgs/good/exports/van/persons.csv").write_text(
        "vanid,phone,datecreated\n101,555-0101,2026-08-01\n102,,2026-08-01\n"
    )
    main(["sync", str(root), "--org", "good"])
    out = capsys.readouterr().out
    assert "note       good: van/persons.csv: 1 value(s) of 'phone' are not a phone number" in out
    assert "555-0101" not in out
    main(["sync", str(root), "--org", "good"])  # nothing read again: nothing said again
    assert "note " not in capsys.readouterr().out
