"""Fail loudly on parameters: unknown names and wrong types are refused before a kernel."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from cyclebook.errors import ParameterError
from cyclebook.params import (
    declared_parameters,
    parse_cli_value,
    to_python,
    validate_parameters,
)
from cyclebook.paths import NOTEBOOKS, notebooks_dir

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
