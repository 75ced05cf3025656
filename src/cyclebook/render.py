"""Render an executed phase notebook to a self-contained HTML report.

Uses nbconvert's HTMLExporter with the ``templates/cyclebook`` template (which extends
``lab``). Code is hidden with ``exclude_input`` (``report_mode`` does not hide it in
nbconvert), cells tagged ``remove-cell`` are dropped by ``TagRemovePreprocessor``, and
widget state is stripped because widgets render nothing in static HTML.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import nbformat

from cyclebook.paths import templates_dir
from cyclebook.yamlio import write_text_atomic

REMOVE_TAGS = {"remove-cell", "parameters", "injected-parameters"}


@functools.lru_cache(maxsize=1)
def _exporter():
    # Imported lazily: nbconvert's import is part of every worker's start-up cost.
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.remove_cell_tags = REMOVE_TAGS
    config.TagRemovePreprocessor.remove_input_tags = {"hide-input"}
    config.TagRemovePreprocessor.enabled = True
    exporter = HTMLExporter(
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
    body, _resources = _exporter().from_notebook_node(nb)
    return body


def render_file(notebook_path: Path, html_path: Path, report_meta: dict[str, Any]) -> str:
    nb = nbformat.read(notebook_path, as_version=4)
    body = render_notebook(nb, report_meta)
    write_text_atomic(html_path, body)
    return body
