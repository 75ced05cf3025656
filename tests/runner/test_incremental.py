"""Incremental runs: what runs again and what is reused (by status and file times)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from cyclebook import incremental, runner
from cyclebook.cli import main
from cyclebook.paths import CohortPaths

pytestmark = pytest.mark.e2e

ORG_JOBS = [
    "sync/organization",
    "share/organization",
    "share/cohort",
    "share/funder",
    "reflect/organization",
    "improve/organization",
]


def _run(cohort: Path, **kwargs) -> dict[str, str]:
    summary = runner.run(cohort, workers=2, progress=None, **kwargs)
    return {r.key: r.status for r in summary.results}


def _mtimes(cohort: Path) -> dict[str, int]:
    output = CohortPaths.of(cohort).output("c1")
    return {
        str(p.relative_to(output)): p.stat().st_mtime_ns
        for p in sorted(output.rglob("*"))
        if p.suffix in {".html", ".ipynb"} and p.name != "index.html"
    }


def _keys(org: str) -> list[str]:
    return [f"c1/{org}/{job}" for job in ORG_JOBS]


def _manifest(cohort: Path) -> dict[str, dict]:
    """The cycle's manifest: each job's last record, by key."""
    manifest = json.loads(CohortPaths.of(cohort).manifest("c1").read_text())
    return {job["key"]: job for job in manifest["jobs"]}


def test_unchanged_cycle_executes_nothing(cohort: Path) -> None:
    first = _run(cohort)
    assert set(first.values()) == {"ok"}, first
    before = _mtimes(cohort)
    assert len(before) == 2 * (2 * 6 + 2)  # notebooks and reports

    summary = runner.run(cohort, workers=2, progress=None)
    assert {r.status for r in summary.results} == {"cached"}
    assert len(summary.results) == 14 and summary.ok
    assert _mtimes(cohort) == before  # not a single notebook or report rewritten
    assert "14 cached" in summary.lines()[0]

    paths = CohortPaths.of(cohort)
    index = paths.index("c1").read_text()
    assert index.count('class="cached"') == 14
    manifest = json.loads(paths.manifest("c1").read_text())
    for job in manifest["jobs"]:
        assert job["status"] == "cached"
        assert len(job["fingerprint"]) == 64 and job["run_seconds"] > 0
        assert {"code", "notebook", "parameters", "store"} <= set(job["inputs"])
        # what share saved, for the reports that show it (the cohort summary: in "store")
        assert ("values" in job["inputs"]) == (job["phase"] in {"reflect", "improve"})


def test_changed_export_reruns_only_that_organization(cohort: Path) -> None:
    _run(cohort)
    before = _mtimes(cohort)
    # (the stand-in sync keeps a line's first five characters: "94110" is a new row)
    (cohort / "orgs" / "alpha" / "exports" / "people.csv").write_text("94110\n")

    statuses = _run(cohort)
    assert all(statuses[key] == "ok" for key in _keys("alpha")), statuses
    assert all(statuses[key] == "cached" for key in _keys("beta")), statuses
    assert statuses["c1/(cohort)/cohort/cohort"] == "ok"  # it reads every organization
    after = _mtimes(cohort)
    changed = {name for name in after if after[name] != before[name]}
    assert changed == {
        name for name in after if "/alpha/" in f"/{name}" or "/_cohort/" in f"/{name}"
    }
    assert _run(cohort) == dict.fromkeys(statuses, "cached")


def test_an_export_saved_again_with_the_same_rows_reruns_only_its_sync(cohort: Path) -> None:
    """The reports after sync read the group's data in the store, not its exports: with
    the sync's whole fingerprint in theirs, an export saved again with the same rows
    (here: what the stand-in sync keeps of it, the first five characters) re-ran every
    report of the group and the cohort summaries."""
    from cyclebook.store import connect

    _run(cohort)
    before = _mtimes(cohort)
    (cohort / "orgs" / "alpha" / "exports" / "people.csv").write_text("alpha-saved-again\n")
    statuses = _run(cohort)
    assert _ran(statuses) == {"c1/alpha/sync/organization"}, statuses
    after = _mtimes(cohort)
    written = {name for name in after if after[name] != before[name]}
    assert written == {n for n in after if "/alpha/" in f"/{n}" and Path(n).stem == "sync"}
    assert len(written) == 2, written  # its notebook and its report
    with connect(CohortPaths.of(cohort).store) as con:
        assert con.execute("SELECT zip FROM person WHERE org_id = 'alpha'").fetchall() == [
            ("alpha",)
        ]
    # --force runs every report again
    assert set(_run(cohort, force=True).values()) == {"ok"}


def test_a_share_run_that_saves_the_same_values_reruns_no_report_after_it(
    cohort: Path, stand_in_notebooks: Path
) -> None:
    """The reports after share read the values it saved, not its fingerprint: with its
    fingerprint in theirs, a share run that saved the same values (here: its notebook
    edited) re-ran every group's reflect and improve reports and the cohort summaries.
    Values saved otherwise re-run them, and the manifest says why."""
    import nbformat

    from cyclebook.config import PHASE_AUDIENCES
    from cyclebook.store import connect

    from .conftest import ORG_PARAMS, SHARE, _notebook

    _run(cohort)
    made = _manifest(cohort)
    notebook = stand_in_notebooks / "2_share.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("The figures the group's reports show."))
    nbformat.write(nb, notebook)
    # not run yet: what its run saves is not known, so the reports after it are out of date
    fingerprints = incremental.Fingerprints(
        CohortPaths.of(cohort), runner.load_cohort(cohort), {}, {}
    )
    stale = runner.stale_reports(fingerprints, runner.made_jobs(fingerprints, "c1"))
    assert stale["c1/alpha/share/organization"] == ["notebook"]
    assert stale["c1/alpha/reflect/organization"] == ["upstream"]
    assert stale["c1/(cohort)/cohort/cohort"] == ["upstream"]

    statuses = _run(cohort)
    shares = {
        f"c1/{org}/share/{audience}"
        for org in ("alpha", "beta")
        for audience in PHASE_AUDIENCES["share"]
    }
    assert _ran(statuses) == shares, statuses
    now = _manifest(cohort)
    for key in set(now) - shares:
        assert now[key]["fingerprint"] == made[key]["fingerprint"], key
    assert (
        now["c1/alpha/reflect/organization"]["inputs"]["values"]
        == (made["c1/alpha/reflect/organization"]["inputs"]["values"])
    )

    # a share that saves other values (one more person each): every report after it
    _notebook(notebook, ORG_PARAMS, SHARE.replace("[cycle, org_id, n,", "[cycle, org_id, n + 1,"))
    statuses = _run(cohort)
    assert statuses["c1/alpha/sync/organization"] == "cached"
    assert _ran(statuses) == {key for key in statuses if "/sync/" not in key}, statuses
    before, now = now, _manifest(cohort)

    def changed(key: str) -> list[str]:
        parts = now[key]["inputs"]
        return [name for name, value in parts.items() if before[key]["inputs"][name] != value]

    assert changed("c1/alpha/reflect/organization") == ["values"]
    assert changed("c1/alpha/improve/organization") == ["values"]
    assert changed("c1/(cohort)/cohort/cohort") == ["store"]
    with connect(CohortPaths.of(cohort).store) as con:
        assert con.execute("SELECT org_id, value FROM metric_value ORDER BY org_id").fetchall() == [
            ("alpha", 2.0),
            ("beta", 2.0),
        ]


def test_new_export_file_of_unchanged_content_elsewhere(cohort: Path) -> None:
    """Adding a file is a change too; the other organization stays cached."""
    _run(cohort)
    (cohort / "orgs" / "beta" / "exports" / "more.csv").write_text("beta-9\n")
    statuses = _run(cohort)
    assert all(statuses[key] == "ok" for key in _keys("beta"))
    assert all(statuses[key] == "cached" for key in _keys("alpha"))


def test_changed_cycle_card_reruns_the_cycle(cohort: Path) -> None:
    _run(cohort)
    card = cohort / "c1" / "cycle.yml"
    card.write_text(card.read_text().replace("If we run it", "If we run it again"))
    assert set(_run(cohort).values()) == {"ok"}


def test_changed_reflection_reruns_that_organization_after_sync(cohort: Path) -> None:
    _run(cohort)
    reflection = cohort / "c1" / "reflections" / "beta.yml"
    reflection.parent.mkdir()
    reflection.write_text("# what beta said\n")
    statuses = _run(cohort)
    # sync's own inputs did not change, and neither did the store it writes; share
    # computes the measures and reads no reflection
    assert [k for k in _keys("beta") if statuses[k] == "ok"] == [
        "c1/beta/reflect/organization",
        "c1/beta/improve/organization",
    ], statuses
    assert all(statuses[k] == "cached" for k in _keys("alpha"))


def test_a_cached_report_naming_a_new_member_of_another_group_is_withheld(
    cohort: Path,
) -> None:
    """Every report is checked for the members of every organization: alpha's reflection
    names someone who is nobody's member yet; once beta's export brings a member of that
    name, alpha's reflect report (its own inputs unchanged) shows a member of beta. It
    was kept as "cached", name and all; --force withheld it."""
    said = cohort / "c1" / "reflections" / "alpha.yml"
    said.parent.mkdir()
    said.write_text("stories: [Jordan Whitfield now chairs the building committee]\n")
    assert set(_run(cohort).values()) == {"ok"}
    report = cohort / "c1" / "output" / "reports" / "alpha" / "reflect.html"
    assert "Jordan Whitfield" in report.read_text()

    (cohort / "orgs" / "beta" / "exports" / "people.csv").write_text("beta-1,Jordan,Whitfield\n")
    summary = runner.run(cohort, workers=2, progress=None)
    statuses = {r.key: r.status for r in summary.results}
    assert statuses["c1/alpha/reflect/organization"] == "withheld", statuses
    assert all(statuses[k] == "cached" for k in _keys("alpha") if "reflect" not in k)
    # (a name is no figure: beta's share saved the same values, its reflect report is kept)
    assert {k for k in _keys("beta") if statuses[k] == "ok"} == set(_keys("beta")) - {
        "c1/beta/reflect/organization"
    }, statuses
    assert "Jordan Whitfield" not in report.read_text()
    assert "Report withheld" in report.read_text()
    ipynb = cohort / "c1" / "output" / "notebooks" / "alpha" / "reflect.ipynb"
    assert "Whitfield" not in ipynb.read_text()
    assert any("FAILED  c1/alpha/reflect/organization" in line for line in summary.lines())
    manifest = json.loads(CohortPaths.of(cohort).manifest("c1").read_text())
    entry = {job["key"]: job for job in manifest["jobs"]}["c1/alpha/reflect/organization"]
    assert entry["status"] == "withheld" and "full name" in entry["error"]

    # a withheld report is never reused: it runs again, and is withheld again
    assert _run(cohort)["c1/alpha/reflect/organization"] == "withheld"
    # the name taken out of the reflection: the report is made again and kept after
    said.write_text("stories: [A tenant now chairs the building committee]\n")
    assert _run(cohort)["c1/alpha/reflect/organization"] == "ok"
    again = _run(cohort)
    assert set(again.values()) == {"cached"}, again


def test_force_reruns_everything(cohort: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run(cohort)
    before = _mtimes(cohort)
    assert main(["run", str(cohort), "--workers", "2", "--force"]) == 0
    out = capsys.readouterr().out
    assert "14 ok" in out and "cached" not in out.splitlines()[-2]
    after = _mtimes(cohort)
    assert all(after[name] != before[name] for name in before)
    assert main(["run", str(cohort), "--workers", "2"]) == 0
    assert "14 cached" in capsys.readouterr().out


def test_failed_run_is_never_cached(cohort: Path) -> None:
    (cohort / "fail-beta").write_text("")  # not an input: the same inputs fail again
    first = _run(cohort)
    assert first["c1/beta/share/organization"] == "failed"
    second = _run(cohort)
    assert second["c1/beta/share/organization"] == "failed"  # executed again
    assert second["c1/beta/sync/organization"] == "cached"
    assert all(second[k] == "cached" for k in _keys("alpha"))
    (cohort / "fail-beta").unlink()
    third = _run(cohort)
    assert third["c1/beta/share/organization"] == "ok"


def test_missing_report_is_made_again(cohort: Path) -> None:
    _run(cohort)
    report = CohortPaths.of(cohort).report("c1", "alpha", "reflect")
    report.unlink()
    statuses = _run(cohort)
    assert statuses["c1/alpha/reflect/organization"] == "ok"
    # the same inputs made the same report: what follows it is still valid
    assert statuses["c1/alpha/improve/organization"] == "cached"
    assert report.exists()
    assert [k for k, s in statuses.items() if s == "ok"] == ["c1/alpha/reflect/organization"]


def test_lost_store_resyncs(cohort: Path) -> None:
    _run(cohort)
    for path in cohort.glob("store.duckdb*"):
        os.remove(path)
    statuses = _run(cohort)
    assert statuses["c1/alpha/sync/organization"] == "ok"
    assert statuses["c1/beta/sync/organization"] == "ok"


def test_one_phase_run_reuses_and_records(cohort: Path) -> None:
    _run(cohort)
    (cohort / "orgs" / "alpha" / "exports" / "people.csv").write_text("94110\n")
    # share alone: the new export is not in the store yet, so share has nothing new
    assert set(_run(cohort, phases=["share"]).values()) == {"cached"}
    statuses = _run(cohort, phases=["sync"])
    assert statuses == {"c1/alpha/sync/organization": "ok", "c1/beta/sync/organization": "cached"}
    statuses = _run(cohort, phases=["share"], orgs=["alpha"])
    assert set(statuses.values()) == {"ok"}


def test_code_change_reruns(cohort: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run(cohort)
    monkeypatch.setattr(incremental, "code_fingerprint", lambda versions: "edited")
    assert set(_run(cohort).values()) == {"ok"}


def test_code_fingerprint_follows_sources_and_versions(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.undo()  # the real function
    versions = {"papermill": "2.7.0"}
    first = incremental.code_fingerprint(versions)
    assert first == incremental.code_fingerprint(dict(versions))
    assert first != incremental.code_fingerprint({"papermill": "2.7.1"})


def test_tables_of_other_databases_of_the_process_are_not_the_stores(cohort: Path) -> None:
    """The store's digest reads the store's own tables: a table with an org_id column in
    another database of the process's DuckDB instance (the privacy guard keeps its keys
    in the in-memory one) once stopped every run with 'Table ... does not exist'."""
    from cyclebook import store

    first = _run(cohort)
    db = store._INSTANCE.cursor()
    try:
        db.execute("CREATE OR REPLACE TABLE memory.main.stray (org_id VARCHAR, n INTEGER)")
        db.execute("INSERT INTO memory.main.stray VALUES ('alpha', 1)")
        again = _run(cohort)
    finally:
        db.execute("DROP TABLE IF EXISTS memory.main.stray")
        db.close()
    assert set(first.values()) == {"ok"}
    assert set(again.values()) == {"cached"}


def test_later_cycle_values_do_not_rerun_an_earlier_cycle(cohort: Path) -> None:
    """While the next cycle runs, its share reports save new values every day; the
    reports of the cycle before it read none of them and stay cached (they re-ran with
    every change of c2's values, and so did c1's whenever c2 wrote different ones)."""
    from cyclebook.store import connect

    card = (cohort / "c1" / "cycle.yml").read_text()
    (cohort / "c2").mkdir()
    (cohort / "c2" / "cycle.yml").write_text(
        card.replace("id: c1", "id: c2\nprevious: c1")
        .replace("2026-09-14", "2026-10-26")
        .replace("2026-08-03", "2026-09-14")
    )
    first = _run(cohort, cycles=["c1", "c2"])
    assert len(first) == 28 and set(first.values()) == {"ok"}, first
    # c2's shares ran after c1's reports and saved c2's values: not a change for c1
    assert set(_run(cohort, cycles=["c1", "c2"]).values()) == {"cached"}
    with connect(cohort / "store.duckdb", write=True) as con:
        changed = con.execute(
            "UPDATE metric_value SET value = value + 1 WHERE cycle = 'c2' AND org_id = 'alpha'"
        ).fetchone()[0]
    assert changed == 1
    statuses = _run(cohort, cycles=["c1", "c2"])
    assert [k for k, s in statuses.items() if s == "ok" and k.startswith("c1/")] == []
    # the later cycle's own summary reads them
    assert statuses["c2/(cohort)/cohort/cohort"] == "ok"


def test_an_organization_taken_out_of_the_cohort(cohort: Path) -> None:
    """A group leaves the cohort: the next run stopped at the index with "no
    organization with id 'beta'" (its old reports were still in the manifest)."""
    _run(cohort)
    config = cohort / "cohort.yml"
    config.write_text(config.read_text().replace("  - id: beta\n    name: Beta Workers\n", ""))
    statuses = _run(cohort)
    assert set(statuses) == {
        *_keys("alpha"),
        "c1/(cohort)/cohort/cohort",
        "c1/(cohort)/cohort/funder",
    }
    assert all(statuses[k] == "cached" for k in _keys("alpha"))
    assert statuses["c1/(cohort)/cohort/cohort"] == "ok"  # cohort.yml changed
    paths = CohortPaths.of(cohort)
    index = paths.index("c1").read_text()
    assert "Alpha Tenants" in index and "Beta" not in index and "beta/" not in index
    # its reports are kept, and so is their record
    assert paths.report("c1", "beta", "share").exists()
    manifest = json.loads(paths.manifest("c1").read_text())
    assert "c1/beta/share/organization" in {job["key"] for job in manifest["jobs"]}


