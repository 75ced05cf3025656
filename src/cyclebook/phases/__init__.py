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
from cyclebook.errors import ParameterError
from cyclebook.paths import CohortPaths


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
    """Resolve a notebook's parameters; raises ConfigError / ParameterError with a fix."""
    if audience not in AUDIENCES:
        raise ParameterError(
            f"{phase} notebook",
            [f"audience={audience!r}: expected one of {', '.join(AUDIENCES)}"],
        )
    if phase != "cohort" and audience not in PHASE_AUDIENCES.get(phase, AUDIENCES):
        # run by Papermill by hand: a sync or improve report applies no consent (the
        # cohort summary reads "organization" as the cohort)
        raise ParameterError(
            f"{phase} notebook",
            [
                f"audience={audience!r}: the {phase} report is rendered for "
                f"{' and '.join(PHASE_AUDIENCES[phase])} only"
            ],
            fix=f"set audience to {PHASE_AUDIENCES[phase][0]!r}.",
        )
    paths = CohortPaths.of(cohort_dir)
    card = load_cycle(paths.root, cycle)
    # the measures of this cycle: a definition adopted for a later one does not change it
    cohort = load_cohort(paths.root).as_of(cycle, list_cycles(paths.root))
    org = cohort.org(org_id) if org_id else None
    return PhaseContext(
        phase=phase, cohort=cohort, card=card, org=org, audience=audience, paths=paths
    )


def card_blocks(card: CycleCard, results: dict[str, str] | None = None) -> list:
    """The experiment card of DESIGN.md as report blocks (every report shows it).

    ``results`` maps a card metric's measure to its result text, when the share phase
    has computed it.
    """
    import pandas as pd

    from cyclebook import display as d

    results = results or {}
    rows = [
        {
            "Goal": m.goal,
            "Measure": m.measure,
            "Target": "–" if m.target is None else f"{m.target:g}",
            "Result": results.get(m.measure, m.result or "not yet measured"),
            "Failure line": m.failure,
        }
        for m in card.metrics
    ]
    team = "; ".join(f"{org}: {', '.join(names)}" for org, names in card.team.items())
    docs = ", ".join(doc.title for doc in card.documents) or "–"
    blocks = [
        d.heading(f"Cycle card: {card.title}", 2),
        d.heading("How might we…", 3),
        d.bullets(card.how_might_we),
        d.heading("Hypothesis", 3),
        d.paragraph(card.hypothesis),
        d.heading("Design", 3),
        d.paragraph(card.design),
        d.table(
            pd.DataFrame(rows, columns=["Goal", "Measure", "Target", "Result", "Failure line"]),
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
