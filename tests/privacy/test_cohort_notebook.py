"""End to end: the cohort notebook run by Papermill and rendered with the report
template, for each audience; the guard finds nothing in it, and finds a planted value in
a report rendered the same way."""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
import pytest

from cyclebook.errors import PrivacyError
from cyclebook.paths import notebooks_dir
from cyclebook.privacy import guard_org_ids, guard_report, scan_html
from cyclebook.render import render_notebook

from .cohortfix import PLANTED_VALUES, make_cohort

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory) -> Path:
    return make_cohort(tmp_path_factory.mktemp("nb") / "cohort")


def _run(cohort_dir: Path, audience: str, out: Path) -> nbformat.NotebookNode:
    import papermill

    papermill.execute_notebook(
        str(notebooks_dir() / "5_cohort.ipynb"),
        str(out),
        parameters={"cohort_dir": str(cohort_dir), "cycle": "c2", "audience": audience},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(notebooks_dir()),
    )
    return nbformat.read(str(out), as_version=4)


@pytest.mark.parametrize("audience", ["cohort", "funder"])
def test_cohort_report_for_each_audience_is_clean(cohort_dir, tmp_path, audience):
    from cyclebook.config import load_cohort

    nb = _run(cohort_dir, audience, tmp_path / f"cohort.{audience}.ipynb")
    page = render_notebook(nb, {"title": "Cohort summary", "audience": audience})
    visible = html.unescape(re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page))
    for value in PLANTED_VALUES:
        assert value.lower() not in visible.lower()
    assert "Measure Gallery" in visible
    path = tmp_path / f"cohort.{audience}.html"
    path.write_text(page)
    guard_report(path, cohort_dir / "store.duckdb", guard_org_ids(load_cohort(cohort_dir), None))
    assert "Report withheld" not in path.read_text()


def test_guard_names_the_cell_in_a_template_rendered_report(cohort_dir, tmp_path):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("audience = 'cohort'")
    params.metadata["tags"] = ["parameters"]  # dropped by the template
    ok = nbformat.v4.new_code_cell("show()")
    ok.outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": "<p>Active base 240</p>"})
    ]
    bad = nbformat.v4.new_code_cell("show()")
    bad.outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": "<td>Delphine Marchetti</td>"})
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("## Report"), params, ok, bad]
    page = render_notebook(nb, {"title": "Share", "audience": "cohort"})
    leaks = scan_html(page, cohort_dir / "store.duckdb", ["net", "net-a", "net-b"])
    assert [(leak.kind, leak.org_id, leak.cell_id) for leak in leaks] == [("name", "net-b", bad.id)]
    path = tmp_path / "share.cohort.html"
    path.write_text(page)
    with pytest.raises(
        PrivacyError, match=f"a full name of a member of net-b in cell 2, id {bad.id}"
    ):
        guard_report(path, cohort_dir / "store.duckdb", ["net", "net-a", "net-b"])
    assert "Marchetti" not in path.read_text()