def test_a_network_reruns_only_what_reads_the_changed_affiliate(cohort: Path) -> None:
    """Beta and gamma are affiliates of alpha. A changed export of beta re-ran every
    report of its network and of gamma too (with forty affiliates, some two hundred
    reports for one export): only beta's reports, the improve report of alpha (it counts
    its affiliates) and the cohort summary read beta's data."""
    config = cohort / "cohort.yml"
    config.write_text(
        config.read_text().replace(
            "    name: Beta Workers\n", "    name: Beta Workers\n    parent: alpha\n"
        )
        + "  - id: gamma\n    name: Gamma Neighbors\n    parent: alpha\n"
    )
    export = cohort / "orgs" / "gamma" / "exports" / "people.csv"
    export.parent.mkdir(parents=True)
    export.write_text("gamma-1\n")
    first = _run(cohort)
    assert set(first.values()) == {"ok"}

    # (the stand-in sync keeps a file's first five characters: these change the store)
    (cohort / "orgs" / "beta" / "exports" / "people.csv").write_text("b-2\n")
    statuses = _run(cohort)
    ran = {key for key, status in statuses.items() if status == "ok"}
    assert ran == {
        *_keys("beta"),
        "c1/alpha/improve/organization",
        "c1/(cohort)/cohort/cohort",
        "c1/(cohort)/cohort/funder",
    }
    assert set(statuses.values()) == {"ok", "cached"}

    # the network's own export: its reports and the cohort summary, no affiliate's
    (cohort / "orgs" / "alpha" / "exports" / "people.csv").write_text("a-2\n")
    statuses = _run(cohort)
    ran = {key for key, status in statuses.items() if status == "ok"}
    assert ran == {*_keys("alpha"), "c1/(cohort)/cohort/cohort", "c1/(cohort)/cohort/funder"}

    # one affiliate's entry in cohort.yml: its reports, its network's (it reads its
    # affiliates' entries) and the cohort summary; not its sibling's (all of them re-ran),
    # and no sync: a sync reads its own sources, time zone and ladder, not the consent
    # (nor the staff, which the share reports do not read either: see
    # test_a_groups_staff_or_gallery_note_reruns_only_the_reports_that_show_them)
    config.write_text(
        config.read_text().replace(
            "    name: Gamma Neighbors\n",
            "    name: Gamma Neighbors\n    consent: {cohort: [leaders]}\n",
        )
    )
    statuses = _run(cohort)
    ran = {key for key, status in statuses.items() if status == "ok"}
    assert ran == {
        *_keys("gamma")[1:],
        *_keys("alpha")[1:],
        "c1/(cohort)/cohort/cohort",
        "c1/(cohort)/cohort/funder",
    }


