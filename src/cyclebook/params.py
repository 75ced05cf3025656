"""Fail loudly on parameters.

Papermill only warns when a parameter is not declared in the notebook, and passes numpy
scalars through as strings (``np.bool_(False)`` becomes the truthy ``"False"``). Before any
kernel starts, cyclebook checks what it passes against ``papermill.inspect_notebook``:
unknown names and wrong types are refused, numpy scalars become Python values, and
command-line strings are converted by the declared type (so ``-p org_id=007`` stays the
string ``"007"``).

A notebook run as it is (JupyterLab's Run All, its parameters cell edited by hand) has
no such check before its kernel: its first call into cyclebook checks the values it is
given against the same declarations (:func:`check_notebook_values`), read from the
cell without importing Papermill into the kernel (:func:`parameters_cell`).
"""

from __future__ import annotations

import ast
import functools
import json
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cyclebook.errors import NotebookParameterError, ParameterError

_SCALARS: dict[str, type | tuple[type, ...]] = {
    "str": str,
    "int": int,
    "float": (int, float),
    "bool": bool,
}


@dataclass(frozen=True)
class DeclaredParameter:
    name: str
    type_name: str
    default: Any
    help: str


@functools.lru_cache(maxsize=64)
def _declared_cached(path: str, mtime_ns: int) -> dict[str, DeclaredParameter]:
    import papermill

    declared = {}
    for name, info in papermill.inspect_notebook(path).items():
        try:
            default = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError):
            default = info["default"]
        declared[name] = DeclaredParameter(
            name=name,
            type_name=(info.get("inferred_type_name") or "None").replace(" ", ""),
            default=default,
            help=info.get("help") or "",
        )
    return declared


def declared_parameters(notebook: str | Path) -> dict[str, DeclaredParameter]:
    """The notebook's ``parameters`` cell: name -> declared type, default and help."""
    path = Path(notebook).resolve()
    if not path.exists():
        raise ParameterError(path, ["notebook not found"], fix="check the notebooks/ folder.")
    declared = _declared_cached(str(path), path.stat().st_mtime_ns)
    if not declared:
        raise ParameterError(
            path,
            ["the notebook has no cell tagged 'parameters'"],
            fix="tag the first code cell 'parameters' (View > Cell Toolbar > Tags).",
        )
    return declared


