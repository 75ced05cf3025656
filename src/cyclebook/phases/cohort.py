"""The cohort phase: the cycle across the cohort, for the cohort or for funders.

Three parts, each only with what the organizations agreed to share with the audience:

1. the status of every organization (sync, figures, what it shares);
2. the **Measure Gallery**: each sharing organization's measures, in its own words, why
   it chose them, its ladder and its figures this cycle (small counts suppressed);
3. **network roll-ups**: a network's members together, each person counted once.

The notebook calls :func:`report`; tests and other callers can use :func:`blocks`.
"""

from __future__ import annotations

from cyclebook import display as d
from cyclebook import gallery
from cyclebook.config import CycleCard, cycles_after, list_cycles, load_cycle
from cyclebook.errors import CyclebookError
from cyclebook.phases import PhaseContext
from cyclebook.privacy import allowed_metrics

AUDIENCE_TEXT = {
    "cohort": (
        "This page is for the groups of the cohort. Each group decided what it shares here; "
        "counts from 1 to 9 read “<10”, and a figure that would let someone work out a "
        "small count reads “hidden” or “withheld”."
    ),
    "funder": (
        "This page is for funders. It shows only what each group agreed to share with "
        "funders; counts from 1 to 9 read “<10”, and a figure that would let someone work "
        "out a small count reads “hidden” or “withheld”. No person can be identified here."
    ),
}


# What "Last sync" is on the summary of a cycle that a later one follows (an earlier
# cycle's page would otherwise change with every sync of the cycles after it)
EARLIER_SYNC_TEXT = (
    "A later cycle follows this one, so “Last sync” is the sync each group's figures of "
    "this cycle were computed from (its last sync before they were computed), not a "
    "later one: a later sync shows here once it changes the group's data and its "
    "figures are computed again. A group without figures for this cycle shows its "
    "latest sync."
)


def is_earlier(ctx: PhaseContext) -> bool:
    """Whether a later cycle of the cohort follows this one (a cycle folder starting
    after it: :func:`cyclebook.config.list_cycles`)."""
    return bool(cycles_after(list_cycles(ctx.paths.root), ctx.cycle))


def _audience(ctx: PhaseContext) -> str:
    # The cohort summary is never an organization's own report: the organization
    # audience would show every group's unsuppressed figures to everyone.
    return "cohort" if ctx.audience == "organization" else ctx.audience


def _previous(ctx: PhaseContext) -> CycleCard | None:
    if not ctx.card.previous:
        return None
    try:
        return load_cycle(ctx.paths.root, ctx.card.previous)
    except CyclebookError:
        return None


def status_blocks(ctx: PhaseContext) -> list[d.Block]:
    """Who the page is for, and every organization's status this cycle."""
    audience = _audience(ctx)
    out: list[d.Block] = [d.paragraph(AUDIENCE_TEXT[audience])]
    if ctx.audience == "organization":
        out.append(
            d.note(
                "The cohort summary has no 'organization' audience; it is shown as for the cohort.",
                kind="warning",
            )
        )
    earlier = is_earlier(ctx)
    status = gallery.org_status(ctx.store_path, ctx.cohort, ctx.card.id, earlier=earlier)
    out.append(gallery.status_block(ctx.cohort, status, audience))
    if earlier:
        out.append(d.paragraph(EARLIER_SYNC_TEXT))
    if not ctx.store_path.exists():
        out.append(d.note("No data has been synced for this cohort yet; run the sync phase first."))
    return out


def _shared(ctx: PhaseContext) -> list:
    """Each sharing organization with its figures as this report shows them: read once,
    for the gallery and for the check of the network roll-ups against them."""
    if "shared" not in ctx.derived:
        ctx.derived["shared"] = list(
            gallery.iter_shared(ctx.store_path, ctx.cohort, ctx.card, _audience(ctx))
        )
    return ctx.derived["shared"]


