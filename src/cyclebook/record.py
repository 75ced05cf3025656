"""The cycle record: what a cycle learned and decided, and the start of the next cycle.

* :func:`load_record` gathers the experiment card (``cycle.yml``: the cohort's own
  learnings, decisions and questions), each organization's latest reflection (its
  learnings, decisions, questions and proposed definition changes), and the results of
  the card's metrics from the store's ``metric_value`` table when the share phase has
  computed them.
* :func:`org_record_blocks` and :func:`cohort_record_blocks` render the closing report:
  the whole card with goal, measure, result and failure line per metric.
* :func:`definition_blocks` shows each of an organization's definitions and its history
  (who proposed each change, when, why, and whether it was adopted).
* :func:`start_next_cycle` writes the next ``cycle.yml`` (six weeks, ``previous:`` set,
  open questions carried, decisions listed) and adopts the definition changes marked
  ``adopted`` in reflections into ``cohort.yml``.

Rewriting cohort.yml uses ruamel.yaml's round trip, so comments, key order, quoting and
flow style stay as the facilitator wrote them (comments inside a rung that is rewritten
stay where ruamel puts them). The new text is validated as a whole cohort before it
replaces the file (atomically), and the file is not replaced if someone changed it
meanwhile.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import ValidationError

from cyclebook import display as d
from cyclebook import privacy
from cyclebook.card import card_head, fmt_target, is_rate, judge, percent, redefinition
from cyclebook.config import (
    ID_RE,
    CardMetric,
    Cohort,
    CycleCard,
    MeasureChange,
    MetricSettings,
    Organization,
    Rung,
    load_cohort,
    load_cycle,
)
from cyclebook.errors import ConfigError, CyclebookError
from cyclebook.paths import CohortPaths
from cyclebook.reflect import (
    EmptyReflectionFile,
    MeasureProposal,
    Reflection,
    load_reflection,
    proposal_dates,
    reflection_path,
)
from cyclebook.yamlio import _StrictSafeLoader, read_yaml, write_text_atomic

__all__ = [
    "CYCLE_WEEKS",
    "OrgRecord",
    "CycleRecord",
    "load_record",
    "card_results",
    "cards_results",
    "org_record_blocks",
    "cohort_record_blocks",
    "definition_frame",
    "definition_blocks",
    "pending_changes",
    "adopt_measure_changes",
    "add_cohort_notes",
    "start_next_cycle",
]

CYCLE_WEEKS = 6
#: metric_value periods that hold a cycle's headline value, most preferred first
RESULT_PERIODS = ("cycle", "end", "total")


@dataclass
class OrgRecord:
    """One organization's part of the cycle record (from its latest reflection)."""

    org_id: str
    name: str
    team: list[str]
    learnings: list[str] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    proposals: list[MeasureProposal] = field(default_factory=list)
    reflected: bool = False
    #: why its reflection file could not be read (where, not what: no quoted text)
    unreadable: str | None = None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the same measures in the previous cycle (``card.previous``), for comparison
    previous: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class CycleRecord:
    cohort: Cohort
    card: CycleCard
    orgs: dict[str, OrgRecord]

    def org(self, org_id: str) -> OrgRecord:
        return self.orgs[org_id]


# --------------------------------------------------------------------------- results


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _status(
    metric: CardMetric,
    value: float | None,
    previous: float | None = None,
    redefined: str | None = None,
) -> str:
    """``value`` against the card (:func:`cyclebook.card.judge`); ``previous``: last
    cycle's value as the same audience may read it, or None; ``redefined``: what its
    definition said where it differs from this cycle's."""
    if value is None:
        return "not yet measured"
    rate = is_rate(metric.measure)
    return judge(metric, value, rate=rate, previous=previous, redefined=redefined).text


def _definitions(result: dict[str, Any] | None, measure: str) -> dict[str, str | None]:
    """A result's definition and its ladder's, as :func:`cyclebook.card.redefinition`
    takes them."""
    result = result or {}
    return {measure: result.get("definition"), "ladder": result.get("ladder_definition")}


def card_results(con, cycle: str, org_id: str, card: CycleCard) -> dict[str, dict[str, Any]]:
    """Result of each card metric for one organization, from ``metric_value``.

    Returns ``{measure: {"value", "denominator", "suppressed", "period", "definition",
    "ladder_definition"}}`` for measures found (overall rows, ``dimension = ''``); a
    cycle-long period is preferred. ``definition``: what the value was computed under;
    ``ladder_definition``: the ladder's then (measures that count rungs change with it).
    """
    return cards_results(con, cycle, [org_id], card).get(org_id, {})


def cards_results(
    con, cycle: str, org_ids: Sequence[str], card: CycleCard
) -> dict[str, dict[str, dict[str, Any]]]:
    """:func:`card_results` of several organizations in one query, by organization
    (organizations without any are left out)."""
    return cycles_results(con, [cycle], org_ids, card).get(cycle, {})


