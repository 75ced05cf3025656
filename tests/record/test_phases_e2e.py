"""Both phases end to end through real Papermill on a small cohort with a hand-built store."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import nbformat
import pytest

from cyclebook.paths import notebooks_dir
from cyclebook.store import create_schema

DEMO = Path(__file__).resolve().parents[2] / "cycles" / "demo"
CYCLE = "2026-c1"
ORG = "eastside-tenants"
SECRET_EMAIL = "tenant.one@example.org"


def t(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)


@pytest.fixture
def small_cohort(cohort: Path) -> Path:
    shutil.copytree(DEMO / CYCLE / "reflections", cohort / CYCLE / "reflections")
    con = duckdb.connect(str(cohort / "store.duckdb"))
    create_schema(con)
    con.executemany(
        "INSERT INTO person (org_id, person_id, email_ok, sms_ok, match_key) VALUES (?,?,?,?,?)",
        [
            (ORG, "p1", True, None, "k1"),
            (ORG, "p2", True, True, "k1"),
            (ORG, "p3", None, None, None),
        ],
    )
    con.execute(
        "INSERT INTO person_pii (org_id, person_id, email) VALUES (?, 'p1', ?)", [ORG, SECRET_EMAIL]
    )
    con.executemany(
        "INSERT INTO identity (org_id, person_id, source, source_id) VALUES (?,?,?,?)",
        [
            (ORG, "p1", "action_network", "an-1"),
            (ORG, "p1", "mobilize", "mz-1"),
            (ORG, "p2", "action_network", "an-2"),
        ],
    )
    con.executemany(
        "INSERT INTO event (org_id, event_id, source, start_at) VALUES (?,?,?,?)",
        [(ORG, "e1", "mobilize", t("2026-08-10")), (ORG, "e2", "mobilize", t("2026-08-20"))],
    )
    con.executemany(
        "INSERT INTO activity (org_id, activity_id, person_id, source, type, occurred_at,"
        " recorded_at, attended, event_id) VALUES (?,?,?,?,?,?,?,?,?)",
        [
            (
                ORG,
                "a1",
                "p1",
                "mobilize",
                "attendance",
                t("2026-08-10"),
                t("2026-08-25"),
                True,
                "e1",
            ),
            (
                ORG,
                "a2",
                "p2",
                "action_network",
                "signup",
                t("2026-08-12"),
                t("2026-08-12"),
                None,
                None,
            ),
        ],
    )
    con.execute(
        "INSERT INTO metric_value (cycle, org_id, metric, period, value, denominator) VALUES"
        " ('2026-c1', ?, 'absorption', 'cycle', 0.5, 12)",
        [ORG],
    )
    con.close()
    return cohort


def _run(tmp_path: Path, cohort: Path, notebook: str, **extra) -> str:
    import papermill

    out = tmp_path / f"out-{notebook}"
    papermill.execute_notebook(
        str(notebooks_dir() / notebook),
        str(out),
        parameters={"cohort_dir": str(cohort), "cycle": CYCLE, "org_id": ORG, **extra},
        kernel_name="python3",
        cwd=str(notebooks_dir()),
        progress_bar=False,
    )
    nb = nbformat.read(out, 4)
    texts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error"
            data = output.get("data", {})
            assert "application/vnd.jupyter.widget-view+json" not in data
            texts.append(data.get("text/html", ""))
    return "".join(texts)


@pytest.mark.e2e
def test_reflect_phase(tmp_path: Path, small_cohort: Path) -> None:
    html = _run(tmp_path, small_cohort, "3_reflect.ipynb")
    assert "What the group said" in html
    assert "now chairs her building&#x27;s committee" in html
    assert "1 earlier version(s) kept" in html
    assert "Log one-on-ones in Action Network from next cycle." in html
    assert "History of each definition" in html and "Night-shift tenants" in html
    cohort_view = _run(tmp_path, small_cohort, "3_reflect.ipynb", audience="cohort")
    assert "now chairs her building" not in cohort_view
    assert "Keep absorption as our main measure." in cohort_view


@pytest.mark.e2e
def test_improve_phase(tmp_path: Path, small_cohort: Path) -> None:
    html = _run(tmp_path, small_cohort, "4_improve.ipynb")
    assert "Cycle record: Membership pipeline, first look" in html
    assert "50% of 12" in html and "goal met" in html
    assert "Eastside Tenants Union: Follow-up within two weeks doubled second actions." in html
    assert "Data-quality findings ranked by impact" in html
    assert "Past events without attendance recorded" in html
    assert "Ladder of engagement as Eastside Tenants Union defines it" in html
    for secret in (SECRET_EMAIL, "an-1", "mz-1", "k1"):
        assert secret not in html


@pytest.mark.e2e
def test_reflect_form_in_a_kernel(tmp_path: Path, small_cohort: Path) -> None:
    """With interactive=True the form is built in a real kernel (the widget output is there)
    and the recorded answer is still rendered as static HTML below it."""
    import papermill

    out = tmp_path / "interactive.ipynb"
    papermill.execute_notebook(
        str(notebooks_dir() / "3_reflect.ipynb"),
        str(out),
        parameters={
            "cohort_dir": str(small_cohort),
            "cycle": CYCLE,
            "org_id": ORG,
            "interactive": True,
        },
        kernel_name="python3",
        cwd=str(notebooks_dir()),
        progress_bar=False,
    )
    outputs = [o for c in nbformat.read(out, 4).cells for o in c.get("outputs", [])]
    kinds = [set(o.get("data", {})) for o in outputs]
    assert any("application/vnd.jupyter.widget-view+json" in k for k in kinds)
    assert any("What the group said" in o.get("data", {}).get("text/html", "") for o in outputs)


@pytest.mark.e2e
def test_malformed_reflection_stops_the_report_with_line_and_field(
    tmp_path: Path, small_cohort: Path
) -> None:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    path = small_cohort / CYCLE / "reflections" / f"{ORG}.yml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("reaction: keep", "reaction: maybe", 1),
        encoding="utf-8",
    )
    with pytest.raises(PapermillExecutionError) as info:
        papermill.execute_notebook(
            str(notebooks_dir() / "3_reflect.ipynb"),
            str(tmp_path / "broken.ipynb"),
            parameters={"cohort_dir": str(small_cohort), "cycle": CYCLE, "org_id": ORG},
            kernel_name="python3",
            cwd=str(notebooks_dir()),
            progress_bar=False,
        )
    assert info.value.ename == "ConfigError"
    assert "eastside-tenants.yml, line" in info.value.evalue
    assert "reaction" in info.value.evalue and "maybe" in info.value.evalue
