"""The improve phase, as shown in its notebook: the cycle's closing record for the
organization, the data-quality findings ranked by impact, and the group's definitions."""

from __future__ import annotations

import datetime as dt

from cyclebook import display as d
from cyclebook.improve import diagnose, improve_blocks
from cyclebook.phases import PhaseContext
from cyclebook.record import definition_blocks, load_record, org_record_blocks
from cyclebook.reflect import load_reflection
from cyclebook.store import connect


def show_record(ctx: PhaseContext) -> None:
    """The whole experiment card with this organization's results and record."""
    record = load_record(
        ctx.paths.root,
        ctx.cycle,
        store_path=ctx.store_path,
        org_ids=[ctx.org_id],
        cohort=ctx.cohort,
        card=ctx.card,
    )
    d.show(*org_record_blocks(record, ctx.org_id, ctx.audience))


def as_of(ctx: PhaseContext) -> dt.datetime:
    """Events before the cycle's end (or now, while the cycle runs) count as past."""
    end = dt.datetime.combine(ctx.card.end, dt.time.min, tzinfo=dt.UTC)
    return min(end, dt.datetime.now(dt.UTC))


def show_findings(ctx: PhaseContext, lag_days: int = 7) -> None:
    org = ctx.org
    assert org is not None
    if not ctx.store_path.exists():
        d.show(
            d.note(
                "No store yet, so there is nothing to check: run the sync phase first "
                "(`cyclebook run COHORT --phase sync`).",
                kind="warning",
            )
        )
        return
    affiliates = [a.id for a in ctx.cohort.affiliates(org.id)]
    with connect(ctx.store_path) as con:
        findings = diagnose(
            con,
            org,
            as_of=as_of(ctx),
            lag_days=lag_days,
            include_affiliates=bool(affiliates),
            affiliates=affiliates,
        )
    if affiliates:
        d.show(d.paragraph(f"Counts include {len(affiliates)} affiliate(s) of {org.name}."))
    d.show(*improve_blocks(findings, ctx.audience))


def show_definitions(ctx: PhaseContext) -> None:
    org = ctx.org
    assert org is not None
    reflection = load_reflection(ctx.paths.root, ctx.cycle, org.id)
    d.show(*definition_blocks(org, reflection, ctx.audience))


def report(ctx: PhaseContext) -> None:
    show_record(ctx)
    show_findings(ctx)
    show_definitions(ctx)