def cycles_results(
    con, cycles: Sequence[str], org_ids: Sequence[str], card: CycleCard
) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """:func:`cards_results` of several cycles (this one and the previous: a closing
    report shows both), by cycle, read together: one look for the table and two queries
    in all rather than per cycle (in an improve report's kernel, ~4 ms a look)."""
    measures = sorted({m.measure for m in card.metrics})
    cycles = list(dict.fromkeys(cycles))
    if not measures or not org_ids or not cycles:
        return {}
    from cyclebook.store import table_names

    if "metric_value" not in table_names(con):
        return {}
    rows = con.execute(
        """SELECT cycle, org_id, metric, period, value, denominator, suppressed, definition
           FROM metric_value
           WHERE cycle IN (SELECT unnest(?)) AND org_id IN (SELECT unnest(?))
             AND dimension = '' AND metric IN (SELECT unnest(?))
           ORDER BY cycle, org_id, metric, period""",
        [cycles, list(org_ids), measures],
    ).fetchall()
    ladders = {
        (cycle, org_id): definition
        for cycle, org_id, definition in con.execute(
            """SELECT cycle, org_id, min(definition) FROM metric_value
               WHERE cycle IN (SELECT unnest(?)) AND org_id IN (SELECT unnest(?))
                 AND metric = 'ladder' AND dimension = '' AND definition <> ''
               GROUP BY cycle, org_id""",
            [cycles, list(org_ids)],
        ).fetchall()
    }
    by_cycle: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    for cycle, org_id, metric, period, value, denominator, suppressed, definition in rows:
        found = by_cycle.setdefault(cycle, {}).setdefault(org_id, {})
        rank = RESULT_PERIODS.index(period) if period in RESULT_PERIODS else len(RESULT_PERIODS)
        current = found.get(metric)
        if (
            current is None
            or rank < current["rank"]
            or (rank == current["rank"] == len(RESULT_PERIODS) and period > current["period"])
        ):
            found[metric] = {
                "value": value,
                "denominator": denominator,
                "suppressed": bool(suppressed),
                "period": period,
                "rank": rank,
                "definition": definition or None,
                "ladder_definition": ladders.get((cycle, org_id)),
            }
    return by_cycle


def _result_text(
    org: Organization | None, measure: str, result: dict[str, Any] | None, audience: str
) -> tuple[str, float | None]:
    """A result as shown to ``audience`` (consent and small-number rules of
    :mod:`cyclebook.privacy`), and the number to compare with the card (None if hidden)."""
    if result is None or result["value"] is None:
        return "not yet measured", None
    if org is not None and not privacy.is_allowed(org, audience, measure):
        return "not shared", None
    value = float(result["value"])
    denominator = result["denominator"]
    restricted = privacy.is_restricted(audience)
    if restricted and result["suppressed"]:
        return "withheld (small numbers)", None
    if denominator is not None:
        numerator = round(value * float(denominator))
        shown = privacy.suppress_rate(value, numerator, denominator, audience)
        if shown == privacy.WITHHELD:
            return "withheld (small numbers)", None
        return f"{percent(value)} of {_number(float(denominator))}", value
    shown = privacy.suppress_value(value, audience)
    if shown == privacy.SMALL:
        return privacy.SMALL, None
    return _number(value), value


# --------------------------------------------------------------------------- the record


def load_record(
    cohort_dir: str | Path,
    cycle: str,
    *,
    store_path: str | Path | None = None,
    org_ids: Sequence[str] | None = None,
    cohort: Cohort | None = None,
    card: CycleCard | None = None,
) -> CycleRecord:
    """Everything the closing report shows, for every organization of the cohort (or
    only ``org_ids``). ``cohort`` and ``card``: the configuration already loaded from
    ``cohort_dir`` (read again when not given)."""
    cohort = cohort or load_cohort(cohort_dir)
    card = card or load_cycle(cohort_dir, cycle)
    wanted = None if org_ids is None else set(org_ids)
    orgs: dict[str, OrgRecord] = {}
    for org in cohort.organizations:
        if wanted is not None and org.id not in wanted:
            continue
        team = card.team.get(org.id) or list(org.staff)
        record = OrgRecord(org_id=org.id, name=org.name, team=team)
        try:
            reflection = load_reflection(cohort_dir, cycle, org.id)
        except ConfigError as exc:
            # one group's broken file is its own reflect report's failure (which names
            # the problem and the fix); the cohort's record goes on without it
            reflection = None
            where = f" at line {exc.line}" if exc.line else ""
            record.unreadable = (
                f"The reflection file of {org.name} is empty; {EmptyReflectionFile.FIX}"
                if isinstance(exc, EmptyReflectionFile)
                else f"The reflection file of {org.name} could not be read{where}; "
                "`cyclebook validate` names the problem and the fix."
            )
        if reflection is not None:
            latest = reflection.latest
            record.learnings = list(latest.learnings)
            record.decisions = list(latest.decisions)
            record.questions = list(latest.questions)
            record.proposals = list(latest.measure_changes)
            record.reflected = True
        orgs[org.id] = record
    store = Path(store_path) if store_path else CohortPaths.of(cohort_dir).store
    if store.exists() and card.metrics:
        from cyclebook.store import connect

        with connect(store) as con:
            cycles = [cycle, card.previous] if card.previous else [cycle]
            found = cycles_results(con, cycles, list(orgs), card)
            results = found.get(cycle, {})
            previous = found.get(card.previous, {}) if card.previous else {}
            for org_id, record in orgs.items():
                record.results = results.get(org_id, {})
                if card.previous:
                    record.previous = previous.get(org_id, {})
    return CycleRecord(cohort=cohort, card=card, orgs=orgs)


