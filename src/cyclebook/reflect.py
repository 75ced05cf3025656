"""Reflect: what an organization's staff said about its measures, kept as versioned YAML.

One file per organization and cycle, ``<cohort>/<cycle>/reflections/<org_id>.yml``::

    org_id: eastside-tenants
    cycle: 2026-c1
    versions:                      # oldest first; saving appends, never overwrites
      - saved_at: 2026-09-10T18:00:00+00:00
        author: Nirmal Shah        # who recorded this version
        participants: [Ana (organizing), Lee (data)]
        metrics:                   # reaction to each measure
          - {metric: absorption, reaction: keep, why: It showed the follow-up gap.}
        empty_or_missing: [...]    # what felt empty or missing
        stories: [...]             # stories worth telling
        questions: [...]
        learnings: [...]
        decisions: [...]
        measure_changes:           # proposed changes to the group's own definitions
          - measure: ladder.active # a metric key, or ladder.<rung> for a ladder rule
            proposed_by: Ana
            why: ...
            change: Two meetings, not three, make someone active.
            rule: {window_days: 90, any_of: [{activity_types: [attendance], min_count: 2}]}
            status: proposed       # proposed | adopted | rejected
          - measure: absorption    # a change to the metric settings of cohort.yml
            proposed_by: Dev
            why: Shift schedules are monthly.
            change: Count a second action within 60 days, not 42.
            settings: {absorption_days: 60}

The latest version is what reports show; earlier versions stay in the file with their
time and author. A form saves what it changed since it was opened: when another tab (or
a hand edit) saved meanwhile, the two answers are merged, and a save that would undo or
contradict the other one is refused (:class:`ReflectionConflict`). A malformed file is
a :class:`~cyclebook.errors.ConfigError` naming its line and field. In JupyterLab
:class:`ReflectionForm` (ipywidgets) records a new version; under Papermill nobody clicks,
so the notebook only renders the file (:func:`reflection_blocks`: escaped text and
tables, never widgets).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from types import EllipsisType
from typing import Any, TypeVar

from cyclebook import display as d
from cyclebook import privacy
from cyclebook.config import Organization
from cyclebook.errors import CyclebookError
from cyclebook.reflection import (
    REACTIONS,
    EmptyReflectionFile,
    MeasureProposal,
    MetricReaction,
    Reflection,
    ReflectionVersion,
    RungRule,
    _clean_lines,
    load_reflection,
    read_reflection,
    reflection_path,
)
from cyclebook.yamlio import write_yaml_atomic

__all__ = [
    "REACTIONS",
    "DEFAULT_METRICS",
    "MetricReaction",
    "RungRule",
    "MeasureProposal",
    "ReflectionVersion",
    "Reflection",
    "ReflectionConflict",
    "EmptyReflectionFile",
    "merge_versions",
    "reflection_path",
    "read_reflection",
    "load_reflection",
    "save_reflection",
    "proposal_dates",
    "reflection_blocks",
    "ReflectionForm",
]

# Measures the share report shows by default; the form offers these plus the card's
# measures and the organization's ladder rungs.
DEFAULT_METRICS: tuple[str, ...] = (
    "ladder",
    "movement",
    "active_base",
    "new_people",
    "absorption",
    "retention",
    "leaders",
    "one_on_ones",
    "show_rate",
    "volunteer_tiers",
    "contact",
    "match_rate",
)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialize saves of reflections (two facilitators, two browser tabs) with a lock on
    the reflections folder itself, so no lock file is left beside the YAML."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class ReflectionConflict(CyclebookError):
    """Another tab saved the reflection after this form was opened, and the two answers
    changed the same measure's reaction or the same proposal differently (or one removed
    what the other changed): saving would silently undo one of them."""

    def __init__(self, path: Path, other: ReflectionVersion, conflicts: list[str]) -> None:
        self.path = path
        self.other = other
        self.conflicts = conflicts
        super().__init__(
            f"{path.name} was saved by {other.author} at {other.saved_at:%d %b %Y %H:%M} UTC "
            f"after this form was opened, and both changed {'; '.join(conflicts)}",
            fix="copy what you wrote, run the cell again to reload the form with the saved "
            "answer, then make your changes again and save.",
        )


_LIST_FIELDS = (
    "participants",
    "empty_or_missing",
    "stories",
    "questions",
    "learnings",
    "decisions",
)

_T = TypeVar("_T")


def _merge_items(base: list[str], theirs: list[str], mine: list[str]) -> list[str]:
    """Items: theirs, less what mine removed, plus what mine added (each once)."""
    removed = {x for x in base if x not in mine}
    added = [x for x in mine if x not in base and x not in theirs]
    return [x for x in theirs if x not in removed] + list(dict.fromkeys(added))


def _merge_keyed(
    base: list[_T],
    theirs: list[_T],
    mine: list[_T],
    key: Callable[[_T], Hashable],
    describe: Callable[[_T], str],
) -> tuple[list[_T], list[str]]:
    """Records by key, three ways: a record changed (or removed) on one side only takes
    that side's state; changed differently on both sides (or removed on one, changed on
    the other) is a conflict."""
    b = {key(x): x for x in base}
    t = {key(x): x for x in theirs}
    m = {key(x): x for x in mine}
    merged: list[_T] = []
    conflicts: list[str] = []
    for k, x in t.items():
        if k in m:
            if m[k] == x or m[k] == b.get(k):
                merged.append(x)
            elif x == b.get(k):
                merged.append(m[k])
            else:
                conflicts.append(describe(x))
        elif k in b:  # removed in this form
            if x != b[k]:
                conflicts.append(describe(x))
        else:  # added by the other tab
            merged.append(x)
    for k, x in m.items():
        if k in t:
            continue
        if k in b:  # removed by the other tab
            if x != b[k]:
                conflicts.append(describe(x))
        else:  # added in this form
            merged.append(x)
    return merged, conflicts


def merge_versions(
    base: ReflectionVersion | None, theirs: ReflectionVersion, mine: ReflectionVersion
) -> tuple[ReflectionVersion, list[str]]:
    """Merge the answer ``mine`` (edited from ``base``; None: from no file) into ``theirs``
    (saved meanwhile from ``base`` too). List items added on either side are kept (the
    same item added on both sides once) and items removed on either side are removed; a
    measure's reaction and a proposal take the side that changed them. Returns the merged
    version (``mine``'s author and time) and what both sides changed differently (a
    description each; empty when the merge is unambiguous)."""
    base = base or ReflectionVersion(saved_at=mine.saved_at, author=mine.author)
    data: dict[str, Any] = {"saved_at": mine.saved_at, "author": mine.author}
    for name in _LIST_FIELDS:
        data[name] = _merge_items(getattr(base, name), getattr(theirs, name), getattr(mine, name))
    data["metrics"], conflicts = _merge_keyed(
        base.metrics,
        theirs.metrics,
        mine.metrics,
        lambda m: m.metric,
        lambda m: f"the reaction to {m.metric!r}",
    )
    data["measure_changes"], more = _merge_keyed(
        base.measure_changes,
        theirs.measure_changes,
        mine.measure_changes,
        MeasureProposal.key,
        lambda p: f"the proposed change to {p.measure!r} by {p.proposed_by}",
    )
    return ReflectionVersion.model_validate(data), conflicts + more


def save_reflection(
    cohort_dir: str | Path,
    cycle: str,
    org_id: str,
    version: ReflectionVersion,
    *,
    base: ReflectionVersion | None | EllipsisType = ...,
) -> Path:
    """Append ``version`` to the organization's reflection file (atomic write).

    The file is re-read from disk under a lock, so a version saved meanwhile from another
    tab is kept. ``base``: the version ``version`` was edited from (None: there was no
    file yet), as a form passes it; when the file's latest version is no longer ``base``,
    ``version`` is merged with it (:func:`merge_versions`), and :class:`ReflectionConflict`
    says what both changed differently, writing nothing. Without ``base`` ``version`` is
    the whole answer. A file that cannot be read is never overwritten: the error says
    where it is broken. Saving an answer identical to the latest one by the same author
    adds nothing.
    """
    return _save(cohort_dir, cycle, org_id, version, base=base)[0]


def _save(
    cohort_dir: str | Path,
    cycle: str,
    org_id: str,
    version: ReflectionVersion,
    *,
    base: ReflectionVersion | None | EllipsisType = ...,
) -> tuple[Path, Reflection, ReflectionVersion | None]:
    """:func:`save_reflection`; also the file as written (read back under the lock) and
    the other tab's version that ``version`` was merged with (None: no merge)."""
    path = reflection_path(cohort_dir, cycle, org_id)
    version = ReflectionVersion.model_validate(version.model_dump())  # re-run validators
    merged_with = None
    with _locked(path):
        if path.exists():
            existing = read_reflection(path, org_id=org_id, cycle=cycle)
            versions = list(existing.versions)
            last = versions[-1]
            if base is not ... and last != base:
                version, conflicts = merge_versions(base, last, version)
                if conflicts:
                    raise ReflectionConflict(path, last, conflicts)
                merged_with = last
            if last.author == version.author and last.content() == version.content():
                return path, existing, merged_with
        else:
            versions = []
        versions.append(version)
        write_yaml_atomic(path, _dump(Reflection(org_id=org_id, cycle=cycle, versions=versions)))
        written = read_reflection(path, org_id=org_id, cycle=cycle)
    return path, written, merged_with


