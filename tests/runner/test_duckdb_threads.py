"""Each report's DuckDB gets its share of the cores: reports that run side by side do not
each take every core (they would only take turns), a report that runs alone does."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

import nbformat
import pytest

from cyclebook import runner
from cyclebook.errors import SettingError

from .conftest import COHORT_PARAMS, ORG_PARAMS, _notebook

THREADS_ENV = "CYCLEBOOK_DUCKDB_THREADS"

# Prints the threads the report's DuckDB instance runs with, as the real phases open it.
SHOW_THREADS = """\
from cyclebook import store

with store.session() as con:
    print("threads", con.execute("SELECT current_setting('threads')").fetchone()[0])
"""


def test_share_of_the_cores() -> None:
    assert runner.duckdb_threads(2, available=2) == 1
    assert runner.duckdb_threads(1, available=2) == 2
    assert runner.duckdb_threads(3, available=8) == 2  # 8 // 3, rounded down
    assert runner.duckdb_threads(4, available=2) == 1  # never none
    assert runner.duckdb_threads(0, available=4) == 4


def _threads_printed(cohort: Path, key: str, summary: runner.RunSummary) -> str:
    result = next(r for r in summary.results if r.key == key)
    assert result.status == "ok", result.error
    nb = nbformat.read(result.output_ipynb, as_version=4)
    text = "".join(
        output.get("text", "") for cell in nb.cells for output in cell.get("outputs", [])
    )
    return text.split("threads", 1)[1].split()[0]


@pytest.fixture
def threads_cohort(cohort: Path, stand_in_notebooks: Path) -> Path:
    _notebook(stand_in_notebooks / "1_sync.ipynb", ORG_PARAMS, SHOW_THREADS)
    _notebook(stand_in_notebooks / "5_cohort.ipynb", COHORT_PARAMS, SHOW_THREADS)
    return cohort


@pytest.mark.e2e
def test_reports_side_by_side_share_the_cores(
    threads_cohort: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(THREADS_ENV, raising=False)
    monkeypatch.setattr(runner, "cores", lambda: 4)
    summary = runner.run(threads_cohort, workers=2, progress=None, phases=["sync"])
    # both organizations' syncs start together on the two workers: 4 cores // 2
    assert _threads_printed(threads_cohort, "c1/alpha/sync/organization", summary) == "2"
    assert _threads_printed(threads_cohort, "c1/beta/sync/organization", summary) == "2"

    summary = runner.run(
        threads_cohort, workers=2, progress=None, phases=["cohort"], audiences=["cohort"]
    )
    # one cohort summary (one audience) runs alone: every core
    assert _threads_printed(threads_cohort, "c1/(cohort)/cohort/cohort", summary) == "4"


@pytest.mark.e2e
def test_the_users_choice_wins(threads_cohort: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(THREADS_ENV, "3")
    summary = runner.run(threads_cohort, workers=2, progress=None, phases=["sync"])
    assert _threads_printed(threads_cohort, "c1/alpha/sync/organization", summary) == "3"
    assert _threads_printed(threads_cohort, "c1/beta/sync/organization", summary) == "3"


def test_a_mistyped_setting_stops_the_run_before_any_report(
    threads_cohort: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(THREADS_ENV, "two")
    with pytest.raises(SettingError) as raised:
        runner.run(threads_cohort, workers=2, progress=None)
    assert f"{THREADS_ENV}='two'" in str(raised.value)
    assert "whole number" in raised.value.fix
    assert not list(threads_cohort.rglob("*.html"))


class _RecordingPool:
    """Runs nothing: records the threads each job was given and reports it done."""

    workers = 2

    def __init__(self) -> None:
        self.threads: dict[str, int | None] = {}

    def submit(self, job: runner.Job, duckdb_threads: int | None = None) -> Future:
        self.threads[job.key] = duckdb_threads
        future: Future = Future()
        future.set_result(
            runner.JobResult(
                key=job.key,
                cycle=job.cycle,
                org_id=job.org_id,
                phase=job.phase,
                audience=job.audience,
                status="ok",
            )
        )
        return future


def _job(org: str, phase: str) -> runner.Job:
    return runner.Job(
        cycle="c1",
        org_id=org,
        phase=phase,
        audience="organization",
        notebook="unused.ipynb",
        parameters={},
        output_ipynb="unused.ipynb",
        output_html="unused.html",
        report_meta={},
        store_path="unused.duckdb",
    )


def test_a_chain_left_alone_gets_every_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(THREADS_ENV, raising=False)
    monkeypatch.setattr(runner, "cores", lambda: 4)
    long = [_job("alpha", phase) for phase in ("sync", "share", "reflect")]
    short = [_job("beta", "sync")]
    pool = _RecordingPool()
    results = runner._run_chains([long, short], 2, lambda *_: None, None, pool)
    assert sorted(r.key for r in results) == sorted(j.key for j in long + short)
    # both chains open when their first jobs start
    assert pool.threads["c1/alpha/sync/organization"] == 2
    assert pool.threads["c1/beta/sync/organization"] == 2
    # beta's only job has finished before alpha's last one starts
    assert pool.threads["c1/alpha/reflect/organization"] == 4