def _metrics_table(
    card: CycleCard,
    org: Organization | None,
    results: dict[str, dict[str, Any]],
    audience: str,
    previous: dict[str, dict[str, Any]] | None = None,
) -> tuple[list[str], list[list[str]]]:
    """The cycle metrics table of a closing report: its column names and rows, every
    cell text (a table without a pandas frame: :func:`cyclebook.display.text_table`)."""
    rows = []
    for metric in card.metrics:
        text, value = _result_text(org, metric.measure, results.get(metric.measure), audience)
        if value is None and metric.result and text == "not yet measured":
            text = metric.result
        before = (previous or {}).get(metric.measure) if card.previous else None
        before_text, before_value = (
            _result_text(org, metric.measure, before, audience) if before else ("–", None)
        )
        changed = (
            redefinition(
                metric.measure,
                _definitions(before, metric.measure),
                _definitions(results.get(metric.measure), metric.measure),
            )
            if before
            else None
        )
        if changed and before_value is not None:
            before_text += " (earlier definition)"
        status = _status(metric, value, before_value, changed) if value is not None else "–"
        row = [metric.goal, metric.measure, fmt_target(metric.measure, metric.target), text]
        if card.previous:
            row.append(before_text)
        rows.append([*row, status, metric.failure])
    columns = ["Goal", "Measure", "Target", "Result", "Against the card", "Failure line"]
    if card.previous:
        columns.insert(4, f"In {card.previous}")
    return columns, rows


def _card_tail(card: CycleCard, team: str) -> d.Block:
    docs = ", ".join(doc.title for doc in card.documents) or "–"
    return d.definition_list(
        [
            ("Cycle", card.id + (f" (follows {card.previous})" if card.previous else "")),
            ("Dates", f"{card.start:%d %b %Y} – {card.end:%d %b %Y} ({card.weeks:g} weeks)"),
            ("Accountable", ", ".join(card.accountable) or "–"),
            ("Team", team or "–"),
            ("Documents", docs),
        ]
    )


def org_record_blocks(
    record: CycleRecord, org_id: str, audience: str = "organization"
) -> list[d.Block]:
    """The closing report for one organization: the whole experiment card with results."""
    card = record.card
    org = record.cohort.org(org_id)
    mine = record.org(org_id)
    blocks = card_head(card, "Cycle record")
    columns, rows = _metrics_table(card, org, mine.results, audience, mine.previous)
    blocks.append(
        d.text_table(
            columns, rows, f"Cycle metrics for {org.name}: goal, measure, result and failure line"
        )
    )
    for title, cohort_items, org_items in (
        ("Learnings", card.learnings, mine.learnings),
        ("Decisions", card.decisions, mine.decisions),
        ("Questions", card.questions, mine.questions),
    ):
        blocks += [
            d.heading(title, 3),
            d.bullets(
                [*(f"{org.name}: {x}" for x in org_items), *(f"Cohort: {x}" for x in cohort_items)],
                empty="None recorded yet (recorded in reflect and at the end of the cycle).",
            ),
        ]
    if mine.unreadable:
        blocks.append(d.note(mine.unreadable, kind="warning"))
    elif not mine.reflected:
        blocks.append(d.note(f"No reflection recorded yet for {org.name} in this cycle."))
    blocks.append(_card_tail(card, ", ".join(mine.team)))
    return blocks


def cohort_record_blocks(
    record: CycleRecord,
    audience: str = "cohort",
    *,
    with_card_head: bool = True,
    shown: dict[tuple[str, str], str] | None = None,
) -> list[d.Block]:
    """The closing report for the cohort: the card, results per organization, and each
    organization's learnings, decisions and questions (for the cohort/funder audiences,
    results follow each organization's consent). ``with_card_head=False`` leaves out
    how might we / hypothesis / design, for a report that already shows the card.
    ``shown`` maps (org_id, measure) to the text another report of the same audience
    already shows (the Measure Gallery's linked suppression): the record then says
    exactly that, so the two reports cannot be combined to undo a hidden figure."""
    card = record.card
    blocks = card_head(card, "Cycle record") if with_card_head else []
    rows = []
    for org in record.cohort.organizations:
        mine = record.org(org.id)
        for metric in card.metrics:
            text, value = _result_text(
                org, metric.measure, mine.results.get(metric.measure), audience
            )
            if shown is not None and privacy.is_restricted(audience) and value is not None:
                text = shown.get((org.id, metric.measure), "not shared")
                if text in {privacy.SMALL, privacy.HIDDEN, privacy.WITHHELD, "not shared"}:
                    value = None
            status = _status(metric, value) if value is not None else "–"
            rows.append([org.name, metric.measure, text, status])
    # every cell is text: tables without pandas frames
    blocks.append(
        d.text_table(
            ["Goal", "Measure", "Target", "Failure line"],
            [[m.goal, m.measure, fmt_target(m.measure, m.target), m.failure] for m in card.metrics],
            "Cycle metrics: goal, measure and what counts as failure",
        )
    )
    blocks.append(
        d.text_table(
            ["Organization", "Measure", "Result", "Against the card"],
            rows,
            "Results per organization (shared measures only outside each organization)",
        )
    )
    for title, attr, cohort_items in (
        ("Learnings", "learnings", card.learnings),
        ("Decisions", "decisions", card.decisions),
        ("Questions", "questions", card.questions),
    ):
        items = [f"Cohort: {x}" for x in cohort_items]
        for org in record.cohort.organizations:
            if not privacy.shares_nothing(org, audience):
                items += [f"{org.name}: {x}" for x in getattr(record.org(org.id), attr)]
        blocks += [d.heading(title, 3), d.bullets(items, empty="None recorded yet.")]
    silent = [
        org.name for org in record.cohort.organizations if privacy.shares_nothing(org, audience)
    ]
    if silent:
        blocks.append(
            d.paragraph(
                f"Not shown: the reflection{'s' if len(silent) > 1 else ''} of "
                f"{', '.join(silent)}, which share{'' if len(silent) > 1 else 's'} nothing "
                f"with this audience ({audience}) by {'their' if len(silent) > 1 else 'its'} "
                "own choice."
            )
        )
    reflected = sum(1 for r in record.orgs.values() if r.reflected)
    blocks.append(
        d.paragraph(f"{reflected} of {len(record.orgs)} organizations recorded a reflection.")
    )
    blocks += [d.note(r.unreadable, kind="warning") for r in record.orgs.values() if r.unreadable]
    team = "; ".join(f"{o}: {', '.join(n)}" for o, n in card.team.items())
    blocks.append(_card_tail(card, team))
    return blocks