SOURCED = """\
id: tiny
name: Tiny Test Cohort
organizations:
  - id: alpha
    name: Alpha Tenants
    sources:
      - {kind: action_network_csv, path: an}
  - id: beta
    name: Beta Workers
"""


def test_exports_are_the_files_the_sync_reads(cohort: Path, tmp_path: Path) -> None:
    """A source folder that is a symlink (or lies outside exports/) was never entered:
    its new exports were read by sync but the run said "cached". Hidden and lock files the
    sync never reads re-ran the organization's whole chain."""
    (cohort / "cohort.yml").write_text(SOURCED)
    elsewhere = tmp_path / "shared-drive" / "an"
    elsewhere.mkdir(parents=True)
    (elsewhere / "activists.csv").write_text("email\na@example.org\n")
    (cohort / "orgs" / "alpha" / "exports" / "an").symlink_to(elsewhere)
    paths = CohortPaths.of(cohort)

    def exports() -> dict[str, str]:
        cohort_model = runner.load_cohort(cohort)
        return incremental.Fingerprints(paths, cohort_model, {}, {}).exports("alpha")

    first = exports()
    assert list(first) == ["an/activists.csv"]
    (elsewhere / "activists-2.csv").write_text("email\nb@example.org\n")
    second = exports()
    assert list(second) == ["an/activists-2.csv", "an/activists.csv"]
    # what the sync never reads: no change
    (elsewhere / ".DS_Store").write_bytes(b"\0\1")
    (elsewhere / "~$activists.xlsx").write_bytes(b"lock")
    assert exports() == second
    # a file no reader reads is named in the sync report: a change of its own
    (elsewhere / "notes.pdf").write_bytes(b"%PDF")
    assert exports() == {**second, "not read:action_network_csv:an/notes.pdf": "unread"}
    # a source whose export is gone
    (cohort / "orgs" / "alpha" / "exports" / "an").unlink()
    assert exports() == {"missing:action_network_csv:an": "absent"}


def test_deleted_followup_lists_are_written_again(cohort: Path) -> None:
    """The organization's share report writes its follow-up lists: deleted, they were not
    written again, and the cached report still listed them."""
    import shutil

    _run(cohort)
    folder = CohortPaths.of(cohort).followup("alpha", "c1")
    assert sorted(p.name for p in folder.iterdir()) == [
        "newly_lapsed.csv",
        "one_step.csv",
        "potential_leaders.csv",
    ]
    shutil.rmtree(folder)
    statuses = _run(cohort)
    assert [key for key, status in statuses.items() if status == "ok"] == [
        "c1/alpha/share/organization"
    ]
    assert len(list(folder.iterdir())) == 3
    (folder / "potential_leaders.csv").unlink()  # one list is enough
    assert _run(cohort)["c1/alpha/share/organization"] == "ok"


def test_a_notebook_saved_with_outputs_is_the_same_notebook(
    cohort: Path, stand_in_notebooks: Path
) -> None:
    """Saving a phase notebook from JupyterLab (outputs, counts, editor metadata) re-ran
    that phase for every organization."""
    import nbformat

    _run(cohort)
    path = stand_in_notebooks / "3_reflect.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].execution_count = 7
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="alpha\n")]
    nb.cells[1].metadata["collapsed"] = True
    nbformat.write(nb, path)
    assert set(_run(cohort).values()) == {"cached"}
    nb.cells[1].source = "print(org_id, 'again')"
    nbformat.write(nb, path)
    statuses = _run(cohort)
    assert statuses["c1/alpha/reflect/organization"] == "ok"
    assert statuses["c1/alpha/sync/organization"] == "cached"


def test_the_index_template_is_not_part_of_the_reports_code(monkeypatch) -> None:
    monkeypatch.undo()  # the real code fingerprint
    assert "cycle_index.html.j2" in incremental.NOT_IN_REPORTS
    assert (incremental.templates_dir() / "cyclebook" / "cycle_index.html.j2").is_file()


def test_an_event_that_happens_during_the_day_reruns_the_open_cycle(cohort: Path) -> None:
    """While a cycle runs, reports count only events that have happened: one that ended
    after the last run changed the show rate and the improve report, and they stayed
    cached until the next day."""
    import datetime as dt

    from cyclebook.store import connect

    _run(cohort)
    paths = CohortPaths.of(cohort)
    model = runner.load_cohort(cohort)
    card = runner.load_cycle(cohort, "c1")
    with connect(paths.store, write=True) as con:
        con.execute(
            "INSERT INTO event (org_id, event_id, source, start_at) VALUES "
            "('alpha', 'e1', 'mobilize', TIMESTAMPTZ '2026-09-01 18:00:00+00')"
        )
        con.execute(
            "INSERT INTO activity (org_id, activity_id, person_id, source, type, occurred_at,"
            " event_id) VALUES ('alpha', 'a1', 'p0', 'mobilize', 'attendance',"
            " TIMESTAMPTZ '2026-08-20 10:00:00+00', 'e1')"
        )

    def clock(now: dt.datetime, org_ids=("alpha",)) -> str:
        fingerprints = incremental.Fingerprints(paths, model, {"c1": card}, {}, now=now)
        return fingerprints.passed(card, None if org_ids is None else list(org_ids))

    morning = dt.datetime(2026, 9, 1, 9, tzinfo=dt.UTC)
    evening = dt.datetime(2026, 9, 1, 21, tzinfo=dt.UTC)
    # the event and its attendance (dated by the event) pass at 18:00
    assert clock(morning) == incremental.digest([])
    assert clock(evening) == incremental.digest([["alpha", 2]])
    assert clock(evening, ("beta",)) == incremental.digest([])  # another group's clock
    assert clock(evening, None) == incremental.digest([["alpha", 2]])


