"""Charts and awkward content in Chromium, rendered through the real report template:
every kind of image output loads and has alt text; a table wider than a phone scrolls
inside its wrapper; a long unbroken word (a pasted link) does not widen the page."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from robustness.test_readable import META, _image_notebook

from cyclebook import charts
from cyclebook import display as d
from cyclebook.render import render_notebook

from .chromium import DESKTOP, PHONE, visit

pytestmark = pytest.mark.browser


def _page(tmp_path: Path, nb, name: str, **meta) -> Path:
    path = tmp_path / f"{name}.html"
    path.write_text(render_notebook(nb, {**META, **meta}), encoding="utf-8")
    return path


def _blocks_notebook(*blocks: d.Block):
    cells = []
    for block in blocks:
        cell = new_code_cell("show()")
        cell.outputs = [new_output("display_data", data=block._repr_mimebundle_())]
        cells.append(cell)
    return new_notebook(cells=cells)


def test_every_chart_loads_on_a_phone(browser_context, tmp_path: Path) -> None:
    page = _page(tmp_path, _image_notebook(), "charts")
    record = visit(browser_context, page, PHONE, tmp_path / "charts.png")
    assert len(record.facts["imgs"]) == 7
    assert all(img["naturalWidth"] > 0 for img in record.facts["imgs"]), record.facts["imgs"]
    # the report's own SVG chart: scaled down to the phone, its labels still text
    (svg,) = record.facts["svgs"]
    assert svg["label"] == "SVG bars: b is twice a"
    assert 0 < svg["width"] <= PHONE["width"] and svg["texts"] >= 5
    assert not record.problems(PHONE["width"])


def test_chart_labels_stay_inside_their_charts(browser_context, tmp_path: Path) -> None:
    """The widest labels a group might type, in the widest face Debian draws: measured by
    the browser, none runs past the chart's edge (the margins are sized from them)."""
    long_rungs = ["Dues-paying member", "WWWWWWWWWWWWWWWWWWWWWWWW", "Leader"]
    blocks = [
        d.chart(charts.hbars(long_rungs, [3944, 762, 439], axis_label="people", alt="a")),
        d.chart(
            charts.bars(
                long_rungs,
                [
                    charts.Series("start", [1, 2, 3], "#111"),
                    charts.Series("end", [3, 2, 1], "#222"),
                ],
                axis_label="people",
                alt="b",
            )
        ),
    ]
    page = _page(tmp_path, _blocks_notebook(*blocks), "labels")
    for size in (PHONE, DESKTOP):
        record = visit(browser_context, page, size, None)
        assert len(record.facts["svgs"]) == 2
        assert all(not svg["clipped"] for svg in record.facts["svgs"]), [
            svg["clipped"] for svg in record.facts["svgs"]
        ]
        assert not record.problems(size["width"])


def test_wide_table_scrolls_inside_its_wrapper(browser_context, tmp_path: Path) -> None:
    wide = pd.DataFrame([{f"Measure number {n}": 1000 * n for n in range(14)} for _ in range(3)])
    nb = _blocks_notebook(d.table(wide, "Fourteen measures side by side"))
    record = visit(browser_context, _page(tmp_path, nb, "wide"), PHONE, tmp_path / "wide.png")
    assert record.facts["tables"][0]["width"] > PHONE["width"]
    assert record.facts["tables"][0]["wrapper"]
    assert not record.problems(PHONE["width"])


def test_long_unbroken_text_does_not_widen_the_page(browser_context, tmp_path: Path) -> None:
    word = "https://docs.example.org/" + "very-long-path-segment-" * 12
    name = "Organization" + "X" * 150
    nb = _blocks_notebook(
        d.heading(word, 2),
        d.paragraph(word),
        d.bullets([word]),
        d.note(word),
        d.definition_list([("Documents", word)]),
        d.definition_list([("Breadth: people who took any action this cycle", 6)]),
    )
    page = _page(tmp_path, nb, "long", org_name=name, title=f"Share: {name}", cohort_name=word)
    record = visit(browser_context, page, PHONE, tmp_path / "long.png")
    assert not record.problems(PHONE["width"])


def test_index_with_long_names_fits_a_phone(browser_context, tmp_path: Path) -> None:
    import json

    import yaml
    from robustness.reportset import write_tiny

    from cyclebook.config import load_cohort, load_cycle
    from cyclebook.paths import CohortPaths
    from cyclebook.runner import write_index

    root = tmp_path / "long"
    write_tiny(root)
    word = "https://docs.example.org/" + "very-long-path-segment-" * 12
    cohort = yaml.safe_load((root / "cohort.yml").read_text())
    cohort["name"] = word
    cohort["organizations"][0]["name"] = "Organization" + "X" * 150
    (root / "cohort.yml").write_text(yaml.safe_dump(cohort))
    card = yaml.safe_load((root / "c1" / "cycle.yml").read_text())
    card["title"], card["hypothesis"] = word, word
    (root / "c1" / "cycle.yml").write_text(yaml.safe_dump(card))
    paths = CohortPaths.of(root)
    paths.manifest("c1").parent.mkdir(parents=True)
    job = {
        "key": "c1/alpha/share/organization",
        "org_id": "alpha",
        "phase": "share",
        "audience": "organization",
        "status": "failed",
        "seconds": 1.0,
        "output_html": None,
        "error": "ExportError: " + word,
    }
    paths.manifest("c1").write_text(
        json.dumps({"created_at": "2026-09-14T00:00:00+00:00", "jobs": [job]})
    )
    index = write_index(paths, load_cohort(root), load_cycle(root, "c1"))
    record = visit(browser_context, index, PHONE, tmp_path / "index.png")
    assert not record.problems(PHONE["width"])


def test_failed_and_withheld_pages(browser_context, tmp_path: Path) -> None:
    """The pages a reader gets when a phase failed or a report was withheld."""
    from robustness.reportset import write_tiny
    from robustness.test_readable import problems as readability

    from cyclebook import runner

    root = tmp_path / "tiny"
    write_tiny(root)
    _, _, chains = runner.plan(root, phases=["share"], orgs=["beta"])
    job = chains[0][0]
    reason = "personal data found in the rendered report (an email); the report was withheld"
    withheld = tmp_path / "withheld.html"
    withheld.write_text(runner._withheld_page(job, reason), encoding="utf-8")
    failed_nb = _blocks_notebook(d.note("ExportError: an/activists.csv: binary", kind="error"))
    failed = _page(
        tmp_path,
        failed_nb,
        "failed",
        status="failed",
        error="ExportError: [beta] an/activists.csv: the file is binary, not CSV text " * 3,
    )
    for page in (withheld, failed):
        record = visit(browser_context, page, PHONE, tmp_path / f"{page.stem}.png")
        assert not record.problems(PHONE["width"]), page.name
        assert not readability(page.read_text(encoding="utf-8")), page.name
        assert "withheld" in record.facts["text"] or "did not finish" in record.facts["text"]