# --------------------------------------------------------------------------- definitions


def _status_text(change: MeasureChange, recorded: bool) -> str:
    if recorded:
        where = {"adopted": " for ", "rejected": " in "}.get(change.status, " in ")
        return change.status + (f"{where}{change.cycle}" if change.cycle else "")
    if change.status == "adopted":
        return f"agreed in {change.cycle} reflection; applies from the next cycle"
    return f"{change.status} in {change.cycle} reflection"


def definition_frame(
    org: Organization, pending: Sequence[MeasureChange] = (), audience: str = "organization"
) -> pd.DataFrame:
    """Each definition change: recorded history (cohort.yml) plus pending proposals (from
    a reflection, not yet recorded in cohort.yml). Outside the organization, only changes
    to measures ``org`` shares with ``audience``, and not who proposed them nor why."""
    columns, rows = definition_rows(org, pending, audience)
    return pd.DataFrame(rows, columns=columns)


def definition_rows(
    org: Organization, pending: Sequence[MeasureChange] = (), audience: str = "organization"
) -> tuple[list[str], list[list[str]]]:
    """:func:`definition_frame`'s column names and rows (the report's table is built from
    them without a frame)."""
    history = [(c, True) for c in org.measure_history]
    history += [
        (c, False)
        for c in pending
        if not any(
            (c.measure, c.date, c.proposed_by, c.change)
            == (old.measure, old.date, old.proposed_by, old.change)
            for old in org.measure_history
        )
    ]
    full = audience == "organization"
    rows = [
        [c.measure, f"{c.date:%d %b %Y}"]
        + ([c.proposed_by, c.why] if full else [])
        + [c.change, _status_text(c, recorded)]
        for c, recorded in sorted(history, key=lambda item: (item[0].measure, item[0].date))
        if privacy.measure_allowed(org, audience, c.measure)
    ]
    columns = ["Measure", "Date", "Proposed by", "Why", "Change", "Status"]
    if not full:
        columns = [c for c in columns if c not in {"Proposed by", "Why"}]
    return columns, rows


def pending_changes(reflection: Reflection | None) -> list[MeasureChange]:
    """The latest reflection's proposals as measure changes not yet in cohort.yml
    (``cycle`` is the reflection's cycle)."""
    if reflection is None:
        return []
    dates = proposal_dates(reflection)
    return [
        MeasureChange(
            measure=p.measure,
            date=dates[p.key()].date(),
            proposed_by=p.proposed_by,
            why=p.why,
            change=p.change,
            cycle=reflection.cycle,
            status=p.status,
        )
        for p in reflection.latest.measure_changes
    ]


def definition_blocks(
    org: Organization, reflection: Reflection | None = None, audience: str = "organization"
) -> list[d.Block]:
    """The group's definitions in its own words, and how each came to be."""
    # (tables built without pandas frames: a reflect or improve report needs no other)
    ladder = [[r.label, f"ladder.{r.name}", r.window_days, r.definition] for r in org.ladder]
    settings = org.metrics
    changes = definition_rows(org, pending_changes(reflection), audience)
    blocks = [
        d.heading("The group's definitions", 2),
        d.text_table(
            ["Rung", "Measure", "Window (days)", "Definition"],
            ladder,
            f"Ladder of engagement as {org.name} defines it",
        ),
        d.paragraph(
            f"Active means a qualifying activity in the last {settings.active_window_days} days; "
            f"lapsed means {settings.lapse_days} days without one; absorption counts a second "
            f"activity within {settings.absorption_days} days."
        ),
        d.text_table(
            *changes,
            "History of each definition: who proposed the change, when, why, and its status"
            if audience == "organization"
            else f"History of each definition shared with this audience ({audience}): "
            "when it changed, the change and its status",
        ),
    ]
    return blocks


# --------------------------------------------------------------------------- next cycle


def _round_trip():
    from ruamel.yaml import YAML

    rt = YAML()
    rt.preserve_quotes = True
    rt.indent(mapping=2, sequence=4, offset=2)
    rt.width = 4096
    rt.brace_single_entry_mapping_in_flow_sequence = True  # [{min_count: 1}], as people write
    return rt


