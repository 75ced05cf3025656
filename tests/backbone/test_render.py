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
