"""The runner end to end: real Papermill runs of the real notebooks, real HTML."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from cyclebook import runner
from cyclebook.cli import main
from cyclebook.errors import ParameterError, RunLockedError
from cyclebook.filehash import sha256_file
from cyclebook.paths import CohortPaths

HOSTILE = "<script>alert(1)</script>"

pytestmark = pytest.mark.e2e


def test_whole_cohort_reports_index_manifest(tiny_cohort: Path, capsys) -> None:
    cohort_yml = tiny_cohort / "cohort.yml"
    cohort_yml.write_text(cohort_yml.read_text().replace("Beta Workers", f'"{HOSTILE}"'))
    code = main(["run", str(tiny_cohort), "--workers", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "report(s)" in out and "index:" in out
    paths = CohortPaths.of(tiny_cohort)
    for org in ("alpha", "beta"):
        for phase in ("sync", "share", "reflect", "improve"):
            assert paths.report("c1", org, phase).exists()
        assert paths.report("c1", org, "share", "funder").exists()
    assert (paths.output("c1") / "reports" / "_cohort" / "cohort.cohort.html").exists()

    index = paths.index("c1").read_text()
    assert HOSTILE not in index and "&lt;script&gt;alert(1)&lt;/script&gt;" in index
    links = re.findall(r'href="([^"]+)"', index)
    alpha_share = [link for link in links if link.startswith("reports/alpha/share")]
    assert alpha_share == [
        "reports/alpha/share.html",
        "reports/alpha/share.cohort.html",
        "reports/alpha/share.funder.html",
    ]
    assert len(links) == 2 * 6 + 2
    assert all((paths.index("c1").parent / link).exists() for link in links)

    beta_share = paths.report("c1", "beta", "share").read_text()
    assert HOSTILE not in beta_share
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in beta_share
    assert "How might we test the spine?" in beta_share  # the cycle card on every report

    manifest = json.loads(paths.manifest("c1").read_text())
    assert manifest["cycle"]["id"] == "c1"
    assert len(manifest["cohort"]["cohort_yml_sha256"]) == 64
    assert manifest["versions"]["papermill"] != "not installed"
    assert len(manifest["jobs"]) == 14
    job = next(j for j in manifest["jobs"] if j["key"] == "c1/alpha/sync/organization")
    assert job["status"] == "ok" and job["seconds"] > 0
    assert job["parameters"]["org_id"] == "alpha"
    assert len(job["notebook_sha256"]) == 64
    for entry in manifest["jobs"]:  # the executed notebook as it is on disk
        assert entry["notebook_sha256"] == sha256_file(Path(entry["output_ipynb"]))
    assert not list(paths.output("c1").rglob("*.partial.ipynb"))


def test_unknown_parameter_refused_before_any_kernel(tiny_cohort: Path, capsys) -> None:
    code = main(["run", str(tiny_cohort), "-p", "ord_id=alpha"])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown parameter 'ord_id'" in err
    assert not (tiny_cohort / "c1" / "output").exists()  # nothing ran


def test_unknown_cycle_names_the_cycles_there(tiny_cohort: Path, capsys) -> None:
    # a broken card of another cycle does not stop the check
    (tiny_cohort / "c0").mkdir()
    (tiny_cohort / "c0" / "cycle.yml").write_text("id: [\n")
    code = main(["run", str(tiny_cohort), "--cycle", "c2"])
    err = capsys.readouterr().err
    assert code == 2
    assert "no cycle 'c2'" in err and "use one of c0, c1, or 'all'" in err
    assert not (tiny_cohort / "c1" / "output").exists()


def test_wrong_type_refused_before_any_kernel(tiny_cohort: Path) -> None:
    with pytest.raises(ParameterError, match="interactive='yes' is str"):
        runner.plan(tiny_cohort, phases=["reflect"], extra_parameters={"interactive": "yes"})
    assert not (tiny_cohort / "c1" / "output").exists()


@pytest.mark.parametrize(
    ("name", "option"),
    [
        ("audience", "--audience"),
        ("cycle", "--cycle"),
        ("org_id", "--org"),
        ("cohort_dir", "COHORT_DIR"),
    ],
)
def test_the_plans_own_parameters_are_refused_as_extra(tiny_cohort: Path, name, option) -> None:
    """`-p audience=organization` with `--audience funder` put the organization's exact
    counts in the report filed, and titled, as the funder's."""
    with pytest.raises(ParameterError, match=f"-p {name}=...: the run sets {name}") as refused:
        runner.plan(tiny_cohort, extra_parameters={name: "x"})
    assert option in str(refused.value)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--phase", "sync", "--audience", "funder"], "the sync phase has no report for funder"),
        (["--phase", "cohort", "--audience", "organization"], "the cohort phase has no report"),
        (["--phase", "cohort", "--org", "alpha"], "the cohort summary is of the whole cohort"),
        (["--phase", "reflect", "--phase", "cohort", "--org", "alpha"], "of the whole cohort"),
    ],
)
def test_requests_that_would_run_nothing_are_refused(tiny_cohort: Path, capsys, args, message):
    """Each of these ran no report, or dropped a phase, and said `0 report(s)`, exit 0."""
    assert main(["run", str(tiny_cohort), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tiny_cohort / "c1" / "output").exists()


def test_a_report_s_title_names_its_audience(tiny_cohort: Path) -> None:
    _, _, chains = runner.plan(tiny_cohort, phases=["share", "cohort"])
    titles = {(job.org_id, job.audience): job.report_meta["title"] for c in chains for job in c}
    assert titles[("alpha", "organization")] == "Share: Alpha Tenants"
    assert titles[("alpha", "funder")] == "Share: Alpha Tenants (for the funder)"
    assert titles[(None, "cohort")] == "Cohort summary: Whole cohort (for the cohort)"


def test_restricted_audiences_skip_the_phases_without_them(tiny_cohort: Path) -> None:
    _, _, chains = runner.plan(tiny_cohort, audiences=["funder"])
    assert {(job.phase, job.audience) for chain in chains for job in chain} == {
        ("share", "funder"),
        ("reflect", "funder"),
        ("cohort", "funder"),
    }


def _failing_notebook(tmp_path: Path, raised: str = "RuntimeError('export is broken')") -> Path:
    params = new_code_cell('org_id: str = "x"  # organization id')
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[params, new_code_cell(f"raise {raised}")])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Py"}
    path = tmp_path / "failing.ipynb"
    nbformat.write(nb, path)
    return path


