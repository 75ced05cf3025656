"""The improve phase, as shown in its notebook: the cycle's closing record for the
organization, the data-quality findings ranked by impact, and the group's definitions."""

from __future__ import annotations

import datetime as dt

from cyclebook import display as d
from cyclebook.errors import ConfigError
from cyclebook.improve import diagnose, improve_blocks
from cyclebook.phases import PhaseContext
from cyclebook.record import definition_blocks, load_record, org_record_blocks
from cyclebook.reflect import EmptyReflectionFile, load_reflection
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
    """The group's definitions and their history. A reflection file that cannot be read
    is the reflect report's failure: here the definitions are shown without the changes
    it proposes, with a note that says what is wrong with the file and the fix."""
    org = ctx.org
    assert org is not None
    try:
        reflection = load_reflection(ctx.paths.root, ctx.cycle, org.id)
    except ConfigError as exc:
        reflection = None
        d.show(d.note(unreadable_note(ctx.cycle, org.id, exc), kind="warning"))
    d.show(*definition_blocks(org, reflection, ctx.audience))


def unreadable_note(cycle: str, org_id: str, exc: ConfigError) -> str:
    """What the improve report says of a reflection file it cannot read: where and the
    fix, not the text found there."""
    name = f"{cycle}/reflections/{org_id}.yml"
    if isinstance(exc, EmptyReflectionFile):
        problem = f"The reflection file {name} is empty"
    else:
        where = ", ".join(
            part
            for part in (
                f"line {exc.line}" if exc.line else "",
                f"field '{exc.field}'" if exc.field else "",
            )
            if part
        )
        problem = f"The reflection file {name} could not be read" + (
            f" ({where}; `cyclebook validate` names the problem)" if where else ""
        )
    return (
        f"{problem}, so the definition changes the group proposed in it are not shown. "
        f"Fix: {exc.fix or 'correct the file; `cyclebook validate` names the problem.'}"
    )


def report(ctx: PhaseContext) -> None:
    show_record(ctx)
    show_findings(ctx)
    show_definitions(ctx)
