"""Fail loudly on parameters: unknown names and wrong types are refused before a kernel,
and by a notebook's first call when it is run as it is."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from cyclebook.errors import NotebookParameterError, ParameterError
from cyclebook.params import (
    declared_parameters,
    parameters_cell,
    parse_cli_value,
    to_python,
    validate_parameters,
)
from cyclebook.paths import NOTEBOOKS, notebooks_dir
from cyclebook.phases import load_context, reflect

PARAMS = """\
name: str = "x"  # a name
count: int = 3  # how many
ratio: float = 0.5  # a share
flag: bool = False  # switch
tags: list[str] = ["a"]  # labels
"""


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    cell = new_code_cell(PARAMS)
    cell.metadata["tags"] = ["parameters"]
    path = tmp_path / "nb.ipynb"
    nb = new_notebook(cells=[cell, new_code_cell("print(name)")])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Py"}
    nbformat.write(nb, path)
    return path


def test_declared(notebook: Path) -> None:
    declared = declared_parameters(notebook)
    assert list(declared) == ["name", "count", "ratio", "flag", "tags"]
    assert declared["count"].default == 3
    assert declared["flag"].help == "switch"


def test_unknown_and_wrong_types_listed_together(notebook: Path) -> None:
    with pytest.raises(ParameterError) as caught:
        validate_parameters(notebook, {"nmae": "y", "count": "3", "flag": "False", "tags": [1]})
    problems = caught.value.problems
    assert len(problems) == 4
    assert "unknown parameter 'nmae'" in problems[0]
    assert "count='3' is str" in problems[1]
    assert "flag='False' is str" in problems[2]
    assert "tags=[1]" in problems[3]


def test_numpy_scalars_become_python(notebook: Path) -> None:
    clean = validate_parameters(
        notebook, {"flag": np.bool_(False), "count": np.int64(7), "ratio": np.float32(0.25)}
    )
    assert clean == {"flag": False, "count": 7, "ratio": 0.25}
    assert type(clean["flag"]) is bool and type(clean["count"]) is int
    assert to_python({"a": [np.int8(1)]}) == {"a": [1]}


def test_bool_is_not_an_int(notebook: Path) -> None:
    with pytest.raises(ParameterError, match="count=True is bool"):
        validate_parameters(notebook, {"count": True})
    assert validate_parameters(notebook, {"ratio": 2}) == {"ratio": 2}


def test_cli_values_follow_declared_type(notebook: Path) -> None:
    assert parse_cli_value(notebook, "name", "007") == "007"
    assert parse_cli_value(notebook, "count", "007") == 7
    assert parse_cli_value(notebook, "flag", "false") is False
    assert parse_cli_value(notebook, "tags", '["x", "y"]') == ["x", "y"]
    with pytest.raises(ParameterError, match="expected true or false"):
        parse_cli_value(notebook, "flag", "maybe")
    with pytest.raises(ParameterError, match="unknown parameter"):
        parse_cli_value(notebook, "nope", "1")


def test_notebook_without_parameters_cell(tmp_path: Path) -> None:
    path = tmp_path / "bare.ipynb"
    nb = new_notebook(cells=[new_code_cell("x = 1")])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Py"}
    nbformat.write(nb, path)
    with pytest.raises(ParameterError, match="no cell tagged 'parameters'"):
        declared_parameters(path)


@pytest.mark.parametrize("phase", list(NOTEBOOKS))
def test_phase_notebooks_declare_typed_parameters_with_help(phase: str) -> None:
    path = notebooks_dir() / NOTEBOOKS[phase]
    declared = declared_parameters(path)
    assert {"cohort_dir", "cycle", "audience"} <= set(declared)
    for spec in declared.values():
        assert spec.type_name != "None", f"{phase}: {spec.name} has no type annotation"
        assert spec.help, f"{phase}: {spec.name} has no help comment"
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "try:" not in source and "except" not in source
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("phase", list(NOTEBOOKS))
def test_phase_narration_speaks_to_the_reports_readers(phase: str) -> None:
    """The reports hide the code: "The next cell reads every export" meant nothing to an
    organizer reading the sync report."""
    nb = nbformat.read(notebooks_dir() / NOTEBOOKS[phase], as_version=4)
    prose = " ".join(c.source for c in nb.cells if c.cell_type == "markdown").lower()
    for words in ("next cell", "this cell", "the cell below", "cell above"):
        assert words not in prose, f"{phase}: {words!r}"


# ---------------------------------------------------------------- a notebook run as it is


@pytest.mark.parametrize("phase", list(NOTEBOOKS))
def test_the_kernel_reads_the_parameters_cell_as_papermill_does(phase: str) -> None:
    """The first call of a notebook reads its declarations without Papermill (a second
    of import in every kernel): the same names, types, defaults and help."""
    path = notebooks_dir() / NOTEBOOKS[phase]
    assert parameters_cell(path) == declared_parameters(path)


def test_the_kernel_reads_what_papermill_reads(notebook: Path) -> None:
    assert parameters_cell(notebook) == declared_parameters(notebook)


@pytest.mark.parametrize(
    ("phase", "values", "problem", "fix"),
    [
        (
            "share",
            {"cycle": 2026},
            "cycle = 2026 is int, but cycle must be text in quotes (str) (cycle folder under "
            "the cohort (holds cycle.yml))",
            'write cycle = "2026", then run the notebook again from the top.',
        ),
        (
            "cohort",
            {"cohort_dir": 3.5},
            "cohort_dir = 3.5 is float, but cohort_dir must be text in quotes (str)",
            'write cohort_dir = "3.5"',
        ),
        (
            "sync",
            {"audience": "funders"},
            "audience = 'funders' is not an audience cyclebook renders for",
            "set audience to one of 'organization', 'cohort', 'funder'",
        ),
        (
            "improve",
            {"audience": "funder"},
            "audience = 'funder': the improve report is rendered for organization only",
            "set audience to 'organization'",
        ),
    ],
    ids=["cycle-unquoted", "cohort_dir-a-number", "audience-unknown", "audience-not-of-phase"],
)
def test_a_notebook_run_as_it_is_checks_its_parameters_at_its_first_call(
    phase: str, values: dict, problem: str, fix: str
) -> None:
    """JupyterLab's Run All starts no check before the kernel: a parameters cell edited
    to ``cycle = 2026`` failed with a TypeError deep in pathlib. load_context names the
    parameter, the value, the type expected and how to write it, and says where it was
    found (not "before starting a kernel": the notebook is in one). Nothing is read
    before the check: the cohort folder need not exist."""
    given = {"cohort_dir": "/nowhere", "cycle": "2026-c2", "org_id": "org"} | values
    if phase == "cohort":
        given["org_id"] = None
    given.setdefault("audience", "cohort" if phase == "cohort" else "organization")
    with pytest.raises(NotebookParameterError) as caught:
        load_context(phase, given["cohort_dir"], given["cycle"], given["org_id"], given["audience"])
    said = str(caught.value)
    assert said.startswith(
        f"{NOTEBOOKS[phase]}: its parameters cell sets a value this notebook cannot use:\n"
        f"  - {problem}"
    )
    assert "Fix: in the parameters cell at the top, " in said and fix in said
    assert "before starting a kernel" not in said
    assert isinstance(caught.value, ParameterError)  # what the callers catch


def test_reflect_interactive_must_be_true_or_false(demo_config: Path) -> None:
    """``interactive = "yes"`` is truthy: it showed the form in a report without a word."""
    ctx = load_context("reflect", str(demo_config), "2026-c2", "eastside-tenants")
    with pytest.raises(NotebookParameterError) as caught:
        reflect.report(ctx, interactive="yes")
    assert caught.value.problems == [
        "interactive = 'yes' is str, but interactive must be True or False (bool) (show the "
        "form (JupyterLab); keep False for reports)"
    ]
    assert "write interactive = True, then run" in str(caught.value)
