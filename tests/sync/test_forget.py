"""Forgetting an organization taken out of the cohort: nothing of its members is left."""

from __future__ import annotations

import json
import os
import re
import shutil

import duckdb
import pytest
from test_readers import AN_CSV

from cyclebook.cli import main
from cyclebook.errors import CyclebookError
from cyclebook.forget import forget
from cyclebook.paths import repo_root

ONLY_OTHER = "id: t\nname: Test cohort\norganizations:\n  - id: other\n    name: Other\n"


def _synced_with_outputs(make_cohort):
    c = make_cohort("- {kind: action_network_csv, path: an}")
    c.write("an/activists.csv", AN_CSV)
    c.sync()
    demo_card = repo_root() / "cycles" / "demo" / "2026-c1"
    shutil.copytree(demo_card, c.root / "2026-c1", ignore=shutil.ignore_patterns("output"))
    card = c.root / "2026-c1" / "cycle.yml"  # (its team names the demo's groups)
    card.write_text(re.sub(r"(?m)^team:\n(  .*\n)+", "", card.read_text()))
    output = c.root / "2026-c1" / "output"
    for kind, name in (("reports", "share.funder.html"), ("notebooks", "share.ipynb")):
        for org in ("org", "other"):
            (output / kind / org).mkdir(parents=True, exist_ok=True)
            (output / kind / org / name).write_text("x")
    jobs = [{"key": f"2026-c1/{o}/share/funder", "org_id": o} for o in ("org", "other", None)]
    (output / "manifest.json").write_text(json.dumps({"jobs": jobs}))
    followup = c.root / "orgs" / "org" / "followup" / "2026-c1"
    followup.mkdir(parents=True)
    (followup / "prospects.csv").write_text("email\nana@example.org\n")
    return c, output


