"""Readable reports: alt text on every figure (and no nbconvert alt-text warning), one
h1 and no skipped heading levels, tables with header cells and captions, a language, a
title and a phone viewport. Checked over every report of a real run, and over notebooks
with every kind of image output rendered through the report template."""

from __future__ import annotations

import base64
import html.parser
import io
import logging
from dataclasses import dataclass, field

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from cyclebook.render import render_notebook

from .reportset import ReportSet, describe

NO_ALT_DEFAULT = "No description has been provided"


@dataclass
class Outline:
    lang: str | None = None
    title: str = ""
    viewport: bool = False
    headings: list[tuple[int, str]] = field(default_factory=list)
    imgs: list[dict[str, str | None]] = field(default_factory=list)
    svgs: list[dict[str, str | None]] = field(default_factory=list)
    tables: list[dict] = field(default_factory=list)


class _OutlineParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.outline = Outline()
        self._in: list[str] = []
        self._heading: list[str] | None = None
        self._title: list[str] | None = None
        self._tables: list[dict] = []
        self._caption: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.outline.lang = attrs.get("lang")
        elif tag == "title" and "svg" not in self._in:  # an SVG's title is its own
            self._title = []
        elif tag == "meta" and attrs.get("name") == "viewport":
            self.outline.viewport = "width=device-width" in (attrs.get("content") or "")
        elif tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self._heading = [tag]
        elif tag == "img":
            self.outline.imgs.append(attrs)
        elif tag == "svg":
            self.outline.svgs.append(attrs)
        elif tag == "table":
            self._tables.append({"caption": None, "th": 0, "thead_th": 0, "rows": 0})
        elif tag == "caption" and self._tables:
            self._caption = []
        elif tag == "th" and self._tables:
            self._tables[-1]["th"] += 1
            if "thead" in self._in:
                self._tables[-1]["thead_th"] += 1
        elif tag == "tr" and self._tables:
            self._tables[-1]["rows"] += 1
        if tag not in {"meta", "img", "br", "link", "hr", "input"}:
            self._in.append(tag)

    def handle_endtag(self, tag):
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"} and self._heading:
            self.outline.headings.append((int(tag[1]), "".join(self._heading[1:]).strip()))
            self._heading = None
        elif tag == "title" and self._title is not None:
            self.outline.title = "".join(self._title).strip()
            self._title = None
        elif tag == "caption" and self._caption is not None:
            self._tables[-1]["caption"] = "".join(self._caption).strip()
            self._caption = None
        elif tag == "table" and self._tables:
            self.outline.tables.append(self._tables.pop())
        if tag in self._in:
            while self._in and self._in.pop() != tag:
                pass

    def handle_data(self, data):
        for buffer in (self._heading, self._title, self._caption):
            if buffer is not None:
                buffer.append(data)


def outline(html_text: str) -> Outline:
    parser = _OutlineParser()
    parser.feed(html_text)
    parser.close()
    return parser.outline


def problems(html_text: str) -> list[str]:
    """Every readability rule the page breaks, in words."""
    page = outline(html_text)
    found = []
    if not page.lang:
        found.append("<html> has no lang")
    if not page.title:
        found.append("no <title>")
    if not page.viewport:
        found.append("no width=device-width viewport")
    levels = [level for level, _ in page.headings]
    if levels.count(1) != 1:
        found.append(f"{levels.count(1)} h1 headings (one expected)")
    if levels and levels[0] != 1:
        found.append(f"the first heading is h{levels[0]} {page.headings[0][1]!r}, not h1")
    for (before, _), (after, text) in zip(page.headings, page.headings[1:], strict=False):
        if after > before + 1:
            found.append(f"heading level skipped: h{before} then h{after} {text!r}")
    for level, text in page.headings:
        if not text:
            found.append(f"empty h{level}")
    for img in page.imgs:
        alt = (img.get("alt") or "").strip()
        if not alt:
            found.append(f"<img> without alt text: {str(img.get('src'))[:40]}")
        elif NO_ALT_DEFAULT in alt:
            found.append("<img> with nbconvert's missing-alt default")
    for svg in page.svgs:
        if svg.get("role") != "img" or not (svg.get("aria-label") or "").strip():
            found.append(f"an inline <svg> without role=img and an aria-label: {svg}")
    for table in page.tables:
        if not table["caption"]:
            found.append("a table without a caption")
        if not table["th"]:
            found.append(f"a table without header cells (caption {table['caption']!r})")
    return found


# --------------------------------------------------------------------------- real run


