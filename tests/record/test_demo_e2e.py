"""Reflect and improve end to end on the demo cohort: seeded exports (small scale), real
sync and metrics, then both notebooks through real Papermill."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from cyclebook.paths import notebooks_dir

DEMO = Path(__file__).resolve().parents[2] / "cycles" / "demo"
CYCLE = "2026-c1"
ORGS = ["eastside-tenants", "riverside-workers"]


@pytest.fixture(scope="module")
def demo_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cyclebook.config import load_cohort, load_cycle
    from cyclebook.demo import generate_demo
    from cyclebook.metrics.engine import compute_metrics
    from cyclebook.sync import sync_cohort

    root = tmp_path_factory.mktemp("demo") / "demo"
    shutil.copytree(
        DEMO, root, ignore=shutil.ignore_patterns("orgs", "archive", "output", "store.duckdb*")
    )
    generate_demo(root, scale=0.1, seed=2026)
    results = sync_cohort(root, ORGS)
    assert sorted(results) == ORGS
    assert all(r.status != "failed" for r in results.values()), results
    cohort, card = load_cohort(root), load_cycle(root, CYCLE)
    for org_id in ORGS:
        compute_metrics(root / "store.duckdb", cohort.org(org_id), card)
    return root


def _html(tmp_path: Path, cohort: Path, notebook: str, org_id: str) -> str:
    import papermill

    out = tmp_path / f"{org_id}-{notebook}"
    papermill.execute_notebook(
        str(notebooks_dir() / notebook),
        str(out),
        parameters={"cohort_dir": str(cohort), "cycle": CYCLE, "org_id": org_id},
        kernel_name="python3",
        cwd=str(notebooks_dir()),
        progress_bar=False,
    )
    return "".join(
        o.get("data", {}).get("text/html", "")
        for c in nbformat.read(out, 4).cells
        for o in c.get("outputs", [])
    )


@pytest.mark.e2e
@pytest.mark.parametrize("org_id", ORGS)
def test_demo_reflect_and_improve(tmp_path: Path, demo_cohort: Path, org_id: str) -> None:
    reflect = _html(tmp_path, demo_cohort, "3_reflect.ipynb", org_id)
    assert "What the group said" in reflect and "No reflection recorded yet" not in reflect
    improve = _html(tmp_path, demo_cohort, "4_improve.ipynb", org_id)
    assert "Data-quality findings ranked by impact" in improve
    assert "No store yet" not in improve
    assert "absorption" in improve and "% of " in improve  # a measured card result
    import duckdb

    con = duckdb.connect(str(demo_cohort / "store.duckdb"), read_only=True)
    try:
        emails = [
            e
            for (e,) in con.execute(
                "SELECT email FROM person_pii WHERE org_id = ? AND email IS NOT NULL LIMIT 50",
                [org_id],
            ).fetchall()
        ]
    finally:
        con.close()
    for email in emails:
        assert email not in improve and email not in reflect
