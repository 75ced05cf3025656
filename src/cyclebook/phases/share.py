"""The share phase: an organization's own measures, computed once and shown for feedback.

The report celebrates the work and starts a conversation: breadth (how many acted) beside
depth (how many moved up), the ladder start→end, how the base grew, whether new people
stayed, leaders, show rates, volunteer tiers and voter/member contact — each figure with
the definition the group chose and against the cycle card's goal and failure line.

Outside the organization (``audience`` cohort or funder) only the measures the group
agreed to share appear, and counts from 1 to 9 are suppressed (``cyclebook.privacy``).
Follow-up lists (personal data) go to CSV in the organization's folder; the report shows
only how many rows each has and the file name.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pandas as pd

from cyclebook import charts, privacy
from cyclebook import display as d
from cyclebook.card import (
    COUNTS_RUNGS,
    as_shown,
    count_shown,
    definition_change,
    earlier_definition,
    fmt_target,
    judge,
    people,
    percent,
    redefinition,
    trend,
)
from cyclebook.config import CycleCard, earlier_cycles, list_cycles, load_cycle

# imported with this module, so the kernels of a run find it imported (their zygote
# imports what the notebooks import: for a run of share reports alone, not the cohort
# summary's gallery), not compiled again in each report for the cohort and for funders
from cyclebook.gallery import safe_results
from cyclebook.metrics import MetricResults, compute_metrics, read_results
from cyclebook.metrics.values import (
    MetricValue,
    headline_period,
    read_results_on,
    redefinitions_on,
    unexplained,
    unexplained_redefinitions,
)
from cyclebook.phases import PhaseContext, card_blocks

# --------------------------------------------------------------------------- compute


def previous_card(ctx: PhaseContext) -> CycleCard | None:
    return load_cycle(ctx.paths.root, ctx.card.previous) if ctx.card.previous else None


def compute(ctx: PhaseContext) -> MetricResults:
    """Compute and keep this organization's metrics for the cycle; write follow-up lists
    (organization audience only: they are for the group's own organizers).

    The reports for the cohort and for funders reuse the values the organization's own
    report saved when they are still fresh (same definitions, no sync since): the same
    figures, suppressed for the audience, without computing them three times."""
    own = ctx.audience == "organization"
    followup = ctx.paths.followup(ctx.org_id, ctx.cycle) if own else None
    # a member of a network keeps its per-person state for the network's roll-up
    in_network = ctx.org.parent is not None or bool(ctx.cohort.affiliates(ctx.org_id))
    reads: dict[str, Any] = {}
    results = compute_metrics(
        ctx.store_path,
        ctx.org,
        ctx.card,
        previous_card(ctx),
        followup_dir=followup,
        reuse=not own,
        keep_state=own and in_network,
        then=lambda con: reads.update(store_reads(ctx, con)),
    )
    if reads:
        ctx.derived["share_reads"] = (results, reads)
    return results


def store_reads(ctx: PhaseContext, con) -> dict[str, Any]:
    """What the card and report cells read of the store besides this cycle's values, read
    on the connection :func:`compute` had them on (each cell attached the store again:
    ~2 ms a time, three or four times a report): the previous cycle's saved values, for
    the cohort and funders the cycles before it (:func:`earlier_results`), and the
    definitions changed since the values were first saved (:func:`redefinitions_on`)."""
    prev = ctx.card.previous
    previous = read_results_on(con, prev, ctx.org_id) if prev else None
    earlier = []
    if privacy.is_restricted(ctx.audience) and previous is not None:
        earlier = earlier_results(ctx, lambda cycle: read_results_on(con, cycle, ctx.org_id))
    return {
        "previous": previous,
        "earlier": earlier,
        "redefinitions": redefinitions_on(con, ctx.cycle, ctx.org_id),
    }


def store_reads_of(ctx: PhaseContext, results: MetricResults) -> dict[str, Any] | None:
    """:func:`store_reads` made when ``results`` were computed, if they were."""
    kept = ctx.derived.get("share_reads")
    return kept[1] if kept is not None and kept[0] is results else None


def earlier_results(
    ctx: PhaseContext, read: Callable[[str], MetricResults | None] | None = None
) -> list[MetricResults]:
    """The saved results of the cycles before the previous one, newest first (the
    "Last cycle" column shows the previous cycle as its own report did, which depended
    on the cycle before it). ``read``: how a cycle's are read (default: from the store,
    :func:`read_results`)."""
    found: list[MetricResults] = []
    for cycle in itertools.islice(earlier_cycles(ctx.paths.root, ctx.card), 1, None):
        results = (
            read(cycle) if read is not None else read_results(ctx.store_path, cycle, ctx.org_id)
        )
        if results is None:
            break
        found.append(results)
    return found


def previous_results(ctx: PhaseContext) -> MetricResults | None:
    prev = ctx.card.previous
    return read_results(ctx.store_path, prev, ctx.org_id) if prev else None


# --------------------------------------------------------------------------- formatting


def pct(value: float | None) -> str:
    if value is None or pd.isna(value):
        return "–"
    return percent(value)


MARKERS = (privacy.SMALL, privacy.HIDDEN, privacy.WITHHELD)


class View:
    """What one audience may see of one result set.

    Outside the organization only the measures the group agreed to share are visible,
    and every figure goes through :func:`cyclebook.gallery.safe_results` — the same
    suppression decisions as the Measure Gallery, so a reader of both cannot combine them
    to undo a hidden count.
    """

    def __init__(
        self,
        ctx: PhaseContext,
        res: MetricResults,
        prev: MetricResults | None,
        earlier: list[MetricResults] | None = None,
    ):
        """``earlier``: :func:`earlier_results` (read from the store when not given)."""
        self.ctx = ctx
        self.res = res
        self.prev = prev
        self.audience = ctx.audience
        self.restricted = privacy.is_restricted(ctx.audience)
        self.safe: dict[tuple, Any] | None = None
        self.safe_prev: dict[tuple, Any] | None = None
        if self.restricted:
            # each cycle's suppression depends on the one before it: the chain of them
            if earlier is None:
                earlier = earlier_results(ctx) if prev is not None else []
            self.safe = safe_results(res, ctx.org, ctx.audience, previous=[prev, *earlier])
            if prev is not None:
                self.safe_prev = safe_results(prev, ctx.org, ctx.audience, previous=earlier)

    def allowed(self, metric: str) -> bool:
        return privacy.is_allowed(self.ctx.org, self.audience, metric)

    def get(self, metric: str, period: str | None = None, dim: str = "") -> MetricValue | None:
        return self.res.get(metric, period, dim) if self.allowed(metric) else None

    def cell(
        self, metric: str, period: str | None = None, dim: str = "", *, previous: bool = False
    ) -> Any:
        """The figure as this audience may see it: the number (a count, or a rate from 0
        to 1), a marker ("<10", "hidden", "withheld"), or None (absent or not shared)."""
        res = self.prev if previous else self.res
        if res is None or not self.allowed(metric):
            return None
        v = res.get(metric, period, dim)
        if v is None or v.value is None:
            return None
        if not self.restricted:
            return v.value
        safe = self.safe_prev if previous else self.safe
        shown = (safe or {}).get((metric, v.period, dim))
        if shown is None:
            return None
        return shown if shown in MARKERS else v.value

    count = cell
    rate = cell

    def show(
        self, metric: str, period: str | None = None, dim: str = "", *, previous: bool = False
    ) -> str:
        """The figure as text: "1,234", "42%", a marker, or "–"."""
        x = self.cell(metric, period, dim, previous=previous)
        if x is None or isinstance(x, str):
            return "–" if x is None else x
        v = (self.prev if previous else self.res).get(metric, period, dim)
        return pct(x) if v is not None and v.is_rate else count_shown(x)

    def show_part(self, v: MetricValue | None, part: str) -> str:
        """A rate's numerator or denominator, for the organization's own staff only (they
        are not saved figures of their own, so other audiences see the rate alone)."""
        if v is None or self.restricted:
            return "–"
        return count_shown(v.numerator if part == "numerator" else v.denominator)


def rows_table(
    rows: list[dict[str, Any]], caption: str, columns: list[str] | None = None
) -> d.Block:
    """A table of ``rows`` (column -> cell, the cells texts or counts), as
    ``d.table(pd.DataFrame(rows, columns=columns), caption)`` shows it, without the
    frame: building a share report's ten or so frames cost ~7 ms (more in a kernel,
    whose every page pandas writes is new to it). ``columns``: the columns shown (by
    default the rows' keys, in the order they first appear)."""
    names = columns if columns is not None else list(dict.fromkeys(k for row in rows for k in row))
    return d.text_table(names, [[row.get(name) for name in names] for row in rows], caption)


def definition(text: str) -> d.Block:
    return d.paragraph(f"Definition used: {text}", css_class="cb-definition")


# --------------------------------------------------------------------------- sections


HEADLINES: list[tuple[str, str, str, str]] = [
    # (label, metric, period, dimension)
    ("Active base at the end of the cycle", "active_base", "end", ""),
    ("People who took action this cycle (breadth)", "active_base", "cycle", ""),
    ("People who moved up a rung (depth)", "movement", "cycle", ""),
    ("New people", "new_people", "cycle", ""),
    ("Newly lapsed", "lapsed", "cycle", ""),
    ("Net growth (new minus lapsed)", "net_growth", "cycle", ""),
    ("Absorption of new people", "absorption", "cycle", ""),
    ("Retention from the previous cycle", "retention", "cycle", ""),
    ("Leaders", "leaders", "end", ""),
    ("Leaders per active member", "leader_ratio", "end", ""),
    ("One-on-ones held", "one_on_ones", "cycle", ""),
    ("Show rate", "show_rate", "cycle", ""),
    ("Active volunteers (a shift in 30 days)", "volunteer_tiers", "end", ""),
    ("Conversations with voters and members", "contact", "cycle", ""),
    ("People matched across tools", "match_rate", "end", ""),
]


def _change(view: View, metric: str, period: str, dim: str, redefined: bool = False) -> str:
    cur = view.cell(metric, period, dim)
    old = view.cell(metric, period, dim, previous=True)
    if cur is None or old is None:
        return "–"
    if isinstance(cur, str) or isinstance(old, str):
        return privacy.WITHHELD  # the difference would give a hidden figure back
    if redefined:
        return "not compared (definition changed)"
    return change_shown(cur, old, view.res.get(metric, period, dim).is_rate)


def change_shown(value: float, previous: float, rate: bool) -> str:
    """The difference of the two figures as shown: 67% and 67% are "no change", 68%
    after 67% is "+1 point", and a rate shown as "<1%" or ">99%" beside another moves by
    "+<1 point" or "-<1 point" (not "+0 points")."""
    delta = as_shown(value, rate) - as_shown(previous, rate)
    if delta == 0:
        return "no change"
    if not rate:
        return f"{delta:+,.0f}"
    if abs(delta) < 1:
        return "+<1 point" if delta > 0 else "-<1 point"
    points = round(delta)
    return f"{points:+d} point{'' if abs(points) == 1 else 's'}"


def _definition(results: MetricResults | None, metric: str) -> str | None:
    return definitions(results).get(metric)


def definitions(results: MetricResults | None) -> dict[str, str]:
    """The definition each metric's values were computed under (``metric_value``): its
    headline's, as the headline table compares them (the first row's was a breakdown's:
    active base's breadth row never names the active window, and the card compared two
    cycles the table said could not be compared)."""
    from cyclebook.metrics.values import headline_definitions

    rows = results.values if results is not None else ()
    return headline_definitions((v.metric, v.period, v.dimension, v.definition) for v in rows)


def redefined(view: View, metric: str) -> str | None:
    """What last cycle's definition of ``metric`` said where it differs from this
    cycle's (:func:`cyclebook.card.redefinition`), or None."""
    if view.prev is None:
        return None
    return redefinition(metric, definitions(view.prev), definitions(view.res))


def headline_blocks(view: View) -> list[d.Block]:
    rows = []
    changed_defs = []
    old_ladder = _definition(view.prev, "ladder")
    ladder_changed = old_ladder is not None and old_ladder != _definition(view.res, "ladder")
    for label, metric, period, dim in HEADLINES:
        cur = view.get(metric, period, dim)
        if cur is None:
            continue
        old = view.prev.get(metric, period, dim) if view.prev is not None else None
        changed = bool(old is not None and old.definition and old.definition != cur.definition)
        if changed or (old is not None and ladder_changed and metric in COUNTS_RUNGS):
            changed_defs.append(label)
            changed = True
        rows.append(
            {
                "Measure": label,
                "This cycle": view.show(metric, period, dim),
                "Last cycle": view.show(metric, period, dim, previous=True),
                "Change": _change(view, metric, period, dim, changed),
                "Definition used": cur.definition,
            }
        )
    blocks = [d.heading("Headline numbers", 2)]
    if not rows:
        blocks.append(d.note("This organization shares no measures with this audience."))
        return blocks
    blocks.append(
        rows_table(
            rows, "Headline numbers this cycle, last cycle and the change, with the definition used"
        )
    )
    if view.prev is None and view.ctx.card.previous:
        blocks.append(
            d.note(
                f"No saved values for the previous cycle ({view.ctx.card.previous}) yet, so "
                "there is no comparison. Run the share phase for that cycle to add it."
            )
        )
    if changed_defs:
        blocks.append(
            d.note(
                "The definition changed since the last cycle for: "
                + "; ".join(changed_defs)
                + ". Compare these with care."
                + (
                    " The ladder's rungs changed (see the ladder's definition below); "
                    "the measures that count rungs changed with them."
                    if ladder_changed
                    else ""
                ),
                kind="warning",
            )
        )
    return blocks


def recomputed_blocks(view: View) -> list[d.Block]:
    """A note when this cycle's figures were computed again under a definition edited
    in cohort.yml without a ``measure_history`` entry: the run warns of it too, and
    figures reported or reflected on before are not what the report shows now."""
    ctx = view.ctx
    reads = store_reads_of(ctx, view.res)
    cycles = list_cycles(ctx.paths.root)
    if reads is not None:
        changes = unexplained(reads["redefinitions"], ctx.org, ctx.cycle, cycles)
    else:
        changes = unexplained_redefinitions(ctx.store_path, ctx.org, ctx.cycle, cycles)
    labels = {metric: label for label, metric, _, _ in reversed(HEADLINES)}
    parts = [
        f'{labels.get(metric, metric)} (first saved under "{definition_change(then, now)}", '
        f'now "{definition_change(now, then)}")'
        for metric, (then, now) in sorted(changes.items())
        if view.allowed(metric)
    ]
    if not parts:
        return []
    return [
        d.note(
            "This cycle's figures were computed again under a changed definition that the "
            f"group's measure history does not record: {'; '.join(parts)}. Figures "
            "reported or reflected on before may differ from these.",
            kind="warning",
        )
    ]


def card_status(view: View) -> tuple[list[d.Block], dict[str, str]]:
    """Each cycle-card metric against its goal and failure line; also the result texts
    for the cycle card table."""
    from cyclebook.metrics import METRICS

    rows, results = [], {}
    for m in view.ctx.card.metrics:
        key = m.measure
        if key not in METRICS:
            status, shown = "not a computed measure", "–"
        else:
            v = view.get(key, headline_period(key))
            if v is None:
                status, shown = "not shared with this audience", "–"
                # (the card's table said "not yet measured" for a measure it had)
                results[key] = status
            else:
                shown = view.show(key, v.period, v.dimension)
                cur = view.cell(key, v.period, v.dimension)
                old = view.cell(key, v.period, v.dimension, previous=True)
                if not isinstance(old, float | int):
                    old = None  # absent, or hidden from this audience
                if v.value is None:
                    status = "no data yet"
                elif not isinstance(cur, float | int):
                    status = "too few people to show"
                else:
                    changed = redefined(view, key)
                    standing = judge(m, cur, rate=v.is_rate, previous=old, redefined=changed)
                    status = standing.text
                    if old is not None and not standing.compared:
                        status += "; " + (
                            earlier_definition(old, v.is_rate, changed)
                            if changed
                            else trend(cur, old, v.is_rate)
                        )
                results[key] = f"{shown} ({status})"
        rows.append([m.goal, key, shown, fmt_target(key, m.target), m.failure, status])
    if not rows:
        return [], results
    return [
        d.heading("Against the cycle card", 2),
        d.text_table(
            ["Goal", "Measure", "Result", "Goal line", "Failure line", "Where it stands"],
            rows,
            "Each measure of the cycle card against its goal and what counts as failure",
        ),
    ], results


def _shown(value: Any) -> bool:
    """A figure the audience may read (not absent, not a suppression marker)."""
    return value is not None and value not in MARKERS and value != "–"


def story(view: View) -> list[str]:
    """A few plain sentences from the numbers (only what the audience may read)."""
    org = view.ctx.org.name
    s: list[str] = []
    acted, up = view.count("active_base", "cycle"), view.count("movement", "cycle")
    if not view.res.value("active_base", "end") and not view.res.value("active_base", "cycle"):
        return [
            f"No activity is recorded for {org} up to the end of this cycle yet; once its "
            "exports are synced, this page fills in."
        ]
    if _shown(acted) and acted:
        s.append(f"{people(acted)} took action with {org} this cycle.")
    joined = view.count("movement", "cycle", "joined")
    if _shown(up) and up:
        line = f"{people(up)} moved up at least one rung of the ladder"
        if _shown(joined) and joined:
            line += f", and {people(joined, 'new or returning')} joined it"
        s.append(line + ".")
    a0, a1 = view.count("active_base", "start"), view.count("active_base", "end")
    new, lapsed = view.count("new_people", "cycle"), view.count("lapsed", "cycle")
    window = view.ctx.org.metrics.active_window_days
    if _shown(a0) and _shown(a1):
        s.append(
            f"The active base (everyone active in the last {window} days) went from "
            f"{count_shown(a0)} to {count_shown(a1)}."
        )
    if _shown(new) and _shown(lapsed):
        s.append(
            f"{people(new, 'new')} came in; {people(lapsed)} went quiet for "
            f"{view.ctx.org.metrics.lapse_days} days (lapsed) during the cycle."
        )
    absorption = view.show("absorption", "cycle")
    if _shown(absorption):
        days = view.ctx.org.metrics.absorption_days
        s.append(
            f"{absorption} of new people came back for a second, different action within "
            f"{days} days."
        )
    retention = view.show("retention", "cycle")
    if _shown(retention):
        s.append(f"{retention} of the people active last cycle were active again this cycle.")
    l0, l1 = view.count("leaders", "start"), view.count("leaders", "end")
    if l0 == 0 and l1 == 0:
        s.append(
            "No one is on the leader rung yet by the group's own definition; it is worth "
            "asking whether hosts, one-on-ones and assessments are being recorded."
        )
    elif _shown(l1):
        line = (
            "1 person is a leader now" if l1 == 1 else f"{count_shown(l1)} people are leaders now"
        )
        if _shown(l0):
            line += f" ({count_shown(l0)} at the start of the cycle)"
        s.append(line + ".")
    conv, reached = view.count("contact", "cycle"), view.count("contact", "cycle", "reached")
    rate = view.show("contact", "cycle", "contact_rate")
    if _shown(conv) and conv and _shown(reached):
        talks = "1 conversation" if conv == 1 else f"{count_shown(conv)} conversations"
        line = f"Organizers and volunteers had {talks} with {people(reached)}"
        if _shown(rate):
            line += f" ({rate} of attempts)"
        s.append(line + ".")
    if not s and view.restricted:  # there was activity, but no figure may be told
        figures = (acted, up, a0, a1, new, lapsed, l1, conv)
        if privacy.SMALL in figures:
            s.append(
                f"{org}'s figures for this cycle are small: for the {view.audience}, "
                f'counts from 1 to 9 are shown as "{privacy.SMALL}" so that no one can be '
                "picked out, and no sentence is drawn from them."
            )
        else:
            s.append(
                f"The figures {org} agreed to share with the {view.audience} are in the "
                "tables below; none of them can be summed up in a sentence here."
            )
    return s


def breadth_depth_blocks(view: View) -> list[d.Block]:
    if not view.allowed("active_base") or not view.allowed("movement"):
        return []
    acted, up = view.count("active_base", "cycle"), view.count("movement", "cycle")
    blocks = [
        d.heading("Breadth and depth", 2),
        d.paragraph(
            "Mobilizing is breadth: how many people acted. Organizing is depth: how many "
            "moved up the ladder. Both matter; here they are side by side."
        ),
        d.definition_list(
            [
                ("Breadth: people who took any action this cycle", count_shown(acted)),
                ("Depth: people on a rung at the start who moved up at least one", count_shown(up)),
            ]
        ),
    ]
    if isinstance(acted, int | float) and isinstance(up, int | float) and acted:
        drawn = charts.hbars(
            ["took action (breadth)", "moved up (depth)"],
            [acted, up],
            colors=["#1f78b4", "#6a3d9a"],
            axis_label="people",
            alt=f"Bar chart: {acted:,.0f} people took action this cycle and {up:,.0f} "
            "moved up at least one rung.",
        )
        blocks.append(d.chart(drawn, caption="Breadth beside depth"))
    return blocks


def ladder_blocks(view: View) -> list[d.Block]:
    if not view.allowed("ladder"):
        return []
    ladder = view.ctx.org.ladder
    res = view.res
    rows = [
        {
            "Rung": rung.label,
            "Start": view.show("ladder", "start", rung.name),
            "End": view.show("ladder", "end", rung.name),
            "Definition": rung.definition,
        }
        for rung in ladder
    ]
    blocks = [
        d.heading("The ladder of engagement", 2),
        definition(res.get("ladder", "end").definition),
        rows_table(rows, "People on each rung at the start and at the end of the cycle"),
    ]
    # transition matrix: rows = where people started, columns = where they ended
    names = {r.name: r.label for r in ladder}
    names.update({"new": "new this cycle", "off": "not on the ladder"})
    present = {v.dimension for v in res.select("ladder", "transition")}
    row_keys = ["new", "off", *[r.name for r in ladder]]
    col_keys = [*[r.name for r in ladder], "off"]
    totals = {
        "new": ("movement", "cycle", "new:joined"),
        "off": ("movement", "cycle", "off:joined"),
    }
    matrix = []
    for a in row_keys:
        if not any(f"{a}>{b}" in present for b in col_keys):
            continue
        row = {"Started as": names[a]}
        for b in col_keys:
            key = f"{a}>{b}"
            row[f"→ {names[b]}"] = view.show("ladder", "transition", key) if key in present else "0"
        total = totals.get(a, ("ladder", "start", a))
        row["Total"] = view.show(*total) if view.allowed(total[0]) else "–"
        matrix.append(row)
    if matrix:
        blocks.append(
            rows_table(
                matrix, "Where people started (rows) and where they ended (columns) this cycle"
            )
        )
    starts = [res.value("ladder", "start", r.name) or 0 for r in ladder]
    ends = [res.value("ladder", "end", r.name) or 0 for r in ladder]
    if not view.restricted and sum(starts) + sum(ends) > 0:
        words = "; ".join(
            f"{r.label} {count_shown(a)} at the start and {count_shown(b)} at the end"
            for r, a, b in zip(ladder, starts, ends, strict=True)
        )
        drawn = charts.bars(
            [r.label for r in ladder],
            [charts.Series("start", starts, "#a6cee3"), charts.Series("end", ends, "#1f78b4")],
            axis_label="people",
            alt=f"Bar chart of people per rung: {words}.",
        )
        blocks.append(d.chart(drawn, caption="The ladder at the start and at the end of the cycle"))
    return blocks


def movement_blocks(view: View) -> list[d.Block]:
    if not view.allowed("movement") and not view.allowed("conversion"):
        return []
    res = view.res
    rows = []
    for rung in view.ctx.org.ladder:
        rows.append(
            {
                "Rung at the start": rung.label,
                "People at the start": view.show("ladder", "start", rung.name)
                if view.allowed("ladder")
                else "–",
                "Moved up": view.show("movement", "cycle", f"{rung.name}:up"),
                "Stayed": view.show("movement", "cycle", f"{rung.name}:stayed"),
                "Moved down or off": view.show("movement", "cycle", f"{rung.name}:down"),
                "Conversion": view.show("conversion", "cycle", rung.name),
            }
        )
    conversion = res.get("conversion", "cycle")
    blocks = [d.heading("Movement and conversion", 2)]
    if conversion is not None:
        blocks.append(definition(conversion.definition))
    blocks.append(
        rows_table(
            rows,
            "For each rung at the start: how many moved up, stayed or moved down; "
            "conversion = moved up over people at the start",
        )
    )
    if view.allowed("movement"):
        blocks.append(
            d.definition_list(
                [
                    (
                        "New or returning people who joined the ladder",
                        view.show("movement", "cycle", "joined"),
                    ),
                ]
            )
        )
    return blocks


def growth_blocks(view: View) -> list[d.Block]:
    res = view.res
    pairs = []
    for label, metric, period in (
        ("Active base at the start", "active_base", "start"),
        ("New people", "new_people", "cycle"),
        ("Newly lapsed", "lapsed", "cycle"),
        ("Net growth (new minus lapsed)", "net_growth", "cycle"),
        ("Active base at the end", "active_base", "end"),
    ):
        if view.allowed(metric):
            pairs.append((label, view.show(metric, period)))
    if not pairs:
        return []
    blocks = [d.heading("How the base grew", 2)]
    if view.allowed("active_base"):
        blocks.append(definition(res.get("active_base", "end").definition))
    blocks.append(d.definition_list(pairs))
    if view.allowed("new_people"):
        blocks.append(definition(res.get("new_people", "cycle").definition))
        src = [
            {
                "Tool that knew them first": v.dimension.removeprefix("source="),
                "New people": view.show("new_people", "cycle", v.dimension),
            }
            for v in res.select("new_people", "cycle")
            if v.dimension.startswith("source=")
        ]
        blocks.append(
            rows_table(
                src,
                "New people by the tool that first knew them",
                ["Tool that knew them first", "New people"],
            )
        )
    if view.allowed("lapsed"):
        blocks.append(definition(res.get("lapsed", "cycle").definition))
    new = res.value("new_people", "cycle") or 0
    lapsed = res.value("lapsed", "cycle") or 0
    if (
        not view.restricted
        and view.allowed("new_people")
        and view.allowed("lapsed")
        and (new or lapsed)
    ):
        drawn = charts.bars(
            ["new", "lapsed", "net growth"],
            [charts.Series("people", [new, -lapsed, new - lapsed], "#1f78b4")],
            colors=["#33a02c", "#e31a1c", "#1f78b4"],
            axis_label="people",
            alt=f"Bar chart: {new:,.0f} new people came in and {lapsed:,.0f} lapsed (drawn "
            f"below zero), so net growth is {new - lapsed:+,.0f} people.",
        )
        blocks.append(d.chart(drawn, caption="Growth split into new and lapsed people"))
    return blocks


def stay_blocks(view: View) -> list[d.Block]:
    res = view.res
    blocks = []
    if view.allowed("absorption"):
        v = res.get("absorption", "cycle")
        blocks += [
            d.heading("Did new people stay?", 2),
            definition(v.definition),
            d.definition_list(
                [
                    ("Absorption", view.show("absorption", "cycle")),
                    ("New people it counts", view.show("new_people", "cycle")),
                ]
            ),
        ]
        src = [
            {
                "Tool": x.dimension.removeprefix("source="),
                "New people": view.show("new_people", "cycle", x.dimension),
                "Came back": view.show_part(x, "numerator"),
                "Absorption": view.show("absorption", "cycle", x.dimension),
            }
            for x in res.select("absorption", "cycle")
            if x.dimension.startswith("source=")
        ]
        if src:
            columns = list(src[0])
            if view.restricted:
                columns.remove("Came back")
            blocks.append(rows_table(src, "Absorption by the tool that first knew them", columns))
    if view.allowed("retention"):
        v = res.get("retention", "cycle")
        if v is None:
            blocks.append(d.note("Retention needs a previous cycle; this cycle's card names none."))
        else:
            pairs = [("Retention", view.show("retention", "cycle"))]
            if not view.restricted:
                pairs.append(("People active last cycle", view.show_part(v, "denominator")))
            blocks += [definition(v.definition), d.definition_list(pairs)]
    return blocks


def leader_blocks(view: View) -> list[d.Block]:
    res = view.res
    blocks = []
    if view.allowed("leaders"):
        blocks += [
            d.heading("Leaders and one-on-ones", 2),
            definition(res.get("leaders", "end").definition),
        ]
        pairs = [
            ("Leaders at the start", view.show("leaders", "start")),
            ("Leaders at the end", view.show("leaders", "end")),
        ]
        if view.allowed("leader_ratio"):
            pairs.append(("Leaders per active member", view.show("leader_ratio", "end")))
        blocks.append(d.definition_list(pairs))
    if view.allowed("one_on_ones"):
        if not blocks:
            blocks.append(d.heading("One-on-ones", 2))
        blocks += [
            definition(res.get("one_on_ones", "cycle").definition),
            d.definition_list(
                [
                    ("One-on-ones held", view.show("one_on_ones", "cycle")),
                    ("People who had one", view.show("one_on_ones", "cycle", "people")),
                    (
                        "Organizers who held them",
                        view.show("one_on_ones", "cycle", "organizers"),
                    ),
                    (
                        f"New people with a one-on-one within "
                        f"{view.ctx.org.metrics.one_on_one_days} days",
                        view.show("one_on_ones", "cycle", "new_within_window"),
                    ),
                ]
            ),
        ]
    return blocks


def show_rate_blocks(view: View) -> list[d.Block]:
    if not view.allowed("show_rate"):
        return []
    res = view.res
    rows = [
        {
            "Event type": v.dimension.removeprefix("event_type=").replace("_", " ").title(),
            "Registered (attendance recorded)": view.show_part(v, "denominator"),
            "Attended": view.show_part(v, "numerator"),
            "Show rate": view.show("show_rate", "cycle", v.dimension),
        }
        for v in res.select("show_rate", "cycle")
        if v.dimension.startswith("event_type=")
    ]
    columns = ["Event type", "Registered (attendance recorded)", "Attended", "Show rate"]
    if view.restricted:
        columns = ["Event type", "Show rate"]
    blocks = [
        d.heading("Show rates", 2),
        definition(res.get("show_rate", "cycle").definition),
        d.definition_list([("Show rate, all events", view.show("show_rate", "cycle"))]),
        rows_table(rows, "Show rate by event type, for events held during the cycle", columns),
    ]
    unrecorded = view.cell("show_rate", "cycle", "unrecorded")
    if unrecorded:
        blocks.append(
            d.note(
                f"{count_shown(unrecorded)} registrations for past events have no attendance "
                "recorded and are left out; recording attendance makes this number more "
                "reliable."
            )
        )
    return blocks


TIERS = ["2+ in 14 days", "2+ in 30 days", "1 in 30 days", "none in 30 days"]


def volunteer_blocks(view: View) -> list[d.Block]:
    if not view.allowed("volunteer_tiers"):
        return []
    res = view.res
    rows = [
        {
            "Tier": t,
            "Start": view.show("volunteer_tiers", "start", t),
            "End": view.show("volunteer_tiers", "end", t),
        }
        for t in TIERS
    ]
    blocks = [
        d.heading("Volunteer tiers", 2),
        definition(res.get("volunteer_tiers", "end", TIERS[0]).definition),
        rows_table(rows, "Volunteers by completed shifts, at the start and at the end"),
    ]
    ends = [res.value("volunteer_tiers", "end", t) or 0 for t in TIERS]
    if not view.restricted and sum(ends) > 0:
        words = "; ".join(f"{t}: {count_shown(n)}" for t, n in zip(TIERS, ends, strict=True))
        drawn = charts.hbars(
            TIERS,
            ends,
            colors="#ff7f00",
            axis_label="volunteers at the end of the cycle",
            alt=f"Bar chart of volunteers by tier at the end of the cycle: {words}.",
        )
        blocks.append(d.chart(drawn, caption="Volunteer tiers"))
    return blocks


def _parse_dim(dimension: str) -> tuple[str, dict[str, str]]:
    head, *parts = dimension.split("|")
    return head, dict(p.split("=", 1) for p in parts)


def contact_blocks(view: View) -> list[d.Block]:
    if not view.allowed("contact"):
        return []
    res = view.res
    card = view.ctx.card
    blocks = [
        d.heading("Voter and member contact", 2),
        definition(res.get("contact", "cycle").definition),
    ]
    if not res.value("contact", "cycle", "attempts"):
        blocks.append(d.paragraph("No contact attempts were recorded during this cycle."))
        return blocks
    channels: dict[str, set[str]] = {"cycle": set(), "year": set()}
    week_channels: set[tuple[int, str]] = set()
    for v in res.select("contact"):
        measure, keys = _parse_dim(v.dimension)
        if measure != "attempts":
            continue
        if v.period in channels and set(keys) == {"channel"}:
            channels[v.period].add(keys["channel"])
        elif v.period == "week" and set(keys) == {"week", "channel"}:
            week_channels.add((int(keys["week"]), keys["channel"]))

    def channel_rows(period: str) -> list[dict[str, str]]:
        return [
            {
                "Channel": ch,
                "Attempts": view.show("contact", period, f"attempts|channel={ch}"),
                "Conversations": view.show("contact", period, f"conversations|channel={ch}"),
                "Contact rate": view.show("contact", period, f"contact_rate|channel={ch}"),
                "People reached": view.show("contact", period, f"reached|channel={ch}"),
            }
            for ch in sorted(channels[period])
        ]

    blocks.append(rows_table(channel_rows("cycle"), "Contact this cycle by channel"))
    if "text" in channels["cycle"]:
        blocks.append(
            d.definition_list(
                [
                    ("Texts: reply rate", view.show("contact", "cycle", "reply_rate|channel=text")),
                    (
                        "Texts: opt-out rate",
                        view.show("contact", "cycle", "opt_out_rate|channel=text"),
                    ),
                ]
            )
        )
    names = sorted(channels["cycle"])
    n_weeks = -(-(card.end - card.start).days // 7)
    weeks = sorted({w for w, _ in week_channels} | set(range(1, n_weeks + 1)))
    week_rows = []
    for w in weeks:
        first = card.start + dt.timedelta(days=7 * (w - 1))
        row = {"Week": f"{w} (from {first:%d %b})"}
        for ch in names:
            present = (w, ch) in week_channels
            for measure in ("attempts", "conversations"):
                dim = f"{measure}|week={w}|channel={ch}"
                row[f"{ch}: {measure}"] = view.show("contact", "week", dim) if present else "0"
        week_rows.append(row)
    blocks.append(rows_table(week_rows, "Contact attempts and conversations by week and channel"))
    if not view.restricted:
        series, words = [], []
        for ch, color in zip(names, itertools.cycle(charts.CYCLE), strict=False):
            ys = [
                res.value("contact", "week", f"conversations|week={w}|channel={ch}") or 0
                for w in weeks
            ]
            series.append(charts.Series(ch, ys, color))
            words.append(f"{ch}: " + ", ".join(f"{y:,.0f}" for y in ys))
        drawn = charts.lines(
            weeks,
            series,
            x_label="week of the cycle",
            y_label="conversations",
            alt=f"Line chart of conversations in each week of the cycle (weeks 1 to "
            f"{weeks[-1]}), by channel. " + "; ".join(words) + ".",
        )
        blocks.append(d.chart(drawn, caption="Conversations by week and channel"))
    if channels["year"]:
        blocks.append(
            rows_table(
                channel_rows("year"),
                f"The year so far ({card.end.year}, up to the end of this cycle) by channel",
            )
        )
    return blocks


def match_blocks(view: View) -> list[d.Block]:
    if not view.allowed("match_rate"):
        return []
    v = view.res.get("match_rate", "end")
    return [
        d.heading("One base across tools", 2),
        definition(v.definition),
        d.definition_list(
            [("People matched across two or more tools", view.show("match_rate", "end"))]
        ),
    ]


def history_blocks(view: View) -> list[d.Block]:
    """Who proposed and changed each of the group's definitions, and why (buy-in)."""
    history = view.ctx.org.measure_history
    if not history:
        return []
    rows = [
        {
            "Measure": h.measure,
            "Date": f"{h.date:%d %b %Y}",
            "Change": h.change,
            # why a group changed a measure: for its peers, not for funders
            **({"Why": h.why} if view.audience != "funder" else {}),
            "Status": h.status,
            **({"Proposed by": h.proposed_by} if not view.restricted else {}),
        }
        for h in sorted(history, key=lambda h: h.date, reverse=True)
        if not view.restricted or privacy.measure_allowed(view.ctx.org, view.audience, h.measure)
    ]
    if not rows:
        return []
    return [
        d.heading("How the group chose its measures", 2),
        rows_table(rows, "Changes to the group's own definitions, newest first"),
    ]


def followup_blocks(view: View) -> list[d.Block]:
    if view.restricted or not view.res.followup:
        return []
    from cyclebook.metrics.followup import LISTS

    rows = [
        {"List": LISTS[name], "People": n, "File": path.name} for name, n, path in view.res.followup
    ]
    return [
        d.heading("Follow-up lists for organizers", 2),
        d.paragraph(
            "These lists hold names and contact details, so they are not in this report. "
            "They are CSV files in the organization's own follow-up folder, with each "
            "person's id in every tool, ready to load back as a list. People marked do not "
            "contact are left out."
        ),
        rows_table(rows, "Follow-up lists written for this cycle (counts only)"),
    ]


# --------------------------------------------------------------------------- report


SECTIONS: list[Callable[[View], list[d.Block]]] = [
    breadth_depth_blocks,
    ladder_blocks,
    movement_blocks,
    growth_blocks,
    stay_blocks,
    leader_blocks,
    show_rate_blocks,
    volunteer_blocks,
    contact_blocks,
    match_blocks,
    history_blocks,
    followup_blocks,
]


def report_blocks(
    ctx: PhaseContext, results: MetricResults, previous: MetricResults | None = None
) -> list[d.Block]:
    return view_blocks(View(ctx, results, previous))


def view_blocks(view: View) -> list[d.Block]:
    """The report's blocks for one audience's view of the results."""
    ctx, results = view.ctx, view.res
    blocks: list[d.Block] = [d.heading("What the numbers say", 2)]
    blocks += timing_blocks(ctx.card, ctx.org.timezone)
    sentences = story(view)
    blocks.append(d.bullets(sentences, empty="This cycle's figures are in the tables below."))
    if view.restricted:
        blocks.append(
            d.note(
                f"Shown for the {ctx.audience}: only the measures {ctx.org.name} agreed to share; "
                'counts from 1 to 9 read "<10" and figures that could reveal them are hidden.'
            )
        )
    blocks += headline_blocks(view)
    blocks += recomputed_blocks(view)
    status_blocks, _ = card_status(view)
    blocks += status_blocks
    for section in SECTIONS:
        blocks += section(view)
    if results.notes:
        blocks += [d.heading("Notes", 3), d.bullets(results.notes)]
    return blocks


def timing_blocks(card: CycleCard, timezone: str, today: dt.date | None = None) -> list[d.Block]:
    """A cycle that has not started, or has not ended, says so: its report read as if
    the six weeks had happened ("0% of the people active last cycle were active again")."""
    from zoneinfo import ZoneInfo

    today = today or dt.datetime.now(ZoneInfo(timezone)).date()
    last = card.end - dt.timedelta(days=1)
    if today < card.start:
        return [
            d.note(
                f"This cycle has not started: it runs from {card.start:%d %b %Y} to "
                f"{last:%d %b %Y}. Its figures count only what has happened by today "
                f"({today:%d %b %Y}); a sign-up for an event to come counts once the event "
                "is held."
            )
        ]
    if today <= last:
        return [
            d.note(
                f"This cycle is under way ({card.start:%d %b %Y} to {last:%d %b %Y}): "
                f"figures for its end are as of today ({today:%d %b %Y}), and count only "
                "what has happened by then."
            )
        ]
    return []


def card_results(
    ctx: PhaseContext, results: MetricResults, previous: MetricResults | None = None
) -> dict[str, str]:
    """Result text per cycle-card measure (for the cycle card table): the same as the
    report's "Against the cycle card" when given the same ``previous`` (without it, the
    card said "1 (see the failure line)" where the report said "up from 0 last cycle")."""
    return card_status(View(ctx, results, previous))[1]


def shown_view(ctx: PhaseContext, results: MetricResults) -> View:
    """The audience's view of ``results`` beside the previous cycle's saved results, made
    once for the notebook's card and report cells (each read the previous cycle's values
    and, for the cohort and funders, worked out the same suppression: about 25 ms of a
    cohort or funder report on the benchmark cohort). Kept for these very results: a
    notebook that computes them again gets a new view."""
    kept = ctx.derived.get("share_view")
    if kept is not None and kept[0] is results:
        return kept[1]
    reads = store_reads_of(ctx, results)
    if reads is not None:
        view = View(ctx, results, reads["previous"], reads["earlier"])
    else:
        view = View(ctx, results, previous_results(ctx))
    ctx.derived["share_view"] = (results, view)
    return view


def show_card(ctx: PhaseContext, results: MetricResults) -> None:
    """The cycle card with this cycle's results filled in."""
    d.show(*card_blocks(ctx.card, card_status(shown_view(ctx, results))[1]))


def report(ctx: PhaseContext, results: MetricResults | None = None) -> None:
    """Show the share report (computing the metrics first unless given)."""
    if results is None:
        results = compute(ctx)
    d.show(*view_blocks(shown_view(ctx, results)))