def test_a_run_stopped_half_way_leaves_no_stale_report_behind(cohort: Path) -> None:
    """The manifest (the fingerprints) was written only when a cycle's jobs were done: a
    run stopped half way left the old one, which then vouched for reports the stopped run
    had already replaced; and what it finished was done again."""
    _run(cohort)
    card = cohort / "c1" / "cycle.yml"
    first_title = card.read_text()
    card.write_text(first_title.replace("title: First cycle", "title: Renamed cycle"))

    seen: list[str] = []

    def stop_after_four(result, done, total):
        seen.append(result.key)
        if done == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.run(cohort, workers=1, progress=stop_after_four)
    journal = incremental.read_journal(CohortPaths.of(cohort), "c1")
    assert {key for key, entry in journal.items() if entry["status"] == "ok"} == set(seen)

    # as it was: the reports the stopped run re-made (or began) must be made again
    card.write_text(first_title)
    statuses = _run(cohort)
    assert all(statuses[key] == "ok" for key in seen), statuses
    reports = sorted((CohortPaths.of(cohort).output("c1") / "reports").rglob("*.html"))
    assert len(reports) == 14
    assert not [p.name for p in reports if "Renamed cycle" in p.read_text()]
    assert not CohortPaths.of(cohort).journal("c1").exists()  # all in the manifest now

    # and what a stopped run finished is kept: stop again, then run the same card
    card.write_text(first_title.replace("title: First cycle", "title: Renamed cycle"))
    seen.clear()
    with pytest.raises(KeyboardInterrupt):
        runner.run(cohort, workers=1, progress=stop_after_four)
    statuses = _run(cohort)
    assert all(statuses[key] == "cached" for key in seen), statuses
    assert sum(status == "ok" for status in statuses.values()) == 14 - 4
    assert all("Renamed cycle" in p.read_text() for p in reports)