def test_every_report_is_readable(reportset: ReportSet) -> None:
    assert reportset.exit_code == 0, describe(reportset)
    found = {}
    pages = reportset.all_pages()
    assert len(pages) > 9
    for page in pages:
        broken = problems(page.read_text(encoding="utf-8"))
        if broken:
            found[str(page.relative_to(reportset.root))] = broken
    assert not found, found


def test_the_run_logged_no_alt_text_warning(reportset: ReportSet) -> None:
    assert "Alternative text is missing" not in reportset.output


def test_every_report_has_tables_with_headers(reportset: ReportSet) -> None:
    """Every report carries the cycle card's metrics table (header row + caption)."""
    for page in reportset.all_pages():
        tables = outline(page.read_text(encoding="utf-8")).tables
        assert tables, f"{page} has no table"
        assert all(t["thead_th"] for t in tables if t["rows"] > 1), page


# --------------------------------------------------------------------------- template


def _png() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([1, 2, 3])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=30)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _image_notebook():
    from cyclebook import charts
    from cyclebook import display as d

    png = _png()
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10">'
        '<rect width="20" height="10"/></svg>'
    )
    cells = []

    def output_cell(*outputs, **metadata):
        cell = new_code_cell("plot()")
        cell.outputs = list(outputs)
        cell.metadata.update(metadata)
        cells.append(cell)

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.bar(["a", "b"], [1, 2])
    block = d.figure(fig, "Bar chart: b is twice a", "Two bars")
    output_cell(new_output("display_data", data=block._repr_mimebundle_()))
    # a report's own chart: inline SVG
    drawn = charts.bars(
        ["a", "b"],
        [charts.Series("n", [1, 2], "#000")],
        alt="SVG bars: b is twice a",
        axis_label="n",
    )
    output_cell(new_output("display_data", data=d.chart(drawn, "Two SVG bars")._repr_mimebundle_()))
    # a plain matplotlib output: no alt anywhere
    output_cell(new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}))
    # alt in the output's metadata, and in the cell's metadata
    output_cell(
        new_output(
            "display_data",
            data={"image/png": png, "text/plain": "fig"},
            metadata={"image/png": {"alt": "Line rising from 1 to 3"}},
        )
    )
    output_cell(
        new_output("display_data", data={"image/png": png, "text/plain": "fig"}),
        alt="Cell-level description",
    )
    output_cell(new_output("display_data", data={"image/jpeg": png, "text/plain": "jpeg"}))
    output_cell(new_output("display_data", data={"image/svg+xml": svg, "text/plain": "svg"}))
    output_cell(new_output("execute_result", data={"image/png": png}, execution_count=1))
    return new_notebook(cells=[new_markdown_cell("## Charts"), *cells])


META = {
    "title": "Share: Alpha",
    "org_name": "Alpha",
    "cohort_name": "Cohort",
    "cycle": "c1",
    "cycle_title": "First",
    "phase": "Share",
    "start": "2026-08-03",
    "end": "2026-09-14",
    "audience": "organization",
}


def test_every_image_output_gets_alt_text_without_warning(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        html_text = render_notebook(_image_notebook(), META)
    assert "Alternative text is missing" not in caplog.text
    page = outline(html_text)
    assert len(page.imgs) == 7
    assert [svg["aria-label"] for svg in page.svgs] == ["SVG bars: b is twice a"]
    assert page.title.startswith("Share: Alpha")  # not the chart's own <title>
    assert not problems(html_text), problems(html_text)
    alts = [img["alt"] for img in page.imgs]
    assert "Bar chart: b is twice a" in alts
    assert "Line rising from 1 to 3" in alts
    assert "Cell-level description" in alts


@pytest.mark.parametrize(
    ("markdown", "rule"),
    [
        ("# A second title", "2 h1 headings"),
        ("## Fine\n\n#### Skipped", "heading level skipped: h2 then h4"),
    ],
)
def test_the_outline_check_catches_bad_structure(markdown: str, rule: str) -> None:
    html_text = render_notebook(new_notebook(cells=[new_markdown_cell(markdown)]), META)
    assert any(rule in problem for problem in problems(html_text)), problems(html_text)


def test_the_table_check_catches_a_bare_table() -> None:
    bare = "<html lang='en'><head><title>t</title></head><body><h1>T</h1>"
    bare += "<table><tr><td>1</td></tr></table></body></html>"
    found = problems(bare)
    assert "a table without a caption" in found
    assert any("without header cells" in p for p in found)


def test_the_svg_check_catches_an_unlabelled_chart() -> None:
    page = "<html lang='en'><head><title>t</title></head><body><h1>T</h1>"
    page += '<svg viewBox="0 0 2 2"><title>chart</title><rect width="2" height="2"/></svg>'
    assert any("without role=img and an aria-label" in p for p in problems(page + "</body>"))
    assert outline(page).title == "t"
