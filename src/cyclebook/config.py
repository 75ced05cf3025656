"""Typed configuration: the cohort (organizations, sources, measures, consent) and the
cycle card. Validated by pydantic; every error names the file, line, field, what was
found and what is expected (pattern from Cal-ITP's ``calitp_portfolio/models.py``).
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from cyclebook.errors import ConfigError
from cyclebook.yamlio import MAX_YAML_BYTES, LocatedYaml, read_yaml, refuse_duplicate_keys

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
ID_RE = re.compile(ID_PATTERN)

ActivityType = Literal[
    "attendance",
    "signup",
    "submission",
    "donation",
    "tagging",
    "activist_code",
    "one_on_one",
    "conversation",
    "text",
    "survey_response",
    "assessment",
]
ACTIVITY_TYPES: tuple[str, ...] = ActivityType.__args__  # type: ignore[attr-defined]

SourceKind = Literal[
    "action_network_csv",
    "action_network_api",
    "mobilize",
    "van",
    "spoke",
    "action_builder",
    "generic_csv",
]

Audience = Literal["organization", "cohort", "funder"]
AUDIENCES: tuple[str, ...] = Audience.__args__  # type: ignore[attr-defined]
# The audiences each phase's report may be rendered for, and no other: the share report
# and the cohort summary apply an organization's consent and the small-count suppression,
# and the reflect report shows others only the learnings, decisions and questions; a sync
# or improve report is for the organization's own staff.
PHASE_AUDIENCES: dict[str, tuple[str, ...]] = {
    "sync": ("organization",),
    "share": ("organization", "cohort", "funder"),
    "reflect": ("organization", "cohort", "funder"),
    "improve": ("organization",),
    "cohort": ("cohort", "funder"),
}

Identifier = Annotated[str, Field(pattern=ID_PATTERN)]


class Strict(BaseModel):
    """Unknown keys are errors: a typo in a field name must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReadFromFile(Strict):
    """A model read from a file: the SHA-256 of the bytes it was read from (the run's
    manifest records it: hashed when the manifest was written, an edit made while the
    run went on was recorded as the version the run had read)."""

    _source_sha256: str = PrivateAttr(default="")

    @property
    def source_sha256(self) -> str:
        """The SHA-256 of the bytes this was read from ("" when not read from a file)."""
        return self._source_sha256


# --------------------------------------------------------------------------- sources


# the kinds whose exports are CSV text (the others are JSON pages)
CSV_KINDS = ("action_network_csv", "van", "spoke", "generic_csv")
# the field separators a CSV source may name, by name or as the character itself
DELIMITER_NAMES = {
    ",": ",",
    "comma": ",",
    ";": ";",
    "semicolon": ";",
    "|": "|",
    "pipe": "|",
    "\t": "\t",
    "tab": "\t",
}


# The canonical fields a spreadsheet (generic_csv) maps its columns to.
GENERIC_FIELDS = (
    "person_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "zip",
    "state",
    "address",
    "occurred_at",
    "type",
    "event",
    "status",
    "attended",
    "amount",
    "role",
    "result",
    "organizer",
    "recorded_at",
    # what the person allowed: yes/no columns ("OK to text?", "Do not contact")
    "email_ok",
    "sms_ok",
    "do_not_contact",
)
# settings only the spreadsheet reader reads: on another tool's source they did nothing
GENERIC_ONLY = ("columns", "activity_type", "date_format")


def sheet_name(label: str) -> str:
    """The store's name of a spreadsheet source labelled (or whose file or folder is
    named, without its suffix) ``label``: ``sheet:`` and the label in lower case, any
    character but letters, digits, '-' and '_' as '-'."""
    return "sheet:" + "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in label.lower())


def tool_name(kind: str) -> str:
    """The store's name of the records of a tool's source of ``kind`` (not a
    spreadsheet's: see :func:`sheet_name`): Action Network's activist report and its API
    pages are one tool's records, ``action_network``; any other tool's are its kind."""
    return "action_network" if kind.startswith("action_network") else kind


