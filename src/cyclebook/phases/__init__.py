"""What every phase notebook starts from: validated parameters resolved into a context."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cyclebook.config import (
    AUDIENCES,
    PHASE_AUDIENCES,
    Cohort,
    CycleCard,
    Organization,
    list_cycles,
    load_cohort,
    load_cycle,
)
from cyclebook.errors import NotebookParameterError, ParameterError
from cyclebook.params import check_notebook_values
from cyclebook.paths import NOTEBOOKS, CohortPaths, notebooks_dir


@dataclass(frozen=True)
class PhaseContext:
    """Everything a phase needs, resolved from the notebook's parameters."""

    phase: str
    cohort: Cohort
    card: CycleCard
    org: Organization | None  # None for the cohort-level notebook
    audience: str
    paths: CohortPaths
    # what the report derives once and shows in several places (see phases.cohort)
    derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def cycle(self) -> str:
        return self.card.id

    @property
    def org_id(self) -> str:
        if self.org is None:
            raise ParameterError("(cohort notebook)", ["this phase runs for one organization"])
        return self.org.id

    @property
    def store_path(self) -> Path:
        return self.paths.store


def load_context(
    phase: str,
    cohort_dir: str,
    cycle: str,
    org_id: str | None,
    audience: str = "organization",
) -> PhaseContext:
    """Resolve a notebook's parameters; raises ConfigError / ParameterError with a fix.

    The values are checked against the types the phase's parameters cell declares: run
    as it is in JupyterLab, a notebook's edited parameters cell is checked by nothing
    else (``cycle = 2026`` failed deep in pathlib)."""
    check_parameters(phase, cohort_dir=cohort_dir, cycle=cycle, org_id=org_id, audience=audience)
    if audience not in AUDIENCES:
        raise NotebookParameterError(
            _notebook(phase),
            [f"audience = {audience!r} is not an audience cyclebook renders for"],
            fix=f"in the parameters cell at the top, set audience to one of "
            f"{', '.join(repr(a) for a in AUDIENCES)}, then run the notebook again from the top.",
        )
    if phase != "cohort" and audience not in PHASE_AUDIENCES.get(phase, AUDIENCES):
        # run by hand: a sync or improve report applies no consent (the cohort summary
        # reads "organization" as the cohort)
        raise NotebookParameterError(
            _notebook(phase),
            [
                f"audience = {audience!r}: the {phase} report is rendered for "
                f"{' and '.join(PHASE_AUDIENCES[phase])} only"
            ],
            fix=f"in the parameters cell at the top, set audience to "
            f"{PHASE_AUDIENCES[phase][0]!r}, then run the notebook again from the top.",
        )
    paths = CohortPaths.of(cohort_dir)
    card = load_cycle(paths.root, cycle)
    # the measures of this cycle: a definition adopted for a later one does not change it
    cohort = load_cohort(paths.root).as_of(cycle, list_cycles(paths.root))
    org = cohort.org(org_id) if org_id else None
    return PhaseContext(
        phase=phase, cohort=cohort, card=card, org=org, audience=audience, paths=paths
    )


def _notebook(phase: str) -> Path:
    return notebooks_dir() / NOTEBOOKS.get(phase, f"{phase}.ipynb")


def check_parameters(phase: str, **values: Any) -> None:
    """Check the values a phase notebook's first call received against the types its
    parameters cell declares (a NotebookParameterError naming each wrong one and how to
    write it); names it does not declare are not checked."""
    check_notebook_values(_notebook(phase), values)


def card_blocks(card: CycleCard, results: dict[str, str] | None = None) -> list:
    """The experiment card of DESIGN.md as report blocks (every report shows it).

    ``results`` maps a card metric's measure to its result text, when the share phase
    has computed it.
    """
    from cyclebook import display as d
    from cyclebook.card import card_head, fmt_target

    results = results or {}
    # every cell is text: a table without a frame (pandas is most of what a reflect
    # report's kernel touches otherwise)
    rows = [
        [
            m.goal,
            m.measure,
            fmt_target(m.measure, m.target),
            results.get(m.measure, m.result or "not yet measured"),
            m.failure,
        ]
        for m in card.metrics
    ]
    team = "; ".join(f"{org}: {', '.join(names)}" for org, names in card.team.items())
    docs = ", ".join(doc.title for doc in card.documents) or "–"
    blocks = [
        *card_head(card, "Cycle card"),
        d.text_table(
            ["Goal", "Measure", "Target", "Result", "Failure line"],
            rows,
            "Cycle metrics: goal, measure, result and what counts as failure",
        ),
        d.heading("Learnings", 3),
        d.bullets(card.learnings, empty="Recorded during reflect and improve."),
        d.heading("Decisions", 3),
        d.bullets(card.decisions, empty="Recorded at the end of the cycle."),
        d.heading("Questions", 3),
        d.bullets(card.questions, empty="None yet."),
        d.definition_list(
            [
                ("Dates", f"{card.start:%d %b %Y} – {card.end:%d %b %Y} ({card.weeks:g} weeks)"),
                ("Accountable", ", ".join(card.accountable) or "–"),
                ("Team", team or "–"),
                ("Documents", docs),
            ]
        ),
    ]
    return blocks


def show_card(ctx: PhaseContext, results: dict[str, str] | None = None) -> None:
    from cyclebook import display as d

    d.show(*card_blocks(ctx.card, results))