def to_python(value: Any) -> Any:
    """numpy/pandas scalars -> plain Python values (recursively for lists and dicts)."""
    if isinstance(value, dict):
        return {key: to_python(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_python(item) for item in value]
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__.startswith("numpy"):
        return item()
    return value


def _matches(value: Any, type_name: str) -> bool:
    if type_name in {"None", "Any", ""}:
        return True
    optional = type_name.startswith("Optional[") or type_name.endswith("|None")
    if value is None:
        return optional
    base = type_name.removeprefix("Optional[").removesuffix("]") if optional else type_name
    base = base.removesuffix("|None")
    if base in _SCALARS:
        if base in {"int", "float"} and isinstance(value, bool):
            return False
        if base == "float":
            return isinstance(value, numbers.Real)
        return isinstance(value, _SCALARS[base])
    if base.startswith("list[") or base == "list":
        if not isinstance(value, list):
            return False
        inner = base[5:-1] if base.startswith("list[") else ""
        return all(_matches(item, inner) for item in value) if inner else True
    if base.startswith("dict") or base == "dict":
        return isinstance(value, dict)
    return True


def validate_parameters(notebook: str | Path, parameters: dict[str, Any]) -> dict[str, Any]:
    """Return the parameters as plain Python values, or raise listing every problem."""
    declared = declared_parameters(notebook)
    problems = []
    clean: dict[str, Any] = {}
    for name, raw in parameters.items():
        if name not in declared:
            problems.append(
                f"unknown parameter {name!r}; this notebook declares: {', '.join(declared)}"
            )
            continue
        value = to_python(raw)
        spec = declared[name]
        if not _matches(value, spec.type_name):
            problems.append(
                f"{name}={value!r} is {type(value).__name__}, but the notebook declares "
                f"{spec.type_name} ({spec.help or 'no help comment'})"
            )
            continue
        clean[name] = value
    if problems:
        raise ParameterError(notebook, problems)
    return clean


def parse_cli_value(notebook: str | Path, name: str, text: str) -> Any:
    """Convert one ``-p name=value`` string by the notebook's declared type."""
    declared = declared_parameters(notebook)
    if name not in declared:
        raise ParameterError(
            notebook, [f"unknown parameter {name!r}; this notebook declares: {', '.join(declared)}"]
        )
    type_name = declared[name].type_name.removeprefix("Optional[").removesuffix("]")
    type_name = type_name.removesuffix("|None")
    if type_name == "str":
        return text
    if type_name == "bool":
        lowered = text.strip().lower()
        if lowered in {"true", "yes", "1"}:
            return True
        if lowered in {"false", "no", "0"}:
            return False
        raise ParameterError(notebook, [f"{name}={text!r}: expected true or false"])
    if type_name == "int":
        try:
            return int(text)
        except ValueError:
            raise ParameterError(notebook, [f"{name}={text!r}: expected a whole number"]) from None
    if type_name == "float":
        try:
            return float(text)
        except ValueError:
            raise ParameterError(notebook, [f"{name}={text!r}: expected a number"]) from None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise ParameterError(
            notebook, [f"{name}={text!r}: expected a Python literal of type {type_name}"]
        ) from None


# --------------------------------------------------------------------------- in the kernel


@functools.lru_cache(maxsize=16)
def _cell_cached(path: str, mtime_ns: int) -> dict[str, DeclaredParameter]:
    cells = json.loads(Path(path).read_text(encoding="utf-8")).get("cells", [])
    for cell in cells:
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get(
            "tags", []
        ):
            source = cell.get("source", "")
            return _parse_cell("".join(source) if isinstance(source, list) else source)
    return {}


def _parse_cell(source: str) -> dict[str, DeclaredParameter]:
    """``name: type = literal  # help`` lines, as Papermill reads them."""
    lines = source.splitlines()
    declared = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name, note = node.target.id, node.annotation
            if isinstance(note, ast.Constant) and isinstance(note.value, str):
                type_name = note.value  # a quoted annotation
            else:
                type_name = ast.unparse(note)
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            name, type_name = node.targets[0].id, "None"
        else:
            continue
        if node.value is None:
            continue
        try:
            default = ast.literal_eval(node.value)
        except (ValueError, SyntaxError):
            default = ast.unparse(node.value)
        rest = lines[node.end_lineno - 1][node.end_col_offset :].strip()
        declared[name] = DeclaredParameter(
            name=name,
            type_name=type_name.replace(" ", ""),
            default=default,
            help=rest[1:].strip() if rest.startswith("#") else "",
        )
    return declared


def parameters_cell(notebook: str | Path) -> dict[str, DeclaredParameter]:
    """The declarations of the notebook's ``parameters`` cell, read from the file with
    :mod:`ast` (what :func:`declared_parameters` gets from Papermill, whose import takes
    a second: too long for each kernel's first call). Empty when there is no such
    notebook or cell."""
    path = Path(notebook).resolve()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return {}
    return _cell_cached(str(path), mtime)


_KINDS = {
    "str": "text in quotes (str)",
    "int": "a whole number (int)",
    "float": "a number (float)",
    "bool": "True or False (bool)",
}


def _kind(type_name: str) -> str:
    base = type_name.removeprefix("Optional[").removesuffix("]").removesuffix("|None")
    kind = _KINDS.get(base, type_name)
    return kind + " or None" if base != type_name else kind


def _written(name: str, value: Any, type_name: str) -> str:
    """How the parameters cell should set ``name``, given the value found there."""
    base = type_name.removeprefix("Optional[").removesuffix("]").removesuffix("|None")
    if base == "str" and isinstance(value, int | float) and not isinstance(value, bool):
        return f'{name} = "{value}"'
    if base == "bool":
        said = str(value).strip().lower()
        if said in {"true", "yes", "1"}:
            return f"{name} = True"
        if said in {"false", "no", "0"}:
            return f"{name} = False"
        return f"{name} = True or {name} = False"
    if base in {"int", "float"} and isinstance(value, str):
        try:
            return f"{name} = {int(value) if base == 'int' else float(value)!r}"
        except ValueError:
            pass
    return f"{name} = <{_kind(type_name)}>"


def check_notebook_values(notebook: str | Path, values: dict[str, Any]) -> None:
    """Raise :class:`NotebookParameterError` naming each value (of ``values``, as a
    notebook's first call received them) that is not of the type the notebook's
    parameters cell declares. Names the cell does not declare are not checked."""
    declared = parameters_cell(notebook)
    problems, fixes = [], []
    for name, value in values.items():
        spec = declared.get(name)
        if spec is None or _matches(to_python(value), spec.type_name):
            continue
        help_text = f" ({spec.help})" if spec.help else ""
        problems.append(
            f"{name} = {value!r} is {type(value).__name__}, but {name} must be "
            f"{_kind(spec.type_name)}{help_text}"
        )
        fixes.append(_written(name, value, spec.type_name))
    if problems:
        raise NotebookParameterError(
            notebook,
            problems,
            fix=f"in the parameters cell at the top, write {'; '.join(fixes)}, then run the "
            "notebook again from the top.",
        )