def _take_trailing_comment(node: Any) -> Any:
    """Detach the comments/blank lines that follow a node's last element (ruamel keeps
    them on the deepest last key or item, or at a collection's end), as one token that
    :func:`_put_trailing` writes after a key appended behind the node."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    while isinstance(node, CommentedMap | CommentedSeq) and len(node):
        if node.ca.end:
            tokens, node.ca.end = list(node.ca.end), []
            token = tokens[0]
            # comments on their own lines: start a new line, keep their indentation
            token.value = "\n" + "".join(
                (" " * t.column if t.value.startswith("#") else "") + t.value for t in tokens
            )
            return token
        if isinstance(node, CommentedMap):
            key = list(node.keys())[-1]
            slot = node.ca.items.get(key)
            if slot and len(slot) > 2 and slot[2] is not None:
                token, slot[2] = slot[2], None
                return token
            node = node[key]
        else:
            index = len(node) - 1
            slot = node.ca.items.get(index)
            if slot and slot[0] is not None:
                token, slot[0] = slot[0], None
                return token
            node = node[index]
    return None


def _put_trailing(seq: Any, token: Any) -> None:
    """Write a token taken by :func:`_take_trailing_comment` after a sequence's last item.

    It goes after the last item's deepest last value (a scalar, or a collection written
    in flow style): put on an item or a key whose value is a block collection, ruamel
    writes it right after the dash or the key (a history entry ending with what it
    replaced read ``-`` and an empty line, then the entry)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if token is None or not len(seq):
        return
    parent, key = seq, len(seq) - 1
    while True:
        value = parent[key]
        if type(value) is dict:  # a plain block collection: one that can hold a comment
            parent[key] = value = CommentedMap(value)
        elif type(value) is list:
            parent[key] = value = CommentedSeq(value)
        if not isinstance(value, CommentedMap | CommentedSeq) or not len(value):
            break
        if value.fa.flow_style():
            break
        parent, key = value, (list(value.keys())[-1] if isinstance(value, dict) else len(value) - 1)
    if isinstance(parent, CommentedMap):
        parent.ca.items[key] = [None, None, token, None]
    else:
        parent.ca.items[key] = [token, None]


def _condition(cond: Any) -> dict[str, Any]:
    """A ladder condition as people write it: min_count always, other fields when set."""
    data = cond.model_dump(mode="json", exclude_none=True)
    if not data.get("attended_only"):
        data.pop("attended_only", None)
    return data


def _flow_conditions(conditions: list[dict[str, Any]]):
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    seq = CommentedSeq()
    for cond in conditions:
        item = CommentedMap(cond)
        item.fa.set_flow_style()
        seq.append(item)
    seq.fa.set_flow_style()
    return seq


@dataclass
class _Adoption:
    org_id: str
    change: MeasureChange
    proposal: MeasureProposal
    where: tuple[Path, int | None]


def _collect(cohort_dir: Path, cohort: Cohort, from_cycle: str, new_cycle: str):
    adoptions: list[_Adoption] = []
    open_items: list[tuple[str, MeasureProposal]] = []
    reflections: dict[str, Reflection] = {}
    for org in cohort.organizations:
        reflection = load_reflection(cohort_dir, from_cycle, org.id)
        if reflection is None:
            continue
        reflections[org.id] = reflection
        dates = proposal_dates(reflection)
        path = reflection_path(cohort_dir, from_cycle, org.id)
        located = read_yaml(path, what="reflection file")
        last = len(reflection.versions) - 1
        for index, proposal in enumerate(reflection.latest.measure_changes):
            if proposal.status == "proposed":
                open_items.append((org.id, proposal))
                continue
            change = MeasureChange(
                measure=proposal.measure,
                date=dates[proposal.key()].date(),
                proposed_by=proposal.proposed_by,
                why=proposal.why,
                change=proposal.change,
                cycle=new_cycle if proposal.status == "adopted" else from_cycle,
                status=proposal.status,
            )
            line = located.locate(["versions", last, "measure_changes", index])[0]
            adoptions.append(_Adoption(org.id, change, proposal, (path, line)))
    return adoptions, open_items, reflections


def _same(a: MeasureChange, b: MeasureChange) -> bool:
    return (a.measure, a.date, a.proposed_by, a.change, a.status) == (
        b.measure,
        b.date,
        b.proposed_by,
        b.change,
        b.status,
    )


def _replaced(org_node: Any, org: Organization, proposal: MeasureProposal):
    """What an adopted proposal is about to replace, as cohort.yml will keep it: the rung
    it rewrites (or the name of the rung it adds) and the settings it sets, as they are
    in ``org_node`` now."""
    from ruamel.yaml.comments import CommentedMap

    replaced = CommentedMap()
    if proposal.rule is not None:
        if org_node.get("ladder") is None:
            rungs = [r.model_dump(mode="json") for r in org.ladder]  # the default ladder
        else:
            rungs = json.loads(json.dumps(list(org_node["ladder"])))
        rung = next((r for r in rungs if r.get("name") == proposal.rung), None)
        if rung is None:
            replaced["added_rung"] = proposal.rung
        else:
            rung = Rung.model_validate(rung)
            data = rung.model_dump(mode="json", exclude_defaults=True)
            data["any_of"] = _flow_conditions([_condition(c) for c in rung.any_of])
            replaced["rung"] = CommentedMap(data)
    if proposal.settings is not None:
        current = org_node.get("metrics") or {}
        defaults = MetricSettings().model_dump(mode="json")
        before = CommentedMap()
        for key in proposal.settings.model_dump(exclude_none=True):
            value = current.get(key, defaults.get(key))
            before[key] = json.loads(json.dumps(value))
        replaced["settings"] = before
    return replaced or None