class Source(Strict):
    """One export (or folder of exports) an organization brings from a tool."""

    kind: SourceKind
    path: str = Field(description="file or folder, relative to the organization's exports/")
    label: str | None = None
    # generic_csv only: canonical field -> column name in the spreadsheet
    columns: dict[str, str] | None = None
    activity_type: ActivityType | None = None
    date_format: str | None = None
    encoding: str | None = None
    # action_builder only: the entity types that are people (others, such as a
    # workplace or a union local, are not read); unset: Person
    entity_types: list[str] | None = Field(default=None, min_length=1)
    # CSV sources: the character between fields. Unset: commas, or tabs when the header
    # line has tabs and no comma (VAN's "tab delimited text" export). Semicolons are never
    # guessed: a ';' file from a spreadsheet set to a European locale often writes
    # decimal commas too, so the group says so here and checks its amounts.
    delimiter: str | None = Field(
        default=None, description="',', ';', '|' or tab (write \"\\t\" or tab)"
    )
    # mobilize only: the organization's id at Mobilize, for `cyclebook pull` (Parsons);
    # exports read from files never need it
    mobilize_organization_id: int | None = Field(
        default=None, description="the organization's Mobilize id (mobilize sources, for pull)"
    )
    # van only, for `cyclebook pull`: the VAN database the API key is for (MyCampaign,
    # EveryAction and MyMembers are one mode to the API, MyVoters the other); unset:
    # MyCampaign
    van_database: Literal["MyCampaign", "MyVoters", "MyMembers", "EveryAction"] | None = Field(
        default=None, description="the VAN database the API key opens (van sources, for pull)"
    )
    # action_builder only, for `cyclebook pull`: the instance (the part of its address
    # before .actionbuilder.org) and the campaign's 36-character id
    action_builder_subdomain: str | None = Field(
        default=None, description="the Action Builder address's subdomain (for pull)"
    )
    action_builder_campaign: str | None = Field(
        default=None, description="the Action Builder campaign's id (for pull)"
    )

    @property
    def sheet_name(self) -> str:
        """A spreadsheet source's name in the store (``activity.source``, ``identity``):
        of its ``label``, else its file or folder name without the suffix."""
        return sheet_name(self.label or Path(self.path).stem)

    @property
    def store_name(self) -> str:
        """The source's name in the store (``activity.source``, ``identity.source``...),
        the name ``cyclebook forget --source`` takes: a spreadsheet's :attr:`sheet_name`,
        else its tool's (:func:`tool_name`)."""
        return self.sheet_name if self.kind == "generic_csv" else tool_name(self.kind)

    # plain: the model strips whitespace from strings, and a tab is whitespace
    @field_validator("delimiter", mode="plain")
    @classmethod
    def _known_delimiter(cls, value: object) -> object:
        if value is None:
            return None
        text = str(value)
        # the character itself first: stripped, a tab would be nothing
        named = DELIMITER_NAMES.get(text) or DELIMITER_NAMES.get(text.strip().lower())
        if named is None:
            raise ValueError(
                f"delimiter must be one of ',', ';', '|' or tab (\"\\t\" or tab); found {value!r}"
            )
        return named

    @field_validator("path")
    @classmethod
    def _inside_exports(cls, value: str) -> str:
        # the sync read whatever the path named: '../../other-org/exports/van' filed another
        # group's members under this organization. The rule is on the path as written: a
        # folder inside exports/ that is a link to a shared drive is still read.
        if os.path.isabs(value) or os.path.normpath(value).split(os.sep)[0] == os.pardir:
            raise ValueError(
                f"the path {value!r} leads outside this organization's exports/ folder "
                "(orgs/<id>/exports/), so another organization's files would be read as "
                "this one's: write a path inside exports/, such as 'van' or 'van/export.csv' "
                "(to read files kept elsewhere, copy them, or a link to their folder, into "
                "exports/)"
            )
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        # unchecked, a typo passed validate and the sync said the file was "neither
        # UTF-8 nor latin-9x text", as if the file were at fault
        import codecs

        if value is not None:
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(
                    f"unknown encoding {value!r}: write a name such as 'utf-8', "
                    "'windows-1252', 'latin-1' or 'utf-16'"
                ) from None
        return value

    @field_validator("date_format")
    @classmethod
    def _strptime_format(cls, value: str | None) -> str | None:
        # 'dd/mm/yyyy' matches no date at all: every row would be rejected
        if value is not None and not re.search(r"%[dmyYbBHMSIpjeUWaAz]", value):
            raise ValueError(
                f"date_format is written with % codes, as in '%d/%m/%Y' (day/month/year) "
                f"or '%m/%d/%Y %H:%M'; found {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _delimiter_of_csv_only(self) -> Source:
        if self.delimiter is not None and self.kind not in CSV_KINDS:
            raise ValueError(
                f"'delimiter' applies to CSV exports ({', '.join(CSV_KINDS)}); a "
                f"{self.kind} export is JSON: remove 'delimiter' from this source"
            )
        return self

    @model_validator(mode="after")
    def _encoding_of_csv_only(self) -> Source:
        # a JSON page is read as UTF-8 (else Windows-1252) whatever the setting says:
        # accepted, it was ignored
        if self.encoding is not None and self.kind not in CSV_KINDS:
            raise ValueError(
                f"'encoding' applies to CSV exports ({', '.join(CSV_KINDS)}); a "
                f"{self.kind} export is JSON, read as UTF-8 (a page that is not UTF-8 "
                "is read as Windows-1252, and the sync report says so): remove "
                "'encoding' from this source"
            )
        return self

    @field_validator("columns")
    @classmethod
    def _known_fields(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        # unchecked, a mistyped field passed validate and stopped the sync
        for name in value or {}:
            _one_of(name, GENERIC_FIELDS, f"'columns' maps an unknown field {name!r}", "fields")
        return value

    @model_validator(mode="after")
    def _generic_settings_on_generic_only(self) -> Source:
        given = [name for name in GENERIC_ONLY if getattr(self, name) is not None]
        if given and self.kind != "generic_csv":
            raise ValueError(
                f"{', '.join(repr(n) for n in given)} appl{'ies' if len(given) == 1 else 'y'} "
                f"to spreadsheets (kind generic_csv); a {self.kind} export is read by its "
                "own columns: remove " + ("it" if len(given) == 1 else "them") + " from this source"
            )
        return self

    @model_validator(mode="after")
    def _mobilize_id_of_mobilize_only(self) -> Source:
        if self.mobilize_organization_id is not None and self.kind != "mobilize":
            raise ValueError(
                f"'mobilize_organization_id' applies to Mobilize sources (kind mobilize), "
                f"not to a {self.kind} export: remove it from this source"
            )
        return self

    @model_validator(mode="after")
    def _pull_settings_of_their_tool_only(self) -> Source:
        for name, kind, tool in (
            ("van_database", "van", "VAN"),
            ("action_builder_subdomain", "action_builder", "Action Builder"),
            ("action_builder_campaign", "action_builder", "Action Builder"),
        ):
            if getattr(self, name) is not None and self.kind != kind:
                raise ValueError(
                    f"'{name}' applies to {tool} sources (kind {kind}), not to a "
                    f"{self.kind} export: remove it from this source"
                )
        return self

    @model_validator(mode="after")
    def _entity_types_of_action_builder_only(self) -> Source:
        if self.entity_types is not None and self.kind != "action_builder":
            raise ValueError(
                f"'entity_types' applies to Action Builder exports (kind action_builder); "
                f"a {self.kind} export holds people only: remove it from this source"
            )
        return self

    @model_validator(mode="after")
    def _generic_needs_mapping(self) -> Source:
        if self.kind == "generic_csv" and not self.columns:
            raise ValueError(
                "a generic_csv source needs 'columns': a map from canonical fields "
                "(person_id, email, phone, first_name, last_name, zip, occurred_at, type) "
                "to the spreadsheet's column names"
            )
        # unchecked, every dated row was rejected at sync for an activity type taken
        # from a 'type' column the sheet does not have
        if (
            self.kind == "generic_csv"
            and "occurred_at" in self.columns
            and "type" not in self.columns
            and self.activity_type is None
        ):
            raise ValueError(
                "a generic_csv source with dates (occurred_at) needs each row's activity "
                "type: map the sheet's type column in 'columns' (type: <its header>), or "
                "set 'activity_type' (such as attendance) when every row is one kind"
            )
        return self


# --------------------------------------------------------------------------- measures


class RungCondition(Strict):
    """Observed activity that qualifies a person for a rung within the rung's window."""

    activity_types: list[ActivityType] | None = Field(
        default=None, description="activity types that count; empty or missing means any"
    )
    min_count: int = Field(default=1, ge=1, description="how many qualifying activities")
    attended_only: bool = Field(default=False, description="attendance must be marked attended")
    roles: list[str] | None = Field(default=None, description="e.g. host, lead; missing = any")
    min_assessment: int | None = Field(
        default=None, description="assessment score at or above this level (scale is the org's)"
    )
    # Action Builder's scales usually run from 1, the strongest support, to 5, opposed:
    # there a leader is assessed 1 (max_assessment: 1), and min_assessment: 4 would count
    # the most opposed people as leaders
    max_assessment: int | None = Field(
        default=None,
        description="assessment score at or below this level (a scale where 1 is strongest)",
    )

    @property
    def reads_assessment(self) -> bool:
        """Whether the condition compares an assessment score (either way)."""
        return self.min_assessment is not None or self.max_assessment is not None


class Rung(Strict):
    name: Identifier
    label: str
    window_days: int = Field(gt=0, le=3650)
    any_of: list[RungCondition] = Field(min_length=1)
    definition: str = Field(description="the definition in the group's own words")


class Replaced(Strict):
    """What an adopted change replaced, written by ``next-cycle`` beside the change: the
    cycles before the one it applies from keep their own definitions (and figures)."""

    rung: Rung | None = Field(default=None, description="the rung as it was before")
    added_rung: Identifier | None = Field(
        default=None, description="a rung the change added (absent before)"
    )
    settings: dict[str, Any] = Field(
        default_factory=dict, description="each metric setting the change set, as it was"
    )


class MeasureChange(Strict):
    """A change to one of the organization's measures: who proposed it, when and why."""

    measure: str
    date: dt.date
    proposed_by: str
    why: str
    change: str
    cycle: str | None = None
    status: Literal["proposed", "adopted", "rejected"] = "adopted"
    replaced: Replaced | None = None


class MetricSettings(Strict):
    active_window_days: int = Field(default=365, gt=0)
    lapse_days: int = Field(default=90, gt=0)
    absorption_days: int = Field(default=42, gt=0)
    one_on_one_days: int = Field(default=30, gt=0)
    qualifying_types: list[ActivityType] | None = Field(
        default=None, description="activity types that keep a person active; missing = any"
    )
    leader_rung: str = "leader"


def default_ladder() -> list[Rung]:
    """DESIGN.md's default ladder; each organization can replace it in cohort.yml."""
    return [
        Rung(
            name="supporter",
            label="Supporter",
            window_days=365,
            any_of=[RungCondition(min_count=1)],
            definition="Any recorded activity in the last 365 days.",
        ),
        Rung(
            name="member",
            label="Member",
            window_days=180,
            any_of=[
                RungCondition(min_count=2),
                RungCondition(activity_types=["donation"], min_count=1),
            ],
            definition="Two or more activities, or paid dues, in the last 180 days.",
        ),
        Rung(
            name="active",
            label="Active",
            window_days=90,
            any_of=[RungCondition(activity_types=["attendance"], min_count=3, attended_only=True)],
            definition="Attended three or more events in the last 90 days.",
        ),
        Rung(
            name="leader",
            label="Leader",
            window_days=90,
            any_of=[
                RungCondition(activity_types=["attendance"], roles=["host", "lead"]),
                RungCondition(activity_types=["one_on_one"]),
                RungCondition(activity_types=["assessment"], min_assessment=4),
            ],
            definition=(
                "Hosted or led an event, held a one-on-one, or was assessed at leader level "
                "in the last 90 days."
            ),
        ),
    ]


# Every measure the share phase computes (the keys of ``metric_value.metric``): what a
# group can consent to share, and what a cycle card's numeric target can be set on.
METRICS: tuple[str, ...] = (
    "ladder",
    "movement",
    "conversion",
    "active_base",
    "new_people",
    "lapsed",
    "net_growth",
    "absorption",
    "retention",
    "leaders",
    "leader_ratio",
    "one_on_ones",
    "show_rate",
    "volunteer_tiers",
    "contact",
    "match_rate",
)

#: measures whose headline is a rate: a share of people from 0 to 1 (shown as a percent)
RATE_METRICS: frozenset[str] = frozenset(
    {"conversion", "absorption", "retention", "leader_ratio", "show_rate", "match_rate"}
)


def _did_you_mean(value: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or nothing."""
    close = difflib.get_close_matches(value, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _one_of(value: str, choices: Sequence[str], problem: str, name: str) -> None:
    """Refuse a ``value`` not in ``choices``, naming the closest and listing them all."""
    if value not in choices:
        raise ValueError(
            problem + _did_you_mean(value, choices) + f"; the {name}: " + ", ".join(choices)
        )


def _known_metric(value: str) -> str:
    _one_of(value, METRICS, f"{value!r} is not a measure cyclebook computes", "measures")
    return value


# a typo here shared nothing under that name, without a word
ShareableMetric = Annotated[str, AfterValidator(_known_metric)]


class Consent(Strict):
    """What the organization agreed to share beyond its own staff."""

    cohort: list[ShareableMetric] = Field(default_factory=list)
    funder: list[ShareableMetric] = Field(default_factory=list)
    gallery_note: str | None = Field(default=None, description="why the group chose its measures")


class Organization(Strict):
    id: Identifier
    name: str = Field(min_length=1, max_length=200)
    parent: Identifier | None = Field(default=None, description="network organization id")
    timezone: str = "America/New_York"
    sources: list[Source] = Field(default_factory=list)
    ladder: list[Rung] = Field(default_factory=default_ladder, min_length=1)
    metrics: MetricSettings = Field(default_factory=MetricSettings)
    consent: Consent = Field(default_factory=Consent)
    measure_history: list[MeasureChange] = Field(default_factory=list)
    staff: list[str] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        # unchecked, a typo reached DuckDB in the middle of the sync: "Unknown TimeZone"
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: write an IANA name such as 'America/New_York'"
                + _did_you_mean(value, zoneinfo.available_timezones())
            ) from None
        return value

    @field_validator("sources")
    @classmethod
    def _sheets_named_apart(cls, sources: list[Source]) -> list[Source]:
        # two spreadsheets named alike ('meetings/2026.csv', 'trainings/2026.csv') were
        # one source in the store: saving one removed the other's rows as rows "no
        # longer in the sheet", and their member ids were taken for the same people's
        names: dict[str, int] = {}
        for index, src in enumerate(sources):
            if src.kind != "generic_csv":
                continue
            first = names.setdefault(src.sheet_name, index)
            if first != index:
                raise PartError(
                    f"spreadsheet sources {first + 1} ('{sources[first].path}') and "
                    f"{index + 1} ('{src.path}') are both named '{src.sheet_name}' in the "
                    "store (a spreadsheet is named by its label, else its file or folder "
                    "name): their rows would be read as one sheet's, and saving one would "
                    "remove the other's rows from the store; give this one a label of "
                    "its own, such as 'label: Trainings'",
                    (index, "label" if src.label else "path"),
                )
        return sources

    @field_validator("ladder")
    @classmethod
    def _unique_rungs(cls, ladder: list[Rung]) -> list[Rung]:
        names = [rung.name for rung in ladder]
        if len(set(names)) != len(names):
            raise ValueError(f"rung names must be unique, found {names}")
        return ladder

    @model_validator(mode="after")
    def _leader_rung_on_the_ladder(self) -> Organization:
        # a mistyped leader_rung was accepted, and the reports counted the top rung's
        # people as leaders without a word (the default, 'leader', on a ladder of the
        # group's own without that rung still falls back to the top rung, with a note)
        names = [rung.name for rung in self.ladder]
        leader = self.metrics.leader_rung
        if "leader_rung" in self.metrics.model_fields_set and leader not in names:
            raise PartError(
                f"leader_rung names '{leader}', which is not a rung of this organization's "
                f"ladder{_did_you_mean(leader, names)}; the rungs: {', '.join(names)}",
                ("metrics", "leader_rung"),
            )
        # a ladder written top-down was read upside down: everyone on the rungs listed
        # after the leader rung counted as a leader ("3 people are leaders now") while
        # the rung table showed none. A leader rung below the top is a ladder's own
        # choice; a leader rung listed first, above every other rung, is not.
        if len(names) > 1 and names[0] == leader:
            raise PartError(
                f"the ladder's first rung, '{leader}', is its leader rung: rungs are listed "
                "lowest first, from the broadest (such as supporter) up to the leader rung, "
                "so this ladder would be read upside down, everyone on the rungs after it "
                "counted as a leader; list the rungs in the opposite order, lowest first",
                ("ladder", 0),
            )
        return self


class PartError(ValueError):
    """A check of a whole field or model that found the problem in one part of it:
    ``at`` is the part's path below it, so the error names that part's line (a bad
    ``parent`` was reported at the line of ``organizations:``)."""

    def __init__(self, message: str, at: Sequence[str | int], found: Any = None) -> None:
        super().__init__(message)
        self.at = tuple(at)
        self.found = found  # the part's value, when the input of the check is a whole map


class Cohort(ReadFromFile):
    id: Identifier
    name: str
    facilitators: list[str] = Field(default_factory=list)
    organizations: list[Organization] = Field(min_length=1)

    @field_validator("organizations")
    @classmethod
    def _check_orgs(cls, organizations: list[Organization]) -> list[Organization]:
        # on the field, so an error names ``organizations`` and its line in cohort.yml
        ids = [org.id for org in organizations]
        for index, org_id in enumerate(ids):
            if org_id in ids[:index]:
                raise PartError(
                    f"organization id '{org_id}' is used twice (also by organization "
                    f"{ids.index(org_id) + 1}); ids must be unique",
                    (index, "id"),
                )
        parents = {org.id: org.parent for org in organizations}
        for index, org in enumerate(organizations):
            if org.parent is not None and org.parent not in ids:
                raise PartError(
                    f"organization '{org.id}' names parent '{org.parent}', which is not "
                    "an organization of this cohort" + _did_you_mean(org.parent, ids),
                    (index, "parent"),
                )
            # a network that is its own member (directly or round a loop) would be rolled
            # up with itself: its sums (one-on-ones, contact attempts) counted twice
            seen, current = [org.id], org.parent
            while current is not None:
                if current in seen:
                    loop = " -> ".join([*seen, current])
                    raise ValueError(
                        f"organization '{org.id}' is its own network through its parents "
                        f"({loop}); give each affiliate the id of a network that is not "
                        "itself, nor one of its own affiliates"
                    )
                seen.append(current)
                current = parents.get(current)
        for index, org in enumerate(organizations):
            if org.parent is not None and org.parent != org.id:
                grand = parents.get(org.parent)
                if grand is not None and grand != org.parent and grand != org.id:
                    # roll-ups take a network's own affiliates only: a network of
                    # networks looked smaller than one of its own state networks
                    raise PartError(
                        f"organization '{org.id}' names parent '{org.parent}', which is "
                        f"itself an affiliate of '{grand}': a network's affiliates cannot "
                        f"have affiliates of their own (the roll-up of '{grand}' would "
                        f"leave '{org.id}' out); give '{org.id}' the parent '{grand}'",
                        (index, "parent"),
                    )
        return organizations

    def as_of(self, cycle: str, cycles: Sequence[str]) -> Cohort:
        """The organizations' measures as they were in ``cycle`` (``cycles``: the cohort's
        cycles, oldest first): every adopted change that applies from a later cycle is
        undone, newest first, from what it ``replaced``. A report of a past cycle is
        computed again whenever it runs; without this, adopting a definition for the next
        cycle silently rewrote the figures of every earlier one. A change recorded
        without ``replaced`` (before cyclebook wrote it) cannot be undone and applies to
        every cycle, as it did then."""
        if cycle not in cycles:
            return self
        later = set(cycles_after(cycles, cycle))
        organizations = []
        for org in self.organizations:
            undo = [
                c.replaced
                for c in reversed(org.measure_history)
                if c.status == "adopted" and c.cycle in later and c.replaced is not None
            ]
            if not undo:
                organizations.append(org)
                continue
            ladder = list(org.ladder)
            settings = org.metrics.model_dump()
            for replaced in undo:
                if replaced.added_rung is not None:
                    ladder = [r for r in ladder if r.name != replaced.added_rung]
                if replaced.rung is not None:
                    names = [r.name for r in ladder]
                    if replaced.rung.name in names:
                        ladder[names.index(replaced.rung.name)] = replaced.rung
                    else:
                        ladder.append(replaced.rung)
                settings.update(replaced.settings)
            organizations.append(
                org.model_copy(
                    update={"ladder": ladder, "metrics": MetricSettings.model_validate(settings)}
                )
            )
        return self.model_copy(update={"organizations": organizations})

    def org(self, org_id: str) -> Organization:
        for org in self.organizations:
            if org.id == org_id:
                return org
        raise ConfigError(
            "cohort.yml",
            f"no organization with id '{org_id}'",
            field="organizations",
            expected="one of " + ", ".join(o.id for o in self.organizations),
            found=org_id,
            fix="use an id listed in cohort.yml.",
        )

    def affiliates(self, org_id: str) -> list[Organization]:
        return [org for org in self.organizations if org.parent == org_id]


# --------------------------------------------------------------------------- cycle card


def _share_hint(measure: str, name: str, fraction: float, percent: str) -> str:
    """What to write for a rate's ``target`` or ``failure_below`` given as a percent."""
    return (
        f"'{measure}' is a rate, a share of people from 0 to 1: its {name} is written as a "
        f"fraction: {percent} is {fraction:g} (write {name}: {fraction:g})"
    )


class CardMetric(Strict):
    goal: str
    measure: str = Field(description="metric key computed by the share phase, or free text")
    failure: str = Field(description="what counts as failure, in words")
    target: float | None = None
    failure_below: float | None = None
    result: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _percent_written(cls, data: Any) -> Any:
        # 'target: 45%' is text, not a number: say how to write it for this measure
        if not isinstance(data, dict) or data.get("measure") not in METRICS:
            return data
        measure = data["measure"]
        for name in ("target", "failure_below"):
            raw = data.get(name)
            percent = (
                re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*%\s*", raw) if isinstance(raw, str) else None
            )
            if percent is None:
                continue
            if measure in RATE_METRICS:
                problem = _share_hint(measure, name, float(percent[1]) / 100, raw.strip())
            else:
                problem = (
                    f"'{measure}' is a count, not a share: write its {name} as a number "
                    f"of people (e.g. {name}: {float(percent[1]):g})"
                )
            raise PartError(problem, (name,), found=raw)
        return data

    @model_validator(mode="after")
    def _rates_are_fractions(self) -> CardMetric:
        # 'target: 45' for absorption was read as 4500%: the report called 72% "below
        # the failure line" of 20 (2000%)
        if self.measure in RATE_METRICS:
            for name in ("target", "failure_below"):
                number = getattr(self, name)
                found = int(number) if number is not None and number.is_integer() else number
                if number is not None and number > 1:
                    raise PartError(
                        _share_hint(self.measure, name, number / 100, f"{number:g}%")
                        + f"; {number:g} would be {number * 100:g}%",
                        (name,),
                        found=found,
                    )
                if number is not None and number < 0:
                    raise PartError(
                        f"'{self.measure}' is a rate, a share of people from 0 to 1: its "
                        f"{name} cannot be below 0",
                        (name,),
                        found=found,
                    )
        return self

    @model_validator(mode="after")
    def _numbers_need_a_computed_measure(self) -> CardMetric:
        # a target on a measure cyclebook does not compute (a typo: 'absorbtion') is never
        # compared: the card said "not yet measured" all cycle long
        if self.target is not None or self.failure_below is not None:
            try:
                _known_metric(self.measure)
            except ValueError as exc:
                raise ValueError(
                    f"{exc}; a target or failure_below is compared with a computed measure "
                    "only (for a measure in words, give neither)"
                ) from None
        return self


class Document(Strict):
    title: str
    url: str | None = None
    path: str | None = None


class CycleCard(ReadFromFile):
    id: Identifier
    title: str
    how_might_we: list[str] = Field(min_length=1)
    hypothesis: str
    design: str
    metrics: list[CardMetric] = Field(default_factory=list)
    learnings: list[str] = Field(default_factory=list)
    decisions: list[str] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list)
    accountable: list[str] = Field(default_factory=list)
    team: dict[str, list[str]] = Field(default_factory=dict)
    start: dt.date
    end: dt.date
    documents: list[Document] = Field(default_factory=list)
    previous: Identifier | None = None

    @model_validator(mode="after")
    def _dates(self) -> CycleCard:
        if self.end <= self.start:
            raise PartError(f"end ({self.end}) must be after start ({self.start})", ("end",))
        return self

    @property
    def weeks(self) -> float:
        return (self.end - self.start).days / 7


# --------------------------------------------------------------------------- loading


def _expected_for(error: dict) -> str | None:
    kind = error.get("type", "")
    if kind == "value_error":
        return None  # our own check: its message already says what is wanted
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "a value (this field is required)"
    if kind == "literal_error":
        return str(ctx.get("expected", "one of the allowed values"))
    if kind == "string_pattern_mismatch":
        return "lowercase letters, digits, '-' or '_' (an id like 'eastside-tenants')"
    if kind.startswith("date"):
        return "a date written YYYY-MM-DD"
    if kind.startswith(("float", "int")):
        found = str(error.get("input", "")).strip()
        percent = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*%", found)
        if percent:  # a card's target: 45% is 0.45
            fraction = float(percent[1]) / 100
            return f"a number; a share is written as a fraction: {found} is {fraction:g}"
        return "a whole number" if kind.startswith("int") else "a number"
    return None  # the problem (pydantic's message) says it already


def _fields_at(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """The field names the model allows at ``loc`` (the path of a key inside it), found
    by following the fields' types (lists and optional values included); [] when the
    path leaves the models."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue  # an item of a list: the list's type was unwrapped already
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            return []
        current = _model_in(fields[part].annotation)
        if current is None:
            return []
    fields = getattr(current, "model_fields", None)
    return sorted(fields) if fields else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field's type holds (``list[Rung]``, ``Consent | None``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _problems_in_order(errors: list[Any]) -> list[Any]:
    """A misspelt field ('idd:') is told before the "required" it causes ('id'): the
    spelling is the thing to fix. Otherwise pydantic's order (the file's)."""
    return sorted(errors, key=lambda e: 0 if e.get("type") == "extra_forbidden" else 1)


def _one_problem(located: LocatedYaml, error: Any, root: type[BaseModel] | None) -> dict:
    loc = list(error["loc"])
    raised = (error.get("ctx") or {}).get("error")
    if isinstance(raised, PartError):
        loc += list(raised.at)
    line, column = located.locate(loc)
    found = error.get("input")
    if isinstance(raised, PartError) and raised.found is not None:
        found = raised.found
    if isinstance(found, dict | list):
        found = None  # a whole map is not a helpful "found"
    problem = error["msg"].removeprefix("Value error, ")
    expected = _expected_for(error)
    if error.get("type") == "extra_forbidden" and loc:
        allowed = _fields_at(root, loc[:-1]) if root is not None else []
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        problem, expected = "no such field", None
        if close:
            problem += f"; did you mean '{close[0]}'?"
        elif allowed:
            expected = f"one of the fields here: {', '.join(allowed)}"
        else:
            problem += " (check the spelling against README 'cycles/')"
        found = None  # the value under a misspelt key is not the problem
    return {
        "field": ".".join(str(part) for part in loc) or "(top level)",
        "line": line,
        "column": column,
        "found": found,
        "expected": expected,
        "problem": problem,
    }


def _raise_validation(
    located: LocatedYaml, exc: ValidationError, root: type[BaseModel] | None = None
) -> None:
    """Raise one ConfigError for every problem pydantic found: the first in full (with
    its line, column and fix), the others listed below it with theirs, so a file with
    three mistakes is not corrected in three runs."""
    problems = [_one_problem(located, e, root) for e in _problems_in_order(exc.errors())]
    first = problems[0]
    problem = first["problem"]
    if len(problems) > 1:
        listed = []
        for other in problems[1:11]:
            where = ", ".join(
                part
                for part in (
                    f"line {other['line']}" if other["line"] else "",
                    f"column {other['column']}" if other["column"] else "",
                    f"field '{other['field']}'",
                )
                if part
            )
            text = other["problem"]
            if other["expected"]:
                text += f"; expected {other['expected']}"
            if other["found"] is not None:
                text += f", found {other['found']!r}"
            listed.append(f"\n  also: {where}: {text}")
        if len(problems) > 11:
            listed.append(f"\n  and {len(problems) - 11} more problem(s)")
        problem += f" ({len(problems) - 1} more problem(s), listed below)"
        tail = "".join(listed)
    else:
        tail = ""
    field = first["field"]
    error = ConfigError(
        located.path,
        problem,
        field=field,
        line=first["line"],
        column=first["column"],
        found=first["found"],
        expected=first["expected"],
        fix=f"edit '{field}' in {located.path.name}"
        + (" (and the problems listed above)." if tail else "."),
    )
    if tail:
        error.message += tail
        error.args = (str(error),)
    raise error from exc


def load_cohort(cohort_dir: str | Path) -> Cohort:
    path = Path(cohort_dir) / "cohort.yml"
    located = read_yaml(path, what="cohort file")
    if not isinstance(located.data, dict):
        raise ConfigError(
            path, "the cohort file must be a map of fields", line=1, fix="see README."
        )
    refuse_duplicate_keys(located)
    try:
        cohort = Cohort.model_validate(located.data)
    except ValidationError as exc:
        _raise_validation(located, exc, Cohort)
        raise  # unreachable
    cohort._source_sha256 = located.sha256
    return cohort


# cycle.yml's path -> (the SHA-256 of the bytes read, the card read from them): a report
# reads its cycle's card and the previous one's several times (4-7 in a share report,
# 0.3-0.5 ms of CPU each to parse and check; a copy, 0.07 ms)
_CARDS: dict[Path, tuple[str, CycleCard]] = {}


def load_cycle(cohort_dir: str | Path, cycle: str) -> CycleCard:
    """The cycle's card, read from ``<cycle>/cycle.yml`` and checked. Parsed again when
    the file's bytes changed (compared, not its time: an edit within the clock's tick
    is seen); each call gets a copy of its own to change."""
    path = Path(cohort_dir) / cycle / "cycle.yml"
    try:  # (a file too large, or unreadable: read_yaml says so)
        raw = path.read_bytes() if path.stat().st_size <= MAX_YAML_BYTES else None
    except OSError:
        raw = None
    cached = _CARDS.get(path)
    if raw is not None and cached is not None and cached[0] == hashlib.sha256(raw).hexdigest():
        return cached[1].model_copy(deep=True)
    card = _read_cycle(path, cycle)
    # under the digest of what was parsed, whatever the file held when read above
    _CARDS[path] = (card.source_sha256, card.model_copy(deep=True))
    return card


def _read_cycle(path: Path, cycle: str) -> CycleCard:
    located = read_yaml(path, what="cycle card")
    if not isinstance(located.data, dict):
        raise ConfigError(path, "the cycle card must be a map of fields", line=1, fix="see README.")
    refuse_duplicate_keys(located)
    try:
        card = CycleCard.model_validate(located.data)
    except ValidationError as exc:
        _raise_validation(located, exc, CycleCard)
        raise
    card._source_sha256 = located.sha256
    if card.id != cycle:
        raise ConfigError(
            path,
            "the card's id differs from its folder name",
            field="id",
            line=located.locate(["id"])[0],
            found=card.id,
            expected=repr(cycle),
            fix=f"set id: {cycle} (ids and folders must match).",
        )
    return card


def check_previous(cohort_dir: str | Path, card: CycleCard) -> None:
    """A card's ``previous`` names another cycle of the cohort that starts before it.
    Unchecked, a missing one failed every share report of the cycle, and a cycle that
    named itself (or a later one) was compared with itself without a word."""
    if card.previous is None:
        return
    cohort_dir = Path(cohort_dir)
    problem = None
    if card.previous == card.id:
        problem = "a cycle cannot follow itself"
    elif not (cohort_dir / card.previous / "cycle.yml").is_file():
        problem = f"there is no cycle '{card.previous}' (no {card.previous}/cycle.yml)"
    elif load_cycle(cohort_dir, card.previous).start >= card.start:
        problem = f"'{card.previous}' does not start before {card.id}"
    if problem is None:
        return
    # the card read again for its line, and the folders listed, only to say what is wrong
    path = cohort_dir / card.id / "cycle.yml"
    line, column = read_yaml(path, what="cycle card").locate(["previous"])
    others = [c for c in cycle_folders(cohort_dir) if c != card.id]
    raise ConfigError(
        path,
        problem,
        field="previous",
        line=line,
        column=column,
        found=card.previous,
        expected="the id of the cycle before this one: "
        + (", ".join(others) or "(no other cycle yet)"),
        fix="name the cycle this one follows, or remove 'previous' for a first cycle.",
    )


def earlier_cycles(cohort_dir: str | Path, card: CycleCard) -> Iterator[str]:
    """The cycles before ``card``, newest first, along ``previous``. Each card is read
    only when the cycle before it is asked for; a cycle met twice ends the walk."""
    seen = {card.id}
    cycle = card.previous
    while cycle and cycle not in seen:
        yield cycle
        seen.add(cycle)
        cycle = load_cycle(cohort_dir, cycle).previous


def team_warnings(cohort_dir: str | Path, card: CycleCard, org_ids: Sequence[str]) -> list[str]:
    """A card's ``team`` is keyed by the cohort's organization ids: under a mistyped id
    the staff named were left out of that organization's reports without a word. (A
    warning, not an error: a group that left the cohort stays in the card's record.)"""
    unknown = [org_id for org_id in card.team if org_id not in org_ids]
    if not unknown:
        return []
    path = Path(cohort_dir) / card.id / "cycle.yml"
    located = read_yaml(path, what="cycle card")
    out = []
    for org_id in unknown:
        line, column = located.locate(["team", org_id])
        out.append(
            f"{path}, line {line}, column {column}: team names '{org_id}', which is not an "
            "organization of this cohort"
            + _did_you_mean(org_id, org_ids)
            + "; its staff are in no report. Fix: key each team by its organization's id "
            "(or leave a group that left the cohort as it is)."
        )
    return out


