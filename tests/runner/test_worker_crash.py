"""A worker process that dies does not stop the run: its job is reported as crashed and
the next jobs run in a fresh pool."""

from __future__ import annotations

import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from cyclebook import runner

pytestmark = pytest.mark.e2e


def test_a_dead_worker_is_replaced(cohort: Path) -> None:
    _, _, chains = runner.plan(cohort, phases=["reflect"], orgs=["alpha", "beta"])
    first, second = (chain[0] for chain in chains)
    workers = runner._Workers(1)
    try:
        doomed = workers.submit(first)
        deadline = time.monotonic() + 30
        while not workers._pool._processes and time.monotonic() < deadline:
            time.sleep(0.01)
        for process in list(workers._pool._processes.values()):
            process.kill()
        with pytest.raises(BrokenProcessPool):
            doomed.result(timeout=60)
        result = workers.submit(second).result(timeout=120)
        assert result.status == "ok", result.error
        assert result.org_id == "beta"
    finally:
        workers.close()


def test_a_dead_worker_fails_only_the_job_that_killed_it(cohort: Path) -> None:
    """Every job of a broken pool failed with it, those of other organizations merely
    waiting their turn too: 8 organizations' reports from one dead worker."""
    (cohort / "kill-worker-alpha").touch()
    summary = runner.run(cohort, workers=1, progress=None)
    statuses = {r.key: (r.status, r.error) for r in summary.results}
    status, error = statuses["c1/alpha/reflect/organization"]
    assert status == "failed" and "worker crashed" in error
    others = {key: s for key, (s, _) in statuses.items() if key != "c1/alpha/reflect/organization"}
    assert set(others.values()) == {"ok"}, others
    assert not summary.ok
