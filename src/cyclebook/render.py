"""Render an executed phase notebook to a self-contained HTML report.

Uses nbconvert's HTMLExporter with the ``templates/cyclebook`` template (which extends
``lab``). Code is hidden with ``exclude_input`` (``report_mode`` does not hide it in
nbconvert), cells tagged ``remove-cell`` are dropped by ``TagRemovePreprocessor``, and
widget state is stripped because widgets render nothing in static HTML.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import nbformat

from cyclebook.errors import own_error_names
from cyclebook.paths import templates_dir
from cyclebook.yamlio import write_text_atomic

REMOVE_TAGS = {"remove-cell", "parameters", "injected-parameters"}
# the cells Papermill adds to a notebook that stopped ("An Exception was encountered at
# 'In [4]'", "Execution using papermill encountered an exception here and stopped")
PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"


def _without_tracebacks(nb: nbformat.NotebookNode) -> bool:
    """Drop the traceback of an error cyclebook raised on purpose (an export it cannot
    read, an invalid cohort.yml), and Papermill's markers of where it stopped: the report
    is read by organizers, its banner gives the message and the fix, and the phase's own
    note says it where it happened; the frames of cyclebook's code (and DuckDB's) told
    them nothing. The executed notebook keeps them. An error cyclebook did not foresee
    keeps its traceback. Whether any traceback is left."""
    ours = own_error_names()
    stopped_on_ours = False
    for cell in nb.cells:
        outputs = cell.get("outputs") or []
        kept = [
            o for o in outputs if not (o.get("output_type") == "error" and o.get("ename") in ours)
        ]
        if len(kept) != len(outputs):
            stopped_on_ours = True
            cell.outputs = kept
    if stopped_on_ours:
        nb.cells = [c for c in nb.cells if PAPERMILL_ERROR_TAG not in c.metadata.get("tags", [])]
    return any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs") or [])


# What HTMLExporter's closing BeautifulSoup pass adds (nbconvert 7.16+, html.py): alt
# text on images without any, and tabindex="0" on cell inputs and outputs, so keyboard
# users can reach and scroll them. The same, on the opening tags the template wrote.
_FOCUSABLE_DIV = re.compile(
    r"<div\b(?![^>]*\btabindex=)"
    r"(?=[^>]*\bclass=\"(?:[^\"]*\s)?(?:jp-Cell-inputWrapper|jp-OutputArea-output)[\s\"])"
)
_IMG_WITHOUT_ALT = re.compile(r"<img\b(?![^>]*\balt=)")
MISSING_ALT = "No description has been provided for this image"


def accessible(html_text: str) -> str:
    """Add what nbconvert's BeautifulSoup pass adds, without parsing the page."""
    html_text = _FOCUSABLE_DIV.sub('<div tabindex="0"', html_text)
    return _IMG_WITHOUT_ALT.sub(f'<img alt="{MISSING_ALT}"', html_text)


@functools.lru_cache(maxsize=1)
def _exporter():
    # Imported lazily: nbconvert's import is part of every worker's start-up cost.
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    class ReportExporter(HTMLExporter):
        """HTMLExporter without its closing BeautifulSoup pass, which parses and writes
        out the whole page again (about 60% of a report's render time); what the pass
        adds, :func:`accessible` adds. The rest is HTMLExporter.from_notebook_node."""

        def from_notebook_node(self, nb, resources=None, **kw):
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            highlight_code = self.filters.get(
                "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)
            )
            resources = self._init_resources(resources)
            filter_data_type = WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources
            )
            self.register_filter("highlight_code", highlight_code)
            self.register_filter("filter_data_type", filter_data_type)
            html_text, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            return accessible(html_text), resources

    config = Config()
    config.TagRemovePreprocessor.remove_cell_tags = REMOVE_TAGS
    config.TagRemovePreprocessor.remove_input_tags = {"hide-input"}
    config.TagRemovePreprocessor.enabled = True
    # the notebook is validated once, after the last preprocessor, not after each of the
    # thirteen (Papermill wrote it; nothing here makes it invalid)
    config.Exporter.optimistic_validation = True
    exporter = ReportExporter(
        config=config,
        template_name="cyclebook",
        extra_template_basedirs=[str(templates_dir())],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.register_preprocessor(TagRemovePreprocessor(config=config), enabled=True)
    return exporter


def render_notebook(nb: nbformat.NotebookNode, report_meta: dict[str, Any]) -> str:
    """HTML text for an executed notebook; ``report_meta`` fills the template header."""
    nb = nbformat.from_dict(nb)  # a copy: the saved notebook keeps its own metadata
    nb.metadata.pop("widgets", None)
    nb.metadata["cyclebook"] = {**nb.metadata.get("cyclebook", {}), **report_meta}
    nb.metadata["title"] = report_meta.get("title", "cyclebook report")
    nb.metadata["cyclebook"]["traceback_below"] = _without_tracebacks(nb)
    body, _resources = _exporter().from_notebook_node(nb)
    return body


def render_file(notebook_path: Path, html_path: Path, report_meta: dict[str, Any]) -> str:
    nb = nbformat.read(notebook_path, as_version=4)
    body = render_notebook(nb, report_meta)
    write_text_atomic(html_path, body)
    return body