def cycle_folders(cohort_dir: str | Path) -> list[str]:
    """The cohort's cycle ids by folder (those with a cycle.yml), without reading a card:
    a broken card of another cycle must not stop the one asked for."""
    return sorted(p.parent.name for p in Path(cohort_dir).glob("*/cycle.yml"))


def cycles_after(cycles: Sequence[str], cycle: str) -> list[str]:
    """The cycles after ``cycle`` in ``cycles`` (oldest first); none when it is not there."""
    return list(cycles[cycles.index(cycle) + 1 :]) if cycle in cycles else []


def unread_reflections(
    cohort_dir: str | Path, org_ids: Sequence[str], cycles: Sequence[str]
) -> list[str]:
    """Files in the cycles' ``reflections/`` folders that no report reads, each with why
    and the fix: a reflection is ``<org_id>.yml``, and a file named after no organization
    (a typo, an organization that left) or ending in ``.yaml`` was silently left out of
    every report."""
    from cyclebook.paths import CohortPaths

    paths = CohortPaths.of(cohort_dir)
    problems = []
    for cycle in cycles:
        folder = paths.reflections(cycle)
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.name.startswith(".") or path.suffix == ".lock" or not path.is_file():
                continue
            stem = path.stem
            where = path.relative_to(paths.root)
            if path.suffix == ".yml" and stem in org_ids:
                continue
            if path.suffix in {".yml", ".yaml"}:
                close = (
                    [stem]
                    if stem in org_ids
                    else difflib.get_close_matches(stem, list(org_ids), n=1)
                )
                fix = (
                    f"rename it {close[0]}.yml"
                    if close
                    else "name it after an organization id (" + ", ".join(org_ids) + ")"
                )
                if close and (folder / f"{close[0]}.yml").is_file():
                    # renamed, it would replace the reflection that is read
                    fix = (
                        f"it looks like a stray copy of {close[0]}.yml, which is read: merge "
                        f"what it holds into {close[0]}.yml, or remove it"
                    )
            else:
                fix = "reflections are <organization id>.yml files; move it elsewhere"
            problems.append(f"{where} is not read by any report: {fix}")
    return problems