def _apply_rule(org_node: Any, org: Organization, item: _Adoption) -> None:
    rule = item.proposal.rule
    assert rule is not None
    rung_name = item.proposal.rung
    path, line = item.where
    if "ladder" not in org_node or org_node["ladder"] is None:
        # the organization used the default ladder: write it out so it can be changed
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        ladder = CommentedSeq()
        for rung in org.ladder:
            data = rung.model_dump(mode="json", exclude_defaults=True)
            data["any_of"] = _flow_conditions([_condition(c) for c in rung.any_of])
            ladder.append(CommentedMap(data))
        token = _take_trailing_comment(org_node)
        org_node["ladder"] = ladder
        _put_trailing(ladder, token)
    rungs = org_node["ladder"]
    target = next((r for r in rungs if r.get("name") == rung_name), None)
    values = rule.model_dump(mode="json", exclude_none=True)
    if "any_of" in values:
        values["any_of"] = _flow_conditions([_condition(c) for c in rule.any_of or []])
    if target is None:
        missing = [k for k in ("label", "window_days", "any_of", "definition") if k not in values]
        if missing:
            raise ConfigError(
                path,
                f"the adopted change adds a new rung '{rung_name}' to {org.name}'s ladder but "
                f"its rule lacks {', '.join(missing)}",
                field="rule",
                line=line,
                fix=f"name an existing rung ({', '.join('ladder.' + r.name for r in org.ladder)})"
                " or give the new rung label, window_days, any_of and definition.",
            )
        from ruamel.yaml.comments import CommentedMap

        rungs.append(CommentedMap({"name": rung_name, **values}))
        return
    for key, value in values.items():
        target[key] = value


def _apply_settings(org_node: Any, proposal: MeasureProposal) -> None:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    assert proposal.settings is not None
    values = proposal.settings.model_dump(mode="json", exclude_none=True)
    settings = org_node.get("metrics")
    if settings is None:
        token = _take_trailing_comment(org_node)
        org_node["metrics"] = settings = CommentedMap()
        settings.update(values)
        if token is not None:
            settings.ca.items[list(settings.keys())[-1]] = [None, None, token, None]
        return
    for key, value in values.items():
        if isinstance(value, list):
            value = CommentedSeq(value)
            value.fa.set_flow_style()
        settings[key] = value


def adopt_measure_changes(
    cohort_dir: str | Path, from_cycle: str, new_cycle: str
) -> list[MeasureChange]:
    """Record decided definition changes of ``from_cycle``'s reflections in cohort.yml.

    Changes marked ``adopted`` are appended to the organization's ``measure_history``
    (``cycle`` = the cycle they take effect in); a ladder ``rule`` rewrites that rung and
    ``settings`` go to the organization's ``metrics:``. ``rejected`` ones are recorded too
    (``cycle`` = where they were discussed). Already recorded changes are not added twice.
    Returns the new entries.
    """
    cohort_dir = Path(cohort_dir)
    cohort = load_cohort(cohort_dir)
    adoptions, _open, _ = _collect(cohort_dir, cohort, from_cycle, new_cycle)
    return _write_adoptions(cohort_dir, cohort, adoptions)


def _write_adoptions(
    cohort_dir: Path, cohort: Cohort, adoptions: list[_Adoption]
) -> list[MeasureChange]:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    fresh = [
        a
        for a in adoptions
        if not any(_same(a.change, old) for old in cohort.org(a.org_id).measure_history)
    ]
    if not fresh:
        return []
    path = CohortPaths.of(cohort_dir).cohort_file
    before = path.read_bytes()
    rt = _round_trip()
    data = rt.load(before.decode("utf-8-sig"))
    nodes = {node["id"]: node for node in data["organizations"]}
    for item in fresh:
        org_node = nodes[item.org_id]
        org = cohort.org(item.org_id)
        replaced = None
        if item.change.status == "adopted":
            # before it is applied (after the batch's earlier changes): earlier cycles
            # are computed with what it replaced (Cohort.as_of)
            replaced = _replaced(org_node, org, item.proposal)
        if item.change.status == "adopted" and item.proposal.rule is not None:
            _apply_rule(org_node, org, item)
        if item.change.status == "adopted" and item.proposal.settings is not None:
            _apply_settings(org_node, item.proposal)
        history = org_node.get("measure_history")
        entry = CommentedMap(item.change.model_dump(exclude_none=True))
        if replaced is not None:
            entry["replaced"] = replaced
        # what followed the history's last entry (or, for a new history, the group's
        # block: the blank line before the next group) follows the new entry
        if history is None:
            token = _take_trailing_comment(org_node)
            org_node["measure_history"] = history = CommentedSeq()
        else:
            token = _take_trailing_comment(history)
        history.append(entry)
        _put_trailing(history, token)
    out = io.StringIO()
    rt.dump(data, out)
    text = out.getvalue()
    try:
        Cohort.model_validate(yaml.load(text, Loader=_StrictSafeLoader))
    except ValidationError as exc:
        first = fresh[0].where
        raise ConfigError(
            first[0],
            "adopting the changes would make cohort.yml invalid: " + str(exc.errors()[0]["msg"]),
            field="measure_changes",
            line=first[1],
            fix="correct the proposed rule in the reflection, then run next-cycle again.",
        ) from exc
    if path.read_bytes() != before:
        raise CyclebookError(
            f"{path} changed while measure changes were being adopted",
            fix="run the command again.",
        )
    write_text_atomic(path, text)
    return [a.change for a in fresh]