def _dump(reflection: Reflection) -> dict[str, Any]:
    data = reflection.model_dump(mode="json", exclude_none=True)
    for i, version in enumerate(data["versions"]):
        for change in version.get("measure_changes", []):
            for optional in ("rule", "settings"):
                if change.get(optional) == {}:
                    change.pop(optional)
        # empty answers are left out, so the file reads as what was said
        data["versions"][i] = {k: v for k, v in version.items() if v != []}
    return data


def proposal_dates(reflection: Reflection) -> dict[tuple[str, str, str], dt.datetime]:
    """When each proposal of the latest version was first recorded (its earliest version)."""
    first: dict[tuple[str, str, str], dt.datetime] = {}
    for version in reflection.versions:
        for change in version.measure_changes:
            first.setdefault(change.key(), version.saved_at)
    return {c.key(): first[c.key()] for c in reflection.latest.measure_changes}


# --------------------------------------------------------------------------- rendering


def reflection_blocks(
    reflection: Reflection | None,
    audience: str = "organization",
    org_name: str | None = None,
    *,
    org: Organization | None = None,
) -> list[d.Block]:
    """The recorded reflection as report blocks (escaped text and tables, no widgets).

    Reflections are staff text, shown in full to the organization's own staff. For the
    cohort and funder audiences only the reactions, learnings, decisions, questions and
    the changes proposed to measures ``org`` shares with that audience are shown (no
    stories, no "why", no names of who took part; without ``org``, no proposed changes).
    """
    if org is not None and org_name is None:
        org_name = org.name
    who = f" with {org_name}" if org_name else ""
    if reflection is None:
        return [
            d.heading("What the group said", 2),
            d.note(
                f"No reflection recorded yet{who} for this cycle. A facilitator records it in "
                "JupyterLab: open notebooks/3_reflect.ipynb, set interactive = True, run all."
            ),
        ]
    latest = reflection.latest
    full = audience == "organization"
    earlier = len(reflection.versions) - 1
    stamp = f"Last saved {latest.saved_at:%d %b %Y %H:%M} UTC"
    if full:
        stamp += f" by {latest.author}"
    stamp += f"; {earlier} earlier version(s) kept in the file."
    blocks: list[d.Block] = [d.heading("What the group said", 2), d.paragraph(stamp)]
    if full:
        blocks += [d.heading("Who took part", 3), d.bullets(latest.participants)]
    else:
        blocks.append(d.paragraph(f"{len(latest.participants)} staff took part."))
    columns = ["Measure", "Reaction", "Why"] if full else ["Measure", "Reaction"]
    # outside the group, reactions to the measures it shares with that audience only (a
    # funder read "leaders: drop" of a group that keeps its leaders to itself)
    # (tables of text cells, built without pandas frames: a reflect report needs no other)
    rows = [
        [m.metric, m.reaction, m.why or "–"][: len(columns)]
        for m in latest.metrics
        if full or (org is not None and privacy.measure_allowed(org, audience, m.metric))
    ]
    blocks.append(
        d.text_table(columns, rows, "Reaction to each measure: keep, change, drop or add")
    )
    sections = [("Learnings", latest.learnings), ("Decisions", latest.decisions)]
    sections.append(("Questions", latest.questions))
    if full:
        sections = [
            ("What felt empty or missing", latest.empty_or_missing),
            ("Stories worth telling", latest.stories),
            *sections,
        ]
    for title, items in sections:
        blocks += [d.heading(title, 3), d.bullets(items)]
    blocks.append(d.heading("Proposed changes to the group's measures", 3))
    dates = proposal_dates(reflection)
    changes = [
        c
        for c in latest.measure_changes
        if full or (org is not None and privacy.measure_allowed(org, audience, c.measure))
    ]
    change_rows = [
        {
            "Measure": c.measure,
            "Proposed by": c.proposed_by,
            "When": f"{dates[c.key()]:%d %b %Y}",
            "Why": c.why,
            "Change": c.change,
            "New rule": "yes" if c.rule is not None or c.settings is not None else "–",
            "Status": c.status,
        }
        for c in changes
    ]
    change_columns = ["Measure", "Proposed by", "When", "Why", "Change", "New rule", "Status"]
    if not full:  # who proposed a change, and why, are the group's own business
        change_columns = [c for c in change_columns if c not in {"Proposed by", "Why"}]
    blocks.append(
        d.text_table(
            change_columns,
            [[row[c] for c in change_columns] for row in change_rows],
            "Definition changes proposed in this reflection (adopted ones apply next cycle)"
            + ("" if full else f"; only measures shared with this audience ({audience})"),
        )
    )
    if full:
        history = [
            [f"{v.saved_at:%Y-%m-%d %H:%M}", v.author, len(v.metrics), len(v.measure_changes)]
            for v in reflection.versions
        ]
        blocks.append(
            d.text_table(
                ["Saved at (UTC)", "Author", "Reactions", "Proposals"],
                history,
                "Versions of this reflection (all kept, oldest first)",
            )
        )
    return blocks