def gallery_blocks(ctx: PhaseContext) -> list[d.Block]:
    """The Measure Gallery: each sharing group's measures, definitions and figures."""
    audience = _audience(ctx)
    cohort = ctx.cohort
    out: list[d.Block] = [
        d.paragraph("They are here so groups can learn from each other, not to rank anyone."),
    ]
    sharing = _shared(ctx)
    if not sharing:
        out.append(d.note("No organization shares its measures with this audience."))
    for org, values in sharing:
        out.extend(gallery.org_gallery_blocks(org, values, audience))
    silent = [org.name for org in cohort.organizations if allowed_metrics(org, audience) == set()]
    if silent:
        out.append(
            d.paragraph("Not sharing with this audience (their choice): " + ", ".join(silent) + ".")
        )
    return out


def network_blocks(ctx: PhaseContext) -> list[d.Block]:
    """Each network's members rolled up (people once, rates recomputed)."""
    from cyclebook.rollup import network_ids, rollup_for_audience

    audience = _audience(ctx)
    networks = network_ids(ctx.cohort)
    if not networks:
        return [d.paragraph("No network organization in this cohort.")]
    out: list[d.Block] = []
    if not ctx.store_path.exists():
        out.append(d.note("No data has been synced yet."))
        return out
    previous = _previous(ctx)
    # the members' own figures as the gallery on this page shows them: a roll-up figure
    # that would give back one they hide is withheld (gallery.rollup_withheld)
    shown = {org.id: values for org, values in _shared(ctx)}
    for network_id in networks:
        rolled = rollup_for_audience(
            ctx.store_path, ctx.cohort, network_id, ctx.card, previous, audience
        )
        out.extend(gallery.rollup_blocks(ctx.cohort, network_id, rolled, audience, shown))
    return out


SECTIONS = {
    "status": "Every organization this cycle",
    "gallery": "Measure Gallery: what each group measures and why",
    "networks": "Networks: affiliates rolled up",
    "record": "The cycle's record: results, learnings, decisions and questions",
}


def blocks(ctx: PhaseContext) -> list[d.Block]:
    """The whole cohort report as display blocks (the notebook shows the three parts in
    their own cells, under its own headings)."""
    return [
        d.heading(SECTIONS["status"], 2),
        *status_blocks(ctx),
        d.heading(SECTIONS["gallery"], 2),
        *gallery_blocks(ctx),
        d.heading(SECTIONS["networks"], 2),
        *network_blocks(ctx),
    ]


def show_status(ctx: PhaseContext) -> None:
    d.show(*status_blocks(ctx))


def show_gallery(ctx: PhaseContext) -> None:
    d.show(*gallery_blocks(ctx))


def show_networks(ctx: PhaseContext) -> None:
    d.show(*network_blocks(ctx))


def record_blocks(ctx: PhaseContext) -> list[d.Block]:
    """The cycle's closing record across the cohort: each organization's results against
    the card (shared measures only), and the learnings, decisions and questions."""
    from cyclebook.record import cohort_record_blocks, load_record

    audience = _audience(ctx)
    record = load_record(
        ctx.paths.root, ctx.cycle, store_path=ctx.store_path, cohort=ctx.cohort, card=ctx.card
    )
    return cohort_record_blocks(
        record, audience, with_card_head=False, shown=_gallery_headlines(ctx, audience)
    )


def _gallery_headlines(ctx: PhaseContext, audience: str) -> dict[tuple[str, str], str]:
    """Each organization's headline figures exactly as the Measure Gallery shows them."""
    from cyclebook.metrics.values import headline_period

    shown: dict[tuple[str, str], str] = {}
    if not ctx.store_path.exists():
        return shown
    # (the gallery's own figures: the periods it leaves out change no decision; read
    # once per report with the gallery's, 0.3 s of the cohort summary when read again)
    if audience == _audience(ctx):
        sharing = _shared(ctx)
    else:
        sharing = gallery.iter_shared(ctx.store_path, ctx.cohort, ctx.card, audience)
    for org, safe in sharing:
        for value in safe:
            if value.dimension == "" and value.period == headline_period(value.metric):
                shown[(org.id, value.metric)] = str(value.shown)
    return shown


def show_record(ctx: PhaseContext) -> None:
    d.show(*record_blocks(ctx))


def report(ctx: PhaseContext) -> None:
    d.show(*blocks(ctx), d.heading(SECTIONS["record"], 2), *record_blocks(ctx))
