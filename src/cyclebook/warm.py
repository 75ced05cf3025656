"""Imported once by the runner's forkserver, before it forks the workers: builds the
HTML exporter and renders a one-cell notebook, so that every worker starts with
nbconvert's templates loaded and compiled (about 0.8 s the first time, per process)."""

from __future__ import annotations

import contextlib

import nbformat

from cyclebook.render import render_notebook

with contextlib.suppress(Exception):  # a broken template shows up in the first real report
    render_notebook(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("warm")]),
        {"title": "warm", "status": "ok", "error": ""},
    )
