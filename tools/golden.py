"""Regenerate the outputs nbval compares (an explicit switch: `make golden`).

The committed notebooks are stripped, except for cells tagged ``nbval-check-output``: for
those, this script runs the notebook on the demo cohort with its default parameters and
stores the cell's outputs and execution count, which nbval (``--nbval-lax``) then compares
on every test run. Everything else is executed but not compared (it must still run
without error). Volatile text (timestamps, paths, durations) is sanitized by
``tests/nbval_sanitize.cfg``.

Run it only when a change to a checked cell's output is intended, and review the diff.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import nbformat
import papermill

ROOT = Path(__file__).resolve().parents[1]
CHECK_TAG = "nbval-check-output"


def regenerate(path: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        executed_path = Path(tmp) / path.name
        papermill.execute_notebook(
            str(path),
            str(executed_path),
            kernel_name="python3",
            cwd=str(path.parent),
            progress_bar=False,
        )
        executed = nbformat.read(executed_path, as_version=4)
    original = nbformat.read(path, as_version=4)
    by_id = {cell.get("id"): cell for cell in executed.cells}
    checked = 0
    for count, cell in enumerate(original.cells, start=1):
        if cell.cell_type != "code":
            continue
        if CHECK_TAG in cell.metadata.get("tags", []):
            ran = by_id[cell.get("id")]
            cell.outputs = ran.outputs
            cell.execution_count = count
            checked += 1
        else:
            cell.outputs = []
            cell.execution_count = None
    nbformat.write(original, path)
    return checked


def main(names: list[str]) -> int:
    all_notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    notebooks = [ROOT / "notebooks" / n for n in names] or all_notebooks
    for notebook in notebooks:
        checked = regenerate(notebook)
        print(f"{notebook.relative_to(ROOT)}: {checked} checked cell(s) stored")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
