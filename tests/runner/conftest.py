"""Stand-in phase notebooks for runner tests: small, deterministic, and reading and
writing the store the way the real phases do (sync writes the organization's rows from
its exports; share saves metric values; improve and the cohort summary read them)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from cyclebook import incremental, runner

ORG_PARAMS = """\
cohort_dir: str = "."  # folder that holds cohort.yml
cycle: str = "c1"  # cycle folder
org_id: str = "alpha"  # organization id
audience: str = "organization"  # who reads this report
"""
COHORT_PARAMS = """\
cohort_dir: str = "."  # folder that holds cohort.yml
cycle: str = "c1"  # cycle folder
audience: str = "cohort"  # who reads this report
"""

SYNC = """\
from pathlib import Path
from cyclebook.store import connect

root = Path(cohort_dir)
if (root / f"slow-{org_id}").exists():  # a long sync, for tests that stop a run
    import time
    time.sleep(30)
if (root / f"pause-{org_id}").exists():  # a sync of so many seconds
    import time
    time.sleep(float((root / f"pause-{org_id}").read_text()))
exports = root / "orgs" / org_id / "exports"
files = sorted(exports.rglob("*.csv")) if exports.exists() else []
with connect(root / "store.duckdb", write=True) as con:
    con.execute("DELETE FROM person WHERE org_id = ?", [org_id])
    con.execute("DELETE FROM person_pii WHERE org_id = ?", [org_id])
    for i, path in enumerate(files):
        # a line "<zip>,<first name>,<last name>": a member's name, as a real sync keeps it
        zip_code, *name = path.read_text().strip().split(",")
        con.execute(
            "INSERT INTO person (org_id, person_id, zip) VALUES (?, ?, ?)",
            [org_id, f"p{i}", zip_code[:5]],
        )
        if name:
            con.execute(
                "INSERT INTO person_pii (org_id, person_id, first_name, last_name) "
                "VALUES (?, ?, ?, ?)",
                [org_id, f"p{i}", *name],
            )
print(f"{len(files)} export file(s) kept")
"""
SHARE = """\
from pathlib import Path
from cyclebook.store import connect

root = Path(cohort_dir)
if (root / f"fail-{org_id}").exists() or (root / f"fail-{org_id}-{cycle}").exists():
    raise RuntimeError("share is broken for " + org_id)
with connect(root / "store.duckdb", write=True) as con:
    # a figure of the rows it reads, as the real share's follow the data
    n, zips = con.execute(
        "SELECT count(*), string_agg(zip, ' ' ORDER BY person_id) FROM person WHERE org_id = ?",
        [org_id],
    ).fetchone()
    con.execute("DELETE FROM metric_value WHERE cycle = ? AND org_id = ?", [cycle, org_id])
    con.execute(
        "INSERT INTO metric_value (cycle, org_id, metric, period, value, definition, computed_at) "
        "VALUES (?, ?, 'people', 'cycle', ?, ?, now())",
        [cycle, org_id, n, f"people of zip codes {zips}"],
    )
    # as a network member's share keeps its per-person state for the roll-up
    con.execute("DELETE FROM person_state WHERE cycle = ? AND org_id = ?", [cycle, org_id])
    con.execute(
        "INSERT INTO person_state (cycle, org_id, person_id, active_end) "
        "SELECT ?, org_id, person_id, true FROM person WHERE org_id = ?",
        [cycle, org_id],
    )
if audience == "organization":  # the follow-up lists, as the real share writes them
    folder = root / "orgs" / org_id / "followup" / cycle
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("one_step", "potential_leaders", "newly_lapsed"):
        (folder / f"{name}.csv").write_text("list\\n")
print(f"{n} people")
"""
REFLECT = """\
import os, signal
from pathlib import Path

if (Path(cohort_dir) / f"kill-worker-{org_id}").exists():  # as the kernel killer would
    os.kill(int(os.environ["JPY_PARENT_PID"]), signal.SIGKILL)
said = Path(cohort_dir) / cycle / "reflections" / f"{org_id}.yml"
print(said.read_text() if said.is_file() else org_id)  # what the group said, as reflect shows it
"""
READ = """\
from pathlib import Path
from cyclebook.store import connect

with connect(Path(cohort_dir) / "store.duckdb") as con:
    print(con.execute("SELECT count(*), sum(value) FROM metric_value").fetchone())
"""


def _notebook(path: Path, params: str, body: str) -> None:
    cell = new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[cell, new_code_cell(body)])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Py"}
    nbformat.write(nb, path)


@pytest.fixture
def stand_in_notebooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook(folder / "1_sync.ipynb", ORG_PARAMS, SYNC)
    _notebook(folder / "2_share.ipynb", ORG_PARAMS, SHARE)
    _notebook(folder / "3_reflect.ipynb", ORG_PARAMS, REFLECT)
    _notebook(folder / "4_improve.ipynb", ORG_PARAMS, READ)
    _notebook(folder / "5_cohort.ipynb", COHORT_PARAMS, READ)
    monkeypatch.setattr(runner, "notebooks_dir", lambda: folder)
    # Others edit cyclebook's sources while these tests run; that would (rightly) re-run
    # every report. test_code_change_reruns checks that part of the fingerprint.
    monkeypatch.setattr(incremental, "code_fingerprint", lambda versions: "fixed for tests")
    return folder


@pytest.fixture
def cohort(tiny_cohort: Path, stand_in_notebooks: Path) -> Path:
    """Two organizations with one export each, one cycle, stand-in notebooks."""
    root = tiny_cohort
    for org in ("alpha", "beta"):
        export = root / "orgs" / org / "exports" / "people.csv"
        export.parent.mkdir(parents=True)
        export.write_text(f"{org}-1\n")
    return root