def add_cohort_notes(
    cohort_dir: str | Path,
    cycle: str,
    *,
    learnings: Sequence[str] = (),
    decisions: Sequence[str] = (),
    questions: Sequence[str] = (),
) -> Path:
    """Append the cohort's own learnings, decisions and questions to ``cycle.yml``.

    A round-trip rewrite (comments and layout kept), validated as a card before it
    atomically replaces the file; entries already there are not added twice.
    """
    from ruamel.yaml.comments import CommentedSeq

    path = CohortPaths.of(cohort_dir).cycle_file(cycle)
    load_cycle(cohort_dir, cycle)  # a broken card is reported with its line first
    before = path.read_bytes()
    rt = _round_trip()
    data = rt.load(before.decode("utf-8-sig"))
    changed = False
    for key, items in (
        ("learnings", learnings),
        ("decisions", decisions),
        ("questions", questions),
    ):
        items = [str(i).strip() for i in items if str(i).strip()]
        if not items:
            continue
        current = data.get(key)
        token = None
        if current is None:
            token = _take_trailing_comment(data)  # keep trailing comments at the end
            data[key] = current = CommentedSeq()
        for item in items:
            if item not in current:
                current.append(item)
                changed = True
        _put_trailing(current, token)
    if not changed:
        return path
    out = io.StringIO()
    rt.dump(data, out)
    text = out.getvalue()
    try:
        CycleCard.model_validate(yaml.load(text, Loader=_StrictSafeLoader))
    except ValidationError as exc:
        raise ConfigError(path, f"the notes would make the card invalid: {exc}") from exc
    if path.read_bytes() != before:
        raise CyclebookError(f"{path} changed while notes were added", fix="try again.")
    write_text_atomic(path, text)
    return path


def _write_new_file(path: Path, text: str) -> None:
    """Create ``path`` atomically, refusing to replace an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)  # fails if the file exists, unlike a rename
    finally:
        Path(tmp).unlink(missing_ok=True)


def _listed(items: Sequence[str]) -> str:
    """Sentences people wrote, as one: "a; b; c." (not "a.; b.; c..")."""
    return "; ".join(item.strip().rstrip(".") for item in items) + "."


NEXT_TITLE = "Next: "
#: what start_next_cycle writes into a card's design after the facilitators' text
_CONTINUES = re.compile(r"Continues [a-z0-9_-]+\. ")
#: the "why" next-cycle once added to a carried proposal
_WHY = re.compile(r" \(why: .*\)$", re.DOTALL)
_ADDED_LINES = (
    "Starts from the decisions of ",
    "Definitions changed for this cycle: ",
    "Kept in groups' own records ",
)


def _own_title(title: str) -> str:
    """A card's title without the "Next: " that next-cycle put before it."""
    while title.startswith(NEXT_TITLE) and title != NEXT_TITLE:
        title = title.removeprefix(NEXT_TITLE)
    return title


def _own_design(design: str) -> str:
    """A card's design without what next-cycle added to it ("Continues <cycle>. " and
    the lines of decisions, definition changes and what groups kept): a new card
    announces only its own cycle's."""
    while match := _CONTINUES.match(design):
        design = design[match.end() :]
    lines = [line for line in design.split("\n") if not line.startswith(_ADDED_LINES)]
    return "\n".join(lines).strip()


def _same_words(text: str) -> str:
    return " ".join(text.split()).casefold()