def test_failure_keeps_going_and_is_rendered(tiny_cohort: Path, tmp_path: Path) -> None:
    _, _, chains = runner.plan(tiny_cohort, phases=["sync", "share"])
    alpha = next(chain for chain in chains if chain[0].org_id == "alpha")
    failing = _failing_notebook(tmp_path)
    # alpha's sync is replaced by a notebook that raises; beta's chain is untouched
    broken = runner.Job(
        **{**alpha[0].__dict__, "notebook": str(failing), "parameters": {"org_id": "alpha"}}
    )
    chains = [[broken, *alpha[1:]], *[c for c in chains if c[0].org_id != "alpha"]]
    results = runner._run_chains(chains, 2, lambda *_: None)
    by_key = {r.key: r for r in results}
    assert by_key["c1/alpha/sync/organization"].status == "failed"
    assert "export is broken" in by_key["c1/alpha/sync/organization"].error
    assert by_key["c1/alpha/share/organization"].status == "skipped"
    assert all(by_key[k].status == "ok" for k in by_key if k.startswith("c1/beta/"))
    failed_html = Path(by_key["c1/alpha/sync/organization"].output_html).read_text()
    assert "This phase did not finish" in failed_html
    assert "export is broken" in failed_html
    saved = nbformat.read(by_key["c1/alpha/sync/organization"].output_ipynb, as_version=4)
    assert any("papermill-error-cell-tag" in c.metadata.get("tags", []) for c in saved.cells)

    summary = runner.RunSummary(tiny_cohort, results, 1.0, [], [])
    assert not summary.ok
    lines = "\n".join(summary.lines())
    assert "FAILED  c1/alpha/sync/organization: RuntimeError: export is broken" in lines
    assert "not run because of it: share/organization, share/cohort, share/funder" in lines
    assert "SKIPPED" not in lines


