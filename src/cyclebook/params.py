"""Fail loudly on parameters.

Papermill only warns when a parameter is not declared in the notebook, and passes numpy
scalars through as strings (``np.bool_(False)`` becomes the truthy ``"False"``). Before any
kernel starts, cyclebook checks what it passes against ``papermill.inspect_notebook``:
unknown names and wrong types are refused, numpy scalars become Python values, and
command-line strings are converted by the declared type (so ``-p org_id=007`` stays the
string ``"007"``).
"""

from __future__ import annotations

import ast
import functools
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cyclebook.errors import ParameterError

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
