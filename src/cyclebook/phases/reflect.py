"""The reflect phase, as shown in its notebook.

In JupyterLab (``interactive=True``) the facilitator gets the :class:`ReflectionForm`; in
every run the notebook renders what was recorded as escaped text and tables, because
widgets render nothing in a static HTML report.
"""

from __future__ import annotations

from cyclebook import display as d
from cyclebook import privacy
from cyclebook.phases import PhaseContext, card_blocks, check_parameters
from cyclebook.record import definition_blocks
from cyclebook.reflect import DEFAULT_METRICS, ReflectionForm, load_reflection, reflection_blocks


def measures(ctx: PhaseContext) -> list[str]:
    """The measures the group reacts to: the card's, then the share report's defaults."""
    return list(dict.fromkeys([*(m.measure for m in ctx.card.metrics), *DEFAULT_METRICS]))


def show_card(ctx: PhaseContext) -> None:
    """The cycle card with the results the share phase computed and saved (the store's
    ``metric_value``), shown as the share report shows them to this audience: the card
    said "not yet measured" of measures the group had just discussed."""
    from cyclebook.metrics import previous_values
    from cyclebook.phases import share

    texts = None
    if ctx.store_path.exists():
        # this cycle's values and the previous cycle's, in one read of the store
        previous = ctx.card.previous
        cycles = [ctx.cycle, previous] if previous else [ctx.cycle]
        saved = previous_values(ctx.store_path, ctx.org_id, cycles)
        results = saved.get(ctx.cycle)
        if results is not None:
            texts = share.card_results(ctx, results, saved.get(previous) if previous else None)
    d.show(*card_blocks(ctx.card, texts))


def form(ctx: PhaseContext, author: str = "") -> ReflectionForm:
    org = ctx.org
    assert org is not None
    return ReflectionForm(
        ctx.paths.root,
        ctx.cycle,
        org.id,
        author=author,
        metrics=measures(ctx),
        staff=ctx.card.team.get(org.id) or org.staff,
        rungs=[rung.name for rung in org.ladder],
    )


def report(ctx: PhaseContext, interactive: bool = False, author: str = "") -> None:
    """Show the form (JupyterLab only), then what was recorded and the group's definitions."""
    check_parameters("reflect", interactive=interactive)  # "yes" is not True
    org = ctx.org
    assert org is not None
    if interactive:
        from IPython.display import display

        d.show(
            d.note(
                "Fill in the form and press Save: each save is kept as a new version with "
                "your name and the time. Run this cell again to see the saved answer below."
            )
        )
        display(form(ctx, author))
    if privacy.shares_nothing(org, ctx.audience):
        # the group agreed to share nothing with this audience: its words neither
        d.show(
            d.heading("What the group said", 2),
            d.note(f"{org.name} shares nothing with the {ctx.audience} (its choice)."),
        )
        return
    reflection = load_reflection(ctx.paths.root, ctx.cycle, org.id)
    d.show(*reflection_blocks(reflection, ctx.audience, org=org))
    d.show(*definition_blocks(org, reflection, ctx.audience))
