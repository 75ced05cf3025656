"""The report template: code hidden, self-contained, header and escaping."""

from __future__ import annotations

import re

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from cyclebook.render import render_notebook

HOSTILE = "<script>alert(1)</script>"


def _notebook():
    params = new_code_cell('org_id: str = "SECRET_PARAM_CODE"  # org', execution_count=1)
    params.metadata["tags"] = ["parameters"]
    shown = new_code_cell("print('visible output')", execution_count=2)
    shown.outputs = [new_output("stream", name="stdout", text="visible output\n")]
    image = new_code_cell("plot()", execution_count=3)
    image.outputs = [
        new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "fig"})
    ]
    return new_notebook(cells=[new_markdown_cell("## Narration"), params, shown, image])


def _meta(**extra):
    return {
        "title": f"Share: {HOSTILE}",
        "org_name": HOSTILE,
        "cohort_name": "Cohort",
        "cycle": "c1",
        "cycle_title": "First",
        "phase": "Share",
        "start": "2026-08-03",
        "end": "2026-09-14",
        "audience": "funder",
        **extra,
    }


def test_code_hidden_header_escaped_and_offline() -> None:
    html_text = render_notebook(_notebook(), _meta())
    assert "SECRET_PARAM_CODE" not in html_text  # the parameters cell is removed
    assert "print(&#39;visible" not in html_text and "print('visible" not in html_text
    assert "visible output" in html_text
    assert HOSTILE not in html_text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_text
    assert "<script" not in html_text.lower()
    # nothing is loaded from a network: no src/href to http(s), no @import
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html_text)
    assert "@import" not in html_text
    assert "Content-Security-Policy" in html_text
    assert ">funder<" in html_text
    assert "2026-08-03" in html_text


def test_png_without_alt_gets_description() -> None:
    html_text = render_notebook(_notebook(), _meta())
    imgs = re.findall(r"<img[^>]*>", html_text)
    assert imgs and all('alt="' in img for img in imgs)
    assert "No description has been provided" not in html_text


def test_failed_banner() -> None:
    html_text = render_notebook(
        _notebook(), _meta(status="failed", error="ExportError: bad <file>")
    )
    assert "This phase did not finish" in html_text
    assert "ExportError: bad &lt;file&gt;" in html_text


def test_the_same_page_as_nbconvert_without_its_second_parse() -> None:
    """cyclebook's exporter skips HTMLExporter's closing BeautifulSoup pass and adds what
    it adds by itself: the page has the same elements, attributes (tabindex on inputs
    and outputs, alt on a bare image) and text as nbconvert's own exporter gives."""
    from bs4 import BeautifulSoup
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    from cyclebook import render

    nb = _notebook()
    table = new_code_cell("show()", execution_count=4)
    table.outputs = [
        new_output(
            "display_data",
            data={
                "text/html": '<div class="cb-note"><img src="data:image/png;base64,iVBO">'
                "<table><tr><td>3 &amp; 4</td></tr></table></div>",
                "text/plain": "note",
            },
        )
    ]
    nb.cells.append(table)
    ours = render._exporter()
    stock = HTMLExporter(
        config=ours.config,
        template_name="cyclebook",
        extra_template_basedirs=ours.extra_template_basedirs,
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    stock.register_preprocessor(TagRemovePreprocessor(config=ours.config), enabled=True)
    nb.metadata["cyclebook"] = _meta()
    nb.metadata["title"] = "A report"
    mine, _ = ours.from_notebook_node(render.nbformat.from_dict(nb))
    theirs, _ = stock.from_notebook_node(render.nbformat.from_dict(nb))

    def shape(html_text: str) -> list:
        soup = BeautifulSoup(html_text, features="html.parser")
        return [
            (
                tag.name,
                sorted(
                    (k, " ".join(v) if isinstance(v, list) else v) for k, v in tag.attrs.items()
                ),
            )
            for tag in soup.find_all(True)
        ]

    assert shape(mine) == shape(theirs)
    text = BeautifulSoup(mine, "html.parser").get_text()
    assert text == BeautifulSoup(theirs, "html.parser").get_text()
    assert "3 & 4" in text and "visible output" in text
    focusable = [attrs for name, attrs in shape(mine) if ("tabindex", "0") in attrs]
    assert len(focusable) >= 4  # the markdown cell, and each output
    assert render.MISSING_ALT in mine  # the bare image inside the HTML output
    assert mine.count("<img") == 2 and mine.count(' alt="') == 2


def _stopped_notebook(ename: str, evalue: str):
    """A notebook as Papermill leaves it when a cell raised: its two marker cells and the
    cell's error output, with the frames of the code it went through."""
    nb = _notebook()
    top = new_markdown_cell(
        '<span style="color:red">An Exception was encountered at In [4].</span>'
    )
    here = new_markdown_cell(
        '<span id="papermill-error-cell">Execution using papermill encountered an exception '
        "here and stopped:</span>"
    )
    for marker in (top, here):
        marker.metadata["tags"] = ["papermill-error-cell-tag"]
    stopped = new_code_cell("sync.report(ctx)", execution_count=4)
    stopped.outputs = [
        new_output(
            "error",
            ename=ename,
            evalue=evalue,
            traceback=[
                "Traceback (most recent call last)",
                "File /src/cyclebook/sync/stage.py:909, in Stage._read_pages(self, pages)",
                f"{ename}: {evalue}",
            ],
        )
    ]
    nb.cells = [top, *nb.cells, here, stopped]
    return nb


def test_an_error_cyclebook_raised_on_purpose_shows_no_traceback() -> None:
    """A group whose export could not be read read, below the banner that says what to
    fix, Papermill's "An Exception was encountered at 'In [4]'" and a Python traceback
    through cyclebook's and DuckDB's code. The banner says it; the rest is left to the
    executed notebook. An error cyclebook did not foresee keeps its traceback."""
    message = "[org] mobilize/p1.json: is not valid JSON\n  Fix: download the page again."
    html_text = render_notebook(
        _stopped_notebook("ExportError", message),
        _meta(status="failed", error="ExportError: " + message),
    )
    assert "This phase did not finish" in html_text and "download the page again" in html_text
    for internal in ("Traceback", "stage.py", "_read_pages", "papermill", "In [4]"):
        assert internal not in html_text, internal
    assert "The error is shown below where it happened" not in html_text
    assert "visible output" in html_text

    html_text = render_notebook(
        _stopped_notebook("KeyError", "'rows'"),
        _meta(status="failed", error="KeyError: 'rows'"),
    )
    assert "Traceback" in html_text and "_read_pages" in html_text
    assert "The error is shown below where it happened" in html_text