def test_forget_lists_then_removes_everything_of_the_organization(make_cohort, capsys):
    c, output = _synced_with_outputs(make_cohort)
    with pytest.raises(CyclebookError, match="org is still an organization of"):
        forget(c.root, "org")
    (c.root / "cohort.yml").write_text(ONLY_OTHER)

    planted = (b"ana@example.org", b"bo@example.org", b"+16175550101", b"Diaz")
    raw = (c.root / "store.duckdb").read_bytes()
    assert all(value in raw for value in planted)  # (small tables: stored as written)
    listed = forget(c.root, "org")  # nothing removed yet
    assert listed.rows["person_pii"] == 2 and listed.rows["identity"] == 2
    # the hashes of their emails and phones (u1: email and phone; u2: email)
    assert listed.rows["person_key"] == 3
    assert listed.rows["meta"] == 1  # sync_code:org
    assert listed.manifest_entries == 1
    assert (output / "reports" / "org").exists()
    assert c.query("SELECT count(*) FROM person_pii") == [(2,)]

    assert main(["forget", str(c.root), "org", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "removed 2 row(s) of person_pii" in out
    assert f"kept (the group's own files): {c.exports}" in out
    con = duckdb.connect(str(c.root / "store.duckdb"), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
        left = {
            t: con.execute(f'SELECT count(*) FROM "{t}" WHERE org_id = ?', ["org"]).fetchone()[0]
            for t in tables
            if "org_id" in [r[0] for r in con.execute(f'DESCRIBE "{t}"').fetchall()]
        }
        meta = con.execute("SELECT key FROM meta WHERE key LIKE '%org'").fetchall()
    finally:
        con.close()
    assert set(left.values()) == {0} and meta == []
    # written again, not only deleted from: no byte of a member's details is left
    raw = (c.root / "store.duckdb").read_bytes()
    assert [value for value in planted if value in raw] == []
    assert not (c.root / "archive" / "org").exists()
    assert not (c.root / "orgs" / "org" / "followup").exists()
    assert not (output / "reports" / "org").exists() and not (output / "notebooks" / "org").exists()
    assert (output / "reports" / "other" / "share.funder.html").exists()
    jobs = json.loads((output / "manifest.json").read_text())["jobs"]
    assert [job["org_id"] for job in jobs] == ["other", None]
    assert c.exports.exists()  # what the group gave is the group's
    assert forget(c.root, "org").lines(applied=False) == [
        f"kept (the group's own files): {c.exports}"
    ]


def test_a_run_names_groups_taken_out_but_not_forgotten(make_cohort):
    from cyclebook import runner
    from cyclebook.paths import CohortPaths

    c, _ = _synced_with_outputs(make_cohort)
    (c.root / "cohort.yml").write_text(ONLY_OTHER)
    cohort, _, _ = runner.plan(c.root, phases=["share"])
    paths = CohortPaths.of(c.root)
    assert runner._left_behind(paths, cohort, ["2026-c1"]) == [
        "org is not in cohort.yml, but its data is still kept (its members in the store and "
        f"the archive, its reports). Fix: `cyclebook forget {c.root} org` lists it, and "
        "removes it with --yes."
    ]
    forget(c.root, "org", apply=True)
    assert runner._left_behind(paths, cohort, ["2026-c1"]) == []


def test_a_forget_stopped_half_way_leaves_the_store_as_it_was(make_cohort, monkeypatch):
    """The rows were deleted in the store itself before the copy: a forget stopped
    there left the members' values in the file's bytes, and the next forget counted no
    rows to remove, so it never wrote the store again."""
    import cyclebook.forget as forget_module

    c, _ = _synced_with_outputs(make_cohort)
    (c.root / "cohort.yml").write_text(ONLY_OTHER)
    store = c.root / "store.duckdb"
    before = store.read_bytes()

    def stopped(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(forget_module.os, "replace", stopped)
    with pytest.raises(KeyboardInterrupt):
        forget(c.root, "org", apply=True)
    monkeypatch.undo()
    assert store.read_bytes() == before  # only read
    assert forget(c.root, "org").rows["person_pii"] == 2  # still there: forget again
    forget(c.root, "org", apply=True)
    raw = store.read_bytes()
    assert [v for v in (b"ana@example.org", b"+16175550101", b"Diaz") if v in raw] == []
    assert not store.with_name("store.duckdb.forget").exists()


def test_the_syncs_re_encoded_copies_stay_in_the_cohort_and_a_killed_syncs_go(
    make_cohort, monkeypatch
):
    """A sync re-encodes a Windows-1252 export into a UTF-8 copy (every member's name,
    email and phone). Kept in the machine's /tmp, a sync killed mid-way left it there for
    good; now it is under the cohort's .cyclebook/tmp, and the next sync removes it."""
    import subprocess
    import sys

    from cyclebook.sync import stage

    c = make_cohort("- {kind: action_network_csv, path: an}")
    c.write("an/activists.csv", AN_CSV)
    tmp_root = c.root / ".cyclebook" / "tmp"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    killed = tmp_root / f"sync-{int(dead.stdout)}-abc"
    (killed / "0.csv").parent.mkdir(parents=True)
    (killed / "0.csv").write_text("first_name,email\nAna,ana@example.org\n")
    alive = tmp_root / f"sync-{os.getppid()}-def"  # a live process's: kept
    alive.mkdir()
    made = []
    original = stage._private_tmpdir
    monkeypatch.setattr(
        stage, "_private_tmpdir", lambda root: made.append(original(root)) or made[-1]
    )
    c.sync()
    assert made and made[0].parent == tmp_root and made[0].name.startswith(f"sync-{os.getpid()}-")
    assert not made[0].exists()  # removed when the sync is done
    assert not killed.exists() and alive.exists()
    assert oct(tmp_root.stat().st_mode & 0o777) == "0o700"


def test_forget_removes_the_messages_of_its_failed_syncs_and_names_its_reflections(
    make_cohort,
):
    """A sync that DuckDB stopped leaves its message beside the store, and it may quote
    a member's record (sync._kept_apart): forget left it there. The group's reflections
    name its staff: forget did not say they are still kept."""
    c, _ = _synced_with_outputs(make_cohort)
    errors = c.root / ".cyclebook" / "errors"
    errors.mkdir(parents=True)
    mine = errors / "sync-org-20260101T000000-abcdef12.txt"
    mine.write_text("organization: org\nConstraint Error: duplicate key 'ana@example.org'\n")
    others = [
        errors / "sync-other-20260101T000000-abcdef12.txt",
        errors / "sync-org-x-20260101T000000-abcdef12.txt",  # another group, 'org-x'
    ]
    for path in others:
        path.write_text("organization: other\n")
    reflection = c.root / "2026-c1" / "reflections" / "org.yml"
    reflection.parent.mkdir(parents=True, exist_ok=True)
    reflection.write_text("org_id: org\ncycle: 2026-c1\n")
    (c.root / "cohort.yml").write_text(ONLY_OTHER)

    listed = forget(c.root, "org")
    assert mine in listed.paths and reflection in listed.kept
    forget(c.root, "org", apply=True)
    assert not mine.exists()
    assert all(path.exists() for path in others) and reflection.exists()
    assert forget(c.root, "org").lines(applied=False) == [
        f"kept (the group's own files): {c.exports}",
        f"kept (the group's own files): {reflection}",
    ]