class _Carried:
    """Questions (or decisions) for a new card, each once: an item already there, in the
    same words with or without a group's name before them, is not added again."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self._seen: set[str] = set()

    def add(self, item: str, bare: str | None = None, *, keep: bool = True) -> bool:
        """Add ``item`` (``bare``: the same without the group's name) unless already
        there; ``keep=False``: a group's words that stay off the card. Returns whether
        the item is on the card."""
        words = {_same_words(item), _same_words(bare or item)}
        if words & self._seen:
            return True
        if not keep:
            return False
        self.items.append(item)
        self._seen |= words
        return True


def _kept_line(kept: dict[str, int]) -> str:
    """The card's neutral word on what groups keep to themselves: counts, no names."""
    parts = [
        f"{n} {what if n != 1 else what.removesuffix('s')}"
        for what, n in (
            ("decisions", kept["decisions"]),
            ("open questions", kept["questions"]),
            ("definition changes", kept["changes"]),
        )
        if n
    ]
    return (
        "Kept in groups' own records (each group's own reports show them): "
        + ", ".join(parts)
        + "."
    )


def start_next_cycle(
    cohort_dir: str | Path,
    from_cycle: str,
    new_cycle_id: str,
    start: dt.date | None = None,
) -> Path:
    """Write ``<cohort>/<new_cycle_id>/cycle.yml`` from ``from_cycle``'s record.

    The new card runs six weeks from ``start`` (default: the day the previous cycle
    ended), sets ``previous:``, carries the cohort's and the organizations' open
    questions (and undecided definition proposals), lists the previous decisions and
    adopted definition changes in its design, and copies how-might-we, hypothesis,
    metrics (without results), accountable and team for the facilitators to edit.
    Adopted definition changes are written into cohort.yml (see
    :func:`adopt_measure_changes`). Refuses to overwrite an existing cycle.

    Every audience sees the card, so an organization's decisions, questions and
    definition changes go on it only if it shares its reflection with every audience
    (and, for a change, the measure too); the card only counts the others, which stay in
    the group's own reflection. No "why" and no names of who proposed a change.
    """
    cohort_dir = Path(cohort_dir)
    paths = CohortPaths.of(cohort_dir)
    if not ID_RE.match(new_cycle_id):
        raise ConfigError(
            paths.cycle_file(new_cycle_id),
            f"{new_cycle_id!r} is not a valid cycle id",
            expected="lowercase letters, digits, '-' or '_' (e.g. 2026-c3)",
            fix="choose an id like 2026-c3.",
        )
    target = paths.cycle_file(new_cycle_id)
    if target.exists():
        raise CyclebookError(
            f"{target} already exists: cycle {new_cycle_id} was started before",
            fix="choose a new cycle id, or edit that cycle.yml by hand.",
        )
    if new_cycle_id == from_cycle:
        raise CyclebookError(
            f"the next cycle must have a new id, not {from_cycle!r}", fix="e.g. 2026-c3."
        )
    cohort = load_cohort(cohort_dir)
    card = load_cycle(cohort_dir, from_cycle)
    adoptions, open_items, reflections = _collect(cohort_dir, cohort, from_cycle, new_cycle_id)
    start = start or card.end
    end = start + dt.timedelta(weeks=CYCLE_WEEKS)

    # The card is shown in every report, to every audience: a group's words go on it only
    # if the group shares its reflection with every audience (privacy.shares_with_everyone,
    # the consent the reflect report follows), a definition change only if the measure is
    # shared with every audience too. What stays off the card is kept in the group's own
    # reflection (its organization reports show it); the card counts it, neutrally. Never
    # who proposed a change, nor why.
    # Each question and decision once: a question the previous card carried (or the
    # cohort asked) that a group asks again is not repeated, with or without its name.
    decisions = _Carried()
    questions = _Carried()
    for x in card.decisions:
        decisions.add(f"Cohort: {x}", x)
    kept = {"decisions": 0, "questions": 0, "changes": 0}
    silent = [org.name for org in cohort.organizations if not privacy.shares_with_everyone(org)]
    for x in card.questions:
        # a card written before next-cycle followed consent may carry a group's words
        if any(x.startswith(f"{name}: ") for name in silent):
            kept["questions"] += 1
        elif ": adopt the proposed change to " in x:
            questions.add(_WHY.sub("", x))
        else:
            questions.add(x)
    for org in cohort.organizations:
        reflection = reflections.get(org.id)
        if reflection is None:
            continue
        own = privacy.shares_with_everyone(org)
        for x in reflection.latest.decisions:
            if not decisions.add(f"{org.name}: {x}", x, keep=own):
                kept["decisions"] += 1
        for x in reflection.latest.questions:
            if not questions.add(f"{org.name}: {x}", x, keep=own):
                kept["questions"] += 1
    for org_id, proposal in open_items:
        org = cohort.org(org_id)
        own = privacy.shares_with_everyone(org, proposal.measure)
        asked = f"{org.name}: adopt the proposed change to {proposal.measure}? {proposal.change}"
        if not questions.add(asked, keep=own):
            kept["questions"] += 1
    adopted = []
    for item in adoptions:
        if item.change.status != "adopted":
            continue
        org = cohort.org(item.org_id)
        if privacy.shares_with_everyone(org, item.change.measure):
            adopted.append(f"{org.name} {item.change.measure}: {item.change.change}")
        else:
            kept["changes"] += 1
    # the facilitators' own design, without what next-cycle added to the previous card
    design = f"Continues {from_cycle}. {_own_design(card.design)}"
    if decisions.items:
        design += f"\nStarts from the decisions of {from_cycle}: " + _listed(decisions.items)
    if adopted:
        design += "\nDefinitions changed for this cycle: " + _listed(adopted)
    if any(kept.values()):
        design += "\n" + _kept_line(kept)
    new_card = {
        "id": new_cycle_id,
        "title": f"{NEXT_TITLE}{_own_title(card.title)}",
        "previous": from_cycle,
        "how_might_we": list(card.how_might_we),
        "hypothesis": card.hypothesis,
        "design": design,
        "metrics": [
            m.model_dump(mode="json", exclude_none=True, exclude={"result"}) for m in card.metrics
        ],
        "learnings": [],
        "decisions": [],
        "questions": questions.items,
        "accountable": list(card.accountable),
        "team": {k: list(v) for k, v in card.team.items()},
        "start": start,
        "end": end,
        "documents": [
            {"title": f"Cycle record of {from_cycle}", "path": f"../{from_cycle}/cycle.yml"}
        ],
    }
    CycleCard.model_validate(new_card)  # our own output must be a valid card
    header = (
        f"# Cycle {new_cycle_id}, started from {from_cycle} on {dt.date.today():%Y-%m-%d}.\n"
        "# Edit title, how_might_we, hypothesis, design and metrics for this cycle;\n"
        f"# questions were carried from {from_cycle} and its reflections.\n"
    )
    text = header + yaml.safe_dump(new_card, sort_keys=False, allow_unicode=True, width=100)
    try:
        _write_new_file(target, text)
    except FileExistsError:
        raise CyclebookError(
            f"{target} already exists: cycle {new_cycle_id} was started before",
            fix="choose a new cycle id, or edit that cycle.yml by hand.",
        ) from None
    # if cohort.yml cannot take the adopted changes, the new card is removed again
    try:
        _write_adoptions(cohort_dir, cohort, adoptions)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    load_cycle(cohort_dir, new_cycle_id)
    return target