def test_a_stopped_run_does_not_run_what_was_waiting(cohort: Path) -> None:
    """Ctrl-C let every queued job run to its end (a network's 43 syncs) before the
    command returned, and a second Ctrl-C hung in the pool's shutdown."""
    (cohort / "slow-beta").touch()

    def stop_at_first(result, done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.run(cohort, workers=2, progress=stop_at_first)
    journal = incremental.read_journal(CohortPaths.of(cohort), "c1")
    # alpha's sync finished; beta's 30-second sync was stopped, not waited for
    assert journal["c1/alpha/sync/organization"]["status"] == "ok"
    assert journal["c1/beta/sync/organization"]["status"] == incremental.RUNNING
    (cohort / "slow-beta").unlink()
    statuses = _run(cohort)
    assert statuses["c1/beta/sync/organization"] == "ok"
    assert statuses["c1/alpha/sync/organization"] == "cached"


def test_a_manifest_that_cannot_be_written_ends_in_the_summary(cohort: Path, monkeypatch) -> None:
    """A full disk or a read-only output folder ended the run in a traceback: no summary,
    and the reports' own failures were never said. The journal keeps what ran."""

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    (cohort / "fail-beta").touch()  # beta's share fails, as reports do
    with monkeypatch.context() as patched:
        patched.setattr(runner, "write_manifest", full_disk)
        summary = runner.run(cohort, workers=2, progress=None)
    assert not summary.ok
    lines = "\n".join(summary.lines())
    assert "ERROR   c1: the manifest and index could not be written" in lines
    assert "No space left on device" in lines
    assert "FAILED  c1/beta/share/organization" in lines
    (cohort / "fail-beta").unlink()
    statuses = _run(cohort)
    assert statuses["c1/alpha/share/organization"] == "cached"  # from the journal
    assert statuses["c1/beta/share/organization"] == "ok"


def test_a_comment_in_cohort_yml_changes_nothing(cohort: Path) -> None:
    _run(cohort)
    config = cohort / "cohort.yml"
    config.write_text("# who is in the cohort, as agreed in May\n" + config.read_text())
    assert set(_run(cohort).values()) == {"cached"}
    config.write_text(config.read_text().replace("Beta Workers", "Beta Workers United"))
    statuses = _run(cohort)
    assert statuses["c1/(cohort)/cohort/cohort"] == "ok"
    assert statuses["c1/alpha/share/organization"] == "cached"


def test_the_sync_and_reflect_reports_read_no_clock(cohort: Path, monkeypatch) -> None:
    """A sync reads exports, not what has happened by now: with the events it had just
    stored counted in its clock, one new export made the organization's whole chain run
    twice (and any event passing re-ran the sync). Nor does its report, or the reflect
    report (what the group said, and the figures share saved), show the date: while a
    cycle ran, both were out of date the next day, and `cyclebook publish` refused them
    until a run that day. The share and improve reports count what has happened by
    today."""
    import datetime as dt

    _run(cohort)
    paths = CohortPaths.of(cohort)
    card = runner.load_cycle(cohort, "c1")
    asked = []

    def inputs(now: dt.datetime) -> dict[str, dict[str, str]]:
        fingerprints = incremental.Fingerprints(
            paths, runner.load_cohort(cohort), {"c1": card}, {}, now=now
        )
        monkeypatch.setattr(fingerprints, "passed", lambda card, orgs: asked.append(orgs) or "n")
        jobs = {job.phase: job for job in runner.plan(cohort, orgs=["alpha"])[2][0]}
        return {phase: fingerprints.inputs(job) for phase, job in jobs.items()}

    during = inputs(dt.datetime(2026, 9, 1, 12, tzinfo=dt.UTC))
    assert {phase: parts["clock"] for phase, parts in during.items()} == {
        "sync": "not read",
        "share": "2026-09-01:n",
        "reflect": "not read",
        "improve": "2026-09-01:n",
    }
    assert asked == [["alpha"], ["alpha"]]  # share's and improve's: their organization's
    next_day = inputs(dt.datetime(2026, 9, 2, 12, tzinfo=dt.UTC))
    changed = {
        phase
        for phase, parts in next_day.items()
        if incremental.digest(parts) != incremental.digest(during[phase])
    }
    assert changed == {"share", "improve"}


def test_a_running_cycles_reports_of_an_earlier_day(cohort: Path) -> None:
    """While a cycle runs, a report made the day before is out of date when a run today
    would show other figures: the share report and the cohort summary measure the cycle
    up to today, improve counts the events that have happened by today, and the reflect
    report shows share's figures. The sync report does not change with the date: it
    was refused by `cyclebook publish` the next day all the same."""
    import datetime as dt

    card = cohort / "c1" / "cycle.yml"
    today = dt.datetime.now(dt.UTC).date()
    card.write_text(
        card.read_text()
        .replace("2026-08-03", (today - dt.timedelta(days=7)).isoformat())
        .replace("2026-09-14", (today + dt.timedelta(days=35)).isoformat())
    )
    assert set(_run(cohort).values()) == {"ok"}
    paths = CohortPaths.of(cohort)

    def out_of_date(days: int) -> dict[str, list[str]]:
        now = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
        fingerprints = incremental.Fingerprints(paths, runner.load_cohort(cohort), {}, {}, now=now)
        return runner.stale_reports(fingerprints, runner.made_jobs(fingerprints, "c1"))

    assert out_of_date(0) == {}
    follows = {f"c1/{org}/reflect/organization": ["upstream"] for org in ("alpha", "beta")}
    assert out_of_date(1) == {
        **{f"c1/{org}/{job}": ["clock"] for org in ("alpha", "beta") for job in ORG_JOBS[1:4]},
        **follows,
        **{f"c1/{org}/improve/organization": ["clock"] for org in ("alpha", "beta")},
        "c1/(cohort)/cohort/cohort": ["clock"],
        "c1/(cohort)/cohort/funder": ["clock"],
    }


def test_the_clock_is_the_organizations_own_date(cohort: Path, monkeypatch) -> None:
    """The share report says whether its cycle has started by the organization's own
    date; by the UTC date, a report run at 22:00 in New York the evening before the
    start ("not started") stayed cached all the next day."""
    import datetime as dt

    _run(cohort)
    paths = CohortPaths.of(cohort)
    card = runner.load_cycle(cohort, "c1")
    model = runner.load_cohort(cohort)
    alpha = model.org("alpha")
    object.__setattr__(alpha, "timezone", "America/New_York")
    jobs = {job.phase: job for job in runner.plan(cohort, orgs=["alpha"])[2][0]}

    def clock(now: dt.datetime, phase: str = "share") -> str:
        fingerprints = incremental.Fingerprints(paths, model, {"c1": card}, {}, now=now)
        monkeypatch.setattr(fingerprints, "passed", lambda card, orgs: "n")
        return fingerprints.inputs(jobs[phase])["clock"]

    # 02:00 UTC on 1 Sep is 22:00 on 31 Aug in New York; 12:00 UTC is 08:00 on 1 Sep
    assert clock(dt.datetime(2026, 9, 1, 2, tzinfo=dt.UTC)) == "2026-08-31:n"
    assert clock(dt.datetime(2026, 9, 1, 12, tzinfo=dt.UTC)) == "2026-09-01:n"
    # the improve report dates past events by UTC (phases.improve.as_of), and reads no
    # time zone: its clock is the UTC date
    assert clock(dt.datetime(2026, 9, 1, 2, tzinfo=dt.UTC), "improve") == "2026-09-01:n"


def test_a_full_run_checks_every_report_against_every_sync_s_members(cohort: Path) -> None:
    """Reports after sync wait for every sync of the run: a report that ran beside
    another group's sync was checked against members not yet known, and every such
    report was scanned again at the end of the cycle (16 of the demo's 50, 1.7 s of a
    full run). Now each report is checked once, against the members as they stay."""
    (cohort / "pause-beta").write_text("3")  # beta's sync outlasts alpha's whole chain
    finished: list[str] = []
    summary = runner.run(cohort, workers=2, progress=lambda result, *_: finished.append(result.key))
    assert {r.status for r in summary.results} == {"ok"}
    last_sync = finished.index("c1/beta/sync/organization")
    assert finished.index("c1/alpha/sync/organization") < last_sync
    assert all("/sync/" in key for key in finished[: last_sync + 1]), finished


def test_a_cycle_s_reports_follow_every_earlier_card(cohort: Path) -> None:
    """The share report decides what it hides from the whole chain of earlier cycles;
    only the card a cycle follows was fingerprinted, so an edit of the first card (its
    own `previous:`, its dates) left the third cycle's reports cached."""
    card = (cohort / "c1" / "cycle.yml").read_text()
    for cycle, previous, start, end in (
        ("c2", "c1", "2026-09-14", "2026-10-26"),
        ("c3", "c2", "2026-10-26", "2026-12-07"),
    ):
        (cohort / cycle).mkdir()
        (cohort / cycle / "cycle.yml").write_text(
            card.replace("id: c1", f"id: {cycle}\nprevious: {previous}")
            .replace("2026-09-14", end)
            .replace("2026-08-03", start)
        )
    cycles = ["c1", "c2", "c3"]
    assert set(_run(cohort, cycles=cycles).values()) == {"ok"}
    first = cohort / "c1" / "cycle.yml"
    first.write_text(first.read_text().replace("title: ", "title: Renamed ", 1))
    statuses = _run(cohort, cycles=cycles)
    assert statuses["c3/alpha/share/organization"] == "ok", statuses
    assert statuses["c3/alpha/sync/organization"] == "ok"


def _second_cycle(cohort: Path) -> None:
    card = (cohort / "c1" / "cycle.yml").read_text()
    (cohort / "c2").mkdir()
    (cohort / "c2" / "cycle.yml").write_text(
        card.replace("id: c1", "id: c2\nprevious: c1")
        .replace("2026-09-14", "2026-10-26")
        .replace("2026-08-03", "2026-09-14")
    )


def test_earlier_cycle_values_saved_in_the_same_run_rerun_the_later_cycle(cohort: Path) -> None:
    """A share of c1 that failed once, then ran in the next run of every cycle, saved c1's
    new values; c2's share reads them (its "Last cycle" column) but stayed cached, because
    the store was digested once, before c1's share wrote: the stale report was shown as
    fresh until a later run noticed (and re-ran it then, with nothing changed)."""
    from cyclebook.store import connect

    _second_cycle(cohort)
    cycles = ["c1", "c2"]
    assert set(_run(cohort, cycles=cycles).values()) == {"ok"}
    # a second export: alpha has two people, and c1's share of alpha fails this time
    (cohort / "orgs" / "alpha" / "exports" / "more.csv").write_text("alpha-2\n")
    (cohort / "fail-alpha-c1").write_text("")
    statuses = _run(cohort, cycles=cycles)
    assert statuses["c1/alpha/share/organization"] == "failed"
    assert statuses["c2/alpha/share/organization"] == "ok"

    def c1_people() -> float:
        with connect(cohort / "store.duckdb") as con:
            return con.execute(
                "SELECT value FROM metric_value WHERE cycle = 'c1' AND org_id = 'alpha'"
            ).fetchone()[0]

    assert c1_people() == 1  # the failed share left c1's old value
    (cohort / "fail-alpha-c1").unlink()
    # alpha's own reports (`--org alpha`): no cohort summary, which reads the whole store
    statuses = _run(cohort, cycles=cycles, orgs=["alpha"])
    assert c1_people() == 2  # c1's share ran and saved its new value, which c2 reads
    assert statuses["c1/alpha/share/organization"] == "ok"
    assert statuses["c2/alpha/sync/organization"] == "cached"  # nothing of its own changed
    assert statuses["c2/alpha/share/organization"] == "ok", statuses
    # and what this run recorded is what the next one finds
    assert set(_run(cohort, cycles=cycles, orgs=["alpha"]).values()) == {"cached"}


def test_a_definition_adopted_for_a_cycle_that_now_exists_reruns_the_earlier_one(
    cohort: Path,
) -> None:
    """A change recorded in measure_history for the next cycle (its ``cycle:``) applies
    to the earlier cycles while that cycle has no folder, and is undone for them once it
    has one (Cohort.as_of): cohort.yml is the same text either way, so c1's reports
    stayed cached with figures under c2's definition after c2's folder was made."""
    from cyclebook.config import list_cycles, load_cohort

    config = cohort / "cohort.yml"
    config.write_text(
        config.read_text().replace(
            "    name: Alpha Tenants\n",
            "    name: Alpha Tenants\n"
            "    metrics: {absorption_days: 60}\n"
            "    measure_history:\n"
            "      - {measure: absorption, date: 2026-09-10, proposed_by: Ana, why: Slow "
            "months., change: 'Within 60 days, not 42.', cycle: c2, "
            "replaced: {settings: {absorption_days: 42}}}\n",
        )
    )

    def absorption_days() -> int:  # what c1's reports compute with (load_context)
        return (
            load_cohort(cohort)
            .as_of("c1", list_cycles(cohort))
            .org("alpha")
            .metrics.absorption_days
        )

    assert absorption_days() == 60  # c2 is not a cycle yet: the change applies to c1
    assert set(_run(cohort, cycles=["c1"]).values()) == {"ok"}
    assert set(_run(cohort, cycles=["c1"]).values()) == {"cached"}
    _second_cycle(cohort)
    assert absorption_days() == 42  # from c2 on: c1 keeps what it replaced
    statuses = _run(cohort, cycles=["c1"])
    # (its sync reads no metric setting, only the ladder of what the change replaced)
    assert statuses["c1/alpha/sync/organization"] == "cached"
    assert all(statuses[key] == "ok" for key in _keys("alpha")[1:]), statuses
    assert all(statuses[key] == "cached" for key in _keys("beta")), statuses
    assert statuses["c1/(cohort)/cohort/cohort"] == "ok"
    assert set(_run(cohort, cycles=["c1"]).values()) == {"cached"}


def test_a_rung_adopted_for_a_cycle_that_now_exists_reruns_the_earlier_sync(
    cohort: Path,
) -> None:
    """A sync reads the ladder as of its cycle (its report names the rungs without
    data): a rung changed from c2 on gives c1 back the rung it replaced once c2 exists,
    and c1's sync runs again, as its other reports do."""
    config = cohort / "cohort.yml"
    config.write_text(
        config.read_text().replace(
            "    name: Alpha Tenants\n",
            "    name: Alpha Tenants\n"
            "    measure_history:\n"
            "      - {measure: ladder.active, date: 2026-09-10, proposed_by: Ana, why: Shifts., "
            "change: 'Five meetings, not three.', cycle: c2, replaced: {rung: {name: active, "
            "label: Active, window_days: 90, any_of: [{activity_types: [attendance], "
            "min_count: 5}], definition: Came to five meetings.}}}\n",
        )
    )
    assert set(_run(cohort, cycles=["c1"]).values()) == {"ok"}
    _second_cycle(cohort)
    statuses = _run(cohort, cycles=["c1"])
    assert all(statuses[key] == "ok" for key in _keys("alpha")), statuses
    assert all(statuses[key] == "cached" for key in _keys("beta")), statuses


def test_the_manifest_says_which_versions_made_each_kept_report(
    cohort: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an upgrade, a run of one organization's reports rewrote the manifest's
    ``versions`` with the new ones, while the other organization's reports it kept were
    made by the old: the manifest said every report was made by versions that made only
    some. ``code_versions`` maps each report's code fingerprint to the versions of the
    run that made it."""
    real = runner.package_versions()
    monkeypatch.setattr(runner, "package_versions", lambda: {**real, "cyclebook": "0.1.0"})
    _run(cohort)
    monkeypatch.setattr(runner, "package_versions", lambda: {**real, "cyclebook": "0.2.0"})
    monkeypatch.setattr(incremental, "code_fingerprint", lambda versions: versions["cyclebook"])
    statuses = _run(cohort, orgs=["alpha"])
    assert set(statuses) == set(_keys("alpha")) and set(statuses.values()) == {"ok"}
    manifest = json.loads(CohortPaths.of(cohort).manifest("c1").read_text())
    assert manifest["versions"]["cyclebook"] == "0.2.0"  # this run's
    made_by = {
        job["key"]: manifest["code_versions"][job["inputs"]["code"]]["cyclebook"]
        for job in manifest["jobs"]
    }
    assert made_by == {
        **dict.fromkeys(_keys("alpha"), "0.2.0"),
        **dict.fromkeys(_keys("beta"), "0.1.0"),
        "c1/(cohort)/cohort/cohort": "0.1.0",
        "c1/(cohort)/cohort/funder": "0.1.0",
    }
    # a full run makes every report again with 0.2.0: the old versions are not kept
    _run(cohort)
    manifest = json.loads(CohortPaths.of(cohort).manifest("c1").read_text())
    assert list(manifest["code_versions"]) == ["0.2.0"]
    assert manifest["code_versions"]["0.2.0"] == manifest["versions"]


# a 1x1 PNG: a figure without alt text of its own, as matplotlib's are
PIXEL = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_a_cells_alt_text_is_part_of_the_notebook(cohort: Path, stand_in_notebooks: Path) -> None:
    """The report template gives a figure without alt text its cell's ``alt`` metadata;
    the notebook's digest kept only cells' tags, so a corrected alt text stayed out of
    every cached report. Editor metadata (collapsed, scrolled) still changes nothing."""
    import nbformat

    path = stand_in_notebooks / "3_reflect.ipynb"
    nb = nbformat.read(path, as_version=4)
    figure = nbformat.v4.new_code_cell(
        f"import base64\nfrom IPython.display import Image, display\n"
        f"display(Image(data=base64.b64decode({PIXEL!r}), format='png'))"
    )
    figure.metadata["alt"] = "Members by month (wrong chart named)"
    nb.cells.append(figure)
    nbformat.write(nb, path)
    _run(cohort)
    report = CohortPaths.of(cohort).report("c1", "alpha", "reflect")
    assert 'alt="Members by month (wrong chart named)"' in report.read_text()

    nb.cells[-1].metadata["collapsed"] = True
    nb.cells[-1].metadata["scrolled"] = False
    nbformat.write(nb, path)
    assert set(_run(cohort).values()) == {"cached"}

    nb.cells[-1].metadata["alt"] = "Members by month"
    nbformat.write(nb, path)
    statuses = _run(cohort)
    assert statuses["c1/alpha/reflect/organization"] == "ok"
    assert statuses["c1/alpha/sync/organization"] == "cached"
    assert 'alt="Members by month"' in report.read_text()


def test_the_manifest_hashes_the_yaml_the_run_read(cohort: Path) -> None:
    """The manifest's cohort.yml and cycle.yml hashes were taken when it was written: a
    file edited while the run went on was recorded as the one the run had read, though
    every report was made from the version before."""
    import hashlib

    config, card = cohort / "cohort.yml", cohort / "c1" / "cycle.yml"
    read = {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in (config, card)}

    def edit_during_the_run(result, done, total):
        if done == 1:  # the first report is made; the manifest is written after the last
            config.write_text(config.read_text().replace("Beta Workers", "Beta Workers United"))
            card.write_text(card.read_text().replace("If we run it", "If we run it again"))

    summary = runner.run(cohort, workers=2, progress=edit_during_the_run)
    assert summary.ok
    edited = {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in (config, card)}
    assert edited[config] != read[config] and edited[card] != read[card]
    manifest = json.loads(CohortPaths.of(cohort).manifest("c1").read_text())
    assert manifest["cohort"]["cohort_yml_sha256"] == read[config]
    assert manifest["cycle"]["cycle_yml_sha256"] == read[card]

    # the next run reads the edited files: every report of the cycle is made again, and
    # the manifest says which files it read
    assert set(_run(cohort).values()) == {"ok"}
    manifest = json.loads(CohortPaths.of(cohort).manifest("c1").read_text())
    assert manifest["cohort"]["cohort_yml_sha256"] == edited[config]
    assert manifest["cycle"]["cycle_yml_sha256"] == edited[card]


def _refuse_to_execute(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """No report may run: a job submitted to a worker fails the test (and is listed)."""
    submitted: list[str] = []

    def submit(self, job, duckdb_threads=None):
        submitted.append(job.key)
        raise AssertionError(f"{job.key} was run")

    monkeypatch.setattr(runner._Workers, "submit", submit)
    return submitted


def test_the_facilitators_are_read_by_the_guard_alone(
    cohort: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No report shows the facilitators: the privacy guard allows their names. Editing
    them re-ran every report after sync, of every organization. Now no report runs: the
    guard checks the kept reports' HTML again. A report showing a name it no longer
    allows (a member's) is withheld, with the guard's message, as a run would withhold
    it; the rest stay as they were, and are recorded as checked."""
    config = cohort / "cohort.yml"
    config.write_text(
        config.read_text().replace(
            "name: Tiny Test Cohort\n", "name: Tiny Test Cohort\nfacilitators: [Jordan Whitfield]\n"
        )
    )
    said = cohort / "c1" / "reflections" / "alpha.yml"
    said.parent.mkdir()
    said.write_text("stories: [Jordan Whitfield now chairs the building committee]\n")
    # beta has a member of that name: allowed, as a facilitator's name is
    (cohort / "orgs" / "beta" / "exports" / "people.csv").write_text("beta-1,Jordan,Whitfield\n")
    assert set(_run(cohort).values()) == {"ok"}
    paths = CohortPaths.of(cohort)
    report = paths.report("c1", "alpha", "reflect")
    assert "Jordan Whitfield" in report.read_text()
    before = _mtimes(cohort)

    def guard_state() -> str:
        fingerprints = incremental.Fingerprints(paths, runner.load_cohort(cohort), {}, {})
        return fingerprints.guard_state()

    def manifest() -> dict[str, dict]:
        jobs = json.loads(paths.manifest("c1").read_text())["jobs"]
        return {job["key"]: job for job in jobs}

    first_state = guard_state()
    assert {job["guarded"] for job in manifest().values()} == {first_state}

    # a facilitator added: nothing runs, no report or notebook is written again
    config.write_text(
        config.read_text().replace("[Jordan Whitfield]", "[Jordan Whitfield, Ana Kim]")
    )
    with monkeypatch.context() as patched:
        submitted = _refuse_to_execute(patched)
        statuses = _run(cohort)
    assert submitted == [] and set(statuses.values()) == {"cached"}, statuses
    assert _mtimes(cohort) == before
    # every kept report was checked against the new list, and the manifest says so
    assert guard_state() != first_state
    assert {job["guarded"] for job in manifest().values()} == {guard_state()}
    assert {job["status"] for job in manifest().values()} == {"cached"}

    # the name taken out of the list: alpha's reflect report shows a member of beta.
    # It is withheld by the guard over its HTML, without running; nothing else changes.
    config.write_text(config.read_text().replace("[Jordan Whitfield, Ana Kim]", "[Ana Kim]"))
    with monkeypatch.context() as patched:
        submitted = _refuse_to_execute(patched)
        summary = runner.run(cohort, workers=2, progress=None)
    statuses = {r.key: r.status for r in summary.results}
    assert submitted == []
    withheld = "c1/alpha/reflect/organization"
    assert statuses.pop(withheld) == "withheld"
    assert set(statuses.values()) == {"cached"}, statuses
    after = _mtimes(cohort)
    assert {name for name in after if after[name] != before[name]} == {
        "notebooks/alpha/reflect.ipynb",
        "reports/alpha/reflect.html",
    }
    assert "Jordan Whitfield" not in report.read_text()
    assert "Report withheld" in report.read_text()
    ipynb = paths.output("c1") / "notebooks" / "alpha" / "reflect.ipynb"
    assert "Whitfield" not in ipynb.read_text()
    assert any(f"FAILED  {withheld}" in line for line in summary.lines())
    entry = manifest()[withheld]
    assert entry["status"] == "withheld"
    assert entry["error"].startswith("personal data found in the rendered report")
    assert "full name" in entry["error"]

    # a withheld report is never reused: it runs again (and is withheld again). What it
    # wrote is what the run it reused wrote: the reports after it are kept
    statuses = _run(cohort)
    assert statuses.pop(withheld) == "withheld"
    assert set(statuses.values()) == {"cached"}, statuses

    # the name allowed again: the withheld report (its HTML is gone) is made again and
    # published; the others stay as they were
    config.write_text(config.read_text().replace("[Ana Kim]", "[Ana Kim, Jordan Whitfield]"))
    statuses = _run(cohort)
    assert statuses.pop(withheld) == "ok"
    assert set(statuses.values()) == {"cached"}, statuses
    assert "Jordan Whitfield" in report.read_text()
    assert set(_run(cohort).values()) == {"cached"}


REFLECTION = """\
org_id: alpha
cycle: c1
versions:
  - saved_at: 2026-09-10T18:00:00+00:00
    author: Nirmal Shah
    participants: [Ana (organizing), Lee (data)]
    stories: [The building committee met twice.]
"""


def _reflections_parts(cohort: Path) -> dict[str, str]:
    """Each job's ``reflections`` part, as a run would compute it now."""
    _, cards, chains = runner.plan(cohort, cycles=runner.list_cycles(cohort))
    paths = CohortPaths.of(cohort)
    fingerprints = incremental.Fingerprints(paths, runner.load_cohort(cohort), cards, {})
    return {
        job.key: fingerprints.inputs(job).get("reflections", "(none)")
        for chain in chains
        for job in chain
    }


def test_a_reflection_counts_as_validated(cohort: Path) -> None:
    """Reflection files counted by their bytes: a comment, a blank line or a list written
    another way re-ran the group's reflect and improve reports and the cohort summary.
    They count as the reports read them, validated (as cycle cards do); a file that does
    not validate counts by its bytes, so each edit of it runs its reports again (and the
    reflect report fails on it, as before)."""
    said = cohort / "c1" / "reflections" / "alpha.yml"
    said.parent.mkdir()
    nothing = _reflections_parts(cohort)
    said.write_text(REFLECTION)
    recorded = _reflections_parts(cohort)
    readers = {
        "c1/alpha/reflect/organization",
        "c1/alpha/improve/organization",
        "c1/(cohort)/cohort/cohort",
        "c1/(cohort)/cohort/funder",
    }
    assert {key for key in recorded if recorded[key] != nothing[key]} == readers

    # comments, blank lines, a list written as a block: the same reflection
    said.write_text(
        "# recorded at the September meeting\n\n"
        + REFLECTION.replace(
            "participants: [Ana (organizing), Lee (data)]\n",
            "participants:  # who came\n      - Ana (organizing)\n\n      - Lee (data)\n",
        )
    )
    assert _reflections_parts(cohort) == recorded
    # what it says
    said.write_text(REFLECTION.replace("met twice", "met three times"))
    edited = _reflections_parts(cohort)
    assert {key for key in edited if edited[key] != recorded[key]} == readers

    # not valid (a field the model does not know, a file that is not UTF-8, comments
    # alone): by its bytes, so a comment added counts too
    for broken in (
        REFLECTION.replace("stories:", "storys:"),
        REFLECTION.replace("Nirmal", "Nirm\xe1l").encode("cp1252"),
        "# to be recorded\n",
    ):
        if isinstance(broken, str):
            broken = broken.encode()
        said.write_bytes(broken)
        first = _reflections_parts(cohort)
        assert {key for key in first if first[key] != recorded[key]} == readers
        said.write_bytes(broken + b"# again\n")
        second = _reflections_parts(cohort)
        assert {key for key in second if second[key] != first[key]} == readers


def test_a_reflection_is_read_for_its_fingerprint_without_pandas(tiny_cohort: Path) -> None:
    """The runner reads reflections as the reports do, validated: through
    cyclebook.reflect, that imported pandas and IPython into every run (most of a
    second, for a run that may execute nothing)."""
    import subprocess
    import sys

    said = tiny_cohort / "c1" / "reflections" / "alpha.yml"
    said.parent.mkdir()
    said.write_text(REFLECTION)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from cyclebook.config import load_cohort\n"
        "from cyclebook.incremental import Fingerprints\n"
        "from cyclebook.paths import CohortPaths\n"
        f"root = Path({str(tiny_cohort)!r})\n"
        "fingerprints = Fingerprints(CohortPaths.of(root), load_cohort(root), {}, {})\n"
        "said = 'c1/reflections/alpha.yml'\n"
        "found = fingerprints.reflections('c1', ['alpha'])\n"
        "assert found[said] != fingerprints.file(root / said), 'read by its bytes'\n"
        "assert not {'pandas', 'IPython'} & set(sys.modules), 'pandas or IPython imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_run_and_the_sync_import_no_pandas() -> None:
    """What every ``cyclebook run`` imports to plan and to find every report unchanged
    (the CLI, the runner, the sync's code digest and export listing) imports no pandas:
    the sync report's summary, imported with the sync, brought it into unchanged
    re-runs (~0.3 s: 0.5 to 0.8 s for 122 cached reports)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import cyclebook.cli, cyclebook.runner, cyclebook.incremental, cyclebook.sync\n"
        "import cyclebook.sync.summary\n"
        "assert 'pandas' not in sys.modules, 'pandas imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_only_the_cycles_own_reflections_count(cohort: Path) -> None:
    """A report reads the reflection of its own cycle (``<cycle>/reflections/<org>.yml``):
    an edit of last cycle's reflection re-ran every reflect and improve report of the
    cycles after it, and a file no report reads (named by the run's warning) re-ran the
    cohort summaries. The privacy guard reads them all (it allows the names in them):
    those edits change what it checks the kept reports against."""
    _second_cycle(cohort)
    folder = cohort / "c1" / "reflections"
    folder.mkdir()
    before = _reflections_parts(cohort)
    paths = CohortPaths.of(cohort)

    def guard_state() -> str:
        return incremental.Fingerprints(paths, runner.load_cohort(cohort), {}, {}).guard_state()

    guarded = guard_state()
    (folder / "alpha.yml").write_text(REFLECTION)
    after = _reflections_parts(cohort)
    assert {key for key in after if after[key] != before[key]} == {
        "c1/alpha/reflect/organization",
        "c1/alpha/improve/organization",
        "c1/(cohort)/cohort/cohort",
        "c1/(cohort)/cohort/funder",
    }
    assert guard_state() != guarded
    guarded = guard_state()
    # files no report reads: a typo'd name, a .yaml, a note
    (folder / "alpah.yml").write_text(REFLECTION)
    (folder / "beta.yaml").write_text(REFLECTION.replace("alpha", "beta"))
    (folder / "notes.txt").write_text("call Ana back\n")
    assert _reflections_parts(cohort) == after
    assert guard_state() != guarded


def test_a_groups_staff_or_gallery_note_reruns_only_the_reports_that_show_them(
    cohort: Path,
) -> None:
    """A group's staff are shown by its improve report alone (as the team, when the card
    names none): editing them re-ran its three share reports, then also its reflect
    report (whose form offers them, in JupyterLab only) and the cohort summaries (which
    show the card's team, and followed improve's fingerprint). A group's gallery note is
    shown in the Measure Gallery of the cohort summary alone: editing it re-ran the
    group's share, reflect and improve reports."""
    assert set(_run(cohort).values()) == {"ok"}
    config = cohort / "cohort.yml"
    config.write_text(
        config.read_text().replace(
            "    name: Alpha Tenants\n", "    name: Alpha Tenants\n    staff: [Lou (data)]\n"
        )
    )
    statuses = _run(cohort)
    assert _ran(statuses) == {"c1/alpha/improve/organization"}, statuses
    # a reflect notebook run with its form (-p interactive true) shows them
    paths = CohortPaths.of(cohort)
    reflect = next(job for job in runner.plan(cohort)[2][0] if job.phase == "reflect")
    with_form = dataclasses.replace(reflect, parameters={**reflect.parameters, "interactive": True})

    def config_parts() -> list[str]:
        fingerprints = incremental.Fingerprints(
            paths, runner.load_cohort(cohort), {"c1": runner.load_cycle(cohort, "c1")}, {}
        )
        return [fingerprints.inputs(job)["config"] for job in (reflect, with_form)]

    before = config_parts()
    config.write_text(config.read_text().replace("[Lou (data)]", "[Lou (data), Ana]"))
    after = config_parts()
    assert after[0] == before[0] and after[1] != before[1]
    assert _ran(_run(cohort)) == {"c1/alpha/improve/organization"}
    config.write_text(
        config.read_text().replace(
            "    staff: [Lou (data), Ana]\n",
            "    staff: [Lou (data), Ana]\n    consent: {gallery_note: We count who comes back.}\n",
        )
    )
    statuses = _run(cohort)
    assert _ran(statuses) == {"c1/(cohort)/cohort/cohort", "c1/(cohort)/cohort/funder"}, statuses
    # what share reads of the same entry still re-runs it
    config.write_text(
        config.read_text().replace("{gallery_note:", "{cohort: [leaders], gallery_note:")
    )
    statuses = _run(cohort)
    assert _ran(statuses) == set(_keys("alpha")[1:]) | {
        "c1/(cohort)/cohort/cohort",
        "c1/(cohort)/cohort/funder",
    }, statuses


def _ran(statuses: dict[str, str]) -> set[str]:
    return {key for key, status in statuses.items() if status != "cached"}


def _make_beta_an_affiliate_of_alpha(cohort: Path) -> None:
    config = cohort / "cohort.yml"
    config.write_text(
        config.read_text().replace(
            "    name: Beta Workers\n", "    name: Beta Workers\n    parent: alpha\n"
        )
    )


SUMMARIES = {"c1/(cohort)/cohort/cohort", "c1/(cohort)/cohort/funder"}


def test_an_affiliates_sources_rerun_its_own_sync_and_share_not_its_networks(
    cohort: Path,
) -> None:
    """A share report reads its own group's sources (whether one is Action Builder's,
    for a note on its scale), and of its affiliates only that there are some: an
    affiliate's source edited re-ran its network's three share reports too."""
    _make_beta_an_affiliate_of_alpha(cohort)
    assert set(_run(cohort).values()) == {"ok"}
    config = cohort / "cohort.yml"
    config.write_text(
        config.read_text().replace(
            "    parent: alpha\n",
            "    parent: alpha\n    sources:\n      - {kind: action_network_csv, path: an}\n",
        )
    )
    statuses = _run(cohort)
    # (the stand-in sync stores the same rows: nothing after share reads its sources)
    assert _ran(statuses) == set(_keys("beta")[:4]), statuses
    # the network's own sources are still its share reports'
    config.write_text(
        config.read_text().replace(
            "    name: Alpha Tenants\n",
            "    name: Alpha Tenants\n    sources:\n      - {kind: mobilize, path: mob}\n",
        )
    )
    statuses = _run(cohort)
    assert _ran(statuses) == set(_keys("alpha")[:4]), statuses


def test_the_cohort_summary_reads_the_rows_of_the_network_members_alone(cohort: Path) -> None:
    """The cohort summary shows every group's saved figures; it reads rows (and the
    per-person state share keeps) only of the networks and their affiliates, for their
    roll-ups. A row of a group in no network that changed no figure (here a member's
    name, which the stand-in share does not count) re-ran both summaries."""
    assert set(_run(cohort).values()) == {"ok"}
    (cohort / "orgs" / "alpha" / "exports" / "people.csv").write_text("alpha-1,Ann,Lee\n")
    statuses = _run(cohort)
    # alpha's share reports and improve report read its rows; its figures are the same
    assert _ran(statuses) == set(_keys("alpha")) - {"c1/alpha/reflect/organization"}, statuses

    # an affiliate's row: its network's roll-up in the summary reads it
    _make_beta_an_affiliate_of_alpha(cohort)
    _run(cohort)
    (cohort / "orgs" / "beta" / "exports" / "people.csv").write_text("beta-1,Bo,Diaz\n")
    statuses = _run(cohort)
    assert _ran(statuses) == (
        set(_keys("beta")) - {"c1/beta/reflect/organization"}
        | {"c1/alpha/improve/organization"}
        | SUMMARIES
    ), statuses
    # a figure of a group in no network still re-runs them (the gallery shows it)
    (cohort / "cohort.yml").write_text(
        (cohort / "cohort.yml").read_text().replace("    parent: alpha\n", "")
    )
    _run(cohort)
    (cohort / "orgs" / "alpha" / "exports" / "more.csv").write_text("94110\n")
    statuses = _run(cohort)
    assert _ran(statuses) == set(_keys("alpha")) | SUMMARIES, statuses


def test_a_groups_time_zone_reruns_neither_its_reflect_nor_its_improve_report(
    cohort: Path,
) -> None:
    """The reflect and improve reports show the figures share computed in the group's
    time zone and date "past" events by UTC: editing the time zone re-ran them. Its
    sync (dates without a zone are read in it), its share reports (they measure in it)
    and the cohort summaries (the roll-ups measure in it) read it."""
    assert set(_run(cohort).values()) == {"ok"}
    config = cohort / "cohort.yml"
    config.write_text(
        config.read_text().replace(
            "    name: Beta Workers\n", "    name: Beta Workers\n    timezone: America/Chicago\n"
        )
    )
    statuses = _run(cohort)
    assert _ran(statuses) == set(_keys("beta")[:4]) | SUMMARIES, statuses


def test_a_later_sync_leaves_an_earlier_cycles_summary_as_it_was(cohort: Path) -> None:
    """Every cycle's cohort summary showed each group's latest sync: a sync on a new day
    (an export saved again with the same rows) made every earlier cycle's summary out of
    date, and `cyclebook publish` refused them until they were run again. A summary of
    a cycle that a later one follows shows the sync its figures were computed from."""
    import datetime as dt

    from cyclebook.config import load_cohort
    from cyclebook.phases import cohort as cohort_phase
    from cyclebook.phases import load_context
    from cyclebook.store import connect, last_syncs

    _second_cycle(cohort)
    cycles = ["c1", "c2"]
    assert set(_run(cohort, cycles=cycles).values()) == {"ok"}
    paths = CohortPaths.of(cohort)

    def sync(at: dt.datetime, status: str = "ok") -> None:  # (the stand-in writes none)
        with connect(paths.store, write=True) as con:
            con.execute(
                "INSERT INTO sync_run (org_id, run_id, started_at, finished_at, status) "
                "VALUES ('alpha', ?, ?, ?, ?)",
                [f"run-{at.isoformat()}", at - dt.timedelta(minutes=1), at, status],
            )

    with connect(paths.store) as con:
        (computed,) = con.execute(
            "SELECT max(computed_at) FROM metric_value WHERE org_id = 'alpha' AND cycle = 'c1'"
        ).fetchone()
    # the sync alpha's figures were computed from (whole seconds, as `later` below)
    before = (computed - dt.timedelta(hours=1)).replace(microsecond=0)
    sync(before)
    summaries = {key.replace("c1/", f"{c}/") for key in SUMMARIES for c in cycles}
    assert _ran(_run(cohort, cycles=cycles)) == summaries

    # (whole seconds: the store gives a time back as a float of epoch seconds, which
    # can differ from Python's timestamp() in the last digit for microseconds)
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(microsecond=0)
    sync(later, "failed")
    fingerprints = incremental.Fingerprints(paths, load_cohort(cohort), {}, {})
    stale = {
        cycle: runner.stale_reports(fingerprints, runner.made_jobs(fingerprints, cycle))
        for cycle in cycles
    }
    assert stale == {
        "c1": {},
        "c2": {key.replace("c1/", "c2/"): ["synced"] for key in SUMMARIES},
    }, stale
    statuses = _run(cohort, cycles=cycles)
    assert _ran(statuses) == {key.replace("c1/", "c2/") for key in SUMMARIES}, statuses

    def status(cycle: str) -> str:
        ctx = load_context("cohort", str(cohort), cycle, None, "cohort")
        return "\n".join(block.plain for block in cohort_phase.status_blocks(ctx))

    shown = {cycle: status(cycle) for cycle in cycles}
    assert f"ok ({before:%d %b %Y})" in shown["c1"] and "failed" not in shown["c1"]
    assert cohort_phase.EARLIER_SYNC_TEXT in shown["c1"]
    assert f"failed ({later:%d %b %Y})" in shown["c2"]
    assert cohort_phase.EARLIER_SYNC_TEXT not in shown["c2"]
    # figures computed again after the later sync are computed from it
    with connect(paths.store, write=True) as con:
        con.execute(
            "UPDATE metric_value SET computed_at = ? WHERE org_id = 'alpha' AND cycle = 'c1'",
            [later + dt.timedelta(hours=1)],
        )
        assert last_syncs(con, "c1")["alpha"] == ("failed", later.timestamp())
        assert last_syncs(con, "c2")["alpha"] == ("ok", before.timestamp())
        assert last_syncs(con)["alpha"] == ("failed", later.timestamp())