def test_cyclebook_s_own_error_is_reported_by_its_message(tiny_cohort: Path, tmp_path: Path):
    """An error cyclebook raised on purpose says what to fix; its class name
    ("ExportError: ...") headed the summary line and the report's banner, words an
    organizer cannot use. An error it did not foresee keeps its class name."""
    _, _, chains = runner.plan(tiny_cohort, phases=["sync"])
    alpha = next(chain for chain in chains if chain[0].org_id == "alpha")
    failing = _failing_notebook(
        tmp_path,
        "__import__('cyclebook.errors').errors.ExportError("
        "'people.csv', 'the file is empty', fix='export it again.')",
    )
    broken = runner.Job(
        **{**alpha[0].__dict__, "notebook": str(failing), "parameters": {"org_id": "alpha"}}
    )
    (result,) = runner._run_chains([[broken]], 1, lambda *_: None)
    assert result.status == "failed"
    assert result.error.startswith("people.csv")
    assert "ExportError" not in result.error and "export it again." in result.error
    banner = Path(result.output_html).read_text().split("This phase did not finish")[1]
    assert "ExportError" not in banner.split("</section>")[0]


def test_a_failed_sync_s_fix_is_under_its_failed_line_once(tiny_cohort: Path, tmp_path: Path):
    """The run's summary is what a facilitator reads first. A failed sync's line gave
    only the problem, and its fix was printed instead under each of the five reports it
    skipped; now the fix is under the FAILED line, and so are the reports it skipped, by
    name, in one line (they were a SKIPPED line each, repeating the failure)."""
    _, _, chains = runner.plan(
        tiny_cohort, phases=["sync", "share"], orgs=["alpha"], audiences=["organization"]
    )
    (alpha,) = chains
    failing = _failing_notebook(
        tmp_path,
        "__import__('cyclebook.errors').errors.ExportError("
        "'people.csv', 'the file is empty', fix='export it again.')",
    )
    broken = runner.Job(
        **{**alpha[0].__dict__, "notebook": str(failing), "parameters": {"org_id": "alpha"}}
    )
    results = runner._run_chains([[broken, *alpha[1:]]], 1, lambda *_: None)
    lines = runner.RunSummary(tiny_cohort, results, 1.0, [], []).lines()
    skipped = [r.key for r in results if r.status == "skipped"]
    assert skipped == ["c1/alpha/share/organization"]
    at = lines.index("  FAILED  c1/alpha/sync/organization: people.csv: the file is empty")
    assert lines[at + 1] == "          Fix: export it again."
    assert lines[at + 2].startswith("          report: ")
    assert lines[at + 3] == "          not run because of it: share/organization"
    assert sum("export it again." in line for line in lines) == 1
    assert not any(line.startswith("  SKIPPED") for line in lines)


def test_second_run_is_refused(tiny_cohort: Path) -> None:
    paths = CohortPaths.of(tiny_cohort)
    with runner.run_lock(paths), pytest.raises(RunLockedError, match="another cyclebook run"):
        runner.run(tiny_cohort, phases=["sync"], progress=None)


def test_one_phase_one_org(tiny_cohort: Path) -> None:
    # before any sync there is no store: the share phase says so and how to fix it
    summary = runner.run(tiny_cohort, phases=["share"], orgs=["beta"], progress=None)
    assert not summary.ok
    assert "run the sync phase first" in summary.results[0].error
    synced = runner.run(tiny_cohort, phases=["sync"], orgs=["beta"], progress=None)
    assert [r.key for r in synced.results] == ["c1/beta/sync/organization"]
    summary = runner.run(
        tiny_cohort, phases=["share"], orgs=["beta"], audiences=["organization"], progress=None
    )
    assert [r.key for r in summary.results] == ["c1/beta/share/organization"]
    assert summary.ok, summary.results[0].error
    assert not (CohortPaths.of(tiny_cohort).report("c1", "alpha", "share")).exists()
    assert not (CohortPaths.of(tiny_cohort).report("c1", "alpha", "sync")).exists()


