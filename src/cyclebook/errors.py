"""One root exception with specific subclasses that carry context and say how to fix it.

Every error a facilitator can cause (a bad YAML file, a broken export, a wrong parameter)
is a :class:`CyclebookError`. Each subclass keeps the structured context (file, line,
column, field, organization) so the runner can report it, and its message ends with a
``Fix:`` line telling the person what to do.
"""

from __future__ import annotations

from pathlib import Path


class CyclebookError(Exception):
    """Root of every error cyclebook raises on purpose."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.fix:
            return f"{self.message}\n  Fix: {self.fix}"
        return self.message


def _where(path: str | Path | None, line: int | None = None, column: int | None = None) -> str:
    if path is None:
        return ""
    where = str(path)
    if line is not None:
        where += f", line {line}"
        if column is not None:
            where += f", column {column}"
    return where


class ConfigError(CyclebookError):
    """A cohort.yml, cycle.yml or reflection file is missing, malformed or invalid."""

    def __init__(
        self,
        path: str | Path,
        problem: str,
        *,
        field: str | None = None,
        line: int | None = None,
        column: int | None = None,
        found: object = None,
        expected: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.field = field
        self.line = line
        self.column = column
        self.found = found
        self.expected = expected
        parts = [_where(path, line, column)]
        if field:
            parts.append(f"field '{field}'")
        message = ": ".join([", ".join(parts), problem])
        if expected is not None:
            message += f"; expected {expected}"
        if found is not None:
            message += f", found {found!r}"
        super().__init__(message, fix=fix)


class ParameterError(CyclebookError):
    """Parameters passed to a phase notebook do not match its declared parameters cell."""

    def __init__(self, notebook: str | Path, problems: list[str], *, fix: str | None = None):
        self.notebook = Path(notebook)
        self.problems = problems
        joined = "\n  - ".join(problems)
        super().__init__(
            f"{notebook}: refused parameters before starting a kernel:\n  - {joined}",
            fix=fix
            or "use only the names in the notebook's 'parameters' cell, with the types it declares "
            "(see `cyclebook params NOTEBOOK`).",
        )


class NotebookParameterError(ParameterError):
    """A phase notebook's first call, in its kernel, received a parameter value it cannot
    use: the notebook was run as it is (JupyterLab's Run All) with its parameters cell
    edited, so no check ran before the kernel started."""

    def __init__(self, notebook: str | Path, problems: list[str], *, fix: str):
        self.notebook = Path(notebook)
        self.problems = problems
        joined = "\n  - ".join(problems)
        CyclebookError.__init__(
            self,
            f"{self.notebook.name}: its parameters cell sets a value this notebook cannot "
            f"use:\n  - {joined}",
            fix=fix,
        )


class ExportError(CyclebookError):
    """An export file cannot be read at all; stops only its organization's sync."""

    def __init__(
        self,
        path: str | Path,
        problem: str,
        *,
        org_id: str | None = None,
        line: int | None = None,
        column: str | int | None = None,
        fix: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.org_id = org_id
        self.line = line
        self.column = column
        where = str(path)
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column}"
        prefix = f"[{org_id}] " if org_id else ""
        super().__init__(f"{prefix}{where}: {problem}", fix=fix)


class ResourceError(CyclebookError):
    """The machine's limits were reached (memory, disk), not a problem of the input."""


class SettingError(CyclebookError):
    """An environment variable cyclebook reads (``CYCLEBOOK_...``) has a value it cannot use."""


class StoreError(CyclebookError):
    """The DuckDB store is missing, locked by another run, or has no data for a request."""


class RunLockedError(CyclebookError):
    """Another cyclebook run already holds the lock on this cohort."""


class PhaseFailedError(CyclebookError):
    """A phase notebook failed for one organization (raised only in summaries)."""


class PublishError(CyclebookError):
    """``cyclebook publish`` refused: an unknown audience or organization, reports of that
    audience missing, failed or out of date, or a destination that is not empty."""


class PrivacyError(CyclebookError):
    """A rendered report contains personal data of a member; the report is withheld."""


def own_error_names() -> frozenset[str]:
    """The class names of every error cyclebook raises on purpose (a notebook's error
    arrives from the kernel as its class name and text): their message says what to fix,
    and the class name and traceback add nothing an organizer can use."""
    names, todo = set(), [CyclebookError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return frozenset(names)
