"""The reflection file: what an organization's staff said about its measures in one
cycle (``<cohort>/<cycle>/reflections/<org_id>.yml``; the format is described in
:mod:`cyclebook.reflect`), its model and how it is read and validated.

Kept apart from :mod:`cyclebook.reflect` (the reports' blocks, the form, saving) so the
runner can read a reflection as the reports do, to fingerprint it, without importing
what draws reports (pandas, IPython: most of a second a run).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from cyclebook.config import (
    ID_RE,
    ActivityType,
    Identifier,
    RungCondition,
    Strict,
    _raise_validation,
)
from cyclebook.errors import ConfigError
from cyclebook.paths import CohortPaths
from cyclebook.yamlio import read_yaml, refuse_duplicate_keys

Reaction = Literal["keep", "change", "drop", "add"]
REACTIONS: tuple[str, ...] = Reaction.__args__  # type: ignore[attr-defined]
ProposalStatus = Literal["proposed", "adopted", "rejected"]


def _clean_lines(values: list[str]) -> list[str]:
    return [v.strip() for v in values if v and v.strip()]


class MetricReaction(Strict):
    """The group's reaction to one measure: keep, change, drop, or add a new one."""

    metric: str = Field(min_length=1, max_length=200)
    reaction: Reaction
    why: str = ""


class RungRule(Strict):
    """A new rule for one ladder rung; fields left out keep the current rule."""

    label: str | None = None
    window_days: int | None = Field(default=None, gt=0, le=3650)
    any_of: list[RungCondition] | None = Field(default=None, min_length=1)
    definition: str | None = None


class SettingsChange(Strict):
    """New metric settings (cohort.yml ``metrics:``); fields left out stay as they are."""

    active_window_days: int | None = Field(default=None, gt=0)
    lapse_days: int | None = Field(default=None, gt=0)
    absorption_days: int | None = Field(default=None, gt=0)
    one_on_one_days: int | None = Field(default=None, gt=0)
    qualifying_types: list[ActivityType] | None = None
    leader_rung: str | None = None


class MeasureProposal(Strict):
    """A change to a definition proposed in reflection: who, why and what."""

    measure: str = Field(min_length=1, max_length=200)
    proposed_by: str = Field(min_length=1)
    why: str = Field(min_length=1)
    change: str = Field(min_length=1, description="the change, in the group's words")
    rule: RungRule | None = Field(default=None, description="new ladder rule (ladder.<rung>)")
    settings: SettingsChange | None = Field(
        default=None, description="new metric settings, e.g. absorption_days: 60"
    )
    status: ProposalStatus = "proposed"

    @model_validator(mode="after")
    def _rule_needs_rung(self) -> MeasureProposal:
        if self.rule is not None:
            rung = self.rung
            if rung is None or not ID_RE.match(rung):
                raise ValueError(
                    "a proposal with a 'rule' changes a ladder rung: its measure must be "
                    f"written ladder.<rung name> (e.g. ladder.active), found {self.measure!r}"
                )
        return self

    @property
    def rung(self) -> str | None:
        """The rung name when this proposal is about a ladder rule (``ladder.<rung>``)."""
        if self.measure.startswith("ladder."):
            return self.measure.removeprefix("ladder.")
        return None

    def key(self) -> tuple[str, str, str]:
        return (self.measure, self.proposed_by, self.change)


class ReflectionVersion(Strict):
    """One saved state of the reflection (the whole answer, not a diff)."""

    saved_at: dt.datetime
    author: str = Field(min_length=1, description="who recorded this version")
    participants: list[str] = Field(default_factory=list)
    metrics: list[MetricReaction] = Field(default_factory=list)
    empty_or_missing: list[str] = Field(default_factory=list)
    stories: list[str] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list)
    learnings: list[str] = Field(default_factory=list)
    decisions: list[str] = Field(default_factory=list)
    measure_changes: list[MeasureProposal] = Field(default_factory=list)

    @field_validator("saved_at")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value

    @field_validator(
        "participants", "empty_or_missing", "stories", "questions", "learnings", "decisions"
    )
    @classmethod
    def _strip(cls, values: list[str]) -> list[str]:
        return _clean_lines(values)

    def content(self) -> dict[str, Any]:
        """The answer without its stamp (to tell whether a save changed anything)."""
        return self.model_dump(mode="json", exclude={"saved_at", "author"})


class Reflection(Strict):
    """The reflection file of one organization for one cycle: every version kept."""

    org_id: Identifier
    cycle: Identifier
    versions: list[ReflectionVersion] = Field(min_length=1)

    @property
    def latest(self) -> ReflectionVersion:
        return self.versions[-1]


# --------------------------------------------------------------------------- files


class EmptyReflectionFile(ConfigError):
    """A reflection file with nothing in it (or only comments)."""

    FIX = (
        "delete the empty file, then record the reflection in notebooks/3_reflect.ipynb "
        "(interactive = True), or write it by hand starting from "
        "cycles/demo/2026-c1/reflections/."
    )

    def __init__(self, path: Path) -> None:
        super().__init__(
            path,
            "a reflection file must be a map with org_id, cycle and versions",
            line=1,
            found="an empty file",
            fix=self.FIX,
        )


def reflection_path(cohort_dir: str | Path, cycle: str, org_id: str) -> Path:
    return CohortPaths.of(cohort_dir).reflections(cycle) / f"{org_id}.yml"


def read_reflection(
    path: str | Path, *, org_id: str | None = None, cycle: str | None = None
) -> Reflection:
    """Read and validate a reflection file; :class:`ConfigError` names line and field."""
    path = Path(path)
    located = read_yaml(path, what="reflection file")
    if located.data is None:
        raise EmptyReflectionFile(path)
    if not isinstance(located.data, dict):
        raise ConfigError(
            path,
            "a reflection file must be a map with org_id, cycle and versions",
            line=1,
            found=type(located.data).__name__,
            fix="start from cycles/demo/2026-c1/reflections/ or save once from the reflect form.",
        )
    refuse_duplicate_keys(located)
    try:
        reflection = Reflection.model_validate(located.data)
    except ValidationError as exc:
        _raise_validation(located, exc, Reflection)
        raise  # unreachable
    for field, wanted in (("org_id", org_id), ("cycle", cycle)):
        if wanted is not None and getattr(reflection, field) != wanted:
            raise ConfigError(
                path,
                f"the file's {field} differs from where it is kept",
                field=field,
                line=located.locate([field])[0],
                found=getattr(reflection, field),
                expected=repr(wanted),
                fix=f"set {field}: {wanted}, or move the file to the right cycle folder.",
            )
    return reflection


def load_reflection(cohort_dir: str | Path, cycle: str, org_id: str) -> Reflection | None:
    """The organization's reflection for the cycle, or None when nothing was recorded yet."""
    path = reflection_path(cohort_dir, cycle, org_id)
    if not path.exists():
        return None
    return read_reflection(path, org_id=org_id, cycle=cycle)