# --------------------------------------------------------------------------- the form


# A list field of the form holds one item per line; a line that starts with a space or a
# tab continues the item above, so an item of several lines (a YAML block scalar, or
# typed so) stays one item: shown with its further lines indented by _CONTINUE.
_CONTINUE = "  "


def _join_items(items: list[str]) -> str:
    """Items as the form's text: one per line, an item's further lines indented."""
    return "\n".join(item.replace("\n", "\n" + _CONTINUE) for item in items)


def _lines(text: str) -> list[str]:
    """The form's text as items (:func:`_join_items` reversed): a line that starts with a
    space or a tab continues the item above (without the indent :func:`_join_items` adds);
    blank lines between items are dropped, blank lines inside an item kept."""
    items: list[list[str]] = []
    blank = 0
    for line in text.splitlines():
        if not line.strip():
            blank += 1
            continue
        if items and line[:1] in (" ", "\t"):
            items[-1] += [""] * blank
            items[-1].append(
                line.removeprefix(_CONTINUE) if line.startswith(_CONTINUE) else line[1:]
            )
        else:
            items.append([line])
        blank = 0
    return _clean_lines(["\n".join(lines) for lines in items])


class _ProposalRow:
    def __init__(self, measures: list[str], proposal: MeasureProposal | None = None) -> None:
        import ipywidgets as w

        options = list(dict.fromkeys([*measures, *([proposal.measure] if proposal else [])]))
        self.measure = w.Combobox(
            options=options,
            value=proposal.measure if proposal else "",
            description="Measure",
            placeholder="e.g. ladder.active or absorption",
            ensure_option=False,
        )
        self.proposed_by = w.Text(
            value=proposal.proposed_by if proposal else "", description="Proposed by"
        )
        self.why = w.Textarea(value=proposal.why if proposal else "", description="Why")
        self.change = w.Textarea(value=proposal.change if proposal else "", description="Change")
        rule_text = ""
        written = proposal and (proposal.rule or proposal.settings)
        if written:
            import yaml

            rule_text = yaml.safe_dump(
                written.model_dump(mode="json", exclude_none=True), sort_keys=False
            )
        self.rule = w.Textarea(
            value=rule_text,
            description="New rule",
            placeholder="optional YAML. For ladder.<rung>: window_days: 90, any_of: [...]; "
            "for other measures, settings such as absorption_days: 60",
        )
        self.status = w.Dropdown(
            options=[
                ("proposed", "proposed"),
                ("adopt next cycle", "adopted"),
                ("rejected", "rejected"),
            ],
            value=proposal.status if proposal else "proposed",
            description="Status",
        )
        self.box = w.VBox(
            [self.measure, self.proposed_by, self.why, self.change, self.rule, self.status],
            layout=w.Layout(border="1px solid #ccc", padding="4px", margin="4px 0"),
        )

    def is_blank(self) -> bool:
        return not any(
            v.value.strip() for v in (self.measure, self.proposed_by, self.why, self.change)
        )

    def value(self) -> MeasureProposal:
        import yaml

        rule = None
        if self.rule.value.strip():
            try:
                rule = yaml.safe_load(self.rule.value)
            except yaml.YAMLError as exc:
                raise ValueError(
                    f"the new rule for {self.measure.value!r} is not YAML: {exc}"
                ) from exc
        measure = self.measure.value.strip()
        ladder = measure.startswith("ladder.")
        return MeasureProposal(
            measure=measure,
            proposed_by=self.proposed_by.value.strip(),
            why=self.why.value.strip(),
            change=self.change.value.strip(),
            rule=rule if ladder else None,
            settings=None if ladder else rule,
            status=self.status.value,
        )