def test_a_report_with_a_members_email_is_withheld(tiny_cohort: Path, tmp_path: Path) -> None:
    from cyclebook.store import connect

    planted = "planted.member@example.org"
    with connect(tiny_cohort / "store.duckdb", write=True) as con:
        con.execute(
            "INSERT INTO person_pii (org_id, person_id, first_name, last_name, email, phone,"
            " address) VALUES ('alpha', 'p1', 'Plantina', 'Leakworth', ?, NULL, NULL)",
            [planted],
        )
    params = new_code_cell('org_id: str = "x"  # organization id')
    params.metadata["tags"] = ["parameters"]
    # the notebook reads the value from the store, as a careless report would
    careless = (
        "from cyclebook.store import connect\n"
        f"with connect({str(tiny_cohort / 'store.duckdb')!r}) as con:\n"
        "    print('contact:', con.execute('SELECT email FROM person_pii').fetchone()[0])"
    )
    nb = new_notebook(cells=[params, new_code_cell(careless)])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Py"}
    leaky = tmp_path / "leaky.ipynb"
    nbformat.write(nb, leaky)

    _, _, chains = runner.plan(tiny_cohort, phases=["reflect"], orgs=["alpha"])
    job = runner.Job(
        **{**chains[0][0].__dict__, "notebook": str(leaky), "parameters": {"org_id": "alpha"}}
    )
    (result,) = runner._run_chains([[job]], 1, lambda *_: None)
    assert result.status == "withheld"
    assert "email" in result.error
    page = Path(result.output_html).read_text()
    assert "Report withheld" in page
    assert planted not in page
    saved = Path(result.output_ipynb).read_text()
    assert planted not in saved  # the executed notebook's outputs are gone too
    assert "Outputs removed" in saved
    summary = runner.RunSummary(tiny_cohort, [result], 1.0, [], [])
    assert not summary.ok
    assert "FAILED  c1/alpha/reflect/organization: personal data found" in "\n".join(
        summary.lines()
    )


def test_each_audience_of_the_cohort_summary_is_a_chain_of_its_own(tiny_cohort):
    """The cohort's and the funders' summaries read the finished cycle and write nothing:
    they run side by side, not one after the other."""
    _, _, chains = runner.plan(tiny_cohort)
    summaries = [chain for chain in chains if chain[0].org_id is None]
    assert [[job.audience for job in chain] for chain in summaries] == [["cohort"], ["funder"]]
    assert all(len(chain) == 4 + 2 for chain in chains if chain[0].org_id is not None)