def list_cycles(cohort_dir: str | Path) -> list[str]:
    """Cycle folders of a cohort, oldest first by start date."""
    cohort_dir = Path(cohort_dir)
    cards = [load_cycle(cohort_dir, p.parent.name) for p in cohort_dir.glob("*/cycle.yml")]
    return [card.id for card in sorted(cards, key=lambda c: c.start)]


# The least cohort and cycle card that pass the checks (see warm_up).
_WARM_COHORT = """\
id: warm-up
name: Warm-up cohort
organizations:
  - id: warm-up-org
    name: Warm-up organization
    sources:
      - {kind: action_network_csv, path: action_network}
    consent:
      cohort: [active_base]
      funder: [active_base]
"""
_WARM_CYCLE = """\
id: warm-up
title: Warm-up cycle
how_might_we:
  - How might we start faster?
hypothesis: If the parsers ran once, then each report starts past them.
design: One read of a cohort made for it.
metrics:
  - {goal: Faster starts, measure: absorption, target: 0.45, failure: No faster}
accountable: [Warm-up]
start: 2026-09-14
end: 2026-10-26
"""


def warm_up() -> None:
    """Read a cohort made for it in a temporary folder, as every report first does
    (YAML parse, the models' checks, the glob of cycle folders): called by the kernel
    zygote before it forks, so that each kernel starts past the first run of that code
    (a forked kernel pays a page fault for every page it writes first, and the first
    run of Python code writes its code objects). Nothing of it stays behind."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="cyclebook-warm-up-"))
    card = folder / "warm-up" / "cycle.yml"
    try:
        (folder / "cohort.yml").write_text(_WARM_COHORT, encoding="utf-8")
        card.parent.mkdir()
        card.write_text(_WARM_CYCLE, encoding="utf-8")
        load_cohort(folder)
        list_cycles(folder)
    finally:
        _CARDS.pop(card, None)
        shutil.rmtree(folder, ignore_errors=True)