class ReflectionForm:
    """An ipywidgets form that records one organization's reflection (JupyterLab only).

    It starts from the latest saved version, so editing continues where the last person
    stopped; :meth:`save` appends a new version. When another tab saved after this form
    was opened (or last saved), what this form changed is merged into that version, and
    the form then shows the merged answer; a change both made differently is refused
    (:class:`ReflectionConflict`, shown in the form). Every field is a widget attribute,
    so a test (or a script) can set values and call :meth:`save` without a browser.
    """

    def __init__(
        self,
        cohort_dir: str | Path,
        cycle: str,
        org_id: str,
        *,
        author: str = "",
        metrics: list[str] | None = None,
        staff: list[str] | None = None,
        rungs: list[str] | None = None,
        clock=None,
    ) -> None:
        import ipywidgets as w

        self.cohort_dir = Path(cohort_dir)
        self.cycle = cycle
        self.org_id = org_id
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        existing = load_reflection(cohort_dir, cycle, org_id)
        last = existing.latest if existing else None
        #: the saved version this form's answer is edited from (None: no file yet)
        self.base: ReflectionVersion | None = last
        #: the other tab's version the last save was merged with (None: no merge)
        self.merged_with: ReflectionVersion | None = None
        self._saved: Reflection | None = None
        self.metric_names = list(dict.fromkeys(metrics or DEFAULT_METRICS))

        def area(name: str, description: str, placeholder: str) -> Any:
            return w.Textarea(
                description=description,
                placeholder=placeholder + "; indent a line to continue the item above",
                layout=w.Layout(width="95%", height="80px"),
                style={"description_width": "160px"},
            )

        self.author = w.Text(value=author, description="Recorded by", placeholder="your name")
        self.participants = area(
            "participants", "Who took part", "one per line: " + ", ".join(staff or [])
        )
        self.reactions: dict[str, tuple[Any, Any]] = {}
        self._reaction_box = w.VBox([])
        self.new_metric = w.Text(description="Add a measure", placeholder="name of a new measure")
        self.new_metric_why = w.Text(placeholder="why?")
        self.empty_or_missing = area(
            "empty_or_missing", "Empty or missing", "what felt empty or missing, one per line"
        )
        self.stories = area("stories", "Stories", "stories worth telling, one per line")
        self.questions = area("questions", "Questions", "open questions, one per line")
        self.learnings = area("learnings", "Learnings", "what we learned, one per line")
        self.decisions = area("decisions", "Decisions", "keep / change / stop, one per line")
        self._rungs = [f"ladder.{r}" for r in rungs or []]
        self.proposals: list[_ProposalRow] = []
        self._proposal_box = w.VBox([])
        self._fill(last)
        add = w.Button(description="Propose a definition change", icon="plus")
        add.on_click(lambda _b: self.add_proposal())
        save = w.Button(description="Save (keeps earlier versions)", button_style="primary")
        save.on_click(lambda _b: self._save_clicked())
        self.status = w.HTML(value="")
        #: what was saved, rendered as the report shows it (refreshed on every save)
        self.preview = w.HTML(value="")
        self.widget = w.VBox(
            [
                w.HTML(f"<h3>Reflection: {d.esc(org_id)}, cycle {d.esc(cycle)}</h3>"),
                self.author,
                self.participants,
                w.HTML("<b>Reaction to each measure</b>"),
                self._reaction_box,
                w.HBox([self.new_metric, self.new_metric_why]),
                w.HTML(
                    "<small>Lists below: one item per line; a line that starts with a space "
                    "continues the item above.</small>"
                ),
                self.empty_or_missing,
                self.stories,
                self.questions,
                self.learnings,
                self.decisions,
                w.HTML("<b>Changes to the group's definitions</b> (who proposed, why, what)"),
                self._proposal_box,
                add,
                save,
                self.status,
                self.preview,
            ]
        )

    @property
    def _measures(self) -> list[str]:
        return [*self._rungs, *self.metric_names]

    def _fill(self, version: ReflectionVersion | None) -> None:
        """Show ``version`` (the saved answer; None: nothing saved) in every field."""
        import ipywidgets as w

        if version:
            self.metric_names += [
                m.metric for m in version.metrics if m.metric not in self.metric_names
            ]
        for name in _LIST_FIELDS:
            getattr(self, name).value = _join_items(getattr(version, name)) if version else ""
        previous = {m.metric: m for m in version.metrics} if version else {}
        self.reactions = {}
        rows = []
        for name in self.metric_names:
            old = previous.get(name)
            # "add" is for a new measure (below); a row keeps it only if it was saved so
            reactions = [r for r in REACTIONS if r != "add" or (old and old.reaction == "add")]
            choice = w.Dropdown(
                options=[("–", ""), *[(r, r) for r in reactions]],
                value=old.reaction if old else "",
                description=name,
                style={"description_width": "160px"},
            )
            why = w.Text(value=old.why if old else "", placeholder="why?")
            self.reactions[name] = (choice, why)
            rows.append(w.HBox([choice, why]))
        self._reaction_box.children = rows
        self.new_metric.value = ""
        self.new_metric_why.value = ""
        self.proposals = [
            _ProposalRow(self._measures, p) for p in (version.measure_changes if version else [])
        ]
        self._proposal_box.children = [p.box for p in self.proposals]

    def add_proposal(self) -> _ProposalRow:
        row = _ProposalRow(self._measures)
        self.proposals.append(row)
        self._proposal_box.children = [p.box for p in self.proposals]
        return row

    def version(self) -> ReflectionVersion:
        """The form's current values as a version (raises ValueError / ValidationError)."""
        metrics = [
            MetricReaction(metric=name, reaction=choice.value, why=why.value.strip())
            for name, (choice, why) in self.reactions.items()
            if choice.value
        ]
        if self.new_metric.value.strip():
            metrics.append(
                MetricReaction(
                    metric=self.new_metric.value.strip(),
                    reaction="add",
                    why=self.new_metric_why.value.strip(),
                )
            )
        return ReflectionVersion(
            saved_at=self._clock(),
            author=self.author.value.strip(),
            participants=_lines(self.participants.value),
            metrics=metrics,
            empty_or_missing=_lines(self.empty_or_missing.value),
            stories=_lines(self.stories.value),
            questions=_lines(self.questions.value),
            learnings=_lines(self.learnings.value),
            decisions=_lines(self.decisions.value),
            measure_changes=[p.value() for p in self.proposals if not p.is_blank()],
        )

    def save(self) -> Path:
        """Validate and append a new version to the file; returns its path.

        What this form changed since it was opened (or last saved) is merged into a
        version another tab saved meanwhile (:attr:`merged_with`); the form then shows
        the saved answer. Raises :class:`ReflectionConflict` (writing nothing) when both
        changed the same reaction or proposal differently."""
        if not self.author.value.strip():
            raise ValueError("fill in 'Recorded by' (your name) before saving")
        path, saved, self.merged_with = _save(
            self.cohort_dir, self.cycle, self.org_id, self.version(), base=self.base
        )
        self.base = saved.latest
        self._fill(saved.latest)
        self._saved = saved
        return path

    def _save_clicked(self) -> None:
        try:
            path = self.save()
        except (ValueError, CyclebookError) as exc:  # ValidationError is a ValueError
            self.status.value = (
                f'<span style="color:#a00;white-space:pre-wrap">Not saved: {d.esc(exc)}</span>'
            )
            return
        saved = self._saved
        assert saved is not None
        merged = ""
        if self.merged_with is not None:
            other = self.merged_with
            merged = (
                f" together with what {d.esc(other.author)} saved at "
                f"{other.saved_at:%H:%M} UTC after this form was opened (the form now shows both)"
            )
        self.status.value = (
            f"Saved to {d.esc(path.name)} ({len(saved.versions)} version(s) kept) at "
            f"{dt.datetime.now(dt.UTC):%H:%M} UTC{merged}. As the report will show it:"
        )
        self.preview.value = "".join(block.html for block in reflection_blocks(saved))

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