def test_the_zygote_warms_without_leaving_a_thread_behind() -> None:
    """Threads in a process that forks are a hazard (a lock held at the fork stays held
    in the child): the warm-up, which makes the kernels' DuckDB instance (ten threads
    with DuckDB's usual settings), leaves the zygote with the threads it had (pyarrow's
    allocator keeps a background thread from its import on; jemalloc guards its fork
    itself)."""
    probe = (
        "import os, duckdb, ibis, pandas, pyarrow  # preloaded before the warm-up\n"
        "from cyclebook import config, store, zygote  # config: a cohort read in the warm-up\n"
        "threads = lambda: sorted(os.listdir('/proc/self/task'))\n"
        "before = threads()\n"
        "zygote._warm()\n"
        "print(threads() == before, 'duckdb' in vars(ibis), store._INSTANCE.for_forks)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.split() == ["True", "True", "True"], done.stderr


def test_kernels_start_with_the_preloaded_heap_out_of_the_collectors_sight(
    tiny_cohort: Path, tmp_path: Path
) -> None:
    """A kernel forked from the run's zygote inherits the zygote's frozen objects (what it
    preloaded), so its collections walk only what the report allocates; a new one
    starts from an empty namespace all the same."""
    params = new_code_cell('org_id: str = "x"  # organization id')
    params.metadata["tags"] = ["parameters"]
    # duckdb imported: the zygote preloads it and opens and closes an instance before
    # the forks (zygote._warm); the kernel's own instance must work
    probe = new_code_cell(
        "import gc\n"
        "import duckdb\n"
        "from cyclebook import store\n"
        "total = duckdb.connect().execute('SELECT sum(i) FROM range(100000) t(i)').fetchall()\n"
        "inherited = store._INSTANCE.for_forks\n"
        "usual = duckdb.connect().execute(\"SELECT current_setting('threads')\").fetchone()[0]\n"
        "with store.session() as con:\n"
        "    threads = con.execute(\"SELECT current_setting('threads')\").fetchone()[0]\n"
        "print('frozen:', gc.get_freeze_count() > 10000,"
        " 'namespace:', sorted(k for k in globals() if k.startswith('leftover')),"
        " 'duckdb:', total, 'instance:', inherited,"
        " threads == usual)\n"
        "leftover = 1"
    )
    nb = new_notebook(cells=[params, probe])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Py"}
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    _, _, chains = runner.plan(tiny_cohort, phases=["reflect", "improve"], orgs=["alpha"])
    jobs = [
        runner.Job(**{**job.__dict__, "notebook": str(path), "parameters": {"org_id": "alpha"}})
        for job in chains[0]
    ]
    results = runner._run_chains([jobs], 1, lambda *_: None)
    assert [r.status for r in results] == ["ok", "ok"]
    for result in results:
        text = Path(result.output_ipynb).read_text()
        # the store's DuckDB instance came from the zygote, with DuckDB's threads again
        assert "frozen: True namespace: [] duckdb: [(4999950000,)] instance: True True" in text


def test_a_name_in_the_card_withholds_reports_and_stops_no_phase(tiny_cohort: Path) -> None:
    """A member's name typed into the card's learnings is in every report: each is
    withheld with the card's file and line named, and the sync (which ran: its data is
    in the store) no longer stops the organization's later phases as "sync failed"."""
    import duckdb

    assert runner.run(tiny_cohort, phases=["sync"], orgs=["alpha"], progress=None).ok
    store = CohortPaths.of(tiny_cohort).store
    with duckdb.connect(str(store)) as con:
        con.execute(
            "INSERT INTO person_pii VALUES "
            "('alpha', 'p1', 'Quintessa', 'Marlowe', NULL, NULL, NULL)"
        )
    card = tiny_cohort / "c1" / "cycle.yml"
    card.write_text(card.read_text() + "learnings:\n  - Quintessa Marlowe ran the first meeting\n")
    summary = runner.run(
        tiny_cohort,
        phases=["sync", "share"],
        orgs=["alpha"],
        audiences=["organization"],
        force=True,
        progress=None,
    )
    by_key = {r.key: r for r in summary.results}
    assert [
        by_key[k].status for k in ("c1/alpha/sync/organization", "c1/alpha/share/organization")
    ] == [
        "withheld",
        "withheld",
    ]
    for result in summary.results:
        assert "a full name of a member of alpha" in result.error
        assert "it is written in c1/cycle.yml, line 13: take it out there" in result.error
        assert "Marlowe" not in Path(result.output_html).read_text()
    assert not summary.ok


def _plain(html: str) -> str:
    import html as html_lib

    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_a_definition_edited_by_hand_is_said_at_the_end_of_the_run(tiny_cohort: Path) -> None:
    """absorption_days added to cohort.yml by hand: running again silently rewrote the
    cycle's figures (77% within 42 days became 56% within 14) and recorded nothing."""
    kw = {"phases": ["sync", "share"], "orgs": ["beta"], "audiences": ["organization"]}
    assert runner.run(tiny_cohort, progress=None, **kw).ok
    yml = tiny_cohort / "cohort.yml"
    yml.write_text(
        yml.read_text().replace(
            "    name: Beta Workers\n",
            "    name: Beta Workers\n    metrics: {absorption_days: 14}\n",
        )
    )
    summary = runner.run(tiny_cohort, progress=None, **kw)
    assert summary.ok
    definition = (
        "Of people first seen in the cycle, the share with a second, different activity "
        "within {} days of first being seen (a signup and attendance of the same event "
        "count once)."
    )
    warning = (
        "Beta Workers (beta), c1: absorption was computed again under a changed definition "
        f'that its measure_history does not record (its figures were "{definition.format(42)}",'
        f' now "{definition.format(14)}"), so the cycle\'s reports changed. Fix: record the '
        "change in the organization's measure_history in cohort.yml (measure, date, "
        "proposed_by, why, change, and cycle: the first cycle it applies to, with replaced: "
        "what it replaced, so that earlier cycles keep their figures), or undo the edit; "
        "then run again."
    )
    assert [w for w in summary.warnings if "computed again" in w] == [warning]
    assert f"  WARNING {warning}" in summary.lines()
    report = CohortPaths.of(tiny_cohort).report("c1", "beta", "share")
    note = (
        "This cycle's figures were computed again under a changed definition that the "
        "group's measure history does not record: Absorption of new people (first saved "
        'under "… within 42 days …", now "… within 14 days …"). Figures reported or '
        "reflected on before may differ from these."
    )
    assert note in _plain(report.read_text())
    # said at every run until the change is recorded (here: from c1 on)
    again = runner.run(tiny_cohort, progress=None, **kw)
    assert [w for w in again.warnings if "computed again" in w] == [warning]
    yml.write_text(
        yml.read_text().replace(
            "    metrics: {absorption_days: 14}\n",
            "    metrics: {absorption_days: 14}\n    measure_history:\n"
            "      - {measure: absorption, date: 2026-08-01, proposed_by: Ana, why: Meetings "
            "every two weeks., change: 'Within 14 days, not 42.', cycle: c1}\n",
        )
    )
    recorded = runner.run(tiny_cohort, progress=None, **kw)
    assert recorded.ok and not [w for w in recorded.warnings if "computed again" in w]
    assert "computed again" not in _plain(report.read_text())
